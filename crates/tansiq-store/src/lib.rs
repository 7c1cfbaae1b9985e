//! Tansiq's store: one [`Store`] handle over a private SQL backend
//! (SQLite by default; PostgreSQL implements the same [`sql::Backend`]).
//!
//! Every command runs in one transaction ([`Store::write`] /
//! [`Store::read`]); audit leaves are appended in the same transaction as
//! the change they record. Need-to-know is enforced here, in the queries:
//! every record read takes the caller's [`ReadScope`] and filters in SQL,
//! so a record outside it is never fetched, counted or searched.
//!
//! Architecture invariant: the store stores; it makes no policy decision
//! of its own (it applies the scope it is given) and signs nothing.

mod alerts;
mod fault;
pub mod gauges;
mod hits;
mod messages;
pub mod postgres;
mod records;
pub mod schema;
pub mod sql;
pub mod sqlite;
mod stix;
mod sync;
#[cfg(feature = "test-support")]
pub mod test_support;

use std::path::Path;
use std::sync::Arc;

use tansiq_core::audit::AuditEntry;
use tansiq_crypto::merkle::Frontier;

pub use alerts::AlertRow;
pub use gauges::{Counted, LatencySnapshot, Timings};
pub use hits::{HitAllowRow, HitBudgetRow, HitEntryHead, HitListRow, HitRequestRow};
pub use messages::MessageRow;
pub use records::{LinkRow, RecordFilter, RecordHead, RecordStatus, StoredRecord, VersionHash};
use sql::{Backend, Conn, Dialect, Row, Value};
pub use stix::{AddedVersion, StixImportRow, VersionCursor};
pub use sync::{
    precedence_rank, AlarmRow, DeferredRow, EnvelopeRow, HoldRow, OutboxRow, PeerLinkRow, StreamRow,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(String),
    #[error("the database stayed busy (another command holds the write lock); try again")]
    Busy,
    #[error("conflicting write: {0}")]
    Conflict(String),
    #[error("the store is damaged: {0}")]
    Corrupt(String),
    #[error("the database has schema version {found}, newer than this program supports ({supported}); upgrade tansiq")]
    TooNew { found: i64, supported: i64 },
}

/// The handle every layer above uses.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// A purge committed but its bytes may still be on disk (the scrub
    /// after it found a reader in the way): retried after later writes.
    scrub: Arc<ScrubState>,
    /// How long this process's transactions take (for `/metrics`).
    timings: Arc<Timings>,
}

