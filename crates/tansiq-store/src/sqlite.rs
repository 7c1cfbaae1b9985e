//! The SQLite backend: one file, WAL, `synchronous=FULL`, `secure_delete`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::sql::{Backend, Conn, Dialect, Row, Value};
use crate::StoreError;

pub struct Sqlite {
    conn: Mutex<Connection>,
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Busy
        }
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(e.to_string())
        }
        _ => StoreError::Db(e.to_string()),
    }
}

impl Sqlite {
    pub fn open(path: &Path, create: bool) -> Result<Sqlite, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        } else if !path.exists() {
            return Err(StoreError::Db(format!("no database at {}", path.display())));
        }
        let conn = Connection::open_with_flags(path, flags).map_err(db_err)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db_err)?;
        // Taking in a peer's batch runs a few dozen distinct statements; the
        // default cache of 16 would re-prepare them on every record.
        conn.set_prepared_statement_cache_capacity(256);
        // WAL for concurrent readers while `serve` runs; FULL sync so an
        // acknowledged commit survives power loss; secure_delete so purged
        // content does not linger in free pages; case-sensitive LIKE as on
        // PostgreSQL, so name search answers the same on every backend; a
        // checkpoint every 16,000 pages (64 MiB of WAL) rather than 1,000, so
        // pages written by many commits (index roots, the audit and outbox
        // tails) are copied to the database once rather than many times
        // (purges still checkpoint at once: `scrub`); a page cache of up to
        // 256 MiB (allocated as pages are used) rather than 32 MiB: a node
        // holding 100,000 records was reading index pages back from the OS
        // on every batch (docs/BENCHMARKS.md, "Federation").
        //
        // Switching to WAL can answer SQLITE_BUSY without waiting in the
        // busy handler while another connection opens the same new file
        // (several workers or commands starting together): retry then.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match conn.execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA secure_delete = ON;
                 PRAGMA case_sensitive_like = ON;
                 PRAGMA cache_size = -262144;
                 PRAGMA wal_autocheckpoint = 16000;",
            ) {
                Ok(()) => break,
                Err(e) => match db_err(e) {
                    StoreError::Busy if std::time::Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    e => return Err(e),
                },
            }
        }
        Ok(Sqlite {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A poisoned lock means a panic mid-transaction; the transaction
        // was rolled back by Drop, so the connection is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct SqliteTx<'a> {
    conn: MutexGuard<'a, Connection>,
    done: bool,
    /// Began with `synchronous = NORMAL`; FULL is restored at the end.
    relaxed: bool,
}

fn to_sql(v: &Value) -> rusqlite::types::Value {
    match v {
        Value::Null => rusqlite::types::Value::Null,
        Value::Int(i) => rusqlite::types::Value::Integer(*i),
        Value::Text(s) => rusqlite::types::Value::Text(s.clone()),
        Value::Blob(b) => rusqlite::types::Value::Blob(b.clone()),
    }
}

impl Conn for SqliteTx<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(db_err)?;
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
        let n = st
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(db_err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(db_err)?;
        let cols = st.column_count();
        let params: Vec<rusqlite::types::Value> = params.iter().map(to_sql).collect();
        let mut rows = st
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(db_err)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(db_err)? {
            let mut row = Vec::with_capacity(cols);
            for i in 0..cols {
                row.push(match r.get_ref(i).map_err(db_err)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(i) => Value::Int(i),
                    ValueRef::Real(f) => Value::Text(f.to_string()),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                });
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT").map_err(db_err)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for SqliteTx<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Nothing to report to: the caller is already returning an error.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        if self.relaxed {
            // Must not fail silently into a relaxed connection: if this
            // fails the connection is broken anyway and the next BEGIN
            // reports it.
            let _ = self.conn.execute_batch("PRAGMA synchronous = FULL");
        }
    }
}

impl Backend for Sqlite {
    fn begin(&self, write: bool) -> Result<Box<dyn Conn + '_>, StoreError> {
        let conn = self.lock();
        // A read transaction refuses writes (`query_only`), as a READ ONLY
        // transaction does on PostgreSQL.
        conn.execute_batch(if write {
            "PRAGMA query_only = 0; BEGIN IMMEDIATE"
        } else {
            "PRAGMA query_only = 1; BEGIN DEFERRED"
        })
        .map_err(db_err)?;
        Ok(Box::new(SqliteTx {
            conn,
            done: false,
            relaxed: false,
        }))
    }

    fn begin_relaxed(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        let conn = self.lock();
        conn.execute_batch("PRAGMA query_only = 0; PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE")
            .map_err(|e| {
                let _ = conn.execute_batch("PRAGMA synchronous = FULL");
                db_err(e)
            })?;
        Ok(Box::new(SqliteTx {
            conn,
            done: false,
            relaxed: true,
        }))
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn scrub(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        // `busy` is 1 when another connection's reader kept the checkpoint
        // from finishing: the WAL still holds purged bytes then.
        let busy: i64 = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(db_err)?;
        if busy != 0 {
            return Err(StoreError::Busy);
        }
        Ok(())
    }

    fn backup_to(&self, dest: &Path, progress: &dyn Fn(u64, u64)) -> Result<(), StoreError> {
        use rusqlite::backup::StepResult;
        let conn = self.lock();
        let mut out = Connection::open(dest).map_err(db_err)?;
        let b = rusqlite::backup::Backup::new(&conn, &mut out).map_err(db_err)?;
        // run_to_completion's progress hook is a plain fn; stepping here
        // lets a closure (a progress bar) see the pages copied.
        loop {
            let r = b.step(256).map_err(db_err)?;
            let p = b.progress();
            let total = p.pagecount.max(0) as u64;
            progress(total.saturating_sub(p.remaining.max(0) as u64), total);
            match r {
                StepResult::Done => return Ok(()),
                StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                _ => {}
            }
        }
    }
}
