//! Interoperability commands on the real binary: Europol evaluations,
//! `stix export|import` (issue 15).

mod common;

use common::*;

#[test]
fn europol_evaluation_is_documented_and_accepted() {
    let n = init("DGSN", "DZ", free_port());
    let help = ok(&n.dir, &["record", "add", "--help"]);
    assert!(help.contains("EU:X3"), "{help}");
    let ch = channel(&n);
    let p = write(&n.dir, "p.json", r#"{"names": ["Abu X"]}"#);
    let id = add_person_data(&n.dir, &ch, "terrorism", &p, &["--evaluation", "eu:x3"]);
    let r = json(&n.dir, &["record", "get", &id, "--json"]);
    assert_eq!(r["evaluation"], "EU:X3", "{r}");
    // 5 is not an information grade of the 4x4
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
            "--evaluation",
            "EU:A5",
        ],
        2,
    );
    assert!(err.contains("EU:X3"), "{err}");
}

#[test]
fn stix_export_then_import_round_trips_and_a_bad_bundle_changes_nothing() {
    let a = init("DGSN", "DZ", free_port());
    let ch = channel(&a);
    let p = write(
        &a.dir,
        "p.json",
        r#"{"names": ["عبد المالك درودكال", "Abdelmalek Droukdel"]}"#,
    );
    let id = add_person_data(&a.dir, &ch, "terrorism", &p, &["--evaluation", "EU:B2"]);
    let out = a.dir.parent().unwrap().join("out.json");
    let out_s = out.to_str().unwrap();
    let line = ok(
        &a.dir,
        &["stix", "export", "--channel", &ch, "--out", out_s],
    );
    assert!(line.starts_with("1 records exported"), "{line}");
    // refused over an existing file without --force
    fails(
        &a.dir,
        &["stix", "export", "--channel", &ch, "--out", out_s],
        2,
    );
    let bundle: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let text = bundle.to_string();
    assert!(text.contains("عبد المالك درودكال") && text.contains(&id));

    // another node imports it
    let b = init("DGSE", "FR", free_port());
    let chb = channel(&b);
    let before = state(&b.dir);
    let mut bad = bundle.clone();
    let person = bad["objects"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|o| o["identity_class"] == "individual")
        .unwrap();
    person["name"] = serde_json::json!(42);
    let pid = person["id"].as_str().unwrap().to_string();
    let badf = write(&b.dir, "bad.json", &bad.to_string());
    let err = fails(
        &b.dir,
        &[
            "stix",
            "import",
            "--channel",
            &chb,
            "--file",
            "terrorism",
            &badf,
        ],
        2,
    );
    assert!(err.contains(&pid) && err.contains("property name"), "{err}");
    assert_eq!(state(&b.dir), before, "a bad bundle changes nothing");

    let r = json(
        &b.dir,
        &[
            "stix",
            "import",
            "--channel",
            &chb,
            "--file",
            "terrorism",
            out_s,
            "--json",
        ],
    );
    assert_eq!(r["created"].as_array().unwrap().len(), 1, "{r}");
    let made = r["created"][0][1].as_str().unwrap().to_string();
    let rec = json(&b.dir, &["record", "get", &made, "--json"]);
    assert_eq!(rec["data"]["names"][0], "عبد المالك درودكال");
    assert_eq!(rec["evaluation"], "EU:B2");
    let again = ok(
        &b.dir,
        &[
            "stix",
            "import",
            "--channel",
            &chb,
            "--file",
            "terrorism",
            out_s,
        ],
    );
    assert!(
        again.starts_with("0 created, 0 updated, 0 retracted, 1 unchanged"),
        "{again}"
    );
}

fn sample(path: &str) -> String {
    format!(
        "{}/../tansiq-stix/samples/misp/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn misp_event_and_feed_import_once() {
    let n = init("DGSN", "DZ", free_port());
    let ch = channel(&n);
    let event = sample("event.json");
    let r = json(
        &n.dir,
        &[
            "misp",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            &event,
            "--json",
        ],
    );
    // threat actor, two people, a place, the report
    assert_eq!(r["created"].as_array().unwrap().len(), 5, "{r}");
    let found = json(&n.dir, &["record", "search", "عبد الرحمن", "--json"]);
    assert_eq!(
        found[0]["data"]["names"][0], "عبد الرحمن بن يوسف",
        "{found}"
    );
    assert_eq!(found[0]["tlp"], "amber");
    let again = ok(
        &n.dir,
        &[
            "misp",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            &event,
        ],
    );
    assert!(
        again.starts_with("0 created, 0 updated, 0 retracted, 5 unchanged"),
        "{again}"
    );
    let feed = sample("feed");
    let r = json(
        &n.dir,
        &[
            "misp",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            &feed,
            "--json",
        ],
    );
    assert_eq!(r["created"].as_array().unwrap().len(), 4, "{r}");
    // a broken feed imports nothing and says where
    let bad = n.dir.parent().unwrap().join("badfeed");
    std::fs::create_dir_all(&bad).unwrap();
    for f in [
        "manifest.json",
        "c7d8e9fa-0b1c-42d3-a4f5-a6b7c8d9e0f1.json",
        "1c2d3e4f-5061-4728-b9da-f1a2b3c4d5e6.json",
    ] {
        std::fs::copy(sample(&format!("feed/{f}")), bad.join(f)).unwrap();
    }
    std::fs::write(
        bad.join("hashes.csv"),
        "abcd,00000000-0000-4000-8000-000000000000\n",
    )
    .unwrap();
    let before = state(&n.dir);
    let err = fails(
        &n.dir,
        &[
            "misp",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            bad.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("hashes.csv line 1"), "{err}");
    assert_eq!(state(&n.dir), before);
}
