//! Match keys for private hit/no-hit queries.
//!
//! A person (a query, or a watchlist entry with its aliases) becomes a small
//! set of exact keys that survive spelling and script differences: the
//! consonant-class skeletons of the matching engine, combined into full
//! names (any token order, adjacent tokens glued or not, one token left
//! out), token pairs, family name + birth year, document number + issuing
//! country, and family name + nationality. The hit/no-hit protocol
//! evaluates every key with an OPRF, which preserves equality exactly, so a
//! query hits an entry when the two share at least [`DEFAULT_MIN_SHARED`]
//! keys — the same count computed here in clear text ([`shared`]).
//!
//! [`side_keys`] gives the querier's keys ([`Side::Query`]) and the list
//! holder's ([`Side::Entry`]); a few keys are asymmetric (birth year ±1 on
//! the entry, containment of one name in another). [`hit_keys`] is the
//! same set for both sides, without those (fewer hits).
//!
//! Encoding of [`HitKey::bytes`] (the exact OPRF input):
//! `b"tansiq-hk1\0" ‖ kind.as_str() ‖ b"\0" ‖ value`, with `value` ASCII:
//! token skeletons (the key alphabet of `docs/MATCHING.md`) sorted and
//! joined by single spaces, then, for some keys, `\0` and a tag or an
//! attribute. The table is in `docs/MATCHING.md`, "Keys for private
//! hit/no-hit".

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
/// Every piece of name evidence the screening score accepts on its own
/// yields two keys (whole name: full-name + token-pair, or the "solo" twin
/// of a one-token name; one name inside the other: containment + token
/// pair); a token pair, a family name with a birth year or a nationality,
/// or a document number without its country yields one.
pub const DEFAULT_MIN_SHARED: usize = 2;

/// Canonical tokens considered per name (longer names are cut).
const MAX_TOKENS: usize = 6;
/// Skeleton variants kept per token.
const MAX_TOKEN_VARIANTS: usize = 4;
/// Full-name skeleton combinations kept per name.
const MAX_FULL_VARIANTS: usize = 8;
/// Variants kept per token pair.
const MAX_PAIR_VARIANTS: usize = 4;
/// A name key of several tokens needs at least this many skeleton letters.
const MIN_KEY_LETTERS: usize = 3;
/// The same for a key of one token.
const MIN_SINGLE_LETTERS: usize = 4;
/// Names of at least this many tokens also give their names without one
/// token (containment keys).
const MIN_CONTAINING_TOKENS: usize = 2;
/// Documents used per subject (two keys each at most).
const MAX_DOCUMENTS: usize = 16;
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
        // Shorter first: a letter that may be unwritten on the other side
        // (Latin v for Persian و) is left out in the first variants.
        ks.sort_by_key(|k| k.len());
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

/// Skeleton letters a name without one token needs for its containment key,
/// given the letters of the token left out. Fitted to the screening score
/// (`docs/MATCHING.md`, "Name similarity" and "Calibration"): with token
/// similarities about 0.93, an extra token of mass w in the longer name
/// keeps the score above the threshold when the matched mass M satisfies
/// about M ≥ 3.6 + 0.7·w, or M ≥ 4 + 0.95·w when the extra token is the
/// last one (a family name, which the scorer penalises more). Shifted by
/// half a letter towards recall (measured: +0.006 coverage of clear-text
/// hits for +0.2 false key hits per query).
fn contained_min_letters(dropped: usize, last: bool) -> f64 {
    let w = dropped as f64;
    if last {
        3.5 + 0.95 * w
    } else {
        3.1 + 0.7 * w
    }
}

/// Enough information for a key: several tokens with a few consonants in
/// all, or one long token. "ly" (Ali) or "mhmd" alone identify nobody.
fn entropic(k: &str) -> bool {
    let n = letters(k);
    if k.contains(' ') {
        n >= MIN_KEY_LETTERS
    } else {
        n >= MIN_SINGLE_LETTERS
    }
}

