//! Networks within N hops (issue 14 §2): `Node::record_graph` walks links
//! both ways, keeps their types and dates, stops at the hop and node
//! bounds, and shows a reader nothing of what the reader may not see —
//! no node, no link end, no count, no hint in `truncated` or an error.

mod common;

use serde_json::json;

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::{Actor, Role, User};
use tansiq_node::graph::Graph;
use tansiq_node::records::NewRecord;
use tansiq_node::{Node, NodeError};

fn link(rel: LinkType, target: &str, from: Option<&str>, until: Option<&str>) -> Link {
    Link {
        rel,
        target: target.into(),
        from: from.map(String::from),
        until: until.map(String::from),
        note: None,
    }
}

struct Net {
    _tmp: tempfile::TempDir,
    n: Node,
    gspc: String,
    aqim: String,
    belk: String,
    /// In the recruitment file.
    recr: String,
    /// Reached only through `recr`.
    far: String,
    /// TLP:RED.
    red: String,
    /// Linked to aqim, then retracted.
    gone: String,
}

fn net() -> Net {
    let tmp = tempfile::tempdir().unwrap();
    let n = node(tmp.path(), "dz", "DZ", 7601);
    let ch = n
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into(), "recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    let add = |kind: Kind, file: &str, name: &str, tlp: Tlp, links: Vec<Link>| {
        n.record_add(
            &OP,
            NewRecord {
                channel: ch.clone(),
                file: file.into(),
                kind,
                data: json!({"names": [name]}),
                tlp: Some(tlp),
                code: None,
                evaluation: None,
                expires: None,
                links,
            },
        )
        .unwrap()
    };
    let (t, a) = ("terrorism", Tlp::Amber);
    let gspc = add(Kind::Organization, t, "GSPC", a, vec![]);
    let aqim = add(
        Kind::Organization,
        t,
        "AQIM",
        a,
        vec![link(LinkType::SuccessorOf, &gspc, Some("2007-01-24"), None)],
    );
    let belk = add(
        Kind::Person,
        t,
        "Abdallah Belkeziz",
        a,
        vec![link(LinkType::MemberOf, &aqim, Some("2007"), Some("2012"))],
    );
    let recr = add(
        Kind::Person,
        "recruitment",
        "Recruiter",
        a,
        vec![link(LinkType::RecruitsFor, &aqim, None, None)],
    );
    let far = add(
        Kind::Person,
        t,
        "Far Contact",
        a,
        vec![link(LinkType::RelatedTo, &recr, None, None)],
    );
    let red = add(
        Kind::Person,
        t,
        "Red Source",
        Tlp::Red,
        vec![link(LinkType::MemberOf, &gspc, None, None)],
    );
    let gone = add(
        Kind::Person,
        t,
        "Withdrawn",
        a,
        vec![link(LinkType::MemberOf, &aqim, None, None)],
    );
    n.record_retract(&OP, &gone).unwrap();
    Net {
        _tmp: tmp,
        n,
        gspc,
        aqim,
        belk,
        recr,
        far,
        red,
        gone,
    }
}

fn analyst(files: &[&str]) -> Actor {
    let files: Vec<String> = files.iter().map(|s| s.to_string()).collect();
    Actor::User(User::new("amina", Role::Analyst, &files).unwrap())
}

/// (id, hops) of every node, in the answer's order.
fn nodes(g: &Graph) -> Vec<(String, u32)> {
    g.nodes.iter().map(|n| (n.id.clone(), n.hops)).collect()
}

fn links(g: &Graph) -> Vec<(String, String, String)> {
    g.links
        .iter()
        .map(|l| (l.src.clone(), l.rel.clone(), l.dst.clone()))
        .collect()
}

fn by_hops(levels: &[&[&String]]) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (h, level) in levels.iter().enumerate() {
        let mut l: Vec<String> = level.iter().map(|s| s.to_string()).collect();
        l.sort();
        out.extend(l.into_iter().map(|id| (id, h as u32)));
    }
    out
}

fn trip(s: &str, r: &str, d: &str) -> (String, String, String) {
    (s.into(), r.into(), d.into())
}

