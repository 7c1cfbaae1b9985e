//! The hit/no-hit protocol at the holder's service boundary (the bytes a
//! partner would POST over mutual TLS): blind evaluation against the keyed
//! list, the period check, and a captured evaluation replayed after a key
//! rotation finding nothing. Then, with three nodes and federation
//! pumped in process: what a holder may answer for (its own records only,
//! never TLP:RED or H3), and follow-up requests from a modified requester
//! (the holder chooses the channel; a reused request id does not pass).

mod common;

use serde_json::json;

use tansiq_core::handling::{HandlingCode, Tlp};
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_crypto::oprf;
use tansiq_crypto::{b64, b64_decode_array};
use tansiq_match::hitkeys::{self, HitSubject};
use tansiq_node::federation::{control_channel, Payload};
use tansiq_node::hits::{parse_list, EvaluateRequest, EvaluateResponse, KeyedList, ServeError};
use tansiq_node::records::NewRecord;
use tansiq_node::Node;

use common::{form_channel, node, pump, trust, OP};
use tansiq_sync::Precedence;

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

fn marked(mut r: NewRecord, tlp: Tlp, code: HandlingCode) -> NewRecord {
    r.tlp = Some(tlp);
    r.code = Some(code);
    r
}

/// How many of the subject's keys, evaluated blind by `holder` for
/// `querier`, the keyed list `l` carries (a hit needs 2).
fn probe(holder: &Node, querier: &str, l: &KeyedList, subject: &HitSubject) -> usize {
    let (inputs, blinded, r) = evaluate(holder, querier, &l.header.key_id, subject);
    let r = r.ok().unwrap();
    let ev: Vec<[u8; 32]> = r
        .evaluated
        .iter()
        .map(|e| b64_decode_array(e).unwrap())
        .collect();
    let proof: [u8; 64] = b64_decode_array(&r.proof).unwrap();
    let outs = oprf::finalize(&blinded, &inputs, &ev, &proof, &l.public_key).unwrap();
    hits_in(l, &tags(&outs))
}

fn subject(name: &str, birth: &str) -> HitSubject {
    HitSubject {
        names: vec![name.into()],
        birth_date: Some(birth.into()),
        nationality: Some("DZ".into()),
        documents: vec![],
    }
}

/// The reference a querier would be shown for `record` (docs/PROTOCOL.md
/// §10), computed from the holder's seed as a modified requester that
/// guessed or captured it could present it.
fn reference_for(holder: &Node, querier: &str, key_id: &str, record: &str) -> String {
    let seed = tansiq_crypto::load_or_create_secret(
        &holder.dir.join("keys").join("hit.key"),
        "tansiq-hit-seed-v1",
    )
    .unwrap();
    let r = oprf::reference(&seed, format!("{querier}\0{key_id}\0{record}").as_bytes());
    format!("{key_id}:{}", hex::encode(r))
}

/// A modified requester sends whatever hit request it likes.
fn send_hit_request(from: &Node, to: &Node, id: &str, reference: &str, channel: &str) {
    from.send_unchecked(
        &control_channel(from.id(), to.id()),
        Precedence::Immediate,
        vec![from.id().to_string(), to.id().to_string()],
        vec![],
        &Payload::HitRequest {
            id: id.into(),
            reference: reference.into(),
            channel: channel.into(),
        },
    )
    .unwrap();
}

fn audit_count(n: &Node, action: &str) -> i64 {
    common::audited(n, action, "") as i64
}

