//! tansiq-match: cross-script (Arabic ↔ Latin) person-name matching for
//! watchlist screening. Pure: no storage, no IO.
//!
//! - [`normalize`]: the documented character normalisation;
//! - [`name_keys`]: the consonant-class skeleton keys shared by both scripts;
//! - [`score_names`]: name-only similarity;
//! - [`Index`]: a blocking index over watchlist [`Entry`]s, screened by
//!   [`Query`]s into calibrated, explained [`Hit`]s.
//!
//! The algorithm, the tables and the evaluation are described in
//! `docs/MATCHING.md`.

pub mod hitkeys;
mod index;
mod normalize;
mod parse;
pub mod phonetic;
mod score;

use serde::{Deserialize, Serialize};

pub use index::Index;
pub use normalize::normalize;

/// Default decision threshold on [`Hit::score`]. A score is a calibrated
/// probability-like figure; at this threshold the name evidence alone
/// corresponds to "same name, differently spelled" (see `docs/MATCHING.md`
/// for the measured false-positive rate).
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// An identity document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// "passport", "national_id", … (free text, compared case-insensitively).
    #[serde(rename = "type", alias = "doc_type", default)]
    pub doc_type: String,
    pub number: String,
    /// ISO 3166-1 alpha-2 issuing country.
    #[serde(default)]
    pub country: Option<String>,
}

/// Accepts either one string or an array of strings.
fn one_or_many<'de, D>(d: D) -> Result<Vec<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
        Null(()),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
        OneOrMany::Null(()) => Vec::new(),
    })
}

/// A watchlist entry. In JSON, `birth_dates` may also be spelled
/// `birth_date`, and it and `nationality` may be one string or an array.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    /// Names in any script.
    pub names: Vec<String>,
    /// Low-quality aliases, weighted lower.
    #[serde(default)]
    pub weak_names: Vec<String>,
    /// "YYYY", "YYYY-MM" or "YYYY-MM-DD".
    #[serde(default, alias = "birth_date", deserialize_with = "one_or_many")]
    pub birth_dates: Vec<String>,
    /// ISO 3166-1 alpha-2 codes.
    #[serde(default, deserialize_with = "one_or_many")]
    pub nationality: Vec<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// A name to screen, with optional attributes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub birth_date: Option<String>,
    /// One string or an array in JSON.
    #[serde(default, deserialize_with = "one_or_many")]
    pub nationality: Vec<String>,
    #[serde(default)]
    pub gender: Option<String>,
    #[serde(default)]
    pub documents: Vec<Document>,
}

/// A screening hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub entry_id: String,
    /// Calibrated score in [0, 1]; comparable across queries.
    pub score: f64,
    /// The entry's name (as given) that matched best.
    pub matched_name: String,
    /// A short human explanation.
    pub explanation: String,
}

/// The skeleton keys of a name: for each canonical token (particles and
/// articles dropped, abd/abu compounds joined) its consonant-class
/// skeleton, the tokens sorted, joined by spaces. Letters whose
/// transcription diverges (ث t/s, ذ ض d/z, ظ z/d, ج j/g…) give several
/// keys. At most 16 keys are returned.
///
/// ```
/// let k = tansiq_match::name_keys("عبد الله بلقزاز");
/// assert!(k.contains(&"bdl blkz".to_string()));
/// assert!(tansiq_match::name_keys("BELKEZIZ, Abdallah").contains(&"bdl blkz".to_string()));
/// ```
pub fn name_keys(name: &str) -> Vec<String> {
    let p = parse::parse(name);
    let mut per_tok: Vec<Vec<String>> = Vec::new();
    for t in &p.toks {
        if t.kind != parse::Kind::Name {
            continue;
        }
        let mut ks: Vec<String> = Vec::new();
        for f in &t.forms {
            ks.extend(phonetic::skeletons(f));
        }
        ks.retain(|k| !k.is_empty());
        ks.sort();
        ks.dedup();
        if !ks.is_empty() {
            per_tok.push(ks);
        }
    }
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    for ks in &per_tok {
        let mut next = Vec::new();
        for c in &combos {
            for k in ks {
                let mut c2 = c.clone();
                c2.push(k.clone());
                next.push(c2);
                if next.len() >= 16 {
                    break;
                }
            }
            if next.len() >= 16 {
                break;
            }
        }
        combos = next;
    }
    let mut out: Vec<String> = combos
        .into_iter()
        .filter(|c| !c.is_empty())
        .map(|mut c| {
            c.sort();
            c.join(" ")
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Name-only similarity in [0, 1]: the calibrated score two names get with
/// no other evidence (the same scale as [`Hit::score`]).
pub fn score_names(a: &str, b: &str) -> f64 {
    let pa = parse::parse(a);
    let pb = parse::parse(b);
    let ta: Vec<&parse::PTok> = pa.toks.iter().collect();
    let tb: Vec<&parse::PTok> = pb.toks.iter().collect();
    let ns = score::align(&ta, &tb, |i, j| score::tok_sim(ta[i], tb[j]));
    if ns.pairs.is_empty() {
        return 0.0;
    }
    score::sigmoid(score::name_logit(&ns))
}

/// Explain how two names were aligned (token pairs and similarities).
pub fn explain_names(a: &str, b: &str) -> String {
    let pa = parse::parse(a);
    let pb = parse::parse(b);
    let ta: Vec<&parse::PTok> = pa.toks.iter().collect();
    let tb: Vec<&parse::PTok> = pb.toks.iter().collect();
    let ns = score::align(&ta, &tb, |i, j| score::tok_sim(ta[i], tb[j]));
    format!(
        "name {:.2} ({})",
        ns.sim,
        score::explain_pairs(&pa.toks, &pb.toks, &ns)
    )
}

/// The canonical tokens of a name with their phonetic transcriptions, for
/// debugging ("abd+lah=abdlH/a belkeziz=belkeziz").
pub fn debug_tokens(name: &str) -> String {
    parse::parse(name)
        .toks
        .iter()
        .map(|t| {
            let forms: Vec<String> = t.forms.iter().map(|f| phonetic::render(f)).collect();
            format!("{}={}", t.text, forms.join("|"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}
