//! Liaison messages: sent to a channel (a file of it, optionally) with a
//! precedence — FLASH and IMMEDIATE overtake every queue — received into
//! the inbox, and acknowledged back to their sender.

use serde::Serialize;
use serde_json::json;

use tansiq_core::ids::{new_id, MESSAGE_PREFIX};
use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::MessageRow;
use tansiq_sync::Precedence;

use crate::arrival::Batch;
use crate::channels::load_channel;
use crate::error::{NodeError, NodeResult};
use crate::federation::Outcome;
use crate::federation::Payload;
use crate::node::Node;
use tansiq_store::Tx;

pub fn parse_precedence(s: &str) -> NodeResult<Precedence> {
    match s.trim().to_ascii_lowercase().as_str() {
        "flash" => Ok(Precedence::Flash),
        "immediate" => Ok(Precedence::Immediate),
        "priority" => Ok(Precedence::Priority),
        "routine" => Ok(Precedence::Routine),
        _ => Err(NodeError::bad(format!(
            "{s:?} is not a precedence: use flash, immediate, priority or routine"
        ))),
    }
}

/// The name [`parse_precedence`] reads, as stored and sent.
fn prec_name(p: Precedence) -> &'static str {
    match p {
        Precedence::Flash => "flash",
        Precedence::Immediate => "immediate",
        Precedence::Priority => "priority",
        Precedence::Routine => "routine",
    }
}

/// Longest liaison message text, in characters, sent or received.
pub const MAX_MESSAGE_CHARS: usize = 100_000;

/// Why `text` is not an acceptable message text, if it is not: empty,
/// longer than [`MAX_MESSAGE_CHARS`], or holding control characters other
/// than newline and tab (terminal escape sequences, carriage returns that
/// overwrite a line, NULs…).
pub fn text_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() || text.chars().count() > MAX_MESSAGE_CHARS {
        return Some("the text must be 1 to 100,000 characters".into());
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Some("the text contains control characters".into());
    }
    None
}

