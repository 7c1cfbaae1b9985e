//! Conformance checks of the federation engine's durable state
//! (`Tx::sync_*`, docs/SYNC.md §9). Each check works in channels and node
//! names of its own, so whole-table reads are filtered to its own rows.

use std::collections::BTreeSet;

use tansiq_store::{
    AlarmRow, DeferredRow, EnvelopeRow, HoldRow, OutboxRow, PeerLinkRow, Store, StoreError,
    StreamRow,
};

use super::uid;

fn rid() -> [u8; 32] {
    tansiq_crypto::random_bytes()
}

/// A member copy with a body of its own (`marker` in it).
pub fn envelope(channel: &str, originator: &str, seq: u64, marker: &str) -> EnvelopeRow {
    let body = format!("sealed {marker} {seq} ").repeat(8).into_bytes();
    EnvelopeRow {
        id: rid(),
        channel: channel.to_string(),
        originator: originator.to_string(),
        seq,
        custody: false,
        header: format!("{{\"channel\":\"{channel}\",\"seq\":{seq}}}").into_bytes(),
        body: Some(body),
        body_hash: rid(),
        sig: tansiq_crypto::random_bytes::<64>().to_vec(),
        precedence: "routine".into(),
        created_ms: 1_767_225_600_000 + seq as i64,
    }
}

fn stub(e: &EnvelopeRow) -> EnvelopeRow {
    EnvelopeRow {
        body: None,
        ..e.clone()
    }
}

fn custody(e: &EnvelopeRow) -> EnvelopeRow {
    EnvelopeRow {
        custody: true,
        ..e.clone()
    }
}

fn held(store: &Store, id: &[u8; 32]) -> Option<EnvelopeRow> {
    store.read(|tx| tx.sync_envelope(id)).unwrap()
}

fn put(store: &Store, e: &EnvelopeRow) {
    store.write(|tx| tx.sync_put_envelope(e)).unwrap();
}

