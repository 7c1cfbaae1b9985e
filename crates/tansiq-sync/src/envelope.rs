//! Envelopes: a routing header, a sealed body the engine never opens, and
//! the originator's signature.
//!
//! ```text
//! H  = JCS(header)                                   (RFC 8785 canonical JSON)
//! id = SHA-256("tansiq/envelope-id/v1" || 0x00 || u32be(len(H)) || H || SHA-256(body))
//! sig = Ed25519 over signing_input("tansiq/envelope/v1", id)     (by the originator)
//! body = sealed with aad = H                           (tansiq_crypto::seal)
//! ```
//!
//! Because the id commits to the body through its hash, an envelope whose
//! body was purged (or withheld from a node it is not addressed to) keeps
//! its id and signature: it travels as a *stub* (`body_hash` instead of
//! `body`) that still proves its place in the hash chain.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DecodeError;
use crate::ids::{ChannelId, EnvelopeId, Kind, NodeId};

/// Domain separator of envelope ids.
pub const ENVELOPE_ID_DOMAIN: &[u8] = b"tansiq/envelope-id/v1";
/// Signature context of the originator's signature over an envelope id.
pub const ENVELOPE_SIG_CONTEXT: &str = "tansiq/envelope/v1";
/// Header format version.
pub const HEADER_VERSION: u64 = 1;
/// Largest canonical header.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest sealed body.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Most recipients of one envelope.
pub const MAX_RECIPIENTS: usize = 256;
/// Most permitted relays of one envelope.
pub const MAX_RELAYS: usize = 16;
/// Largest sequence number / time value (JSON-safe integers, 2^53 − 1).
pub const MAX_INT: u64 = tansiq_crypto::MAX_SAFE_INTEGER;

/// Liaison precedence. Ordered most urgent first (`Flash < Routine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precedence {
    /// Overtakes everything; has its own express lane.
    Flash,
    /// Overtakes PRIORITY and ROUTINE; uses the express lane too.
    Immediate,
    /// Ahead of ROUTINE.
    Priority,
    /// Bulk traffic.
    Routine,
}

impl Precedence {
    /// All four, most urgent first.
    pub const ALL: [Precedence; 4] = [
        Precedence::Flash,
        Precedence::Immediate,
        Precedence::Priority,
        Precedence::Routine,
    ];
    /// FLASH and IMMEDIATE may use the express lane.
    pub fn is_express(self) -> bool {
        matches!(self, Precedence::Flash | Precedence::Immediate)
    }
}

/// The routing header. Everything a relay or a non-member can see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeHeader {
    /// Format version, [`HEADER_VERSION`].
    pub v: u64,
    /// The channel.
    pub channel: ChannelId,
    /// The node that made and signed the envelope.
    pub originator: NodeId,
    /// Position in the originator's stream in this channel, from 1.
    pub seq: u64,
    /// Id of the originator's previous envelope in this channel
    /// ([`EnvelopeId::ZERO`] for `seq` 1).
    pub prev: EnvelopeId,
    /// Precedence.
    pub precedence: Precedence,
    /// What it carries.
    pub kind: Kind,
    /// Creation time, milliseconds since the Unix epoch (originator's clock).
    pub created_ms: u64,
    /// The channel's members when it was made (sorted, unique, includes the
    /// originator): every node it is sealed to.
    pub recipients: Vec<NodeId>,
    /// Non-members permitted to carry it (sorted, unique, disjoint from
    /// `recipients`).
    pub relays: Vec<NodeId>,
}

