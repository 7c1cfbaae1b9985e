//! `tansiq_sync::decode_bundle_items` (the plaintext of an offline bundle)
//! on arbitrary bytes: never panics, and decoded items round-trip through
//! `encode_bundle_items`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_sync::{decode_bundle_items, encode_bundle_items};

fuzz_target!(|data: &[u8]| {
    let Ok(items) = decode_bundle_items(data) else {
        return;
    };
    let again = decode_bundle_items(&encode_bundle_items(&items)).expect("encoded items decode");
    assert_eq!(again, items, "bundle items round trip");
});
