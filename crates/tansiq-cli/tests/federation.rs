//! Two real nodes, each a `tansiq serve` process, talking mutual TLS on
//! loopback: a channel formed by the CLI on both sides, a record created
//! at one node arriving at the other, a retraction purged there, and
//! delivery resuming after the receiving process is killed and restarted.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

fn serve(dir: &Path) -> Serve {
    serve_logged(dir, "warn", None)
}

#[test]
fn two_serving_nodes_exchange_charters_and_records_over_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let dz_card = tmp.path().join("dz.json");
    let ma_card = tmp.path().join("ma.json");
    std::fs::write(&dz_card, ok(&dz, &["card"])).unwrap();
    std::fs::write(&ma_card, ok(&ma, &["card"])).unwrap();
    let ma_id = ok(&dz, &["peer", "add", ma_card.to_str().unwrap()]);
    ok(&ma, &["peer", "add", dz_card.to_str().unwrap()]);
    let _s1 = serve(&dz);
    let mut s2 = serve(&ma);

    // DZ proposes; MA sees it pending, accepts; both become active.
    let ch = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            &ma_id,
            "--files",
            "terrorism,recruitment",
        ],
    );
    wait_for("the charter at MA", 20, || {
        channel_status(&ma, &ch) == "pending"
    });
    ok(&ma, &["channel", "accept", &ch]);
    wait_for("the channel active at DZ", 20, || {
        channel_status(&dz, &ch) == "active"
    });
    assert_eq!(channel_status(&ma, &ch), "active");

    // A record crosses.
    let p = write(
        &dz,
        "p.json",
        r#"{"names": ["Abdallah Belkeziz"], "nationality": ["DZ"]}"#,
    );
    let id = add_person_data(&dz, &ch, "terrorism", &p, &[]);
    wait_for("the record at MA", 20, || {
        tansiq(&ma, &["record", "get", &id, "--json"])
            .status
            .success()
    });
    let r = json(&ma, &["record", "get", &id, "--json"]);
    assert_eq!(r["data"]["names"][0], "Abdallah Belkeziz");
    let st = json(&dz, &["sync", "status", "--json"]);
    let peer = &st["peers"][0];
    assert_eq!(peer["id"], ma_id.as_str());
    assert!(peer["last_delivery"].is_string(), "{st}");

    // A FLASH liaison message, acknowledged by the recipient.
    let msg = ok(
        &dz,
        &[
            "send",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--precedence",
            "flash",
            "--text",
            "Attack in Casablanca; screen these names now",
            "--ack-required",
        ],
    );
    wait_for("the FLASH at MA", 20, || {
        json(&ma, &["inbox", "--json"])
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    let inbox = json(&ma, &["inbox", "--json"]);
    let m = &inbox[0];
    assert_eq!(m["id"], msg.as_str());
    assert_eq!(m["precedence"], "flash");
    assert_eq!(m["sender"], json(&dz, &["card"])["id"]);
    assert_eq!(m["acked"], false);
    for f in ["channel", "file", "text", "sent_at", "received_at"] {
        assert!(m.get(f).is_some(), "inbox entry lacks {f}");
    }
    assert_eq!(
        json(&dz, &["sync", "status", "--json"])["unacked"][0]["id"],
        msg.as_str()
    );
    ok(&ma, &["ack", &msg]);
    assert_eq!(json(&ma, &["inbox", "--json"])[0]["acked"], true);
    wait_for("the ack at DZ", 20, || {
        json(&dz, &["sync", "status", "--json"])["unacked"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    });

    // MA is killed; DZ keeps creating; MA restarts and catches up.
    drop(s2);
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = write(
            &dz,
            &format!("q{i}.json"),
            &format!(r#"{{"names": ["Courier {i}"]}}"#),
        );
        ids.push(add_person_data(&dz, &ch, "recruitment", &p, &[]));
    }
    s2 = serve(&ma);
    wait_for("the backlog at MA", 40, || {
        ids.iter().all(|i| {
            tansiq(&ma, &["record", "get", i, "--json"])
                .status
                .success()
        })
    });

    // A retraction is purged at the holder.
    ok(&dz, &["record", "retract", &id]);
    wait_for("the retraction at MA", 20, || {
        json(&ma, &["record", "get", &id, "--json"])["status"] == "retracted"
    });
    // An expiry is honoured at the holder too.
    let p = write(&dz, "e.json", r#"{"names": ["Ephemeral Courier"]}"#);
    let soon = {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 4;
        let out = Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let eph = add_person_data(&dz, &ch, "terrorism", &p, &["--expires", &soon]);
    wait_for("the expiring record at MA", 20, || {
        tansiq(&ma, &["record", "get", &eph, "--json"])
            .status
            .success()
    });
    wait_for("the expiry at MA", 30, || {
        json(&ma, &["record", "get", &eph, "--json"])["status"] == "expired"
    });
    drop(s2);
    for d in [&dz, &ma] {
        ok(d, &["audit", "verify"]);
    }
    let db = store_bytes(&ma);
    assert!(
        !contains(&db, b"Belkeziz"),
        "plaintext of the retracted record left at the holder"
    );
    assert!(
        !contains(&db, b"Ephemeral Courier"),
        "plaintext of the expired record left at the holder"
    );
}

/// Carries every queued envelope from `from` to `to` as a bundle file;
/// returns the number of new items `to` took in.
fn carry(from: &Path, to: &Path, to_id: &str, name: &str) -> String {
    let file = from.parent().unwrap().join(name);
    ok(
        from,
        &[
            "bundle",
            "export",
            "--to",
            to_id,
            "--out",
            file.to_str().unwrap(),
        ],
    );
    ok(to, &["bundle", "import", file.to_str().unwrap()])
}

/// A channel of `a` and `b` formed by carrying charter files.
fn charter_by_hand(a: &Path, b: &Path, b_id: &str, name: &str) -> String {
    let ch = ok(
        a,
        &[
            "channel",
            "create",
            "--name",
            name,
            "--members",
            b_id,
            "--files",
            "terrorism",
        ],
    );
    let f = write(
        a,
        &format!("{name}.json"),
        &ok(a, &["channel", "export", &ch]),
    );
    ok(b, &["channel", "import", &f]);
    ok(b, &["channel", "accept", &ch]);
    let back = write(
        b,
        &format!("{name}-signed.json"),
        &ok(b, &["channel", "export", &ch]),
    );
    ok(a, &["channel", "import", &back]);
    assert_eq!(channel_status(a, &ch), "active");
    ch
}

fn releases(dir: &Path) -> Vec<serde_json::Value> {
    json(dir, &["releases", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// With no network at all, through the CLI: offline bundles carry records
/// and release requests and decisions between DZ, MA and US; a tampered
/// bundle or one addressed to another node is refused whole (exit 2,
/// nothing changed); a second import adds nothing; MA's share of DZ's
/// record to the US is refused under the third-party rule (exit 3) until
/// DZ, having first refused, grants a release — then the US node takes the
/// record in, carried with the release.
#[test]
fn bundles_and_the_release_workflow_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let us = init_at(tmp.path(), "us", "US");
    let (dz_id, ma_id) = introduce(&dz, &ma);
    let (_, us_id) = introduce(&ma, &us);
    introduce(&dz, &us);
    let dzma = charter_by_hand(&dz, &ma, &ma_id, "DZ-MA");
    let maus = charter_by_hand(&ma, &us, &us_id, "MA-US");
    let data = write(&dz, "p.json", r#"{"names": ["Mokhtar Belmokhtar"]}"#);
    let rec = add_person_data(&dz, &dzma, "terrorism", &data, &[]);

    // DZ's bundle for MA: tampered, or imported by another node → refused whole.
    let file = tmp.path().join("dz-ma.bundle");
    let n: usize = ok(
        &dz,
        &[
            "bundle",
            "export",
            "--to",
            &ma_id,
            "--out",
            file.to_str().unwrap(),
        ],
    )
    .parse()
    .unwrap();
    assert!(n >= 1, "{n}");
    let good = std::fs::read(&file).unwrap();
    let before = state(&ma);
    for i in [good.len() / 3, good.len() / 2, good.len() - 10] {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        let f = tmp.path().join(format!("bad{i}.bundle"));
        std::fs::write(&f, &bad).unwrap();
        fails(&ma, &["bundle", "import", f.to_str().unwrap()], 2);
        assert_eq!(state(&ma), before, "a tampered bundle changed nothing");
    }
    let us_before = state(&us);
    let err = fails(&us, &["bundle", "import", file.to_str().unwrap()], 2);
    assert!(err.contains("addressed to"), "{err}");
    assert_eq!(state(&us), us_before);
    assert_eq!(
        ok(&ma, &["bundle", "import", file.to_str().unwrap()]),
        n.to_string()
    );
    assert_eq!(
        json(&ma, &["record", "get", &rec, "--json"])["data"]["names"][0],
        "Mokhtar Belmokhtar"
    );
    let after = state(&ma);
    assert_eq!(ok(&ma, &["bundle", "import", file.to_str().unwrap()]), "0");
    // On PostgreSQL the audited `record get` above queued its leaf in
    // audit_pending; this write appends it (docs/STORE.md, "Audited
    // reads"), which is no change by the import.
    let changed: Vec<String> = state(&ma)
        .changed(&after)
        .into_iter()
        .filter(|t| t != "table audit_pending")
        .collect();
    assert_eq!(
        changed,
        ["table audit_head", "table audit_log", "table checkpoints"],
        "a second import changes nothing but adds its audit entry"
    );

    // MA may not pass DZ's record to the US — nor a record of its own
    // derived from it (a new one, or a new version linking it).
    let err = fails(&ma, &["record", "share", &rec, "--channel", &maus], 3);
    assert!(err.contains("third-party rule"), "{err}");
    let own = write(&ma, "own.json", r#"{"names": ["Khaled Abu al-Abbas"]}"#);
    let derived_link = format!("derived_from:{rec}");
    let add_derived = [
        "record",
        "add",
        "--channel",
        &maus,
        "--file",
        "terrorism",
        "--kind",
        "person",
        "--data",
        &own,
        "--link",
        &derived_link,
    ];
    let err = fails(&ma, &add_derived, 3);
    assert!(err.contains("third-party rule"), "{err}");
    let plain = add_person_data(&ma, &maus, "terrorism", &own, &[]);
    let err = fails(
        &ma,
        &[
            "record",
            "update",
            &plain,
            "--data",
            &own,
            "--link",
            &derived_link,
        ],
        3,
    );
    assert!(err.contains("third-party rule"), "{err}");
    let refusals = store_count(
        &ma,
        "SELECT COUNT(*) FROM audit_log WHERE action IN ('record.share.refused', 'record.derived.refused')",
    );
    assert_eq!(refusals, 3, "each refusal audited");

    // Asked, refused; asked again, granted.
    let req = ok(
        &ma,
        &[
            "release",
            "request",
            &rec,
            "--channel",
            &maus,
            "--reason",
            "joint case",
        ],
    );
    carry(&ma, &dz, &dz_id, "ma-dz-1.bundle");
    let at_dz = releases(&dz);
    let r = at_dz
        .iter()
        .find(|r| r["id"] == req.as_str())
        .expect("the request at DZ");
    assert_eq!(r["status"], "pending");
    assert_eq!(r["record"], rec.as_str());
    let mut want = vec![ma_id.clone(), us_id.clone()];
    want.sort();
    assert_eq!(r["target_members"], serde_json::json!(want));
    ok(&dz, &["release", "refuse", &req, "--reason", "not yet"]);
    carry(&dz, &ma, &ma_id, "dz-ma-2.bundle");
    let r = releases(&ma)
        .into_iter()
        .find(|r| r["id"] == req.as_str())
        .unwrap();
    assert_eq!(r["status"], "refused");
    fails(&ma, &["record", "share", &rec, "--channel", &maus], 3);

    let req2 = ok(&ma, &["release", "request", &rec, "--channel", &maus]);
    carry(&ma, &dz, &dz_id, "ma-dz-3.bundle");
    ok(
        &dz,
        &[
            "release",
            "grant",
            &req2,
            "--conditions",
            "no onward sharing",
        ],
    );
    carry(&dz, &ma, &ma_id, "dz-ma-4.bundle");
    let r = releases(&ma)
        .into_iter()
        .find(|r| r["id"] == req2.as_str())
        .unwrap();
    assert_eq!(r["status"], "granted");
    ok(&ma, &["record", "share", &rec, "--channel", &maus]);
    let derived = ok(&ma, &add_derived);
    carry(&ma, &us, &us_id, "ma-us.bundle");
    assert!(tansiq(&us, &["record", "get", &derived, "--json"])
        .status
        .success());
    assert_eq!(
        json(&us, &["record", "get", &rec, "--json"])["data"]["names"][0],
        "Mokhtar Belmokhtar"
    );

    // Charter changes (docs/POLICY.md): leaving is by itself, alone; US
    // leaves MA-US and MA takes it from the bundle with no one else's say.
    let both = format!("{dz_id},{ma_id}");
    let err = fails(&dz, &["channel", "update", &dzma, "--remove", &both], 2);
    assert!(err.contains("alone"), "{err}");
    assert_eq!(
        ok(&us, &["channel", "update", &maus, "--remove", &us_id]),
        format!("{maus} v2 removed")
    );
    carry(&us, &ma, &ma_id, "us-ma-leave.bundle");
    let at_ma = json(&ma, &["channel", "list", "--json"]);
    let at_ma = at_ma
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == maus.as_str())
        .unwrap();
    assert_eq!(
        (&at_ma["status"], &at_ma["version"], &at_ma["members"]),
        (
            &serde_json::json!("active"),
            &serde_json::json!(2),
            &serde_json::json!([ma_id])
        )
    );
    for d in [&dz, &ma, &us] {
        ok(d, &["audit", "verify"]);
    }
}
