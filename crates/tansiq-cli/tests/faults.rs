//! Fault tests with real `tansiq serve` processes on loopback:
//!
//! - kill -9 of the receiver and of the sender at pseudo-random moments
//!   (seeded; `TANSIQ_FAULT_SEED` replays a run) while 10,000 records flow,
//!   each restarted at once: every record arrives exactly once, every
//!   signature verifies, nothing is lost at the sender;
//! - a link cut by a TCP proxy between the nodes (MA's card advertises the
//!   proxy, `init --endpoint`) that drops, then blackholes, connections:
//!   records and a FLASH message sent during each cut arrive once it heals,
//!   and `sync status` shows the cut and the backlog, then the recovery.
//!
//! Every wait is bounded and fails naming what it waited for, with the
//! nodes' state and logs.

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// A node directory under `root`, listening on a free port; its card
/// advertises `endpoint` if given.
fn init_at(root: &Path, name: &str, cc: &str, listen: u16, endpoint: Option<u16>) -> PathBuf {
    let dir = root.join(name);
    let listen = format!("127.0.0.1:{listen}");
    let api = format!("127.0.0.1:{}", free_port());
    let mut args = vec![
        "init",
        "--name",
        name,
        "--country",
        cc,
        "--listen",
        &listen,
        "--api-listen",
        &api,
    ];
    let ep = endpoint.map(|p| format!("127.0.0.1:{p}"));
    if let Some(e) = &ep {
        args.extend(["--endpoint", e.as_str()]);
    }
    ok(&dir, &args);
    dir
}

/// Deterministic pseudo-random numbers (SplitMix64): a seed replays a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn seed() -> u64 {
    std::env::var("TANSIQ_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7a45_1a00_dead_beef)
}

/// A `tansiq serve` process whose stderr goes to `log` (appended across
/// restarts, so a failure shows every incarnation's warnings).
struct Serve {
    dir: PathBuf,
    log: PathBuf,
    child: Child,
    starts: u32,
}

impl Serve {
    fn start(dir: &Path) -> Serve {
        let log = dir.with_extension("log");
        let child = spawn_serve(dir, &log);
        Serve {
            dir: dir.to_path_buf(),
            log,
            child,
            starts: 1,
        }
    }

    /// SIGKILL (no shutdown handler runs), reap, and start again at once.
    fn kill9_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        let _ = writeln!(f, "---- killed with SIGKILL; restarting");
        self.child = spawn_serve(&self.dir, &self.log);
        self.starts += 1;
    }

    /// Panics if the process exited by itself.
    fn check_alive(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!(
                "tansiq serve in {} exited ({st}); its log:\n{}",
                self.dir.display(),
                tail(&self.log, 40)
            );
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_serve(dir: &Path, log: &Path) -> Child {
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["serve", "--dir"])
        .arg(dir)
        .env("TANSIQ_LOG", "warn")
        .env_remove("TANSIQ_DIR")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap()
}

/// DZ proposes a DZ–MA channel, MA accepts; both serve. Returns its id.
fn form_channel(dz: &Path, ma: &Path, ma_id: &str) -> String {
    let ch = ok(
        dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            ma_id,
            "--files",
            "terrorism,recruitment",
        ],
    );
    wait_diag(
        "the charter at MA",
        30,
        || channel_status(ma, &ch) == "pending",
        String::new,
    );
    ok(ma, &["channel", "accept", &ch]);
    wait_diag(
        "the channel active at DZ",
        30,
        || channel_status(dz, &ch) == "active",
        String::new,
    );
    ch
}

fn sync_peer(dz: &Path) -> Value {
    json(dz, &["sync", "status", "--json"])["peers"][0].clone()
}

/// A JSONL watchlist of `n` entries with ids `{prefix}{i}`.
fn write_list(path: &Path, prefix: &str, n: usize) {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "{{\"id\": \"{prefix}{i:05}\", \"names\": [\"Courier {prefix} {i} Benali\"]}}\n"
        ));
    }
    std::fs::write(path, s).unwrap();
}

