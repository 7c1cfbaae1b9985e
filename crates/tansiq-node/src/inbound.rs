//! The node as federation's [`Context`]: who it is, its peers' keys, and
//! the dispatcher that hands each arrived payload to the feature that owns
//! its kind — the same module that sends it.

use std::collections::BTreeMap;

use tansiq_crypto::Identity;
use tansiq_store::Tx;
use tansiq_sync::Envelope;

use crate::arrival::Batch;
use crate::card::KeyBook;
use crate::error::NodeResult;
use crate::federation::{Context, Members, Outbox, Outcome, Payload, RecordCheck};
use crate::held::find_channel;
use crate::node::Node;

impl Members for Node {
    fn channel_members(&self, tx: &mut Tx, channel: &str) -> Option<Vec<String>> {
        let st = find_channel(tx, channel).ok()??;
        st.active.map(|a| a.charter.members)
    }
}

impl Context for Node {
    type Batch = Batch;

    fn id(&self) -> &str {
        Node::id(self)
    }

    fn identity(&self) -> &Identity {
        &self.identity
    }

    fn identities(&self) -> Vec<&Identity> {
        Node::identities(self)
    }

    fn encryption_keys(&self, tx: &mut Tx) -> NodeResult<BTreeMap<String, [u8; 32]>> {
        Node::encryption_keys(self, tx)
    }

    fn key_lookup(&self, tx: &mut Tx) -> NodeResult<KeyBook> {
        Node::key_lookup(self, tx)
    }

    fn audit(
        &self,
        tx: &mut Tx,
        actor: &str,
        action: &str,
        object: &str,
        details: serde_json::Value,
    ) -> NodeResult<u64> {
        // Federation audits inside write transactions: appended, never
        // queued.
        Node::audit(self, tx, actor, action, object, details)?
            .ok_or_else(|| crate::NodeError::internal("an audit entry of a write was queued"))
    }

    fn deliver(
        &self,
        tx: &mut Tx,
        env: &Envelope,
        p: Payload,
        check: Option<RecordCheck>,
        keys: &KeyBook,
        batch: &mut Batch,
    ) -> Result<(), Outcome> {
        let sender = env.header().originator.as_str();
        let channel = env.header().channel.as_str();
        match p {
            Payload::Record { record, release } => {
                self.receive_record(tx, env, record, release, check, keys, batch)
            }
            Payload::Charter { charter } => self.receive_charter(tx, sender, charter, batch),
            p @ Payload::Message { .. } => self.receive_message(tx, sender, channel, p, batch),
            Payload::Ack { message, at } => self.receive_ack(tx, sender, message, at),
            p @ Payload::ReleaseRequest { .. } => self.receive_release_request(tx, sender, p),
            Payload::ReleaseDecision {
                request,
                release,
                refusal,
            } => self.receive_release_decision(tx, sender, request, release, refusal, keys),
            Payload::Checkpoint {
                note,
                old_size,
                proof,
            } => crate::witness::take_checkpoint(self, tx, sender, &note, old_size, &proof)
                .map_err(Outcome::of),
            Payload::Cosignature { size, line } => {
                crate::witness::take_cosignature(self, tx, sender, size, &line).map_err(Outcome::of)
            }
            Payload::HitRequest {
                id,
                reference,
                channel,
            } => self
                .take_hit_request(tx, sender, &id, &reference, &channel)
                .map_err(Outcome::of),
            Payload::HitDecision {
                request,
                granted,
                record: _,
                reason,
            } => self
                .take_hit_decision(tx, sender, &request, granted, reason)
                .map_err(Outcome::of),
        }
    }

    fn delivered(&self, tx: &mut Tx, mut batch: Batch, out: &mut Outbox) -> NodeResult<()> {
        for f in batch.forwards {
            self.forward_version(tx, &f.record, &f.channel, out)?;
        }
        batch.screen_ids.sort_unstable();
        batch.screen_ids.dedup();
        self.screen_new_entries(tx, &batch.screen_ids)?;
        Ok(())
    }
}

/// The node's side of the partner link: what the transport hands in, and
/// the engine's timers.
impl Node {
    /// Takes in one federation message `peer` sent (blocking: call off
    /// the async workers). Signatures are checked and payloads opened on
    /// every core before the store lock (urgent messages go to it first);
    /// the transaction then only stores, and what it queued goes out after
    /// the commit. With `reply` (the sender's `peering::REPLY_QUERY`) the
    /// `batch_ack` for `peer` is returned, to be answered in the response
    /// body, instead of queued.
    pub fn take_in_peer_message(
        &self,
        peer: &str,
        bytes: &[u8],
        reply: bool,
    ) -> NodeResult<Option<Vec<u8>>> {
        let prepared = self.federation.prepare(self, bytes);
        let _turn = self.federation.turns.wait(prepared.is_urgent());
        let ((), ack) = self.federation.commit_then(
            &self.store,
            |tx, out| {
                self.federation
                    .receive_prepared(self, tx, out, peer, bytes, prepared)
            },
            |sent| {
                let i = sent.iter().position(|t| {
                    reply
                        && t.to.as_str() == peer
                        && matches!(t.message, tansiq_sync::Message::BatchAck { .. })
                })?;
                Some(sent.remove(i).message.encode())
            },
        )?;
        Ok(ack)
    }

    /// Runs the engine's timers: retries, summaries, fetches.
    pub fn poll_peers(&self) -> NodeResult<()> {
        self.federation
            .commit(&self.store, |tx, out| self.federation.poll(self, tx, out))
    }

    /// A transmit could not be delivered: the engine retries it later.
    pub fn transmit_failed(&self, t: &tansiq_sync::Transmit) -> NodeResult<()> {
        self.federation.commit(&self.store, |tx, out| {
            self.federation.failed(self, tx, out, t)
        })
    }

    /// Seals and sends `payload` as it is to `recipients` in `channel`,
    /// past every rule of the services (which check before they call the
    /// federation), under the envelope kind `kind` (an honest node uses
    /// `payload.kind()`). Only tests and fuzzers use it, to play a partner
    /// that signs whatever its own keys allow: the receivers' checks are
    /// what stop it.
    #[doc(hidden)]
    pub fn send_unchecked_as(
        &self,
        channel: &str,
        kind: &str,
        precedence: tansiq_sync::Precedence,
        recipients: Vec<String>,
        relays: Vec<String>,
        payload: &Payload,
    ) -> NodeResult<()> {
        self.federation.commit(&self.store, |tx, out| {
            self.federation.submit_as(
                self, tx, out, channel, kind, precedence, recipients, relays, payload,
            )
        })
    }

    /// [`Node::send_unchecked_as`] under the payload's own kind.
    #[doc(hidden)]
    pub fn send_unchecked(
        &self,
        channel: &str,
        precedence: tansiq_sync::Precedence,
        recipients: Vec<String>,
        relays: Vec<String>,
        payload: &Payload,
    ) -> NodeResult<()> {
        self.send_unchecked_as(
            channel,
            payload.kind(),
            precedence,
            recipients,
            relays,
            payload,
        )
    }
}
