//! Records: the signed, versioned unit of intelligence.
//!
//! A record version is a [`RecordBody`] signed by its originator over the
//! RFC 8785 canonical JSON of the body, prefixed by the context string
//! `tansiq/record/v1` (see docs/PROTOCOL.md). Only the originator makes new
//! versions; a retraction is a signed tombstone version with no data.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::country::parse_country;
use crate::error::Invalid;
use crate::handling::Handling;
use crate::time::check_partial_date;

/// Signature context for record versions.
pub const RECORD_CONTEXT: &str = "tansiq/record/v1";
/// Largest accepted record data, as canonical JSON bytes.
pub const MAX_DATA_BYTES: usize = 256 * 1024;
/// Largest number of links on one record version.
pub const MAX_LINKS: usize = 1000;

/// At most this many `derived_from` links on one record version: every
/// source, and what it derives from in turn, is checked under the
/// third-party rule by the sender and again by each receiver.
pub const MAX_DERIVED_FROM: usize = 64;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $( #[serde(rename = $s)] $variant ),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                let l = s.trim().to_ascii_lowercase();
                $name::ALL.iter().copied().find(|k| k.as_str() == l).ok_or_else(|| {
                    let all: Vec<&str> = $name::ALL.iter().map(|k| k.as_str()).collect();
                    Invalid::new(format!("{s:?} is not a {}: use one of {}", $what, all.join(", ")))
                })
            }
        }
    };
}

string_enum!(
    /// What a record describes.
    Kind, "record kind", {
        Person = "person",
        Organization = "organization",
        Network = "network",
        Location = "location",
        Incident = "incident",
        Document = "document",
        Note = "note",
        Message = "message",
    }
);

string_enum!(
    /// Typed links between records.
    LinkType, "link type", {
        MemberOf = "member_of",
        Leads = "leads",
        RecruitsFor = "recruits_for",
        Finances = "finances",
        SmugglesWith = "smuggles_with",
        LocatedIn = "located_in",
        OperatesIn = "operates_in",
        SuccessorOf = "successor_of",
        AliasOf = "alias_of",
        RelatedTo = "related_to",
        DerivedFrom = "derived_from",
    }
);

/// A typed, optionally dated link from this record to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub rel: LinkType,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Link {
    pub fn validate(&self) -> Result<(), Invalid> {
        crate::ids::check_id("target", &self.target)?;
        for (f, d) in [("from", &self.from), ("until", &self.until)] {
            if let Some(d) = d {
                check_partial_date(d).map_err(|e| e.at(f))?;
            }
        }
        if let (Some(a), Some(b)) = (&self.from, &self.until) {
            if a > b {
                return Err(Invalid::new(format!(
                    "link starts ({a}) after it ends ({b})"
                )));
            }
        }
        check_text("note", self.note.as_deref(), 2000)
    }

    /// Parses the CLI form `REL:TARGET[:FROM[:UNTIL]]`.
    pub fn parse_cli(s: &str) -> Result<Link, Invalid> {
        let mut parts = s.split(':');
        let rel = parts.next().unwrap_or_default().parse::<LinkType>()?;
        let target = parts
            .next()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Invalid::new(format!("link {s:?}: expected REL:TARGET[:FROM[:UNTIL]]")))?
            .to_string();
        let opt = |p: Option<&str>| p.filter(|x| !x.is_empty()).map(str::to_string);
        let link = Link {
            rel,
            target,
            from: opt(parts.next()),
            until: opt(parts.next()),
            note: None,
        };
        if parts.next().is_some() {
            return Err(Invalid::new(format!(
                "link {s:?}: expected REL:TARGET[:FROM[:UNTIL]]"
            )));
        }
        link.validate()?;
        Ok(link)
    }
}

fn check_text(field: &str, s: Option<&str>, max: usize) -> Result<(), Invalid> {
    if let Some(s) = s {
        if s.chars().count() > max {
            return Err(Invalid::new(format!("longer than {max} characters")).at(field));
        }
        if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
            return Err(Invalid::new("contains control characters").at(field));
        }
    }
    Ok(())
}

fn check_names(field: &str, names: &[String], required: bool) -> Result<(), Invalid> {
    if required && names.iter().all(|n| n.trim().is_empty()) {
        return Err(Invalid::new("at least one non-empty name is required").at(field));
    }
    if names.len() > 200 {
        return Err(Invalid::new("more than 200 names").at(field));
    }
    for n in names {
        if n.trim().is_empty() {
            return Err(Invalid::new("empty name").at(field));
        }
        check_text(field, Some(n), 300)?;
    }
    Ok(())
}

