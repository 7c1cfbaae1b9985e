//! Private hit/no-hit between two real `tansiq serve` processes over
//! mutual TLS: a cross-script hit, a no-hit, the exposure rule, a refused
//! and a granted follow-up request (the record arrives), a key rotation,
//! a rate-limited burst — and no trace of the query names at the holder.

mod common;

use std::path::Path;

use common::*;

const LIST: &str = r#"{"id": "DZ-1", "names": ["عبد الله بلقزاز"], "birth_date": "1962-02-01", "nationality": ["DZ"]}
{"id": "DZ-2", "names": ["مختار بلمختار", "Mokhtar Belmokhtar"], "birth_date": "1972-06-01", "nationality": ["DZ"]}
{"id": "DZ-3", "names": ["Hassan Hattab"], "birth_date": "1967", "nationality": ["DZ"]}
{"id": "DZ-4", "names": ["Amari Saifi"], "birth_date": "1968", "nationality": ["DZ"]}
"#;

fn requests(dir: &Path) -> Vec<serde_json::Value> {
    json(dir, &["requests", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn request_status(dir: &Path, id: &str) -> String {
    requests(dir)
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["status"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

fn query(dir: &Path, peer: &str, name: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["query", "--peer", peer, "--name", name, "--json"];
    args.extend_from_slice(extra);
    json(dir, &args)
}

fn everything_under(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(everything_under(&p));
        } else {
            all.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    all
}

#[test]
fn private_hit_no_hit_between_two_serving_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let (dz_id, ma_id) = introduce(&dz, &ma);
    let dz_log = tmp.path().join("dz.log");
    let _s1 = serve_logged(&dz, "debug", Some(&dz_log));
    let _s2 = serve_logged(&ma, "warn", None);

    // DZ–MA bilateral channel, to carry follow-up requests and grants.
    let bi = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            &ma_id,
            "--files",
            "terrorism",
        ],
    );
    wait_for("the charter at MA", 20, || {
        tansiq(&ma, &["channel", "accept", &bi]).status.success()
    });
    wait_for("the channel active at DZ", 20, || {
        json(&dz, &["channel", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == bi.as_str() && c["status"] == "active")
    });
    // DZ's national list, in a channel MA is not a member of.
    let national = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ national",
            "--files",
            "terrorism",
        ],
    );
    let list = write(&dz, "list.jsonl", LIST);
    ok(
        &dz,
        &[
            "watchlist",
            "import",
            "--channel",
            &national,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            &list,
        ],
    );

    // Nothing exposed yet: the exposure rule, exit 3.
    let e = fails(
        &ma,
        &["query", "--peer", &dz_id, "--name", "Hassan Hattab"],
        3,
    );
    assert!(e.contains("exposure"), "{e}");

    ok(
        &dz,
        &[
            "query",
            "allow",
            "--peer",
            &ma_id,
            "--channel",
            &national,
            "--file",
            "terrorism",
            "--rate",
            "600",
        ],
    );
    // Bad input changes nothing: an unknown file, an unknown channel.
    fails(
        &dz,
        &[
            "query",
            "allow",
            "--peer",
            &ma_id,
            "--channel",
            &national,
            "--file",
            "nope",
        ],
        2,
    );
    fails(
        &dz,
        &[
            "query",
            "allow",
            "--peer",
            &ma_id,
            "--channel",
            "tqc_none",
            "--file",
            "terrorism",
        ],
        2,
    );
    assert_eq!(
        json(&dz, &["query", "allowed", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Cross-script hit: MA asks in Latin script, DZ holds the Arabic name.
    let a = query(
        &ma,
        &dz_id,
        "Abdallah Belkeziz",
        &["--birth-date", "1962", "--nationality", "DZ"],
    );
    assert_eq!(a["hit"], true, "{a}");
    let reference = a["reference"].as_str().unwrap().to_string();
    // No hit.
    let b = query(&ma, &dz_id, "Johan Sebastian Kowalczyk", &[]);
    assert_eq!(b, serde_json::json!({"hit": false, "reference": null}));

    // DZ answers only for its own records, never for a TLP:RED one: its
    // own RED person in the exposed file, and MA's person in DZ-MA once
    // DZ exposes that file too, both give no hit (issue 12, finding 2).
    let red = write(
        &dz,
        "red.json",
        r#"{"names": ["Abdelmalek Droukdel"], "birth_date": "1970", "nationality": ["DZ"]}"#,
    );
    add_person_data(&dz, &national, "terrorism", &red, &["--tlp", "red"]);
    let theirs = write(
        &ma,
        "theirs.json",
        r#"{"names": ["Yahia Djouadi"], "birth_date": "1954", "nationality": ["DZ"]}"#,
    );
    let theirs = add_person_data(&ma, &bi, "terrorism", &theirs, &[]);
    wait_for("MA's record at DZ", 20, || {
        tansiq(&dz, &["record", "get", &theirs, "--json"])
            .status
            .success()
    });
    let expose_bi = ["--peer", &ma_id, "--channel", &bi, "--file", "terrorism"];
    ok(&dz, &[&["query", "allow"][..], &expose_bi].concat());
    for (name, birth) in [("Abdelmalek Droukdel", "1970"), ("Yahia Djouadi", "1954")] {
        let a = query(
            &ma,
            &dz_id,
            name,
            &["--birth-date", birth, "--nationality", "DZ"],
        );
        assert_eq!(a["hit"], false, "{name}: {a}");
    }
    ok(&dz, &[&["query", "deny"][..], &expose_bi].concat());

    // The holder never saw the query names: not in its store, keys or log.
    let mut holder = everything_under(&dz);
    holder.extend(store_bytes(&dz));
    for needle in ["Belkeziz", "belkeziz", "Kowalczyk", "kowalczyk"] {
        assert!(
            !contains(&holder, needle.as_bytes()),
            "{needle} found at DZ"
        );
    }
    let log = std::fs::read(&dz_log).unwrap();
    for needle in ["Belkeziz", "Kowalczyk"] {
        assert!(!contains(&log, needle.as_bytes()), "{needle} in DZ's log");
    }

    // A refused request.
    let c = query(&ma, &dz_id, "Hassan Hattab", &["--birth-date", "1967"]);
    assert_eq!(c["hit"], true, "{c}");
    let r1 = ok(&ma, &["request", c["reference"].as_str().unwrap()]);
    wait_for("the request at DZ", 20, || {
        request_status(&dz, &r1) == "pending"
    });
    ok(
        &dz,
        &[
            "request",
            "refuse",
            &r1,
            "--reason",
            "ongoing investigation",
        ],
    );
    wait_for("the refusal at MA", 20, || {
        request_status(&ma, &r1) == "refused"
    });
    fails(&dz, &["request", "grant", &r1], 2);

    // A granted request: the record arrives at MA through DZ-MA.
    let r2 = ok(&ma, &["request", &reference]);
    wait_for("the request at DZ", 20, || {
        request_status(&dz, &r2) == "pending"
    });
    let record = requests(&dz)
        .iter()
        .find(|r| r["id"] == r2.as_str())
        .and_then(|r| r["record"].as_str().map(str::to_string))
        .expect("the holder resolved the reference to a record");
    ok(&dz, &["request", "grant", &r2]);
    wait_for("the grant at MA", 20, || {
        request_status(&ma, &r2) == "granted"
    });
    wait_for("the record at MA", 20, || {
        tansiq(&ma, &["record", "get", &record, "--json"])
            .status
            .success()
    });
    let got = json(&ma, &["record", "get", &record, "--json"]);
    assert_eq!(got["data"]["names"][0], "عبد الله بلقزاز");
    let out = requests(&ma);
    let mine = out.iter().find(|r| r["id"] == r2.as_str()).unwrap();
    assert_eq!(mine["direction"], "out");
    assert_eq!(mine["peer"], dz_id.as_str());
    assert_eq!(mine["reference"], reference.as_str());

    // Rotation: the same person still hits, under a new reference.
    ok(&dz, &["query", "rotate"]);
    let d = query(
        &ma,
        &dz_id,
        "Abdallah Belkeziz",
        &["--birth-date", "1962", "--nationality", "DZ"],
    );
    assert_eq!(d["hit"], true, "{d}");
    assert_ne!(d["reference"], reference.as_str());

    // A burst beyond the hourly budget is refused whole (exit 3) and
    // leaves nothing at MA.
    let names: String = (0..300)
        .map(|i| format!("{{\"id\": \"Q{i}\", \"name\": \"Person Number{i} Testname{i}\"}}\n"))
        .collect();
    let batch = write(&ma, "batch.jsonl", &names);
    let before = requests(&ma).len();
    let e = fails(&ma, &["query", "--peer", &dz_id, "--names", &batch], 3);
    assert!(e.contains("rate"), "{e}");
    assert_eq!(requests(&ma).len(), before);

    // Withdrawn: MA can no longer ask.
    ok(
        &dz,
        &[
            "query",
            "deny",
            "--peer",
            &ma_id,
            "--channel",
            &national,
            "--file",
            "terrorism",
        ],
    );
    fails(
        &ma,
        &["query", "--peer", &dz_id, "--name", "Hassan Hattab"],
        3,
    );

    // Both audit logs verify, with the trail on both sides.
    ok(&dz, &["audit", "verify"]);
    ok(&ma, &["audit", "verify"]);
}
