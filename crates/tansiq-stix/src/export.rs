//! Record bodies → STIX 2.1 objects.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};
use tansiq_core::record::{Kind, Link, RecordBody};
use tansiq_core::time::{parse_instant, Instant};

use crate::vocab::{
    confidence, partial_to_timestamp, relationship_type, stix_time, tlp_marking, tlp_marking_id,
};
use crate::{link_stix_id, node_stix_id, record_stix_id, EXTENSION_ID};

/// The STIX type of a record kind's main object (a listed person also
/// gets a `threat-actor`).
pub fn stix_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Person => "identity",
        Kind::Organization => "threat-actor",
        Kind::Network => "intrusion-set",
        Kind::Location => "location",
        Kind::Incident => "incident",
        Kind::Document => "report",
        Kind::Note | Kind::Message => "note",
    }
}

/// A link left out of the export: its target's kind was unknown to the
/// caller (a record this node does not hold, or may not export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLink {
    pub record: String,
    pub rel: String,
    pub target: String,
}

/// One record version as STIX objects: the main object first, then a
/// listed person's threat-actor, then relationships.
#[derive(Debug, Clone)]
pub struct Exported {
    pub objects: Vec<Value>,
    pub skipped: Vec<SkippedLink>,
}

/// The STIX `created` of a record: the instant its id was minted (the
/// first 6 bytes after `rec_` are milliseconds since the epoch), the same
/// for every version on every node; the version's own time for ids of
/// another shape.
fn first_created(body: &RecordBody) -> Option<Instant> {
    let hex = body
        .id
        .strip_prefix(tansiq_core::ids::RECORD_PREFIX)?
        .get(..12)?;
    let ms = i64::from_str_radix(hex, 16).ok()?;
    Instant::from_timestamp_millis(ms)
}

/// The main STIX object id of a record (what links to it point at).
pub fn main_id(kind: Kind, record_id: &str) -> Option<String> {
    let owner = tansiq_core::ids::record_id_owner(record_id)?;
    Some(record_stix_id(stix_type(kind), owner, record_id))
}

fn s<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

fn strs(data: &Value, key: &str) -> Vec<String> {
    data.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Every name after the primary one, then the weak names: STIX `aliases`.
fn aliases(data: &Value) -> Vec<String> {
    let mut out: Vec<String> = strs(data, "names").into_iter().skip(1).collect();
    out.extend(strs(data, "weak_names"));
    let mut seen = BTreeSet::new();
    out.retain(|a| seen.insert(a.clone()));
    out
}

fn put(o: &mut Map<String, Value>, key: &str, v: Option<impl Into<Value>>) {
    if let Some(v) = v {
        o.insert(key.to_string(), v.into());
    }
}

/// What every object made from one record version shares.
struct Version<'a> {
    body: &'a RecordBody,
    created: String,
    modified: String,
    author: String,
}

impl<'a> Version<'a> {
    fn new(body: &'a RecordBody) -> Self {
        let modified_at = parse_instant(&body.created).ok();
        let created_at = first_created(body).or(modified_at).unwrap_or_default();
        // created ≤ modified, as STIX requires; a version signed in the
        // same second its id was minted reads as the id's instant.
        let modified_at = modified_at.map_or(created_at, |m| m.max(created_at));
        Version {
            body,
            created: stix_time(&created_at),
            modified: stix_time(&modified_at),
            author: node_stix_id(&body.originator),
        }
    }

