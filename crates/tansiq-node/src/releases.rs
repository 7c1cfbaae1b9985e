//! Releases under the third-party rule: a holder asks the originator to
//! release a record into another channel; the originator, seeing that
//! channel's members, grants (a signed release) or refuses. Requests and
//! answers travel over the pairwise control channel between the two.

use serde::Serialize;
use serde_json::json;

use tansiq_core::ids::{new_id, REQUEST_PREFIX};
use tansiq_core::policy::{self, Action, ReadScope};
use tansiq_core::release::{Release, SignedRelease};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::ReleaseRow;
use tansiq_sync::Precedence;

use crate::card::KeyBook;
use crate::channels::load_channel;
use crate::error::{NodeError, NodeResult};
use crate::federation::Outcome;
use crate::federation::Payload;
use crate::node::Node;
use tansiq_store::Tx;

#[derive(Debug, Clone, Serialize)]
pub struct ReleaseView {
    pub id: String,
    pub record: String,
    pub requester: String,
    pub originator: String,
    pub target_channel: String,
    pub target_members: Vec<String>,
    pub status: String,
    /// `out`: asked by this node; `in`: asked of this node.
    pub direction: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// Longest release reason (request or refusal), in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A reason as given here: one line of at most [`MAX_REASON_CHARS`]
/// characters without control characters.
fn check_reason(reason: Option<&str>) -> NodeResult<()> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) => {
            Err(NodeError::bad(format!(
                "--reason must be one line of at most {MAX_REASON_CHARS} characters without control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// A reason received from a partner (a modified node sends anything):
/// each control character becomes a space (no terminal escape, no line
/// break survives) and the text is cut at [`MAX_REASON_CHARS`]. Kept
/// rather than rejected, so a refusal still closes its request.
pub(crate) fn received_reason(reason: String) -> String {
    if reason.chars().count() <= MAX_REASON_CHARS && !reason.chars().any(char::is_control) {
        return reason;
    }
    reason
        .chars()
        .take(MAX_REASON_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// May a reader of `scope` see record `id`? The operator sees every
/// request, even about a record no longer held (purged, expired).
fn visible(tx: &mut Tx, scope: &ReadScope, id: &str) -> NodeResult<bool> {
    Ok(*scope == ReadScope::everything() || tx.record_visible(id, scope)?)
}

/// The release request `id` addressed to this node, if the reader of
/// `scope` may see its record (else not found, as an unknown id).
fn addressed_here(
    tx: &mut Tx,
    this_node: &str,
    scope: &ReadScope,
    id: &str,
) -> NodeResult<ReleaseRow> {
    match tx.release(id)? {
        Some(r) if r.originator == this_node && visible(tx, scope, &r.record_id)? => Ok(r),
        _ => Err(NodeError::NotFound(format!(
            "no release request {id} addressed to this node"
        ))),
    }
}

impl Node {
    /// A holder asks the originator to release a record into `target`.
    pub fn release_request(
        &self,
        actor: &Actor,
        record: &str,
        target: &str,
        reason: Option<&str>,
    ) -> NodeResult<String> {
        policy::authorize(actor, Action::RequestRelease)?;
        check_reason(reason)?;
        let scope = policy::read_scope(actor);
        let id = new_id(REQUEST_PREFIX);
        self.commit(|tx, out| {
            let rec = tx.record(record, &scope)?.ok_or_else(|| {
                NodeError::NotFound(format!("no record {record} that you may see"))
            })?;
            if rec.originator == self.id() {
                return Err(NodeError::bad(
                    "this node is the record's originator: share it directly (tansiq record share)",
                ));
            }
            // This node's export destination (docs/POLICY.md, "Export"),
            // or one of its channels.
            let members = if policy::export_destination_of(target) == Some(self.id()) {
                vec![policy::EXTERNAL_MEMBER.to_string()]
            } else {
                let st = load_channel(tx, target)?;
                st.charter().map(|c| c.members.clone()).unwrap_or_default()
            };
            let row = ReleaseRow {
                id: id.clone(),
                record_id: record.to_string(),
                requester: self.id().to_string(),
                originator: rec.originator.clone(),
                target_channel: target.to_string(),
                target_members: members.clone(),
                status: "pending".into(),
                reason: reason.map(str::to_string),
                signed: None,
                created_at: time::format(&time::now()),
                decided_at: None,
            };
            tx.put_release(&row)?;
            let payload = Payload::ReleaseRequest {
                id: id.clone(),
                record: record.to_string(),
                target_channel: target.to_string(),
                target_members: members,
                reason: row.reason.clone(),
            };
            self.send_control(tx, &rec.originator, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "release.request",
                &id,
                json!({"id": id, "record": record, "target_channel": target}),
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    /// The originator grants: answering a request (`request`), or directly
    /// for one of its channels (`record` + `channel`).
    pub fn release_grant(
        &self,
        actor: &Actor,
        request: Option<&str>,
        record: Option<&str>,
        channel: Option<&str>,
        conditions: Option<&str>,
    ) -> NodeResult<String> {
        let now = time::format(&self.signing_time());
        // A user decides only on records it may see; any other is not found.
        let scope = policy::read_scope(actor);
        let id = self.commit(|tx, out| {
            let (mut row, notify): (ReleaseRow, Vec<String>) = match (request, record, channel) {
                (Some(req), None, None) => {
                    let row = addressed_here(tx, self.id(), &scope, req)?;
                    if row.status != "pending" {
                        return Err(NodeError::bad(format!("request {req} is already {}", row.status)));
                    }
                    let to = vec![row.requester.clone()];
                    (row, to)
                }
                (None, Some(rec), Some(ch)) => {
                    let exporter = policy::export_destination_of(ch);
                    let members = match exporter {
                        // a holder's export destination: its one member is
                        // whoever reads the holder's exports
                        Some(_) => vec![policy::EXTERNAL_MEMBER.to_string()],
                        None => {
                            let st = load_channel(tx, ch)?;
                            let members = st.charter().map(|c| c.members.clone()).unwrap_or_default();
                            if !members.iter().any(|m| m == self.id()) {
                                return Err(NodeError::bad(format!("this node is not a member of channel {ch}")));
                            }
                            members
                        }
                    };
                    let r = tx
                        .record(rec, &scope)?
                        .ok_or_else(|| NodeError::NotFound(format!("no record {rec} that you may see")))?;
                    // Tell every other member of the record's home channel
                    // (for an export destination: that holder alone).
                    let home = match exporter {
                        Some(holder) => vec![holder.to_string()],
                        None => r.signed.as_ref().map(|s| s.body.members.clone()).unwrap_or_default(),
                    };
                    let row = ReleaseRow {
                        id: new_id(REQUEST_PREFIX),
                        record_id: rec.to_string(),
                        requester: self.id().to_string(),
                        originator: r.originator.clone(),
                        target_channel: ch.to_string(),
                        target_members: members,
                        status: "pending".into(),
                        reason: None,
                        signed: None,
                        created_at: now.clone(),
                        decided_at: None,
                    };
                    (row, home.into_iter().filter(|m| m != self.id()).collect())
                }
                _ => return Err(NodeError::bad("grant a REQUEST_ID, or a record ID with --channel CH")),
            };
            let rec = tx
                .record(&row.record_id, &ReadScope::everything())?
                .ok_or_else(|| NodeError::NotFound(format!("no record {}", row.record_id)))?;
            policy::may_decide_release(actor, self.id(), &rec.originator)?;
            let signed = SignedRelease::sign(
                Release {
                    record: row.record_id.clone(),
                    originator: self.id().to_string(),
                    target_channel: row.target_channel.clone(),
                    target_members: row.target_members.clone(),
                    conditions: conditions.map(str::to_string),
                    granted: now.clone(),
                },
                &self.identity,
            );
            row.status = "granted".into();
            row.signed = Some(serde_json::to_string(&signed).map_err(|e| NodeError::internal(format!("encoding the release: {e}")))?);
            row.decided_at = Some(now.clone());
            tx.put_release(&row)?;
            let payload = Payload::ReleaseDecision { request: request.map(str::to_string), release: Some(signed), refusal: None };
            for to in &notify {
                self.send_control(tx, to, &payload, Precedence::Immediate, out)?;
            }
            self.audit(tx, &actor.audit_name(), "release.grant", &row.id, json!({"id": row.id, "record": row.record_id, "target_channel": row.target_channel}))?;
            Ok(row.id)
        })?;
        Ok(id)
    }

    /// The originator refuses a request.
    pub fn release_refuse(
        &self,
        actor: &Actor,
        request: &str,
        reason: Option<&str>,
    ) -> NodeResult<()> {
        check_reason(reason)?;
        let scope = policy::read_scope(actor);
        self.commit(|tx, out| {
            let mut row = addressed_here(tx, self.id(), &scope, request)?;
            policy::may_decide_release(actor, self.id(), &row.originator)?;
            if row.status != "pending" {
                return Err(NodeError::bad(format!(
                    "request {request} is already {}",
                    row.status
                )));
            }
            row.status = "refused".into();
            row.reason = reason.map(str::to_string);
            row.decided_at = Some(time::format(&time::now()));
            tx.put_release(&row)?;
            let payload = Payload::ReleaseDecision {
                request: Some(request.to_string()),
                release: None,
                refusal: Some(reason.unwrap_or("refused").to_string()),
            };
            self.send_control(tx, &row.requester, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "release.refuse",
                request,
                json!({"id": request}),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// Release requests, in and out, about records the actor may see.
    pub fn releases(&self, actor: &Actor) -> NodeResult<Vec<ReleaseView>> {
        policy::authorize(actor, Action::RequestRelease)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let mut rows = Vec::new();
            for r in tx.releases()? {
                if visible(tx, &scope, &r.record_id)? {
                    rows.push(r);
                }
            }
            let count = rows.len();
            self.audit(
                tx,
                &actor.audit_name(),
                "release.list",
                "*",
                json!({ "count": count }),
            )?;
            Ok(rows
                .into_iter()
                .map(|r| ReleaseView {
                    direction: if r.requester == self.id() {
                        "out".into()
                    } else {
                        "in".into()
                    },
                    id: r.id,
                    record: r.record_id,
                    requester: r.requester,
                    originator: r.originator,
                    target_channel: r.target_channel,
                    target_members: r.target_members,
                    status: r.status,
                    reason: r.reason,
                    created_at: r.created_at,
                    decided_at: r.decided_at,
                })
                .collect())
        })
    }
}

/// The receiving side.
impl Node {
    /// Takes in a partner's request to release a record of this node.
    pub(crate) fn receive_release_request(
        &self,
        tx: &mut Tx,
        sender: &str,
        p: Payload,
    ) -> Result<(), Outcome> {
        let Payload::ReleaseRequest {
            id,
            record,
            target_channel,
            target_members,
            reason,
        } = p
        else {
            return Err(Outcome::Reject("not a release request".into()));
        };
        tansiq_core::ids::check_id("request id", &id).map_err(|e| Outcome::Reject(e.0))?;
        // Only the originator is asked, and only about its own records.
        match tx.record(&record, &ReadScope::everything())? {
            Some(r) if r.originator == self.id() => {}
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
            originator: self.id().to_string(),
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
            self.audit(
                tx,
                &format!("node:{sender}"),
                "release.requested",
                &id,
                json!({"id": id, "record": record, "requester": sender}),
            )?;
        }
        Ok(())
    }

    /// Takes in an originator's answer to a release request.
    pub(crate) fn receive_release_decision(
        &self,
        tx: &mut Tx,
        sender: &str,
        request: Option<String>,
        release: Option<SignedRelease>,
        refusal: Option<String>,
        keys: &KeyBook,
    ) -> Result<(), Outcome> {
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
                let id = request
                    .clone()
                    .unwrap_or_else(|| tansiq_core::ids::new_id(tansiq_core::ids::REQUEST_PREFIX));
                let mut row = tx.release(&id)?.unwrap_or(tansiq_store::ReleaseRow {
                    id: id.clone(),
                    record_id: rel.record.clone(),
                    requester: self.id().to_string(),
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
                row.signed = Some(serde_json::to_string(&signed).map_err(|e| {
                    Outcome::Fail(NodeError::internal(format!("encoding the release: {e}")))
                })?);
                row.decided_at = Some(now);
                tx.put_release(&row)?;
                self.audit(
                    tx,
                    &format!("node:{sender}"),
                    "release.granted",
                    &id,
                    json!({"id": id, "record": rel.record, "target_channel": rel.target_channel}),
                )?;
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
                self.audit(
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
}
