//! Evaluation harness.
//!
//! `cargo run --release -p tansiq-match --example eval -- /work/shared/data/names [--sample N] [--full] [--exhaustive]`
//!
//! For each data set and direction (Arabic queries ranked against every
//! Latin name of the set, and the reverse) prints recall@1, recall@10, the
//! true-positive rate at a 0.1% pairwise false-positive rate, and
//! precision/recall at the default threshold — for tansiq-match (through
//! its blocking index) and for a naive baseline (any_ascii transliteration +
//! Jaro-Winkler from strsim, scored exhaustively) in the same run.
//!
//! Queries are a deterministic sample (default 2,000 per direction) of the
//! distinct names of the set; the gallery is always the whole set.
//!
//! Other flags: `--no-baseline`, `--exhaustive` (also score without
//! blocking), `--sweep` (precision/recall per threshold), `--only TEXT`
//! (sets whose name contains TEXT), `--failures K` (print K misses) with
//! `--blocking-misses` (only those exhaustive scoring gets right) or
//! `--below-threshold` (the queries whose true match is not a hit),
//! `--half 0|1` (only the queries in one half of a fixed hash split of
//! the names: tune on half 0, check on half 1), `--watchlists DIR` (where
//! the UN and OFAC lists of the official-list set are; default
//! `NAMES/../watchlists`; the set is skipped when they are absent).
//!
//! The official-list set (issue 16 §4, `official/mod.rs`): Latin names as
//! the UN and OFAC lists spell them against the UN list's Arabic originals
//! among every Wikidata Arabic name. "FP/q" is the false pairs scoring at
//! least the default threshold per query; on that set it is split into
//! false hits on UN names and on Wikidata names (all negatives there).

use std::collections::HashMap;
use std::time::Instant;

use rayon::prelude::*;
use tansiq_match::{Entry, Index, DEFAULT_THRESHOLD};

mod official;

const BINS: usize = 100_000;
/// The baseline has no calibrated threshold; this is the usual JW cut.
const BASELINE_THRESHOLD: f64 = 0.9;

struct Task {
    name: String,
    queries: Vec<String>,
    gallery: Vec<String>,
    /// For each query, the indices of its true matches in the gallery.
    rel: Vec<Vec<u32>>,
    /// False hits on gallery items below this index are counted apart
    /// (the UN names of the official-list set; 0 elsewhere).
    split: usize,
}

#[derive(Default)]
struct Acc {
    r1: f64,
    r10: f64,
    nq: usize,
    pos: Vec<u64>,
    neg: Vec<u64>,
    tp_thr: u64,
    fp_thr: u64,
    npos: u64,
    /// False hits at the threshold on gallery items below `Task::split`.
    fp_lo: u64,
    /// Queries with a false hit at the threshold below `Task::split`.
    q_fp_lo: u64,
    /// R@1 lost to a gallery item below `Task::split` (a UN name).
    miss_lo: f64,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            pos: vec![0; BINS + 1],
            neg: vec![0; BINS + 1],
            ..Default::default()
        }
    }
    fn merge(mut self, o: Acc) -> Acc {
        self.r1 += o.r1;
        self.r10 += o.r10;
        self.nq += o.nq;
        self.tp_thr += o.tp_thr;
        self.fp_thr += o.fp_thr;
        self.npos += o.npos;
        self.fp_lo += o.fp_lo;
        self.q_fp_lo += o.q_fp_lo;
        self.miss_lo += o.miss_lo;
        for i in 0..=BINS {
            self.pos[i] += o.pos[i];
            self.neg[i] += o.neg[i];
        }
        self
    }
    /// TPR at the lowest threshold whose FPR ≤ `fpr`, and that threshold.
    fn tpr_at(&self, fpr: f64) -> (f64, f64) {
        let total_neg: u64 = self.neg.iter().sum();
        let total_pos: u64 = self.pos.iter().sum();
        let allowed = (fpr * total_neg as f64).floor() as u64;
        let mut fp = 0u64;
        let mut tp = 0u64;
        let mut thr = 1.0;
        // Walk thresholds from the top bin down.
        for b in (0..=BINS).rev() {
            if fp + self.neg[b] > allowed {
                break;
            }
            fp += self.neg[b];
            tp += self.pos[b];
            thr = b as f64 / BINS as f64;
        }
        (tp as f64 / total_pos.max(1) as f64, thr)
    }
}

