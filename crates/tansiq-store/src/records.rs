//! Record tables: the current version of each record, every version's
//! signed body, names for search, links for graph queries, placements (the
//! channels a record is in at this node). Every read takes a [`ReadScope`]
//! and filters in SQL.

use tansiq_core::handling::Tlp;
use tansiq_core::policy::ReadScope;
use tansiq_core::record::{Kind, SignedRecord};

use crate::sql::{Conn, Row, Value};
use crate::{to_u64, StoreError, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStatus {
    Active,
    /// The originator withdrew it; content purged.
    Retracted,
    /// Past its expiry; content purged.
    Expired,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Active => "active",
            RecordStatus::Retracted => "retracted",
            RecordStatus::Expired => "expired",
        }
    }
    fn parse(s: &str) -> Result<RecordStatus, StoreError> {
        match s {
            "active" => Ok(RecordStatus::Active),
            "retracted" => Ok(RecordStatus::Retracted),
            "expired" => Ok(RecordStatus::Expired),
            _ => Err(StoreError::Corrupt(format!("record status {s:?}"))),
        }
    }
}

/// A record as this node holds it.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    pub id: String,
    pub version: u64,
    pub kind: Kind,
    pub originator: String,
    pub channel: String,
    pub file: String,
    pub tlp: Tlp,
    pub code: String,
    pub status: RecordStatus,
    pub created_at: String,
    pub expires_at: Option<String>,
    /// The signed current version; `None` once purged.
    pub signed: Option<SignedRecord>,
    pub content_hash: [u8; 32],
}

/// A link between two records: `(src, rel, dst, from, until)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRow {
    pub src: String,
    pub rel: String,
    pub dst: String,
    pub from: Option<String>,
    pub until: Option<String>,
}

/// What a graph shows of a record: no content but its display names.
#[derive(Debug, Clone)]
pub struct RecordHead {
    pub id: String,
    pub kind: Kind,
    pub file: String,
    pub tlp: Tlp,
    pub status: RecordStatus,
    /// The signed body's JSON (`None` once purged), for the caller to
    /// take the names from.
    pub body: Option<String>,
}

/// Most ids one batched query names: far below SQLite's (32,766) and
/// PostgreSQL's (65,535) bounds on parameters, with room for the scope's.
const ID_CHUNK: usize = 500;

/// One stored record version's content hash (and body, unless purged).
#[derive(Debug, Clone)]
pub struct VersionHash {
    pub id: String,
    pub version: u64,
    pub hash: [u8; 32],
    pub body: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub channel: Option<String>,
    pub file: Option<String>,
    pub kind: Option<Kind>,
    pub originator: Option<String>,
    /// Include retracted and expired tombstones.
    pub include_tombstones: bool,
    pub limit: Option<u64>,
    pub offset: u64,
}

const COLS: &str = "r.id, r.version, r.kind, r.originator, r.channel, r.file, r.tlp, r.code, r.status, r.created_at, r.expires_at, r.body, r.sig, r.content_hash";

fn record_row(r: &Row) -> Result<StoredRecord, StoreError> {
    let corrupt = |what: &str, e: String| StoreError::Corrupt(format!("record {what}: {e}"));
    let signed = match (r.opt_text(11)?, r.opt_text(12)?) {
        (Some(body), Some(sig)) => Some(SignedRecord {
            body: serde_json::from_str(&body).map_err(|e| corrupt("body", e.to_string()))?,
            sig,
        }),
        _ => None,
    };
    Ok(StoredRecord {
        id: r.text(0)?,
        version: to_u64(r.int(1)?)?,
        kind: r
            .text(2)?
            .parse()
            .map_err(|e: tansiq_core::Invalid| corrupt("kind", e.0))?,
        originator: r.text(3)?,
        channel: r.text(4)?,
        file: r.text(5)?,
        tlp: r
            .text(6)?
            .parse()
            .map_err(|e: tansiq_core::Invalid| corrupt("tlp", e.0))?,
        code: r.text(7)?,
        status: RecordStatus::parse(&r.text(8)?)?,
        created_at: r.text(9)?,
        expires_at: r.opt_text(10)?,
        signed,
        content_hash: r.hash(13)?,
    })
}

fn link_row(r: &Row) -> Result<LinkRow, StoreError> {
    Ok(LinkRow {
        src: r.text(0)?,
        rel: r.text(1)?,
        dst: r.text(2)?,
        from: r.opt_text(3)?,
        until: r.opt_text(4)?,
    })
}

