//! Private hit/no-hit state (docs/PROTOCOL.md, "Hit/no-hit queries").
//! Holder side: which files each partner may query, and the partner's
//! rate budget. Querier side: the keyed list last fetched from each
//! holder, and the references of hits. Both sides: follow-up requests.
//! No table holds a query's name: the querier never stores it and the
//! holder never sees it.

use crate::sql::{Row, Value};
use crate::{StoreError, Tx};

/// A file a partner may query (holder side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitAllowRow {
    pub peer: String,
    pub channel: String,
    pub file: String,
    pub created_at: String,
}

/// A partner's evaluation budget (holder side): a token bucket holding at
/// most `capacity` evaluations, refilled at `capacity` per hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitBudgetRow {
    pub peer: String,
    pub capacity: i64,
    pub tokens: i64,
    pub refilled_ms: i64,
}

/// A holder's keyed list as the querier fetched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitListRow {
    pub peer: String,
    pub key_id: String,
    pub body: Vec<u8>,
    pub fetched_at: String,
}

/// A follow-up request for the record behind a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRequestRow {
    pub id: String,
    /// `out`: this node asked; `in`: a partner asked this node.
    pub direction: String,
    pub peer: String,
    pub reference: String,
    /// The channel the record is to be shared into on a grant.
    pub channel: String,
    /// Holder side: the record the reference resolved to.
    pub record_id: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

/// An active person or organization placed in a channel and file, with
/// what the hit/no-hit exposure rule (`policy::may_expose`) decides on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitEntryHead {
    pub id: String,
    pub version: i64,
    pub originator: String,
    pub tlp: String,
    pub code: String,
    /// Whether it has `derived_from` links (to be followed by the caller).
    pub derived: bool,
}

fn request_row(r: &Row) -> Result<HitRequestRow, StoreError> {
    Ok(HitRequestRow {
        id: r.text(0)?,
        direction: r.text(1)?,
        peer: r.text(2)?,
        reference: r.text(3)?,
        channel: r.text(4)?,
        record_id: r.opt_text(5)?,
        status: r.text(6)?,
        reason: r.opt_text(7)?,
        created_at: r.text(8)?,
        decided_at: r.opt_text(9)?,
    })
}

const REQUEST_COLS: &str =
    "id, direction, peer, reference, channel, record_id, status, reason, created_at, decided_at";

