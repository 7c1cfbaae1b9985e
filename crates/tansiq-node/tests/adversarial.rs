//! A hostile partner against the receiving nodes: a partner agency that
//! signs whatever its own keys allow and sends it over the real engine,
//! sealing and stores (issue 12). Each test names the finding it closes.

mod common;

use serde_json::json;

use common::{
    alarms, audited, form_channel, held, node, person, pump, pump_cut, trust, Hostile, OP,
};
use tansiq_core::record::{Link, LinkType};
use tansiq_node::federation::Payload;

/// Three nodes DZ, MA, TN, all trusting each other.
fn maghreb(tmp: &std::path::Path) -> (tansiq_node::Node, tansiq_node::Node, tansiq_node::Node) {
    let dz = node(tmp, "dz", "DZ", 7401);
    let ma = node(tmp, "ma", "MA", 7411);
    let tn = node(tmp, "tn", "TN", 7421);
    trust(&[&dz, &ma, &tn]);
    (dz, ma, tn)
}

/// Finding 1: MA re-signs DZ's record as its own (originator MA, a high
/// version) and sends it to every member; then a tombstone of it. Neither
/// DZ nor TN takes them in; each raises an alarm; DZ's own correction
/// still reaches TN; every audit log verifies.
#[test]
fn a_partner_cannot_rewrite_or_retract_another_agencys_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let r = dz
        .record_add(&OP, person(&a, "Abdelmalek Droukdel"))
        .unwrap();
    pump(&all);
    assert_eq!(held(&tn, &r).unwrap().body.version, 1);

    let hostile = Hostile(&ma);
    let to = [dz.id(), tn.id()];
    // A new version of R claiming MA as its originator …
    let mut body = held(&ma, &r).unwrap().body;
    body.originator = ma.id().to_string();
    body.version = 50;
    body.data = json!({"names": ["Someone Else"], "nationality": ["MA"]});
    hostile.send_record(&a, &to, hostile.sign(body.clone()), None);
    // … and one keeping DZ as originator, signed by MA.
    let mut claimed = held(&ma, &r).unwrap().body;
    claimed.version = 51;
    claimed.data = json!({"names": ["Someone Else"], "nationality": ["MA"]});
    hostile.send_record(&a, &to, hostile.sign(claimed), None);
    // A tombstone of R signed by MA.
    let mut tomb = held(&ma, &r).unwrap().body;
    tomb.originator = ma.id().to_string();
    tomb.version = 52;
    tomb.data = json!({});
    tomb.retracted = true;
    hostile.send_record(&a, &to, hostile.sign(tomb), None);
    pump(&all);

    for n in [&dz, &tn] {
        let got = n.record_get(&OP, &r).unwrap();
        assert_eq!(got.version, 1, "{}", n.id());
        assert_eq!(got.originator, dz.id());
        assert_eq!(got.status, "active");
        assert_eq!(got.data["names"][0], "Abdelmalek Droukdel");
        // The first and third are refused as forgeries of an id MA does
        // not own; the second fails the originator's signature.
        assert_eq!(alarms(n, "hostile"), 2, "{}", n.id());
        assert_eq!(audited(n, "envelope.reject", &r), 3, "{}", n.id());
    }
    // DZ's own correction still reaches TN.
    dz.record_update(
        &OP,
        &r,
        json!({"names": ["Abdelmalek Droukdel", "Abou Moussab Abdelouadoud"], "nationality": ["DZ"]}),
        None,
        None,
    )
    .unwrap();
    pump(&all);
    assert_eq!(tn.record_get(&OP, &r).unwrap().version, 2);
    for n in all {
        assert!(n.audit_verify(&OP).unwrap().ok, "{}", n.id());
    }
}

