//! Federation through the real engine, keys, sealing and stores, with the
//! network replaced by direct hand-over of each message's bytes: charters
//! formed across nodes, records delivered sealed and signed, versions and
//! retractions propagated, and the third-party rule enforced by a
//! receiving node against a sender that bypasses its own policy.

mod common;

use serde_json::json;

use common::{form_channel, node, person, pump, trust, OP};
use tansiq_node::federation::{payload, Payload};
use tansiq_node::Node;
use tansiq_store::RecordFilter;
use tansiq_sync::Precedence;

fn status(n: &Node, ch: &str) -> String {
    n.channel_list(&OP)
        .unwrap()
        .into_iter()
        .find(|c| c.id == ch)
        .map(|c| c.status)
        .unwrap_or_default()
}

#[test]
fn charters_records_versions_and_retractions_cross_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    trust(&[&dz, &ma]);
    let ch = dz
        .channel_create(
            &OP,
            "DZ-MA",
            vec![ma.id().into()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump(&[&dz, &ma]);
    assert_eq!(status(&ma, &ch), "pending", "the proposal reached Morocco");
    assert_eq!(status(&dz, &ch), "pending");
    ma.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma]);
    assert_eq!(status(&ma, &ch), "active");
    assert_eq!(
        status(&dz, &ch),
        "active",
        "Morocco's signature reached Algeria"
    );

    let id = dz
        .record_add(&OP, person(&ch, "Abdelmalek Droukdel"))
        .unwrap();
    pump(&[&dz, &ma]);
    let got = ma.record_get(&OP, &id).unwrap();
    assert_eq!(got.originator, dz.id());
    assert_eq!(got.data["names"][0], "Abdelmalek Droukdel");
    assert_eq!(got.version, 1);
    // redelivery of everything has no second effect
    let before = ma.record_list(&OP, &RecordFilter::default()).unwrap().len();
    pump(&[&dz, &ma]);
    assert_eq!(
        ma.record_list(&OP, &RecordFilter::default()).unwrap().len(),
        before
    );

    dz.record_update(
        &OP,
        &id,
        json!({"names": ["Abdelmalek Droukdel", "Abou Moussab Abdelwadoud"]}),
        None,
        None,
    )
    .unwrap();
    pump(&[&dz, &ma]);
    assert_eq!(ma.record_get(&OP, &id).unwrap().version, 2);

    dz.record_retract(&OP, &id).unwrap();
    pump(&[&dz, &ma]);
    let r = ma.record_get(&OP, &id).unwrap();
    assert_eq!(r.status, "retracted");
    ma.store.scrub().unwrap();
    let db = std::fs::read(ma.dir.join("node.db")).unwrap();
    assert!(
        !db.windows(8).any(|w| w == b"Droukdel"),
        "plaintext left at the holder"
    );
    // Not even recoverable with the holder's own key: every sealed copy
    // of the retracted record's earlier versions was purged.
    for n in [&dz, &ma] {
        let conn = rusqlite::Connection::open(n.dir.join("node.db")).unwrap();
        let mut st = conn
            .prepare("SELECT header, body FROM sync_envelope WHERE body IS NOT NULL")
            .unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(!rows.is_empty());
        for (header, body) in rows {
            // Either body form (epoch key or one-shot), with no cached keys.
            let h: tansiq_sync::EnvelopeHeader = serde_json::from_slice(&header).unwrap();
            if let Ok(plain) = payload::open_body(&body, &h, &header, n.id(), &n.identities(), None)
            {
                assert!(
                    !plain.windows(8).any(|w| w == b"Droukdel"),
                    "a sealed copy of the retracted record is still openable at {}",
                    n.config.country
                );
            }
        }
    }
    assert!(dz.audit_verify(&OP).unwrap().ok);
    assert!(ma.audit_verify(&OP).unwrap().ok);
}

