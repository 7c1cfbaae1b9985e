//! A hostile member against the charter rule (docs/POLICY.md, "Charter
//! changes"): a partner node that signs whatever its own keys allow and
//! sends it over the real engine, sealing and stores — by network
//! delivery and by offline bundle. It cannot evict the other members, add
//! an ally, replay or skip versions; the honest flows (add with everyone's
//! consent, expel with all the others', leave alone) keep working.
//! SQLite by default; PostgreSQL with `TANSIQ_TEST_CLI_POSTGRES` set.

mod common;

use std::collections::BTreeMap;

use serde_json::json;

use tansiq_core::charter::{Charter, SignedCharter};
use tansiq_node::federation::{control_channel, Payload};
use tansiq_node::Node;
use tansiq_sync::Precedence;

use common::{audited, form_channel, node, person, pump, sorted, trust, OP};

/// The channel as `n` shows it (`channel list --json`).
fn view(n: &Node, ch: &str) -> serde_json::Value {
    let c = n
        .channel_list(&OP)
        .unwrap()
        .into_iter()
        .find(|c| c.id == ch)
        .expect("the channel is listed");
    serde_json::to_value(c).unwrap()
}

/// The stored channel state (both versions with their signatures).
fn state(n: &Node, ch: &str) -> String {
    n.store
        .read(|tx| tx.channel(ch))
        .unwrap()
        .expect("the channel is stored")
        .state
}

/// The next version of `ch` as `by` holds it, with `members`, proposed by
/// `by` and signed by each of `signers` — whatever the rule says.
fn forge(
    by: &Node,
    ch: &str,
    version_step: u64,
    members: &[&str],
    signers: &[&Node],
) -> SignedCharter {
    let cur = by.channel_export(&OP, ch).unwrap().charter;
    let charter = Charter {
        version: cur.version + version_step,
        members: sorted(members),
        proposer: by.id().to_string(),
        created: tansiq_core::time::format(&tansiq_core::time::now()),
        ..cur
    };
    let mut s = SignedCharter {
        charter,
        signatures: BTreeMap::new(),
    };
    for n in signers {
        s.sign_as(n.id(), &n.identity);
    }
    s
}

/// A modified `from` sends `charter` over its control channel to each of
/// `to`, bypassing its own state machine.
fn send_raw(from: &Node, to: &[&Node], charter: &SignedCharter) {
    for t in to {
        from.send_unchecked(
            &control_channel(from.id(), t.id()),
            Precedence::Immediate,
            vec![from.id().to_string(), t.id().to_string()],
            vec![],
            &Payload::Charter {
                charter: charter.clone(),
            },
        )
        .unwrap();
    }
}

struct World {
    _tmp: tempfile::TempDir,
    dz: Node,
    ma: Node,
    tn: Node,
    us: Node,
    ch: String,
}

impl World {
    /// DZ, MA, TN in channel A (formed by DZ); US known to all, outside.
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let dz = node(tmp.path(), "dz", "DZ", 7601);
        let ma = node(tmp.path(), "ma", "MA", 7611);
        let tn = node(tmp.path(), "tn", "TN", 7621);
        let us = node(tmp.path(), "us", "US", 7631);
        trust(&[&dz, &ma, &tn, &us]);
        let ch = form_channel(&dz, "A", &[&ma, &tn], &[&dz, &ma, &tn, &us]);
        World {
            _tmp: tmp,
            dz,
            ma,
            tn,
            us,
            ch,
        }
    }
    fn all(&self) -> [&Node; 4] {
        [&self.dz, &self.ma, &self.tn, &self.us]
    }
    fn pump(&self) {
        pump(&self.all());
    }
    /// A record DZ places now reaches exactly `want` among MA, TN, US.
    fn dz_record_reaches(&self, label: &str, want: &[&Node]) {
        let id = self.dz.record_add(&OP, person(&self.ch, label)).unwrap();
        self.pump();
        for n in [&self.ma, &self.tn, &self.us] {
            let got = n.record_get(&OP, &id).is_ok();
            let expected = want.iter().any(|w| w.id() == n.id());
            assert_eq!(got, expected, "{label} at {}", n.config.country);
        }
    }
    /// Honest flows raise no charter rejection anywhere.
    fn no_charter_rejected(&self) {
        for n in self.all() {
            assert_eq!(
                audited(n, "envelope.reject", "charter"),
                0,
                "at {}",
                n.config.country
            );
        }
    }
    fn verify_all(&self) {
        for n in self.all() {
            assert!(
                n.audit_verify(&OP).unwrap().ok,
                "audit at {}",
                n.config.country
            );
        }
    }
}

