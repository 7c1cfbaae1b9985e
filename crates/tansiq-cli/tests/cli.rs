//! CLI integration tests: the real `tansiq` binary against real node
//! directories, checking the contract of ../shared/design/CLI.md — output,
//! exit codes, and that refused or bad commands change nothing.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

#[test]
fn init_creates_private_keys_and_refuses_a_second_node() {
    let n = init("DRS Algeria", "DZ", 7401);
    use std::os::unix::fs::PermissionsExt;
    let files: &[&str] = if on_postgres() {
        &["keys/signing.key", "keys/encryption.key"]
    } else {
        &["keys/signing.key", "keys/encryption.key", "node.db"]
    };
    for f in files {
        let mode = std::fs::metadata(n.dir.join(f))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let err = fails(
        &n.dir,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "DZ",
            "--listen",
            "127.0.0.1:1",
        ],
        2,
    );
    assert!(err.contains("already holds"), "{err}");
    // bad inputs to init
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("x");
    assert!(fails(
        &d,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "ZZ",
            "--listen",
            "127.0.0.1:1"
        ],
        2
    )
    .contains("country"));
    assert!(fails(
        &d,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "DZ",
            "--listen",
            "nowhere"
        ],
        2
    )
    .contains("HOST:PORT"));
    assert!(!d.join("config.toml").exists());
    // no secret in the card
    let card = ok(&n.dir, &["card"]);
    let key = std::fs::read_to_string(n.dir.join("keys/signing.key")).unwrap();
    for line in key.lines().filter(|l| l.len() > 20) {
        assert!(!card.contains(line.trim()));
    }
}

#[test]
fn cards_verify_and_forgeries_are_refused() {
    let dz = init("DRS Algeria", "DZ", 7401);
    let ma = init("DGST Morocco", "MA", 7411);
    let card = ok(&ma.dir, &["card"]);
    let v: Value = serde_json::from_str(&card).unwrap();
    for field in [
        "id",
        "name",
        "country",
        "endpoint",
        "signing_key",
        "encryption_key",
        "sig",
    ] {
        assert!(v.get(field).is_some(), "card lacks {field}");
    }
    // altered name, altered endpoint, swapped key, truncated, not JSON
    let altered = card.replace("DGST Morocco", "DGST Maroc");
    let moved = card.replace("127.0.0.1:7411", "127.0.0.1:9999");
    let other = ok(&dz.dir, &["card"]);
    let ov: Value = serde_json::from_str(&other).unwrap();
    let mut swapped = v.clone();
    swapped["signing_key"] = ov["signing_key"].clone();
    let before = state(&dz.dir);
    for (name, content) in [
        ("altered.json", altered),
        ("moved.json", moved),
        ("swapped.json", swapped.to_string()),
        ("short.json", card[..card.len() / 2].to_string()),
        ("junk.json", "hello".to_string()),
    ] {
        let p = write(&dz.dir, name, &content);
        let err = fails(&dz.dir, &["peer", "add", &p], 2);
        assert!(!err.is_empty(), "{name}");
    }
    assert_eq!(state(&dz.dir), before);
    let p = write(&dz.dir, "ma.json", &card);
    assert_eq!(ok(&dz.dir, &["peer", "add", &p]), v["id"].as_str().unwrap());
    let peers = json(&dz.dir, &["peer", "list", "--json"]);
    assert_eq!(peers[0]["id"], v["id"]);
    assert_eq!(peers[0]["country"], "MA");
    assert_eq!(peers[0]["endpoint"], "127.0.0.1:7411");
    // its own card is not a peer
    let own = write(&dz.dir, "own.json", &other);
    fails(&dz.dir, &["peer", "add", &own], 2);
}

