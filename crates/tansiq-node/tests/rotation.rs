//! Key rotation through the real engine, keys, sealing and stores (the
//! network replaced by direct hand-over, or by bundle files): what was
//! sealed to or signed by the old keys still opens and verifies, bundles
//! carry the new card, charters made after a rotation form, and forks,
//! rollbacks and foreign cards are refused. The card push over real
//! mutual TLS is tansiq-api's `tests/card_push.rs`.

mod common;

use tansiq_crypto::Identity;
use tansiq_node::card::{NodeCard, Rotation, RotationBody};
use tansiq_node::rotation::CardUpdate;
use tansiq_node::Node;

use common::{form_channel, free_port, node, person, pump, pump_down, trust, OP};

fn actions(n: &Node) -> Vec<String> {
    n.store
        .read(|tx| tx.audit_entries(0, 100_000))
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.action)
        .collect()
}

#[test]
fn bundles_carry_the_new_card_and_old_keys_still_open_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", free_port());
    let ma = node(tmp.path(), "ma", "MA", free_port());
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "pair", &[&ma], &[&dz, &ma]);
    // The link is cut from here on: bundles only.
    let sealed_old = dz.record_add(&OP, person(&ch, "Sealed Old")).unwrap();
    let signed_old = ma.record_add(&OP, person(&ch, "Signed Old")).unwrap();
    let _ = dz.federation.take_outgoing();
    let _ = ma.federation.take_outgoing();
    // DZ's bundle is sealed to MA's keys of generation 0.
    let (dz_bundle, n) = dz.bundle_export(&OP, ma.id()).unwrap();
    assert_eq!(n, 1);

    let card = ma.keys_rotate(&OP).unwrap();
    assert_eq!(card.body.gen, 1);
    assert_eq!(card.body.id, ma.id());
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    assert_eq!(ma.key_generation(), 1);
    assert_eq!(ma.card(), card);
    let signed_new = ma.record_add(&OP, person(&ch, "Signed New")).unwrap();
    let _ = ma.federation.take_outgoing();

    // MA opens what was sealed to its old keys (bundle and envelope).
    assert_eq!(ma.bundle_import(&OP, &dz_bundle).unwrap(), 1);
    assert_eq!(
        ma.record_get(&OP, &sealed_old).unwrap().data["names"][0],
        "Sealed Old"
    );

    // MA's bundle carries its new card; a tampered card is refused whole.
    let (ma_bundle, n) = ma.bundle_export(&OP, dz.id()).unwrap();
    assert_eq!(n, 2);
    let mut v: serde_json::Value = serde_json::from_slice(&ma_bundle).unwrap();
    assert_eq!(v["card"]["gen"], 1);
    v["card"]["rotations"][0]["at"] = "2020-01-01T00:00:00Z".into();
    let e = dz
        .bundle_import(&OP, &serde_json::to_vec(&v).unwrap())
        .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert!(dz.record_get(&OP, &signed_old).is_err(), "nothing imported");
    assert_eq!(dz.bundle_import(&OP, &ma_bundle).unwrap(), 2);
    assert!(actions(&dz).iter().any(|a| a == "peer.rotate"));
    // Signed by the old key before the rotation, by the new one after: both verify.
    assert_eq!(
        dz.record_get(&OP, &signed_old).unwrap().data["names"][0],
        "Signed Old"
    );
    assert!(dz.record_get(&OP, &signed_new).is_ok());

    // The rotated node proposes a channel: its signature (new key, same id)
    // is accepted, and the link works both ways again.
    let ch2 = ma
        .channel_create(
            &OP,
            "after",
            vec![dz.id().into()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump(&[&dz, &ma]);
    dz.channel_accept(&OP, &ch2).unwrap();
    pump(&[&dz, &ma]);
    for n in [&dz, &ma] {
        let c = n.channel_list(&OP).unwrap();
        assert!(c.iter().any(|c| c.id == ch2 && c.status == "active"));
    }
    let a = dz.record_add(&OP, person(&ch2, "From DZ")).unwrap();
    let b = ma.record_add(&OP, person(&ch2, "From MA")).unwrap();
    pump(&[&dz, &ma]);
    assert!(ma.record_get(&OP, &a).is_ok());
    assert!(dz.record_get(&OP, &b).is_ok());
    for n in [&dz, &ma] {
        let r = n.audit_verify(&OP).unwrap();
        assert!(r.ok, "{:?}", r.problem);
    }
}

#[test]
fn forks_rollbacks_and_foreign_pushes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", free_port());
    let ma = node(tmp.path(), "ma", "MA", free_port());
    let us = node(tmp.path(), "us", "US", free_port());
    trust(&[&dz, &ma]);
    trust(&[&dz, &us]);
    let gen0 = serde_json::to_vec(&ma.card()).unwrap();
    let gen1 = ma.keys_rotate(&OP).unwrap();
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    let gen1_bytes = serde_json::to_vec(&gen1).unwrap();

    // Pushed by MA itself: taken, once.
    assert_eq!(
        dz.receive_card_push(ma.id(), &gen1_bytes).unwrap(),
        CardUpdate::Rotated { from: 0, to: 1 }
    );
    assert_eq!(
        dz.receive_card_push(ma.id(), &gen1_bytes).unwrap(),
        CardUpdate::Same
    );
    // Another node cannot push MA's card, nor MA another's.
    assert!(dz.receive_card_push(us.id(), &gen1_bytes).is_err());
    let us_card = serde_json::to_vec(&us.card()).unwrap();
    assert!(dz.receive_card_push(ma.id(), &us_card).is_err());
    // Back to generation 0: refused.
    let e = dz.peer_add(&OP, &gen0).unwrap_err();
    assert!(e.to_string().contains("rollback"), "{e}");
    assert_eq!(e.exit_code(), 2);

    // Someone holding MA's retired genesis key makes another generation 1:
    // a valid chain, but not the one DZ holds.
    let genesis = Identity::load(&tmp.path().join("ma/keys")).unwrap();
    let other = Identity::generate();
    let fork = NodeCard::issue_rotated(
        ma.id(),
        &other,
        Some(genesis.signing_public()),
        &[Rotation::sign(
            RotationBody {
                id: ma.id().into(),
                gen: 1,
                signing_key: tansiq_crypto::b64(other.signing_public()),
                encryption_key: tansiq_crypto::b64(other.encryption_public()),
                at: gen1.body.rotations[0].body.at.clone(),
            },
            &genesis,
        )],
        "MA",
        "MA",
        &gen1.body.endpoint,
        &gen1.body.created,
    );
    fork.verify().unwrap();
    let e = dz
        .peer_add(&OP, &serde_json::to_vec(&fork).unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("does not continue"), "{e}");
    let e = dz
        .receive_card_push(ma.id(), &serde_json::to_vec(&fork).unwrap())
        .unwrap_err();
    assert_eq!(e.exit_code(), 2);
    // DZ still pins MA's real generation 1.
    let held = dz.store.read(|tx| tx.peer(ma.id())).unwrap().unwrap().card;
    assert_eq!(serde_json::from_str::<NodeCard>(&held).unwrap(), gen1);
    assert!(dz.audit_verify(&OP).unwrap().ok);
}