/// When the store last tried to scrub and whether one is still owed.
#[derive(Default)]
struct ScrubState {
    pending: std::sync::atomic::AtomicBool,
    last_try_ms: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or with `create`, creates) the SQLite store at `path` and
    /// brings its schema up to date.
    pub fn open_sqlite(path: &Path, create: bool) -> Result<Store, StoreError> {
        let store = Store {
            backend: Arc::new(sqlite::Sqlite::open(path, create)?),
            scrub: Default::default(),
            timings: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens (or with `create`, creates) the store in the PostgreSQL
    /// database at `url` (`postgres://user:password@host:port/database`,
    /// see [`postgres::PgOptions`] for the extra `pool_size`,
    /// `statement_timeout`, `connect_retries` and `schema` parameters) and
    /// brings its schema up to date; migrations run once even when several
    /// processes open the database together.
    ///
    /// Without `create`, a database (schema) holding no Tansiq store is an
    /// error. With `create`, a database that already holds a store is
    /// opened as it is: the caller tells an existing node by its
    /// `meta` `node_id` (as `tansiq init` does before writing its own).
    pub fn open_postgres(url: &str, create: bool) -> Result<Store, StoreError> {
        let pg = postgres::Postgres::connect(url, create)?;
        let store = Store {
            backend: Arc::new(pg),
            scrub: Default::default(),
            timings: Default::default(),
        };
        if !create {
            let version =
                store.read(|tx| schema::current_version(tx.conn.as_mut(), Dialect::Postgres))?;
            if version == 0 {
                return Err(StoreError::Db(
                    "this PostgreSQL database (schema) holds no Tansiq store; create one with tansiq init --store <url>".into(),
                ));
            }
        }
        store.migrate()?;
        Ok(store)
    }

    pub fn from_backend(backend: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let store = Store {
            backend,
            scrub: Default::default(),
            timings: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let d = self.backend.dialect();
        let mut conn = self.backend.begin(true)?;
        schema::migrate(conn.as_mut(), d)?;
        conn.commit()
    }

    pub fn dialect(&self) -> Dialect {
        self.backend.dialect()
    }

    /// Runs `f` in one write transaction: committed if `f` returns Ok,
    /// rolled back otherwise.
    pub fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let t = std::time::Instant::now();
        self.run_write(t, self.backend.begin(true)?, false, f)
    }

    /// Like [`Store::write`], but the commit may skip the fsync (see
    /// `Backend::begin_relaxed`): for the audit entries of reads, so a
    /// read does not cost a disk flush. Survives a process crash.
    pub fn write_relaxed<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let t = std::time::Instant::now();
        self.run_write(t, self.backend.begin_relaxed()?, false, f)
    }

    /// A read whose audit entries must be kept: on PostgreSQL a
    /// transaction **without the write lock** (`REPEATABLE READ`: one
    /// snapshot, as [`Store::read`]; commit
    /// without waiting for the disk, as [`Store::write_relaxed`]) in
    /// which [`Tx::audit_append`] queues the entry in `audit_pending`;
    /// the next write transaction that touches the audit tree appends
    /// the queued entries first, in one order, so the log stays one
    /// strict sequence and readers never wait for writers (docs/STORE.md,
    /// "Audited reads"). On SQLite (one writer anyway) it is
    /// [`Store::write_relaxed`]: the entry is appended at once. `f` must
    /// only read and audit.
    pub fn read_audited<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let t = std::time::Instant::now();
        match self.backend.dialect() {
            Dialect::Sqlite => self.run_write(t, self.backend.begin_relaxed()?, false, f),
            Dialect::Postgres => self.run_write(t, self.backend.begin_unlocked_relaxed()?, true, f),
        }
    }

    /// A write transaction without the store's write lock (PostgreSQL:
    /// plain `READ COMMITTED`; SQLite: an ordinary write transaction).
    /// Only for row-local changes that are correct beside concurrent
    /// writers — outbox claims and lease renewals — so a delivery worker
    /// never queues behind (or holds) the lock every state change takes.
    pub fn write_unlocked<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let t = std::time::Instant::now();
        self.run_write(t, self.backend.begin_unlocked()?, false, f)
    }

    /// On a thread of its own, calls `wake(true)` whenever a transaction
    /// commits new outbox work for this store ([`Tx::notify_work`]) and
    /// `wake(false)` about once a second, until `wake` returns false.
    /// Returns false when the backend cannot (SQLite): the caller polls.
    pub fn watch_work(
        &self,
        wake: impl Fn(bool) -> bool + Send + 'static,
    ) -> Result<bool, StoreError> {
        self.backend.watch_work(Box::new(wake))
    }

    /// The transaction that began at `began` (before waiting for the
    /// write lock): timed into [`Timings::write`] once it committed.
    fn run_write<T, E: From<StoreError>>(
        &self,
        began: std::time::Instant,
        conn: Box<dyn Conn + '_>,
        queue_audit: bool,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut tx = Tx {
            conn,
            dialect: self.backend.dialect(),
            frontier: None,
            failed: false,
            write: true,
            purged: false,
            records_changed: false,
            queue_audit,
        };
        let out = f(&mut tx)?;
        let purged = tx.purged;
        tx.commit()?;
        self.timings.write.observe(began.elapsed());
        self.scrub_after_commit(purged);
        Ok(out)
    }

    /// Durations of this handle's read and write transactions.
    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Content purged by a committed transaction leaves the files at once
    /// (SQLite: the WAL checkpointed and truncated; PostgreSQL: VACUUM),
    /// whichever path purged it — a retraction made here or received, an
    /// expiry. A scrub kept from finishing by a reader is owed and retried
    /// after later writes, at most once a second (`serve` writes every
    /// second). The commit already succeeded: a failed scrub is not the
    /// caller's error.
    fn scrub_after_commit(&self, purged: bool) {
        use std::sync::atomic::Ordering;
        let owed = self.scrub.pending.load(Ordering::Relaxed);
        if !purged && !owed {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if !purged && now < self.scrub.last_try_ms.load(Ordering::Relaxed) + 1000 {
            return;
        }
        self.scrub.last_try_ms.store(now, Ordering::Relaxed);
        let done = self.backend.scrub().is_ok();
        self.scrub.pending.store(!done, Ordering::Relaxed);
    }

    /// Whether purged content may still be on disk (a scrub is owed).
    pub fn scrub_owed(&self) -> bool {
        self.scrub
            .pending
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `f` in a read transaction (a consistent snapshot).
    pub fn read<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let began = std::time::Instant::now();
        let conn = self.backend.begin(false)?;
        let mut tx = Tx {
            conn,
            dialect: self.backend.dialect(),
            frontier: None,
            failed: false,
            write: false,
            purged: false,
            records_changed: false,
            queue_audit: false,
        };
        let out = f(&mut tx);
        drop(tx);
        self.timings.read.observe(began.elapsed());
        out
    }

    /// Copies every row of every table of this store into `dest`, a
    /// freshly created store of the same schema version (possibly another
    /// backend), in one transaction on `dest`. Returns the rows copied.
    /// This store is only read.
    pub fn copy_into(&self, dest: &Store) -> Result<u64, StoreError> {
        self.copy_into_with(dest, &|_, _| {})
    }

    /// [`Store::copy_into`], telling `progress` the rows copied of how many.
    pub fn copy_into_with(
        &self,
        dest: &Store,
        progress: &dyn Fn(u64, u64),
    ) -> Result<u64, StoreError> {
        self.read(|src| {
            let mut total = 0;
            for t in schema::TABLES {
                total += to_u64(src.query(&format!("SELECT COUNT(*) FROM {t}"), &[])?[0].int(0)?)?;
            }
            dest.write(|dst| {
                let mut n = 0;
                for t in schema::TABLES {
                    progress(n, total);
                    for row in src.query(&format!("SELECT * FROM {t}"), &[])? {
                        let marks = vec!["?"; row.0.len()].join(", ");
                        // `meta` already holds the destination's schema_version.
                        dst.exec(
                            &format!("INSERT INTO {t} VALUES ({marks}) ON CONFLICT DO NOTHING"),
                            &row.0,
                        )?;
                        n += 1;
                        if n % 1024 == 0 {
                            progress(n, total);
                        }
                    }
                }
                progress(n, total);
                Ok(n)
            })
        })
    }

    /// For benchmarks only: adds `n` filler rows to `records`, copies of
    /// record `template`'s routing columns with ids `{prefix}{000000001…}`,
    /// tombstone-sized (no body, status `retracted`), in transactions of
    /// at most 500,000 rows, by one `INSERT … SELECT` each (PostgreSQL
    /// `generate_series`, SQLite a recursive CTE). Returns rows added.
    #[doc(hidden)]
    pub fn bench_fill_records(
        &self,
        template: &str,
        prefix: &str,
        n: u64,
    ) -> Result<u64, StoreError> {
        const CHUNK: u64 = 500_000;
        let cols = "version, kind, originator, channel, file, tlp, code, created_at, expires_at";
        let mut done = 0;
        while done < n {
            let (lo, hi) = (done + 1, (done + CHUNK).min(n));
            let sql = match self.dialect() {
                Dialect::Postgres => format!(
                    "INSERT INTO records (id, {cols}, status, body, sig, content_hash, primary_name)
                     SELECT ? || lpad(g::text, 10, '0'), {cols}, 'retracted', NULL, NULL, content_hash, NULL
                     FROM records, generate_series(?::bigint, ?::bigint) g WHERE records.id = ?"
                ),
                Dialect::Sqlite => format!(
                    "WITH RECURSIVE g(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM g WHERE i < ?2)
                     INSERT INTO records (id, {cols}, status, body, sig, content_hash, primary_name)
                     SELECT ?3 || printf('%010d', g.i), {cols}, 'retracted', NULL, NULL, content_hash, NULL
                     FROM records, g WHERE records.id = ?4"
                ),
            };
            let params: Vec<Value> = match self.dialect() {
                Dialect::Postgres => vec![prefix.into(), lo.into(), hi.into(), template.into()],
                Dialect::Sqlite => vec![lo.into(), hi.into(), prefix.into(), template.into()],
            };
            let added = self.write(|tx| {
                tx.records_changed = true;
                tx.exec(&sql, &params)
            })?;
            if added == 0 {
                return Err(StoreError::Db(format!("no record {template} to copy")));
            }
            done = hi;
        }
        Ok(done)
    }

    pub fn scrub(&self) -> Result<(), StoreError> {
        self.backend.scrub()
    }

    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        self.backend.backup_to(dest, &|_, _| {})
    }

    /// [`Store::backup_to`], telling `progress` the pages copied of how many.
    pub fn backup_to_with(
        &self,
        dest: &Path,
        progress: &dyn Fn(u64, u64),
    ) -> Result<(), StoreError> {
        self.backend.backup_to(dest, progress)
    }
}