impl Acc {
    /// Precision and recall of the pairs scoring at least `t`.
    fn pr_at(&self, t: f64) -> (f64, f64) {
        let b0 = bin(t);
        let tp: u64 = self.pos[b0..].iter().sum();
        let fp: u64 = self.neg[b0..].iter().sum();
        let all: u64 = self.pos.iter().sum();
        (
            tp as f64 / (tp + fp).max(1) as f64,
            tp as f64 / all.max(1) as f64,
        )
    }
}

fn bin(s: f64) -> usize {
    ((s.clamp(0.0, 1.0)) * BINS as f64).round() as usize
}

/// Probability that the best true match ranks within the first `k`
/// when ties are broken at random; 0 when no true match was reached.
fn recall_at(scores: &[(u32, f64)], rel: &[u32], k: usize) -> f64 {
    let best = scores
        .iter()
        .filter(|(g, _)| rel.contains(g))
        .map(|x| x.1)
        .fold(f64::NAN, f64::max);
    if best.is_nan() || best <= 0.0 {
        return 0.0;
    }
    let greater = scores
        .iter()
        .filter(|(g, s)| !rel.contains(g) && *s > best)
        .count();
    let ties = scores
        .iter()
        .filter(|(g, s)| !rel.contains(g) && *s == best)
        .count();
    if greater >= k {
        return 0.0;
    }
    ((k - greater) as f64 / (ties + 1) as f64).min(1.0)
}

/// Rank of the best true match (pessimistic on ties), for display.
fn rank(scores: &[(u32, f64)], rel: &[u32]) -> Option<usize> {
    let best = scores
        .iter()
        .filter(|(g, _)| rel.contains(g))
        .map(|x| x.1)
        .fold(f64::NAN, f64::max);
    if best.is_nan() || best <= 0.0 {
        return None;
    }
    Some(
        1 + scores
            .iter()
            .filter(|(g, s)| !rel.contains(g) && *s >= best)
            .count(),
    )
}

fn account(
    acc: &mut Acc,
    scores: &[(u32, f64)],
    rel: &[u32],
    gallery_len: usize,
    thr: f64,
    split: usize,
) {
    acc.nq += 1;
    let mut lo = false;
    let r1 = recall_at(scores, rel, 1);
    acc.r1 += r1;
    if r1 < 1.0 && !rel.is_empty() {
        let top = scores
            .iter()
            .filter(|(g, _)| !rel.contains(g))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if top.is_some_and(|&(g, _)| (g as usize) < split) {
            acc.miss_lo += 1.0 - r1;
        }
    }
    acc.r10 += recall_at(scores, rel, 10);
    let mut seen_pos = 0u64;
    let mut seen_neg = 0u64;
    for &(g, s) in scores {
        if rel.contains(&g) {
            acc.pos[bin(s)] += 1;
            seen_pos += 1;
            if s >= thr {
                acc.tp_thr += 1;
            }
        } else {
            acc.neg[bin(s)] += 1;
            seen_neg += 1;
            if s >= thr {
                acc.fp_thr += 1;
                if (g as usize) < split {
                    acc.fp_lo += 1;
                    lo = true;
                }
            }
        }
    }
    // Gallery items not scored count as score 0.
    acc.pos[0] += rel.len() as u64 - seen_pos;
    acc.neg[0] += (gallery_len - rel.len()) as u64 - seen_neg;
    acc.npos += rel.len() as u64;
    acc.q_fp_lo += lo as u64;
}

struct Report {
    r1: f64,
    r10: f64,
    tpr: f64,
    tpr5: f64,
    thr: f64,
    prec: f64,
    rec: f64,
    qps: f64,
    fpq: f64,
    fpq_lo: f64,
    q_fp_lo: f64,
    miss_lo: f64,
}

fn report(acc: &Acc, secs: f64) -> Report {
    let nq = acc.nq.max(1) as f64;
    Report {
        r1: acc.r1 / nq,
        r10: acc.r10 / nq,
        tpr: acc.tpr_at(0.001).0,
        tpr5: acc.tpr_at(0.00001).0,
        thr: acc.tpr_at(0.001).1,
        prec: acc.tp_thr as f64 / (acc.tp_thr + acc.fp_thr).max(1) as f64,
        rec: acc.tp_thr as f64 / acc.npos.max(1) as f64,
        qps: acc.nq as f64 / secs,
        fpq: acc.fp_thr as f64 / nq,
        fpq_lo: acc.fp_lo as f64 / nq,
        q_fp_lo: acc.q_fp_lo as f64 / nq,
        miss_lo: acc.miss_lo / nq,
    }
}

