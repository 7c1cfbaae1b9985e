//! What the engine asks its driver, synchronously, during a call: the
//! sans-IO boundary for reads. The node implements [`Host`] over its store
//! and keys; the simulation over in-memory maps.

use crate::envelope::Envelope;
use crate::ids::{ChannelId, EnvelopeId, NodeId};

/// The node's judgement of an envelope received from a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Signature valid and policy satisfied.
    Accept,
    /// Cannot judge yet (unknown channel, unknown key, charter not yet
    /// active): the sender should try again later.
    Retry(String),
    /// Never acceptable (bad signature, recipients differ from the charter,
    /// originator not a member, third-party rule): refused and logged.
    Refuse(String),
}

/// Reads the engine needs from the node. All must be cheap point or range
/// lookups on committed state; none may call back into the engine.
pub trait Host {
    /// Judges an envelope (full or stub) from a peer: verify the
    /// originator's Ed25519 signature over `signing_input(
    /// ENVELOPE_SIG_CONTEXT, id)` with the originator's key; check that the
    /// header agrees with the charter in force at `created_ms` (recipients =
    /// members, relays = permitted relays). A relay checks the signature
    /// only. Must not open the body.
    fn verify(&self, envelope: &Envelope) -> Verdict;

    /// The current members of `channel` as this node knows them (its
    /// latest active charter), or `None` if it knows no such channel.
    fn members(&self, channel: &ChannelId) -> Option<Vec<NodeId>>;

    /// Whether this node delivers to `node` at all (a known peer). A
    /// member the node no longer trusts (removed while charters still
    /// name it) gets no outbox rows: they could never leave and would
    /// pile up. Receivers still see it among the recipients, as signed.
    fn delivers_to(&self, node: &NodeId) -> bool {
        let _ = node;
        true
    }

    /// The envelope (or stub) held under `id`, if any.
    fn envelope(&self, id: &EnvelopeId) -> Option<Envelope>;

    /// Held envelopes (or stubs) of stream (`channel`, `originator`) with
    /// `seq >= from_seq`, ascending by seq, at most `limit` (which may be
    /// `usize::MAX` on restore: no limit). Custody copies (held only to
    /// forward) are not included.
    fn stream_range(
        &self,
        channel: &ChannelId,
        originator: &NodeId,
        from_seq: u64,
        limit: usize,
    ) -> Vec<Envelope>;
}