fn range(store: &Store, ch: &str, o: &str, from: u64, limit: u64) -> Vec<u64> {
    store
        .read(|tx| tx.sync_stream_range(ch, o, from, limit))
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

fn outbox(to: &str, id: [u8; 32], precedence: &str, ord: i64) -> OutboxRow {
    OutboxRow {
        to_node: to.to_string(),
        id,
        channel: "ch".into(),
        originator: "tqorig".into(),
        seq: 1,
        precedence: precedence.into(),
        ord,
        size: 512,
        relays: Vec::new(),
        reply_to: None,
    }
}

fn outbox_of(store: &Store, nodes: &[&str]) -> Vec<OutboxRow> {
    store
        .read(|tx| tx.sync_outbox())
        .unwrap()
        .into_iter()
        .filter(|o| nodes.contains(&o.to_node.as_str()))
        .collect()
}

fn counts_of(store: &Store, nodes: &[&str]) -> Vec<(String, u64)> {
    store
        .read(|tx| tx.sync_outbox_counts())
        .unwrap()
        .into_iter()
        .filter(|(n, _)| nodes.contains(&n.as_str()))
        .collect()
}

fn streams_of(store: &Store, channel: &str) -> Vec<StreamRow> {
    store
        .read(|tx| tx.sync_streams())
        .unwrap()
        .into_iter()
        .filter(|s| s.channel == channel)
        .collect()
}

/// Upserting the same envelope again changes nothing; a body fills a stub
/// in; a stub never empties a body.
pub fn sync_envelope_upsert_idempotent(store: &Store) {
    let (ch, o) = (uid("ch"), uid("tq"));
    let e = envelope(&ch, &o, 1, "upsert");
    assert_eq!(held(store, &e.id), None);
    put(store, &e);
    put(store, &e);
    store
        .write(|tx| {
            tx.sync_put_envelope(&e)?;
            tx.sync_put_envelope(&e)
        })
        .unwrap();
    assert_eq!(held(store, &e.id), Some(e.clone()));
    assert_eq!(range(store, &ch, &o, 1, 10), vec![1], "one row per id");

    // A stub of a held envelope keeps the body.
    put(store, &stub(&e));
    assert_eq!(held(store, &e.id), Some(e.clone()));

    // A stub first, the body later: the body fills it in.
    let f = envelope(&ch, &o, 2, "later");
    put(store, &stub(&f));
    assert_eq!(held(store, &f.id).unwrap().body, None);
    put(store, &f);
    assert_eq!(held(store, &f.id), Some(f.clone()));

    // Empty and large bodies and headers round-trip exactly.
    let mut g = envelope(&ch, &o, 3, "big");
    g.body = Some((0..=255u8).cycle().take(1 << 20).collect());
    g.header = "é\u{0}ٱ".repeat(1000).into_bytes();
    g.sig = Vec::new();
    put(store, &g);
    assert_eq!(held(store, &g.id), Some(g.clone()));
    let mut h = envelope(&ch, &o, 4, "empty");
    h.body = Some(Vec::new());
    put(store, &h);
    assert_eq!(held(store, &h.id).unwrap().body, Some(Vec::new()));

    // A second member copy at a held place (a fork) is a conflict and
    // poisons its transaction.
    let fork = envelope(&ch, &o, 1, "fork");
    let r = store.write(|tx| {
        let r = tx.sync_put_envelope(&fork);
        assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
        tx.sync_put_stream(&StreamRow {
            channel: ch.clone(),
            originator: o.clone(),
            seq: 9,
            last: None,
        })
    });
    assert!(r.is_err());
    assert_eq!(held(store, &fork.id), None);
    assert!(streams_of(store, &ch).is_empty());
    assert_eq!(held(store, &e.id), Some(e.clone()));

    // A seq beyond the integer range is refused, not saturated.
    let mut huge = envelope(&ch, &o, 5, "huge");
    huge.seq = u64::MAX;
    assert!(store.write(|tx| tx.sync_put_envelope(&huge)).is_err());
    assert_eq!(held(store, &huge.id), None);
    // The largest seq the protocol allows is stored exactly.
    let mut top = envelope(&ch, &o, (1 << 53) - 1, "top");
    top.created_ms = (1 << 53) - 1;
    put(store, &top);
    assert_eq!(held(store, &top.id), Some(top.clone()));
}

/// A custody copy never replaces a member copy; a member copy replaces a
/// custody copy; forget deletes custody copies only.
pub fn sync_envelope_custody_rules(store: &Store) {
    let (ch, o) = (uid("ch"), uid("tq"));

    // Member first, then a custody copy of it: still the member copy.
    let m = envelope(&ch, &o, 1, "member");
    put(store, &m);
    put(store, &custody(&m));
    put(store, &stub(&custody(&m)));
    assert_eq!(held(store, &m.id), Some(m.clone()));
    assert_eq!(range(store, &ch, &o, 1, 10), vec![1]);
    // Forget leaves a member copy alone.
    store.write(|tx| tx.sync_forget_envelope(&m.id)).unwrap();
    assert_eq!(held(store, &m.id), Some(m.clone()));

    // Custody first: held, in no stream; then the member copy replaces it
    // (a stub member copy keeps the custody copy's body: same id, same
    // bytes).
    let c = envelope(&ch, &o, 2, "custody");
    put(store, &custody(&c));
    assert_eq!(held(store, &c.id), Some(custody(&c)));
    assert_eq!(range(store, &ch, &o, 1, 10), vec![1]);
    put(store, &custody(&c));
    assert_eq!(held(store, &c.id), Some(custody(&c)));
    put(store, &stub(&c));
    assert_eq!(held(store, &c.id), Some(c.clone()));
    assert_eq!(range(store, &ch, &o, 1, 10), vec![1, 2]);
    store.write(|tx| tx.sync_forget_envelope(&c.id)).unwrap();
    assert_eq!(held(store, &c.id), Some(c.clone()), "now a member copy");

    // Custody copies are in no stream: several may share a place (a relay
    // holds what it is given), beside a member copy too.
    let (x, y) = (
        envelope(&ch, &o, 1, "relayed-x"),
        envelope(&ch, &o, 1, "relayed-y"),
    );
    put(store, &custody(&x));
    put(store, &custody(&y));
    assert_eq!(held(store, &x.id), Some(custody(&x)));
    assert_eq!(held(store, &y.id), Some(custody(&y)));
    assert_eq!(range(store, &ch, &o, 1, 10), vec![1, 2]);
    // Forget deletes a custody copy; forgetting again, or an unknown id,
    // is a no-op.
    store
        .write(|tx| {
            tx.sync_forget_envelope(&x.id)?;
            tx.sync_forget_envelope(&x.id)?;
            tx.sync_forget_envelope(&rid())
        })
        .unwrap();
    assert_eq!(held(store, &x.id), None);
    assert_eq!(held(store, &y.id), Some(custody(&y)));
    // A custody copy cannot become a member copy at a place a member copy
    // already holds (a fork): conflict, the custody copy stays.
    let r = store.write(|tx| tx.sync_put_envelope(&y));
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(held(store, &y.id), Some(custody(&y)));
}

/// Purge drops the body for good and keeps the stub.
pub fn sync_purge_keeps_the_stub(store: &Store) {
    let (ch, o) = (uid("ch"), uid("tq"));
    let e = envelope(&ch, &o, 1, "purge");
    let other = envelope(&ch, &o, 2, "kept");
    put(store, &e);
    put(store, &other);
    store.write(|tx| tx.sync_purge_envelope(&e.id)).unwrap();
    assert_eq!(held(store, &e.id), Some(stub(&e)), "header, hash, sig kept");
    assert_eq!(held(store, &other.id), Some(other.clone()), "only that one");
    // Asked about together (with an id not held, and more than 100).
    let mut ask = vec![e.id, rid(), other.id];
    ask.extend((0..120).map(|_| rid()));
    ask.push(other.id);
    let with_body = store.read(|tx| tx.sync_envelopes_with_body(&ask)).unwrap();
    assert_eq!(
        with_body,
        std::collections::HashSet::from([other.id]),
        "only the one with its body"
    );
    let listed = store
        .read(|tx| tx.sync_stream_range(&ch, &o, 1, 10))
        .unwrap();
    assert_eq!(
        listed,
        vec![stub(&e), other.clone()],
        "the stub keeps its place"
    );

    // Purged stays purged: the full envelope again (a replayed effect, a
    // fetch reply) does not bring the body back; purging again is a no-op.
    put(store, &e);
    put(store, &custody(&e));
    store
        .write(|tx| {
            tx.sync_purge_envelope(&e.id)?;
            tx.sync_purge_envelope(&rid())
        })
        .unwrap();
    assert_eq!(held(store, &e.id), Some(stub(&e)));

    // A custody copy purged, then replaced by the member copy: no body.
    let c = envelope(&ch, &o, 3, "custody-purge");
    put(store, &custody(&c));
    store.write(|tx| tx.sync_purge_envelope(&c.id)).unwrap();
    assert_eq!(held(store, &c.id), Some(stub(&custody(&c))));
    put(store, &c);
    assert_eq!(held(store, &c.id), Some(stub(&c)));
}

/// `sync_stream_range`: member copies of one stream, from a seq, in seq
/// order, at most `limit`.
pub fn sync_stream_range_order_limit_custody(store: &Store) {
    let (ch, o, o2) = (uid("ch"), uid("tq"), uid("tq"));
    let mut stream: Vec<EnvelopeRow> = (1..=10).map(|s| envelope(&ch, &o, s, "r")).collect();
    // A stub among them.
    stream[4] = stub(&stream[4]);
    // Stored out of order, several transactions.
    for i in [7, 2, 9, 0, 4, 1, 8, 3, 6, 5] {
        put(store, &stream[i]);
    }
    // Around it: custody copies of the same stream (at new and at held
    // seqs), another originator's stream, the same originator in another
    // channel.
    for s in [3, 11, 12] {
        put(store, &custody(&envelope(&ch, &o, s, "c")));
    }
    for s in 1..=4 {
        put(store, &envelope(&ch, &o2, s, "o2"));
    }
    let ch2 = uid("ch");
    put(store, &envelope(&ch2, &o, 1, "ch2"));

    let all = store
        .read(|tx| tx.sync_stream_range(&ch, &o, 1, 100))
        .unwrap();
    assert_eq!(all, stream, "the stream, member copies only, in seq order");
    assert_eq!(range(store, &ch, &o, 0, 100), (1..=10).collect::<Vec<_>>());
    assert_eq!(range(store, &ch, &o, 4, 3), vec![4, 5, 6]);
    assert_eq!(range(store, &ch, &o, 9, 3), vec![9, 10]);
    assert_eq!(range(store, &ch, &o, 1, 1), vec![1]);
    assert!(range(store, &ch, &o, 1, 0).is_empty());
    assert!(range(store, &ch, &o, 11, 10).is_empty(), "custody filtered");
    assert!(range(store, &ch, &o, u64::MAX, u64::MAX).is_empty());
    assert_eq!(range(store, &ch, &o, 1, u64::MAX).len(), 10);
    assert_eq!(range(store, &ch, &o2, 1, 100), vec![1, 2, 3, 4]);
    assert_eq!(range(store, &ch2, &o, 1, 100), vec![1]);
    assert!(range(store, &uid("ch"), &o, 1, 100).is_empty());
}

pub fn sync_streams_upsert(store: &Store) {
    let ch = uid("ch");
    let (a, b) = (format!("B{}", uid("tq")), format!("a{}", uid("tq")));
    let last = rid();
    store
        .write(|tx| {
            tx.sync_put_stream(&StreamRow {
                channel: ch.clone(),
                originator: b.clone(),
                seq: 0,
                last: None,
            })?;
            tx.sync_put_stream(&StreamRow {
                channel: ch.clone(),
                originator: a.clone(),
                seq: 1,
                last: Some(rid()),
            })
        })
        .unwrap();
    let newer = StreamRow {
        channel: ch.clone(),
        originator: a.clone(),
        seq: (1 << 53) - 1,
        last: Some(last),
    };
    store.write(|tx| tx.sync_put_stream(&newer)).unwrap();
    store.write(|tx| tx.sync_put_stream(&newer)).unwrap();
    let got = streams_of(store, &ch);
    assert_eq!(got.len(), 2, "one row per stream");
    assert_eq!(got[0], newer, "upserted; ordered bytewise (B < a)");
    assert_eq!((got[1].seq, got[1].last), (0, None));
}

/// Outbox rows: upsert, done, the queue order, claims and counts.
pub fn sync_outbox_put_done_claim_counts(store: &Store) {
    let (a, b, c) = (uid("tqA"), uid("tqB"), uid("tqC"));
    let ids: Vec<[u8; 32]> = (0..8).map(|_| rid()).collect();
    let mut rows = vec![
        outbox(&a, ids[0], "routine", 1),
        outbox(&a, ids[1], "routine", 2),
        outbox(&a, ids[2], "flash", 10),
        outbox(&a, ids[3], "immediate", 5),
        outbox(&a, ids[4], "priority", 7),
        outbox(&a, ids[5], "routine", 3),
        outbox(&b, ids[0], "routine", 1),
        outbox(&b, ids[6], "flash", 2),
    ];
    rows[1].relays = vec!["tqrelay1".into(), "tqrelay2".into()];
    rows[1].reply_to = Some("tqsender".into());
    rows[1].seq = (1 << 53) - 1;
    rows[1].size = 12 << 20;
    store
        .write(|tx| {
            for r in &rows {
                tx.sync_put_outbox(r)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let order_a =
        |store: &Store| -> Vec<[u8; 32]> { outbox_of(store, &[&a]).iter().map(|o| o.id).collect() };
    // flash, immediate, priority, then routine FIFO.
    assert_eq!(
        order_a(store),
        vec![ids[2], ids[3], ids[4], ids[0], ids[1], ids[5]]
    );
    let listed = outbox_of(store, &[&a, &b]);
    assert_eq!(listed.len(), 8);
    assert!(listed.contains(&rows[1]), "every field round-trips");
    assert_eq!(
        listed[6..],
        [rows[7].clone(), rows[6].clone()],
        "by recipient"
    );
    assert_eq!(
        counts_of(store, &[&a, &b, &c]),
        vec![(a.clone(), 6), (b.clone(), 2)]
    );

    // Upsert by (to, id): re-queued as FLASH at the back of the FLASH
    // queue; the same row twice changes nothing.
    let mut up = rows[5].clone();
    up.precedence = "flash".into();
    up.ord = 11;
    store
        .write(|tx| {
            tx.sync_put_outbox(&up)?;
            tx.sync_put_outbox(&up)
        })
        .unwrap();
    assert_eq!(
        order_a(store),
        vec![ids[2], ids[5], ids[3], ids[4], ids[0], ids[1]]
    );
    assert_eq!(counts_of(store, &[&a])[0].1, 6);
    // An unknown precedence queues after ROUTINE.
    store
        .write(|tx| tx.sync_put_outbox(&outbox(&a, ids[7], "bulk", 0)))
        .unwrap();
    assert_eq!(order_a(store).last(), Some(&ids[7]));

    // Claims: most urgent first, at most `limit`, for that recipient only.
    let claim = |to: &str, n: u64| -> Vec<[u8; 32]> {
        store
            .write(|tx| tx.sync_claim_outbox(to, n))
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(claim(&a, 3), vec![ids[2], ids[5], ids[3]]);
    assert_eq!(claim(&a, 100), order_a(store));
    assert_eq!(claim(&b, 100), vec![ids[6], ids[0]]);
    assert!(claim(&a, 0).is_empty());
    assert!(claim(&c, 10).is_empty());
    let full = store.write(|tx| tx.sync_claim_outbox(&a, 2)).unwrap();
    assert_eq!(full[1], up, "claimed rows are whole rows");
    // Claiming is for delivery workers, in write transactions.
    let r = store.read(|tx| tx.sync_claim_outbox(&a, 10));
    assert!(r.is_err(), "a claim in a read transaction: {r:?}");
    // A claim takes nothing away: the rows stay until done.
    assert_eq!(order_a(store).len(), 7);

    // Done deletes (to, id) only; again, or unknown, is a no-op.
    store
        .write(|tx| {
            tx.sync_outbox_done(&a, &ids[0])?;
            tx.sync_outbox_done(&a, &ids[0])?;
            tx.sync_outbox_done(&c, &ids[0])?;
            tx.sync_outbox_done(&a, &rid())
        })
        .unwrap();
    assert!(!order_a(store).contains(&ids[0]));
    assert!(outbox_of(store, &[&b]).iter().any(|o| o.id == ids[0]));
    assert_eq!(
        counts_of(store, &[&a, &b, &c]),
        vec![(a.clone(), 6), (b.clone(), 2)]
    );
    store
        .write(|tx| {
            tx.sync_outbox_done(&b, &ids[0])?;
            tx.sync_outbox_done(&b, &ids[6])
        })
        .unwrap();
    assert_eq!(counts_of(store, &[&a, &b]), vec![(a.clone(), 6)]);
    assert!(claim(&b, 10).is_empty());

    // Out-of-range integers are refused, not saturated.
    let mut huge = outbox(&c, rid(), "routine", 1);
    huge.size = u64::MAX;
    assert!(store.write(|tx| tx.sync_put_outbox(&huge)).is_err());
    assert!(counts_of(store, &[&c]).is_empty());
}

/// Alarms are evidence: appended, never changed.
/// Leases of delivery workers: rows queued by a worker are claimed by it,
/// a re-put keeps the claim, free and expired rows are claimed (most
/// urgent first, each by one worker), live claims are not; renewal and
/// release; claims need a write transaction.
pub fn sync_outbox_leases(store: &Store) {
    let (to, w1, w2, w3) = (uid("tq"), uid("w1-"), uid("w2-"), uid("w3-"));
    let now = 1_000_000_i64;
    let ids: Vec<[u8; 32]> = (0..5).map(|_| rid()).collect();
    store
        .write_unlocked(|tx| {
            // Two rows of w1 (live), two free, one of w2 (expired).
            tx.sync_put_outbox_claimed(&outbox(&to, ids[0], "routine", 1), Some((&w1, now + 10)))?;
            tx.sync_put_outbox_claimed(&outbox(&to, ids[1], "flash", 2), Some((&w1, now + 10)))?;
            tx.sync_put_outbox(&outbox(&to, ids[2], "routine", 3))?;
            tx.sync_put_outbox_claimed(&outbox(&to, ids[3], "immediate", 4), None)?;
            tx.sync_put_outbox_claimed(&outbox(&to, ids[4], "routine", 5), Some((&w2, now - 1)))
        })
        .unwrap();
    let mine = |w: &str| -> Vec<[u8; 32]> {
        store
            .read(|tx| tx.sync_outbox_claimed_by(w))
            .unwrap()
            .iter()
            .filter(|o| o.to_node == to)
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(mine(&w1), vec![ids[1], ids[0]], "queue order");
    // Queued again (a replayed effect) by another worker: w1 keeps it.
    store
        .write(|tx| {
            tx.sync_put_outbox_claimed(&outbox(&to, ids[0], "routine", 1), Some((&w3, now + 99)))
        })
        .unwrap();
    assert_eq!(mine(&w1), vec![ids[1], ids[0]]);
    assert!(mine(&w3).is_empty());
    // Other checks' free rows share the table: look at this check's only.
    let claim = |w: &str, at: i64| -> Vec<[u8; 32]> {
        store
            .write_unlocked(|tx| tx.sync_claim_free(w, at + 5_000, at, 10_000))
            .unwrap()
            .into_iter()
            .filter(|o| o.to_node == to)
            .map(|o| o.id)
            .collect()
    };
    let got = claim(&w3, now);
    assert_eq!(
        got,
        vec![ids[3], ids[2], ids[4]],
        "free and expired, most urgent first"
    );
    assert!(claim(&w2, now).is_empty(), "each row to one worker");
    assert_eq!(mine(&w3), vec![ids[3], ids[2], ids[4]]);
    assert!(mine(&w2).is_empty(), "an expired claim is taken over");
    // w1 renews before its lease lapses; at `now + 20` nothing is free.
    assert_eq!(
        store
            .write_unlocked(|tx| tx.sync_renew_claims(&w1, now + 10_000))
            .unwrap(),
        2
    );
    assert!(claim(&w2, now + 20).is_empty());
    // Unrenewed, w3's lapse at now + 5000.
    assert_eq!(claim(&w2, now + 5_001), vec![ids[3], ids[2], ids[4]]);
    // A worker shutting down frees its rows at once.
    assert_eq!(
        store
            .write_unlocked(|tx| tx.sync_release_claims(&w1))
            .unwrap(),
        2
    );
    assert!(mine(&w1).is_empty());
    assert_eq!(claim(&w3, now), vec![ids[1], ids[0]]);
    let claims = store.read(|tx| tx.sync_outbox_claims()).unwrap();
    for (w, n) in [(&w2, 3), (&w3, 2)] {
        assert!(
            claims
                .iter()
                .any(|(c, k)| c.as_deref() == Some(w.as_str()) && *k >= n),
            "{claims:?}"
        );
    }
    assert!(!claims
        .iter()
        .any(|(c, _)| c.as_deref() == Some(w1.as_str())));
    // A claim is a write.
    assert!(store
        .read(|tx| tx.sync_claim_free(&w1, now, now, 10))
        .is_err());
    // Done removes a claimed row like any other.
    store
        .write(|tx| {
            for id in &ids {
                tx.sync_outbox_done(&to, id)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert!(mine(&w2).is_empty() && mine(&w3).is_empty());
}

/// Restore holds (set once, cleared once) and deferred payloads (kept in
/// the order made, deleted by id), migration 13.
pub fn sync_holds_and_deferred(store: &Store) {
    let (ch, other) = (uid("ch"), uid("ch"));
    let (p, q) = (uid("tq"), uid("tq"));
    let hold = |c: &str, partner: &str, since: &str| HoldRow {
        channel: c.to_string(),
        partner: partner.to_string(),
        since: since.to_string(),
    };
    store
        .write(|tx| {
            tx.sync_put_hold(&hold(&ch, &p, "2026-01-01T00:00:00Z"))?;
            tx.sync_put_hold(&hold(&ch, &q, "2026-01-01T00:00:00Z"))?;
            tx.sync_put_hold(&hold(&other, &p, "2026-01-01T00:00:00Z"))?;
            // Set again: the first `since` stays.
            tx.sync_put_hold(&hold(&ch, &p, "2026-02-01T00:00:00Z"))
        })
        .unwrap();
    let mine = |store: &Store| -> Vec<HoldRow> {
        store
            .read(|tx| tx.sync_holds())
            .unwrap()
            .into_iter()
            .filter(|h| h.channel == ch || h.channel == other)
            .collect()
    };
    let got = mine(store);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got.contains(&hold(&ch, &p, "2026-01-01T00:00:00Z")));
    assert!(store.write(|tx| tx.sync_hold_done(&ch, &p)).unwrap());
    assert!(
        !store.write(|tx| tx.sync_hold_done(&ch, &p)).unwrap(),
        "already cleared"
    );
    let got = mine(store);
    assert_eq!(got.len(), 2);
    assert!(!got.iter().any(|h| h.channel == ch && h.partner == p));

    let row = |payload: &str| DeferredRow {
        id: 0,
        channel: ch.clone(),
        kind: "record".into(),
        precedence: "routine".into(),
        recipients: vec![p.clone(), q.clone()],
        relays: vec![],
        payload: payload.into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    let (a, b) = store
        .write(|tx| {
            Ok::<_, StoreError>((
                tx.sync_defer(&row("{\"n\":1}"))?,
                tx.sync_defer(&row("{\"n\":2}"))?,
            ))
        })
        .unwrap();
    assert!(b > a, "order numbers grow");
    let got = store.read(|tx| tx.sync_deferred(Some(&ch))).unwrap();
    assert_eq!(
        got.iter().map(|d| d.payload.as_str()).collect::<Vec<_>>(),
        ["{\"n\":1}", "{\"n\":2}"]
    );
    assert_eq!(got[0].recipients, [p.clone(), q.clone()]);
    assert!(store
        .read(|tx| tx.sync_deferred(Some(&other)))
        .unwrap()
        .is_empty());
    store.write(|tx| tx.sync_deferred_done(a)).unwrap();
    store.write(|tx| tx.sync_deferred_done(a)).unwrap();
    let got = store.read(|tx| tx.sync_deferred(None)).unwrap();
    assert!(got.iter().all(|d| d.id != a) && got.iter().any(|d| d.id == b));
}

pub fn sync_alarms_append_only(store: &Store) {
    let tag = uid("alarm");
    let mk = |n: u32, at: &str, detail: &str| AlarmRow {
        id: format!("{tag}-{n}"),
        kind: if n == 1 { "fork" } else { "refused" }.into(),
        detail: detail.into(),
        created_at: at.into(),
    };
    let first = mk(
        1,
        "2026-01-02T00:00:00Z",
        r#"{"held":"x","conflicting":"y"}"#,
    );
    let second = mk(2, "2026-01-01T00:00:00Z", r#"{"peer":"tq","reason":"bad"}"#);
    store
        .write(|tx| {
            tx.sync_add_alarm(&first)?;
            tx.sync_add_alarm(&second)
        })
        .unwrap();
    // The same id again (a re-applied effect, or anything else) changes
    // nothing.
    store
        .write(|tx| tx.sync_add_alarm(&mk(1, "2026-02-01T00:00:00Z", r#"{"other":1}"#)))
        .unwrap();
    store.write(|tx| tx.sync_add_alarm(&first)).unwrap();
    let mine: Vec<AlarmRow> = store
        .read(|tx| tx.sync_alarms())
        .unwrap()
        .into_iter()
        .filter(|a| a.id.starts_with(&tag))
        .collect();
    assert_eq!(mine, vec![second, first], "oldest first, unchanged");
}

pub fn sync_peer_links(store: &Store) {
    let (p, q) = (uid("tqQ"), uid("tqP"));
    let mut l = PeerLinkRow {
        peer: p.clone(),
        last_delivery: Some("2026-01-01T00:00:00Z".into()),
        last_error: None,
        updated_at: Some("2026-01-01T00:00:00Z".into()),
    };
    let m = PeerLinkRow {
        peer: q.clone(),
        last_delivery: None,
        last_error: Some("connection refused".into()),
        updated_at: None,
    };
    store
        .write(|tx| {
            tx.sync_put_link(&l)?;
            tx.sync_put_link(&m)
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.sync_link(&p)).unwrap(), Some(l.clone()));
    l.last_error = Some("timeout".into());
    l.updated_at = Some("2026-01-02T00:00:00Z".into());
    store.write(|tx| tx.sync_put_link(&l)).unwrap();
    let mine: Vec<PeerLinkRow> = store
        .read(|tx| tx.sync_links())
        .unwrap()
        .into_iter()
        .filter(|x| x.peer == p || x.peer == q)
        .collect();
    assert_eq!(mine, vec![m, l], "replaced whole; by peer (P < Q)");
    assert_eq!(store.read(|tx| tx.sync_link(&uid("none"))).unwrap(), None);
}

/// A transaction that fails — by returning an error, or by a statement
/// failing after which the caller goes on — keeps none of its sync
/// changes: no new rows, and deletes, purges and upserts undone.
pub fn sync_failed_transaction_leaves_nothing(store: &Store) {
    let (ch, o, to) = (uid("ch"), uid("tq"), uid("tqTo"));
    let tag = uid("alarm");
    // What is there before.
    let kept = envelope(&ch, &o, 1, "kept");
    let relayed = custody(&envelope(&ch, &o, 5, "relayed"));
    let queued = outbox(&to, kept.id, "routine", 1);
    let stream = StreamRow {
        channel: ch.clone(),
        originator: o.clone(),
        seq: 1,
        last: Some(kept.id),
    };
    let link = PeerLinkRow {
        peer: to.clone(),
        last_delivery: None,
        last_error: None,
        updated_at: None,
    };
    store
        .write(|tx| {
            tx.sync_put_envelope(&kept)?;
            tx.sync_put_envelope(&relayed)?;
            tx.sync_put_outbox(&queued)?;
            tx.sync_put_stream(&stream)?;
            tx.sync_put_link(&link)
        })
        .unwrap();
    let snapshot = |store: &Store| {
        let alarms: BTreeSet<String> = store
            .read(|tx| tx.sync_alarms())
            .unwrap()
            .into_iter()
            .filter(|a| a.id.starts_with(&tag))
            .map(|a| a.id)
            .collect();
        (
            store
                .read(|tx| tx.sync_stream_range(&ch, &o, 0, 100))
                .unwrap(),
            held(store, &relayed.id),
            outbox_of(store, &[&to]),
            streams_of(store, &ch),
            alarms,
            store.read(|tx| tx.sync_link(&to)).unwrap(),
        )
    };
    let before = snapshot(store);

    let new = envelope(&ch, &o, 2, "new");
    let changes = |tx: &mut tansiq_store::Tx| -> Result<(), StoreError> {
        tx.sync_put_envelope(&new)?;
        tx.sync_put_envelope(&custody(&envelope(&ch, &o, 9, "c")))?;
        tx.sync_purge_envelope(&kept.id)?;
        tx.sync_forget_envelope(&relayed.id)?;
        tx.sync_outbox_done(&to, &kept.id)?;
        tx.sync_put_outbox(&outbox(&to, new.id, "flash", 2))?;
        tx.sync_put_stream(&StreamRow {
            seq: 2,
            last: Some(new.id),
            ..stream.clone()
        })?;
        tx.sync_put_stream(&StreamRow {
            channel: ch.clone(),
            originator: uid("tq"),
            seq: 1,
            last: None,
        })?;
        tx.sync_add_alarm(&AlarmRow {
            id: format!("{tag}-1"),
            kind: "fork".into(),
            detail: "{}".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
        })?;
        tx.sync_put_link(&PeerLinkRow {
            last_error: Some("down".into()),
            ..link.clone()
        })?;
        assert_eq!(
            tx.sync_stream_range(&ch, &o, 0, 10)?.len(),
            2,
            "seen inside"
        );
        Ok(())
    };

    // 1. The closure returns an error after its changes.
    let r: Result<(), StoreError> = store.write(|tx| {
        changes(tx)?;
        Err(StoreError::Busy)
    });
    assert!(r.is_err());
    assert_eq!(snapshot(store), before, "an error rolls everything back");

    // 2. A statement fails (a fork), the caller swallows it and commits.
    let r = store.write(|tx| {
        changes(tx)?;
        let fork = tx.sync_put_envelope(&envelope(&ch, &o, 1, "fork"));
        assert!(matches!(fork, Err(StoreError::Conflict(_))), "{fork:?}");
        assert!(tx.sync_outbox_done(&to, &new.id).is_err(), "poisoned");
        Ok::<_, StoreError>(())
    });
    assert!(r.is_err(), "the commit of a poisoned transaction fails");
    assert_eq!(
        snapshot(store),
        before,
        "a poisoned transaction keeps nothing"
    );

    // 3. A panic in the middle.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.write(|tx| {
            changes(tx)?;
            panic!("deliberate panic: the check expects its transaction rolled back");
            #[allow(unreachable_code)]
            Ok::<_, StoreError>(())
        })
    }));
    assert!(r.is_err());
    assert_eq!(snapshot(store), before, "a panic rolls everything back");

    // And the same changes commit when nothing fails.
    store.write(changes).unwrap();
    let after = snapshot(store);
    assert_eq!(after.0.len(), 2);
    assert_eq!(after.0[0].body, None, "purged");
    assert_eq!(after.1, None, "forgotten");
    assert_eq!(after.2.len(), 1);
    assert_eq!(after.4.len(), 1);
}
