//! API tokens: high-entropy bearer secrets shown once; only their hash is
//! stored.
//!
//! Format: `"tqk_" || base64url(32 random bytes)` (47 characters, 256 bits).
//! Stored form: `SHA-256("tansiq/api-token/v1" || 0x00 || token)` where
//! `token` is the full string including the prefix, as UTF-8. A fast hash is
//! enough for a 256-bit random secret (no dictionary to attack).

use subtle::ConstantTimeEq as _;

use crate::{b64, random_bytes, Hash};

/// Prefix of every Tansiq API token (lets secret scanners recognise them).
pub const PREFIX: &str = "tqk_";
const HASH_CONTEXT: &[u8] = b"tansiq/api-token/v1";
/// Longest string [`matches`] will hash; anything longer is not a token.
const MAX_TOKEN_LEN: usize = 256;

/// A fresh token: `tqk_` followed by 43 base64url characters (256 bits).
pub fn generate() -> String {
    let mut s = String::with_capacity(PREFIX.len() + 43);
    s.push_str(PREFIX);
    s.push_str(&b64(random_bytes::<32>()));
    s
}

/// Whether `token` has the shape of a token made by [`generate`].
pub fn is_well_formed(token: &str) -> bool {
    token.len() == PREFIX.len() + 43
        && token.starts_with(PREFIX)
        && crate::b64_decode_array::<32>(&token[PREFIX.len()..]).is_ok()
}

/// The hash to store for `token`.
pub fn hash(token: &str) -> Hash {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(HASH_CONTEXT);
    h.update([0u8]);
    h.update(token.as_bytes());
    h.finalize().into()
}

/// Whether `token` hashes to `stored`, compared in constant time.
pub fn matches(token: &str, stored: &Hash) -> bool {
    if token.len() > MAX_TOKEN_LEN {
        return false;
    }
    hash(token).ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_hash_match() {
        let t = generate();
        assert!(t.starts_with("tqk_"));
        assert_eq!(t.len(), 47);
        assert!(is_well_formed(&t));
        let h = hash(&t);
        assert!(matches(&t, &h));
        assert!(!matches(&generate(), &h));
        let mut other = t.clone();
        other.pop();
        assert!(!matches(&other, &h));
        assert!(!is_well_formed(&other));
        assert_ne!(generate(), generate());
        assert!(!matches(&"x".repeat(10_000), &h));
    }
}
