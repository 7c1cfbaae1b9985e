//! Schema migrations. Each step is portable SQL run once, in order, in the
//! same transaction that records the new `schema_version`; `{blob}` is
//! the dialect's byte-string type.
//!
//! Dialect differences are confined to [`dialect_sql`] and
//! [`lock_for_migration`]:
//! - `{blob}` is `BLOB` on SQLite and `BYTEA` on PostgreSQL;
//! - on PostgreSQL every `TEXT` column is declared `COLLATE "C"`, so text
//!   compares and sorts bytewise exactly as SQLite's `BINARY` collation
//!   does (RFC 3339 instants, ids and names order the same on both, and
//!   the result never depends on the server's locale);
//! - on PostgreSQL the migration transaction first takes a
//!   transaction-scoped advisory lock, so when several workers start
//!   together exactly one of them migrates and the others then find the
//!   schema up to date. (SQLite's write transaction already excludes
//!   every other writer.)

use crate::sql::{Conn, Dialect, Value};
use crate::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: node core
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
     CREATE TABLE peers (id TEXT PRIMARY KEY, name TEXT NOT NULL, country TEXT NOT NULL,
        endpoint TEXT NOT NULL, card TEXT NOT NULL, added_at TEXT NOT NULL);
     CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, files TEXT NOT NULL,
        token_hash {blob} NOT NULL UNIQUE, created_at TEXT NOT NULL);
     CREATE TABLE channels (id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
        state TEXT NOT NULL, updated_at TEXT NOT NULL);
     CREATE TABLE records (id TEXT PRIMARY KEY, version BIGINT NOT NULL, kind TEXT NOT NULL,
        originator TEXT NOT NULL, channel TEXT NOT NULL, file TEXT NOT NULL, tlp TEXT NOT NULL,
        code TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, status TEXT NOT NULL,
        body TEXT, sig TEXT, content_hash {blob} NOT NULL, primary_name TEXT);
     CREATE INDEX records_by_file ON records (file, kind);
     CREATE INDEX records_by_expiry ON records (expires_at);
     CREATE TABLE record_versions (id TEXT NOT NULL, version BIGINT NOT NULL, body TEXT,
        sig TEXT, content_hash {blob} NOT NULL, PRIMARY KEY (id, version));
     CREATE TABLE record_names (record_id TEXT NOT NULL, norm TEXT NOT NULL);
     CREATE INDEX record_names_by_norm ON record_names (norm);
     CREATE INDEX record_names_by_record ON record_names (record_id);
     CREATE TABLE record_links (src TEXT NOT NULL, rel TEXT NOT NULL, dst TEXT NOT NULL,
        from_date TEXT, until_date TEXT);
     CREATE INDEX record_links_by_src ON record_links (src);
     CREATE INDEX record_links_by_dst ON record_links (dst);
     CREATE TABLE placements (record_id TEXT NOT NULL, channel TEXT NOT NULL, via TEXT NOT NULL,
        PRIMARY KEY (record_id, channel));
     CREATE INDEX placements_by_channel ON placements (channel);
     CREATE TABLE releases (id TEXT PRIMARY KEY, record_id TEXT NOT NULL, requester TEXT NOT NULL,
        originator TEXT NOT NULL, target_channel TEXT NOT NULL, target_members TEXT NOT NULL,
        status TEXT NOT NULL, reason TEXT, signed TEXT, created_at TEXT NOT NULL, decided_at TEXT);
     CREATE INDEX releases_by_record ON releases (record_id, target_channel);
     CREATE TABLE audit_log (idx BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, object TEXT NOT NULL, salt {blob} NOT NULL, details TEXT NOT NULL,
        leaf {blob} NOT NULL);
     CREATE TABLE audit_head (id INTEGER PRIMARY KEY, size BIGINT NOT NULL, frontier {blob} NOT NULL);
     CREATE TABLE checkpoints (size BIGINT PRIMARY KEY, root {blob} NOT NULL, note TEXT NOT NULL,
        created_at TEXT NOT NULL);
     CREATE TABLE cosignatures (size BIGINT NOT NULL, witness TEXT NOT NULL, note TEXT NOT NULL,
        PRIMARY KEY (size, witness));",
    // 2: alerts raised by continuous screening
    "CREATE TABLE alerts (id TEXT PRIMARY KEY, entry_id TEXT NOT NULL, record_id TEXT NOT NULL,
        score_micros BIGINT NOT NULL, matched_name TEXT NOT NULL, explanation TEXT NOT NULL,
        created_at TEXT NOT NULL);
     CREATE UNIQUE INDEX alerts_by_pair ON alerts (entry_id, record_id);",
    // 3: federation sync state (docs/SYNC.md §9). `sync_envelope.custody`
    // is 1 for a relay's copy (in no stream); `purged` is 1 once the body
    // was dropped for good; `sync_outbox.prec_rank` orders the queue
    // (flash 0 … routine 3).
    "CREATE TABLE sync_envelope (id {blob} PRIMARY KEY, channel TEXT NOT NULL,
        originator TEXT NOT NULL, seq BIGINT NOT NULL, custody INTEGER NOT NULL,
        header {blob} NOT NULL, body {blob}, body_hash {blob} NOT NULL, sig {blob} NOT NULL,
        precedence TEXT NOT NULL, created_ms BIGINT NOT NULL, purged INTEGER NOT NULL DEFAULT 0);
     CREATE UNIQUE INDEX sync_envelope_seq ON sync_envelope (channel, originator, seq)
        WHERE custody = 0;
     CREATE TABLE sync_stream (channel TEXT NOT NULL, originator TEXT NOT NULL,
        seq BIGINT NOT NULL, last {blob}, PRIMARY KEY (channel, originator));
     CREATE TABLE sync_outbox (to_node TEXT NOT NULL, id {blob} NOT NULL, channel TEXT NOT NULL,
        originator TEXT NOT NULL, seq BIGINT NOT NULL, precedence TEXT NOT NULL,
        prec_rank INTEGER NOT NULL, ord BIGINT NOT NULL, size BIGINT NOT NULL,
        relays TEXT NOT NULL, reply_to TEXT, PRIMARY KEY (to_node, id));
     CREATE INDEX sync_outbox_queue ON sync_outbox (to_node, prec_rank, ord, id);
     CREATE TABLE sync_alarm (id TEXT PRIMARY KEY, kind TEXT NOT NULL, detail TEXT NOT NULL,
        created_at TEXT NOT NULL);
     CREATE TABLE peer_links (peer TEXT PRIMARY KEY, last_delivery TEXT, last_error TEXT,
        updated_at TEXT);",
    // 4: liaison messages and their acknowledgements
    "CREATE TABLE messages (id TEXT PRIMARY KEY, direction TEXT NOT NULL, channel TEXT NOT NULL,
        file TEXT, sender TEXT NOT NULL, precedence TEXT NOT NULL, text TEXT NOT NULL,
        sent_at TEXT NOT NULL, received_at TEXT, ack_required BIGINT NOT NULL, acked_at TEXT);
     CREATE INDEX messages_by_direction ON messages (direction, sent_at);
     CREATE TABLE message_acks (message_id TEXT NOT NULL, by_node TEXT NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (message_id, by_node));",
    // 5: which envelopes carried which record (to purge them on retraction)
    "CREATE TABLE record_envelopes (record_id TEXT NOT NULL, envelope_id {blob} NOT NULL,
        PRIMARY KEY (record_id, envelope_id));",
    // 6: private hit/no-hit queries (docs/PROTOCOL.md, "Hit/no-hit")
    "CREATE TABLE hit_allow (peer TEXT NOT NULL, channel TEXT NOT NULL, file TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (peer, channel, file));
     CREATE TABLE hit_budget (peer TEXT PRIMARY KEY, capacity BIGINT NOT NULL,
        tokens BIGINT NOT NULL, refilled_ms BIGINT NOT NULL);
     CREATE TABLE hit_list (peer TEXT PRIMARY KEY, key_id TEXT NOT NULL, body {blob} NOT NULL,
        fetched_at TEXT NOT NULL);
     CREATE TABLE hit_reference (reference TEXT PRIMARY KEY, peer TEXT NOT NULL,
        created_at TEXT NOT NULL);
     CREATE TABLE hit_request (id TEXT PRIMARY KEY, direction TEXT NOT NULL, peer TEXT NOT NULL,
        reference TEXT NOT NULL, channel TEXT NOT NULL, record_id TEXT, status TEXT NOT NULL,
        reason TEXT, created_at TEXT NOT NULL, decided_at TEXT);",
    // 7: outbox leases, for several `serve` workers on one node: the
    // worker delivering a row and until when (ms since the epoch; 0 =
    // free). The index finds free and expired rows.
    "ALTER TABLE sync_outbox ADD COLUMN claimed_by TEXT;
     ALTER TABLE sync_outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
     CREATE INDEX sync_outbox_claim ON sync_outbox (claimed_until);
     CREATE INDEX sync_outbox_claimed_by ON sync_outbox (claimed_by);",
    // 8: API tokens expire and can be revoked (issue 12, finding 8). A
    // NULL expiry (a token issued before this step) is read as created_at
    // + the default lifetime; a revoked token's hash is replaced.
    "ALTER TABLE users ADD COLUMN token_expires_at TEXT;
     ALTER TABLE users ADD COLUMN token_revoked_at TEXT;",
    // 9: interoperability (issue 15). `stix_imports` maps a STIX object
    // imported into a channel to the record it made (re-importing the same
    // id and `modified` is a no-op); `record_versions.added_ms` is when
    // this node stored a version (TAXII's date_added; 0 for versions
    // stored before this step).
    "CREATE TABLE stix_imports (channel TEXT NOT NULL, stix_id TEXT NOT NULL,
        modified TEXT NOT NULL, record_id TEXT NOT NULL, source TEXT,
        imported_at TEXT NOT NULL, PRIMARY KEY (channel, stix_id));
     ALTER TABLE record_versions ADD COLUMN added_ms BIGINT NOT NULL DEFAULT 0;
     CREATE INDEX record_versions_by_added ON record_versions (added_ms, id, version);",
    // 10: a page of one file's records in creation order (the web
    // interface's records list, the API's `?file=` and a one-file user)
    // is read from the index in order, not sorted whole (issue 14).
    "CREATE INDEX records_by_file_created ON records (file, created_at, id);",
    // 11: name search by substring without reading every stored name
    // (issue 14: the records page's search at 100,000 records). Every
    // distinct token of a normalised name once (`name_tokens`: a scan of
    // it finds the tokens containing a fragment), and the postings token
    // → record with the record's primary name, so hits come out in the
    // page's order from one index. Filled from `record_names` for stores
    // made before this step ([`backfill`]).
    "CREATE TABLE name_tokens (token TEXT PRIMARY KEY){without_rowid};
     CREATE TABLE record_name_tokens (token TEXT NOT NULL, primary_name TEXT NOT NULL,
        record_id TEXT NOT NULL, PRIMARY KEY (token, primary_name, record_id)){without_rowid};",
    // 12: audit entries of reads queued without the write lock
    // (PostgreSQL), appended to `audit_log` by the next writer
    // (docs/STORE.md, "Audited reads").
    "CREATE TABLE audit_pending (salt {blob} PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, object TEXT NOT NULL, details TEXT NOT NULL);",
    // 13: restored from a backup (issue 17 §1, docs/SYNC.md §6
    // "Restore holds"): per channel, the partners that must answer before
    // this node originates on it again (`sync_hold`, written by `tansiq
    // restore` / `store mark-restored`, cleared as each partner answers or
    // by `sync release-hold`); and what the node's users made on a held
    // channel meanwhile, sealed and sent once its holds clear
    // (`sync_deferred`, in `id` order).
    "CREATE TABLE sync_hold (channel TEXT NOT NULL, partner TEXT NOT NULL, since TEXT NOT NULL,
        PRIMARY KEY (channel, partner));
     CREATE TABLE sync_deferred (id BIGINT PRIMARY KEY, channel TEXT NOT NULL, kind TEXT NOT NULL,
        precedence TEXT NOT NULL, recipients TEXT NOT NULL, relays TEXT NOT NULL,
        payload TEXT NOT NULL, created_at TEXT NOT NULL);
     CREATE INDEX sync_deferred_by_channel ON sync_deferred (channel, id);",
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Every table of the current schema (for whole-store copies); a new
/// migration adding a table adds it here.
pub const TABLES: &[&str] = &[
    "meta",
    "peers",
    "users",
    "channels",
    "records",
    "record_versions",
    "record_names",
    "record_links",
    "placements",
    "releases",
    "audit_log",
    "audit_head",
    "audit_pending",
    "checkpoints",
    "cosignatures",
    "alerts",
    "sync_envelope",
    "sync_stream",
    "sync_outbox",
    "sync_alarm",
    "sync_hold",
    "sync_deferred",
    "peer_links",
    "messages",
    "message_acks",
    "record_envelopes",
    "hit_allow",
    "hit_budget",
    "hit_list",
    "hit_reference",
    "hit_request",
    "stix_imports",
    "name_tokens",
    "record_name_tokens",
];