#[test]
fn channels_single_member_active_and_multi_member_pending_then_active() {
    let dz = init("DRS Algeria", "DZ", 7401);
    let ma = init("DGST Morocco", "MA", 7411);
    let dz_card = write(&dz.dir, "dz.json", &ok(&dz.dir, &["card"]));
    let ma_card = write(&ma.dir, "ma.json", &ok(&ma.dir, &["card"]));
    let ma_id = ok(&dz.dir, &["peer", "add", &ma_card]);
    let dz_id = ok(&ma.dir, &["peer", "add", &dz_card]);

    let solo = channel(&dz);
    let list = json(&dz.dir, &["channel", "list", "--json"]);
    assert_eq!(list[0]["id"], solo.as_str());
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["members"], serde_json::json!([dz_id]));

    // unknown member refused, nothing created
    let err = fails(
        &dz.dir,
        &[
            "channel",
            "create",
            "--name",
            "x",
            "--members",
            "tqnobodyatall0000",
            "--files",
            "t",
        ],
        2,
    );
    assert!(err.contains("not a known peer"), "{err}");

    let ch = ok(
        &dz.dir,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            &ma_id,
            "--files",
            "terrorism,recruitment,arms-smuggling",
        ],
    );
    let c = json(&dz.dir, &["channel", "list", "--json"]);
    let c = c
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["status"], "pending");
    // records cannot be placed in a pending channel: refused by policy
    let data = write(&dz.dir, "p.json", r#"{"names": ["Abdallah Belkeziz"]}"#);
    let err = fails(
        &dz.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &data,
        ],
        3,
    );
    assert!(err.contains("pending"), "{err}");
    // the charter travels to MA (by hand here), MA co-signs, DZ imports the signature
    let exported = write(
        &dz.dir,
        "charter.json",
        &ok(&dz.dir, &["channel", "export", &ch]),
    );
    ok(&ma.dir, &["channel", "import", &exported]);
    let at_ma = json(&ma.dir, &["channel", "list", "--json"]);
    assert_eq!(at_ma[0]["status"], "pending");
    ok(&ma.dir, &["channel", "accept", &ch]);
    let at_ma = json(&ma.dir, &["channel", "list", "--json"]);
    assert_eq!(at_ma[0]["status"], "active");
    fails(&ma.dir, &["channel", "accept", &ch], 2);
    let back = write(
        &ma.dir,
        "signed.json",
        &ok(&ma.dir, &["channel", "export", &ch]),
    );
    ok(&dz.dir, &["channel", "import", &back]);
    let c = json(&dz.dir, &["channel", "list", "--json"]);
    let c = c
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch.as_str())
        .unwrap()
        .clone();
    assert_eq!(c["status"], "active");
    ok(
        &dz.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &data,
        ],
    );
    // a charter whose signature was tampered with is rejected
    let tampered = std::fs::read_to_string(&back)
        .unwrap()
        .replace("DZ-MA", "DZ-MA-US");
    let t = write(&ma.dir, "tampered.json", &tampered);
    fails(&dz.dir, &["channel", "import", &t], 2);
}