/// Finding 1, another path: MA sends a record under an id DZ owns into a
/// channel where TN has not seen DZ's record yet (squatting). TN refuses
/// it, and DZ's record, shared later, arrives intact.
#[test]
fn a_partner_cannot_take_an_id_before_its_owner_sends_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let r = dz
        .record_add(&OP, person(&dm, "Mokhtar Belmokhtar"))
        .unwrap();
    pump(&all);
    let hostile = Hostile(&ma);
    let mut body = held(&ma, &r).unwrap().body;
    body.originator = ma.id().to_string();
    body.channel = mt.clone();
    body.members = {
        let mut m = vec![ma.id().to_string(), tn.id().to_string()];
        m.sort();
        m
    };
    hostile.send_record(&mt, &[tn.id()], hostile.sign(body), None);
    pump(&all);
    assert!(tn.record_get(&OP, &r).is_err(), "TN must not take the id");
    assert_eq!(alarms(&tn, "hostile"), 1);
    dz.record_share(&OP, &r, &a).unwrap();
    pump(&all);
    let got = tn.record_get(&OP, &r).unwrap();
    assert_eq!(got.originator, dz.id());
    assert_eq!(got.data["names"][0], "Mokhtar Belmokhtar");
}

/// Finding 1 through a bundle carried by hand: the same forgery in an
/// offline bundle is refused at import time the same way.
#[test]
fn a_forged_version_in_a_bundle_is_refused_like_one_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let r = dz
        .record_add(&OP, person(&a, "Abdelmalek Droukdel"))
        .unwrap();
    pump(&all);
    // The link MA → TN is cut: what MA sends waits for a bundle.
    ma.federation.set_link_cut(tn.id(), true);
    let hostile = Hostile(&ma);
    let mut body = held(&ma, &r).unwrap().body;
    body.originator = ma.id().to_string();
    body.version = 9;
    body.data = json!({"names": ["Someone Else"]});
    hostile.send_record(&a, &[dz.id(), tn.id()], hostile.sign(body), None);
    let (bytes, n) = ma.bundle_export(&OP, tn.id()).unwrap();
    assert!(n >= 1);
    let imported = tn.bundle_import(&OP, &bytes).unwrap();
    assert_eq!(imported, 1);
    let got = tn.record_get(&OP, &r).unwrap();
    assert_eq!((got.version, got.originator.as_str()), (1, dz.id()));
    assert_eq!(alarms(&tn, "hostile"), 1);
    assert!(tn.audit_verify(&OP).unwrap().ok);
}

/// Finding 3: DZ's record in DM, released to MT and shared there by MA.
/// DZ's correction and then its retraction follow the copy at TN.
#[test]
fn corrections_and_retractions_follow_copies_shared_under_a_release() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let r = dz.record_add(&OP, person(&dm, "Hassan Hattab")).unwrap();
    pump(&all);
    let req = ma.release_request(&OP, &r, &mt, None).unwrap();
    pump(&all);
    dz.release_grant(&OP, Some(&req), None, None, None).unwrap();
    pump(&all);
    ma.record_share(&OP, &r, &mt).unwrap();
    pump(&all);
    assert_eq!(tn.record_get(&OP, &r).unwrap().version, 1);

    dz.record_update(
        &OP,
        &r,
        json!({"names": ["Hassan Hattab", "Abou Hamza"], "nationality": ["DZ"]}),
        None,
        None,
    )
    .unwrap();
    pump(&all);
    let got = tn.record_get(&OP, &r).unwrap();
    assert_eq!(got.version, 2, "the correction reached TN");
    assert_eq!(got.data["names"][1], "Abou Hamza");

    dz.record_retract(&OP, &r).unwrap();
    pump(&all);
    for n in all {
        let got = n.record_get(&OP, &r);
        assert!(
            got.as_ref().is_err() || got.as_ref().unwrap().status == "retracted",
            "{}: {:?}",
            n.id(),
            got.map(|g| g.status)
        );
        assert!(held(n, &r).is_none(), "{}: content still held", n.id());
    }
    for n in all {
        assert!(n.audit_verify(&OP).unwrap().ok, "{}", n.id());
    }
}

/// Finding 3, the originator's own shares: DZ shares its record from DM
/// into A; its correction reaches TN (a member of A only).
#[test]
fn an_originators_correction_reaches_every_channel_it_shared_the_record_in() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let r = dz.record_add(&OP, person(&dm, "Hassan Hattab")).unwrap();
    dz.record_share(&OP, &r, &a).unwrap();
    pump(&all);
    dz.record_update(
        &OP,
        &r,
        json!({"names": ["Hassan Hattab", "Abou Hamza"]}),
        None,
        None,
    )
    .unwrap();
    pump(&all);
    assert_eq!(tn.record_get(&OP, &r).unwrap().version, 2);
}

