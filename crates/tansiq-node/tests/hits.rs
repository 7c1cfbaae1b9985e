//! The hit/no-hit protocol at the holder's service boundary (the bytes a
//! partner would POST over mutual TLS): blind evaluation against the keyed
//! list, the period check, and a captured evaluation replayed after a key
//! rotation finding nothing.

use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_core::user::Actor;
use tansiq_crypto::oprf;
use tansiq_crypto::{b64, b64_decode_array};
use tansiq_match::hitkeys::{self, HitSubject};
use tansiq_node::hits::{parse_list, EvaluateRequest, EvaluateResponse, KeyedList, ServeError};
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;

fn node(root: &std::path::Path, name: &str, cc: &str, port: u16) -> Node {
    Node::init(
        &root.join(name),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{port}"),
            endpoint: None,
            api_listen: None,
            store: None,
        },
    )
    .unwrap()
}

fn person(ch: &str, names: &[&str], birth: &str) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: "terrorism".into(),
        kind: Kind::Person,
        data: json!({"names": names, "birth_date": birth, "nationality": ["DZ"]}),
        tlp: None,
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    }
}

fn list(holder: &Node, querier: &str) -> KeyedList {
    let l = holder
        .hit_serve_list(querier, br#"{"have": null}"#)
        .ok()
        .flatten()
        .expect("a keyed list");
    parse_list(&l.body).unwrap()
}

/// Blinds the subject's keys, has them evaluated: (inputs, blinded, answer).
fn evaluate(
    holder: &Node,
    querier: &str,
    key_id: &str,
    subject: &HitSubject,
) -> (
    Vec<Vec<u8>>,
    oprf::Blinded,
    Result<EvaluateResponse, ServeError>,
) {
    let inputs: Vec<Vec<u8>> = tansiq_node::hits::query_keys(subject)
        .into_iter()
        .map(|k| k.bytes)
        .collect();
    let blinded = oprf::blind(&inputs).unwrap();
    let req = EvaluateRequest {
        key_id: key_id.into(),
        elements: blinded.elements.iter().map(b64).collect(),
    };
    let r = holder.hit_serve_evaluate(querier, &serde_json::to_vec(&req).unwrap());
    (inputs, blinded, r)
}

fn tags(outs: &[oprf::Output]) -> Vec<[u8; 16]> {
    outs.iter().map(|o| o[..16].try_into().unwrap()).collect()
}

fn hits_in(l: &KeyedList, tags: &[[u8; 16]]) -> usize {
    tags.iter().filter(|t| l.has_tag(t)).count()
}

#[test]
fn blind_evaluation_hits_and_a_replay_after_rotation_finds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 1);
    let ma = node(tmp.path(), "ma", "MA", 2);
    dz.peer_add(&OP, &serde_json::to_vec(&ma.card()).unwrap())
        .unwrap();
    let ch = dz
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    dz.records_add(
        &OP,
        vec![
            person(&ch, &["عبد الله بلقزاز"], "1962-02-01"),
            person(&ch, &["Hassan Hattab"], "1967"),
        ],
        |_| {},
    )
    .unwrap();
    let q = HitSubject {
        names: vec!["Abdallah Belkeziz".into()],
        birth_date: Some("1962".into()),
        nationality: Some("DZ".into()),
        documents: vec![],
    };

    // Not exposed: refused.
    assert!(matches!(
        dz.hit_serve_list(ma.id(), b"{}"),
        Err(ServeError::NotExposed)
    ));
    dz.query_allow(&OP, ma.id(), &ch, "terrorism", None)
        .unwrap();
    let l1 = list(&dz, ma.id());
    assert_eq!(l1.refs.len(), 2);

    // Evaluated blind, proven, unblinded: enough shared keys for a hit.
    let (inputs, blinded, r) = evaluate(&dz, ma.id(), &l1.header.key_id, &q);
    let r = r.ok().unwrap();
    let ev: Vec<[u8; 32]> = r
        .evaluated
        .iter()
        .map(|e| b64_decode_array(e).unwrap())
        .collect();
    let proof: [u8; 64] = b64_decode_array(&r.proof).unwrap();
    let outs = oprf::finalize(&blinded, &inputs, &ev, &proof, &l1.public_key).unwrap();
    let captured = tags(&outs);
    assert!(hits_in(&l1, &captured) >= hitkeys::DEFAULT_MIN_SHARED);
    assert_eq!(r.list_digest, l1.digest);

    // A stranger's name shares nothing.
    let other = HitSubject {
        names: vec!["Johan Sebastian Kowalczyk".into()],
        ..Default::default()
    };
    let (inputs2, blinded2, r2) = evaluate(&dz, ma.id(), &l1.header.key_id, &other);
    let r2 = r2.ok().unwrap();
    let ev2: Vec<[u8; 32]> = r2
        .evaluated
        .iter()
        .map(|e| b64_decode_array(e).unwrap())
        .collect();
    let p2: [u8; 64] = b64_decode_array(&r2.proof).unwrap();
    let outs2 = oprf::finalize(&blinded2, &inputs2, &ev2, &p2, &l1.public_key).unwrap();
    assert_eq!(hits_in(&l1, &tags(&outs2)), 0);

    // Rotation: the old period is refused, and what was captured under it
    // matches nothing in the new list — nor does the old answer verify
    // against the new key.
    dz.query_rotate(&OP).unwrap();
    let (_, _, stale) = evaluate(&dz, ma.id(), &l1.header.key_id, &q);
    assert!(matches!(stale, Err(ServeError::Stale(ref k)) if *k != l1.header.key_id));
    let l2 = list(&dz, ma.id());
    assert_ne!(l2.header.key_id, l1.header.key_id);
    assert_ne!(l2.public_key, l1.public_key);
    assert_eq!(hits_in(&l2, &captured), 0);
    assert!(oprf::finalize(&blinded, &inputs, &ev, &proof, &l2.public_key).is_err());
    assert!(l2.refs.iter().all(|r| !l1.refs.contains(r)));
    // Under the new period the same person hits again.
    let (inputs3, blinded3, r3) = evaluate(&dz, ma.id(), &l2.header.key_id, &q);
    let r3 = r3.ok().unwrap();
    let ev3: Vec<[u8; 32]> = r3
        .evaluated
        .iter()
        .map(|e| b64_decode_array(e).unwrap())
        .collect();
    let p3: [u8; 64] = b64_decode_array(&r3.proof).unwrap();
    let outs3 = oprf::finalize(&blinded3, &inputs3, &ev3, &p3, &l2.public_key).unwrap();
    assert!(hits_in(&l2, &tags(&outs3)) >= hitkeys::DEFAULT_MIN_SHARED);

    // Garbage from a partner is a clear 400, never a panic.
    for body in [
        &b"not json"[..],
        br#"{"key_id": "1.0", "elements": []}"#,
        br#"{"key_id": "1.0", "elements": ["AAAA"]}"#,
    ] {
        assert!(matches!(
            dz.hit_serve_evaluate(ma.id(), body),
            Err(ServeError::Bad(_))
        ));
    }
    // Invalid group elements (all 0xff) are refused before any budget is spent.
    let bad = format!(
        r#"{{"key_id": "{}", "elements": ["{}"]}}"#,
        l2.header.key_id,
        b64([0xffu8; 32])
    );
    assert!(matches!(
        dz.hit_serve_evaluate(ma.id(), bad.as_bytes()),
        Err(ServeError::Bad(_))
    ));
    dz.audit_verify(&OP).unwrap();
}
