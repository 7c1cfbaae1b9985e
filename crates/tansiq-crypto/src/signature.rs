//! Domain-separated Ed25519 signatures, node ids.
//!
//! Every Tansiq signature is an Ed25519 (RFC 8032, pure) signature over
//! [`signing_input`]`(context, msg) = context || 0x00 || msg`, where
//! `context` names the kind of structure and its version
//! (`"tansiq/record/v1"`), so a signature on one kind can never be replayed
//! as another. Contexts are 1 to 128 printable ASCII characters without
//! spaces (0x21..=0x7E): they never contain the 0x00 separator, so the split
//! is unambiguous, and a signing input can never be a valid C2SP signed note
//! (which forbids control characters) nor a TLS 1.3 CertificateVerify input
//! (which starts with 0x20).

use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::{canonical_json, sha256, CryptoError};

/// Maximum length in bytes of a context string.
pub const MAX_CONTEXT_LEN: usize = 128;

/// One item of a batch verification: (public key, context, message, signature).
pub type BatchItem<'a> = (&'a [u8; 32], &'a str, &'a [u8], &'a [u8; 64]);

/// Batches larger than this are verified in chunks, so that a single bad
/// signature only costs re-verifying its own chunk.
const BATCH_CHUNK: usize = 64;

/// Whether `context` is a valid signing context: 1..=128 bytes, each in
/// 0x21..=0x7E (printable ASCII, no space).
pub fn is_valid_context(context: &str) -> bool {
    !context.is_empty()
        && context.len() <= MAX_CONTEXT_LEN
        && context.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

pub(crate) fn check_context(context: &str) -> Result<(), CryptoError> {
    if is_valid_context(context) {
        Ok(())
    } else {
        Err(CryptoError::InvalidArgument(
            "signing context must be 1..=128 printable ASCII characters without spaces".into(),
        ))
    }
}

/// The exact bytes signed for `(context, msg)`: `context || 0x00 || msg`.
///
/// Callers normally use [`crate::Identity::sign`] and [`verify`]; this is
/// exposed for documentation, test vectors and other implementations.
pub fn signing_input(context: &str, msg: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(context.len() + 1 + msg.len());
    v.extend_from_slice(context.as_bytes());
    v.push(0);
    v.extend_from_slice(msg);
    v
}

/// Parses and vets an Ed25519 public key: a canonical encoding of a point
/// on the curve that is not of small order.
pub(crate) fn parse_public_key(public: &[u8; 32]) -> Result<VerifyingKey, CryptoError> {
    let vk = VerifyingKey::from_bytes(public)
        .map_err(|_| CryptoError::BadKey("not a valid Ed25519 public key".into()))?;
    if vk.is_weak() {
        return Err(CryptoError::BadKey(
            "weak Ed25519 public key (small order)".into(),
        ));
    }
    // Reject non-canonical encodings (y >= p, or x = 0 with the sign bit set):
    // one key, one byte string.
    if vk.to_edwards().compress().as_bytes() != public {
        return Err(CryptoError::BadKey(
            "non-canonical Ed25519 public key encoding".into(),
        ));
    }
    Ok(vk)
}

/// Verifies an Ed25519 signature made with [`crate::Identity::sign`].
///
/// Uses `verify_strict`: rejects weak (small-order) and non-canonically
/// encoded public keys, small-order or non-canonical `R`, and non-canonical
/// `S` (malleability).
pub fn verify(
    public: &[u8; 32],
    context: &str,
    msg: &[u8],
    sig: &[u8; 64],
) -> Result<(), CryptoError> {
    check_context(context)?;
    let vk = parse_public_key(public)?;
    let sig = Signature::from_bytes(sig);
    vk.verify_strict(&signing_input(context, msg), &sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// Verifies a signature made with [`crate::Identity::sign_json`]: the
/// signed message is the RFC 8785 canonical form of `value`.
pub fn verify_json(
    public: &[u8; 32],
    context: &str,
    value: &serde_json::Value,
    sig: &[u8; 64],
) -> Result<(), CryptoError> {
    let msg = canonical_json(value)?;
    verify(public, context, &msg, sig)
}

/// Checks everything about one batch item that `verify_strict` checks
/// besides the group equation, returning the parsed key and `S`. `keys` caches the
/// keys vetted so far (a peer's batch is mostly signed by one originator).
fn precheck(
    public: &[u8; 32],
    context: &str,
    sig: &[u8; 64],
    keys: &mut Vec<([u8; 32], VerifyingKey)>,
) -> Result<(VerifyingKey, Scalar), CryptoError> {
    check_context(context)?;
    let vk = match keys.iter().find(|(k, _)| k == public) {
        Some((_, vk)) => *vk,
        None => {
            let vk = parse_public_key(public)?;
            keys.push((*public, vk));
            vk
        }
    };
    let r_bytes: &[u8; 32] = sig[..32].try_into().expect("64 = 32 + 32");
    let s_bytes: [u8; 32] = sig[32..].try_into().expect("64 = 32 + 32");
    // `verify_strict` rejects an `R` of small order and, by comparing
    // encodings, a non-canonical one. On bytes, without decompressing (the
    // batch equation decompresses `R` and rejects points off the curve):
    // a canonical `y` is below p, and the small-order points have exactly
    // the encodings in `small_order_encodings`.
    if !is_canonical_y(r_bytes) || small_order_encodings().contains(r_bytes) {
        return Err(CryptoError::BadSignature);
    }
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))
        .ok_or(CryptoError::BadSignature)?;
    Ok((vk, s))
}

/// Whether the `y` coordinate of a compressed Edwards point (the low 255
/// bits, little-endian) is below p = 2^255 - 19.
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    !(bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff) && bytes[0] >= 0xed)
}

