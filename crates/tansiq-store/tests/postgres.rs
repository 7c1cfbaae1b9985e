//! PostgreSQL-only behaviour: bad URLs and logins, a lost connection,
//! timeouts and the pool, VACUUM, backup and restore with pg_dump.
//!
//! Needs `TANSIQ_TEST_POSTGRES` (see tests/conformance.rs): run
//! `scripts/with-postgres cargo test -p tansiq-store`.

mod suite;

use std::time::{Duration, Instant};

use suite::pg::{self, with_database, with_login, with_param, TestSchema};
use suite::{check_audit_tree, uid, Rec};
use tansiq_core::policy::ReadScope;
use tansiq_crypto::Identity;
use tansiq_store::{OutboxRow, RecordFilter, RecordStatus, Store, StoreError};

fn err_of(r: Result<Store, StoreError>) -> String {
    match r {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    }
}

fn password_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let userinfo = rest.split(['/', '?']).next()?.rsplit_once('@')?.0;
    userinfo.split_once(':').map(|(_, p)| p.to_string())
}

#[test]
fn postgres_bad_urls_and_unreachable_servers() {
    let Some(base) = pg::url() else { return };
    for (url, needle) in [
        ("mysql://u:p@127.0.0.1/db", "must start with postgres://"),
        (
            "postgres://u:p@127.0.0.1:99999/db",
            "invalid PostgreSQL URL",
        ),
        ("postgres://u:p@127.0.0.1/db?sslmode=require", "plain TCP"),
        ("postgres://u:p@127.0.0.1/db?pool_size=many", "pool_size"),
    ] {
        let e = err_of(Store::open_postgres(url, true));
        assert!(e.contains(needle), "{url}: {e}");
        assert!(!e.contains(":p@"), "password shown: {e}");
    }

    // Nothing listens on a port we just had and closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dead = format!("postgres://tansiq:hunter2@127.0.0.1:{port}/tansiq?sslmode=disable");
    let t = Instant::now();
    let e = err_of(Store::open_postgres(
        &with_param(&dead, "connect_retries=0"),
        true,
    ));
    assert!(e.contains("cannot reach PostgreSQL"), "{e}");
    assert!(!e.contains("hunter2"), "password shown: {e}");
    assert!(t.elapsed() < Duration::from_secs(5));
    // Retries back off (100 ms, 200 ms) before giving up.
    let t = Instant::now();
    let e = err_of(Store::open_postgres(
        &with_param(&dead, "connect_retries=2"),
        true,
    ));
    assert!(e.contains("cannot reach PostgreSQL"), "{e}");
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    // A login the server refuses.
    let schema = TestSchema::new(&base);
    let wrong = with_login(&schema.url(), "no_such_role_tansiq", "wrong-password");
    let e = err_of(Store::open_postgres(&wrong, true));
    assert!(e.contains("refused the login"), "{e}");
    assert!(!e.contains("wrong-password"), "{e}");
    // A database that does not exist.
    let nodb = with_database(&base, "no_such_database_tansiq");
    let e = err_of(Store::open_postgres(&nodb, true));
    assert!(e.contains("no such database"), "{e}");
    if let Some(pw) = password_of(&base) {
        assert!(!e.contains(&pw), "password shown: {e}");
    }
}

#[test]
fn postgres_open_without_create_needs_a_store() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let e = err_of(Store::open_postgres(&schema.url(), false));
    assert!(e.contains("holds no Tansiq store"), "{e}");
    // Nothing was created by the failed open.
    let mut admin = pg::admin(&base);
    let n: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    // Created, then opened without create; `meta` tells whether a node
    // lives there (what `tansiq init` checks before writing its own).
    let s = Store::open_postgres(&schema.url(), true).unwrap();
    assert_eq!(s.read(|tx| tx.meta_get("node_id")).unwrap(), None);
    s.write(|tx| tx.meta_set("node_id", "node-a")).unwrap();
    let again = Store::open_postgres(&schema.url(), false).unwrap();
    assert_eq!(
        again.read(|tx| tx.meta_get("node_id")).unwrap().as_deref(),
        Some("node-a")
    );
    let created_again = Store::open_postgres(&schema.url(), true).unwrap();
    assert_eq!(
        created_again
            .read(|tx| tx.meta_get("node_id"))
            .unwrap()
            .as_deref(),
        Some("node-a"),
        "create on an existing store keeps it: the node layer refuses to init over it"
    );
}

