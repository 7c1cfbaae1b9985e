//! The analysts' and officers' workflows over the local API, as the user
//! the token names (issue 14, part 1): messages, releases, screening,
//! alerts, sync status. Each endpoint is tried by a user who may and by
//! one who may not; what the latter may not see is a 404 exactly like an
//! unknown id, and appears in no list or count.

mod common;

use std::sync::Arc;

use serde_json::{json, Value};

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::record::Kind;
use tansiq_core::user::Role;
use tansiq_node::records::NewRecord;
use tansiq_node::Node;

/// DZ (served over the API) and MA (in process) share channel `ch`
/// (files terrorism and recruitment); each also has a channel of its own.
struct Pair {
    _tmp: tempfile::TempDir,
    dz: Arc<Node>,
    ma: Arc<Node>,
    base: String,
    _stop: tokio::sync::oneshot::Sender<()>,
    ch: String,
    dz_own: String,
    ma_own: String,
    /// Officer, terrorism.
    omar: String,
    /// Officer, recruitment.
    rachid: String,
    /// Analyst, terrorism.
    amina: String,
    /// Auditor.
    aicha: String,
}

fn files() -> Vec<String> {
    vec!["terrorism".into(), "recruitment".into()]
}

fn pair() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ma = node(tmp.path(), "ma", "MA");
    trust(&[&dz, &ma]);
    let ch = dz
        .channel_create(&OP, "DZ-MA", vec![ma.id().into()], files(), vec![], None)
        .unwrap();
    pump(&[&dz, &ma]);
    ma.channel_accept(&OP, &ch).unwrap();
    pump(&[&dz, &ma]);
    let dz_own = dz
        .channel_create(&OP, "DZ national", vec![], files(), vec![], None)
        .unwrap();
    let ma_own = ma
        .channel_create(&OP, "MA national", vec![], files(), vec![], None)
        .unwrap();
    let user = |name: &str, role: Role, files: &[&str]| {
        dz.user_add(
            &OP,
            name,
            role,
            &files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let omar = user("omar", Role::Officer, &["terrorism"]);
    let rachid = user("rachid", Role::Officer, &["recruitment"]);
    let amina = user("amina", Role::Analyst, &["terrorism"]);
    let aicha = user("aicha", Role::Auditor, &[]);
    let dz = Arc::new(dz);
    let (base, stop) = serve_api(dz.clone());
    Pair {
        _tmp: tmp,
        dz,
        ma: Arc::new(ma),
        base,
        _stop: stop,
        ch,
        dz_own,
        ma_own,
        omar,
        rachid,
        amina,
        aicha,
    }
}

impl Pair {
    fn call(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        call(&self.base, method, path, Some(token), body)
    }
    fn pump(&self) {
        pump(&[&self.dz, &self.ma]);
    }
}

fn person(ch: &str, file: &str, name: &str) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: file.into(),
        kind: Kind::Person,
        data: json!({"names": [name]}),
        tlp: Some(Tlp::Amber),
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

/// Not visible and unknown are one answer: same status, same code.
fn same_as_unknown(seen: (u16, Value), unknown: (u16, Value)) {
    assert_eq!(seen.0, 404, "{}", seen.1);
    assert_eq!(unknown.0, 404, "{}", unknown.1);
    assert_eq!(seen.1["error"]["code"], unknown.1["error"]["code"]);
}

#[test]
fn messages_inbox_ack_and_unacknowledged_flash_as_the_user() {
    let p = pair();
    let send = |file: &str, prec: &str, text: &str| {
        p.ma.send_message(&OP, &p.ch, Some(file), prec, text, false)
            .unwrap()
    };
    let routine = send("terrorism", "routine", "weekly summary");
    let hidden = send("recruitment", "flash", "recruiter moved");
    let flash = send("terrorism", "flash", "convoy left at 04:10");
    p.pump();

    // FLASH first; only the user's files.
    let (s, v) = p.call("GET", "/api/v1/messages", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec![flash.clone(), routine.clone()]);
    let (_, v) = p.call("GET", "/api/v1/messages", &p.rachid, None);
    assert_eq!(ids(&v), vec![hidden.clone()]);
    let (s, v) = p.call("GET", "/api/v1/messages", &p.aicha, None);
    assert_eq!(s, 403, "{v}");

    // A message outside the user's files is not found, like an unknown one.
    same_as_unknown(
        p.call(
            "POST",
            &format!("/api/v1/messages/{hidden}/ack"),
            &p.omar,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/messages/msg_nosuchmessage/ack",
            &p.omar,
            None,
        ),
    );
    // Analysts read messages but do not acknowledge them.
    let (s, _) = p.call(
        "POST",
        &format!("/api/v1/messages/{flash}/ack"),
        &p.amina,
        None,
    );
    assert_eq!(s, 403);
    let (s, v) = p.call(
        "POST",
        &format!("/api/v1/messages/{flash}/ack"),
        &p.omar,
        None,
    );
    assert_eq!(s, 200, "{v}");
    let (s, _) = p.call(
        "POST",
        &format!("/api/v1/messages/{flash}/ack"),
        &p.omar,
        None,
    );
    assert_eq!(s, 400, "acknowledged twice");
    p.pump();
    assert!(p
        .ma
        .unacked_messages()
        .unwrap()
        .iter()
        .all(|u| u.id != flash));

    // Sending: officers, in their files, in a channel's file.
    let body = |file: &str| json!({"channel": p.ch, "file": file, "precedence": "flash", "text": "raid at dawn"});
    let (s, v) = p.call("POST", "/api/v1/messages", &p.omar, Some(body("terrorism")));
    assert_eq!(s, 200, "{v}");
    let sent = v["id"].as_str().unwrap().to_string();
    let (s, v) = p.call(
        "POST",
        "/api/v1/messages",
        &p.omar,
        Some(body("recruitment")),
    );
    assert_eq!(s, 403, "{v}");
    let (s, _) = p.call(
        "POST",
        "/api/v1/messages",
        &p.amina,
        Some(body("terrorism")),
    );
    assert_eq!(s, 403);
    let (s, _) = p.call(
        "POST",
        "/api/v1/messages",
        &p.omar,
        Some(json!({"channel": p.ch, "precedence": "urgent", "text": "x"})),
    );
    assert_eq!(s, 400);

    // The unacknowledged FLASH: to those who may read its file.
    let (s, v) = p.call("GET", "/api/v1/messages/unacknowledged", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec![sent.clone()]);
    assert_eq!(v[0]["awaiting"], json!([p.ma.id()]));
    let (_, v) = p.call("GET", "/api/v1/messages/unacknowledged", &p.rachid, None);
    assert_eq!(v, json!([]));
    let (s, _) = p.call("GET", "/api/v1/messages/unacknowledged", &p.aicha, None);
    assert_eq!(s, 403);
    // …and in the sync status, which every channel reader gets.
    let (s, v) = p.call("GET", "/api/v1/sync/status", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v["unacked"]), vec![sent.clone()]);
    assert_eq!(ids(&v["peers"]), vec![p.ma.id().to_string()]);
    for t in [&p.rachid, &p.aicha] {
        let (s, v) = p.call("GET", "/api/v1/sync/status", t, None);
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["unacked"], json!([]));
    }
    p.pump();
    let inbox = p.ma.inbox(&OP).unwrap();
    let m = inbox.iter().find(|m| m.id == sent).unwrap();
    p.ma.ack_message(&OP, &m.id).unwrap();
    p.pump();
    let (_, v) = p.call("GET", "/api/v1/messages/unacknowledged", &p.omar, None);
    assert_eq!(v, json!([]));
    assert!(p.dz.audit_verify(&OP).unwrap().ok);
}

