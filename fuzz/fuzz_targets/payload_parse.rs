//! The last step of opening an envelope in `tansiq_node::federation::
//! payload::open`: the decrypted plaintext, strictly parsed
//! (`tansiq_crypto::parse_json_strict`) into a `Payload`, then the checks
//! a receiving node runs before touching its store: a record's
//! `validate()` and signature, a charter's `verify` (dummy key lookup),
//! a release's signature, a checkpoint note's signature. Never panics; a
//! payload that parses re-serialises and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_node::federation::Payload;

fuzz_target!(|data: &[u8]| {
    if data.len() > tansiq_node::federation::payload::MAX_PAYLOAD_BYTES {
        return;
    }
    let Ok(v) = tansiq_crypto::parse_json_strict(data) else {
        return;
    };
    let Ok(p) = serde_json::from_value::<Payload>(v) else {
        return;
    };
    let _ = p.kind();
    let key = tansiq_fuzz::identity(2).signing_public();
    match &p {
        Payload::Record { record, release } => {
            let _ = record.body.validate();
            let _ = record.verify(&key);
            if let Some(r) = release {
                let _ = r.verify(&key);
            }
        }
        Payload::Charter { charter } => {
            let _ = charter.charter.validate();
            if let Ok(rule) = tansiq_core::charter::consent(None, &charter.charter) {
                let _ = rule.missing(charter);
            }
            let _ = tansiq_core::charter::ChannelState::default().apply(
                tansiq_core::charter::ChannelEvent::Proposed(charter.clone()),
                &charter.charter.proposer,
                &tansiq_fuzz::any_key,
            );
        }
        Payload::ReleaseDecision {
            release: Some(r), ..
        } => {
            let _ = r.verify(&key);
        }
        Payload::Checkpoint { note, proof, .. } => {
            let _ = tansiq_crypto::checkpoint::verify(note, "fuzz", &key);
            for h in proof {
                let _ = tansiq_crypto::b64_decode_array::<32>(h);
            }
        }
        _ => {}
    }
    // Round trip: what a node stores (serde_json) reads back the same.
    if let Ok(bytes) = serde_json::to_vec(&p) {
        let back: Payload = serde_json::from_slice(&bytes).expect("a serialised payload parses");
        assert_eq!(back, p, "payload round trip");
    }
});
