//! `tansiq_core::record::SignedRecord` / `RecordBody` and
//! `tansiq_core::release::SignedRelease` from strictly parsed JSON, then
//! what a receiving node does with them: `validate()` (structure and data
//! schema), signature check (a fixed key), and, for a body that validates,
//! the path of an authenticated originator: the body re-signed with that
//! key must verify, and `content_hash`, `names_of` and the data schema's
//! normal form must not panic. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_core::record::{names_of, validate_data, RecordBody, SignedRecord, RECORD_CONTEXT};
use tansiq_core::release::SignedRelease;

fn check_body(body: &RecordBody) {
    if body.validate().is_err() {
        return;
    }
    let _ = validate_data(body.kind, &body.data);
    let _ = names_of(&body.data);
    let id = tansiq_fuzz::identity(2);
    // A body that validates but cannot be canonicalised (an integer above
    // 2^53 in `version`, say) cannot be signed: no peer can send it.
    let Ok(sig) = id.sign_json(RECORD_CONTEXT, &body.to_value()) else {
        return;
    };
    let signed = SignedRecord {
        body: body.clone(),
        sig: tansiq_crypto::b64(sig),
    };
    signed
        .verify(&id.signing_public())
        .expect("a record signed by its originator verifies");
    let _ = signed.content_hash();
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = tansiq_crypto::parse_json_strict(data) else {
        return;
    };
    let key = tansiq_fuzz::identity(2).signing_public();
    if let Ok(r) = serde_json::from_value::<SignedRecord>(v.clone()) {
        let _ = r.verify(&key);
        check_body(&r.body);
    } else if let Ok(b) = serde_json::from_value::<RecordBody>(v.clone()) {
        check_body(&b);
    } else if let Ok(r) = serde_json::from_value::<SignedRelease>(v) {
        let _ = r.verify(&key);
    }
});
