//! Every decoder of peer input returns an error, never panics, on arbitrary
//! or mutated input (a stable-toolchain stand-in for fuzzing).

use proptest::prelude::*;
use tansiq_crypto::checkpoint::{self, Checkpoint};
use tansiq_crypto::merkle::{self, Frontier};
use tansiq_crypto::seal::{self, Recipient, Sealed};
use tansiq_crypto::{b64_decode, b64_decode_array, parse_json_strict, verify, Identity};

fn signed_note() -> (Identity, String) {
    let id = Identity::from_secret_bytes([5; 32], [6; 32]);
    let cp = Checkpoint {
        origin: "o.example/log".into(),
        size: 42,
        root: [9; 32],
    };
    let note = checkpoint::sign(&id, "o.example/log", &cp).unwrap();
    let line = checkpoint::cosign(&id, "w.example", &cp, 7).unwrap();
    let note = checkpoint::add_signature_line(&note, &line).unwrap();
    (id, note)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn notes_arbitrary(s in ".{0,300}") {
        let pk = [1u8; 32];
        let _ = Checkpoint::parse(&s);
        let _ = checkpoint::verify(&s, "o.example/log", &pk);
        let _ = checkpoint::verify_cosignature(&s, "w.example", &pk);
    }

    #[test]
    fn notes_mutated(pos in any::<usize>(), byte in any::<u8>(), cut in any::<usize>()) {
        let (id, note) = signed_note();
        let mut bytes = note.into_bytes();
        let i = pos % bytes.len();
        bytes[i] = byte;
        bytes.truncate(bytes.len() - cut % 8);
        let s = String::from_utf8_lossy(&bytes).into_owned();
        let pk = id.signing_public();
        let _ = checkpoint::verify(&s, "o.example/log", &pk);
        let _ = checkpoint::verify_cosignature(&s, "w.example", &pk);
    }

    #[test]
    fn json_arbitrary(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_json_strict(&bytes);
        let _ = serde_json::from_slice::<Sealed>(&bytes);
    }

    #[test]
    fn json_structured(s in r#"[\[\]{}",:0-9a\\u.eE+-]{0,80}"#) {
        if let Ok(v) = parse_json_strict(s.as_bytes()) {
            // Canonical output re-parses to the same canonical output.
            if let Ok(c) = tansiq_crypto::canonical_json(&v) {
                let again = parse_json_strict(&c).unwrap();
                prop_assert_eq!(tansiq_crypto::canonical_json(&again).unwrap(), c);
            }
        }
    }

    #[test]
    fn base64_and_frontier(s in "[A-Za-z0-9_+/=-]{0,60}", bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = b64_decode(&s);
        let _ = b64_decode_array::<32>(&s);
        if let Ok(f) = Frontier::from_bytes(&bytes) {
            let _ = f.root();
            prop_assert_eq!(f.to_bytes(), bytes);
        }
    }

    #[test]
    fn signatures_arbitrary(pk in any::<[u8; 32]>(), sig in proptest::collection::vec(any::<u8>(), 64), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let sig: [u8; 64] = sig.try_into().unwrap();
        prop_assert!(verify(&pk, "tansiq/fuzz/v1", &msg, &sig).is_err());
        let items = [(&pk, "tansiq/fuzz/v1", msg.as_slice(), &sig)];
        prop_assert!(tansiq_crypto::verify_batch(&items).is_err());
    }

    #[test]
    fn proofs_arbitrary(index in any::<u64>(), size in any::<u64>(), old in any::<u64>(), n in 0usize..70, seed in any::<u8>()) {
        let proof: Vec<[u8; 32]> = (0..n).map(|i| [seed.wrapping_add(i as u8); 32]).collect();
        let _ = merkle::verify_inclusion(&[seed; 32], index, size, &proof, &[0; 32]);
        let _ = merkle::verify_consistency(old, size, &[seed; 32], &[0; 32], &proof);
        let small = (size % 100) as usize;
        let leaves: Vec<[u8; 32]> = (0..small).map(|i| [i as u8; 32]).collect();
        let _ = merkle::inclusion_proof(&leaves, (index % 120) as usize);
        let _ = merkle::consistency_proof(&leaves, (old % 120) as usize);
    }

    #[test]
    fn sealed_mutated(which in 0usize..5, pos in any::<usize>(), byte in any::<u8>()) {
        let me = Identity::from_secret_bytes([1; 32], [2; 32]);
        let rs = vec![Recipient { id: "me".into(), public: me.encryption_public() }];
        let mut s = seal::seal(b"plaintext", b"aad", &rs).unwrap();
        match which {
            0 => { let i = pos % s.ciphertext.len(); s.ciphertext[i] = byte; }
            1 => { let i = pos % s.wrapped[0].enc.len(); s.wrapped[0].enc[i] = byte; }
            2 => { let i = pos % s.wrapped[0].ct.len(); s.wrapped[0].ct[i] = byte; }
            3 => { s.ciphertext.truncate(pos % 60); }
            _ => { s.wrapped[0].ct.truncate(pos % 48); }
        }
        let r = seal::open(&s, b"aad", "me", &me);
        if let Ok(pt) = r { prop_assert_eq!(pt, b"plaintext".to_vec()); }
    }
}