/// Checks a liaison message received from a peer as strictly as
/// [`Node::send_message`] checks one sent here (the sender's node may be
/// modified): the text as [`text_problem`] says, a known precedence, a
/// timestamp, a plausible file name. `Err` is the reason to reject the
/// envelope (audited `envelope.reject`; nothing is stored).
pub(crate) fn check_received(
    file: Option<&str>,
    precedence: &str,
    text: &str,
    sent_at: &str,
) -> Result<(), String> {
    if let Some(p) = text_problem(text) {
        return Err(format!("message rejected: {p}"));
    }
    if !matches!(precedence, "flash" | "immediate" | "priority" | "routine") {
        return Err("message rejected: unknown precedence".into());
    }
    if sent_at.len() > 64 || tansiq_core::time::parse_instant(sent_at).is_err() {
        return Err("message rejected: sent_at is not a timestamp".into());
    }
    if let Some(f) = file {
        if f.is_empty() || f.chars().count() > 128 || f.chars().any(char::is_control) {
            return Err("message rejected: bad file name".into());
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub channel: String,
    pub file: Option<String>,
    pub sender: String,
    pub precedence: String,
    pub text: String,
    pub sent_at: String,
    pub received_at: Option<String>,
    pub ack_required: bool,
    pub acked: bool,
}

/// A sent FLASH (or ack-required) message still missing acknowledgements.
#[derive(Debug, Clone, Serialize)]
pub struct Unacked {
    pub id: String,
    pub channel: String,
    pub precedence: String,
    pub sent_at: String,
    pub awaiting: Vec<String>,
}

fn may_see(actor: &Actor, file: Option<&str>) -> bool {
    match (actor, file) {
        (Actor::Operator, _) => true,
        (Actor::User(u), Some(f)) => u.has_file(f),
        (Actor::User(_), None) => true,
    }
}

impl Node {
    /// Sends a liaison message to the other members of a channel.
    pub fn send_message(
        &self,
        actor: &Actor,
        channel: &str,
        file: Option<&str>,
        precedence: &str,
        text: &str,
        ack_required: bool,
    ) -> NodeResult<String> {
        policy::authorize(actor, Action::SendMessage)?;
        let prec = parse_precedence(precedence)?;
        let text = text.trim_end();
        if let Some(p) = text_problem(text) {
            return Err(NodeError::bad(format!("--text: {p}")));
        }
        if let (Actor::User(u), Some(f)) = (actor, file) {
            if !u.has_file(f) {
                return Err(tansiq_core::policy::Refusal {
                    rule: tansiq_core::policy::Rule::NeedToKnow,
                    reason: format!("user {} is not assigned to file {f}", u.name),
                }
                .into());
            }
        }
        self.commit(|tx, out| self.send_in(tx, actor, channel, file, prec, text, ack_required, out))
    }

    /// Sends a message inside the caller's transaction (the checks of
    /// [`Node::send_message`] on role, text and the actor's file are the
    /// caller's): the channel's terms, the stored row, the sealed payload
    /// queued for the members, the audit entry. Returns its id.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        channel: &str,
        file: Option<&str>,
        prec: Precedence,
        text: &str,
        ack_required: bool,
        out: &mut crate::federation::Outbox,
    ) -> NodeResult<String> {
        let id = new_id(MESSAGE_PREFIX);
        let now = time::format(&time::now());
        {
            let st = load_channel(tx, channel)?;
            let c = st
                .charter()
                .ok_or_else(|| crate::held::no_charter(channel))?
                .clone();
            let file_ok = file.unwrap_or(c.files.first().map(String::as_str).unwrap_or_default());
            policy::may_post(
                self.id(),
                &c.members,
                st.active.is_some(),
                &c.files,
                file_ok,
                channel,
            )?;
            let row = MessageRow {
                id: id.clone(),
                direction: "out".into(),
                channel: channel.to_string(),
                file: file.map(str::to_string),
                sender: self.id().to_string(),
                precedence: prec_name(prec).to_string(),
                text: text.to_string(),
                sent_at: now.clone(),
                received_at: None,
                ack_required,
                acked_at: None,
            };
            tx.put_message(&row)?;
            let payload = Payload::Message {
                id: id.clone(),
                channel: channel.to_string(),
                file: row.file.clone(),
                precedence: row.precedence.clone(),
                text: row.text.clone(),
                sent_at: now.clone(),
                ack_required,
            };
            self.distribute(tx, channel, &payload, prec, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "message.send",
                &id,
                json!({"id": id, "channel": channel, "precedence": row.precedence}),
            )?;
        }
        Ok(id)
    }

    /// Messages received, in the files the actor may see.
    pub fn inbox(&self, actor: &Actor) -> NodeResult<Vec<MessageView>> {
        policy::authorize(actor, Action::ReadMessages)?;
        self.note_read(|tx| {
            let rows = tx.messages("in")?;
            let views: Vec<MessageView> = rows
                .into_iter()
                .filter(|m| may_see(actor, m.file.as_deref()))
                .map(|m| MessageView {
                    acked: m.acked_at.is_some(),
                    id: m.id,
                    channel: m.channel,
                    file: m.file,
                    sender: m.sender,
                    precedence: m.precedence,
                    text: m.text,
                    sent_at: m.sent_at,
                    received_at: m.received_at,
                    ack_required: m.ack_required,
                })
                .collect();
            self.audit(
                tx,
                &actor.audit_name(),
                "message.list",
                "*",
                json!({"count": views.len()}),
            )?;
            Ok(views)
        })
    }

    /// Acknowledges a received message to its sender.
    pub fn ack_message(&self, actor: &Actor, id: &str) -> NodeResult<()> {
        policy::authorize(actor, Action::SendMessage)?;
        let now = time::format(&time::now());
        self.commit(|tx, out| {
            let m = tx
                .message(id)?
                .filter(|m| m.direction == "in" && may_see(actor, m.file.as_deref()))
                .ok_or_else(|| NodeError::NotFound(format!("no received message {id}")))?;
            if m.acked_at.is_some() {
                return Err(NodeError::bad(format!(
                    "message {id} is already acknowledged"
                )));
            }
            tx.set_message_acked(id, &now)?;
            let payload = Payload::Ack {
                message: id.to_string(),
                at: now.clone(),
            };
            let prec = parse_precedence(&m.precedence).unwrap_or(Precedence::Routine);
            self.send_control(tx, &m.sender, &payload, prec, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "message.ack",
                id,
                json!({"id": id, "to": m.sender}),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// [`Node::inbox`] with FLASH first, then IMMEDIATE, PRIORITY and
    /// ROUTINE (each in the order sent), as the API and web inbox show it.
    pub fn inbox_by_precedence(&self, actor: &Actor) -> NodeResult<Vec<MessageView>> {
        let mut views = self.inbox(actor)?;
        views.sort_by_key(|m| {
            parse_precedence(&m.precedence).map_or(u8::MAX, |p| match p {
                Precedence::Flash => 0,
                Precedence::Immediate => 1,
                Precedence::Priority => 2,
                Precedence::Routine => 3,
            })
        });
        Ok(views)
    }

    /// Sent FLASH or ack-required messages some recipient has not
    /// acknowledged yet.
    pub fn unacked_messages(&self) -> NodeResult<Vec<Unacked>> {
        self.store.read(|tx| self.unacked_where(tx, |_| true))
    }

    /// [`Node::unacked_messages`] as a user may see them: only with a role
    /// that reads messages, and only in the user's files (a message
    /// without a file is the channel's, seen by all its readers).
    pub fn unacked_for(&self, actor: &Actor) -> NodeResult<Vec<Unacked>> {
        policy::authorize(actor, Action::ReadMessages)?;
        self.note_read(|tx| {
            let list = self.unacked_seen_by(tx, actor)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "message.unacked",
                "*",
                json!({"count": list.len()}),
            )?;
            Ok(list)
        })
    }

    /// [`Node::unacked_for`] in the caller's transaction, unaudited; empty
    /// for an actor whose role does not read messages.
    pub(crate) fn unacked_seen_by(&self, tx: &mut Tx, actor: &Actor) -> NodeResult<Vec<Unacked>> {
        if policy::authorize(actor, Action::ReadMessages).is_err() {
            return Ok(vec![]);
        }
        self.unacked_where(tx, |m| may_see(actor, m.file.as_deref()))
    }

    fn unacked_where(
        &self,
        tx: &mut Tx,
        keep: impl Fn(&MessageRow) -> bool,
    ) -> NodeResult<Vec<Unacked>> {
        let mut out = Vec::new();
        for m in tx.messages("out")? {
            if !(m.ack_required || m.precedence == "flash") || !keep(&m) {
                continue;
            }
            let members = load_channel(tx, &m.channel)?
                .charter()
                .map(|c| c.members.clone())
                .unwrap_or_default();
            let acked: Vec<String> = tx
                .message_acks(&m.id)?
                .into_iter()
                .map(|(by, _)| by)
                .collect();
            let awaiting: Vec<String> = members
                .into_iter()
                .filter(|x| x != self.id() && !acked.contains(x))
                .collect();
            if !awaiting.is_empty() {
                out.push(Unacked {
                    id: m.id,
                    channel: m.channel,
                    precedence: m.precedence,
                    sent_at: m.sent_at,
                    awaiting,
                });
            }
        }
        Ok(out)
    }
}

/// The receiving side.
impl Node {
    /// Takes in a message a member sent in `channel` (`message.receive`).
    pub(crate) fn receive_message(
        &self,
        tx: &mut Tx,
        sender: &str,
        channel: &str,
        p: Payload,
        batch: &mut Batch,
    ) -> Result<(), Outcome> {
        let Payload::Message {
            id,
            channel: ch,
            file,
            precedence,
            text,
            sent_at,
            ack_required,
        } = p
        else {
            return Err(Outcome::Reject("not a message".into()));
        };
        if ch != channel {
            return Err(Outcome::Reject(
                "message names another channel than its envelope".into(),
            ));
        }
        tansiq_core::ids::check_id("message id", &id).map_err(|e| Outcome::Reject(e.0))?;
        crate::messages::check_received(file.as_deref(), &precedence, &text, &sent_at)
            .map_err(Outcome::Reject)?;
        if let Some(f) = &file {
            batch.may_post(tx, sender, channel, f)?;
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
            self.audit(
                tx,
                &format!("node:{sender}"),
                "message.receive",
                &id,
                json!({"id": id, "channel": channel, "precedence": row.precedence}),
            )?;
        }
        Ok(())
    }

    /// Takes in a member's acknowledgement of a message this node sent.
    pub(crate) fn receive_ack(
        &self,
        tx: &mut Tx,
        sender: &str,
        message: String,
        at: String,
    ) -> Result<(), Outcome> {
        match tx.message(&message)? {
            // Only a recipient acknowledges: a member of the message's
            // channel (acks travel over the pairwise control channel).
            Some(m)
                if m.direction == "out"
                    && !load_channel(tx, &m.channel)
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
                self.audit(
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
        }
    }
}
