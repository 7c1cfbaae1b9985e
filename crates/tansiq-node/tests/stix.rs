//! STIX export and import through the node's services (issue 15): the
//! export rule on partners' records, releases to the export destination,
//! the import's single transaction, idempotence, versions, retraction.

mod common;

use common::*;
use serde_json::{json, Value};
use tansiq_core::handling::{HandlingCode, Tlp};
use tansiq_core::policy::ReadScope;
use tansiq_node::Node;
use tansiq_store::RecordFilter;

fn records(n: &Node) -> u64 {
    n.store
        .read(|tx| {
            tx.count_records(
                &RecordFilter {
                    include_tombstones: true,
                    ..Default::default()
                },
                &ReadScope::everything(),
            )
        })
        .unwrap()
}

fn objects_of(bundle: &Value, ty: &str) -> Vec<Value> {
    bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["type"] == ty)
        .cloned()
        .collect()
}

fn names(bundle: &Value) -> Vec<String> {
    objects_of(bundle, "identity")
        .iter()
        .filter(|o| o["identity_class"] == "individual")
        .map(|o| o["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn export_leaves_partners_records_home_unless_released() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7601);
    let ma = node(tmp.path(), "ma", "MA", 7611);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    dz.record_add(&OP, person(&ch, "عبد المالك درودكال"))
        .unwrap();
    let mut amber = person(&ch, "Mokhtar Belmokhtar");
    amber.tlp = Some(Tlp::Amber);
    let held_back = ma.record_add(&OP, amber).unwrap();
    let mut green = person(&ch, "Yahia Djouadi");
    green.tlp = Some(Tlp::Green);
    green.code = Some(HandlingCode::NotForEvidence);
    ma.record_add(&OP, green).unwrap();
    pump(&[&dz, &ma]);

    let e = dz.stix_export(&OP, &ch, None).unwrap();
    let mut got = names(&e.bundle);
    got.sort();
    assert_eq!(got, vec!["Yahia Djouadi", "عبد المالك درودكال"]);
    assert_eq!(e.withheld, vec![held_back.clone()]);
    assert_eq!(audited(&dz, "stix.export", "\"count\":2"), 1);

    // MA releases its record to DZ's export destination: now it may leave.
    let dest = tansiq_core::policy::export_destination(dz.id());
    ma.release_grant(&OP, None, Some(&held_back), Some(&dest), None)
        .unwrap();
    pump(&[&dz, &ma]);
    let e = dz.stix_export(&OP, &ch, None).unwrap();
    assert_eq!(names(&e.bundle).len(), 3, "{:?}", e.withheld);
    assert!(e.withheld.is_empty());
    // …from DZ only: the same release does not let MA's record leave a
    // third node, whose destination is another.
    assert_ne!(dest, tansiq_core::policy::export_destination(ma.id()));
}

fn bundle(objects: Vec<Value>) -> Value {
    json!({"type": "bundle", "id": "bundle--3a1e2c8e-62d4-4b1f-9d0c-2b8e0f1c0a01", "objects": objects})
}

fn identity(id: &str, name: &str, modified: &str) -> Value {
    json!({"type": "identity", "spec_version": "2.1", "id": id,
           "created": "2026-01-01T00:00:00.000Z", "modified": modified,
           "name": name, "identity_class": "individual"})
}

fn group(id: &str, name: &str) -> Value {
    json!({"type": "intrusion-set", "spec_version": "2.1", "id": id,
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "name": name})
}

fn rel(id: &str, src: &str, ty: &str, dst: &str) -> Value {
    json!({"type": "relationship", "spec_version": "2.1", "id": id,
           "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
           "relationship_type": ty, "source_ref": src, "target_ref": dst})
}

const P: &str = "identity--0f6a3b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
const G: &str = "intrusion-set--1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d";
const R1: &str = "relationship--2b3c4d5e-6f7a-4b9c-8d1e-2f3a4b5c6d7e";
const R2: &str = "relationship--3c4d5e6f-7a8b-4c0d-9e2f-3a4b5c6d7e8f";

#[test]
fn import_is_one_transaction_idempotent_and_follows_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7621);
    let ch = dz
        .channel_create(&OP, "DZ", vec![], vec!["terrorism".into()], vec![], None)
        .unwrap();
    let at = (ch.as_str(), "terrorism");
    // the relationship comes first: references go anywhere in the bundle
    let good = vec![
        rel(R1, P, "member-of", G),
        rel(R2, P, "located-at", G),
        identity(P, "عبد الله الجزائري", "2026-01-01T00:00:00.000Z"),
        group(G, "Katibat al-Mulathamin"),
    ];
    let mut bad = good.clone();
    bad.push(json!({"type": "location", "spec_version": "2.1",
        "id": "location--4d5e6f7a-8b9c-4d1e-8f3a-4b5c6d7e8f90",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": "Nowhere", "latitude": 123.0, "longitude": 0.0}));
    let e = dz.stix_import(&OP, at, &bundle(bad), "t").unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let msg = e.to_string();
    assert!(
        msg.contains("location--4d5e6f7a") && msg.contains("latitude"),
        "{msg}"
    );
    assert_eq!(records(&dz), 0, "a bad object imports nothing");

    let r = dz.stix_import(&OP, at, &bundle(good.clone()), "t").unwrap();
    assert_eq!(r.created.len(), 2, "{r:?}");
    let person = r.created.iter().find(|(s, _)| s == P).unwrap().1.clone();
    let rec = held(&dz, &person).unwrap();
    assert_eq!(rec.body.originator, dz.id());
    assert_eq!(rec.body.data["names"][0], "عبد الله الجزائري");
    assert_eq!(rec.body.links.len(), 2);
    assert_eq!(audited(&dz, "stix.import", "\"created\":2"), 1);

    // the same (id, modified) again: nothing changes
    let r = dz.stix_import(&OP, at, &bundle(good), "t").unwrap();
    assert_eq!((r.created.len(), r.unchanged), (0, 2), "{r:?}");
    assert_eq!(records(&dz), 2);

    // a later version drops one link: a new version, and the export
    // revokes the relationship it dropped
    let v2 = vec![
        rel(R1, P, "member-of", G),
        identity(P, "عبد الله الجزائري", "2026-02-01T00:00:00.000Z"),
    ];
    let r = dz.stix_import(&OP, at, &bundle(v2), "t").unwrap();
    assert_eq!(r.updated.len(), 1, "{r:?}");
    assert_eq!(held(&dz, &person).unwrap().body.version, 2);
    let out = dz.stix_export(&OP, &ch, None).unwrap();
    let rels = objects_of(&out.bundle, "relationship");
    let revoked: Vec<&Value> = rels.iter().filter(|r| r["revoked"] == true).collect();
    assert_eq!(revoked.len(), 1, "{rels:#?}");
    assert_eq!(revoked[0]["relationship_type"], "located-at");

    // revoked upstream: the record is retracted, and exports as revoked
    let mut gone = identity(P, "عبد الله الجزائري", "2026-03-01T00:00:00.000Z");
    gone["revoked"] = true.into();
    let r = dz.stix_import(&OP, at, &bundle(vec![gone]), "t").unwrap();
    assert_eq!(r.retracted.len(), 1, "{r:?}");
    assert!(held(&dz, &person).is_none());
    let out = dz.stix_export(&OP, &ch, None).unwrap();
    let people: Vec<Value> = objects_of(&out.bundle, "identity")
        .into_iter()
        .filter(|o| o["revoked"] == true)
        .collect();
    assert_eq!(people.len(), 1);
}

/// A partner's export imported here: the new records are this node's,
/// derived from the partner's records this node holds.
#[test]
fn a_tansiq_export_imported_elsewhere_is_derived_from_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7631);
    let ma = node(tmp.path(), "ma", "MA", 7641);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let src = dz.record_add(&OP, person(&ch, "أبو مصعب")).unwrap();
    pump(&[&dz, &ma]);
    let e = dz.stix_export(&OP, &ch, None).unwrap();
    let ma_ch = ma
        .channel_create(&OP, "MA", vec![], vec!["terrorism".into()], vec![], None)
        .unwrap();
    // into MA's own channel (its only member already holds the source,
    // so the third-party rule allows it): derived_from noted
    let r = ma
        .stix_import(&OP, (&ma_ch, "terrorism"), &e.bundle, "dz.json")
        .unwrap();
    let made = &r.created[0].1;
    let body = held(&ma, made).unwrap().body;
    assert_eq!(body.originator, ma.id());
    assert!(body
        .links
        .iter()
        .any(|l| l.rel == tansiq_core::record::LinkType::DerivedFrom && l.target == src));
    assert_eq!(body.data["names"][0], "أبو مصعب");
    // DZ's own export imported back at DZ: it is DZ's record already
    let r = dz
        .stix_import(&OP, (&ch, "terrorism"), &e.bundle, "self.json")
        .unwrap();
    assert!(r.created.is_empty(), "{r:?}");
}
