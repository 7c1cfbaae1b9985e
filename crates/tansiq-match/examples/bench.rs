//! Screening benchmark on synthetic watchlists built from the dev data.
//!
//! `cargo run --release -p tansiq-match --example bench -- /work/shared/data/names [--entries N] [--queries N] [--exhaustive-sample N] [--million] [--dump DIR]`
//!
//! - The list: one entry per Arabic name of `wikidata-full-names.dev.tsv`
//!   (Arabic name + its Latin spellings as names, Wikidata "alias" rows as
//!   weak aliases), topped up to `--entries` (default 100,000) with
//!   synthetic people whose given and family names are recombined from
//!   different rows, in both scripts.
//! - The queries (default 100,000): a random entry's name in the other
//!   script or a Latin spelling variant of it (ou/u, e/a, doubled
//!   consonant, "SURNAME, Given", upper case), truth = that entry.
//! - Prints build time, index memory, throughput of `screen_batch` on all
//!   cores (median of 3 runs), recall (true entry among the hits at the
//!   default threshold), and the recall lost to blocking on a sample
//!   compared with `screen_exhaustive`.
//! - `--million`: builds a 1,000,000-name list and reports build time and
//!   memory only.
//! - `--dump DIR`: writes `list.tsv` (entry_id, name) and `queries.tsv`
//!   (query, truth_id) for the Python comparison script.

mod common;

use std::time::Instant;

use common::{list_entries, load, Rng};

use tansiq_match::{Entry, Index, Query, DEFAULT_THRESHOLD};

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn latin_variant(s: &str, rng: &mut Rng) -> String {
    let mut v = s.to_string();
    match rng.below(7) {
        0 => v = v.replacen("ou", "u", 1),
        1 => v = v.replacen('u', "ou", 1),
        2 => v = v.replacen('e', "a", 1),
        3 => v = v.replacen('a', "e", 1),
        4 => {
            let toks: Vec<&str> = v.split(' ').collect();
            if toks.len() >= 2 {
                v = format!(
                    "{}, {}",
                    toks[toks.len() - 1].to_uppercase(),
                    toks[..toks.len() - 1].join(" ")
                );
            }
        }
        5 => v = v.to_uppercase(),
        _ => {
            // Double the first single consonant after a vowel.
            let c: Vec<char> = v.chars().collect();
            if let Some(p) = (1..c.len().saturating_sub(1)).find(|&i| {
                "aeiou".contains(c[i - 1]) && "bdlmnrst".contains(c[i]) && c[i + 1] != c[i]
            }) {
                let mut w: String = c[..=p].iter().collect();
                w.push(c[p]);
                w.extend(&c[p + 1..]);
                v = w;
            }
        }
    }
    v
}

fn queries(list: &[Entry], n: usize, rng: &mut Rng) -> Vec<(Query, String)> {
    (0..n)
        .map(|i| {
            let e = &list[rng.below(list.len())];
            let all: Vec<&String> = e.names.iter().chain(&e.weak_names).collect();
            let src = all[rng.below(all.len())];
            let is_ar = src.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c));
            let name = if is_ar {
                // An Arabic name is screened by one of its Latin spellings.
                let latin: Vec<&&String> = all
                    .iter()
                    .filter(|s| !s.chars().any(|c| ('\u{0600}'..='\u{06ff}').contains(&c)))
                    .collect();
                if latin.is_empty() {
                    src.clone()
                } else {
                    latin_variant(latin[rng.below(latin.len())], rng)
                }
            } else if rng.below(2) == 0 {
                e.names[0].clone()
            } else {
                latin_variant(src, rng)
            };
            (
                Query {
                    id: format!("Q{i}"),
                    name,
                    ..Default::default()
                },
                e.id.clone(),
            )
        })
        .collect()
}