    /// The properties every record object has, and the Tansiq extension;
    /// `role` is `main` or `listing` (a listed person's threat-actor).
    fn common(&self, ty: &str, role: &str) -> Map<String, Value> {
        let b = self.body;
        let mut o = Map::new();
        o.insert("type".into(), ty.into());
        o.insert("spec_version".into(), "2.1".into());
        o.insert("id".into(), record_stix_id(ty, &b.originator, &b.id).into());
        o.insert("created".into(), self.created.clone().into());
        o.insert("modified".into(), self.modified.clone().into());
        o.insert("created_by_ref".into(), self.author.clone().into());
        if b.retracted {
            o.insert("revoked".into(), true.into());
        }
        o.insert(
            "object_marking_refs".into(),
            json!([tlp_marking_id(b.handling.tlp)]),
        );
        if let Some(c) = b.handling.evaluation.as_ref().and_then(confidence) {
            o.insert("confidence".into(), c.into());
        }
        let mut ext = Map::new();
        ext.insert("extension_type".into(), "property-extension".into());
        ext.insert("record_id".into(), b.id.clone().into());
        ext.insert("originator".into(), b.originator.clone().into());
        ext.insert("version".into(), b.version.into());
        ext.insert("kind".into(), b.kind.as_str().into());
        ext.insert("role".into(), role.into());
        ext.insert("handling_code".into(), b.handling.code.as_str().into());
        put(&mut ext, "handling_note", b.handling.note.clone());
        put(
            &mut ext,
            "evaluation",
            b.handling.evaluation.map(|e| e.to_string()),
        );
        put(&mut ext, "expires", b.expires.clone());
        if role == "main" && !b.retracted {
            ext.insert("data".into(), b.data.clone());
        }
        o.insert(
            "extensions".into(),
            json!({ EXTENSION_ID: Value::Object(ext) }),
        );
        o
    }

    /// The record's name; the record id for a retraction, which carries
    /// no data but must still name its object.
    fn name(&self) -> String {
        let d = &self.body.data;
        d.get("names")
            .and_then(|n| n.get(0))
            .and_then(Value::as_str)
            .or_else(|| s(d, "title"))
            .map_or_else(|| self.body.id.clone(), str::to_string)
    }
}

/// Exports one record version. `target_kind` tells the kind of a link's
/// target record, or `None` when the target may not be named (its link is
/// then left out and reported).
pub fn export_record(body: &RecordBody, target_kind: &dyn Fn(&str) -> Option<Kind>) -> Exported {
    let v = Version::new(body);
    let mut skipped = Vec::new();
    let mut targets = Vec::new();
    for l in &body.links {
        match target_kind(&l.target).and_then(|k| main_id(k, &l.target)) {
            Some(t) => targets.push((l, t)),
            None => skipped.push(SkippedLink {
                record: body.id.clone(),
                rel: l.rel.as_str().to_string(),
                target: l.target.clone(),
            }),
        }
    }
    let ty = stix_type(body.kind);
    let mut o = v.common(ty, "main");
    let refs: Vec<Value> = if targets.is_empty() {
        vec![v.author.clone().into()]
    } else {
        targets.iter().map(|(_, t)| t.clone().into()).collect()
    };
    kind_properties(&mut o, &v, refs);
    let id = Value::from(record_stix_id(ty, &body.originator, &body.id));
    let mut objects = vec![Value::Object(o)];
    // A listed person is also a threat actor, attributed to its identity;
    // a retracted person revokes both, as its listing is no longer known.
    if body.kind == Kind::Person && (body.data.get("listing").is_some() || body.retracted) {
        objects.extend(listing(&v, &id));
    }
    for (l, target) in targets {
        // a note's or report's object_refs name the targets too, but the
        // typed relationship is what carries the link's meaning
        objects.push(relationship(
            &v,
            relationship_type(l.rel),
            Some(l),
            (id.clone(), target.into()),
        ));
    }
    Exported { objects, skipped }
}

