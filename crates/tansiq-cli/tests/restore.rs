//! Restoring a node from a backup (issue 17 §1) with real processes: DZ
//! is backed up, makes more records that reach MA, is restored from the
//! backup (`tansiq restore`, which marks it restored), and a record is
//! made at once — before `serve` starts and right after. No fork alarm on
//! either side, and every record arrives exactly once.

mod common;

use std::path::Path;

use common::*;

fn diag(root: &Path, dz: &Path, ma: &Path) -> String {
    format!(
        "--- dz status\n{}\n--- ma status\n{}\n--- dz.log\n{}\n--- ma.log\n{}",
        String::from_utf8_lossy(&tansiq(dz, &["sync", "status", "--json"]).stdout),
        String::from_utf8_lossy(&tansiq(ma, &["sync", "status", "--json"]).stdout),
        tail(&root.join("dz.log"), 60),
        tail(&root.join("ma.log"), 60)
    )
}

#[test]
fn a_restored_node_forks_nothing_and_every_record_arrives_once() {
    if on_postgres() {
        // `tansiq restore` restores SQLite stores; a PostgreSQL node is
        // restored with pg_restore, then `store mark-restored` (the same
        // holds; docs/OPERATIONS.md).
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dz = init_at(root, "dz", "DZ");
    let ma = init_at(root, "ma", "MA");
    let (_, ma_id) = introduce(&dz, &ma);
    let mut dz_serve = Some(serve_logged(&dz, "info", Some(&root.join("dz.log"))));
    let _ma_serve = serve_logged(&ma, "info", Some(&root.join("ma.log")));
    let ch = form_channel_serving(&dz, &[(&ma, &ma_id)], "restore");
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(add_person(
            &dz,
            &ch,
            "terrorism",
            &format!("Before Backup {i}"),
        ));
    }
    let arrived = |made: &[String]| {
        let at_ma = record_ids(&ma);
        made.iter().all(|r| at_ma.contains(r))
    };
    wait_diag(
        "the first records at MA",
        60,
        || arrived(&made),
        || diag(root, &dz, &ma),
    );
    let backup = root.join("dz-backup.db");
    ok(&dz, &["backup", "--out", backup.to_str().unwrap()]);
    for i in 0..3 {
        made.push(add_person(
            &dz,
            &ch,
            "terrorism",
            &format!("After Backup {i}"),
        ));
    }
    wait_diag(
        "the later records at MA",
        60,
        || arrived(&made),
        || diag(root, &dz, &ma),
    );

    // Refused while serve runs: nothing changes.
    let before = std::fs::read(dz.join("node.db")).unwrap();
    let err = fails(&dz, &["restore", backup.to_str().unwrap()], 2);
    assert!(err.contains("serve"), "{err}");
    assert_eq!(std::fs::read(dz.join("node.db")).unwrap(), before);

    drop(dz_serve.take());
    // Not a store, and another node's store: refused, nothing changes.
    let junk = root.join("junk.db");
    std::fs::write(&junk, b"not a database at all, just bytes").unwrap();
    let ma_copy = root.join("ma-backup.db");
    ok(&ma, &["backup", "--out", ma_copy.to_str().unwrap()]);
    let s0 = state(&dz);
    let err = fails(&dz, &["restore", junk.to_str().unwrap()], 2);
    assert!(err.contains("not a Tansiq store"), "{err}");
    let err = fails(&dz, &["restore", ma_copy.to_str().unwrap()], 2);
    assert!(err.contains("another node"), "{err}");
    let err = fails(
        &dz,
        &["restore", root.join("missing.db").to_str().unwrap()],
        2,
    );
    assert!(err.contains("not a file"), "{err}");
    assert!(
        state(&dz).changed(&s0).is_empty(),
        "{:?}",
        state(&dz).changed(&s0)
    );
    let out = json(&dz, &["restore", backup.to_str().unwrap(), "--json"]);
    let holds = out["holds"].as_array().unwrap();
    assert!(
        holds
            .iter()
            .any(|h| h["channel"] == ch.as_str() && h["partner"] == ma_id.as_str()),
        "{out}"
    );
    assert!(out["replaced"]
        .as_str()
        .is_some_and(|p| Path::new(p).exists()));
    // The restored store lost the later records; a record made now is kept
    // and waits for the hold.
    let local = record_ids(&dz);
    assert!(!local.contains(&made[3]), "the backup predates it");
    made.push(add_person(&dz, &ch, "terrorism", "Made While Held"));
    let st = json(&dz, &["sync", "status", "--json"]);
    let hold = st["holds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["channel"] == ch.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no hold of {ch}: {st}"));
    assert_eq!(hold["partner"], ma_id.as_str());
    assert_eq!(hold["deferred"], 1, "{st}");
    // A new version of a record of the held channel waits for the hold:
    // refused, naming the partner, changing nothing.
    let upd = write(&dz, "upd.json", r#"{"names": ["Renamed While Held"]}"#);
    let state_before = state(&dz);
    let err = fails(&dz, &["record", "update", &made[0], "--data", &upd], 2);
    assert!(
        err.contains("restored from a backup") && err.contains(&ma_id),
        "{err}"
    );
    assert!(state(&dz).changed(&state_before).is_empty());
    let text = ok(&dz, &["sync", "status"]);
    assert!(
        text.contains(&format!(
            "HOLD {ch}  restored from a backup: waiting for {ma_id}"
        )),
        "{text}"
    );

    // Serve again and make a record at once.
    let _dz_serve = serve_logged(&dz, "info", Some(&root.join("dz2.log")));
    made.push(add_person(&dz, &ch, "terrorism", "Made At Start"));
    wait_diag(
        "every record at MA and DZ's holds cleared",
        90,
        || {
            arrived(&made)
                && json(&dz, &["sync", "status", "--json"])["holds"]
                    .as_array()
                    .unwrap()
                    .is_empty()
        },
        || diag(root, &dz, &ma),
    );
    // One more after the hold: the stream goes on where MA's copy is.
    made.push(add_person(&dz, &ch, "terrorism", "Made After Hold"));
    wait_diag(
        "the last record at MA",
        60,
        || arrived(&made),
        || diag(root, &dz, &ma),
    );
    for (name, d) in [("dz", &dz), ("ma", &ma)] {
        let st = json(d, &["sync", "status", "--json"]);
        assert!(
            st["alarms"].as_array().unwrap().is_empty(),
            "{name} raised an alarm: {st}"
        );
    }
    // Exactly once: `record_ids` asserts no id is listed twice; MA holds
    // DZ's nine records and nothing else of DZ's.
    let at_ma = record_ids(&ma);
    assert_eq!(at_ma.len(), made.len(), "{at_ma:?}");
    // DZ got its own later records back from MA (re-delivered once).
    wait_diag(
        "DZ's own records back",
        60,
        || {
            let at_dz = record_ids(&dz);
            made.iter().all(|r| at_dz.contains(r))
        },
        || diag(root, &dz, &ma),
    );
    let audit = ok(&dz, &["audit", "verify"]);
    assert!(!audit.is_empty());
}

