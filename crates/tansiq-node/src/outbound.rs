//! What a local change sends: records to the other members of their
//! channel, charters to each other member over the pairwise control
//! channel.

use tansiq_core::charter::{ChannelState, SignedCharter};
use tansiq_core::record::SignedRecord;
use tansiq_core::release::SignedRelease;
use tansiq_store::Tx;
use tansiq_sync::Precedence;

use crate::channels::load_channel;
use crate::error::NodeResult;
use crate::federation::{control_channel, Outbox, Payload, Submission};
use crate::node::Node;

impl Node {
    /// Seals `payload` to the members of an active channel and queues it
    /// for each other member, in the caller's transaction. Nothing to do
    /// for a channel of one.
    pub(crate) fn distribute(
        &self,
        tx: &mut Tx,
        channel: &str,
        payload: &Payload,
        precedence: Precedence,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let st = load_channel(tx, channel)?;
        let Some(active) = &st.active else {
            return Ok(());
        };
        let c = &active.charter;
        if c.members.len() < 2 {
            return Ok(());
        }
        self.federation.submit(
            self,
            tx,
            out,
            channel,
            precedence,
            c.members.clone(),
            c.relays.clone(),
            payload,
        )?;
        Ok(())
    }

    /// Sends a record version to the other members of `channel`.
    pub(crate) fn distribute_record(
        &self,
        tx: &mut Tx,
        channel: &str,
        record: &SignedRecord,
        release: Option<&SignedRelease>,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let st = load_channel(tx, channel)?;
        if st
            .active
            .as_ref()
            .is_none_or(|a| a.charter.members.len() < 2)
        {
            return Ok(());
        }
        let payload = Payload::Record {
            record: record.clone(),
            release: release.cloned(),
        };
        self.distribute(tx, channel, &payload, Precedence::Routine, out)
    }

    /// Sends many record payloads (`Payload::Record`), each to the other
    /// members of its record's channel, in one engine pass
    /// ([`crate::federation::Federation::submit_many`]). `states`: the
    /// channels as the caller read them in this transaction.
    pub(crate) fn distribute_records(
        &self,
        tx: &mut Tx,
        payloads: &[Payload],
        states: &std::collections::HashMap<String, ChannelState>,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let mut charters: std::collections::HashMap<String, (Vec<String>, Vec<String>)> =
            Default::default();
        let mut items = Vec::with_capacity(payloads.len());
        let mut records = Vec::with_capacity(payloads.len());
        for p in payloads {
            let Payload::Record { record, .. } = p else {
                continue;
            };
            let ch = record.body.channel.as_str();
            if !charters.contains_key(ch) {
                let read;
                let st = match states.get(ch) {
                    Some(st) => st,
                    None => {
                        read = load_channel(tx, ch)?;
                        &read
                    }
                };
                let mr = st
                    .active
                    .as_ref()
                    .filter(|a| a.charter.members.len() >= 2)
                    .map(|a| (a.charter.members.clone(), a.charter.relays.clone()))
                    .unwrap_or_default();
                charters.insert(ch.to_string(), mr);
            }
            records.push((ch, p, record.body.id.as_str()));
        }
        for (ch, p, _) in &records {
            let (members, relays) = &charters[*ch];
            if members.len() >= 2 {
                items.push(Submission {
                    channel: ch,
                    precedence: Precedence::Routine,
                    recipients: members,
                    relays,
                    payload: p,
                });
            }
        }
        let sent: Vec<&str> = records
            .iter()
            .filter(|(ch, _, _)| charters[*ch].0.len() >= 2)
            .map(|(_, _, id)| *id)
            .collect();
        let ids = self.federation.submit_many(self, tx, out, &items)?;
        for (record, env) in sent.iter().zip(&ids) {
            // So a retraction can purge every sealed copy of the record
            // (one kept under a restore hold is recorded when it is sent).
            if let Some(env) = env {
                tx.put_record_envelope(record, &env.0)?;
            }
        }
        Ok(())
    }

    /// Sends a payload to one peer over the pairwise control channel.
    pub(crate) fn send_control(
        &self,
        tx: &mut Tx,
        to: &str,
        payload: &Payload,
        precedence: Precedence,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        self.federation.submit(
            self,
            tx,
            out,
            &control_channel(self.id(), to),
            precedence,
            vec![self.id().to_string(), to.to_string()],
            vec![],
            payload,
        )?;
        Ok(())
    }

    /// Sends a charter (with the signatures this node holds) to every
    /// other member.
    pub(crate) fn send_charter(
        &self,
        tx: &mut Tx,
        charter: &SignedCharter,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let payload = Payload::Charter {
            charter: charter.clone(),
        };
        for m in charter.charter.members.iter().filter(|m| *m != self.id()) {
            self.send_control(tx, m, &payload, Precedence::Immediate, out)?;
        }
        Ok(())
    }
}
