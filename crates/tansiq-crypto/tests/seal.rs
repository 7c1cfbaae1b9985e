use proptest::prelude::*;
use tansiq_crypto::seal::{
    open, open_with_key, seal, seal_with_key, unwrap_key, wrap_key, ContentKey, Recipient, Sealed,
};
use tansiq_crypto::{CryptoError, Identity};

fn recipients(ids: &[(&str, &Identity)]) -> Vec<Recipient> {
    ids.iter()
        .map(|(id, who)| Recipient {
            id: id.to_string(),
            public: who.encryption_public(),
        })
        .collect()
}

#[test]
fn round_trip_to_three_recipients() {
    let (a, b, c) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let rs = recipients(&[("dz", &a), ("ma", &b), ("tn", &c)]);
    let sealed = seal(b"secret dossier", b"header-1", &rs).unwrap();
    assert_eq!(sealed.recipients().collect::<Vec<_>>(), ["dz", "ma", "tn"]);
    for (id, who) in [("dz", &a), ("ma", &b), ("tn", &c)] {
        assert_eq!(
            open(&sealed, b"header-1", id, who).unwrap(),
            b"secret dossier"
        );
    }
}

#[test]
fn non_recipient_cannot_open() {
    let (a, b, eve) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let sealed = seal(b"x", b"h", &recipients(&[("dz", &a), ("ma", &b)])).unwrap();
    assert_eq!(open(&sealed, b"h", "eve", &eve), Err(CryptoError::Open));
    // Claiming a recipient's id does not help without its key.
    assert_eq!(open(&sealed, b"h", "dz", &eve), Err(CryptoError::Open));
    // A recipient's key under another recipient's id fails too (ids are bound).
    assert_eq!(open(&sealed, b"h", "ma", &a), Err(CryptoError::Open));
}

#[test]
fn tampering_is_detected() {
    let a = Identity::generate();
    let rs = recipients(&[("dz", &a)]);
    let sealed = seal(b"payload", b"aad", &rs).unwrap();
    assert_eq!(open(&sealed, b"aae", "dz", &a), Err(CryptoError::Open));
    assert_eq!(open(&sealed, b"", "dz", &a), Err(CryptoError::Open));
    for i in 0..sealed.ciphertext.len() {
        let mut t = sealed.clone();
        t.ciphertext[i] ^= 0x01;
        assert_eq!(
            open(&t, b"aad", "dz", &a),
            Err(CryptoError::Open),
            "byte {i}"
        );
    }
    let mut t = sealed.clone();
    t.nonce[3] ^= 1;
    assert_eq!(open(&t, b"aad", "dz", &a), Err(CryptoError::Open));
    let mut t = sealed.clone();
    t.wrapped[0].ct[0] ^= 1;
    assert_eq!(open(&t, b"aad", "dz", &a), Err(CryptoError::Open));
    let mut t = sealed.clone();
    t.wrapped[0].enc[0] ^= 1;
    assert_eq!(open(&t, b"aad", "dz", &a), Err(CryptoError::Open));
    let mut t = sealed.clone();
    t.ciphertext.truncate(40);
    assert_eq!(open(&t, b"aad", "dz", &a), Err(CryptoError::Open));
    let mut t = sealed;
    t.wrapped[0].enc.truncate(5);
    assert_eq!(open(&t, b"aad", "dz", &a), Err(CryptoError::Open));
}

#[test]
fn wrapped_keys_cannot_be_moved_between_payloads() {
    let a = Identity::generate();
    let rs = recipients(&[("dz", &a)]);
    let one = seal(b"one", b"h", &rs).unwrap();
    let mut two = seal(b"two", b"h", &rs).unwrap();
    two.wrapped = one.wrapped.clone();
    assert_eq!(open(&two, b"h", "dz", &a), Err(CryptoError::Open));
}

#[test]
fn serde_round_trip_uses_base64url() {
    let a = Identity::generate();
    let sealed = seal(b"p", b"h", &recipients(&[("dz", &a)])).unwrap();
    let json = serde_json::to_string(&sealed).unwrap();
    assert!(!json.contains('=') && !json.contains('+') && !json.contains('/'));
    let back: Sealed = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sealed);
    assert_eq!(open(&back, b"h", "dz", &a).unwrap(), b"p");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["nonce"].as_str().unwrap().len(), 32);
    assert_eq!(v["wrapped"][0]["enc"].as_str().unwrap().len(), 43);
    assert_eq!(v["wrapped"][0]["ct"].as_str().unwrap().len(), 64);
    // Unknown fields and bad base64 are rejected.
    assert!(serde_json::from_str::<Sealed>(&json.replacen('{', "{\"x\":1,", 1)).is_err());
    let bad = json.replace(v["nonce"].as_str().unwrap(), "AAAA");
    assert!(serde_json::from_str::<Sealed>(&bad).is_err());
}

#[test]
fn bad_recipient_lists_are_refused() {
    let a = Identity::generate();
    assert!(seal(b"p", b"h", &[]).is_err());
    let dup = recipients(&[("dz", &a), ("dz", &a)]);
    assert!(matches!(
        seal(b"p", b"h", &dup),
        Err(CryptoError::InvalidArgument(_))
    ));
    let zero = vec![Recipient {
        id: "z".into(),
        public: [0; 32],
    }];
    assert!(matches!(
        seal(b"p", b"h", &zero),
        Err(CryptoError::BadKey(_))
    ));
    let empty_id = vec![Recipient {
        id: String::new(),
        public: a.encryption_public(),
    }];
    assert!(seal(b"p", b"h", &empty_id).is_err());
}

#[test]
fn epoch_keys() {
    let (a, b, c) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let key = ContentKey::generate();
    let wrapped = wrap_key(
        &key,
        b"channel-7/epoch-3",
        &recipients(&[("dz", &a), ("ma", &b)]),
    )
    .unwrap();
    let ka = unwrap_key(&wrapped, b"channel-7/epoch-3", "dz", &a).unwrap();
    assert_eq!(ka.as_bytes(), key.as_bytes());
    assert!(unwrap_key(&wrapped, b"channel-7/epoch-4", "dz", &a).is_err());
    assert!(unwrap_key(&wrapped, b"channel-7/epoch-3", "tn", &c).is_err());
    assert_eq!(format!("{key:?}"), "ContentKey(..)");

    let body = seal_with_key(&key, b"rec-1", b"record one").unwrap();
    assert_eq!(open_with_key(&ka, b"rec-1", &body).unwrap(), b"record one");
    assert!(open_with_key(&ka, b"rec-2", &body).is_err());
    assert!(open_with_key(&ContentKey::generate(), b"rec-1", &body).is_err());
    let again = seal_with_key(&key, b"rec-1", b"record one").unwrap();
    assert_ne!(again.nonce, body.nonce);
    assert_ne!(again.ciphertext, body.ciphertext);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn seal_open_any(pt in proptest::collection::vec(any::<u8>(), 0..2000),
                     aad in proptest::collection::vec(any::<u8>(), 0..100)) {
        let a = Identity::from_secret_bytes([1; 32], [2; 32]);
        let rs = vec![Recipient { id: "a".into(), public: a.encryption_public() }];
        let s = seal(&pt, &aad, &rs).unwrap();
        prop_assert_eq!(open(&s, &aad, "a", &a).unwrap(), pt);
    }
}
