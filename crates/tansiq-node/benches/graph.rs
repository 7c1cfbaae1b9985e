//! Networks within N hops (issue 14 §2): `Node::record_graph` at 3 hops
//! over a store of 100,000 records shaped like a network of dossiers —
//! locations; organisations operating in them, some the successors of
//! others (renamings); networks; persons who are members of
//! organisations (a few large ones, many small), of networks, located
//! somewhere, leading, financing or related to other persons. Records are
//! made through the node's real services on a real SQLite store.
//!
//! Measured: the audited walk as the operator, and as an analyst who sees
//! one of the two files (the scope applied to both ends of every link),
//! from 300 records drawn at random; and, as a peer on the same store, a
//! recursive CTE of SQLite walking the same links (node ids only: no
//! scope, no cap, no links returned, no audit). For the starts whose
//! network stays under the cap, the two must find the same records.
//!
//! `cargo bench -p tansiq-node --bench graph [-- N [HOPS [STARTS]]]`
//! (defaults 100,000 records, 3 hops, 300 starts).

mod common;
use common::*;

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::json;

use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::{Actor, Role, User};
use tansiq_node::graph::MAX_GRAPH_NODES;
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};

/// splitmix64: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed towards small indices: a few large organisations, many small.
    fn skewed(&mut self, n: usize) -> usize {
        let a = self.below(n);
        let b = self.below(n);
        a.min(b)
    }
}

fn link(rel: LinkType, target: &str, from: Option<String>) -> Link {
    Link {
        rel,
        target: target.to_string(),
        from,
        until: None,
        note: None,
    }
}

fn rec(ch: &str, file: &str, kind: Kind, data: serde_json::Value, links: Vec<Link>) -> NewRecord {
    NewRecord {
        channel: ch.to_string(),
        file: file.into(),
        kind,
        data,
        tlp: Some(Tlp::Amber),
        code: None,
        evaluation: None,
        expires: None,
        links,
    }
}

fn file_of(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "terrorism"
    } else {
        "recruitment"
    }
}

/// Builds the store: returns every record id.
fn build(node: &Node, ch: &str, n: usize) -> Vec<String> {
    let op = Actor::Operator;
    let mut rng = Rng(14);
    let add = |batch: Vec<NewRecord>| node.records_add(&op, batch, |_| {}).unwrap();
    let (n_loc, n_org, n_succ, n_net) = (n / 200, n / 50, n / 500, n / 100);
    let locs = add((0..n_loc)
        .map(|i| {
            rec(
                ch,
                file_of(i),
                Kind::Location,
                json!({"names": [format!("Place {i}")]}),
                vec![],
            )
        })
        .collect());
    let orgs = add((0..n_org)
        .map(|i| {
            let l = vec![link(LinkType::OperatesIn, &locs[rng.below(n_loc)], None)];
            rec(
                ch,
                file_of(i),
                Kind::Organization,
                json!({"names": [format!("Group {i}")]}),
                l,
            )
        })
        .collect());
    // Renamings (GSPC → AQIM): a successor of an existing organisation,
    // and networks recruiting for organisations.
    let mut later: Vec<NewRecord> = (0..n_succ)
        .map(|i| {
            let l = vec![
                link(
                    LinkType::SuccessorOf,
                    &orgs[i * (n_org / n_succ)],
                    Some("2007-01-24".into()),
                ),
                link(LinkType::OperatesIn, &locs[rng.below(n_loc)], None),
            ];
            rec(
                ch,
                file_of(i),
                Kind::Organization,
                json!({"names": [format!("Renamed group {i}")]}),
                l,
            )
        })
        .collect();
    later.extend((0..n_net).map(|i| {
        let a = rng.below(n_loc);
        let b = (a + 1 + rng.below(n_loc - 1)) % n_loc;
        let l = vec![
            link(LinkType::OperatesIn, &locs[a], None),
            link(LinkType::OperatesIn, &locs[b], None),
            link(
                LinkType::RecruitsFor,
                &orgs[rng.skewed(n_org)],
                Some("2012".into()),
            ),
        ];
        rec(
            ch,
            file_of(i),
            Kind::Network,
            json!({"names": [format!("Route {i}")], "activity": "arms smuggling"}),
            l,
        )
    }));
    let later = add(later);
    let nets = &later[n_succ..];
    let n_persons = n - locs.len() - orgs.len() - later.len();
    let person = |rng: &mut Rng, i: usize, earlier: &[String]| {
        let mut l = vec![link(
            LinkType::MemberOf,
            &orgs[rng.skewed(n_org)],
            Some(format!("{}", 1995 + rng.below(30))),
        )];
        if rng.below(10) < 3 {
            l.push(link(LinkType::MemberOf, &nets[rng.below(nets.len())], None));
        }
        if rng.below(10) == 0 {
            l.push(link(LinkType::LocatedIn, &locs[rng.below(n_loc)], None));
        }
        if rng.below(50) == 0 {
            l.push(link(LinkType::Leads, &orgs[rng.below(n_org)], None));
        }
        if !earlier.is_empty() && rng.below(5) == 0 {
            let rel = [
                LinkType::RelatedTo,
                LinkType::Finances,
                LinkType::SmugglesWith,
            ][rng.below(3)];
            l.push(link(rel, &earlier[rng.below(earlier.len())], None));
        }
        rec(
            ch,
            file_of(i),
            Kind::Person,
            json!({"names": [format!("Person {i}"), format!("شخص {i}")]}),
            l,
        )
    };
    let first: Vec<NewRecord> = (0..n_persons / 2)
        .map(|i| person(&mut rng, i, &[]))
        .collect();
    let first = add(first);
    let second: Vec<NewRecord> = (n_persons / 2..n_persons)
        .map(|i| person(&mut rng, i, &first))
        .collect();
    let second = add(second);
    [locs, orgs, later, first, second].concat()
}