/// DZ, MA and TN, each trusting the others, and a channel of the three
/// that DZ proposed (delivered, not yet accepted). Returns the channel id.
fn maghreb(root: &std::path::Path) -> (Node, Node, Node, String) {
    let dz = node(root, "dz", "DZ", free_port());
    let ma = node(root, "ma", "MA", free_port());
    let tn = node(root, "tn", "TN", free_port());
    for (a, b) in [(&dz, &ma), (&dz, &tn), (&ma, &tn)] {
        trust(&[a, b]);
    }
    let ch = dz
        .channel_create(
            &OP,
            "Maghreb",
            vec![ma.id().into(), tn.id().into()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump(&[&dz, &ma, &tn]);
    (dz, ma, tn, ch)
}

/// A member co-signs a proposal, then rotates before its signature reached
/// the others, who meanwhile learned its new card: the signature, made
/// with the key in force then, still counts and the channel forms.
#[test]
fn a_co_signature_made_before_a_rotation_still_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn, ch) = maghreb(tmp.path());
    ma.channel_accept(&OP, &ch).unwrap();
    // MA's signature is queued, not yet delivered; MA rotates and its new
    // card reaches DZ and TN first.
    let queued = ma.federation.take_outgoing();
    let card = serde_json::to_vec(&ma.keys_rotate(&OP).unwrap()).unwrap();
    for n in [&dz, &tn] {
        n.receive_card_push(ma.id(), &card).unwrap();
    }
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    ma.federation.requeue(queued);
    pump(&[&dz, &ma, &tn]);
    tn.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma, &tn]);
    for n in [&dz, &ma, &tn] {
        let c = n.channel_list(&OP).unwrap();
        let c = c.iter().find(|c| c.id == ch).unwrap();
        assert_eq!(c.status, "active", "at {}: {c:?}", n.config.country);
    }
    let id = ma.record_add(&OP, person(&ch, "After")).unwrap();
    pump(&[&dz, &ma, &tn]);
    assert!(dz.record_get(&OP, &id).is_ok() && tn.record_get(&OP, &id).is_ok());
}

