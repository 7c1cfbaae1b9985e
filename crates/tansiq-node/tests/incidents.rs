//! `Node::incident_declare` (issue 14 §3, mission S11): one transaction
//! makes the incident, a FLASH to every channel carrying its file, and
//! the screening of a list of names, whose hits become person records
//! linked to the incident and alerts. Refused or bad declarations change
//! nothing.

mod common;

use serde_json::json;

use common::*;
use tansiq_core::record::Kind;
use tansiq_core::user::{Actor, Role, User};
use tansiq_match::Query;
use tansiq_node::incidents::NewIncident;
use tansiq_node::records::NewRecord;
use tansiq_node::{Node, NodeError};

fn q(id: &str, name: &str) -> Query {
    Query {
        id: id.into(),
        name: name.into(),
        birth_date: None,
        nationality: vec![],
        gender: None,
        documents: vec![],
    }
}

fn incident(ch: &str, file: &str, names: Vec<Query>) -> NewIncident {
    NewIncident {
        channel: ch.into(),
        file: file.into(),
        title: "Bombing at the Casa de España".into(),
        place: Some("Casablanca".into()),
        occurred_at: Some("2003-05-16".into()),
        tlp: None,
        message: None,
        names,
        threshold: tansiq_match::DEFAULT_THRESHOLD,
    }
}

fn entry(n: &Node, ch: &str, file: &str, names: &[&str]) -> String {
    n.record_add(
        &OP,
        NewRecord {
            channel: ch.into(),
            file: file.into(),
            kind: Kind::Person,
            data: json!({"names": names, "listing": {"list": "national", "reference": names[0]}}),
            tlp: None,
            code: None,
            evaluation: None,
            expires: None,
            links: vec![],
        },
    )
    .unwrap()
}

fn user(name: &str, role: Role, files: &[&str]) -> Actor {
    let files: Vec<String> = files.iter().map(|s| s.to_string()).collect();
    Actor::User(User::new(name, role, &files).unwrap())
}

/// Everything a declaration could change at `n`.
fn state(n: &Node) -> (usize, usize, usize) {
    let records = n.record_list(&OP, &Default::default()).unwrap().len();
    let alerts = n.alerts(&OP).unwrap().len();
    let sent = n.unacked_messages().unwrap().len();
    (records, alerts, sent)
}

struct World {
    _tmp: tempfile::TempDir,
    dz: Node,
    ma: Node,
    tn: Node,
    dz_ma: String,
    dz_tn: String,
    national: String,
    belkeziz: String,
    recruiter: String,
}

fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7701);
    let ma = node(tmp.path(), "ma", "MA", 7711);
    let tn = node(tmp.path(), "tn", "TN", 7721);
    trust(&[&dz, &ma, &tn]);
    let all = [&dz, &ma, &tn];
    let dz_ma = form_channel(&dz, "DZ-MA", &[&ma], &all);
    // DZ-TN carries recruitment only; the national channel has no partner.
    let dz_tn = dz
        .channel_create(
            &OP,
            "DZ-TN",
            vec![tn.id().into()],
            vec!["recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    pump(&all);
    tn.channel_accept(&OP, &dz_tn).unwrap();
    pump(&all);
    let national = dz
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into(), "recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    let belkeziz = entry(
        &dz,
        &national,
        "terrorism",
        &["عبد الله بلقزاز", "Abdallah Belkeziz"],
    );
    let recruiter = entry(&dz, &national, "recruitment", &["Mokhtar Belmokhtar"]);
    World {
        _tmp: tmp,
        dz,
        ma,
        tn,
        dz_ma,
        dz_tn,
        national,
        belkeziz,
        recruiter,
    }
}

