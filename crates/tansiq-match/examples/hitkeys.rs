//! Measures the match keys of private hit/no-hit (`tansiq_match::hitkeys`)
//! against clear-text screening.
//!
//! `cargo run --release -p tansiq-match --example hitkeys -- /work/shared/data/names [--sample N] [--list N] [--misses K] [--symmetric]`
//!
//! `--symmetric` measures `hit_keys` (the same keys on both sides) instead
//! of `side_keys`.
//!
//! An OPRF preserves equality exactly, so two keys are equal after blind
//! evaluation exactly when they are equal in clear text: the hits of the
//! protocol are the pairs sharing at least t keys here, and these figures
//! are the protocol's recall and false hits.
//!
//! 1. Dev names, both directions (as the `eval` example): a deterministic
//!    sample of Arabic names against every Latin name of
//!    `wikidata-full-names.dev.tsv`, and the reverse. Clear-text hits are
//!    the pairs scoring at least `DEFAULT_THRESHOLD` through the index
//!    (name only). Printed per t: the share of clear-text hits that share
//!    ≥ t keys (coverage), the same for clear-text hits that are true
//!    pairs, the share of true pairs hit through keys, and how many key
//!    hits are not true pairs (and not clear-text hits either).
//! 2. A 100,000-entry list (as the `bench` example) from one half of the
//!    dev rows plus synthetic recombinations of that half; queries are
//!    names of the other half (other people): the share that key-hits at
//!    least one entry, next to the share that clear-text screening hits.
//! 3. Keys per subject (mean, max) for the queries and the list entries.

use std::collections::HashMap;
use std::time::Instant;

mod common;
use common::{list_entries, load, Rng, Row};
use rayon::prelude::*;
use tansiq_match::hitkeys::{
    hit_keys, side_keys, HitKey, HitSubject, KeyKind, Side, DEFAULT_MIN_SHARED, MAX_KEYS,
};
use tansiq_match::{Entry, Index, Query, DEFAULT_THRESHOLD};

