//! Targeted scenarios: each drives engines through one behaviour the
//! random simulation covers only by chance.

mod common;

use common::*;
use tansiq_sync::*;

const T0: Millis = 1_000_000;

fn cfg() -> Config {
    Config {
        ack_timeout: 2_000,
        backoff_base: 200,
        backoff_cap: 2_000,
        down_after: 5_000,
        receipt_timeout: 10_000,
        summary_interval: 15_000,
        gap_delay: 500,
        fetch_timeout: 2_000,
        ..Config::default()
    }
}

fn dir() -> Directory {
    let mut d = Directory::default();
    d.add("dz-ma", &["dz", "ma"], &["tn"]);
    d.add("tri", &["dz", "ma", "us"], &["fr"]);
    d
}

/// A single engine with its disk, driven by hand.
struct Solo {
    me: NodeId,
    disk: Disk,
    dir: Directory,
    engine: Engine,
    now: Millis,
}

impl Solo {
    fn new(me: &str) -> Solo {
        let me = nid(me);
        Solo {
            engine: Engine::new(me.clone(), cfg(), 1, T0),
            me,
            disk: Disk::default(),
            dir: dir(),
            now: T0,
        }
    }
    fn view(&self) -> View<'_> {
        View {
            now: self.now,
            me: &self.me,
            disk: &self.disk,
            dir: &self.dir,
        }
    }
    fn apply(&mut self, out: &Output) {
        for e in &out.effects {
            self.disk.apply(e, self.now);
        }
    }
    fn make(&self, ch: &str, prec: Precedence, body: &[u8]) -> Envelope {
        let def = &self.dir.channels[&cid(ch)];
        let h = self
            .engine
            .prepare(
                &cid(ch),
                Kind::new(Kind::RECORD).unwrap(),
                prec,
                def.members_at(self.now),
                def.relays.clone(),
                self.now,
            )
            .unwrap();
        let me = self.me.clone();
        Envelope::new(h, Body::Sealed(body.to_vec()), |id| sim_sig(&me, id)).unwrap()
    }
    fn submit(&mut self, ch: &str, prec: Precedence, body: &[u8]) -> (EnvelopeId, Output) {
        let env = self.make(ch, prec, body);
        let id = env.id();
        let view = View {
            now: self.now,
            me: &self.me,
            disk: &self.disk,
            dir: &self.dir,
        };
        let out = self.engine.submit(env, self.now, &view).unwrap();
        self.apply(&out);
        (id, out)
    }
    /// Runs one engine call with this node's host view and applies it.
    fn call(&mut self, f: impl FnOnce(&mut Engine, &View, Millis) -> Output) -> Output {
        let view = View {
            now: self.now,
            me: &self.me,
            disk: &self.disk,
            dir: &self.dir,
        };
        let out = f(&mut self.engine, &view, self.now);
        self.apply(&out);
        out
    }
    fn handle(&mut self, from: &str, msg: Message) -> Output {
        let view = View {
            now: self.now,
            me: &self.me,
            disk: &self.disk,
            dir: &self.dir,
        };
        let out = self.engine.handle_message(&nid(from), msg, self.now, &view);
        self.apply(&out);
        out
    }
}

fn batches(out: &Output) -> Vec<(&NodeId, u64, &Vec<Item>)> {
    out.transmits
        .iter()
        .filter_map(|t| match &t.message {
            Message::Batch { batch, items } => Some((&t.to, *batch, items)),
            _ => None,
        })
        .collect()
}

#[test]
fn flash_goes_in_the_very_next_batch_behind_a_100k_routine_backlog() {
    let mut dz = Solo::new("dz");
    let body = [7u8; 64];
    let mut sent_batches = Vec::new();
    // 100,000 in release builds; 25,000 in debug builds to keep CI quick
    // (the queue is ordered by precedence, so the size does not change the
    // outcome). TANSIQ_FLASH_BACKLOG overrides.
    let default = if cfg!(debug_assertions) {
        25_000
    } else {
        100_000
    };
    let n: usize = std::env::var("TANSIQ_FLASH_BACKLOG")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    for _ in 0..n {
        let (_, out) = dz.submit("dz-ma", Precedence::Routine, &body);
        sent_batches.extend(
            batches(&out)
                .into_iter()
                .map(|(_, b, items)| (b, items.len())),
        );
    }
    // The normal window (2 batches) is full of ROUTINE; the backlog waits.
    assert_eq!(sent_batches.len(), 2, "{sent_batches:?}");
    let st = dz.engine.status(dz.now);
    let ma = st.iter().find(|p| p.peer == nid("ma")).unwrap();
    assert_eq!(ma.queued + ma.in_flight, n);

    // FLASH: sent at once in the express lane, alone at the head.
    let (flash, out) = dz.submit("dz-ma", Precedence::Flash, b"attack");
    let b = batches(&out);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].0, &nid("ma"));
    assert_eq!(b[0].2[0].envelope.id(), flash);

    // With the express lane busy too, the next FLASH leads the next batch
    // the moment any batch is acknowledged.
    let (flash2, out) = dz.submit("dz-ma", Precedence::Flash, b"second");
    assert!(batches(&out).is_empty());
    let (first_batch, first_items) = sent_batches[0];
    assert_eq!(first_items, 1);
    let _ = first_batch;
    // Acknowledge the first ROUTINE batch (ids from the durable outbox).
    let ack_items: Vec<ItemResult> = Vec::new();
    let out = dz.handle(
        "ma",
        Message::BatchAck {
            batch: sent_batches[0].0,
            results: ack_items,
        },
    );
    let b = batches(&out);
    assert!(!b.is_empty());
    assert_eq!(
        b[0].2[0].envelope.id(),
        flash2,
        "FLASH leads the next batch"
    );
    assert!(
        b[0].2.len() > 1,
        "and the batch fills up with ROUTINE behind it"
    );
}

