//! What an envelope carries, sealed: the originator-signed plaintext
//! (a record version, a charter) as JSON, sealed to every recipient with
//! the canonical envelope header as additional data, so a relay or a
//! non-member sees only ciphertext and the header, and a header cannot be
//! moved onto another body.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use tansiq_core::charter::SignedCharter;
use tansiq_core::record::SignedRecord;
use tansiq_core::release::SignedRelease;
use tansiq_crypto::seal::{self, ContentKey, Recipient, Sealed, WrappedKey};
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

/// Envelopes sealed under one sender epoch key before a new one is made.
pub const EPOCH_MAX_ENVELOPES: u64 = 10_000;
/// Age after which a sender epoch key is replaced.
pub const EPOCH_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);
/// Unwrapped epoch keys a receiver keeps in memory (cleared when full).
const OPEN_CACHE_MAX: usize = 4096;
const EPOCH_AAD_CONTEXT: &[u8] = b"tansiq/epoch/v1";

/// A body sealed under a channel epoch key (docs/PROTOCOL.md §7): the key
/// wrapped to every recipient once per epoch, the payload under it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochSealed {
    epoch: EpochWrap,
    #[serde(with = "b64_array24")]
    nonce: [u8; 24],
    #[serde(with = "b64_vec")]
    ciphertext: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochWrap {
    #[serde(with = "b64_array16")]
    id: [u8; 16],
    wrapped: Vec<WrappedKey>,
}

