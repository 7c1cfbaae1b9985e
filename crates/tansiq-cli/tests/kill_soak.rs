//! Kill -9 soak (issue 17 §2): every process of a relayed exchange killed
//! at random moments, inside commits too, and nothing lost or duplicated.
//!
//! Three nodes: DZ (the sender, where the importing CLI writes), MA (the
//! receiver) and TN (the relay named in the DZ–MA charter). In odd rounds
//! DZ's route to MA is dead, so everything travels DZ → TN → MA; in even
//! rounds it goes direct. On PostgreSQL (`TANSIQ_TEST_CLI_POSTGRES`)
//! every node lives in the database and DZ is served by two workers (one
//! on the card's port, one only delivering on its outbox leases).
//!
//! A *cycle* is one process killed with SIGKILL and restarted (the CLI is
//! not restarted: its next command runs). Victims and moments are drawn
//! from a seed (`TANSIQ_FAULT_SEED` replays a run):
//!
//! - a `serve` process is killed from outside after a random 0–2.5 s, or
//!   is started with `TANSIQ_FAULT_COMMIT=before:N` / `after:N` and kills
//!   itself just before / just after the COMMIT of its N-th write
//!   transaction (N random in 1–12: a batch taken in, an acknowledgement
//!   recorded, a relay's custody copy, a lease);
//! - the importing CLI (`watchlist import` of 1–30 entries, or `record
//!   add`) runs back to back with the kills; one command in four is a
//!   victim, killed from outside after a random 0–1.5 s or by the fault
//!   point at their 1st–2nd commit (the import's own, before or after
//!   COMMIT).
//!
//! After each round every process is up again and the system settles
//! (bounded waits naming what they wait for), then:
//!
//! - **0 lost**: every command that reported success is whole at DZ (all
//!   of its list's entries, or its record) and every DZ record is at MA;
//! - a killed command is whole or absent at DZ, never partial; a command
//!   that reported failure changed nothing;
//! - **0 duplicated**: no list entry twice at DZ; MA holds exactly DZ's
//!   ids, one version each, one `record.receive` audit leaf each, one
//!   envelope per sequence number of DZ's stream, which has one envelope
//!   per record; the relay holds no record and its outbox is empty;
//! - `audit verify` passes on all three nodes.
//!
//! `TANSIQ_SOAK_CYCLES` sets the number of cycles (CI: 16, two rounds);
//! `scripts/soak kill --cycles N [--postgres]` runs it and prints
//! `N cycles, 0 lost, 0 duplicated`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// SplitMix64: a seed replays a run's choices.
#[derive(Clone)]
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

/// A fault plan for one process: none, or die at the N-th commit.
fn plan(rng: &mut Rng, max_n: u64) -> Option<String> {
    match rng.range(0, 4) {
        0 => Some(format!("before:{}", rng.range(1, max_n + 1))),
        1 => Some(format!("after:{}", rng.range(1, max_n + 1))),
        _ => None,
    }
}

/// How the processes died, for the summary.
#[derive(Default)]
struct Tally {
    external: AtomicU64,
    before_commit: AtomicU64,
    after_commit: AtomicU64,
}

impl Tally {
    fn count(&self, plan: Option<&str>, by_fault_point: bool) {
        let c = match plan {
            Some(p) if by_fault_point && p.starts_with("before") => &self.before_commit,
            Some(_) if by_fault_point => &self.after_commit,
            _ => &self.external,
        };
        c.fetch_add(1, Ordering::SeqCst);
    }

    fn total(&self) -> u64 {
        self.external.load(Ordering::SeqCst)
            + self.before_commit.load(Ordering::SeqCst)
            + self.after_commit.load(Ordering::SeqCst)
    }
}

/// One `tansiq serve` process, restarted after each death.
struct Serve {
    name: String,
    dir: PathBuf,
    /// `--listen`/`--api-listen` overrides (a second worker).
    ports: Option<(u16, u16)>,
    log: PathBuf,
    child: Option<Child>,
    plan: Option<String>,
    kills: u64,
}

impl Serve {
    fn start(name: &str, dir: &Path, ports: Option<(u16, u16)>, plan: Option<String>) -> Serve {
        let mut s = Serve {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            ports,
            log: dir.with_extension(format!("{name}.log")),
            child: None,
            plan: None,
            kills: 0,
        };
        s.spawn(plan);
        s
    }