/// Advisory lock class (`'tnsq'`) of the migration lock; the second key
/// is a hash of the schema name, so stores in different schemas of one
/// database do not wait for each other.
pub(crate) const MIGRATION_LOCK_CLASS: i32 = 0x746e_7371;

/// A migration step in the given dialect.
pub fn dialect_sql(sql: &str, d: Dialect) -> String {
    match d {
        Dialect::Sqlite => sql
            .replace("{blob}", "BLOB")
            .replace("{without_rowid}", " WITHOUT ROWID"),
        Dialect::Postgres => collate_text(
            &sql.replace("{blob}", "BYTEA")
                .replace("{without_rowid}", ""),
        ),
    }
}

/// `TEXT` (the type keyword, a whole word) becomes `TEXT COLLATE "C"`.
fn collate_text(sql: &str) -> String {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(sql.len() + 256);
    let mut rest = sql;
    while let Some(i) = rest.find("TEXT") {
        let before = rest[..i].chars().next_back();
        let after = rest[i + 4..].chars().next();
        out.push_str(&rest[..i + 4]);
        if !before.is_some_and(is_word) && !after.is_some_and(is_word) {
            out.push_str(" COLLATE \"C\"");
        }
        rest = &rest[i + 4..];
    }
    out.push_str(rest);
    out
}

