//! Fixed vocabularies: TLP marking definitions, relationship names, the
//! confidence scale, and timestamp forms.

use serde_json::{json, Value};
use tansiq_core::handling::{Evaluation, EvaluationScheme, Tlp};
use tansiq_core::record::LinkType;

/// The TLP 2.0 marking-definition ids published by OASIS
/// (cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
pub fn tlp_marking_id(t: Tlp) -> &'static str {
    match t {
        Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
    }
}

/// The TLP 2.0 extension the official marking definitions use.
const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The official TLP 2.0 marking-definition object for `t`, as OASIS
/// publishes it (bundles carry the ones their objects use).
pub fn tlp_marking(t: Tlp) -> Value {
    json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp_marking_id(t),
        "created": "2022-10-01T00:00:00.000Z",
        "name": format!("TLP:{}", t.as_str().to_ascii_uppercase()),
        "extensions": {
            TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": t.as_str()}
        }
    })
}

/// The TLP level a marking-definition id stands for: the TLP 2.0 ids, and
/// the STIX 2.1 spec's TLP 1.0 ids foreign tools still emit (WHITE is
/// CLEAR).
pub fn tlp_from_marking(id: &str) -> Option<Tlp> {
    if let Some(t) = Tlp::ALL.into_iter().find(|t| tlp_marking_id(*t) == id) {
        return Some(t);
    }
    match id {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some(Tlp::Clear),
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some(Tlp::Green),
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some(Tlp::Amber),
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some(Tlp::Red),
        _ => None,
    }
}

/// The relationship_type of a link: the spec's own where one means the
/// same (`derived-from`, `related-to`, `located-at`, `duplicate-of`),
/// Tansiq's names in STIX's hyphenated style otherwise.
pub fn relationship_type(rel: LinkType) -> &'static str {
    match rel {
        LinkType::MemberOf => "member-of",
        LinkType::Leads => "leads",
        LinkType::RecruitsFor => "recruits-for",
        LinkType::Finances => "finances",
        LinkType::SmugglesWith => "smuggles-with",
        LinkType::LocatedIn => "located-at",
        LinkType::OperatesIn => "operates-in",
        LinkType::SuccessorOf => "successor-of",
        LinkType::AliasOf => "duplicate-of",
        LinkType::RelatedTo => "related-to",
        LinkType::DerivedFrom => "derived-from",
    }
}

/// The link type a relationship_type becomes on import; `None` for types
/// Tansiq has no link for (the importer makes those `related_to`, keeping
/// the original name in the link's note).
pub fn link_from_relationship(t: &str) -> Option<LinkType> {
    LinkType::ALL
        .iter()
        .copied()
        .find(|l| relationship_type(*l) == t)
}

/// STIX `confidence` (0–100) for an evaluation's information grade, after
/// the STIX 2.1 spec's Admiralty Credibility scale (appendix "Confidence
/// Scales"): 1 → 90, 2 → 70, 3 → 50, 4 → 30, 5 → 10, 6 (cannot be judged)
/// → none. Europol's 1–3 read as Admiralty's 1–3; its 4 (not known) → none.
/// Source reliability has no place in `confidence`: it travels in the
/// extension only.
pub fn confidence(e: &Evaluation) -> Option<u8> {
    let unjudged = match e.scheme {
        EvaluationScheme::Admiralty => 6,
        EvaluationScheme::Europol => 4,
    };
    (e.credibility < unjudged).then(|| 110 - 20 * e.credibility)
}

/// An RFC 3339 instant in STIX's form with milliseconds.
pub(crate) fn stix_time(t: &tansiq_core::time::Instant) -> String {
    let s = tansiq_core::time::format(t);
    format!(
        "{}.{:03}Z",
        s.trim_end_matches('Z'),
        t.timestamp_subsec_millis()
    )
}

/// A Tansiq partial date (`2007`, `2007-01`, `2007-01-24`) as a STIX
/// timestamp (the start of the period).
pub(crate) fn partial_to_timestamp(d: &str) -> String {
    let parts: Vec<&str> = d.split('-').collect();
    let (y, m, day) = (
        parts[0],
        parts.get(1).copied().unwrap_or("01"),
        parts.get(2).copied().unwrap_or("01"),
    );
    format!("{y}-{m}-{day}T00:00:00.000Z")
}

/// The date part of a STIX timestamp, as a Tansiq date.
pub(crate) fn timestamp_to_date(t: &str) -> String {
    t.get(..10).unwrap_or(t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_type_round_trips() {
        for l in LinkType::ALL {
            assert_eq!(link_from_relationship(relationship_type(*l)), Some(*l));
        }
        assert_eq!(link_from_relationship("uses"), None);
    }

    #[test]
    fn tlp_markings_round_trip() {
        for t in Tlp::ALL {
            assert_eq!(tlp_from_marking(tlp_marking_id(t)), Some(t));
            assert_eq!(tlp_marking(t)["id"], tlp_marking_id(t));
        }
        assert_eq!(
            tlp_marking(Tlp::AmberStrict)["name"],
            json!("TLP:AMBER+STRICT")
        );
        assert_eq!(
            tlp_from_marking("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"),
            Some(Tlp::Clear)
        );
        assert_eq!(tlp_from_marking("marking-definition--x"), None);
    }

    #[test]
    fn confidence_scale() {
        let c = |s: &str| confidence(&s.parse().unwrap());
        assert_eq!(c("A1"), Some(90));
        assert_eq!(c("B2"), Some(70));
        assert_eq!(c("F5"), Some(10));
        assert_eq!(c("C6"), None);
        assert_eq!(c("EU:X3"), Some(50));
        assert_eq!(c("EU:A4"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(partial_to_timestamp("2007"), "2007-01-01T00:00:00.000Z");
        assert_eq!(
            partial_to_timestamp("2007-01-24"),
            "2007-01-24T00:00:00.000Z"
        );
        assert_eq!(timestamp_to_date("2007-01-24T00:00:00.000Z"), "2007-01-24");
    }
}
