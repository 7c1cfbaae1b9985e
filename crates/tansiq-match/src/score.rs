//! Name scoring (token alignment over the class-aware edit distance),
//! attribute evidence and calibration.

use crate::parse::{Kind, PTok};
use crate::phonetic;
use crate::{Document, Entry, Query};

/// Tokens whose information weights differ by more than this share of the
/// larger are not compared (they cannot be similar enough).
const MASS_RATIO: f32 = 0.5;

/// Primary forms below this similarity are not compared further.
const PRIMARY_MIN: f32 = 0.3;

/// Token pairs below this similarity are never aligned.
pub const TOKEN_MIN: f32 = 0.5;

/// Weight given to unmatched extra tokens of the longer name when every
/// token of the shorter one is matched (middle names, patronymics).
const EXTRA_TOKEN_FACTOR: f32 = 0.3;

/// Similarity of two canonical tokens in [0, 1].
pub fn tok_sim(a: &PTok, b: &PTok) -> f32 {
    tok_sim_min(a, b, TOKEN_MIN)
}

/// Token similarity, or 0 when it is below `min` (≥ `TOKEN_MIN`).
pub fn tok_sim_min(a: &PTok, b: &PTok, min: f32) -> f32 {
    if a.kind == Kind::Initial || b.kind == Kind::Initial {
        return initial_sim(a, b);
    }
    let min = min.max(TOKEN_MIN);
    let mut best = 0.0f32;
    // The primary forms first; alternate forms without a cost only differ
    // by an article, a particle or a digraph reading: when the primary
    // forms are far apart, so are those.
    let (Some(f0), Some(g0)) = (a.forms.first(), b.forms.first()) else {
        return 0.0;
    };
    let (m0, n0) = (a.masses[0], b.masses[0]);
    let several = a.forms.len() + b.forms.len() > 2;
    if (m0 - n0).abs() <= MASS_RATIO * m0.max(n0) {
        let floor = if several { PRIMARY_MIN } else { min };
        let s = phonetic::similarity_indels(f0, &a.indels[0], m0, g0, &b.indels[0], n0, floor);
        // Readings of other conventions (a cost above 0) may differ more,
        // and so may a short name with and without its article ("Albert"
        // / "البير", which the primary form reads "بير").
        let far = a.article || b.article || a.costs.iter().chain(&b.costs).any(|&c| c > 0.0);
        if s == 0.0 && several && !far {
            return 0.0;
        }
        if s >= min {
            best = s;
        }
    } else if !several {
        return 0.0;
    }
    if several {
        for (ia, (fa, &ma)) in a.forms.iter().zip(&a.masses).enumerate() {
            for (ib, (fb, &mb)) in b.forms.iter().zip(&b.masses).enumerate() {
                if ia == 0 && ib == 0 {
                    continue;
                }
                // Forms of very different mass cannot reach TOKEN_MIN.
                if (ma - mb).abs() > MASS_RATIO * ma.max(mb) {
                    continue;
                }
                let cost = a.costs[ia] + b.costs[ib];
                let s = phonetic::similarity_indels(
                    fa,
                    &a.indels[ia],
                    ma,
                    fb,
                    &b.indels[ib],
                    mb,
                    best.max(min) + cost,
                );
                if s - cost > best {
                    best = s - cost;
                }
            }
        }
    }
    if a.article != b.article {
        best = (best - ARTICLE_MISMATCH).max(0.0);
    }
    if a.particle != b.particle {
        best = (best - PARTICLE_MISMATCH).max(0.0);
    }
    best
}

/// Taken off a token pair when a patronymic particle precedes it on one
/// side only ("Mohamed Salem" is nearer "محمد سالم" than "محمد بن سالم").
const PARTICLE_MISMATCH: f32 = 0.03;

/// Taken off a token pair when one side has an article and the other not
/// ("Saada" is closer to "سعاده" than to "الساده").
const ARTICLE_MISMATCH: f32 = 0.03;