/// Terminates the server sessions of `app` (our store's connections).
fn kill_sessions(base: &str, app: &str) -> usize {
    let mut admin = pg::admin(base);
    let n = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
            &[&app],
        )
        .unwrap()
        .len();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .unwrap()
            .get(0);
        if left == 0 || Instant::now() > deadline {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn postgres_lost_connections() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let app = uid("tansiq_kill").replace('-', "_");
    let store =
        Store::open_postgres(&schema.url_with(&format!("application_name={app}")), true).unwrap();
    store.write(|tx| tx.meta_set("k0", "v")).unwrap();

    // Idle pooled connections die (a server restart, a proxy timeout):
    // the next transaction retries at begin and succeeds.
    assert!(kill_sessions(&base, &app) >= 1);
    store.write(|tx| tx.meta_set("k1", "v")).unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get("k1")).unwrap().as_deref(),
        Some("v")
    );

    // The connection dies in the middle of a transaction: it fails, is
    // not retried, and nothing of it is committed.
    let before = store.read(|tx| tx.audit_head()).unwrap();
    let r = store.write(|tx| {
        tx.meta_set("k2", "v")?;
        tx.audit_append(
            "2025-01-01T00:00:00Z",
            "op",
            "x",
            "k2",
            serde_json::json!({}),
        )?;
        kill_sessions(&base, &app);
        tx.meta_set("k3", "v")
    });
    let e = r
        .expect_err("a transaction whose connection died fails")
        .to_string();
    assert!(e.contains("lost the connection"), "{e}");
    assert_eq!(store.read(|tx| tx.meta_get("k2")).unwrap(), None);
    assert_eq!(store.read(|tx| tx.meta_get("k3")).unwrap(), None);
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap(), before);
    // And the store goes on.
    store.write(|tx| tx.meta_set("k4", "v")).unwrap();
    assert_eq!(check_audit_tree(&store), before.0);
}

#[test]
fn postgres_statement_timeout_bounds_the_write_lock_wait() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let slow = Store::open_postgres(&schema.url(), true).unwrap();
    let quick = Store::open_postgres(&schema.url_with("statement_timeout=300ms"), false).unwrap();
    // The lock is held until the test lets go (30 s at most, so a wait
    // that the timeout failed to bound shows as a success, not a hang):
    // what happens while it is held is proven by order, not by a clock.
    let holding = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let (tx_started, started) = std::sync::mpsc::channel();
        let (let_go, released) = std::sync::mpsc::channel::<()>();
        let holding = &holding;
        s.spawn(move || {
            slow.write(|tx| {
                tx.meta_set("held", "yes")?;
                holding.store(true, std::sync::atomic::Ordering::SeqCst);
                tx_started.send(()).unwrap();
                let _ = released.recv_timeout(Duration::from_secs(30));
                holding.store(false, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        });
        started.recv().unwrap();
        let r = quick.write(|tx| tx.meta_set("other", "yes"));
        assert!(matches!(r, Err(StoreError::Busy)), "{r:?}");
        assert!(
            holding.load(std::sync::atomic::Ordering::SeqCst),
            "refused while the lock was still held, not after"
        );
        // Reads never wait for the write lock.
        quick.read(|tx| tx.meta_get("held")).unwrap();
        assert!(holding.load(std::sync::atomic::Ordering::SeqCst));
        let_go.send(()).unwrap();
    });
    let s = Store::open_postgres(&schema.url(), false).unwrap();
    assert_eq!(
        s.read(|tx| tx.meta_get("held")).unwrap().as_deref(),
        Some("yes")
    );
    assert_eq!(s.read(|tx| tx.meta_get("other")).unwrap(), None);
}