#[test]
fn walks_both_directions_with_types_dates_and_hop_bounds() {
    let x = net();
    let g = x.n.record_graph(&OP, &x.belk, 1, None).unwrap();
    assert_eq!(nodes(&g), by_hops(&[&[&x.belk], &[&x.aqim]]));
    assert_eq!(g.links.len(), 1);
    let l = &g.links[0];
    assert_eq!(
        (
            &l.src,
            l.rel.as_str(),
            &l.dst,
            l.from.as_deref(),
            l.until.as_deref()
        ),
        (&x.belk, "member_of", &x.aqim, Some("2007"), Some("2012"))
    );
    assert_eq!(g.nodes[0].name.as_deref(), Some("Abdallah Belkeziz"));
    assert_eq!(
        (g.nodes[1].kind.as_str(), g.nodes[1].tlp.as_str()),
        ("organization", "amber")
    );
    assert!(!g.truncated);

    // Two hops: the predecessor (aqim → gspc) and who points at aqim
    // (recruiter); the retracted member is no node.
    let g = x.n.record_graph(&OP, &x.belk, 2, None).unwrap();
    assert_eq!(
        nodes(&g),
        by_hops(&[&[&x.belk], &[&x.aqim], &[&x.gspc, &x.recr]])
    );
    assert!(!nodes(&g).iter().any(|(id, _)| *id == x.gone));
    // Three: the RED member of gspc, the recruiter's contact.
    let g3 = x.n.record_graph(&OP, &x.belk, 3, None).unwrap();
    assert_eq!(
        nodes(&g3),
        by_hops(&[
            &[&x.belk],
            &[&x.aqim],
            &[&x.gspc, &x.recr],
            &[&x.far, &x.red]
        ])
    );
    let mut want = vec![
        trip(&x.aqim, "successor_of", &x.gspc),
        trip(&x.belk, "member_of", &x.aqim),
        trip(&x.far, "related_to", &x.recr),
        trip(&x.recr, "recruits_for", &x.aqim),
        trip(&x.red, "member_of", &x.gspc),
    ];
    want.sort();
    assert_eq!(links(&g3), want);
    // Beyond the network, more hops change nothing; the answer is the
    // same call after call.
    let g6 = x.n.record_graph(&OP, &x.belk, 6, None).unwrap();
    assert_eq!(
        serde_json::to_string(&g6)
            .unwrap()
            .replace("\"hops\":6", "\"hops\":3"),
        serde_json::to_string(&g3).unwrap()
    );

    // A retracted record is a node alone: its links went with its content.
    let g = x.n.record_graph(&OP, &x.gone, 2, None).unwrap();
    assert_eq!(nodes(&g), vec![(x.gone.clone(), 0)]);
    assert_eq!(
        (g.nodes[0].status.as_str(), g.nodes[0].name.as_deref()),
        ("retracted", None)
    );
    assert!(g.links.is_empty());
}

#[test]
fn bounds_and_bad_input() {
    let x = net();
    for (hops, limit) in [(0, None), (7, None), (2, Some(0)), (2, Some(5001))] {
        match x.n.record_graph(&OP, &x.belk, hops, limit) {
            Err(NodeError::BadInput(m)) => assert!(m.contains("between"), "{m}"),
            other => panic!("{hops} {limit:?}: {other:?}"),
        }
    }
    // The cap keeps the nearest records, then the lowest ids, and the
    // links among those only.
    let g = x.n.record_graph(&OP, &x.aqim, 3, Some(3)).unwrap();
    assert!(g.truncated);
    let mut first = [x.gspc.clone(), x.belk.clone(), x.recr.clone()];
    first.sort();
    assert_eq!(
        nodes(&g),
        vec![
            (x.aqim.clone(), 0),
            (first[0].clone(), 1),
            (first[1].clone(), 1)
        ]
    );
    for l in &g.links {
        assert!(g.nodes.iter().any(|n| n.id == l.src) && g.nodes.iter().any(|n| n.id == l.dst));
    }
    // Exactly at the cap is not truncated.
    let g = x.n.record_graph(&OP, &x.aqim, 1, Some(4)).unwrap();
    assert_eq!(g.nodes.len(), 4);
    assert!(!g.truncated);
}

#[test]
fn a_reader_sees_no_trace_of_what_it_may_not_see() {
    let x = net();
    let amina = analyst(&["terrorism"]);
    // The recruiter (another file) and the RED member are no nodes; the
    // contact reached only through the recruiter is not reached at all.
    let g = x.n.record_graph(&amina, &x.belk, 6, None).unwrap();
    assert_eq!(nodes(&g), by_hops(&[&[&x.belk], &[&x.aqim], &[&x.gspc]]));
    let mut want = vec![
        trip(&x.aqim, "successor_of", &x.gspc),
        trip(&x.belk, "member_of", &x.aqim),
    ];
    want.sort();
    assert_eq!(links(&g), want);
    // A cap the visible network fits exactly: no hint of the hidden ones.
    let g = x.n.record_graph(&amina, &x.belk, 6, Some(3)).unwrap();
    assert!(!g.truncated);
    let text = serde_json::to_string(&g).unwrap();
    for hidden in [&x.recr, &x.far, &x.red, &x.gone] {
        assert!(!text.contains(hidden.as_str()), "{hidden} leaked: {text}");
    }
    // Starting from a record it may not see: the answer of an unknown id.
    let unknown = match x.n.record_graph(&amina, "rec_dz_unknown", 2, None) {
        Err(NodeError::NotFound(m)) => m.replace("rec_dz_unknown", "ID"),
        other => panic!("{other:?}"),
    };
    for hidden in [&x.recr, &x.red] {
        match x.n.record_graph(&amina, hidden, 2, None) {
            Err(NodeError::NotFound(m)) => assert_eq!(m.replace(hidden.as_str(), "ID"), unknown),
            other => panic!("{other:?}"),
        }
    }
    // The recruitment analyst sees the recruiter, not its terrorism links.
    let rachid = analyst(&["recruitment"]);
    let g = x.n.record_graph(&rachid, &x.recr, 3, None).unwrap();
    assert_eq!(nodes(&g), vec![(x.recr.clone(), 0)]);
    assert!(g.links.is_empty());
    // A role that may not read records is refused.
    let aicha = Actor::User(User::new("aicha", Role::Auditor, &[]).unwrap());
    assert!(matches!(
        x.n.record_graph(&aicha, &x.belk, 1, None),
        Err(NodeError::Refused(_))
    ));
    // Each walk is audited, with counts and a hash, never a name.
    assert!(audited(&x.n, "record.graph", "\"nodes\":3") >= 2);
    assert_eq!(audited(&x.n, "record.graph", "Belkeziz"), 0);
}