fn initial_sim(a: &PTok, b: &PTok) -> f32 {
    if a.kind == Kind::Initial && b.kind == Kind::Initial {
        return if a.forms.first() == b.forms.first() {
            0.9
        } else {
            0.0
        };
    }
    let (ini, other) = if a.kind == Kind::Initial {
        (a, b)
    } else {
        (b, a)
    };
    let Some(&s0) = ini.forms.first().and_then(|f| f.first()) else {
        return 0.0;
    };
    let Some(&o0) = other.forms.first().and_then(|f| f.first()) else {
        return 0.0;
    };
    if phonetic::sub_cost(s0, o0) <= 0.3 {
        0.85
    } else {
        0.0
    }
}

/// One aligned unit: `qn` query tokens from `qi` against `en` entry tokens
/// from `ej` (a unit spans two tokens when one side writes a compound
/// glued and the other split, e.g. "محمدحسين" / "Mohammad Hossein").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub qi: usize,
    pub qn: usize,
    pub ej: usize,
    pub en: usize,
    pub s: f32,
}

/// The outcome of aligning two names.
#[derive(Debug, Clone, Default)]
pub struct NameScore {
    /// Weighted similarity in [0, 1].
    pub sim: f32,
    /// Aligned units.
    pub pairs: Vec<Pair>,
    /// Information matched: for each pair, the smaller weight times the
    /// similarity and the query tokens' rarity factor.
    pub info: f32,
}

fn span_mask(i: usize, n: usize) -> u64 {
    ((1u64 << n) - 1) << i
}

/// Similarity of two tokens written glued on one side (`a1 a2`) against
/// one token `b` on the other. An article at the start of `a2` is dropped
/// ("نور الدين" / "Noureddine").
pub fn merged_sim(a1: &PTok, a2: &PTok, b: &PTok) -> f32 {
    if a1.kind == Kind::Initial || a2.kind == Kind::Initial || b.kind == Kind::Initial {
        return 0.0;
    }
    let wa = a1.weight + a2.weight;
    let wb = b.weight;
    if (wa - wb).abs() > MASS_RATIO * wa.max(wb) {
        return 0.0;
    }
    let Some(f1) = a1.forms.first() else {
        return 0.0;
    };
    let mut best = 0.0f32;
    let mut buf: Vec<phonetic::Sym> = Vec::with_capacity(32);
    for (f2, c2) in a2.forms.iter().zip(&a2.costs).take(2) {
        buf.clear();
        buf.extend_from_slice(f1);
        buf.extend_from_slice(f2);
        for (fb, cb) in b.forms.iter().zip(&b.costs) {
            let cost = c2 + cb;
            let s = phonetic::similarity_min(&buf, fb, best.max(TOKEN_MIN) + cost) - cost;
            if s > best {
                best = s;
            }
        }
    }
    best
}

#[derive(Clone, Copy)]
struct Cand {
    qm: u64,
    em: u64,
    w: f32,
    pair: Pair,
}

fn greedy(q: &[&PTok], e: &[&PTok], rarity: Rarity, cand: &mut [Cand]) -> NameScore {
    cand.sort_by(|x, y| y.pair.s.total_cmp(&x.pair.s).then(y.w.total_cmp(&x.w)));
    assign(q, e, rarity, cand)
}

/// Greedy assignment in the order of `cand`.
fn assign(q: &[&PTok], e: &[&PTok], rarity: Rarity, cand: &[Cand]) -> NameScore {
    let mut used_q = 0u64;
    let mut used_e = 0u64;
    let mut pairs = Vec::new();
    for c in cand {
        if used_q & c.qm != 0 || used_e & c.em != 0 {
            continue;
        }
        used_q |= c.qm;
        used_e |= c.em;
        pairs.push(c.pair);
    }
    finish(q, e, rarity, pairs, used_q, used_e)
}

/// How rare each query token's name is in the list screened (`Index`), a
/// factor on the information a matched pair brings (`NameScore::info`); 1
/// for every token when there is no list. The query's side alone: a pair
/// is one name, and the entry's spelling of it must not count for more
/// because that spelling is rarer.
#[derive(Clone, Copy)]
pub struct Rarity<'a>(pub &'a [f32]);

/// Align two token lists given a similarity function over indices.
/// Each token is used at most once; greedy by similarity. When the
/// one-to-one alignment leaves tokens over, glued/split compounds are
/// tried too and the better alignment kept.
pub fn align<F>(q: &[&PTok], e: &[&PTok], sim: F) -> NameScore
where
    F: FnMut(usize, usize) -> f32,
{
    let ones = vec![1.0f32; q.len()];
    align_rarity(q, e, Rarity(&ones), sim)
}