/// Serialises migrations across processes (PostgreSQL: an advisory lock
/// held until the migration transaction ends; SQLite: nothing to do, the
/// write transaction is exclusive).
pub fn lock_for_migration(conn: &mut dyn Conn, d: Dialect) -> Result<(), StoreError> {
    match d {
        Dialect::Sqlite => Ok(()),
        Dialect::Postgres => {
            conn.query(
                &format!(
                    "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_CLASS}, hashtext(coalesce(current_schema(), '')))"
                ),
                &[],
            )?;
            Ok(())
        }
    }
}

/// The schema version of an opened database (0: empty).
pub fn current_version(conn: &mut dyn Conn, d: Dialect) -> Result<i64, StoreError> {
    let probe = match d {
        Dialect::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        Dialect::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'meta'"
        }
    };
    let has_meta = conn.query(probe, &[])?[0].int(0)? > 0;
    if !has_meta {
        return Ok(0);
    }
    let rows = conn.query("SELECT value FROM meta WHERE key = 'schema_version'", &[])?;
    match rows.first() {
        None => Ok(0),
        Some(r) => r
            .text(0)?
            .parse()
            .map_err(|_| StoreError::Corrupt("schema_version is not a number".into())),
    }
}

/// Brings the schema up to date inside the caller's transaction.
pub fn migrate(conn: &mut dyn Conn, d: Dialect) -> Result<(), StoreError> {
    lock_for_migration(conn, d)?;
    let found = current_version(conn, d)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        for stmt in dialect_sql(step, d).split(';') {
            let stmt = stmt.trim();
            if !stmt.is_empty() {
                conn.execute(stmt, &[])?;
            }
        }
        backfill(conn, i + 1)?;
        let v = Value::Text(((i + 1) as i64).to_string());
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[v],
        )?;
    }
    Ok(())
}