#[test]
fn one_member_cannot_evict_all_the_others() {
    let w = World::new();
    let (dz, ma, tn, us) = (&w.dz, &w.ma, &w.tn, &w.us);
    let before = [state(dz, &w.ch), state(ma, &w.ch)];
    // TN's own CLI refuses it and changes nothing …
    let at_tn = state(tn, &w.ch);
    let e = tn
        .channel_update(&OP, &w.ch, vec![], vec![dz.id().into(), ma.id().into()])
        .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    assert_eq!(state(tn, &w.ch), at_tn);
    // … so a modified TN signs "TN alone" itself and sends it; then "TN and
    // its ally US", signed by both.
    let alone = forge(tn, &w.ch, 1, &[tn.id()], &[tn]);
    send_raw(tn, &[dz, ma], &alone);
    w.pump();
    let with_ally = forge(tn, &w.ch, 1, &[tn.id(), us.id()], &[tn, us]);
    send_raw(tn, &[dz, ma, us], &with_ally);
    w.pump();
    for (n, b) in [dz, ma].into_iter().zip(&before) {
        assert_eq!(
            &state(n, &w.ch),
            b,
            "state unchanged at {}",
            n.config.country
        );
        let v = view(n, &w.ch);
        assert_eq!(
            (
                v["status"].as_str(),
                v["version"].as_u64(),
                v["pending_version"].as_u64()
            ),
            (Some("active"), Some(1), None)
        );
        assert_eq!(
            audited(n, "envelope.reject", "charter"),
            2,
            "at {}",
            n.config.country
        );
        // No honest node signs such a version: `sync status` shows it.
        assert_eq!(audited(n, "sync.alarm", "hostile"), 2);
        assert_eq!(audited(n, "channel.removed", ""), 0);
    }
    // The channel goes on as before: DZ's next record reaches MA and TN.
    w.dz_record_reaches("After The Eviction Attempt", &[ma, tn]);
    w.verify_all();
}

#[test]
fn an_ally_added_by_one_member_stays_a_proposal_the_others_never_signed() {
    let w = World::new();
    let (dz, ma, tn, us) = (&w.dz, &w.ma, &w.tn, &w.us);
    let ally = forge(
        tn,
        &w.ch,
        1,
        &[dz.id(), ma.id(), tn.id(), us.id()],
        &[tn, us],
    );
    send_raw(tn, &[dz, ma, us], &ally);
    w.pump();
    for n in [dz, ma] {
        let v = view(n, &w.ch);
        assert_eq!(
            (
                v["status"].as_str(),
                v["version"].as_u64(),
                v["pending_version"].as_u64()
            ),
            (Some("active"), Some(1), Some(2)),
            "at {}",
            n.config.country
        );
        assert_eq!(v["awaiting"], json!(sorted(&[dz.id(), ma.id()])));
    }
    // US is not sealed to while the others have not consented.
    w.dz_record_reaches("Not For The Ally", &[ma, tn]);
    // DZ declines it by proposing something else: its own version 2 takes
    // the place of the one it never signed.
    let v = dz
        .channel_update(&OP, &w.ch, vec![], vec![tn.id().into()])
        .unwrap();
    assert_eq!(v.pending_version, Some(2));
    assert_eq!(v.awaiting, vec![ma.id().to_string()]);
    w.pump();
    // MA still holds TN's version 2: DZ's arrives as a conflicting
    // proposal and is refused there …
    assert_eq!(audited(ma, "envelope.reject", "already pending"), 1);
    // … until MA's operator brings DZ's in by hand, declining TN's, and
    // signs it: TN is out, by everyone else's consent.
    let file = serde_json::to_vec(&dz.channel_export(&OP, &w.ch).unwrap()).unwrap();
    ma.channel_import(&OP, &file).unwrap();
    ma.channel_accept(&OP, &w.ch).unwrap();
    w.pump();
    for n in [dz, ma] {
        let v = view(n, &w.ch);
        assert_eq!(
            (
                v["status"].as_str(),
                v["version"].as_u64(),
                v["members"].clone()
            ),
            (Some("active"), Some(2), json!(sorted(&[dz.id(), ma.id()]))),
            "at {}",
            n.config.country
        );
    }
    assert_eq!(view(tn, &w.ch)["status"], "removed");
    w.dz_record_reaches("After TN Was Expelled", &[ma]);
    w.verify_all();
}

