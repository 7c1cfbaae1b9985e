use proptest::prelude::*;
use serde_json::json;
use tansiq_crypto::{
    node_id_from_key, signing_input, verify, verify_batch, verify_batch_each, verify_json,
    CryptoError, Identity,
};

fn fixed() -> Identity {
    Identity::from_secret_bytes([0x11; 32], [0x22; 32])
}

#[test]
fn sign_verify_round_trip() {
    let id = Identity::generate();
    let sig = id.sign("tansiq/record/v1", b"hello");
    verify(&id.signing_public(), "tansiq/record/v1", b"hello", &sig).unwrap();
    assert_eq!(
        verify(&id.signing_public(), "tansiq/charter/v1", b"hello", &sig),
        Err(CryptoError::BadSignature)
    );
    assert!(verify(&id.signing_public(), "bad context", b"hello", &sig).is_err());
}

#[test]
fn signature_is_plain_ed25519_over_signing_input() {
    // A second implementation signs context || 0x00 || msg with pure Ed25519.
    use ed25519_dalek::{Signer, SigningKey};
    let sk = SigningKey::from_bytes(&[0x11; 32]);
    let expected = sk.sign(&signing_input("tansiq/x/v1", b"abc")).to_bytes();
    assert_eq!(fixed().sign("tansiq/x/v1", b"abc"), expected);
    assert_eq!(fixed().signing_public(), sk.verifying_key().to_bytes());
}

#[test]
fn rfc8032_test_1_key_derivation() {
    // RFC 8032 §7.1 TEST 1: secret 9d61…7f60 → public d75a…511a.
    let secret: [u8; 32] =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
    let id = Identity::from_secret_bytes(secret, [0; 32]);
    assert_eq!(
        hex::encode(id.signing_public()),
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    );
}

#[test]
fn node_id_is_stable_and_documented() {
    let id = fixed();
    assert_eq!(id.node_id(), node_id_from_key(&id.signing_public()));
    assert_eq!(id.node_id().len(), 18);
    // Fixed vector, also given in docs/CRYPTO.md.
    let pk = [0u8; 32];
    let want = {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"tansiq/node-id/v1\0");
        h.update(pk);
        let d = h.finalize();
        d[..10].to_vec()
    };
    let got = node_id_from_key(&pk);
    assert!(got.starts_with("tq"));
    assert_eq!(base32_decode(&got[2..]), want);
}

fn base32_decode(s: &str) -> Vec<u8> {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits = 0u32;
    let mut acc = 0u64;
    let mut out = Vec::new();
    for c in s.bytes() {
        acc = (acc << 5) | alphabet.iter().position(|&a| a == c).unwrap() as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[test]
fn weak_and_invalid_keys_are_rejected() {
    let id = fixed();
    let sig = id.sign("tansiq/t/v1", b"m");
    // Identity point (small order) and a point of order 2.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(matches!(
        verify(&identity, "tansiq/t/v1", b"m", &sig),
        Err(CryptoError::BadKey(_))
    ));
    let mut order2 = [0xffu8; 32];
    order2[0] = 0xec;
    order2[31] = 0x7f;
    assert!(matches!(
        verify(&order2, "tansiq/t/v1", b"m", &sig),
        Err(CryptoError::BadKey(_))
    ));
    // Non-canonical encoding of the identity: y = p + 1.
    let mut noncanon = [0xffu8; 32];
    noncanon[0] = 0xee;
    noncanon[31] = 0x7f;
    assert!(verify(&noncanon, "tansiq/t/v1", b"m", &sig).is_err());
}

#[test]
fn small_order_key_cannot_forge_in_batch() {
    // With the identity point as key and R = identity, s = 0, the
    // cofactorless equation holds for every message; it must be refused.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let items = [(&identity, "tansiq/t/v1", &b"anything"[..], &sig)];
    assert!(verify_batch(&items).is_err());
}