/// Skeleton variants of two adjacent tokens written as one word.
fn glue(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for x in a.iter().take(2) {
        for y in b.iter().take(2) {
            let mut g = x.clone();
            for c in y.chars() {
                if !g.ends_with(c) || g.len() > x.len() {
                    g.push(c);
                }
            }
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

fn nationality(s: &HitSubject) -> Option<String> {
    let n = s.nationality.as_deref()?.trim();
    (n.len() == 2 && n.bytes().all(|b| b.is_ascii_alphabetic())).then(|| n.to_ascii_uppercase())
}

/// Which side of a hit/no-hit query a key set is for. Some keys are
/// asymmetric so that one piece of evidence yields exactly one shared key:
/// the list entry carries the neighbouring birth years, and each side
/// carries its names without one token in a space where the other side
/// carries its whole names (a middle name or patronymic present on one
/// side only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// The querier's subject.
    Query,
    /// A list holder's entry.
    Entry,
}

/// The keys of one subject, the same for both sides (no asymmetric keys:
/// birth years in two-year buckets, no containment keys): sorted,
/// deduplicated, at most [`MAX_KEYS`], deterministic. Names with no usable
/// token, unparsable dates and short document numbers contribute no key.
/// [`side_keys`] finds more true hits (see `docs/MATCHING.md`).
pub fn hit_keys(s: &HitSubject) -> Vec<HitKey> {
    derive(s, None)
}

/// The keys of one subject for one side: use [`Side::Query`] for the
/// querier's subject and [`Side::Entry`] for every list entry; query keys
/// and entry keys meet, two query key sets or two entry key sets do not
/// necessarily. Sorted, deduplicated, at most [`MAX_KEYS`], deterministic.
pub fn side_keys(s: &HitSubject, side: Side) -> Vec<HitKey> {
    derive(s, Some(side))
}

/// Tokenisations of a name: as written, and each adjacent pair glued (a
/// compound written as one word on the other side: "Noureddine" /
/// "نور الدين", "محمدجعفر" / "Mohammad Jafar").
fn tokenisations(toks: &[Vec<String>]) -> Vec<Vec<Vec<String>>> {
    let mut out = vec![toks.to_vec()];
    for g in 0..toks.len().saturating_sub(1) {
        let mut t2 = toks.to_vec();
        t2.splice(g..g + 2, [glue(&toks[g], &toks[g + 1])]);
        out.push(t2);
    }
    out
}

fn derive(s: &HitSubject, side: Option<Side>) -> Vec<HitKey> {
    // Keys in priority order; the cap keeps the first ones.
    let mut out: Vec<HitKey> = Vec::new();
    let cc = nationality(s);
    // Bounded work whatever the input: at most MAX_DOCUMENTS documents
    // (leaving room for names), and beyond MAX_KEYS names nothing fits.
    for (num, country) in s.documents.iter().take(MAX_DOCUMENTS) {
        let n = normalize_doc(num);
        if n.len() < MIN_DOC_LEN || n.len() > 64 {
            continue;
        }
        // The number alone (one key: an issuing country unknown on one
        // side) and with its country (two keys: a hit by itself).
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
    for name in s.names.iter().take(MAX_KEYS) {
        let toks = token_skeletons(name);
        if toks.is_empty() {
            continue;
        }
        let mut ks = Vec::new();
        let tks = tokenisations(&toks);
        let mut full: Vec<String> = Vec::new();
        for (ti, tk) in tks.iter().enumerate() {
            let all: Vec<&Vec<String>> = tk.iter().collect();
            let cap = if ti == 0 { MAX_FULL_VARIANTS } else { 2 };
            for f in combos(&all, cap) {
                if entropic(&f) && !full.contains(&f) {
                    full.push(f);
                }
            }
        }
        for f in &full {
            ks.push(key(KeyKind::FullName, f.as_bytes()));
            // A one-token name has no token pair to give the second key.
            if toks.len() == 1 && !f.contains(' ') {
                ks.push(key(KeyKind::FullName, format!("{f}\0solo").as_bytes()));
            }
        }
        if let Some(side) = side {
            // Containment: "A B C" on one side, "A B" on the other. Each
            // side's names without one token meet the other side's whole
            // names, in a space per direction, so that "A B C" and "A B D"
            // share nothing here.
            let (mine, theirs) = match side {
                Side::Query => ("q-1", "e-1"),
                Side::Entry => ("e-1", "q-1"),
            };
            for f in full.iter().take(MAX_FULL_VARIANTS / 2) {
                ks.push(key(KeyKind::FullName, format!("{f}\0{theirs}").as_bytes()));
                // One token has no token pair to give the second key.
                if !f.contains(' ') {
                    let v = format!("{f}\0{theirs}\0solo");
                    ks.push(key(KeyKind::FullName, v.as_bytes()));
                }
            }
            if (MIN_CONTAINING_TOKENS..=MAX_TOKENS).contains(&toks.len()) {
                for drop in 0..toks.len() {
                    let rest: Vec<&Vec<String>> = toks
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != drop)
                        .map(|x| x.1)
                        .collect();
                    let min =
                        contained_min_letters(letters(&toks[drop][0]), drop + 1 == toks.len());
                    for f in combos(&rest, 2) {
                        if letters(&f) as f64 >= min && entropic(&f) {
                            ks.push(key(KeyKind::FullName, format!("{f}\0{mine}").as_bytes()));
                            if rest.len() == 1 {
                                let v = format!("{f}\0{mine}\0solo");
                                ks.push(key(KeyKind::FullName, v.as_bytes()));
                            }
                        }
                    }
                }
            }
        }
        let fam = &toks[toks.len() - 1];
        if let Some(y) = year {
            for f in fam.iter().take(2).filter(|f| letters(f) >= 2) {
                match side {
                    // Exact year on the query, ±1 on the entry: one shared
                    // key when the years are at most one apart.
                    Some(Side::Query) => {
                        let v = format!("{f}\0y{y}");
                        ks.push(key(KeyKind::FamilyYear, v.as_bytes()));
                    }
                    Some(Side::Entry) => {
                        for d in [0, -1, 1] {
                            let v = format!("{f}\0y{}", y + d);
                            ks.push(key(KeyKind::FamilyYear, v.as_bytes()));
                        }
                    }
                    // Two buckets of two years each, offset by one: equal
                    // years share both keys, years one apart one, others
                    // none.
                    None => {
                        for (tag, b) in [("e", y.div_euclid(2)), ("o", (y + 1).div_euclid(2))] {
                            let v = format!("{f}\0{tag}{b}");
                            ks.push(key(KeyKind::FamilyYear, v.as_bytes()));
                        }
                    }
                }
            }
        }
        if let Some(c) = &cc {
            for f in fam.iter().take(2).filter(|f| letters(f) >= 2) {
                let v = format!("{f}\0{c}");
                ks.push(key(KeyKind::NameNationality, v.as_bytes()));
            }
        }
        for tk in &tks {
            // A two-token name's pair is its whole name: every variant. In
            // longer names, one variant per pair, so that one pair in
            // common does not count twice through spelling variants.
            let cap = if tk.len() == 2 { MAX_PAIR_VARIANTS } else { 1 };
            for i in 0..tk.len() {
                for j in i + 1..tk.len() {
                    for p in combos(&[&tk[i], &tk[j]], cap) {
                        if entropic(&p) {
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

    fn q(s: &HitSubject) -> Vec<HitKey> {
        side_keys(s, Side::Query)
    }

    fn e(s: &HitSubject) -> Vec<HitKey> {
        side_keys(s, Side::Entry)
    }

    #[test]
    fn cross_script_belkeziz_hits() {
        for (qn, en) in [
            ("Abdallah Belkeziz", "عبد الله بلقزاز"),
            ("BELKEZIZ, Abdallah", "عبد الله بلقزاز"),
            ("Abdellah Belkaziz", "عبد الله بلقزاز"),
            ("عبد الله بلقزاز", "Abdallah Belkeziz"),
        ] {
            let (qk, ek) = (q(&subj(&[qn])), e(&subj(&[en])));
            assert!(is_hit(&qk, &ek), "{qn} / {en}: {}", shared(&qk, &ek));
            assert!(matched_kinds(&qk, &ek).contains(&KeyKind::FullName));
            let (qk, ek) = (hit_keys(&subj(&[qn])), hit_keys(&subj(&[en])));
            assert!(is_hit(&qk, &ek), "symmetric {qn} / {en}");
        }
    }

    #[test]
    fn different_people_do_not_hit() {
        let qk = q(&subj(&["Abdallah Belkeziz"]));
        for other in [
            "Karim Haddad",
            "عبد الله حداد",
            "Ahmed Belkeziz",
            "Abdallah",
        ] {
            let ek = e(&subj(&[other]));
            assert!(!is_hit(&qk, &ek), "{other}: {:?}", matched_kinds(&qk, &ek));
        }
        // One token in common and one different: no hit either way.
        let a = subj(&["Mohammed Ali Hassan"]);
        let b = subj(&["Mohammed Ali Karim"]);
        assert!(!is_hit(&q(&a), &e(&b)));
        assert!(!is_hit(&q(&b), &e(&a)));
    }

    #[test]
    fn token_order_does_not_matter() {
        let qk = q(&subj(&["Ouyahia Ahmed"]));
        let ek = e(&subj(&["Ahmed Ouyahia"]));
        assert!(is_hit(&qk, &ek));
        let ek = e(&subj(&["احمد اويحيى"]));
        assert!(is_hit(&qk, &ek), "{:?}", matched_kinds(&qk, &ek));
    }

    #[test]
    fn extra_middle_name_hits_with_side_keys() {
        let short = subj(&["Soulmaz Abbasi"]);
        let long = subj(&["Soulmaz Abbasi Azad"]);
        assert!(is_hit(&q(&short), &e(&long)));
        assert!(is_hit(&q(&long), &e(&short)));
    }

    #[test]
    fn glued_compound_hits() {
        let qk = q(&subj(&["Noureddine Ghazouani"]));
        let ek = e(&subj(&["نور الدين الغزواني"]));
        assert!(is_hit(&qk, &ek));
    }

    fn with_year(name: &str, date: &str) -> HitSubject {
        HitSubject {
            birth_date: Some(date.to_string()),
            ..subj(&[name])
        }
    }

    #[test]
    fn birth_year_within_one() {
        // Given names differ: only the family name and the year can meet.
        let qk = q(&with_year("Karim Haddad", "1970-05-01"));
        for (date, n) in [
            ("1970", 1),
            ("1969-12-31", 1),
            ("1971-01", 1),
            ("1972", 0),
            ("1968", 0),
        ] {
            let ek = e(&with_year("Nabil Haddad", date));
            assert_eq!(shared(&qk, &ek), n, "{date}");
        }
        // Symmetric keys: two-year buckets, two keys for the same year,
        // one for a year apart, none beyond.
        let qk = hit_keys(&with_year("Karim Haddad", "1970"));
        for (date, n) in [
            ("1970", 2),
            ("1969", 1),
            ("1971", 1),
            ("1972", 0),
            ("1968", 0),
        ] {
            let ek = hit_keys(&with_year("Nabil Haddad", date));
            assert_eq!(shared(&qk, &ek), n, "{date}");
        }
        // With the full name, the year adds to a hit.
        let qk = q(&with_year("Karim Haddad", "1970"));
        let ek = e(&with_year("كريم حداد", "1971"));
        assert!(matched_kinds(&qk, &ek).contains(&KeyKind::FamilyYear));
    }

    #[test]
    fn documents() {
        let doc = |n: &str, c: Option<&str>| HitSubject {
            documents: vec![(n.to_string(), c.map(str::to_string))],
            ..subj(&["Karim Haddad"])
        };
        let nameless = |n: &str, c: Option<&str>| HitSubject {
            names: Vec::new(),
            ..doc(n, c)
        };
        // Same number and country: a hit on the document alone, whatever
        // the spacing and case of the number.
        let qk = q(&nameless("ab 123-456", Some("dz")));
        assert!(is_hit(&qk, &e(&nameless("AB123456", Some("DZ")))));
        assert_eq!(
            matched_kinds(&qk, &e(&nameless("AB123456", Some("DZ")))),
            vec![KeyKind::Document]
        );
        // Country unknown on one side: one key, a hit with the name.
        assert_eq!(shared(&qk, &e(&nameless("AB123456", None))), 1);
        assert!(is_hit(
            &q(&doc("AB123456", Some("DZ"))),
            &e(&doc("AB123456", None))
        ));
        // Other number, or same number from another country: no hit alone.
        assert_eq!(shared(&qk, &e(&nameless("AB123457", Some("DZ")))), 0);
        assert_eq!(shared(&qk, &e(&nameless("AB123456", Some("MA")))), 1);
        // Too short to identify anything.
        assert!(q(&nameless("123", Some("DZ"))).is_empty());
    }

    #[test]
    fn nationality_key() {
        let a = HitSubject {
            nationality: Some("dz".into()),
            ..subj(&["Karim Haddad"])
        };
        let b = HitSubject {
            nationality: Some("DZ".into()),
            ..subj(&["حداد"])
        };
        assert_eq!(
            matched_kinds(&q(&a), &e(&b)),
            vec![KeyKind::NameNationality]
        );
        let c = HitSubject {
            nationality: Some("MA".into()),
            ..b.clone()
        };
        assert_eq!(shared(&q(&a), &e(&c)), 0);
    }

    #[test]
    fn encoding_is_versioned_and_tagged() {
        for k in q(&with_year("Abdallah Belkeziz", "1970")) {
            assert!(k.bytes.starts_with(KEY_PREFIX));
            let rest = &k.bytes[KEY_PREFIX.len()..];
            assert!(rest.starts_with(k.kind.as_str().as_bytes()));
            assert_eq!(rest[k.kind.as_str().len()], 0);
        }
    }

    #[test]
    fn sorted_deduplicated_capped_deterministic() {
        let many: Vec<String> = (0..40)
            .map(|i| format!("Abd al-Rahman Mohammed Ahmed Khalil Othman Dhahabi{i}"))
            .collect();
        let s = HitSubject {
            names: many,
            birth_date: Some("1970".into()),
            nationality: Some("SY".into()),
            documents: vec![("N1234567".into(), Some("SY".into()))],
        };
        for side in [Some(Side::Query), Some(Side::Entry), None] {
            let k = derive(&s, side);
            assert!(k.len() <= MAX_KEYS && !k.is_empty());
            assert!(k.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(k, derive(&s, side));
            // Documents come first in priority and survive the cap.
            assert!(k.iter().any(|k| k.kind == KeyKind::Document));
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let weird = [
            "",
            " ",
            ",",
            "—",
            "x",
            "١٢٣",
            "ﷲ",
            "a b c d e f g h i j k l m n",
            "🙂 🙂",
            "ال",
            "بن",
            "Abd",
            "abu al",
            "\u{0}",
        ];
        for w in weird {
            let s = HitSubject {
                names: vec![w.to_string(), w.repeat(50)],
                birth_date: Some(w.to_string()),
                nationality: Some(w.to_string()),
                documents: vec![(w.to_string(), Some(w.to_string()))],
            };
            let k = hit_keys(&s);
            assert!(k.len() <= MAX_KEYS);
            let _ = side_keys(&s, Side::Query);
            let _ = side_keys(&s, Side::Entry);
        }
        assert!(hit_keys(&HitSubject::default()).is_empty());
        // Very many aliases or documents: bounded work, capped output.
        let s = HitSubject {
            names: vec!["Karim Haddad".to_string(); 100_000],
            documents: vec![("AB123456".to_string(), None); 100_000],
            ..Default::default()
        };
        let k = side_keys(&s, Side::Entry);
        assert!(k.len() <= MAX_KEYS);
        assert!(k.iter().any(|k| k.kind == KeyKind::FullName));
        assert_eq!(shared(&[], &[]), 0);
    }
}