#[test]
fn one_member_cannot_expel_another_without_all_the_rest() {
    let w = World::new();
    let (dz, ma, tn) = (&w.dz, &w.ma, &w.tn);
    // TN alone expels MA: held, awaiting DZ, at DZ and at MA.
    let v = tn
        .channel_update(&OP, &w.ch, vec![], vec![ma.id().into()])
        .unwrap();
    assert_eq!(
        (v.status.as_str(), v.version, v.pending_version),
        ("active", 1, Some(2))
    );
    assert_eq!(v.awaiting, vec![dz.id().to_string()]);
    w.pump();
    for n in [dz, ma] {
        let v = view(n, &w.ch);
        assert_eq!(
            (
                v["status"].as_str(),
                v["version"].as_u64(),
                v["pending_version"].as_u64()
            ),
            (Some("active"), Some(1), Some(2)),
            "at {}",
            n.config.country
        );
        assert_eq!(v["awaiting"], json!([dz.id()]));
    }
    // MA, not yet expelled, still receives what DZ places.
    w.dz_record_reaches("Before Consent", &[ma, tn]);
    // DZ consents: MA is out everywhere, and learns it.
    dz.channel_accept(&OP, &w.ch).unwrap();
    w.pump();
    let at_ma = view(ma, &w.ch);
    assert_eq!(
        (at_ma["status"].as_str(), at_ma["version"].as_u64()),
        (Some("removed"), Some(2))
    );
    assert_eq!(audited(ma, "channel.removed", ""), 1);
    for n in [dz, tn] {
        let v = view(n, &w.ch);
        assert_eq!(
            (v["status"].as_str(), v["version"].as_u64()),
            (Some("active"), Some(2))
        );
    }
    w.dz_record_reaches("After Consent", &[tn]);
    w.no_charter_rejected();
    w.verify_all();
}

#[test]
fn a_member_leaves_by_itself() {
    let w = World::new();
    let (dz, ma, tn) = (&w.dz, &w.ma, &w.tn);
    // A version that only drops its signer needs no one else.
    let v = ma
        .channel_update(&OP, &w.ch, vec![], vec![ma.id().into()])
        .unwrap();
    assert_eq!((v.status.as_str(), v.version), ("removed", 2));
    w.pump();
    for n in [dz, tn] {
        let v = view(n, &w.ch);
        assert_eq!(
            (
                v["status"].as_str(),
                v["version"].as_u64(),
                v["members"].clone()
            ),
            (Some("active"), Some(2), json!(sorted(&[dz.id(), tn.id()]))),
            "at {}",
            n.config.country
        );
    }
    let e = ma
        .record_add(&OP, person(&w.ch, "After Leaving"))
        .unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    w.dz_record_reaches("After MA Left", &[tn]);
    // A leave with anything else in it is not a leave.
    let e = tn
        .channel_update(&OP, &w.ch, vec![w.us.id().into()], vec![tn.id().into()])
        .unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    w.no_charter_rejected();
    w.verify_all();
}

#[test]
fn an_ally_joins_only_with_every_member_consenting() {
    let w = World::new();
    let (dz, ma, tn, us) = (&w.dz, &w.ma, &w.tn, &w.us);
    let v = tn
        .channel_update(&OP, &w.ch, vec![us.id().into()], vec![])
        .unwrap();
    assert_eq!(v.awaiting, sorted(&[dz.id(), ma.id(), us.id()]));
    w.pump();
    us.channel_accept(&OP, &w.ch).unwrap();
    ma.channel_accept(&OP, &w.ch).unwrap();
    w.pump();
    for n in [dz, ma, tn] {
        let v = view(n, &w.ch);
        assert_eq!(
            (v["version"].as_u64(), v["pending_version"].as_u64()),
            (Some(1), Some(2)),
            "at {}",
            n.config.country
        );
    }
    assert_eq!(view(us, &w.ch)["status"], "pending");
    dz.channel_accept(&OP, &w.ch).unwrap();
    w.pump();
    for n in w.all() {
        let v = view(n, &w.ch);
        assert_eq!(
            (v["status"].as_str(), v["version"].as_u64()),
            (Some("active"), Some(2)),
            "at {}",
            n.config.country
        );
    }
    w.dz_record_reaches("With US", &[ma, tn, us]);
    w.no_charter_rejected();
    w.verify_all();
}

