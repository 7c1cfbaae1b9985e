//! `POST /api/v1/incidents` (issue 14 §3) as the token's user: an officer
//! in the file declares (the FLASH reaches the partner); an analyst, an
//! auditor and an officer without the file are refused, and nothing
//! changes; what the declarer may not see is not screened against.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};

use common::*;
use tansiq_core::record::Kind;
use tansiq_core::user::Role;
use tansiq_node::records::NewRecord;
use tansiq_node::Node;

fn entry(n: &Node, ch: &str, file: &str, name: &str) -> String {
    n.record_add(
        &OP,
        NewRecord {
            channel: ch.into(),
            file: file.into(),
            kind: Kind::Person,
            data: json!({"names": [name]}),
            tlp: None,
            code: None,
            evaluation: None,
            expires: None,
            links: vec![],
        },
    )
    .unwrap()
}

fn count(n: &Node) -> (usize, usize, usize) {
    (
        n.record_list(&OP, &Default::default()).unwrap().len(),
        n.alerts(&OP).unwrap().len(),
        n.unacked_messages().unwrap().len(),
    )
}

#[test]
fn declared_by_an_officer_in_the_file_refused_to_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ma = node(tmp.path(), "ma", "MA");
    trust(&[&dz, &ma]);
    let files = vec!["terrorism".to_string(), "recruitment".to_string()];
    let ch = dz
        .channel_create(
            &OP,
            "DZ-MA",
            vec![ma.id().into()],
            files.clone(),
            vec![],
            None,
        )
        .unwrap();
    pump(&[&dz, &ma]);
    ma.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma]);
    let national = dz
        .channel_create(&OP, "DZ national", vec![], files, vec![], None)
        .unwrap();
    let seen = entry(&dz, &national, "terrorism", "Abdallah Belkeziz");
    let unseen = entry(&dz, &national, "recruitment", "Mokhtar Belmokhtar");
    let user = |name: &str, role: Role, f: &[&str]| {
        dz.user_add(
            &OP,
            name,
            role,
            &f.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let omar = user("omar", Role::Officer, &["terrorism"]);
    let rachid = user("rachid", Role::Officer, &["recruitment"]);
    let amina = user("amina", Role::Analyst, &["terrorism"]);
    let aicha = user("aicha", Role::Auditor, &[]);
    let dz = Arc::new(dz);
    let (base, _stop) = serve_api(dz.clone());
    let body = json!({
        "channel": ch, "file": "terrorism", "title": "Algiers bombings", "place": "Algiers",
        "names": [{"id": "P1", "name": "Abdellah Belkaziz"}, {"id": "P2", "name": "Mokhtar Belmokhtar"},
                  {"id": "P3", "name": "Jean Dupont", "birth_date": "1970"}]
    });
    let post =
        |token: &str, b: Value| call(&base, "POST", "/api/v1/incidents", Some(token), Some(b));

    let before = count(&dz);
    for (token, status) in [(&amina, 403), (&aicha, 403), (&rachid, 403)] {
        let (s, e) = post(token, body.clone());
        assert_eq!(s, status, "{e}");
    }
    let mut bad = body.clone();
    bad["threshold"] = json!(2);
    let mut unknown = body.clone();
    unknown["severity"] = json!("high");
    let mut esc = body.clone();
    esc["message"] = json!("\u{1b}[2J ALL CLEAR");
    for b in [
        bad,
        unknown,
        esc,
        json!({"channel": ch, "file": "terrorism"}),
    ] {
        let (s, e) = post(&omar, b);
        assert_eq!(s, 400, "{e}");
        assert!(e["error"]["message"].is_string());
    }
    assert_eq!(count(&dz), before, "refusals and bad input change nothing");

    let (s, r) = post(&omar, body.clone());
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["names_screened"], 3);
    // Omar sees the terrorism file only: the recruitment entry is not
    // screened against, and appears nowhere in the answer.
    assert_eq!(r["entries"], 1);
    assert_eq!(r["hits"].as_array().unwrap().len(), 1);
    assert_eq!(r["hits"][0]["matches"][0]["entry_id"], seen.as_str());
    assert!(!r.to_string().contains(&unseen));
    assert_eq!(r["messages"].as_array().unwrap().len(), 1);
    assert_eq!(r["messages"][0]["channel"], ch.as_str());
    // The alert is his to see; the partner gets the FLASH and the incident.
    let (_, alerts) = call(&base, "GET", "/api/v1/alerts", Some(&omar), None);
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    pump(&[&dz, &ma]);
    let inbox = ma.inbox(&OP).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].precedence, "flash");
    assert!(inbox[0].text.contains("Algiers bombings"));
    let incident = r["incident"].as_str().unwrap();
    assert!(ma.record_get(&OP, incident).is_ok());

    // The document describes it.
    let (_, doc) = call(&base, "GET", "/api/v1/openapi.json", Some(&omar), None);
    assert!(doc["paths"]["/api/v1/incidents"]["post"].is_object());
    assert!(doc["components"]["schemas"]["IncidentReport"]["properties"]["alerts"].is_object());
}
