//! Match keys for private hit/no-hit queries.
//!
//! A person (a query, or a watchlist entry with its aliases) becomes a small
//! set of exact keys that survive spelling and script differences: the
//! consonant-class skeletons of the matching engine, combined into full
//! names, token pairs, family name + birth-year bucket, document number +
//! issuing country, and name + nationality. The hit/no-hit protocol evaluates
//! every key with an OPRF, which preserves equality exactly, so a query hits
//! an entry when the two share at least [`DEFAULT_MIN_SHARED`] keys — the
//! same count computed here in clear text ([`shared`]). Keys are symmetric:
//! the same function serves the querier and the list holder.
//!
//! Encoding of [`HitKey::bytes`] (the exact OPRF input):
//! `b"tansiq-hk1\0" ‖ kind.as_str() ‖ b"\0" ‖ value`, where `value` is
//! ASCII: skeletons (letters of the key alphabet of `docs/MATCHING.md`)
//! joined by single spaces, then, for the kinds that carry one, `\0` and the
//! attribute (year bucket, document number, country). See `docs/MATCHING.md`,
//! "Keys for private hit/no-hit".

use crate::parse::{self, Kind};
use crate::phonetic;
use crate::score::{normalize_doc, parse_date};

/// A person as seen by the key derivation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HitSubject {
    /// Primary name first, then aliases; any script.
    pub names: Vec<String>,
    /// "YYYY", "YYYY-MM" or "YYYY-MM-DD".
    pub birth_date: Option<String>,
    /// ISO 3166-1 alpha-2, any case.
    pub nationality: Option<String>,
    /// (number, issuing country alpha-2).
    pub documents: Vec<(String, Option<String>)>,
}

/// The type of a key. Which kinds matched is visible to the querier (it is
/// listed in `docs/PRIVACY.md` as leaked).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    FullName,
    TokenPair,
    FamilyYear,
    Document,
    NameNationality,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::FullName => "full-name",
            KeyKind::TokenPair => "token-pair",
            KeyKind::FamilyYear => "family-year",
            KeyKind::Document => "document",
            KeyKind::NameNationality => "name-nationality",
        }
    }
}

/// One key: its kind (also encoded in `bytes`) and the OPRF input.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HitKey {
    pub kind: KeyKind,
    pub bytes: Vec<u8>,
}

/// Version and domain tag prefixed to every key.
pub const KEY_PREFIX: &[u8] = b"tansiq-hk1\0";

/// At most this many keys per subject, aliases included: bounds the OPRF
/// evaluations per query and per entry, and what one query can probe.
pub const MAX_KEYS: usize = 64;

/// A query hits an entry when they share at least this many keys (t).
pub const DEFAULT_MIN_SHARED: usize = 2;

/// Canonical tokens considered per name (longer names are cut).
const MAX_TOKENS: usize = 6;
/// Skeleton variants kept per token.
const MAX_TOKEN_VARIANTS: usize = 4;
/// Full-name skeleton combinations kept per name.
const MAX_FULL_VARIANTS: usize = 8;
/// Variants kept per token pair.
const MAX_PAIR_VARIANTS: usize = 4;
/// A name key needs at least this many skeleton letters in all: "ly"
/// (Ali) or "mhmd" alone identify nobody.
const MIN_KEY_LETTERS: usize = 5;
/// Shortest normalised document number used as a key.
const MIN_DOC_LEN: usize = 5;