#[test]
fn fork_is_kept_as_evidence_and_not_delivered() {
    let mut ma = Solo::new("ma");
    let dz = Solo::new("dz");
    let a = dz.make("dz-ma", Precedence::Routine, b"version A");
    let b = dz.make("dz-ma", Precedence::Routine, b"version B"); // same seq 1
    assert_ne!(a.id(), b.id());
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 1,
            items: vec![Item {
                to: nid("ma"),
                envelope: a.clone(),
            }],
        },
    );
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Deliver { .. })));
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 2,
            items: vec![Item {
                to: nid("ma"),
                envelope: b.clone(),
            }],
        },
    );
    assert!(!out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Deliver { .. })));
    assert!(out.effects.iter().any(
        |e| matches!(e, Effect::Alarm(Alarm::Fork { held, conflicting }) if held.id() == a.id() && conflicting.id() == b.id())
    ));
    let Message::BatchAck { results, .. } = &out.transmits[0].message else {
        panic!()
    };
    assert_eq!(results[0].status, Status::Refused);

    // A forged copy (bad signature) of the same slot is no evidence.
    let mut v = b.to_value();
    v["sig"] = serde_json::json!(tansiq_crypto::b64([1u8; 64]));
    let forged = Envelope::from_value(v).unwrap();
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 3,
            items: vec![Item {
                to: nid("ma"),
                envelope: forged,
            }],
        },
    );
    assert!(!out.effects.iter().any(|e| matches!(e, Effect::Alarm(_))));
}

#[test]
fn fork_detected_through_the_successors_prev() {
    let mut ma = Solo::new("ma");
    let mut dz = Solo::new("dz");
    let other = dz.make("dz-ma", Precedence::Routine, b"other seq 1");
    let (_, _) = dz.submit("dz-ma", Precedence::Routine, b"seq 1");
    let (_, _) = dz.submit("dz-ma", Precedence::Routine, b"seq 2");
    let s2 = dz
        .disk
        .envelopes
        .values()
        .find(|(e, _)| e.header().seq == 2)
        .unwrap()
        .0
        .clone();
    ma.handle(
        "dz",
        Message::Batch {
            batch: 1,
            items: vec![Item {
                to: nid("ma"),
                envelope: s2,
            }],
        },
    );
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 2,
            items: vec![Item {
                to: nid("ma"),
                envelope: other,
            }],
        },
    );
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Alarm(Alarm::Fork { .. }))));
    assert!(!out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Deliver { .. })));
}

#[test]
fn duplicates_are_acked_and_have_no_second_effect() {
    let mut ma = Solo::new("ma");
    let mut dz = Solo::new("dz");
    let (id, _) = dz.submit("dz-ma", Precedence::Routine, b"x");
    let env = dz.disk.envelopes[&id].0.clone();
    let item = Item {
        to: nid("ma"),
        envelope: env,
    };
    // Twice in one batch, then again later.
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 1,
            items: vec![item.clone(), item.clone()],
        },
    );
    let delivers = out
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Deliver { .. }))
        .count();
    assert_eq!(delivers, 1);
    let Message::BatchAck { results, .. } = &out.transmits[0].message else {
        panic!()
    };
    assert!(results.iter().all(|r| r.status == Status::Stored));
    let out = ma.handle(
        "dz",
        Message::Batch {
            batch: 2,
            items: vec![item],
        },
    );
    assert!(out.effects.is_empty(), "{:?}", out.effects);
    let Message::BatchAck { results, .. } = &out.transmits[0].message else {
        panic!()
    };
    assert_eq!(results[0].status, Status::Stored);
}

#[test]
fn relay_carries_sealed_traffic_when_the_direct_link_is_cut() {
    let mut w = World::new(
        5,
        cfg(),
        Faults::none(),
        dir(),
        &["dz", "ma", "tn", "us", "fr"],
    );
    w.run_until(T0 + 1_000);
    w.cut("dz", "ma", T0 + 3_600_000);
    let mut ids = Vec::new();
    for i in 0..40 {
        let p = if i % 10 == 0 {
            Precedence::Flash
        } else {
            Precedence::Routine
        };
        ids.push(w.submit("dz", "dz-ma", p, Kind::MESSAGE, 300).unwrap());
    }
    // Relay custody happens while the cut lasts.
    let t = w.now + 30_000;
    w.run_until(t);
    assert!(
        w.stats.get("custody_store").copied().unwrap_or(0) >= 1,
        "tn never took custody: {:?}",
        w.stats
    );
    for id in &ids {
        assert!(
            w.delivered.contains_key(&(nid("ma"), *id)),
            "not delivered through the relay"
        );
        assert!(
            !w.delivered.contains_key(&(nid("tn"), *id)),
            "the relay must not deliver"
        );
    }
    // End-to-end receipts cleared the sender's outbox while still cut, and
    // the relay forgot its custody copies.
    assert!(w.is_cut_now("dz", "ma"));
    assert_eq!(w.nodes[&nid("dz")].disk.outbox.len(), 0);
    assert_eq!(w.nodes[&nid("tn")].disk.custody_count(), 0);
    let st = w.nodes[&nid("dz")].engine.as_ref().unwrap().status(w.now);
    assert_eq!(
        st.iter().find(|p| p.peer == nid("ma")).unwrap().link,
        "down"
    );
    // Healing: the link comes back, everything converges.
    w.heal_all();
    w.quiesce(30_000, 600_000);
    w.check_converged();
}

