//! Tansiq records to and from STIX 2.1 objects (docs/STIX.md): the pure
//! mapping, both directions, with no IO and no clock — the node's
//! `stix export/import` commands and the TAXII server call into it.
//!
//! Export ([`export_record`], [`bundle`]) turns signed record bodies into
//! STIX objects whose ids every node computes alike (UUIDv5 of originator
//! and record id). Import ([`import_bundle`]) turns a bundle into record
//! data validated by `tansiq_core::record::validate_data`, with links still
//! naming STIX ids for the caller to resolve; its errors name the object id
//! and the property at fault.

mod export;
mod import;
pub mod misp;
mod vocab;

#[cfg(test)]
mod samples;
#[cfg(test)]
mod tests_mapping;

pub use export::{
    bundle, bundle_with, export_record, main_id, node_identity, revoked_links, stix_type, Exported,
    SkippedLink,
};
pub use import::{import_bundle, ImportError, Imported, ImportedLink, Skipped};
pub use vocab::{
    confidence, link_from_relationship, relationship_type, tlp_from_marking, tlp_marking,
    tlp_marking_id,
};

use uuid::Uuid;

/// Namespace of every UUIDv5 Tansiq derives: `uuid5(NAMESPACE_URL,
/// "urn:tansiq:stix:v1")`. Never changes, or exported ids would.
pub const NAMESPACE: Uuid = Uuid::from_u128(0x496df954_35f7_5869_a8fc_7b85dcfe971f);

/// The Tansiq record property extension (`uuid5(NAMESPACE,
/// "extension-definition:tansiq-record:v1")`).
pub const EXTENSION_ID: &str = "extension-definition--fa48b115-b2f6-5752-9743-e75795b54ec2";

/// The identity that authors [`EXTENSION_ID`] (`uuid5(NAMESPACE,
/// "identity:tansiq-project")`).
pub const PROJECT_IDENTITY_ID: &str = "identity--167fdd7d-f03d-5304-aaab-6e041c6c0598";

/// Fixed creation time of the extension definition and project identity.
pub const EXTENSION_CREATED: &str = "2026-12-04T00:00:00.000Z";

fn uuid5(name: &str) -> Uuid {
    Uuid::new_v5(&NAMESPACE, name.as_bytes())
}

/// The STIX id of a record's object of `stix_type`: the same on every node
/// and for every version (`uuid5(NAMESPACE, "record:" + originator + ":" +
/// record id)`; the type prefix tells a person's identity from its
/// threat-actor).
pub fn record_stix_id(stix_type: &str, originator: &str, record_id: &str) -> String {
    format!(
        "{stix_type}--{}",
        uuid5(&format!("record:{originator}:{record_id}"))
    )
}

/// The TAXII collection id of a channel's file on a node: a UUID, the
/// same on every request (`uuid5(NAMESPACE, "collection:" + node + ":" +
/// channel + ":" + file)`).
pub fn collection_id(node_id: &str, channel: &str, file: &str) -> String {
    uuid5(&format!("collection:{node_id}:{channel}:{file}")).to_string()
}

/// The identity object id of a node (`created_by_ref` of its records).
pub fn node_stix_id(node_id: &str) -> String {
    format!("identity--{}", uuid5(&format!("node:{node_id}")))
}

/// The id of the relationship a link becomes: from its source record, its
/// type, target and dates, so re-exporting a version gives the same id.
pub fn link_stix_id(
    originator: &str,
    record_id: &str,
    rel: &str,
    target: &str,
    from: Option<&str>,
    until: Option<&str>,
) -> String {
    let name = format!(
        "link:{originator}:{record_id}:{rel}:{target}:{}:{}",
        from.unwrap_or(""),
        until.unwrap_or("")
    );
    format!("relationship--{}", uuid5(&name))
}

/// The extension definition object every exported bundle carries.
pub fn extension_definition() -> serde_json::Value {
    serde_json::json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION_ID,
        "created_by_ref": PROJECT_IDENTITY_ID,
        "created": EXTENSION_CREATED,
        "modified": EXTENSION_CREATED,
        "name": "Tansiq record",
        "description": "Tansiq record provenance, handling (code, note, evaluation in the Admiralty or Europol 4x4 scheme), expiry and the record data in Tansiq's own schema, so a Tansiq-to-Tansiq round trip loses nothing.",
        "schema": "Tansiq docs/STIX.md, section \"The Tansiq extension\" (property-extension: extension_type, record_id, originator, version, kind, role, handling_code, handling_note, evaluation, expires, data; on relationships: rel, from, until).",
        "version": "1.0.0",
        "extension_types": ["property-extension"]
    })
}

/// The objects every record refers to whatever its node: the Tansiq
/// identity, the extension definition and the five TLP 2.0 marking
/// definitions (a TAXII collection serves them first).
pub fn common_objects() -> Vec<serde_json::Value> {
    let mut out = vec![project_identity(), extension_definition()];
    out.extend(tansiq_core::handling::Tlp::ALL.into_iter().map(tlp_marking));
    out
}

/// The identity that authors the extension definition.
pub fn project_identity() -> serde_json::Value {
    serde_json::json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": PROJECT_IDENTITY_ID,
        "created": EXTENSION_CREATED,
        "modified": EXTENSION_CREATED,
        "name": "Tansiq",
        "identity_class": "system"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_the_documented_uuid5s() {
        assert_eq!(
            NAMESPACE,
            Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:tansiq:stix:v1")
        );
        assert_eq!(
            EXTENSION_ID,
            format!(
                "extension-definition--{}",
                uuid5("extension-definition:tansiq-record:v1")
            )
        );
        assert_eq!(
            PROJECT_IDENTITY_ID,
            format!("identity--{}", uuid5("identity:tansiq-project"))
        );
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = record_stix_id("identity", "tqa", "rec_01.tqa");
        assert_eq!(a, record_stix_id("identity", "tqa", "rec_01.tqa"));
        // a fixed value: a change here changes every exported id
        assert_eq!(a, format!("identity--{}", uuid5("record:tqa:rec_01.tqa")));
        assert_ne!(a, record_stix_id("identity", "tqa", "rec_02.tqa"));
        assert_ne!(node_stix_id("tqa"), node_stix_id("tqb"));
        let u = a.strip_prefix("identity--").unwrap();
        assert_eq!(Uuid::parse_str(u).unwrap().get_version_num(), 5);
    }
}
