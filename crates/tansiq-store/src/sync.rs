//! The federation engine's durable state (docs/SYNC.md §9): envelopes
//! (member copies in their streams, relay custody copies), stream
//! prefixes, the outbox, alarms (evidence), and per-peer link notes for
//! `tansiq sync status`.
//!
//! Plain rows: this crate does not depend on `tansiq-sync`; the node
//! converts its effects to these rows and applies them, in order, in the
//! transaction of the engine call. Every write is idempotent (an upsert or
//! a delete by key), so applying an effect twice changes nothing.

use crate::sql::{Dialect, Row, Value};
use crate::{json_list, to_u64, StoreError, Tx};

/// A held envelope. A member copy (`custody == false`) has its place in
/// its stream `(channel, originator, seq)`; a custody copy is held by a
/// relay only to forward it and is in no stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRow {
    pub id: [u8; 32],
    pub channel: String,
    pub originator: String,
    pub seq: u64,
    /// A relay's copy, held to forward only.
    pub custody: bool,
    /// The canonical header bytes (`JCS(header)`).
    pub header: Vec<u8>,
    /// The sealed body; `None` for a stub (never held, or purged).
    pub body: Option<Vec<u8>>,
    pub body_hash: [u8; 32],
    pub sig: Vec<u8>,
    pub precedence: String,
    pub created_ms: i64,
}

/// A stream's contiguous prefix: every envelope `1..=seq` is held; `last`
/// is the id of the one at `seq` (`None` when `seq` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    pub channel: String,
    pub originator: String,
    pub seq: u64,
    pub last: Option<[u8; 32]>,
}

/// Envelope `id` still to reach `to_node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub to_node: String,
    pub id: [u8; 32],
    pub channel: String,
    pub originator: String,
    pub seq: u64,
    /// `flash`, `immediate`, `priority` or `routine` (queues order by it,
    /// in that order; any other value after them).
    pub precedence: String,
    /// FIFO order within a precedence.
    pub ord: i64,
    pub size: u64,
    pub relays: Vec<String>,
    /// On a relay: the node that handed over custody.
    pub reply_to: Option<String>,
}

/// Security evidence (a fork, a refusal), kept for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRow {
    pub id: String,
    pub kind: String,
    /// JSON.
    pub detail: String,
    pub created_at: String,
}

/// A restore hold: this node may not originate on `channel` until
/// `partner` has answered for it (docs/SYNC.md §6, "Restore holds").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldRow {
    pub channel: String,
    pub partner: String,
    /// When the hold was set (RFC 3339).
    pub since: String,
}

/// A payload made on a held channel, to seal and send once the channel's
/// holds clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredRow {
    /// Order of making (assigned by [`Tx::sync_defer`]).
    pub id: i64,
    pub channel: String,
    /// The envelope kind.
    pub kind: String,
    pub precedence: String,
    pub recipients: Vec<String>,
    pub relays: Vec<String>,
    /// The payload (JSON).
    pub payload: String,
    pub created_at: String,
}

/// What `sync status` shows of a peer beyond the engine's volatile state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLinkRow {
    pub peer: String,
    pub last_delivery: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: Option<String>,
}

/// Queue rank of a precedence: FLASH < IMMEDIATE < PRIORITY < ROUTINE <
/// anything else. Stored beside the row so the queue order is indexed.
pub fn precedence_rank(p: &str) -> i64 {
    match p {
        "flash" => 0,
        "immediate" => 1,
        "priority" => 2,
        "routine" => 3,
        _ => 4,
    }
}

/// A stored integer: refused (not saturated) beyond `i64::MAX`.
fn int(v: u64, what: &str) -> Result<Value, StoreError> {
    i64::try_from(v)
        .map(Value::Int)
        .map_err(|_| StoreError::Db(format!("{what} {v} is beyond the store's integer range")))
}

fn bytes32(b: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(b.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("{what}: expected 32 bytes, got {}", b.len())))
}

const ENVELOPE_COLS: &str =
    "id, channel, originator, seq, custody, header, body, body_hash, sig, precedence, created_ms";