#[test]
fn a_declaration_fans_out_screens_and_links_its_hits() {
    let w = world();
    let names = vec![
        q("P1", "Abdellah Belkaziz"),
        q("P2", "Jean Dupont"),
        q("P3", "Mokhtar Belmokhtar"),
    ];
    let mut steps = Vec::new();
    let cell = std::cell::RefCell::new(&mut steps);
    let r =
        w.dz.incident_declare(&OP, incident(&w.dz_ma, "terrorism", names), &|d, t| {
            cell.borrow_mut().push((d, t))
        })
        .unwrap();
    assert_eq!(steps.last(), Some(&(3, 3)), "progress reaches the end");
    // One FLASH: DZ-MA carries terrorism and has a partner; DZ-TN does not
    // carry it; the national channel has no one to tell.
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.messages[0].channel, w.dz_ma);
    assert_eq!((r.names_screened, r.entries), (3, 2));
    // The operator sees both files: two names hit.
    let hit_ids: Vec<&str> = r.hits.iter().map(|h| h.query_id.as_str()).collect();
    assert_eq!(hit_ids, vec!["P1", "P3"]);
    assert_eq!(r.hits[0].matches[0].entry_id, w.belkeziz);
    assert!(!r.hits[0].matches[0].explanation.is_empty());
    assert_eq!(r.alerts, 2);

    // The alerts join each matched record to the person made for the name,
    // and that person is linked to the incident.
    let alerts = w.dz.alerts(&OP).unwrap();
    assert_eq!(alerts.len(), 2);
    assert!(alerts
        .iter()
        .any(|a| a.entry_id == w.belkeziz && a.record_id == r.hits[0].record));
    let g = w.dz.record_graph(&OP, &r.incident, 1, None).unwrap();
    let around: Vec<&str> = g.nodes.iter().map(|n| n.id.as_str()).collect();
    assert!(
        around.contains(&r.hits[0].record.as_str()) && around.contains(&r.hits[1].record.as_str())
    );
    assert!(g
        .links
        .iter()
        .all(|l| l.rel == "related_to" && l.dst == r.incident));
    let inc = w.dz.record_get(&OP, &r.incident).unwrap();
    assert_eq!(
        (inc.kind.as_str(), inc.channel.as_str()),
        ("incident", w.dz_ma.as_str())
    );
    assert_eq!(inc.data["place"], "Casablanca");

    // MA receives the FLASH and the incident; TN nothing.
    pump(&[&w.dz, &w.ma, &w.tn]);
    let inbox = w.ma.inbox(&OP).unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].precedence, "flash");
    assert!(inbox[0].text.contains("Casa de España") && inbox[0].text.contains("Casablanca"));
    assert!(held(&w.ma, &r.incident).is_some());
    assert!(w.tn.inbox(&OP).unwrap().is_empty());
    // The FLASH awaits MA's acknowledgement.
    assert_eq!(w.dz.unacked_messages().unwrap().len(), 1);
    assert_eq!(audited(&w.dz, "incident.declare", "\"alerts\":2"), 1);
    let _ = (&w.dz_tn, &w.national);
}

#[test]
fn an_officer_screens_only_what_the_officer_may_see() {
    let w = world();
    let omar = user("omar", Role::Officer, &["terrorism"]);
    let names = vec![q("P1", "Abdellah Belkaziz"), q("P3", "Mokhtar Belmokhtar")];
    let r =
        w.dz.incident_declare(&omar, incident(&w.dz_ma, "terrorism", names), &|_, _| {})
            .unwrap();
    // The recruitment entry is not among what he screens against.
    assert_eq!(r.entries, 1);
    assert_eq!(r.hits.len(), 1);
    assert_eq!(r.hits[0].query_id, "P1");
    assert!(!serde_json::to_string(&r).unwrap().contains(&w.recruiter));
}

#[test]
fn refused_or_bad_declarations_change_nothing() {
    let w = world();
    let before = state(&w.dz);
    let names = || vec![q("P1", "Abdellah Belkaziz")];
    // Roles without the right to send, and an officer without the file.
    for actor in [
        user("amina", Role::Analyst, &["terrorism"]),
        user("aicha", Role::Auditor, &[]),
        user("rachid", Role::Officer, &["recruitment"]),
    ] {
        match w
            .dz
            .incident_declare(&actor, incident(&w.dz_ma, "terrorism", names()), &|_, _| {})
        {
            Err(NodeError::Refused(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    // A channel that does not carry the file: refused by the channel's terms.
    assert!(matches!(
        w.dz.incident_declare(&OP, incident(&w.dz_tn, "terrorism", names()), &|_, _| {}),
        Err(NodeError::Refused(_))
    ));
    // Bad input.
    let mut bad = incident(&w.dz_ma, "terrorism", names());
    bad.threshold = 1.5;
    let mut esc = incident(&w.dz_ma, "terrorism", names());
    esc.message = Some("\u{1b}[2J ALL CLEAR".into());
    let mut when = incident(&w.dz_ma, "terrorism", names());
    when.occurred_at = Some("yesterday".into());
    let mut title = incident(&w.dz_ma, "terrorism", names());
    title.title = " ".into();
    for b in [bad, esc, when, title] {
        match w.dz.incident_declare(&OP, b, &|_, _| {}) {
            Err(NodeError::BadInput(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(state(&w.dz), before);
    assert_eq!(audited(&w.dz, "incident.declare", ""), 0);
}
