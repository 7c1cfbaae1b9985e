//! The official-list set of the evaluation (issue 16 §4): Latin names as
//! sanctions lists write them ("ABD AL-RAZZAQ", "AL-ZAWAHIRI, Aiman
//! Muhammad Rabi") ranked against Arabic names.
//!
//! Built at evaluation time from `watchlists/` beside the names directory
//! (never by the crate's tests), with the list importers of tansiq-lists:
//!
//! - every UN individual whose `NAME_ORIGINAL_SCRIPT` is Arabic gives its
//!   Latin names as queries — FIRST_NAME … FOURTH_NAME in order (the
//!   importer's primary name) and its aliases of quality Good — with the
//!   Arabic original as the true match;
//! - every OFAC individual linked to exactly one UN individual gives its
//!   names and a.k.a.s (not the weak ones) as further queries for that
//!   person. Linked: a document number in common (5 characters or more), or
//!   a birth date in common (a year-only date agrees with any date of that
//!   year) and at least two name words in common after a plain fold
//!   (lower-case ASCII, words of three letters or more, particles left
//!   out) — a rule independent of the matcher, so the set does not favour
//!   what the matcher already finds;
//! - OFAC individuals linked to no UN individual are Latin-side
//!   distractors: other people, who should not hit a UN Arabic name;
//! - the gallery is every UN Arabic original plus the Arabic names of the
//!   Wikidata dev set (a realistic crowd; the Wikidata names are all
//!   negatives here). A gallery name that normalises exactly like the
//!   truth is true too.
//!
//! A query is a **spelling** of the original when every one of its
//! words (particles and articles left out) has a consonant skeleton
//! found in the person's UN primary name (vowels, w, y and doubled
//! letters dropped, q read k: Husayn / Hussein `hsn`): the same name,
//! whole or shortened, in another spelling. The other queries hold at
//! least one other name (a kunya "Abu Jihad", a nom de guerre, a tribal
//! name added), which no spelling rule can find. Halves (`--half`) split by person (the UN reference), so no
//! person's spellings are on both sides.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;
use tansiq_lists::{import_with_options, EntryKind, Format, ImportOptions, ImportedEntry};

/// Imports a list leniently (the 2022 OFAC copy repeats an ent_num), and
/// says how many rows were left out.
fn import(format: Format, path: &Path) -> Result<Vec<ImportedEntry>, String> {
    let options = ImportOptions { skip_invalid: true };
    let imported =
        import_with_options(format, path, options, &|_, _| {}).map_err(|e| e.to_string())?;
    if !imported.skipped.is_empty() {
        eprintln!(
            "{}: {} invalid rows or entries skipped",
            path.display(),
            imported.skipped.len()
        );
    }
    Ok(imported.entries)
}

/// Where a query comes from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Source {
    UnPrimary,
    UnAlias,
    Ofac,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::UnPrimary => "UN primary",
            Source::UnAlias => "UN alias",
            Source::Ofac => "OFAC",
        }
    }
}

pub struct Query {
    pub text: String,
    /// Gallery indices of the true matches.
    pub rel: Vec<u32>,
    pub source: Source,
    pub spelling: bool,
    pub half: u8,
}

pub struct OfficialSet {
    pub queries: Vec<Query>,
    pub gallery: Vec<String>,
    /// The first `un_gallery` gallery names are UN originals; the rest are
    /// Wikidata names.
    pub un_gallery: usize,
    /// Names of OFAC individuals linked to no UN individual.
    pub distractors: Vec<(String, u8)>,
    pub un_persons: usize,
    pub linked_ofac: usize,
    pub ambiguous_ofac: usize,
    /// Wikidata names left out of the gallery as short forms of a UN name.
    pub short_forms: usize,
}

fn is_arabic(c: char) -> bool {
    matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

struct Person {
    reference: String,
    latin: Vec<String>,
    arabic: Option<String>,
    dates: Vec<String>,
    docs: Vec<String>,
    words: HashSet<String>,
}

const PARTICLES: &[&str] = &[
    "al", "el", "ad", "ar", "as", "at", "an", "az", "ash", "ul", "abd", "abu", "abou", "bin",
    "ben", "ibn", "bint", "ould", "walad", "aka", "the", "dr", "haji", "hajji", "mullah",
    "maulavi", "mawlawi", "sheikh", "shaykh", "qari", "mufti",
];

/// Lower-case ASCII words (any_ascii fold), particles left out.
fn words(name: &str) -> Vec<String> {
    any_ascii::any_ascii(name)
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && !PARTICLES.contains(w))
        .map(String::from)
        .collect()
}

