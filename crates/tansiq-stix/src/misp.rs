//! MISP events (and the events of a MISP feed) → a STIX 2.1 bundle that
//! [`crate::import_bundle`] reads (docs/STIX.md, "MISP"). Pure: the caller
//! reads the files.
//!
//! An event becomes a `report` (its `info`, its standalone attributes as
//! text) referring to what it describes: each `person` object an
//! `identity` (class individual, with the Tansiq extension's `data` so the
//! birth date, nationality and passport survive), each `geolocation`
//! object a `location`, each threat-actor galaxy cluster a `threat-actor`
//! (its synonyms as aliases), each object reference between those a
//! `relationship`. `tlp:` tags become TLP markings (the most restrictive
//! of the event's and the object's). MISP uuids become the STIX ids, so
//! importing the same event again changes nothing; `deleted` objects are
//! revoked.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tansiq_core::handling::Tlp;

use crate::import::ImportError;
use crate::vocab::tlp_marking_id;
use crate::EXTENSION_ID;

fn err(id: &str, prop: &str, msg: impl Into<String>) -> ImportError {
    ImportError {
        object_id: id.to_string(),
        property: prop.to_string(),
        message: msg.into(),
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|x| !x.trim().is_empty())
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A MISP uuid, checked (it becomes a STIX id).
fn uuid_of(v: &Value, at: &str) -> Result<String, ImportError> {
    let u = s(v, "uuid").ok_or_else(|| err(at, "uuid", "missing"))?;
    let ok = u.len() == 36
        && u.chars().enumerate().all(|(i, c)| {
            matches!(i, 8 | 13 | 18 | 23) == (c == '-') && (c == '-' || c.is_ascii_hexdigit())
        });
    if !ok {
        return Err(err(at, "uuid", format!("{u:?} is not a UUID")));
    }
    Ok(u.to_ascii_lowercase())
}

/// A MISP timestamp (seconds since the epoch, as text or number) as STIX.
fn stamp(v: &Value, at: &str) -> Result<Option<String>, ImportError> {
    let secs = match v.get("timestamp") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(t)) => t.parse::<i64>().ok(),
        Some(Value::Number(n)) => n.as_i64(),
        Some(_) => None,
    }
    .ok_or_else(|| err(at, "timestamp", "must be seconds since the epoch"))?;
    let t = chrono::DateTime::from_timestamp(secs, 0)
        .ok_or_else(|| err(at, "timestamp", "out of range"))?;
    Ok(Some(t.format("%Y-%m-%dT%H:%M:%S.000Z").to_string()))
}

/// The most restrictive `tlp:` tag of `v` (`tlp:white` is CLEAR).
fn tlp_of(v: &Value) -> Option<Tlp> {
    list(v, "Tag")
        .iter()
        .filter_map(|t| s(t, "name"))
        .filter_map(|n| {
            let l = n.trim().to_ascii_lowercase();
            let t = l.strip_prefix("tlp:")?;
            let t = if t == "white" { "clear" } else { t };
            t.parse::<Tlp>().ok()
        })
        .max()
}

fn max_tlp(a: Option<Tlp>, b: Option<Tlp>) -> Option<Tlp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// An object's attributes by `object_relation` (the first value of each).
fn relations(o: &Value) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in list(o, "Attribute") {
        if a.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let (Some(r), Some(v)) = (s(a, "object_relation"), s(a, "value")) {
            m.entry(r.to_string())
                .or_default()
                .push(v.trim().to_string());
        }
    }
    m
}

/// What every object made from an event shares.
struct Ctx {
    author: String,
    modified: String,
    tlp: Option<Tlp>,
}