#[test]
fn offline_bundle_roundtrip_idempotent_and_all_or_nothing() {
    let mut dz = Solo::new("dz");
    let mut ma = Solo::new("ma");
    for i in 0..30u8 {
        dz.submit("dz-ma", Precedence::Routine, &[i; 40]);
    }
    dz.submit("tri", Precedence::Flash, b"to ma and us");
    let items = dz.engine.export_bundle(&nid("ma"), usize::MAX, &dz.view());
    assert_eq!(items.len(), 31);
    assert_eq!(items[0].envelope.header().precedence, Precedence::Flash);
    let bytes = encode_bundle_items(&items);
    let items = decode_bundle_items(&bytes).unwrap();

    // Tampered: one body changed -> its id changes -> signature fails.
    let mut bad = items.clone();
    let mut v = bad[5].envelope.to_value();
    v["body"] = serde_json::json!(tansiq_crypto::b64(b"tampered"));
    bad[5].envelope = Envelope::from_value(v).unwrap();
    let view = View {
        now: ma.now,
        me: &ma.me,
        disk: &ma.disk,
        dir: &ma.dir,
    };
    let err = ma
        .engine
        .import_bundle(&nid("dz"), bad, ma.now, &view)
        .unwrap_err();
    assert_eq!(err.index, 5);
    // Addressed to another node: rejected whole.
    let foreign = dz.engine.export_bundle(&nid("us"), usize::MAX, &dz.view());
    let view = View {
        now: ma.now,
        me: &ma.me,
        disk: &ma.disk,
        dir: &ma.dir,
    };
    assert!(ma
        .engine
        .import_bundle(&nid("dz"), foreign, ma.now, &view)
        .is_err());
    assert!(ma.disk.delivered.is_empty(), "nothing applied");

    let view = View {
        now: ma.now,
        me: &ma.me,
        disk: &ma.disk,
        dir: &ma.dir,
    };
    let (out, report) = ma
        .engine
        .import_bundle(&nid("dz"), items.clone(), ma.now, &view)
        .unwrap();
    ma.apply(&out);
    assert_eq!(
        report,
        ImportReport {
            new: 31,
            duplicate: 0,
            deferred: 0
        }
    );
    assert_eq!(ma.disk.delivered.len(), 31);
    let view = View {
        now: ma.now,
        me: &ma.me,
        disk: &ma.disk,
        dir: &ma.dir,
    };
    let (out, report) = ma
        .engine
        .import_bundle(&nid("dz"), items, ma.now, &view)
        .unwrap();
    assert_eq!(
        report,
        ImportReport {
            new: 0,
            duplicate: 31,
            deferred: 0
        }
    );
    assert!(!out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Deliver { .. })));

    // ma's next summary acknowledges the bundle: dz's outbox for ma clears.
    let heads: Vec<Head> = vec![
        Head {
            channel: cid("dz-ma"),
            originator: nid("dz"),
            seq: ma.engine.stream_prefix(&cid("dz-ma"), &nid("dz")),
        },
        Head {
            channel: cid("tri"),
            originator: nid("dz"),
            seq: ma.engine.stream_prefix(&cid("tri"), &nid("dz")),
        },
    ];
    assert_eq!(heads[0].seq, 30);
    dz.handle(
        "ma",
        Message::Summary {
            heads,
            reply: false,
        },
    );
    assert!(dz.disk.outbox.keys().all(|(to, _)| *to != nid("ma")));
}

#[test]
fn purged_envelopes_travel_as_stubs_and_are_not_delivered() {
    let mut w = World::new(9, cfg(), Faults::none(), dir(), &["dz", "ma", "tn"]);
    w.run_until(T0 + 1_000);
    // Cut DZ from everyone so nothing leaves.
    w.cut("dz", "ma", T0 + 3_600_000);
    w.cut("dz", "tn", T0 + 3_600_000);
    let a = w
        .submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 100)
        .unwrap();
    let b = w
        .submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 100)
        .unwrap();
    w.run_until(T0 + 5_000);
    // Retraction: DZ purges A before it ever left.
    let n = w.nodes.get_mut(&nid("dz")).unwrap();
    let view = View {
        now: w.now,
        me: &n.id,
        disk: &n.disk,
        dir: &w.dir,
    };
    let out = n.engine.as_mut().unwrap().purge(&a, w.now, &view);
    assert!(matches!(out.effects[..], [Effect::Purge { id }] if id == a));
    w.process(&nid("dz"), out);
    w.heal_all();
    w.quiesce(20_000, 600_000);
    let ma = &w.nodes[&nid("ma")];
    assert!(
        ma.disk.envelopes[&a].0.is_stub(),
        "ma holds only the stub of A"
    );
    assert!(!w.delivered.contains_key(&(nid("ma"), a)));
    assert!(w.delivered.contains_key(&(nid("ma"), b)));
    assert_eq!(
        ma.engine
            .as_ref()
            .unwrap()
            .stream_prefix(&cid("dz-ma"), &nid("dz")),
        2
    );
    assert!(w.nodes[&nid("dz")].disk.outbox.is_empty());
}

