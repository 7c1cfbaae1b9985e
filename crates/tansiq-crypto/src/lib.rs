//! # tansiq-crypto
//!
//! Pure cryptographic primitives for Tansiq. This crate knows nothing of
//! Tansiq's domain types (records, channels, charters): it offers node
//! identities, domain-separated Ed25519 signatures over RFC 8785 canonical
//! JSON, RFC 6962 Merkle tree maths, C2SP checkpoints and cosignatures,
//! sealing to N recipients (HPKE, RFC 9180) and API tokens.
//!
//! Every byte-level construction is specified in `docs/CRYPTO.md`, precisely
//! enough for a second implementation in another language.
//!
//! Architecture invariants:
//! - no IO except [`Identity::save`] / [`Identity::load`] (key files);
//! - no secret (key, token, plaintext) ever appears in a `Debug` output or in
//!   an error message;
//! - input from peers never panics: every decoder returns [`CryptoError`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod encoding;
mod error;
mod identity;
mod jcs;
mod signature;

pub mod checkpoint;
pub mod merkle;
pub mod oprf;
pub mod seal;
pub mod token;

pub use encoding::{b64, b64_decode, b64_decode_array};
pub use error::CryptoError;
pub use identity::{load_or_create_secret, Identity};
pub use jcs::{canonical_json, parse_json_strict, MAX_SAFE_INTEGER};
pub use signature::{
    is_valid_context, is_valid_node_id, node_id_from_key, signing_input, verify, verify_batch,
    verify_batch_each, verify_json, BatchItem,
};

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Hash {
    Sha256::digest(data).into()
}

/// `N` bytes from the operating system's CSPRNG.
///
/// # Panics
/// Panics if the operating system's random number generator fails, which
/// no caller could recover from safely.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand_core::TryRngCore;
    let mut out = [0u8; N];
    rand_core::OsRng
        .try_fill_bytes(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

/// A CSPRNG handle for crates that need an `RngCore + CryptoRng` (rand_core 0.9).
pub(crate) fn os_rng() -> rand_core::UnwrapErr<rand_core::OsRng> {
    use rand_core::TryRngCore;
    rand_core::OsRng.unwrap_err()
}
