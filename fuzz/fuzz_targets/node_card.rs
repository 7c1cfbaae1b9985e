//! `tansiq_node::card::NodeCard::parse_verified` on arbitrary bytes (a card
//! file handed over out of band, and the card a peer presents): never
//! panics. Only cards self-signed by their own key verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_node::card::NodeCard;

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = NodeCard::parse_verified(data) {
        card.signing_key()
            .expect("a verified card has a signing key");
        let bytes = serde_json::to_vec(&card).expect("cards serialise");
        NodeCard::parse_verified(&bytes).expect("a verified card re-verifies");
    }
});
