use base64::Engine as _;
use tansiq_crypto::checkpoint::{
    add_signature_line, cosign, sign, verifier_key, verify, verify_cosignature, Checkpoint,
};
use tansiq_crypto::merkle::{leaf_hash, root};
use tansiq_crypto::{CryptoError, Identity};

fn cp() -> Checkpoint {
    let leaves: Vec<_> = (0u8..10).map(|i| leaf_hash(&[i])).collect();
    Checkpoint {
        origin: "tansiq.example/tqabc/audit".into(),
        size: 10,
        root: root(&leaves),
    }
}

#[test]
fn body_format() {
    let c = Checkpoint {
        origin: "example.com/behind-the-sofa".into(),
        size: 20852163,
        root: base64::engine::general_purpose::STANDARD
            .decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
            .unwrap()
            .try_into()
            .unwrap(),
    };
    assert_eq!(
        c.body(),
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    );
    assert_eq!(Checkpoint::parse(&c.body()).unwrap(), c);
}

#[test]
fn sign_and_verify_note() {
    let log = Identity::generate();
    let c = cp();
    let note = sign(&log, &c.origin, &c).unwrap();
    assert!(note.starts_with(&c.body()));
    assert!(note.contains("\n\n\u{2014} tansiq.example/tqabc/audit "));
    assert_eq!(verify(&note, &c.origin, &log.signing_public()).unwrap(), c);
    // Wrong key, wrong name.
    let other = Identity::generate();
    assert_eq!(
        verify(&note, &c.origin, &other.signing_public()),
        Err(CryptoError::BadSignature)
    );
    assert!(verify(&note, "other.example/log", &log.signing_public()).is_err());
    // Any change to the body breaks it.
    let forged = note.replacen("\n10\n", "\n11\n", 1);
    assert!(verify(&forged, &c.origin, &log.signing_public()).is_err());
    // Signature bytes follow the signed-note layout: 4-byte key id + 64.
    let line = note.lines().last().unwrap();
    let b64 = line.rsplit(' ').next().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(bytes.len(), 68);
    // The signature is plain Ed25519 over the body, as other tools expect.
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&log.signing_public()).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&bytes[4..].try_into().unwrap());
    vk.verify_strict(c.body().as_bytes(), &sig).unwrap();
    let vkey = verifier_key(&c.origin, &log.signing_public()).unwrap();
    let id_hex = vkey.split('+').nth(1).unwrap();
    assert_eq!(id_hex, hex::encode(&bytes[..4]));
}

#[test]
fn witness_cosignature() {
    let log = Identity::generate();
    let witness = Identity::generate();
    let c = cp();
    let note = sign(&log, &c.origin, &c).unwrap();
    let line = cosign(&witness, "witness.example/ma", &c, 1_700_000_000).unwrap();
    let both = add_signature_line(&note, &line).unwrap();
    // The log signature still verifies with an unknown (witness) line present.
    assert_eq!(verify(&both, &c.origin, &log.signing_public()).unwrap(), c);
    let (got, ts) =
        verify_cosignature(&both, "witness.example/ma", &witness.signing_public()).unwrap();
    assert_eq!((got, ts), (c.clone(), 1_700_000_000));
    // No cosignature from this witness in the plain note.
    assert!(verify_cosignature(&note, "witness.example/ma", &witness.signing_public()).is_err());
    // A cosignature is not a log signature and vice versa.
    assert!(verify(&both, "witness.example/ma", &witness.signing_public()).is_err());
    assert!(verify_cosignature(&both, &c.origin, &log.signing_public()).is_err());
    // Altering the timestamp in the cosignature breaks it.
    let b64 = line.trim_end().rsplit(' ').next().unwrap();
    let mut bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(bytes.len(), 76);
    bytes[11] ^= 1;
    let tampered_line = format!(
        "\u{2014} witness.example/ma {}\n",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let tampered = add_signature_line(&note, &tampered_line).unwrap();
    assert_eq!(
        verify_cosignature(&tampered, "witness.example/ma", &witness.signing_public()),
        Err(CryptoError::BadSignature)
    );
    // The cosigned message is exactly the C2SP one.
    let msg = format!("cosignature/v1\ntime 1700000000\n{}", c.body());
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&witness.signing_public()).unwrap();
    let mut good = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&good[12..].try_into().unwrap());
    vk.verify_strict(msg.as_bytes(), &sig).unwrap();
    good.truncate(12);
    assert_eq!(&good[4..], &1_700_000_000u64.to_be_bytes());
}

#[test]
fn malformed_notes_are_rejected_without_panic() {
    let log = Identity::generate();
    let c = cp();
    let note = sign(&log, &c.origin, &c).unwrap();
    let pk = log.signing_public();
    for bad in [
        String::new(),
        "\n".into(),
        c.body(),
        format!("{}\n", c.body()),
        note.trim_end().to_owned(),
        note.replace('\u{2014}', "-"),
        note.replace("\n\n", "\n\u{0}\n"),
        format!("{note}garbage\n"),
        note.replacen("tansiq.example/tqabc/audit\n", "x\n", 1),
        "a".repeat(100_000),
    ] {
        assert!(verify(&bad, &c.origin, &pk).is_err(), "{bad:?}");
        assert!(verify_cosignature(&bad, "w", &pk).is_err());
    }
    assert!(sign(&log, "bad name", &c).is_err());
    let bad_origin = Checkpoint {
        origin: "has\nnewline".into(),
        ..c.clone()
    };
    assert!(sign(&log, "k", &bad_origin).is_err());
    assert!(cosign(&log, "w", &c, u64::MAX).is_err());
    assert!(add_signature_line(&note, "not a line\n").is_err());
    assert!(add_signature_line(&note, "\u{2014} a AAAAAAAA\n\u{2014} b AAAAAAAA\n").is_err());
}