/// Consonant skeleton of a folded word: vowels, w and y dropped, q read k,
/// doubled letters collapsed ("hussein" and "husayn" → "hsn").
fn skeleton(w: &str) -> String {
    let mut out = String::new();
    for c in w.chars() {
        if "aeiouwy".contains(c) {
            continue;
        }
        let c = if c == 'q' { 'k' } else { c };
        if out.ends_with(c) {
            continue;
        }
        out.push(c);
    }
    out
}

fn person(reference: String, data: &Value) -> Person {
    let mut latin = Vec::new();
    let mut arabic = None;
    // An alias field may hold several spellings: "Abdul Rehman; Abdur Rahman".
    let names: Vec<String> = strings(data, "names")
        .iter()
        .flat_map(|n| n.split(';'))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    for n in names {
        if n.chars().any(is_arabic) {
            arabic.get_or_insert(n);
        } else if n.chars().any(|c| c.is_ascii_alphabetic()) {
            latin.push(n);
        }
    }
    let mut dates = strings(data, "birth_date");
    dates.extend(strings(data, "birth_dates"));
    dates.sort();
    dates.dedup();
    let docs = data
        .get("documents")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|d| d.get("number").and_then(Value::as_str))
                .map(|n| {
                    n.chars()
                        .filter(char::is_ascii_alphanumeric)
                        .collect::<String>()
                        .to_uppercase()
                })
                .filter(|n| n.len() >= 5)
                .collect()
        })
        .unwrap_or_default();
    let words = latin
        .iter()
        .flat_map(|n| words(n))
        .filter(|w| w.len() >= 3)
        .collect();
    Person {
        reference,
        latin,
        arabic,
        dates,
        docs,
        words,
    }
}

/// The words of an Arabic name, normalised, without the article, alif
/// and the particles بن ابن بنت ولد (for telling a short form of a name).
fn arabic_words(name: &str) -> HashSet<String> {
    tansiq_match::normalize(name)
        .split_whitespace()
        .filter(|w| !matches!(*w, "بن" | "ابن" | "بنت" | "ولد"))
        .map(|w| {
            let w = w
                .strip_prefix("ال")
                .filter(|r| r.chars().count() >= 2)
                .unwrap_or(w);
            w.chars().filter(|&c| c != 'ا').collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn dates_agree(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| {
        b.iter().any(|y| {
            x == y
                || (x.len() == 4 && y.starts_with(x.as_str()))
                || (y.len() == 4 && x.starts_with(y.as_str()))
        })
    })
}

fn linked(u: &Person, o: &Person) -> bool {
    if u.docs.iter().any(|d| o.docs.contains(d)) {
        return true;
    }
    dates_agree(&u.dates, &o.dates) && u.words.intersection(&o.words).count() >= 2
}

/// FNV-1a, top bit (the same split as the other sets' `half_of`).
pub fn half_of(s: &str) -> u8 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 63) as u8
}

fn is_spelling(query: &str, primary: &str) -> bool {
    let have: HashSet<String> = words(primary)
        .iter()
        .map(|w| skeleton(w))
        .filter(|s| !s.is_empty())
        .collect();
    let q: Vec<String> = words(query)
        .iter()
        .map(|w| skeleton(w))
        .filter(|s| !s.is_empty())
        .collect();
    !q.is_empty() && q.iter().all(|s| have.contains(s))
}

