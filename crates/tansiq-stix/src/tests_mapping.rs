//! Both directions, every kind: export a record version, import the
//! bundle, get the same record back.

use serde_json::{json, Value};
use tansiq_core::handling::{Evaluation, HandlingCode, Tlp};
use tansiq_core::record::{Kind, LinkType, RecordBody};

use crate::samples::*;
use crate::*;

type LinkRow = (
    LinkType,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn round_trip(b: &RecordBody) -> Imported {
    let (bundle, skipped) = bundle(std::slice::from_ref(b), &kinds);
    assert!(skipped.is_empty(), "{skipped:?}");
    let (mut recs, _) = import_bundle(&bundle).unwrap_or_else(|e| panic!("{e}\n{bundle:#}"));
    assert_eq!(recs.len(), 1, "{recs:?}");
    recs.remove(0)
}

#[test]
fn every_kind_round_trips() {
    for b in samples() {
        let r = round_trip(&b);
        assert_eq!(r.kind, b.kind, "{}", b.id);
        assert_eq!(r.data, b.data, "{}", b.id);
        assert_eq!(r.tlp, Some(Tlp::AmberStrict));
        assert_eq!(r.code, Some(HandlingCode::NotForEvidence));
        assert_eq!(r.evaluation, Some("EU:X3".parse::<Evaluation>().unwrap()));
        assert_eq!(r.expires, b.expires);
        assert!(!r.revoked);
        assert_eq!(
            r.created_by_ref.as_deref(),
            Some(node_stix_id(NODE).as_str())
        );
        assert_eq!(
            r.tansiq_source,
            Some((b.originator.clone(), b.id.clone(), 1))
        );
        let want: Vec<LinkRow> = b
            .links
            .iter()
            .map(|l| {
                (
                    l.rel,
                    main_id(kinds(&l.target).unwrap(), &l.target).unwrap(),
                    l.from.clone(),
                    l.until.clone(),
                    l.note.clone(),
                )
            })
            .collect();
        let got: Vec<_> = r
            .links
            .iter()
            .map(|l| {
                (
                    l.rel,
                    l.target_stix_id.clone(),
                    l.from.clone(),
                    l.until.clone(),
                    l.note.clone(),
                )
            })
            .collect();
        assert_eq!(got, want, "{}", b.id);
    }
}

#[test]
fn export_uses_the_spec_objects_and_properties() {
    let s = samples();
    let person = export_record(&s[0], &kinds).objects;
    let types: Vec<&str> = person.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "identity",
            "threat-actor",
            "relationship",
            "relationship",
            "relationship"
        ]
    );
    let id = &person[0];
    assert_eq!(id["identity_class"], "individual");
    assert_eq!(id["name"], "عبد المالك دروكدال");
    assert_eq!(id["id"], record_stix_id("identity", NODE, REC));
    assert_eq!(id["created"], "2026-12-04T10:00:00.250Z");
    assert_eq!(id["modified"], "2026-12-04T10:00:00.250Z");
    assert_eq!(
        id["object_marking_refs"],
        json!([tlp_marking_id(Tlp::AmberStrict)])
    );
    assert_eq!(id["confidence"], 50);
    assert_eq!(id["extensions"][EXTENSION_ID]["evaluation"], "EU:X3");
    let ta = &person[1];
    assert_eq!(
        ta["aliases"],
        json!(["Abdelmalek Droukdel", "Abou Moussab"])
    );
    assert_eq!(ta["description"], "Leader of AQIM");
    assert_eq!(person[2]["relationship_type"], "attributed-to");
    assert_eq!(person[2]["source_ref"], ta["id"]);
    assert_eq!(person[3]["relationship_type"], "member-of");
    assert_eq!(
        person[3]["target_ref"],
        record_stix_id("threat-actor", NODE, ORG)
    );
    assert_eq!(person[3]["start_time"], "2007-01-01T00:00:00.000Z");
    assert_eq!(person[4]["relationship_type"], "located-at");
    let org = export_record(&s[1], &kinds).objects;
    assert_eq!(org[0]["type"], "threat-actor");
    assert_eq!(org[0]["first_seen"], "2007-01-24T00:00:00.000Z");
    assert_eq!(org[1]["relationship_type"], "successor-of");
    assert!(
        org[1].get("stop_time").is_none(),
        "stop_time must be after start_time"
    );
    let ty = |i: usize| export_record(&s[i], &kinds).objects[0]["type"].clone();
    assert_eq!(
        [ty(2), ty(3), ty(5), ty(6), ty(7), ty(8)],
        [
            "intrusion-set",
            "location",
            "incident",
            "report",
            "note",
            "note"
        ]
        .map(Value::from)
    );
    let loc = &export_record(&s[3], &kinds).objects[0];
    assert_eq!(
        (loc["latitude"].clone(), loc["country"].clone()),
        (json!(34.68), json!("MA"))
    );
    assert_eq!(export_record(&s[4], &kinds).objects[0]["region"], "unknown");
    let note = &export_record(&s[7], &kinds).objects[0];
    assert_eq!(note["object_refs"], json!([node_stix_id(NODE)]));
    let report = &export_record(&s[6], &kinds).objects[0];
    assert_eq!(
        report["object_refs"],
        json!([record_stix_id("identity", NODE, REC)])
    );
}

