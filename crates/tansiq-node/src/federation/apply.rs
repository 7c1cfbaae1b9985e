//! Applying the engine's effects to the store, and delivering what
//! arrives to the application (records, charters) — in the caller's
//! transaction.

use serde_json::json;

use tansiq_core::charter::ChannelEvent;
use tansiq_core::policy::{self, ReadScope, ShareSource};
use tansiq_core::record::{Kind, LinkType};
use tansiq_store::{AlarmRow, EnvelopeRow, OutboxRow as SqlOutbox, StreamRow as SqlStream, Tx};
use tansiq_sync::{
    Alarm, Body, Effect, Envelope, EnvelopeHeader, EnvelopeId, OutboxRow, Output, Precedence,
    StreamRow,
};

use super::prepare::{Prepared, RecordCheck};
use super::{channel_id, node_id, payload, sync_err, Payload};
use crate::card::KeyBook;
use crate::error::{NodeError, NodeResult};
use crate::node::Node;
use crate::records::search_names;

fn prec_str(p: Precedence) -> &'static str {
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
        _ => return Err(NodeError::Internal(format!("stored precedence {s:?}"))),
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
    let header: EnvelopeHeader = serde_json::from_slice(&r.header).map_err(sync_err)?;
    let body = match &r.body {
        Some(b) => Body::Sealed(b.clone()),
        None => Body::Omitted(r.body_hash),
    };
    let sig: [u8; 64] = r
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| sync_err("stored signature length"))?;
    let env = Envelope::new(header, body, |_| sig).map_err(sync_err)?;
    if env.id().0 != r.id {
        return Err(sync_err("stored envelope does not hash to its id"));
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

/// Applies one output's effects, in order. `keys` are the signing keys of
/// this node and its peers as this transaction sees them; `prepared`, what
/// was checked and opened before the transaction.
/// An originator's new version of a record this node shared onward (under
/// a release or a follow-up grant): it must follow to `channel`. Sent once
/// the engine is free, in the same transaction.
pub(crate) struct Forward {
    pub record: tansiq_core::record::SignedRecord,
    pub channel: String,
}

/// What delivering one output's envelopes collects and remembers: the
/// versions to forward afterwards, and the charters read (a batch of
/// records in one channel parses its state once).
#[derive(Default)]
pub(crate) struct Delivery {
    pub forwards: Vec<Forward>,
    charters: std::collections::HashMap<String, Option<PostTerms>>,
}

/// What a channel allows a post by (active, members, files).
type PostTerms = (bool, Vec<String>, Vec<String>);

impl Delivery {
    /// Whether `sender` may post in `file` of `channel` as this node holds
    /// the channel (active, a member, the file carried): the same
    /// membership rule a node applies to its own posts.
    fn may_post(
        &mut self,
        tx: &mut Tx,
        sender: &str,
        channel: &str,
        file: &str,
    ) -> Result<(), Outcome> {
        if !self.charters.contains_key(channel) {
            let st = crate::channels::load_channel(tx, channel).ok();
            let c = st.and_then(|st| {
                let active = st.active.is_some();
                st.charter()
                    .map(|c| (active, c.members.clone(), c.files.clone()))
            });
            self.charters.insert(channel.to_string(), c);
        }
        match &self.charters[channel] {
            Some((active, members, files)) => {
                policy::may_post(sender, members, *active, files, file, channel)
                    .map_err(|r| Outcome::Hostile(r.to_string()))
            }
            None => Err(Outcome::Reject(format!("no channel {channel} here"))),
        }
    }
}

pub(crate) fn apply(
    node: &Node,
    tx: &mut Tx,
    out: &Output,
    keys: &KeyBook,
    prepared: Option<&Prepared>,
    cx: &mut Delivery,
) -> NodeResult<()> {
    // A delivery worker claims the rows it queues (its engine sends them);
    // a process that does not deliver (the CLI) leaves them free and
    // wakes the workers.
    let claim = node.federation.claim_for_new_rows();
    let mut free_rows = false;
    for e in &out.effects {
        match e {
            Effect::Store { envelope, custody } => {
                tx.sync_put_envelope(&row_from_envelope(envelope, *custody))?
            }
            Effect::Forget { id } => tx.sync_forget_envelope(&id.0)?,
            Effect::Purge { id } => tx.sync_purge_envelope(&id.0)?,
            Effect::Deliver { envelope, from } => {
                deliver(node, tx, envelope, from.as_str(), keys, prepared, cx)?
            }
            Effect::Stream(s) => tx.sync_put_stream(&SqlStream {
                channel: s.channel.as_str().to_string(),
                originator: s.originator.as_str().to_string(),
                seq: s.seq,
                last: Some(s.last.0),
            })?,
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
                node.audit(tx, "node", "sync.alarm", &row.id, json!({"kind": kind}))?;
            }
        }
    }
    if free_rows {
        tx.notify_work()?;
    }
    Ok(())
}