fn import(dz: &Path, ch: &str, list: &str, path: &Path) -> String {
    ok(
        dz,
        &[
            "watchlist",
            "import",
            "--channel",
            ch,
            "--file",
            "terrorism",
            "--format",
            "jsonl",
            "--list",
            list,
            path.to_str().unwrap(),
        ],
    )
}

#[test]
fn init_endpoint_is_advertised_in_the_card_and_serve_binds_listen() {
    let tmp = tempfile::tempdir().unwrap();
    let a = init_at(tmp.path(), "a", "DZ", 7401, Some(9400));
    let card = json(&a, &["card"]);
    assert_eq!(card["endpoint"], "127.0.0.1:9400");
    let b = init_at(tmp.path(), "b", "MA", 7411, None);
    assert_eq!(json(&b, &["card"])["endpoint"], "127.0.0.1:7411");
    // The partner takes the advertised endpoint from the card.
    let card_file = tmp.path().join("a.json");
    std::fs::write(&card_file, ok(&a, &["card"])).unwrap();
    ok(&b, &["peer", "add", card_file.to_str().unwrap()]);
    let peers = json(&b, &["peer", "list", "--json"]);
    assert_eq!(peers[0]["endpoint"], "127.0.0.1:9400");
    let c = tmp.path().join("c");
    let err = fails(
        &c,
        &[
            "init",
            "--name",
            "c",
            "--country",
            "DZ",
            "--listen",
            "127.0.0.1:7421",
            "--endpoint",
            "nowhere",
        ],
        2,
    );
    assert!(err.contains("--endpoint"), "{err}");
    assert!(!c.join("config.toml").exists());
}

const BATCHES: usize = 5;
const PER_BATCH: usize = 2_000;
const TOTAL: i64 = (BATCHES * PER_BATCH) as i64;

#[test]
fn kill_9_sender_and_receiver_while_10000_records_flow() {
    // CI runs one seed; `TANSIQ_FAULT_RUNS=N` runs N seeds in a row
    // (seed, seed+1, …) for a longer soak.
    let runs: u64 = std::env::var("TANSIQ_FAULT_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for i in 0..runs {
        kill_9_run(seed().wrapping_add(i));
    }
}