/// One transaction, with the typed operations of every table.
///
/// A statement that fails poisons the transaction on every backend (as
/// PostgreSQL does by itself): later statements and the commit fail too,
/// and nothing of it is kept. So a caller that swallows an error cannot
/// commit half of a command.
pub struct Tx<'a> {
    conn: Box<dyn Conn + 'a>,
    dialect: Dialect,
    /// The audit tree's frontier, loaded on first append and written back
    /// at commit (one read and one write per transaction, not per leaf).
    frontier: Option<(Frontier, bool)>,
    /// A statement failed: the transaction can only roll back.
    failed: bool,
    /// A write transaction (`Store::write`/`write_relaxed`), not a read.
    write: bool,
    /// Content was purged: the store scrubs its files after the commit.
    purged: bool,
    /// A record row changed (a version stored, content purged): the
    /// commit advances `meta.records_gen` ([`Tx::records_gen`]).
    records_changed: bool,
    /// An audited read without the write lock ([`Store::read_audited`]
    /// on PostgreSQL): `audit_append` queues the entry in
    /// `audit_pending` instead of appending it to the tree.
    queue_audit: bool,
}

/// A user as stored, with its token's dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user: tansiq_core::user::User,
    pub created_at: String,
    /// None for a token issued before expiry was stored (schema step 8).
    pub token_expires_at: Option<String>,
    pub token_revoked_at: Option<String>,
}

