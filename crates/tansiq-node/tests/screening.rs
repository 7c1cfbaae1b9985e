//! `Node::screen` keeps the index it built per read scope while the
//! records are unchanged (issue 14: the web interface rebuilt it for every
//! name screened). A change of the records — made here or by another
//! process on the same store — is seen at the next screening, and a
//! user's screening never uses an index holding what the user may not see.

mod common;

use serde_json::json;

use common::*;
use tansiq_core::record::Kind;
use tansiq_core::user::{Actor, Role, User};
use tansiq_match::{Hit, Query};
use tansiq_node::records::NewRecord;
use tansiq_node::Node;

fn q(name: &str) -> Vec<Query> {
    vec![Query {
        id: "q".into(),
        name: name.into(),
        ..Default::default()
    }]
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

fn hit_ids(n: &Node, actor: &Actor, name: &str) -> Vec<String> {
    let r: Vec<Vec<Hit>> = n.screen(actor, &q(name), 0.5, 5).unwrap();
    r[0].iter().map(|h| h.entry_id.clone()).collect()
}

#[test]
fn the_index_is_reused_until_the_records_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7741);
    let national = dz
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let belkeziz = entry(&dz, &national, "terrorism", &["عبد الله بلقزاز"]);
    let amina = user("amina", Role::Analyst, &["terrorism"]);

    assert_eq!(
        hit_ids(&dz, &amina, "Abdallah Belkeziz"),
        vec![belkeziz.clone()]
    );
    assert_eq!(dz.screening_index_builds(), 1);
    // Same scope, same records: the index is reused.
    assert_eq!(
        hit_ids(&dz, &amina, "Abdellah Belkaziz"),
        vec![belkeziz.clone()]
    );
    assert!(hit_ids(&dz, &amina, "Mokhtar Belmokhtar").is_empty());
    assert_eq!(dz.screening_index_builds(), 1);

    // A new entry: the next screening reads the records again and finds it.
    let mokhtar = entry(&dz, &national, "terrorism", &["مختار بلمختار"]);
    assert_eq!(
        hit_ids(&dz, &amina, "Mokhtar Belmokhtar"),
        vec![mokhtar.clone()]
    );
    assert_eq!(dz.screening_index_builds(), 2);

    // A change made by another process on the same store (a CLI command
    // while `serve` runs): a retraction.
    let other = Node::open(&tmp.path().join("dz")).unwrap();
    other.record_retract(&OP, &mokhtar).unwrap();
    drop(other);
    assert!(hit_ids(&dz, &amina, "Mokhtar Belmokhtar").is_empty());
    assert_eq!(dz.screening_index_builds(), 3);
    assert_eq!(hit_ids(&dz, &amina, "Abdallah Belkeziz"), vec![belkeziz]);
    assert_eq!(dz.screening_index_builds(), 3);
}

#[test]
fn a_kept_index_never_serves_a_user_what_the_user_may_not_see() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7751);
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
    let belkeziz = entry(&dz, &national, "terrorism", &["عبد الله بلقزاز"]);
    let recruiter = entry(&dz, &national, "recruitment", &["Mokhtar Belmokhtar"]);
    let amina = user("amina", Role::Analyst, &["terrorism"]);
    let rachid = user("rachid", Role::Analyst, &["recruitment"]);

    // The operator's index (every file) is built and kept first…
    assert_eq!(
        hit_ids(&dz, &OP, "Mokhtar Belmokhtar"),
        vec![recruiter.clone()]
    );
    assert_eq!(
        hit_ids(&dz, &OP, "Abdallah Belkeziz"),
        vec![belkeziz.clone()]
    );
    // …but each user screens against an index of their own files only.
    assert!(hit_ids(&dz, &amina, "Mokhtar Belmokhtar").is_empty());
    assert!(hit_ids(&dz, &rachid, "Abdallah Belkeziz").is_empty());
    assert_eq!(hit_ids(&dz, &rachid, "Mokhtar Belmokhtar"), vec![recruiter]);
    assert_eq!(hit_ids(&dz, &amina, "Abdallah Belkeziz"), vec![belkeziz]);
    assert_eq!(dz.screening_index_builds(), 3);
    // And again, from the kept indexes.
    assert!(hit_ids(&dz, &amina, "Mokhtar Belmokhtar").is_empty());
    assert!(hit_ids(&dz, &rachid, "Abdallah Belkeziz").is_empty());
    assert_eq!(dz.screening_index_builds(), 3);
}