#[test]
fn json_signatures_ignore_member_order() {
    let id = fixed();
    let a = json!({"b": 1, "a": [true, null, "x"]});
    let b: serde_json::Value = serde_json::from_str(r#"{ "a" : [true,null,"x"], "b":1 }"#).unwrap();
    let sig = id.sign_json("tansiq/record/v1", &a).unwrap();
    verify_json(&id.signing_public(), "tansiq/record/v1", &b, &sig).unwrap();
    let c = json!({"b": 2, "a": [true, null, "x"]});
    assert!(verify_json(&id.signing_public(), "tansiq/record/v1", &c, &sig).is_err());
}

#[test]
fn batch_reports_each_item() {
    let ids: Vec<Identity> = (0..150).map(|_| Identity::generate()).collect();
    let pks: Vec<[u8; 32]> = ids.iter().map(|i| i.signing_public()).collect();
    let msgs: Vec<Vec<u8>> = (0..150u32).map(|i| i.to_be_bytes().to_vec()).collect();
    let mut sigs: Vec<[u8; 64]> = ids
        .iter()
        .zip(&msgs)
        .map(|(id, m)| id.sign("tansiq/b/v1", m))
        .collect();
    {
        let items: Vec<_> = (0..150)
            .map(|i| (&pks[i], "tansiq/b/v1", msgs[i].as_slice(), &sigs[i]))
            .collect();
        verify_batch(&items).unwrap();
        assert!(verify_batch(&[]).is_ok());
    }
    sigs[3][10] ^= 1;
    sigs[140][40] ^= 1;
    let items: Vec<_> = (0..150)
        .map(|i| (&pks[i], "tansiq/b/v1", msgs[i].as_slice(), &sigs[i]))
        .collect();
    assert_eq!(verify_batch(&items), Err(CryptoError::BadSignature));
    let each = verify_batch_each(&items);
    let bad: Vec<usize> = each
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(bad, vec![3, 140]);
}

#[test]
fn non_canonical_s_is_rejected() {
    let id = fixed();
    let mut sig = id.sign("tansiq/t/v1", b"m");
    // Add the group order l to S: same scalar mod l, non-canonical encoding.
    let l: [u8; 32] =
        hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
            .unwrap()
            .try_into()
            .unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        sig[32 + i] = v as u8;
        carry = v >> 8;
    }
    let pk = id.signing_public();
    assert!(verify(&pk, "tansiq/t/v1", b"m", &sig).is_err());
    assert!(verify_batch(&[(&pk, "tansiq/t/v1", &b"m"[..], &sig)]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_bit_flip_breaks_the_signature(
        msg in proptest::collection::vec(any::<u8>(), 0..200),
        which in 0usize..3,
        pos in any::<usize>(),
        bit in 0u8..8,
    ) {
        let id = fixed();
        let ctx = "tansiq/prop/v1".to_string();
        let sig = id.sign(&ctx, &msg);
        let pk = id.signing_public();
        prop_assert!(verify(&pk, &ctx, &msg, &sig).is_ok());
        let (mut m2, mut s2, mut c2) = (msg.clone(), sig, ctx.clone().into_bytes());
        match which {
            0 if !m2.is_empty() => { let i = pos % m2.len(); m2[i] ^= 1 << bit; }
            0 => m2.push(1 << bit),
            1 => { let i = pos % 64; s2[i] ^= 1 << bit; }
            _ => { let i = pos % c2.len(); c2[i] ^= 1 << bit; }
        }
        let c2 = String::from_utf8_lossy(&c2).into_owned();
        prop_assert!(verify(&pk, &c2, &m2, &s2).is_err());
        let one = [(&pk, c2.as_str(), m2.as_slice(), &s2)];
        prop_assert!(verify_batch(&one).is_err());
    }

    #[test]
    fn sign_verify_any_message(msg in proptest::collection::vec(any::<u8>(), 0..1000), seed in any::<[u8; 32]>()) {
        let id = Identity::from_secret_bytes(seed, [1; 32]);
        let sig = id.sign("tansiq/prop/v1", &msg);
        prop_assert!(verify(&id.signing_public(), "tansiq/prop/v1", &msg, &sig).is_ok());
        // Moving bytes between context and message must not verify.
        let mut shifted = b"v1".to_vec();
        shifted.extend_from_slice(&msg);
        prop_assert!(verify(&id.signing_public(), "tansiq/prop/", &shifted, &sig).is_err());
    }

    /// Batches where keys sign several items (their terms are merged in the
    /// batch equation) find exactly the items one-by-one verification
    /// refuses: flipped bits anywhere, a signature moved to another
    /// message or key, a valid signature of another item.
    #[test]
    fn batch_with_shared_keys_agrees_with_verify(
        n in 1usize..90,
        keys in 1usize..4,
        faults in proptest::collection::vec((any::<usize>(), 0usize..4, any::<usize>(), 0u8..8), 0..4),
    ) {
        let ids: Vec<Identity> = (0..keys as u8).map(|k| Identity::from_secret_bytes([k + 1; 32], [9; 32])).collect();
        let pks: Vec<[u8; 32]> = ids.iter().map(|i| i.signing_public()).collect();
        let mut msgs: Vec<Vec<u8>> = (0..n).map(|i| format!("item {i}").into_bytes()).collect();
        let mut sigs: Vec<[u8; 64]> = (0..n).map(|i| ids[i % keys].sign("tansiq/b/v1", &msgs[i])).collect();
        let mut key_of: Vec<usize> = (0..n).map(|i| i % keys).collect();
        for (at, kind, pos, bit) in faults {
            let i = at % n;
            match kind {
                0 => sigs[i][pos % 64] ^= 1 << bit,
                1 => msgs[i].push(bit),
                2 => key_of[i] = (key_of[i] + 1) % keys,
                _ => sigs[i] = sigs[(i + 1) % n],
            }
        }
        let items: Vec<_> = (0..n)
            .map(|i| (&pks[key_of[i]], "tansiq/b/v1", msgs[i].as_slice(), &sigs[i]))
            .collect();
        let each = verify_batch_each(&items);
        for (i, r) in each.iter().enumerate() {
            let single = verify(&pks[key_of[i]], "tansiq/b/v1", &msgs[i], &sigs[i]);
            prop_assert_eq!(r.is_ok(), single.is_ok(), "item {}", i);
        }
        prop_assert_eq!(verify_batch(&items).is_ok(), each.iter().all(|r| r.is_ok()));
    }
}