const USER_COLS: &str = "name, role, files, created_at, token_expires_at, token_revoked_at";

/// A row of the peers table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRow {
    pub id: String,
    pub name: String,
    pub country: String,
    pub endpoint: String,
    /// The peer's signed card, JSON.
    pub card: String,
}

#[derive(Debug, Clone)]
pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub status: String,
    /// `ChannelState` as JSON.
    pub state: String,
}

#[derive(Debug, Clone)]
pub struct CheckpointRow {
    pub size: u64,
    pub root: [u8; 32],
    pub note: String,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct ReleaseRow {
    pub id: String,
    pub record_id: String,
    pub requester: String,
    pub originator: String,
    pub target_channel: String,
    pub target_members: Vec<String>,
    pub status: String,
    pub reason: Option<String>,
    /// The signed release, JSON, once granted.
    pub signed: Option<String>,
    pub created_at: String,
    pub decided_at: Option<String>,
}

fn json_list(s: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))
}

/// Milliseconds since the epoch, now (when a version was stored here).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn to_u64(i: i64) -> Result<u64, StoreError> {
    u64::try_from(i).map_err(|_| StoreError::Corrupt(format!("negative count {i}")))
}

impl<'a> Tx<'a> {
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn check_usable(&self) -> Result<(), StoreError> {
        if self.failed {
            return Err(StoreError::Db(
                "an earlier statement of this transaction failed; it can only be rolled back"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn exec(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        self.check_usable()?;
        let r = self.conn.execute(sql, params);
        self.failed |= r.is_err();
        r
    }

    /// A statement whose row count nobody needs: the backend may send it
    /// with the next statement that needs an answer, or with the commit
    /// (PostgreSQL: one round trip for the lot). Its error comes back from
    /// that later call. Not for a statement whose failure the caller must
    /// see at once (a conflict it reports as such).
    pub(crate) fn exec_later(&mut self, sql: &str, params: Vec<Value>) -> Result<(), StoreError> {
        if !self.write {
            // A write in a read transaction fails now, as on SQLite.
            return self.exec(sql, &params).map(|_| ());
        }
        self.check_usable()?;
        let r = self.conn.execute_later(sql, params);
        self.failed |= r.is_err();
        r
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        self.check_usable()?;
        let r = self.conn.query(sql, params);
        self.failed |= r.is_err();
        r
    }

    /// Whether `sql` (a `SELECT 1 …`) returns any row.
    pub(crate) fn exists(&mut self, sql: &str, params: &[Value]) -> Result<bool, StoreError> {
        Ok(!self.query(sql, params)?.is_empty())
    }

    fn commit(mut self) -> Result<(), StoreError> {
        self.check_usable()?;
        if let Some((f, true)) = self.frontier.take() {
            self.exec_later(
                "UPDATE audit_head SET size = ?, frontier = ? WHERE id = 1",
                vec![f.size().into(), f.to_bytes().into()],
            )?;
        }
        if self.records_changed {
            // One counter per committed change of the records table, so a
            // process caching what it derived from the records (the
            // screening index) knows when to read them again. In the same
            // transaction as the change: a rolled-back change never
            // advances it, and it never goes back.
            self.exec(
                "INSERT INTO meta (key, value) VALUES ('records_gen', '1')
                 ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS BIGINT) + 1 AS TEXT)",
                &[],
            )?;
        }
        let write = self.write;
        if write {
            fault::commit_point(fault::Phase::Before);
        }
        self.conn.commit()?;
        if write {
            fault::commit_point(fault::Phase::After);
        }
        Ok(())
    }

    /// How many committed transactions changed the records table (a
    /// version stored, content purged) since the store was created: equal
    /// values mean the same records. Read it before the records it
    /// stands for (a change committed in between is then seen as a new
    /// generation at the next read, never the reverse).
    pub fn records_gen(&mut self) -> Result<u64, StoreError> {
        Ok(self
            .meta_get("records_gen")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    // ---- meta -------------------------------------------------------

    pub fn meta_get(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        let rows = self.query("SELECT value FROM meta WHERE key = ?", &[key.into()])?;
        rows.first().map(|r| r.text(0)).transpose()
    }

    pub fn meta_set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[key.into(), value.into()],
        )?;
        Ok(())
    }

    // ---- peers ------------------------------------------------------

    pub fn put_peer(&mut self, p: &PeerRow, at: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO peers (id, name, country, endpoint, card, added_at) VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, country = excluded.country,
               endpoint = excluded.endpoint, card = excluded.card",
            &[
                (&p.id).into(),
                (&p.name).into(),
                (&p.country).into(),
                (&p.endpoint).into(),
                (&p.card).into(),
                at.into(),
            ],
        )?;
        Ok(())
    }

    pub fn peers(&mut self) -> Result<Vec<PeerRow>, StoreError> {
        self.query(
            "SELECT id, name, country, endpoint, card FROM peers ORDER BY name, id",
            &[],
        )?
        .iter()
        .map(peer_row)
        .collect()
    }

    pub fn peer(&mut self, id: &str) -> Result<Option<PeerRow>, StoreError> {
        self.query(
            "SELECT id, name, country, endpoint, card FROM peers WHERE id = ?",
            &[id.into()],
        )?
        .first()
        .map(peer_row)
        .transpose()
    }

    /// Forgets peer `id`: its row (its pinned keys), what is queued for
    /// it, its link state and what it was allowed to ask or was cached
    /// for it (hit/no-hit). Returns the outbox rows dropped, or None when
    /// there is no such peer.
    pub fn remove_peer(&mut self, id: &str) -> Result<Option<u64>, StoreError> {
        if self.exec("DELETE FROM peers WHERE id = ?", &[id.into()])? == 0 {
            return Ok(None);
        }
        let dropped = self.exec("DELETE FROM sync_outbox WHERE to_node = ?", &[id.into()])?;
        for sql in [
            "DELETE FROM peer_links WHERE peer = ?",
            "DELETE FROM hit_allow WHERE peer = ?",
            "DELETE FROM hit_budget WHERE peer = ?",
            "DELETE FROM hit_list WHERE peer = ?",
        ] {
            self.exec(sql, &[id.into()])?;
        }
        Ok(Some(dropped))
    }

    // ---- users ------------------------------------------------------

    pub fn add_user(
        &mut self,
        u: &tansiq_core::user::User,
        token_hash: &[u8; 32],
        at: &str,
    ) -> Result<(), StoreError> {
        let files = serde_json::to_string(&u.files).expect("string lists serialise");
        self.exec(
            "INSERT INTO users (name, role, files, token_hash, created_at) VALUES (?, ?, ?, ?, ?)",
            &[
                (&u.name).into(),
                u.role.as_str().into(),
                files.into(),
                token_hash.as_slice().into(),
                at.into(),
            ],
        )?;
        Ok(())
    }

    pub fn user_exists(&mut self, name: &str) -> Result<bool, StoreError> {
        self.exists("SELECT 1 FROM users WHERE name = ?", &[name.into()])
    }

    /// The user whose token hashes to `token_hash` (the hash is the
    /// lookup key; the comparison that matters happened in SQL on a hash,
    /// so no timing on the secret itself).
    pub fn user_by_token(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<tansiq_core::user::User>, StoreError> {
        let rows = self.query(
            "SELECT name, role, files FROM users WHERE token_hash = ?",
            &[token_hash.as_slice().into()],
        )?;
        rows.first().map(user_row).transpose()
    }

    pub fn users(&mut self) -> Result<Vec<tansiq_core::user::User>, StoreError> {
        self.query("SELECT name, role, files FROM users ORDER BY name", &[])?
            .iter()
            .map(user_row)
            .collect()
    }

    /// A user with its token's dates.
    pub fn user_row(&mut self, name: &str) -> Result<Option<UserRow>, StoreError> {
        self.query(
            &format!("SELECT {USER_COLS} FROM users WHERE name = ?"),
            &[name.into()],
        )?
        .first()
        .map(user_full_row)
        .transpose()
    }

    /// The user whose token hashes to `token_hash`, with its token's
    /// dates (the caller checks expiry against its clock).
    pub fn user_row_by_token(
        &mut self,
        token_hash: &[u8; 32],
    ) -> Result<Option<UserRow>, StoreError> {
        self.query(
            &format!("SELECT {USER_COLS} FROM users WHERE token_hash = ?"),
            &[token_hash.as_slice().into()],
        )?
        .first()
        .map(user_full_row)
        .transpose()
    }

    /// Every user with its token's dates, by name.
    pub fn user_rows(&mut self) -> Result<Vec<UserRow>, StoreError> {
        self.query(&format!("SELECT {USER_COLS} FROM users ORDER BY name"), &[])?
            .iter()
            .map(user_full_row)
            .collect()
    }

    /// Gives user `name` a new token hash and expiry (clearing any
    /// revocation): the old token stops working with this commit.
    /// Returns false when there is no such user.
    pub fn set_user_token(
        &mut self,
        name: &str,
        token_hash: &[u8; 32],
        expires_at: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE users SET token_hash = ?, token_expires_at = ?, token_revoked_at = NULL WHERE name = ?",
            &[token_hash.as_slice().into(), expires_at.into(), name.into()],
        )? == 1)
    }