#[test]
fn a_node_restored_from_an_old_backup_catches_up_before_sending() {
    let mut w = World::new(11, cfg(), Faults::none(), dir(), &["dz", "ma", "tn"]);
    w.allow_self_delivery = true;
    w.run_until(T0 + 1_000);
    for _ in 0..3 {
        w.submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
            .unwrap();
    }
    w.run_until(T0 + 3_000);
    let backup = w.nodes[&nid("dz")].disk.clone();
    for _ in 0..4 {
        w.submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
            .unwrap();
    }
    w.quiesce(20_000, 600_000);
    // DZ loses its disk and comes back from the backup (3 of its 7 sent).
    w.crash(&nid("dz"));
    w.nodes.get_mut(&nid("dz")).unwrap().disk = backup;
    let t = w.now;
    w.restart(&nid("dz"));
    w.run_until(t + 20);
    // Until it has fetched its own stream back, it must not send (fork).
    let n = &w.nodes[&nid("dz")];
    let e = n.engine.as_ref().unwrap();
    let r = e.prepare(
        &cid("dz-ma"),
        Kind::new("record").unwrap(),
        Precedence::Routine,
        vec![nid("ma")],
        vec![nid("tn")],
        w.now,
    );
    if let Err(err) = &r {
        assert!(matches!(err, SubmitError::StreamBehind { .. }), "{err}");
    }
    w.quiesce(20_000, 600_000);
    let e = w.nodes[&nid("dz")].engine.as_ref().unwrap();
    assert_eq!(e.stream_prefix(&cid("dz-ma"), &nid("dz")), 7);
    let id = w
        .submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
        .unwrap();
    assert_eq!(w.truth[&id].header.seq, 8);
    w.quiesce(20_000, 600_000);
    w.check_converged();
}

/// Issue 17 §1: a node restored from a backup with the restore marker
/// originates nothing on a channel until its partner there answered —
/// across crashes (engine rebuilds) and while the partner is unreachable
/// for longer than any timer — and then continues its stream where its
/// partner's copy ends: no fork.
#[test]
fn a_restore_hold_survives_rebuilds_and_clears_when_the_partner_answers() {
    let mut w = World::new(12, cfg(), Faults::none(), dir(), &["dz", "ma", "tn"]);
    w.allow_self_delivery = true;
    w.run_until(T0 + 1_000);
    for _ in 0..3 {
        w.submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
            .unwrap();
    }
    w.run_until(T0 + 3_000);
    let taken = w.now;
    let backup = w.nodes[&nid("dz")].disk.clone();
    w.nodes.get_mut(&nid("dz")).unwrap().backup = Some((taken, backup));
    for _ in 0..4 {
        w.submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
            .unwrap();
    }
    w.quiesce(20_000, 600_000);
    // DZ is restored from its backup (3 of its 7 sent) while MA is out of
    // reach, far longer than fetch_timeout.
    w.rollback(&nid("dz"));
    let holds = w.nodes[&nid("dz")].disk.holds.clone();
    assert_eq!(
        holds
            .iter()
            .map(|h| (h.channel.as_str(), h.partner.as_str()))
            .collect::<Vec<_>>(),
        [("dz-ma", "ma"), ("dz-ma", "tn"), ("tri", "ma")],
        "{holds:?}"
    );
    let cut_until = w.now + 60_000;
    let held = |w: &World| {
        let e = w.nodes[&nid("dz")].engine.as_ref().unwrap();
        e.prepare(
            &cid("dz-ma"),
            Kind::new("record").unwrap(),
            Precedence::Routine,
            vec![nid("ma")],
            vec![nid("tn")],
            w.now,
        )
    };
    w.cut("dz", "ma", cut_until);
    w.run_until(w.now + 5_000);
    for step in 0..5 {
        w.run_until(w.now + 10_000);
        assert!(w.is_up(&nid("dz")));
        match held(&w) {
            Err(SubmitError::Restored { channel, waiting }) => {
                assert_eq!(channel, "dz-ma");
                assert_eq!(waiting, ["ma"]);
                let msg = SubmitError::Restored { channel, waiting }.to_string();
                assert_eq!(
                    msg,
                    "restored from a backup: waiting for ma to confirm channel dz-ma"
                );
            }
            other => panic!("step {step}: not held: {other:?}"),
        }
        // The engine is rebuilt from the disk: the hold is durable.
        w.crash(&nid("dz"));
        let t = w.now;
        w.restart(&nid("dz"));
        w.run_until(t + 10);
    }
    assert!(w.now < cut_until);
    w.quiesce(20_000, 600_000);
    assert!(w.nodes[&nid("dz")].disk.holds.is_empty(), "MA answered");
    let e = w.nodes[&nid("dz")].engine.as_ref().unwrap();
    assert!(!e.is_held(&cid("dz-ma")));
    assert_eq!(
        e.stream_prefix(&cid("dz-ma"), &nid("dz")),
        7,
        "fetched back"
    );
    let id = w
        .submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 50)
        .unwrap();
    assert_eq!(w.truth[&id].header.seq, 8, "continues MA's copy: no fork");
    w.quiesce(20_000, 600_000);
    w.check_converged();
}

