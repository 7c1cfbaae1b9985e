//! STIX 2.1 bundle → record data, validated, with links by STIX id.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};
use tansiq_core::handling::{Evaluation, HandlingCode, Tlp};
use tansiq_core::record::{validate_data, Kind, LinkType};

use crate::vocab::{link_from_relationship, timestamp_to_date, tlp_from_marking};
use crate::EXTENSION_ID;

/// Why a bundle imports nothing: the object and property at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub object_id: String,
    pub property: String,
    pub message: String,
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "STIX object {}, property {}: {}",
            self.object_id, self.property, self.message
        )
    }
}

impl std::error::Error for ImportError {}

fn err(id: &str, prop: &str, msg: impl Into<String>) -> ImportError {
    ImportError {
        object_id: id.to_string(),
        property: prop.to_string(),
        message: msg.into(),
    }
}

/// A link of an imported record, its target still a STIX id: the caller
/// resolves it to a record (imported in the same bundle, or held).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedLink {
    pub rel: LinkType,
    pub target_stix_id: String,
    pub from: Option<String>,
    pub until: Option<String>,
    pub note: Option<String>,
    /// The relationship object the link came from.
    pub relationship_id: String,
}

/// One STIX object that becomes a record: what a `NewRecord` needs, plus
/// the provenance the caller notes (`derived_from`/source).
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub stix_id: String,
    pub modified: String,
    pub kind: Kind,
    /// Validated by `tansiq_core::record::validate_data`, in normal form.
    pub data: Value,
    pub tlp: Option<Tlp>,
    pub code: Option<HandlingCode>,
    pub evaluation: Option<Evaluation>,
    pub expires: Option<String>,
    pub revoked: bool,
    pub links: Vec<ImportedLink>,
    pub created_by_ref: Option<String>,
    /// `(originator, record id, version)` when a Tansiq node exported it.
    pub tansiq_source: Option<(String, String, u64)>,
}

/// An object the import left out, and why (not an error: indicators,
/// identities of nodes, marking definitions… are not records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub object_id: String,
    pub reason: String,
}

fn str_prop<'a>(o: &'a Value, id: &str, key: &str) -> Result<Option<&'a str>, ImportError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(err(id, key, "must be a string")),
    }
}

fn str_list(o: &Value, id: &str, key: &str) -> Result<Vec<String>, ImportError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(id, key, "must be a list of strings"))
            })
            .collect(),
        Some(_) => Err(err(id, key, "must be a list of strings")),
    }
}

/// The kind a STIX object becomes, or why it is skipped. The Tansiq
/// extension's `kind` wins for objects a Tansiq node exported.
fn kind_of(o: &Value, ext: Option<&Value>, id: &str) -> Result<Result<Kind, String>, ImportError> {
    if let Some(ext) = ext {
        if ext.get("role").and_then(Value::as_str) == Some("listing") {
            return Ok(Err(
                "a listed person's threat-actor (its person is the identity)".into(),
            ));
        }
        if let Some(k) = str_prop(ext, id, "kind")? {
            return k
                .parse::<Kind>()
                .map(Ok)
                .map_err(|e| err(id, &format!("extensions.{EXTENSION_ID}.kind"), e.0));
        }
    }
    let ty = str_prop(o, id, "type")?.unwrap_or_default();
    Ok(match ty {
        "identity" => match str_prop(o, id, "identity_class")? {
            Some("individual") => Ok(Kind::Person),
            Some("organization" | "group") => Ok(Kind::Organization),
            _ => Err("an identity that is neither an individual nor an organization".into()),
        },
        "threat-actor" => Ok(Kind::Organization),
        "intrusion-set" => Ok(Kind::Network),
        "location" => Ok(Kind::Location),
        "incident" => Ok(Kind::Incident),
        "report" => Ok(Kind::Document),
        "note" => Ok(Kind::Note),
        other => Err(format!("{other} objects are not records")),
    })
}

/// The STIX property a Tansiq data field came from (for error messages).
fn property_of(kind: Kind, field: &str) -> String {
    let p = match (kind, field) {
        (_, "names") => "name",
        (Kind::Note | Kind::Message, "title") => "abstract",
        (Kind::Note | Kind::Message, "text") => "content",
        (_, "title") => "name",
        (_, "text" | "notes") => "description",
        (_, "coordinates") => "latitude",
        (_, "country") => "country",
        (_, "founded") => "first_seen",
        (_, "dissolved") => "last_seen",
        _ => return format!("extensions.{EXTENSION_ID}.data.{field}"),
    };
    p.to_string()
}

fn set(d: &mut Map<String, Value>, key: &str, v: Option<&str>) {
    match v {
        Some(v) => {
            d.insert(key.into(), v.into());
        }
        None => {
            d.remove(key);
        }
    }
}

