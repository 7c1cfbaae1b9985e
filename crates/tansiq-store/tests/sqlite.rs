//! SQLite-only properties: what lands in the file's bytes, the online
//! backup, opening files that are not (yet) stores.

mod suite;

use std::path::Path;

use suite::{check_audit_tree, uid, Rec};
use tansiq_core::handling::Tlp;
use tansiq_core::policy::ReadScope;
use tansiq_crypto::Identity;
use tansiq_store::{RecordFilter, RecordStatus, Store, StoreError};

/// Every file SQLite keeps for the database: the main file, its WAL and
/// shared-memory index, a rollback journal if any.
fn raw_bytes(db: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm", "-journal"]
        .iter()
        .filter_map(|suffix| {
            let p = format!("{}{suffix}", db.display());
            std::fs::read(&p).ok().map(|b| (p, b))
        })
        .collect()
}

fn files_containing(db: &Path, needle: &str) -> Vec<String> {
    raw_bytes(db)
        .into_iter()
        .filter(|(_, b)| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(p, _)| p)
        .collect()
}

/// A record whose names, notes and links all carry `marker`.
fn marked(ch: &str, f: &str, marker: &str) -> Rec {
    let mut r = Rec::new(&uid("rec"), ch, f).names(&[&format!("{marker} name")]);
    // Large enough to spill onto overflow pages.
    r.notes = Some(format!("{marker} ").repeat(2000));
    r
}

#[test]
fn purged_content_leaves_the_files_after_scrub() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tansiq.db");
    let store = Store::open_sqlite(&db, true).unwrap();
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    // Other records around the purged ones, so pages are shared.
    for _ in 0..50 {
        Rec::new(&uid("other"), &ch, &f).put(&store, &who);
    }

    // Retraction.
    let m1 = uid("RETRACTMARK").replace('-', "");
    let r = marked(&ch, &f, &m1);
    r.put(&store, &who);
    let mut r2 = r.clone();
    r2.version = 2;
    r2.put(&store, &who);
    assert!(
        !files_containing(&db, &m1).is_empty(),
        "the marker is in the files before the purge (else this test sees nothing)"
    );
    r2.retraction().put(&store, &who);

    // Expiry.
    let m2 = uid("EXPIREMARK").replace('-', "");
    let mut e = marked(&ch, &f, &m2);
    e.expires = Some("2020-01-01T00:00:00Z".into());
    e.put(&store, &who);
    assert!(!files_containing(&db, &m2).is_empty());
    store
        .write(|tx| {
            for id in tx.expired_records("2025-01-01T00:00:00Z")? {
                tx.purge_content(&id, RecordStatus::Expired, None)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();

    // The last transaction before the scrub may be a read (query_only).
    store.read(|tx| tx.meta_get("schema_version")).unwrap();
    store.scrub().unwrap();
    for m in [&m1, &m2] {
        assert_eq!(
            files_containing(&db, m),
            Vec::<String>::new(),
            "{m} left in the files"
        );
    }
    // The tombstones are still there, and the store still works.
    let rec = store
        .read(|tx| tx.record(&r.id, &ReadScope::everything()))
        .unwrap()
        .unwrap();
    assert_eq!(rec.status, RecordStatus::Retracted);
    Rec::new(&uid("after"), &ch, &f).put(&store, &who);
    drop(store);
    for m in [&m1, &m2] {
        assert_eq!(files_containing(&db, m), Vec::<String>::new());
    }
}

/// A purged envelope body and a forgotten custody copy leave the bytes on
/// disk after `scrub`, as record content does.
#[test]
fn purged_envelope_bodies_leave_the_files_after_scrub() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tansiq.db");
    let store = Store::open_sqlite(&db, true).unwrap();
    let (ch, o) = (uid("ch"), uid("tq"));
    for s in 1..=40 {
        let e = suite::sync::envelope(&ch, &o, s, "other");
        store.write(|tx| tx.sync_put_envelope(&e)).unwrap();
    }
    let purged_mark = uid("PURGEDBODY").replace('-', "");
    let custody_mark = uid("CUSTODYBODY").replace('-', "");
    let mut purged = suite::sync::envelope(&ch, &o, 41, &purged_mark);
    // Large enough to spill onto overflow pages.
    purged.body = Some(format!("{purged_mark} ").repeat(2000).into_bytes());
    let mut relayed = suite::sync::envelope(&ch, &o, 42, &custody_mark);
    relayed.custody = true;
    store
        .write(|tx| {
            tx.sync_put_envelope(&purged)?;
            tx.sync_put_envelope(&relayed)
        })
        .unwrap();
    for m in [&purged_mark, &custody_mark] {
        assert!(!files_containing(&db, m).is_empty(), "{m} stored");
    }
    store
        .write(|tx| {
            tx.sync_purge_envelope(&purged.id)?;
            tx.sync_forget_envelope(&relayed.id)
        })
        .unwrap();
    store.scrub().unwrap();
    for m in [&purged_mark, &custody_mark] {
        assert_eq!(
            files_containing(&db, m),
            Vec::<String>::new(),
            "{m} left in the files"
        );
    }
    let stub = store.read(|tx| tx.sync_envelope(&purged.id)).unwrap();
    assert_eq!(stub.map(|e| (e.body, e.sig)), Some((None, purged.sig)));
}

#[test]
fn online_backup_is_a_consistent_copy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("tansiq.db"), true).unwrap();
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    for i in 0..30 {
        let r = Rec::new(&uid("b"), &ch, &f).tlp(Tlp::ALL[i % 5]);
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
    let copy = dir.path().join("backup.db");
    store.backup_to(&copy).unwrap();
    // Writes after the backup are not in it.
    Rec::new(&uid("late"), &ch, &f).put(&store, &who);

    let restored = Store::open_sqlite(&copy, false).unwrap();
    assert_eq!(check_audit_tree(&restored), 30);
    let all = ReadScope::everything();
    let n = |s: &Store| {
        s.read(|tx| tx.count_records(&RecordFilter::default(), &all))
            .unwrap()
    };
    assert_eq!(n(&restored), 30);
    assert_eq!(n(&store), 31);
    assert_eq!(
        restored.read(|tx| tx.audit_head()).unwrap(),
        store.read(|tx| tx.audit_head()).unwrap()
    );
}

