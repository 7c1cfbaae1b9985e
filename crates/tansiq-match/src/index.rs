//! The blocking index and the screening entry points.
//!
//! Layout (all flat arrays, built once):
//! - a *vocabulary* of canonical tokens (each with its phonetic forms);
//! - sorted `(hash(skeleton key), token)` pairs, with every key and, for
//!   keys of three letters or more, every one-letter deletion of it
//!   (a symmetric-deletion neighbourhood: two keys meet when they are
//!   within one edit of each other);
//! - postings from each vocabulary token to the names that contain it;
//! - the names (entry, strong/weak, tokens) and a document-number table.
//!
//! A query token looks up its keys, scores the vocabulary tokens found
//! with the class-aware distance, and the names holding good tokens
//! accumulate weight; names that can still reach a useful score are
//! aligned and scored in full.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::parse::{self, Kind, PTok, Parsed};
use crate::phonetic;
use crate::score::{self, align_rarity, tok_sim, tok_sim_min, NameScore, Rarity, TOKEN_MIN};
use crate::{Entry, Hit, Query};

/// Log-odds taken off a match on a low-quality alias.
const WEAK_NAME_PENALTY: f64 = 0.8;

/// A name of an entry.
#[derive(Debug, Clone, Copy)]
struct NameRec {
    entry: u32,
    /// Index in `names` (strong) or in `weak_names` (weak).
    idx: u32,
    weak: bool,
}

/// A screening index over watchlist entries.
#[derive(Debug, Default)]
pub struct Index {
    entries: Vec<Entry>,
    names: Vec<NameRec>,
    name_tok_off: Vec<u32>,
    name_toks: Vec<u32>,
    vocab: Vec<PTok>,
    post_off: Vec<u32>,
    post: Vec<u32>,
    keys: Vec<(u32, u32)>,
    /// Sorted `(hash(skeleton), names holding a token of that skeleton)`:
    /// how common a name is in this list, whatever its spelling or script.
    skel_df: Vec<(u32, u32)>,
    /// Per name, the weight of its name tokens (candidates that leave
    /// less of themselves unmatched are preferred among equals).
    name_w: Vec<f32>,
    docs: HashMap<String, Vec<u32>>,
    cache: Vec<Mutex<TokenCache>>,
}

/// Vocabulary tokens close to a query token, with their similarity.
type Matches = Arc<Vec<(u32, f32)>>;
type TokenCache = HashMap<(String, Kind), Matches>;
const CACHE_SHARDS: usize = 64;
const CACHE_SHARD_CAP: usize = 4096;

/// A cheap hasher for the per-query maps keyed by small integers (the
/// keys are not attacker-chosen strings).
#[derive(Default, Clone, Copy)]
struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

type FastHash = std::hash::BuildHasherDefault<Mix>;

/// Names parsed per parallel batch while building.
const PARSE_CHUNK: usize = 1 << 16;

/// FNV-1a folded to 32 bits, enough to spread short keys (a collision only
/// brings an extra candidate, which the token similarity then rejects).
fn key_hash(k: &[u8]) -> u32 {
    let h = key_hash64(k);
    (h ^ (h >> 32)) as u32
}