/// The placeholders of an IN list of `n` values.
fn in_list(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Appends to a query over `record_links l` that both its ends are
/// active records within `scope`.
fn both_ends_in_scope(scope: &ReadScope, sql: &mut String, params: &mut Vec<Value>) {
    for col in ["src", "dst"] {
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM records r WHERE r.id = l.{col} AND r.status = 'active'"
        ));
        scope_sql(scope, sql, params);
        sql.push(')');
    }
}

/// Orders links by (src, rel, dst, from, until), each once.
fn sort_links(links: &mut Vec<LinkRow>) {
    links.sort_by(|a, b| {
        (&a.src, &a.rel, &a.dst, &a.from, &a.until)
            .cmp(&(&b.src, &b.rel, &b.dst, &b.from, &b.until))
    });
    links.dedup();
}

/// Appends `AND <scope>` to a query over `records r`.
pub(crate) fn scope_sql(scope: &ReadScope, sql: &mut String, params: &mut Vec<Value>) {
    let tlps = scope.tlps();
    if tlps.is_empty() {
        sql.push_str(" AND 1 = 0");
        return;
    }
    if tlps.len() < Tlp::ALL.len() {
        sql.push_str(" AND r.tlp IN (");
        sql.push_str(&vec!["?"; tlps.len()].join(", "));
        sql.push(')');
        params.extend(tlps.iter().map(|t| Value::from(t.as_str())));
    }
    if let Some(files) = &scope.files {
        if files.is_empty() {
            sql.push_str(" AND 1 = 0");
            return;
        }
        sql.push_str(" AND r.file IN (");
        sql.push_str(&vec!["?"; files.len()].join(", "));
        sql.push(')');
        params.extend(files.iter().map(Value::from));
    }
}

/// The tokens of a normalised name (split at its single spaces).
fn name_tokens(norm: &str) -> impl Iterator<Item = &str> {
    norm.split(' ').filter(|t| !t.is_empty())
}

/// Adds a record's search tokens (schema step 11): each distinct token of
/// its normalised `names` once, with its `primary` name for the order of
/// hits. Also the migration's backfill, hence a bare connection.
pub(crate) fn insert_name_tokens(
    conn: &mut dyn Conn,
    id: &str,
    primary: &str,
    names: &[String],
) -> Result<(), StoreError> {
    let mut tokens: Vec<&str> = names.iter().flat_map(|n| name_tokens(n)).collect();
    tokens.sort_unstable();
    tokens.dedup();
    for t in tokens {
        conn.execute(
            "INSERT INTO name_tokens (token) VALUES (?) ON CONFLICT (token) DO NOTHING",
            &[t.into()],
        )?;
        conn.execute(
            "INSERT INTO record_name_tokens (token, primary_name, record_id) VALUES (?, ?, ?)
             ON CONFLICT (token, primary_name, record_id) DO NOTHING",
            &[t.into(), primary.into(), id.into()],
        )?;
    }
    Ok(())
}

/// `s` escaped for a `LIKE … ESCAPE '!'` pattern. `!` is the escape
/// character: unlike a backslash it means the same in every dialect
/// (PostgreSQL with or without standard_conforming_strings).
fn like_escape(s: &str) -> String {
    s.replace('!', "!!").replace('%', "!%").replace('_', "!_")
}

/// Candidate ids a name search reads at a time, in the order of hits.
const SEARCH_CHUNK: usize = 200;