impl Ctx {
    fn base(
        &self,
        ty: &str,
        id: &str,
        o: &Value,
        at: &str,
    ) -> Result<Map<String, Value>, ImportError> {
        let modified = stamp(o, at)?.unwrap_or_else(|| self.modified.clone());
        let mut m = Map::new();
        m.insert("type".into(), ty.into());
        m.insert("spec_version".into(), "2.1".into());
        m.insert("id".into(), format!("{ty}--{id}").into());
        m.insert("created".into(), modified.clone().into());
        m.insert("modified".into(), modified.into());
        m.insert("created_by_ref".into(), self.author.clone().into());
        if let Some(t) = max_tlp(self.tlp, tlp_of(o)) {
            m.insert("object_marking_refs".into(), json!([tlp_marking_id(t)]));
        }
        if o.get("deleted").and_then(Value::as_bool) == Some(true) {
            m.insert("revoked".into(), true.into());
        }
        Ok(m)
    }
}

/// A `person` object as a Tansiq person: the names in every script, and
/// what MISP's template has that Tansiq keeps.
fn person(o: &Value, ctx: &Ctx, at: &str) -> Result<Value, ImportError> {
    let r = relations(o);
    let one = |k: &str| r.get(k).and_then(|v| v.first()).cloned();
    let mut names: Vec<String> = Vec::new();
    let full = one("full-name").or_else(|| {
        let parts: Vec<String> = ["first-name", "middle-name", "last-name"]
            .iter()
            .filter_map(|k| one(k))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    names.extend(full);
    for k in ["alias", "full-name"] {
        for n in r.get(k).into_iter().flatten() {
            if !names.contains(n) {
                names.push(n.clone());
            }
        }
    }
    let Some(name) = names.first().cloned() else {
        return Err(err(
            at,
            "full-name",
            "a person object needs a full-name, first-name or last-name",
        ));
    };
    let mut data = json!({"names": names});
    if let Some(d) = one("date-of-birth") {
        data["birth_date"] = d.into();
    }
    if let Some(p) = one("place-of-birth") {
        data["birth_place"] = p.into();
    }
    // Nationalities Tansiq reads as ISO codes; free text ("Algerian")
    // goes to the notes rather than refusing the event.
    let (codes, words): (Vec<&String>, Vec<&String>) = r
        .get("nationality")
        .into_iter()
        .flatten()
        .partition(|n| tansiq_core::country::parse_country(n).is_ok());
    if !codes.is_empty() {
        data["nationality"] = json!(codes
            .iter()
            .filter_map(|c| tansiq_core::country::parse_country(c).ok())
            .collect::<Vec<_>>());
    }
    if !words.is_empty() {
        let w: Vec<&str> = words.iter().map(|x| x.as_str()).collect();
        data["notes"] = format!("nationality: {}", w.join(", ")).into();
    }
    if let Some(g) = one("gender") {
        let g = g.to_ascii_lowercase();
        if matches!(g.as_str(), "male" | "female") {
            data["gender"] = g.into();
        }
    }
    let docs: Vec<Value> = r
        .get("passport-number")
        .into_iter()
        .flatten()
        .map(|n| {
            let mut d = json!({"type": "passport", "number": n});
            if let Some(c) =
                one("passport-country").and_then(|c| tansiq_core::country::parse_country(&c).ok())
            {
                d["country"] = c.into();
            }
            d
        })
        .collect();
    if !docs.is_empty() {
        data["documents"] = docs.into();
    }
    let id = uuid_of(o, at)?;
    let mut m = ctx.base("identity", &id, o, at)?;
    m.insert("name".into(), name.into());
    m.insert("identity_class".into(), "individual".into());
    // import reads notes from the description (a foreign edit wins)
    if let Some(n) = data.get("notes").cloned() {
        m.insert("description".into(), n);
    }
    put_data(&mut m, "person", data);
    Ok(Value::Object(m))
}

/// The Tansiq extension with the record data, so what has no STIX
/// property survives (and is validated like any record's).
fn put_data(m: &mut Map<String, Value>, kind: &str, data: Value) {
    m.insert(
        "extensions".into(),
        json!({EXTENSION_ID: {"extension_type": "property-extension", "kind": kind, "data": data}}),
    );
}

fn geolocation(o: &Value, ctx: &Ctx, at: &str) -> Result<Value, ImportError> {
    let r = relations(o);
    let one = |k: &str| r.get(k).and_then(|v| v.first()).cloned();
    let id = uuid_of(o, at)?;
    let mut m = ctx.base("location", &id, o, at)?;
    let name = one("city")
        .or_else(|| one("region"))
        .or_else(|| one("address"))
        .or_else(|| one("country"))
        .unwrap_or_else(|| "location".into());
    m.insert("name".into(), name.into());
    let num = |k: &str| -> Result<Option<f64>, ImportError> {
        one(k)
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| err(at, k, format!("{v:?} is not a number")))
            })
            .transpose()
    };
    let country = one("countrycode").and_then(|c| tansiq_core::country::parse_country(&c).ok());
    match (num("latitude")?, num("longitude")?) {
        (Some(lat), Some(lon)) => {
            m.insert("latitude".into(), lat.into());
            m.insert("longitude".into(), lon.into());
        }
        _ => {
            if country.is_none() {
                m.insert("region".into(), "unknown".into());
            }
        }
    }
    if let Some(c) = country {
        m.insert("country".into(), c.into());
    }
    Ok(Value::Object(m))
}