/// Issue 12, finding 2: Morocco put a TLP:RED/H3 person in DZ-MA; Algeria
/// exposed DZ-MA's file to Tunisia, which then got a hit on Morocco's
/// record. A holder answers only for its own records, and never for a
/// TLP:RED or H3 one, nor one derived from another agency's record.
#[test]
fn a_holder_answers_only_for_its_own_records_and_never_for_red_or_h3() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 1);
    let ma = node(tmp.path(), "ma", "MA", 2);
    let tn = node(tmp.path(), "tn", "TN", 3);
    let all = [&dz, &ma, &tn];
    trust(&all);
    let dm = form_channel(&dz, "DZ-MA", &[&ma], &all);
    // Morocco's records in DZ-MA: one RED/H3, one with default handling.
    let red = ma
        .record_add(
            &OP,
            marked(
                person(&dm, &["Mokhtar Belmokhtar"], "1972-06-01"),
                Tlp::Red,
                HandlingCode::Restricted,
            ),
        )
        .unwrap();
    let saifi = ma
        .record_add(&OP, person(&dm, &["Amari Saifi"], "1968"))
        .unwrap();
    pump(&all);
    assert!(dz.record_get(&OP, &red).is_ok() && dz.record_get(&OP, &saifi).is_ok());
    // Algeria's own: one exposable, one RED, one H3, one derived from
    // Morocco's record.
    let hattab = dz
        .record_add(&OP, person(&dm, &["Hassan Hattab"], "1967"))
        .unwrap();
    dz.record_add(
        &OP,
        marked(
            person(&dm, &["Abdelmalek Droukdel"], "1970"),
            Tlp::Red,
            HandlingCode::OriginatorConsent,
        ),
    )
    .unwrap();
    dz.record_add(
        &OP,
        marked(
            person(&dm, &["Nabil Sahraoui"], "1966"),
            Tlp::Amber,
            HandlingCode::Restricted,
        ),
    )
    .unwrap();
    let mut derived = person(&dm, &["Abderrazak El Para"], "1966");
    derived.links = vec![Link {
        rel: LinkType::DerivedFrom,
        target: saifi.clone(),
        from: None,
        until: None,
        note: None,
    }];
    dz.record_add(&OP, derived).unwrap();
    pump(&all);

    dz.query_allow(&OP, tn.id(), &dm, "terrorism", None)
        .unwrap();
    let l = list(&dz, tn.id());
    assert_eq!(l.refs.len(), 1, "only Algeria's own AMBER/H2 record");
    // Tunisia's probes: Morocco's people, and Algeria's RED, H3 and
    // derived ones, share no key; Algeria's exposable one hits.
    for (name, birth) in [
        ("Mokhtar Belmokhtar", "1972"),
        ("Amari Saifi", "1968"),
        ("Abdelmalek Droukdel", "1970"),
        ("Nabil Sahraoui", "1966"),
        ("Abderrazak El Para", "1966"),
    ] {
        assert_eq!(probe(&dz, tn.id(), &l, &subject(name, birth)), 0, "{name}");
    }
    assert!(
        probe(&dz, tn.id(), &l, &subject("Hassan Hattab", "1967")) >= hitkeys::DEFAULT_MIN_SHARED
    );

    // A modified Tunisia presenting the reference of Morocco's record
    // resolves nothing: the request can only be refused.
    let key_id = l.header.key_id.clone();
    send_hit_request(
        &tn,
        &dz,
        "req_tn1",
        &reference_for(&dz, tn.id(), &key_id, &red),
        &dm,
    );
    pump(&all);
    let row = dz
        .hit_requests(&OP)
        .unwrap()
        .into_iter()
        .find(|r| r.id == "req_tn1")
        .expect("the request is kept");
    assert_eq!(row.record, None, "{row:?}");
    assert_eq!(dz.hit_grant(&OP, "req_tn1").unwrap_err().exit_code(), 2);

    // The keyed list follows the rule as records change: remarked RED,
    // the entry goes; back to AMBER, it returns; retracted, it goes.
    let data = json!({"names": ["Hassan Hattab"], "birth_date": "1967", "nationality": ["DZ"]});
    dz.record_update(&OP, &hattab, data.clone(), None, Some(Tlp::Red))
        .unwrap();
    assert_eq!(list(&dz, tn.id()).refs.len(), 0);
    dz.record_update(&OP, &hattab, data, None, Some(Tlp::Amber))
        .unwrap();
    assert_eq!(list(&dz, tn.id()).refs.len(), 1);
    dz.record_retract(&OP, &hattab).unwrap();
    assert_eq!(list(&dz, tn.id()).refs.len(), 0);
    dz.audit_verify(&OP).unwrap();
}

