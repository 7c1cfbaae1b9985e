//! The hit/no-hit codec a partner's answers and requests go through
//! (`tansiq_node::hits`): the first byte picks the side.
//!
//! - 0: the querier parsing a holder's keyed list (`parse_list`, the body
//!   of `POST /peer/v1/hit/list`), then every entry's tags and a lookup;
//! - 1: the holder taking an `EvaluateRequest` (strict JSON, as the
//!   partner endpoint reads it): elements decoded, checked and
//!   blind-evaluated with a fixed key;
//! - 2: the querier taking an `EvaluateResponse` for one blinded input:
//!   elements and proof decoded, `oprf::finalize` against the fixed key's
//!   public key (a forged proof must be refused, never panic).
//!
//! Property: a keyed list that parses keeps its entry count and tag
//! offsets consistent (every entry's tags lie inside the flat array).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_crypto::oprf::{self, OprfKey, ELEMENT_LEN};
use tansiq_node::hits::{parse_list, EvaluateRequest, EvaluateResponse, TAG_LEN};

fn key() -> &'static OprfKey {
    static K: std::sync::OnceLock<OprfKey> = std::sync::OnceLock::new();
    K.get_or_init(|| OprfKey::derive(&[7u8; 32], b"fuzz").expect("a key"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let Ok(list) = parse_list(rest) else {
                return;
            };
            assert_eq!(list.refs.len() as u64, list.header.entries);
            let mut probe: Option<[u8; TAG_LEN]> = None;
            for i in 0..list.refs.len() {
                if let Some(t) = list.entry_tags(i).first() {
                    probe = Some(*t);
                }
            }
            if let Some(t) = probe {
                assert!(list.has_tag(&t), "a tag of an entry is found");
            }
        }
        1 => {
            let Ok(v) = tansiq_crypto::parse_json_strict(rest) else {
                return;
            };
            let Ok(req) = serde_json::from_value::<EvaluateRequest>(v) else {
                return;
            };
            let elems: Vec<[u8; ELEMENT_LEN]> = req
                .elements
                .iter()
                .filter_map(|e| tansiq_crypto::b64_decode_array::<ELEMENT_LEN>(e).ok())
                .filter(oprf::is_valid_element)
                .collect();
            if !elems.is_empty() && elems.len() <= 64 {
                let _ = key().blind_evaluate(&elems);
            }
        }
        _ => {
            let Ok(v) = tansiq_crypto::parse_json_strict(rest) else {
                return;
            };
            let Ok(resp) = serde_json::from_value::<EvaluateResponse>(v) else {
                return;
            };
            let evaluated: Vec<[u8; ELEMENT_LEN]> = resp
                .evaluated
                .iter()
                .filter_map(|e| tansiq_crypto::b64_decode_array::<ELEMENT_LEN>(e).ok())
                .collect();
            let Ok(proof) = tansiq_crypto::b64_decode_array::<{ oprf::PROOF_LEN }>(&resp.proof)
            else {
                return;
            };
            let inputs = [b"fuzz input".as_slice()];
            let Ok(blinded) = oprf::blind(&inputs) else {
                return;
            };
            // The proof is over another blinding: it must not verify.
            assert!(
                oprf::finalize(&blinded, &inputs, &evaluated, &proof, &key().public_key()).is_err(),
                "a proof made without this blinding verified"
            );
        }
    }
});