/// Threat-actor galaxy clusters (event or attribute level).
fn threat_actors(
    event: &Value,
    ctx: &Ctx,
    out: &mut Vec<Value>,
) -> Result<Vec<String>, ImportError> {
    let mut ids = Vec::new();
    for g in list(event, "Galaxy") {
        if s(g, "type") != Some("threat-actor") {
            continue;
        }
        for c in list(g, "GalaxyCluster") {
            let at = format!("GalaxyCluster {}", s(c, "uuid").unwrap_or("?"));
            let id = uuid_of(c, &at)?;
            let mut m = ctx.base("threat-actor", &id, c, &at)?;
            let name = s(c, "value").ok_or_else(|| err(&at, "value", "missing"))?;
            m.insert("name".into(), name.into());
            let syn: Vec<Value> = c
                .get("meta")
                .map(|meta| list(meta, "synonyms").to_vec())
                .unwrap_or_default();
            if !syn.is_empty() {
                m.insert("aliases".into(), syn.into());
            }
            if let Some(d) = s(c, "description") {
                m.insert("description".into(), d.into());
            }
            ids.push(format!("threat-actor--{id}"));
            out.push(Value::Object(m));
        }
    }
    Ok(ids)
}

/// Converts one MISP event (`{"Event": {…}}` or the event itself) into
/// STIX objects; `Err` names the MISP object and attribute at fault.
pub fn event_objects(doc: &Value) -> Result<Vec<Value>, ImportError> {
    let event = doc.get("Event").unwrap_or(doc);
    let eid = uuid_of(event, "Event")?;
    let at_event = format!("Event {eid}");
    let info = s(event, "info").ok_or_else(|| err(&at_event, "info", "missing"))?;
    let org = event.get("Orgc").or_else(|| event.get("Org"));
    let author_uuid = org
        .map(|o| uuid_of(o, &format!("{at_event} Orgc")))
        .transpose()?
        .unwrap_or_else(|| eid.clone());
    let modified = stamp(event, &at_event)?.unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into());
    let ctx = Ctx {
        author: format!("identity--{author_uuid}"),
        modified: modified.clone(),
        tlp: tlp_of(event),
    };
    let mut out = vec![
        json!({"type": "identity", "spec_version": "2.1", "id": ctx.author,
        "created": modified, "modified": modified,
        "name": org.and_then(|o| s(o, "name")).unwrap_or("MISP"), "identity_class": "organization"}),
    ];
    let mut refs: Vec<String> = threat_actors(event, &ctx, &mut out)?;
    let mut by_uuid: BTreeMap<String, String> = BTreeMap::new();
    for o in list(event, "Object") {
        let at = format!("Object {}", s(o, "uuid").unwrap_or("?"));
        let obj = match s(o, "name") {
            Some("person") => person(o, &ctx, &at)?,
            Some("geolocation") => geolocation(o, &ctx, &at)?,
            _ => continue,
        };
        let sid = obj["id"].as_str().unwrap_or_default().to_string();
        by_uuid.insert(uuid_of(o, &at)?, sid.clone());
        refs.push(sid);
        out.push(obj);
    }
    for c in list(event, "Galaxy")
        .iter()
        .flat_map(|g| list(g, "GalaxyCluster"))
    {
        if let Some(u) = s(c, "uuid") {
            by_uuid.insert(
                u.to_ascii_lowercase(),
                format!("threat-actor--{}", u.to_ascii_lowercase()),
            );
        }
    }
    for o in list(event, "Object") {
        let Some(src) = s(o, "uuid").and_then(|u| by_uuid.get(&u.to_ascii_lowercase())) else {
            continue;
        };
        for r in list(o, "ObjectReference") {
            let at = format!("ObjectReference {}", s(r, "uuid").unwrap_or("?"));
            let Some(dst) =
                s(r, "referenced_uuid").and_then(|u| by_uuid.get(&u.to_ascii_lowercase()))
            else {
                continue;
            };
            let id = uuid_of(r, &at)?;
            let mut m = ctx.base("relationship", &id, r, &at)?;
            let rt = s(r, "relationship_type").unwrap_or("related-to");
            m.insert("relationship_type".into(), rt.into());
            m.insert("source_ref".into(), src.clone().into());
            m.insert("target_ref".into(), dst.clone().into());
            if let Some(c) = s(r, "comment") {
                m.insert("description".into(), c.into());
            }
            out.push(Value::Object(m));
        }
    }
    // The event itself: a report of what it describes, its standalone
    // attributes (indicators, comments) kept as text.
    let mut text: Vec<String> = s(event, "comment")
        .map(str::to_string)
        .into_iter()
        .collect();
    for a in list(event, "Attribute") {
        if a.get("deleted").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let (Some(t), Some(v)) = (s(a, "type"), s(a, "value")) {
            text.push(format!("{t}: {v}"));
        }
    }
    let mut m = ctx.base("report", &eid, event, &at_event)?;
    m.insert("name".into(), info.into());
    if !text.is_empty() {
        m.insert("description".into(), text.join("\n").into());
    }
    m.insert("published".into(), ctx.modified.clone().into());
    m.insert("report_types".into(), json!(["threat-report"]));
    // the report's links: what the event describes is related to it
    for r in &refs {
        let rid = uuid::Uuid::new_v5(&crate::NAMESPACE, format!("misp-ref:{eid}:{r}").as_bytes());
        let mut l = ctx.base("relationship", &rid.to_string(), event, &at_event)?;
        l.insert("relationship_type".into(), "related-to".into());
        l.insert("source_ref".into(), format!("report--{eid}").into());
        l.insert("target_ref".into(), r.clone().into());
        l.remove("revoked");
        out.push(Value::Object(l));
    }
    if refs.is_empty() {
        refs.push(ctx.author.clone());
    }
    m.insert("object_refs".into(), json!(refs));
    out.push(Value::Object(m));
    Ok(out)
}

