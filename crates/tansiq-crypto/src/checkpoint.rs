//! Log checkpoints as C2SP signed notes, and witness cosignatures.
//!
//! - Body (c2sp.org/tlog-checkpoint): `<origin>\n<size>\n<base64 root>\n`,
//!   base64 being the *standard* alphabet with padding (RFC 4648 §4), size
//!   in decimal without leading zeros. Tansiq writes and accepts no
//!   extension lines.
//! - Signed note (c2sp.org/signed-note): the body, an empty line, then one
//!   line per signature: `— <key name> <base64(key id || signature)>\n`
//!   (U+2014 em dash). The log's signature is Ed25519 over the body bytes,
//!   key id = `SHA-256(key name || 0x0A || 0x01 || public key)[:4]`.
//! - Cosignature (c2sp.org/tlog-cosignature, Ed25519, type 0x04): Ed25519
//!   over `"cosignature/v1\ntime <t>\n" || body`; the signature bytes are
//!   `key id || u64be(t) || signature`, key id =
//!   `SHA-256(name || 0x0A || 0x04 || public key)[:4]`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::Signature;

use crate::signature::parse_public_key;
use crate::{sha256, CryptoError, Hash, Identity};

/// Signature type byte of plain Ed25519 note signatures.
const TYPE_ED25519: u8 = 0x01;
/// Signature type byte of timestamped Ed25519 cosignatures.
const TYPE_COSIGNATURE_V1: u8 = 0x04;
/// Largest note accepted by the verifiers.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Most signature lines accepted in one note.
pub const MAX_SIGNATURES: usize = 100;
/// Longest origin or key name accepted.
pub const MAX_NAME_LEN: usize = 256;
const EM_DASH_PREFIX: &str = "\u{2014} ";

/// A log's signed tree head: origin (the log's identity), size and root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// Unique identifier of the log, e.g. `tansiq.example/tq…/audit`.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 6962 root hash of the first `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: `"<origin>\n<size>\n<base64 std root>\n"`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses a body exactly as produced by [`Checkpoint::body`] (three
    /// lines, no extension lines, canonical size and base64).
    pub fn parse(body: &str) -> Result<Checkpoint, CryptoError> {
        let bad = |m: &str| CryptoError::Encoding(format!("checkpoint: {m}"));
        let rest = body
            .strip_suffix('\n')
            .ok_or_else(|| bad("body must end with a newline"))?;
        let mut lines = rest.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(bad("body must be exactly three lines"));
        };
        check_name(origin).map_err(|m| bad(&format!("origin {m}")))?;
        if size.is_empty()
            || size.len() > 20
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad("size is not a canonical decimal number"));
        }
        let size: u64 = size.parse().map_err(|_| bad("size out of range"))?;
        if root.len() != 44 {
            return Err(bad("root is not 32 bytes of base64"));
        }
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("root is not 32 bytes of base64"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// Checks an origin or key name: 1..=256 bytes, no control characters, no
/// Unicode white space, no `+`.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err("must be 1 to 256 bytes");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '+')
    {
        return Err("must not contain control characters, spaces or '+'");
    }
    Ok(())
}

fn check_key_name(name: &str) -> Result<(), CryptoError> {
    check_name(name).map_err(|m| CryptoError::InvalidArgument(format!("key name {m}")))
}

fn key_id(name: &str, sig_type: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut input = Vec::with_capacity(name.len() + 2 + 32);
    input.extend_from_slice(name.as_bytes());
    input.push(b'\n');
    input.push(sig_type);
    input.extend_from_slice(public);
    let h = sha256(&input);
    [h[0], h[1], h[2], h[3]]
}

/// The signed-note verifier key string of an Ed25519 key:
/// `<name>+<hex key id>+<base64(0x01 || public key)>`.
pub fn verifier_key(name: &str, public: &[u8; 32]) -> Result<String, CryptoError> {
    check_key_name(name)?;
    let id = key_id(name, TYPE_ED25519, public);
    let mut material = Vec::with_capacity(33);
    material.push(TYPE_ED25519);
    material.extend_from_slice(public);
    Ok(format!(
        "{name}+{:02x}{:02x}{:02x}{:02x}+{}",
        id[0],
        id[1],
        id[2],
        id[3],
        STANDARD.encode(material)
    ))
}

