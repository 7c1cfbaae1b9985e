//! Federation end to end: two real nodes in one process (separate
//! directories, keys and SQLite stores), each with its mutual-TLS partner
//! endpoint (`partner::serve_peers`) and sender task (`peering::sender`)
//! on one tokio runtime, exactly as `tansiq demo` runs them. Records are
//! signed, sealed to both members, stored at the sender, delivered over
//! TLS on loopback, opened, verified and stored at the receiver.
//!
//! ```sh
//! cargo bench -p tansiq-api --bench federation -- [WHAT] [N] [RUNS]
//! ```
//!
//! - `throughput` (default N = 20,000): A creates N records in batches of
//!   1,000 (`records_add`); the time from the first batch until B holds
//!   all N. Also reports how long A took to create them.
//! - `flash` (default N = 100,000): A creates an N-record backlog while the
//!   link is cut, the link heals, and while it drains A sends 50 FLASH
//!   messages 200 ms apart; latency = visible in B's inbox − the call to
//!   `send_message`.
//! - `catchup` (default N = 100,000): as `flash` without the messages; the
//!   time from the heal until B holds all N (and, separately, from the
//!   first record arriving, which excludes the sender's backoff wait).
//! - `queued` (default N = 20,000): the operator's path. A serves as a
//!   delivery worker (as `tansiq serve` does); a separate `Node` opened on
//!   A's directory — what a CLI command is — creates N records in one
//!   transaction (as `watchlist import` does), and A's sender claims the
//!   queued rows and delivers them. Reports the CLI transaction's time,
//!   and the time from its commit until B holds all N.
//! - `all`: the four in turn.
//!
//! RUNS defaults to 3; figures are medians. B's progress is polled through
//! a separate read-only SQLite connection to its database (WAL), so the
//! polling never takes the node's own store lock.

mod common;
use common::*;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tansiq_core::user::Actor;
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;
const BATCH: usize = 1_000;

/// Two serving nodes with an active two-member channel between them.
struct Pair {
    a: Arc<Node>,
    b: Arc<Node>,
    ch: String,
    /// B's database, read-only, for polling without B's store lock.
    b_db: rusqlite::Connection,
    _rt: tokio::runtime::Runtime,
    _tmp: tempfile::TempDir,
}

fn start_node(root: &Path, dir: &str, name: &str, cc: &str) -> Arc<Node> {
    let node = Node::init(
        &root.join(dir),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{}", free_port()),
            endpoint: None,
            api_listen: Some("127.0.0.1:0"),
            store: None,
        },
    )
    .unwrap();
    Arc::new(node)
}

/// The node's partner endpoint and sender, as `tansiq demo` starts them.
fn start_network(rt: &tokio::runtime::Runtime, node: &Arc<Node>) {
    let peers = tansiq_net::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(node, &peers).unwrap();
    let addr = tansiq_node::config::parse_listen(&node.config.listen).unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    rt.spawn(tansiq_api::partner::serve_peers(
        node.clone(),
        listener,
        peers.clone(),
        std::future::pending::<()>(),
    ));
    rt.spawn(tansiq_node::peering::sender(node.clone(), peers));
}

fn setup() -> Pair {
    setup_as(false)
}

