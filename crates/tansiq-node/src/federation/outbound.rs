//! What a local change sends: records to the other members of their
//! channel, charters to each other member over the pairwise control
//! channel.

use tansiq_core::charter::SignedCharter;
use tansiq_core::record::SignedRecord;
use tansiq_core::release::SignedRelease;
use tansiq_store::Tx;
use tansiq_sync::{Precedence, Transmit};

use super::{control_channel, Payload};
use crate::error::NodeResult;
use crate::node::Node;
use crate::records::load_channel;

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
        out: &mut Vec<Transmit>,
    ) -> NodeResult<()> {
        let st = load_channel(tx, channel)?;
        let Some(active) = &st.active else {
            return Ok(());
        };
        let c = &active.charter;
        if c.members.len() < 2 {
            return Ok(());
        }
        out.extend(self.federation.submit(
            self,
            tx,
            channel,
            payload.kind(),
            precedence,
            c.members.clone(),
            c.relays.clone(),
            payload,
        )?);
        Ok(())
    }

    /// Sends a record version to the other members of `channel`.
    pub(crate) fn distribute_record(
        &self,
        tx: &mut Tx,
        channel: &str,
        record: &SignedRecord,
        release: Option<&SignedRelease>,
        out: &mut Vec<Transmit>,
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

    /// Sends a payload to one peer over the pairwise control channel.
    pub(crate) fn send_control(
        &self,
        tx: &mut Tx,
        to: &str,
        payload: &Payload,
        precedence: Precedence,
        out: &mut Vec<Transmit>,
    ) -> NodeResult<()> {
        out.extend(self.federation.submit(
            self,
            tx,
            &control_channel(self.id(), to),
            payload.kind(),
            precedence,
            vec![self.id().to_string(), to.to_string()],
            vec![],
            payload,
        )?);
        Ok(())
    }

    /// Sends a charter (with the signatures this node holds) to every
    /// other member.
    pub(crate) fn send_charter(
        &self,
        tx: &mut Tx,
        charter: &SignedCharter,
        out: &mut Vec<Transmit>,
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
