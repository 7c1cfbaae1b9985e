//! Records of every kind, for the mapping tests and the sample bundle
//! that `scripts/stix-validate` checks with the OASIS validator
//! (`examples/sample_bundle.rs` includes this file).

use serde_json::{json, Value};
use tansiq_core::handling::{Handling, HandlingCode, Tlp};
use tansiq_core::record::{validate_data, Kind, Link, LinkType, RecordBody};

pub const NODE: &str = "tqmfrggzdfmztwq2lk";
// minted 2026-12-04T10:00:00.250Z
pub const REC: &str = "rec_01a2407f15fa00000001.tqmfrggzdfmztwq2lk";
pub const ORG: &str = "rec_01a2407f15fa00000002.tqmfrggzdfmztwq2lk";
pub const OTHER: &str = "rec_01a2407f15fa00000003.tqothernode00000000";

pub fn body(id: &str, kind: Kind, data: Value, links: Vec<Link>) -> RecordBody {
    RecordBody {
        id: id.into(),
        version: 1,
        kind,
        originator: tansiq_core::ids::record_id_owner(id).unwrap().into(),
        channel: "ch_1".into(),
        members: vec![NODE.into()],
        file: "terrorism".into(),
        handling: Handling {
            tlp: Tlp::AmberStrict,
            code: HandlingCode::NotForEvidence,
            evaluation: Some("EU:X3".parse().unwrap()),
            note: None,
        },
        created: "2026-12-04T10:00:00Z".into(),
        expires: Some("2027-12-04T00:00:00Z".into()),
        data: validate_data(kind, &data).unwrap(),
        links,
        retracted: false,
    }
}

pub fn kinds(id: &str) -> Option<Kind> {
    match id {
        REC => Some(Kind::Person),
        ORG => Some(Kind::Organization),
        OTHER => Some(Kind::Location),
        _ => None,
    }
}

pub fn link(rel: LinkType, target: &str) -> Link {
    Link {
        rel,
        target: target.into(),
        from: Some("2007-01".into()),
        until: None,
        note: Some("according to the 2019 report".into()),
    }
}

pub fn samples() -> Vec<RecordBody> {
    vec![
        body(
            REC,
            Kind::Person,
            json!({"names": ["عبد المالك دروكدال", "Abdelmalek Droukdel"], "weak_names": ["Abou Moussab"],
                   "birth_date": "1970-04-20", "nationality": ["DZ"], "gender": "male",
                   "documents": [{"type": "passport", "number": "X1", "country": "DZ"}],
                   "listing": {"list": "un", "reference": "QDi.232", "reason": "Leader of AQIM", "status": "active"},
                   "notes": "ملاحظة"}),
            vec![
                link(LinkType::MemberOf, ORG),
                link(LinkType::LocatedIn, OTHER),
            ],
        ),
        body(
            ORG,
            Kind::Organization,
            json!({"names": ["AQIM", "تنظيم القاعدة في بلاد المغرب الإسلامي"], "country": ["DZ", "ML"], "founded": "2007-01-24", "notes": "successor of the GSPC"}),
            vec![Link {
                rel: LinkType::SuccessorOf,
                target: REC.into(),
                from: Some("2007-01-24".into()),
                until: Some("2007-01-24".into()),
                note: None,
            }],
        ),
        body(
            "rec_01a2407f15fa00000010.tqmfrggzdfmztwq2lk",
            Kind::Network,
            json!({"names": ["Sahel route"], "activity": "arms smuggling", "routes": ["Tamanrasset - Gao"], "founded": "2012"}),
            vec![],
        ),
        body(
            "rec_01a2407f15fa00000011.tqmfrggzdfmztwq2lk",
            Kind::Location,
            json!({"names": ["وجدة", "Oujda"], "coordinates": [34.68, -1.91], "country": ["MA"]}),
            vec![],
        ),
        body(
            "rec_01a2407f15fa00000015.tqmfrggzdfmztwq2lk",
            Kind::Location,
            json!({"names": ["Somewhere"]}),
            vec![],
        ),
        body(
            "rec_01a2407f15fa00000012.tqmfrggzdfmztwq2lk",
            Kind::Incident,
            json!({"title": "Casablanca bombings", "text": "Five attacks", "occurred_at": "2003-05-16", "place": "Casablanca", "country": ["MA"]}),
            vec![link(LinkType::RelatedTo, ORG)],
        ),
        body(
            "rec_01a2407f15fa00000013.tqmfrggzdfmztwq2lk",
            Kind::Document,
            json!({"title": "تقرير", "text": "…", "reference": "R-1", "language": "ar"}),
            vec![link(LinkType::DerivedFrom, REC)],
        ),
        body(
            "rec_01a2407f15fa00000014.tqmfrggzdfmztwq2lk",
            Kind::Note,
            json!({"title": "Sighting", "text": "Seen in Gao"}),
            vec![],
        ),
        body(
            "rec_01a2407f15fa00000016.tqmfrggzdfmztwq2lk",
            Kind::Message,
            json!({"text": "FLASH"}),
            vec![],
        ),
    ]
}

/// A retraction of the listed person: the tombstone version.
pub fn retraction() -> RecordBody {
    let mut b = samples().remove(0);
    b.version = 3;
    b.created = "2026-12-06T09:30:00Z".into();
    b.retracted = true;
    b.data = json!({});
    b.links = vec![];
    b
}