/// The relationships an earlier version of a record had and `body` no
/// longer has, revoked as of `body` (a consumer that kept them learns the
/// link was dropped). `earlier` are the record's earlier versions this
/// node still holds (a retraction purges them: then there is nothing to
/// name).
pub fn revoked_links(
    body: &RecordBody,
    earlier: &[RecordBody],
    target_kind: &dyn Fn(&str) -> Option<Kind>,
) -> Vec<Value> {
    let v = Version::new(body);
    let source = Value::from(record_stix_id(
        stix_type(body.kind),
        &body.originator,
        &body.id,
    ));
    // A relationship's id is made from the link with its target's STIX id.
    let target_of = |l: &Link| target_kind(&l.target).and_then(|k| main_id(k, &l.target));
    let key = |l: &Link, target: &str| {
        link_stix_id(
            &body.originator,
            &body.id,
            l.rel.as_str(),
            target,
            l.from.as_deref(),
            l.until.as_deref(),
        )
    };
    let kept: BTreeSet<String> = body
        .links
        .iter()
        .filter_map(|l| target_of(l).map(|t| key(l, &t)))
        .collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for e in earlier
        .iter()
        .filter(|e| e.id == body.id && e.version < body.version)
    {
        for l in &e.links {
            let Some(target) = target_of(l) else {
                continue;
            };
            let id = key(l, &target);
            if kept.contains(&id) || !done.insert(id) {
                continue;
            }
            let mut r = relationship(
                &v,
                relationship_type(l.rel),
                Some(l),
                (source.clone(), target.into()),
            );
            r["revoked"] = true.into();
            out.push(r);
        }
    }
    out
}

/// The properties of a record's main object that depend on its kind.
fn kind_properties(o: &mut Map<String, Value>, v: &Version, refs: Vec<Value>) {
    let data = &v.body.data;
    let text = s(data, "text").map(str::to_string);
    match v.body.kind {
        Kind::Person => {
            o.insert("name".into(), v.name().into());
            o.insert("identity_class".into(), "individual".into());
            put(o, "description", s(data, "notes"));
        }
        Kind::Organization | Kind::Network => {
            o.insert("name".into(), v.name().into());
            let a = aliases(data);
            if !a.is_empty() {
                o.insert("aliases".into(), json!(a));
            }
            put(o, "description", s(data, "notes"));
            put(
                o,
                "first_seen",
                s(data, "founded").map(partial_to_timestamp),
            );
            put(
                o,
                "last_seen",
                s(data, "dissolved").map(partial_to_timestamp),
            );
        }
        Kind::Location => {
            o.insert("name".into(), v.name().into());
            put(o, "description", s(data, "notes"));
            let coords = data.get("coordinates").and_then(Value::as_array);
            if let Some([lat, lon]) = coords.map(Vec::as_slice) {
                o.insert("latitude".into(), lat.clone());
                o.insert("longitude".into(), lon.clone());
            }
            let country = strs(data, "country").into_iter().next();
            if coords.is_none() && country.is_none() {
                // STIX needs one of region, country or coordinates.
                o.insert("region".into(), "unknown".into());
            }
            put(o, "country", country);
        }
        Kind::Incident => {
            o.insert("name".into(), v.name().into());
            put(o, "description", text);
        }
        Kind::Document => {
            o.insert("name".into(), v.name().into());
            put(o, "description", text);
            o.insert("published".into(), v.created.clone().into());
            o.insert("report_types".into(), json!(["threat-report"]));
            o.insert("object_refs".into(), Value::Array(refs));
        }
        Kind::Note | Kind::Message => {
            put(o, "abstract", s(data, "title"));
            o.insert(
                "content".into(),
                text.unwrap_or_else(|| v.body.id.clone()).into(),
            );
            o.insert("object_refs".into(), Value::Array(refs));
        }
    }
}

/// A listed person's threat-actor and its `attributed-to` relationship
/// to the person's identity `id`.
fn listing(v: &Version, id: &Value) -> Vec<Value> {
    let data = &v.body.data;
    let mut t = v.common("threat-actor", "listing");
    t.insert("name".into(), v.name().into());
    let a = aliases(data);
    if !a.is_empty() {
        t.insert("aliases".into(), json!(a));
    }
    put(
        &mut t,
        "description",
        data.get("listing").and_then(|l| s(l, "reason")),
    );
    let ta = t["id"].clone();
    let mut out = vec![Value::Object(t)];
    if !v.body.retracted {
        out.push(relationship(v, "attributed-to", None, (ta, id.clone())));
    }
    out
}