/// The peer: SQLite's recursive CTE walking the same links both ways;
/// the distinct ids within `hops`.
fn cte(db: &rusqlite::Connection, id: &str, hops: u32) -> BTreeSet<String> {
    let mut st = db
        .prepare_cached(
            "WITH RECURSIVE walk(id, d) AS (
               SELECT ?1, 0
               UNION
               SELECT l.dst, w.d + 1 FROM walk w JOIN record_links l ON l.src = w.id WHERE w.d < ?2
               UNION
               SELECT l.src, w.d + 1 FROM walk w JOIN record_links l ON l.dst = w.id WHERE w.d < ?2)
             SELECT DISTINCT id FROM walk",
        )
        .unwrap();
    st.query_map(rusqlite::params![id, hops], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn pct(mut v: Vec<f64>, p: usize) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[(v.len() * p / 100).min(v.len() - 1)]
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let hops: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let starts: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n");
    let node = Node::init(
        &dir,
        &InitOptions {
            name: "bench",
            country: "DZ",
            listen: "127.0.0.1:7401",
            endpoint: None,
            api_listen: None,
            store: None,
        },
    )
    .unwrap();
    let op = Actor::Operator;
    let ch = node
        .channel_create(
            &op,
            "bench",
            vec![],
            vec!["terrorism".into(), "recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    let t = Instant::now();
    let ids = build(&node, &ch, n);
    let db = rusqlite::Connection::open(dir.join("node.db")).unwrap();
    // BENCH_GRAPH_KEEP=FILE keeps a copy of the store (to EXPLAIN a query).
    if let Some(keep) = std::env::var_os("BENCH_GRAPH_KEEP") {
        db.execute("VACUUM INTO ?1", [keep.to_string_lossy()])
            .unwrap();
    }
    let links: i64 = db
        .query_row("SELECT COUNT(*) FROM record_links", [], |r| r.get(0))
        .unwrap();
    println!(
        "built {} records, {links} links in {:.1} s",
        ids.len(),
        t.elapsed().as_secs_f64()
    );
    let analyst = Actor::User(User::new("amina", Role::Analyst, &["terrorism".into()]).unwrap());
    let mut rng = Rng(3);
    let picks: Vec<&String> = (0..starts).map(|_| &ids[rng.below(ids.len())]).collect();
    let mut rows = Vec::new();
    for (who, actor, cap) in [
        ("operator, default cap", &op, None),
        ("operator, cap 5000", &op, Some(MAX_GRAPH_NODES)),
        ("analyst (one file), default cap", &analyst, None),
    ] {
        let (mut lat, mut sizes, mut cut) = (Vec::new(), Vec::new(), 0);
        let c0 = cpu();
        for id in &picks {
            let t = Instant::now();
            match node.record_graph(actor, id, hops, cap) {
                Ok(g) => {
                    lat.push(t.elapsed().as_secs_f64() * 1e3);
                    sizes.push(g.nodes.len() as f64);
                    cut += usize::from(g.truncated);
                }
                // The analyst does not see the other file's starts.
                Err(tansiq_node::NodeError::NotFound(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
        let cpu_ms = (cpu() - c0) * 1e3 / lat.len() as f64;
        rows.push(format!(
            "record_graph {hops} hops, {who}: {} walks, median {:.2} ms, p95 {:.2} ms, max {:.2} ms, CPU {cpu_ms:.2} ms per walk · nodes median {:.0} (p95 {:.0}), truncated {cut}",
            lat.len(),
            median(lat.clone()),
            pct(lat.clone(), 95),
            pct(lat, 100),
            median(sizes.clone()),
            pct(sizes, 95)
        ));
    }
    // The peer, and the cross-check on every start under the cap.
    let (mut lat, mut same, mut compared) = (Vec::new(), 0, 0);
    let mut cpu_s = 0.0;
    for id in &picks {
        let (t, c0) = (Instant::now(), cpu());
        let set = cte(&db, id, hops);
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        cpu_s += cpu() - c0;
        let g = node
            .record_graph(&op, id, hops, Some(MAX_GRAPH_NODES))
            .unwrap();
        if !g.truncated {
            compared += 1;
            let ours: BTreeSet<String> = g.nodes.into_iter().map(|n| n.id).collect();
            same += usize::from(ours == set);
        }
    }
    rows.push(format!(
        "peer: SQLite recursive CTE, {hops} hops (ids only): median {:.2} ms, p95 {:.2} ms, max {:.2} ms, CPU {:.2} ms per walk · same records as record_graph on {same} of {compared} untruncated starts",
        median(lat.clone()),
        pct(lat.clone(), 95),
        pct(lat, 100),
        cpu_s * 1e3 / picks.len() as f64
    ));
    rows.push(format!("load {}", load()));
    for r in rows {
        println!("{r}");
    }
    assert_eq!(same, compared, "record_graph and the CTE disagree");
}
