//! Watchlist import (real UN and OFAC files, JSONL), re-import semantics,
//! screening with and without a node, continuous screening alerts.

mod common;

use common::*;
use serde_json::Value;

fn shared(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(rel);
    p.canonicalize().unwrap_or(p).to_string_lossy().into_owned()
}

fn count(n: &Node) -> usize {
    json(&n.dir, &["record", "list", "--json"])
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn un_list_imports_and_reimport_does_not_duplicate() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let un = shared("watchlists/un/consolidated-2018-10-29.xml");
    assert_eq!(
        ok(
            &n.dir,
            &[
                "watchlist",
                "import",
                "--channel",
                &ch,
                "--file",
                "terrorism",
                "--format",
                "un-xml",
                &un
            ]
        ),
        "1093"
    );
    assert_eq!(count(&n), 1093);
    let again = json(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "un-xml",
            "--json",
            &un,
        ],
    );
    assert_eq!(again["unchanged"], 1093);
    assert_eq!(again["created"], 0);
    assert_eq!(count(&n), 1093);
    // an entry with its Arabic original script is findable in both scripts
    let hits = json(&n.dir, &["record", "search", "droukdel", "--json"]);
    assert!(!hits.as_array().unwrap().is_empty());
    let persons = json(&n.dir, &["record", "list", "--kind", "person", "--json"]);
    let arabic = persons.as_array().unwrap().iter().filter(|r| {
        r["data"]["names"].as_array().unwrap().iter().any(|x| {
            x.as_str()
                .unwrap()
                .chars()
                .any(|c| ('\u{0600}'..='\u{06ff}').contains(&c))
        })
    });
    assert!(arabic.count() > 300);
    ok(&n.dir, &["audit", "verify"]);
}

#[test]
fn inconsistent_ofac_file_is_rejected_whole_naming_the_line() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let before = state(&n.dir);
    let err = fails(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "ofac-csv",
            &shared("watchlists/ofac/sdn.csv"),
        ],
        2,
    );
    assert!(err.contains("line 9044"), "{err}");
    assert!(err.contains("nothing imported"), "{err}");
    assert_eq!(state(&n.dir), before);
    // On request, the consistent rest is imported and each skipped row reported.
    let out = tansiq(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "ofac-csv",
            "--skip-invalid",
            &shared("watchlists/ofac/sdn.csv"),
        ],
    );
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "8343");
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.contains("line 9044") && warnings.contains("skipped"),
        "{warnings}"
    );
    assert_eq!(count(&n), 8343);
}

#[test]
fn jsonl_reimport_updates_changed_entries_and_delists_missing_ones() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let v1 = write(&n.dir, "l1.jsonl", "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\"], \"birth_date\": \"1962\"}\n{\"id\": \"E2\", \"names\": [\"Mokhtar Belmokhtar\"]}\n{\"id\": \"E3\", \"names\": [\"Hassan Hattab\"]}\n");
    assert_eq!(
        ok(
            &n.dir,
            &[
                "watchlist",
                "import",
                "--channel",
                &ch,
                "--file",
                "terrorism",
                "--format",
                "jsonl",
                "--list",
                "DZ-suspects",
                &v1
            ]
        ),
        "3"
    );
    let v2 = write(&n.dir, "l2.jsonl", "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\", \"Abdellah Belkaziz\"], \"birth_date\": \"1962\"}\n{\"id\": \"E2\", \"names\": [\"Mokhtar Belmokhtar\"]}\n");
    let s = json(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            "--list",
            "DZ-suspects",
            "--json",
            &v2,
        ],
    );
    assert_eq!(
        (
            s["created"].as_u64(),
            s["updated"].as_u64(),
            s["unchanged"].as_u64(),
            s["delisted"].as_u64()
        ),
        (Some(0), Some(1), Some(1), Some(1))
    );
    let all = json(&n.dir, &["record", "list", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let e3 = all
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["data"]["names"][0] == "Hassan Hattab")
        .unwrap();
    assert_eq!(e3["data"]["listing"]["status"], "delisted");
    assert_eq!(e3["version"], 2);
    // a broken line: rejected whole, naming the line, nothing changed
    let before = state(&n.dir);
    let bad = write(
        &n.dir,
        "bad.jsonl",
        "{\"id\": \"E9\", \"names\": [\"A\"]}\n{\"id\": \"E10\", \"names\": \n",
    );
    let err = fails(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            &bad,
        ],
        2,
    );
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(state(&n.dir), before);
    // unknown format, channel, file
    fails(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "xlsx",
            &v1,
        ],
        2,
    );
    fails(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            "ch_nope",
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            &v1,
        ],
        2,
    );
    fails(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "finance",
            "--format",
            "jsonl",
            &v1,
        ],
        3,
    );
    assert_eq!(state(&n.dir), before);
}