/// `align` with the query tokens' rarity factors (one per query token).
pub fn align_rarity<F>(q: &[&PTok], e: &[&PTok], rarity: Rarity, mut sim: F) -> NameScore
where
    F: FnMut(usize, usize) -> f32,
{
    let ns = align_greedy(q, e, rarity, &mut sim);
    uncross(q, e, rarity, ns, &mut sim)
}

/// Greedy assignments swap a repeated or near-repeated name's places
/// ("Seyd Mahmood Seyd" / "سيد محمود صيد" pairs the first "Seyd" with the
/// last token): two pairs aligned out of order are swapped when that
/// scores better (the first such swap).
fn uncross<F>(q: &[&PTok], e: &[&PTok], rarity: Rarity, ns: NameScore, sim: &mut F) -> NameScore
where
    F: FnMut(usize, usize) -> f32,
{
    let nq = q.len().min(MAX_TOKENS);
    let ne = e.len().min(MAX_TOKENS);
    let (q, e) = (&q[..nq], &e[..ne]);
    let rarity = Rarity(&rarity.0[..nq]);
    let n = ns.pairs.len();
    for a in 0..n {
        for b in a + 1..n {
            let (pa, pb) = (ns.pairs[a], ns.pairs[b]);
            let single = pa.qn == 1 && pa.en == 1 && pb.qn == 1 && pb.en == 1;
            if !single || (pa.qi < pb.qi) == (pa.ej < pb.ej) {
                continue;
            }
            let (s1, s2) = (sim(pa.qi, pb.ej), sim(pb.qi, pa.ej));
            if s1 < TOKEN_MIN || s2 < TOKEN_MIN {
                continue;
            }
            let mut pairs = ns.pairs.clone();
            pairs[a] = Pair {
                ej: pb.ej,
                s: s1,
                ..pa
            };
            pairs[b] = Pair {
                ej: pa.ej,
                s: s2,
                ..pb
            };
            let (used_q, used_e) = masks(&pairs);
            let swapped = finish(q, e, rarity, pairs, used_q, used_e);
            if swapped.sim > ns.sim {
                return swapped;
            }
        }
    }
    ns
}

fn masks(pairs: &[Pair]) -> (u64, u64) {
    pairs.iter().fold((0, 0), |(uq, ue), p| {
        (uq | span_mask(p.qi, p.qn), ue | span_mask(p.ej, p.en))
    })
}

#[allow(clippy::needless_range_loop)] // indices are the alignment's currency
fn align_greedy<F>(q: &[&PTok], e: &[&PTok], rarity: Rarity, sim: &mut F) -> NameScore
where
    F: FnMut(usize, usize) -> f32,
{
    let nq = q.len().min(MAX_TOKENS);
    let ne = e.len().min(MAX_TOKENS);
    if nq == 0 || ne == 0 {
        return NameScore::default();
    }
    let q = &q[..nq];
    let e = &e[..ne];
    let rarity = Rarity(&rarity.0[..nq]);
    let mut cand: Vec<Cand> = Vec::with_capacity(nq * ne);
    for i in 0..nq {
        for j in 0..ne {
            let s = sim(i, j);
            if s >= TOKEN_MIN {
                cand.push(Cand {
                    qm: 1 << i,
                    em: 1 << j,
                    w: s * (q[i].weight + e[j].weight),
                    pair: Pair {
                        qi: i,
                        qn: 1,
                        ej: j,
                        en: 1,
                        s,
                    },
                });
            }
        }
    }
    let single = greedy(q, e, rarity, &mut cand);
    let covered_q: usize = single.pairs.iter().map(|p| p.qn).sum();
    let covered_e: usize = single.pairs.iter().map(|p| p.en).sum();
    let weak = single.pairs.iter().any(|p| p.s < 0.8);
    if (covered_q == nq && covered_e == ne && !weak)
        || (nq < 2 && ne < 2)
        || (single.sim < MERGE_MIN && nq > 1 && ne > 1)
    {
        return single;
    }
    let mut extra = false;
    for i in 0..nq.saturating_sub(1) {
        for j in 0..ne {
            let s = merged_sim(q[i], q[i + 1], e[j]) - merge_cost(q[i]);
            if s >= TOKEN_MIN {
                extra = true;
                cand.push(Cand {
                    qm: span_mask(i, 2),
                    em: 1 << j,
                    w: s * (q[i].weight + q[i + 1].weight + e[j].weight),
                    pair: Pair {
                        qi: i,
                        qn: 2,
                        ej: j,
                        en: 1,
                        s,
                    },
                });
            }
        }
    }
    for j in 0..ne.saturating_sub(1) {
        for i in 0..nq {
            let s = merged_sim(e[j], e[j + 1], q[i]) - merge_cost(e[j]);
            if s >= TOKEN_MIN {
                extra = true;
                cand.push(Cand {
                    qm: 1 << i,
                    em: span_mask(j, 2),
                    w: s * (q[i].weight + e[j].weight + e[j + 1].weight),
                    pair: Pair {
                        qi: i,
                        qn: 1,
                        ej: j,
                        en: 2,
                        s,
                    },
                });
            }
        }
    }
    if !extra {
        return single;
    }
    let mut best = single;
    let merged = greedy(q, e, rarity, &mut cand);
    if merged.sim > best.sim {
        best = merged;
    }
    // A compound's pair may be a little less similar than one of its
    // tokens alone ("Mohammad Saleh" / "محمدصالح" against "Saleh" /
    // "محمدصالح") yet cover more: also assign the widest pairs first.
    cand.sort_by(|x, y| y.w.total_cmp(&x.w).then(y.pair.s.total_cmp(&x.pair.s)));
    let wide = assign(q, e, rarity, &cand);
    if wide.sim > best.sim {
        best = wide;
    }
    best
}