#[test]
fn ids_are_stable_across_versions_and_nodes() {
    let v1 = samples().remove(0);
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.created = "2026-12-05T08:00:00Z".into();
    v2.data["notes"] = json!("updated");
    let a = export_record(&v1, &kinds).objects;
    let b = export_record(&v2, &kinds).objects;
    // "every node": the export is a function of the signed body alone
    assert_eq!(a, export_record(&v1.clone(), &kinds).objects);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x["id"], y["id"]);
        assert_eq!(x["created"], y["created"]);
    }
    assert_eq!(b[0]["modified"], "2026-12-05T08:00:00.000Z");
    assert_eq!(b[0]["extensions"][EXTENSION_ID]["version"], 2);
    let (b1, _) = bundle(std::slice::from_ref(&v1), &kinds);
    let (b2, _) = bundle(&[v1], &kinds);
    assert_eq!(b1["id"], b2["id"]);
}

#[test]
fn retraction_is_revoked() {
    let b = retraction();
    let e = export_record(&b, &kinds).objects;
    assert_eq!(e.len(), 2, "identity and threat-actor, both revoked");
    assert!(e.iter().all(|o| o["revoked"] == json!(true)));
    assert_eq!(e[0]["name"], REC);
    let r = round_trip(&b);
    assert!(r.revoked);
    assert_eq!(r.data, json!({}));
}

#[test]
fn unknown_link_targets_are_left_out_and_reported() {
    let b = samples().remove(0);
    let e = export_record(&b, &|id| (id == ORG).then_some(Kind::Organization));
    assert_eq!(e.skipped.len(), 1);
    assert_eq!(e.skipped[0].target, OTHER);
    assert_eq!(e.objects.len(), 4);
}

#[test]
fn a_foreign_bundle_imports() {
    let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--a", "created": "2020-01-01T00:00:00Z", "modified": "2021-01-01T00:00:00Z",
         "name": "محمد", "identity_class": "individual", "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]},
        {"type": "threat-actor", "spec_version": "2.1", "id": "threat-actor--b", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
         "name": "GSPC", "aliases": ["الجماعة السلفية للدعوة والقتال"], "first_seen": "1998-09-01T00:00:00Z"},
        {"type": "intrusion-set", "spec_version": "2.1", "id": "intrusion-set--c", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "name": "Route"},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--d", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
         "relationship_type": "member-of", "source_ref": "identity--a", "target_ref": "threat-actor--b", "start_time": "1999-03-01T00:00:00Z"},
        {"type": "relationship", "spec_version": "2.1", "id": "relationship--e", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
         "relationship_type": "uses", "source_ref": "threat-actor--b", "target_ref": "malware--x"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--x", "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z", "name": "m", "is_family": true}
    ]});
    let (recs, skipped) = import_bundle(&bundle).unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(
        (recs[0].kind, recs[0].data.clone()),
        (Kind::Person, json!({"names": ["محمد"]}))
    );
    assert_eq!(recs[0].tlp, Some(Tlp::Clear));
    assert_eq!(recs[0].modified, "2021-01-01T00:00:00Z");
    assert_eq!(recs[0].links[0].rel, LinkType::MemberOf);
    assert_eq!(recs[0].links[0].target_stix_id, "threat-actor--b");
    assert_eq!(recs[0].links[0].from.as_deref(), Some("1999-03-01"));
    assert_eq!(recs[1].kind, Kind::Organization);
    assert_eq!(
        recs[1].data,
        json!({"names": ["GSPC", "الجماعة السلفية للدعوة والقتال"], "founded": "1998-09-01"})
    );
    assert_eq!(recs[1].links[0].rel, LinkType::RelatedTo);
    assert_eq!(recs[1].links[0].note.as_deref(), Some("uses"));
    assert_eq!(recs[2].kind, Kind::Network);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].object_id, "malware--x");
}