impl Tx<'_> {
    /// Removes a record's names and their search tokens.
    /// `primary` is the primary name the record's tokens were stored
    /// with (its row's before this change).
    fn delete_names(&mut self, id: &str, primary: Option<&str>) -> Result<(), StoreError> {
        if let Some(p) = primary {
            let norms = self.query(
                "SELECT norm FROM record_names WHERE record_id = ?",
                &[id.into()],
            )?;
            let norms = norms
                .iter()
                .map(|r| r.text(0))
                .collect::<Result<Vec<_>, _>>()?;
            let mut tokens: Vec<&str> = norms.iter().flat_map(|n| name_tokens(n)).collect();
            tokens.sort_unstable();
            tokens.dedup();
            for t in tokens {
                self.exec(
                    "DELETE FROM record_name_tokens WHERE token = ? AND primary_name = ? AND record_id = ?",
                    &[t.into(), p.into(), id.into()],
                )?;
                // A token no record holds any more goes too: a purged
                // name leaves no trace in the search index.
                self.exec(
                    "DELETE FROM name_tokens WHERE token = ?
                     AND NOT EXISTS (SELECT 1 FROM record_name_tokens p WHERE p.token = ?)",
                    &[t.into(), t.into()],
                )?;
            }
        }
        self.exec("DELETE FROM record_names WHERE record_id = ?", &[id.into()])?;
        Ok(())
    }

    /// The primary name a record's row holds now (None: no row, or no
    /// content).
    fn primary_name(&mut self, id: &str) -> Result<Option<String>, StoreError> {
        match self
            .query(
                "SELECT primary_name FROM records WHERE id = ?",
                &[id.into()],
            )?
            .first()
        {
            Some(r) => r.opt_text(0),
            None => Ok(None),
        }
    }

    /// Stores a verified record version as the current one (and in the
    /// version history), replacing names and links. The caller checked
    /// signature, originator and version order.
    pub fn put_record(&mut self, rec: &SignedRecord, names: &[String]) -> Result<(), StoreError> {
        self.put_record_hashed(rec, &rec.content_hash(), names)
    }

    /// [`Tx::put_record`] with the content hash already computed by the
    /// caller (it must be `rec.content_hash()`).
    pub fn put_record_hashed(
        &mut self,
        rec: &SignedRecord,
        hash: &[u8; 32],
        names: &[String],
    ) -> Result<(), StoreError> {
        self.records_changed = true;
        let b = &rec.body;
        let body = serde_json::to_string(b).expect("record bodies serialise");
        let hash = *hash;
        let status = if b.retracted { "retracted" } else { "active" };
        let (body_v, sig_v): (Value, Value) = if b.retracted {
            (Value::Null, Value::Null)
        } else {
            (body.clone().into(), (&rec.sig).into())
        };
        let primary = names.first().cloned();
        // A first version has no earlier names or links to replace (its id
        // is new: callers take in a version only above the one held); a
        // later one's tokens were stored under the primary name held now.
        let earlier_primary = if b.version > 1 {
            self.primary_name(&b.id)?
        } else {
            None
        };
        // A record id belongs to its originator for ever: a version from
        // anyone else never replaces the row (the node refuses it first;
        // this is the store's own guard).
        let n = self.exec(
            "INSERT INTO records (id, version, kind, originator, channel, file, tlp, code, created_at,
               expires_at, status, body, sig, content_hash, primary_name)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, kind = excluded.kind,
               file = excluded.file, tlp = excluded.tlp, code = excluded.code,
               created_at = excluded.created_at, expires_at = excluded.expires_at,
               status = excluded.status, body = excluded.body, sig = excluded.sig,
               content_hash = excluded.content_hash, primary_name = excluded.primary_name
             WHERE records.originator = excluded.originator",
            &[
                (&b.id).into(),
                b.version.into(),
                b.kind.as_str().into(),
                (&b.originator).into(),
                (&b.channel).into(),
                (&b.file).into(),
                b.handling.tlp.as_str().into(),
                b.handling.code.as_str().into(),
                (&b.created).into(),
                b.expires.clone().into(),
                status.into(),
                body_v,
                sig_v,
                hash.as_slice().into(),
                primary.clone().into(),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict(format!(
                "record {} belongs to another originator than {}",
                b.id, b.originator
            )));
        }
        // Every version is kept signed (a tombstone too: holders can prove
        // the originator withdrew the record) until purged.
        self.exec(
            "INSERT INTO record_versions (id, version, body, sig, content_hash, added_ms) VALUES (?, ?, ?, ?, ?, ?)",
            &[(&b.id).into(), b.version.into(), body.into(), (&rec.sig).into(), hash.as_slice().into(), crate::now_ms().into()],
        )?;
        if b.version > 1 {
            self.delete_names(&b.id, earlier_primary.as_deref())?;
            self.exec("DELETE FROM record_links WHERE src = ?", &[(&b.id).into()])?;
        }
        for n in names {
            self.exec(
                "INSERT INTO record_names (record_id, norm) VALUES (?, ?)",
                &[(&b.id).into(), n.into()],
            )?;
        }
        if let Some(p) = &primary {
            self.check_usable()?;
            let r = insert_name_tokens(&mut *self.conn, &b.id, p, names);
            self.failed |= r.is_err();
            r?;
        }
        for l in &b.links {
            self.exec(
                "INSERT INTO record_links (src, rel, dst, from_date, until_date) VALUES (?, ?, ?, ?, ?)",
                &[
                    (&b.id).into(),
                    l.rel.as_str().into(),
                    (&l.target).into(),
                    l.from.clone().into(),
                    l.until.clone().into(),
                ],
            )?;
        }
        self.exec(
            "INSERT INTO placements (record_id, channel, via) VALUES (?, ?, 'origin') ON CONFLICT (record_id, channel) DO NOTHING",
            &[(&b.id).into(), (&b.channel).into()],
        )?;
        if b.retracted {
            self.purge_content(&b.id, RecordStatus::Retracted, Some(b.version))?;
        }
        Ok(())
    }

    /// [`Tx::put_record_hashed`] for each of `items`, in order.
    ///
    /// On PostgreSQL, a batch of first versions (none retracted, no id
    /// twice: a new record's creation, the common case) is written as a
    /// few multi-row statements instead of about ten per record: the
    /// records upserted 100 per statement (`RETURNING` their ids, so a
    /// row kept by another originator is still a conflict), then every
    /// version, name, distinct token, posting, link and placement queued
    /// table by table, so each table's rows form one run that the backend
    /// merges into inserts of 100 rows and sends pipelined. The rows and
    /// their effect are those of the loop; only their order between
    /// tables differs (no table of these refers to another).
    pub fn put_records_hashed(
        &mut self,
        items: &[(&SignedRecord, &[u8; 32], &[String])],
    ) -> Result<(), StoreError> {
        let batch = self.dialect == crate::sql::Dialect::Postgres && items.len() > 1 && {
            let mut ids = std::collections::HashSet::with_capacity(items.len());
            items
                .iter()
                .all(|(r, _, _)| r.body.version == 1 && !r.body.retracted && ids.insert(&r.body.id))
        };
        if !batch {
            for (rec, hash, names) in items {
                self.put_record_hashed(rec, hash, names)?;
            }
            return Ok(());
        }
        self.records_changed = true;
        let bodies: Vec<String> = items
            .iter()
            .map(|(r, _, _)| serde_json::to_string(&r.body).expect("record bodies serialise"))
            .collect();
        let mut rest = items.iter().zip(&bodies).collect::<Vec<_>>();
        let mut rest = &mut rest[..];
        while !rest.is_empty() {
            let n = [100, 10, 1]
                .into_iter()
                .find(|n| *n <= rest.len())
                .expect("1 fits");
            let (now, later) = rest.split_at_mut(n);
            let mut params = Vec::with_capacity(n * 15);
            for ((rec, hash, names), body) in now.iter() {
                let b = &rec.body;
                params.extend([
                    (&b.id).into(),
                    b.version.into(),
                    b.kind.as_str().into(),
                    (&b.originator).into(),
                    (&b.channel).into(),
                    (&b.file).into(),
                    b.handling.tlp.as_str().into(),
                    b.handling.code.as_str().into(),
                    (&b.created).into(),
                    b.expires.clone().into(),
                    "active".into(),
                    Value::from(body.as_str()),
                    (&rec.sig).into(),
                    hash.as_slice().into(),
                    names.first().cloned().into(),
                ]);
            }
            let sql = format!(
                "INSERT INTO records (id, version, kind, originator, channel, file, tlp, code, created_at,
                   expires_at, status, body, sig, content_hash, primary_name)
                 VALUES {}
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version, kind = excluded.kind,
                   file = excluded.file, tlp = excluded.tlp, code = excluded.code,
                   created_at = excluded.created_at, expires_at = excluded.expires_at,
                   status = excluded.status, body = excluded.body, sig = excluded.sig,
                   content_hash = excluded.content_hash, primary_name = excluded.primary_name
                 WHERE records.originator = excluded.originator
                 RETURNING id",
                vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"; n].join(", ")
            );
            let stored = self.query(&sql, &params)?;
            if stored.len() < n {
                let stored = stored
                    .iter()
                    .map(|r| r.text(0))
                    .collect::<Result<std::collections::HashSet<_>, _>>()?;
                let ((rec, _, _), _) = now
                    .iter()
                    .find(|((r, _, _), _)| !stored.contains(&r.body.id))
                    .expect("a row was not stored");
                return Err(StoreError::Conflict(format!(
                    "record {} belongs to another originator than {}",
                    rec.body.id, rec.body.originator
                )));
            }
            rest = later;
        }
        let added = crate::now_ms();
        for ((rec, hash, _), body) in items.iter().zip(&bodies) {
            let b = &rec.body;
            self.exec_later(
                "INSERT INTO record_versions (id, version, body, sig, content_hash, added_ms) VALUES (?, ?, ?, ?, ?, ?)",
                vec![(&b.id).into(), b.version.into(), body.as_str().into(), (&rec.sig).into(), hash.as_slice().into(), added.into()],
            )?;
        }
        for (rec, _, names) in items {
            for n in names.iter() {
                self.exec_later(
                    "INSERT INTO record_names (record_id, norm) VALUES (?, ?)",
                    vec![(&rec.body.id).into(), n.into()],
                )?;
            }
        }
        // Each distinct token of the batch once, then each record's
        // postings (its tokens once each, under its primary name).
        let mut all: Vec<&str> = items
            .iter()
            .filter(|(_, _, names)| !names.is_empty())
            .flat_map(|(_, _, names)| names.iter().flat_map(|n| name_tokens(n)))
            .collect();
        all.sort_unstable();
        all.dedup();
        for t in all {
            self.exec_later(
                "INSERT INTO name_tokens (token) VALUES (?) ON CONFLICT (token) DO NOTHING",
                vec![t.into()],
            )?;
        }
        for (rec, _, names) in items {
            let Some(primary) = names.first() else {
                continue;
            };
            let mut tokens: Vec<&str> = names.iter().flat_map(|n| name_tokens(n)).collect();
            tokens.sort_unstable();
            tokens.dedup();
            for t in tokens {
                self.exec_later(
                    "INSERT INTO record_name_tokens (token, primary_name, record_id) VALUES (?, ?, ?)
                     ON CONFLICT (token, primary_name, record_id) DO NOTHING",
                    vec![t.into(), primary.into(), (&rec.body.id).into()],
                )?;
            }
        }
        for (rec, _, _) in items {
            for l in &rec.body.links {
                self.exec_later(
                    "INSERT INTO record_links (src, rel, dst, from_date, until_date) VALUES (?, ?, ?, ?, ?)",
                    vec![
                        (&rec.body.id).into(),
                        l.rel.as_str().into(),
                        (&l.target).into(),
                        l.from.clone().into(),
                        l.until.clone().into(),
                    ],
                )?;
            }
        }
        for (rec, _, _) in items {
            self.exec_later(
                "INSERT INTO placements (record_id, channel, via) VALUES (?, ?, 'origin') ON CONFLICT (record_id, channel) DO NOTHING",
                vec![(&rec.body.id).into(), (&rec.body.channel).into()],
            )?;
        }
        Ok(())
    }

    /// Removes every trace of a record's content — all versions' bodies
    /// (but the signed tombstone `keep`, which has none), names, links —
    /// leaving the tombstone row (id, hashes, status).
    pub fn purge_content(
        &mut self,
        id: &str,
        status: RecordStatus,
        keep: Option<u64>,
    ) -> Result<(), StoreError> {
        self.records_changed = true;
        let primary = self.primary_name(id)?;
        self.delete_names(id, primary.as_deref())?;
        self.exec(
            "UPDATE records SET body = NULL, sig = NULL, primary_name = NULL, status = ? WHERE id = ?",
            &[status.as_str().into(), id.into()],
        )?;
        self.exec(
            "UPDATE record_versions SET body = NULL, sig = NULL WHERE id = ? AND version <> ?",
            &[id.into(), keep.map_or(-1, |v| v as i64).into()],
        )?;
        self.exec("DELETE FROM record_links WHERE src = ?", &[id.into()])?;
        // What screening derived from it (matched names, explanations) goes
        // with it, whichever side of the alert it was.
        self.exec(
            "DELETE FROM alerts WHERE entry_id = ? OR record_id = ?",
            &[id.into(), id.into()],
        )?;
        self.purged = true;
        Ok(())
    }

    /// Records with an expiry at or before `now` whose content is still held.
    pub fn expired_records(&mut self, now: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT id FROM records WHERE expires_at IS NOT NULL AND expires_at <= ? AND status = 'active' ORDER BY id",
            &[now.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect()
    }

    pub fn add_placement(
        &mut self,
        record: &str,
        channel: &str,
        via: &str,
    ) -> Result<bool, StoreError> {
        let n = self.exec(
            "INSERT INTO placements (record_id, channel, via) VALUES (?, ?, ?) ON CONFLICT (record_id, channel) DO NOTHING",
            &[record.into(), channel.into(), via.into()],
        )?;
        Ok(n > 0)
    }

    /// The channels this node itself placed `record` in by a share (under
    /// the originator's release, or a hit/no-hit follow-up grant): where
    /// the originator's later versions must follow.
    pub fn shared_placements(&mut self, record: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT channel FROM placements WHERE record_id = ? AND via = 'share' ORDER BY channel",
            &[record.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect()
    }

    pub fn placements(&mut self, record: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT channel FROM placements WHERE record_id = ? ORDER BY channel",
            &[record.into()],
        )?
        .iter()
        .map(|r| r.text(0))
        .collect()
    }

    /// The record with this id if it is within `scope` (else None, exactly
    /// as if it did not exist).
    pub fn record(
        &mut self,
        id: &str,
        scope: &ReadScope,
    ) -> Result<Option<StoredRecord>, StoreError> {
        let mut sql = format!("SELECT {COLS} FROM records r WHERE r.id = ?");
        let mut params = vec![Value::from(id)];
        scope_sql(scope, &mut sql, &mut params);
        self.query(&sql, &params)?
            .first()
            .map(record_row)
            .transpose()
    }

    /// Whether record `id` exists within `scope` (any status).
    pub fn record_visible(&mut self, id: &str, scope: &ReadScope) -> Result<bool, StoreError> {
        let mut sql = String::from("SELECT 1 FROM records r WHERE r.id = ?");
        let mut params = vec![Value::from(id)];
        scope_sql(scope, &mut sql, &mut params);
        self.exists(&sql, &params)
    }

    /// Records within `scope` matching `filter`, ordered by creation.
    pub fn records(
        &mut self,
        filter: &RecordFilter,
        scope: &ReadScope,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let Some(l) = filter.limit else {
            let (mut sql, params) =
                self.filter_sql(&format!("SELECT {COLS} FROM records r"), filter, scope);
            sql.push_str(" ORDER BY r.created_at, r.id");
            return self.query(&sql, &params)?.iter().map(record_row).collect();
        };
        // A page: the ids are ordered and cut first, then only that page's
        // rows are read whole (sorting every matching row with its body
        // cost ~100 ms at 100,000 records; issue 14's pages).
        let (inner, mut params) = self.filter_sql("SELECT r.id FROM records r", filter, scope);
        let sql = format!(
            "SELECT {COLS} FROM records r WHERE r.id IN
               ({inner} ORDER BY r.created_at, r.id LIMIT ? OFFSET ?)
             ORDER BY r.created_at, r.id"
        );
        params.push(l.into());
        params.push(filter.offset.into());
        self.query(&sql, &params)?.iter().map(record_row).collect()
    }

    pub fn count_records(
        &mut self,
        filter: &RecordFilter,
        scope: &ReadScope,
    ) -> Result<u64, StoreError> {
        let (sql, params) = self.filter_sql("SELECT COUNT(*) FROM records r", filter, scope);
        to_u64(self.query(&sql, &params)?[0].int(0)?)
    }

    fn filter_sql(
        &self,
        head: &str,
        filter: &RecordFilter,
        scope: &ReadScope,
    ) -> (String, Vec<Value>) {
        let mut sql = format!("{head} WHERE 1 = 1");
        let mut params = Vec::new();
        if !filter.include_tombstones {
            sql.push_str(" AND r.status = 'active'");
        }
        if let Some(c) = &filter.channel {
            sql.push_str(" AND EXISTS (SELECT 1 FROM placements p WHERE p.record_id = r.id AND p.channel = ?)");
            params.push(c.into());
        }
        if let Some(f) = &filter.file {
            sql.push_str(" AND r.file = ?");
            params.push(f.into());
        }
        if let Some(k) = filter.kind {
            sql.push_str(" AND r.kind = ?");
            params.push(k.as_str().into());
        }
        if let Some(o) = &filter.originator {
            sql.push_str(" AND r.originator = ?");
            params.push(o.into());
        }
        scope_sql(scope, &mut sql, &mut params);
        (sql, params)
    }

    /// Active records within `scope` having a normalised name that
    /// contains `norm_fragment` (already normalised by the caller: single
    /// spaces between tokens), ordered by primary name then id, at most
    /// `limit`. Matching is case-sensitive on every backend; callers pass
    /// normalised (lower-case) text.
    ///
    /// A name holding the fragment holds each of the fragment's tokens
    /// inside one of its own tokens. So each fragment token picks record
    /// tokens (a scan of the distinct tokens, far fewer than the names);
    /// the rarest one's postings are the candidates, narrowed by the
    /// others' where that is cheaper than checking; candidates are sorted
    /// into the order of hits and checked (status, scope, the whole
    /// fragment against the whole name) a chunk at a time until `limit`
    /// are found: a common fragment stops after its first chunk, a rare
    /// one has few candidates.
    pub fn search_names(
        &mut self,
        norm_fragment: &str,
        scope: &ReadScope,
        limit: u64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let pattern = Value::from(format!("%{}%", like_escape(norm_fragment)));
        let mut tokens: Vec<&str> = name_tokens(norm_fragment).collect();
        if tokens.is_empty() {
            return self.search_names_scan(pattern, scope, limit);
        }
        tokens.sort_unstable();
        tokens.dedup();
        // The postings of the record tokens containing each fragment token:
        // counted first, so the rarest drives and the others only narrow
        // the candidates where reading them costs less than checking.
        let postings = "FROM record_name_tokens p
             WHERE p.token IN (SELECT t.token FROM name_tokens t WHERE t.token LIKE ? ESCAPE '!')";
        let mut counted = Vec::with_capacity(tokens.len());
        for t in tokens {
            let like = Value::from(format!("%{}%", like_escape(t)));
            let n = self.query(
                &format!("SELECT COUNT(*) {postings}"),
                std::slice::from_ref(&like),
            )?[0]
                .int(0)?;
            counted.push((n, like));
        }
        counted.sort_by_key(|(n, _)| *n);
        let mut candidates: Option<std::collections::HashMap<String, String>> = None;
        for (n, like) in counted {
            if let Some(c) = &candidates {
                if n as usize > 10 * c.len() {
                    break;
                }
            }
            let rows = self.query(
                &format!("SELECT DISTINCT p.record_id, p.primary_name {postings}"),
                &[like],
            )?;
            let mut these = std::collections::HashMap::with_capacity(rows.len());
            for r in rows {
                let id = r.text(0)?;
                if candidates.as_ref().is_none_or(|c| c.contains_key(&id)) {
                    these.insert(id, r.text(1)?);
                }
            }
            candidates = Some(these);
        }
        let mut ordered: Vec<(String, String)> = candidates
            .unwrap_or_default()
            .into_iter()
            .map(|(id, name)| (name, id))
            .collect();
        ordered.sort_unstable();
        let mut out = Vec::new();
        for chunk in ordered.chunks(SEARCH_CHUNK) {
            let mut sql = format!(
                "SELECT {COLS} FROM records r WHERE r.id IN ({}) AND r.status = 'active'
                 AND EXISTS (SELECT 1 FROM record_names n WHERE n.record_id = r.id
                             AND n.norm LIKE ? ESCAPE '!')",
                in_list(chunk.len())
            );
            let mut params: Vec<Value> = chunk.iter().map(|(_, id)| Value::from(id)).collect();
            params.push(pattern.clone());
            scope_sql(scope, &mut sql, &mut params);
            let mut found: std::collections::HashMap<String, StoredRecord> = self
                .query(&sql, &params)?
                .iter()
                .map(|r| record_row(r).map(|rec| (rec.id.clone(), rec)))
                .collect::<Result<_, _>>()?;
            for (_, id) in chunk {
                if let Some(rec) = found.remove(id) {
                    out.push(rec);
                    if out.len() as u64 >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// [`Tx::search_names`] for a fragment with no token (nothing but
    /// spaces): every stored name read.
    fn search_names_scan(
        &mut self,
        pattern: Value,
        scope: &ReadScope,
        limit: u64,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        // The matching ids are ordered and cut first; only those rows are
        // then read whole (as in `records` with a limit).
        let mut inner = String::from(
            "SELECT r.id FROM records r WHERE r.status = 'active' AND r.id IN
               (SELECT n.record_id FROM record_names n WHERE n.norm LIKE ? ESCAPE '!')",
        );
        let mut params = vec![pattern];
        scope_sql(scope, &mut inner, &mut params);
        let sql = format!(
            "SELECT {COLS} FROM records r WHERE r.id IN
               ({inner} ORDER BY r.primary_name, r.id LIMIT ?)
             ORDER BY r.primary_name, r.id"
        );
        params.push(limit.into());
        self.query(&sql, &params)?.iter().map(record_row).collect()
    }

    /// Links touching `id` whose other end is also within `scope`. Nothing
    /// when `id` itself is outside `scope` (or not an active record): a
    /// link is part of its source record's content.
    pub fn links_of(&mut self, id: &str, scope: &ReadScope) -> Result<Vec<LinkRow>, StoreError> {
        let mut sql = String::from(
            "SELECT l.src, l.rel, l.dst, l.from_date, l.until_date FROM record_links l
             JOIN records r ON r.id = (CASE WHEN l.src = ? THEN l.dst ELSE l.src END)
             WHERE (l.src = ? OR l.dst = ?) AND r.status = 'active'",
        );
        let mut params = vec![Value::from(id), Value::from(id), Value::from(id)];
        scope_sql(scope, &mut sql, &mut params);
        // The record itself must be visible too (the same scope, applied
        // to `records r`, inside an EXISTS).
        sql.push_str(" AND EXISTS (SELECT 1 FROM records r WHERE r.id = ? AND r.status = 'active'");
        params.push(Value::from(id));
        scope_sql(scope, &mut sql, &mut params);
        sql.push(')');
        sql.push_str(" ORDER BY l.src, l.rel, l.dst");
        self.query(&sql, &params)?
            .iter()
            .map(|r| {
                Ok(LinkRow {
                    src: r.text(0)?,
                    rel: r.text(1)?,
                    dst: r.text(2)?,
                    from: r.opt_text(3)?,
                    until: r.opt_text(4)?,
                })
            })
            .collect()
    }

    /// Links touching any of `ids` (at either end) whose both ends are
    /// active records within `scope`, each once, ordered by (src, rel,
    /// dst, from, until). A graph walk asks for a whole frontier at once:
    /// one query per direction and [`ID_CHUNK`] ids, each served by an
    /// index on `record_links` and the records' primary key.
    pub fn links_around(
        &mut self,
        ids: &[String],
        scope: &ReadScope,
    ) -> Result<Vec<LinkRow>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            for end in ["src", "dst"] {
                // Each end checked by a correlated EXISTS on the primary
                // key, not a join: with a long IN list and a scope naming
                // files, SQLite's planner would otherwise drive the join
                // from `records_by_file` and scan the whole file at
                // every hop (docs/BENCHMARKS.md, "Networks within N hops").
                let mut sql = format!(
                    "SELECT l.src, l.rel, l.dst, l.from_date, l.until_date FROM record_links l
                     WHERE l.{end} IN ({})",
                    in_list(chunk.len())
                );
                let mut params: Vec<Value> = chunk.iter().map(Value::from).collect();
                both_ends_in_scope(scope, &mut sql, &mut params);
                for r in self.query(&sql, &params)? {
                    out.push(link_row(&r)?);
                }
            }
        }
        sort_links(&mut out);
        Ok(out)
    }

    /// Links whose both ends are among `ids` and are active records
    /// within `scope`, each once, ordered as [`Tx::links_around`]: the
    /// links among the farthest records of a graph walk, without reading
    /// every link that leaves them. `ids` may hold a few thousand (each
    /// query names one chunk and all of `ids`).
    pub fn links_among(
        &mut self,
        ids: &[String],
        scope: &ReadScope,
    ) -> Result<Vec<LinkRow>, StoreError> {
        let all = in_list(ids.len());
        let mut out = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let mut sql = format!(
                "SELECT l.src, l.rel, l.dst, l.from_date, l.until_date FROM record_links l
                 WHERE l.src IN ({}) AND l.dst IN ({all})",
                in_list(chunk.len())
            );
            let mut params: Vec<Value> = chunk.iter().chain(ids).map(Value::from).collect();
            both_ends_in_scope(scope, &mut sql, &mut params);
            for r in self.query(&sql, &params)? {
                out.push(link_row(&r)?);
            }
        }
        sort_links(&mut out);
        Ok(out)
    }

    /// The records among `ids` within `scope` (any status), as a graph
    /// shows them, ordered by id; an id outside `scope` is simply absent.
    pub fn record_heads(
        &mut self,
        ids: &[String],
        scope: &ReadScope,
    ) -> Result<Vec<RecordHead>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            // The scope in a correlated EXISTS on the primary key, as in
            // `links_around`: beside a long IN list, SQLite would drive a
            // plain `r.file IN (…)` from `records_by_file`, scanning the
            // whole file (an analyst's walk at 100,000 records: 29 ms
            // median, 1.5 ms with the EXISTS).
            let mut sql = format!(
                "SELECT h.id, h.kind, h.file, h.tlp, h.status, h.body FROM records h WHERE h.id IN ({})
                 AND EXISTS (SELECT 1 FROM records r WHERE r.id = h.id",
                in_list(chunk.len())
            );
            let mut params: Vec<Value> = chunk.iter().map(Value::from).collect();
            scope_sql(scope, &mut sql, &mut params);
            sql.push(')');
            for r in self.query(&sql, &params)? {
                let corrupt =
                    |what: &str, e: String| StoreError::Corrupt(format!("record {what}: {e}"));
                out.push(RecordHead {
                    id: r.text(0)?,
                    kind: r
                        .text(1)?
                        .parse()
                        .map_err(|e: tansiq_core::Invalid| corrupt("kind", e.0))?,
                    file: r.text(2)?,
                    tlp: r
                        .text(3)?
                        .parse()
                        .map_err(|e: tansiq_core::Invalid| corrupt("tlp", e.0))?,
                    status: RecordStatus::parse(&r.text(4)?)?,
                    body: r.opt_text(5)?,
                });
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The stored versions of record `id`, oldest first (bodies `None`
    /// once purged). The caller checked that the reader may see it.
    pub fn record_versions(&mut self, id: &str) -> Result<Vec<VersionHash>, StoreError> {
        self.query(
            "SELECT id, version, content_hash, body FROM record_versions WHERE id = ? ORDER BY version",
            &[id.into()],
        )?
        .iter()
        .map(|r| {
            Ok(VersionHash {
                id: r.text(0)?,
                version: to_u64(r.int(1)?)?,
                hash: r.hash(2)?,
                body: r.opt_text(3)?,
            })
        })
        .collect()
    }

    /// Every stored version's content hash, for the audit cross-check.
    pub fn version_hashes(&mut self) -> Result<Vec<VersionHash>, StoreError> {
        self.query(
            "SELECT id, version, content_hash, body FROM record_versions ORDER BY id, version",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(VersionHash {
                id: r.text(0)?,
                version: to_u64(r.int(1)?)?,
                hash: r.hash(2)?,
                body: r.opt_text(3)?,
            })
        })
        .collect()
    }
}
