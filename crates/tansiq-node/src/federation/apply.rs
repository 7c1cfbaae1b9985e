//! Applying the engine's effects to the store, and delivering what
//! arrives: each envelope's payload opened and handed to
//! [`Context::deliver`] (the node's dispatcher, `inbound.rs`), a refusal
//! audited as `envelope.reject` — in the caller's transaction.

use serde_json::json;

use tansiq_store::{AlarmRow, EnvelopeRow, OutboxRow as SqlOutbox, StreamRow as SqlStream, Tx};
use tansiq_sync::{
    Alarm, Body, Effect, Envelope, EnvelopeHeader, EnvelopeId, OutboxRow, Output, Precedence,
    StreamRow,
};

use super::payload::{self, EpochKeys};
use super::prepare::Prepared;
use super::{channel_id, node_id, Context};
use crate::card::KeyBook;
use crate::error::{NodeError, NodeResult};

pub(super) fn prec_str(p: Precedence) -> &'static str {
    match p {
        Precedence::Flash => "flash",
        Precedence::Immediate => "immediate",
        Precedence::Priority => "priority",
        Precedence::Routine => "routine",
    }
}

fn prec_parse(s: &str) -> NodeResult<Precedence> {
    Ok(match s {
        "flash" => Precedence::Flash,
        "immediate" => Precedence::Immediate,
        "priority" => Precedence::Priority,
        "routine" => Precedence::Routine,
        _ => return Err(NodeError::corrupt("stored precedence", format!("{s:?}"))),
    })
}

pub(crate) fn row_from_envelope(e: &Envelope, custody: bool) -> EnvelopeRow {
    let h = e.header();
    EnvelopeRow {
        id: e.id().0,
        channel: h.channel.as_str().to_string(),
        originator: h.originator.as_str().to_string(),
        seq: h.seq,
        custody,
        header: e.header_bytes().to_vec(),
        body: match e.body() {
            Body::Sealed(b) => Some(b.clone()),
            Body::Omitted(_) => None,
        },
        body_hash: e.body_hash(),
        sig: e.sig().to_vec(),
        precedence: prec_str(h.precedence).to_string(),
        created_ms: h.created_ms as i64,
    }
}

pub(crate) fn envelope_from_row(r: &EnvelopeRow) -> NodeResult<Envelope> {
    let header: EnvelopeHeader = serde_json::from_slice(&r.header)
        .map_err(|e| NodeError::corrupt("stored envelope header", e))?;
    let body = match &r.body {
        Some(b) => Body::Sealed(b.clone()),
        None => Body::Omitted(r.body_hash),
    };
    let sig: [u8; 64] = r
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| NodeError::corrupt("stored envelope", "signature length"))?;
    let env = Envelope::new(header, body, |_| sig)
        .map_err(|e| NodeError::corrupt("stored envelope", e))?;
    if env.id().0 != r.id {
        return Err(NodeError::corrupt(
            "stored envelope",
            "does not hash to its id",
        ));
    }
    Ok(env)
}

pub(crate) fn stream_from_row(r: SqlStream) -> NodeResult<StreamRow> {
    Ok(StreamRow {
        channel: channel_id(&r.channel)?,
        originator: node_id(&r.originator)?,
        seq: r.seq,
        last: EnvelopeId(r.last.unwrap_or([0; 32])),
    })
}

pub(crate) fn outbox_from_row(r: SqlOutbox) -> NodeResult<OutboxRow> {
    Ok(OutboxRow {
        to: node_id(&r.to_node)?,
        id: EnvelopeId(r.id),
        channel: channel_id(&r.channel)?,
        originator: node_id(&r.originator)?,
        seq: r.seq,
        precedence: prec_parse(&r.precedence)?,
        order: r.ord.max(0) as u64,
        size: r.size,
        relays: r
            .relays
            .iter()
            .map(|x| node_id(x))
            .collect::<NodeResult<_>>()?,
        reply_to: r.reply_to.as_deref().map(node_id).transpose()?,
    })
}