#[test]
fn a_receiver_enforces_the_third_party_rule_against_a_modified_sender() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let us = node(tmp.path(), "us", "US", 7451);
    let all = [&dz, &ma, &us];
    trust(&all);
    let dzma = form_channel(&dz, "DZ-MA", &[&ma], &all);
    let maus = form_channel(&ma, "MA-US", &[&us], &all);
    assert_eq!(status(&ma, &maus), "active");
    let id = dz
        .record_add(&OP, person(&dzma, "Mokhtar Belmokhtar"))
        .unwrap();
    pump(&all);
    assert!(ma.record_get(&OP, &id).is_ok());
    // Morocco's node refuses to pass it on without Algeria's release …
    let e = ma.record_share(&OP, &id, &maus).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("third-party rule"));
    // … and a modified Morocco that sends it anyway is refused by the US node.
    let rec = ma
        .store
        .read(|tx| tx.record(&id, &tansiq_core::policy::ReadScope::everything()))
        .unwrap()
        .unwrap()
        .signed
        .unwrap();
    let members = vec![ma.id().to_string(), us.id().to_string()];
    ma.send_unchecked(
        &maus,
        Precedence::Routine,
        members.clone(),
        vec![],
        &Payload::Record {
            record: rec.clone(),
            release: None,
        },
    )
    .unwrap();
    pump(&all);
    assert!(
        us.record_get(&OP, &id).is_err(),
        "the US node must not take in the record"
    );
    let conn = rusqlite::Connection::open(us.dir.join("node.db")).unwrap();
    let rejected: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE action = 'envelope.reject' AND details LIKE '%third-party rule%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rejected, 1);
    // a non-member never receives the DZ-MA records
    assert!(us
        .record_list(&OP, &RecordFilter::default())
        .unwrap()
        .is_empty());
    for n in all {
        assert!(n.audit_verify(&OP).unwrap().ok);
    }
}

#[test]
fn release_refused_then_granted_then_the_share_arrives() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let us = node(tmp.path(), "us", "US", 7451);
    let all = [&dz, &ma, &us];
    trust(&all);
    let dzma = form_channel(&dz, "DZ-MA", &[&ma], &all);
    let maus = form_channel(&ma, "MA-US", &[&us], &all);
    let id = dz
        .record_add(&OP, person(&dzma, "Abdelmalek Droukdel"))
        .unwrap();
    pump(&all);

    // Refused first.
    let req = ma
        .release_request(&OP, &id, &maus, Some("US screening of a flight manifest"))
        .unwrap();
    pump(&all);
    let at_dz = dz.releases(&OP).unwrap();
    let r = at_dz
        .iter()
        .find(|r| r.id == req)
        .expect("request reached the originator");
    assert_eq!(r.status, "pending");
    assert_eq!(r.direction, "in");
    assert_eq!(r.requester, ma.id());
    let mut want = vec![ma.id().to_string(), us.id().to_string()];
    want.sort();
    assert_eq!(
        r.target_members, want,
        "the originator sees the target channel's members"
    );
    dz.release_refuse(&OP, &req, Some("not at this stage"))
        .unwrap();
    pump(&all);
    assert_eq!(
        ma.releases(&OP)
            .unwrap()
            .iter()
            .find(|r| r.id == req)
            .unwrap()
            .status,
        "refused"
    );
    assert_eq!(ma.record_share(&OP, &id, &maus).unwrap_err().exit_code(), 3);
    // only the originator decides
    assert!(ma.release_grant(&OP, Some(&req), None, None, None).is_err());

    // Then granted.
    let req2 = ma.release_request(&OP, &id, &maus, None).unwrap();
    pump(&all);
    dz.release_grant(&OP, Some(&req2), None, None, Some("no use in court"))
        .unwrap();
    pump(&all);
    assert_eq!(
        ma.releases(&OP)
            .unwrap()
            .iter()
            .find(|r| r.id == req2)
            .unwrap()
            .status,
        "granted"
    );
    ma.record_share(&OP, &id, &maus).unwrap();
    pump(&all);
    let got = us
        .record_get(&OP, &id)
        .expect("the released record reached the US node");
    assert_eq!(got.originator, dz.id());
    for n in all {
        assert!(n.audit_verify(&OP).unwrap().ok);
    }
}