#[test]
fn records_lifecycle_with_links_versions_and_retraction() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let gspc = write(
        &n.dir,
        "gspc.json",
        r#"{"names": ["GSPC", "Groupe salafiste pour la prédication et le combat", "الجماعة السلفية للدعوة والقتال"], "country": ["dz"], "founded": "1998"}"#,
    );
    let g = ok(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "organization",
            "--data",
            &gspc,
            "--evaluation",
            "B2",
        ],
    );
    let aqim = write(
        &n.dir,
        "aqim.json",
        r#"{"names": ["AQIM", "al-Qaeda in the Islamic Maghreb"]}"#,
    );
    let a = ok(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "organization",
            "--data",
            &aqim,
            "--link",
            &format!("successor_of:{g}:2007-01-24"),
            "--tlp",
            "amber+strict",
        ],
    );
    let r = json(&n.dir, &["record", "get", &a, "--json"]);
    for (k, v) in [
        ("id", a.as_str()),
        ("kind", "organization"),
        ("channel", ch.as_str()),
        ("file", "terrorism"),
        ("tlp", "amber+strict"),
    ] {
        assert_eq!(r[k], v, "{k}");
    }
    assert_eq!(r["version"], 1);
    assert!(r["originator"].as_str().unwrap().starts_with("tq"));
    assert_eq!(r["links"][0]["rel"], "successor_of");
    assert_eq!(r["links"][0]["target"], g.as_str());
    let gr = json(&n.dir, &["record", "get", &g, "--json"]);
    assert_eq!(gr["data"]["country"], serde_json::json!(["DZ"]));
    assert_eq!(gr["evaluation"], "B2");

    // filters
    let p = write(
        &n.dir,
        "p.json",
        r#"{"names": ["عبد الله بلقزاز", "Abdallah Belkeziz"], "birth_date": "1962-02-01", "nationality": ["DZ"]}"#,
    );
    let person = ok(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "recruitment",
            "--kind",
            "person",
            "--data",
            &p,
        ],
    );
    assert_eq!(
        json(&n.dir, &["record", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        json(&n.dir, &["record", "list", "--kind", "person", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        json(&n.dir, &["record", "list", "--file", "terrorism", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        json(&n.dir, &["record", "list", "--channel", &ch, "--json"])
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        json(
            &n.dir,
            &["record", "list", "--channel", "ch_none", "--json"]
        )
        .as_array()
        .unwrap()
        .len(),
        0
    );
    let found = json(&n.dir, &["record", "search", "بلقزاز", "--json"]);
    assert_eq!(found[0]["id"], person.as_str());

    // update makes version 2
    let p2 = write(
        &n.dir,
        "p2.json",
        r#"{"names": ["Abdallah Belkeziz"], "birth_date": "1962"}"#,
    );
    ok(&n.dir, &["record", "update", &person, "--data", &p2]);
    let r = json(&n.dir, &["record", "get", &person, "--json"]);
    assert_eq!(r["version"], 2);
    assert_eq!(r["data"]["birth_date"], "1962");

    // retraction: tombstone, content gone from the store
    ok(&n.dir, &["record", "retract", &person]);
    assert_eq!(
        json(&n.dir, &["record", "list", "--kind", "person", "--json"])
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let r = json(&n.dir, &["record", "get", &person, "--json"]);
    assert_eq!(r["status"], "retracted");
    assert_eq!(r["version"], 3);
    fails(&n.dir, &["record", "update", &person, "--data", &p2], 2);
    fails(&n.dir, &["record", "retract", &person], 2);
    let db = store_bytes(&n.dir);
    for needle in ["Belkeziz", "بلقزاز"] {
        assert!(
            !contains(&db, needle.as_bytes()),
            "retracted content still in the store"
        );
    }
    ok(&n.dir, &["audit", "verify"]);
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let good = write(&n.dir, "good.json", r#"{"names": ["Ali"]}"#);
    let before = state(&n.dir);
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("malformed JSON", "{\"names\": [".into(), vec![]),
        ("wrong type", r#"{"names": "Ali"}"#.into(), vec![]),
        (
            "unknown field",
            r#"{"names": ["Ali"], "shoe_size": 42}"#.into(),
            vec![],
        ),
        (
            "bad date",
            r#"{"names": ["Ali"], "birth_date": "1962-02-30"}"#.into(),
            vec![],
        ),
        (
            "bad country",
            r#"{"names": ["Ali"], "nationality": ["ALG"]}"#.into(),
            vec![],
        ),
        ("no names", r#"{"names": []}"#.into(), vec![]),
        ("not an object", "[1, 2]".into(), vec![]),
        (
            "oversized",
            format!(
                r#"{{"names": ["Ali"], "notes": "{}"}}"#,
                "x".repeat(1_100_000)
            ),
            vec![],
        ),
    ];
    for (what, content, _) in &cases {
        let p = write(&n.dir, "bad.json", content);
        let err = fails(
            &n.dir,
            &[
                "record",
                "add",
                "--channel",
                &ch,
                "--file",
                "terrorism",
                "--kind",
                "person",
                "--data",
                &p,
            ],
            2,
        );
        assert!(!err.trim().is_empty(), "{what}: empty message");
    }
    // unknown kind, channel, file, tlp, link target, expiry in the past, missing data file
    for args in [
        vec!["--kind", "alien", "--channel", &ch, "--file", "terrorism"],
        vec![
            "--kind",
            "person",
            "--channel",
            "ch_nope",
            "--file",
            "terrorism",
        ],
        vec![
            "--kind",
            "person",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--tlp",
            "white",
        ],
        vec![
            "--kind",
            "person",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--link",
            "member_of:rec_missing",
        ],
        vec![
            "--kind",
            "person",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--expires",
            "2001-01-01",
        ],
        vec![
            "--kind",
            "person",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--evaluation",
            "Z9",
        ],
    ] {
        let mut a = vec!["record", "add", "--data", &good];
        a.extend(args.iter().copied());
        fails(&n.dir, &a, 2);
    }
    let err = fails(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "finance",
            "--kind",
            "person",
            "--data",
            &good,
        ],
        3,
    );
    assert!(err.contains("rule"), "{err}");
    fails(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            "/nonexistent.json",
        ],
        2,
    );
    fails(&n.dir, &["record", "get", "rec_missing", "--json"], 2);
    fails(&n.dir, &["user", "add", "bob", "--role", "king"], 2);
    assert_eq!(state(&n.dir), before);
    ok(&n.dir, &["audit", "verify"]);
}

#[test]
fn only_the_originator_changes_a_record_and_shares_respect_the_third_party_rule() {
    let dz = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&dz);
    let ch2 = ok(
        &dz.dir,
        &[
            "channel",
            "create",
            "--name",
            "DZ internal 2",
            "--files",
            "terrorism",
        ],
    );
    let data = write(&dz.dir, "d.json", r#"{"names": ["GSPC"]}"#);
    let id = ok(
        &dz.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "organization",
            "--data",
            &data,
        ],
    );
    // the originator may share into another of its channels
    ok(&dz.dir, &["record", "share", &id, "--channel", &ch2]);
    let r = json(&dz.dir, &["record", "get", &id, "--json"]);
    assert_eq!(r["channels"].as_array().unwrap().len(), 2);
    assert_eq!(
        json(&dz.dir, &["record", "list", "--channel", &ch2, "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // a file the target channel lacks: refused by policy
    let ch3 = ok(
        &dz.dir,
        &[
            "channel", "create", "--name", "finance", "--files", "finance",
        ],
    );
    fails(&dz.dir, &["record", "share", &id, "--channel", &ch3], 3);
}

#[test]
fn users_get_a_token_once_stored_only_as_a_hash() {
    let n = init("DRS Algeria", "DZ", 7401);
    let token = ok(
        &n.dir,
        &[
            "user",
            "add",
            "amina",
            "--role",
            "analyst",
            "--files",
            "terrorism,recruitment",
        ],
    );
    assert!(token.starts_with("tqk_") && token.len() > 40, "{token}");
    fails(&n.dir, &["user", "add", "amina", "--role", "officer"], 2);
    let db = store_bytes(&n.dir);
    assert!(!contains(&db, token.as_bytes()));
    let users = json(&n.dir, &["user", "list", "--json"]);
    assert_eq!(users[0]["name"], "amina");
    assert_eq!(users[0]["role"], "analyst");
}

#[test]
fn dir_flag_before_or_after_and_env() {
    let n = init("DRS Algeria", "DZ", 7401);
    let a = ok(&n.dir, &["card"]);
    let out = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["card", "--dir"])
        .arg(&n.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), a);
    let out = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .arg("card")
        .env("TANSIQ_DIR", &n.dir)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), a);
    let tmp = tempfile::tempdir().unwrap();
    let err = fails(&tmp.path().join("none"), &["record", "list"], 2);
    assert!(err.contains("tansiq init"), "{err}");
}

#[test]
fn demo_plays_the_scenario_and_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("every step behaved as it must"));
    assert!(!stdout.contains('✘'));
    for n in ["dz", "ma", "tn", "fr", "es", "us"] {
        assert!(dir.join(n).join("node.db").exists());
    }
    // a non-empty directory is refused
    let again = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn backup_is_consistent_private_and_a_restored_node_verifies() {
    // `tansiq backup` is SQLite's online backup; a PostgreSQL node uses
    // pg_dump (tested in tansiq-store's PostgreSQL suite).
    if on_postgres() {
        return;
    }
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let p = write(&n.dir, "p.json", r#"{"names": ["Hassan Hattab"]}"#);
    let id = ok(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &p,
        ],
    );
    let backup = n.dir.parent().unwrap().join("dz-backup.db");
    ok(&n.dir, &["backup", "--out", backup.to_str().unwrap()]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    fails(&n.dir, &["backup", "--out", backup.to_str().unwrap()], 2);
    // later changes are not in the backup
    ok(&n.dir, &["record", "retract", &id]);
    // restore: same keys and config, the backup as the store
    let restored = n.dir.parent().unwrap().join("restored");
    std::fs::create_dir_all(restored.join("keys")).unwrap();
    for f in ["config.toml", "keys/signing.key", "keys/encryption.key"] {
        std::fs::copy(n.dir.join(f), restored.join(f)).unwrap();
    }
    std::fs::copy(&backup, restored.join("node.db")).unwrap();
    ok(&restored, &["audit", "verify"]);
    assert_eq!(
        json(&restored, &["record", "get", &id, "--json"])["status"],
        "active"
    );
}

/// `tansiq card | head -c 10`: the reader leaves before the output is
/// written. The command ends quietly (exit 0, nothing on stderr) instead of
/// panicking on the broken pipe.
#[test]
fn output_to_a_closed_pipe_ends_quietly() {
    let n = init("DRS Algeria", "DZ", 7401);
    for args in [
        &["card"][..],
        &["peer", "list"][..],
        &["audit", "verify"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tansiq"))
            .arg("--dir")
            .arg(&n.dir)
            .args(args)
            .env_remove("TANSIQ_DIR")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the read end before the node is even opened.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
}

/// Issue 12, finding 12: `init --api-listen 0.0.0.0:…` was accepted
/// silently, putting bearer tokens on the network over plain HTTP. A
/// non-loopback API address is refused (exit 2, nothing created) unless
/// `--api-insecure-non-loopback` says so, by `init` and by `serve`.
#[test]
fn a_non_loopback_api_address_needs_an_explicit_flag() {
    let tmp = tempfile::tempdir().unwrap();
    // a fresh store (PostgreSQL schema) for each init
    let init_args = |api: &str, flag: bool| {
        let mut a: Vec<String> = [
            "init",
            "--name",
            "X",
            "--country",
            "DZ",
            "--listen",
            "127.0.0.1:7401",
            "--api-listen",
            api,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if flag {
            a.push("--api-insecure-non-loopback".into());
        }
        a.extend(store_args());
        a
    };
    let d = tmp.path().join("refused");
    for api in ["0.0.0.0:7402", "[::]:7402", "192.0.2.7:7402"] {
        let args = init_args(api, false);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails(&d, &args, 2);
        assert!(err.contains("--api-insecure-non-loopback"), "{api}: {err}");
        assert!(!d.join("config.toml").exists(), "{api}");
    }
    // loopback (v4, v6, localhost) needs no flag
    for (i, api) in ["127.0.0.1:7402", "[::1]:7402", "localhost:7402"]
        .iter()
        .enumerate()
    {
        let d = tmp.path().join(format!("loop{i}"));
        let args = init_args(api, false);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&d, &args);
    }
    // the explicit flag is kept in the config, so `serve` honours it
    let d = tmp.path().join("flagged");
    let args = init_args("0.0.0.0:7402", true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(&d, &args);
    let cfg = std::fs::read_to_string(d.join("config.toml")).unwrap();
    assert!(cfg.contains("api_insecure_non_loopback = true"), "{cfg}");
    // `serve` refuses a non-loopback API address of a node that did not
    // opt in, whether given on its command line or edited into the config
    let n = init("DRS Algeria", "DZ", free_port());
    let err = fails(&n.dir, &["serve", "--api-listen", "0.0.0.0:0"], 2);
    assert!(err.contains("--api-insecure-non-loopback"), "{err}");
    let path = n.dir.join("config.toml");
    let cfg = std::fs::read_to_string(&path).unwrap();
    let cfg: String = cfg
        .lines()
        .map(|l| {
            if l.starts_with("api_listen") {
                "api_listen = \"0.0.0.0:0\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&path, cfg).unwrap();
    let err = fails(&n.dir, &["serve"], 2);
    assert!(err.contains("--api-insecure-non-loopback"), "{err}");
}

/// Issue 12, finding 8: no `user remove`, no token rotation, revocation
/// or expiry existed. Each is a command now, audited; bad input changes
/// nothing.
#[test]
fn users_are_removed_and_tokens_rotated_revoked_and_expiring() {
    let n = init("DRS Algeria", "DZ", 7401);
    let d = &n.dir;
    let t = json(
        d,
        &[
            "user",
            "add",
            "omar",
            "--role",
            "officer",
            "--files",
            "terrorism",
            "--expires",
            "30d",
            "--json",
        ],
    );
    let first = t["token"].as_str().unwrap().to_string();
    let exp = t["expires_at"].as_str().unwrap().to_string();
    ok(d, &["user", "add", "amina", "--role", "analyst"]);
    let users = json(d, &["user", "list", "--json"]);
    let omar = &users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "omar")
        .unwrap()
        .clone();
    assert_eq!(omar["token"], "active");
    assert_eq!(omar["token_expires_at"], exp.as_str());
    let before = state(d);
    for (args, code) in [
        (vec!["user", "token", "omar"], 2),
        (vec!["user", "token", "omar", "--rotate", "--revoke"], 2),
        (
            vec!["user", "token", "omar", "--rotate", "--expires", "400d"],
            2,
        ),
        (
            vec!["user", "token", "omar", "--revoke", "--expires", "5d"],
            2,
        ),
        (vec!["user", "token", "nobody", "--rotate"], 2),
        (vec!["user", "remove", "nobody"], 2),
        (
            vec![
                "user",
                "add",
                "x",
                "--role",
                "analyst",
                "--expires",
                "2020-01-01",
            ],
            2,
        ),
    ] {
        fails(d, &args, code);
    }
    assert_eq!(state(d), before, "refused commands changed nothing");
    let second = ok(d, &["user", "token", "omar", "--rotate", "--expires", "7d"]);
    assert!(second.starts_with("tqk_") && second != first);
    ok(d, &["user", "token", "omar", "--revoke"]);
    let users = json(d, &["user", "list", "--json"]);
    let omar = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "omar")
        .unwrap();
    assert_eq!(omar["token"], "revoked", "{omar}");
    assert!(!contains(&store_bytes(d), second.as_bytes()));
    ok(d, &["user", "remove", "amina"]);
    fails(d, &["user", "remove", "amina"], 2);
    let users = json(d, &["user", "list", "--json"]);
    assert!(users
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["name"] != "amina"));
    for action in [
        "user.add",
        "user.token.rotate",
        "user.token.revoke",
        "user.remove",
    ] {
        let n = store_count(
            d,
            &format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND actor = 'operator'"
            ),
        );
        assert!(n >= 1, "{action} not audited");
    }
    ok(d, &["audit", "verify"]);
}

/// Issue 12, finding 8: a partner could not be removed. `peer remove ID`
/// refuses while the peer is in a channel of this node (exit 3, nothing
/// changed) unless `--force`; removal drops what was queued for it and is
/// audited.
#[test]
fn peers_are_removed_and_their_queue_dropped() {
    let dz = init("DRS Algeria", "DZ", free_port());
    let ma = init("DGST Morocco", "MA", free_port());
    let tn = init("DGSN Tunisia", "TN", free_port());
    let (_, ma_id) = introduce(&dz.dir, &ma.dir);
    let (_, tn_id) = introduce(&dz.dir, &tn.dir);
    let ch = ok(
        &dz.dir,
        &[
            "channel",
            "create",
            "--name",
            "DM",
            "--members",
            &ma_id,
            "--files",
            "terrorism",
        ],
    );
    let queued = |id: &str| {
        store_count(
            &dz.dir,
            &format!("SELECT COUNT(*) FROM sync_outbox WHERE to_node = '{id}'"),
        )
    };
    assert!(queued(&ma_id) > 0, "the charter proposal waits for MA");
    let before = state(&dz.dir);
    let err = fails(&dz.dir, &["peer", "remove", &ma_id], 3);
    assert!(err.contains(&ch) && err.contains("--force"), "{err}");
    assert_eq!(state(&dz.dir), before, "the refusal changed nothing");
    assert!(queued(&ma_id) > 0);
    fails(&dz.dir, &["peer", "remove", "tqnosuchnode000000"], 2);
    // a peer in no channel goes at once
    ok(&dz.dir, &["peer", "remove", &tn_id]);
    // --force: gone, its queue dropped, the channel kept as signed
    ok(&dz.dir, &["peer", "remove", &ma_id, "--force"]);
    let peers = json(&dz.dir, &["peer", "list", "--json"]);
    assert_eq!(peers, serde_json::json!([]), "{peers}");
    assert_eq!(queued(&ma_id), 0);
    fails(&dz.dir, &["peer", "remove", &ma_id], 2);
    let removed = store_count(
        &dz.dir,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'peer.remove' AND actor = 'operator'",
    );
    assert_eq!(removed, 2);
    ok(&dz.dir, &["audit", "verify"]);
    // bringing a partner back is an explicit operator act
    let card = ma.dir.join("card.json");
    assert_eq!(ok(&dz.dir, &["peer", "add", card.to_str().unwrap()]), ma_id);
}