/// Applies one output's effects, in order. `claim`: the claim rows it
/// queues get (a delivery worker claims the rows it queues, as its engine
/// sends them; a process that does not deliver, the CLI, leaves them free
/// and wakes the workers). `keys` are the signing keys of this node and
/// its peers as this transaction sees them; `prepared`, what was checked
/// and opened before the transaction. `fault(i)`: the simulation's fault
/// point, a store error before effect `i` (always false outside it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<C: Context>(
    cx: &C,
    epochs: &EpochKeys,
    claim: Option<(String, i64)>,
    tx: &mut Tx,
    out: &Output,
    keys: &KeyBook,
    prepared: Option<&Prepared>,
    batch: &mut C::Batch,
    fault: &dyn Fn(usize) -> bool,
) -> NodeResult<()> {
    let mut free_rows = false;
    // Envelopes to store, written together (one multi-row upsert) before
    // the next effect that touches or reads envelopes; the stream, outbox
    // and link rows between them are other tables.
    let mut stores: Vec<tansiq_store::EnvelopeRow> = Vec::new();
    // A stream's row as of the last `Stream` effect so far: each effect
    // replaces the whole row, so only the last before the next other
    // effect needs writing.
    let mut streams: Vec<SqlStream> = Vec::new();
    for (i, e) in out.effects.iter().enumerate() {
        if fault(i) {
            return Err(NodeError::internal(format!(
                "injected store error at effect {i} of {}",
                out.effects.len()
            )));
        }
        if !matches!(
            e,
            Effect::Store { .. }
                | Effect::Stream(_)
                | Effect::OutboxPut(_)
                | Effect::OutboxDone { .. }
        ) {
            if !stores.is_empty() {
                tx.sync_put_envelopes(&std::mem::take(&mut stores))?;
            }
            for s in streams.drain(..) {
                tx.sync_put_stream(&s)?;
            }
        }
        match e {
            Effect::Store { envelope, custody } => {
                let row = row_from_envelope(envelope, *custody);
                if stores.iter().any(|s| s.id == row.id) {
                    tx.sync_put_envelopes(&std::mem::take(&mut stores))?;
                }
                stores.push(row);
            }
            Effect::Forget { id } => tx.sync_forget_envelope(&id.0)?,
            Effect::Purge { id } => tx.sync_purge_envelope(&id.0)?,
            Effect::Deliver { envelope, from } => deliver(
                cx,
                epochs,
                tx,
                envelope,
                from.as_str(),
                keys,
                prepared,
                batch,
            )?,
            Effect::Stream(s) => {
                let row = SqlStream {
                    channel: s.channel.as_str().to_string(),
                    originator: s.originator.as_str().to_string(),
                    seq: s.seq,
                    last: Some(s.last.0),
                };
                match streams
                    .iter_mut()
                    .find(|p| p.channel == row.channel && p.originator == row.originator)
                {
                    Some(p) => *p = row,
                    None => streams.push(row),
                }
            }
            Effect::OutboxPut(o) => {
                free_rows |= claim.is_none();
                tx.sync_put_outbox_claimed(
                    &SqlOutbox {
                        to_node: o.to.as_str().to_string(),
                        id: o.id.0,
                        channel: o.channel.as_str().to_string(),
                        originator: o.originator.as_str().to_string(),
                        seq: o.seq,
                        precedence: prec_str(o.precedence).to_string(),
                        ord: o.order.min(i64::MAX as u64) as i64,
                        size: o.size,
                        relays: o.relays.iter().map(|r| r.as_str().to_string()).collect(),
                        reply_to: o.reply_to.as_ref().map(|r| r.as_str().to_string()),
                    },
                    claim.as_ref().map(|(w, until)| (w.as_str(), *until)),
                )?
            }
            Effect::OutboxDone { to, id } => tx.sync_outbox_done(to.as_str(), &id.0)?,
            Effect::Alarm(a) => {
                let (kind, detail) = match a {
                    Alarm::Fork { .. } => ("fork", format!("{a:?}")),
                    Alarm::Refused { .. } => ("refused", format!("{a:?}")),
                };
                let row = AlarmRow {
                    id: tansiq_core::ids::new_id("alm_"),
                    kind: kind.into(),
                    detail: json!({"detail": detail}).to_string(),
                    created_at: tansiq_core::time::format(&tansiq_core::time::now()),
                };
                tx.sync_add_alarm(&row)?;
                cx.audit(tx, "node", "sync.alarm", &row.id, json!({"kind": kind}))?;
            }
            Effect::HoldDone(h) => {
                if tx.sync_hold_done(h.channel.as_str(), h.partner.as_str())? {
                    cx.audit(
                        tx,
                        "node",
                        "sync.hold_cleared",
                        h.channel.as_str(),
                        json!({"partner": h.partner.as_str()}),
                    )?;
                }
            }
        }
    }
    if !stores.is_empty() {
        tx.sync_put_envelopes(&stores)?;
    }
    for s in streams {
        tx.sync_put_stream(&s)?;
    }
    if free_rows {
        tx.notify_work()?;
    }
    Ok(())
}

