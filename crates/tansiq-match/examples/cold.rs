//! Screening from a cold start inside one process, timed by stage — the
//! matching part of `benches/match/cold_screen.sh` without the CLI
//! (reading and validating the list, writing the results).
//!
//! `cargo run --release -p tansiq-match --example cold -- WORK [--threshold T] [--top K] [--out FILE]`
//!
//! WORK holds `list.jsonl` and `queries.jsonl` (written by
//! `benches/match/cold_screen.py make`). Prints the time to build the
//! index and to screen every query (both cores); `--out` writes each
//! query's hits as JSON lines, to compare two versions of the code hit
//! for hit.

use std::io::Write;
use std::time::Instant;

use tansiq_match::{Entry, Index, Query};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let work = std::path::PathBuf::from(args.get(1).expect("WORK directory"));
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let threshold: f64 = opt("--threshold").map_or(0.0, |v| v.parse().unwrap());
    let top: usize = opt("--top").map_or(10, |v| v.parse().unwrap());
    let read = |f: &str| std::fs::read_to_string(work.join(f)).expect("readable");
    let t0 = Instant::now();
    let entries: Vec<Entry> = read("list.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an entry"))
        .collect();
    let queries: Vec<Query> = read("queries.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a query"))
        .collect();
    let t_read = t0.elapsed();
    let t1 = Instant::now();
    let index = Index::build(entries);
    let t_build = t1.elapsed();
    let t2 = Instant::now();
    let hits = index.screen_batch(&queries, threshold, top);
    let t_screen = t2.elapsed();
    println!(
        "{} entries, {} names, {} tokens; {} queries: read {:.3} s, build {:.3} s, screen {:.3} s ({:.0} queries/s), total {:.3} s",
        index.len(),
        index.name_count(),
        index.vocab_len(),
        queries.len(),
        t_read.as_secs_f64(),
        t_build.as_secs_f64(),
        t_screen.as_secs_f64(),
        queries.len() as f64 / t_screen.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(out) = opt("--out") {
        let mut f = std::io::BufWriter::new(std::fs::File::create(out).expect("writable"));
        for (q, h) in queries.iter().zip(&hits) {
            writeln!(f, "{}", serde_json::json!({"query_id": q.id, "hits": h})).unwrap();
        }
    }
}