/// DZ rotates while its link to MA is down; TN, the third member, takes
/// DZ's card and its new record. MA restarts and catches up by
/// anti-entropy from TN: the fetched envelope is signed by a key MA does
/// not know, so MA defers it (nothing refused, nothing stored), fetches
/// DZ's card from TN (which discloses it: both are members of a channel
/// with DZ), and the next fetch takes the record in — once.
#[test]
fn anti_entropy_after_a_rotation_fetches_the_card_then_the_envelopes() {
    use tansiq_node::federation::CardFetched;
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn, ch) = maghreb(tmp.path());
    ma.channel_accept(&OP, &ch).unwrap();
    tn.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma, &tn]);
    let first = dz.record_add(&OP, person(&ch, "Before")).unwrap();
    pump(&[&dz, &ma, &tn]);
    assert!(ma.record_get(&OP, &first).is_ok());

    // DZ rotates; only TN hears of it (the DZ–MA link is down).
    let card = serde_json::to_vec(&dz.keys_rotate(&OP).unwrap()).unwrap();
    tn.receive_card_push(dz.id(), &card).unwrap();
    let dz = Node::open(&tmp.path().join("dz")).unwrap();
    let after = dz.record_add(&OP, person(&ch, "After Rotation")).unwrap();
    // Only what is for TN crosses.
    for t in dz.federation.take_outgoing() {
        if t.to.as_str() == tn.id() {
            let bytes = t.message.encode();
            tn.take_in_peer_message(dz.id(), &bytes, false).unwrap();
        }
    }
    let _ = tn.federation.take_outgoing();
    assert!(tn.record_get(&OP, &after).is_ok());

    // MA restarts: its summary round reaches TN, TN's heads show the gap,
    // MA fetches from TN and defers the envelope it cannot verify.
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !ma.federation.cards.is_wanted(dz.id()) {
        assert!(
            std::time::Instant::now() < deadline,
            "MA never asked for DZ's card"
        );
        pump_down(&[&ma, &tn], dz.id());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(
        ma.record_get(&OP, &after).is_err(),
        "nothing taken unverified"
    );
    assert!(ma.sync_status(&OP).unwrap().alarms.is_empty());

    // The card fetch (what `serve` does with `cards.due`): from TN.
    let now = tansiq_node::federation::now_ms();
    let due = ma.federation.cards.due(now);
    assert_eq!(due, vec![(dz.id().to_string(), vec![tn.id().to_string()])]);
    // TN discloses DZ's card to MA (a shared channel), not to a stranger.
    let got = tn
        .card_for_peer(ma.id(), dz.id())
        .unwrap()
        .expect("disclosed");
    assert_eq!(tn.card_for_peer("tqnobody", dz.id()).unwrap(), None);
    assert_eq!(
        ma.take_fetched_card(tn.id(), dz.id(), got.as_bytes())
            .unwrap(),
        CardUpdate::Rotated { from: 0, to: 1 }
    );
    ma.federation.cards.done(dz.id(), CardFetched::Newer, now);

    // The next fetch takes the record in, once.
    while ma.record_get(&OP, &after).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the refetch after the card never came"
        );
        pump_down(&[&ma, &tn], dz.id());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    pump_down(&[&ma, &tn], dz.id());
    let receives = actions(&ma)
        .iter()
        .filter(|a| *a == "record.receive")
        .count();
    assert_eq!(receives, 2, "each record delivered once");
    assert!(actions(&ma).iter().any(|a| a == "peer.rotate"));
    assert!(ma.sync_status(&OP).unwrap().alarms.is_empty());
    for n in [&dz, &ma, &tn] {
        assert!(n.audit_verify(&OP).unwrap().ok);
    }
}

