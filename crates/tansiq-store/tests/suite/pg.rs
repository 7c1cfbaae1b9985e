//! Where the PostgreSQL tests find their server: `TANSIQ_TEST_POSTGRES`
//! (set by `scripts/with-postgres`, or by hand for an existing server).
//! Each test works in a schema of its own, dropped afterwards, so tests
//! (and several test runs) share one database in parallel.

use std::sync::atomic::{AtomicU32, Ordering};

/// The server's URL, or `None` when the caller asked to skip
/// (`TANSIQ_SKIP_POSTGRES=1`). Unset otherwise: the test fails, saying how
/// to run it, never passes silently.
pub fn url() -> Option<String> {
    match std::env::var("TANSIQ_TEST_POSTGRES") {
        Ok(u) if !u.trim().is_empty() => Some(u),
        _ if std::env::var("TANSIQ_SKIP_POSTGRES").as_deref() == Ok("1") => {
            eprintln!("TANSIQ_SKIP_POSTGRES=1: this PostgreSQL store test is SKIPPED");
            None
        }
        _ => panic!(
            "TANSIQ_TEST_POSTGRES is not set, so the PostgreSQL store tests cannot run.\n\
             Run them with a throwaway server:   scripts/with-postgres cargo test -p tansiq-store\n\
             or against an existing one:         TANSIQ_TEST_POSTGRES=postgres://user:pass@host:port/db cargo test -p tansiq-store\n\
             or skip them explicitly:            TANSIQ_SKIP_POSTGRES=1 cargo test …"
        ),
    }
}

/// `url` with one more query parameter.
pub fn with_param(url: &str, kv: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{kv}")
}

/// `url` with its user and password replaced.
pub fn with_login(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}{tail}")
}

/// `url` naming another database.
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (before_query, query) = match rest.split_once('?') {
        Some((a, q)) => (a, format!("?{q}")),
        None => (rest, String::new()),
    };
    let host = before_query.split('/').next().unwrap_or(before_query);
    format!("{scheme}://{host}/{db}{query}")
}

pub fn admin(base: &str) -> postgres::Client {
    postgres::Client::connect(base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to TANSIQ_TEST_POSTGRES: {e}"))
}

/// A uniquely named schema, dropped (with everything in it) on drop.
pub struct TestSchema {
    pub base: String,
    pub name: String,
}

impl TestSchema {
    pub fn new(base: &str) -> TestSchema {
        static N: AtomicU32 = AtomicU32::new(0);
        let r: [u8; 3] = tansiq_crypto::random_bytes();
        let name = format!(
            "tansiq_t{}_{}_{:02x}{:02x}{:02x}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            r[0],
            r[1],
            r[2]
        );
        TestSchema {
            base: base.to_string(),
            name,
        }
    }

    /// The store URL for this schema.
    pub fn url(&self) -> String {
        with_param(&self.base, &format!("schema={}", self.name))
    }

    pub fn url_with(&self, kv: &str) -> String {
        with_param(&self.url(), kv)
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.base, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name));
        }
    }
}
