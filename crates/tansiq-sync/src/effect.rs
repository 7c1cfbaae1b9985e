//! What the engine returns: durable effects (applied atomically, in
//! order, before anything is sent), messages to send, events to log, and
//! the next time it wants to be polled. Also the durable rows it is
//! restored from.

use serde::{Deserialize, Serialize};

use crate::config::Millis;
use crate::envelope::{Envelope, Precedence};
use crate::ids::{ChannelId, EnvelopeId, NodeId};
use crate::message::Message;

/// One durable outbox row: envelope `id` still to reach `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxRow {
    /// Final recipient. Key part 1.
    pub to: NodeId,
    /// Envelope. Key part 2.
    pub id: EnvelopeId,
    /// The envelope's channel.
    pub channel: ChannelId,
    /// The envelope's originator.
    pub originator: NodeId,
    /// The envelope's seq.
    pub seq: u64,
    /// The envelope's precedence.
    pub precedence: Precedence,
    /// Queue order within a precedence (engine-assigned, increasing).
    pub order: u64,
    /// Estimated encoded size in bytes.
    pub size: u64,
    /// Permitted relays (from the header).
    pub relays: Vec<NodeId>,
    /// Set on a relay: the node that handed over custody, to which the
    /// end-to-end receipt goes.
    pub reply_to: Option<NodeId>,
}

/// Durable state of one stream (`channel`, `originator`): its contiguous
/// prefix. For this node's own streams, the head it has sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamRow {
    /// Channel. Key part 1.
    pub channel: ChannelId,
    /// Originator. Key part 2.
    pub originator: NodeId,
    /// Every envelope with seq ≤ this is held (full or stub).
    pub seq: u64,
    /// Id of the envelope at `seq` ([`EnvelopeId::ZERO`] when `seq` is 0).
    pub last: EnvelopeId,
}

/// A restore hold: this node was restored from a backup and originates
/// nothing on `channel` until `partner` has answered that it holds none of
/// this node's envelopes there beyond what this node holds again
/// (docs/SYNC.md §6, "Restore holds"). Written by the operator's restore
/// command, deleted by [`Effect::HoldDone`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldRow {
    /// Channel. Key part 1.
    pub channel: ChannelId,
    /// The partner that must answer. Key part 2.
    pub partner: NodeId,
}

/// Everything the engine needs to be rebuilt after a crash (with the
/// envelopes reachable through [`crate::Host`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// All stream rows.
    pub streams: Vec<StreamRow>,
    /// All outbox rows.
    pub outbox: Vec<OutboxRow>,
    /// All restore holds.
    #[serde(default)]
    pub holds: Vec<HoldRow>,
}

/// Security evidence to keep and show (`sync status`, audit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Alarm {
    /// Two different envelopes claim the same place in a stream: the held
    /// one (or the held successor whose `prev` disagrees) and the newcomer,
    /// which was not delivered.
    Fork {
        /// The envelope held first.
        held: Box<Envelope>,
        /// The conflicting one.
        conflicting: Box<Envelope>,
    },
    /// A peer refused one of our items for good; the outbox row is dropped.
    Refused {
        /// The peer that refused (hop).
        peer: NodeId,
        /// The final recipient.
        to: NodeId,
        /// The envelope.
        id: EnvelopeId,
        /// Its reason code.
        reason: String,
    },
}

/// A durable state change. Apply all effects of one [`Output`] in one
/// transaction, in order, together with the application's own changes for
/// `Deliver`. Each is idempotent (an upsert or a delete by key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Keep this envelope (upsert by id). `custody`: held only to forward
    /// (relay); not part of any stream, deleted by `Forget`.
    Store {
        /// The envelope (full or stub).
        envelope: Envelope,
        /// Held for forwarding only.
        custody: bool,
    },
    /// Delete a custody copy.
    Forget {
        /// Envelope id.
        id: EnvelopeId,
    },
    /// Replace a held envelope's body by its hash (retraction/expiry purge).
    Purge {
        /// Envelope id.
        id: EnvelopeId,
    },
    /// Hand the envelope to the application (open, verify, store the
    /// record or message). Emitted exactly once per envelope addressed to
    /// this node, always in the same output as its `Store`.
    Deliver {
        /// The envelope.
        envelope: Envelope,
        /// The peer it came from (not necessarily its originator).
        from: NodeId,
    },
    /// Upsert a stream row.
    Stream(StreamRow),
    /// Upsert an outbox row (key `to`, `id`).
    OutboxPut(OutboxRow),
    /// Delete an outbox row (no-op if absent).
    OutboxDone {
        /// Final recipient.
        to: NodeId,
        /// Envelope id.
        id: EnvelopeId,
    },
    /// Keep this evidence and raise it to operators.
    Alarm(Alarm),
    /// Delete a restore hold (no-op if absent): the partner answered, or
    /// the operator released it ([`crate::Engine::release_hold`]).
    HoldDone(HoldRow),
}

/// A message to send to a peer once the effects are committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Engine-chosen id; report a failure with [`crate::Engine::transmit_failed`].
    pub id: u64,
    /// The peer (next hop).
    pub to: NodeId,
    /// The message.
    pub message: Message,
}

/// Something worth logging; not durable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A message from a peer could not be decoded; dropped.
    Malformed {
        /// The peer.
        from: NodeId,
        /// Why (no payload bytes).
        error: String,
    },
    /// An item from a peer was refused or deferred.
    Rejected {
        /// The peer.
        from: NodeId,
        /// Envelope id.
        id: EnvelopeId,
        /// Retry or refused.
        status: crate::message::Status,
        /// Reason code.
        reason: String,
    },
    /// A link changed state.
    Link {
        /// The peer.
        peer: NodeId,
        /// Now up?
        up: bool,
    },
}

/// The result of one engine call.
#[derive(Debug, Default)]
pub struct Output {
    /// Durable effects: commit atomically, in order, before sending.
    pub effects: Vec<Effect>,
    /// Messages to send after the commit.
    pub transmits: Vec<Transmit>,
    /// Log lines.
    pub events: Vec<Event>,
    /// When to call [`crate::Engine::poll`] next at the latest (`None`:
    /// nothing scheduled).
    pub next_wakeup: Option<Millis>,
}

impl Output {
    /// Appends another output (keeps the earlier wakeup).
    pub fn merge(&mut self, o: Output) {
        self.effects.extend(o.effects);
        self.transmits.extend(o.transmits);
        self.events.extend(o.events);
        self.next_wakeup = match (self.next_wakeup, o.next_wakeup) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Link state of one peer, for `tansiq sync status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerStatus {
    /// The peer.
    pub peer: NodeId,
    /// "up", "down" or "unknown" (not tried since start).
    pub link: &'static str,
    /// Outbox rows for this peer waiting to be sent.
    pub queued: usize,
    /// Rows in a batch not yet acknowledged.
    pub in_flight: usize,
    /// Rows handed to a relay, awaiting the end-to-end receipt.
    pub relayed: usize,
    /// Rows the peer asked to retry later.
    pub deferred: usize,
    /// FLASH rows not yet acknowledged end to end.
    pub flash_unacked: usize,
    /// Consecutive failures.
    pub failures: u32,
    /// Last end-to-end delivery to this peer (this process's lifetime).
    pub last_delivery: Option<Millis>,
    /// Next retry time while backing off.
    pub next_attempt: Option<Millis>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Items new to this node (delivered or taken into custody).
    pub new: usize,
    /// Items already held.
    pub duplicate: usize,
    /// Items the node cannot judge yet (not imported; import again later).
    pub deferred: usize,
}