/// Every encoding with a canonical `y` of a point of small order: the eight
/// torsion points, plus the two of them with x = 0 (the identity and the
/// point of order 2) written with the sign bit set, which decompress to the
/// same points.
fn small_order_encodings() -> &'static [[u8; 32]; 10] {
    static ENCODINGS: std::sync::OnceLock<[[u8; 32]; 10]> = std::sync::OnceLock::new();
    ENCODINGS.get_or_init(|| {
        let mut out = [[0u8; 32]; 10];
        for (i, p) in curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .enumerate()
        {
            out[i] = p.compress().to_bytes();
        }
        let mut identity = [0u8; 32];
        identity[0] = 1;
        identity[31] |= 0x80;
        out[8] = identity;
        // -1 mod p = p - 1: 0xec, then 0xff…, top byte 0x7f; sign bit set.
        let mut minus_one = [0xffu8; 32];
        minus_one[0] = 0xec;
        out[9] = minus_one;
        out
    })
}

/// Batch-verifies `(public key, context, message, signature)` items.
///
/// Every key is first vetted as in [`verify`] (weak and non-canonical keys
/// are rejected), and every signature's `R` and `S` as in `verify_strict`;
/// then the group equations are checked together (see
/// [`batch_equation_holds`]; 2.5 to 4 times as fast as one by one). Returns the error of
/// the first failing item (in order), or `Ok(())` if all verify. An empty
/// batch verifies.
///
/// Caveat (documented in `docs/CRYPTO.md`): batch verification checks a
/// random linear combination of the equations, so a signature deliberately
/// crafted **by the private key's owner** with a small torsion component in
/// `R` may pass here yet fail [`verify`]. Honestly generated signatures
/// always agree. Use one of the two consistently for a given decision.
pub fn verify_batch(items: &[BatchItem<'_>]) -> Result<(), CryptoError> {
    for r in verify_batch_each(items) {
        r?;
    }
    Ok(())
}

/// Like [`verify_batch`], but returns one result per item (same order), so
/// a caller can accept the valid items of a batch and reject the others.
pub fn verify_batch_each(items: &[BatchItem<'_>]) -> Vec<Result<(), CryptoError>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(BATCH_CHUNK) {
        verify_chunk(chunk, &mut out);
    }
    out
}

/// A batch item that passed [`precheck`]: key, `S`, context, message,
/// signature.
type Prechecked<'a> = (VerifyingKey, Scalar, &'a str, &'a [u8], &'a [u8; 64]);

