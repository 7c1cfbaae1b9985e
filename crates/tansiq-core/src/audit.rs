//! Audit entries and how each becomes a leaf of the node's RFC 6962 Merkle
//! audit log. A leaf is a salted commitment: a leaf or a proof shown to a
//! partner reveals nothing of the entry, and the entry's text in the local
//! table cannot be altered without changing the tree.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub const AUDIT_CONTEXT: &str = "tansiq/audit/v1";

/// One audited action. `details` never holds record content: ids,
/// versions, content hashes, counts, hashes of search terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub idx: u64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub details: Value,
    pub salt: [u8; 16],
}

impl AuditEntry {
    /// SHA-256(salt ‖ JCS({idx, at, actor, action, object, details})).
    pub fn commitment(&self) -> [u8; 32] {
        let v = json!({
            "idx": self.idx,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "object": self.object,
            "details": self.details,
        });
        let canon = tansiq_crypto::canonical_json(&v).expect("audit entries are canonicalisable");
        let mut buf = Vec::with_capacity(16 + canon.len());
        buf.extend_from_slice(&self.salt);
        buf.extend_from_slice(&canon);
        tansiq_crypto::sha256(&buf)
    }

    /// The Merkle leaf hash: RFC 6962 leaf of `"tansiq/audit/v1" ‖ 0x00 ‖ commitment`.
    pub fn leaf(&self) -> [u8; 32] {
        let mut data = Vec::with_capacity(AUDIT_CONTEXT.len() + 33);
        data.extend_from_slice(AUDIT_CONTEXT.as_bytes());
        data.push(0);
        data.extend_from_slice(&self.commitment());
        tansiq_crypto::merkle::leaf_hash(&data)
    }
}