fn lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn screen_a_list_file_across_scripts_without_a_node() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("nothing-here");
    let list = tmp.path().join("list.jsonl");
    std::fs::write(&list, "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\"], \"birth_date\": \"1962-02-01\", \"nationality\": [\"DZ\"]}\n{\"id\": \"E2\", \"names\": [\"Mokhtar Belmokhtar\"]}\n").unwrap();
    let names = tmp.path().join("names.jsonl");
    std::fs::write(
        &names,
        "{\"id\": \"Q1\", \"name\": \"Abdallah Belkeziz\"}\n{\"id\": \"Q2\", \"name\": \"Abdellah Belkaziz\", \"birth_date\": \"1962\"}\n{\"id\": \"Q3\", \"name\": \"BELKEZIZ, Abdallah\"}\n{\"id\": \"Q4\", \"name\": \"Jean Dupont\"}\n",
    )
    .unwrap();
    let out = ok(
        &d,
        &[
            "screen",
            "--names",
            names.to_str().unwrap(),
            "--list",
            list.to_str().unwrap(),
        ],
    );
    let res = lines(&out);
    assert_eq!(res.len(), 4);
    for (i, r) in res.iter().enumerate() {
        assert_eq!(r["query_id"], format!("Q{}", i + 1));
    }
    for r in &res[..3] {
        assert_eq!(r["hits"][0]["entry_id"], "E1", "{r}");
        assert_eq!(r["hits"][0]["matched_name"], "عبد الله بلقزاز");
        assert!(r["hits"][0]["score"].as_f64().unwrap() >= 0.5);
        assert!(!r["hits"][0]["explanation"].as_str().unwrap().is_empty());
    }
    assert_eq!(res[3]["hits"], serde_json::json!([]));
    assert!(out.lines().next().unwrap().starts_with("{\"query_id\""));
    // --out, --top, --threshold; CSV names
    let csv = tmp.path().join("names.csv");
    std::fs::write(&csv, "id,name,birth_date\nC1,Abdallah Belkeziz,1962\n").unwrap();
    let o = tmp.path().join("out.jsonl");
    ok(
        &d,
        &[
            "screen",
            "--names",
            csv.to_str().unwrap(),
            "--list",
            list.to_str().unwrap(),
            "--top",
            "1",
            "--threshold",
            "0.99",
            "--out",
            o.to_str().unwrap(),
        ],
    );
    let written = std::fs::read_to_string(&o).unwrap();
    let r = lines(&written);
    assert_eq!(r[0]["query_id"], "C1");
    assert!(r[0]["hits"].as_array().unwrap().len() <= 1);
    fails(
        &d,
        &[
            "screen",
            "--names",
            csv.to_str().unwrap(),
            "--list",
            list.to_str().unwrap(),
            "--threshold",
            "7",
        ],
        2,
    );
    fails(
        &d,
        &[
            "screen",
            "--names",
            "/nonexistent",
            "--list",
            list.to_str().unwrap(),
        ],
        2,
    );
}