/// What a step needs beyond its SQL: rows derived by Rust code from rows
/// already stored.
fn backfill(conn: &mut dyn Conn, step: usize) -> Result<(), StoreError> {
    if step == 11 {
        let rows = conn.query(
            "SELECT n.record_id, n.norm, r.primary_name FROM record_names n
             JOIN records r ON r.id = n.record_id WHERE r.primary_name IS NOT NULL",
            &[],
        )?;
        for r in rows {
            let (id, norm, primary) = (r.text(0)?, r.text(1)?, r.text(2)?);
            crate::records::insert_name_tokens(conn, &id, &primary, &[norm])?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_lists_every_table_the_migrations_create() {
        let mut created: Vec<String> = MIGRATIONS
            .iter()
            .flat_map(|m| m.split("CREATE TABLE ").skip(1))
            .map(|rest| {
                rest.split([' ', '('])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        created.sort();
        let mut listed: Vec<String> = TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(created, listed);
    }

    #[test]
    fn postgres_text_columns_compare_bytewise() {
        let sql = dialect_sql(
            "CREATE TABLE t (a TEXT PRIMARY KEY, b TEXT, c TEXT NOT NULL, context TEXT, d {blob});",
            Dialect::Postgres,
        );
        assert_eq!(
            sql,
            "CREATE TABLE t (a TEXT COLLATE \"C\" PRIMARY KEY, b TEXT COLLATE \"C\", \
             c TEXT COLLATE \"C\" NOT NULL, context TEXT COLLATE \"C\", d BYTEA);"
        );
        let lite = dialect_sql("CREATE TABLE t (a TEXT, d {blob});", Dialect::Sqlite);
        assert_eq!(lite, "CREATE TABLE t (a TEXT, d BLOB);");
    }

    #[test]
    fn every_migration_keeps_its_statements_in_both_dialects() {
        for step in MIGRATIONS {
            let n = |d| {
                dialect_sql(step, d)
                    .split(';')
                    .filter(|s| !s.trim().is_empty())
                    .count()
            };
            assert_eq!(n(Dialect::Sqlite), n(Dialect::Postgres));
            assert!(!dialect_sql(step, Dialect::Postgres).contains("{blob}"));
        }
    }
}
