//! Private hit/no-hit, end to end: a holder node serving its mutual-TLS
//! partner endpoint and a querier node in one process (separate
//! directories, keys and SQLite stores), the holder exposing a
//! 100,000-entry list built from the real dev names set.
//!
//! ```sh
//! cargo bench -p tansiq-api --bench hits -- [ENTRIES] [BATCH] [RUNS]
//! ```
//!
//! Defaults: 100,000 entries, a 10,000-name batch, 3 runs (medians).
//! Reports, per run: the time to (re-)key the whole list for a partner
//! after a rotation; one query's latency (p50/p99 over 50 queries, keyed
//! list cached at the querier); the batch through the private protocol,
//! with and without the list download; and, in the same run, the same
//! batch screened in clear text against the same entries (the matching
//! engine the node uses for `screen`) — the price of privacy as a ratio.

mod common;
use common::*;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_core::user::Actor;
use tansiq_match::hitkeys::HitSubject;
use tansiq_match::{Index, Query};
use tansiq_node::hits::{hit_query, HitQuery};
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;

fn start_node(root: &Path, dir: &str, cc: &str) -> Arc<Node> {
    Arc::new(
        Node::init(
            &root.join(dir),
            &InitOptions {
                name: dir,
                country: cc,
                listen: &format!("127.0.0.1:{}", free_port()),
                endpoint: None,
                api_listen: Some("127.0.0.1:0"),
                store: None,
            },
        )
        .unwrap(),
    )
}

/// (name, country) pairs of the dev set: Arabic and Latin sides.
fn names() -> Vec<(String, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/names");
    let text = std::fs::read_to_string(root.join("wikidata-full-names.dev.tsv"))
        .expect("the dev names set at ../shared/data/names");
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 4).then(|| (f[0].to_string(), f[1].to_string(), f[3].to_string()))
        })
        .collect()
}