/// Builds the set from `watchlists_dir` (holding `un/` and `ofac/`) and the
/// Arabic names of the Wikidata dev set.
pub fn build(watchlists_dir: &Path, wikidata_arabic: &[String]) -> Result<OfficialSet, String> {
    let un_path = watchlists_dir.join("un/consolidated-2018-10-29.xml");
    let ofac_path = watchlists_dir.join("ofac/sdn.csv");
    let un = import(Format::UnXml, &un_path)?;
    let ofac = import(Format::OfacCsv, &ofac_path)?;
    let un: Vec<Person> = un
        .into_iter()
        .filter(|e| e.kind == EntryKind::Person)
        .map(|e| person(e.source_ref, &e.data))
        .collect();
    let ofac: Vec<Person> = ofac
        .into_iter()
        .filter(|e| e.kind == EntryKind::Person)
        .map(|e| {
            // Strong names only (weak a.k.a.s are in weak_names).
            person(e.source_ref, &e.data)
        })
        .collect();

    // Gallery: UN originals, then Wikidata names not already there.
    let mut gallery: Vec<String> = Vec::new();
    let mut gidx: HashMap<String, u32> = HashMap::new();
    let mut add = |g: &mut Vec<String>, s: &str| -> u32 {
        *gidx.entry(s.to_string()).or_insert_with(|| {
            g.push(s.to_string());
            (g.len() - 1) as u32
        })
    };
    let mut truth: Vec<Option<u32>> = Vec::new();
    for p in &un {
        truth.push(p.arabic.as_ref().map(|a| add(&mut gallery, a)));
    }
    let un_gallery = gallery.len();
    // A Wikidata name all of whose words are words of one UN original, up
    // to the article and alif ("انور العولقي" beside "انور ناصر عبدالله
    // العولقي", "ابراهيم عسيري" beside "ابراهيم حسن طالع العسيري") is that person's
    // short name or another person's of the same short name: no fair
    // negative either way, so it is left out of the crowd.
    let originals: Vec<HashSet<String>> = gallery.iter().map(|g| arabic_words(g)).collect();
    let mut short_forms = 0;
    for w in wikidata_arabic {
        let words = arabic_words(w);
        if !words.is_empty() && originals.iter().any(|o| words.is_subset(o)) {
            short_forms += 1;
            continue;
        }
        add(&mut gallery, w);
    }
    // Gallery names that normalise like each truth are true too.
    let mut by_norm: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, g) in gallery.iter().enumerate() {
        by_norm
            .entry(tansiq_match::normalize(g))
            .or_default()
            .push(i as u32);
    }

    // Link OFAC individuals to UN individuals.
    let mut ofac_of: Vec<Vec<usize>> = vec![Vec::new(); un.len()];
    let mut distractors = Vec::new();
    let mut linked_ofac = 0;
    let mut ambiguous_ofac = 0;
    for (oi, o) in ofac.iter().enumerate() {
        let hits: Vec<usize> = (0..un.len()).filter(|&u| linked(&un[u], o)).collect();
        match hits.len() {
            0 => {
                let h = half_of(&o.reference);
                distractors.extend(o.latin.iter().map(|n| (n.clone(), h)));
            }
            1 => {
                linked_ofac += 1;
                ofac_of[hits[0]].push(oi);
            }
            _ => ambiguous_ofac += 1,
        }
    }

    let mut queries: Vec<Query> = Vec::new();
    let mut qidx: HashMap<String, usize> = HashMap::new();
    let mut un_persons = 0;
    for (u, p) in un.iter().enumerate() {
        let (Some(t), Some(primary)) = (truth[u], p.latin.first()) else {
            continue;
        };
        un_persons += 1;
        let rel: Vec<u32> = by_norm
            .get(&tansiq_match::normalize(&gallery[t as usize]))
            .cloned()
            .unwrap_or_else(|| vec![t]);
        let half = half_of(&p.reference);
        let mut names: Vec<(String, Source)> = Vec::new();
        for (i, n) in p.latin.iter().enumerate() {
            let s = if i == 0 {
                Source::UnPrimary
            } else {
                Source::UnAlias
            };
            names.push((n.clone(), s));
        }
        for &o in &ofac_of[u] {
            for n in &ofac[o].latin {
                names.push((n.clone(), Source::Ofac));
            }
        }
        for (n, source) in names {
            match qidx.get(&n) {
                Some(&qi) => {
                    for r in &rel {
                        if !queries[qi].rel.contains(r) {
                            queries[qi].rel.push(*r);
                        }
                    }
                }
                None => {
                    qidx.insert(n.clone(), queries.len());
                    queries.push(Query {
                        spelling: is_spelling(&n, primary),
                        text: n,
                        rel: rel.clone(),
                        source,
                        half,
                    });
                }
            }
        }
    }
    Ok(OfficialSet {
        queries,
        gallery,
        un_gallery,
        distractors,
        un_persons,
        linked_ofac,
        ambiguous_ofac,
        short_forms,
    })
}
