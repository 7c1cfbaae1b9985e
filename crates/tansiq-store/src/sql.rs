//! The narrow SQL interface every backend implements: portable SQL text
//! with `?` placeholders, four value types, explicit transactions.
//! Everything above this line (queries, schema, audit) is written once.

use crate::StoreError;

/// A SQL value. Booleans are integers 0/1; instants are RFC 3339 text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}
impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}
impl From<u64> for Value {
    fn from(i: u64) -> Value {
        Value::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Int(b as i64)
    }
}
impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Blob(b)
    }
}
impl From<&[u8]> for Value {
    fn from(b: &[u8]) -> Value {
        Value::Blob(b.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}

/// One result row.
#[derive(Debug, Clone)]
pub struct Row(pub Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value, StoreError> {
        self.0
            .get(i)
            .ok_or_else(|| StoreError::Corrupt(format!("missing column {i}")))
    }
    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.get(i)? {
            Value::Text(s) => Ok(s.clone()),
            v => Err(StoreError::Corrupt(format!(
                "column {i}: expected text, got {v:?}"
            ))),
        }
    }
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i)? {
            Value::Int(n) => Ok(*n),
            v => Err(StoreError::Corrupt(format!(
                "column {i}: expected integer, got {v:?}"
            ))),
        }
    }
    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }
    pub fn blob(&self, i: usize) -> Result<Vec<u8>, StoreError> {
        match self.get(i)? {
            Value::Blob(b) => Ok(b.clone()),
            v => Err(StoreError::Corrupt(format!(
                "column {i}: expected bytes, got {v:?}"
            ))),
        }
    }
    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.get(i)? {
            Value::Null => Ok(None),
            _ => self.blob(i).map(Some),
        }
    }
    pub fn hash(&self, i: usize) -> Result<[u8; 32], StoreError> {
        let b = self.blob(i)?;
        <[u8; 32]>::try_from(b.as_slice()).map_err(|_| {
            StoreError::Corrupt(format!("column {i}: expected 32 bytes, got {}", b.len()))
        })
    }
}

/// Which SQL dialect a backend speaks, for the few places that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// An open transaction. Dropping it without `commit` rolls back.
pub trait Conn {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError>;
    /// A statement whose row count the caller does not need. A backend
    /// may queue it and send it with later ones (PostgreSQL sends the
    /// queue in one round trip), but always before the next `execute`,
    /// `query` or `commit` of this transaction, in order; its error is
    /// then returned by that call (and poisons the transaction).
    /// Default: runs it at once.
    fn execute_later(&mut self, sql: &str, params: Vec<Value>) -> Result<(), StoreError> {
        self.execute(sql, &params).map(|_| ())
    }
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// A database: hands out transactions.
pub trait Backend: Send + Sync {
    /// Starts a transaction; `write` transactions take the write lock up
    /// front so two writers never deadlock on upgrade.
    fn begin(&self, write: bool) -> Result<Box<dyn Conn + '_>, StoreError>;
    /// A write transaction whose commit may skip the fsync: durable when
    /// the process crashes, possibly lost (whole) on power loss until the
    /// next full commit. Used for audit entries of reads. Default: a full
    /// write transaction.
    fn begin_relaxed(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin(true)
    }
    /// A write transaction that does **not** take the store's write lock:
    /// for row-local statements that are safe beside concurrent writers
    /// (outbox claims and lease renewals, which use row locks). Default:
    /// a full write transaction (SQLite has one writer anyway).
    fn begin_unlocked(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin(true)
    }
    /// [`Backend::begin_unlocked`] whose commit may skip the fsync (as
    /// [`Backend::begin_relaxed`]): the queued audit entries of reads.
    /// Default: a relaxed write transaction.
    fn begin_unlocked_relaxed(&self) -> Result<Box<dyn Conn + '_>, StoreError> {
        self.begin_relaxed()
    }
    /// From a thread of its own, calls `wake(true)` whenever a session
    /// announces new work ([`crate::Tx::notify_work`]) and `wake(false)`
    /// about once a second, until `wake` returns false. `Ok(false)`: this
    /// backend has no such notifications (poll instead).
    fn watch_work(&self, _wake: Box<dyn Fn(bool) -> bool + Send>) -> Result<bool, StoreError> {
        Ok(false)
    }
    fn dialect(&self) -> Dialect;
    /// After content was purged: make sure the bytes leave the disk
    /// (SQLite: checkpoint and truncate the WAL; free pages are zeroed by
    /// `secure_delete`).
    fn scrub(&self) -> Result<(), StoreError>;
    /// A consistent copy of the whole database to `dest` (SQLite online
    /// backup API), telling `progress` the pages copied of how many.
    fn backup_to(
        &self,
        dest: &std::path::Path,
        progress: &dyn Fn(u64, u64),
    ) -> Result<(), StoreError>;
}