fn entry_data(name: &str, year: &str, cc: &str) -> serde_json::Value {
    let nat: Vec<&str> = Some(cc).filter(|c| c.len() == 2).into_iter().collect();
    json!({"names": [name], "birth_date": year, "nationality": nat})
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n_entries: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let n_batch: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);

    // Entries: every distinct Arabic name, then Latin names of other
    // people, with a birth year and the pair's country.
    let pairs = names();
    let mut seen = HashSet::new();
    let mut entries: Vec<(String, String, String)> = Vec::new();
    for (i, (ar, _, cc)) in pairs.iter().enumerate() {
        if seen.insert(ar.clone()) {
            entries.push((ar.clone(), format!("{}", 1940 + i % 60), cc.clone()));
        }
    }
    for (i, (_, la, cc)) in pairs.iter().enumerate().rev() {
        if entries.len() >= n_entries {
            break;
        }
        if seen.insert(la.clone()) {
            entries.push((la.clone(), format!("{}", 1940 + i % 60), cc.clone()));
        }
    }
    entries.truncate(n_entries);
    // Queries: Latin spellings of listed Arabic names (cross-script), with
    // the same birth year.
    let queries: Vec<HitQuery> = pairs
        .iter()
        .enumerate()
        .filter(|(_, (ar, _, _))| seen.contains(ar))
        .take(n_batch)
        .enumerate()
        .map(|(k, (i, (_, la, cc)))| HitQuery {
            id: format!("Q{k}"),
            subject: HitSubject {
                names: vec![la.clone()],
                birth_date: Some(format!("{}", 1940 + i % 60)),
                nationality: Some(cc.clone()).filter(|c| c.len() == 2),
                documents: vec![],
            },
        })
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let holder = start_node(tmp.path(), "dz", "DZ");
    let querier = start_node(tmp.path(), "ma", "MA");
    holder
        .peer_add(&OP, &serde_json::to_vec(&querier.card()).unwrap())
        .unwrap();
    querier
        .peer_add(&OP, &serde_json::to_vec(&holder.card()).unwrap())
        .unwrap();
    let ch = holder
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let t = Instant::now();
    for chunk in entries.chunks(10_000) {
        let recs = chunk
            .iter()
            .map(|(name, year, cc)| NewRecord {
                channel: ch.clone(),
                file: "terrorism".into(),
                kind: Kind::Person,
                data: entry_data(name, year, cc),
                tlp: None,
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            })
            .collect();
        holder.records_add(&OP, recs, |_| {}).unwrap();
    }
    eprintln!(
        "holder: {} entries stored in {:.1} s",
        entries.len(),
        t.elapsed().as_secs_f64()
    );
    holder
        .query_allow(&OP, querier.id(), &ch, "terrorism", Some(100_000_000))
        .unwrap();
    // The holder's partner endpoint, as `serve` runs it.
    let peers = tansiq_net::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(&holder, &peers).unwrap();
    let addr = tansiq_node::config::parse_listen(&holder.config.listen).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    rt.spawn(tansiq_api::partner::serve_peers(
        holder.clone(),
        listener,
        peers,
        std::future::pending::<()>(),
    ));
    std::thread::sleep(Duration::from_millis(200));

    // The clear-text baseline's index, built once (as `screen` does per call).
    let t = Instant::now();
    let index = Index::build(
        entries
            .iter()
            .enumerate()
            .map(|(i, (name, year, cc))| {
                tansiq_node::watchlist::match_entry(&format!("E{i}"), &entry_data(name, year, cc))
            })
            .collect(),
    );
    let index_s = t.elapsed().as_secs_f64();
    let clear_queries: Vec<Query> = queries
        .iter()
        .map(|q| Query {
            id: q.id.clone(),
            name: q.subject.names[0].clone(),
            birth_date: q.subject.birth_date.clone(),
            nationality: q.subject.nationality.iter().cloned().collect(),
            gender: None,
            documents: vec![],
        })
        .collect();

    println!(
        "hit/no-hit: {} entries, batch of {} names, load {}",
        entries.len(),
        queries.len(),
        load()
    );
    let (mut rekey, mut p50s, mut p99s, mut cold, mut warm, mut clear) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for run in 0..runs {
        // Re-key: a new period, the whole list keyed again.
        holder.query_rotate(&OP).unwrap();
        let t = Instant::now();
        let list = holder.hit_list_for(querier.id()).ok().unwrap();
        let rk = t.elapsed().as_secs_f64();
        let list_mib = list.body.len() as f64 / (1024.0 * 1024.0);

        // The batch, first with the list download (the querier's cache is
        // stale after the rotation), then with the list cached.
        let t = Instant::now();
        let a1 = rt
            .block_on(hit_query(querier.clone(), &OP, holder.id(), &queries))
            .unwrap();
        let c = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let a2 = rt
            .block_on(hit_query(querier.clone(), &OP, holder.id(), &queries))
            .unwrap();
        let w = t.elapsed().as_secs_f64();
        let hits = a2.iter().filter(|a| a.hit).count();
        assert_eq!(a1.iter().filter(|a| a.hit).count(), hits);

        // One query at a time.
        let mut lat = Vec::new();
        for q in queries.iter().take(50) {
            let t = Instant::now();
            rt.block_on(hit_query(
                querier.clone(),
                &OP,
                holder.id(),
                std::slice::from_ref(q),
            ))
            .unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }

        // Clear text, same names, same entries.
        let t = Instant::now();
        let res = index.screen_batch(&clear_queries, tansiq_match::DEFAULT_THRESHOLD, 1);
        let cl = t.elapsed().as_secs_f64();
        let clear_hits = res.iter().filter(|h| !h.is_empty()).count();
        let both = res
            .iter()
            .zip(&a2)
            .filter(|(h, a)| !h.is_empty() && a.hit)
            .count();
        println!(
            "run {run}: re-key {:.2} s ({list_mib:.1} MiB list) · one query p50 {:.1} ms p99 {:.1} ms · batch {:.2} s with list download, {:.2} s cached ({hits} hits) · clear-text screening {:.2} s ({clear_hits} hits, {both} also private hits)",
            rk,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            c,
            w,
            cl
        );
        rekey.push(rk);
        p50s.push(pct(&lat, 0.5));
        p99s.push(pct(&lat, 0.99));
        cold.push(c);
        warm.push(w);
        clear.push(cl);
    }
    let (w, cl) = (median(warm), median(clear));
    println!(
        "median of {runs}: re-key {} entries {:.2} s · one query p50 {:.1} ms (p99 {:.1} ms) · {} names {:.2} s cached / {:.2} s with download ({:.0} names/s) · clear-text {:.2} s (+ index build {index_s:.2} s) · private/clear {:.1}×",
        entries.len(),
        median(rekey),
        median(p50s),
        median(p99s),
        queries.len(),
        w,
        median(cold),
        queries.len() as f64 / w,
        cl,
        w / cl
    );
}