    /// Revokes user `name`'s token: its hash is replaced by `dead_hash`
    /// (the hash of no token the caller kept) and the revocation dated.
    /// Returns false when there is no such user.
    pub fn revoke_user_token(
        &mut self,
        name: &str,
        dead_hash: &[u8; 32],
        at: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "UPDATE users SET token_hash = ?, token_revoked_at = ? WHERE name = ?",
            &[dead_hash.as_slice().into(), at.into(), name.into()],
        )? == 1)
    }

    /// Deletes user `name`. Returns false when there is no such user.
    pub fn remove_user(&mut self, name: &str) -> Result<bool, StoreError> {
        Ok(self.exec("DELETE FROM users WHERE name = ?", &[name.into()])? == 1)
    }

    // ---- channels ---------------------------------------------------

    pub fn put_channel(&mut self, c: &ChannelRow, at: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO channels (id, name, status, state, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, status = excluded.status,
               state = excluded.state, updated_at = excluded.updated_at",
            &[
                (&c.id).into(),
                (&c.name).into(),
                (&c.status).into(),
                (&c.state).into(),
                at.into(),
            ],
        )?;
        Ok(())
    }

    pub fn channel(&mut self, id: &str) -> Result<Option<ChannelRow>, StoreError> {
        self.query(
            "SELECT id, name, status, state FROM channels WHERE id = ?",
            &[id.into()],
        )?
        .first()
        .map(channel_row)
        .transpose()
    }

    pub fn channels(&mut self) -> Result<Vec<ChannelRow>, StoreError> {
        self.query(
            "SELECT id, name, status, state FROM channels ORDER BY name, id",
            &[],
        )?
        .iter()
        .map(channel_row)
        .collect()
    }

    // ---- releases ---------------------------------------------------

    pub fn put_release(&mut self, r: &ReleaseRow) -> Result<(), StoreError> {
        let members = serde_json::to_string(&r.target_members).expect("string lists serialise");
        self.exec(
            "INSERT INTO releases (id, record_id, requester, originator, target_channel, target_members,
               status, reason, signed, created_at, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, reason = excluded.reason,
               signed = excluded.signed, decided_at = excluded.decided_at",
            &[
                (&r.id).into(),
                (&r.record_id).into(),
                (&r.requester).into(),
                (&r.originator).into(),
                (&r.target_channel).into(),
                members.into(),
                (&r.status).into(),
                r.reason.clone().into(),
                r.signed.clone().into(),
                (&r.created_at).into(),
                r.decided_at.clone().into(),
            ],
        )?;
        Ok(())
    }

    const RELEASE_COLS: &'static str = "id, record_id, requester, originator, target_channel, target_members, status, reason, signed, created_at, decided_at";

    pub fn release(&mut self, id: &str) -> Result<Option<ReleaseRow>, StoreError> {
        let sql = format!("SELECT {} FROM releases WHERE id = ?", Self::RELEASE_COLS);
        self.query(&sql, &[id.into()])?
            .first()
            .map(release_row)
            .transpose()
    }

    pub fn releases(&mut self) -> Result<Vec<ReleaseRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM releases ORDER BY created_at, id",
            Self::RELEASE_COLS
        );
        self.query(&sql, &[])?.iter().map(release_row).collect()
    }

    /// Granted releases of `record` into `channel`.
    pub fn granted_releases(
        &mut self,
        record: &str,
        channel: &str,
    ) -> Result<Vec<ReleaseRow>, StoreError> {
        let sql = format!(
            "SELECT {} FROM releases WHERE record_id = ? AND target_channel = ? AND status = 'granted'",
            Self::RELEASE_COLS
        );
        self.query(&sql, &[record.into(), channel.into()])?
            .iter()
            .map(release_row)
            .collect()
    }

    // ---- audit ------------------------------------------------------

    /// The audit tree's frontier, loaded (and its head row locked on
    /// PostgreSQL) on first use in this transaction. A write transaction
    /// appends the queued entries of audited reads (`audit_pending`)
    /// first, so they join the one sequence in the order of this drain.
    fn frontier_loaded(&mut self) -> Result<&mut Frontier, StoreError> {
        if self.frontier.is_none() {
            let lock = match self.dialect {
                // Appends are serialised by the row lock on PostgreSQL and
                // by the database write lock on SQLite.
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            let head = format!("SELECT size, frontier FROM audit_head WHERE id = 1{lock}");
            let mut rows = self.query(&head, &[])?;
            if rows.is_empty() {
                // The first append ever: create the head row. ON CONFLICT
                // makes a concurrent first append (PostgreSQL) wait for the
                // other and then lock the row it created.
                self.exec(
                    "INSERT INTO audit_head (id, size, frontier) VALUES (1, 0, ?) ON CONFLICT (id) DO NOTHING",
                    &[Frontier::new().to_bytes().into()],
                )?;
                rows = self.query(&head, &[])?;
            }
            let f = match rows.first() {
                Some(r) => {
                    let f = Frontier::from_bytes(&r.blob(1)?)
                        .map_err(|e| StoreError::Corrupt(format!("audit frontier: {e}")))?;
                    if f.size() != to_u64(r.int(0)?)? {
                        return Err(StoreError::Corrupt("audit frontier size mismatch".into()));
                    }
                    f
                }
                None => return Err(StoreError::Corrupt("audit head row missing".into())),
            };
            self.frontier = Some((f, false));
            self.drain_pending()?;
        }
        Ok(&mut self.frontier.as_mut().expect("loaded above").0)
    }

    fn frontier(&mut self) -> Result<&mut Frontier, StoreError> {
        self.frontier_loaded()?;
        let (f, dirty) = self.frontier.as_mut().expect("loaded above");
        *dirty = true;
        Ok(f)
    }

    /// Appends the queued entries of audited reads, oldest first (by
    /// their time, then salt), and deletes them from the queue — under the
    /// head row's lock, so each is appended exactly once. Entries queued
    /// by reads still running are left for the next writer.
    fn drain_pending(&mut self) -> Result<(), StoreError> {
        let rows = self.query(
            "DELETE FROM audit_pending RETURNING at, actor, action, object, details, salt",
            &[],
        )?;
        let mut queued = rows
            .iter()
            .map(|r| {
                let salt = r.blob(5)?;
                Ok(AuditEntry {
                    idx: 0,
                    at: r.text(0)?,
                    actor: r.text(1)?,
                    action: r.text(2)?,
                    object: r.text(3)?,
                    details: serde_json::from_str(&r.text(4)?)
                        .map_err(|e| StoreError::Corrupt(format!("queued audit details: {e}")))?,
                    salt: <[u8; 16]>::try_from(salt.as_slice()).map_err(|_| {
                        StoreError::Corrupt("queued audit salt is not 16 bytes".into())
                    })?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        queued.sort_by(|a, b| (&a.at, a.salt).cmp(&(&b.at, b.salt)));
        for e in queued {
            self.append_entry(e)?;
        }
        Ok(())
    }

    /// Appends `entry` at the tree's next index.
    fn append_entry(&mut self, mut entry: AuditEntry) -> Result<u64, StoreError> {
        let idx = self.frontier()?.size();
        entry.idx = idx;
        let leaf = entry.leaf();
        self.exec_later(
            "INSERT INTO audit_log (idx, at, actor, action, object, salt, details, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                idx.into(),
                entry.at.into(),
                entry.actor.into(),
                entry.action.into(),
                entry.object.into(),
                entry.salt.as_slice().into(),
                entry.details.to_string().into(),
                leaf.as_slice().into(),
            ],
        )?;
        self.frontier()?.push(leaf);
        Ok(idx)
    }

    /// Appends an audit entry (salt chosen here) and returns its index.
    /// In an audited read on PostgreSQL ([`Store::read_audited`]) the
    /// entry is queued instead, to be appended by the next writer, and
    /// `None` is returned.
    pub fn audit_append(
        &mut self,
        at: &str,
        actor: &str,
        action: &str,
        object: &str,
        details: serde_json::Value,
    ) -> Result<Option<u64>, StoreError> {
        let entry = AuditEntry {
            idx: 0,
            at: at.to_string(),
            actor: actor.to_string(),
            action: action.to_string(),
            object: object.to_string(),
            details,
            salt: tansiq_crypto::random_bytes(),
        };
        if self.queue_audit {
            self.exec_later(
                "INSERT INTO audit_pending (salt, at, actor, action, object, details) VALUES (?, ?, ?, ?, ?, ?)",
                vec![
                    entry.salt.as_slice().into(),
                    entry.at.into(),
                    entry.actor.into(),
                    entry.action.into(),
                    entry.object.into(),
                    entry.details.to_string().into(),
                ],
            )?;
            return Ok(None);
        }
        self.append_entry(entry).map(Some)
    }

    /// Audit entries queued by audited reads and not yet appended.
    pub fn audit_pending_count(&mut self) -> Result<u64, StoreError> {
        to_u64(self.query("SELECT COUNT(*) FROM audit_pending", &[])?[0].int(0)?)
    }

    /// Appends the queued entries of audited reads now (a write
    /// transaction does it anyway when it first touches the tree).
    pub fn audit_drain(&mut self) -> Result<(), StoreError> {
        self.frontier_loaded()?;
        Ok(())
    }

    /// The audit tree's current size and root.
    pub fn audit_head(&mut self) -> Result<(u64, [u8; 32]), StoreError> {
        if self.write && !self.queue_audit {
            // A writer's head includes the queued entries of reads.
            let f = self.frontier_loaded()?;
            return Ok((f.size(), f.root()));
        }
        if let Some((f, _)) = &self.frontier {
            return Ok((f.size(), f.root()));
        }
        let rows = self.query("SELECT frontier FROM audit_head WHERE id = 1", &[])?;
        match rows.first() {
            None => Ok((0, Frontier::new().root())),
            Some(r) => {
                let f = Frontier::from_bytes(&r.blob(0)?)
                    .map_err(|e| StoreError::Corrupt(format!("audit frontier: {e}")))?;
                Ok((f.size(), f.root()))
            }
        }
    }

    /// Audit entries with `from <= idx < to`, in index order, with the
    /// leaf hash stored beside each.
    pub fn audit_entries(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<(AuditEntry, [u8; 32])>, StoreError> {
        let rows = self.query(
            "SELECT idx, at, actor, action, object, salt, details, leaf FROM audit_log WHERE idx >= ? AND idx < ? ORDER BY idx",
            &[from.into(), to.into()],
        )?;
        rows.iter()
            .map(|r| {
                let salt = r.blob(5)?;
                let entry = AuditEntry {
                    idx: to_u64(r.int(0)?)?,
                    at: r.text(1)?,
                    actor: r.text(2)?,
                    action: r.text(3)?,
                    object: r.text(4)?,
                    salt: <[u8; 16]>::try_from(salt.as_slice())
                        .map_err(|_| StoreError::Corrupt("audit salt is not 16 bytes".into()))?,
                    details: serde_json::from_str(&r.text(6)?)
                        .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
                };
                Ok((entry, r.hash(7)?))
            })
            .collect()
    }

    pub fn audit_count(&mut self) -> Result<u64, StoreError> {
        to_u64(self.query("SELECT COUNT(*) FROM audit_log", &[])?[0].int(0)?)
    }

    pub fn put_checkpoint(&mut self, c: &CheckpointRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)
             ON CONFLICT (size) DO NOTHING",
            &[
                c.size.into(),
                c.root.as_slice().into(),
                (&c.note).into(),
                (&c.created_at).into(),
            ],
        )?;
        Ok(())
    }

    pub fn checkpoints(&mut self) -> Result<Vec<CheckpointRow>, StoreError> {
        self.query(
            "SELECT size, root, note, created_at FROM checkpoints ORDER BY size",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(CheckpointRow {
                size: to_u64(r.int(0)?)?,
                root: r.hash(1)?,
                note: r.text(2)?,
                created_at: r.text(3)?,
            })
        })
        .collect()
    }

    pub fn put_cosignature(
        &mut self,
        size: u64,
        witness: &str,
        note: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO cosignatures (size, witness, note) VALUES (?, ?, ?) ON CONFLICT (size, witness) DO NOTHING",
            &[size.into(), witness.into(), note.into()],
        )?;
        Ok(())
    }

    /// For each witness, the largest checkpoint size it has cosigned.
    pub fn cosigned_sizes(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.query(
            "SELECT witness, MAX(size) FROM cosignatures GROUP BY witness ORDER BY witness",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?.max(0) as u64)))
        .collect()
    }

    pub fn cosignatures(&mut self, size: u64) -> Result<Vec<(String, String)>, StoreError> {
        self.query(
            "SELECT witness, note FROM cosignatures WHERE size = ? ORDER BY witness",
            &[size.into()],
        )?
        .iter()
        .map(|r| Ok((r.text(0)?, r.text(1)?)))
        .collect()
    }
}