const TS: [usize; 4] = [1, 2, 3, 4];

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut r = Rng(seed | 1);
    for i in (1..n).rev() {
        let j = (r.next() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

static SYMMETRIC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Keys of a subject with these names: `side_keys` for that side, or
/// `hit_keys` with `--symmetric`.
fn keys_of(names: &[String], side: Side) -> Vec<HitKey> {
    let s = HitSubject {
        names: names.to_vec(),
        ..Default::default()
    };
    if SYMMETRIC.load(std::sync::atomic::Ordering::Relaxed) {
        hit_keys(&s)
    } else {
        side_keys(&s, side)
    }
}

/// Inverted index: key bytes → item ids.
struct KeyIndex {
    map: HashMap<Vec<u8>, Vec<u32>>,
}

impl KeyIndex {
    fn build(keys: &[Vec<HitKey>]) -> KeyIndex {
        let mut map: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
        for (i, ks) in keys.iter().enumerate() {
            for k in ks {
                map.entry(k.bytes.clone()).or_default().push(i as u32);
            }
        }
        KeyIndex { map }
    }
    /// Items sharing at least one key with `q`, with the count.
    fn shared(&self, q: &[HitKey]) -> HashMap<u32, usize> {
        let mut c: HashMap<u32, usize> = HashMap::new();
        for k in q {
            if let Some(ids) = self.map.get(&k.bytes) {
                for &i in ids {
                    *c.entry(i).or_default() += 1;
                }
            }
        }
        c
    }
}

#[derive(Default, Clone)]
struct Counts {
    clear: u64,
    clear_true: u64,
    true_pairs: u64,
    // per t
    clear_cov: [u64; 4],
    clear_true_cov: [u64; 4],
    true_hit: [u64; 4],
    key_hits: [u64; 4],
    key_false: [u64; 4],
    key_false_unscreened: [u64; 4],
    queries: u64,
    queries_with_clear: u64,
    queries_covered: [u64; 4],
    kinds: HashMap<Vec<KeyKind>, u64>,
    /// Key hits at the default t that are neither true pairs nor clear-text
    /// hits, by which keys they share.
    false_by: HashMap<String, u64>,
}

impl Counts {
    fn merge(mut self, o: Counts) -> Counts {
        self.clear += o.clear;
        self.clear_true += o.clear_true;
        self.true_pairs += o.true_pairs;
        self.queries += o.queries;
        self.queries_with_clear += o.queries_with_clear;
        for i in 0..4 {
            self.clear_cov[i] += o.clear_cov[i];
            self.clear_true_cov[i] += o.clear_true_cov[i];
            self.true_hit[i] += o.true_hit[i];
            self.key_hits[i] += o.key_hits[i];
            self.key_false[i] += o.key_false[i];
            self.key_false_unscreened[i] += o.key_false_unscreened[i];
            self.queries_covered[i] += o.queries_covered[i];
        }
        for (k, v) in o.kinds {
            *self.kinds.entry(k).or_default() += v;
        }
        for (k, v) in o.false_by {
            *self.false_by.entry(k).or_default() += v;
        }
        self
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    a as f64 / b.max(1) as f64
}

fn stats(keys: &[Vec<HitKey>]) -> (f64, usize) {
    let total: usize = keys.iter().map(Vec::len).sum();
    (
        total as f64 / keys.len().max(1) as f64,
        keys.iter().map(Vec::len).max().unwrap_or(0),
    )
}

/// The shared keys, by mechanism: "full" (whole name, any tokenisation),
/// "contained" (a name without one token), "pair", and the attribute kinds.
fn describe(q: &[HitKey], e: &[HitKey]) -> String {
    let es: std::collections::HashSet<&[u8]> = e.iter().map(|k| k.bytes.as_slice()).collect();
    let mut parts: Vec<&str> = q
        .iter()
        .filter(|k| es.contains(k.bytes.as_slice()))
        .map(|k| match k.kind {
            KeyKind::FullName if k.bytes.ends_with(b"-1") => "contained",
            KeyKind::FullName => "full",
            KeyKind::TokenPair => "pair",
            other => other.as_str(),
        })
        .collect();
    parts.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        match out.last_mut() {
            Some(l) if l.split('×').next() == Some(p) => {
                let n: usize = l
                    .split('×')
                    .nth(1)
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(1);
                *l = format!("{p}×{}", n + 1);
            }
            _ => out.push(p.to_string()),
        }
    }
    out.join("+")
}

/// One direction of the dev-set measurement.
fn direction(
    label: &str,
    queries: &[String],
    rel: &[Vec<u32>],
    gallery: &[String],
    misses: usize,
) -> Counts {
    let start = Instant::now();
    let idx = Index::build(
        gallery
            .iter()
            .enumerate()
            .map(|(i, n)| Entry {
                id: i.to_string(),
                names: vec![n.clone()],
                ..Default::default()
            })
            .collect(),
    );
    let gkeys: Vec<Vec<HitKey>> = gallery
        .par_iter()
        .map(|g| keys_of(std::slice::from_ref(g), Side::Entry))
        .collect();
    let kidx = KeyIndex::build(&gkeys);
    let qkeys: Vec<Vec<HitKey>> = queries
        .par_iter()
        .map(|q| keys_of(std::slice::from_ref(q), Side::Query))
        .collect();
    let c = (0..queries.len())
        .into_par_iter()
        .fold(Counts::default, |mut c, qi| {
            let scores = idx.name_scores(&queries[qi], true);
            let clear: Vec<u32> = scores
                .iter()
                .filter(|(_, s)| *s >= DEFAULT_THRESHOLD)
                .map(|x| x.0)
                .collect();
            let sh = kidx.shared(&qkeys[qi]);
            let r = &rel[qi];
            c.queries += 1;
            c.true_pairs += r.len() as u64;
            c.clear += clear.len() as u64;
            if !clear.is_empty() {
                c.queries_with_clear += 1;
            }
            for (ti, &t) in TS.iter().enumerate() {
                let hit = |g: u32| sh.get(&g).copied().unwrap_or(0) >= t;
                let mut any = false;
                for &g in &clear {
                    if hit(g) {
                        c.clear_cov[ti] += 1;
                        any = true;
                        if r.contains(&g) {
                            c.clear_true_cov[ti] += 1;
                        }
                    }
                }
                if any {
                    c.queries_covered[ti] += 1;
                }
                for &g in r {
                    if hit(g) {
                        c.true_hit[ti] += 1;
                    }
                }
                for (&g, &n) in &sh {
                    if n >= t {
                        c.key_hits[ti] += 1;
                        if !r.contains(&g) {
                            c.key_false[ti] += 1;
                            if !clear.contains(&g) {
                                c.key_false_unscreened[ti] += 1;
                                if t == DEFAULT_MIN_SHARED {
                                    let d = describe(&qkeys[qi], &gkeys[g as usize]);
                                    *c.false_by.entry(d).or_default() += 1;
                                }
                            }
                        }
                    }
                }
            }
            for &g in &clear {
                if r.contains(&g) {
                    c.clear_true += 1;
                }
                let mut kinds =
                    tansiq_match::hitkeys::matched_kinds(&qkeys[qi], &gkeys[g as usize]);
                if sh.get(&g).copied().unwrap_or(0) < DEFAULT_MIN_SHARED {
                    kinds.clear();
                }
                *c.kinds.entry(kinds).or_default() += 1;
            }
            c
        })
        .reduce(Counts::default, Counts::merge);
    let (qm, qx) = stats(&qkeys);
    let (gm, gx) = stats(&gkeys);
    println!(
        "\n{label}: {} queries × {} names ({:.1} s); keys per name: queries mean {qm:.1} max {qx}, gallery mean {gm:.1} max {gx}",
        queries.len(),
        gallery.len(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "  clear-text hits at {DEFAULT_THRESHOLD}: {} pairs ({} true), {:.3} per query; clear-text recall of true pairs {:.3}",
        c.clear,
        c.clear_true,
        ratio(c.clear, c.queries),
        ratio(c.clear_true, c.true_pairs)
    );
    println!(
        "  {:>3} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "t", "coverage", "cov(true)", "key recall", "key hits/q", "false/q", "false&unscr/q"
    );
    for (ti, &t) in TS.iter().enumerate() {
        println!(
            "  {:>3} {:>10.3} {:>10.3} {:>10.3} {:>12.3} {:>12.3} {:>12.3}{}",
            t,
            ratio(c.clear_cov[ti], c.clear),
            ratio(c.clear_true_cov[ti], c.clear_true),
            ratio(c.true_hit[ti], c.true_pairs),
            ratio(c.key_hits[ti], c.queries),
            ratio(c.key_false[ti], c.queries),
            ratio(c.key_false_unscreened[ti], c.queries),
            if t == DEFAULT_MIN_SHARED {
                "  (default t)"
            } else {
                ""
            }
        );
    }
    let mut kinds: Vec<_> = c.kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    let desc: Vec<String> = kinds
        .iter()
        .take(6)
        .map(|(k, n)| {
            let names: Vec<&str> = k.iter().map(|k| k.as_str()).collect();
            format!(
                "{} {:.3}",
                if names.is_empty() {
                    "(no hit)".to_string()
                } else {
                    names.join("+")
                },
                ratio(**n, c.clear)
            )
        })
        .collect();
    println!(
        "  clear-text hits by matched kinds at the default t: {}",
        desc.join(", ")
    );
    let mut fb: Vec<_> = c.false_by.iter().collect();
    fb.sort_by(|a, b| b.1.cmp(a.1));
    let total: u64 = c.false_by.values().sum();
    let desc: Vec<String> = fb
        .iter()
        .take(6)
        .map(|(k, n)| format!("{k} {:.2}", ratio(**n, total)))
        .collect();
    println!(
        "  key hits neither true nor clear-text, by keys shared: {}",
        desc.join(", ")
    );
    if misses > 0 {
        let mut shown = 0;
        for qi in 0..queries.len() {
            let scores = idx.name_scores(&queries[qi], true);
            for (g, s) in scores {
                if s < DEFAULT_THRESHOLD {
                    continue;
                }
                let n = tansiq_match::hitkeys::shared(&qkeys[qi], &gkeys[g as usize]);
                if n < DEFAULT_MIN_SHARED && shown < misses {
                    println!(
                        "  MISS{} s={s:.3} shared={n} {:?} | {:?}  [{}]",
                        if rel[qi].contains(&g) { "(true)" } else { "" },
                        queries[qi],
                        gallery[g as usize],
                        tansiq_match::explain_names(&queries[qi], &gallery[g as usize])
                    );
                    shown += 1;
                }
            }
        }
        let mut shown = 0;
        for qi in 0..queries.len() {
            let scores: HashMap<u32, f64> =
                idx.name_scores(&queries[qi], true).into_iter().collect();
            for (g, n) in kidx.shared(&qkeys[qi]) {
                let s = scores.get(&g).copied().unwrap_or(0.0);
                if n >= DEFAULT_MIN_SHARED
                    && s < DEFAULT_THRESHOLD
                    && !rel[qi].contains(&g)
                    && shown < misses
                {
                    let kinds =
                        tansiq_match::hitkeys::matched_kinds(&qkeys[qi], &gkeys[g as usize]);
                    println!(
                        "  FALSE s={s:.3} shared={n} {:?} | {:?} {kinds:?}",
                        queries[qi], gallery[g as usize],
                    );
                    shown += 1;
                }
            }
        }
    }
    c
}

fn entry_keys(e: &Entry) -> Vec<HitKey> {
    let mut names = e.names.clone();
    names.extend(e.weak_names.iter().cloned());
    keys_of(&names, Side::Entry)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = std::path::PathBuf::from(
        args.first()
            .cloned()
            .unwrap_or_else(|| "../shared/data/names".into()),
    );
    let mut n = 2000usize;
    let mut list_n = 100_000usize;
    let mut misses = 0usize;
    let mut i = 1;
    while i < args.len() {
        let val = |i: usize| -> usize {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", args[i]))
        };
        match args[i].as_str() {
            "--sample" => {
                n = val(i);
                i += 1;
            }
            "--full" => n = usize::MAX,
            "--symmetric" => SYMMETRIC.store(true, std::sync::atomic::Ordering::Relaxed),
            "--list" => {
                list_n = val(i);
                i += 1;
            }
            "--misses" => {
                misses = val(i);
                i += 1;
            }
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    println!(
        "hit keys ({}): default t = {DEFAULT_MIN_SHARED}, MAX_KEYS = {MAX_KEYS}",
        if SYMMETRIC.load(std::sync::atomic::Ordering::Relaxed) {
            "hit_keys, the same keys on both sides"
        } else {
            "side_keys: Side::Query for queries, Side::Entry for list names"
        }
    );
    let rows = load(&dir);

    // 1. Dev names, both directions.
    let mut ar: Vec<String> = Vec::new();
    let mut la: Vec<String> = Vec::new();
    let mut la_ids: HashMap<String, u32> = HashMap::new();
    let mut ar2la: Vec<Vec<u32>> = Vec::new();
    let mut la2ar: Vec<Vec<u32>> = Vec::new();
    for r in &rows {
        let ai = ar.len() as u32;
        ar.push(r.ar.clone());
        ar2la.push(Vec::new());
        for (l, _) in &r.latin {
            let li = *la_ids.entry(l.clone()).or_insert_with(|| {
                la.push(l.clone());
                la2ar.push(Vec::new());
                (la.len() - 1) as u32
            });
            if !ar2la[ai as usize].contains(&li) {
                ar2la[ai as usize].push(li);
                la2ar[li as usize].push(ai);
            }
        }
    }
    let qa: Vec<usize> = shuffled(ar.len(), 42).into_iter().take(n).collect();
    let ql: Vec<usize> = shuffled(la.len(), 43).into_iter().take(n).collect();
    let a = direction(
        "dev full names ar→lat",
        &qa.iter().map(|&i| ar[i].clone()).collect::<Vec<_>>(),
        &qa.iter().map(|&i| ar2la[i].clone()).collect::<Vec<_>>(),
        &la,
        misses,
    );
    let b = direction(
        "dev full names lat→ar",
        &ql.iter().map(|&i| la[i].clone()).collect::<Vec<_>>(),
        &ql.iter().map(|&i| la2ar[i].clone()).collect::<Vec<_>>(),
        &ar,
        misses,
    );
    let c = a.merge(b);
    println!(
        "\nboth directions: clear-text hits {:.3} per query ({:.3} true pairs); clear-text recall of true pairs {:.3}",
        ratio(c.clear, c.queries),
        ratio(c.clear_true, c.queries),
        ratio(c.clear_true, c.true_pairs)
    );
    println!(
        "  {:>3} {:>10} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "t", "coverage", "cov(true)", "key recall", "key hits/q", "false/q", "false&unscr/q"
    );
    for (ti, &t) in TS.iter().enumerate() {
        println!(
            "  {:>3} {:>10.3} {:>10.3} {:>10.3} {:>12.3} {:>12.3} {:>12.3}{}",
            t,
            ratio(c.clear_cov[ti], c.clear),
            ratio(c.clear_true_cov[ti], c.clear_true),
            ratio(c.true_hit[ti], c.true_pairs),
            ratio(c.key_hits[ti], c.queries),
            ratio(c.key_false[ti], c.queries),
            ratio(c.key_false_unscreened[ti], c.queries),
            if t == DEFAULT_MIN_SHARED {
                "  (default t)"
            } else {
                ""
            }
        );
    }

    // 2. Other people against a 100,000-entry list.
    let order = shuffled(rows.len(), 7);
    let half = rows.len() / 2;
    let list_rows: Vec<&Row> = order[..half].iter().map(|&i| &rows[i]).collect();
    let held: Vec<&Row> = order[half..].iter().map(|&i| &rows[i]).collect();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let entries = list_entries(&list_rows, list_n, &mut rng);
    let start = Instant::now();
    let ekeys: Vec<Vec<HitKey>> = entries.par_iter().map(entry_keys).collect();
    let key_secs = start.elapsed().as_secs_f64();
    let kidx = KeyIndex::build(&ekeys);
    let idx = Index::build(entries);
    // Queries: one name per held-out row, Arabic or a Latin spelling.
    let nq = n.min(held.len());
    let queries: Vec<String> = held
        .iter()
        .take(nq)
        .map(|r| {
            if rng.below(2) == 0 || r.latin.is_empty() {
                r.ar.clone()
            } else {
                r.latin[rng.below(r.latin.len())].0.clone()
            }
        })
        .collect();
    let qkeys: Vec<Vec<HitKey>> = queries
        .par_iter()
        .map(|q| keys_of(std::slice::from_ref(q), Side::Query))
        .collect();
    let res: Vec<([bool; 4], usize, usize, Vec<String>)> = (0..nq)
        .into_par_iter()
        .map(|i| {
            let sh = kidx.shared(&qkeys[i]);
            let mut any = [false; 4];
            for (ti, &t) in TS.iter().enumerate() {
                any[ti] = sh.values().any(|&c| c >= t);
            }
            let hits = idx.screen(
                &Query {
                    id: i.to_string(),
                    name: queries[i].clone(),
                    ..Default::default()
                },
                DEFAULT_THRESHOLD,
                usize::MAX,
            );
            let key_hits: Vec<u32> = sh
                .iter()
                .filter(|(_, &c)| c >= DEFAULT_MIN_SHARED)
                .map(|(&g, _)| g)
                .collect();
            let hit_ids: std::collections::HashSet<&str> =
                hits.iter().map(|h| h.entry_id.as_str()).collect();
            // Key hits clear text rejects, by the keys they share.
            let why: Vec<String> = key_hits
                .iter()
                .filter(|&&g| !hit_ids.contains(idx.entries()[g as usize].id.as_str()))
                .map(|&g| describe(&qkeys[i], &ekeys[g as usize]))
                .collect();
            (any, hits.len(), key_hits.len(), why)
        })
        .collect();
    let (em, ex) = stats(&ekeys);
    println!(
        "\n{}-entry list ({} names with aliases; keys derived in {key_secs:.1} s on all cores): keys per entry mean {em:.1} max {ex}",
        idx.len(),
        idx.name_count()
    );
    let clear_rate = res.iter().filter(|r| r.1 > 0).count() as f64 / nq.max(1) as f64;
    println!(
        "  {nq} queries of other people (held-out dev names): clear-text screening hits at least one entry for {clear_rate:.3}"
    );
    for (ti, &t) in TS.iter().enumerate() {
        let r = res.iter().filter(|r| r.0[ti]).count() as f64 / nq.max(1) as f64;
        println!(
            "  t = {t}: key-hit at least one entry {r:.3}{}",
            if t == DEFAULT_MIN_SHARED {
                "  (default t)"
            } else {
                ""
            }
        );
    }
    let hits: usize = res.iter().map(|r| r.2).sum();
    let clear_hits: usize = res.iter().map(|r| r.1).sum();
    let mut by: HashMap<&str, usize> = HashMap::new();
    for r in &res {
        for w in &r.3 {
            *by.entry(w.as_str()).or_default() += 1;
        }
    }
    let total: usize = by.values().sum();
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by_key(|b| std::cmp::Reverse(b.1));
    let desc: Vec<String> = by
        .iter()
        .take(6)
        .map(|(k, n)| format!("{k} {:.2}", *n as f64 / total.max(1) as f64))
        .collect();
    println!(
        "  key hits clear text rejects: {:.2} per query; by keys shared: {}",
        total as f64 / nq.max(1) as f64,
        desc.join(", ")
    );
    println!(
        "  entries hit per query: through keys at the default t {:.2}, clear-text {:.2}",
        hits as f64 / nq.max(1) as f64,
        clear_hits as f64 / nq.max(1) as f64
    );
}
