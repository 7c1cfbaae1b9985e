//! Several `tansiq serve` workers on one PostgreSQL node, killed with
//! SIGKILL while they deliver.
//!
//! Node DZ lives in PostgreSQL and is served by three workers, each on its
//! own partner and API port, behind a round-robin TCP balancer (the
//! address DZ's card advertises, as a load balancer would be in front of
//! several machines). Node MA is an ordinary SQLite node. DZ imports
//! 3,000 records in three transactions while a worker is killed with
//! SIGKILL at pseudo-random moments (seeded; `TANSIQ_FAULT_SEED` replays),
//! sometimes restarted at once (it resumes its own claims), sometimes left
//! down for longer than the outbox lease (the others take its rows over).
//! At the end MA holds every record exactly once, DZ's outbox is empty,
//! and `audit verify` passes at both nodes.
//!
//! Needs `TANSIQ_TEST_POSTGRES` (set by `scripts/with-postgres`); set
//! `TANSIQ_SKIP_POSTGRES=1` to skip it.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// SplitMix64: a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// One `tansiq serve` process on its own ports; stderr appended to `log`.
struct Worker {
    dir: PathBuf,
    listen: u16,
    api: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Worker {
    fn start(dir: &Path, log: PathBuf) -> Worker {
        Worker::start_on(dir, log, free_port())
    }

    fn start_on(dir: &Path, log: PathBuf, listen: u16) -> Worker {
        let mut w = Worker {
            dir: dir.to_path_buf(),
            listen,
            api: free_port(),
            log,
            child: None,
        };
        w.spawn();
        w
    }

    fn spawn(&mut self) {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        self.child = Some(
            Command::new(env!("CARGO_BIN_EXE_tansiq"))
                .args(["serve", "--dir"])
                .arg(&self.dir)
                .args(["--listen", &format!("127.0.0.1:{}", self.listen)])
                .args(["--api-listen", &format!("127.0.0.1:{}", self.api)])
                .env(
                    "TANSIQ_LOG",
                    std::env::var("TANSIQ_TEST_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .env_remove("TANSIQ_DIR")
                .stdout(Stdio::null())
                .stderr(err)
                .spawn()
                .unwrap(),
        );
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        let _ = writeln!(f, "---- killed with SIGKILL");
    }

    fn check_alive(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(st)) = c.try_wait() {
                panic!(
                    "a worker exited by itself ({st}); its log:\n{}",
                    tail(&self.log, 30)
                );
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A round-robin TCP balancer over the workers' partner ports: each new
/// connection goes to the next port that accepts it.
struct Balancer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Balancer {
    fn start(upstreams: Arc<Mutex<Vec<u16>>>) -> Balancer {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let next = Arc::new(AtomicUsize::new(0));
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let ups = upstreams.lock().unwrap().clone();
                        let start = next.fetch_add(1, Ordering::SeqCst);
                        std::thread::spawn(move || {
                            c.set_nonblocking(false).unwrap();
                            for k in 0..ups.len() {
                                let up = ups[(start + k) % ups.len()];
                                if let Ok(u) = TcpStream::connect(("127.0.0.1", up)) {
                                    splice(c, u);
                                    return;
                                }
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Balancer { port, stop }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn splice(a: TcpStream, b: TcpStream) {
    let (a2, b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let t = std::thread::spawn(move || pump(a2, b2));
    pump(b, a);
    let _ = t.join();
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

const LISTS: usize = 3;
const PER_LIST: usize = 1_000;
const TOTAL: i64 = (LISTS * PER_LIST) as i64;
const WORKERS: usize = 3;

#[test]
fn kill_9_workers_of_a_postgres_node_while_3000_records_flow() {
    let Some(url) = pg_url("workers") else { return };
    let seed = std::env::var("TANSIQ_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0005_u64);
    eprintln!("fault seed {seed} (replay with TANSIQ_FAULT_SEED={seed})");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();

    // DZ on PostgreSQL, advertising the balancer; a short lease so a dead
    // worker's rows are taken over within the test's time.
    let ports: Arc<Mutex<Vec<u16>>> = Arc::default();
    let lb = Balancer::start(ports.clone());
    let dz = root.join("dz");
    ok(
        &dz,
        &[
            "init",
            "--name",
            "DZ",
            "--country",
            "DZ",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--endpoint",
            &format!("127.0.0.1:{}", lb.port),
            "--store",
            &url,
        ],
    );
    let cfg = dz.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("outbox_lease_secs = 15"), "{text}");
    std::fs::write(
        &cfg,
        text.replace("outbox_lease_secs = 15", "outbox_lease_secs = 2"),
    )
    .unwrap();
    let ma = root.join("ma");
    ok(
        &ma,
        &[
            "init",
            "--name",
            "MA",
            "--country",
            "MA",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--api-listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
    );
    let dz_card = root.join("dz-card.json");
    let ma_card = root.join("ma-card.json");
    std::fs::write(&dz_card, ok(&dz, &["card"])).unwrap();
    std::fs::write(&ma_card, ok(&ma, &["card"])).unwrap();
    ok(&ma, &["peer", "add", dz_card.to_str().unwrap()]);
    let ma_id = ok(&dz, &["peer", "add", ma_card.to_str().unwrap()]);

    let mut workers: Vec<Worker> = (0..WORKERS)
        .map(|i| Worker::start(&dz, root.join(format!("dz-w{i}.log"))))
        .collect();
    *ports.lock().unwrap() = workers.iter().map(|w| w.listen).collect();
    let ma_log = root.join("ma.log");
    // MA serves on its configured port (its card's endpoint).
    let ma_listen = json(&ma, &["card"])["endpoint"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let s_ma = Worker::start_on(&ma, ma_log.clone(), ma_listen);

    let started = Instant::now();
    let ch = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            &ma_id,
            "--files",
            "terrorism",
        ],
    );
    wait_diag(
        "the charter at MA",
        30,
        || channel_status(&ma, &ch) == "pending",
        || {
            format!(
                "{}\n{}\nMA:\n{}",
                tail(&root.join("dz-w0.log"), 30),
                ok(&dz, &["sync", "status", "--json"]),
                tail(&root.join("ma.log"), 30)
            )
        },
    );
    ok(&ma, &["channel", "accept", &ch]);
    wait_diag(
        "the channel active at DZ",
        30,
        || channel_status(&dz, &ch) == "active",
        || tail(&root.join("dz-w0.log"), 30),
    );

    let lists: Vec<PathBuf> = (0..LISTS)
        .map(|b| {
            let p = root.join(format!("list{b}.jsonl"));
            let mut s = String::new();
            for i in 0..PER_LIST {
                s.push_str(&format!(
                    "{{\"id\": \"W{b}-{i:05}\", \"names\": [\"Courier {b} {i} Benali\"]}}\n"
                ));
            }
            std::fs::write(&p, s).unwrap();
            p
        })
        .collect();
    let importer = {
        let (dz, ch) = (dz.clone(), ch.clone());
        std::thread::spawn(move || {
            for (b, p) in lists.iter().enumerate() {
                let n = ok(
                    &dz,
                    &[
                        "watchlist",
                        "import",
                        "--channel",
                        &ch,
                        "--file",
                        "terrorism",
                        "--format",
                        "jsonl",
                        "--list",
                        &format!("W{b}"),
                        p.to_str().unwrap(),
                    ],
                );
                assert_eq!(n, PER_LIST.to_string());
            }
        })
    };

    let ma_count = || store_count(&ma, "SELECT COUNT(*) FROM records");
    let logs: Vec<PathBuf> = workers.iter().map(|w| w.log.clone()).collect();
    let diag = || {
        let mut s = format!("MA holds {} records\n", ma_count());
        for (i, l) in logs.iter().enumerate() {
            s.push_str(&format!("DZ worker {i} log:\n{}\n", tail(l, 30)));
        }
        s.push_str(&format!("MA log:\n{}", tail(&ma_log, 30)));
        s
    };

    // Kills at pseudo-random points of MA's progress; the victim is
    // restarted at once or after up to 3 s (longer than the 2 s lease).
    let kills = rng.range(3, 6) as usize;
    let mut at: Vec<i64> = (0..kills)
        .map(|_| rng.range(100, TOTAL as u64 * 8 / 10) as i64)
        .collect();
    at.sort();
    for (k, &threshold) in at.iter().enumerate() {
        wait_diag(
            &format!("MA to hold {threshold} records before kill {k}"),
            45,
            || {
                workers.iter_mut().for_each(Worker::check_alive);
                ma_count() >= threshold
            },
            diag,
        );
        std::thread::sleep(Duration::from_millis(rng.range(0, 300)));
        let victim = rng.range(0, WORKERS as u64) as usize;
        let down = Duration::from_millis(rng.range(0, 3_000));
        let n = ma_count();
        workers[victim].kill9();
        eprintln!(
            "{:5.1} s: kill -9 DZ worker {victim} with {n} records at MA; down {} ms",
            started.elapsed().as_secs_f64(),
            down.as_millis()
        );
        std::thread::sleep(down);
        workers[victim].spawn();
    }
    importer.join().expect("the imports at DZ succeed");

    wait_diag(
        "every record at MA and DZ's outbox empty",
        60,
        || {
            workers.iter_mut().for_each(Worker::check_alive);
            ma_count() >= TOTAL
                && json(&dz, &["sync", "status", "--json"])["peers"][0]["queued"] == 0
        },
        diag,
    );
    eprintln!(
        "{:5.1} s: everything delivered",
        started.elapsed().as_secs_f64()
    );
    drop(workers);
    drop(s_ma);

    // Exactly once at MA: DZ's records, one version and one delivery each,
    // one envelope per place in DZ's stream.
    let dz_ids = record_ids(&dz);
    assert_eq!(dz_ids.len() as i64, TOTAL);
    let ma_ids = record_ids(&ma);
    assert_eq!(ma_ids, dz_ids, "MA holds exactly DZ's records");
    assert_eq!(
        store_count(&ma, "SELECT COUNT(*) FROM record_versions"),
        TOTAL
    );
    let (receives, distinct): (i64, i64) = sqlite_db(&ma)
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT object) FROM audit_log WHERE action = 'record.receive'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (receives, distinct),
        (TOTAL, TOTAL),
        "each record delivered once"
    );
    let dz_id = json(&dz, &["card"])["id"].as_str().unwrap().to_string();
    let (envs, max_seq): (i64, i64) = sqlite_db(&ma)
        .query_row(
            "SELECT COUNT(*), MAX(seq) FROM sync_envelope WHERE channel = ?1 AND originator = ?2",
            [&ch, &dz_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (envs, max_seq),
        (TOTAL, TOTAL),
        "DZ's stream at MA, no fork"
    );
    let status: Value = json(&dz, &["sync", "status", "--json"]);
    assert_eq!(status["peers"][0]["queued"], 0, "{status}");
    assert_eq!(
        status["alarms"].as_array().map_or(0, Vec::len),
        0,
        "{status}"
    );
    for d in [&dz, &ma] {
        let out = ok(d, &["audit", "verify"]);
        assert!(
            out.contains(&format!("{TOTAL} record versions cross-checked")),
            "{out}"
        );
    }
    eprintln!("{:5.1} s: verified", started.elapsed().as_secs_f64());
}