/// Taken off a compound written glued on one side and apart on the other
/// ("Aurang Zeb" is nearer "اورنگ زيب" than "اورنگزيب"), unless the side
/// that splits it wrote a hyphen ("Mohammad-Ali" / "محمدعلي").
fn merge_cost(first: &PTok) -> f32 {
    if first.joined_next {
        0.0
    } else {
        MERGE_COST
    }
}

const MERGE_COST: f32 = 0.01;

/// Glued/split compounds are only tried for alignments already this good.
const MERGE_MIN: f32 = 0.2;

/// Names are cut to this many canonical tokens.
pub const MAX_TOKENS: usize = 12;

fn finish(
    q: &[&PTok],
    e: &[&PTok],
    rarity: Rarity,
    mut pairs: Vec<Pair>,
    used_q: u64,
    used_e: u64,
) -> NameScore {
    let all_q = q
        .iter()
        .enumerate()
        .all(|(i, t)| used_q & (1 << i) != 0 || t.kind == Kind::Title);
    let all_e = e
        .iter()
        .enumerate()
        .all(|(j, t)| used_e & (1 << j) != 0 || t.kind == Kind::Title);
    let mut num = 0.0f32;
    let mut den = 0.0f32;
    let mut info = 0.0f32;
    for p in &pairs {
        let wq: f32 = q[p.qi..p.qi + p.qn].iter().map(|t| t.weight).sum();
        let we: f32 = e[p.ej..p.ej + p.en].iter().map(|t| t.weight).sum();
        num += p.s * (wq + we);
        den += wq + we;
        // The query span's rarity, weighted by its tokens' weights.
        let rw: f32 = q[p.qi..p.qi + p.qn]
            .iter()
            .zip(&rarity.0[p.qi..p.qi + p.qn])
            .map(|(t, r)| t.weight * r)
            .sum();
        info += p.s * wq.min(we) * (rw / wq.max(1e-6));
    }
    let lam_q = if all_e { EXTRA_TOKEN_FACTOR } else { 1.0 };
    let lam_e = if all_q { EXTRA_TOKEN_FACTOR } else { 1.0 };
    // An extra family name (the last token) says more than an extra
    // given or middle name.
    let last_factor = |lam: f32, k: usize, n: usize| {
        if lam < 1.0 && ((k + 1 == n && n > 1) || (k == 0 && n > 2)) {
            (lam * LAST_EXTRA_FACTOR).min(1.0)
        } else {
            lam
        }
    };
    // The shorter name gives the first and the last name of the longer
    // one, which adds names between them — a chain of father's and
    // grandfather's names, as official lists write a name in full
    // ("Khalid al-Fawwaz" / "خالد عبد الرحمن حمد الفواز") —, or its first
    // three names or more in order ("Umar Mahmud Irhayyim" / "عمر محمود
    // ارحيم الفياض الكبيسي"): the extra names weigh CHAIN_FACTOR. Only
    // when the names framing the chain are not common ones ("محمد X"
    // frames many names of a list ending in X).
    let rare = |k: usize| rarity.0[pairs[k].qi] >= CHAIN_RARITY;
    let chain_q = all_e
        && framed(e, q, &pairs, |p| (p.ej, p.en, p.qi, p.qn))
            .is_some_and(|(a, b)| rare(a) && rare(b));
    let chain_e = all_q
        && framed(q, e, &pairs, |p| (p.qi, p.qn, p.ej, p.en))
            .is_some_and(|(a, b)| rare(a) && rare(b));
    for (i, t) in q.iter().enumerate() {
        if used_q & (1 << i) == 0 {
            // A common given name first ("Muhammad Asghar Khan" /
            // "اصغر خان") is often left out: half a middle name.
            let f = if i == 0 && rarity.0[i] < COMMON_FIRST {
                lam_q * COMMON_FIRST_FACTOR
            } else if chain_q {
                CHAIN_FACTOR
            } else {
                last_factor(lam_q, i, q.len())
            };
            den += f * t.weight;
        }
    }
    for (j, t) in e.iter().enumerate() {
        if used_e & (1 << j) == 0 {
            let f = if chain_e {
                CHAIN_FACTOR
            } else {
                last_factor(lam_e, j, e.len())
            };
            den += f * t.weight;
        }
    }
    let mut sim = if den > 0.0 { num / den } else { 0.0 };
    // Order differences cost a little.
    pairs.sort_by_key(|p| p.qi);
    let mut inversions = 0;
    for a in 0..pairs.len() {
        for b in a + 1..pairs.len() {
            if pairs[a].ej > pairs[b].ej {
                inversions += 1;
            }
        }
    }
    // A name written surname first without a comma ("OUYAHIA Ahmed")
    // is a rotation of the other order: one displacement, however many
    // tokens it moves past.
    let descents = pairs.windows(2).filter(|w| w[0].ej > w[1].ej).count();
    let rotation = descents == 1 && pairs.first().map(|p| p.ej) > pairs.last().map(|p| p.ej);
    if rotation {
        inversions = inversions.min(1);
    }
    sim -= INVERSION_PENALTY * (inversions.min(3) as f32);
    NameScore {
        sim: sim.clamp(0.0, 1.0),
        pairs,
        info,
    }
}

