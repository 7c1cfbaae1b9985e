//! What an envelope carries, sealed: the originator-signed plaintext
//! (a record version, a charter) as JSON, sealed to every recipient with
//! the canonical envelope header as additional data, so a relay or a
//! non-member sees only ciphertext and the header, and a header cannot be
//! moved onto another body.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tansiq_core::charter::SignedCharter;
use tansiq_core::record::SignedRecord;
use tansiq_core::release::SignedRelease;
use tansiq_crypto::seal::{self, Recipient, Sealed};
use tansiq_sync::{Body, Envelope, EnvelopeHeader};

use crate::error::{NodeError, NodeResult};

/// Largest plaintext accepted after opening.
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

// One payload exists at a time, briefly, per envelope: boxing the large
// variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Payload {
    /// A record version placed in the envelope's channel; `release` is the
    /// originator's consent when the sender is not the originator.
    Record {
        record: SignedRecord,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release: Option<SignedRelease>,
    },
    /// A charter version with the signatures gathered so far.
    Charter { charter: SignedCharter },
    /// A liaison message; its sender is the envelope's (signing) originator.
    Message {
        id: String,
        channel: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        precedence: String,
        text: String,
        sent_at: String,
        ack_required: bool,
    },
    /// The envelope's originator acknowledges a message.
    Ack { message: String, at: String },
    /// A holder asks the record's originator to release it into
    /// `target_channel`, whose members it names.
    ReleaseRequest {
        id: String,
        record: String,
        target_channel: String,
        target_members: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The sender's latest signed audit checkpoint, with a consistency
    /// proof from `old_size` (the last size this receiver co-signed; 0:
    /// none), for the receiver to witness.
    Checkpoint {
        note: String,
        old_size: u64,
        proof: Vec<String>,
    },
    /// A witness's co-signature line over the receiver's checkpoint `size`.
    Cosignature { size: u64, line: String },
    /// The originator's answer: a signed release, or a refusal. `request`
    /// is absent for a release granted without a request.
    ReleaseDecision {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        release: Option<SignedRelease>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        refusal: Option<String>,
    },
    /// A querier asks a list holder for the record behind a hit/no-hit
    /// reference, to be shared into `channel` (docs/PROTOCOL.md).
    HitRequest {
        id: String,
        reference: String,
        channel: String,
    },
    /// The holder's answer; on a grant the record follows through the
    /// channel as an ordinary record envelope.
    HitDecision {
        request: String,
        granted: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        record: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Payload {
    /// The engine's envelope kind for this payload.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Record { .. } => tansiq_sync::Kind::RECORD,
            Payload::Charter { .. } => tansiq_sync::Kind::CHARTER,
            Payload::Message { .. } => tansiq_sync::Kind::MESSAGE,
            Payload::Ack { .. } => tansiq_sync::Kind::ACK,
            Payload::ReleaseRequest { .. }
            | Payload::ReleaseDecision { .. }
            | Payload::HitRequest { .. }
            | Payload::HitDecision { .. } => tansiq_sync::Kind::RELEASE,
            Payload::Checkpoint { .. } | Payload::Cosignature { .. } => "checkpoint",
        }
    }
}

/// Seals the payload to every recipient of `header` (whose X25519 keys
/// are in `keys`).
pub fn seal(
    payload: &Payload,
    header: &EnvelopeHeader,
    keys: &BTreeMap<String, [u8; 32]>,
) -> NodeResult<Vec<u8>> {
    let plaintext =
        serde_json::to_vec(payload).map_err(|e| NodeError::Other(format!("payload: {e}")))?;
    let recipients = header
        .recipients
        .iter()
        .map(|r| {
            keys.get(r.as_str())
                .map(|k| Recipient {
                    id: r.as_str().to_string(),
                    public: *k,
                })
                .ok_or_else(|| {
                    NodeError::bad(format!(
                        "no encryption key for {}; add its card",
                        r.as_str()
                    ))
                })
        })
        .collect::<NodeResult<Vec<_>>>()?;
    let sealed = seal::seal(&plaintext, &header.canonical_bytes(), &recipients)
        .map_err(|e| NodeError::Other(format!("sealing: {e}")))?;
    serde_json::to_vec(&sealed).map_err(|e| NodeError::Other(format!("sealing: {e}")))
}

/// Opens an envelope addressed to `me` with the first of `identities`
/// (this node's keys, newest first: after a key rotation, what was sealed
/// to an earlier key still opens) that can. Errors are reasons to reject
/// it, written for the audit log (no plaintext in them).
pub fn open(
    env: &Envelope,
    me: &str,
    identities: &[&tansiq_crypto::Identity],
) -> Result<Payload, String> {
    let Body::Sealed(bytes) = env.body() else {
        return Err("the envelope carries no body".into());
    };
    let v = tansiq_crypto::parse_json_strict(bytes)
        .map_err(|e| format!("sealed body is not valid JSON: {e}"))?;
    let sealed: Sealed = serde_json::from_value(v).map_err(|e| format!("sealed body: {e}"))?;
    let aad = env.header().canonical_bytes();
    let plain = identities
        .iter()
        .find_map(|id| seal::open(&sealed, &aad, me, id).ok())
        .ok_or_else(|| {
            "cannot open the sealed body (not addressed to this node, or altered)".to_string()
        })?;
    if plain.len() > MAX_PAYLOAD_BYTES {
        return Err(format!("payload larger than {MAX_PAYLOAD_BYTES} bytes"));
    }
    let v = tansiq_crypto::parse_json_strict(&plain)
        .map_err(|e| format!("payload is not valid JSON: {e}"))?;
    serde_json::from_value(v).map_err(|e| format!("payload: {e}"))
}