fn key(kind: KeyKind, value: &[u8]) -> HitKey {
    let mut bytes = Vec::with_capacity(KEY_PREFIX.len() + 20 + value.len());
    bytes.extend_from_slice(KEY_PREFIX);
    bytes.extend_from_slice(kind.as_str().as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(value);
    HitKey { kind, bytes }
}

/// Skeleton variants of each canonical name token (titles and initials
/// dropped), in reading order.
fn token_skeletons(name: &str) -> Vec<Vec<String>> {
    let p = parse::parse(name);
    let mut out = Vec::new();
    for t in &p.toks {
        if t.kind != Kind::Name {
            continue;
        }
        let mut ks: Vec<String> = Vec::new();
        for f in &t.forms {
            for k in phonetic::skeletons(f) {
                if !k.is_empty() && !ks.contains(&k) {
                    ks.push(k);
                }
            }
        }
        ks.truncate(MAX_TOKEN_VARIANTS);
        if !ks.is_empty() {
            out.push(ks);
        }
        if out.len() >= MAX_TOKENS {
            break;
        }
    }
    out
}

/// Combinations of one variant per token, each sorted (order-free) and
/// joined by spaces, at most `cap`, primary variants first.
fn combos(toks: &[&Vec<String>], cap: usize) -> Vec<String> {
    let mut acc: Vec<Vec<&str>> = vec![Vec::new()];
    for ks in toks {
        let mut next = Vec::new();
        'outer: for c in &acc {
            for k in ks.iter() {
                let mut c2 = c.clone();
                c2.push(k.as_str());
                next.push(c2);
                if next.len() >= cap {
                    break 'outer;
                }
            }
        }
        acc = next;
    }
    let mut out: Vec<String> = Vec::new();
    for mut c in acc {
        if c.is_empty() {
            continue;
        }
        c.sort_unstable();
        let s = c.join(" ");
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn letters(s: &str) -> usize {
    s.bytes().filter(|b| *b != b' ').count()
}

fn nationality(s: &HitSubject) -> Option<String> {
    let n = s.nationality.as_deref()?.trim();
    (n.len() == 2 && n.bytes().all(|b| b.is_ascii_alphabetic())).then(|| n.to_ascii_uppercase())
}

/// The keys of one subject: sorted, deduplicated, at most [`MAX_KEYS`],
/// deterministic. Names with no usable token, unparsable dates and short
/// document numbers simply contribute no key.
pub fn hit_keys(s: &HitSubject) -> Vec<HitKey> {
    // Keys in priority order; the cap keeps the first ones.
    let mut out: Vec<HitKey> = Vec::new();
    let cc = nationality(s);
    for (num, country) in &s.documents {
        let n = normalize_doc(num);
        if n.len() < MIN_DOC_LEN || n.len() > 64 {
            continue;
        }
        out.push(key(KeyKind::Document, n.as_bytes()));
        if let Some(c) = country
            .as_deref()
            .map(str::trim)
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            let v = format!("{n}\0{}", c.to_ascii_uppercase());
            out.push(key(KeyKind::Document, v.as_bytes()));
        }
    }
    let year = s.birth_date.as_deref().and_then(parse_date).map(|d| d.y);
    // Per name, most important keys first; names round-robin so that the
    // cap falls on the last aliases' least useful keys.
    let mut per_name: Vec<Vec<HitKey>> = Vec::new();
    for name in &s.names {
        let toks = token_skeletons(name);
        if toks.is_empty() {
            continue;
        }
        let mut ks = Vec::new();
        let all: Vec<&Vec<String>> = toks.iter().collect();
        let full: Vec<String> = combos(&all, MAX_FULL_VARIANTS)
            .into_iter()
            .filter(|k| letters(k) >= MIN_KEY_LETTERS)
            .collect();
        for f in &full {
            ks.push(key(KeyKind::FullName, f.as_bytes()));
        }
        if let Some(y) = year {
            // Two buckets of two years each, offset by one: equal years
            // share both keys, years one apart exactly one, others none.
            let fam = &toks[toks.len() - 1];
            for f in fam.iter().take(2) {
                if letters(f) < 2 {
                    continue;
                }
                for (tag, b) in [("e", y.div_euclid(2)), ("o", (y + 1).div_euclid(2))] {
                    let v = format!("{f}\0{tag}{b}");
                    ks.push(key(KeyKind::FamilyYear, v.as_bytes()));
                }
            }
        }
        if let Some(c) = &cc {
            for f in full.iter().take(2) {
                let v = format!("{f}\0{c}");
                ks.push(key(KeyKind::NameNationality, v.as_bytes()));
            }
        }
        if toks.len() >= 2 {
            for i in 0..toks.len() {
                for j in i + 1..toks.len() {
                    for p in combos(&[&toks[i], &toks[j]], MAX_PAIR_VARIANTS) {
                        if letters(&p) >= MIN_KEY_LETTERS {
                            ks.push(key(KeyKind::TokenPair, p.as_bytes()));
                        }
                    }
                }
            }
        }
        per_name.push(ks);
    }
    let longest = per_name.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for ks in &per_name {
            if let Some(k) = ks.get(i) {
                out.push(k.clone());
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|k| seen.insert(k.bytes.clone()));
    out.truncate(MAX_KEYS);
    out.sort();
    out
}

/// The number of keys the two sets have in common (both sorted, as
/// [`hit_keys`] returns them; unsorted input is sorted first).
pub fn shared(query: &[HitKey], entry: &[HitKey]) -> usize {
    common(query, entry).len()
}

/// The kinds of the keys in common, sorted, each once.
pub fn matched_kinds(query: &[HitKey], entry: &[HitKey]) -> Vec<KeyKind> {
    let mut k: Vec<KeyKind> = common(query, entry).iter().map(|k| k.kind).collect();
    k.sort();
    k.dedup();
    k
}

fn common<'a>(a: &'a [HitKey], b: &[HitKey]) -> Vec<&'a HitKey> {
    let b: std::collections::HashSet<&[u8]> = b.iter().map(|k| k.bytes.as_slice()).collect();
    let mut out: Vec<&HitKey> = a
        .iter()
        .filter(|k| b.contains(k.bytes.as_slice()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether a query hits an entry at the default threshold.
pub fn is_hit(query: &[HitKey], entry: &[HitKey]) -> bool {
    shared(query, entry) >= DEFAULT_MIN_SHARED
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subj(names: &[&str]) -> HitSubject {
        HitSubject {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cross_script_belkeziz_hits() {
        let q = hit_keys(&subj(&["Abdallah Belkeziz"]));
        let e = hit_keys(&subj(&["عبد الله بلقزاز"]));
        assert!(shared(&q, &e) >= DEFAULT_MIN_SHARED, "{q:?} {e:?}");
        assert!(matched_kinds(&q, &e).contains(&KeyKind::FullName));
    }

    #[test]
    fn different_people_do_not_hit() {
        let q = hit_keys(&subj(&["Abdallah Belkeziz"]));
        let e = hit_keys(&subj(&["Karim Haddad"]));
        assert_eq!(shared(&q, &e), 0);
    }
}
