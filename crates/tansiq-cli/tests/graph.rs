//! `tansiq record graph ID --hops N [--limit N] [--json]` (issue 14 §2):
//! the real binary on a real node directory.

mod common;

use common::*;

fn add(dir: &std::path::Path, ch: &str, kind: &str, name: &str, links: &[String]) -> String {
    let data = write(
        dir,
        &format!("{}.json", name.replace(' ', "_")),
        &format!(r#"{{"names": ["{name}"]}}"#),
    );
    let mut args = vec![
        "record",
        "add",
        "--channel",
        ch,
        "--file",
        "terrorism",
        "--kind",
        kind,
        "--data",
        &data,
    ];
    for l in links {
        args.extend(["--link", l.as_str()]);
    }
    ok(dir, &args)
}

#[test]
fn record_graph_answers_the_network_within_n_hops() {
    let n = init("DRS Algeria", "DZ", 7431);
    let ch = channel(&n);
    let gspc = add(&n.dir, &ch, "organization", "GSPC", &[]);
    let aqim = add(
        &n.dir,
        &ch,
        "organization",
        "AQIM",
        &[format!("successor_of:{gspc}:2007-01-24")],
    );
    let belk = add(
        &n.dir,
        &ch,
        "person",
        "Abdallah Belkeziz",
        &[format!("member_of:{aqim}:2007:2012")],
    );

    let g = json(&n.dir, &["record", "graph", &belk, "--hops", "2", "--json"]);
    assert_eq!(g["root"], belk.as_str());
    assert_eq!(g["hops"], 2);
    assert_eq!(g["truncated"], false);
    let nodes: Vec<(String, u64)> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_str().unwrap().into(),
                n["hops"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        vec![(belk.clone(), 0), (aqim.clone(), 1), (gspc.clone(), 2)]
    );
    assert_eq!(g["nodes"][2]["name"], "GSPC");
    assert_eq!(g["nodes"][2]["kind"], "organization");
    let links = g["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    let member = links.iter().find(|l| l["rel"] == "member_of").unwrap();
    assert_eq!(
        (
            &member["src"],
            &member["dst"],
            &member["from"],
            &member["until"]
        ),
        (
            &serde_json::json!(belk),
            &serde_json::json!(aqim),
            &serde_json::json!("2007"),
            &serde_json::json!("2012")
        )
    );
    let succ = links.iter().find(|l| l["rel"] == "successor_of").unwrap();
    assert_eq!(succ["from"], "2007-01-24");

    // One hop from the predecessor: only what links to it.
    let g = json(&n.dir, &["record", "graph", &gspc, "--hops", "1", "--json"]);
    assert_eq!(g["nodes"].as_array().unwrap().len(), 2);

    // Human output: a line per record, nearest first, then the links.
    let text = ok(&n.dir, &["record", "graph", &belk, "--hops", "2"]);
    assert!(
        text.starts_with(&format!("3 records, 2 links within 2 hops of {belk}")),
        "{text}"
    );
    assert!(
        text.contains("Abdallah Belkeziz") && text.contains("2007..2012"),
        "{text}"
    );
    let text = ok(
        &n.dir,
        &["record", "graph", &belk, "--hops", "2", "--limit", "2"],
    );
    assert!(text.contains("truncated at 2 records"), "{text}");

    // Bad input: exit 2, a clear message.
    for hops in ["0", "7"] {
        let err = fails(&n.dir, &["record", "graph", &belk, "--hops", hops], 2);
        assert!(err.contains("between 1 and 6"), "{err}");
    }
    let err = fails(&n.dir, &["record", "graph", &belk, "--limit", "0"], 2);
    assert!(err.contains("between 1 and 5000"), "{err}");
    let err = fails(
        &n.dir,
        &["record", "graph", "rec_nothing_here", "--json"],
        2,
    );
    assert!(err.contains("no record"), "{err}");
}
