//! Tamper sweeps (issue 17 §5): every byte of a small offline bundle, of
//! a signed audit checkpoint, of a peer's envelope and of audit rows
//! flipped in turn — not hand-picked positions. Each altered bundle is
//! refused (exit 2) and changes nothing at the importer; each altered
//! checkpoint fails verification; each altered envelope is refused and
//! stores nothing; each altered audit row fails `audit verify`. On
//! PostgreSQL too (`TANSIQ_TEST_CLI_POSTGRES`, as scripts/test runs it).

mod common;

use common::{form_channel, held, node, person, trust, OP};
use tansiq_node::Node;
use tansiq_store::RecordFilter;

/// What an import could change at `n`: its audit head and checkpoints,
/// its records and its sync state (streams, outbox).
fn footprint(n: &Node) -> (u64, usize, usize, usize, usize) {
    // The log's size with the leaves of audited reads that PostgreSQL
    // queues for the next writer (docs/STORE.md, "Audited reads").
    let size = n
        .store
        .read(|tx| {
            Ok::<_, tansiq_store::StoreError>(tx.audit_head()?.0 + tx.audit_pending_count()?)
        })
        .unwrap();
    let cps = n.store.read(|tx| tx.checkpoints()).unwrap().len();
    let records = n.record_list(&OP, &RecordFilter::default()).unwrap().len();
    let streams = n.store.read(|tx| tx.sync_streams()).unwrap().len();
    let outbox = n.store.read(|tx| tx.sync_outbox()).unwrap().len();
    (size, cps, records, streams, outbox)
}

#[test]
fn every_byte_of_a_bundle_flipped_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let id = dz.record_add(&OP, person(&ch, "Courier")).unwrap();
    let _ = dz.federation.take_outgoing();
    let (bytes, n) = dz.bundle_export(&OP, ma.id()).unwrap();
    assert_eq!(n, 1);
    // record_list is an audited read: the footprint is taken before and
    // after the sweep only, and compared with itself.
    let before = footprint(&ma);
    let mut accepted = Vec::new();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        match ma.bundle_import(&OP, &bad) {
            Err(e) => assert_eq!(e.exit_code(), 2, "byte {i}: {e}"),
            Ok(k) => accepted.push((i, k)),
        }
    }
    assert!(
        accepted.is_empty(),
        "{} of {} flipped bytes imported: {accepted:?}",
        accepted.len(),
        bytes.len()
    );
    let after = footprint(&ma);
    // Only the footprint's own audited read is new.
    assert_eq!(
        (after.1, after.2, after.3, after.4),
        (before.1, before.2, before.3, before.4)
    );
    assert_eq!(
        after.0,
        before.0 + 1,
        "one audit entry: the footprint's own read"
    );
    eprintln!("{} bytes flipped one at a time: all refused", bytes.len());
    // The intact bundle still imports.
    assert_eq!(ma.bundle_import(&OP, &bytes).unwrap(), 1);
    assert!(ma.record_get(&OP, &id).is_ok());
}

#[test]
fn every_byte_of_a_checkpoint_flipped_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let note = dz
        .store
        .read(|tx| tx.checkpoints())
        .unwrap()
        .pop()
        .expect("a checkpoint")
        .note;
    let key = dz.card().signing_key().unwrap();
    let name = format!("tansiq/{}", dz.id());
    let good = tansiq_crypto::checkpoint::verify(&note, &name, &key).unwrap();
    let bytes = note.as_bytes();
    let mut passed = Vec::new();
    for i in 0..bytes.len() {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x01;
        let Ok(text) = String::from_utf8(bad) else {
            continue; // not a string: a note cannot even be read
        };
        if let Ok(cp) = tansiq_crypto::checkpoint::verify(&text, &name, &key) {
            passed.push((i, cp == good));
        }
    }
    assert!(
        passed.is_empty(),
        "flipped bytes that still verify: {passed:?}"
    );
    eprintln!("{} bytes flipped one at a time: all refused", bytes.len());
}

/// The store of the node in `dir`, opened behind the node's back (an
/// insider with database access), whatever its backend.
enum Raw {
    Sqlite(rusqlite::Connection),
    Pg(postgres::Client),
}