/// The record data of an object: the extension's data (a Tansiq export)
/// or an empty object, overlaid with what the standard properties say,
/// so an edit made by a foreign tool to a mapped property is kept.
fn data_of(o: &Value, ext: Option<&Value>, kind: Kind, id: &str) -> Result<Value, ImportError> {
    let base = ext.and_then(|e| e.get("data"));
    let mut d = match base {
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(err(
                id,
                &format!("extensions.{EXTENSION_ID}.data"),
                "must be an object",
            ))
        }
        None => Map::new(),
    };
    let from_tansiq = base.is_some();
    let name = str_prop(o, id, "name")?;
    let description = str_prop(o, id, "description")?;
    match kind {
        Kind::Person | Kind::Organization | Kind::Network | Kind::Location => {
            let mut names: Vec<Value> = d
                .get("names")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(n) = name {
                match names.first_mut() {
                    Some(first) => *first = n.into(),
                    None => names.push(n.into()),
                }
            }
            if !from_tansiq {
                for a in str_list(o, id, "aliases")? {
                    if !names.iter().any(|n| n.as_str() == Some(a.as_str())) {
                        names.push(a.into());
                    }
                }
            }
            d.insert("names".into(), Value::Array(names));
            set(&mut d, "notes", description);
            if !from_tansiq {
                if let Some(t) = str_prop(o, id, "first_seen")? {
                    d.insert("founded".into(), timestamp_to_date(t).into());
                }
                if let Some(t) = str_prop(o, id, "last_seen")? {
                    d.insert("dissolved".into(), timestamp_to_date(t).into());
                }
            }
            if kind == Kind::Location {
                if let (Some(lat), Some(lon)) = (o.get("latitude"), o.get("longitude")) {
                    d.insert(
                        "coordinates".into(),
                        Value::Array(vec![lat.clone(), lon.clone()]),
                    );
                }
                if let Some(c) = str_prop(o, id, "country")? {
                    let mut cs = d
                        .get("country")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    let up = c.to_ascii_uppercase();
                    if !cs.iter().any(|x| x.as_str() == Some(up.as_str())) {
                        cs.insert(0, up.into());
                    }
                    d.insert("country".into(), Value::Array(cs));
                }
            }
        }
        Kind::Incident | Kind::Document => {
            set(&mut d, "title", name);
            set(&mut d, "text", description);
        }
        Kind::Note | Kind::Message => {
            set(&mut d, "title", str_prop(o, id, "abstract")?);
            set(&mut d, "text", str_prop(o, id, "content")?);
        }
    }
    let data = Value::Object(d);
    validate_data(kind, &data).map_err(|e| {
        let (field, msg) = match e.0.split_once(": ") {
            Some((f, m)) if !f.contains(' ') => (f.to_string(), m.to_string()),
            _ => (String::new(), e.0.clone()),
        };
        let prop = if field.is_empty() {
            match base {
                Some(_) => format!("extensions.{EXTENSION_ID}.data"),
                None => "name".to_string(),
            }
        } else {
            property_of(kind, field.split('.').next().unwrap_or(&field))
        };
        err(id, &prop, msg)
    })
}

/// One object that is not a relationship: a record, or why it is not.
fn record_of(o: &Value, id: &str) -> Result<Result<Imported, String>, ImportError> {
    let ext = match o.get("extensions").and_then(|e| e.get(EXTENSION_ID)) {
        Some(e) if e.is_object() => Some(e),
        Some(_) => {
            return Err(err(
                id,
                &format!("extensions.{EXTENSION_ID}"),
                "must be an object",
            ))
        }
        None => None,
    };
    let kind = match kind_of(o, ext, id)? {
        Ok(k) => k,
        Err(reason) => return Ok(Err(reason)),
    };
    let revoked = o.get("revoked").and_then(Value::as_bool).unwrap_or(false);
    let data = if revoked {
        Value::Object(Map::new())
    } else {
        data_of(o, ext, kind, id)?
    };
    let modified = str_prop(o, id, "modified")?
        .or(str_prop(o, id, "created")?)
        .ok_or_else(|| err(id, "modified", "missing (and no created)"))?
        .to_string();
    let mut tlp = None;
    for m in str_list(o, id, "object_marking_refs")? {
        if let Some(t) = tlp_from_marking(&m) {
            // several TLP markings: the most restrictive applies
            tlp = Some(tlp.map_or(t, |c: Tlp| c.max(t)));
        }
    }
    let ext_prop = |key: &str| -> Result<Option<String>, ImportError> {
        match ext {
            Some(e) => Ok(str_prop(e, id, key)
                .map_err(|mut x| {
                    x.property = format!("extensions.{EXTENSION_ID}.{key}");
                    x
                })?
                .map(str::to_string)),
            None => Ok(None),
        }
    };
    let bad_ext = |key: &str, e: tansiq_core::Invalid| {
        err(id, &format!("extensions.{EXTENSION_ID}.{key}"), e.0)
    };
    let code = ext_prop("handling_code")?
        .map(|c| {
            c.parse::<HandlingCode>()
                .map_err(|e| bad_ext("handling_code", e))
        })
        .transpose()?;
    let evaluation = ext_prop("evaluation")?
        .map(|c| {
            c.parse::<Evaluation>()
                .map_err(|e| bad_ext("evaluation", e))
        })
        .transpose()?;
    let expires = ext_prop("expires")?;
    let tansiq_source = match (ext_prop("originator")?, ext_prop("record_id")?) {
        (Some(o), Some(r)) => Some((
            o,
            r,
            ext.and_then(|e| e.get("version"))
                .and_then(Value::as_u64)
                .unwrap_or(1),
        )),
        _ => None,
    };
    Ok(Ok(Imported {
        stix_id: id.to_string(),
        modified,
        kind,
        data,
        tlp,
        code,
        evaluation,
        expires,
        revoked,
        links: vec![],
        created_by_ref: str_prop(o, id, "created_by_ref")?.map(str::to_string),
        tansiq_source,
    }))
}