fn envelope_row(r: &Row) -> Result<EnvelopeRow, StoreError> {
    Ok(EnvelopeRow {
        id: r.hash(0)?,
        channel: r.text(1)?,
        originator: r.text(2)?,
        seq: to_u64(r.int(3)?)?,
        custody: r.int(4)? != 0,
        header: r.blob(5)?,
        body: r.opt_blob(6)?,
        body_hash: r.hash(7)?,
        sig: r.blob(8)?,
        precedence: r.text(9)?,
        created_ms: r.int(10)?,
    })
}

/// The `LISTEN`/`NOTIFY` channel of new outbox work (the payload names
/// the schema, so stores sharing a database tell their wake-ups apart).
pub const WORK_CHANNEL: &str = "tansiq_work";

const OUTBOX_COLS: &str =
    "to_node, id, channel, originator, seq, precedence, ord, size, relays, reply_to";

/// The queue order: most urgent first, then FIFO.
const OUTBOX_ORDER: &str = "prec_rank, ord, id";

fn outbox_row(r: &Row) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        to_node: r.text(0)?,
        id: r.hash(1)?,
        channel: r.text(2)?,
        originator: r.text(3)?,
        seq: to_u64(r.int(4)?)?,
        precedence: r.text(5)?,
        ord: r.int(6)?,
        size: to_u64(r.int(7)?)?,
        relays: json_list(&r.text(8)?)?,
        reply_to: r.opt_text(9)?,
    })
}