fn kill_9_run(seed: u64) {
    let started = Instant::now();
    eprintln!("fault seed {seed} (replay with TANSIQ_FAULT_SEED={seed})");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dz = init_at(root, "dz", "DZ", free_port(), None);
    let ma = init_at(root, "ma", "MA", free_port(), None);
    let (_, ma_id) = introduce(&dz, &ma);
    let dz_id = json(&dz, &["card"])["id"].as_str().unwrap().to_string();
    let mut s_dz = Serve::start(&dz);
    let mut s_ma = Serve::start(&ma);
    let ch = form_channel(&dz, &ma, &ma_id);

    // Five lists of 2,000 entries, imported one after the other by the
    // CLI while both nodes serve (each import is one transaction at DZ).
    let lists: Vec<PathBuf> = (0..BATCHES)
        .map(|b| {
            let p = root.join(format!("list{b}.jsonl"));
            write_list(&p, &format!("L{b}-"), PER_BATCH);
            p
        })
        .collect();
    let importer = {
        let (dz, ch) = (dz.clone(), ch.clone());
        std::thread::spawn(move || {
            for (b, p) in lists.iter().enumerate() {
                assert_eq!(
                    import(&dz, &ch, &format!("FT{b}"), p),
                    PER_BATCH.to_string()
                );
            }
        })
    };

    // The receiver's progress, once a second, for the log of the run.
    let watching = Arc::new(AtomicBool::new(true));
    let monitor = {
        let (ma, w) = (ma.clone(), watching.clone());
        std::thread::spawn(move || {
            let mut line = String::new();
            while w.load(Ordering::SeqCst) {
                line.push_str(&format!(
                    " {:.0}s:{}",
                    started.elapsed().as_secs_f64(),
                    store_count(&ma, "SELECT COUNT(*) FROM records")
                ));
                std::thread::sleep(Duration::from_secs(1));
            }
            line
        })
    };

    // Kills at pseudo-random points of the receiver's progress, plus a
    // random delay, so they land at varied phases of batches and commits.
    // Both the sender and the receiver are killed at least twice.
    let kills = rng.range(4, 7) as usize;
    let mut at: Vec<i64> = (0..kills)
        .map(|_| rng.range(200, TOTAL as u64 * 9 / 10) as i64)
        .collect();
    at.sort();
    let mut victims: Vec<bool> = (0..kills).map(|i| i % 2 == 0).collect(); // true = MA
    for i in (1..kills).rev() {
        victims.swap(i, rng.range(0, i as u64 + 1) as usize);
    }
    let ma_count = || store_count(&ma, "SELECT COUNT(*) FROM records");
    let (log_ma, log_dz) = (s_ma.log.clone(), s_dz.log.clone());
    let diag = || {
        let (ma, dz, lm, ld) = (&ma, &dz, &log_ma, &log_dz);
        format!(
            "MA holds {} records; DZ holds {}; DZ outbox {} rows\nDZ log:\n{}\nMA log:\n{}",
            store_count(ma, "SELECT COUNT(*) FROM records"),
            store_count(dz, "SELECT COUNT(*) FROM records"),
            store_count(dz, "SELECT COUNT(*) FROM sync_outbox"),
            tail(ld, 40),
            tail(lm, 40)
        )
    };
    for (k, (&threshold, &receiver)) in at.iter().zip(&victims).enumerate() {
        wait_diag(
            &format!("MA to hold {threshold} records before kill {k}"),
            90,
            || {
                s_dz.check_alive();
                s_ma.check_alive();
                ma_count() >= threshold
            },
            diag,
        );
        std::thread::sleep(Duration::from_millis(rng.range(0, 400)));
        let n = ma_count();
        let t = started.elapsed().as_secs_f64();
        if receiver {
            s_ma.kill9_and_restart();
        } else {
            s_dz.kill9_and_restart();
        }
        eprintln!(
            "{t:6.1} s: kill -9 {} with {n} records at MA",
            if receiver {
                "MA (receiver)"
            } else {
                "DZ (sender)"
            }
        );
    }
    importer.join().expect("the imports at DZ succeed");
    assert_eq!(store_count(&dz, "SELECT COUNT(*) FROM records"), TOTAL);

    wait_diag(
        "all 10,000 records at MA and DZ's outbox empty",
        120,
        || {
            s_dz.check_alive();
            s_ma.check_alive();
            ma_count() >= TOTAL && store_count(&dz, "SELECT COUNT(*) FROM sync_outbox") == 0
        },
        diag,
    );
    eprintln!(
        "{:6.1} s: everything delivered ({} DZ starts, {} MA starts)",
        started.elapsed().as_secs_f64(),
        s_dz.starts,
        s_ma.starts
    );
    watching.store(false, Ordering::SeqCst);
    eprintln!("records at MA over time:{}", monitor.join().unwrap());
    eprintln!(
        "DZ log:\n{}\nMA log:\n{}",
        tail(&log_dz, 40),
        tail(&log_ma, 40)
    );
    let peer = sync_peer(&dz);
    assert_eq!(peer["queued"], 0, "{peer}");
    drop(s_dz);
    drop(s_ma);

    // Nothing lost at DZ: the 10,000 entries of the lists, once each.
    let dz_ids = record_ids(&dz);
    assert_eq!(dz_ids.len() as i64, TOTAL);
    let refs = store_count(
        &dz,
        "SELECT COUNT(DISTINCT json_extract(body, '$.data.listing.list') || '/' || json_extract(body, '$.data.listing.reference')) FROM records",
    );
    assert_eq!(refs, TOTAL, "every list entry has its own record at DZ");
    // Exactly once at MA: the same ids, one version each, one delivery
    // each (one `record.receive` audit leaf per record), one stored
    // envelope per sequence number of DZ's stream.
    let ma_ids = record_ids(&ma);
    assert_eq!(ma_ids, dz_ids, "MA holds exactly DZ's records");
    assert_eq!(
        store_count(&ma, "SELECT COUNT(*) FROM record_versions"),
        TOTAL,
        "one version of each record at MA"
    );
    let m = sqlite_db(&ma);
    let (receives, distinct): (i64, i64) = m
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
    let (envs, max_seq): (i64, i64) = m
        .query_row(
            "SELECT COUNT(*), MAX(seq) FROM sync_envelope WHERE channel = ?1 AND originator = ?2",
            [&ch, &dz_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((envs, max_seq), (TOTAL, TOTAL), "DZ's stream at MA");
    let dz_seq: i64 = sqlite_db(&dz)
        .query_row(
            "SELECT seq FROM sync_stream WHERE channel = ?1 AND originator = ?2",
            [&ch, &dz_id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(dz_seq, TOTAL, "DZ made one envelope per record");
    let received_from_dz = store_count(
        &ma,
        &format!("SELECT COUNT(*) FROM records WHERE originator = '{dz_id}' AND version = 1 AND status = 'active'"),
    );
    assert_eq!(received_from_dz, TOTAL);
    // Every signature verifies and both audit logs are consistent.
    for d in [&dz, &ma] {
        let out = ok(d, &["audit", "verify"]);
        assert!(
            out.contains(&format!("{TOTAL} record versions cross-checked")),
            "{out}"
        );
    }
    eprintln!("{:6.1} s: verified", started.elapsed().as_secs_f64());
}

// ---------------------------------------------------------------------------
// A TCP proxy that can cut the link.

const PASS: u8 = 0;
/// Close new and existing connections.
const DROP: u8 = 1;
/// Accept and never answer; existing connections forward nothing either
/// (what TCP sees of a silent cut: the bytes wait, nothing comes back).
const BLACKHOLE: u8 = 2;

struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let mode = Arc::new(AtomicU8::new(PASS));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mode.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (m, s) = (m.clone(), s.clone());
                        std::thread::spawn(move || proxy_conn(c, upstream, m, s));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Proxy { port, mode, stop }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn proxy_conn(client: TcpStream, upstream: u16, mode: Arc<AtomicU8>, stop: Arc<AtomicBool>) {
    let _ = client.set_nodelay(true);
    // A connection accepted during a blackhole waits, unanswered, until
    // the link passes again (then it goes through, as a late SYN-ACK
    // would) or is dropped.
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match mode.load(Ordering::SeqCst) {
            PASS => break,
            DROP => {
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let (m2, st2) = (mode.clone(), stop.clone());
    let up = std::thread::spawn(move || pump(c2, s2, m2, st2));
    pump(server, client, mode, stop);
    let _ = up.join();
}

/// Copies `from` → `to` while the mode is PASS; waits without reading
/// during a blackhole; closes both on DROP.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: Arc<AtomicU8>, stop: Arc<AtomicBool>) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match mode.load(Ordering::SeqCst) {
            PASS => {}
            DROP => break,
            _ => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        }
        match from.read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

#[test]
fn link_cut_by_a_proxy_drop_then_blackhole_everything_sent_arrives_after() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ma_port = free_port();
    let proxy = Proxy::start(ma_port);
    let dz = init_at(root, "dz", "DZ", free_port(), None);
    // MA binds ma_port; its card sends partners to the proxy.
    let ma = init_at(root, "ma", "MA", ma_port, Some(proxy.port));
    let (_, ma_id) = introduce(&dz, &ma);
    assert_eq!(
        json(&dz, &["peer", "list", "--json"])[0]["endpoint"],
        format!("127.0.0.1:{}", proxy.port)
    );
    let mut s_dz = Serve::start(&dz);
    let mut s_ma = Serve::start(&ma);
    let ch = form_channel(&dz, &ma, &ma_id);
    let diag = || {
        format!(
            "DZ sync status: {}\nMA holds {} records, inbox {}\nDZ log:\n{}\nMA log:\n{}",
            json(&dz, &["sync", "status", "--json"]),
            store_count(&ma, "SELECT COUNT(*) FROM records"),
            store_count(&ma, "SELECT COUNT(*) FROM messages"),
            tail(&dz.with_extension("log"), 40),
            tail(&ma.with_extension("log"), 40)
        )
    };
    let ma_has = |ids: &BTreeSet<String>| {
        let have = record_ids(&ma);
        ids.iter().all(|i| have.contains(i))
    };
    let inbox_has = |msg: &str| {
        json(&ma, &["inbox", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == msg)
    };

    for (phase, mode, what) in [(0, DROP, "drop"), (1, BLACKHOLE, "blackhole")] {
        let t0 = Instant::now();
        proxy.set(mode);
        // Sent during the cut: 200 records and a FLASH.
        let before = record_ids(&dz);
        let list = root.join(format!("cut{phase}.jsonl"));
        write_list(&list, &format!("C{phase}-"), 200);
        import(&dz, &ch, &format!("CUT{phase}"), &list);
        let sent: BTreeSet<String> = record_ids(&dz).difference(&before).cloned().collect();
        assert_eq!(sent.len(), 200);
        let flash = ok(
            &dz,
            &[
                "send",
                "--channel",
                &ch,
                "--file",
                "terrorism",
                "--precedence",
                "flash",
                "--text",
                &format!("FLASH during the {what}"),
                "--ack-required",
            ],
        );
        // DZ sees the cut: the link down with a backlog. A blackhole is
        // only noticed when a request or handshake times out (30 s / 5 s).
        wait_diag(
            &format!("DZ to report MA down with a backlog during the {what}"),
            60,
            || {
                s_dz.check_alive();
                s_ma.check_alive();
                let p = sync_peer(&dz);
                p["link"] == "down" && p["queued"].as_u64().unwrap_or(0) > 0
            },
            diag,
        );
        let p = sync_peer(&dz);
        assert!(p["last_error"].is_string(), "{p}");
        // Nothing crossed the cut.
        let have = record_ids(&ma);
        assert!(
            sent.iter().all(|i| !have.contains(i)),
            "a record crossed the {what}"
        );
        assert!(!inbox_has(&flash), "the FLASH crossed the {what}");
        let cut_for = t0.elapsed().as_secs_f64();

        // Heal: everything sent during the cut arrives.
        let t1 = Instant::now();
        proxy.set(PASS);
        wait_diag(
            &format!("the records and the FLASH sent during the {what} at MA"),
            90,
            || {
                s_dz.check_alive();
                s_ma.check_alive();
                inbox_has(&flash) && ma_has(&sent)
            },
            diag,
        );
        wait_diag(
            &format!("DZ to report MA up with nothing queued after the {what}"),
            60,
            || {
                let p = sync_peer(&dz);
                p["link"] == "up" && p["queued"] == 0
            },
            diag,
        );
        ok(&ma, &["ack", &flash]);
        eprintln!(
            "{what}: cut noticed after {cut_for:.1} s, healed in {:.1} s",
            t1.elapsed().as_secs_f64()
        );
    }
    wait_diag(
        "the FLASH acknowledgements at DZ",
        30,
        || {
            json(&dz, &["sync", "status", "--json"])["unacked"]
                .as_array()
                .is_some_and(|a| a.is_empty())
        },
        diag,
    );
    drop(s_dz);
    drop(s_ma);
    // Exactly once at MA, and both logs verify.
    assert_eq!(record_ids(&ma), record_ids(&dz));
    assert_eq!(
        store_count(&ma, "SELECT COUNT(*) FROM record_versions"),
        400
    );
    assert_eq!(store_count(&ma, "SELECT COUNT(*) FROM messages"), 2);
    for d in [&dz, &ma] {
        ok(d, &["audit", "verify"]);
    }
    eprintln!("link cut test: {:.1} s", started.elapsed().as_secs_f64());
}