/// The operator's override: a hold released without its partner's answer
/// is cleared durably (an effect), and the node sends again.
#[test]
fn a_released_restore_hold_lets_the_node_send() {
    let mut dz = Solo::new("dz");
    dz.submit("dz-ma", Precedence::Routine, b"one");
    let snapshot = Snapshot {
        holds: vec![
            HoldRow {
                channel: cid("dz-ma"),
                partner: nid("ma"),
            },
            HoldRow {
                channel: cid("tri"),
                partner: nid("us"),
            },
        ],
        ..dz.disk.snapshot()
    };
    let view = View {
        now: dz.now,
        me: &dz.me,
        disk: &dz.disk,
        dir: &dz.dir,
    };
    let mut e = Engine::restore(nid("dz"), cfg(), 5, snapshot, dz.now, &view).unwrap();
    assert_eq!(
        e.holds(),
        vec![
            (cid("dz-ma"), vec![nid("ma")]),
            (cid("tri"), vec![nid("us")])
        ]
    );
    let out = e.poll(dz.now, &view);
    let probes: Vec<_> = out
        .transmits
        .iter()
        .filter_map(|t| match &t.message {
            Message::Fetch {
                channel,
                originator,
                from_seq,
                ..
            } => Some((t.to.clone(), channel.clone(), originator.clone(), *from_seq)),
            _ => None,
        })
        .collect();
    assert!(
        probes.contains(&(nid("ma"), cid("dz-ma"), nid("dz"), 2)),
        "{probes:?}"
    );
    assert!(
        probes.contains(&(nid("us"), cid("tri"), nid("dz"), 1)),
        "{probes:?}"
    );
    let out = e.release_hold(&cid("dz-ma"), Some(&nid("ma")), dz.now, &view);
    assert_eq!(
        out.effects,
        vec![Effect::HoldDone(HoldRow {
            channel: cid("dz-ma"),
            partner: nid("ma"),
        })]
    );
    assert!(!e.is_held(&cid("dz-ma")));
    assert!(e.is_held(&cid("tri")));
    assert!(e
        .prepare(
            &cid("dz-ma"),
            Kind::new("record").unwrap(),
            Precedence::Routine,
            vec![nid("ma")],
            vec![nid("tn")],
            dz.now,
        )
        .is_ok());
    // A fruitless answer from US (nothing of DZ's stream) clears tri.
    let out = e.handle_message(
        &nid("us"),
        Message::FetchReply {
            channel: cid("tri"),
            originator: nid("dz"),
            envelopes: vec![],
            more: false,
        },
        dz.now,
        &view,
    );
    assert!(out.effects.contains(&Effect::HoldDone(HoldRow {
        channel: cid("tri"),
        partner: nid("us"),
    })));
    assert!(e.holds().is_empty());
}

#[test]
fn sync_status_reports_links_and_queues() {
    let mut dz = Solo::new("dz");
    dz.submit("dz-ma", Precedence::Flash, b"f");
    dz.submit("dz-ma", Precedence::Routine, b"r");
    dz.submit("dz-ma", Precedence::Routine, b"r2");
    let st = dz.engine.status(dz.now);
    let ma = st.iter().find(|p| p.peer == nid("ma")).unwrap();
    assert_eq!(ma.link, "unknown");
    assert_eq!(ma.queued + ma.in_flight, 3);
    assert_eq!(ma.flash_unacked, 1);
    let json = serde_json::to_value(ma).unwrap();
    assert_eq!(json["peer"], "ma");
}

