//! `tansiq incident declare` (issue 14 §3): the real binary on a real
//! node directory — the incident, the screened manifest, the hits as
//! alerts linked to the incident; refusals and bad input change nothing.

mod common;

use common::*;

#[test]
fn incident_declare_screens_a_manifest_and_links_its_hits() {
    let n = init("DRS Algeria", "DZ", 7441);
    let ch = channel(&n);
    let entry = add_person(&n.dir, &ch, "terrorism", "Abdallah Belkeziz");
    let hidden = add_person(&n.dir, &ch, "recruitment", "Mokhtar Belmokhtar");
    let manifest = write(
        &n.dir,
        "manifest.csv",
        "id,name,birth_date\nP1,Abdellah Belkaziz,1962\nP2,Jean Dupont,1970\nP3,Mokhtar Belmokhtar,\n",
    );

    // Refused (a channel without the file: exit 3) and bad input (exit 2)
    // change nothing.
    let other = ok(
        &n.dir,
        &[
            "channel",
            "create",
            "--name",
            "Arms",
            "--files",
            "arms-smuggling",
        ],
    );
    // The new channel is the only change so far.
    let before = state(&n.dir);
    let err = fails(
        &n.dir,
        &[
            "incident",
            "declare",
            "--channel",
            &other,
            "--file",
            "terrorism",
            "--title",
            "Attack",
            "--names",
            &manifest,
        ],
        3,
    );
    assert!(!err.is_empty());
    for bad in [
        vec!["--title", " "],
        vec!["--title", "Attack", "--threshold", "2"],
        vec!["--title", "Attack", "--occurred-at", "yesterday"],
        vec!["--title", "Attack", "--tlp", "purple"],
        vec!["--title", "Attack", "--names", "/nonexistent/manifest.csv"],
    ] {
        let mut args = vec![
            "incident",
            "declare",
            "--channel",
            &ch,
            "--file",
            "terrorism",
        ];
        args.extend(bad.iter().copied());
        fails(&n.dir, &args, 2);
    }
    assert_eq!(
        state(&n.dir),
        before,
        "a refused or bad declaration changes nothing"
    );

    let r = json(
        &n.dir,
        &[
            "incident",
            "declare",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--title",
            "Casablanca bombings",
            "--place",
            "Casablanca",
            "--names",
            &manifest,
            "--json",
        ],
    );
    let incident = r["incident"].as_str().unwrap().to_string();
    assert_eq!(r["names_screened"], 3);
    // A channel of this node alone: no partner to tell.
    assert_eq!(r["messages"].as_array().unwrap().len(), 0);
    let hits = r["hits"].as_array().unwrap();
    let ids: Vec<&str> = hits
        .iter()
        .map(|h| h["query_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["P1", "P3"]);
    assert_eq!(hits[0]["matches"][0]["entry_id"], entry.as_str());
    assert_eq!(hits[1]["matches"][0]["entry_id"], hidden.as_str());
    assert_eq!(r["alerts"], 2);

    // The alerts, and the hits as persons linked to the incident.
    let alerts = json(&n.dir, &["alerts", "--json"]);
    assert_eq!(alerts.as_array().unwrap().len(), 2);
    let person = hits[0]["record"].as_str().unwrap();
    assert!(alerts
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["entry_id"] == entry.as_str() && a["record_id"] == person));
    let p = json(&n.dir, &["record", "get", person, "--json"]);
    assert_eq!(p["data"]["names"][0], "Abdellah Belkaziz");
    assert_eq!(p["data"]["birth_date"], "1962");
    assert_eq!(p["links"][0]["rel"], "related_to");
    assert_eq!(p["links"][0]["target"], incident.as_str());
    let g = json(
        &n.dir,
        &["record", "graph", &incident, "--hops", "1", "--json"],
    );
    assert_eq!(g["nodes"].as_array().unwrap().len(), 3);

    // Human output: the id first, then the counts and one line per hit.
    let text = ok(
        &n.dir,
        &[
            "incident",
            "declare",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--title",
            "Second",
            "--names",
            &manifest,
        ],
    );
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("rec_"), "{text}");
    // (The first incident's hits are persons now, matched as well.)
    assert!(
        text.contains("3 name(s) screened") && text.contains("2 hit(s), 4 alert(s)"),
        "{text}"
    );
    // Without names: the incident alone.
    let r = json(
        &n.dir,
        &[
            "incident",
            "declare",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--title",
            "Third",
            "--json",
        ],
    );
    assert_eq!(
        (r["names_screened"].as_u64(), r["alerts"].as_u64()),
        (Some(0), Some(0))
    );
}