    fn spawn(&mut self, plan: Option<String>) {
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_tansiq"));
        c.args(["serve", "--dir"]).arg(&self.dir);
        if let Some((l, a)) = self.ports {
            c.args(["--listen", &format!("127.0.0.1:{l}")]);
            c.args(["--api-listen", &format!("127.0.0.1:{a}")]);
        }
        c.env("TANSIQ_LOG", "warn").env_remove("TANSIQ_DIR");
        match &plan {
            Some(p) => c.env("TANSIQ_FAULT_COMMIT", p),
            None => c.env_remove("TANSIQ_FAULT_COMMIT"),
        };
        self.child = Some(c.stdout(Stdio::null()).stderr(err).spawn().unwrap());
        self.plan = plan;
    }

    fn note(&self, what: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        let _ = writeln!(f, "---- {what}");
    }

    /// Whether it killed itself at its fault point; panics if it exited
    /// any other way (a crash of the product, not of the test).
    fn died_by_itself(&mut self) -> bool {
        let Some(c) = self.child.as_mut() else {
            return false;
        };
        match c.try_wait().unwrap() {
            None => false,
            Some(st) if st.signal() == Some(9) && self.plan.is_some() => true,
            Some(st) => panic!(
                "{} ({}) exited by itself ({st}, fault plan {:?}); its log:\n{}",
                self.name,
                self.dir.display(),
                self.plan,
                tail(&self.log, 40)
            ),
        }
    }