/// Two engines wired back to back (no network model): DZ submits records,
/// every transmit is handed straight to the other side. Measures the
/// engine's own cost per record (printed) and checks exactly-once and an
/// empty outbox at the end.
#[test]
fn two_nodes_pump_records_exactly_once() {
    let n: usize = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    let mut dz = Solo::new("dz");
    let mut ma = Solo::new("ma");
    let started = std::time::Instant::now();
    let mut pending: Vec<(NodeId, Transmit)> = Vec::new();
    for i in 0..n {
        let (_, out) = dz.submit("dz-ma", Precedence::Routine, &[i as u8; 200]);
        pending.extend(out.transmits.into_iter().map(|t| (nid("dz"), t)));
        // Pump everything in flight.
        while let Some((from, t)) = pending.pop() {
            let to = t.to.as_str().to_string();
            let bytes = t.message.encode();
            let node = if to == "ma" { &mut ma } else { &mut dz };
            let view = View {
                now: node.now,
                me: &node.me,
                disk: &node.disk,
                dir: &node.dir,
            };
            let out = node.engine.handle_bytes(&from, &bytes, node.now, &view);
            node.apply(&out);
            let me = node.me.clone();
            pending.extend(out.transmits.into_iter().map(|t| (me.clone(), t)));
        }
    }
    let elapsed = started.elapsed();
    eprintln!(
        "pumped {n} records DZ->MA in {elapsed:?}: {:.0} records/s (engine + JSON codec, one core)",
        n as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(ma.disk.delivered.len(), n);
    assert!(dz.disk.outbox.is_empty());
    assert_eq!(ma.engine.stream_prefix(&cid("dz-ma"), &nid("dz")), n as u64);
}

#[test]
fn a_lying_member_cannot_block_sending_or_make_a_node_chase_forever() {
    let mut dz = Solo::new("dz");
    dz.submit("dz-ma", Precedence::Routine, b"one");
    let lie = |seq| Message::Summary {
        heads: vec![
            Head {
                channel: cid("dz-ma"),
                originator: nid("dz"),
                seq,
            },
            Head {
                channel: cid("tri"),
                originator: nid("us"),
                seq,
            },
        ],
        reply: false,
    };
    dz.handle("ma", lie(1_000));
    // Held once, briefly (it might be a genuine restore from backup) ...
    let try_prepare = |dz: &Solo, at: Millis| {
        dz.engine.prepare(
            &cid("dz-ma"),
            Kind::new("record").unwrap(),
            Precedence::Routine,
            vec![nid("ma")],
            vec![nid("tn")],
            at,
        )
    };
    assert!(matches!(
        try_prepare(&dz, dz.now),
        Err(SubmitError::StreamBehind { known: 1_000 })
    ));
    assert!(try_prepare(&dz, dz.now + cfg().fetch_timeout).is_ok());
    // ... the node asks the claimant, which has nothing: the claims go.
    dz.now += cfg().gap_delay;
    let out = dz.call(|e, v, now| e.poll(now, v));
    let fetches: Vec<&Message> = out
        .transmits
        .iter()
        .map(|t| &t.message)
        .filter(|m| matches!(m, Message::Fetch { .. }))
        .collect();
    assert_eq!(fetches.len(), 2, "{fetches:?}");
    for m in fetches.clone() {
        let Message::Fetch {
            channel,
            originator,
            ..
        } = m.clone()
        else {
            unreachable!()
        };
        dz.handle(
            "ma",
            Message::FetchReply {
                channel,
                originator,
                envelopes: vec![],
                more: false,
            },
        );
    }
    assert!(try_prepare(&dz, dz.now).is_ok());
    assert_eq!(dz.engine.footprint().incomplete, 0);
    // A second lie does not hold sending again.
    dz.handle("ma", lie(2_000));
    assert!(try_prepare(&dz, dz.now).is_ok());
}

#[test]
fn drop_peer_forgets_its_rows() {
    let mut dz = Solo::new("dz");
    for _ in 0..5 {
        dz.submit("tri", Precedence::Routine, b"x");
    }
    assert_eq!(dz.disk.outbox.len(), 10);
    dz.call(|e, v, now| e.drop_peer(&nid("us"), now, v));
    assert_eq!(dz.disk.outbox.len(), 5);
    assert!(dz.disk.outbox.keys().all(|(to, _)| *to == nid("ma")));
    assert_eq!(dz.engine.footprint().outbox, 5);
}

#[test]
fn on_a_blackholed_link_flash_takes_the_relay_after_one_timeout() {
    let mut faults = Faults::none();
    faults.report_failure = 0.0; // nothing reported: only ack timeouts tell
    let mut w = World::new(21, cfg(), faults, dir(), &["dz", "ma", "tn"]);
    w.run_until(T0 + 1_000);
    w.cut("dz", "ma", T0 + 3_600_000);
    let routine: Vec<EnvelopeId> = (0..5)
        .map(|_| {
            w.submit("dz", "dz-ma", Precedence::Routine, Kind::RECORD, 100)
                .unwrap()
        })
        .collect();
    let sent = w.now;
    let flash = w
        .submit("dz", "dz-ma", Precedence::Flash, Kind::MESSAGE, 50)
        .unwrap();
    // One ack timeout (2 s) and the FLASH is through the relay.
    w.run_until(sent + cfg().ack_timeout + 500);
    assert!(
        w.delivered.contains_key(&(nid("ma"), flash)),
        "FLASH waited for the link to be declared down"
    );
    // ROUTINE waits until the link is down (5 s of failing), then relays too.
    w.run_until(sent + cfg().ack_timeout + cfg().down_after + 3_000);
    for id in routine {
        assert!(w.delivered.contains_key(&(nid("ma"), id)));
    }
    w.heal_all();
    w.quiesce(20_000, 600_000);
    w.check_converged();
}

#[test]
fn a_gap_held_across_a_restart_is_still_fetched() {
    let mut dz = Solo::new("dz");
    let mut ma = Solo::new("ma");
    dz.submit("dz-ma", Precedence::Routine, b"one");
    dz.submit("dz-ma", Precedence::Routine, b"two");
    let two = dz
        .disk
        .envelopes
        .values()
        .find(|(e, _)| e.header().seq == 2)
        .unwrap()
        .0
        .clone();
    ma.handle(
        "dz",
        Message::Batch {
            batch: 1,
            items: vec![Item {
                to: nid("ma"),
                envelope: two,
            }],
        },
    );
    assert_eq!(ma.engine.footprint().pending, 1);
    // MA restarts from its disk alone.
    let view = View {
        now: ma.now,
        me: &ma.me,
        disk: &ma.disk,
        dir: &ma.dir,
    };
    ma.engine = Engine::restore(nid("ma"), cfg(), 9, ma.disk.snapshot(), ma.now, &view).unwrap();
    assert_eq!(ma.engine.footprint().pending, 1);
    let mut fetched = false;
    for _ in 0..20 {
        ma.now += 500;
        let out = ma.call(|e, v, now| e.poll(now, v));
        fetched |= out
            .transmits
            .iter()
            .any(|t| matches!(&t.message, Message::Fetch { from_seq: 1, .. }));
    }
    assert!(fetched, "the gap below the held envelope was never fetched");
}

/// The batches to `to` in `out`: (batch id, envelope ids).
fn batches_to(out: &Output, to: &str) -> Vec<(u64, Vec<EnvelopeId>)> {
    batches(out)
        .into_iter()
        .filter(|(t, _, _)| **t == nid(to))
        .map(|(_, b, items)| (b, items.iter().map(|i| i.envelope.id()).collect()))
        .collect()
}

fn ma_status(dz: &Solo) -> PeerStatus {
    dz.engine
        .status(dz.now)
        .into_iter()
        .find(|p| p.peer == nid("ma"))
        .unwrap()
}

/// A channel with no relay: what is in flight to MA can only be retried to
/// MA itself.
fn solo_direct() -> Solo {
    let mut dz = Solo::new("dz");
    dz.dir.add("direct", &["dz", "ma"], &[]);
    dz
}

/// Issue 17: a partner that starts while our attempts towards it fail (port
/// not bound, then a connection that hangs) is reached as soon as it
/// contacts us — not after the backoff, nor after the hanging attempt's
/// timeout — and that attempt's late failure starts no new backoff.
#[test]
fn hearing_from_a_failing_peer_ends_the_backoff_and_requeues_what_was_in_flight() {
    let mut dz = solo_direct();
    let (charter, out) = dz.submit("direct", Precedence::Routine, b"charter");
    let mut inflight = batches_to(&out, "ma");
    assert_eq!(inflight.len(), 1);
    // Three refused connections: the backoff doubles (200, 400, 800 ms
    // before jitter) and the link goes down.
    for _ in 0..3 {
        let (b, _) = inflight[0].clone();
        let out = dz.call(|e, v, now| e.transmit_failed(&nid("ma"), b, now, v));
        assert!(
            batches_to(&out, "ma").is_empty(),
            "retried within the backoff"
        );
        dz.now = ma_status(&dz).next_attempt.expect("backing off");
        let out = dz.call(|e, v, now| e.poll(now, v));
        inflight = batches_to(&out, "ma");
        assert_eq!(inflight.len(), 1, "a probe once the backoff ends");
    }
    assert_eq!(ma_status(&dz).failures, 3);
    assert_eq!(ma_status(&dz).link, "down");
    // The fourth attempt hangs (MA is starting); MA then reaches us.
    let (hanging, ids) = inflight[0].clone();
    assert_eq!(ids, vec![charter]);
    dz.now += 50;
    let out = dz.handle(
        "ma",
        Message::Summary {
            heads: vec![],
            reply: false,
        },
    );
    let again = batches_to(&out, "ma");
    assert_eq!(again.len(), 1, "resent in the very call that heard MA");
    assert_ne!(again[0].0, hanging);
    assert_eq!(again[0].1, vec![charter]);
    // The hanging attempt times out later: stale, it starts no backoff.
    dz.now += cfg().ack_timeout / 2;
    dz.call(|e, v, now| e.transmit_failed(&nid("ma"), hanging, now, v));
    let st = ma_status(&dz);
    assert_eq!((st.failures, st.next_attempt), (3, None), "{st:?}");
    assert_eq!(st.in_flight, 1, "the resent batch is still in flight");
    // The resent one is acknowledged: delivered, the link is up.
    let out = dz.handle(
        "ma",
        Message::BatchAck {
            batch: again[0].0,
            results: vec![ItemResult {
                id: charter,
                to: nid("ma"),
                status: Status::Stored,
                reason: None,
            }],
        },
    );
    assert!(batches_to(&out, "ma").is_empty());
    let st = ma_status(&dz);
    assert_eq!((st.link, st.failures, st.in_flight), ("up", 0, 0));
    assert!(dz.disk.outbox.is_empty());
}

/// A failure of an attempt made after we heard from the peer counts as
/// usual: hearing from a peer once does not disable backoff towards it.
#[test]
fn attempts_after_hearing_from_a_peer_back_off_as_usual() {
    let mut dz = solo_direct();
    let (_, out) = dz.submit("direct", Precedence::Routine, b"one");
    let (b1, _) = batches_to(&out, "ma")[0].clone();
    dz.call(|e, v, now| e.transmit_failed(&nid("ma"), b1, now, v));
    let out = dz.handle(
        "ma",
        Message::Summary {
            heads: vec![],
            reply: false,
        },
    );
    let (b2, _) = batches_to(&out, "ma")[0].clone();
    dz.call(|e, v, now| e.transmit_failed(&nid("ma"), b2, now, v));
    let st = ma_status(&dz);
    assert_eq!(st.failures, 2);
    assert!(st.next_attempt.is_some_and(|t| t > dz.now), "{st:?}");
}

/// A FLASH submitted while the link backs off is tried at once (and only
/// once: after its own failure it waits like the rest).
#[test]
fn a_flash_is_tried_at_once_whatever_the_backoff() {
    let mut dz = solo_direct();
    let (routine, out) = dz.submit("direct", Precedence::Routine, b"routine");
    let (b1, _) = batches_to(&out, "ma")[0].clone();
    dz.call(|e, v, now| e.transmit_failed(&nid("ma"), b1, now, v));
    assert!(ma_status(&dz).next_attempt.is_some());
    dz.now += 1;
    let (flash, out) = dz.submit("direct", Precedence::Flash, b"flash");
    let sent = batches_to(&out, "ma");
    assert_eq!(sent.len(), 1, "the FLASH waited for the backoff");
    assert_eq!(sent[0].1, vec![flash], "only the FLASH skips the backoff");
    let out = dz.call(|e, v, now| e.transmit_failed(&nid("ma"), sent[0].0, now, v));
    assert!(
        batches_to(&out, "ma").is_empty(),
        "a FLASH already tried waits for the backoff"
    );
    dz.now = ma_status(&dz).next_attempt.unwrap();
    let out = dz.call(|e, v, now| e.poll(now, v));
    let sent = batches_to(&out, "ma");
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].1,
        vec![flash, routine],
        "FLASH first, then the rest"
    );
}