fn derived(target: &str) -> Link {
    Link {
        rel: LinkType::DerivedFrom,
        target: target.into(),
        from: None,
        until: None,
        note: None,
    }
}

/// Finding 7: padding derived_from links past the walk's bound. 256 links
/// to MA's own record plus one to a record derived from DZ's: refused as
/// bad input (too many links); 40 such links: refused by the third-party
/// rule (every source checked once). A hostile MA that signs the padded
/// record anyway is refused by DZ.
#[test]
fn derived_from_links_cannot_be_padded_past_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let src = dz
        .record_add(&OP, person(&dm, "Mokhtar Belmokhtar"))
        .unwrap();
    pump(&all);
    let mut mid = person(&dm, "Belmokhtar courier");
    mid.links = vec![derived(&src)];
    let mid = ma.record_add(&OP, mid).unwrap();
    let own = ma.record_add(&OP, person(&mt, "Unrelated Name")).unwrap();
    pump(&all);

    let padded = |n: usize, ch: &str| {
        let mut r = person(ch, "Belmokhtar financier");
        r.links = std::iter::repeat_with(|| derived(&own)).take(n).collect();
        r.links.push(derived(&mid));
        r
    };
    let e = ma.record_add(&OP, padded(256, &mt)).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
    let e = ma.record_add(&OP, padded(40, &mt)).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("third-party rule"), "{e}");

    // Signed anyway by a hostile MA into A (DZ holds the sources).
    let template = ma.record_add(&OP, person(&a, "Placeholder")).unwrap();
    pump(&all);
    let mut body = held(&ma, &template).unwrap().body;
    body.id = tansiq_core::ids::new_record_id(ma.id());
    body.data = json!({"names": ["Belmokhtar financier"]});
    body.links = padded(40, &a).links;
    let hostile = Hostile(&ma);
    hostile.send_record(&a, &[dz.id(), tn.id()], hostile.sign(body.clone()), None);
    body.id = tansiq_core::ids::new_record_id(ma.id());
    body.links = padded(256, &a).links;
    hostile.send_record(&a, &[dz.id(), tn.id()], hostile.sign(body), None);
    pump(&all);
    assert_eq!(audited(&dz, "envelope.reject", "was given by"), 1);
    assert_eq!(audited(&dz, "envelope.reject", "derived_from links"), 1);
    assert_eq!(audited(&tn, "envelope.reject", "derived_from links"), 1);
}

/// Finding 5: what was derived from a record goes when the record goes —
/// here the alert a received list entry raised (its matched name and
/// explanation), and the sealed body of an envelope this node refused.
#[test]
fn what_was_derived_from_a_record_goes_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    ma.record_add(&OP, person(&mt, "Mokhtar Belmokhtar"))
        .unwrap();
    let mut listed = person(&a, "Mokhtar Belmokhtar");
    listed.data =
        json!({"names": ["Mokhtar Belmokhtar"], "listing": {"list": "UN", "reference": "QDi.136"}});
    let entry = dz.record_add(&OP, listed).unwrap();
    pump(&all);
    let alerts = ma.alerts(&OP).unwrap();
    assert_eq!(alerts.len(), 1, "the list entry raised an alert at MA");
    assert_eq!(alerts[0].entry_id, entry);

    dz.record_retract(&OP, &entry).unwrap();
    pump(&all);
    assert!(
        ma.alerts(&OP).unwrap().is_empty(),
        "the alert outlived the entry"
    );

    // An envelope refused here keeps no body this node could open.
    let hostile = Hostile(&ma);
    let template = ma.record_add(&OP, person(&a, "Template")).unwrap();
    pump(&all);
    let mut body = held(&ma, &template).unwrap().body;
    body.id = format!("rec_00000000000000000000.{}", dz.id());
    body.data = json!({"names": ["Refused Marker Name"]});
    hostile.send_record(&a, &[dz.id(), tn.id()], hostile.sign(body), None);
    pump(&all);
    let entries = dz
        .store
        .read(|tx| tx.audit_entries(0, i64::MAX as u64))
        .unwrap();
    let refused = entries
        .iter()
        .find(|(e, _)| e.action == "envelope.reject")
        .map(|(e, _)| e.details["envelope"].as_str().unwrap().to_string())
        .expect("the forgery was refused");
    let id: [u8; 32] = hex::decode(refused).unwrap().try_into().unwrap();
    assert!(dz.store.read(|tx| tx.sync_envelope(&id)).unwrap().is_some());
    assert!(
        !dz.store.read(|tx| tx.sync_envelope_has_body(&id)).unwrap(),
        "the refused envelope's sealed body stayed"
    );
}