    /// SIGKILL from outside (if still running), reap.
    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            c.wait().expect("reap");
        }
    }

    /// Restarts it after a death, with a new fault plan; counts the kill.
    fn restart(&mut self, tally: &Tally, by_fault_point: bool, next: Option<String>) {
        tally.count(self.plan.as_deref(), by_fault_point);
        self.kills += 1;
        self.note(&format!(
            "killed ({}; plan {:?}); restarting with plan {next:?}",
            if by_fault_point {
                "by its fault point"
            } else {
                "SIGKILL from outside"
            },
            self.plan
        ));
        self.kill9();
        self.spawn(next);
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What the importing CLI did, command by command.
#[derive(Default)]
struct Ledger {
    /// List name → entries, for imports that reported success.
    acked_lists: BTreeMap<String, usize>,
    /// Person names of `record add`s that reported success.
    acked_adds: BTreeSet<String>,
    /// Killed commands: whole or absent at DZ.
    killed_lists: BTreeMap<String, usize>,
    killed_adds: BTreeSet<String>,
    /// Commands that reported failure: absent at DZ.
    failed_lists: BTreeSet<String>,
    failed_adds: BTreeSet<String>,
}

/// The importing CLI, until `stop`: commands back to back, half of them
/// victims. Returns what it did.
fn importer(
    dz: PathBuf,
    ch: String,
    round: u64,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
    ledger: Arc<Mutex<Ledger>>,
) {
    let mut op = 0u64;
    while !stop.load(Ordering::SeqCst) {
        op += 1;
        let list = format!("R{round}-S{op}");
        let entries = rng.range(1, 31) as usize;
        let is_import = rng.range(0, 3) != 0;
        let mut args: Vec<String> = vec!["--dir".into(), dz.to_string_lossy().into()];
        if is_import {
            let path = dz.with_extension(format!("{list}.jsonl"));
            let mut s = String::new();
            for i in 0..entries {
                s.push_str(&format!(
                    "{{\"id\": \"{list}-{i}\", \"names\": [\"Soak {list} {i} Benali\"]}}\n"
                ));
            }
            std::fs::write(&path, s).unwrap();
            args.extend(
                [
                    "watchlist",
                    "import",
                    "--channel",
                    &ch,
                    "--file",
                    "terrorism",
                    "--format",
                    "jsonl",
                    "--list",
                    &list,
                    path.to_str().unwrap(),
                ]
                .map(String::from),
            );
        } else {
            let path = dz.with_extension(format!("{list}.json"));
            std::fs::write(&path, format!(r#"{{"names": ["Soak {list} Add"]}}"#)).unwrap();
            args.extend(
                [
                    "record",
                    "add",
                    "--channel",
                    &ch,
                    "--file",
                    "terrorism",
                    "--kind",
                    "person",
                    "--data",
                    path.to_str().unwrap(),
                ]
                .map(String::from),
            );
        }
        // One command in four is a victim: the fault point at its 1st or
        // 2nd commit, or SIGKILL from outside after 0–1.5 s.
        let victim = rng.range(0, 4) == 0;
        let fault = if victim { plan(&mut rng, 2) } else { None };
        let delay = (victim && fault.is_none()).then(|| rng.range(0, 1500));
        let mut c = Command::new(env!("CARGO_BIN_EXE_tansiq"));
        c.args(&args).env_remove("TANSIQ_DIR");
        match &fault {
            Some(p) => c.env("TANSIQ_FAULT_COMMIT", p),
            None => c.env_remove("TANSIQ_FAULT_COMMIT"),
        };
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(ms) = delay {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(ms) {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let name = format!("Soak {list} Add");
        let mut l = ledger.lock().unwrap();
        if out.status.signal() == Some(9) {
            tally.count(fault.as_deref(), fault.is_some());
            if is_import {
                l.killed_lists.insert(list, entries);
            } else {
                l.killed_adds.insert(name);
            }
        } else if out.status.success() {
            if is_import {
                assert_eq!(stdout, entries.to_string(), "import of {list}");
                l.acked_lists.insert(list, entries);
            } else {
                l.acked_adds.insert(name);
            }
        } else {
            // A refused command (e.g. the store stayed busy) must have
            // changed nothing; anything but exit 1 or 2 is a bug.
            let code = out.status.code();
            assert!(
                matches!(code, Some(1) | Some(2)),
                "{args:?} ended with {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            if is_import {
                l.failed_lists.insert(list);
            } else {
                l.failed_adds.insert(name);
            }
        }
    }
}

/// Totals over the rounds.
#[derive(Default)]
struct Figures {
    cycles: u64,
    lost: u64,
    duplicated: u64,
    records: u64,
}

/// The round's directory, deleted afterwards unless `TANSIQ_SOAK_KEEP`
/// is set (to look at the nodes of a failed round).
struct Keep(tempfile::TempDir);

impl Drop for Keep {
    fn drop(&mut self) {
        if std::env::var_os("TANSIQ_SOAK_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.0, tempfile::tempdir().unwrap());
            let _ = dir.keep();
        }
    }
}

fn seed() -> u64 {
    std::env::var("TANSIQ_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x50a4_1a00_0000_0017)
}

#[test]
fn kill_9_soak_every_process_inside_commits_nothing_lost_or_duplicated() {
    let cycles: u64 = std::env::var("TANSIQ_SOAK_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);
    let per_round = cycles.div_ceil(2).clamp(1, 40);
    let seed = seed();
    eprintln!(
        "kill soak: {cycles} cycles, seed {seed} (replay with TANSIQ_FAULT_SEED={seed}), {}",
        if on_postgres() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    let started = Instant::now();
    let mut fig = Figures::default();
    let mut r = 0;
    while fig.cycles < cycles {
        let n = per_round.min(cycles - fig.cycles);
        round(seed.wrapping_add(r), r, n, r % 2 == 1, &mut fig);
        r += 1;
        eprintln!(
            "{:7.1} s: {} cycles done, {} records, {} lost, {} duplicated",
            started.elapsed().as_secs_f64(),
            fig.cycles,
            fig.records,
            fig.lost,
            fig.duplicated
        );
    }
    println!(
        "{} cycles, {} lost, {} duplicated",
        fig.cycles, fig.lost, fig.duplicated
    );
    assert_eq!((fig.lost, fig.duplicated), (0, 0));
}

fn round(seed: u64, r: u64, cycles: u64, relayed: bool, fig: &mut Figures) {
    let started = Instant::now();
    let mut rng = Rng(seed);
    let tmp = Keep(tempfile::tempdir().unwrap());
    let root = tmp.0.path();
    if std::env::var_os("TANSIQ_SOAK_KEEP").is_some() {
        eprintln!("round {r}: nodes in {} (kept)", root.display());
    }
    let dz = init_at(root, "dz", "DZ");
    let ma = init_at(root, "ma", "MA");
    let tn = init_at(root, "tn", "TN");
    let (dz_id, ma_id) = introduce(&dz, &ma);
    let (_, tn_id) = introduce(&dz, &tn);
    introduce(&ma, &tn);
    let tally = Arc::new(Tally::default());
    let mut procs = vec![
        Serve::start("ma", &ma, None, None),
        Serve::start("tn", &tn, None, None),
        Serve::start("dz", &dz, None, None),
    ];
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
            "--relays",
            &tn_id,
        ],
    );
    wait_for("the charter at MA", 60, || {
        channel_status(&ma, &ch) == "pending"
    });
    ok(&ma, &["channel", "accept", &ch]);
    wait_for("the channel active at DZ", 60, || {
        channel_status(&dz, &ch) == "active"
    });
    let route = store_texts(
        &dz,
        &format!("SELECT endpoint FROM peers WHERE id = '{ma_id}'"),
    )
    .pop()
    .unwrap();
    if relayed {
        // DZ's direct route to MA dies: a port nobody listens on.
        procs[2].kill9();
        let n = store_exec(
            &dz,
            &format!(
                "UPDATE peers SET endpoint = '127.0.0.1:{}' WHERE id = '{ma_id}'",
                free_port()
            ),
        );
        assert_eq!(n, 1);
        procs[2].spawn(None);
    }
    if on_postgres() {
        // A second worker of DZ: it only delivers (nothing is routed to
        // its partner port).
        procs.push(Serve::start(
            "dz2",
            &dz,
            Some((free_port(), free_port())),
            None,
        ));
    }
    eprintln!(
        "round {r} ({}, seed {seed}): channel {ch} active after {:.1} s",
        if relayed { "relayed via TN" } else { "direct" },
        started.elapsed().as_secs_f64()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let imp = {
        let (dz, ch, stop, tally, ledger) = (
            dz.clone(),
            ch.clone(),
            stop.clone(),
            tally.clone(),
            ledger.clone(),
        );
        let rng = Rng(seed ^ 0x1111_2222_3333_4444);
        std::thread::spawn(move || importer(dz, ch, r, rng, stop, tally, ledger))
    };

    // Restart whatever killed itself at its fault point, with a new plan.
    let supervise = |procs: &mut Vec<Serve>, rng: &mut Rng, tally: &Tally| {
        for p in procs.iter_mut() {
            if p.died_by_itself() {
                let next = plan(rng, 12);
                p.restart(tally, true, next);
            }
        }
    };
    let diag = |procs: &Vec<Serve>| {
        let mut s = format!(
            "DZ {} records, outbox {}; MA {} records; TN outbox {}\n",
            store_count(&dz, "SELECT COUNT(*) FROM records"),
            store_count(&dz, "SELECT COUNT(*) FROM sync_outbox"),
            store_count(&ma, "SELECT COUNT(*) FROM records"),
            store_count(&tn, "SELECT COUNT(*) FROM sync_outbox"),
        );
        for p in procs {
            s.push_str(&format!("{} log:\n{}\n", p.name, tail(&p.log, 30)));
        }
        for (who, d) in [("DZ", &dz), ("MA", &ma), ("TN", &tn)] {
            let st = tansiq(d, &["sync", "status", "--json"]);
            s.push_str(&format!(
                "{who} sync status: {}\n",
                String::from_utf8_lossy(&st.stdout)
            ));
        }
        s
    };

    while tally.total() < cycles {
        let v = rng.range(0, procs.len() as u64) as usize;
        if procs[v].plan.is_some() {
            // Its fault point will kill it; bounded, since a process may
            // commit rarely (then it is killed from outside).
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) && !procs[v].died_by_itself() {
                supervise(&mut procs, &mut rng, &tally);
                std::thread::sleep(Duration::from_millis(20));
            }
        } else {
            let t = Instant::now();
            let ms = rng.range(0, 2500);
            while t.elapsed() < Duration::from_millis(ms) {
                supervise(&mut procs, &mut rng, &tally);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        supervise(&mut procs, &mut rng, &tally);
        if tally.total() >= cycles {
            break;
        }
        let by_itself = procs[v].died_by_itself();
        let next = plan(&mut rng, 12);
        procs[v].restart(&tally, by_itself, next);
    }
    stop.store(true, Ordering::SeqCst);
    imp.join().expect("the importing CLI's commands behave");
    // Settle: no more planned deaths. In a relayed round DZ's route to MA
    // heals first (what the direct link alone carries — the control
    // channel's checkpoints, which name no relay — waits for it); DZ's
    // processes are killed to take the new route.
    if relayed {
        for p in procs.iter_mut().filter(|p| p.dir == dz) {
            let by_itself = p.died_by_itself();
            tally.count(p.plan.as_deref(), by_itself);
            p.kills += 1;
            p.kill9();
            p.note("killed to heal DZ's route to MA");
        }
        let n = store_exec(
            &dz,
            &format!("UPDATE peers SET endpoint = '{route}' WHERE id = '{ma_id}'"),
        );
        assert_eq!(n, 1);
        for p in procs.iter_mut().filter(|p| p.dir == dz) {
            p.spawn(None);
        }
    }
    for p in procs.iter_mut() {
        if p.plan.is_some() || p.died_by_itself() {
            let by_itself = p.died_by_itself();
            p.restart(&tally, by_itself, None);
        }
    }
    let killed = tally.total();
    eprintln!(
        "round {r}: {killed} kills ({} from outside, {} before a COMMIT, {} after) — {}, importer {} — in {:.1} s; settling",
        tally.external.load(Ordering::SeqCst),
        tally.before_commit.load(Ordering::SeqCst),
        tally.after_commit.load(Ordering::SeqCst),
        procs
            .iter()
            .map(|p| format!("{} {}", p.name, p.kills))
            .collect::<Vec<_>>()
            .join(", "),
        killed - procs.iter().map(|p| p.kills).sum::<u64>(),
        started.elapsed().as_secs_f64()
    );
    let dz_records = store_count(&dz, "SELECT COUNT(*) FROM records");
    let procs = std::cell::RefCell::new(procs);
    wait_diag(
        "every DZ record at MA, DZ's and TN's outboxes empty",
        300,
        || {
            for p in procs.borrow_mut().iter_mut() {
                // No plan any more: a death now is the product's.
                p.died_by_itself();
            }
            store_count(&ma, "SELECT COUNT(*) FROM records") >= dz_records
                && store_count(&dz, "SELECT COUNT(*) FROM sync_outbox") == 0
                && store_count(&tn, "SELECT COUNT(*) FROM sync_outbox") == 0
        },
        || diag(&procs.borrow()),
    );
    drop(procs);

    // What DZ holds, by list and by name.
    let mut per_list: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut per_name: BTreeMap<String, usize> = BTreeMap::new();
    for body in store_texts(&dz, "SELECT body FROM records") {
        let v: Value = serde_json::from_str(&body).unwrap();
        let d = &v["data"];
        match d["listing"]["list"].as_str() {
            Some(list) => per_list
                .entry(list.to_string())
                .or_default()
                .push(d["listing"]["reference"].as_str().unwrap().to_string()),
            None => {
                *per_name
                    .entry(d["names"][0].as_str().unwrap().to_string())
                    .or_default() += 1
            }
        }
    }
    let l = ledger.lock().unwrap();
    let (mut lost, mut dup) = (0u64, 0u64);
    let mut problems = Vec::new();
    for (list, refs) in &per_list {
        let distinct: BTreeSet<&String> = refs.iter().collect();
        if distinct.len() != refs.len() {
            dup += (refs.len() - distinct.len()) as u64;
            problems.push(format!("{list}: an entry twice at DZ"));
        }
    }
    for (name, n) in &per_name {
        if *n > 1 {
            dup += *n as u64 - 1;
            problems.push(format!("{name}: {n} records at DZ"));
        }
    }
    for (list, k) in &l.acked_lists {
        let have = per_list.get(list).map_or(0, Vec::len);
        if have < *k {
            lost += (*k - have) as u64;
            problems.push(format!("{list}: acknowledged {k}, DZ holds {have}"));
        }
    }
    for name in &l.acked_adds {
        if !per_name.contains_key(name) {
            lost += 1;
            problems.push(format!("{name}: acknowledged, not at DZ"));
        }
    }
    let mut killed_whole = 0;
    for (list, k) in &l.killed_lists {
        let have = per_list.get(list).map_or(0, Vec::len);
        if have != 0 && have != *k {
            problems.push(format!("{list}: killed import left {have} of {k}"));
        }
        killed_whole += usize::from(have == *k);
    }
    killed_whole += l
        .killed_adds
        .iter()
        .filter(|n| per_name.contains_key(*n))
        .count();
    for list in &l.failed_lists {
        if per_list.contains_key(list) {
            problems.push(format!("{list}: a refused import left records"));
        }
    }
    for name in &l.failed_adds {
        if per_name.contains_key(name) {
            problems.push(format!("{name}: a refused record add left a record"));
        }
    }
    let known: BTreeSet<&String> = l
        .acked_lists
        .keys()
        .chain(l.killed_lists.keys())
        .chain(l.failed_lists.iter())
        .collect();
    for list in per_list.keys() {
        if !known.contains(list) {
            problems.push(format!("{list}: records of a list never imported"));
        }
    }

    // Exactly once at MA, and one envelope per record in DZ's stream.
    let dz_ids = record_ids(&dz);
    let ma_ids = record_ids(&ma);
    let missing = dz_ids.difference(&ma_ids).count() as u64;
    let extra = ma_ids.difference(&dz_ids).count();
    lost += missing;
    if missing > 0 || extra > 0 {
        problems.push(format!(
            "MA lacks {missing} of DZ's records and has {extra} others"
        ));
    }
    let n = dz_ids.len() as i64;
    let versions = store_count(&ma, "SELECT COUNT(*) FROM record_versions");
    let receives = store_count(
        &ma,
        "SELECT COUNT(*) FROM audit_log WHERE action = 'record.receive'",
    );
    let distinct_receives = store_count(
        &ma,
        "SELECT COUNT(DISTINCT object) FROM audit_log WHERE action = 'record.receive'",
    );
    let envelopes = store_count(
        &ma,
        &format!(
            "SELECT COUNT(*) FROM sync_envelope WHERE channel = '{ch}' AND originator = '{dz_id}'"
        ),
    );
    let max_seq = store_count(
        &ma,
        &format!("SELECT COALESCE(MAX(seq), 0) FROM sync_envelope WHERE channel = '{ch}' AND originator = '{dz_id}'"),
    );
    let dz_seq = store_count(
        &dz,
        &format!("SELECT COALESCE(MAX(seq), 0) FROM sync_stream WHERE channel = '{ch}' AND originator = '{dz_id}'"),
    );
    for (what, got) in [
        ("record versions at MA", versions),
        ("record.receive leaves at MA", receives),
        ("records received at MA", distinct_receives),
        ("envelopes of DZ's stream at MA", envelopes),
        ("the last sequence number at MA", max_seq),
        ("envelopes DZ made", dz_seq),
    ] {
        if got != n {
            if got > n {
                dup += (got - n) as u64;
            }
            problems.push(format!("{what}: {got}, DZ holds {n} records"));
        }
    }
    let relay_records = store_count(&tn, "SELECT COUNT(*) FROM records");
    if relay_records != 0 {
        problems.push(format!("the relay holds {relay_records} records"));
    }
    // Every audit log verifies, cross-checking every record version.
    for (who, d, k) in [("DZ", &dz, n), ("MA", &ma, n), ("TN", &tn, 0)] {
        let out = tansiq(d, &["audit", "verify"]);
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains(&format!("{k} record versions cross-checked")) {
            problems.push(format!(
                "audit verify at {who}: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    eprintln!(
        "round {r}: {n} records; {} imports and {} adds acknowledged, {} killed ({killed_whole} of them whole), {} refused; {:.1} s",
        l.acked_lists.len(),
        l.acked_adds.len(),
        l.killed_lists.len() + l.killed_adds.len(),
        l.failed_lists.len() + l.failed_adds.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "round {r} (seed {seed}): {lost} lost, {dup} duplicated:\n{}",
        problems.join("\n")
    );
    fig.cycles += killed;
    fig.lost += lost;
    fig.duplicated += dup;
    fig.records += n as u64;
}