/// Issue 12, finding 12: a modified requester names the trilateral
/// channel in its follow-up request; the holder shares into the smallest
/// channel it chooses itself. A request id reused for another record is
/// rejected, and a grant re-checks that the record is still exposed.
#[test]
fn the_holder_chooses_the_follow_up_channel_and_a_grant_is_rechecked() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 1);
    let ma = node(tmp.path(), "ma", "MA", 2);
    let tn = node(tmp.path(), "tn", "TN", 3);
    let all = [&dz, &ma, &tn];
    trust(&all);
    let dm = form_channel(&dz, "DZ-MA", &[&ma], &all);
    let wide = form_channel(&dz, "DZ-MA-TN", &[&ma, &tn], &all);
    let national = dz
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let hattab = dz
        .record_add(&OP, person(&national, &["Hassan Hattab"], "1967"))
        .unwrap();
    let saifi = dz
        .record_add(&OP, person(&national, &["Amari Saifi"], "1968"))
        .unwrap();
    dz.query_allow(&OP, ma.id(), &national, "terrorism", None)
        .unwrap();
    let key_id = list(&dz, ma.id()).header.key_id;
    let ref_hattab = reference_for(&dz, ma.id(), &key_id, &hattab);
    let ref_saifi = reference_for(&dz, ma.id(), &key_id, &saifi);

    // Morocco asks for Hattab, naming the channel Tunisia is in.
    send_hit_request(&ma, &dz, "req_ma1", &ref_hattab, &wide);
    pump(&all);
    let row = dz
        .hit_requests(&OP)
        .unwrap()
        .into_iter()
        .find(|r| r.id == "req_ma1")
        .unwrap();
    assert_eq!(row.record.as_deref(), Some(hattab.as_str()));
    assert_eq!(row.channel, dm, "the holder's choice, not the requester's");
    dz.hit_grant(&OP, "req_ma1").unwrap();
    pump(&all);
    assert!(ma.record_get(&OP, &hattab).is_ok());
    assert!(
        tn.record_get(&OP, &hattab).is_err(),
        "Tunisia must not receive a record Morocco asked for"
    );

    // The same request id again, now for another record: rejected, and
    // the granted request is unchanged.
    let rejects = audit_count(&dz, "envelope.reject");
    send_hit_request(&ma, &dz, "req_ma1", &ref_saifi, &dm);
    pump(&all);
    assert_eq!(audit_count(&dz, "envelope.reject"), rejects + 1);
    let row = dz
        .hit_requests(&OP)
        .unwrap()
        .into_iter()
        .find(|r| r.id == "req_ma1")
        .unwrap();
    assert_eq!(
        (row.record.as_deref(), row.status.as_str()),
        (Some(hattab.as_str()), "granted")
    );
    assert!(ma.record_get(&OP, &saifi).is_err());

    // A request for Saifi arrives; Algeria then marks Saifi RED. The grant
    // re-checks the exposure and is refused; nothing is shared.
    send_hit_request(&ma, &dz, "req_ma2", &ref_saifi, &dm);
    pump(&all);
    let data = json!({"names": ["Amari Saifi"], "birth_date": "1968", "nationality": ["DZ"]});
    dz.record_update(&OP, &saifi, data, None, Some(Tlp::Red))
        .unwrap();
    let e = dz.hit_grant(&OP, "req_ma2").unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("exposure"), "{e}");
    pump(&all);
    assert!(ma.record_get(&OP, &saifi).is_err());
    dz.audit_verify(&OP).unwrap();
}