#[test]
fn screening_against_the_node_and_alerts_from_arriving_entries() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    // the node's own dossier on a person
    let own = write(
        &n.dir,
        "own.json",
        r#"{"names": ["Abdallah Belkeziz"], "birth_date": "1962-02-01", "nationality": ["DZ"]}"#,
    );
    let own_id = ok(
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
            &own,
        ],
    );
    assert_eq!(json(&n.dir, &["alerts", "--json"]), serde_json::json!([]));
    // a list entry in Arabic script arrives
    let list = write(&n.dir, "l.jsonl", "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\"], \"birth_date\": \"1962-02-01\", \"nationality\": [\"DZ\"]}\n{\"id\": \"E2\", \"names\": [\"Jean Dupont\"]}\n");
    let s = json(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            "--json",
            &list,
        ],
    );
    assert_eq!(s["alerts"], 1);
    let alerts = json(&n.dir, &["alerts", "--json"]);
    let a = &alerts[0];
    assert_eq!(a["record_id"], own_id.as_str());
    assert!(a["entry_id"].as_str().unwrap().starts_with("rec_"));
    assert!(a["score"].as_f64().unwrap() > 0.8);
    assert!(a["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(a["id"].as_str().unwrap().starts_with("alr_"));
    // re-import raises no second alert
    ok(
        &n.dir,
        &[
            "watchlist",
            "import",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            &list,
        ],
    );
    assert_eq!(
        json(&n.dir, &["alerts", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // screening against every entry the node may see
    let names = write(
        &n.dir,
        "q.jsonl",
        "{\"id\": \"Q1\", \"name\": \"Abdellah Belkaziz\"}\n",
    );
    let out = lines(&ok(&n.dir, &["screen", "--names", &names]));
    let ids: Vec<&str> = out[0]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["entry_id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&a["entry_id"].as_str().unwrap()), "{out:?}");
    ok(&n.dir, &["audit", "verify"]);
}

/// `screen` as an analyst meets it (issue 18 §4): a passenger manifest
/// without an id column, against the UN list's XML as published, the
/// results as a table, JSONL and CSV.
#[test]
fn a_manifest_without_ids_screens_against_the_un_xml_in_every_output_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let manifest = write(
        tmp.path(),
        "manifest.csv",
        "Passenger Name,Date of Birth,Nationality\nAbdelmalek Droukdel,1970-04-20,DZ\nJohn Smith,1980,GB\n\"=cmd|' /C calc'!A0\",,\n",
    );
    let un = shared("watchlists/un/consolidated-2018-10-29.xml");
    let dir = tmp.path().join("no-node");
    // JSONL in a pipe; the queries numbered by their line (spreadsheet row)
    let out = ok(&dir, &["screen", "--names", &manifest, "--list", &un]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0]["query_id"], "2");
    assert_eq!(lines[0]["hits"][0]["entry_id"], "QDi.232");
    assert_eq!(lines[1]["query_id"], "3");
    assert_eq!(lines[1]["hits"], serde_json::json!([]));
    // the format told explicitly gives the same
    let told = ok(
        &dir,
        &[
            "screen",
            "--names",
            &manifest,
            "--list",
            &un,
            "--list-format",
            "un-xml",
            "--json",
        ],
    );
    assert_eq!(told, out);
    // CSV: a header, one row per hit, a row for a query without one, and
    // a name a spreadsheet would run as a formula defused
    let csv = ok(
        &dir,
        &[
            "screen", "--names", &manifest, "--list", &un, "--format", "csv",
        ],
    );
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "query_id,name,rank,entry_id,matched_name,score,explanation"
    );
    assert!(
        rows[1].starts_with("2,Abdelmalek Droukdel,1,QDi.232,ABDELMALEK DROUKDEL,0.99"),
        "{csv}"
    );
    assert!(rows.contains(&"3,John Smith,,,,,"), "{csv}");
    assert!(
        rows.iter().any(|r| r.starts_with("4,'=cmd")),
        "formula not defused: {csv}"
    );
    // the table: query, best hit, score, explanation, a summary
    let table = ok(
        &dir,
        &[
            "screen", "--names", &manifest, "--list", &un, "--format", "table",
        ],
    );
    let t: Vec<&str> = table.lines().collect();
    assert!(t[0].starts_with("QUERY") && t[0].contains("BEST HIT") && t[0].contains("SCORE"));
    assert!(
        t[1].contains("Abdelmalek Droukdel") && t[1].contains("ABDELMALEK DROUKDEL (QDi.232)"),
        "{table}"
    );
    assert!(t[1].contains("birth date identical"), "{table}");
    assert!(t[2].contains("John Smith") && t[2].contains('—'), "{table}");
    assert!(
        t.last().unwrap().contains("of 3 queries with a hit"),
        "{table}"
    );
    // --json and --format csv disagree: refused
    fails(
        &dir,
        &[
            "screen", "--names", &manifest, "--list", &un, "--format", "csv", "--json",
        ],
        2,
    );
}

#[test]
fn screen_reads_ofac_csv_and_columns_named_by_the_user() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("no-node");
    let pax = write(
        tmp.path(),
        "pax.csv",
        "SEQ,PAX,DOB\nP-17,Abdelmalek Droukdel,1970\n",
    );
    let ofac = shared("watchlists/ofac");
    // the shipped OFAC release repeats an ent_num: refused whole, naming
    // the line, unless --skip-invalid
    let e = fails(
        &dir,
        &[
            "screen",
            "--names",
            &pax,
            "--list",
            &ofac,
            "--columns",
            "id=SEQ,name=PAX,birth_date=DOB",
        ],
        2,
    );
    assert!(
        e.contains("sdn.csv, line 9044") && e.contains("--list-format"),
        "{e}"
    );
    let out = ok(
        &dir,
        &[
            "screen",
            "--names",
            &pax,
            "--list",
            &ofac,
            "--skip-invalid",
            "--columns",
            "id=SEQ,name=PAX,birth_date=DOB",
        ],
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["query_id"], "P-17");
    assert_eq!(v["hits"][0]["entry_id"], "10612");
    // without --columns there is no name column: the error says what to do
    let e = fails(&dir, &["screen", "--names", &pax, "--list", &ofac], 2);
    assert!(
        e.contains("--columns name=COLUMN") && e.contains("SEQ,PAX,DOB"),
        "{e}"
    );
    let e = fails(
        &dir,
        &[
            "screen",
            "--names",
            &pax,
            "--list",
            &ofac,
            "--columns",
            "nmae=PAX",
        ],
        2,
    );
    assert!(e.contains("\"nmae\" is not a field"), "{e}");
}

#[test]
fn watchlist_import_tells_the_format_from_the_file() {
    let n = init("DRS Algeria", "DZ", 7401);
    let ch = channel(&n);
    let un = shared("watchlists/un/consolidated-2018-10-29.xml");
    let args = [
        "watchlist",
        "import",
        "--channel",
        &ch,
        "--file",
        "terrorism",
    ];
    let mut with = args.to_vec();
    with.push(&un);
    assert_eq!(ok(&n.dir, &with), "1093");
    // a file read as the wrong format says how to name the right one
    let tmp = tempfile::tempdir().unwrap();
    let odd = write(tmp.path(), "list.txt", "<not the UN list/>\n");
    let mut with = args.to_vec();
    with.push(&odd);
    let e = fails(&n.dir, &with, 2);
    assert!(
        e.contains("read as un-xml") && e.contains("--format"),
        "{e}"
    );
    assert_eq!(count(&n), 1093);
}