#[test]
fn offline_bundles_carry_the_backlog_once_and_refuse_tampering() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let us = node(tmp.path(), "us", "US", 7451);
    trust(&[&dz, &ma, &us]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    // The link is cut: nothing is pumped from here on.
    let ids: Vec<String> = (0..3)
        .map(|i| {
            dz.record_add(&OP, person(&ch, &format!("Courier {i}")))
                .unwrap()
        })
        .collect();
    let _ = dz.federation.take_outgoing();
    let (bytes, n) = dz.bundle_export(&OP, ma.id()).unwrap();
    assert_eq!(n, 3);
    assert!(
        !bytes.windows(7).any(|w| w == b"Courier"),
        "a courier sees no plaintext"
    );
    // tampered: one byte flipped → rejected, nothing changed
    let mut bad = bytes.clone();
    let k = bad.len() / 2;
    bad[k] = if bad[k] == b'A' { b'B' } else { b'A' };
    assert_eq!(ma.bundle_import(&OP, &bad).unwrap_err().exit_code(), 2);
    assert!(ma.record_get(&OP, &ids[0]).is_err());
    // addressed to another node → rejected
    let e = us.bundle_import(&OP, &bytes).unwrap_err();
    assert!(e.to_string().contains("addressed to"), "{e}");
    // imported once; a second import adds nothing
    assert_eq!(ma.bundle_import(&OP, &bytes).unwrap(), 3);
    for id in &ids {
        assert!(ma.record_get(&OP, id).is_ok());
    }
    assert_eq!(ma.bundle_import(&OP, &bytes).unwrap(), 0);
    // when the link returns, whatever DZ re-sends has no second effect
    pump(&[&dz, &ma]);
    assert_eq!(
        ma.record_list(&OP, &RecordFilter::default()).unwrap().len(),
        3
    );
    assert!(ma.audit_verify(&OP).unwrap().ok);
}

#[test]
fn partners_witness_each_others_audit_logs_and_raise_an_alarm_on_a_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let both = [&dz, &ma];
    trust(&both);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &both);
    dz.record_add(&OP, person(&ch, "Hassan Hattab")).unwrap();
    pump(&both);
    // Round 1: each sends its checkpoint; each co-signs the other's.
    for _ in 0..2 {
        for n in both {
            n.witness_round().unwrap();
        }
        pump(&both);
    }
    let (size1, _) = ma
        .witnessed(dz.id())
        .unwrap()
        .expect("Morocco witnessed Algeria's log");
    let cosigned = |n: &Node| -> i64 {
        rusqlite::Connection::open(n.dir.join("node.db"))
            .unwrap()
            .query_row("SELECT COUNT(*) FROM cosignatures", [], |r| r.get(0))
            .unwrap()
    };
    assert!(cosigned(&dz) >= 1, "Algeria holds Morocco's co-signature");
    // Round 2: the log grew; the consistency proof from size1 is accepted.
    dz.record_add(&OP, person(&ch, "Amari Saifi")).unwrap();
    pump(&both);
    dz.witness_round().unwrap();
    pump(&both);
    let (size2, _) = ma.witnessed(dz.id()).unwrap().unwrap();
    assert!(size2 > size1);
    assert!(ma.sync_status(&OP).unwrap().alarms.is_empty());
    // A rewritten history: a checkpoint that is not an extension of what
    // Morocco witnessed (signed with Algeria's real key).
    let forged = tansiq_crypto::checkpoint::Checkpoint {
        origin: format!("tansiq/{}", dz.id()),
        size: size2 + 5,
        root: [7u8; 32],
    };
    let note =
        tansiq_crypto::checkpoint::sign(&dz.identity, &format!("tansiq/{}", dz.id()), &forged)
            .unwrap();
    let members = vec![dz.id().to_string(), ma.id().to_string()];
    let ctl = tansiq_node::federation::control_channel(dz.id(), ma.id());
    dz.send_unchecked(
        &ctl,
        Precedence::Routine,
        members.clone(),
        vec![],
        &Payload::Checkpoint {
            note: note.clone(),
            old_size: size2,
            proof: vec![],
        },
    )
    .unwrap();
    pump(&both);
    let alarms = ma.sync_status(&OP).unwrap().alarms;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["kind"], "audit_inconsistent");
    assert_eq!(
        ma.witnessed(dz.id()).unwrap().unwrap().0,
        size2,
        "the inconsistent checkpoint is not adopted"
    );
    // Kept as evidence (both notes) and in the audit log.
    let evidence = ma.store.read(|tx| tx.sync_alarms()).unwrap();
    let detail: serde_json::Value = serde_json::from_str(&evidence[0].detail).unwrap();
    assert_eq!(detail["received"], note.as_str(), "the offending note");
    let held = detail["held"].as_str().unwrap();
    assert!(
        held.contains(&format!("\n{size2}\n")),
        "the witnessed note: {held}"
    );
    let audit_alarms = |n: &Node| {
        n.store
            .read(|tx| tx.audit_entries(0, 100_000))
            .unwrap()
            .into_iter()
            .filter(|(e, _)| e.action == "witness.alarm")
            .count()
    };
    assert_eq!(audit_alarms(&ma), 1);
    // Two different logs of the size witnessed (a fork): alarm too.
    let same_size = tansiq_crypto::checkpoint::Checkpoint {
        origin: format!("tansiq/{}", dz.id()),
        size: size2,
        root: [8u8; 32],
    };
    let fork_note =
        tansiq_crypto::checkpoint::sign(&dz.identity, &format!("tansiq/{}", dz.id()), &same_size)
            .unwrap();
    dz.send_unchecked(
        &ctl,
        Precedence::Routine,
        members.clone(),
        vec![],
        &Payload::Checkpoint {
            note: fork_note,
            old_size: size2,
            proof: vec![],
        },
    )
    .unwrap();
    pump(&both);
    assert_eq!(ma.sync_status(&OP).unwrap().alarms.len(), 2);
    assert_eq!(audit_alarms(&ma), 2);
    assert_eq!(ma.witnessed(dz.id()).unwrap().unwrap().0, size2);
    // A checkpoint whose size canonical JSON cannot hold is refused, not a
    // panic of the receiving node (found by the node_deliver fuzz target).
    let huge = tansiq_crypto::checkpoint::Checkpoint {
        origin: format!("tansiq/{}", dz.id()),
        size: 1 << 53,
        root: [9u8; 32],
    };
    let note = tansiq_crypto::checkpoint::sign(&dz.identity, &format!("tansiq/{}", dz.id()), &huge)
        .unwrap();
    dz.send_unchecked(
        &ctl,
        Precedence::Routine,
        members.clone(),
        vec![],
        &Payload::Checkpoint {
            note,
            old_size: 0,
            proof: vec![],
        },
    )
    .unwrap();
    pump(&both);
    assert_eq!(ma.witnessed(dz.id()).unwrap().unwrap().0, size2);
    assert!(ma.audit_verify(&OP).unwrap().ok);
}

