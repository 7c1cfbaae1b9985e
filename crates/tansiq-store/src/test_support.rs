//! What the test suites of the crates above share to check that bad input
//! changed nothing (feature `test-support`, for dev-dependencies only):
//! a fingerprint of a node's whole state, read straight from its store's
//! tables and its directory — never through the node, whose audited reads
//! would themselves add to the audit log.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The PostgreSQL schema a node directory's `config.toml` names, if its
/// store is PostgreSQL.
pub fn node_schema(dir: &Path) -> Option<String> {
    let cfg = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let line = cfg.lines().find(|l| l.starts_with("store"))?;
    let url = line.split('"').nth(1)?;
    if !url.starts_with("postgres") {
        return None;
    }
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("schema="))
        .map(str::to_string)
}

/// A client of the test server `base` (a postgres:// URL the `postgres`
/// crate takes) with `schema` as its search path.
pub fn pg_client(base: &str, schema: &str) -> postgres::Client {
    let mut c = postgres::Client::connect(base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("SET search_path TO {schema}"))
        .unwrap();
    c
}

/// Fingerprint of everything a command or request could change, read
/// without running one: every row of every table of the store — records
/// and versions, the audit log and its head, checkpoints and
/// cosignatures, sync tables (envelopes, streams, outbox, alarms, links),
/// alerts, messages, users, peers, meta — plus `config.toml` and the names
/// and sizes of the other files in the node directory (keys, cards).
/// `pg_base` is the test server's URL when the node's store is PostgreSQL
/// (its schema is read from `config.toml`).
pub fn state(dir: &Path, pg_base: Option<&str>) -> Fingerprint {
    let mut parts = BTreeMap::new();
    for (table, rows) in table_rows(dir, pg_base) {
        parts.insert(format!("table {table}"), rows.join("\n"));
    }
    parts.insert(
        "config.toml".into(),
        std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default(),
    );
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            // The store's own files change on reads (WAL, shared memory).
            if d == dir && name.starts_with("node.db") {
                continue;
            }
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                files.push(format!("{} {}", e.path().display(), meta.len()));
            }
        }
    }
    files.sort();
    parts.insert("files".into(), files.join("\n"));
    Fingerprint(parts)
}

/// Every row of every table of the node's store as text, sorted.
fn table_rows(dir: &Path, pg_base: Option<&str>) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    if let Some(schema) = node_schema(dir) {
        let base = pg_base.expect("a PostgreSQL node needs the test server's URL");
        let mut c = pg_client(base, &schema);
        let tables: Vec<String> = c
            .query(
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = $1 ORDER BY 1",
                &[&schema],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        for t in tables {
            let mut rows: Vec<String> = c
                .query(&format!("SELECT t::text FROM \"{t}\" t"), &[])
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            rows.sort();
            out.push((t, rows));
        }
        return out;
    }
    let db = rusqlite::Connection::open(dir.join("node.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for t in tables {
        let mut st = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Null => "NULL".to_string(),
                        rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                        rusqlite::types::ValueRef::Real(v) => v.to_string(),
                        rusqlite::types::ValueRef::Text(v) => {
                            format!("{:?}", String::from_utf8_lossy(v))
                        }
                        rusqlite::types::ValueRef::Blob(v) => {
                            v.iter().map(|b| format!("{b:02x}")).collect()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.push((t, rows));
    }
    out
}

/// What [`state`] returns: compared whole; printed as a digest per part,
/// so a failed comparison names what changed without pages of rows.
#[derive(PartialEq, Eq, Clone)]
pub struct Fingerprint(BTreeMap<String, String>);

impl Fingerprint {
    /// The parts that differ from `other`.
    pub fn changed(&self, other: &Fingerprint) -> Vec<String> {
        let keys: BTreeSet<&String> = self.0.keys().chain(other.0.keys()).collect();
        keys.into_iter()
            .filter(|k| self.0.get(*k) != other.0.get(*k))
            .cloned()
            .collect()
    }

    /// The rows of `table` in `self` that are not in `before`.
    pub fn new_rows(&self, before: &Fingerprint, table: &str) -> Vec<String> {
        let key = format!("table {table}");
        let old: BTreeSet<&str> = before
            .0
            .get(&key)
            .map(|s| s.lines().collect())
            .unwrap_or_default();
        self.0
            .get(&key)
            .map(|s| {
                s.lines()
                    .filter(|l| !old.contains(l))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::hash::{Hash, Hasher};
        let mut m = f.debug_map();
        for (k, v) in &self.0 {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            v.hash(&mut h);
            m.entry(
                k,
                &format!("{} lines, {:016x}", v.lines().count(), h.finish()),
            );
        }
        m.finish()
    }
}