#[test]
fn releases_requested_listed_granted_and_refused_as_the_user() {
    let p = pair();
    // Out: DZ asks MA to release MA's record into DZ's own channel.
    let ma_t =
        p.ma.record_add(&OP, person(&p.ch, "terrorism", "Hassan Hattab"))
            .unwrap();
    let ma_r =
        p.ma.record_add(&OP, person(&p.ch, "recruitment", "Recruiter Zeta"))
            .unwrap();
    p.pump();
    let ask = |t: &str, rec: &str| {
        p.call(
            "POST",
            "/api/v1/releases",
            t,
            Some(json!({"record": rec, "channel": p.dz_own, "reason": "national case"})),
        )
    };
    let (s, v) = ask(&p.omar, &ma_t);
    assert_eq!(s, 200, "{v}");
    let out = v["id"].as_str().unwrap().to_string();
    same_as_unknown(ask(&p.omar, &ma_r), ask(&p.omar, "rec_nosuchrecord0"));
    let (s, _) = ask(&p.amina, &ma_t);
    assert_eq!(s, 403, "analysts do not request releases");

    // In: MA asks DZ about two of DZ's records, one in each file.
    let dz_t =
        p.dz.record_add(&OP, person(&p.ch, "terrorism", "Abdelmalek Droukdel"))
            .unwrap();
    let dz_r =
        p.dz.record_add(&OP, person(&p.ch, "recruitment", "Mokhtar Belmokhtar"))
            .unwrap();
    p.pump();
    let req_t = p.ma.release_request(&OP, &dz_t, &p.ma_own, None).unwrap();
    let req_r = p.ma.release_request(&OP, &dz_r, &p.ma_own, None).unwrap();
    p.pump();

    // Each officer lists only requests about records it may see.
    let (s, v) = p.call("GET", "/api/v1/releases", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    let mut got = ids(&v);
    got.sort();
    let mut want = vec![out.clone(), req_t.clone()];
    want.sort();
    assert_eq!(got, want);
    let (_, v) = p.call("GET", "/api/v1/releases?direction=in", &p.omar, None);
    assert_eq!(ids(&v), vec![req_t.clone()]);
    let (_, v) = p.call("GET", "/api/v1/releases?direction=out", &p.omar, None);
    assert_eq!(ids(&v), vec![out.clone()]);
    let (_, v) = p.call("GET", "/api/v1/releases", &p.rachid, None);
    assert_eq!(ids(&v), vec![req_r.clone()]);
    let (s, _) = p.call("GET", "/api/v1/releases?direction=sideways", &p.omar, None);
    assert_eq!(s, 400);
    let (s, _) = p.call("GET", "/api/v1/releases", &p.amina, None);
    assert_eq!(s, 403);

    // Deciding on a request about a record the user may not see: 404.
    same_as_unknown(
        p.call(
            "POST",
            &format!("/api/v1/releases/{req_r}/grant"),
            &p.omar,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/releases/req_nosuchrequest/grant",
            &p.omar,
            None,
        ),
    );
    same_as_unknown(
        p.call(
            "POST",
            &format!("/api/v1/releases/{req_t}/refuse"),
            &p.rachid,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/releases/req_nosuchrequest/refuse",
            &p.rachid,
            None,
        ),
    );
    // Only the originator decides: DZ's own request to MA is not DZ's.
    same_as_unknown(
        p.call(
            "POST",
            &format!("/api/v1/releases/{out}/grant"),
            &p.omar,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/releases/req_nosuchrequest/grant",
            &p.omar,
            None,
        ),
    );
    let (s, v) = p.call(
        "POST",
        &format!("/api/v1/releases/{req_t}/grant"),
        &p.omar,
        Some(json!({"conditions": "no onward sharing"})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, _) = p.call(
        "POST",
        &format!("/api/v1/releases/{req_t}/grant"),
        &p.omar,
        None,
    );
    assert_eq!(s, 400, "granted twice");
    let (s, v) = p.call(
        "POST",
        &format!("/api/v1/releases/{req_r}/refuse"),
        &p.rachid,
        Some(json!({"reason": "source protection"})),
    );
    assert_eq!(s, 200, "{v}");
    p.pump();
    let at_ma = p.ma.releases(&OP).unwrap();
    let status = |id: &str| at_ma.iter().find(|r| r.id == id).unwrap().status.clone();
    assert_eq!(status(&req_t), "granted");
    assert_eq!(status(&req_r), "refused");

    // A release without a request, into another of DZ's channels.
    let direct = |t: &str, rec: &str| {
        p.call(
            "POST",
            &format!("/api/v1/records/{rec}/release"),
            t,
            Some(json!({"channel": p.dz_own})),
        )
    };
    let (s, v) = direct(&p.omar, &dz_t);
    assert_eq!(s, 200, "{v}");
    same_as_unknown(direct(&p.omar, &dz_r), direct(&p.omar, "rec_nosuchrecord0"));
    assert!(p.dz.audit_verify(&OP).unwrap().ok);
}

#[test]
fn screening_and_alerts_see_only_the_users_records() {
    let p = pair();
    p.dz.record_add(&OP, person(&p.ch, "terrorism", "Abdelmalek Droukdel"))
        .unwrap();
    p.dz.record_add(&OP, person(&p.ch, "recruitment", "Mokhtar Belmokhtar"))
        .unwrap();
    let names = json!({"names": [
        {"id": "q1", "name": "Abdelmalik Drukdal"},
        {"id": "q2", "name": "Mokhtar Belmokhtar", "nationality": ["DZ"]}
    ]});
    let (s, v) = p.call("POST", "/api/v1/screen", &p.amina, Some(names.clone()));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["query_id"], "q1");
    let hit = &v[0]["hits"][0];
    assert!(hit["score"].as_f64().unwrap() > 0.5, "{v}");
    assert!(!hit["explanation"].as_str().unwrap().is_empty(), "{v}");
    assert_eq!(v[1]["hits"], json!([]), "a recruitment record leaked: {v}");
    let (_, v) = p.call("POST", "/api/v1/screen", &p.rachid, Some(names.clone()));
    assert_eq!(v[0]["hits"], json!([]), "a terrorism record leaked: {v}");
    assert_eq!(v[1]["hits"][0]["matched_name"], "Mokhtar Belmokhtar");
    let (s, _) = p.call("POST", "/api/v1/screen", &p.aicha, Some(names.clone()));
    assert_eq!(s, 403);
    for bad in [
        json!({"names": [], "threshold": 2.0}),
        json!({"names": [], "top": 0}),
        json!({"names": [{"id": "q", "name": "x", "alias": "y"}]}),
        json!({"names": "Droukdel"}),
    ] {
        let (s, v) = p.call("POST", "/api/v1/screen", &p.amina, Some(bad));
        assert_eq!(s, 400, "{v}");
    }

    // A watchlist entry imported in terrorism raises an alert against the
    // terrorism record: its readers see it, the recruitment officer not.
    let import =
        |t: &str, file: &str| {
            p.call(
            "POST",
            "/api/v1/watchlists/import",
            t,
            Some(json!({"channel": p.ch, "file": file, "list": "UN", "entries": [
                {"id": "QDi.232", "kind": "person", "data": {"names": ["Abdelmalek Droukdal"]}}
            ]})),
        )
        };
    let (s, v) = import(&p.aicha, "terrorism");
    assert_eq!(s, 403, "{v}");
    let (s, v) = import(&p.amina, "recruitment");
    assert_eq!(s, 403, "a file the analyst is not assigned: {v}");
    let (s, v) = import(&p.amina, "terrorism");
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["created"], 1, "{v}");
    assert_eq!(v["alerts"], 1, "{v}");
    let (s, v) = import(&p.amina, "terrorism");
    assert_eq!((s, &v["unchanged"]), (200, &json!(1)), "{v}");
    let (s, v) = p.call("GET", "/api/v1/alerts", &p.amina, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert!(!v[0]["explanation"].as_str().unwrap().is_empty());
    let (_, v) = p.call("GET", "/api/v1/alerts", &p.rachid, None);
    assert_eq!(v, json!([]));
    let (s, _) = p.call("GET", "/api/v1/alerts", &p.aicha, None);
    assert_eq!(s, 403);
}

#[test]
fn record_history_shows_versions_and_retraction_to_those_who_may_see() {
    let p = pair();
    let rec =
        p.dz.record_add(&OP, person(&p.ch, "terrorism", "Abdelmalek Droukdel"))
            .unwrap();
    let (s, v) = p.call(
        "PUT",
        &format!("/api/v1/records/{rec}"),
        &p.omar,
        Some(json!({"data": {"names": ["Abdelmalek Droukdel", "Abu Musab Abdelwadoud"]}})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = p.call(
        "GET",
        &format!("/api/v1/records/{rec}/history"),
        &p.amina,
        None,
    );
    assert_eq!(s, 200, "{v}");
    let versions = v.as_array().unwrap();
    assert_eq!(versions.len(), 2, "{v}");
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[1]["version"], 2);
    assert_eq!(versions[1]["originator"], p.dz.id());
    assert!(versions[1]["created"].is_string());
    assert!(
        versions[0].get("data").is_none(),
        "content in a history: {v}"
    );
    // Not visible is not found, like an unknown id; no role, no history.
    same_as_unknown(
        p.call(
            "GET",
            &format!("/api/v1/records/{rec}/history"),
            &p.rachid,
            None,
        ),
        p.call(
            "GET",
            "/api/v1/records/rec_nosuchrecord0/history",
            &p.rachid,
            None,
        ),
    );
    let (s, _) = p.call(
        "GET",
        &format!("/api/v1/records/{rec}/history"),
        &p.aicha,
        None,
    );
    assert_eq!(s, 403);
    // The retraction is the last version; earlier content is purged.
    let (s, v) = p.call("DELETE", &format!("/api/v1/records/{rec}"), &p.omar, None);
    assert_eq!(s, 200, "{v}");
    let (_, v) = p.call(
        "GET",
        &format!("/api/v1/records/{rec}/history"),
        &p.omar,
        None,
    );
    let versions = v.as_array().unwrap();
    assert_eq!(versions.len(), 3, "{v}");
    assert_eq!(versions[2]["retracted"], true);
    assert_eq!(versions[0]["purged"], true);
    let audited = audit_log(&p.dz);
    assert!(audited
        .iter()
        .any(|e| e.action == "record.history" && e.actor.contains("amina")));
}

#[test]
fn channel_members_are_proposed_by_officers_not_analysts() {
    let p = pair();
    let tmp = tempfile::tempdir().unwrap();
    let tn = node(tmp.path(), "tn", "TN");
    trust(&[&p.dz, &p.ma, &tn]);
    let path = format!("/api/v1/channels/{}/members", p.ch);
    let body = json!({"add": [tn.id()]});
    let (s, _) = p.call("POST", &path, &p.amina, Some(body.clone()));
    assert_eq!(s, 403);
    let (s, v) = p.call("POST", &path, &p.omar, Some(body));
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], p.ch.as_str());
    // An unknown channel is bad input, as for every channel service
    // (channels are no secret from a node's users).
    let (s, v) = p.call(
        "POST",
        "/api/v1/channels/ch_nosuchchannel0/members",
        &p.omar,
        Some(json!({"add": [tn.id()]})),
    );
    assert_eq!(s, 400, "{v}");
    let (s, _) = p.call("POST", &path, &p.omar, Some(json!({"invite": []})));
    assert_eq!(s, 400);
}