#[test]
fn a_member_joins_by_a_new_charter_version_and_does_not_see_history() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let tn = node(tmp.path(), "tn", "TN", 7421);
    let all = [&dz, &ma, &tn];
    trust(&all);
    let ch = form_channel(&dz, "Maghreb", &[&ma], &all);
    let old = dz
        .record_add(&OP, person(&ch, "Before Tunisia Joined"))
        .unwrap();
    pump(&all);
    // Tunisia joins: version 2, signed by all three.
    dz.channel_update(&OP, &ch, vec![tn.id().into()], vec![])
        .unwrap();
    pump(&all);
    assert_eq!(status(&tn, &ch), "pending");
    ma.channel_accept(&OP, &ch).unwrap();
    tn.channel_accept(&OP, &ch).unwrap();
    pump(&all);
    for n in all {
        let c = n
            .channel_list(&OP)
            .unwrap()
            .into_iter()
            .find(|c| c.id == ch)
            .unwrap();
        assert_eq!(
            (c.status.as_str(), c.version, c.members.len()),
            ("active", 2, 3),
            "at {}",
            n.config.country
        );
    }
    let new = dz
        .record_add(&OP, person(&ch, "After Tunisia Joined"))
        .unwrap();
    pump(&all);
    assert!(
        tn.record_get(&OP, &new).is_ok(),
        "the new member receives what follows"
    );
    assert!(
        tn.record_get(&OP, &old).is_err(),
        "but not what came before"
    );
    assert!(ma.record_get(&OP, &new).is_ok());
    // … unless the originator gives it to the channel as it is now.
    let ma_before = ma
        .store
        .read(|tx| tx.audit_entries(0, 100_000))
        .unwrap()
        .len();
    dz.record_share(&OP, &old, &ch).unwrap();
    pump(&all);
    assert_eq!(
        tn.record_get(&OP, &old).unwrap().data["names"][0],
        "Before Tunisia Joined"
    );
    let again = ma
        .store
        .read(|tx| tx.audit_entries(0, 100_000))
        .unwrap()
        .into_iter()
        .skip(ma_before)
        .filter(|(e, _)| e.action == "record.receive")
        .count();
    assert_eq!(again, 0, "Morocco, which held it, takes nothing twice");
    // Morocco is removed: version 3 needs only Algeria and Tunisia.
    dz.channel_update(&OP, &ch, vec![], vec![ma.id().into()])
        .unwrap();
    pump(&all);
    // Proposed only: version 2 is still in force at Morocco.
    let at_ma = ma
        .channel_list(&OP)
        .unwrap()
        .into_iter()
        .find(|c| c.id == ch)
        .unwrap();
    assert_eq!(
        (at_ma.status.as_str(), at_ma.version, at_ma.pending_version),
        ("active", 2, Some(3))
    );
    tn.channel_accept(&OP, &ch).unwrap();
    pump(&all);
    // Every member that stays signed: Morocco sees itself removed and can
    // no longer place anything in the channel.
    let at_ma = ma
        .channel_list(&OP)
        .unwrap()
        .into_iter()
        .find(|c| c.id == ch)
        .unwrap();
    assert_eq!(
        (at_ma.status.as_str(), at_ma.version),
        ("removed", 3),
        "{at_ma:?}"
    );
    let e = ma
        .record_add(&OP, person(&ch, "After Removal"))
        .unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(ma.audit_verify(&OP).unwrap().ok);
    let c = dz
        .channel_list(&OP)
        .unwrap()
        .into_iter()
        .find(|c| c.id == ch)
        .unwrap();
    assert_eq!((c.version, c.members.len()), (3, 2));
    let after = dz
        .record_add(&OP, person(&ch, "After Morocco Left"))
        .unwrap();
    pump(&all);
    assert!(tn.record_get(&OP, &after).is_ok());
    assert!(
        ma.record_get(&OP, &after).is_err(),
        "a removed member receives nothing new"
    );
}