#[test]
fn postgres_pool_is_bounded() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let app = uid("tansiq_pool").replace('-', "_");
    let store = Store::open_postgres(
        &schema.url_with(&format!(
            "pool_size=2&acquire_timeout=300ms&application_name={app}"
        )),
        true,
    )
    .unwrap();
    std::thread::scope(|s| {
        let (tx_started, started) = std::sync::mpsc::channel();
        for _ in 0..2 {
            let (store, tx_started) = (&store, tx_started.clone());
            s.spawn(move || {
                store
                    .read(|tx| {
                        tx.meta_get("x")?;
                        tx_started.send(()).unwrap();
                        std::thread::sleep(Duration::from_millis(1200));
                        Ok::<_, StoreError>(())
                    })
                    .unwrap();
            });
        }
        started.recv().unwrap();
        started.recv().unwrap();
        // Both connections are lent: a third transaction waits, then is
        // told the store is busy.
        let t = Instant::now();
        let r = store.read(|tx| tx.meta_get("x"));
        assert!(matches!(r, Err(StoreError::Busy)), "{r:?}");
        assert!(t.elapsed() >= Duration::from_millis(250));
        let mut admin = pg::admin(&base);
        let open: i64 = admin
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .unwrap()
            .get(0);
        assert_eq!(open, 2, "never more connections than pool_size");
    });
    // Freed connections are reused.
    for _ in 0..10 {
        store.write(|tx| tx.meta_set("x", "1")).unwrap();
    }
}

#[test]
fn postgres_scrub_vacuums_and_backup_points_to_pg_dump() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url(), true).unwrap();
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    let r = Rec::new(&uid("r"), &ch, &f);
    r.put(&store, &who);
    r.retraction().put(&store, &who);
    let env = suite::sync::envelope(&ch, "tqorig", 1, "purged");
    store.write(|tx| tx.sync_put_envelope(&env)).unwrap();
    store.write(|tx| tx.sync_purge_envelope(&env.id)).unwrap();
    store.scrub().unwrap();
    let got = store
        .read(|tx| tx.record(&r.id, &ReadScope::everything()))
        .unwrap()
        .unwrap();
    assert_eq!(got.status, RecordStatus::Retracted);
    let stub = store.read(|tx| tx.sync_envelope(&env.id)).unwrap().unwrap();
    assert_eq!((stub.body, stub.body_hash), (None, env.body_hash));
    // The envelope table is vacuumed with the record tables.
    let vacuumed: Vec<String> = pg::admin(&base)
        .query(
            "SELECT relname::text FROM pg_stat_user_tables
             WHERE schemaname = $1 AND last_vacuum IS NOT NULL ORDER BY relname",
            &[&schema.name],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in ["records", "sync_envelope"] {
        assert!(vacuumed.iter().any(|v| v == t), "{t} in {vacuumed:?}");
    }
    let e = store
        .backup_to(std::path::Path::new("/tmp/never-written.db"))
        .expect_err("no file backups of a PostgreSQL store")
        .to_string();
    assert!(e.contains("pg_dump"), "{e}");
    if let Some(pw) = password_of(&base) {
        assert!(!e.contains(&pw), "password shown: {e}");
    }
    assert!(!std::path::Path::new("/tmp/never-written.db").exists());
}

/// The server's own client tools: from `TANSIQ_PG_BINDIR` (set by
/// scripts/with-postgres), Debian's versioned directories, or PATH.
fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Ok(d) = std::env::var("TANSIQ_PG_BINDIR") {
        dirs.push(d.into());
    }
    let mut debian: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    dirs.extend(debian.into_iter().rev());
    if let Ok(path) = std::env::var("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} not found: install postgresql-client (scripts/with-postgres does)")
        })
}