/// A delivery worker takes in the rows another process queued on the
/// same disk (`Engine::adopt`: `serve` claiming what the CLI queued)
/// without forgetting what it has in flight: the batch in flight is not
/// sent again, its acknowledgement still completes it, a row already held
/// is not added twice, and the adopted row goes out with the next call.
#[test]
fn adopted_rows_are_sent_and_what_is_in_flight_stays_in_flight() {
    let mut dz = solo_direct();
    let (one, out) = dz.submit("direct", Precedence::Routine, b"one");
    let first = batches_to(&out, "ma");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, vec![one]);
    // Another process on the same disk (the CLI) queues a second envelope.
    let mut cli = Solo {
        me: nid("dz"),
        disk: dz.disk.clone(),
        dir: dz.dir.clone(),
        now: dz.now,
        engine: Engine::restore(nid("dz"), cfg(), 2, dz.disk.snapshot(), dz.now, &dz.view())
            .unwrap(),
    };
    let (two, _) = cli.submit("direct", Precedence::Routine, b"two");
    dz.disk = cli.disk.clone();
    let held = dz.disk.outbox[&(nid("ma"), one)].clone();
    let new = dz.disk.outbox[&(nid("ma"), two)].clone();
    assert_eq!(dz.engine.adopt(vec![held, new.clone()]), 1);
    assert_eq!(
        dz.engine.adopt(vec![new]),
        0,
        "a row held is not added twice"
    );
    let st = ma_status(&dz);
    assert_eq!((st.in_flight, st.queued), (1, 1));
    dz.now += 10;
    let out = dz.call(|e, v, now| e.poll(now, v));
    let sent: Vec<Vec<EnvelopeId>> = batches_to(&out, "ma").into_iter().map(|b| b.1).collect();
    assert_eq!(sent, vec![vec![two]], "only the adopted row goes out");
    dz.handle(
        "ma",
        Message::BatchAck {
            batch: first[0].0,
            results: vec![ItemResult {
                id: one,
                to: nid("ma"),
                status: Status::Stored,
                reason: None,
            }],
        },
    );
    assert!(!dz.disk.outbox.contains_key(&(nid("ma"), one)));
    let st = ma_status(&dz);
    assert_eq!((st.in_flight, st.queued), (1, 0));
}