fn sorted_unique(v: &[NodeId]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

impl EnvelopeHeader {
    /// Checks every rule on a header (done on every decode).
    pub fn validate(&self) -> Result<(), DecodeError> {
        let bad = |field, why| Err(DecodeError::Invalid { field, why });
        if self.v != HEADER_VERSION {
            return bad("v", "unsupported header version");
        }
        if self.seq == 0 || self.seq > MAX_INT {
            return bad("seq", "must be 1 to 2^53-1");
        }
        if (self.seq == 1) != (self.prev == EnvelopeId::ZERO) {
            return bad("prev", "zero exactly when seq is 1");
        }
        if self.created_ms > MAX_INT {
            return bad("created_ms", "must be at most 2^53-1");
        }
        if self.recipients.is_empty() || self.recipients.len() > MAX_RECIPIENTS {
            return bad("recipients", "1 to 256 nodes");
        }
        if self.relays.len() > MAX_RELAYS {
            return bad("relays", "at most 16 nodes");
        }
        if !sorted_unique(&self.recipients) || !sorted_unique(&self.relays) {
            return bad(
                "recipients",
                "recipients and relays must be sorted and unique",
            );
        }
        if self.recipients.binary_search(&self.originator).is_err() {
            return bad("recipients", "must include the originator");
        }
        if self
            .relays
            .iter()
            .any(|r| self.recipients.binary_search(r).is_ok())
        {
            return bad("relays", "a relay cannot be a recipient");
        }
        Ok(())
    }

    /// Whether `node` is a recipient.
    pub fn is_recipient(&self, node: &NodeId) -> bool {
        self.recipients.binary_search(node).is_ok()
    }

    /// Whether `node` is a permitted relay.
    pub fn is_relay(&self, node: &NodeId) -> bool {
        self.relays.binary_search(node).is_ok()
    }

    /// The RFC 8785 canonical bytes: the AAD to seal the body with, and the
    /// input of the envelope id.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Invariant: a header serialises to a JSON object of strings and
        // integers below 2^53 (checked by `validate` on every path that
        // builds one from outside), which JCS always accepts.
        let v = serde_json::to_value(self).expect("headers serialise");
        tansiq_crypto::canonical_json(&v).expect("headers hold only JCS-safe values")
    }

    fn from_value(v: Value) -> Result<EnvelopeHeader, DecodeError> {
        let h: EnvelopeHeader =
            serde_json::from_value(v).map_err(|e| DecodeError::Shape(e.to_string()))?;
        h.validate()?;
        Ok(h)
    }
}

/// The body: sealed bytes, or only their hash (a stub).
#[derive(Clone, PartialEq, Eq)]
pub enum Body {
    /// The sealed payload (opaque to the engine).
    Sealed(Vec<u8>),
    /// Withheld or purged: only SHA-256 of the sealed bytes.
    Omitted([u8; 32]),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Sealed(b) => write!(f, "Sealed({} bytes)", b.len()),
            Body::Omitted(_) => f.write_str("Omitted"),
        }
    }
}

impl Body {
    /// SHA-256 of the sealed bytes.
    pub fn hash(&self) -> [u8; 32] {
        match self {
            Body::Sealed(b) => tansiq_crypto::sha256(b),
            Body::Omitted(h) => *h,
        }
    }
}

/// An envelope: header, body and the originator's signature. Always
/// well-formed: built only by [`Envelope::new`] (local) or by decoding
/// (peers), both of which validate the header and compute the id.
/// Immutable; cloning is cheap (shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Envelope(std::sync::Arc<Inner>);

#[derive(PartialEq, Eq)]
struct Inner {
    header: EnvelopeHeader,
    header_bytes: Vec<u8>,
    body: Body,
    body_hash: [u8; 32],
    sig: [u8; 64],
    id: EnvelopeId,
}

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = &self.0;
        f.debug_struct("Envelope")
            .field("id", &e.id)
            .field("channel", &e.header.channel)
            .field("originator", &e.header.originator)
            .field("seq", &e.header.seq)
            .field("precedence", &e.header.precedence)
            .field("body", &e.body)
            .finish()
    }
}