/// CPU seconds used by this process so far (user + system).
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ut: f64 = f.get(11)?.parse().ok()?;
            let st: f64 = f.get(12)?.parse().ok()?;
            Some((ut + st) / 100.0)
        })
        .unwrap_or(0.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/data/names".into()),
    );
    let mut n_entries = 100_000usize;
    let mut n_queries = 100_000usize;
    let mut n_exh = 300usize;
    let mut million = false;
    let mut runs = 3usize;
    let mut dump: Option<String> = None;
    let mut i = 1;
    while i < args.len() {
        let val = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--entries" => n_entries = val(i).parse().expect("--entries N"),
            "--queries" => n_queries = val(i).parse().expect("--queries N"),
            "--exhaustive-sample" => n_exh = val(i).parse().expect("--exhaustive-sample N"),
            "--dump" => dump = Some(val(i)),
            "--runs" => runs = val(i).parse().expect("--runs N"),
            "--million" => {
                million = true;
                i -= 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 2;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rows = load(&dir);
    println!("threads: {}", rayon::current_num_threads());
    if million {
        // 1,000,000 names: real entries plus synthetic two-name entries.
        let list = list_entries(&rows.iter().collect::<Vec<_>>(), 500_000, &mut rng);
        let names: usize = list
            .iter()
            .map(|e| e.names.len() + e.weak_names.len())
            .sum();
        let rss0 = rss_kb("VmRSS:");
        let t = Instant::now();
        let idx = Index::build(list);
        let secs = t.elapsed().as_secs_f64();
        let rss1 = rss_kb("VmRSS:");
        println!(
            "index build: {} entries, {} names, {} distinct tokens: {:.2} s; index structures {:.0} MiB; process RSS {:.0} MiB before build (entries held), {:.0} MiB after, peak {:.0} MiB",
            idx.len(),
            names,
            idx.vocab_len(),
            secs,
            idx.heap_bytes() as f64 / 1048576.0,
            rss0 as f64 / 1024.0,
            rss1 as f64 / 1024.0,
            rss_kb("VmHWM:") as f64 / 1024.0
        );
        return;
    }
    let list = list_entries(&rows.iter().collect::<Vec<_>>(), n_entries, &mut rng);
    let qs = queries(&list, n_queries, &mut rng);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).expect("create dump dir");
        let mut s = String::new();
        for e in &list {
            for n in e.names.iter().chain(&e.weak_names) {
                s.push_str(&format!("{}\t{}\n", e.id, n.replace('\t', " ")));
            }
        }
        std::fs::write(format!("{d}/list.tsv"), s).expect("write list");
        let mut s = String::new();
        for (q, t) in &qs {
            s.push_str(&format!("{}\t{}\n", q.name.replace('\t', " "), t));
        }
        std::fs::write(format!("{d}/queries.tsv"), s).expect("write queries");
    }
    let names: usize = list
        .iter()
        .map(|e| e.names.len() + e.weak_names.len())
        .sum();
    let t = Instant::now();
    let idx = Index::build(list);
    let build = t.elapsed().as_secs_f64();
    println!(
        "list: {} entries, {} names (both scripts, with aliases); build {:.2} s; index structures {:.0} MiB",
        idx.len(),
        names,
        build,
        idx.heap_bytes() as f64 / 1048576.0
    );
    let just_q: Vec<Query> = qs.iter().map(|x| x.0.clone()).collect();
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    let mut results = Vec::new();
    for run in 0..runs {
        let t = Instant::now();
        let c0 = cpu_secs();
        let r = idx.screen_batch(&just_q, DEFAULT_THRESHOLD, 5);
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs() - c0;
        rates.push(just_q.len() as f64 / secs);
        cpu_rates.push(just_q.len() as f64 / (cpu / 2.0));
        println!(
            "run {run}: {} queries in {:.2} s wall = {:.0} queries/s; {:.1} CPU s = {:.0} queries/s per 2 busy cores",
            just_q.len(),
            secs,
            just_q.len() as f64 / secs,
            cpu,
            just_q.len() as f64 / (cpu / 2.0)
        );
        results = r;
    }
    let found = |hits: &[tansiq_match::Hit], truth: &str| hits.iter().any(|h| h.entry_id == truth);
    let top1 =
        |hits: &[tansiq_match::Hit], truth: &str| hits.first().is_some_and(|h| h.entry_id == truth);
    let rec = qs
        .iter()
        .zip(&results)
        .filter(|((_, t), h)| found(h, t))
        .count() as f64
        / qs.len() as f64;
    let r1 = qs
        .iter()
        .zip(&results)
        .filter(|((_, t), h)| top1(h, t))
        .count() as f64
        / qs.len() as f64;
    println!(
        "throughput (median of {runs}): {:.0} queries/s wall, {:.0} queries/s from CPU time; recall (true entry among hits ≥ {DEFAULT_THRESHOLD}, top 5): {rec:.4}; top-1: {r1:.4}",
        median(rates.clone()),
        median(cpu_rates.clone())
    );
    if let Some(d) = &dump {
        let top: Vec<Vec<&str>> = results
            .iter()
            .map(|h| h.iter().map(|x| x.entry_id.as_str()).collect())
            .collect();
        let j = serde_json::json!({"qps": median(rates.clone()), "threshold": DEFAULT_THRESHOLD, "top": top});
        std::fs::write(format!("{d}/ours.json"), j.to_string()).expect("write ours.json");
    }
    // Blocking versus exhaustive on a sample.
    let sample: Vec<usize> = (0..n_exh.min(qs.len()))
        .map(|k| k * qs.len() / n_exh.min(qs.len()).max(1))
        .collect();
    let t = Instant::now();
    let exh: Vec<Vec<tansiq_match::Hit>> = {
        use rayon::prelude::*;
        sample
            .par_iter()
            .map(|&k| idx.screen_exhaustive(&qs[k].0, DEFAULT_THRESHOLD, 5))
            .collect()
    };
    let exh_rate = sample.len() as f64 / t.elapsed().as_secs_f64();
    let mut ex_found = 0;
    let mut lost = 0;
    for (j, &k) in sample.iter().enumerate() {
        let truth = &qs[k].1;
        if found(&exh[j], truth) {
            ex_found += 1;
            if !found(&results[k], truth) {
                lost += 1;
            }
        }
    }
    println!(
        "blocking vs exhaustive on {} queries: exhaustive finds {}, blocking loses {} ({:.2}% of exhaustive's finds); exhaustive speed {:.1} queries/s",
        sample.len(),
        ex_found,
        lost,
        100.0 * lost as f64 / ex_found.max(1) as f64,
        exh_rate
    );
}