/// `store mark-restored` (the PostgreSQL path, after pg_restore; on
/// either backend) and the operator's override: with MA stopped for good,
/// DZ's hold on their channel never clears by itself; `sync release-hold`
/// releases it (audited), and what DZ made meanwhile goes out.
#[test]
fn mark_restored_holds_until_released_for_a_partner_gone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dz = init_at(root, "dz", "DZ");
    let ma = init_at(root, "ma", "MA");
    let (_, ma_id) = introduce(&dz, &ma);
    let dz_serve = serve_logged(&dz, "info", Some(&root.join("dz.log")));
    let ma_serve = serve_logged(&ma, "info", Some(&root.join("ma.log")));
    let ch = form_channel_serving(&dz, &[(&ma, &ma_id)], "gone");
    drop(ma_serve);
    drop(dz_serve);
    let out = json(&dz, &["store", "mark-restored", "--json"]);
    let holds = out["holds"].as_array().unwrap();
    assert!(
        holds
            .iter()
            .any(|h| h["channel"] == ch.as_str() && h["partner"] == ma_id.as_str()),
        "{out}"
    );
    let rec = add_person(&dz, &ch, "terrorism", "Kept While Held");
    let queued = |dz: &Path| -> u64 {
        json(dz, &["sync", "status", "--json"])["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == ma_id.as_str())
            .map_or(0, |p| p["queued"].as_u64().unwrap())
    };
    let before = queued(&dz);
    let st = json(&dz, &["sync", "status", "--json"]);
    let hold = st["holds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["channel"] == ch.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{st}"));
    assert_eq!(hold["deferred"], 1);
    // An unknown hold: exit 2, nothing changes.
    let s0 = state(&dz);
    let err = fails(
        &dz,
        &[
            "sync",
            "release-hold",
            "--channel",
            &ch,
            "--partner",
            "tqnosuchpartner0",
        ],
        2,
    );
    assert!(err.contains("no restore hold"), "{err}");
    assert!(state(&dz).changed(&s0).is_empty());
    // Released: the hold goes, the kept record is sealed and queued.
    let out = json(
        &dz,
        &[
            "sync",
            "release-hold",
            "--channel",
            &ch,
            "--partner",
            &ma_id,
            "--json",
        ],
    );
    assert_eq!(out["released"][0], ma_id.as_str(), "{out}");
    let st = json(&dz, &["sync", "status", "--json"]);
    assert!(
        !st["holds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["channel"] == ch.as_str()),
        "{st}"
    );
    assert_eq!(queued(&dz), before + 1, "the kept record is queued for MA");
    assert!(store_count(&dz, "SELECT COUNT(*) FROM sync_deferred") == 0);
    let audit = store_count(
        &dz,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'sync.release_hold'",
    );
    assert_eq!(audit, 1);
    // MA comes back: the record arrives, no alarm.
    let _ma_serve = serve_logged(&ma, "info", Some(&root.join("ma2.log")));
    let _dz_serve = serve_logged(&dz, "info", Some(&root.join("dz2.log")));
    wait_diag(
        "the kept record at MA",
        60,
        || record_ids(&ma).contains(&rec),
        || diag(root, &dz, &ma),
    );
    assert!(json(&ma, &["sync", "status", "--json"])["alarms"]
        .as_array()
        .unwrap()
        .is_empty());
}