macro_rules! b64_array {
    ($name:ident, $n:expr) => {
        mod $name {
            use serde::{Deserialize, Deserializer, Serializer};
            pub fn serialize<S: Serializer>(v: &[u8; $n], s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&tansiq_crypto::b64(v))
            }
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; $n], D::Error> {
                let s = String::deserialize(d)?;
                tansiq_crypto::b64_decode_array::<$n>(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
b64_array!(b64_array16, 16);
b64_array!(b64_array24, 24);

mod b64_vec {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&tansiq_crypto::b64(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        tansiq_crypto::b64_decode(&s).map_err(serde::de::Error::custom)
    }
}

/// The additional data every wrapped epoch key is bound to:
/// `"tansiq/epoch/v1" || 0x00 || JCS({"channel","epoch","originator","recipients"})`.
/// A receiver rebuilds it from the envelope header, so a wrapped key only
/// opens for envelopes of that channel, originator and recipient set.
pub fn epoch_aad(header: &EnvelopeHeader, epoch: &[u8; 16]) -> Vec<u8> {
    let v = serde_json::json!({
        "channel": header.channel.as_str(),
        "epoch": tansiq_crypto::b64(epoch),
        "originator": header.originator.as_str(),
        "recipients": header.recipients.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
    });
    let mut out = EPOCH_AAD_CONTEXT.to_vec();
    out.push(0);
    out.extend(tansiq_crypto::canonical_json(&v).expect("strings only"));
    out
}

struct SendEpoch {
    originator: String,
    recipients: Vec<Recipient>,
    id: [u8; 16],
    key: ContentKey,
    wrapped: Vec<WrappedKey>,
    started: std::time::Instant,
    used: u64,
}

/// Epoch content keys of one node, in memory only: the key this node
/// seals each channel's envelopes under, and the keys it has unwrapped
/// from its peers' envelopes (so each costs one X25519 agreement per
/// epoch instead of one per envelope). Losing them (a restart) only means
/// a new epoch, or one more unwrap.
#[derive(Default)]
pub struct EpochKeys {
    send: Mutex<HashMap<String, SendEpoch>>,
    open: Mutex<HashMap<[u8; 32], ContentKey>>,
}

impl EpochKeys {
    /// The current epoch of `channel` for exactly these recipients (ids and
    /// keys), or a new one: on the first envelope, on any change of the
    /// recipient set or of a recipient's key, after
    /// [`EPOCH_MAX_ENVELOPES`] envelopes or [`EPOCH_MAX_AGE`].
    fn sealing_key(
        &self,
        header: &EnvelopeHeader,
        recipients: Vec<Recipient>,
    ) -> NodeResult<([u8; 16], ContentKey, Vec<WrappedKey>)> {
        let mut m = self.send.lock().unwrap_or_else(|p| p.into_inner());
        let channel = header.channel.as_str();
        let current = m.get_mut(channel).filter(|e| {
            e.originator == header.originator.as_str()
                && e.recipients == recipients
                && e.used < EPOCH_MAX_ENVELOPES
                && e.started.elapsed() < EPOCH_MAX_AGE
        });
        let e = match current {
            Some(e) => e,
            None => {
                let id: [u8; 16] = tansiq_crypto::random_bytes();
                let key = ContentKey::generate();
                let wrapped = seal::wrap_key(&key, &epoch_aad(header, &id), &recipients)
                    .map_err(|e| NodeError::Internal(format!("sealing: {e}")))?;
                m.insert(
                    channel.to_string(),
                    SendEpoch {
                        originator: header.originator.as_str().to_string(),
                        recipients,
                        id,
                        key,
                        wrapped,
                        started: std::time::Instant::now(),
                        used: 0,
                    },
                );
                m.get_mut(channel).expect("inserted")
            }
        };
        e.used += 1;
        Ok((e.id, e.key.clone(), e.wrapped.clone()))
    }

    /// The epoch key filed for `me` in `wrapped` under `aad`, unwrapped
    /// once and then remembered by exactly those inputs (the same entries,
    /// the same additional data, the same key of ours), so a cached answer
    /// is the one unwrapping would give.
    fn opening_key(
        &self,
        wrapped: &[WrappedKey],
        aad: &[u8],
        me: &str,
        identity: &tansiq_crypto::Identity,
    ) -> Result<ContentKey, tansiq_crypto::CryptoError> {
        let mut input = identity.encryption_public().to_vec();
        input.extend_from_slice(&(aad.len() as u64).to_be_bytes());
        input.extend_from_slice(aad);
        for w in wrapped.iter().filter(|w| w.recipient == me) {
            input.extend_from_slice(&(w.enc.len() as u64).to_be_bytes());
            input.extend_from_slice(&w.enc);
            input.extend_from_slice(&(w.ct.len() as u64).to_be_bytes());
            input.extend_from_slice(&w.ct);
        }
        let k = tansiq_crypto::sha256(&input);
        if let Some(key) = self.open.lock().unwrap_or_else(|p| p.into_inner()).get(&k) {
            return Ok(key.clone());
        }
        let key = seal::unwrap_key(wrapped, aad, me, identity)?;
        let mut m = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if m.len() >= OPEN_CACHE_MAX {
            m.clear();
        }
        m.insert(k, key.clone());
        Ok(key)
    }
}

/// The recipients of `header` this node holds a key for. A member whose
/// card is not held is one the operator removed while charters still
/// name it (`peer remove --force`; every member was a known peer when its
/// charter was signed): nothing is sealed to it, and the epoch changes
/// with the recipient set, so no later envelope opens for it. The
/// originator itself must be among them.
fn recipients_of(
    header: &EnvelopeHeader,
    keys: &BTreeMap<String, [u8; 32]>,
) -> NodeResult<Vec<Recipient>> {
    let held: Vec<Recipient> = header
        .recipients
        .iter()
        .filter_map(|r| {
            keys.get(r.as_str()).map(|k| Recipient {
                id: r.as_str().to_string(),
                public: *k,
            })
        })
        .collect();
    if !held.iter().any(|r| r.id == header.originator.as_str()) {
        return Err(NodeError::bad(format!(
            "no encryption key for {}; add its card",
            header.originator.as_str()
        )));
    }
    Ok(held)
}

/// Seals the payload to every recipient of `header` (whose X25519 keys
/// are in `keys`) under the channel's current epoch key.
pub fn seal(
    payload: &Payload,
    header: &EnvelopeHeader,
    keys: &BTreeMap<String, [u8; 32]>,
    epochs: &EpochKeys,
) -> NodeResult<Vec<u8>> {
    let plaintext =
        serde_json::to_vec(payload).map_err(|e| NodeError::Internal(format!("payload: {e}")))?;
    let recipients = recipients_of(header, keys)?;
    let (id, key, wrapped) = epochs.sealing_key(header, recipients)?;
    let body = seal::seal_with_key(&key, &header.canonical_bytes(), &plaintext)
        .map_err(|e| NodeError::Internal(format!("sealing: {e}")))?;
    let sealed = EpochSealed {
        epoch: EpochWrap { id, wrapped },
        nonce: body.nonce,
        ciphertext: body.ciphertext,
    };
    serde_json::to_vec(&sealed).map_err(|e| NodeError::Internal(format!("sealing: {e}")))
}

/// Seals the payload with a content key of its own, wrapped to every
/// recipient with the header as additional data (CRYPTO §8 one-shot
/// sealing): the form every envelope had before epoch keys. Receivers
/// open both forms.
pub fn seal_one_shot(
    payload: &Payload,
    header: &EnvelopeHeader,
    keys: &BTreeMap<String, [u8; 32]>,
) -> NodeResult<Vec<u8>> {
    let plaintext =
        serde_json::to_vec(payload).map_err(|e| NodeError::Internal(format!("payload: {e}")))?;
    let recipients = recipients_of(header, keys)?;
    let sealed = seal::seal(&plaintext, &header.canonical_bytes(), &recipients)
        .map_err(|e| NodeError::Internal(format!("sealing: {e}")))?;
    serde_json::to_vec(&sealed).map_err(|e| NodeError::Internal(format!("sealing: {e}")))
}

/// The plaintext of a sealed body (either form) addressed to `me`, with
/// `header` the envelope's header and `header_bytes` its canonical bytes.
/// `identities` are this node's keys, newest first (the first that opens
/// wins); `epochs` remembers unwrapped epoch keys (none: unwrap every
/// time). Errors carry no plaintext.
pub fn open_body(
    bytes: &[u8],
    header: &EnvelopeHeader,
    header_bytes: &[u8],
    me: &str,
    identities: &[&tansiq_crypto::Identity],
    epochs: Option<&EpochKeys>,
) -> Result<Vec<u8>, String> {
    const CANNOT: &str = "cannot open the sealed body (not addressed to this node, or altered)";
    let v = tansiq_crypto::parse_json_strict(bytes)
        .map_err(|e| format!("sealed body is not valid JSON: {e}"))?;
    if v.get("epoch").is_some() {
        let sealed: EpochSealed =
            serde_json::from_value(v).map_err(|e| format!("sealed body: {e}"))?;
        let aad = epoch_aad(header, &sealed.epoch.id);
        let key = identities
            .iter()
            .find_map(|identity| {
                match epochs {
                    Some(c) => c.opening_key(&sealed.epoch.wrapped, &aad, me, identity),
                    None => seal::unwrap_key(&sealed.epoch.wrapped, &aad, me, identity),
                }
                .ok()
            })
            .ok_or_else(|| CANNOT.to_string())?;
        let body = seal::SealedBody {
            nonce: sealed.nonce,
            ciphertext: sealed.ciphertext,
        };
        seal::open_with_key(&key, header_bytes, &body).map_err(|_| CANNOT.to_string())
    } else {
        let sealed: Sealed = serde_json::from_value(v).map_err(|e| format!("sealed body: {e}"))?;
        identities
            .iter()
            .find_map(|identity| seal::open(&sealed, header_bytes, me, identity).ok())
            .ok_or_else(|| CANNOT.to_string())
    }
}

/// Opens an envelope addressed to `me` with the first of `identities`
/// (this node's keys, newest first: after a key rotation, what was sealed
/// to an earlier key still opens) that can. Errors are reasons to reject
/// it, written for the audit log (no plaintext in them).
pub fn open(
    env: &Envelope,
    me: &str,
    identities: &[&tansiq_crypto::Identity],
    epochs: Option<&EpochKeys>,
) -> Result<Payload, String> {
    let Body::Sealed(bytes) = env.body() else {
        return Err("the envelope carries no body".into());
    };
    let plain = open_body(
        bytes,
        env.header(),
        env.header_bytes(),
        me,
        identities,
        epochs,
    )?;
    if plain.len() > MAX_PAYLOAD_BYTES {
        return Err(format!("payload larger than {MAX_PAYLOAD_BYTES} bytes"));
    }
    let v = tansiq_crypto::parse_json_strict(&plain)
        .map_err(|e| format!("payload is not valid JSON: {e}"))?;
    serde_json::from_value(v).map_err(|e| format!("payload: {e}"))
}

#[cfg(test)]
mod tests {
    //! Epoch keys: one epoch per recipient set, a new one when the set
    //! changes, so a removed member cannot open what follows and a new
    //! member cannot open what came before; bodies are bound to their
    //! header and epoch; the receiver's cache gives what unwrapping gives;
    //! one-shot bodies still open.

    use super::*;
    use tansiq_crypto::Identity;

    fn header(channel: &str, seq: u64, from: &Identity, to: &[&Identity]) -> EnvelopeHeader {
        let mut recipients: Vec<String> = to.iter().map(|i| i.node_id()).collect();
        recipients.sort();
        serde_json::from_value(serde_json::json!({
            "v": 1, "channel": channel, "originator": from.node_id(), "seq": seq,
            "prev": tansiq_crypto::b64([0u8; 32]), "precedence": "routine", "kind": "message",
            "created_ms": 1_767_225_600_000u64, "recipients": recipients, "relays": [],
        }))
        .unwrap()
    }

    fn keys(ids: &[&Identity]) -> BTreeMap<String, [u8; 32]> {
        ids.iter()
            .map(|i| (i.node_id(), i.encryption_public()))
            .collect()
    }

    fn msg(text: &str) -> Payload {
        Payload::Message {
            id: "msg_1".into(),
            channel: "ch_1".into(),
            file: None,
            precedence: "routine".into(),
            text: text.into(),
            sent_at: "2026-11-29T10:00:00Z".into(),
            ack_required: false,
        }
    }

    fn epoch_of(body: &[u8]) -> [u8; 16] {
        serde_json::from_slice::<EpochSealed>(body)
            .unwrap()
            .epoch
            .id
    }

    fn open_as(
        body: &[u8],
        h: &EnvelopeHeader,
        me: &Identity,
        c: Option<&EpochKeys>,
    ) -> Result<Vec<u8>, String> {
        open_body(body, h, &h.canonical_bytes(), &me.node_id(), &[me], c)
    }

    #[test]
    fn epochs_follow_the_recipient_set() {
        let (a, b, c) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let all = keys(&[&a, &b, &c]);
        let sender = EpochKeys::default();
        let cache = EpochKeys::default();

        // A and B: two envelopes, one epoch.
        let h1 = header("ch_1", 1, &a, &[&a, &b]);
        let h2 = header("ch_1", 2, &a, &[&a, &b]);
        let b1 = seal(&msg("one"), &h1, &all, &sender).unwrap();
        let b2 = seal(&msg("two"), &h2, &all, &sender).unwrap();
        assert_eq!(epoch_of(&b1), epoch_of(&b2));
        for c in [None, Some(&cache)] {
            assert!(open_as(&b1, &h1, &b, c).is_ok());
            assert!(open_as(&b2, &h2, &b, c).is_ok());
        }
        // Cached and fresh agree, also on a second look.
        assert_eq!(
            open_as(&b2, &h2, &b, Some(&cache)),
            open_as(&b2, &h2, &b, None)
        );
        // Bound to its own header: not under another seq's header.
        assert!(open_as(&b1, &h2, &b, Some(&cache)).is_err());

        // C joins: a new epoch; C opens the new envelope, never the old.
        let h3 = header("ch_1", 3, &a, &[&a, &b, &c]);
        let b3 = seal(&msg("three"), &h3, &all, &sender).unwrap();
        assert_ne!(epoch_of(&b3), epoch_of(&b2));
        assert!(open_as(&b3, &h3, &c, None).is_ok());
        assert!(open_as(&b2, &h2, &c, None).is_err());
        // Not even by claiming the old body under a header that names C.
        let h2c = header("ch_1", 2, &a, &[&a, &b, &c]);
        assert!(open_as(&b2, &h2c, &c, None).is_err());

        // C removed again: C cannot open what follows.
        let h4 = header("ch_1", 4, &a, &[&a, &b]);
        let b4 = seal(&msg("four"), &h4, &all, &sender).unwrap();
        assert_ne!(epoch_of(&b4), epoch_of(&b3));
        assert!(open_as(&b4, &h4, &c, Some(&cache)).is_err());
        assert!(open_as(&b4, &h4, &b, Some(&cache)).is_ok());

        // Another channel never shares an epoch.
        let h5 = header("ch_2", 1, &a, &[&a, &b]);
        let b5 = seal(&msg("five"), &h5, &all, &sender).unwrap();
        assert_ne!(epoch_of(&b5), epoch_of(&b4));
    }

    #[test]
    fn a_recipient_key_change_starts_an_epoch() {
        let (a, b, b2) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let sender = EpochKeys::default();
        let h = header("ch_1", 1, &a, &[&a, &b]);
        let mut k = keys(&[&a, &b]);
        let x = seal(&msg("x"), &h, &k, &sender).unwrap();
        k.insert(b.node_id(), b2.encryption_public());
        let y = seal(&msg("y"), &h, &k, &sender).unwrap();
        assert_ne!(epoch_of(&x), epoch_of(&y));
    }

    #[test]
    fn altered_epochs_and_one_shot_bodies() {
        let (a, b) = (Identity::generate(), Identity::generate());
        let k = keys(&[&a, &b]);
        let h = header("ch_1", 1, &a, &[&a, &b]);
        let body = seal(&msg("x"), &h, &k, &EpochKeys::default()).unwrap();
        // Another epoch id: the wrapped key no longer opens.
        let mut s: EpochSealed = serde_json::from_slice(&body).unwrap();
        s.epoch.id[0] ^= 1;
        let altered = serde_json::to_vec(&s).unwrap();
        assert!(open_as(&altered, &h, &b, Some(&EpochKeys::default())).is_err());
        // Unknown members are refused.
        let mut v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["extra"] = serde_json::json!(1);
        assert!(open_as(&serde_json::to_vec(&v).unwrap(), &h, &b, None).is_err());
        // The earlier form still opens.
        let old = seal_one_shot(&msg("old"), &h, &k).unwrap();
        let plain = open_as(&old, &h, &b, Some(&EpochKeys::default())).unwrap();
        assert!(String::from_utf8(plain).unwrap().contains("old"));
    }
}
