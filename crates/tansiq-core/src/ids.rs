//! Opaque identifiers. Node ids derive from the node's first signing key
//! (see `tansiq_crypto::node_id_from_key`); record, channel, message and
//! request ids are random and carry a short prefix telling their kind.

use crate::error::Invalid;

/// A fresh random id: `prefix` + 20 lowercase hex characters (80 bits).
pub fn new_id(prefix: &str) -> String {
    let bytes: [u8; 10] = tansiq_crypto::random_bytes();
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
pub const CHANNEL_PREFIX: &str = "ch_";
pub const REQUEST_PREFIX: &str = "req_";
pub const MESSAGE_PREFIX: &str = "msg_";