fn signature_line(name: &str, bytes: &[u8]) -> String {
    format!("{EM_DASH_PREFIX}{name} {}\n", STANDARD.encode(bytes))
}

/// Signs `cp` as a C2SP signed note with the log key `id` named `key_name`
/// (conventionally the origin). Returns the full note text.
pub fn sign(id: &Identity, key_name: &str, cp: &Checkpoint) -> Result<String, CryptoError> {
    check_key_name(key_name)?;
    let body = cp.body();
    // Validate what we are about to sign, so we never sign a body we would
    // refuse to parse.
    Checkpoint::parse(&body)?;
    let sig = id.sign_raw(body.as_bytes());
    let mut bytes = Vec::with_capacity(68);
    bytes.extend_from_slice(&key_id(key_name, TYPE_ED25519, &id.signing_public()));
    bytes.extend_from_slice(&sig);
    Ok(format!("{body}\n{}", signature_line(key_name, &bytes)))
}

/// A parsed signature line.
struct SigLine<'a> {
    name: &'a str,
    bytes: Vec<u8>,
}

/// Splits a signed note into its text (ending in `\n`) and signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SigLine<'_>>), CryptoError> {
    let bad = |m: &str| CryptoError::Encoding(format!("signed note: {m}"));
    if note.len() > MAX_NOTE_LEN {
        return Err(bad("too large"));
    }
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(bad("contains control characters"));
    }
    if !note.ends_with('\n') {
        return Err(bad("must end with a newline"));
    }
    // The text is separated from the signatures by the last empty line.
    let sep = note
        .rfind("\n\n")
        .ok_or_else(|| bad("no signature block"))?;
    let text = &note[..sep + 1];
    let block = &note[sep + 2..];
    let mut sigs = Vec::new();
    for line in block.strip_suffix('\n').unwrap_or(block).split('\n') {
        if sigs.len() >= MAX_SIGNATURES {
            return Err(bad("too many signatures"));
        }
        let rest = line
            .strip_prefix(EM_DASH_PREFIX)
            .ok_or_else(|| bad("malformed signature line"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| bad("malformed signature line"))?;
        check_name(name).map_err(|m| bad(&format!("key name {m}")))?;
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| bad("signature is not base64"))?;
        if bytes.len() < 5 {
            return Err(bad("signature too short"));
        }
        sigs.push(SigLine { name, bytes });
    }
    if sigs.is_empty() {
        return Err(bad("no signatures"));
    }
    Ok((text, sigs))
}

fn verify_raw(public: &[u8; 32], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let vk = parse_public_key(public)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| CryptoError::BadSignature)?;
    vk.verify_strict(msg, &Signature::from_bytes(&sig))
        .map_err(|_| CryptoError::BadSignature)
}

/// Verifies a signed checkpoint note against the log key (`key_name`,
/// `public`) and returns the checkpoint.
///
/// Per the signed-note spec, signatures by other keys (other names or key
/// ids, e.g. witness cosignatures) are ignored; a signature that matches
/// the key's name and id but does not verify rejects the note; a note with
/// no verifying signature by the key is rejected.
pub fn verify(note: &str, key_name: &str, public: &[u8; 32]) -> Result<Checkpoint, CryptoError> {
    check_key_name(key_name)?;
    let (text, sigs) = split_note(note)?;
    let id = key_id(key_name, TYPE_ED25519, public);
    let mut verified = false;
    for s in sigs
        .iter()
        .filter(|s| s.name == key_name && s.bytes[..4] == id)
    {
        verify_raw(public, text.as_bytes(), &s.bytes[4..])?;
        verified = true;
    }
    if !verified {
        return Err(CryptoError::BadSignature);
    }
    Checkpoint::parse(text)
}