/// Why an arrived envelope's content was not taken in (recorded in the
/// audit log; the envelope itself stays stored so it is neither fetched
/// nor delivered again).
enum Outcome {
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

impl From<tansiq_store::StoreError> for Outcome {
    fn from(e: tansiq_store::StoreError) -> Self {
        Outcome::Fail(e.into())
    }
}

fn deliver(
    node: &Node,
    tx: &mut Tx,
    env: &Envelope,
    from: &str,
    keys: &KeyBook,
    prepared: Option<&Prepared>,
    cx: &mut Delivery,
) -> NodeResult<()> {
    let h = env.header();
    let (opened, check) = match prepared.and_then(|p| p.take_opened(env)) {
        Some(o) => o,
        None => (
            payload::open(
                env,
                node.id(),
                &node.identities(),
                Some(&node.federation.epochs),
            ),
            None,
        ),
    };
    let result = match opened {
        Ok(p) => take_in(node, tx, env, p, keys, check, cx),
        Err(reason) => Err(Outcome::Reject(reason)),
    };
    match result {
        Ok(()) => Ok(()),
        Err(Outcome::Fail(e)) => Err(e),
        Err(Outcome::Hostile(reason)) => {
            reject(node, tx, env, from, &reason)?;
            let row = AlarmRow {
                id: tansiq_core::ids::new_id("alm_"),
                kind: "hostile".into(),
                detail: json!({"envelope": env.id().to_hex(), "sender": h.originator.as_str(), "from": from, "reason": reason}).to_string(),
                created_at: tansiq_core::time::format(&tansiq_core::time::now()),
            };
            tx.sync_add_alarm(&row)?;
            node.audit(
                tx,
                "node",
                "sync.alarm",
                &row.id,
                json!({"kind": "hostile", "envelope": env.id().to_hex(), "sender": h.originator.as_str()}),
            )?;
            Ok(())
        }
        Err(Outcome::Reject(reason)) => reject(node, tx, env, from, &reason),
    }
}

/// Records a rejected envelope in the audit log, and drops its sealed
/// body: this node could open it, and what it refused must not stay on its
/// disk. Its id and hash stay, so it is neither fetched nor delivered again.
fn reject(node: &Node, tx: &mut Tx, env: &Envelope, from: &str, reason: &str) -> NodeResult<()> {
    let h = env.header();
    tx.sync_purge_envelope(&env.id().0)?;
    tracing::warn!(envelope = %env.id().to_hex(), from, %reason, "envelope content rejected");
    node.audit(
        tx,
        &format!("node:{}", h.originator.as_str()),
        "envelope.reject",
        &env.id().to_hex(),
        json!({"envelope": env.id().to_hex(), "channel": h.channel.as_str(), "originator": h.originator.as_str(), "from": from, "reason": reason}),
    )?;
    Ok(())
}

/// Takes in an opened payload. `check`, if given, is the record payload's
/// signature check, hash and names computed before the transaction.
fn take_in(
    node: &Node,
    tx: &mut Tx,
    env: &Envelope,
    p: Payload,
    keys: &KeyBook,
    check: Option<RecordCheck>,
    cx: &mut Delivery,
) -> Result<(), Outcome> {
    let h = env.header();
    let sender = h.originator.as_str();
    let channel = h.channel.as_str();
    match p {
        Payload::Charter { charter } => {
            // A member of the new version, or of the version in force here
            // (a removal notice). Whether the version may replace the one
            // in force is the charter rule's to say, in `apply_channel_event`.
            let before = match tx.channel(&charter.charter.id)? {
                Some(_) => Some(crate::channels::load_channel(tx, &charter.charter.id)?),
                None => None,
            };
            let member_now = before
                .as_ref()
                .is_some_and(|st| st.basis(node.id()).is_some());
            if !charter.charter.is_member(node.id()) && !member_now {
                return Err(Outcome::Reject(
                    "a charter this node is not a member of".into(),
                ));
            }
            if !charter.signatures.contains_key(sender) {
                return Err(Outcome::Reject(
                    "the sender did not sign the charter it sent".into(),
                ));
            }
            if let Some(why) = node.charter_hostile(tx, &charter)? {
                return Err(Outcome::Hostile(format!("charter: {why}")));
            }
            let id = charter.charter.id.clone();
            // Later envelopes of this output see the channel as it becomes.
            cx.charters.remove(&id);
            let version = charter.charter.version;
            match node.apply_channel_event(tx, &id, ChannelEvent::Proposed(charter)) {
                Ok(st) => {
                    let removed = member_now && st.basis(node.id()).is_none();
                    let status = match &st.active {
                        Some(a) if !a.charter.is_member(node.id()) => "removed",
                        _ => st.status().as_str(),
                    };
                    node.audit(
                        tx,
                        &format!("node:{sender}"),
                        "channel.receive",
                        &id,
                        json!({"id": id, "version": version, "from": sender, "status": status}),
                    )?;
                    if removed {
                        node.audit(
                            tx,
                            &format!("node:{sender}"),
                            "channel.removed",
                            &id,
                            json!({"id": id, "version": version}),
                        )?;
                    }
                    Ok(())
                }
                Err(NodeError::BadInput(m)) => Err(Outcome::Reject(format!("charter: {m}"))),
                Err(e) => Err(Outcome::Fail(e)),
            }
        }
        Payload::Message {
            id,
            channel: ch,
            file,
            precedence,
            text,
            sent_at,
            ack_required,
        } => {
            if ch != channel {
                return Err(Outcome::Reject(
                    "message names another channel than its envelope".into(),
                ));
            }
            tansiq_core::ids::check_id("message id", &id).map_err(|e| Outcome::Reject(e.0))?;
            crate::messages::check_received(file.as_deref(), &precedence, &text, &sent_at)
                .map_err(Outcome::Reject)?;
            if let Some(f) = &file {
                cx.may_post(tx, sender, channel, f)?;
            }
            let row = tansiq_store::MessageRow {
                id: id.clone(),
                direction: "in".into(),
                channel: ch,
                file,
                sender: sender.to_string(),
                precedence,
                text,
                sent_at,
                received_at: Some(tansiq_core::time::format(&tansiq_core::time::now())),
                ack_required,
                acked_at: None,
            };
            if tx.put_message(&row)? {
                node.audit(
                    tx,
                    &format!("node:{sender}"),
                    "message.receive",
                    &id,
                    json!({"id": id, "channel": channel, "precedence": row.precedence}),
                )?;
            }
            Ok(())
        }
        Payload::Ack { message, at } => match tx.message(&message)? {
            // Only a recipient acknowledges: a member of the message's
            // channel (acks travel over the pairwise control channel).
            Some(m)
                if m.direction == "out"
                    && !crate::channels::load_channel(tx, &m.channel)
                        .ok()
                        .and_then(|st| st.charter().map(|c| c.is_member(sender)))
                        .unwrap_or(false) =>
            {
                Err(Outcome::Hostile(format!(
                    "acknowledgement of message {message} by a node it was not sent to"
                )))
            }
            Some(m) if m.direction == "out" => {
                tx.put_message_ack(&message, sender, &at)?;
                node.audit(
                    tx,
                    &format!("node:{sender}"),
                    "message.acked",
                    &message,
                    json!({"id": message, "by": sender}),
                )?;
                Ok(())
            }
            _ => Err(Outcome::Reject(
                "acknowledgement of a message this node did not send".into(),
            )),
        },
        Payload::Checkpoint {
            note,
            old_size,
            proof,
        } => super::witness::take_checkpoint(node, tx, sender, &note, old_size, &proof).map_err(
            |e| match e {
                NodeError::BadInput(m) => Outcome::Reject(m),
                e => Outcome::Fail(e),
            },
        ),
        Payload::Cosignature { size, line } => {
            super::witness::take_cosignature(node, tx, sender, size, &line).map_err(|e| match e {
                NodeError::BadInput(m) => Outcome::Reject(m),
                e => Outcome::Fail(e),
            })
        }
        Payload::HitRequest {
            id,
            reference,
            channel,
        } => node
            .take_hit_request(tx, sender, &id, &reference, &channel)
            .map_err(|e| match e {
                NodeError::BadInput(m) => Outcome::Reject(m),
                e => Outcome::Fail(e),
            }),
        Payload::HitDecision {
            request,
            granted,
            record: _,
            reason,
        } => node
            .take_hit_decision(tx, sender, &request, granted, reason)
            .map_err(|e| match e {
                NodeError::BadInput(m) => Outcome::Reject(m),
                e => Outcome::Fail(e),
            }),
        Payload::ReleaseRequest {
            id,
            record,
            target_channel,
            target_members,
            reason,
        } => {
            tansiq_core::ids::check_id("request id", &id).map_err(|e| Outcome::Reject(e.0))?;
            // Only the originator is asked, and only about its own records.
            match tx.record(&record, &ReadScope::everything())? {
                Some(r) if r.originator == node.id() => {}
                _ => {
                    return Err(Outcome::Reject(format!(
                        "release request for a record this node did not originate ({record})"
                    )))
                }
            }
            let row = tansiq_store::ReleaseRow {
                id: id.clone(),
                record_id: record.clone(),
                requester: sender.to_string(),
                originator: node.id().to_string(),
                target_channel,
                target_members,
                status: "pending".into(),
                reason: reason.map(crate::releases::received_reason),
                signed: None,
                created_at: tansiq_core::time::format(&tansiq_core::time::now()),
                decided_at: None,
            };
            if tx.release(&id)?.is_none() {
                tx.put_release(&row)?;
                node.audit(
                    tx,
                    &format!("node:{sender}"),
                    "release.requested",
                    &id,
                    json!({"id": id, "record": record, "requester": sender}),
                )?;
            }
            Ok(())
        }
        Payload::ReleaseDecision {
            request,
            release,
            refusal,
        } => {
            let now = tansiq_core::time::format(&tansiq_core::time::now());
            match (release, refusal) {
                (Some(signed), None) => {
                    let rel = &signed.release;
                    if rel.originator != sender {
                        return Err(Outcome::Reject(
                            "a release signed for another originator".into(),
                        ));
                    }
                    // Only a record's owner releases it.
                    if tansiq_core::ids::record_id_owner(&rel.record) != Some(sender) {
                        return Err(Outcome::Hostile(format!(
                            "a release of record {} by {sender}, which does not own it",
                            rel.record
                        )));
                    }
                    if !keys.contains_key(sender) {
                        return Err(Outcome::Reject("unknown originator".into()));
                    }
                    // Under the key the originator had when it granted it.
                    let ks = keys.keys_at_time(sender, &rel.granted);
                    if !ks.iter().any(|k| signed.verify(k).is_ok()) {
                        return Err(Outcome::Reject(
                            "the release's signature does not verify".into(),
                        ));
                    }
                    let id = request.clone().unwrap_or_else(|| {
                        tansiq_core::ids::new_id(tansiq_core::ids::REQUEST_PREFIX)
                    });
                    let mut row = tx.release(&id)?.unwrap_or(tansiq_store::ReleaseRow {
                        id: id.clone(),
                        record_id: rel.record.clone(),
                        requester: node.id().to_string(),
                        originator: sender.to_string(),
                        target_channel: rel.target_channel.clone(),
                        target_members: rel.target_members.clone(),
                        status: "pending".into(),
                        reason: None,
                        signed: None,
                        created_at: now.clone(),
                        decided_at: None,
                    });
                    row.status = "granted".into();
                    row.target_members = rel.target_members.clone();
                    row.signed = Some(
                        serde_json::to_string(&signed)
                            .map_err(|e| Outcome::Fail(NodeError::Internal(e.to_string())))?,
                    );
                    row.decided_at = Some(now);
                    tx.put_release(&row)?;
                    node.audit(tx, &format!("node:{sender}"), "release.granted", &id, json!({"id": id, "record": rel.record, "target_channel": rel.target_channel}))?;
                    Ok(())
                }
                (None, Some(reason)) => {
                    let Some(id) = request else {
                        return Err(Outcome::Reject("a refusal must answer a request".into()));
                    };
                    let Some(mut row) = tx.release(&id)? else {
                        return Err(Outcome::Reject("refusal of an unknown request".into()));
                    };
                    if row.originator != sender {
                        return Err(Outcome::Reject(
                            "refusal from a node that was not asked".into(),
                        ));
                    }
                    row.status = "refused".into();
                    row.reason = Some(crate::releases::received_reason(reason));
                    row.decided_at = Some(now);
                    tx.put_release(&row)?;
                    node.audit(
                        tx,
                        &format!("node:{sender}"),
                        "release.refused",
                        &id,
                        json!({"id": id}),
                    )?;
                    Ok(())
                }
                _ => Err(Outcome::Reject(
                    "a release decision carries a release or a refusal".into(),
                )),
            }
        }
        Payload::Record { record, release } => {
            let b = &record.body;
            // A record id belongs to its originator for ever: a version or
            // tombstone of an id signed by anyone else is a forgery,
            // whoever relays it.
            if tansiq_core::ids::record_id_owner(&b.id) != Some(b.originator.as_str()) {
                return Err(Outcome::Hostile(format!(
                    "record {} signed by {}, which does not own it",
                    b.id, b.originator
                )));
            }
            // Placed, like any post, only in an active channel of the
            // sender, in one of its files (a partner cannot put a record
            // into a file the channel does not carry, where other users
            // would see it). A tombstone carries nothing to see, and a
            // retraction must reach every holder whatever became of the
            // channel's terms since.
            if !b.retracted {
                cx.may_post(tx, sender, channel, &b.file)?;
            }
            // Validated before the transaction when prepared (the same body:
            // the envelope id binds it).
            match check.as_ref().map(|c| &c.valid) {
                Some(v) => v.clone(),
                None => b.validate().map_err(|e| e.to_string()),
            }
            .map_err(|e| Outcome::Reject(format!("record: {e}")))?;
            if !keys.contains_key(&b.originator) {
                return Err(Outcome::Reject(format!(
                    "record originator {} is not a known peer",
                    b.originator
                )));
            }
            // The keys the originator had when it signed this version (its
            // current one unless it rotated since).
            let okeys = keys.keys_at_time(&b.originator, &b.created);
            // Verified before the transaction with one of these keys, or now.
            let check = check.filter(|c| okeys.contains(&c.key));
            let okey = match &check {
                Some(c) => c.key,
                None => {
                    let mut found = None;
                    let mut why = "no key of the originator for its date".to_string();
                    for k in &okeys {
                        match record.verify(k) {
                            Ok(()) => {
                                found = Some(*k);
                                break;
                            }
                            Err(e) => why = e.0,
                        }
                    }
                    found.ok_or(Outcome::Reject(why))?
                }
            };
            let okey = &okey;
            let target: Vec<String> = h
                .recipients
                .iter()
                .map(|r| r.as_str().to_string())
                .collect();
            if sender != b.originator {
                // A holder passes on another node's record: the third-party
                // rule, decided by the policy module, with the originator's
                // signed release if any.
                let rel = match &release {
                    Some(r) => {
                        r.verify(okey)
                            .map_err(|e| Outcome::Reject(format!("release: {e}")))?;
                        Some(r.release.clone())
                    }
                    None => None,
                };
                let src = ShareSource {
                    id: &b.id,
                    originator: &b.originator,
                    home_channel: &b.channel,
                    home_members: &b.members,
                    tlp: b.handling.tlp,
                    code: b.handling.code,
                    release: rel.as_ref(),
                };
                if let Err(refusal) = policy::may_share(sender, &[src], channel, &target) {
                    return Err(Outcome::Reject(refusal.to_string()));
                }
            } else if b.links.iter().any(|l| l.rel == LinkType::DerivedFrom) {
                // A record its sender made from others' records: the sender
                // checked the rule against them; this node checks again
                // against the sources it holds (a modified sender could skip
                // its check, though not drop a link it signed).
                match node.check_derived(tx, sender, &b.links, channel, &target) {
                    Ok(()) => {}
                    Err(NodeError::Refused(r)) => return Err(Outcome::Reject(r.to_string())),
                    Err(e) => return Err(Outcome::Fail(e)),
                }
            }
            let everything = ReadScope::everything();
            let held = tx.record(&b.id, &everything)?;
            if let Some(cur) = &held {
                // Ids made before they named their owner: the owner is the
                // one stored first.
                if cur.originator != b.originator {
                    return Err(Outcome::Hostile(format!(
                        "record {} belongs to {}, not to {}",
                        b.id, cur.originator, b.originator
                    )));
                }
            }
            tx.put_record_envelope(&b.id, &env.id().0)?;
            if b.retracted {
                // Every other sealed copy of the record held here goes too:
                // this node could otherwise still open them.
                for other in tx.record_envelopes(&b.id)? {
                    if other != env.id().0 {
                        tx.sync_purge_envelope(&other)?;
                    }
                }
            }
            if let Some(cur) = held {
                if cur.version >= b.version {
                    // Already hold this version or a later one: placement only.
                    tx.add_placement(&b.id, channel, "received")?;
                    return Ok(());
                }
            }
            let (hash, names) = match check {
                Some(c) => (c.hash, c.names),
                None => (record.content_hash(), search_names(&b.data)),
            };
            tx.put_record_hashed(&record, &hash, &names)?;
            tx.add_placement(&b.id, channel, "received")?;
            // The originator's correction or retraction follows every copy
            // this node shared onward (signed by the originator: the
            // forwarding holder is trusted for nothing).
            // (A first version cannot have been shared onward yet.)
            let onward = if b.version > 1 {
                tx.shared_placements(&b.id)?
            } else {
                Vec::new()
            };
            for ch in onward {
                if ch != channel {
                    cx.forwards.push(Forward {
                        record: record.clone(),
                        channel: ch,
                    });
                }
            }
            node.audit(
                tx,
                &format!("node:{sender}"),
                "record.receive",
                &b.id,
                json!({"id": b.id, "version": b.version, "hash": hex::encode(hash), "from": sender, "channel": channel}),
            )?;
            if b.kind == Kind::Person && !b.retracted && b.data.get("listing").is_some() {
                node.screen_new_entries(tx, std::slice::from_ref(&b.id))?;
            }
            Ok(())
        }
    }
}