/// Past the list: a partner posts a record, or a message, in a file the
/// channel does not carry (where users of that file would see it at the
/// receiver). Refused, with an alarm, like the partner's own node would.
#[test]
fn a_partner_cannot_post_in_a_file_the_channel_does_not_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let template = ma.record_add(&OP, person(&a, "Template")).unwrap();
    pump(&all);
    let hostile = Hostile(&ma);
    let mut body = held(&ma, &template).unwrap().body;
    body.id = tansiq_core::ids::new_record_id(ma.id());
    body.file = "finance".into();
    hostile.send_record(&a, &[dz.id(), tn.id()], hostile.sign(body.clone()), None);
    hostile.send(
        &a,
        &[dz.id(), tn.id()],
        &Payload::Message {
            id: tansiq_core::ids::new_id("msg_"),
            channel: a.clone(),
            file: Some("finance".into()),
            precedence: "routine".into(),
            text: "for the finance file".into(),
            sent_at: "2026-12-04T00:00:00Z".into(),
            ack_required: false,
        },
    );
    pump(&all);
    for n in [&dz, &tn] {
        assert!(held(n, &body.id).is_none(), "{}", n.id());
        assert!(n.inbox(&OP).unwrap().is_empty(), "{}", n.id());
        assert_eq!(alarms(n, "hostile"), 2, "{}", n.id());
    }
}

/// Past the list: only a recipient acknowledges a message. TN, outside
/// DM, acknowledges DZ's FLASH there: refused; MA's acknowledgement
/// still counts.
#[test]
fn only_a_recipient_acknowledges_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let _a = form_channel(&dz, "A", &[&ma, &tn], &all);
    let msg = dz
        .send_message(&OP, &dm, None, "flash", "Attack in Algiers", true)
        .unwrap();
    pump(&all);
    let hostile = Hostile(&tn);
    // Over a channel TN shares with DZ (A), naming DZ's DM message.
    let a = _a;
    hostile.send(
        &a,
        &[dz.id(), ma.id()],
        &Payload::Ack {
            message: msg.clone(),
            at: "2026-12-04T00:00:00Z".into(),
        },
    );
    let _ = mt;
    pump(&all);
    assert_eq!(alarms(&dz, "hostile"), 1);
    assert_eq!(audited(&dz, "message.acked", tn.id()), 0);
    let unacked = dz.unacked_messages().unwrap();
    assert_eq!(unacked[0].awaiting, vec![ma.id().to_string()]);
    ma.ack_message(&OP, &msg).unwrap();
    pump(&all);
    assert!(dz.unacked_messages().unwrap().is_empty());
}

/// Past the list: only a record's owner releases it. MA signs a release
/// of DZ's record for MT and hands it to TN: refused, nothing stored.
#[test]
fn only_the_owner_releases_a_record() {
    use tansiq_core::release::{Release, SignedRelease};
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let r = dz.record_add(&OP, person(&dm, "Hassan Hattab")).unwrap();
    pump(&all);
    let mut members = vec![ma.id().to_string(), tn.id().to_string()];
    members.sort();
    let release = SignedRelease::sign(
        Release {
            record: r.clone(),
            originator: ma.id().to_string(),
            target_channel: mt.clone(),
            target_members: members,
            conditions: None,
            granted: "2026-12-04T00:00:00Z".into(),
        },
        &ma.identity,
    );
    Hostile(&ma).send(
        &mt,
        &[tn.id()],
        &Payload::ReleaseDecision {
            request: None,
            release: Some(release),
            refusal: None,
        },
    );
    pump(&all);
    assert_eq!(alarms(&tn, "hostile"), 1);
    assert!(tn.releases(&OP).unwrap().is_empty());
}