/// The message a cosigner signs: `"cosignature/v1\ntime <t>\n" || body`.
fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's cosignature (c2sp.org/tlog-cosignature, Ed25519) of `cp` at
/// `timestamp` (POSIX seconds, ≤ 2^63 − 1), as one signature line
/// `— <witness_name> <base64>\n` to append to the note (see
/// [`add_signature_line`]). The witness must have verified the log's
/// signature and the consistency with the last checkpoint it saw before
/// cosigning.
pub fn cosign(
    witness: &Identity,
    witness_name: &str,
    cp: &Checkpoint,
    timestamp: u64,
) -> Result<String, CryptoError> {
    check_key_name(witness_name)?;
    if timestamp > i64::MAX as u64 {
        return Err(CryptoError::InvalidArgument(
            "cosignature timestamp exceeds 2^63 - 1".into(),
        ));
    }
    let body = cp.body();
    Checkpoint::parse(&body)?;
    let sig = witness.sign_raw(cosigned_message(&body, timestamp).as_bytes());
    let mut bytes = Vec::with_capacity(4 + 8 + 64);
    bytes.extend_from_slice(&key_id(
        witness_name,
        TYPE_COSIGNATURE_V1,
        &witness.signing_public(),
    ));
    bytes.extend_from_slice(&timestamp.to_be_bytes());
    bytes.extend_from_slice(&sig);
    Ok(signature_line(witness_name, &bytes))
}

/// Appends a signature line (from [`cosign`]) to a signed note, after
/// checking both are well-formed.
pub fn add_signature_line(note: &str, line: &str) -> Result<String, CryptoError> {
    split_note(note)?;
    let combined = format!("{note}{line}");
    let (_, sigs) = split_note(&combined)?;
    let (_, orig) = split_note(note)?;
    if sigs.len() != orig.len() + 1 {
        return Err(CryptoError::Encoding(
            "signature line must be exactly one line".into(),
        ));
    }
    Ok(combined)
}

/// Verifies the cosignature of witness (`witness_name`, `witness_public`)
/// on a checkpoint note; returns the checkpoint and the cosignature's
/// timestamp. Does **not** verify the log's own signature: call [`verify`]
/// for that.
pub fn verify_cosignature(
    note: &str,
    witness_name: &str,
    witness_public: &[u8; 32],
) -> Result<(Checkpoint, u64), CryptoError> {
    check_key_name(witness_name)?;
    let (text, sigs) = split_note(note)?;
    let cp = Checkpoint::parse(text)?;
    let id = key_id(witness_name, TYPE_COSIGNATURE_V1, witness_public);
    let mut found = None;
    for s in sigs
        .iter()
        .filter(|s| s.name == witness_name && s.bytes[..4] == id)
    {
        if s.bytes.len() != 4 + 8 + 64 {
            return Err(CryptoError::BadSignature);
        }
        let ts = u64::from_be_bytes(s.bytes[4..12].try_into().expect("checked length"));
        if ts > i64::MAX as u64 {
            return Err(CryptoError::BadSignature);
        }
        verify_raw(
            witness_public,
            cosigned_message(text, ts).as_bytes(),
            &s.bytes[12..],
        )?;
        found = Some(ts);
    }
    match found {
        Some(ts) => Ok((cp, ts)),
        None => Err(CryptoError::BadSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_example_shape() {
        let vk = verifier_key("example.com/log", &[3u8; 32]).unwrap();
        assert!(vk.starts_with("example.com/log+"));
        assert_eq!(vk.split('+').count(), 3);
        assert!(verifier_key("bad name", &[3u8; 32]).is_err());
    }

    #[test]
    fn parse_rejects_noncanonical() {
        let cp = Checkpoint {
            origin: "o".into(),
            size: 5,
            root: [7; 32],
        };
        assert_eq!(Checkpoint::parse(&cp.body()).unwrap(), cp);
        let b = cp.body();
        for bad in [
            b.replace("\n5\n", "\n05\n"),
            b.replace("\n5\n", "\n+5\n"),
            b.replace("\n5\n", "\n\n"),
            format!("{b}ext\n"),
            b.trim_end().to_owned(),
            b.replace("o\n", "o o\n"),
            b.replace("o\n", "\n"),
        ] {
            assert!(Checkpoint::parse(&bad).is_err(), "{bad:?}");
        }
    }
}