/// The log lines written while `f` runs (the node's tracing output).
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let out = buf.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .finish();
    let v = tracing::subscriber::with_default(sub, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (v, text)
}

/// The batch `from` has queued for `to` (other transmits dropped).
fn batch_for(from: &Node, to: &Node) -> (u64, Vec<tansiq_sync::Item>) {
    from.federation
        .take_outgoing()
        .into_iter()
        .find_map(|t| match t.message {
            tansiq_sync::Message::Batch { batch, items } if t.to.as_str() == to.id() => {
                Some((batch, items))
            }
            _ => None,
        })
        .expect("a batch for the peer")
}

/// What `dest` answers to `from`'s message `bytes`: the status of each item.
fn answer(dest: &Node, from: &Node, bytes: &[u8]) -> Vec<tansiq_sync::Status> {
    let ack = dest.take_in_peer_message(from.id(), bytes, true).unwrap();
    match ack.map(|b| tansiq_sync::Message::decode(&b)) {
        Some(Ok(tansiq_sync::Message::BatchAck { results, .. })) => {
            results.into_iter().map(|r| r.status).collect()
        }
        _ => Vec::new(),
    }
}

/// Everything bad input could change at a node.
fn footprint(n: &Node) -> Vec<i64> {
    let c = rusqlite::Connection::open(n.dir.join("node.db")).unwrap();
    [
        "SELECT COUNT(*) FROM records",
        "SELECT COUNT(*) FROM record_versions",
        "SELECT COUNT(*) FROM sync_envelope",
        "SELECT COUNT(*) FROM sync_stream",
        "SELECT COUNT(*) FROM messages",
        "SELECT COUNT(*) FROM channels",
        "SELECT COUNT(*) FROM sync_alarm",
    ]
    .iter()
    .map(|q| c.query_row(q, [], |r| r.get(0)).unwrap())
    .collect()
}

