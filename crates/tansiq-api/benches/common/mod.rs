//! Helpers shared by the serving benches' binaries (each `benches/*.rs` is
//! its own crate and includes this module).
#![allow(dead_code)]

use std::time::{Duration, Instant};

/// The allocator the `tansiq` binary runs with, so the figures are the
/// binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use tansiq_core::user::Actor;
use tansiq_node::Node;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

pub fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// CPU seconds this process has used (user + system, all threads): on a
/// shared machine, CPU per record is steadier than wall time.
pub fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line (11 and 12
    // here); the kernel counts in USER_HZ = 100.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port()
}

pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub fn channel_status(n: &Node, ch: &str) -> String {
    n.channel_list(&Actor::Operator)
        .ok()
        .and_then(|l| l.into_iter().find(|c| c.id == ch))
        .map(|c| c.status)
        .unwrap_or_default()
}

/// The `i`-th synthetic person record for channel `ch` (two names, one
/// of them in Arabic, a birth date, a nationality, a passport).
pub fn person(i: usize, ch: &str) -> tansiq_node::records::NewRecord {
    let given = [
        "Abdallah", "Mohamed", "Youssef", "Karim", "Samir", "Nadia", "Fatima", "Amina",
    ];
    let family = [
        "Belkeziz", "Benali", "Bouzid", "Haddad", "Mansouri", "Zerrouki", "Khelifi", "Saidi",
    ];
    let nationality = ["DZ", "MA", "TN", "FR"][i % 4];
    tansiq_node::records::NewRecord {
        channel: ch.to_string(),
        file: "terrorism".into(),
        kind: tansiq_core::record::Kind::Person,
        data: serde_json::json!({
            "names": [format!("{} {} {i}", given[i % 8], family[(i / 8) % 8]), format!("عبد الله بلقزاز {i}")],
            "birth_date": format!("{}-0{}-1{}", 1950 + i % 50, 1 + i % 9, i % 10),
            "nationality": [nationality],
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
