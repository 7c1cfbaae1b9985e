//! `tansiq_node::card::NodeCard::parse_verified` on arbitrary bytes (a card
//! file handed over out of band, and the card a peer presents): never
//! panics. Only cards self-signed by their own key verify, and only with a
//! rotation chain whose every link is signed by the key before it (seed
//! `seed-rotated-gen2`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_node::card::NodeCard;

fuzz_target!(|data: &[u8]| {
    if let Ok(card) = NodeCard::parse_verified(data) {
        let key = card
            .signing_key()
            .expect("a verified card has a signing key");
        let spans = card.key_spans().expect("a verified card has key spans");
        assert_eq!(spans.len() as u64, card.body.gen + 1);
        assert_eq!(spans.last().map(|s| s.key), Some(key));
        assert_eq!(
            tansiq_crypto::node_id_from_key(&spans[0].key),
            card.body.id,
            "the id derives from the genesis key"
        );
        assert!(card.is_extended_by(&card).expect("spans"));
        let bytes = serde_json::to_vec(&card).expect("cards serialise");
        NodeCard::parse_verified(&bytes).expect("a verified card re-verifies");
    }
});