fn verify_chunk(chunk: &[BatchItem<'_>], out: &mut Vec<Result<(), CryptoError>>) {
    let mut cache = Vec::new();
    let prechecked: Vec<Result<(VerifyingKey, Scalar), CryptoError>> = chunk
        .iter()
        .map(|(pk, ctx, _, sig)| precheck(pk, ctx, sig, &mut cache))
        .collect();
    let passed: Vec<Prechecked<'_>> = chunk
        .iter()
        .zip(&prechecked)
        .filter_map(|((_, ctx, msg, sig), pre)| {
            pre.as_ref().ok().map(|(vk, s)| (*vk, *s, *ctx, *msg, *sig))
        })
        .collect();
    let batch_ok = passed.is_empty() || batch_equation_holds(&passed);
    for ((pk, ctx, msg, sig), pre) in chunk.iter().zip(prechecked) {
        out.push(match pre {
            Err(e) => Err(e),
            Ok(_) if batch_ok => Ok(()),
            // The batch failed: find which items are at fault.
            Ok(_) => verify(pk, ctx, msg, sig),
        });
    }
}

/// The Ed25519 batch equation over prechecked items:
/// `[-Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + Σ_A [Σ_{i: Aᵢ=A} zᵢkᵢ]A = 0`, with
/// `kᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ contextᵢ ‖ 0x00 ‖ msgᵢ) mod ℓ` (RFC 8032) and
/// 128-bit weights `zᵢ`. This is ed25519-dalek's `verify_batch` equation
/// (cofactorless, weights derived from a hash of the whole batch so they
/// are fixed only once every signature is), with the terms of a key that
/// signs several items merged into one: a peer's batch is mostly signed by
/// one originator, so the multiscalar multiplication has about half the
/// points. Points and scalars come from curve25519-dalek.
fn batch_equation_holds(items: &[Prechecked<'_>]) -> bool {
    use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
    use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
    use sha2::{Digest, Sha512};

    let hrams: Vec<Scalar> = items
        .iter()
        .map(|(vk, _, ctx, msg, sig)| {
            let mut h = Sha512::new();
            h.update(&sig[..32]);
            h.update(vk.as_bytes());
            h.update(ctx.as_bytes());
            h.update([0u8]);
            h.update(msg);
            Scalar::from_bytes_mod_order_wide(&h.finalize().into())
        })
        .collect();
    // The weights: a hash of every challenge and signature of the batch.
    let mut seed = Sha512::new();
    seed.update(b"tansiq/ed25519-batch-weights/v1");
    for (k, (_, _, _, _, sig)) in hrams.iter().zip(items) {
        seed.update(k.as_bytes());
        seed.update(sig.as_slice());
    }
    let seed = seed.finalize();
    let zs: Vec<Scalar> = (0..items.len() as u64)
        .map(|i| {
            let mut h = Sha512::new();
            h.update(seed);
            h.update(i.to_le_bytes());
            let d = h.finalize();
            let mut z = [0u8; 32];
            z[..16].copy_from_slice(&d[..16]);
            Scalar::from_bytes_mod_order(z)
        })
        .collect();
    let mut b_coefficient = Scalar::ZERO;
    let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 2);
    let mut points: Vec<Option<EdwardsPoint>> = Vec::with_capacity(items.len() + 2);
    // Distinct keys and their merged coefficients.
    let mut keys: Vec<(&[u8; 32], EdwardsPoint, Scalar)> = Vec::new();
    for ((z, k), (vk, s, _, _, sig)) in zs.iter().zip(&hrams).zip(items) {
        b_coefficient -= z * s;
        let r: [u8; 32] = sig[..32].try_into().expect("64 = 32 + 32");
        scalars.push(*z);
        points.push(CompressedEdwardsY(r).decompress());
        match keys.iter_mut().find(|(b, _, _)| *b == vk.as_bytes()) {
            Some((_, _, c)) => *c += z * k,
            None => keys.push((vk.as_bytes(), vk.to_edwards(), z * k)),
        }
    }
    scalars.push(b_coefficient);
    points.push(Some(curve25519_dalek::constants::ED25519_BASEPOINT_POINT));
    for (_, p, c) in keys {
        scalars.push(c);
        points.push(Some(p));
    }
    EdwardsPoint::optional_multiscalar_mul(scalars, points).is_some_and(|p| p.is_identity())
}

const NODE_ID_CONTEXT: &[u8] = b"tansiq/node-id/v1";
const BASE32_ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The node id of an Ed25519 signing public key:
/// `"tq" || base32lower(SHA-256("tansiq/node-id/v1" || 0x00 || key)[..10])`
/// (RFC 4648 base32 alphabet in lower case, no padding): 18 characters,
/// e.g. `tqmfrggzdfmztwq2lk`. 80 bits: an identifier, not an authenticator;
/// peers are always pinned by their full key.
pub fn node_id_from_key(signing_public: &[u8; 32]) -> String {
    let mut input = Vec::with_capacity(NODE_ID_CONTEXT.len() + 1 + 32);
    input.extend_from_slice(NODE_ID_CONTEXT);
    input.push(0);
    input.extend_from_slice(signing_public);
    let digest = sha256(&input);
    let mut out = String::with_capacity(18);
    out.push_str("tq");
    out.push_str(&base32_lower(&digest[..10]));
    out
}

/// Whether `s` has the shape of a node id (`tq` + 16 base32 lower-case
/// characters). It does not say which key it belongs to.
pub fn is_valid_node_id(s: &str) -> bool {
    s.len() == 18 && s.starts_with("tq") && s.bytes().skip(2).all(|b| BASE32_ALPHABET.contains(&b))
}

fn base32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity((bytes.len() * 8).div_ceil(5));
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base32_rfc4648_vectors() {
        // RFC 4648 §10, lower-cased, without padding.
        assert_eq!(base32_lower(b""), "");
        assert_eq!(base32_lower(b"f"), "my");
        assert_eq!(base32_lower(b"fo"), "mzxq");
        assert_eq!(base32_lower(b"foo"), "mzxw6");
        assert_eq!(base32_lower(b"foob"), "mzxw6yq");
        assert_eq!(base32_lower(b"fooba"), "mzxw6ytb");
        assert_eq!(base32_lower(b"foobar"), "mzxw6ytboi");
    }

    #[test]
    fn contexts() {
        assert!(is_valid_context("tansiq/record/v1"));
        assert!(!is_valid_context(""));
        assert!(!is_valid_context("has space"));
        assert!(!is_valid_context("nul\0"));
        assert!(!is_valid_context("é"));
        assert!(!is_valid_context(&"a".repeat(129)));
        assert_eq!(signing_input("a/b", b"xy"), b"a/b\0xy");
    }

    #[test]
    fn node_id_shape() {
        let id = node_id_from_key(&[7u8; 32]);
        assert!(is_valid_node_id(&id), "{id}");
        assert_eq!(id, node_id_from_key(&[7u8; 32]));
        assert_ne!(id, node_id_from_key(&[8u8; 32]));
        assert!(!is_valid_node_id("tqMFRGGZDFMZTWQ2LK"));
        assert!(!is_valid_node_id("xx"));
    }

    #[test]
    fn small_order_encodings_are_exactly_the_torsion_points() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let set = small_order_encodings();
        for enc in set {
            let p = CompressedEdwardsY(*enc).decompress().expect("on the curve");
            assert!(p.is_small_order());
            assert!(is_canonical_y(enc));
        }
        // Each torsion point appears with its own canonical encoding.
        for t in curve25519_dalek::constants::EIGHT_TORSION {
            assert!(set.contains(&t.compress().to_bytes()));
        }
        let distinct: std::collections::HashSet<_> = set.iter().collect();
        assert_eq!(distinct.len(), 10);
    }

    #[test]
    fn canonical_y_is_below_p() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        assert!(!is_canonical_y(&p));
        let mut below = p;
        below[0] = 0xec;
        assert!(is_canonical_y(&below));
        // The sign bit is not part of y.
        below[31] |= 0x80;
        assert!(is_canonical_y(&below));
        let mut above = p;
        above[0] = 0xff;
        assert!(!is_canonical_y(&above));
        assert!(is_canonical_y(&[0u8; 32]));
    }

    #[test]
    fn batch_refuses_every_small_order_r_like_verify() {
        let id = crate::Identity::generate();
        let pk = id.signing_public();
        let good = id.sign("tansiq/t/v1", b"m");
        for enc in small_order_encodings() {
            let mut sig = good;
            sig[..32].copy_from_slice(enc);
            assert!(verify(&pk, "tansiq/t/v1", b"m", &sig).is_err());
            assert!(verify_batch(&[(&pk, "tansiq/t/v1", &b"m"[..], &sig)]).is_err());
        }
    }
}