fn relationship(
    v: &Version,
    rel_type: &str,
    link: Option<&Link>,
    (source, target): (Value, Value),
) -> Value {
    let body = v.body;
    let (from, until) = link.map_or((None, None), |l| (l.from.as_deref(), l.until.as_deref()));
    let target_s = target.as_str().unwrap_or_default();
    let rel_name = link.map_or(rel_type, |l| l.rel.as_str());
    let mut r = Map::new();
    r.insert("type".into(), "relationship".into());
    r.insert("spec_version".into(), "2.1".into());
    r.insert(
        "id".into(),
        link_stix_id(&body.originator, &body.id, rel_name, target_s, from, until).into(),
    );
    r.insert("created".into(), v.created.clone().into());
    r.insert("modified".into(), v.modified.clone().into());
    r.insert(
        "created_by_ref".into(),
        node_stix_id(&body.originator).into(),
    );
    r.insert("relationship_type".into(), rel_type.into());
    r.insert("source_ref".into(), source);
    r.insert("target_ref".into(), target);
    r.insert(
        "object_marking_refs".into(),
        json!([tlp_marking_id(body.handling.tlp)]),
    );
    if let Some(l) = link {
        put(&mut r, "description", l.note.clone());
        let start = from.map(partial_to_timestamp);
        // STIX wants stop_time strictly after start_time: a link that
        // starts and ends in the same period keeps only its start here
        // (the extension keeps both dates).
        let stop = until
            .map(partial_to_timestamp)
            .filter(|u| start.as_ref().is_none_or(|s| u > s));
        put(&mut r, "start_time", start);
        put(&mut r, "stop_time", stop);
        let mut ext = Map::new();
        ext.insert("extension_type".into(), "property-extension".into());
        ext.insert("rel".into(), l.rel.as_str().into());
        put(&mut ext, "from", l.from.clone());
        put(&mut ext, "until", l.until.clone());
        r.insert(
            "extensions".into(),
            json!({ EXTENSION_ID: Value::Object(ext) }),
        );
    }
    Value::Object(r)
}

/// A node's identity object (`created_by_ref` of its records). `name` is
/// what the node calls itself; its id when unknown.
pub fn node_identity(node_id: &str, name: Option<&str>) -> Value {
    json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": node_stix_id(node_id),
        "created": crate::EXTENSION_CREATED,
        "modified": crate::EXTENSION_CREATED,
        "name": name.unwrap_or(node_id),
        "identity_class": "organization",
        "description": format!("Tansiq node {node_id}"),
    })
}

/// A STIX bundle of record versions, with what they reference: the
/// originators' identities, the TLP marking definitions used, the Tansiq
/// extension definition and its author. The bundle id is derived from its
/// content, so the same export is the same file.
pub fn bundle(
    bodies: &[RecordBody],
    target_kind: &dyn Fn(&str) -> Option<Kind>,
) -> (Value, Vec<SkippedLink>) {
    bundle_with(bodies, Vec::new(), target_kind)
}

/// [`bundle`] with further objects after the records' (the revoked
/// relationships of [`revoked_links`]).
pub fn bundle_with(
    bodies: &[RecordBody],
    extra: Vec<Value>,
    target_kind: &dyn Fn(&str) -> Option<Kind>,
) -> (Value, Vec<SkippedLink>) {
    let mut objects = vec![crate::project_identity(), crate::extension_definition()];
    let mut tlps = BTreeSet::new();
    let mut nodes = BTreeSet::new();
    let mut skipped = Vec::new();
    let mut records = Vec::new();
    for b in bodies {
        tlps.insert(b.handling.tlp);
        nodes.insert(b.originator.clone());
        let e = export_record(b, target_kind);
        records.extend(e.objects);
        skipped.extend(e.skipped);
    }
    objects.extend(tlps.into_iter().map(tlp_marking));
    objects.extend(nodes.iter().map(|n| node_identity(n, None)));
    objects.extend(records);
    objects.extend(extra);
    let key: Vec<String> = objects
        .iter()
        .map(|o| format!("{}@{}", o["id"], o["modified"]))
        .collect();
    let id = format!(
        "bundle--{}",
        uuid::Uuid::new_v5(&crate::NAMESPACE, key.join("\n").as_bytes())
    );
    (
        json!({"type": "bundle", "id": id, "objects": objects}),
        skipped,
    )
}