/// Whether the pairs match the first and the last token of the shorter
/// name `a` (titles aside) with the first and the last token of the longer
/// name `b` (of `CHAIN_MIN` tokens or more), so that `b`'s extra tokens
/// all lie between; or, when `a` has three names or more, its first with
/// `b`'s first and every pair in order. Returns the indices of the pairs
/// framing the chain. `span(p)` gives a pair's (start, length) on `a`
/// then on `b`.
fn framed(
    a: &[&PTok],
    b: &[&PTok],
    pairs: &[Pair],
    span: impl Fn(&Pair) -> (usize, usize, usize, usize),
) -> Option<(usize, usize)> {
    if a.len() < 2 || b.len() <= a.len() || b.len() < CHAIN_MIN {
        return None;
    }
    let first = a.iter().position(|t| t.kind != Kind::Title)?;
    let last = a.iter().rposition(|t| t.kind != Kind::Title)?;
    if first == last {
        return None;
    }
    let starts = pairs.iter().position(|p| {
        let (ai, an, bj, _) = span(p);
        ai <= first && first < ai + an && bj == 0
    })?;
    let named = a.iter().filter(|t| t.kind != Kind::Title).count();
    if named >= 3 {
        let mut order: Vec<(usize, usize)> = pairs
            .iter()
            .map(|p| {
                let (ai, _, bj, _) = span(p);
                (ai, bj)
            })
            .collect();
        order.sort_unstable();
        if order.windows(2).all(|w| w[0].1 < w[1].1) {
            return Some((starts, starts));
        }
    }
    let ends = pairs.iter().position(|p| {
        let (ai, an, bj, bn) = span(p);
        ai <= last && last < ai + an && bj + bn == b.len()
    })?;
    Some((starts, ends))
}

