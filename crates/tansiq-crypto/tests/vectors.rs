//! Fixed test vectors, reproduced verbatim in `docs/CRYPTO.md` (appendix
//! "Test vectors") so that a second implementation can check itself.

use serde_json::json;
use tansiq_crypto::checkpoint::{self, Checkpoint};
use tansiq_crypto::seal::{self, Sealed};
use tansiq_crypto::{
    b64, canonical_json, merkle, node_id_from_key, signing_input, token, verify_json, Identity,
};

/// Signing seed 0x00..0x1f, X25519 secret 0x20..0x3f.
fn node() -> Identity {
    let s: [u8; 32] = std::array::from_fn(|i| i as u8);
    let e: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
    Identity::from_secret_bytes(s, e)
}

/// Witness: signing seed 0x40..0x5f.
fn witness() -> Identity {
    let s: [u8; 32] = std::array::from_fn(|i| 0x40 + i as u8);
    Identity::from_secret_bytes(s, [0x77; 32])
}

#[test]
fn keys_and_node_id() {
    let id = node();
    assert_eq!(
        hex::encode(id.signing_public()),
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    );
    assert_eq!(
        b64(id.signing_public()),
        "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
    );
    assert_eq!(
        hex::encode(id.encryption_public()),
        "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254"
    );
    assert_eq!(id.node_id(), "tqk2uygn5htg6mh6p5");
    assert_eq!(node_id_from_key(&id.signing_public()), "tqk2uygn5htg6mh6p5");
}

#[test]
fn json_signature() {
    let id = node();
    let v = json!({"b": [1, "x"], "a": true, "é": 0.5});
    let c = canonical_json(&v).unwrap();
    assert_eq!(
        String::from_utf8(c.clone()).unwrap(),
        r#"{"a":true,"b":[1,"x"],"é":0.5}"#
    );
    assert_eq!(
        hex::encode(signing_input("tansiq/example/v1", &c)),
        "74616e7369712f6578616d706c652f7631007b2261223a747275652c2262223a5b312c2278225d2c22c3a9223a302e357d"
    );
    let sig = id.sign_json("tansiq/example/v1", &v).unwrap();
    assert_eq!(hex::encode(sig), "3b974f7032c88461d1090d451b4eb14a72096756c06b47818cc793c3f4e1f7e9d073f443a58edddb5599a05d3f9c1046c7b64476c63759106fe6da3ace921c0b");
    assert_eq!(
        b64(sig),
        "O5dPcDLIhGHRCQ1FG06xSnIJZ1bAa0eBjMeTw_Th9-nQc_RDpY7d21WZoF0_nBBGx7ZEdsY3WRBv5to6zpIcCw"
    );
    verify_json(&id.signing_public(), "tansiq/example/v1", &v, &sig).unwrap();
}

#[test]
fn token_hash() {
    let t = "tqk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert!(token::is_well_formed(t));
    assert_eq!(
        hex::encode(token::hash(t)),
        "3348b5d34b4358ebd2ae07cd97e00137dfc3da203f0bf0f913aa4ca2fddda40b"
    );
}

const NOTE: &str = "tansiq.example/audit\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n\n— tansiq.example/audit S1GvpehKCYLll9VXFz/aEClv1guu3WO8DdVKsdfcFr+6cjDxVD0tdGdLlhzaw4Nrb9GfhMwrrUEjtWa/tWp1A6fgigA=\n";
const COSIGNATURE: &str = "— witness.example/w1 tyurLgAAAABlU/EAM9UN9iBPbz74hcAI0uDOaenHdAk02TiossRvD9SzwnN2ZFVZC9/iOW4dkAxo7Z3mJriOxb2HEaVQIpx9FbvbDg==\n";

#[test]
fn checkpoint_note_and_cosignature() {
    let id = node();
    let leaves: Vec<_> = [b"a", b"b", b"c"]
        .iter()
        .map(|d| merkle::leaf_hash(*d))
        .collect();
    let cp = Checkpoint {
        origin: "tansiq.example/audit".into(),
        size: 3,
        root: merkle::root(&leaves),
    };
    assert_eq!(
        hex::encode(cp.root),
        "36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1"
    );
    assert_eq!(
        checkpoint::sign(&id, "tansiq.example/audit", &cp).unwrap(),
        NOTE
    );
    assert_eq!(
        checkpoint::verify(NOTE, "tansiq.example/audit", &id.signing_public()).unwrap(),
        cp
    );
    assert_eq!(
        checkpoint::verifier_key("tansiq.example/audit", &id.signing_public()).unwrap(),
        "tansiq.example/audit+4b51afa5+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
    );
    let w = witness();
    assert_eq!(
        hex::encode(w.signing_public()),
        "2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d"
    );
    assert_eq!(
        checkpoint::cosign(&w, "witness.example/w1", &cp, 1_700_000_000).unwrap(),
        COSIGNATURE
    );
    let both = checkpoint::add_signature_line(NOTE, COSIGNATURE).unwrap();
    let (got, ts) =
        checkpoint::verify_cosignature(&both, "witness.example/w1", &w.signing_public()).unwrap();
    assert_eq!((got, ts), (cp, 1_700_000_000));
}

/// Sealing is randomised (HPKE ephemeral key, nonce); this payload was
/// sealed once to `node()` and must open forever.
const SEALED: &str = r#"{"wrapped":[{"recipient":"tqk2uygn5htg6mh6p5","enc":"BFFS7W0dM-H8v7HZZ7GwtBh8eYEGSavnG9zqPqrYJw0","ct":"37imlkJyXAys6XYRu4gIDHW0BLpZUFb4rngqTKnDq4jaiUaZlRnj6zm4W-sscM8g"}],"nonce":"ED9-6yAOx4y8Q0D1KKXVM0dr47V7Htnh","ciphertext":"lDXo36lJPrhQCu_l3qkY0D5gc9M_c1H01eoO2rF2m898GRHcIMwnFV4VA9EdfpFfg0_pp7ov7DeI_VmIAA"}"#;

#[test]
fn sealed_payload_opens() {
    let id = node();
    let sealed: Sealed = serde_json::from_str(SEALED).unwrap();
    let pt = seal::open(&sealed, b"tansiq/example-header", &id.node_id(), &id).unwrap();
    assert_eq!(pt, b"hello partner");
    assert!(seal::open(&sealed, b"tansiq/other-header", &id.node_id(), &id).is_err());
}