impl Tx<'_> {
    /// Returns whether the row is new.
    pub fn hit_allow(&mut self, a: &HitAllowRow) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO hit_allow (peer, channel, file, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (peer, channel, file) DO NOTHING",
            &[
                (&a.peer).into(),
                (&a.channel).into(),
                (&a.file).into(),
                (&a.created_at).into(),
            ],
        )?;
        Ok(n > 0)
    }

    /// Returns whether a row was removed.
    pub fn hit_deny(&mut self, peer: &str, channel: &str, file: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "DELETE FROM hit_allow WHERE peer = ? AND channel = ? AND file = ?",
            &[peer.into(), channel.into(), file.into()],
        )?;
        Ok(n > 0)
    }

    /// Files `peer` may query, or every allowance when `peer` is `None`.
    pub fn hit_allowed(&mut self, peer: Option<&str>) -> Result<Vec<HitAllowRow>, StoreError> {
        let rows = match peer {
            Some(p) => self.query(
                "SELECT peer, channel, file, created_at FROM hit_allow WHERE peer = ?
                 ORDER BY channel, file",
                &[p.into()],
            )?,
            None => self.query(
                "SELECT peer, channel, file, created_at FROM hit_allow ORDER BY peer, channel, file",
                &[],
            )?,
        };
        rows.iter()
            .map(|r| {
                Ok(HitAllowRow {
                    peer: r.text(0)?,
                    channel: r.text(1)?,
                    file: r.text(2)?,
                    created_at: r.text(3)?,
                })
            })
            .collect()
    }

    pub fn hit_budget(&mut self, peer: &str) -> Result<Option<HitBudgetRow>, StoreError> {
        self.query(
            "SELECT peer, capacity, tokens, refilled_ms FROM hit_budget WHERE peer = ?",
            &[peer.into()],
        )?
        .first()
        .map(|r| {
            Ok(HitBudgetRow {
                peer: r.text(0)?,
                capacity: r.int(1)?,
                tokens: r.int(2)?,
                refilled_ms: r.int(3)?,
            })
        })
        .transpose()
    }

    pub fn put_hit_budget(&mut self, b: &HitBudgetRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO hit_budget (peer, capacity, tokens, refilled_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (peer) DO UPDATE SET capacity = excluded.capacity,
               tokens = excluded.tokens, refilled_ms = excluded.refilled_ms",
            &[
                (&b.peer).into(),
                Value::Int(b.capacity),
                Value::Int(b.tokens),
                Value::Int(b.refilled_ms),
            ],
        )?;
        Ok(())
    }

    pub fn hit_list(&mut self, peer: &str) -> Result<Option<HitListRow>, StoreError> {
        self.query(
            "SELECT peer, key_id, body, fetched_at FROM hit_list WHERE peer = ?",
            &[peer.into()],
        )?
        .first()
        .map(|r| {
            Ok(HitListRow {
                peer: r.text(0)?,
                key_id: r.text(1)?,
                body: r.blob(2)?,
                fetched_at: r.text(3)?,
            })
        })
        .transpose()
    }

    pub fn put_hit_list(&mut self, l: &HitListRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO hit_list (peer, key_id, body, fetched_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (peer) DO UPDATE SET key_id = excluded.key_id, body = excluded.body,
               fetched_at = excluded.fetched_at",
            &[
                (&l.peer).into(),
                (&l.key_id).into(),
                Value::Blob(l.body.clone()),
                (&l.fetched_at).into(),
            ],
        )?;
        Ok(())
    }

    /// Remembers which holder a hit reference came from (querier side).
    pub fn put_hit_reference(
        &mut self,
        reference: &str,
        peer: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO hit_reference (reference, peer, created_at) VALUES (?, ?, ?)
             ON CONFLICT (reference) DO NOTHING",
            &[reference.into(), peer.into(), at.into()],
        )?;
        Ok(())
    }

    pub fn hit_reference_peer(&mut self, reference: &str) -> Result<Option<String>, StoreError> {
        self.query(
            "SELECT peer FROM hit_reference WHERE reference = ?",
            &[reference.into()],
        )?
        .first()
        .map(|r| r.text(0))
        .transpose()
    }

    pub fn put_hit_request(&mut self, r: &HitRequestRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO hit_request (id, direction, peer, reference, channel, record_id, status,
               reason, created_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET record_id = excluded.record_id,
               status = excluded.status, reason = excluded.reason,
               decided_at = excluded.decided_at",
            &[
                (&r.id).into(),
                (&r.direction).into(),
                (&r.peer).into(),
                (&r.reference).into(),
                (&r.channel).into(),
                r.record_id.clone().into(),
                (&r.status).into(),
                r.reason.clone().into(),
                (&r.created_at).into(),
                r.decided_at.clone().into(),
            ],
        )?;
        Ok(())
    }

    pub fn hit_request(&mut self, id: &str) -> Result<Option<HitRequestRow>, StoreError> {
        let sql = format!("SELECT {REQUEST_COLS} FROM hit_request WHERE id = ?");
        self.query(&sql, &[id.into()])?
            .first()
            .map(request_row)
            .transpose()
    }

    pub fn hit_requests(&mut self) -> Result<Vec<HitRequestRow>, StoreError> {
        let sql = format!("SELECT {REQUEST_COLS} FROM hit_request ORDER BY created_at, id");
        self.query(&sql, &[])?.iter().map(request_row).collect()
    }
}

impl Tx<'_> {
    /// The active person and organization records placed in `channel`
    /// under `file`, by id: what a hit/no-hit exposure of that file may
    /// cover, before the exposure rule removes what the holder may not
    /// answer for. No bodies: a cheap check of whether a keyed list is
    /// still current.
    pub fn hit_entry_heads(
        &mut self,
        channel: &str,
        file: &str,
    ) -> Result<Vec<HitEntryHead>, StoreError> {
        self.query(
            "SELECT r.id, r.version, r.originator, r.tlp, r.code,
                    CASE WHEN EXISTS (SELECT 1 FROM record_links l
                                      WHERE l.src = r.id AND l.rel = 'derived_from')
                         THEN 1 ELSE 0 END
               FROM records r WHERE r.status = 'active' AND r.file = ?
               AND r.kind IN ('person', 'organization')
               AND EXISTS (SELECT 1 FROM placements p WHERE p.record_id = r.id AND p.channel = ?)
             ORDER BY r.id",
            &[file.into(), channel.into()],
        )?
        .iter()
        .map(|r| {
            Ok(HitEntryHead {
                id: r.text(0)?,
                version: r.int(1)?,
                originator: r.text(2)?,
                tlp: r.text(3)?,
                code: r.text(4)?,
                derived: r.int(5)? != 0,
            })
        })
        .collect()
    }
}