#[test]
fn postgres_backup_and_restore_with_pg_dump() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url(), true).unwrap();
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    for i in 0..20 {
        let r = Rec::new(&uid("b"), &ch, &f).names(&[&format!("person {i}")]);
        let s = r.sign(&who);
        store
            .write(|tx| {
                tx.put_record(&s, &r.norms())?;
                tx.audit_append(
                    "2025-01-01T00:00:00Z",
                    "op",
                    "record.put",
                    &r.id,
                    serde_json::json!({}),
                )
            })
            .unwrap();
    }
    let head = store.read(|tx| tx.audit_head()).unwrap();
    drop(store);

    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("tansiq.dump");
    let out = std::process::Command::new(pg_tool("pg_dump"))
        .args([
            "--format=custom",
            "--no-owner",
            "--schema",
            &schema.name,
            "--file",
        ])
        .arg(&dump)
        .arg(format!("--dbname={base}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Lose the schema, then restore it from the dump.
    pg::admin(&base)
        .batch_execute(&format!("DROP SCHEMA \"{}\" CASCADE", schema.name))
        .unwrap();
    assert!(Store::open_postgres(&schema.url(), false).is_err());
    let out = std::process::Command::new(pg_tool("pg_restore"))
        .args(["--no-owner", "--exit-on-error"])
        .arg(format!("--dbname={base}"))
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let restored = Store::open_postgres(&schema.url(), false).unwrap();
    assert_eq!(restored.read(|tx| tx.audit_head()).unwrap(), head);
    assert_eq!(check_audit_tree(&restored), 20);
    let n = restored
        .read(|tx| tx.count_records(&RecordFilter::default(), &ReadScope::everything()))
        .unwrap();
    assert_eq!(n, 20);
    let hits = restored
        .read(|tx| tx.search_names("person 1", &ReadScope::everything(), 100))
        .unwrap();
    assert_eq!(hits.len(), 11, "person 1 and person 10..19");
    restored
        .write(|tx| tx.meta_set("after_restore", "ok"))
        .unwrap();
}

/// Several delivery workers: a claim skips outbox rows another
/// transaction holds locked (`FOR UPDATE SKIP LOCKED`) instead of waiting
/// for them, and gets them once they are free.
#[test]
fn postgres_claim_skips_rows_locked_elsewhere() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    // Without SKIP LOCKED the claim would wait, and time out after 2 s.
    let store = Store::open_postgres(&schema.url_with("statement_timeout=2s"), true).unwrap();
    let to = uid("tq");
    let ids: Vec<[u8; 32]> = (0..6).map(|_| tansiq_crypto::random_bytes()).collect();
    store
        .write(|tx| {
            for (i, id) in ids.iter().enumerate() {
                tx.sync_put_outbox(&OutboxRow {
                    to_node: to.clone(),
                    id: *id,
                    channel: "ch".into(),
                    originator: "tqorig".into(),
                    seq: i as u64 + 1,
                    precedence: "routine".into(),
                    ord: i as i64,
                    size: 100,
                    relays: Vec::new(),
                    reply_to: None,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let claim = |n: u64| -> Vec<[u8; 32]> {
        store
            .write(|tx| tx.sync_claim_outbox(&to, n))
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(claim(3), ids[..3]);

    // Another worker's transaction holds the two most urgent rows.
    let mut other = pg::admin(&base);
    let mut t = other.transaction().unwrap();
    t.batch_execute(&format!("SET LOCAL search_path TO \"{}\"", schema.name))
        .unwrap();
    let locked = t
        .query(
            "SELECT id FROM sync_outbox WHERE to_node = $1 ORDER BY ord LIMIT 2 FOR UPDATE",
            &[&to],
        )
        .unwrap();
    assert_eq!(locked.len(), 2);
    // Not waited for: a claim that waited would fail (statement timeout).
    assert_eq!(claim(3), ids[2..5], "the locked rows are skipped");
    assert_eq!(claim(100), ids[2..]);
    // Reads are not blocked and see every row.
    let all = store.read(|tx| tx.sync_outbox()).unwrap();
    assert_eq!(all.len(), 6);
    t.rollback().unwrap();
    assert_eq!(claim(3), ids[..3], "free again");
}

/// Claims and lease renewals of delivery workers run outside the store's
/// write lock: a writer holding it (say, a long inbound delivery) does
/// not hold up another worker's claim, nor the reverse.
#[test]
fn postgres_claims_do_not_wait_for_the_write_lock() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url_with("statement_timeout=5s"), true).unwrap();
    let to = uid("tq");
    store
        .write(|tx| {
            for i in 0..4u64 {
                let row = OutboxRow {
                    to_node: to.clone(),
                    id: tansiq_crypto::random_bytes(),
                    channel: "ch".into(),
                    originator: "tqorig".into(),
                    seq: i + 1,
                    precedence: "routine".into(),
                    ord: i as i64,
                    size: 100,
                    relays: Vec::new(),
                    reply_to: None,
                };
                tx.sync_put_outbox(&row)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // The writer holds the lock until told (30 s at most): the claim and
    // the locked write are ordered against its release, not timed.
    let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (let_go, released) = std::sync::mpsc::channel::<()>();
    let writer = {
        let (store, holding) = (store.clone(), holding.clone());
        std::thread::spawn(move || {
            store
                .write(|tx| {
                    tx.meta_set("holding", "yes")?;
                    holding.store(true, std::sync::atomic::Ordering::SeqCst);
                    held_tx.send(()).unwrap();
                    let _ = released.recv_timeout(Duration::from_secs(30));
                    holding.store(false, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        })
    };
    held_rx.recv().unwrap();
    let got = store
        .write_unlocked(|tx| {
            tx.sync_renew_claims("w-a", 10)?;
            tx.sync_claim_free("w-a", 5_000, 1_000, 100)
        })
        .unwrap();
    assert_eq!(got.len(), 4);
    assert!(
        holding.load(std::sync::atomic::Ordering::SeqCst),
        "the claim waited for the write lock"
    );
    // And a locked write still waits for the lock (the claim is not one):
    // its body runs only once the holder let go (released in a moment).
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(500));
        let_go.send(()).unwrap();
    });
    let ran_while_held = store
        .write(|tx| {
            let held = holding.load(std::sync::atomic::Ordering::SeqCst);
            tx.meta_set("after", "yes")?;
            Ok::<_, StoreError>(held)
        })
        .unwrap();
    assert!(
        !ran_while_held,
        "a locked write ran while the lock was held"
    );
    releaser.join().unwrap();
    writer.join().unwrap();
}

/// An audited read neither takes nor waits for the write lock: it runs
/// and commits while a writer holds the lock, and its entry joins the log
/// with the next writer.
#[test]
fn postgres_audited_reads_do_not_wait_for_the_write_lock() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url_with("statement_timeout=5s"), true).unwrap();
    let (before, _) = store.write(|tx| tx.audit_head()).unwrap();
    let holding = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (let_go, released) = std::sync::mpsc::channel::<()>();
    let writer = {
        let (store, holding) = (store.clone(), holding.clone());
        std::thread::spawn(move || {
            store
                .write(|tx| {
                    tx.meta_set("holding", "yes")?;
                    holding.store(true, std::sync::atomic::Ordering::SeqCst);
                    held_tx.send(()).unwrap();
                    let _ = released.recv_timeout(Duration::from_secs(30));
                    holding.store(false, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        })
    };
    held_rx.recv().unwrap();
    let idx = store
        .read_audited(|tx| {
            tx.meta_get("holding")?;
            tx.audit_append(
                "2025-01-01T00:00:00Z",
                "op",
                "record.read",
                "r1",
                serde_json::json!({}),
            )
        })
        .unwrap();
    assert_eq!(idx, None, "queued");
    assert!(
        holding.load(std::sync::atomic::Ordering::SeqCst),
        "the audited read waited for the write lock"
    );
    let_go.send(()).unwrap();
    writer.join().unwrap();
    let (size, _) = store.write(|tx| tx.audit_head()).unwrap();
    assert_eq!(
        size,
        before + 1,
        "the next writer appended the read's entry"
    );
    let e = store
        .read(|tx| tx.audit_entries(before, before + 1))
        .unwrap();
    assert_eq!(e[0].0.object, "r1");
}

/// New work announced in a committed transaction wakes a watcher of the
/// same store (LISTEN/NOTIFY), and only once it committed; a store in
/// another schema of the same database does not wake it.
#[test]
fn postgres_new_work_wakes_watchers() {
    let Some(base) = pg::url() else { return };
    let schema = TestSchema::new(&base);
    let other = TestSchema::new(&base);
    let store = Store::open_postgres(&schema.url(), true).unwrap();
    let elsewhere = Store::open_postgres(&other.url(), true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let watching = store
        .watch_work(move |heard| {
            if heard {
                let _ = tx.send(());
            }
            !s.load(std::sync::atomic::Ordering::SeqCst)
        })
        .unwrap();
    assert!(watching);
    // The LISTEN session starts in the background: notify until it hears.
    let t = Instant::now();
    loop {
        store.write(|t| t.notify_work()).unwrap();
        if rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "never listening");
    }
    while rx.try_recv().is_ok() {}
    elsewhere.write(|t| t.notify_work()).unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "another schema's work"
    );
    // Not before the commit, nor for a transaction rolled back.
    let _ = store.write(|t| {
        t.notify_work()?;
        Err::<(), _>(StoreError::Busy)
    });
    assert!(
        rx.recv_timeout(Duration::from_millis(1500)).is_err(),
        "a rolled back notify"
    );
    store.write(|t| t.notify_work()).unwrap();
    rx.recv_timeout(Duration::from_secs(30)).expect("woken");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
}