/// A bundle of one or more events (a feed's), for `import_bundle`.
pub fn events_bundle(events: &[Value]) -> Result<Value, ImportError> {
    let mut objects = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for e in events {
        for o in event_objects(e)? {
            let key = format!("{}@{}", o["id"], o["modified"]);
            if seen.insert(key) {
                objects.push(o);
            }
        }
    }
    let key: Vec<String> = objects.iter().map(|o| o["id"].to_string()).collect();
    let id = uuid::Uuid::new_v5(&crate::NAMESPACE, key.join("\n").as_bytes());
    Ok(json!({"type": "bundle", "id": format!("bundle--{id}"), "objects": objects}))
}

/// Checks a feed's `hashes.csv` (`<hash>,<event uuid>` per line) against
/// its manifest: every line names an event of the manifest. Returns the
/// line count.
pub fn check_feed_hashes(csv: &str, manifest: &Map<String, Value>) -> Result<usize, ImportError> {
    let mut n = 0;
    for (i, line) in csv.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("hashes.csv line {}", i + 1);
        let (hash, event) = line
            .split_once(',')
            .ok_or_else(|| err(&at, "line", "expected <hash>,<event uuid>"))?;
        if hash.is_empty() || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(err(&at, "hash", "not a hexadecimal hash"));
        }
        if !manifest.contains_key(event.trim()) {
            return Err(err(
                &at,
                "event",
                format!("{} is not in manifest.json", event.trim()),
            ));
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tansiq_core::record::{Kind, LinkType};

    const EVENT: &str = include_str!("../samples/misp/event.json");

    #[test]
    fn the_sample_event_imports_as_records() {
        let event: Value = serde_json::from_str(EVENT).unwrap();
        let bundle = events_bundle(&[event]).unwrap();
        let (recs, skipped) = crate::import_bundle(&bundle).unwrap();
        let kinds: Vec<Kind> = recs.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            vec![
                Kind::Organization,
                Kind::Person,
                Kind::Person,
                Kind::Location,
                Kind::Document
            ],
            "{skipped:?}"
        );
        let p = &recs[1];
        assert_eq!(p.data["names"][0], "عبد الرحمن بن يوسف");
        assert_eq!(p.data["names"][1], "Abderrahmane Benyoucef");
        assert_eq!(p.data["birth_date"], "1984-03-07");
        assert_eq!(p.data["nationality"][0], "DZ");
        assert_eq!(p.data["documents"][0]["number"], "X0000001");
        assert_eq!(p.tlp, Some(Tlp::Amber));
        assert_eq!(p.links.len(), 1);
        assert_eq!(p.links[0].rel, LinkType::LocatedIn);
        // the object's own tlp:red wins over the event's amber
        assert_eq!(recs[2].tlp, Some(Tlp::Red));
        assert_eq!(recs[2].data["names"][0], "Karim Example");
        assert_eq!(recs[2].data["notes"], "nationality: Algerian");
        assert_eq!(recs[0].data["names"][1], "كتيبة الصحراء");
        assert_eq!(recs[3].data["coordinates"][0], 22.785);
        let report = &recs[4];
        assert!(report.data["text"]
            .as_str()
            .unwrap()
            .contains("comment: Reported"));
        assert_eq!(report.links.len(), 4);
        // the same event again: the same STIX ids and dates
        let again = events_bundle(&[serde_json::from_str(EVENT).unwrap()]).unwrap();
        assert_eq!(again, bundle);
    }

    #[test]
    fn a_bad_object_names_itself() {
        let mut event: Value = serde_json::from_str(EVENT).unwrap();
        event["Event"]["Object"][1]["Attribute"] = json!([]);
        let e = events_bundle(&[event]).unwrap_err();
        assert_eq!(e.object_id, "Object 8192a3b4-c5d6-4e7f-b102-7d8e9fa0b1c2");
        assert_eq!(e.property, "full-name");
        let mut event: Value = serde_json::from_str(EVENT).unwrap();
        event["Event"]["Object"][2]["Attribute"][1]["value"] = "north".into();
        let e = events_bundle(&[event]).unwrap_err();
        assert_eq!(e.property, "latitude", "{e}");
    }

    #[test]
    fn feed_hashes_name_manifest_events() {
        let manifest: Map<String, Value> =
            serde_json::from_str(include_str!("../samples/misp/feed/manifest.json")).unwrap();
        let csv = include_str!("../samples/misp/feed/hashes.csv");
        assert_eq!(check_feed_hashes(csv, &manifest).unwrap(), 2);
        let e =
            check_feed_hashes("abc,00000000-0000-4000-8000-000000000000\n", &manifest).unwrap_err();
        assert_eq!(e.object_id, "hashes.csv line 1");
    }
}
