//! `tansiq_crypto::parse_json_strict` and `canonical_json` (RFC 8785) on
//! arbitrary bytes. Never panics, and:
//! - strict parsing accepts nothing plain `serde_json` rejects;
//! - canonical output is strict JSON, and canonicalising it again gives
//!   the same bytes (idempotence), so signer and verifier agree;
//! - canonicalisation does not depend on member order (a value rebuilt
//!   from its canonical bytes canonicalises the same).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_crypto::{canonical_json, parse_json_strict};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = parse_json_strict(data) else {
        return;
    };
    // Same value as serde_json's own parser (which differs only by taking
    // the last of duplicate names, rejected above, and by its recursion
    // limit of 128, equal to MAX_DEPTH).
    if let Ok(plain) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(plain, v, "strict and plain parsing agree");
    }
    let Ok(canon) = canonical_json(&v) else {
        return;
    };
    let back = parse_json_strict(&canon).expect("canonical JSON is strict JSON");
    // (`1e19` once failed here: fuzz/artifacts/jcs_roundtrip/README.md.)
    let canon2 = canonical_json(&back)
        .unwrap_or_else(|e| panic!("re-parsed canonical JSON does not canonicalise: {e}"));
    assert_eq!(
        String::from_utf8_lossy(&canon),
        String::from_utf8_lossy(&canon2),
        "canonicalisation is idempotent"
    );
});