/// A replayed envelope, a forged signature, a body altered on the way, a
/// truncated message, an envelope for a channel the receiver does not
/// know and one from a peer that is not a member of the channel: each is
/// refused (or, for the unknown channel, deferred), written to the node's
/// log, and changes nothing at the receiver.
#[test]
fn bad_peer_input_is_rejected_logged_and_has_no_effect() {
    use tansiq_sync::{Body, Envelope, Item, Message, Status};
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let us = node(tmp.path(), "us", "US", 7451);
    let all = [&dz, &ma, &us];
    trust(&all);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &all);
    let id = dz
        .record_add(&OP, person(&ch, "Abdelmalek Droukdel"))
        .unwrap();
    let (batch, items) = batch_for(&dz, &ma);
    let genuine = Message::Batch {
        batch,
        items: items.clone(),
    }
    .encode();
    let ack = ma.take_in_peer_message(dz.id(), &genuine, true).unwrap();
    // MA's acknowledgement back to DZ (its window to MA stays open).
    if let Some(bytes) = ack {
        dz.take_in_peer_message(ma.id(), &bytes, false).unwrap();
    }
    let _ = dz.federation.take_outgoing();
    assert!(ma.record_get(&OP, &id).is_ok());
    let before = footprint(&ma);
    let with = |e: Envelope| {
        Message::Batch {
            batch: batch + 1,
            items: vec![Item {
                to: items[0].to.clone(),
                envelope: e,
            }],
        }
        .encode()
    };

    // A replay: acknowledged as held, no second effect.
    let (st, log) = logged(|| answer(&ma, &dz, &genuine));
    assert_eq!(st, vec![Status::Stored]);
    assert_eq!(footprint(&ma), before, "replay");
    assert!(!log.contains("envelope refused"), "{log}");

    // DZ's next envelope, not yet at MA, forged on the way: US's signature
    // over its id.
    let _second = dz.record_add(&OP, person(&ch, "Hassan Hattab")).unwrap();
    let env = batch_for(&dz, &ma).1[0].envelope.clone();
    let before = footprint(&ma);
    let forged = Envelope::new(env.header().clone(), env.body().clone(), |i| {
        us.identity.sign(tansiq_sync::ENVELOPE_SIG_CONTEXT, &i.0)
    })
    .unwrap();
    let (st, log) = logged(|| answer(&ma, &dz, &with(forged)));
    assert_eq!(st, vec![Status::Refused], "forged signature");
    assert!(
        log.contains("envelope refused") && log.contains("bad originator signature"),
        "{log}"
    );
    assert_eq!(footprint(&ma), before, "forged signature");

    // A body altered on the way (the id changes; DZ's signature no longer
    // covers it).
    let Body::Sealed(b) = env.body().clone() else {
        panic!("a full envelope")
    };
    let mut altered = b.clone();
    let mid = altered.len() / 2;
    altered[mid] ^= 0x40;
    let corrupted =
        Envelope::new(env.header().clone(), Body::Sealed(altered), |_| *env.sig()).unwrap();
    let (st, log) = logged(|| answer(&ma, &dz, &with(corrupted)));
    assert_eq!(st, vec![Status::Refused], "altered body");
    assert!(log.contains("envelope refused"), "{log}");
    assert_eq!(footprint(&ma), before, "altered body");

    // A truncated message: dropped unanswered, logged.
    let (st, log) = logged(|| answer(&ma, &dz, &genuine[..genuine.len() - 7]));
    assert!(st.is_empty(), "nothing answered to a truncated message");
    assert!(log.contains("malformed message"), "{log}");
    assert_eq!(footprint(&ma), before, "truncated");

    // An envelope for a channel MA does not know (its charter never
    // reached MA): deferred, not stored.
    let unknown = dz
        .channel_create(
            &OP,
            "never told",
            vec![ma.id().into()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let _ = dz.federation.take_outgoing();
    let mut pair = vec![dz.id().to_string(), ma.id().to_string()];
    pair.sort();
    let msg = |ch: &str| Payload::Message {
        id: format!("msg_{}", ch.len()),
        channel: ch.to_string(),
        file: None,
        precedence: "routine".into(),
        text: "hello".into(),
        sent_at: "2026-11-29T10:00:00Z".into(),
        ack_required: false,
    };
    dz.send_unchecked(
        &unknown,
        // FLASH: the express lane (DZ's two normal batches to MA
        // above were never acknowledged).
        Precedence::Flash,
        pair.clone(),
        vec![],
        &msg(&unknown),
    )
    .unwrap();
    let (b, its) = batch_for(&dz, &ma);
    let (st, log) = logged(|| {
        answer(
            &ma,
            &dz,
            &Message::Batch {
                batch: b,
                items: its,
            }
            .encode(),
        )
    });
    assert_eq!(st, vec![Status::Retry], "unknown channel");
    assert!(
        log.contains("envelope deferred") && log.contains("not active here"),
        "{log}"
    );
    assert_eq!(footprint(&ma), before, "unknown channel");

    // A non-member (US, a known peer) posting into DZ-MA.
    let mut three = vec![
        dz.id().to_string(),
        ma.id().to_string(),
        us.id().to_string(),
    ];
    three.sort();
    us.send_unchecked(&ch, Precedence::Flash, three.clone(), vec![], &msg(&ch))
        .unwrap();
    let (b, its) = batch_for(&us, &ma);
    let (st, log) = logged(|| {
        answer(
            &ma,
            &us,
            &Message::Batch {
                batch: b,
                items: its,
            }
            .encode(),
        )
    });
    assert_eq!(st, vec![Status::Refused], "non-member");
    assert!(log.contains("is not a member of channel"), "{log}");
    assert_eq!(footprint(&ma), before, "non-member");
    assert!(ma.audit_verify(&OP).unwrap().ok);
}

/// A FLASH liaison message to a trilateral channel reaches both partners
/// and stays awaited, at the sender, by each partner until that one
/// acknowledges it; an acknowledgement counts once, and only the receiver
/// of a message can acknowledge it.
#[test]
fn a_message_to_two_partners_awaits_each_acknowledgement() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let tn = node(tmp.path(), "tn", "TN", 7421);
    let all = [&dz, &ma, &tn];
    trust(&all);
    let ch = form_channel(&dz, "DZ-MA-TN", &[&ma, &tn], &all);
    for n in all {
        assert_eq!(status(n, &ch), "active");
    }

    let msg = dz
        .send_message(&OP, &ch, None, "flash", "Convoy left Tamanrasset", true)
        .unwrap();
    pump(&all);
    let awaiting = |n: &Node| -> Vec<String> {
        let mut v: Vec<String> = n
            .unacked_messages()
            .unwrap()
            .into_iter()
            .filter(|u| u.id == msg)
            .flat_map(|u| u.awaiting)
            .collect();
        v.sort();
        v
    };
    let mut both = vec![ma.id().to_string(), tn.id().to_string()];
    both.sort();
    assert_eq!(awaiting(&dz), both, "both partners are awaited");
    for n in [&ma, &tn] {
        let inbox = n.inbox(&OP).unwrap();
        let m = inbox.iter().find(|m| m.id == msg).expect("delivered");
        assert_eq!(m.sender, dz.id());
        assert_eq!(m.precedence, "flash");
        assert!(m.ack_required && !m.acked);
    }

    // The sender cannot acknowledge its own message, nor can a node one it
    // never received.
    assert!(dz.ack_message(&OP, &msg).is_err());
    assert!(ma.ack_message(&OP, "msg_unknown").is_err());

    ma.ack_message(&OP, &msg).unwrap();
    pump(&all);
    assert_eq!(
        awaiting(&dz),
        vec![tn.id().to_string()],
        "only Tunisia left"
    );
    // A second acknowledgement is refused; redelivery changes nothing.
    assert!(ma.ack_message(&OP, &msg).is_err());
    pump(&all);
    assert_eq!(awaiting(&dz), vec![tn.id().to_string()]);
    assert!(ma
        .inbox(&OP)
        .unwrap()
        .iter()
        .any(|m| m.id == msg && m.acked));
    assert!(tn
        .inbox(&OP)
        .unwrap()
        .iter()
        .any(|m| m.id == msg && !m.acked));

    tn.ack_message(&OP, &msg).unwrap();
    pump(&all);
    assert!(awaiting(&dz).is_empty(), "every partner acknowledged");
    assert!(dz.unacked_messages().unwrap().iter().all(|u| u.id != msg));
}

