//! Peer-to-peer messages. JSON objects with a `"type"` member; see
//! `docs/SYNC.md` for every field. Every message is one-way: a reply is a
//! separate message (a transport may carry it in its HTTP response).

use serde::{Deserialize, Serialize};

use crate::envelope::{Envelope, MAX_BODY_BYTES, MAX_INT};
use crate::error::DecodeError;
use crate::ids::{ChannelId, EnvelopeId, NodeId};

/// Largest encoded message accepted (checked before parsing).
pub const MAX_MESSAGE_BYTES: usize = 2 * MAX_BODY_BYTES + 4 * 1024 * 1024;
/// Most items, results, receipts or envelopes in one message.
pub const MAX_ITEMS: usize = 4096;
/// Most stream heads in one summary.
pub const MAX_HEADS: usize = 4096;
/// Largest `limit` of a fetch.
pub const MAX_FETCH_LIMIT: u64 = 1024;
/// Longest reason string.
pub const MAX_REASON_LEN: usize = 200;

/// One envelope on its way to its final recipient `to` (the hop's
/// receiver itself, or a node a relay should forward to).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Final recipient (`final_recipient` routing field).
    pub to: NodeId,
    /// The envelope.
    pub envelope: Envelope,
}

/// How a receiver took one item of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The final recipient holds it durably (end-to-end ack). Also the
    /// answer for a duplicate.
    Stored,
    /// A relay holds it durably in its own outbox (custody ack).
    Accepted,
    /// Not now (unknown channel or key yet, window full): send again later.
    Retry,
    /// Never (not addressed here, bad signature, fork): do not send again.
    Refused,
}

/// The receiver's answer for one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemResult {
    /// Envelope id.
    pub id: EnvelopeId,
    /// Final recipient, as in the item.
    pub to: NodeId,
    /// Outcome.
    pub status: Status,
    /// Short reason code for `retry`/`refused` (no payload data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// "Envelope `id` reached `to`": forwarded by a relay to the node that gave
/// it custody.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Envelope id.
    pub id: EnvelopeId,
    /// The final recipient that stored it.
    pub to: NodeId,
}

/// "I hold stream (`channel`, `originator`) contiguously up to `seq`."
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Head {
    /// Channel.
    pub channel: ChannelId,
    /// Originator.
    pub originator: NodeId,
    /// Contiguous prefix held (envelopes or stubs).
    pub seq: u64,
}

/// A peer message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// Envelopes for the receiver or for it to relay. Answered by `batch_ack`.
    Batch {
        /// Sender-chosen batch number, echoed in the ack.
        batch: u64,
        /// The items.
        items: Vec<Item>,
    },
    /// The receiver's outcome for each item of a batch.
    BatchAck {
        /// The batch number.
        batch: u64,
        /// One result per item.
        results: Vec<ItemResult>,
    },
    /// End-to-end receipts relayed back by a relay.
    Receipt {
        /// The receipts.
        receipts: Vec<Receipt>,
    },
    /// Anti-entropy: the sender's contiguous prefixes of streams in
    /// channels shared with the receiver. Doubles as a cumulative ack.
    Summary {
        /// Stream heads.
        heads: Vec<Head>,
        /// Whether the receiver should answer with its own summary.
        reply: bool,
    },
    /// Anti-entropy: ask for envelopes of one stream from `from_seq` on.
    Fetch {
        /// Channel.
        channel: ChannelId,
        /// Originator.
        originator: NodeId,
        /// First seq wanted.
        from_seq: u64,
        /// At most this many.
        limit: u64,
    },
    /// The answer to a fetch: envelopes in seq order (stubs for those not
    /// addressed to the requester or purged).
    FetchReply {
        /// Channel.
        channel: ChannelId,
        /// Originator.
        originator: NodeId,
        /// The envelopes.
        envelopes: Vec<Envelope>,
        /// Whether the holder has more after these.
        more: bool,
    },
}

fn count(what: &'static str, n: usize, max: usize) -> Result<(), DecodeError> {
    if n > max {
        return Err(DecodeError::TooLarge { what, len: n, max });
    }
    Ok(())
}

impl Message {
    /// Encodes to JSON bytes.
    pub fn encode(&self) -> Vec<u8> {
        // Invariant: messages hold only strings, bools and safe integers.
        serde_json::to_vec(self).expect("messages serialise")
    }