/// `worker`: A delivers only the outbox rows it claims, as `serve` does.
fn setup_as(worker: bool) -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let a = start_node(tmp.path(), "dz", "Algeria security service", "DZ");
    let b = start_node(tmp.path(), "ma", "Morocco security service", "MA");
    if worker {
        a.federation.become_worker("bench/a", 60_000);
    }
    a.peer_add(&OP, &serde_json::to_vec(&b.card()).unwrap())
        .unwrap();
    b.peer_add(&OP, &serde_json::to_vec(&a.card()).unwrap())
        .unwrap();
    start_network(&rt, &a);
    start_network(&rt, &b);
    let ch = a
        .channel_create(
            &OP,
            "DZ-MA bench",
            vec![b.id().to_string()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    assert!(
        wait_until(30, || channel_status(&b, &ch) == "pending"),
        "charter did not reach B"
    );
    b.channel_accept(&OP, &ch).unwrap();
    assert!(
        wait_until(30, || channel_status(&a, &ch) == "active"
            && channel_status(&b, &ch) == "active"),
        "channel did not become active"
    );
    let b_db = rusqlite::Connection::open_with_flags(
        b.dir.join("node.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    b_db.busy_timeout(Duration::from_secs(5)).unwrap();
    Pair {
        a,
        b,
        ch,
        b_db,
        _rt: rt,
        _tmp: tmp,
    }
}

/// How many records B holds, cheaply enough to poll every 20 ms without
/// disturbing the measurement: B only receives, never deletes, and a new
/// version keeps its row, so the largest rowid is the number of records
/// stored. (`COUNT(*)` scans the table: at 100,000 rows, polling it took
/// most of a core.) [`exact_count`] confirms it once at the end.
fn count_at(db: &rusqlite::Connection) -> u64 {
    db.query_row("SELECT MAX(rowid) FROM records", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .ok()
    .flatten()
    .unwrap_or(0) as u64
}

fn exact_count(db: &rusqlite::Connection) -> u64 {
    db.query_row(
        "SELECT COUNT(*) FROM records WHERE status = 'active'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .unwrap_or(0) as u64
}

/// Creates `n` records at A in batches of [`BATCH`], in one transaction
/// each. Returns the time it took.
fn create(p: &Pair, n: usize, offset: usize) -> f64 {
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let k = BATCH.min(n - done);
        let batch = (done..done + k)
            .map(|i| person(offset + i, &p.ch))
            .collect::<Vec<_>>();
        p.a.records_add(&OP, batch, |_| {}).unwrap();
        done += k;
    }
    t.elapsed().as_secs_f64()
}

/// Polls B until it holds `n` records; returns (seconds since `t0` of the
/// first arrival, seconds since `t0` of the last).
fn wait_for(p: &Pair, n: u64, t0: Instant, limit: Duration) -> (f64, f64) {
    let mut first = None;
    loop {
        let c = count_at(&p.b_db);
        if c > 0 && first.is_none() {
            first = Some(t0.elapsed().as_secs_f64());
        }
        if c >= n && exact_count(&p.b_db) >= n {
            let t = t0.elapsed().as_secs_f64();
            return (first.unwrap_or(t), t);
        }
        if t0.elapsed() > limit {
            panic!("B holds {c} of {n} records after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn throughput(n: usize, runs: usize) {
    let (mut rates, mut creates, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let p = setup();
        let l0 = load();
        let c0 = cpu();
        let t0 = Instant::now();
        // The creator runs in its own thread, so B's progress is timed
        // while A is still creating.
        let creator = {
            let a = p.a.clone();
            let ch = p.ch.clone();
            std::thread::spawn(move || {
                let pp = (a, ch);
                let t = Instant::now();
                let mut done = 0;
                while done < n {
                    let k = BATCH.min(n - done);
                    let batch = (done..done + k).map(|i| person(i, &pp.1)).collect();
                    pp.0.records_add(&OP, batch, |_| {}).unwrap();
                    done += k;
                }
                t.elapsed().as_secs_f64()
            })
        };
        let (_, all) = wait_for(&p, n as u64, t0, Duration::from_secs(600));
        let created = creator.join().unwrap();
        let cpu_us = (cpu() - c0) * 1e6 / n as f64;
        let rate = n as f64 / all;
        println!(
            "throughput run {run}: {n} records created at A in {created:.2} s ({:.0}/s), all held by B after {all:.2} s = {rate:.0} records/s end to end · CPU {cpu_us:.0} µs per record (both nodes) · load {l0} → {}",
            n as f64 / created,
            load()
        );
        rates.push(rate);
        creates.push(n as f64 / created);
        cpus.push(cpu_us);
    }
    println!(
        "throughput median of {runs}: {:.0} records/s end to end (creation at A alone {:.0}/s) · CPU {:.0} µs per record, both nodes together",
        median(rates),
        median(creates),
        median(cpus)
    );
}

/// Cuts the link, creates `n` records at A, heals. Returns the heal time.
fn backlog(p: &Pair, n: usize) -> (f64, Instant) {
    p.a.federation.set_link_cut(p.b.id(), true);
    p.b.federation.set_link_cut(p.a.id(), true);
    let c0 = cpu();
    let secs = create(p, n, 0);
    println!(
        "  backlog: {n} records created at A during the cut in {secs:.1} s ({:.0}/s, CPU {:.0} µs per record)",
        n as f64 / secs,
        (cpu() - c0) * 1e6 / n as f64
    );
    assert_eq!(count_at(&p.b_db), 0, "the cut let records through");
    p.a.federation.set_link_cut(p.b.id(), false);
    p.b.federation.set_link_cut(p.a.id(), false);
    (secs, Instant::now())
}

fn catchup(n: usize, runs: usize) {
    let (mut from_heal, mut drain, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let p = setup();
        let l0 = load();
        let (created, healed) = backlog(&p, n);
        let c0 = cpu();
        let (first, all) = wait_for(&p, n as u64, healed, Duration::from_secs(900));
        let cpu_us = (cpu() - c0) * 1e6 / n as f64;
        println!(
            "catchup run {run}: {n}-record backlog created during the cut in {created:.1} s; after the heal the first arrived at {first:.2} s, all at {all:.2} s (drain {:.2} s = {:.0} records/s) · CPU {cpu_us:.0} µs per record delivered · load {l0} → {}",
            all - first,
            n as f64 / (all - first),
            load()
        );
        from_heal.push(all);
        drain.push(all - first);
        cpus.push(cpu_us);
    }
    let d = median(drain.clone());
    println!(
        "catchup median of {runs}: {:.2} s from the heal, {d:.2} s from the first arrival ({:.0} records/s) · CPU {:.0} µs per record delivered",
        median(from_heal),
        n as f64 / d,
        median(cpus)
    );
}

fn flash(n: usize, runs: usize, messages: usize) {
    let (mut p50s, mut p99s, mut maxs) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let p = setup();
        let l0 = load();
        let (_, healed) = backlog(&p, n);
        // Start once the backlog is moving (after the sender's backoff).
        let (first, _) = wait_for(&p, 1, healed, Duration::from_secs(120));
        // Arrival watcher: polls B's inbox every millisecond.
        let sent: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let arrived: Arc<Mutex<Vec<f64>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (sent, arrived, stop) = (sent.clone(), arrived.clone(), stop.clone());
            let path = p.b.dir.join("node.db");
            std::thread::spawn(move || {
                let db = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .unwrap();
                let mut seen = std::collections::BTreeSet::new();
                while !stop.load(Ordering::Relaxed) || seen.len() < sent.lock().unwrap().len() {
                    let ids: Vec<String> = db
                        .prepare_cached("SELECT id FROM messages WHERE direction = 'in'")
                        .unwrap()
                        .query_map([], |r| r.get(0))
                        .unwrap()
                        .filter_map(Result::ok)
                        .collect();
                    let now = Instant::now();
                    for id in ids {
                        if seen.contains(&id) {
                            continue;
                        }
                        let at = sent
                            .lock()
                            .unwrap()
                            .iter()
                            .find(|(s, _)| *s == id)
                            .map(|(_, t)| *t);
                        if let Some(t) = at {
                            arrived
                                .lock()
                                .unwrap()
                                .push(now.duration_since(t).as_secs_f64() * 1e3);
                            seen.insert(id);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            })
        };
        let mut during = 0;
        for k in 0..messages {
            let t = Instant::now();
            // The id is known only when the call returns: record the time
            // of the call, then register the id under it.
            let id =
                p.a.send_message(
                    &OP,
                    &p.ch,
                    Some("terrorism"),
                    "flash",
                    &format!("FLASH {k}: screen these names now."),
                    false,
                )
                .unwrap();
            sent.lock().unwrap().push((id, t));
            if count_at(&p.b_db) < n as u64 {
                during += 1;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let left = n as u64 - count_at(&p.b_db).min(n as u64);
        stop.store(true, Ordering::Relaxed);
        assert!(
            wait_until(60, || arrived.lock().unwrap().len() == messages),
            "not every FLASH arrived"
        );
        watcher.join().unwrap();
        let lat = arrived.lock().unwrap().clone();
        let (p50, p99, max) = (pct(&lat, 0.5), pct(&lat, 0.99), pct(&lat, 1.0));
        println!(
            "flash run {run}: {messages} FLASH messages, {during} sent while the backlog drained ({left} records still queued after the last), drain began {first:.2} s after the heal: latency p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms · load {l0} → {}",
            load()
        );
        p50s.push(p50);
        p99s.push(p99);
        maxs.push(max);
        // Let the rest drain before the nodes go.
        let _ = wait_for(&p, n as u64, Instant::now(), Duration::from_secs(900));
    }
    println!(
        "flash median of {runs}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        median(p50s),
        median(p99s),
        median(maxs)
    );
}

/// The operator's path: records queued by another process's transaction
/// (a CLI command on A's directory), claimed and delivered by A's serving
/// worker.
fn queued(n: usize, runs: usize) {
    let (mut rates, mut creates, mut cpus) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let p = setup_as(true);
        let l0 = load();
        let cli = Node::open(&p.a.dir).unwrap();
        let batch = (0..n).map(|i| person(i, &p.ch)).collect::<Vec<_>>();
        let t = Instant::now();
        cli.records_add(&OP, batch, |_| {}).unwrap();
        let created = t.elapsed().as_secs_f64();
        drop(cli);
        let c0 = cpu();
        let t0 = Instant::now();
        let (first, all) = wait_for(&p, n as u64, t0, Duration::from_secs(900));
        let cpu_us = (cpu() - c0) * 1e6 / n as f64;
        let rate = n as f64 / all;
        println!(
            "queued run {run}: {n} records queued by a CLI transaction in {created:.2} s; delivered by the serving node: first at {first:.2} s, all at {all:.2} s = {rate:.0} records/s · CPU {cpu_us:.0} µs per record delivered (both nodes) · load {l0} → {}",
            load()
        );
        rates.push(rate);
        creates.push(created);
        cpus.push(cpu_us);
    }
    println!(
        "queued median of {runs}: {:.0} records/s delivered after the CLI's commit (the CLI transaction {:.2} s) · CPU {:.0} µs per record delivered",
        median(rates),
        median(creates),
        median(cpus)
    );
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let what = args.first().map(String::as_str).unwrap_or("all");
    let n: Option<usize> = args.get(1).and_then(|s| s.parse().ok());
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let messages: usize = std::env::var("FLASH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    println!("load average at start: {}", load());
    match what {
        "throughput" => throughput(n.unwrap_or(20_000), runs),
        "flash" => flash(n.unwrap_or(100_000), runs, messages),
        "catchup" => catchup(n.unwrap_or(100_000), runs),
        "queued" => queued(n.unwrap_or(20_000), runs),
        "all" => {
            throughput(n.unwrap_or(20_000), runs);
            flash(n.unwrap_or(100_000), runs, messages);
            catchup(n.unwrap_or(100_000), runs);
            queued(n.unwrap_or(20_000), runs);
        }
        other => panic!("unknown benchmark {other:?}: throughput, flash, catchup, queued or all"),
    }
}
