//! The store conformance suite (tests/suite) against every backend.
//!
//! SQLite runs everywhere. PostgreSQL needs a server: run
//! `scripts/with-postgres cargo test -p tansiq-store` (a throwaway
//! cluster), or set `TANSIQ_TEST_POSTGRES=postgres://…` to use an existing
//! one. Without either, the PostgreSQL tests fail and say so, unless
//! `TANSIQ_SKIP_POSTGRES=1` asks to skip them.

mod suite;

use suite::pg::{self, TestSchema};
use tansiq_store::Store;

#[test]
fn sqlite_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("tansiq.db"), true).unwrap();
    suite::suite("sqlite", &store);
}

#[test]
fn sqlite_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tansiq.db");
    suite::handle_suite("sqlite", &|| Store::open_sqlite(&path, true));
}

#[test]
fn sqlite_opened_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tansiq.db");
    suite::opened_together(&|| Store::open_sqlite(&path, true));
}

#[test]
fn postgres_conformance() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url(), true).unwrap();
    suite::suite("postgres", &store);
}

#[test]
fn postgres_handles() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let url = schema.url();
    suite::handle_suite("postgres", &|| Store::open_postgres(&url, true));
}

#[test]
fn postgres_opened_together() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let url = schema.url();
    suite::opened_together(&|| Store::open_postgres(&url, true));
}
