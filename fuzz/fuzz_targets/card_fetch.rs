//! `tansiq_node::peering::parse_card_fetch` on arbitrary bytes (the body
//! of `POST /peer/v1/card/fetch`): never panics, and what it accepts is a
//! well-formed node id that re-encodes to a body it accepts again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_node::peering::parse_card_fetch;

fuzz_target!(|data: &[u8]| {
    if let Some(id) = parse_card_fetch(data) {
        assert!(tansiq_crypto::is_valid_node_id(&id));
        let again = serde_json::to_vec(&serde_json::json!({ "id": id })).expect("json");
        assert_eq!(parse_card_fetch(&again), Some(id));
    }
});
