//! Several `serve` workers on one PostgreSQL node, against the single
//! SQLite node (docs/BENCHMARKS.md, "PostgreSQL").
//!
//! ```sh
//! TANSIQ_PG_DURABLE=1 scripts/with-postgres cargo bench -p tansiq-api --bench workers -- throughput 6000 3
//! TANSIQ_PG_DURABLE=1 scripts/with-postgres cargo bench -p tansiq-api --bench workers -- reads 10000000 3
//! ```
//!
//! `throughput N RUNS`: node A (SQLite with one worker; PostgreSQL with 1,
//! 2 and 3 workers, each a `Node` of its own with its own connection pool,
//! engine, partner endpoint and sender, as `serve` runs them) creates N
//! signed records, each worker N/W of them in batches of 500 in parallel,
//! and delivers them to node B (SQLite). Reports creation rate (records
//! stored at A per second) and delivery rate (records held by B per
//! second, from the first creation to the last arrival).
//!
//! `reads TOTAL RUNS`: a PostgreSQL (or with `BENCH_STORE=sqlite`, SQLite)
//! node with 2,000 real signed records and TOTAL − 2,000 filler rows
//! (`Store::bench_fill_records`: one INSERT … SELECT per 500,000 rows),
//! then 2,000 audited single-record reads (`record_get`) of random real
//! records and 2,000 unaudited store reads, p50 and p99.

mod common;
use common::*;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tansiq_core::user::Actor;
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;
const BATCH: usize = 500;
const REAL: usize = 2_000;

fn pg_url(extra: &str) -> String {
    let base = std::env::var("TANSIQ_TEST_POSTGRES")
        .expect("TANSIQ_TEST_POSTGRES: run under scripts/with-postgres");
    let sep = if base.contains('?') { '&' } else { '?' };
    let schema = format!(
        "bench{}",
        tansiq_crypto::random_bytes::<6>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    format!("{base}{sep}schema={schema}{extra}")
}

fn init(root: &Path, dir: &str, name: &str, cc: &str, store: Option<&str>) -> Node {
    Node::init(
        &root.join(dir),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{}", free_port()),
            endpoint: None,
            api_listen: Some("127.0.0.1:0"),
            store,
        },
    )
    .unwrap()
}

/// A worker as `serve` runs one: claims, LISTEN wake-ups, the partner
/// endpoint on `listen` and the sender.
fn start_worker(rt: &tokio::runtime::Runtime, node: &Arc<Node>, id: &str, listen: &str) {
    node.federation.become_worker(id, 15_000);
    let weak = Arc::downgrade(node);
    node.store
        .watch_work(move |heard| {
            let Some(n) = weak.upgrade() else {
                return false;
            };
            if heard {
                n.federation
                    .claim_due
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                n.federation.wake.notify_one();
            }
            true
        })
        .unwrap();
    let peers = tansiq_net::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(node, &peers).unwrap();
    let addr = tansiq_node::config::parse_listen(listen).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    rt.spawn(tansiq_api::partner::serve_peers(
        node.clone(),
        listener,
        peers.clone(),
        std::future::pending::<()>(),
    ));
    rt.spawn(tansiq_node::peering::sender(node.clone(), peers));
}

/// CPU seconds the PostgreSQL server has used: its postmaster
/// (`BENCH_PG_PID`, set by scripts/pg-realtime), the children it reaped
/// and those alive. 0 when unknown.
fn server_cpu() -> f64 {
    let Some(pm) = std::env::var("BENCH_PG_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
    else {
        return 0.0;
    };
    let fields = |pid: &str| -> Vec<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .map(|v| v.parse::<f64>().unwrap_or(0.0))
            .collect()
    };
    let at = |f: &[f64], i: usize| f.get(i).copied().unwrap_or(0.0);
    let own = fields(&pm.to_string());
    // utime, stime, cutime, cstime: fields 14–17 of the line.
    let mut ticks = at(&own, 11) + at(&own, 12) + at(&own, 13) + at(&own, 14);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let f = fields(&name);
        if at(&f, 1) as u32 == pm {
            ticks += at(&f, 11) + at(&f, 12);
        }
    }
    ticks / 100.0
}