impl Raw {
    fn open(dir: &std::path::Path) -> Raw {
        let cfg = std::fs::read_to_string(dir.join("config.toml")).unwrap();
        let url = cfg
            .lines()
            .find(|l| l.starts_with("store"))
            .and_then(|l| l.split('"').nth(1))
            .unwrap_or_default()
            .to_string();
        if !url.starts_with("postgres") {
            return Raw::Sqlite(rusqlite::Connection::open(dir.join("node.db")).unwrap());
        }
        let schema = url
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix("schema="))
            .unwrap()
            .to_string();
        let base = std::env::var("TANSIQ_TEST_CLI_POSTGRES").unwrap();
        let mut c = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        c.batch_execute(&format!("SET search_path TO {schema}"))
            .unwrap();
        Raw::Pg(c)
    }

    fn count(&mut self, sql: &str) -> i64 {
        match self {
            Raw::Sqlite(c) => c.query_row(sql, [], |r| r.get(0)).unwrap(),
            Raw::Pg(c) => c.query_one(sql, &[]).unwrap().get(0),
        }
    }

    /// Runs `sql`; false if the database refused it (a key collision).
    fn exec(&mut self, sql: &str) -> bool {
        match self {
            Raw::Sqlite(c) => c.execute(sql, []).is_ok(),
            Raw::Pg(c) => c.execute(sql, &[]).is_ok(),
        }
    }

    /// A blob literal in this backend's SQL.
    fn blob(&self, b: &[u8]) -> String {
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        match self {
            Raw::Sqlite(_) => format!("X'{hex}'"),
            Raw::Pg(_) => format!("'\\x{hex}'::bytea"),
        }
    }

    /// One audit row: idx, the four text columns, salt, details, leaf.
    fn audit_row(&mut self, idx: i64) -> (Vec<String>, Vec<u8>, String, Vec<u8>) {
        let sql = format!(
            "SELECT at, actor, action, object, salt, details, leaf FROM audit_log WHERE idx = {idx}"
        );
        match self {
            Raw::Sqlite(c) => c
                .query_row(&sql, [], |r| {
                    Ok((
                        vec![r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?],
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                })
                .unwrap(),
            Raw::Pg(c) => {
                let r = c.query_one(&sql, &[]).unwrap();
                (
                    vec![r.get(0), r.get(1), r.get(2), r.get(3)],
                    r.get(4),
                    r.get(5),
                    r.get(6),
                )
            }
        }
    }
}

/// What an arriving envelope could leave at `raw`'s node.
fn stored(raw: &mut Raw) -> [i64; 4] {
    [
        raw.count("SELECT COUNT(*) FROM records"),
        raw.count("SELECT COUNT(*) FROM record_versions"),
        raw.count("SELECT COUNT(*) FROM sync_envelope"),
        raw.count("SELECT CAST(COALESCE(SUM(seq), 0) AS BIGINT) FROM sync_stream"),
    ]
}

/// Every byte of the envelope DZ sends MA for one new record (the JSON
/// bytes of the envelope inside the batch a peer POSTs to
/// `/peer/v1/sync`), flipped in turn and delivered from DZ as the
/// authenticated peer: each is refused, and MA stores nothing of it — no
/// record, no version, no envelope, no stream advance. The intact batch
/// then delivers the record.
#[test]
fn every_byte_of_an_envelope_flipped_is_refused_and_stores_nothing() {
    use tansiq_sync::{Message, Status};
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let id = dz.record_add(&OP, person(&ch, "Courier")).unwrap();
    let batch = dz
        .federation
        .take_outgoing()
        .into_iter()
        .find(|t| t.to.as_str() == ma.id() && matches!(t.message, Message::Batch { .. }))
        .expect("a batch for MA");
    let Message::Batch { items, .. } = &batch.message else {
        unreachable!()
    };
    assert_eq!(items.len(), 1);
    let env = items[0].envelope.encode();
    let msg = batch.message.encode();
    let at = msg
        .windows(env.len())
        .position(|w| w == env)
        .expect("the envelope's bytes inside the batch");
    let mut raw = Raw::open(&tmp.path().join("ma"));
    let before = stored(&mut raw);
    let (mut undecodable, mut unanswered, mut refused, mut retry, mut accepted) =
        (0, 0, 0, 0, Vec::new());
    for i in at..at + env.len() {
        let mut bad = msg.clone();
        bad[i] ^= 0x01;
        match ma.take_in_peer_message(dz.id(), &bad, true) {
            Err(_) => undecodable += 1,
            // Taken as no message it answers: dropped.
            Ok(None) => unanswered += 1,
            Ok(Some(reply)) => {
                let Ok(Message::BatchAck { results, .. }) = Message::decode(&reply) else {
                    panic!(
                        "byte {i}: not a batch_ack: {}",
                        String::from_utf8_lossy(&reply)
                    );
                };
                match results.first().map(|r| r.status) {
                    Some(Status::Refused) | None => refused += 1,
                    Some(Status::Retry) => retry += 1,
                    Some(s) => accepted.push((i - at, s)),
                }
            }
        }
        let now = stored(&mut raw);
        assert_eq!(
            now,
            before,
            "byte {} of the envelope left something at MA",
            i - at
        );
    }
    assert!(
        accepted.is_empty(),
        "{} of {} flipped bytes accepted: {accepted:?}",
        accepted.len(),
        env.len()
    );
    assert!(held(&ma, &id).is_none());
    eprintln!(
        "{} envelope bytes flipped one at a time: {undecodable} refused as undecodable, {unanswered} dropped unanswered, {refused} answered refused, {retry} answered retry; none stored",
        env.len()
    );
    // The intact batch delivers the record.
    ma.take_in_peer_message(dz.id(), &msg, true).unwrap();
    assert!(held(&ma, &id).is_some());
}

/// Every byte of audit rows (the first, one in the middle, the last:
/// its index, time, actor, action, object, salt, details and stored
/// leaf) flipped in turn in the store behind the node's back: `audit
/// verify` detects each one, and passes again once it is put back.
#[test]
fn every_byte_of_an_audit_row_flipped_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let id = dz.record_add(&OP, person(&ch, "Courier")).unwrap();
    let _ = dz.federation.take_outgoing();
    dz.record_get(&OP, &id).unwrap();
    assert!(dz.audit_verify(&OP).unwrap().ok);
    let mut raw = Raw::open(&tmp.path().join("dz"));
    let size = raw.count("SELECT COUNT(*) FROM audit_log");
    // The record's creation entry carries the richest details.
    let create = raw.count(&format!(
        "SELECT MIN(idx) FROM audit_log WHERE object = '{id}'"
    ));
    let rows: std::collections::BTreeSet<i64> = [0, create, size / 2, size - 1].into();
    let detected = |n: &Node| !matches!(n.audit_verify(&OP), Ok(r) if r.ok);
    let cols = ["at", "actor", "action", "object"];
    let (mut flipped, mut refused_by_db, mut missed) = (0, 0, Vec::new());
    for &idx in &rows {
        let (texts, salt, details, leaf) = raw.audit_row(idx);
        let mut trials: Vec<(String, String, String)> = Vec::new();
        // The index: each of its eight bytes.
        for k in 0..8 {
            let other = idx ^ (1i64 << (8 * k));
            trials.push((
                format!("idx byte {k}"),
                format!("UPDATE audit_log SET idx = {other} WHERE idx = {idx}"),
                format!("UPDATE audit_log SET idx = {idx} WHERE idx = {other}"),
            ));
        }
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        for (c, text) in cols.iter().zip(&texts).chain([(&"details", &details)]) {
            for i in 0..text.len() {
                let mut b = text.as_bytes().to_vec();
                b[i] ^= 0x01;
                let bad = String::from_utf8(b).expect("audit rows are ASCII here");
                trials.push((
                    format!("{c} byte {i}"),
                    format!(
                        "UPDATE audit_log SET {c} = {} WHERE idx = {idx}",
                        quote(&bad)
                    ),
                    format!(
                        "UPDATE audit_log SET {c} = {} WHERE idx = {idx}",
                        quote(text)
                    ),
                ));
            }
        }
        for (c, bytes) in [("salt", &salt), ("leaf", &leaf)] {
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0x01;
                trials.push((
                    format!("{c} byte {i}"),
                    format!(
                        "UPDATE audit_log SET {c} = {} WHERE idx = {idx}",
                        raw.blob(&b)
                    ),
                    format!(
                        "UPDATE audit_log SET {c} = {} WHERE idx = {idx}",
                        raw.blob(bytes)
                    ),
                ));
            }
        }
        for (what, flip, restore) in trials {
            if !raw.exec(&flip) {
                // Another row has that index: the database refuses it.
                refused_by_db += 1;
                continue;
            }
            flipped += 1;
            if !detected(&dz) {
                missed.push(format!("entry {idx}, {what}"));
            }
            assert!(raw.exec(&restore), "entry {idx}, {what}: restore");
        }
        assert!(dz.audit_verify(&OP).unwrap().ok, "entry {idx} restored");
    }
    assert!(
        missed.is_empty(),
        "{} of {flipped} flipped bytes not detected: {missed:?}",
        missed.len()
    );
    eprintln!(
        "{flipped} bytes of {} audit rows flipped one at a time: all detected ({refused_by_db} index flips refused by the database: another row has that index)",
        rows.len()
    );
}
