//! Decoders of peer input: random and mutated bytes never panic, sizes are
//! checked before parsing, valid values round-trip, and the engine itself
//! survives any bytes a peer sends (a stable-toolchain stand-in for fuzzing).

mod common;

use common::*;
use proptest::prelude::*;
use tansiq_sync::*;

fn header(seq: u64, prec: Precedence, recipients: &[&str], relays: &[&str]) -> EnvelopeHeader {
    let mut r: Vec<NodeId> = recipients.iter().map(|s| nid(s)).collect();
    r.sort();
    let mut rl: Vec<NodeId> = relays.iter().map(|s| nid(s)).collect();
    rl.sort();
    EnvelopeHeader {
        v: HEADER_VERSION,
        channel: cid("ch_dzma"),
        originator: nid("dz"),
        seq,
        prev: if seq == 1 {
            EnvelopeId::ZERO
        } else {
            EnvelopeId([3; 32])
        },
        precedence: prec,
        kind: Kind::new(Kind::MESSAGE).unwrap(),
        created_ms: 1_700_000_000_000,
        recipients: r,
        relays: rl,
    }
}

fn sample_envelope(body: Vec<u8>) -> Envelope {
    let h = header(2, Precedence::Flash, &["dz", "ma", "us"], &["tn"]);
    Envelope::new(h, Body::Sealed(body), |id| sim_sig(&nid("dz"), id)).unwrap()
}

fn sample_messages() -> Vec<Message> {
    let e = sample_envelope(b"sealed bytes".to_vec());
    vec![
        Message::Batch {
            batch: 7,
            items: vec![
                Item {
                    to: nid("ma"),
                    envelope: e.clone(),
                },
                Item {
                    to: nid("us"),
                    envelope: e.to_stub(),
                },
            ],
        },
        Message::BatchAck {
            batch: 7,
            results: vec![ItemResult {
                id: e.id(),
                to: nid("ma"),
                status: Status::Refused,
                reason: Some("fork".into()),
            }],
        },
        Message::Receipt {
            receipts: vec![Receipt {
                id: e.id(),
                to: nid("ma"),
            }],
        },
        Message::Summary {
            heads: vec![Head {
                channel: cid("ch_dzma"),
                originator: nid("dz"),
                seq: 12,
            }],
            reply: true,
        },
        Message::Fetch {
            channel: cid("ch_dzma"),
            originator: nid("dz"),
            from_seq: 3,
            limit: 100,
        },
        Message::FetchReply {
            channel: cid("ch_dzma"),
            originator: nid("dz"),
            envelopes: vec![e.clone(), e.to_stub()],
            more: false,
        },
    ]
}

#[test]
fn every_message_round_trips() {
    for m in sample_messages() {
        let bytes = m.encode();
        let back = Message::decode(&bytes).unwrap();
        assert_eq!(back, m, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(back.encode(), bytes);
    }
    let e = sample_envelope(vec![1, 2, 3]);
    let back = Envelope::decode(&e.encode()).unwrap();
    assert_eq!(back, e);
    assert_eq!(back.id(), e.id());
    // A stub keeps the id and the signature.
    let stub = Envelope::decode(&e.to_stub().encode()).unwrap();
    assert_eq!(stub.id(), e.id());
    assert_eq!(stub.sig(), e.sig());
}

#[test]
fn wire_form_is_as_documented() {
    let e = sample_envelope(b"xyz".to_vec());
    let v: serde_json::Value = serde_json::from_slice(&e.encode()).unwrap();
    assert_eq!(v["header"]["v"], 1);
    assert_eq!(v["header"]["precedence"], "flash");
    assert_eq!(v["header"]["prev"], tansiq_crypto::b64([3u8; 32]));
    assert_eq!(v["body"], tansiq_crypto::b64(b"xyz"));
    // id = SHA-256(domain || 0x00 || u32be(len H) || H || SHA-256(body))
    let hb = tansiq_crypto::canonical_json(&v["header"]).unwrap();
    assert_eq!(hb, e.header_bytes());
    let mut pre = b"tansiq/envelope-id/v1\0".to_vec();
    pre.extend_from_slice(&(hb.len() as u32).to_be_bytes());
    pre.extend_from_slice(&hb);
    pre.extend_from_slice(&tansiq_crypto::sha256(b"xyz"));
    assert_eq!(e.id().0, tansiq_crypto::sha256(&pre));
    let m: serde_json::Value = serde_json::from_slice(
        &Message::Fetch {
            channel: cid("c"),
            originator: nid("o"),
            from_seq: 1,
            limit: 1,
        }
        .encode(),
    )
    .unwrap();
    assert_eq!(
        m,
        serde_json::json!({"type":"fetch","channel":"c","originator":"o","from_seq":1,"limit":1})
    );
}

#[test]
fn invalid_headers_are_refused() {
    let ok = header(1, Precedence::Routine, &["dz", "ma"], &["tn"]);
    assert!(ok.validate().is_ok());
    let mut bad = vec![];
    let mut h = ok.clone();
    h.seq = 0;
    bad.push(h);
    let mut h = ok.clone();
    h.prev = EnvelopeId([1; 32]); // seq 1 must have a zero prev
    bad.push(h);
    let mut h = ok.clone();
    h.recipients = vec![nid("ma")]; // originator missing
    bad.push(h);
    let mut h = ok.clone();
    h.recipients = vec![nid("ma"), nid("dz")]; // unsorted
    bad.push(h);
    let mut h = ok.clone();
    h.relays = vec![nid("ma")]; // relay is a recipient
    bad.push(h);
    let mut h = ok.clone();
    h.seq = MAX_INT + 1;
    bad.push(h);
    let mut h = ok.clone();
    h.v = 2;
    bad.push(h);
    for h in bad {
        assert!(h.validate().is_err(), "{h:?}");
        let v =
            serde_json::json!({"header": h, "body": "AA", "sig": tansiq_crypto::b64([0u8; 64])});
        assert!(Envelope::from_value(v).is_err());
    }
}

#[test]
fn limits_are_checked_before_parsing() {
    let huge = vec![b' '; MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        Message::decode(&huge),
        Err(DecodeError::TooLarge { .. })
    ));
    // Too many items: refused on the raw array, before typed decoding.
    let items: Vec<serde_json::Value> = (0..MAX_ITEMS + 1).map(|_| serde_json::json!(0)).collect();
    let m = serde_json::json!({"type":"batch","batch":1,"items":items});
    assert!(matches!(
        Message::decode(&serde_json::to_vec(&m).unwrap()),
        Err(DecodeError::TooLarge { .. })
    ));
    // Duplicate member names (two parsers could disagree): refused.
    let dup = br#"{"type":"fetch","type":"summary","channel":"c","originator":"o","from_seq":1,"limit":1}"#;
    assert!(Message::decode(dup).is_err());
    // Unknown fields refused.
    let extra = br#"{"type":"fetch","channel":"c","originator":"o","from_seq":1,"limit":1,"x":1}"#;
    assert!(Message::decode(extra).is_err());
    // Out-of-range integers refused.
    let big =
        br#"{"type":"fetch","channel":"c","originator":"o","from_seq":9007199254740992,"limit":1}"#;
    assert!(Message::decode(big).is_err());
    let zero = br#"{"type":"fetch","channel":"c","originator":"o","from_seq":0,"limit":1}"#;
    assert!(Message::decode(zero).is_err());
    // Deep nesting refused without recursion trouble.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Message::decode(deep.as_bytes()).is_err());
}