/// A holder's refusal reason is shown by `requests` at the requester: a
/// modified holder's control characters (terminal escapes) never reach
/// the requester's store or screen.
#[test]
fn a_refusal_reason_from_a_modified_holder_carries_no_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 1);
    let ma = node(tmp.path(), "ma", "MA", 2);
    let all = [&dz, &ma];
    trust(&all);
    form_channel(&dz, "DZ-MA", &[&ma], &all);
    let reference = format!("1.0:{}", "ab".repeat(16));
    ma.store
        .write(|tx| tx.put_hit_reference(&reference, dz.id(), "2026-12-04T00:00:00Z"))
        .unwrap();
    let id = ma.hit_request(&OP, &reference).unwrap();
    pump(&all);
    dz.send_unchecked(
        &control_channel(dz.id(), ma.id()),
        Precedence::Immediate,
        vec![dz.id().to_string(), ma.id().to_string()],
        vec![],
        &Payload::HitDecision {
            request: id.clone(),
            granted: false,
            record: None,
            reason: Some("\u{1b}]0;pwned\u{7}no\u{1b}[2J\r\nmore".into()),
        },
    )
    .unwrap();
    pump(&all);
    let row = ma
        .hit_requests(&OP)
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap();
    assert_eq!(row.status, "refused");
    let reason = row.reason.unwrap();
    assert!(!reason.chars().any(char::is_control), "{reason:?}");
    assert!(
        reason.contains("no") && reason.contains("more"),
        "{reason:?}"
    );
}

/// A modified querier keeps the keyed list it fetched and goes on asking
/// under its key: an entry that left the exposure (retracted, or its file
/// withdrawn while another stays exposed) must stop answering at once,
/// not at the end of the key period.
#[test]
fn an_entry_that_leaves_the_exposure_stops_answering_in_a_kept_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 1);
    let tn = node(tmp.path(), "tn", "TN", 3);
    trust(&[&dz, &tn]);
    let national = |name: &str| {
        dz.channel_create(&OP, name, vec![], vec!["terrorism".into()], vec![], None)
            .unwrap()
    };
    let (a, b) = (national("DZ national A"), national("DZ national B"));
    let hattab = dz
        .record_add(&OP, person(&a, &["Hassan Hattab"], "1967"))
        .unwrap();
    dz.record_add(&OP, person(&a, &["Amari Saifi"], "1968"))
        .unwrap();
    dz.record_add(&OP, person(&b, &["Nabil Sahraoui"], "1966"))
        .unwrap();
    dz.query_allow(&OP, tn.id(), &a, "terrorism", None).unwrap();
    dz.query_allow(&OP, tn.id(), &b, "terrorism", None).unwrap();
    let kept = list(&dz, tn.id());
    assert_eq!(kept.refs.len(), 3);
    let hattab_s = subject("Hassan Hattab", "1967");
    assert!(probe(&dz, tn.id(), &kept, &hattab_s) >= hitkeys::DEFAULT_MIN_SHARED);

    // Retracted: once the holder's few-seconds-old view of its entries
    // has expired, an evaluation under the kept list's key is stale.
    dz.record_retract(&OP, &hattab).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(5200));
    let (_, _, r) = evaluate(&dz, tn.id(), &kept.header.key_id, &hattab_s);
    assert!(matches!(r, Err(ServeError::Stale(_))), "{:?}", r.ok());
    let l2 = list(&dz, tn.id());
    assert_eq!(l2.refs.len(), 2);
    assert_eq!(probe(&dz, tn.id(), &l2, &hattab_s), 0);
    let saifi = subject("Amari Saifi", "1968");
    assert!(probe(&dz, tn.id(), &l2, &saifi) >= hitkeys::DEFAULT_MIN_SHARED);

    // File A withdrawn, B still exposed: at once, the kept key is stale.
    dz.query_deny(&OP, tn.id(), &a, "terrorism").unwrap();
    let (_, _, r) = evaluate(&dz, tn.id(), &l2.header.key_id, &saifi);
    assert!(matches!(r, Err(ServeError::Stale(_))), "{:?}", r.ok());
    let l3 = list(&dz, tn.id());
    assert_eq!(l3.refs.len(), 1);
    assert_eq!(probe(&dz, tn.id(), &l3, &saifi), 0);
    dz.audit_verify(&OP).unwrap();
}