/// Weight of the extra tokens of a chain (`framed`), instead of
/// `EXTRA_TOKEN_FACTOR`.
const CHAIN_FACTOR: f32 = 0.08;
/// The longer name of a chain has at least this many tokens.
const CHAIN_MIN: usize = 4;
/// Names framing a chain have at least this rarity factor (section 5 of
/// docs/MATCHING.md; "Muhammad" ≈ 0.4).
const CHAIN_RARITY: f32 = 0.5;

/// Below this rarity factor, a first name left out counts as
/// `COMMON_FIRST_FACTOR` of a middle name.
const COMMON_FIRST: f32 = 0.5;
const COMMON_FIRST_FACTOR: f32 = 0.5;

/// Multiplies the extra-token factor for an unmatched last token.
const LAST_EXTRA_FACTOR: f32 = 1.7;

/// Similarity taken off per pair of tokens aligned out of order.
const INVERSION_PENALTY: f32 = 0.06;

/// Calibration of the name similarity into a log-odds of "same name".
pub fn name_logit(ns: &NameScore) -> f64 {
    let s = ns.sim as f64;
    let info = (ns.info as f64).min(10.0);
    CAL_A * (s - CAL_S0) + CAL_C * (info - CAL_I0)
}

/// Attribute evidence is added to at least this name log-odds, so an
/// identical document number makes a hit even when the names differ.
pub const NAME_LOGIT_FLOOR: f64 = -4.0;

pub const CAL_A: f64 = 27.7;
pub const CAL_S0: f64 = 0.874;
pub const CAL_C: f64 = 0.6;
pub const CAL_I0: f64 = 5.0;

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---------------------------------------------------------------- dates

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub y: i32,
    pub m: Option<u8>,
    pub d: Option<u8>,
}

pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    let mut it = s.split(['-', '/', '.']);
    let y: i32 = it.next()?.trim().parse().ok()?;
    if !(1000..=2999).contains(&y) {
        return None;
    }
    let m = it
        .next()
        .and_then(|x| x.trim().parse::<u8>().ok())
        .filter(|m| (1..=12).contains(m));
    let d = if m.is_some() {
        it.next()
            .and_then(|x| x.trim().parse::<u8>().ok())
            .filter(|d| (1..=31).contains(d))
    } else {
        None
    };
    Some(Date { y, m, d })
}

/// Evidence contributed by the attributes, with a short explanation.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub logit: f64,
    pub notes: Vec<String>,
    /// An identical document number was found.
    pub doc_match: bool,
}

pub fn normalize_doc(n: &str) -> String {
    n.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(|c| c.to_uppercase())
        .collect()
}

fn same_doc_type(a: &Document, b: &Document) -> bool {
    let ta = a.doc_type.trim().to_lowercase();
    let tb = b.doc_type.trim().to_lowercase();
    ta.is_empty() || tb.is_empty() || ta == tb
}

fn countries_compatible(a: &Option<String>, b: &Option<String>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => x.trim().eq_ignore_ascii_case(y.trim()),
        _ => true,
    }
}