impl Tx<'_> {
    // ---- envelopes --------------------------------------------------

    /// Stores an envelope (upsert by id), under these rules:
    /// - a custody copy never replaces a member copy (the call is a no-op);
    /// - a member copy replaces a custody copy (it joins its stream);
    /// - a stub never replaces a held body: the body is kept (same id,
    ///   same body hash, so the same bytes);
    /// - a purged body stays purged: a later put with the body does not
    ///   bring it back.
    ///
    /// A member copy whose `(channel, originator, seq)` is already held
    /// under another id (a fork) is refused with [`StoreError::Conflict`].
    pub fn sync_put_envelope(&mut self, e: &EnvelopeRow) -> Result<(), StoreError> {
        self.sync_put_envelopes(std::slice::from_ref(e))
    }

    /// [`Tx::sync_put_envelope`] for many envelopes, one multi-row upsert
    /// per 100 (the same rules; a fork among them fails the statement).
    /// Ids must be distinct (a repeated id is stored one at a time, in
    /// order).
    pub fn sync_put_envelopes(&mut self, rows: &[EnvelopeRow]) -> Result<(), StoreError> {
        const CHUNK: usize = 100;
        let distinct = rows
            .iter()
            .map(|e| e.id)
            .collect::<std::collections::HashSet<_>>()
            .len()
            == rows.len();
        if !distinct {
            for e in rows {
                self.sync_put_envelopes(std::slice::from_ref(e))?;
            }
            return Ok(());
        }
        for chunk in rows.chunks(CHUNK) {
            let mut params = Vec::with_capacity(chunk.len() * 11);
            for e in chunk {
                params.extend([
                    e.id.as_slice().into(),
                    (&e.channel).into(),
                    (&e.originator).into(),
                    int(e.seq, "envelope seq")?,
                    e.custody.into(),
                    e.header.as_slice().into(),
                    e.body.as_deref().into(),
                    e.body_hash.as_slice().into(),
                    e.sig.as_slice().into(),
                    (&e.precedence).into(),
                    e.created_ms.into(),
                ]);
            }
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)"; chunk.len()].join(", ");
            self.exec(
                &format!(
                    "INSERT INTO sync_envelope (id, channel, originator, seq, custody, header, body,
                       body_hash, sig, precedence, created_ms, purged)
                     VALUES {values}
                     ON CONFLICT (id) DO UPDATE SET channel = excluded.channel,
                       originator = excluded.originator, seq = excluded.seq, custody = excluded.custody,
                       header = excluded.header,
                       body = CASE WHEN sync_envelope.purged = 1 THEN NULL
                                   ELSE COALESCE(excluded.body, sync_envelope.body) END,
                       body_hash = excluded.body_hash, sig = excluded.sig,
                       precedence = excluded.precedence, created_ms = excluded.created_ms
                     WHERE sync_envelope.custody = 1 OR excluded.custody = 0"
                ),
                &params,
            )?;
        }
        Ok(())
    }

    /// Deletes the custody copy of `id`; a member copy (or no row) is left
    /// as it is.
    pub fn sync_forget_envelope(&mut self, id: &[u8; 32]) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM sync_envelope WHERE id = ? AND custody = 1",
            &[id.as_slice().into()],
        )?;
        Ok(())
    }

    /// Drops the body of `id` for good (retraction, expiry), keeping the
    /// stub: header, body hash and signature. After a purge, run
    /// [`crate::Store::scrub`] so the bytes leave the disk.
    pub fn sync_purge_envelope(&mut self, id: &[u8; 32]) -> Result<(), StoreError> {
        self.exec(
            "UPDATE sync_envelope SET body = NULL, purged = 1 WHERE id = ?",
            &[id.as_slice().into()],
        )?;
        self.purged = true;
        Ok(())
    }

    /// Whether the envelope with this id is held with its body (not purged).
    pub fn sync_envelope_has_body(&mut self, id: &[u8; 32]) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM sync_envelope WHERE id = ? AND purged = 0 AND body IS NOT NULL",
            &[id.as_slice().into()],
        )
    }

    /// Which of `ids` (at most 100) are held with their body (not
    /// purged): [`Tx::sync_envelope_has_body`] for many in one query.
    pub fn sync_envelopes_with_body(
        &mut self,
        ids: &[[u8; 32]],
    ) -> Result<std::collections::HashSet<[u8; 32]>, StoreError> {
        const N: usize = 100;
        let mut held = std::collections::HashSet::new();
        for chunk in ids.chunks(N) {
            // One shape of statement: the list padded with its first id.
            let params: Vec<Value> = (0..N)
                .map(|i| chunk.get(i).unwrap_or(&chunk[0]).as_slice().into())
                .collect();
            let sql = format!(
                "SELECT id FROM sync_envelope WHERE id IN ({}) AND purged = 0 AND body IS NOT NULL",
                vec!["?"; N].join(", ")
            );
            for r in self.query(&sql, &params)? {
                held.insert(r.hash(0)?);
            }
        }
        Ok(held)
    }

    /// The envelope with this id, member or custody copy.
    pub fn sync_envelope(&mut self, id: &[u8; 32]) -> Result<Option<EnvelopeRow>, StoreError> {
        self.query(
            &format!("SELECT {ENVELOPE_COLS} FROM sync_envelope WHERE id = ?"),
            &[id.as_slice().into()],
        )?
        .first()
        .map(envelope_row)
        .transpose()
    }

    /// Member copies of stream `(channel, originator)` with
    /// `seq >= from_seq`, in seq order, at most `limit` (custody copies are
    /// in no stream and never returned).
    pub fn sync_stream_range(
        &mut self,
        channel: &str,
        originator: &str,
        from_seq: u64,
        limit: u64,
    ) -> Result<Vec<EnvelopeRow>, StoreError> {
        self.query(
            &format!(
                "SELECT {ENVELOPE_COLS} FROM sync_envelope
                 WHERE channel = ? AND originator = ? AND custody = 0 AND seq >= ?
                 ORDER BY seq LIMIT ?"
            ),
            &[
                channel.into(),
                originator.into(),
                from_seq.into(),
                limit.into(),
            ],
        )?
        .iter()
        .map(envelope_row)
        .collect()
    }

    // ---- streams ----------------------------------------------------

    /// Upserts a stream row by `(channel, originator)`.
    pub fn sync_put_stream(&mut self, s: &StreamRow) -> Result<(), StoreError> {
        let seq = int(s.seq, "stream seq")?;
        self.exec_later(
            "INSERT INTO sync_stream (channel, originator, seq, last) VALUES (?, ?, ?, ?)
             ON CONFLICT (channel, originator) DO UPDATE SET seq = excluded.seq, last = excluded.last",
            vec![
                (&s.channel).into(),
                (&s.originator).into(),
                seq,
                s.last.as_ref().map(|l| l.as_slice()).into(),
            ],
        )?;
        Ok(())
    }

    /// Every stream row, by channel and originator.
    pub fn sync_streams(&mut self) -> Result<Vec<StreamRow>, StoreError> {
        self.query(
            "SELECT channel, originator, seq, last FROM sync_stream ORDER BY channel, originator",
            &[],
        )?
        .iter()
        .map(|r| {
            let last = r
                .opt_blob(3)?
                .map(|b| bytes32(b, "stream last"))
                .transpose()?;
            Ok(StreamRow {
                channel: r.text(0)?,
                originator: r.text(1)?,
                seq: to_u64(r.int(2)?)?,
                last,
            })
        })
        .collect()
    }

    // ---- outbox -----------------------------------------------------

    /// Upserts an outbox row by `(to_node, id)`.
    pub fn sync_put_outbox(&mut self, o: &OutboxRow) -> Result<(), StoreError> {
        let relays = serde_json::to_string(&o.relays).expect("string lists serialise");
        let seq = int(o.seq, "outbox seq")?;
        let size = int(o.size, "outbox size")?;
        self.exec_later(
            "INSERT INTO sync_outbox (to_node, id, channel, originator, seq, precedence, prec_rank,
               ord, size, relays, reply_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (to_node, id) DO UPDATE SET channel = excluded.channel,
               originator = excluded.originator, seq = excluded.seq,
               precedence = excluded.precedence, prec_rank = excluded.prec_rank,
               ord = excluded.ord, size = excluded.size, relays = excluded.relays,
               reply_to = excluded.reply_to",
            vec![
                (&o.to_node).into(),
                o.id.as_slice().into(),
                (&o.channel).into(),
                (&o.originator).into(),
                seq,
                (&o.precedence).into(),
                precedence_rank(&o.precedence).into(),
                o.ord.into(),
                size,
                relays.into(),
                o.reply_to.clone().into(),
            ],
        )?;
        Ok(())
    }

    /// [`Tx::sync_put_outbox`] for a delivery worker: a new row is
    /// claimed by `claim = (worker, until_ms)` (or free, with `None`). An
    /// existing row keeps its claim: only its queue fields are updated.
    pub fn sync_put_outbox_claimed(
        &mut self,
        o: &OutboxRow,
        claim: Option<(&str, i64)>,
    ) -> Result<(), StoreError> {
        let Some((worker, until)) = claim else {
            return self.sync_put_outbox(o);
        };
        // One statement: a new row gets the claim; an existing one keeps
        // its claim if it has one, and takes this one if it is free (a
        // worker never steals a live claim this way).
        let relays = serde_json::to_string(&o.relays).expect("string lists serialise");
        let seq = int(o.seq, "outbox seq")?;
        let size = int(o.size, "outbox size")?;
        self.exec_later(
            "INSERT INTO sync_outbox (to_node, id, channel, originator, seq, precedence, prec_rank,
               ord, size, relays, reply_to, claimed_by, claimed_until)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (to_node, id) DO UPDATE SET channel = excluded.channel,
               originator = excluded.originator, seq = excluded.seq,
               precedence = excluded.precedence, prec_rank = excluded.prec_rank,
               ord = excluded.ord, size = excluded.size, relays = excluded.relays,
               reply_to = excluded.reply_to,
               claimed_until = CASE WHEN sync_outbox.claimed_by IS NULL
                                    THEN excluded.claimed_until ELSE sync_outbox.claimed_until END,
               claimed_by = COALESCE(sync_outbox.claimed_by, excluded.claimed_by)",
            vec![
                (&o.to_node).into(),
                o.id.as_slice().into(),
                (&o.channel).into(),
                (&o.originator).into(),
                seq,
                (&o.precedence).into(),
                precedence_rank(&o.precedence).into(),
                o.ord.into(),
                size,
                relays.into(),
                o.reply_to.clone().into(),
                worker.into(),
                until.into(),
            ],
        )?;
        Ok(())
    }

    /// The rows `worker` holds claimed (live or expired but not yet taken
    /// over), in queue order: what its engine delivers.
    pub fn sync_outbox_claimed_by(&mut self, worker: &str) -> Result<Vec<OutboxRow>, StoreError> {
        self.query(
            &format!(
                "SELECT {OUTBOX_COLS} FROM sync_outbox WHERE claimed_by = ?
                 ORDER BY to_node, {OUTBOX_ORDER}"
            ),
            &[worker.into()],
        )?
        .iter()
        .map(outbox_row)
        .collect()
    }

    /// Claims for `worker` until `until_ms` up to `limit` rows that are
    /// free or whose claim expired before `now_ms`, most urgent first, and
    /// returns them. On PostgreSQL the candidates are selected `FOR UPDATE
    /// SKIP LOCKED`, so workers claiming at once never wait for each other
    /// and never claim the same row; run it in
    /// [`crate::Store::write_unlocked`], outside the store's write lock.
    pub fn sync_claim_free(
        &mut self,
        worker: &str,
        until_ms: i64,
        now_ms: i64,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        if !self.write {
            return Err(StoreError::Db(
                "claiming outbox rows needs a write transaction".into(),
            ));
        }
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        self.query(
            &format!(
                "UPDATE sync_outbox SET claimed_by = ?, claimed_until = ?
                 WHERE (to_node, id) IN (SELECT to_node, id FROM sync_outbox
                   WHERE claimed_until < ? ORDER BY {OUTBOX_ORDER} LIMIT ?{lock})
                 RETURNING {OUTBOX_COLS}"
            ),
            &[worker.into(), until_ms.into(), now_ms.into(), limit.into()],
        )?
        .iter()
        .map(outbox_row)
        .collect::<Result<Vec<_>, _>>()
        .map(|mut rows| {
            // RETURNING keeps no order: back to the queue order.
            rows.sort_by(|a, b| {
                (precedence_rank(&a.precedence), a.ord, a.id).cmp(&(
                    precedence_rank(&b.precedence),
                    b.ord,
                    b.id,
                ))
            });
            rows
        })
    }

    /// Extends every claim `worker` still holds to `until_ms`; returns how
    /// many rows it holds.
    pub fn sync_renew_claims(&mut self, worker: &str, until_ms: i64) -> Result<u64, StoreError> {
        self.exec(
            "UPDATE sync_outbox SET claimed_until = ? WHERE claimed_by = ?",
            &[until_ms.into(), worker.into()],
        )
    }

    /// Frees every claim `worker` holds (a worker shutting down), so
    /// another takes the rows over at once.
    pub fn sync_release_claims(&mut self, worker: &str) -> Result<u64, StoreError> {
        self.exec(
            "UPDATE sync_outbox SET claimed_by = NULL, claimed_until = 0 WHERE claimed_by = ?",
            &[worker.into()],
        )
    }

    /// Claims of the outbox: `(worker or None for free, rows)`, by worker.
    pub fn sync_outbox_claims(&mut self) -> Result<Vec<(Option<String>, u64)>, StoreError> {
        self.query(
            "SELECT claimed_by, COUNT(*) FROM sync_outbox GROUP BY claimed_by ORDER BY claimed_by",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.opt_text(0)?, to_u64(r.int(1)?)?)))
        .collect()
    }

    /// Wakes the delivery workers of this store that wait for new work
    /// (PostgreSQL `NOTIFY`, delivered when this transaction commits;
    /// nothing on SQLite, whose single worker polls).
    pub fn notify_work(&mut self) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            self.exec(
                &format!("SELECT pg_notify('{WORK_CHANNEL}', coalesce(current_schema(), ''))"),
                &[],
            )?;
        }
        Ok(())
    }

    /// Deletes the outbox row `(to, id)` (no-op if absent).
    pub fn sync_outbox_done(&mut self, to: &str, id: &[u8; 32]) -> Result<(), StoreError> {
        self.exec_later(
            "DELETE FROM sync_outbox WHERE to_node = ? AND id = ?",
            vec![to.into(), id.as_slice().into()],
        )?;
        Ok(())
    }

    /// Every outbox row, by recipient, then queue order (most urgent
    /// first, then FIFO).
    pub fn sync_outbox(&mut self) -> Result<Vec<OutboxRow>, StoreError> {
        self.query(
            &format!("SELECT {OUTBOX_COLS} FROM sync_outbox ORDER BY to_node, {OUTBOX_ORDER}"),
            &[],
        )?
        .iter()
        .map(outbox_row)
        .collect()
    }

    /// Whether an outbox row for `to` carries an envelope of `originator`
    /// (a relay holding custody for `to`, or a member forwarding).
    pub fn sync_outbox_has(&mut self, to: &str, originator: &str) -> Result<bool, StoreError> {
        self.exists(
            "SELECT 1 FROM sync_outbox WHERE to_node = ? AND originator = ? LIMIT 1",
            &[to.into(), originator.into()],
        )
    }

    /// Queued rows per recipient, by recipient.
    pub fn sync_outbox_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(
            "SELECT to_node, COUNT(*) FROM sync_outbox GROUP BY to_node ORDER BY to_node",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, to_u64(r.int(1)?)?)))
        .collect()
    }

    /// Claims up to `limit` outbox rows for `to`, most urgent first, for a
    /// delivery worker. On PostgreSQL the rows are locked `FOR UPDATE SKIP
    /// LOCKED` until this transaction ends: rows another transaction holds
    /// locked are skipped, not waited for. On SQLite (one writer at a time)
    /// it is a plain select. Needs a write transaction on every backend.
    pub fn sync_claim_outbox(
        &mut self,
        to: &str,
        limit: u64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        if !self.write {
            return Err(StoreError::Db(
                "claiming outbox rows needs a write transaction".into(),
            ));
        }
        let lock = match self.dialect {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        self.query(
            &format!(
                "SELECT {OUTBOX_COLS} FROM sync_outbox WHERE to_node = ?
                 ORDER BY {OUTBOX_ORDER} LIMIT ?{lock}"
            ),
            &[to.into(), limit.into()],
        )?
        .iter()
        .map(outbox_row)
        .collect()
    }

    // ---- alarms -----------------------------------------------------

    /// Appends an alarm. Append-only: an alarm with an id already stored
    /// is ignored (the first one stays, unchanged), so re-applying the
    /// effect is a no-op; there is no update or delete.
    pub fn sync_add_alarm(&mut self, a: &AlarmRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sync_alarm (id, kind, detail, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (id) DO NOTHING",
            &[
                (&a.id).into(),
                (&a.kind).into(),
                (&a.detail).into(),
                (&a.created_at).into(),
            ],
        )?;
        Ok(())
    }

    /// Every alarm, oldest first.
    pub fn sync_alarms(&mut self) -> Result<Vec<AlarmRow>, StoreError> {
        self.query(
            "SELECT id, kind, detail, created_at FROM sync_alarm ORDER BY created_at, id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(AlarmRow {
                id: r.text(0)?,
                kind: r.text(1)?,
                detail: r.text(2)?,
                created_at: r.text(3)?,
            })
        })
        .collect()
    }

    // ---- restore holds and deferred sends ---------------------------

    /// Sets a restore hold (no-op if already set: `since` stays).
    pub fn sync_put_hold(&mut self, h: &HoldRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sync_hold (channel, partner, since) VALUES (?, ?, ?)
             ON CONFLICT (channel, partner) DO NOTHING",
            &[(&h.channel).into(), (&h.partner).into(), (&h.since).into()],
        )?;
        Ok(())
    }

    /// Clears a restore hold (no-op if absent); true if one was cleared.
    pub fn sync_hold_done(&mut self, channel: &str, partner: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM sync_hold WHERE channel = ? AND partner = ?",
            &[channel.into(), partner.into()],
        )? > 0)
    }

    /// Every restore hold, by channel and partner.
    pub fn sync_holds(&mut self) -> Result<Vec<HoldRow>, StoreError> {
        self.query(
            "SELECT channel, partner, since FROM sync_hold ORDER BY channel, partner",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(HoldRow {
                channel: r.text(0)?,
                partner: r.text(1)?,
                since: r.text(2)?,
            })
        })
        .collect()
    }

    /// Keeps a payload made on a held channel; returns its order number.
    pub fn sync_defer(&mut self, d: &DeferredRow) -> Result<i64, StoreError> {
        let next = self
            .query("SELECT COALESCE(MAX(id), 0) + 1 FROM sync_deferred", &[])?
            .first()
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(1);
        self.exec(
            "INSERT INTO sync_deferred (id, channel, kind, precedence, recipients, relays, payload,
               created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::Int(next),
                (&d.channel).into(),
                (&d.kind).into(),
                (&d.precedence).into(),
                serde_json::to_string(&d.recipients)
                    .expect("string lists serialise")
                    .into(),
                serde_json::to_string(&d.relays)
                    .expect("string lists serialise")
                    .into(),
                (&d.payload).into(),
                (&d.created_at).into(),
            ],
        )?;
        Ok(next)
    }

    /// The payloads deferred on `channel` (every channel if `None`), in
    /// the order they were made.
    pub fn sync_deferred(&mut self, channel: Option<&str>) -> Result<Vec<DeferredRow>, StoreError> {
        let cols = "id, channel, kind, precedence, recipients, relays, payload, created_at";
        let rows = match channel {
            Some(c) => self.query(
                &format!("SELECT {cols} FROM sync_deferred WHERE channel = ? ORDER BY id"),
                &[c.into()],
            )?,
            None => self.query(
                &format!("SELECT {cols} FROM sync_deferred ORDER BY id"),
                &[],
            )?,
        };
        rows.iter()
            .map(|r| {
                Ok(DeferredRow {
                    id: r.int(0)?,
                    channel: r.text(1)?,
                    kind: r.text(2)?,
                    precedence: r.text(3)?,
                    recipients: json_list(&r.text(4)?)?,
                    relays: json_list(&r.text(5)?)?,
                    payload: r.text(6)?,
                    created_at: r.text(7)?,
                })
            })
            .collect()
    }

    /// Deletes a deferred payload once it was sent (no-op if absent).
    pub fn sync_deferred_done(&mut self, id: i64) -> Result<(), StoreError> {
        self.exec("DELETE FROM sync_deferred WHERE id = ?", &[Value::Int(id)])?;
        Ok(())
    }

    // ---- peer links -------------------------------------------------

    /// Upserts a peer's link row; the whole row is replaced (read it with
    /// [`Tx::sync_link`] to change one field).
    pub fn sync_put_link(&mut self, l: &PeerLinkRow) -> Result<(), StoreError> {
        self.exec_later(
            "INSERT INTO peer_links (peer, last_delivery, last_error, updated_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (peer) DO UPDATE SET last_delivery = excluded.last_delivery,
               last_error = excluded.last_error, updated_at = excluded.updated_at",
            vec![
                (&l.peer).into(),
                l.last_delivery.clone().into(),
                l.last_error.clone().into(),
                l.updated_at.clone().into(),
            ],
        )?;
        Ok(())
    }

    /// One peer's link row.
    pub fn sync_link(&mut self, peer: &str) -> Result<Option<PeerLinkRow>, StoreError> {
        self.query(
            "SELECT peer, last_delivery, last_error, updated_at FROM peer_links WHERE peer = ?",
            &[peer.into()],
        )?
        .first()
        .map(link_row)
        .transpose()
    }

    /// Every peer's link row, by peer.
    pub fn sync_links(&mut self) -> Result<Vec<PeerLinkRow>, StoreError> {
        self.query(
            "SELECT peer, last_delivery, last_error, updated_at FROM peer_links ORDER BY peer",
            &[],
        )?
        .iter()
        .map(link_row)
        .collect()
    }
}

fn link_row(r: &Row) -> Result<PeerLinkRow, StoreError> {
    Ok(PeerLinkRow {
        peer: r.text(0)?,
        last_delivery: r.opt_text(1)?,
        last_error: r.opt_text(2)?,
        updated_at: r.opt_text(3)?,
    })
}

impl Tx<'_> {
    /// Remembers that envelope `envelope` carried a version of `record`.
    pub fn put_record_envelope(
        &mut self,
        record: &str,
        envelope: &[u8; 32],
    ) -> Result<(), StoreError> {
        self.exec_later(
            "INSERT INTO record_envelopes (record_id, envelope_id) VALUES (?, ?) ON CONFLICT (record_id, envelope_id) DO NOTHING",
            vec![record.into(), envelope.as_slice().into()],
        )?;
        Ok(())
    }

    /// The envelopes that carried versions of `record`.
    pub fn record_envelopes(&mut self, record: &str) -> Result<Vec<[u8; 32]>, StoreError> {
        self.query(
            "SELECT envelope_id FROM record_envelopes WHERE record_id = ? ORDER BY envelope_id",
            &[record.into()],
        )?
        .iter()
        .map(|r| r.hash(0))
        .collect()
    }
}