#[test]
fn one_bad_object_refuses_the_bundle_naming_object_and_property() {
    let (mut bundle, _) = bundle(&samples(), &kinds);
    let bad = record_stix_id(
        "location",
        NODE,
        "rec_01a2407f15fa00000011.tqmfrggzdfmztwq2lk",
    );
    for o in bundle["objects"].as_array_mut().unwrap() {
        if o["id"] == json!(bad) {
            o["latitude"] = json!(134.0);
        }
    }
    let e = import_bundle(&bundle).unwrap_err();
    assert_eq!(
        (e.object_id.as_str(), e.property.as_str()),
        (bad.as_str(), "latitude"),
        "{e}"
    );
    for (obj, prop) in [
        (
            json!({"type": "identity", "id": "identity--z", "identity_class": "individual", "name": 5}),
            "name",
        ),
        (
            json!({"type": "identity", "id": "identity--z", "identity_class": "individual", "modified": "2020-01-01T00:00:00Z"}),
            "name",
        ),
        (
            json!({"type": "incident", "id": "incident--z", "name": "x", "modified": "2020-01-01T00:00:00Z",
                "extensions": {EXTENSION_ID: {"kind": "incident", "evaluation": "EU:D1", "data": {"title": "x"}}}}),
            "extensions.extension-definition--fa48b115-b2f6-5752-9743-e75795b54ec2.evaluation",
        ),
        (
            json!({"type": "identity", "id": "threat-actor--z", "name": "x"}),
            "id",
        ),
        (
            json!({"type": "identity", "id": "identity--z", "identity_class": "individual", "name": "x", "modified": "2020-01-01T00:00:00Z",
                "extensions": {EXTENSION_ID: {"kind": "person", "data": {"names": ["x"], "gender": "m"}}}}),
            "extensions.extension-definition--fa48b115-b2f6-5752-9743-e75795b54ec2.data.gender",
        ),
    ] {
        let b = json!({"type": "bundle", "id": "bundle--1", "objects": [obj]});
        let e = import_bundle(&b).unwrap_err();
        assert_eq!(e.property, prop, "{e}");
        assert!(e.to_string().contains(obj["id"].as_str().unwrap()), "{e}");
    }
}

#[test]
fn foreign_edits_to_mapped_properties_are_kept() {
    let b = samples().remove(1);
    let (mut bundle, _) = bundle(&[b], &kinds);
    let objs = bundle["objects"].as_array_mut().unwrap();
    let org = objs
        .iter_mut()
        .find(|o| o["type"] == "threat-actor")
        .unwrap();
    org["description"] = json!("edited in OpenCTI");
    let (recs, _) = import_bundle(&bundle).unwrap();
    assert_eq!(recs[0].data["notes"], "edited in OpenCTI");
    assert_eq!(
        recs[0].data["names"][1],
        "تنظيم القاعدة في بلاد المغرب الإسلامي"
    );
}

/// A link a later version dropped comes back revoked, under the id the
/// earlier export gave it; a link kept is not repeated.
#[test]
fn dropped_links_are_revoked_relationships() {
    let kept = link(LinkType::MemberOf, ORG);
    let dropped = link(LinkType::RelatedTo, OTHER);
    let v1 = body(
        REC,
        Kind::Person,
        json!({"names": ["عبد الله"]}),
        vec![kept.clone(), dropped.clone()],
    );
    let mut v2 = v1.clone();
    v2.version = 2;
    v2.links = vec![kept];
    let first: Vec<Value> = export_record(&v1, &kinds).objects;
    let rel_ids: Vec<&str> = first
        .iter()
        .filter(|o| o["type"] == "relationship")
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(rel_ids.len(), 2);
    let revoked = revoked_links(&v2, std::slice::from_ref(&v1), &kinds);
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["revoked"], true);
    assert_eq!(revoked[0]["relationship_type"], "related-to");
    assert!(rel_ids.contains(&revoked[0]["id"].as_str().unwrap()));
    // nothing earlier, nothing revoked
    assert!(revoked_links(&v1, &[], &kinds).is_empty());
}