/// The id of an envelope with canonical header `header_bytes` and body hash.
pub fn envelope_id(header_bytes: &[u8], body_hash: &[u8; 32]) -> EnvelopeId {
    let mut v = Vec::with_capacity(ENVELOPE_ID_DOMAIN.len() + 1 + 4 + header_bytes.len() + 32);
    v.extend_from_slice(ENVELOPE_ID_DOMAIN);
    v.push(0);
    v.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    v.extend_from_slice(header_bytes);
    v.extend_from_slice(body_hash);
    EnvelopeId(tansiq_crypto::sha256(&v))
}

impl Envelope {
    /// Assembles an envelope. `sign` receives the id and returns the
    /// originator's signature over `signing_input(ENVELOPE_SIG_CONTEXT, id)`
    /// (e.g. `|id| identity.sign(ENVELOPE_SIG_CONTEXT, &id.0)`).
    pub fn new(
        header: EnvelopeHeader,
        body: Body,
        sign: impl FnOnce(&EnvelopeId) -> [u8; 64],
    ) -> Result<Envelope, DecodeError> {
        header.validate()?;
        if let Body::Sealed(b) = &body {
            if b.len() > MAX_BODY_BYTES {
                return Err(DecodeError::TooLarge {
                    what: "body",
                    len: b.len(),
                    max: MAX_BODY_BYTES,
                });
            }
        }
        let header_bytes = header.canonical_bytes();
        if header_bytes.len() > MAX_HEADER_BYTES {
            return Err(DecodeError::TooLarge {
                what: "header",
                len: header_bytes.len(),
                max: MAX_HEADER_BYTES,
            });
        }
        let body_hash = body.hash();
        let id = envelope_id(&header_bytes, &body_hash);
        let sig = sign(&id);
        Ok(Envelope(std::sync::Arc::new(Inner {
            header,
            header_bytes,
            body,
            body_hash,
            sig,
            id,
        })))
    }

    /// The same envelope with signature `sig` (the id does not cover the
    /// signature, so nothing is recomputed).
    pub fn with_sig(&self, sig: [u8; 64]) -> Envelope {
        let i = &self.0;
        Envelope(std::sync::Arc::new(Inner {
            header: i.header.clone(),
            header_bytes: i.header_bytes.clone(),
            body: i.body.clone(),
            body_hash: i.body_hash,
            sig,
            id: i.id,
        }))
    }

    /// The id.
    pub fn id(&self) -> EnvelopeId {
        self.0.id
    }
    /// The header.
    pub fn header(&self) -> &EnvelopeHeader {
        &self.0.header
    }
    /// The canonical header bytes (the sealing AAD).
    pub fn header_bytes(&self) -> &[u8] {
        &self.0.header_bytes
    }
    /// The body.
    pub fn body(&self) -> &Body {
        &self.0.body
    }
    /// SHA-256 of the sealed body.
    pub fn body_hash(&self) -> [u8; 32] {
        self.0.body_hash
    }
    /// The originator's signature over the id.
    pub fn sig(&self) -> &[u8; 64] {
        &self.0.sig
    }
    /// Whether the body is omitted.
    pub fn is_stub(&self) -> bool {
        matches!(self.0.body, Body::Omitted(_))
    }
    /// The same envelope without its body (same id, same signature).
    pub fn to_stub(&self) -> Envelope {
        if self.is_stub() {
            return self.clone();
        }
        let e = &self.0;
        Envelope(std::sync::Arc::new(Inner {
            header: e.header.clone(),
            header_bytes: e.header_bytes.clone(),
            body: Body::Omitted(e.body_hash),
            body_hash: e.body_hash,
            sig: e.sig,
            id: e.id,
        }))
    }
    /// A close upper bound of the JSON-encoded size (for batch budgets).
    pub fn encoded_len(&self) -> usize {
        let body = match &self.0.body {
            Body::Sealed(b) => b.len().div_ceil(3) * 4,
            Body::Omitted(_) => 43,
        };
        self.0.header_bytes.len() + body + 86 + 48
    }

    /// The JSON wire form (see `docs/SYNC.md`).
    pub fn to_value(&self) -> Value {
        // Invariant: an envelope holds only strings and safe integers.
        serde_json::to_value(self).expect("envelopes serialise")
    }

