//! Audit tamper tests: change the node's SQLite file directly, the way an
//! insider with disk access would, and check `tansiq audit verify` fails
//! (exit 1) naming the first bad entry or record.

mod common;

use common::*;
use rusqlite::Connection;

/// A node with some history: channel, records, an update, a retraction,
/// reads.
fn node_with_history() -> Node {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    for (i, name) in [
        "Abdallah Belkeziz",
        "Mokhtar Belmokhtar",
        "Abdelmalek Droukdel",
    ]
    .iter()
    .enumerate()
    {
        let p = write(
            &n.dir,
            &format!("p{i}.json"),
            &format!(r#"{{"names": ["{name}"]}}"#),
        );
        let id = add_person_data(&n.dir, &ch, "terrorism", &p, &[]);
        ok(&n.dir, &["record", "get", &id]);
    }
    let list = json(&n.dir, &["record", "list", "--json"]);
    let first = list[0]["id"].as_str().unwrap().to_string();
    let p = write(&n.dir, "u.json", r#"{"names": ["Abdellah Belkaziz"]}"#);
    ok(&n.dir, &["record", "update", &first, "--data", &p]);
    ok(&n.dir, &["audit", "verify"]);
    n
}

fn db(n: &Node) -> Connection {
    Connection::open(n.dir.join("node.db")).unwrap()
}

fn verify_fails(n: &Node, needle: &str) {
    let err = fails(&n.dir, &["audit", "verify"], 1);
    assert!(err.contains("FAILED"), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn untouched_log_verifies() {
    let n = node_with_history();
    let out = ok(&n.dir, &["audit", "verify"]);
    assert!(out.contains("verified"), "{out}");
    let cp = json(&n.dir, &["audit", "checkpoint", "--json"]);
    assert!(cp["size"].as_u64().unwrap() > 8);
    assert!(cp["root"].as_str().unwrap().len() > 40);
    assert!(cp["signature"].as_str().unwrap().len() > 40);
    assert!(cp["witnesses"].is_array());
    let list = json(&n.dir, &["audit", "checkpoints", "--limit", "2", "--json"]);
    let list = list.as_array().unwrap();
    assert!(!list.is_empty() && list.len() <= 2, "{list:?}");
    assert_eq!(list[0]["size"], cp["size"]);
    let text = ok(&n.dir, &["audit", "checkpoints"]);
    assert!(text.contains("witnessed by none yet"), "{text}");
    // No partner yet: nobody witnesses, and the read is audited.
    assert_eq!(
        json(&n.dir, &["audit", "witnesses", "--json"]),
        serde_json::json!([])
    );
    let err = fails(&n.dir, &["audit", "checkpoints", "--limit", "0"], 2);
    assert!(err.contains("limit"), "{err}");
}

#[test]
fn edited_entry_is_detected() {
    let n = node_with_history();
    db(&n)
        .execute(
            "UPDATE audit_log SET actor = 'user:nobody' WHERE idx = 3",
            [],
        )
        .unwrap();
    verify_fails(&n, "audit entry 3");
}

#[test]
fn edited_entry_with_recomputed_leaf_is_detected_by_the_signed_checkpoints() {
    let n = node_with_history();
    // The insider edits the entry and rewrites its stored leaf to match.
    let c = db(&n);
    c.execute(
        "UPDATE audit_log SET action = 'record.read' WHERE idx = 4",
        [],
    )
    .unwrap();
    let (idx, at, actor, action, object, salt, details): (
        i64,
        String,
        String,
        String,
        String,
        Vec<u8>,
        String,
    ) = c
        .query_row(
            "SELECT idx, at, actor, action, object, salt, details FROM audit_log WHERE idx = 4",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .unwrap();
    let entry = tansiq_core::audit::AuditEntry {
        idx: idx as u64,
        at,
        actor,
        action,
        object,
        details: serde_json::from_str(&details).unwrap(),
        salt: salt.try_into().unwrap(),
    };
    c.execute(
        "UPDATE audit_log SET leaf = ? WHERE idx = 4",
        [entry.leaf().to_vec()],
    )
    .unwrap();
    verify_fails(&n, "checkpoint");
}

#[test]
fn deleted_entry_is_detected() {
    let n = node_with_history();
    db(&n)
        .execute("DELETE FROM audit_log WHERE idx = 5", [])
        .unwrap();
    verify_fails(&n, "audit entry 5 is missing");
}

#[test]
fn deleted_tail_is_detected() {
    let n = node_with_history();
    let c = db(&n);
    let max: i64 = c
        .query_row("SELECT MAX(idx) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    c.execute("DELETE FROM audit_log WHERE idx = ?", [max])
        .unwrap();
    verify_fails(&n, "beyond");
}

#[test]
fn reordered_entries_are_detected() {
    let n = node_with_history();
    let c = db(&n);
    c.execute_batch(
        "UPDATE audit_log SET idx = -1 WHERE idx = 6;
         UPDATE audit_log SET idx = 6 WHERE idx = 7;
         UPDATE audit_log SET idx = 7 WHERE idx = -1;",
    )
    .unwrap();
    verify_fails(&n, "audit entry 6");
}

#[test]
fn edited_record_content_is_detected() {
    let n = node_with_history();
    let c = db(&n);
    let n_changed = c
        .execute(
            "UPDATE record_versions SET body = replace(body, 'Mokhtar', 'Mukhtar') WHERE body LIKE '%Mokhtar%'",
            [],
        )
        .unwrap();
    assert_eq!(n_changed, 1);
    verify_fails(&n, "content was altered");
}

#[test]
fn record_inserted_behind_the_logs_back_is_detected() {
    let n = node_with_history();
    let c = db(&n);
    c.execute(
        "INSERT INTO record_versions (id, version, body, sig, content_hash) SELECT id, version + 10, body, sig, content_hash FROM record_versions LIMIT 1",
        [],
    )
    .unwrap();
    verify_fails(&n, "has no matching audit entry");
}

#[test]
fn forged_checkpoint_is_detected() {
    let n = node_with_history();
    let c = db(&n);
    let note: String = c
        .query_row(
            "SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    // Flip one character of the signature line.
    let mut forged = note.clone();
    let pos = forged.rfind(' ').unwrap() + 5;
    let ch = forged.as_bytes()[pos];
    forged.replace_range(pos..pos + 1, if ch == b'A' { "B" } else { "A" });
    c.execute(
        "UPDATE checkpoints SET note = ? WHERE note = ?",
        [&forged, &note],
    )
    .unwrap();
    verify_fails(&n, "signature does not verify");
}
