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

fn has_unsafe_integer(v: &serde_json::Value) -> bool {
    use serde_json::Value;
    match v {
        Value::Number(n) => {
            n.as_u64()
                .is_some_and(|u| u > tansiq_crypto::MAX_SAFE_INTEGER)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() > tansiq_crypto::MAX_SAFE_INTEGER)
        }
        Value::Array(a) => a.iter().any(has_unsafe_integer),
        Value::Object(m) => m.values().any(has_unsafe_integer),
        _ => false,
    }
}

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
    let canon2 = match canonical_json(&back) {
        Ok(c) => c,
        // Known finding (fuzz/artifacts/jcs_roundtrip/README.md): a double
        // of integral value in [2^53, 2^64) (input `1e19`) canonicalises
        // to integer digits that parse back as a u64/i64 outside ±(2^53−1),
        // which `canonical_json` rejects. Any other failure is new.
        Err(_) if tansiq_fuzz::skip_known() && has_unsafe_integer(&back) => return,
        Err(e) => panic!("re-parsed canonical JSON does not canonicalise: {e}"),
    };
    assert_eq!(
        String::from_utf8_lossy(&canon),
        String::from_utf8_lossy(&canon2),
        "canonicalisation is idempotent"
    );
});
