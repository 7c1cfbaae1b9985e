//! Follow-up: the request for the record behind a hit, the holder's
//! grant (the record shared into a channel both belong to) or refusal,
//! and the receiving side of both.

use serde::Serialize;
use serde_json::json;

use tansiq_core::ids::{new_id, REQUEST_PREFIX};
use tansiq_core::policy::{self, Action, ReadScope, Refusal, Rule};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::{HitRequestRow, Tx};
use tansiq_sync::Precedence;

use super::wire::parse_reference;
use crate::channels::load_channel;
use crate::error::{NodeError, NodeResult};
use crate::federation::Payload;
use crate::node::Node;

/// What a follow-up request looks like to the CLI (`requests --json`).
#[derive(Debug, Clone, Serialize)]
pub struct HitRequestView {
    pub id: String,
    pub direction: String,
    pub peer: String,
    pub reference: String,
    pub status: String,
    pub channel: String,
    /// Holder side: the record the reference resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// Does the request name no record, or one a reader of `scope` may see?
/// The operator sees every request, even about a record no longer held.
fn names_visible(tx: &mut Tx, scope: &ReadScope, r: &HitRequestRow) -> NodeResult<bool> {
    Ok(match &r.record_id {
        Some(rec) if *scope != ReadScope::everything() => tx.record_visible(rec, scope)?,
        _ => true,
    })
}

impl Node {
    /// `request REF`: asks the holder for the record behind a hit. The
    /// record is to come through the smallest active channel both nodes
    /// belong to.
    pub fn hit_request(&self, actor: &Actor, reference: &str) -> NodeResult<String> {
        policy::authorize(actor, Action::RequestRelease)?;
        if parse_reference(reference).is_none() {
            return Err(NodeError::bad(format!(
                "{reference:?} is not a hit reference (PERIOD:HEX)"
            )));
        }
        let id = new_id(REQUEST_PREFIX);
        self.commit(|tx, out| {
            let peer = tx.hit_reference_peer(reference)?.ok_or_else(|| {
                NodeError::NotFound(format!(
                    "no hit with reference {reference} (run `tansiq query` first)"
                ))
            })?;
            let channel = shared_channel(tx, self.id(), &peer)?.ok_or_else(|| {
                NodeError::bad(format!(
                    "no active channel with {peer} to receive the record in; create one first"
                ))
            })?;
            tx.put_hit_request(&HitRequestRow {
                id: id.clone(),
                direction: "out".into(),
                peer: peer.clone(),
                reference: reference.into(),
                channel: channel.clone(),
                record_id: None,
                status: "pending".into(),
                reason: None,
                created_at: time::format(&time::now()),
                decided_at: None,
            })?;
            let payload = Payload::HitRequest {
                id: id.clone(),
                reference: reference.into(),
                channel: channel.clone(),
            };
            self.send_control(tx, &peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.request",
                &id,
                json!({"id": id, "peer": peer, "reference": reference, "channel": channel}),
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// Follow-up requests, in and out; one naming a record the actor
    /// may not see is left out (one that named none reveals nothing).
    pub fn hit_requests(&self, actor: &Actor) -> NodeResult<Vec<HitRequestView>> {
        policy::authorize(actor, Action::RequestRelease)?;
        let scope = policy::read_scope(actor);
        let rows = self.note(|tx| {
            let mut rows = Vec::new();
            for r in tx.hit_requests()? {
                if names_visible(tx, &scope, &r)? {
                    rows.push(r);
                }
            }
            let count = rows.len();
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.request.list",
                "*",
                serde_json::json!({ "count": count }),
            )?;
            Ok(rows)
        })?;
        Ok(rows
            .into_iter()
            .map(|r| HitRequestView {
                id: r.id,
                direction: r.direction,
                peer: r.peer,
                reference: r.reference,
                status: r.status,
                channel: r.channel,
                record: r.record_id,
                reason: r.reason,
                created_at: r.created_at,
                decided_at: r.decided_at,
            })
            .collect())
    }

    /// The pending request `id` addressed to this node, if it names no
    /// record outside `scope` (else not found, as an unknown id).
    fn pending_in(tx: &mut Tx, scope: &ReadScope, id: &str) -> NodeResult<HitRequestRow> {
        let row = match tx.hit_request(id)? {
            Some(r) if r.direction == "in" && names_visible(tx, scope, &r)? => r,
            _ => {
                return Err(NodeError::NotFound(format!(
                    "no request {id} addressed to this node"
                )))
            }
        };
        if row.status != "pending" {
            return Err(NodeError::bad(format!(
                "request {id} is already {}",
                row.status
            )));
        }
        Ok(row)
    }

    /// `request grant ID`: shares the record into the request's channel
    /// (under the third-party rule) and tells the requester.
    pub fn hit_grant(&self, actor: &Actor, id: &str) -> NodeResult<()> {
        policy::authorize(actor, Action::DecideRelease)?;
        policy::authorize(actor, Action::ShareRecord)?;
        let scope = policy::read_scope(actor);
        let mut target = (String::new(), String::new());
        self.commit(|tx, out| {
            let mut row = Self::pending_in(tx, &scope, id)?;
            let record = row.record_id.clone().ok_or_else(|| {
                NodeError::bad(format!(
                    "request {id}: {}; refuse it",
                    row.reason.as_deref().unwrap_or("it resolved to no record")
                ))
            })?;
            target = (record.clone(), row.channel.clone());
            self.check_grant(tx, &row, &record)?;
            self.share_in(tx, actor, &record, &row.channel, out)?;
            let now = time::format(&time::now());
            row.status = "granted".into();
            row.decided_at = Some(now);
            tx.put_hit_request(&row)?;
            let payload = Payload::HitDecision {
                request: id.into(),
                granted: true,
                record: Some(record.clone()),
                reason: None,
            };
            self.send_control(tx, &row.peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.grant",
                id,
                json!({"id": id, "peer": row.peer, "record": record, "channel": row.channel}),
            )?;
            Ok(())
        })
        .inspect_err(|e| self.audit_share_refusal(actor, &target.0, &target.1, e))
    }

    /// What held when the request arrived must still hold at the grant:
    /// the record is still exposed to the requester (not retracted,
    /// remarked RED or H3, or its file withdrawn), and the request's
    /// channel is still the one the holder would choose (no member added
    /// since, no smaller channel formed).
    fn check_grant(&self, tx: &mut Tx, row: &HitRequestRow, record: &str) -> NodeResult<()> {
        let exposed = self.exposed_heads(tx, &row.peer)?.unwrap_or_default();
        if !exposed.contains_key(record) {
            return Err(NodeError::Refused(Refusal {
                rule: Rule::Exposure,
                reason: format!(
                    "record {record} is no longer exposed to {}; refuse the request",
                    row.peer
                ),
            }));
        }
        let file = tx
            .record(record, &ReadScope::everything())?
            .map(|r| r.file)
            .unwrap_or_default();
        let now = follow_up_channel(tx, self.id(), &row.peer, &file)?;
        if now.as_deref() != Some(row.channel.as_str()) {
            return Err(NodeError::Refused(Refusal {
                rule: Rule::Membership,
                reason: format!(
                    "channel {} is no longer the smallest active channel shared with {} for file {file}; refuse the request and let {} ask again",
                    row.channel, row.peer, row.peer
                ),
            }));
        }
        Ok(())
    }

    /// `request refuse ID`.
    pub fn hit_refuse(&self, actor: &Actor, id: &str, reason: Option<&str>) -> NodeResult<()> {
        policy::authorize(actor, Action::DecideRelease)?;
        let scope = policy::read_scope(actor);
        self.commit(|tx, out| {
            let mut row = Self::pending_in(tx, &scope, id)?;
            row.status = "refused".into();
            row.reason = reason.map(str::to_string);
            row.decided_at = Some(time::format(&time::now()));
            tx.put_hit_request(&row)?;
            let payload = Payload::HitDecision {
                request: id.into(),
                granted: false,
                record: None,
                reason: Some(reason.unwrap_or("refused").to_string()),
            };
            self.send_control(tx, &row.peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.refuse",
                id,
                json!({"id": id, "peer": row.peer}),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// A partner's request arrives (inside the delivery transaction):
    /// resolve the reference against what is exposed to that partner now,
    /// and choose the channel a grant would share into (`channel`, named
    /// by the requester, is a hint only: the holder decides).
    pub(crate) fn take_hit_request(
        &self,
        tx: &mut Tx,
        sender: &str,
        id: &str,
        reference: &str,
        channel: &str,
    ) -> NodeResult<()> {
        tansiq_core::ids::check_id("request id", id)?;
        let (key_id, r) = parse_reference(reference)
            .ok_or_else(|| NodeError::bad("a hit request with a malformed reference"))?;
        if reference.len() > 100 {
            return Err(NodeError::bad("a hit request with an oversized field"));
        }
        tansiq_core::ids::check_id("channel", channel)?;
        if let Some(prev) = tx.hit_request(id)? {
            // The same request delivered again changes nothing; an id
            // reused for another reference (or by another node) must not
            // pass for the request it copies.
            if prev.direction == "in" && prev.peer == sender && prev.reference == reference {
                return Ok(());
            }
            return Err(NodeError::bad(
                "a hit request reusing the id of another request",
            ));
        }
        let seed = self.hit_seed()?;
        let exposed = self.exposed_heads(tx, sender)?.unwrap_or_default();
        let record = exposed
            .keys()
            .find(|rid| Self::hit_ref(&seed, sender, key_id, rid) == r)
            .cloned();
        let file = match &record {
            Some(rid) => tx
                .record(rid, &ReadScope::everything())?
                .map(|rec| rec.file),
            None => None,
        };
        let chosen = match &file {
            Some(f) => follow_up_channel(tx, self.id(), sender, f)?,
            None => None,
        };
        let reason = match (&record, &chosen) {
            (None, _) => {
                Some("the reference matches no entry exposed to the requester".to_string())
            }
            (Some(_), None) => Some(format!(
                "no active channel of both nodes has file {}",
                file.as_deref().unwrap_or_default()
            )),
            _ => None,
        };
        tx.put_hit_request(&HitRequestRow {
            id: id.into(),
            direction: "in".into(),
            peer: sender.into(),
            reference: reference.into(),
            channel: chosen.clone().unwrap_or_default(),
            record_id: chosen.as_ref().and(record.clone()),
            status: "pending".into(),
            reason,
            created_at: time::format(&time::now()),
            decided_at: None,
        })?;
        self.audit(
            tx,
            &format!("node:{sender}"),
            "hit.requested",
            id,
            json!({"id": id, "peer": sender, "reference": reference, "record": record,
                   "channel": chosen, "asked_channel": channel}),
        )?;
        Ok(())
    }

    /// The holder's answer arrives at the requester.
    pub(crate) fn take_hit_decision(
        &self,
        tx: &mut Tx,
        sender: &str,
        request: &str,
        granted: bool,
        reason: Option<String>,
    ) -> NodeResult<()> {
        let mut row = tx
            .hit_request(request)?
            .filter(|r| r.direction == "out" && r.peer == sender)
            .ok_or_else(|| {
                NodeError::bad("an answer to a request this node did not send to that peer")
            })?;
        if row.status != "pending" {
            return Ok(());
        }
        row.status = if granted { "granted" } else { "refused" }.into();
        // The reason is a partner's text that `requests` prints: no
        // control character (terminal escapes) is kept, each becomes a space.
        row.reason = reason.map(|r| {
            r.chars()
                .take(500)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        });
        row.decided_at = Some(time::format(&time::now()));
        tx.put_hit_request(&row)?;
        self.audit(
            tx,
            &format!("node:{sender}"),
            if granted {
                "hit.granted"
            } else {
                "hit.refused"
            },
            request,
            json!({"id": request, "peer": sender}),
        )?;
        Ok(())
    }
}

/// The channel a granted record is shared into, decided by the holder:
/// the smallest active channel (fewest members, then id) of which both
/// nodes are members and whose charter has the record's file. The
/// requester's named channel is only a hint, so a modified requester
/// cannot widen the audience.
fn follow_up_channel(tx: &mut Tx, me: &str, peer: &str, file: &str) -> NodeResult<Option<String>> {
    let mut best: Option<(usize, String)> = None;
    for c in tx.channels()? {
        let st = load_channel(tx, &c.id)?;
        let Some(a) = st.active.as_ref() else {
            continue;
        };
        let ch = &a.charter;
        let both = ch.members.iter().any(|x| x == me) && ch.members.iter().any(|x| x == peer);
        if both && ch.files.iter().any(|f| f == file) {
            let cand = (ch.members.len(), c.id);
            if best.as_ref().is_none_or(|b| cand < *b) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|b| b.1))
}

/// The smallest active channel (fewest members, then id) of which both
/// nodes are members.
fn shared_channel(tx: &mut Tx, me: &str, peer: &str) -> NodeResult<Option<String>> {
    let mut best: Option<(usize, String)> = None;
    for c in tx.channels()? {
        if let Some(n) = active_with_both(tx, &c.id, me, peer)? {
            let cand = (n, c.id);
            if best.as_ref().is_none_or(|b| cand < *b) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|b| b.1))
}

/// The member count of `channel` if it is active with both nodes in it.
fn active_with_both(tx: &mut Tx, channel: &str, me: &str, peer: &str) -> NodeResult<Option<usize>> {
    let st = load_channel(tx, channel)?;
    Ok(st.active.as_ref().and_then(|a| {
        let m = &a.charter.members;
        (m.iter().any(|x| x == me) && m.iter().any(|x| x == peer)).then_some(m.len())
    }))
}