#[test]
fn replayed_skipped_and_conflicting_versions_are_refused() {
    let w = World::new();
    let (dz, ma, tn) = (&w.dz, &w.ma, &w.tn);
    let v1 = dz.channel_export(&OP, &w.ch).unwrap();
    // An honest version 2: MA leaves.
    ma.channel_update(&OP, &w.ch, vec![], vec![ma.id().into()])
        .unwrap();
    w.pump();
    let before = state(dz, &w.ch);
    // TN replays version 1 (signed by all three), …
    send_raw(tn, &[dz], &v1);
    // … sends another version 2 in full (TN leaving instead), …
    let other2 = {
        let mut c = v1.charter.clone();
        c.version = 2;
        c.members = sorted(&[dz.id(), ma.id()]);
        c.proposer = tn.id().to_string();
        let mut s = SignedCharter {
            charter: c,
            signatures: BTreeMap::new(),
        };
        s.sign_as(tn.id(), &tn.identity);
        s
    };
    send_raw(tn, &[dz], &other2);
    // … skips to version 4 signed by every member of version 2, …
    let v4 = forge(tn, &w.ch, 2, &[dz.id(), tn.id()], &[dz, tn]);
    send_raw(tn, &[dz], &v4);
    // … and has a non-member (US) sign a version 3 too.
    let v3 = forge(tn, &w.ch, 1, &[dz.id(), tn.id()], &[tn, &w.us]);
    send_raw(tn, &[dz], &v3);
    w.pump();
    assert_eq!(state(dz, &w.ch), before, "nothing changed at DZ");
    assert_eq!(audited(dz, "envelope.reject", "charter"), 4);
    // Replays, skips and a rival version are what late delivery makes too;
    // only the outsider's signature is proof of a broken rule.
    assert_eq!(audited(dz, "sync.alarm", "hostile"), 1);
    w.verify_all();
}

#[test]
fn a_member_that_signs_two_versions_of_one_number_is_named() {
    let w = World::new();
    let (dz, ma, tn, us) = (&w.dz, &w.ma, &w.tn, &w.us);
    let v1 = dz.channel_export(&OP, &w.ch).unwrap();
    tn.channel_update(&OP, &w.ch, vec![us.id().into()], vec![])
        .unwrap();
    w.pump();
    for n in [dz, ma, us] {
        n.channel_accept(&OP, &w.ch).unwrap();
        w.pump();
    }
    assert_eq!(view(dz, &w.ch)["version"], 2);
    let before = [state(dz, &w.ch), state(ma, &w.ch)];
    // TN, which signed version 2, now signs another version 2: leaving
    // version 1, as if the first had never been.
    let mut other = SignedCharter {
        charter: v1
            .charter
            .leave(
                tn.id(),
                tansiq_core::time::format(&tansiq_core::time::now()),
            )
            .unwrap(),
        signatures: BTreeMap::new(),
    };
    other.sign_as(tn.id(), &tn.identity);
    send_raw(tn, &[dz, ma], &other);
    w.pump();
    for (n, b) in [dz, ma].into_iter().zip(&before) {
        assert_eq!(&state(n, &w.ch), b, "at {}", n.config.country);
        assert_eq!(
            audited(n, "envelope.reject", "signed two different versions"),
            1
        );
        assert_eq!(audited(n, "sync.alarm", "hostile"), 1);
    }
    w.verify_all();
}

#[test]
fn an_eviction_carried_in_a_bundle_is_refused_too() {
    let w = World::new();
    let (dz, ma, tn) = (&w.dz, &w.ma, &w.tn);
    let before = state(dz, &w.ch);
    let alone = forge(tn, &w.ch, 1, &[tn.id()], &[tn]);
    send_raw(tn, &[dz], &alone);
    // Not delivered over the network: carried by hand.
    drop(tn.federation.take_outgoing());
    let (bytes, n) = tn.bundle_export(&OP, dz.id()).unwrap();
    assert!(n >= 1);
    dz.bundle_import(&OP, &bytes).unwrap();
    assert_eq!(state(dz, &w.ch), before);
    assert_eq!(audited(dz, "envelope.reject", "charter"), 1);
    let v = view(dz, &w.ch);
    assert_eq!(v["status"].as_str(), Some("active"));
    let _ = ma;
    w.verify_all();
}