    /// Decodes a message: length limit first, strict JSON (no duplicate
    /// names, depth ≤ 128), exact shape, every field validated. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(DecodeError::TooLarge {
                what: "message",
                len: bytes.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        let v = tansiq_crypto::parse_json_strict(bytes)
            .map_err(|e| DecodeError::Json(e.to_string()))?;
        // Count limits on the raw arrays before building typed values.
        if let Some(obj) = v.as_object() {
            for (k, max) in [
                ("items", MAX_ITEMS),
                ("results", MAX_ITEMS),
                ("receipts", MAX_ITEMS),
                ("envelopes", MAX_ITEMS),
                ("heads", MAX_HEADS),
            ] {
                if let Some(a) = obj.get(k).and_then(|x| x.as_array()) {
                    count(k, a.len(), max)?;
                }
            }
        }
        let m = Message::from_tagged(v)?;
        m.validate()?;
        Ok(m)
    }

    /// Dispatches on `type` by hand: serde's internally tagged enums would
    /// buffer the whole message (every envelope) a second time.
    fn from_tagged(v: serde_json::Value) -> Result<Message, DecodeError> {
        use serde::de::DeserializeOwned;
        fn de<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, DecodeError> {
            serde_json::from_value(v).map_err(|e| DecodeError::Shape(e.to_string()))
        }
        let serde_json::Value::Object(mut m) = v else {
            return Err(DecodeError::Shape("a message is a JSON object".into()));
        };
        let Some(serde_json::Value::String(t)) = m.remove("type") else {
            return Err(DecodeError::Shape("missing or non-string `type`".into()));
        };
        let rest = serde_json::Value::Object(m);
        Ok(match t.as_str() {
            "batch" => {
                let w: wire::Batch = de(rest)?;
                Message::Batch {
                    batch: w.batch,
                    items: w.items,
                }
            }
            "batch_ack" => {
                let w: wire::BatchAck = de(rest)?;
                Message::BatchAck {
                    batch: w.batch,
                    results: w.results,
                }
            }
            "receipt" => {
                let w: wire::Receipts = de(rest)?;
                Message::Receipt {
                    receipts: w.receipts,
                }
            }
            "summary" => {
                let w: wire::Summary = de(rest)?;
                Message::Summary {
                    heads: w.heads,
                    reply: w.reply,
                }
            }
            "fetch" => {
                let w: wire::Fetch = de(rest)?;
                Message::Fetch {
                    channel: w.channel,
                    originator: w.originator,
                    from_seq: w.from_seq,
                    limit: w.limit,
                }
            }
            "fetch_reply" => {
                let w: wire::FetchReply = de(rest)?;
                Message::FetchReply {
                    channel: w.channel,
                    originator: w.originator,
                    envelopes: w.envelopes,
                    more: w.more,
                }
            }
            _ => return Err(DecodeError::Shape("unknown message type".into())),
        })
    }

    fn validate(&self) -> Result<(), DecodeError> {
        let int = |field, x: u64| {
            if x > MAX_INT {
                Err(DecodeError::Invalid {
                    field,
                    why: "integer above 2^53-1",
                })
            } else {
                Ok(())
            }
        };
        match self {
            Message::Batch { batch, items } => {
                int("batch", *batch)?;
                count("items", items.len(), MAX_ITEMS)
            }
            Message::BatchAck { batch, results } => {
                int("batch", *batch)?;
                count("results", results.len(), MAX_ITEMS)?;
                for r in results {
                    if r.reason.as_ref().is_some_and(|s| s.len() > MAX_REASON_LEN) {
                        return Err(DecodeError::TooLarge {
                            what: "reason",
                            len: r.reason.as_ref().map_or(0, |s| s.len()),
                            max: MAX_REASON_LEN,
                        });
                    }
                }
                Ok(())
            }
            Message::Receipt { receipts } => count("receipts", receipts.len(), MAX_ITEMS),
            Message::Summary { heads, .. } => {
                count("heads", heads.len(), MAX_HEADS)?;
                heads.iter().try_for_each(|h| int("seq", h.seq))
            }
            Message::Fetch {
                from_seq, limit, ..
            } => {
                if *from_seq == 0 {
                    return Err(DecodeError::Invalid {
                        field: "from_seq",
                        why: "sequence numbers start at 1",
                    });
                }
                int("from_seq", *from_seq)?;
                if *limit == 0 || *limit > MAX_FETCH_LIMIT {
                    return Err(DecodeError::Invalid {
                        field: "limit",
                        why: "1 to 1024",
                    });
                }
                Ok(())
            }
            Message::FetchReply { envelopes, .. } => count("envelopes", envelopes.len(), MAX_ITEMS),
        }
    }

    /// Short name of the message type (for logs).
    pub fn type_name(&self) -> &'static str {
        match self {
            Message::Batch { .. } => "batch",
            Message::BatchAck { .. } => "batch_ack",
            Message::Receipt { .. } => "receipt",
            Message::Summary { .. } => "summary",
            Message::Fetch { .. } => "fetch",
            Message::FetchReply { .. } => "fetch_reply",
        }
    }
}

/// Decodes an offline bundle's item list (a JSON array of [`Item`]) as
/// the node extracts it from the signed, sealed bundle file.
pub fn decode_bundle_items(bytes: &[u8]) -> Result<Vec<Item>, DecodeError> {
    const MAX_BUNDLE_BYTES: usize = 1 << 30;
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(DecodeError::TooLarge {
            what: "bundle",
            len: bytes.len(),
            max: MAX_BUNDLE_BYTES,
        });
    }
    let v =
        tansiq_crypto::parse_json_strict(bytes).map_err(|e| DecodeError::Json(e.to_string()))?;
    serde_json::from_value(v).map_err(|e| DecodeError::Shape(e.to_string()))
}

/// Encodes bundle items as a JSON array.
pub fn encode_bundle_items(items: &[Item]) -> Vec<u8> {
    // Invariant: items serialise.
    serde_json::to_vec(items).expect("items serialise")
}

/// The variants' bodies, for decoding without serde's tag buffering.
mod wire {
    use serde::Deserialize;

    use super::{Head, Item, ItemResult, Receipt};
    use crate::envelope::Envelope;
    use crate::ids::{ChannelId, NodeId};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Batch {
        pub batch: u64,
        pub items: Vec<Item>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct BatchAck {
        pub batch: u64,
        pub results: Vec<ItemResult>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Receipts {
        pub receipts: Vec<Receipt>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Summary {
        pub heads: Vec<Head>,
        pub reply: bool,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Fetch {
        pub channel: ChannelId,
        pub originator: NodeId,
        pub from_seq: u64,
        pub limit: u64,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FetchReply {
        pub channel: ChannelId,
        pub originator: NodeId,
        pub envelopes: Vec<Envelope>,
        pub more: bool,
    }
}
