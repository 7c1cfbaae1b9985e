//! Tamper sweeps (issue 17): every byte of a small offline bundle and of
//! a signed audit checkpoint flipped in turn — not hand-picked positions.
//! Each altered bundle is refused (exit 2) and changes nothing at the
//! importer; each altered checkpoint fails verification.

mod common;

use common::{form_channel, node, person, trust, OP};
use tansiq_node::Node;
use tansiq_store::RecordFilter;

/// What an import could change at `n`: its audit head and checkpoints,
/// its records and its sync state (streams, outbox).
fn footprint(n: &Node) -> (u64, usize, usize, usize, usize) {
    let (size, _) = n.store.read(|tx| tx.audit_head()).unwrap();
    let cps = n.store.read(|tx| tx.checkpoints()).unwrap().len();
    let records = n.record_list(&OP, &RecordFilter::default()).unwrap().len();
    let streams = n.store.read(|tx| tx.sync_streams()).unwrap().len();
    let outbox = n.store.read(|tx| tx.sync_outbox()).unwrap().len();
    (size, cps, records, streams, outbox)
}

#[test]
fn every_byte_of_a_bundle_flipped_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let ma = node(tmp.path(), "ma", "MA", 7411);
    trust(&[&dz, &ma]);
    let ch = form_channel(&dz, "DZ-MA", &[&ma], &[&dz, &ma]);
    let id = dz.record_add(&OP, person(&ch, "Courier")).unwrap();
    let _ = dz.federation.take_outgoing();
    let (bytes, n) = dz.bundle_export(&OP, ma.id()).unwrap();
    assert_eq!(n, 1);
    // record_list is an audited read: the footprint is taken before and
    // after the sweep only, and compared with itself.
    let before = footprint(&ma);
    let mut accepted = Vec::new();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x01;
        match ma.bundle_import(&OP, &bad) {
            Err(e) => assert_eq!(e.exit_code(), 2, "byte {i}: {e}"),
            Ok(k) => accepted.push((i, k)),
        }
    }
    assert!(
        accepted.is_empty(),
        "{} of {} flipped bytes imported: {accepted:?}",
        accepted.len(),
        bytes.len()
    );
    let after = footprint(&ma);
    // Only the footprint's own audited read is new.
    assert_eq!(
        (after.1, after.2, after.3, after.4),
        (before.1, before.2, before.3, before.4)
    );
    assert_eq!(
        after.0,
        before.0 + 1,
        "one audit entry: the footprint's own read"
    );
    eprintln!("{} bytes flipped one at a time: all refused", bytes.len());
    // The intact bundle still imports.
    assert_eq!(ma.bundle_import(&OP, &bytes).unwrap(), 1);
    assert!(ma.record_get(&OP, &id).is_ok());
}

#[test]
fn every_byte_of_a_checkpoint_flipped_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ", 7401);
    let note = dz
        .store
        .read(|tx| tx.checkpoints())
        .unwrap()
        .pop()
        .expect("a checkpoint")
        .note;
    let key = dz.card().signing_key().unwrap();
    let name = format!("tansiq/{}", dz.id());
    let good = tansiq_crypto::checkpoint::verify(&note, &name, &key).unwrap();
    let bytes = note.as_bytes();
    let mut passed = Vec::new();
    for i in 0..bytes.len() {
        let mut bad = bytes.to_vec();
        bad[i] ^= 0x01;
        let Ok(text) = String::from_utf8(bad) else {
            continue; // not a string: a note cannot even be read
        };
        if let Ok(cp) = tansiq_crypto::checkpoint::verify(&text, &name, &key) {
            passed.push((i, cp == good));
        }
    }
    assert!(
        passed.is_empty(),
        "flipped bytes that still verify: {passed:?}"
    );
    eprintln!("{} bytes flipped one at a time: all refused", bytes.len());
}
