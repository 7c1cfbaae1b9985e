//! `GET /api/v1/records/{id}/graph?hops=N` (issue 14 §2) as the token's
//! user: a user without a file sees fewer records and no hint of the
//! others — not as nodes, link ends, counts, `truncated` or errors.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::Role;
use tansiq_node::records::NewRecord;

fn rec(
    ch: &str,
    file: &str,
    kind: Kind,
    name: &str,
    tlp: Tlp,
    links: Vec<(LinkType, &str)>,
) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: file.into(),
        kind,
        data: json!({"names": [name]}),
        tlp: Some(tlp),
        code: None,
        evaluation: None,
        expires: None,
        links: links
            .into_iter()
            .map(|(rel, t)| Link {
                rel,
                target: t.into(),
                from: Some("2010".into()),
                until: None,
                note: None,
            })
            .collect(),
    }
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key}: {v}"))
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_network_as_each_user_may_see_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ch = dz
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into(), "recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    let add = |r: NewRecord| dz.record_add(&OP, r).unwrap();
    let a = Tlp::Amber;
    let org = add(rec(&ch, "terrorism", Kind::Organization, "AQIM", a, vec![]));
    let cell = add(rec(
        &ch,
        "terrorism",
        Kind::Network,
        "Sahel route",
        a,
        vec![(LinkType::RecruitsFor, &org)],
    ));
    let member = add(rec(
        &ch,
        "terrorism",
        Kind::Person,
        "Abdallah Belkeziz",
        a,
        vec![(LinkType::MemberOf, &org)],
    ));
    let recruiter = add(rec(
        &ch,
        "recruitment",
        Kind::Person,
        "Hidden Recruiter",
        a,
        vec![(LinkType::RecruitsFor, &org)],
    ));
    let behind = add(rec(
        &ch,
        "terrorism",
        Kind::Person,
        "Behind Recruiter",
        a,
        vec![(LinkType::Finances, &recruiter)],
    ));
    let red = add(rec(
        &ch,
        "terrorism",
        Kind::Person,
        "Red Source",
        Tlp::Red,
        vec![(LinkType::MemberOf, &org)],
    ));
    let user = |name: &str, role: Role, files: &[&str]| {
        dz.user_add(
            &OP,
            name,
            role,
            &files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let both = user("omar", Role::Officer, &["terrorism", "recruitment"]);
    let amina = user("amina", Role::Analyst, &["terrorism"]);
    let aicha = user("aicha", Role::Auditor, &[]);
    let dz = Arc::new(dz);
    let (base, _stop) = serve_api(dz.clone());
    let get = |path: &str, token: &str| call(&base, "GET", path, Some(token), None);

    // The officer with both files sees the whole network within 2 hops.
    let (s, g) = get(&format!("/api/v1/records/{member}/graph?hops=2"), &both);
    assert_eq!(s, 200, "{g}");
    let mut want = vec![cell.clone(), recruiter.clone(), red.clone()];
    want.sort();
    assert_eq!(
        ids(&g, "nodes"),
        [vec![member.clone(), org.clone()], want].concat()
    );
    assert_eq!(g["links"].as_array().unwrap().len(), 4, "{g}");
    let (_, g3) = get(&format!("/api/v1/records/{member}/graph?hops=3"), &both);
    assert!(ids(&g3, "nodes").contains(&behind));

    // The analyst (terrorism, at most AMBER+STRICT) sees fewer, and no
    // trace of the others, even at a cap the visible network fills.
    let (s, g) = get(
        &format!("/api/v1/records/{member}/graph?hops=3&limit=3"),
        &amina,
    );
    assert_eq!(s, 200, "{g}");
    assert_eq!(
        ids(&g, "nodes"),
        vec![member.clone(), org.clone(), cell.clone()]
    );
    assert_eq!(g["truncated"], false);
    assert_eq!(g["links"].as_array().unwrap().len(), 2, "{g}");
    let text = g.to_string();
    for hidden in [&recruiter, &behind, &red] {
        assert!(!text.contains(hidden.as_str()), "{hidden} leaked: {text}");
    }
    // A hidden record as the root: 404, as an unknown id.
    let (s1, e1) = get(&format!("/api/v1/records/{recruiter}/graph"), &amina);
    let (s2, e2) = get("/api/v1/records/rec_unknown_1/graph", &amina);
    assert_eq!((s1, s2), (404, 404), "{e1} {e2}");
    assert_eq!(e1["error"]["code"], e2["error"]["code"]);
    assert!(!e1.to_string().contains("Recruiter"));

    // Bad input is 400 in the API's error form; a role that may not read
    // records is 403.
    for q in [
        "hops=0",
        "hops=7",
        "hops=two",
        "limit=0",
        "limit=5001",
        "depth=2",
    ] {
        let (s, e) = get(&format!("/api/v1/records/{member}/graph?{q}"), &both);
        assert_eq!(s, 400, "{q}: {e}");
        assert!(e["error"]["message"].is_string(), "{q}: {e}");
    }
    let (s, _) = get(&format!("/api/v1/records/{member}/graph"), &aicha);
    assert_eq!(s, 403);

    // The document describes it.
    let (_, doc) = get("/api/v1/openapi.json", &both);
    let p = &doc["paths"]["/api/v1/records/{id}/graph"]["get"];
    assert!(p["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "hops"));
    assert!(doc["components"]["schemas"]["Graph"]["properties"]["truncated"].is_object());
}
