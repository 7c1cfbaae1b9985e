//! Opaque identifiers. Node ids derive from the node's first signing key
//! (see `tansiq_crypto::node_id_from_key`); record, channel, message and
//! request ids are random and carry a short prefix telling their kind.

use crate::error::Invalid;

/// A fresh id: `prefix` + 20 lowercase hex characters — 6 bytes of
/// milliseconds since the Unix epoch, then 4 random bytes (plus a
/// per-process counter mixed in), so ids created together sort together
/// and index inserts stay local (as UUIDv7 does).
pub fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let rnd = u32::from_be_bytes(tansiq_crypto::random_bytes());
    let tail = rnd.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut bytes = [0u8; 10];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&tail.to_be_bytes());
    format!("{prefix}{}", hex::encode(bytes))
}

/// Ids travel between nodes and into SQL parameters and file names of
/// bundles: keep them to a safe alphabet and a sane length.
pub fn check_id(field: &str, id: &str) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id.len() <= 80
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Invalid::new(format!(
            "{id:?} is not a valid id (1-80 characters: letters, digits, '_', '-', '.')"
        ))
        .at(field))
    }
}

pub const RECORD_PREFIX: &str = "rec_";

/// A new record id for `originator`: `rec_` + 20 hex characters + `.` +
/// the originator's node id. The id names its owner for ever: a receiver
/// refuses any version of it signed by another node (docs/POLICY.md,
/// "A record belongs to its originator"), so no partner can take over,
/// rewrite or retract another agency's record, not even one it has not
/// seen yet.
pub fn new_record_id(originator: &str) -> String {
    format!("{}.{originator}", new_id(RECORD_PREFIX))
}

/// The node a record id belongs to (what follows its last `.`), if the id
/// has the shape [`new_record_id`] gives.
pub fn record_id_owner(id: &str) -> Option<&str> {
    let (_, owner) = id.strip_prefix(RECORD_PREFIX)?.rsplit_once('.')?;
    (!owner.is_empty()).then_some(owner)
}
pub const CHANNEL_PREFIX: &str = "ch_";
pub const REQUEST_PREFIX: &str = "req_";
pub const MESSAGE_PREFIX: &str = "msg_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_id_names_its_originator() {
        let id = new_record_id("tqmfrggzdfmztwq2lk");
        assert!(check_id("id", &id).is_ok(), "{id}");
        assert_eq!(record_id_owner(&id), Some("tqmfrggzdfmztwq2lk"));
        for bad in ["rec_0194ab", "rec_0194ab.", "msg_01.tqmfrggzdfmztwq2lk", ""] {
            assert_eq!(record_id_owner(bad), None, "{bad}");
        }
    }
}
