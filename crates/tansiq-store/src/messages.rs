//! Liaison messages (sent and received) and acknowledgements.

use crate::sql::Value;
use crate::{StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: String,
    /// `in` (received) or `out` (sent).
    pub direction: String,
    pub channel: String,
    pub file: Option<String>,
    pub sender: String,
    pub precedence: String,
    pub text: String,
    pub sent_at: String,
    pub received_at: Option<String>,
    pub ack_required: bool,
    /// When this node acknowledged a received message.
    pub acked_at: Option<String>,
}

const COLS: &str = "id, direction, channel, file, sender, precedence, text, sent_at, received_at, ack_required, acked_at";

fn row(r: &crate::sql::Row) -> Result<MessageRow, StoreError> {
    Ok(MessageRow {
        id: r.text(0)?,
        direction: r.text(1)?,
        channel: r.text(2)?,
        file: r.opt_text(3)?,
        sender: r.text(4)?,
        precedence: r.text(5)?,
        text: r.text(6)?,
        sent_at: r.text(7)?,
        received_at: r.opt_text(8)?,
        ack_required: r.int(9)? != 0,
        acked_at: r.opt_text(10)?,
    })
}

impl Tx<'_> {
    /// Stores a message unless one with that id exists (redelivery is a
    /// no-op). Returns whether it was new.
    pub fn put_message(&mut self, m: &MessageRow) -> Result<bool, StoreError> {
        let n = self.exec(
            &format!("INSERT INTO messages ({COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"),
            &[
                (&m.id).into(),
                (&m.direction).into(),
                (&m.channel).into(),
                m.file.clone().into(),
                (&m.sender).into(),
                (&m.precedence).into(),
                (&m.text).into(),
                (&m.sent_at).into(),
                m.received_at.clone().into(),
                m.ack_required.into(),
                m.acked_at.clone().into(),
            ],
        )?;
        Ok(n > 0)
    }

    pub fn message(&mut self, id: &str) -> Result<Option<MessageRow>, StoreError> {
        self.query(
            &format!("SELECT {COLS} FROM messages WHERE id = ?"),
            &[id.into()],
        )?
        .first()
        .map(row)
        .transpose()
    }

    /// Messages in one direction, oldest first.
    pub fn messages(&mut self, direction: &str) -> Result<Vec<MessageRow>, StoreError> {
        self.query(
            &format!("SELECT {COLS} FROM messages WHERE direction = ? ORDER BY sent_at, id"),
            &[direction.into()],
        )?
        .iter()
        .map(row)
        .collect()
    }

    pub fn set_message_acked(&mut self, id: &str, at: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE messages SET acked_at = ? WHERE id = ? AND acked_at IS NULL",
            &[at.into(), id.into()],
        )?;
        Ok(())
    }

    /// Records that `by` acknowledged message `id` (idempotent).
    pub fn put_message_ack(&mut self, id: &str, by: &str, at: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO message_acks (message_id, by_node, at) VALUES (?, ?, ?) ON CONFLICT (message_id, by_node) DO NOTHING",
            &[id.into(), by.into(), at.into()],
        )?;
        Ok(())
    }

    /// Who acknowledged message `id`, with when.
    pub fn message_acks(&mut self, id: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.query(
            "SELECT by_node, at FROM message_acks WHERE message_id = ? ORDER BY by_node",
            &[Value::from(id)],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
    }
}
