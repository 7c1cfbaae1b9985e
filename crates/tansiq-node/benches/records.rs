//! Bulk record creation and single-record reads, through the node's real
//! services (validate, sign, store, audit, checkpoint) on a real SQLite
//! store with `synchronous=FULL`.
//!
//! `cargo bench -p tansiq-node --bench records [-- N [RUNS]]`
//! (default N = 100,000 person records, RUNS = 3; figures are medians).

mod common;
use common::*;

use std::time::Instant;

use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_core::user::Actor;
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};
use tansiq_store::RecordFilter;

fn person(i: usize, ch: &str) -> NewRecord {
    let given = [
        "Abdallah", "Mohamed", "Youssef", "Karim", "Samir", "Nadia", "Fatima", "Amina",
    ];
    let family = [
        "Belkeziz", "Benali", "Bouzid", "Haddad", "Mansouri", "Zerrouki", "Khelifi", "Saidi",
    ];
    let nationality = ["DZ", "MA", "TN", "FR"][i % 4];
    let gender = if i.is_multiple_of(3) {
        "female"
    } else {
        "male"
    };
    NewRecord {
        channel: ch.to_string(),
        file: "terrorism".into(),
        kind: Kind::Person,
        data: json!({
            "names": [format!("{} {} {i}", given[i % 8], family[(i / 8) % 8]), format!("عبد الله بلقزاز {i}")],
            "birth_date": format!("{}-0{}-1{}", 1950 + i % 50, 1 + i % 9, i % 10),
            "nationality": [nationality],
            "gender": gender,
            "documents": [{"type": "passport", "number": format!("P{i:09}"), "country": "DZ"}],
            "notes": "Suspected facilitator; seen in Tamanrasset and Gao.",
        }),
        tlp: None,
        code: None,
        evaluation: Some("B2".parse().unwrap()),
        expires: None,
        links: vec![],
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let op = Actor::Operator;
    let mut create = Vec::new();
    let mut reads = Vec::new();
    let mut lists = Vec::new();
    for run in 0..runs {
        let tmp = tempfile::tempdir().unwrap();
        let node = Node::init(
            &tmp.path().join("n"),
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
        let ch = node
            .channel_create(&op, "bench", vec![], vec!["terrorism".into()], vec![], None)
            .unwrap();
        let batch: Vec<NewRecord> = (0..n).map(|i| person(i, &ch)).collect();
        let t = Instant::now();
        let ids = node.records_add(&op, batch, |_| {}).unwrap();
        let secs = t.elapsed().as_secs_f64();
        create.push(secs);
        if std::env::var_os("BENCH_CREATE_ONLY").is_some() {
            println!("create {n}: {secs:.2} s");
            continue;
        }
        // Single-record reads (each one audited, i.e. a write transaction).
        let samples = 2000.min(n);
        let mut lat = Vec::with_capacity(samples);
        for k in 0..samples {
            let id = &ids[(k * 7919) % n];
            let t = Instant::now();
            let r = node.record_get(&op, id).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(&r.id, id);
        }
        let read_p50 = median(lat.clone());
        lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let read_p99 = lat[(lat.len() * 99) / 100];
        reads.push((read_p50, read_p99));
        let t = Instant::now();
        let all = node.record_list(&op, &RecordFilter::default()).unwrap();
        lists.push(t.elapsed().as_secs_f64());
        assert_eq!(all.len(), n);
        let t = Instant::now();
        let rep = node.audit_verify(&op).unwrap();
        assert!(rep.ok);
        let verify = t.elapsed().as_secs_f64();
        println!(
            "run {run}: create {n} persons {secs:.2} s ({:.0}/s) · get p50 {read_p50:.0} µs p99 {read_p99:.0} µs · list all {:.2} s · audit verify {verify:.2} s",
            n as f64 / secs,
            lists.last().unwrap()
        );
    }
    let c = median(create);
    if reads.is_empty() {
        return;
    }
    println!(
        "median of {runs}: create {n} signed person records {c:.2} s = {:.0} records/s · single-record get p50 {:.0} µs (p99 {:.0} µs) · list all {:.2} s",
        n as f64 / c,
        median(reads.iter().map(|r| r.0).collect()),
        median(reads.iter().map(|r| r.1).collect()),
        median(lists)
    );
}