fn peer_row(r: &Row) -> Result<PeerRow, StoreError> {
    Ok(PeerRow {
        id: r.text(0)?,
        name: r.text(1)?,
        country: r.text(2)?,
        endpoint: r.text(3)?,
        card: r.text(4)?,
    })
}

fn user_row(r: &Row) -> Result<tansiq_core::user::User, StoreError> {
    let role = r
        .text(1)?
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("user role: {e}")))?;
    Ok(tansiq_core::user::User {
        name: r.text(0)?,
        role,
        files: json_list(&r.text(2)?)?,
    })
}

fn user_full_row(r: &Row) -> Result<UserRow, StoreError> {
    Ok(UserRow {
        user: user_row(r)?,
        created_at: r.text(3)?,
        token_expires_at: r.opt_text(4)?,
        token_revoked_at: r.opt_text(5)?,
    })
}

fn channel_row(r: &Row) -> Result<ChannelRow, StoreError> {
    Ok(ChannelRow {
        id: r.text(0)?,
        name: r.text(1)?,
        status: r.text(2)?,
        state: r.text(3)?,
    })
}

fn release_row(r: &Row) -> Result<ReleaseRow, StoreError> {
    Ok(ReleaseRow {
        id: r.text(0)?,
        record_id: r.text(1)?,
        requester: r.text(2)?,
        originator: r.text(3)?,
        target_channel: r.text(4)?,
        target_members: json_list(&r.text(5)?)?,
        status: r.text(6)?,
        reason: r.opt_text(7)?,
        signed: r.opt_text(8)?,
        created_at: r.text(9)?,
        decided_at: r.opt_text(10)?,
    })
}