/// A second delivery worker of the same node submits on a channel
/// (`Engine::refresh`): the first takes the stream head that
/// worker moved, chains its next envelope after it, and keeps what it has
/// in flight — the batch in flight is not sent again and its
/// acknowledgement still completes it.
#[test]
fn refreshed_streams_chain_after_another_worker_and_keep_what_is_in_flight() {
    let mut dz = solo_direct();
    let (one, out) = dz.submit("direct", Precedence::Routine, b"one");
    let first = batches_to(&out, "ma");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, vec![one]);
    // The other worker, on the same store.
    let mut other = Solo {
        me: nid("dz"),
        disk: dz.disk.clone(),
        dir: dz.dir.clone(),
        now: dz.now,
        engine: Engine::restore(nid("dz"), cfg(), 2, dz.disk.snapshot(), dz.now, &dz.view())
            .unwrap(),
    };
    let (two, _) = other.submit("direct", Precedence::Routine, b"two");
    dz.disk = other.disk.clone();
    let stale = dz.make("direct", Precedence::Routine, b"stale");
    assert_eq!(stale.header().seq, 2, "before the refresh: the old head");
    let streams = dz.disk.snapshot().streams;
    let view = View {
        now: dz.now,
        me: &dz.me,
        disk: &dz.disk,
        dir: &dz.dir,
    };
    dz.engine.refresh(streams, Vec::new(), &view).unwrap();
    let three = dz.make("direct", Precedence::Routine, b"three");
    assert_eq!(
        (three.header().seq, three.header().prev),
        (3, two),
        "chained after the other worker's envelope"
    );
    let st = ma_status(&dz);
    assert_eq!((st.in_flight, st.queued), (1, 0), "still in flight");
    dz.now += 10;
    let out = dz.call(|e, v, now| e.poll(now, v));
    assert!(batches_to(&out, "ma").is_empty(), "nothing sent again");
    dz.handle(
        "ma",
        Message::BatchAck {
            batch: first[0].0,
            results: vec![ItemResult {
                id: one,
                to: nid("ma"),
                status: Status::Stored,
                reason: None,
            }],
        },
    );
    assert!(!dz.disk.outbox.contains_key(&(nid("ma"), one)));
    let st = ma_status(&dz);
    assert_eq!((st.in_flight, st.queued), (0, 0));
}