fn check_countries(field: &str, cs: &mut [String]) -> Result<(), Invalid> {
    for c in cs.iter_mut() {
        *c = parse_country(c).map_err(|e| e.at(field))?;
    }
    Ok(())
}

fn check_date(field: &str, d: Option<&str>) -> Result<(), Invalid> {
    d.map(|d| check_partial_date(d).map_err(|e| e.at(field)))
        .unwrap_or(Ok(()))
}

/// Identity and travel documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    #[serde(rename = "type")]
    pub doc_type: String,
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Where a watchlist entry comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listing {
    pub list: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `active` (default) or `delisted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonData {
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weak_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub birth_dates: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_place: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nationality: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Organizations, networks and locations share one shape: names plus
/// where they are and what they do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupData {
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weak_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub founded: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dissolved: Option<String>,
    /// Networks: what the network does (recruitment, arms smuggling…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
    /// Networks: routes as free text or place names ("Tamanrasset → Gao").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
    /// Locations: WGS84 latitude and longitude.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinates: Option<[f64; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Incidents, documents, notes and messages: a title and/or text.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Incidents: when it happened (date or date-time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub country: Vec<String>,
    /// Documents: reference number, language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

fn parse_as<T: serde::de::DeserializeOwned>(kind: Kind, data: &Value) -> Result<T, Invalid> {
    if !data.is_object() {
        return Err(Invalid::new(format!(
            "record data must be a JSON object, got {}",
            json_type(data)
        )));
    }
    serde_json::from_value(data.clone()).map_err(|e| Invalid::new(format!("{kind} data: {e}")))
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Validates record data against its kind's schema (docs/RECORDS.md) and
/// returns it in normal form (country codes upper-cased, no nulls).
pub fn validate_data(kind: Kind, data: &Value) -> Result<Value, Invalid> {
    let normal = match kind {
        Kind::Person => {
            let mut p: PersonData = parse_as(kind, data)?;
            check_names("names", &p.names, true)?;
            check_names("weak_names", &p.weak_names, false)?;
            check_date("birth_date", p.birth_date.as_deref())?;
            for d in &p.birth_dates {
                check_date("birth_dates", Some(d))?;
            }
            check_countries("nationality", &mut p.nationality)?;
            if let Some(g) = &p.gender {
                if !matches!(g.as_str(), "male" | "female" | "unknown") {
                    return Err(Invalid::new(format!(
                        "{g:?} is not a gender: use male, female or unknown"
                    ))
                    .at("gender"));
                }
            }
            for d in p.documents.iter_mut() {
                check_text("documents.type", Some(&d.doc_type), 100)?;
                check_text("documents.number", Some(&d.number), 100)?;
                if d.number.trim().is_empty() {
                    return Err(Invalid::new("empty document number").at("documents"));
                }
                if let Some(c) = &d.country {
                    d.country = Some(parse_country(c).map_err(|e| e.at("documents.country"))?);
                }
            }
            check_listing(p.listing.as_ref())?;
            check_text("birth_place", p.birth_place.as_deref(), 300)?;
            check_text("notes", p.notes.as_deref(), 20_000)?;
            serde_json::to_value(p)
        }
        Kind::Organization | Kind::Network | Kind::Location => {
            let mut g: GroupData = parse_as(kind, data)?;
            check_names("names", &g.names, true)?;
            check_names("weak_names", &g.weak_names, false)?;
            check_countries("country", &mut g.country)?;
            check_date("founded", g.founded.as_deref())?;
            check_date("dissolved", g.dissolved.as_deref())?;
            if let Some([lat, lon]) = g.coordinates {
                if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                    return Err(Invalid::new(
                        "latitude must be in [-90, 90] and longitude in [-180, 180]",
                    )
                    .at("coordinates"));
                }
            }
            for r in &g.routes {
                check_text("routes", Some(r), 1000)?;
            }
            check_listing(g.listing.as_ref())?;
            check_text("activity", g.activity.as_deref(), 300)?;
            check_text("notes", g.notes.as_deref(), 20_000)?;
            serde_json::to_value(g)
        }
        Kind::Incident | Kind::Document | Kind::Note | Kind::Message => {
            let mut t: TextData = parse_as(kind, data)?;
            let needs = match kind {
                Kind::Incident | Kind::Document => t.title.is_some(),
                _ => t.text.is_some(),
            };
            if !needs {
                let f = if matches!(kind, Kind::Incident | Kind::Document) {
                    "title"
                } else {
                    "text"
                };
                return Err(Invalid::new(format!("{kind} data needs a \"{f}\"")));
            }
            check_text("title", t.title.as_deref(), 500)?;
            check_text("text", t.text.as_deref(), 100_000)?;
            check_text("place", t.place.as_deref(), 300)?;
            check_countries("country", &mut t.country)?;
            if let Some(at) = &t.occurred_at {
                if check_partial_date(at).is_err() {
                    crate::time::parse_instant(at).map_err(|e| e.at("occurred_at"))?;
                }
            }
            serde_json::to_value(t)
        }
    }
    .map_err(|e| Invalid::new(format!("record data: {e}")))?;
    let size = serde_json::to_vec(&normal)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > MAX_DATA_BYTES {
        return Err(Invalid::new(format!(
            "record data is {size} bytes; the limit is {MAX_DATA_BYTES} bytes (256 KiB)"
        )));
    }
    Ok(normal)
}

fn check_listing(l: Option<&Listing>) -> Result<(), Invalid> {
    if let Some(l) = l {
        check_text("listing.list", Some(&l.list), 100)?;
        check_date("listing.listed_on", l.listed_on.as_deref())?;
        check_text("listing.reason", l.reason.as_deref(), 20_000)?;
        if let Some(s) = &l.status {
            if !matches!(s.as_str(), "active" | "delisted") {
                return Err(Invalid::new("use active or delisted").at("listing.status"));
            }
        }
    }
    Ok(())
}

/// All names a record is known by (primary first), for search and
/// screening. Empty for kinds without names.
pub fn names_of(data: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["names", "weak_names"] {
        if let Some(Value::Array(a)) = data.get(key) {
            out.extend(a.iter().filter_map(|v| v.as_str()).map(str::to_string));
        }
    }
    if out.is_empty() {
        if let Some(t) = data.get("title").and_then(|v| v.as_str()) {
            out.push(t.to_string());
        }
    }
    out
}

/// The search-index forms of every name in a record's data.
pub fn search_names(data: &Value) -> Vec<String> {
    names_of(data).iter().map(|n| search_norm(n)).collect()
}

/// Normalised form of a name for the search index: lowercase with
/// collapsed spaces (the matching engine does the cross-script work).
pub fn search_norm(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The signed content of one record version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    pub id: String,
    pub version: u64,
    pub kind: Kind,
    pub originator: String,
    pub channel: String,
    /// The channel's members when this version was signed (sorted): the
    /// audience the originator meant, bound into the signature.
    pub members: Vec<String>,
    pub file: String,
    pub handling: Handling,
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub data: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retracted: bool,
}

impl RecordBody {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("record bodies always serialise")
    }

    /// Structural checks any receiver applies before trusting a body:
    /// [`RecordBody::validate_structure`] plus the data schema.
    pub fn validate(&self) -> Result<(), Invalid> {
        self.validate_structure()?;
        if !self.retracted {
            validate_data(self.kind, &self.data)?;
        }
        Ok(())
    }

    /// Everything but the data schema (for bodies whose data was just
    /// produced by [`validate_data`]).
    pub fn validate_structure(&self) -> Result<(), Invalid> {
        crate::ids::check_id("id", &self.id)?;
        crate::ids::check_id("originator", &self.originator)?;
        // The id names its owner: no other node may sign a version of it.
        if crate::ids::record_id_owner(&self.id) != Some(self.originator.as_str()) {
            return Err(Invalid::new(format!(
                "record {} does not belong to {} (a record id ends with its originator's node id)",
                self.id, self.originator
            ))
            .at("id"));
        }
        crate::ids::check_id("channel", &self.channel)?;
        crate::ids::check_id("file", &self.file)?;
        if self.version == 0 {
            return Err(Invalid::new("versions start at 1"));
        }
        crate::time::parse_instant(&self.created).map_err(|e| e.at("created"))?;
        if let Some(e) = &self.expires {
            crate::time::parse_instant(e).map_err(|e| e.at("expires"))?;
        }
        check_link_list(&self.links)?;
        if self.retracted
            && (self.data != Value::Object(Default::default()) || !self.links.is_empty())
        {
            return Err(Invalid::new("a retraction carries no data and no links"));
        }
        Ok(())
    }
}

/// The bounds on a record's links (count, `derived_from` count) and each
/// link's own checks — before any link is looked up.
pub fn check_link_list(links: &[Link]) -> Result<(), Invalid> {
    if links.len() > MAX_LINKS {
        return Err(Invalid::new(format!("more than {MAX_LINKS} links")));
    }
    let derived = links
        .iter()
        .filter(|l| l.rel == LinkType::DerivedFrom)
        .count();
    if derived > MAX_DERIVED_FROM {
        return Err(Invalid::new(format!(
            "more than {MAX_DERIVED_FROM} derived_from links (each source is checked under the third-party rule)"
        ))
        .at("links"));
    }
    for l in links {
        l.validate().map_err(|e| e.at("links"))?;
    }
    Ok(())
}

/// A record body with its originator's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRecord {
    pub body: RecordBody,
    /// Ed25519 signature, URL-safe base64 without padding.
    pub sig: String,
}

impl SignedRecord {
    pub fn sign(body: RecordBody, id: &tansiq_crypto::Identity) -> SignedRecord {
        let sig = id
            .sign_json(RECORD_CONTEXT, &body.to_value())
            .expect("record bodies contain only canonicalisable JSON");
        SignedRecord {
            body,
            sig: tansiq_crypto::b64(sig),
        }
    }

    /// [`SignedRecord::sign`] that also returns the content hash, from one
    /// canonical encoding (bulk paths encode each body once).
    pub fn sign_hashed(body: RecordBody, id: &tansiq_crypto::Identity) -> (SignedRecord, [u8; 32]) {
        let canon = tansiq_crypto::canonical_json(&body.to_value())
            .expect("record bodies contain only canonicalisable JSON");
        let sig = id.sign(RECORD_CONTEXT, &canon);
        let hash = tansiq_crypto::sha256(&canon);
        (
            SignedRecord {
                body,
                sig: tansiq_crypto::b64(sig),
            },
            hash,
        )
    }

    /// Checks the originator's signature with its public signing key.
    pub fn verify(&self, originator_key: &[u8; 32]) -> Result<(), Invalid> {
        let sig = decode_sig(&self.sig)?;
        tansiq_crypto::verify_json(originator_key, RECORD_CONTEXT, &self.body.to_value(), &sig)
            .map_err(|_| Invalid::new(format!("record {}: bad originator signature", self.body.id)))
    }

    /// SHA-256 of the canonical signed body: names this exact version.
    pub fn content_hash(&self) -> [u8; 32] {
        tansiq_crypto::sha256(&self.canonical_body())
    }

    /// The canonical (RFC 8785) body: the message the originator signed
    /// under [`RECORD_CONTEXT`], and what [`SignedRecord::content_hash`]
    /// hashes.
    pub fn canonical_body(&self) -> Vec<u8> {
        tansiq_crypto::canonical_json(&self.body.to_value())
            .expect("record bodies contain only canonicalisable JSON")
    }
}

pub fn decode_sig(s: &str) -> Result<[u8; 64], Invalid> {
    tansiq_crypto::b64_decode(s)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v.as_slice()).ok())
        .ok_or_else(|| Invalid::new("signature is not 64 bytes of URL-safe base64"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(kind: &str, data: Value, expect_ok: bool, needle: &str) {
        let kind: Kind = kind.parse().unwrap();
        let r = validate_data(kind, &data);
        match (r, expect_ok) {
            (Ok(_), true) => {}
            (Err(e), false) => assert!(e.0.contains(needle), "{data}: {e} lacks {needle:?}"),
            (r, _) => panic!("{data}: unexpected {r:?}"),
        }
    }

    #[test]
    fn data_validation_table() {
        check(
            "person",
            json!({"names": ["عبد الله بلقزاز", "Abdallah Belkeziz"]}),
            true,
            "",
        );
        check(
            "person",
            json!({"names": ["A"], "birth_date": "1962-02-01", "nationality": ["dz"], "gender": "male",
            "documents": [{"type": "passport", "number": "X1", "country": "DZ"}]}),
            true,
            "",
        );
        check("person", json!({"names": []}), false, "at least one");
        check("person", json!({"name": "x"}), false, "unknown field");
        check("person", json!({"names": "Ali"}), false, "invalid type");
        check(
            "person",
            json!({"names": ["A"], "birth_date": "1962-13-01"}),
            false,
            "birth_date",
        );
        check(
            "person",
            json!({"names": ["A"], "nationality": ["XX"]}),
            false,
            "nationality",
        );
        check(
            "person",
            json!({"names": ["A"], "gender": "m"}),
            false,
            "gender",
        );
        check("person", json!([1]), false, "must be a JSON object");
        check(
            "organization",
            json!({"names": ["GSPC"], "country": ["DZ"]}),
            true,
            "",
        );
        check(
            "organization",
            json!({"names": ["AQIM"], "founded": "2007-01"}),
            true,
            "",
        );
        check(
            "network",
            json!({"names": ["Sahel route"], "routes": ["Tamanrasset - Gao"]}),
            true,
            "",
        );
        check(
            "location",
            json!({"names": ["Oujda"], "coordinates": [34.68, -1.91]}),
            true,
            "",
        );
        check(
            "location",
            json!({"names": ["X"], "coordinates": [134.0, 0.0]}),
            false,
            "coordinates",
        );
        check(
            "incident",
            json!({"title": "Casablanca bombings", "occurred_at": "2003-05-16"}),
            true,
            "",
        );
        check("incident", json!({"text": "no title"}), false, "title");
        check("note", json!({"text": "hello"}), true, "");
        check(
            "document",
            json!({"title": "Report", "reference": "R-1"}),
            true,
            "",
        );
    }

    #[test]
    fn normal_form_uppercases_countries() {
        let v = validate_data(
            Kind::Person,
            &json!({"names": ["A"], "nationality": ["ma"]}),
        )
        .unwrap();
        assert_eq!(v, json!({"names": ["A"], "nationality": ["MA"]}));
    }

    #[test]
    fn oversized_data_is_refused() {
        // 90,000 three-byte characters: within the text limit, over 256 KiB.
        let v = json!({"text": "€".repeat(90_000)});
        let e = validate_data(Kind::Note, &v)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(e.contains("limit is 262144 bytes"), "{e}");
        let v = json!({"text": "€".repeat(80_000)});
        assert!(validate_data(Kind::Note, &v).is_ok());
    }

    #[test]
    fn links_parse() {
        let l = Link::parse_cli("successor_of:rec_abc:2007-01-24").unwrap();
        assert_eq!(l.rel, LinkType::SuccessorOf);
        assert_eq!(l.from.as_deref(), Some("2007-01-24"));
        assert!(Link::parse_cli("friend_of:rec_abc").is_err());
        assert!(Link::parse_cli("member_of").is_err());
        assert!(Link::parse_cli("member_of:x:2010:2001").is_err());
    }
}

#[cfg(test)]
mod signature_props {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn body(names: Vec<String>, notes: String, version: u64) -> RecordBody {
        RecordBody {
            id: "rec_0001.tqoriginator000000".into(),
            version,
            kind: Kind::Person,
            originator: "tqoriginator000000".into(),
            channel: "ch_1".into(),
            members: vec!["tqa".into(), "tqoriginator000000".into()],
            file: "terrorism".into(),
            handling: Handling::default(),
            created: "2026-11-29T00:00:00Z".into(),
            expires: None,
            data: json!({"names": names, "notes": notes}),
            links: vec![],
            retracted: false,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// A signed record verifies; changing any signed field, or
        /// verifying with another key, does not.
        #[test]
        fn signatures_bind_every_field(
            names in proptest::collection::vec("\\PC{1,20}", 1..4),
            notes in "\\PC{0,40}",
            version in 1u64..1000,
            which in 0usize..7,
        ) {
            let id = tansiq_crypto::Identity::generate();
            let other = tansiq_crypto::Identity::generate();
            let signed = SignedRecord::sign(body(names, notes, version), &id);
            prop_assert!(signed.verify(&id.signing_public()).is_ok());
            prop_assert!(signed.verify(&other.signing_public()).is_err());
            // the canonical encoding does not depend on field order in memory
            let reparsed: RecordBody = serde_json::from_str(&serde_json::to_string(&signed.body).unwrap()).unwrap();
            prop_assert_eq!(SignedRecord { body: reparsed, sig: signed.sig.clone() }.content_hash(), signed.content_hash());
            let mut t = signed.clone();
            match which {
                0 => t.body.version += 1,
                1 => t.body.channel.push('x'),
                2 => t.body.members.pop().map(|_| ()).unwrap_or(()),
                3 => t.body.handling.tlp = crate::handling::Tlp::Red,
                4 => t.body.data["names"][0] = json!("someone else"),
                5 => t.body.originator.push('x'),
                _ => t.body.file = "recruitment".into(),
            }
            prop_assert!(t.verify(&id.signing_public()).is_err());
        }
    }
}