/// Finding 1 through a relay: DZ–MA with Tunisia as a permitted relay; the
/// direct link MA → DZ is cut, so MA's forged version of DZ's record goes
/// through TN, which holds it sealed for DZ and cannot open it. DZ refuses
/// it like one delivered directly.
#[test]
fn a_forged_version_through_a_relay_is_refused_like_one_delivered() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = dz
        .channel_create(
            &OP,
            "DM",
            vec![ma.id().to_string()],
            vec!["terrorism".into()],
            vec![tn.id().to_string()],
            None,
        )
        .unwrap();
    pump(&all);
    ma.channel_accept(&OP, &dm).unwrap();
    pump(&all);
    let r = dz
        .record_add(&OP, person(&dm, "Abdelmalek Droukdel"))
        .unwrap();
    pump(&all);
    let hostile = Hostile(&ma);
    let mut body = held(&ma, &r).unwrap().body;
    body.originator = ma.id().to_string();
    body.version = 7;
    body.data = json!({"names": ["Someone Else"]});
    hostile.send_record(&dm, &[dz.id()], hostile.sign(body), None);
    let cut = [(ma.id(), dz.id())];
    let t = std::time::Instant::now();
    while alarms(&dz, "hostile") == 0 && t.elapsed().as_secs() < 40 {
        pump_cut(&all, &cut, 1);
    }
    assert_eq!(
        alarms(&dz, "hostile"),
        1,
        "the relayed forgery reached DZ and was refused"
    );
    let got = dz.record_get(&OP, &r).unwrap();
    assert_eq!((got.version, got.originator.as_str()), (1, dz.id()));
    // The relay took custody of sealed envelopes only: no record of DM.
    assert!(held(&tn, &r).is_none());
    assert!(tn.audit_verify(&OP).unwrap().ok && dz.audit_verify(&OP).unwrap().ok);
}

/// From an insider's position: a liaison officer at Morocco, with the
/// terrorism file, acts on Algeria's record through the same services the
/// API calls. It cannot share it beyond its channel without Algeria's
/// release, correct it or retract it (only the originator does), and an
/// analyst cannot share at all. Each refusal names its rule and changes
/// nothing; the holder's audit log still verifies.
#[test]
fn an_insider_cannot_do_through_its_token_what_the_rules_forbid_the_node() {
    use tansiq_core::user::{Actor, Role, User};
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, tn) = maghreb(tmp.path());
    let all = [&dz, &ma, &tn];
    let dm = form_channel(&dz, "DM", &[&ma], &all);
    let mt = form_channel(&ma, "MT", &[&tn], &all);
    let r = dz.record_add(&OP, person(&dm, "Hassan Hattab")).unwrap();
    pump(&all);
    let files = ["terrorism".to_string()];
    let officer = Actor::User(User::new("amina", Role::Officer, &files).unwrap());
    let analyst = Actor::User(User::new("karim", Role::Analyst, &files).unwrap());
    let before = held(&ma, &r).unwrap();

    let e = ma.record_share(&officer, &r, &mt).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    assert!(e.to_string().contains("third-party rule"), "{e}");
    let e = ma
        .record_update(&officer, &r, json!({"names": ["Someone Else"]}), None, None)
        .unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    let e = ma.record_retract(&officer, &r).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    let e = ma.record_share(&analyst, &r, &mt).unwrap_err();
    assert_eq!(e.exit_code(), 3, "{e}");
    // Not even the operator of the holder may correct or retract it.
    assert_eq!(
        ma.record_update(&OP, &r, json!({"names": ["X"]}), None, None)
            .unwrap_err()
            .exit_code(),
        3
    );
    assert_eq!(ma.record_retract(&OP, &r).unwrap_err().exit_code(), 3);
    pump(&all);
    assert_eq!(held(&ma, &r).unwrap(), before);
    assert!(tn.record_get(&OP, &r).is_err(), "nothing reached Tunisia");
    assert_eq!(audited(&ma, "record.share.refused", &r), 2);
    assert!(ma.audit_verify(&OP).unwrap().ok);
}