/// Why an arrived envelope's content was not taken in (recorded in the
/// audit log; the envelope itself stays stored so it is neither fetched
/// nor delivered again).
pub enum Outcome {
    Reject(String),
    /// Rejected, and a sign of a hostile or broken partner (a signed
    /// object no honest node makes): also raises an alarm that `sync
    /// status` shows.
    Hostile(String),
    Fail(NodeError),
}

impl From<NodeError> for Outcome {
    fn from(e: NodeError) -> Self {
        Outcome::Fail(e)
    }
}

impl Outcome {
    /// A service's error on received input: bad input rejects the
    /// envelope; anything else fails the transaction (retried later).
    pub fn of(e: NodeError) -> Outcome {
        match e {
            NodeError::BadInput(m) => Outcome::Reject(m),
            e => Outcome::Fail(e),
        }
    }
}

impl From<tansiq_store::StoreError> for Outcome {
    fn from(e: tansiq_store::StoreError) -> Self {
        Outcome::Fail(e.into())
    }
}

#[allow(clippy::too_many_arguments)]
fn deliver<C: Context>(
    cx: &C,
    epochs: &EpochKeys,
    tx: &mut Tx,
    env: &Envelope,
    from: &str,
    keys: &KeyBook,
    prepared: Option<&Prepared>,
    batch: &mut C::Batch,
) -> NodeResult<()> {
    let h = env.header();
    let (opened, check) = match prepared.and_then(|p| p.take_opened(env)) {
        Some(o) => o,
        None => (
            payload::open(env, cx.id(), &cx.identities(), Some(epochs)),
            None,
        ),
    };
    let result = match opened {
        Ok(p) => cx.deliver(tx, env, p, check, keys, batch),
        Err(reason) => Err(Outcome::Reject(reason)),
    };
    match result {
        Ok(()) => Ok(()),
        Err(Outcome::Fail(e)) => Err(e),
        Err(Outcome::Hostile(reason)) => {
            reject(cx, tx, env, from, &reason)?;
            let row = AlarmRow {
                id: tansiq_core::ids::new_id("alm_"),
                kind: "hostile".into(),
                detail: json!({"envelope": env.id().to_hex(), "sender": h.originator.as_str(), "from": from, "reason": reason}).to_string(),
                created_at: tansiq_core::time::format(&tansiq_core::time::now()),
            };
            tx.sync_add_alarm(&row)?;
            cx.audit(
                tx,
                "node",
                "sync.alarm",
                &row.id,
                json!({"kind": "hostile", "envelope": env.id().to_hex(), "sender": h.originator.as_str()}),
            )?;
            Ok(())
        }
        Err(Outcome::Reject(reason)) => reject(cx, tx, env, from, &reason),
    }
}

/// Records a rejected envelope in the audit log, and drops its sealed
/// body: this node could open it, and what it refused must not stay on its
/// disk. Its id and hash stay, so it is neither fetched nor delivered again.
fn reject<C: Context>(
    cx: &C,
    tx: &mut Tx,
    env: &Envelope,
    from: &str,
    reason: &str,
) -> NodeResult<()> {
    let h = env.header();
    tx.sync_purge_envelope(&env.id().0)?;
    tracing::warn!(envelope = %env.id().to_hex(), from, %reason, "envelope content rejected");
    cx.audit(
        tx,
        &format!("node:{}", h.originator.as_str()),
        "envelope.reject",
        &env.id().to_hex(),
        json!({"envelope": env.id().to_hex(), "channel": h.channel.as_str(), "originator": h.originator.as_str(), "from": from, "reason": reason}),
    )?;
    Ok(())
}