fn count_at(db: &rusqlite::Connection) -> u64 {
    db.query_row("SELECT MAX(rowid) FROM records", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .ok()
    .flatten()
    .unwrap_or(0) as u64
}

/// One run: (records created per second at A, records delivered per
/// second end to end, CPU µs per record in this process, CPU µs per
/// record of the PostgreSQL server).
fn one_run(pg: bool, workers: usize, n: usize) -> (f64, f64, f64, f64) {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = pg.then(|| pg_url(""));
    let a0 = Arc::new(init(tmp.path(), "a", "Algeria", "DZ", url.as_deref()));
    let b = Arc::new(init(tmp.path(), "b", "Morocco", "MA", None));
    a0.peer_add(&OP, &serde_json::to_vec(&b.card()).unwrap())
        .unwrap();
    b.peer_add(&OP, &serde_json::to_vec(&a0.card()).unwrap())
        .unwrap();
    let mut a = vec![a0.clone()];
    for _ in 1..workers {
        a.push(Arc::new(Node::open(&tmp.path().join("a")).unwrap()));
    }
    for (i, w) in a.iter().enumerate() {
        let listen = if i == 0 {
            w.config.listen.clone()
        } else {
            format!("127.0.0.1:{}", free_port())
        };
        start_worker(&rt, w, &format!("bench/{i}"), &listen);
    }
    start_worker(&rt, &b, "bench/b", &b.config.listen.clone());
    let ch = a0
        .channel_create(
            &OP,
            "bench",
            vec![b.id().to_string()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    assert!(
        wait_until(30, || channel_status(&b, &ch) == "pending"),
        "charter"
    );
    b.channel_accept(&OP, &ch).unwrap();
    assert!(
        wait_until(30, || a.iter().all(|w| channel_status(w, &ch) == "active")),
        "channel active"
    );
    let b_db = rusqlite::Connection::open_with_flags(
        b.dir.join("node.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    b_db.busy_timeout(Duration::from_secs(5)).unwrap();
    let c0 = cpu();
    let s0 = server_cpu();
    let t0 = Instant::now();
    let creators: Vec<_> = a
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let (w, ch) = (w.clone(), ch.clone());
            let share = n / workers + usize::from(i < n % workers);
            std::thread::spawn(move || {
                let mut done = 0;
                while done < share {
                    let k = BATCH.min(share - done);
                    let batch = (done..done + k)
                        .map(|j| person(i * 10_000_000 + j, &ch))
                        .collect();
                    w.records_add(&OP, batch, |_| {}).unwrap();
                    done += k;
                }
                t0.elapsed().as_secs_f64()
            })
        })
        .collect();
    let created = creators
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold(0.0, f64::max);
    assert!(
        wait_until(600, || count_at(&b_db) >= n as u64),
        "B holds {} of {n}",
        count_at(&b_db)
    );
    let all = t0.elapsed().as_secs_f64();
    let cpu_us = (cpu() - c0) * 1e6 / n as f64;
    let server_us = (server_cpu() - s0) * 1e6 / n as f64;
    drop(rt);
    (n as f64 / created, n as f64 / all, cpu_us, server_us)
}

fn throughput(n: usize, runs: usize) {
    // BENCH_CONFIGS=sqlite,pg1,pg2,pg3 (the default: all).
    let only = std::env::var("BENCH_CONFIGS").unwrap_or_default();
    for (pg, workers) in [(false, 1), (true, 1), (true, 2), (true, 3)] {
        let tag = if pg {
            format!("pg{workers}")
        } else {
            "sqlite".into()
        };
        if !only.is_empty() && !only.split(',').any(|c| c == tag) {
            continue;
        }
        let label = if pg {
            format!("PostgreSQL, {workers} worker(s)")
        } else {
            "SQLite, 1 node".to_string()
        };
        let (mut cr, mut dr, mut cu, mut su) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..runs {
            let l0 = load();
            let (c, d, u, s) = one_run(pg, workers, n);
            println!(
                "{label} run {run}: created {c:.0}/s, delivered {d:.0}/s end to end, CPU {u:.0} µs/record (A and B), server {s:.0} µs/record · load {l0} → {}",
                load()
            );
            cr.push(c);
            dr.push(d);
            cu.push(u);
            su.push(s);
        }
        println!(
            "{label}: median of {runs}: created {:.0}/s, delivered {:.0}/s, CPU {:.0} µs/record (A and B), PostgreSQL server {:.0} µs/record",
            median(cr),
            median(dr),
            median(cu),
            median(su)
        );
    }
}

fn reads(total: usize, runs: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let sqlite = std::env::var("BENCH_STORE").is_ok_and(|s| s == "sqlite");
    let url = (!sqlite).then(|| pg_url("&statement_timeout=0"));
    let a = init(tmp.path(), "a", "Algeria", "DZ", url.as_deref());
    let ch = a
        .channel_create(&OP, "solo", vec![], vec!["terrorism".into()], vec![], None)
        .unwrap();
    let t = Instant::now();
    let mut ids = Vec::new();
    while ids.len() < REAL {
        let batch = (ids.len()..ids.len() + BATCH)
            .map(|i| person(i, &ch))
            .collect();
        ids.extend(a.records_add(&OP, batch, |_| {}).unwrap());
    }
    println!("{REAL} real records in {:.1} s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    let filler = total.saturating_sub(REAL) as u64;
    let added = a
        .store
        .bench_fill_records(&ids[0], "rec_fill", filler)
        .unwrap();
    println!(
        "{added} filler rows in {:.1} s ({} store); load {}",
        t.elapsed().as_secs_f64(),
        if sqlite { "SQLite" } else { "PostgreSQL" },
        load()
    );
    let t = Instant::now();
    let _ = a.store.scrub();
    println!(
        "VACUUM/checkpoint after the fill: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut rng = tansiq_crypto::random_bytes::<8>();
    let mut pick = || {
        let x = u64::from_le_bytes(rng);
        rng = (x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407))
        .to_le_bytes();
        &ids[(x >> 33) as usize % ids.len()]
    };
    let scope = tansiq_core::policy::read_scope(&OP);
    let (mut p50s, mut p99s, mut r50s, mut r99s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let l0 = load();
        let mut lat = Vec::new();
        for _ in 0..2_000 {
            let id = pick().clone();
            let t = Instant::now();
            let v = a.record_get(&OP, &id).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1e6);
            assert_eq!(v.id, id);
        }
        let mut raw = Vec::new();
        for _ in 0..2_000 {
            let id = pick().clone();
            let t = Instant::now();
            let r = a.store.read(|tx| tx.record(&id, &scope)).unwrap();
            raw.push(t.elapsed().as_secs_f64() * 1e6);
            assert!(r.is_some());
        }
        println!(
            "reads run {run}: record_get (audited) p50 {:.0} µs p99 {:.0} µs · store read p50 {:.0} µs p99 {:.0} µs · load {l0} → {}",
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            pct(&raw, 0.5),
            pct(&raw, 0.99),
            load()
        );
        p50s.push(pct(&lat, 0.5));
        p99s.push(pct(&lat, 0.99));
        r50s.push(pct(&raw, 0.5));
        r99s.push(pct(&raw, 0.99));
    }
    println!(
        "reads with {total} records, median of {runs}: record_get p50 {:.0} µs p99 {:.0} µs; store read p50 {:.0} µs p99 {:.0} µs",
        median(p50s),
        median(p99s),
        median(r50s),
        median(r99s)
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let what = args.first().map(String::as_str).unwrap_or("throughput");
    let n: Option<usize> = args.get(1).and_then(|s| s.parse().ok());
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    println!("load average at start: {}", load());
    match what {
        "throughput" => throughput(n.unwrap_or(6_000), runs),
        "reads" => reads(n.unwrap_or(10_000_000), runs),
        other => panic!("unknown benchmark {other:?}: throughput or reads"),
    }
}