/// The clock of a node steps back after it rotated (NTP correcting a
/// clock that ran fast at the rotation): its envelopes, signed by the new
/// key, are dated before the rotation. Partners still verify them — a key
/// is taken for dates within `CLOCK_GRACE_SECS` of its span — and nothing
/// is refused or lost.
#[test]
fn a_clock_stepped_back_after_a_rotation_loses_nothing() {
    use tansiq_node::federation::now_ms;
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", free_port());
    let ma = node(tmp.path(), "ma", "MA", free_port());
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "pair", &[&ma], &[&dz, &ma]);
    let card = serde_json::to_vec(&ma.keys_rotate(&OP).unwrap()).unwrap();
    dz.receive_card_push(ma.id(), &card).unwrap();
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    let behind = now_ms() - 300_000;
    ma.federation.set_clock(std::sync::Arc::new(move || behind));
    let id = ma.record_add(&OP, person(&ch, "Stepped Back")).unwrap();
    pump(&[&dz, &ma]);
    assert_eq!(
        dz.record_get(&OP, &id).unwrap().data["names"][0],
        "Stepped Back"
    );
    assert!(dz.sync_status(&OP).unwrap().alarms.is_empty());
}

/// The reverse: a node's clock ran fast when it made an envelope, then
/// stepped back before it rotated, so the envelope signed by the old key
/// is dated after the old key's retirement. Delivered after the rotation,
/// it still verifies.
#[test]
fn an_envelope_dated_past_a_rotation_by_a_fast_clock_still_verifies() {
    use tansiq_node::federation::now_ms;
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", free_port());
    let ma = node(tmp.path(), "ma", "MA", free_port());
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "pair", &[&ma], &[&dz, &ma]);
    let ahead = now_ms() + 300_000;
    ma.federation.set_clock(std::sync::Arc::new(move || ahead));
    let id = ma.record_add(&OP, person(&ch, "Fast Clock")).unwrap();
    let queued = ma.federation.take_outgoing();
    // The clock is set right, then the node rotates.
    ma.federation.set_clock(std::sync::Arc::new(now_ms));
    let card = serde_json::to_vec(&ma.keys_rotate(&OP).unwrap()).unwrap();
    dz.receive_card_push(ma.id(), &card).unwrap();
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    ma.federation.requeue(queued);
    pump(&[&dz, &ma]);
    assert_eq!(
        dz.record_get(&OP, &id).unwrap().data["names"][0],
        "Fast Clock"
    );
    assert!(dz.sync_status(&OP).unwrap().alarms.is_empty());
}