/// A record its sender derived from another node's record: the sender's
/// own check refuses to place it where the source may not go, and a
/// receiver that holds the source refuses it from a modified sender that
/// skips that check (one that does not hold the source cannot tell).
#[test]
fn a_receiver_holding_the_source_refuses_a_derived_record_placed_too_wide() {
    use tansiq_core::record::{Link, LinkType, SignedRecord};
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    let tn = node(tmp.path(), "tn", "TN", 7421);
    let all = [&dz, &ma, &tn];
    trust(&all);
    let dzma = form_channel(&dz, "DZ-MA", &[&ma], &all);
    let tri = form_channel(&ma, "DZ-MA-TN", &[&dz, &tn], &all);
    assert_eq!(status(&dz, &tri), "active");
    let src = dz
        .record_add(&OP, person(&dzma, "Mokhtar Belmokhtar"))
        .unwrap();
    pump(&all);
    let derived_from = |ch: &str, name: &str| {
        let mut r = person(ch, name);
        r.links = vec![Link {
            rel: LinkType::DerivedFrom,
            target: src.clone(),
            from: None,
            until: None,
            note: None,
        }];
        r
    };
    // Within the source's audience, a derived record travels.
    let fine = ma
        .record_add(&OP, derived_from(&dzma, "Belmokhtar courier"))
        .unwrap();
    pump(&all);
    assert!(dz.record_get(&OP, &fine).is_ok());
    // Beyond it (Tunisia did not get the source), Morocco's node refuses …
    let e = ma
        .record_add(&OP, derived_from(&tri, "Belmokhtar financier"))
        .unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    // … and a modified Morocco that signs and sends it anyway is refused by
    // Algeria, which holds the source.
    let template = ma
        .record_add(&OP, person(&tri, "Placeholder Name"))
        .unwrap();
    let mut body = ma
        .store
        .read(|tx| tx.record(&template, &tansiq_core::policy::ReadScope::everything()))
        .unwrap()
        .unwrap()
        .signed
        .unwrap()
        .body;
    body.id = tansiq_core::ids::new_record_id(ma.id());
    body.data = json!({"names": ["Belmokhtar financier"], "nationality": ["DZ"]});
    body.links = derived_from(&tri, "").links;
    let forged = SignedRecord::sign(body.clone(), &ma.identity);
    let members = vec![
        dz.id().to_string(),
        ma.id().to_string(),
        tn.id().to_string(),
    ];
    ma.send_unchecked(
        &tri,
        Precedence::Routine,
        members.clone(),
        vec![],
        &Payload::Record {
            record: forged.clone(),
            release: None,
        },
    )
    .unwrap();
    pump(&all);
    assert!(
        dz.record_get(&OP, &body.id).is_err(),
        "Algeria must not take in the derived record"
    );
    let conn = rusqlite::Connection::open(dz.dir.join("node.db")).unwrap();
    let rejected: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE action = 'envelope.reject' AND details LIKE '%third-party rule%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rejected, 1);
    // Tunisia does not hold the source: the check is the sender's there.
    assert!(tn.record_get(&OP, &body.id).is_ok());
    for n in all {
        assert!(n.audit_verify(&OP).unwrap().ok);
    }
}