pub fn attribute_evidence(q: &Query, e: &Entry) -> Evidence {
    let mut ev = Evidence::default();
    // Documents.
    let mut doc_note = None;
    'outer: for qd in &q.documents {
        let qn = normalize_doc(&qd.number);
        if qn.len() < 4 {
            continue;
        }
        for ed in &e.documents {
            if normalize_doc(&ed.number) == qn && countries_compatible(&qd.country, &ed.country) {
                doc_note = Some(format!(
                    "{} {} identical",
                    if qd.doc_type.is_empty() {
                        "document"
                    } else {
                        qd.doc_type.as_str()
                    },
                    qd.number.trim()
                ));
                ev.doc_match = true;
                break 'outer;
            }
        }
    }
    if let Some(n) = doc_note {
        ev.logit += 6.0;
        ev.notes.push(n);
    } else {
        let conflict = q.documents.iter().any(|qd| {
            e.documents.iter().any(|ed| {
                same_doc_type(qd, ed)
                    && !qd.doc_type.is_empty()
                    && qd.country.is_some()
                    && countries_compatible(&qd.country, &ed.country)
                    && normalize_doc(&qd.number) != normalize_doc(&ed.number)
            })
        });
        if conflict {
            ev.logit -= 0.3;
            ev.notes.push("different document numbers".into());
        }
    }
    // Birth date.
    if let Some(qd) = q.birth_date.as_deref().and_then(parse_date) {
        let eds: Vec<Date> = e.birth_dates.iter().filter_map(|d| parse_date(d)).collect();
        if !eds.is_empty() {
            let mut best = (-2.0f64, "");
            for ed in &eds {
                let (l, note) = date_evidence(qd, *ed);
                if l > best.0 {
                    best = (l, note);
                }
            }
            ev.logit += best.0;
            ev.notes.push(best.1.to_string());
        }
    }
    // Nationality.
    if !q.nationality.is_empty() && !e.nationality.is_empty() {
        let common = q.nationality.iter().find(|a| {
            e.nationality
                .iter()
                .any(|b| a.trim().eq_ignore_ascii_case(b.trim()))
        });
        match common {
            Some(c) => {
                ev.logit += 0.4;
                ev.notes
                    .push(format!("nationality {} shared", c.trim().to_uppercase()));
            }
            None => {
                ev.logit -= 0.4;
                ev.notes.push("different nationality".into());
            }
        }
    }
    // Gender.
    if let (Some(a), Some(b)) = (q.gender.as_deref(), e.gender.as_deref()) {
        let a = gender_code(a);
        let b = gender_code(b);
        if a != '?' && b != '?' {
            if a == b {
                ev.logit += 0.1;
            } else {
                ev.logit -= 1.5;
                ev.notes.push("different gender".into());
            }
        }
    }
    ev
}

fn gender_code(g: &str) -> char {
    match g.trim().to_lowercase().as_str() {
        "m" | "male" | "man" | "h" | "homme" | "masculin" => 'm',
        "f" | "female" | "woman" | "femme" | "feminin" | "féminin" => 'f',
        _ => '?',
    }
}

fn date_evidence(q: Date, e: Date) -> (f64, &'static str) {
    let dy = (q.y - e.y).abs();
    if dy == 0 {
        match (q.m, e.m) {
            (Some(qm), Some(em)) if qm != em => (-0.5, "birth year equal, month differs"),
            (Some(_), Some(_)) => match (q.d, e.d) {
                (Some(a), Some(b)) if a == b => (2.0, "birth date identical"),
                (Some(_), Some(_)) => (0.3, "birth year and month equal, day differs"),
                _ => (1.2, "birth year and month equal"),
            },
            _ => (1.0, "birth year equal"),
        }
    } else if dy == 1 {
        (0.2, "birth year within one year")
    } else {
        (-2.0, "birth years differ")
    }
}

/// Format the aligned token pairs for an explanation.
pub fn explain_pairs(q: &[PTok], e: &[PTok], ns: &NameScore) -> String {
    let join = |t: &[PTok]| {
        t.iter()
            .map(|x| pretty(&x.text))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut parts: Vec<String> = ns
        .pairs
        .iter()
        .map(|p| {
            format!(
                "{}~{} {:.2}",
                join(&q[p.qi..p.qi + p.qn]),
                join(&e[p.ej..p.ej + p.en]),
                p.s
            )
        })
        .collect();
    let in_q = |i: usize| ns.pairs.iter().any(|p| i >= p.qi && i < p.qi + p.qn);
    let in_e = |j: usize| ns.pairs.iter().any(|p| j >= p.ej && j < p.ej + p.en);
    let unmatched_q: Vec<String> = q
        .iter()
        .enumerate()
        .filter(|(i, _)| !in_q(*i))
        .map(|(_, t)| pretty(&t.text))
        .collect();
    let unmatched_e: Vec<String> = e
        .iter()
        .enumerate()
        .filter(|(j, _)| !in_e(*j))
        .map(|(_, t)| pretty(&t.text))
        .collect();
    if !unmatched_q.is_empty() {
        parts.push(format!("query only: {}", unmatched_q.join(" ")));
    }
    if !unmatched_e.is_empty() {
        parts.push(format!("entry only: {}", unmatched_e.join(" ")));
    }
    parts.join(", ")
}

fn pretty(t: &str) -> String {
    t.replace('+', " ")
}