/// A relationship as a link of its source (`source_ref`, returned with it).
fn link_of(r: &Value, id: &str) -> Result<(String, ImportedLink), ImportError> {
    let rt = str_prop(r, id, "relationship_type")?
        .ok_or_else(|| err(id, "relationship_type", "missing"))?;
    let src = str_prop(r, id, "source_ref")?.ok_or_else(|| err(id, "source_ref", "missing"))?;
    let tgt = str_prop(r, id, "target_ref")?.ok_or_else(|| err(id, "target_ref", "missing"))?;
    let ext = r.get("extensions").and_then(|e| e.get(EXTENSION_ID));
    let ext_str = |k: &str| ext.and_then(|e| e.get(k)).and_then(Value::as_str);
    let (rel, note) = match ext_str("rel").map(str::parse::<LinkType>) {
        Some(Ok(l)) => (l, str_prop(r, id, "description")?.map(str::to_string)),
        Some(Err(e)) => return Err(err(id, &format!("extensions.{EXTENSION_ID}.rel"), e.0)),
        None => match link_from_relationship(rt) {
            Some(l) => (l, str_prop(r, id, "description")?.map(str::to_string)),
            // a type Tansiq has no link for keeps its name in the note
            None => (
                LinkType::RelatedTo,
                Some(match str_prop(r, id, "description")? {
                    Some(d) => format!("{rt}: {d}"),
                    None => rt.to_string(),
                }),
            ),
        },
    };
    let date = |k: &str, std: &str| -> Result<Option<String>, ImportError> {
        Ok(match ext_str(k) {
            Some(d) => Some(d.to_string()),
            None => str_prop(r, id, std)?.map(timestamp_to_date),
        })
    };
    let link = ImportedLink {
        rel,
        target_stix_id: tgt.to_string(),
        from: date("from", "start_time")?,
        until: date("until", "stop_time")?,
        note,
        relationship_id: id.to_string(),
    };
    Ok((src.to_string(), link))
}

/// Reads a bundle: every object that is a record, with its links, or the
/// first error (the whole bundle is refused then). References may point
/// anywhere in the bundle, or outside it (the caller decides).
pub fn import_bundle(bundle: &Value) -> Result<(Vec<Imported>, Vec<Skipped>), ImportError> {
    let bid = bundle.get("id").and_then(Value::as_str).unwrap_or("bundle");
    if bundle.get("type").and_then(Value::as_str) != Some("bundle") {
        return Err(err(
            bid,
            "type",
            "not a STIX bundle (type must be \"bundle\")",
        ));
    }
    let objects = bundle
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| err(bid, "objects", "must be a list of objects"))?;
    let mut out: Vec<Imported> = Vec::new();
    let mut skipped = Vec::new();
    let mut relationships = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    // An identity that authored objects (`created_by_ref`) is a source —
    // a node, an agency, a vendor —, not a record.
    let authors: std::collections::BTreeSet<&str> = objects
        .iter()
        .filter_map(|o| o.get("created_by_ref").and_then(Value::as_str))
        .collect();
    for (i, o) in objects.iter().enumerate() {
        let id = o
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| err(&format!("objects[{i}]"), "id", "missing"))?;
        let ty = str_prop(o, id, "type")?.ok_or_else(|| err(id, "type", "missing"))?;
        if !id.starts_with(&format!("{ty}--")) {
            return Err(err(
                id,
                "id",
                format!("does not start with its type {ty}--"),
            ));
        }
        if ty == "relationship" {
            relationships.push(o);
            continue;
        }
        if authors.contains(id) {
            skipped.push(Skipped {
                object_id: id.to_string(),
                reason: "the author (created_by_ref) of objects in the bundle".into(),
            });
            continue;
        }
        match record_of(o, id)? {
            Ok(rec) => {
                index.insert(id.to_string(), out.len());
                out.push(rec);
            }
            Err(reason) => skipped.push(Skipped {
                object_id: id.to_string(),
                reason,
            }),
        }
    }
    for r in relationships {
        let id = r["id"].as_str().unwrap_or_default();
        let (src, link) = link_of(r, id)?;
        let Some(&at) = index.get(&src) else {
            skipped.push(Skipped {
                object_id: id.to_string(),
                reason: format!("its source {src} is not a record in this bundle"),
            });
            continue;
        };
        if r.get("revoked").and_then(Value::as_bool) != Some(true) && !out[at].revoked {
            out[at].links.push(link);
        }
    }
    Ok((out, skipped))
}