#[test]
fn opening_what_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let e = Store::open_sqlite(&missing, false)
        .err()
        .expect("no file, no create");
    assert!(e.to_string().contains("no database at"), "{e}");
    assert!(!missing.exists(), "nothing created without create");

    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5a; 8192]).unwrap();
    let e = Store::open_sqlite(&junk, false)
        .err()
        .expect("not a database");
    assert!(e.to_string().contains("not a database"), "{e}");
}

#[test]
fn scrub_waits_for_or_reports_a_reader() {
    // A second handle reading while the first scrubs: the checkpoint
    // either completes after the read ends or is reported as busy — never
    // a silent success that leaves the WAL full.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tansiq.db");
    let a = Store::open_sqlite(&db, true).unwrap();
    let b = Store::open_sqlite(&db, false).unwrap();
    a.write(|tx| tx.meta_set("k", "v")).unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            b.read(|tx| {
                tx.meta_get("k")?;
                std::thread::sleep(std::time::Duration::from_millis(300));
                Ok::<_, StoreError>(())
            })
            .unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        match a.scrub() {
            Ok(()) => {
                let wal = std::fs::metadata(format!("{}-wal", db.display())).map_or(0, |m| m.len());
                assert_eq!(wal, 0, "a successful scrub leaves an empty WAL");
            }
            Err(e) => assert!(matches!(e, StoreError::Busy), "{e}"),
        }
    });
}

/// A store made before schema step 11 gets its name-search tokens from
/// the names it holds when it is opened by this version.
#[test]
fn step_11_fills_the_search_tokens_of_an_older_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tansiq.db");
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    let tag = uid("").replace('-', "");
    let r = Rec::new(&uid("rec"), &ch, &f).names(&[&format!("abu {tag}")]);
    {
        let store = Store::open_sqlite(&db, true).unwrap();
        r.put(&store, &who);
        let mut gone = Rec::new(&uid("rec"), &ch, &f).names(&[&format!("gone {tag}")]);
        gone.put(&store, &who);
        gone = gone.retraction();
        gone.put(&store, &who);
    }
    // Back to step 10, as an older binary left it.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "DROP TABLE name_tokens; DROP TABLE record_name_tokens; DROP TABLE audit_pending;
         DROP TABLE sync_hold; DROP TABLE sync_deferred;
         UPDATE meta SET value = '10' WHERE key = 'schema_version';",
    )
    .unwrap();
    drop(conn);
    let store = Store::open_sqlite(&db, true).unwrap();
    let found = store
        .read(|tx| tx.search_names(&format!("u {tag}"), &ReadScope::everything(), 10))
        .unwrap();
    assert_eq!(
        found.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![r.id.clone()]
    );
    assert!(store
        .read(|tx| tx.search_names(&format!("gone {tag}"), &ReadScope::everything(), 10))
        .unwrap()
        .is_empty());
}