/// The reference MA would be shown for DZ's `record` (docs/PROTOCOL.md
/// §10), computed from DZ's seed, as in tansiq-node's hits suite.
fn reference_for(holder: &Node, querier: &str, record: &str) -> String {
    let l = holder
        .hit_serve_list(querier, br#"{"have": null}"#)
        .ok()
        .flatten()
        .expect("a keyed list");
    let key_id = tansiq_node::hits::parse_list(&l.body)
        .unwrap()
        .header
        .key_id;
    let seed = tansiq_crypto::load_or_create_secret(
        &holder.dir.join("keys").join("hit.key"),
        "tansiq-hit-seed-v1",
    )
    .unwrap();
    let r =
        tansiq_crypto::oprf::reference(&seed, format!("{querier}\0{key_id}\0{record}").as_bytes());
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{key_id}:{hex}")
}

#[test]
fn hit_follow_ups_and_exposures_stay_within_the_users_files() {
    let p = pair();
    let hattab =
        p.dz.record_add(&OP, person(&p.dz_own, "terrorism", "Hassan Hattab"))
            .unwrap();
    let zeta =
        p.dz.record_add(&OP, person(&p.dz_own, "recruitment", "Recruiter Zeta"))
            .unwrap();
    let expose = |t: &str, file: &str| {
        p.call(
            "POST",
            "/api/v1/hits/exposures",
            t,
            Some(json!({"peer": p.ma.id(), "channel": p.dz_own, "file": file})),
        )
    };
    let (s, v) = expose(&p.omar, "terrorism");
    assert_eq!(s, 200, "{v}");
    let (s, v) = expose(&p.omar, "recruitment");
    assert_eq!(s, 403, "a file the officer is not assigned: {v}");
    let (s, _) = expose(&p.amina, "terrorism");
    assert_eq!(s, 403, "analysts expose nothing");
    let (s, v) = expose(&p.rachid, "recruitment");
    assert_eq!(s, 200, "{v}");
    let (_, v) = p.call("GET", "/api/v1/hits/exposures", &p.omar, None);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["file"], "terrorism");

    // A (modified) MA asks for both records by reference.
    let ctl = tansiq_node::federation::control_channel(p.ma.id(), p.dz.id());
    for (id, rec) in [("req_ma_hattab", &hattab), ("req_ma_zeta", &zeta)] {
        let reference = reference_for(&p.dz, p.ma.id(), rec);
        p.ma.send_unchecked(
            &ctl,
            tansiq_sync::Precedence::Immediate,
            vec![p.ma.id().to_string(), p.dz.id().to_string()],
            vec![],
            &tansiq_node::federation::Payload::HitRequest {
                id: id.into(),
                reference,
                channel: p.ch.clone(),
            },
        )
        .unwrap();
    }
    p.pump();
    let (s, v) = p.call("GET", "/api/v1/hits/requests", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(ids(&v), vec!["req_ma_hattab".to_string()]);
    let (_, v) = p.call("GET", "/api/v1/hits/requests", &p.rachid, None);
    assert_eq!(ids(&v), vec!["req_ma_zeta".to_string()]);
    let (s, _) = p.call("GET", "/api/v1/hits/requests", &p.amina, None);
    assert_eq!(s, 403);
    same_as_unknown(
        p.call(
            "POST",
            "/api/v1/hits/requests/req_ma_zeta/grant",
            &p.omar,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/hits/requests/req_nosuchreq/grant",
            &p.omar,
            None,
        ),
    );
    same_as_unknown(
        p.call(
            "POST",
            "/api/v1/hits/requests/req_ma_hattab/refuse",
            &p.rachid,
            None,
        ),
        p.call(
            "POST",
            "/api/v1/hits/requests/req_nosuchreq/refuse",
            &p.rachid,
            None,
        ),
    );
    let (s, v) = p.call(
        "POST",
        "/api/v1/hits/requests/req_ma_zeta/refuse",
        &p.rachid,
        Some(json!({"reason": "source protection"})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = p.call(
        "POST",
        "/api/v1/hits/requests/req_ma_hattab/grant",
        &p.omar,
        None,
    );
    assert_eq!(s, 200, "{v}");
    p.pump();
    assert!(p.ma.record_get(&OP, &hattab).is_ok());
    assert!(p.ma.record_get(&OP, &zeta).is_err());

    // Withdrawing: the user's files only.
    let withdraw = |t: &str, file: &str| {
        p.call(
            "POST",
            "/api/v1/hits/exposures/withdraw",
            t,
            Some(json!({"peer": p.ma.id(), "channel": p.dz_own, "file": file})),
        )
    };
    let (s, _) = withdraw(&p.omar, "recruitment");
    assert_eq!(s, 403);
    let (s, v) = withdraw(&p.omar, "terrorism");
    assert_eq!(s, 200, "{v}");
    // A follow-up request with a malformed reference is bad input.
    let (s, _) = p.call(
        "POST",
        "/api/v1/hits/requests",
        &p.omar,
        Some(json!({"reference": "nonsense"})),
    );
    assert_eq!(s, 400);
}

#[test]
fn audit_checkpoints_are_listed_for_auditors_only() {
    let p = pair();
    let (s, v) = p.call("POST", "/api/v1/audit/checkpoint", &p.aicha, None);
    assert_eq!(s, 200, "{v}");
    let (s, v) = p.call("GET", "/api/v1/audit/checkpoints?limit=2", &p.aicha, None);
    assert_eq!(s, 200, "{v}");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2, "{v}");
    assert!(
        list[0]["size"].as_u64() > list[1]["size"].as_u64(),
        "newest first: {v}"
    );
    assert!(list[0]["witnesses"].is_array());
    let (s, _) = p.call("GET", "/api/v1/audit/checkpoints", &p.omar, None);
    assert_eq!(s, 403);
    let (s, _) = p.call(
        "GET",
        "/api/v1/audit/checkpoints?limit=many",
        &p.aicha,
        None,
    );
    assert_eq!(s, 400);
}

#[test]
fn the_new_endpoints_are_in_the_openapi_document() {
    let doc = tansiq_api::local::openapi_document();
    for path in [
        "/api/v1/messages",
        "/api/v1/messages/unacknowledged",
        "/api/v1/messages/{id}/ack",
        "/api/v1/releases",
        "/api/v1/releases/{id}/grant",
        "/api/v1/releases/{id}/refuse",
        "/api/v1/records/{id}/release",
        "/api/v1/alerts",
        "/api/v1/screen",
        "/api/v1/sync/status",
        "/api/v1/records/{id}/history",
        "/api/v1/channels/{id}/members",
        "/api/v1/hits/requests",
        "/api/v1/hits/requests/{id}/grant",
        "/api/v1/hits/requests/{id}/refuse",
        "/api/v1/hits/exposures",
        "/api/v1/hits/exposures/withdraw",
        "/api/v1/hits/query",
        "/api/v1/hits/rotate",
        "/api/v1/audit/checkpoints",
        "/api/v1/audit/witnesses",
        "/api/v1/watchlists/import",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undocumented");
    }
    let api_md = include_str!("../../../docs/API.md");
    for p in [
        "/api/v1/messages",
        "/api/v1/releases",
        "/api/v1/screen",
        "/api/v1/alerts",
        "/api/v1/sync/status",
        "/api/v1/records/{id}/history",
        "/api/v1/channels/{id}/members",
        "/api/v1/hits/requests",
        "/api/v1/hits/requests/{id}/grant",
        "/api/v1/hits/exposures",
        "/api/v1/hits/exposures/withdraw",
        "/api/v1/hits/query",
        "/api/v1/hits/rotate",
    ] {
        assert!(api_md.contains(p), "{p} not in docs/API.md");
    }
}

#[test]
fn every_list_a_user_reads_leaves_an_audit_leaf_naming_them() {
    let p = pair();
    let reads = [
        ("/api/v1/messages", "message.list"),
        ("/api/v1/messages/unacknowledged", "message.unacked"),
        ("/api/v1/releases", "release.list"),
        ("/api/v1/alerts", "alert.list"),
        ("/api/v1/hits/requests", "hit.request.list"),
        ("/api/v1/sync/status", "sync.status"),
    ];
    let leaves = |action: &str| {
        audit_log(&p.dz)
            .into_iter()
            .filter(|e| e.action == action && e.actor.contains("omar"))
            .count()
    };
    for (path, action) in reads {
        assert_eq!(leaves(action), 0, "{action} before any read");
        let (s, v) = p.call("GET", path, &p.omar, None);
        assert_eq!(s, 200, "{path}: {v}");
        assert_eq!(leaves(action), 1, "{path} leaves one {action} leaf");
    }
    // The monitor's scrape (an auditor's token: counts and ages only) is
    // not audited.
    let scraper = p.dz.user_add(&OP, "scraper", Role::Auditor, &[]).unwrap();
    let before = p.dz.store.read(|tx| tx.audit_count()).unwrap();
    let (s, _) = p.call("GET", "/metrics", &scraper, None);
    assert_eq!(s, 200);
    assert_eq!(p.dz.store.read(|tx| tx.audit_count()).unwrap(), before);
}

#[test]
fn hit_queries_are_asked_as_the_user_over_the_partners_real_endpoint() {
    let p = pair();
    p.ma.record_add(&OP, person(&p.ma_own, "terrorism", "Hassan Hattab"))
        .unwrap();
    p.ma.query_allow(&OP, p.dz.id(), &p.ma_own, "terrorism", Some(1000))
        .unwrap();
    let _partner = serve_partner(p.ma.clone());
    let ask = |token: &str, queries: Value| {
        p.call(
            "POST",
            "/api/v1/hits/query",
            token,
            Some(json!({"peer": p.ma.id(), "queries": queries})),
        )
    };
    let two = json!([
        {"id": "Q1", "names": ["حسان حطاب", "Hassan Hattab"]},
        {"id": "Q2", "names": ["Nobody Known"], "nationality": "dz"}
    ]);
    // An officer and an analyst may ask; the answers are per query.
    for token in [&p.omar, &p.amina] {
        let (s, v) = ask(token, two.clone());
        assert_eq!(s, 200, "{v}");
        assert_eq!(v[0]["query_id"], "Q1");
        assert_eq!(v[0]["hit"], true, "{v}");
        assert!(v[0]["reference"].as_str().is_some_and(|r| r.contains(':')));
        assert_eq!(v[1]["hit"], false, "{v}");
        assert!(v[1]["reference"].is_null());
    }
    // One entry per ask in DZ's audit log, naming the user.
    let asked = audit_log(&p.dz)
        .into_iter()
        .filter(|e| e.action == "hit.query")
        .map(|e| e.actor)
        .collect::<Vec<_>>();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[0].contains("omar") && asked[1].contains("amina"));
    // An auditor may not; bad subjects are refused before anything is
    // asked, naming the query and the field.
    let (s, _) = ask(&p.aicha, two.clone());
    assert_eq!(s, 403);
    for (bad, says) in [
        (json!([{"id": "Q1", "names": []}]), "names"),
        (
            json!([{"id": "Q1", "names": ["A B"], "birth_date": "1970-13"}]),
            "birth_date",
        ),
        (
            json!([{"id": "Q1", "names": ["A B"], "nationality": "XX"}]),
            "nationality",
        ),
        (
            json!([{"id": "Q1", "names": ["A"]}, {"id": "Q1", "names": ["B"]}]),
            "twice",
        ),
        (json!([{"id": "", "names": ["A"]}]), "query id"),
        (json!([{"id": "Q1", "names": ["A"], "extra": 1}]), "extra"),
    ] {
        let (s, v) = ask(&p.omar, bad.clone());
        assert_eq!(s, 400, "{bad}: {v}");
        assert!(v.to_string().contains(says), "{bad}: {v}");
    }
    // A peer this node does not know: not found, nothing asked.
    let (s, v) = p.call(
        "POST",
        "/api/v1/hits/query",
        &p.omar,
        Some(json!({"peer": "tqaaaaaaaaaaaaaaaa", "queries": two.clone()})),
    );
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("not a known peer"), "{v}");
    // The partner down: 502 naming it, without the network's details.
    drop(_partner);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (s, v) = ask(&p.omar, two.clone());
    assert_eq!(s, 502, "{v}");
    assert_eq!(v["error"]["code"], "partner", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(p.ma.id()) && !msg.contains("127.0.0.1"),
        "{msg}"
    );
    let after = p.dz.store.read(|tx| tx.audit_count()).unwrap();
    let (s, v) = p.call("POST", "/api/v1/hits/rotate", &p.omar, None);
    assert_eq!(s, 200, "{v}");
    assert!(v["key_id"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(p.dz.store.read(|tx| tx.audit_count()).unwrap() > after);
    let (s, _) = p.call("POST", "/api/v1/hits/rotate", &p.amina, None);
    assert_eq!(s, 403);
}

#[test]
fn auditors_see_who_witnesses_the_log_and_officers_do_not() {
    let p = pair();
    let (s, v) = p.call("GET", "/api/v1/audit/witnesses", &p.aicha, None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v[0]["peer"], p.ma.id());
    assert!(v[0]["cosigned_size"].is_null(), "{v}");
    // A witness round each way: MA cosigns DZ's log, DZ witnesses MA's.
    p.dz.witness_round().unwrap();
    p.ma.witness_round().unwrap();
    p.pump();
    p.ma.witness_round().unwrap();
    p.pump();
    let (s, v) = p.call("GET", "/api/v1/audit/witnesses", &p.aicha, None);
    assert_eq!(s, 200, "{v}");
    assert!(v[0]["cosigned_size"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert!(
        v[0]["witnessed_size"].as_u64().is_some_and(|n| n > 0),
        "{v}"
    );
    assert!(v[0]["witnessed_root"].is_string(), "{v}");
    for t in [&p.omar, &p.amina] {
        let (s, _) = p.call("GET", "/api/v1/audit/witnesses", t, None);
        assert_eq!(s, 403);
    }
}

#[test]
fn charters_are_carried_by_hand_through_the_api() {
    let p = pair();
    // MA proposes a channel to DZ; the charter travels by hand.
    let ch =
        p.ma.channel_create(
            &OP,
            "MA-DZ by hand",
            vec![p.dz.id().into()],
            files(),
            vec![],
            None,
        )
        .unwrap();
    let charter = serde_json::to_value(p.ma.channel_export(&OP, &ch).unwrap()).unwrap();
    let import = |t: &str, body: Value| p.call("POST", "/api/v1/channels/import", t, Some(body));
    let (s, _) = import(&p.amina, charter.clone());
    assert_eq!(s, 403, "an analyst manages no channels");
    let (s, v) = import(&p.omar, json!({"charter": 1}));
    assert_eq!(s, 400, "{v}");
    // A charter not naming DZ, and one whose signature was altered.
    let own = serde_json::to_value(p.ma.channel_export(&OP, &p.ma_own).unwrap()).unwrap();
    let (s, v) = import(&p.omar, own);
    assert_eq!(s, 400, "{v}");
    let mut forged = charter.clone();
    forged["charter"]["name"] = json!("renamed on the way");
    let (s, v) = import(&p.omar, forged);
    assert!(s == 400 || s == 403, "{s} {v}");
    // Nothing was taken in (an unknown channel is bad input, as everywhere).
    let (s, v) = p.call(
        "GET",
        &format!("/api/v1/channels/{ch}/charter"),
        &p.omar,
        None,
    );
    assert_eq!(s, 400, "{v}");
    assert!(v.to_string().contains("has no channel"), "{v}");
    let (s, v) = import(&p.omar, charter);
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], ch.as_str());
    // DZ's co-signed charter goes back the same way.
    let (s, _) = p.call(
        "POST",
        &format!("/api/v1/channels/{ch}/accept"),
        &p.omar,
        None,
    );
    assert_eq!(s, 200);
    let (s, back) = p.call(
        "GET",
        &format!("/api/v1/channels/{ch}/charter"),
        &p.omar,
        None,
    );
    assert_eq!(s, 200, "{back}");
    assert!(back["signatures"][p.dz.id()].is_string(), "{back}");
    let st =
        p.ma.channel_import(&OP, back.to_string().as_bytes())
            .unwrap();
    assert_eq!(st.status, "active", "{st:?}");
    let exported = audit_log(&p.dz)
        .into_iter()
        .filter(|e| e.action == "channel.export" && e.actor.contains("omar"))
        .count();
    assert_eq!(exported, 1);
}