fn key_hash64(k: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in k {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Skeletons this long or longer meet within one edit (substitution,
/// insertion, deletion) through their one-letter deletions; a skeleton of
/// `MIN_DELETION_KEY - 1` letters only meets by insertion/deletion (a
/// substitution between coarse classes in so short a name is another name).
const MIN_DELETION_KEY: usize = 4;

/// `key_hash` of `b` without its byte at `skip`, followed by `marker`
/// (hashed in place: millions of keys are made at build).
fn with_marker(b: &[u8], skip: Option<usize>, marker: u8) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, &c) in b.iter().enumerate() {
        if Some(k) != skip {
            h ^= c as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h ^= marker as u64;
    h = h.wrapping_mul(0x0000_0100_0000_01b3);
    (h ^ (h >> 32)) as u32
}

/// The keys a token is indexed and looked up under.
///
/// Every skeleton is a key. Skeletons of `MIN_DELETION_KEY` letters or
/// more also give their one-letter deletions in the '#' space, where whole
/// skeletons of two letters or more are keys too: two skeletons meet there
/// when they are one substitution, insertion or deletion apart. Skeletons
/// of `MIN_DELETION_KEY - 1` letters give their deletions in the '%'
/// space, where whole skeletons of `MIN_DELETION_KEY - 2` letters are keys:
/// they meet by insertion or deletion only.
fn token_keys(t: &PTok) -> Vec<u32> {
    let mut out = Vec::new();
    if t.kind == Kind::Initial {
        return out;
    }
    // Glued pairs (blocking-only) meet on their whole skeletons only.
    let glued = t.text.contains('_');
    for f in &t.forms {
        for sk in phonetic::skeletons(f) {
            let b = sk.as_bytes();
            if b.is_empty() {
                continue;
            }
            out.push(key_hash(b));
            if glued {
                continue;
            }
            if b.len() >= 2 {
                out.push(with_marker(b, None, b'#'));
            }
            if b.len() == MIN_DELETION_KEY - 2 {
                out.push(with_marker(b, None, b'%'));
            }
            if b.len() >= MIN_DELETION_KEY - 1 {
                let marker = if b.len() >= MIN_DELETION_KEY {
                    b'#'
                } else {
                    b'%'
                };
                for d in 0..b.len() {
                    out.push(with_marker(b, Some(d), marker));
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Names in the list holding a token with one of `t`'s primary
/// skeletons (the most common skeleton when it has several).
fn skeleton_df(t: &PTok, skel_df: &[(u32, u32)]) -> u32 {
    let Some(f) = t.forms.first() else {
        return 0;
    };
    phonetic::skeletons(f)
        .iter()
        .filter(|sk| !sk.is_empty())
        .map(|sk| {
            let h = key_hash(sk.as_bytes());
            let k = skel_df.partition_point(|x| x.0 < h);
            skel_df.get(k).filter(|x| x.0 == h).map_or(0, |x| x.1)
        })
        .max()
        .unwrap_or(0)
}

/// Scales a name token's weight by its information in this list: a name
/// most people on the list share ("Mohammed") tells less than a rare one.
/// The frequency is shrunk towards `PRIOR_FREQ` with `PRIOR_NAMES`
/// pseudo-names, so a small list (or none) leaves the weights as they are.
fn rarity_factor(t: &PTok, skel_df: &[(u32, u32)], n_names: usize) -> f32 {
    if t.kind != Kind::Name || t.text.contains('_') {
        return 1.0;
    }
    let df = skeleton_df(t, skel_df) as f32;
    let p = (df + PRIOR_NAMES * PRIOR_FREQ) / (n_names as f32 + PRIOR_NAMES);
    (p.ln() / PRIOR_FREQ.ln()).clamp(RARITY_MIN, RARITY_MAX)
}

/// A name's frequency in a list (the share of its names holding a token
/// of that skeleton) is shrunk towards `PRIOR_FREQ` with the weight of
/// `PRIOR_NAMES` names; its rarity factor is its information,
/// −ln(frequency), over that of `PRIOR_FREQ`. `PRIOR_FREQ` is where the
/// unclamped factor averages 1 over the token occurrences of the dev lists,
/// so a list of a few names (no evidence) and `score_names` (no list:
/// factor 1) stay on the scale of an average name.
const PRIOR_NAMES: f32 = 1000.0;
const PRIOR_FREQ: f32 = 3e-3;
/// Bounds of the rarity factor: "Mohammed" in a list of Arab names gets
/// about 0.35. A rare name gains little (1.2 at most): with 1.8, a rare
/// given name alone ("Abdul Shakoor" / "عبد الشكور عظيمي") became a hit.
const RARITY_MIN: f32 = 0.35;
const RARITY_MAX: f32 = 1.2;

/// Per-name accumulator of one query.
#[derive(Clone, Copy)]
struct Slot {
    /// Matched query weight (for the threshold bound).
    acc: f32,
    /// The same weighted by token rarity (to choose among candidates).
    rank: f32,
    /// Best contribution of the current query unit (a name counts each
    /// query token once), and that unit.
    unit_acc: f32,
    unit_rank: f32,
    unit: u32,
}

const EMPTY_SLOT: Slot = Slot {
    acc: 0.0,
    rank: 0.0,
    unit_acc: 0.0,
    unit_rank: 0.0,
    unit: u32::MAX,
};

struct Scratch {
    slots: Vec<Slot>,
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = const { RefCell::new(Scratch { slots: Vec::new(), touched: Vec::new() }) };
}

/// Candidates are chosen by the query weight they cover, plus this share
/// of the same weighted by token rarity (a tie-breaker).
const RARITY_SHARE: f32 = 0.02;
/// Less this share of the name's weight left unmatched (a second
/// tie-breaker: "Morteza Barjesteh" reaches "مرتضي" before the hundreds of
/// "مرتضي X").
const LEFT_SHARE: f32 = 0.01;

/// Vocabulary tokens reached only through a one-edit key neighbourhood
/// must be at least this similar to count for blocking.
const NEIGHBOUR_MIN: f32 = 0.6;

/// Candidate names must have accumulated this share of the query weight.
const MIN_ACC_SHARE: f32 = 0.45;
/// The same when ranking every name (evaluation), where a name sharing
/// only one token with the query may still be the best there is.
const RANK_MIN_SHARE: f32 = 0.35;
/// At most this many names are aligned in full per query (ranking for
/// evaluation).
const MAX_CANDIDATES: usize = 300;
/// At most this many names are aligned in full per screened query.
const SCREEN_CANDIDATES: usize = 60;

/// The share of the query's token weight a name must have matched to be
/// able to reach `threshold`, given the best attribute evidence the query
/// could add (a bound, with a margin).
fn min_share_for(q: &Query, threshold: f64) -> f32 {
    if threshold <= 0.0 {
        return 0.0;
    }
    let t = threshold.clamp(1e-6, 1.0 - 1e-6);
    let target = (t / (1.0 - t)).ln();
    let mut attr = 0.0;
    if q.birth_date.is_some() {
        attr += 2.0;
    }
    if !q.nationality.is_empty() {
        attr += 0.4;
    }
    if q.gender.is_some() {
        attr += 0.1;
    }
    let s_needed =
        score::CAL_S0 + (target - attr - score::CAL_C * (10.0 - score::CAL_I0)) / score::CAL_A;
    (s_needed as f32 - 0.15).max(0.0)
}

impl Index {
    /// Build an index (parsing runs on all cores).
    pub fn build(entries: Vec<Entry>) -> Index {
        let mut names: Vec<NameRec> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for (ei, e) in entries.iter().enumerate() {
            for (k, n) in e.names.iter().enumerate() {
                names.push(NameRec {
                    entry: ei as u32,
                    idx: k as u32,
                    weak: false,
                });
                texts.push(n);
            }
            for (k, n) in e.weak_names.iter().enumerate() {
                names.push(NameRec {
                    entry: ei as u32,
                    idx: k as u32,
                    weak: true,
                });
                texts.push(n);
            }
        }
        // Parse in parallel, chunk by chunk (bounded peak memory), and
        // intern the tokens.
        let mut ids: HashMap<(String, Kind), u32> = HashMap::new();
        let mut vocab: Vec<PTok> = Vec::new();
        let mut name_tok_off = Vec::with_capacity(names.len() + 1);
        let mut name_toks = Vec::new();
        name_tok_off.push(0u32);
        for chunk in texts.chunks(PARSE_CHUNK) {
            let parsed: Vec<Parsed> = chunk.par_iter().map(|t| parse::parse(t)).collect();
            for p in parsed {
                for t in p.toks {
                    let key = (t.text.clone(), t.kind);
                    let id = match ids.get(&key) {
                        Some(&id) => id,
                        None => {
                            let id = vocab.len() as u32;
                            ids.insert(key, id);
                            vocab.push(t);
                            id
                        }
                    };
                    name_toks.push(id);
                }
                name_tok_off.push(name_toks.len() as u32);
            }
        }
        drop(texts);
        // Blocking-only glued pairs of adjacent tokens.
        let mut glued: Vec<(u32, u32)> = Vec::new();
        for n in 0..names.len() {
            let (a, b) = (name_tok_off[n] as usize, name_tok_off[n + 1] as usize);
            for k in a..b.saturating_sub(1) {
                let (t1, t2) = (name_toks[k] as usize, name_toks[k + 1] as usize);
                if let Some(g) = parse::glue(&vocab[t1], &vocab[t2]) {
                    let key = (g.text.clone(), g.kind);
                    let id = match ids.get(&key) {
                        Some(&id) => id,
                        None => {
                            let id = vocab.len() as u32;
                            ids.insert(key, id);
                            vocab.push(g);
                            id
                        }
                    };
                    glued.push((n as u32, id));
                }
            }
        }
        drop(ids);
        let name_w: Vec<f32> = (0..names.len())
            .map(|n| {
                let (a, b) = (name_tok_off[n] as usize, name_tok_off[n + 1] as usize);
                name_toks[a..b]
                    .iter()
                    .map(|&t| &vocab[t as usize])
                    .filter(|t| t.kind == Kind::Name)
                    .map(|t| t.weight)
                    .sum()
            })
            .collect();
        // Postings vocab -> names.
        let mut counts = vec![0u32; vocab.len() + 1];
        for n in 0..names.len() {
            let (a, b) = (name_tok_off[n] as usize, name_tok_off[n + 1] as usize);
            for &t in &name_toks[a..b] {
                counts[t as usize + 1] += 1;
            }
        }
        for &(_, t) in &glued {
            counts[t as usize + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let post_off = counts.clone();
        let mut fill = counts;
        let mut post = vec![0u32; name_toks.len() + glued.len()];
        for n in 0..names.len() {
            let (a, b) = (name_tok_off[n] as usize, name_tok_off[n + 1] as usize);
            for &t in &name_toks[a..b] {
                post[fill[t as usize] as usize] = n as u32;
                fill[t as usize] += 1;
            }
        }
        for &(n, t) in &glued {
            post[fill[t as usize] as usize] = n;
            fill[t as usize] += 1;
        }
        drop(glued);
        // Keys.
        let mut keys: Vec<(u32, u32)> = vocab
            .par_iter()
            .enumerate()
            .flat_map_iter(|(i, t)| token_keys(t).into_iter().map(move |k| (k, i as u32)))
            .collect();
        keys.par_sort_unstable();
        keys.dedup();
        keys.shrink_to_fit();
        // Name frequencies by skeleton.
        let primary_skels = |t: &PTok| -> Vec<u32> {
            let mut v: Vec<u32> = t
                .forms
                .first()
                .map(|f| phonetic::skeletons(f))
                .unwrap_or_default()
                .iter()
                .filter(|sk| !sk.is_empty())
                .map(|sk| key_hash(sk.as_bytes()))
                .collect();
            v.dedup();
            v
        };
        let mut skel_df: Vec<(u32, u32)> = vocab
            .par_iter()
            .enumerate()
            .filter(|(_, t)| t.kind == Kind::Name && !t.text.contains('_'))
            .flat_map_iter(|(i, t)| {
                let c = post_off[i + 1] - post_off[i];
                primary_skels(t).into_iter().map(move |h| (h, c))
            })
            .collect();
        skel_df.par_sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(skel_df.len() / 2);
        for (h, c) in skel_df {
            match merged.last_mut() {
                Some(last) if last.0 == h => last.1 += c,
                _ => merged.push((h, c)),
            }
        }
        merged.shrink_to_fit();
        let skel_df = merged;

        // Documents.
        let mut docs: HashMap<String, Vec<u32>> = HashMap::new();
        for (ei, e) in entries.iter().enumerate() {
            for d in &e.documents {
                let n = score::normalize_doc(&d.number);
                if n.len() >= 4 {
                    docs.entry(n).or_default().push(ei as u32);
                }
            }
        }
        Index {
            entries,
            names,
            name_tok_off,
            name_toks,
            vocab,
            post_off,
            post,
            keys,
            skel_df,
            name_w,
            docs,
            cache: (0..CACHE_SHARDS)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the index holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of names (strong and weak) indexed.
    pub fn name_count(&self) -> usize {
        self.names.len()
    }

    /// Number of distinct canonical tokens.
    pub fn vocab_len(&self) -> usize {
        self.vocab.len()
    }

    /// The entries, in build order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Approximate heap bytes held by the index structures (not counting
    /// the entries' own strings).
    pub fn heap_bytes(&self) -> usize {
        let vocab: usize = self
            .vocab
            .iter()
            .map(|t| {
                std::mem::size_of::<PTok>()
                    + t.text.len()
                    + t.forms.iter().map(|f| f.len() + 24).sum::<usize>()
                    + (t.masses.len() + t.costs.len()) * 4
            })
            .sum();
        self.names.len() * std::mem::size_of::<NameRec>()
            + (self.name_tok_off.len()
                + self.name_toks.len()
                + self.post_off.len()
                + self.post.len()
                + self.name_w.len())
                * 4
            + (self.keys.len() + self.skel_df.len()) * 8
            + vocab
    }

    /// Indices of the names of entry `e` (names are stored entry by entry).
    fn names_of(&self, e: u32) -> std::ops::Range<usize> {
        let start = self.names.partition_point(|r| r.entry < e);
        let end = self.names.partition_point(|r| r.entry <= e);
        start..end
    }

    fn name_tokens(&self, n: usize) -> &[u32] {
        &self.name_toks[self.name_tok_off[n] as usize..self.name_tok_off[n + 1] as usize]
    }

    fn name_text(&self, n: usize) -> &str {
        let r = self.names[n];
        let e = &self.entries[r.entry as usize];
        if r.weak {
            &e.weak_names[r.idx as usize]
        } else {
            &e.names[r.idx as usize]
        }
    }

    fn lookup(&self, h: u32, out: &mut Vec<u32>) {
        let start = self.keys.partition_point(|&(k, _)| k < h);
        for &(k, v) in &self.keys[start..] {
            if k != h {
                break;
            }
            out.push(v);
        }
    }

    /// The vocabulary tokens close to one query token (cached: screening
    /// batches repeat tokens a lot).
    fn matches_of(&self, qt: &PTok) -> Matches {
        let key = (qt.text.clone(), qt.kind);
        let shard = &self.cache[(key_hash(qt.text.as_bytes()) as usize) % CACHE_SHARDS];
        if let Some(m) = shard.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return m;
        }
        // Tokens with the same skeleton are kept from TOKEN_MIN; tokens
        // only one key edit away need NEIGHBOUR_MIN (a cheaper, earlier
        // exit of the edit distance for the many that are far).
        let mut exact = Vec::new();
        for f in &qt.forms {
            for sk in phonetic::skeletons(f) {
                if !sk.is_empty() {
                    self.lookup(key_hash(sk.as_bytes()), &mut exact);
                }
            }
        }
        exact.sort_unstable();
        exact.dedup();
        let mut found = Vec::new();
        for k in token_keys(qt) {
            self.lookup(k, &mut found);
        }
        found.sort_unstable();
        found.dedup();
        let m: Vec<(u32, f32)> = found
            .iter()
            .filter_map(|&v| {
                let min = if exact.binary_search(&v).is_ok() {
                    TOKEN_MIN
                } else {
                    NEIGHBOUR_MIN
                };
                let s = tok_sim_min(qt, &self.vocab[v as usize], min);
                (s >= min).then_some((v, s))
            })
            .collect();
        let m = Arc::new(m);
        if let Ok(mut c) = shard.lock() {
            if c.len() >= CACHE_SHARD_CAP {
                c.clear();
            }
            c.insert(key, m.clone());
        }
        m
    }

    /// For each query token, the vocabulary tokens close to it (sorted by
    /// id); then, for each adjacent pair glued, the same with its weight.
    fn token_matches(&self, qp: &Parsed) -> (Vec<Matches>, Vec<(Matches, f32)>) {
        let singles: Vec<Matches> = qp.toks.iter().map(|qt| self.matches_of(qt)).collect();
        let mut glued = Vec::new();
        for w in qp.toks.windows(2) {
            if let Some(g) = parse::glue(&w[0], &w[1]) {
                glued.push((self.matches_of(&g), g.weight));
            }
        }
        (singles, glued)
    }

    /// Score one name against the parsed query, given a similarity lookup.
    fn score_name<F>(&self, qp: &Parsed, rq: &[f32], n: usize, mut sim: F) -> NameScore
    where
        F: FnMut(usize, u32) -> f32,
    {
        let toks = self.name_tokens(n);
        let etoks: Vec<&PTok> = toks.iter().map(|&t| &self.vocab[t as usize]).collect();
        let qtoks: Vec<&PTok> = qp.toks.iter().collect();
        align_rarity(&qtoks, &etoks, Rarity(rq), |i, j| sim(i, toks[j]))
    }

    /// How rare each query token's name is in this list.
    fn query_rarity(&self, qp: &Parsed) -> Vec<f32> {
        let n = self.names.len();
        qp.toks
            .iter()
            .map(|t| rarity_factor(t, &self.skel_df, n))
            .collect()
    }

    fn finish_hits(
        &self,
        q: &Query,
        qp: &Parsed,
        scored: Vec<(usize, NameScore)>,
        doc_entries: &[u32],
        threshold: f64,
        top: usize,
    ) -> Vec<Hit> {
        // Best name per entry.
        let mut best: HashMap<u32, (f64, usize, NameScore), FastHash> = HashMap::default();
        for (n, ns) in scored {
            let rec = self.names[n];
            let mut l = score::name_logit(&ns);
            if rec.weak {
                l -= WEAK_NAME_PENALTY;
            }
            match best.get(&rec.entry) {
                Some(b) if b.0 >= l => {}
                _ => {
                    best.insert(rec.entry, (l, n, ns));
                }
            }
        }
        for &e in doc_entries {
            if best.contains_key(&e) {
                continue;
            }
            // Entry found through its document only: score its names here.
            if let Some(b) = self.best_name_of(qp, &self.query_rarity(qp), e) {
                best.insert(e, b);
            }
        }
        // Scores first; the explanations only of the `top` kept (at
        // threshold 0 every candidate passes, and most are cut).
        let mut scored: Vec<(f64, u32, usize, NameScore, score::Evidence)> = best
            .into_iter()
            .filter_map(|(e, (l, n, ns))| {
                let entry = &self.entries[e as usize];
                let ev = score::attribute_evidence(q, entry);
                let s = score::sigmoid(l.max(score::NAME_LOGIT_FLOOR) + ev.logit);
                (s >= threshold).then(|| ((s * 1e4).round() / 1e4, e, n, ns, ev))
            })
            .collect();
        let order = |a: &(f64, u32, usize, NameScore, score::Evidence),
                     b: &(f64, u32, usize, NameScore, score::Evidence)| {
            b.0.total_cmp(&a.0).then_with(|| {
                self.entries[a.1 as usize]
                    .id
                    .cmp(&self.entries[b.1 as usize].id)
            })
        };
        if scored.len() > top && top > 0 {
            scored.select_nth_unstable_by(top - 1, order);
        }
        scored.truncate(top);
        scored.sort_by(order);
        scored
            .into_iter()
            .map(|(s, e, n, ns, ev)| {
                let entry = &self.entries[e as usize];
                let etoks: Vec<PTok> = self
                    .name_tokens(n)
                    .iter()
                    .map(|&t| self.vocab[t as usize].clone())
                    .collect();
                let mut expl = format!("name {:.2}", ns.sim);
                if !ns.pairs.is_empty() {
                    expl.push_str(&format!(
                        " ({})",
                        score::explain_pairs(&qp.toks, &etoks, &ns)
                    ));
                }
                if self.names[n].weak {
                    expl.push_str("; weak alias");
                }
                for note in &ev.notes {
                    expl.push_str("; ");
                    expl.push_str(note);
                }
                Hit {
                    entry_id: entry.id.clone(),
                    score: s,
                    matched_name: self.name_text(n).to_string(),
                    explanation: expl,
                }
            })
            .collect()
    }

    fn doc_entries(&self, q: &Query) -> Vec<u32> {
        let mut v: Vec<u32> = q
            .documents
            .iter()
            .filter_map(|d| self.docs.get(&score::normalize_doc(&d.number)))
            .flatten()
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Screen one query through the blocking index. Hits are sorted by
    /// score, descending; at most `top`, each with score ≥ `threshold`.
    pub fn screen(&self, q: &Query, threshold: f64, top: usize) -> Vec<Hit> {
        let qp = parse::parse(&q.name);
        let min_share = min_share_for(q, threshold).max(MIN_ACC_SHARE);
        let scored = self.blocked_scores(&qp, min_share, SCREEN_CANDIDATES);
        let docs = self.doc_entries(q);
        self.finish_hits(q, &qp, scored, &docs, threshold, top)
    }

    /// Candidate names and their name scores, through the blocking index.
    fn blocked_scores(&self, qp: &Parsed, min_share: f32, cap: usize) -> Vec<(usize, NameScore)> {
        if qp.toks.is_empty() || self.names.is_empty() {
            return Vec::new();
        }
        let (matches, glued) = self.token_matches(qp);
        let total_w: f32 = qp
            .toks
            .iter()
            .filter(|t| t.kind == Kind::Name)
            .map(|t| t.weight)
            .sum();
        let cands: Vec<u32> = SCRATCH.with(|cell| {
            let mut sc = cell.borrow_mut();
            let Scratch { slots, touched } = &mut *sc;
            if slots.len() < self.names.len() {
                slots.resize(self.names.len(), EMPTY_SLOT);
            }
            touched.clear();
            let units = matches
                .iter()
                .enumerate()
                .map(|(i, m)| (m, qp.toks[i].weight))
                .chain(glued.iter().map(|(m, w)| (m, *w)));
            let n_names = self.names.len() as f32;
            for (u, (m, w)) in units.enumerate() {
                let u = u as u32;
                for &(v, s) in m.iter() {
                    let (a, b) = (
                        self.post_off[v as usize] as usize,
                        self.post_off[v as usize + 1] as usize,
                    );
                    let idf = (1.0 + n_names / (b - a).max(1) as f32).ln();
                    let (ca, cr) = (w * s, w * s * idf);
                    for &n in &self.post[a..b] {
                        let slot = &mut slots[n as usize];
                        if slot.unit == u32::MAX {
                            touched.push(n);
                        }
                        if slot.unit != u {
                            slot.unit = u;
                            slot.unit_acc = 0.0;
                            slot.unit_rank = 0.0;
                        }
                        if ca > slot.unit_acc {
                            slot.acc += ca - slot.unit_acc;
                            slot.unit_acc = ca;
                        }
                        if cr > slot.unit_rank {
                            slot.rank += cr - slot.unit_rank;
                            slot.unit_rank = cr;
                        }
                    }
                }
            }
            let need = min_share * total_w;
            let mut c: Vec<(f32, u32)> = touched
                .iter()
                .filter_map(|&n| {
                    let sl = &slots[n as usize];
                    let left = (self.name_w[n as usize] - sl.acc).max(0.0);
                    (sl.acc >= need)
                        .then_some((sl.acc + RARITY_SHARE * sl.rank - LEFT_SHARE * left, n))
                })
                .collect();
            for &n in touched.iter() {
                slots[n as usize] = EMPTY_SLOT;
            }
            if c.len() > cap {
                c.select_nth_unstable_by(cap, |x, y| y.0.total_cmp(&x.0));
                c.truncate(cap);
            }
            c.into_iter().map(|x| x.1).collect()
        });
        // Pairs not found through the keys are scored on demand (memoised),
        // so a candidate's score is the same as in exhaustive scoring.
        let mut memo: HashMap<(usize, u32), f32, FastHash> = HashMap::default();
        let rq = self.query_rarity(qp);
        cands
            .into_iter()
            .map(|n| {
                let ns = self.score_name(qp, &rq, n as usize, |i, v| {
                    let m = &matches[i];
                    match m.binary_search_by_key(&v, |x| x.0) {
                        Ok(k) => m[k].1,
                        Err(_) => *memo
                            .entry((i, v))
                            .or_insert_with(|| tok_sim(&qp.toks[i], &self.vocab[v as usize])),
                    }
                });
                (n as usize, ns)
            })
            .collect()
    }

    /// Screen many queries on all cores; results in input order.
    pub fn screen_batch(&self, qs: &[Query], threshold: f64, top: usize) -> Vec<Vec<Hit>> {
        qs.par_iter()
            .map(|q| self.screen(q, threshold, top))
            .collect()
    }

    /// Screen one query against every name, without blocking.
    pub fn screen_exhaustive(&self, q: &Query, threshold: f64, top: usize) -> Vec<Hit> {
        let qp = parse::parse(&q.name);
        let scored = self.exhaustive_scores(&qp);
        let docs = self.doc_entries(q);
        self.finish_hits(q, &qp, scored, &docs, threshold, top)
    }

    fn exhaustive_scores(&self, qp: &Parsed) -> Vec<(usize, NameScore)> {
        let nq = qp.toks.len();
        let mut memo = vec![f32::NAN; nq * self.vocab.len()];
        let rq = self.query_rarity(qp);
        (0..self.names.len())
            .map(|n| {
                let ns = self.score_name(qp, &rq, n, |i, v| {
                    let slot = &mut memo[v as usize * nq + i];
                    if slot.is_nan() {
                        *slot = tok_sim(&qp.toks[i], &self.vocab[v as usize]);
                    }
                    *slot
                });
                (n, ns)
            })
            .filter(|(_, ns)| !ns.pairs.is_empty())
            .collect()
    }

    /// The entry's best-scoring name against the parsed query, scored in
    /// full (no blocking): its name log-odds (weak aliases penalised),
    /// index and alignment.
    fn best_name_of(&self, qp: &Parsed, rq: &[f32], entry: u32) -> Option<(f64, usize, NameScore)> {
        let mut best: Option<(f64, usize, NameScore)> = None;
        for n in self.names_of(entry) {
            let ns = self.score_name(qp, rq, n, |i, v| {
                tok_sim(&qp.toks[i], &self.vocab[v as usize])
            });
            let mut l = score::name_logit(&ns);
            if self.names[n].weak {
                l -= WEAK_NAME_PENALTY;
            }
            if best.as_ref().is_none_or(|b| l > b.0) {
                best = Some((l, n, ns));
            }
        }
        best
    }

    /// How one query's name scores against one entry's best name in this
    /// list, with the list's rarity factors: the similarity, the matched
    /// information and the aligned pairs. For evaluation and probing.
    pub fn explain_entry(&self, name: &str, entry: u32) -> String {
        let qp = parse::parse(name);
        let rq = self.query_rarity(&qp);
        let Some((l, n, ns)) = self.best_name_of(&qp, &rq, entry) else {
            return String::new();
        };
        let etoks: Vec<PTok> = self
            .name_tokens(n)
            .iter()
            .map(|&t| self.vocab[t as usize].clone())
            .collect();
        let r: Vec<String> = rq.iter().map(|r| format!("{r:.2}")).collect();
        format!(
            "logit {l:.2} sim {:.3} info {:.2} r [{}] ({})",
            ns.sim,
            ns.info,
            r.join(" "),
            score::explain_pairs(&qp.toks, &etoks, &ns)
        )
    }

    /// Name-only scores of one query against every indexed name, in index
    /// order (entry by entry, strong names then weak names). For
    /// evaluation: `blocked` chooses the blocking index or exhaustive
    /// scoring; names not reached score 0.
    pub fn name_scores(&self, name: &str, blocked: bool) -> Vec<(u32, f64)> {
        let qp = parse::parse(name);
        let scored = if blocked {
            self.blocked_scores(&qp, RANK_MIN_SHARE, MAX_CANDIDATES)
        } else {
            self.exhaustive_scores(&qp)
        };
        let mut best: HashMap<u32, f64> = HashMap::new();
        for (n, ns) in scored {
            let rec = self.names[n];
            let mut l = score::name_logit(&ns);
            if rec.weak {
                l -= WEAK_NAME_PENALTY;
            }
            let s = score::sigmoid(l);
            let b = best.entry(rec.entry).or_insert(0.0);
            if s > *b {
                *b = s;
            }
        }
        best.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hashed_in_place_are_the_hashes_of_the_keys() {
        for b in [&b"blkz"[..], b"mhmd", b"bd", b"x", b""] {
            for marker in [b'#', b'%'] {
                let whole: Vec<u8> = b.iter().copied().chain([marker]).collect();
                assert_eq!(with_marker(b, None, marker), key_hash(&whole));
                for d in 0..b.len() {
                    let mut v = b.to_vec();
                    v.remove(d);
                    v.push(marker);
                    assert_eq!(with_marker(b, Some(d), marker), key_hash(&v));
                }
            }
        }
    }

    #[test]
    fn precomputed_indels_give_the_same_similarities() {
        let names = [
            "Abdallah Belkeziz",
            "عبد الله بلقزاز",
            "Mohammed Ouyahia",
            "اويحيى",
            "Basma Alaa",
            "مصطفى يحيى",
            "Hosejn Pejman",
            "Muhammad Husayn al-Zawahiri",
            "قمرالملوك",
        ];
        let toks: Vec<PTok> = names.iter().flat_map(|n| parse::parse(n).toks).collect();
        for a in &toks {
            for b in &toks {
                for (fa, ia) in a.forms.iter().zip(&a.indels) {
                    for (fb, ib) in b.forms.iter().zip(&b.indels) {
                        let (ma, mb) = (phonetic::mass(fa), phonetic::mass(fb));
                        for min in [0.0, 0.3, 0.5, 0.6, 0.9] {
                            assert_eq!(
                                phonetic::similarity_with_mass(fa, ma, fb, mb, min),
                                phonetic::similarity_indels(fa, ia, ma, fb, ib, mb, min),
                                "{} / {} at {min}",
                                a.text,
                                b.text
                            );
                        }
                        for limit in [0.3, 1.0, f32::INFINITY] {
                            let old = phonetic::distance_bounded(fa, fb, limit);
                            let new = phonetic::distance_bounded_indels(fa, ia, fb, ib, limit);
                            assert!(
                                old == new || (old > limit && new > limit),
                                "{} / {}: {old} {new}",
                                a.text,
                                b.text
                            );
                        }
                    }
                }
            }
        }
    }
}