fn run_ours(t: &Task, blocked: bool) -> Report {
    let entries: Vec<Entry> = t
        .gallery
        .iter()
        .enumerate()
        .map(|(i, n)| Entry {
            id: i.to_string(),
            names: vec![n.clone()],
            ..Default::default()
        })
        .collect();
    let idx = Index::build(entries);
    let start = Instant::now();
    let acc = (0..t.queries.len())
        .into_par_iter()
        .fold(Acc::new, |mut acc, qi| {
            let scores = idx.name_scores(&t.queries[qi], blocked);
            account(
                &mut acc,
                &scores,
                &t.rel[qi],
                t.gallery.len(),
                DEFAULT_THRESHOLD,
                t.split,
            );
            acc
        })
        .reduce(Acc::new, Acc::merge);
    report(&acc, start.elapsed().as_secs_f64())
}

/// Print queries whose best true match is not ranked first.
fn dump_failures(t: &Task, k: usize, blocking_only: bool, below_threshold: bool) {
    let entries: Vec<Entry> = t
        .gallery
        .iter()
        .enumerate()
        .map(|(i, n)| Entry {
            id: i.to_string(),
            names: vec![n.clone()],
            ..Default::default()
        })
        .collect();
    let idx = Index::build(entries);
    let mut shown = 0;
    for qi in 0..t.queries.len() {
        let mut scores = idx.name_scores(&t.queries[qi], true);
        let r = rank(&scores, &t.rel[qi]);
        // A true match tied first counts in part (R@1 is an expected
        // value): shown as a TIE line.
        let r1 = recall_at(&scores, &t.rel[qi], 1);
        if r1 > 0.0 && r1 < 1.0 && !blocking_only {
            let mut sc = scores.clone();
            sc.sort_by(|a, b| b.1.total_cmp(&a.1));
            println!(
                "TIE r1={r1:.2} q={:?} first={:?} {:.4} second={:?} {:.4}",
                t.queries[qi],
                t.gallery[sc[0].0 as usize],
                sc[0].1,
                t.gallery[sc[1].0 as usize],
                sc[1].1
            );
        }
        let best_true = scores
            .iter()
            .filter(|x| t.rel[qi].contains(&x.0))
            .map(|x| x.1)
            .fold(0.0, f64::max);
        // With `--below-threshold`, the queries whose true match is not a
        // hit at the default threshold, whatever its rank.
        if below_threshold {
            if best_true >= DEFAULT_THRESHOLD {
                continue;
            }
        } else if r1 > 0.0 {
            continue;
        }
        if blocking_only {
            let ex = idx.name_scores(&t.queries[qi], false);
            if recall_at(&ex, &t.rel[qi], 1) < 1.0 {
                continue;
            }
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        let q = &t.queries[qi];
        // The best-scoring true match (a query may have several).
        let best_rel = t.rel[qi]
            .iter()
            .copied()
            .max_by(|&a, &b| {
                let sa = scores.iter().find(|x| x.0 == a).map_or(0.0, |x| x.1);
                let sb = scores.iter().find(|x| x.0 == b).map_or(0.0, |x| x.1);
                sa.total_cmp(&sb)
            })
            .unwrap_or(t.rel[qi][0]);
        let truth = &t.gallery[best_rel as usize];
        let truth_score = scores.iter().find(|x| x.0 == best_rel).map_or(0.0, |x| x.1);
        println!(
            "MISS rank={r:?} q={q:?} truth={truth:?} s={truth_score:.3} [{}]",
            idx.explain_entry(q, best_rel)
        );
        for (g, s) in scores.iter().take(2) {
            println!(
                "     top {:.3} {:?} [{}]",
                s,
                t.gallery[*g as usize],
                idx.explain_entry(q, *g)
            );
        }
        shown += 1;
        if shown >= k {
            break;
        }
    }
}

fn translit(s: &str) -> String {
    let a = any_ascii::any_ascii(s).to_lowercase();
    a.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_baseline(t: &Task) -> Report {
    let start = Instant::now();
    let gal: Vec<String> = t.gallery.iter().map(|g| translit(g)).collect();
    let acc = (0..t.queries.len())
        .into_par_iter()
        .fold(Acc::new, |mut acc, qi| {
            let q = translit(&t.queries[qi]);
            let scores: Vec<(u32, f64)> = gal
                .iter()
                .enumerate()
                .map(|(g, s)| (g as u32, strsim::jaro_winkler(&q, s)))
                .collect();
            account(
                &mut acc,
                &scores,
                &t.rel[qi],
                t.gallery.len(),
                BASELINE_THRESHOLD,
                t.split,
            );
            acc
        })
        .reduce(Acc::new, Acc::merge);
    report(&acc, start.elapsed().as_secs_f64())
}

/// Deterministic shuffle (xorshift).
fn sample<T: Clone>(v: &[T], n: usize, seed: u64) -> Vec<T> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    let mut x = seed | 1;
    for i in (1..idx.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let j = (x % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx.into_iter().take(n).map(|i| v[i].clone()).collect()
}

/// The official-list set's tasks: spellings of the original, every Latin
/// name of the person, and the distractors (other people).
fn official_tasks(set: &official::OfficialSet, n: usize, half: Option<u8>) -> Vec<Task> {
    let keep = |h: u8| half.is_none_or(|x| x == h);
    let pick = |f: &dyn Fn(&official::Query) -> bool| -> Vec<&official::Query> {
        let qs: Vec<&official::Query> = set
            .queries
            .iter()
            .filter(|q| keep(q.half) && f(q))
            .collect();
        sample(&qs, n, 44)
    };
    let task = |name: String, qs: Vec<&official::Query>| Task {
        name,
        queries: qs.iter().map(|q| q.text.clone()).collect(),
        rel: qs.iter().map(|q| q.rel.clone()).collect(),
        gallery: set.gallery.clone(),
        split: set.un_gallery,
    };
    let all = set.queries.iter().filter(|q| keep(q.half)).count();
    let spell = set
        .queries
        .iter()
        .filter(|q| keep(q.half) && q.spelling)
        .count();
    eprintln!(
        "official-list set: {} UN persons with an Arabic original, {} OFAC individuals linked ({} ambiguous, left out), {} queries ({} spellings; by source {}), {} distractor names; gallery {} ({} UN; {} Wikidata names left out as short forms of a UN name)",
        set.un_persons,
        set.linked_ofac,
        set.ambiguous_ofac,
        all,
        spell,
        [official::Source::UnPrimary, official::Source::UnAlias, official::Source::Ofac]
            .iter()
            .map(|s| format!(
                "{} {}",
                s.as_str(),
                set.queries.iter().filter(|q| keep(q.half) && q.spelling && q.source == *s).count()
            ))
            .collect::<Vec<_>>()
            .join(", "),
        set.distractors.iter().filter(|d| keep(d.1)).count(),
        set.gallery.len(),
        set.un_gallery,
        set.short_forms
    );
    let distractors: Vec<String> = set
        .distractors
        .iter()
        .filter(|d| keep(d.1))
        .map(|d| d.0.clone())
        .collect();
    let distractors = sample(&distractors, n, 45);
    let mut tasks = vec![
        task("un-ofac spellings lat→ar".into(), pick(&|q| q.spelling)),
        task("un-ofac all-names lat→ar".into(), pick(&|_| true)),
    ];
    for s in [
        official::Source::UnPrimary,
        official::Source::UnAlias,
        official::Source::Ofac,
    ] {
        tasks.push(task(
            format!("un-ofac spellings {} lat→ar", s.as_str()),
            pick(&|q| q.spelling && q.source == s),
        ));
    }
    tasks.push(Task {
        name: "un-ofac distractors (OFAC only) lat→ar".into(),
        rel: vec![Vec::new(); distractors.len()],
        queries: distractors,
        gallery: set.gallery.clone(),
        split: set.un_gallery,
    });
    tasks
}

/// Build both directions from (arabic, latin) pairs.
/// Which half of the queries a name falls in (FNV-1a of its text): lets
/// one tune on half 0 and check on half 1 (`--half`).
fn half_of(s: &str) -> u8 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 63) as u8
}

fn tasks_from_pairs(
    name: &str,
    pairs: &[(String, String)],
    n: usize,
    half: Option<u8>,
) -> Vec<Task> {
    let mut ar_ids: HashMap<&str, u32> = HashMap::new();
    let mut la_ids: HashMap<&str, u32> = HashMap::new();
    let mut ar: Vec<String> = Vec::new();
    let mut la: Vec<String> = Vec::new();
    let mut ar2la: Vec<Vec<u32>> = Vec::new();
    let mut la2ar: Vec<Vec<u32>> = Vec::new();
    for (a, l) in pairs {
        let ai = *ar_ids.entry(a).or_insert_with(|| {
            ar.push(a.clone());
            ar2la.push(Vec::new());
            (ar.len() - 1) as u32
        });
        let li = *la_ids.entry(l).or_insert_with(|| {
            la.push(l.clone());
            la2ar.push(Vec::new());
            (la.len() - 1) as u32
        });
        if !ar2la[ai as usize].contains(&li) {
            ar2la[ai as usize].push(li);
            la2ar[li as usize].push(ai);
        }
    }
    let keep = |s: &str| half.is_none_or(|h| half_of(s) == h);
    let ia: Vec<u32> = (0..ar.len() as u32)
        .filter(|&i| keep(&ar[i as usize]))
        .collect();
    let il: Vec<u32> = (0..la.len() as u32)
        .filter(|&i| keep(&la[i as usize]))
        .collect();
    let qa: Vec<u32> = sample(&ia, n, 42);
    let ql: Vec<u32> = sample(&il, n, 43);
    vec![
        Task {
            name: format!("{name} ar→lat"),
            queries: qa.iter().map(|&i| ar[i as usize].clone()).collect(),
            rel: qa.iter().map(|&i| ar2la[i as usize].clone()).collect(),
            gallery: la.clone(),
            split: 0,
        },
        Task {
            name: format!("{name} lat→ar"),
            queries: ql.iter().map(|&i| la[i as usize].clone()).collect(),
            rel: ql.iter().map(|&i| la2ar[i as usize].clone()).collect(),
            gallery: ar.clone(),
            split: 0,
        },
    ]
}

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/data/names".into()),
    );
    let mut n = 2000usize;
    let mut exhaustive = false;
    let mut only: Option<String> = None;
    let mut failures = 0usize;
    let mut no_baseline = false;
    let mut sweep = false;
    let mut blocking_misses = false;
    let mut below_threshold = false;
    let mut half: Option<u8> = None;
    let mut watchlists = dir.join("../watchlists");
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--sample" => {
                n = args[i + 1].parse().expect("--sample N");
                i += 1;
            }
            "--full" => n = usize::MAX,
            "--exhaustive" => exhaustive = true,
            "--no-baseline" => no_baseline = true,
            "--sweep" => sweep = true,
            "--blocking-misses" => blocking_misses = true,
            "--below-threshold" => below_threshold = true,
            "--failures" => {
                failures = args[i + 1].parse().expect("--failures K");
                i += 1;
            }
            "--half" => {
                half = Some(args[i + 1].parse().expect("--half 0|1"));
                i += 1;
            }
            "--watchlists" => {
                watchlists = args[i + 1].clone().into();
                i += 1;
            }
            "--only" => {
                only = Some(args[i + 1].clone());
                i += 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    let mut tasks = Vec::new();
    // Full names.
    let text = read(&dir.join("wikidata-full-names.dev.tsv"));
    let pairs: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 2).then(|| (f[0].to_string(), f[1].to_string()))
        })
        .collect();
    tasks.extend(tasks_from_pairs("wikidata-full-names", &pairs, n, half));
    if watchlists.join("un").is_dir() && watchlists.join("ofac").is_dir() {
        let mut seen = std::collections::HashSet::new();
        let arabic: Vec<String> = pairs
            .iter()
            .filter(|(a, _)| seen.insert(a.as_str()))
            .map(|(a, _)| a.clone())
            .collect();
        match official::build(&watchlists, &arabic) {
            Ok(set) => tasks.extend(official_tasks(&set, n, half)),
            Err(e) => eprintln!("official-list set skipped: {e}"),
        }
    }
    let text = read(&dir.join("coling2018-aligned-tokens.tsv"));
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() >= 2).then(|| (f[1].replace(' ', ""), f[0].to_string()))
        })
        .collect();
    tasks.extend(tasks_from_pairs("coling2018-tokens", &pairs, n, half));
    let text = read(&dir.join("google-ar2en.txt"));
    let pairs: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(['\t', ' '])?;
            Some((a.to_string(), b.trim().to_string()))
        })
        .collect();
    tasks.extend(tasks_from_pairs("google-ar2en", &pairs, n, half));

    println!(
        "sample: {} queries per direction (deterministic), gallery = every name of the set; threshold {DEFAULT_THRESHOLD} (baseline JW {BASELINE_THRESHOLD})",
        if n == usize::MAX { "all".to_string() } else { n.to_string() }
    );
    println!(
        "{:<44} {:<24} {:>6} {:>6} {:>8} {:>7} {:>9} {:>6} {:>6} {:>7} {:>7}",
        "set",
        "system",
        "R@1",
        "R@10",
        "TPR@.1%",
        "(at s≥)",
        "TPR@.001%",
        "P@thr",
        "R@thr",
        "q/s",
        "FP/q"
    );
    for t in &tasks {
        if let Some(o) = &only {
            if !t.name.contains(o.as_str()) {
                continue;
            }
        }
        if failures > 0 {
            dump_failures(t, failures, blocking_misses, below_threshold);
            continue;
        }
        let ours = run_ours(t, true);
        let mut rows = vec![("tansiq-match", ours)];
        if exhaustive {
            rows.push(("tansiq-match exhaustive", run_ours(t, false)));
        }
        if sweep {
            let entries: Vec<Entry> = t
                .gallery
                .iter()
                .enumerate()
                .map(|(i, n)| Entry {
                    id: i.to_string(),
                    names: vec![n.clone()],
                    ..Default::default()
                })
                .collect();
            let idx = Index::build(entries);
            let acc = (0..t.queries.len())
                .into_par_iter()
                .fold(Acc::new, |mut acc, qi| {
                    let scores = idx.name_scores(&t.queries[qi], true);
                    account(
                        &mut acc,
                        &scores,
                        &t.rel[qi],
                        t.gallery.len(),
                        DEFAULT_THRESHOLD,
                        t.split,
                    );
                    acc
                })
                .reduce(Acc::new, Acc::merge);
            for th in [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95] {
                let (p, r) = acc.pr_at(th);
                println!("    threshold {th:.2}: precision {p:.3} recall {r:.3}");
            }
            // Calibration: the share of true pairs among those scoring
            // within ±0.05 of each score.
            for c in [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9] {
                let (a, b) = (bin(c - 0.05), bin(c + 0.05));
                let tp: u64 = acc.pos[a..b].iter().sum();
                let fp: u64 = acc.neg[a..b].iter().sum();
                println!(
                    "    scores {c:.2}±0.05: {:.3} true ({} pairs)",
                    tp as f64 / (tp + fp).max(1) as f64,
                    tp + fp
                );
            }
        }
        if !no_baseline {
            rows.push(("any_ascii+JW baseline", run_baseline(t)));
        }
        for (sys, r) in rows {
            println!(
                "{:<44} {:<24} {:>6.4} {:>6.3} {:>8.3} {:>7.3} {:>9.3} {:>6.3} {:>6.3} {:>7.0} {:>7.4}",
                format!("{} ({}q/{}g)", t.name, t.queries.len(), t.gallery.len()),
                sys,
                r.r1,
                r.r10,
                r.tpr,
                r.thr,
                r.tpr5,
                r.prec,
                r.rec,
                r.qps,
                r.fpq
            );
            if t.split > 0 {
                let lost = if t.rel.iter().any(|r| !r.is_empty()) {
                    format!(
                        "; R@1 lost to another UN name {:.4}, to a Wikidata name {:.4}",
                        r.miss_lo,
                        1.0 - r.r1 - r.miss_lo
                    )
                } else {
                    String::new()
                };
                println!(
                    "    false hits per query at the threshold: {:.4} on UN names ({:.4} of the queries have one), {:.4} on Wikidata names{lost}",
                    r.fpq_lo,
                    r.q_fp_lo,
                    r.fpq - r.fpq_lo,
                );
            }
        }
    }
}