    /// Encodes to JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Invariant: an envelope holds only strings and safe integers.
        serde_json::to_vec(self).expect("envelopes serialise")
    }

    /// Decodes one envelope from JSON bytes (length-checked first, strict
    /// JSON, every field validated, id recomputed). Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        let max = MAX_HEADER_BYTES + MAX_BODY_BYTES.div_ceil(3) * 4 + 1024;
        if bytes.len() > max {
            return Err(DecodeError::TooLarge {
                what: "envelope",
                len: bytes.len(),
                max,
            });
        }
        let v = tansiq_crypto::parse_json_strict(bytes)
            .map_err(|e| DecodeError::Json(e.to_string()))?;
        Envelope::from_value(v)
    }

    /// Decodes from an already strictly-parsed JSON value.
    pub fn from_value(v: Value) -> Result<Envelope, DecodeError> {
        let Value::Object(mut m) = v else {
            return Err(DecodeError::Shape("an envelope is a JSON object".into()));
        };
        let header = m
            .remove("header")
            .ok_or_else(|| DecodeError::Shape("missing field `header`".into()))?;
        let sig = m
            .remove("sig")
            .ok_or_else(|| DecodeError::Shape("missing field `sig`".into()))?;
        let body = match (m.remove("body"), m.remove("body_hash")) {
            (Some(Value::String(s)), None) => {
                if s.len() > MAX_BODY_BYTES.div_ceil(3) * 4 {
                    return Err(DecodeError::TooLarge {
                        what: "body",
                        len: s.len() / 4 * 3,
                        max: MAX_BODY_BYTES,
                    });
                }
                Body::Sealed(
                    tansiq_crypto::b64_decode(&s).map_err(|_| DecodeError::Invalid {
                        field: "body",
                        why: "base64url",
                    })?,
                )
            }
            (None, Some(Value::String(s))) => {
                Body::Omitted(tansiq_crypto::b64_decode_array::<32>(&s).map_err(|_| {
                    DecodeError::Invalid {
                        field: "body_hash",
                        why: "32 bytes of base64url",
                    }
                })?)
            }
            _ => {
                return Err(DecodeError::Shape(
                    "exactly one of `body` or `body_hash`, a string".into(),
                ))
            }
        };
        if let Some(k) = m.keys().next() {
            return Err(DecodeError::Shape(format!(
                "unknown field {:?}",
                k.chars().take(40).collect::<String>()
            )));
        }
        let Value::String(sig) = sig else {
            return Err(DecodeError::Shape("`sig` is a string".into()));
        };
        let sig =
            tansiq_crypto::b64_decode_array::<64>(&sig).map_err(|_| DecodeError::Invalid {
                field: "sig",
                why: "64 bytes of base64url",
            })?;
        let header = EnvelopeHeader::from_value(header)?;
        let header_bytes = header.canonical_bytes();
        if header_bytes.len() > MAX_HEADER_BYTES {
            return Err(DecodeError::TooLarge {
                what: "header",
                len: header_bytes.len(),
                max: MAX_HEADER_BYTES,
            });
        }
        let body_hash = body.hash();
        let id = envelope_id(&header_bytes, &body_hash);
        Ok(Envelope(std::sync::Arc::new(Inner {
            header,
            header_bytes,
            body,
            body_hash,
            sig,
            id,
        })))
    }
}

impl Serialize for Envelope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let e = &self.0;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("header", &e.header)?;
        match &e.body {
            Body::Sealed(b) => m.serialize_entry("body", &tansiq_crypto::b64(b))?,
            Body::Omitted(h) => m.serialize_entry("body_hash", &tansiq_crypto::b64(h))?,
        }
        m.serialize_entry("sig", &tansiq_crypto::b64(e.sig))?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Envelope::from_value(v).map_err(serde::de::Error::custom)
    }
}