/// Feeds bytes to a live engine as if from a peer: must not panic, and
/// garbage must leave no durable trace.
fn feed(bytes: &[u8]) {
    let me = nid("ma");
    let mut dir = Directory::default();
    dir.add("ch_dzma", &["dz", "ma", "us"], &["tn"]);
    let disk = Disk::default();
    let view = View {
        now: 5,
        me: &me,
        disk: &disk,
        dir: &dir,
    };
    let mut e = Engine::new(me.clone(), Config::default(), 1, 0);
    let out = e.handle_bytes(&nid("dz"), bytes, 5, &view);
    for eff in &out.effects {
        // Anything durable must be a genuine, verified envelope.
        if let Effect::Store { envelope, .. } | Effect::Deliver { envelope, .. } = eff {
            assert_eq!(
                *envelope.sig(),
                sim_sig(&envelope.header().originator, &envelope.id())
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Message::decode(&bytes);
        let _ = Envelope::decode(&bytes);
        let _ = decode_bundle_items(&bytes);
        feed(&bytes);
    }

    #[test]
    fn random_text_never_panics(s in "[\\[\\]{}\":,a-z0-9 ]{0,400}") {
        let _ = Message::decode(s.as_bytes());
        let _ = Envelope::decode(s.as_bytes());
        feed(s.as_bytes());
    }

    #[test]
    fn mutated_messages_never_panic(
        which in 0usize..6,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        cut in any::<usize>(),
        insert in proptest::option::of((any::<usize>(), "[\\[\\]{}\":,0-9a-z-]{1,12}")),
    ) {
        let mut bytes = sample_messages()[which].encode();
        for (pos, b) in edits {
            let i = pos % bytes.len();
            bytes[i] = b;
        }
        if let Some((pos, s)) = insert {
            let i = pos % bytes.len();
            bytes.splice(i..i, s.bytes());
        }
        bytes.truncate(bytes.len() - cut % 4);
        if let Ok(m) = Message::decode(&bytes) {
            // Whatever decodes re-encodes and decodes to the same value.
            prop_assert_eq!(Message::decode(&m.encode()).unwrap(), m);
        }
        let _ = Envelope::decode(&bytes);
        feed(&bytes);
    }

    #[test]
    fn header_round_trip(
        seq in 1u64..=MAX_INT,
        prec in 0usize..4,
        n_rec in 1usize..20,
        n_rel in 0usize..5,
        created in 0u64..=MAX_INT,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let rec: Vec<String> = (0..n_rec).map(|i| format!("n{i:02}")).collect();
        let rel: Vec<String> = (0..n_rel).map(|i| format!("r{i:02}")).collect();
        let mut recs: Vec<&str> = rec.iter().map(|s| s.as_str()).collect();
        recs.push("dz");
        let rels: Vec<&str> = rel.iter().map(|s| s.as_str()).collect();
        let mut h = header(seq, Precedence::ALL[prec], &recs, &rels);
        h.created_ms = created;
        let e = Envelope::new(h, Body::Sealed(body), |id| sim_sig(&nid("dz"), id)).unwrap();
        let back = Envelope::decode(&e.encode()).unwrap();
        prop_assert_eq!(back.id(), e.id());
        prop_assert_eq!(back, e);
    }
}