/// Delivery is not in stream order: a record's first version can reach a
/// member after its retraction (a batch delayed on the way, or fetched
/// from a member that had not heard of the retraction yet). Found by the
/// node simulation's retraction invariant (issue 17): the late version
/// was kept as a placement and its sealed copy kept its body, which the
/// member can still open. It must be purged like every other copy.
#[test]
fn a_version_arriving_after_its_retraction_is_purged_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7481);
    let ma = node(tmp.path(), "ma", "MA", 7491);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "late", &[&ma], &[&dz, &ma]);
    let id = dz
        .record_add(&OP, person(&ch, "Mokhtar Belmokhtar"))
        .unwrap();
    // The batch carrying version 1 is held back on the way.
    let late: Vec<Vec<u8>> = dz
        .federation
        .take_outgoing()
        .into_iter()
        .map(|t| t.message.encode())
        .collect();
    assert!(!late.is_empty());
    dz.record_retract(&OP, &id).unwrap();
    pump(&[&dz, &ma]);
    assert!(
        ma.store
            .read(|tx| tx.record(&id, &tansiq_core::policy::ReadScope::everything()))
            .unwrap()
            .is_some_and(|r| r.signed.is_none()),
        "Morocco holds the tombstone"
    );
    // Now version 1 arrives.
    for bytes in late {
        ma.take_in_peer_message(dz.id(), &bytes, false).unwrap();
    }
    pump(&[&dz, &ma]);
    let with_body = ma
        .store
        .read(|tx| {
            let mut k = 0;
            for e in tx.record_envelopes(&id)? {
                if tx.sync_envelope_has_body(&e)? {
                    k += 1;
                }
            }
            Ok::<_, tansiq_store::StoreError>(k)
        })
        .unwrap();
    assert!(
        with_body <= 1,
        "{with_body} sealed copies of the retracted record keep a body (the tombstone's only may)"
    );
    let hist = ma.record_history(&OP, &id).unwrap();
    assert!(hist.iter().all(|v| v.retracted || v.purged), "{hist:?}");
}
