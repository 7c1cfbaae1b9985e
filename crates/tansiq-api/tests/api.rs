//! The local HTTP API against a real server on loopback: token auth, role
//! and need-to-know enforcement (nothing leaks through lists, counts,
//! search, links or errors), error mapping, the OpenAPI document.

mod common;

use std::sync::Arc;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link, LinkType};
use tansiq_core::user::{Actor, Role};
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};

struct Api {
    base: String,
    client: Client,
    node: Arc<Node>,
    _tmp: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Api {
    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(url),
            "POST" => self.client.post(url),
            "PUT" => self.client.put(url),
            "DELETE" => self.client.delete(url),
            m => panic!("method {m}"),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

fn start() -> Api {
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::init(
        &tmp.path().join("n"),
        &InitOptions {
            name: "DRS Algeria",
            country: "DZ",
            listen: "127.0.0.1:7401",
            endpoint: None,
            api_listen: Some("127.0.0.1:0"),
            store: None,
        },
    )
    .unwrap();
    let node = Arc::new(node);
    let (base, stop) = common::serve_api(node.clone());
    Api {
        base,
        client: Client::new(),
        node,
        _tmp: tmp,
        _stop: stop,
    }
}

struct World {
    api: Api,
    ch: String,
    terror_amber: String,
    terror_red: String,
    recruit: String,
    officer: String,
    analyst: String,
    recruiter_analyst: String,
    admin: String,
    auditor: String,
}

fn world() -> World {
    let api = start();
    let op = Actor::Operator;
    let node = &api.node;
    let ch = node
        .channel_create(
            &op,
            "DZ national",
            vec![],
            vec!["terrorism".into(), "recruitment".into()],
            vec![],
            None,
        )
        .unwrap();
    let add = |file: &str, tlp: Tlp, name: &str, links: Vec<Link>| {
        node.record_add(
            &op,
            NewRecord {
                channel: ch.clone(),
                file: file.into(),
                kind: Kind::Person,
                data: json!({"names": [name]}),
                tlp: Some(tlp),
                code: None,
                evaluation: None,
                expires: None,
                links,
            },
        )
        .unwrap()
    };
    let terror_amber = add("terrorism", Tlp::Amber, "Abdelmalek Droukdel", vec![]);
    let terror_red = add("terrorism", Tlp::Red, "Secret Source Alpha", vec![]);
    let recruit = add(
        "recruitment",
        Tlp::Amber,
        "Recruiter Zeta",
        vec![Link {
            rel: LinkType::RecruitsFor,
            target: terror_amber.clone(),
            from: None,
            until: None,
            note: None,
        }],
    );
    let user = |name: &str, role: Role, files: &[&str]| {
        node.user_add(
            &op,
            name,
            role,
            &files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
        .unwrap()
    };
    World {
        officer: user("omar", Role::Officer, &["terrorism"]),
        analyst: user("amina", Role::Analyst, &["terrorism"]),
        recruiter_analyst: user("rachid", Role::Analyst, &["recruitment"]),
        admin: user("adel", Role::Admin, &["terrorism", "recruitment"]),
        auditor: user("aicha", Role::Auditor, &["terrorism"]),
        api,
        ch,
        terror_amber,
        terror_red,
        recruit,
    }
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn tokens_are_required() {
    let w = world();
    let (s, body) = w.api.call("GET", "/api/v1/records", None, None);
    assert_eq!(s, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (s, _) = w.api.call(
        "GET",
        "/api/v1/records",
        Some("tqk_not-a-real-token-at-all-000000000000000"),
        None,
    );
    assert_eq!(s, 401);
    let (s, _) = w.api.call("GET", "/api/v1/records", Some("garbage"), None);
    assert_eq!(s, 401);
}

#[test]
fn need_to_know_holds_in_lists_search_get_links_and_errors() {
    let w = world();
    let a = &w.api;
    // officer, terrorism: amber and red terrorism records, not recruitment
    let (s, v) = a.call("GET", "/api/v1/records", Some(&w.officer), None);
    assert_eq!(s, 200);
    let mut got = ids(&v);
    got.sort();
    let mut want = vec![w.terror_amber.clone(), w.terror_red.clone()];
    want.sort();
    assert_eq!(got, want);
    // analyst, terrorism: no TLP:RED
    let (_, v) = a.call("GET", "/api/v1/records", Some(&w.analyst), None);
    assert_eq!(ids(&v), vec![w.terror_amber.clone()]);
    let (s, v) = a.call(
        "GET",
        &format!("/api/v1/records/{}", w.terror_red),
        Some(&w.analyst),
        None,
    );
    assert_eq!(s, 404, "{v}");
    // the same answer as for a record that does not exist
    let (s2, v2) = a.call(
        "GET",
        "/api/v1/records/rec_doesnotexist00",
        Some(&w.analyst),
        None,
    );
    assert_eq!(s2, 404);
    assert_eq!(v["error"]["code"], v2["error"]["code"]);
    // analyst, recruitment: sees only its file; search does not reveal the rest
    let (_, v) = a.call(
        "GET",
        "/api/v1/records?name=droukdel",
        Some(&w.recruiter_analyst),
        None,
    );
    assert_eq!(ids(&v), Vec::<String>::new());
    let (_, v) = a.call(
        "GET",
        "/api/v1/records?name=zeta",
        Some(&w.recruiter_analyst),
        None,
    );
    assert_eq!(ids(&v), vec![w.recruit.clone()]);
    // the link from the recruiter to a terrorism record is hidden from it
    let (s, v) = a.call(
        "GET",
        &format!("/api/v1/records/{}/links", w.recruit),
        Some(&w.recruiter_analyst),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v, json!([]));
    // the officer sees the other end? No: it lacks the recruitment file
    let (s, _) = a.call(
        "GET",
        &format!("/api/v1/records/{}/links", w.recruit),
        Some(&w.officer),
        None,
    );
    assert_eq!(s, 404);
    // filters by file do not bypass the scope
    let (_, v) = a.call(
        "GET",
        "/api/v1/records?file=recruitment",
        Some(&w.analyst),
        None,
    );
    assert_eq!(ids(&v), Vec::<String>::new());
    // admin and auditor read no content, even with files assigned
    for t in [&w.admin, &w.auditor] {
        let (s, v) = a.call("GET", "/api/v1/records", Some(t), None);
        assert_eq!(s, 403, "{v}");
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("role rule"));
        let (s, _) = a.call(
            "GET",
            &format!("/api/v1/records/{}", w.terror_amber),
            Some(t),
            None,
        );
        assert_eq!(s, 403);
    }
}

#[test]
fn writes_follow_role_file_and_handling() {
    let w = world();
    let a = &w.api;
    let body = |file: &str, tlp: &str| json!({"channel": w.ch, "file": file, "kind": "person", "data": {"names": ["X"]}, "tlp": tlp});
    let (s, v) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.analyst),
        Some(body("terrorism", "amber")),
    );
    assert_eq!(s, 200, "{v}");
    let new_id = v["id"].as_str().unwrap().to_string();
    let (s, v) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.analyst),
        Some(body("terrorism", "red")),
    );
    assert_eq!(s, 403);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("handling rule"));
    let (s, v) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.analyst),
        Some(body("recruitment", "amber")),
    );
    assert_eq!(s, 403);
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("need-to-know rule"));
    let (s, _) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.admin),
        Some(body("terrorism", "amber")),
    );
    assert_eq!(s, 403);
    // bad input → 400 with a message, unknown fields rejected
    let (s, v) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.officer),
        Some(
            json!({"channel": w.ch, "file": "terrorism", "kind": "person", "data": {"names": "X"}}),
        ),
    );
    assert_eq!(s, 400, "{v}");
    let (s, _) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.officer),
        Some(json!({"channel": w.ch, "file": "terrorism", "kind": "alien", "data": {}})),
    );
    assert_eq!(s, 400);
    let (s, _) = a.call(
        "POST",
        "/api/v1/records",
        Some(&w.officer),
        Some(json!({"bogus": 1})),
    );
    assert_eq!(s, 400);
    // update and retract by an assigned officer
    let (s, v) = a.call(
        "PUT",
        &format!("/api/v1/records/{new_id}"),
        Some(&w.officer),
        Some(json!({"data": {"names": ["Y"]}})),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["version"], 2);
    let (s, _) = a.call(
        "DELETE",
        &format!("/api/v1/records/{new_id}"),
        Some(&w.officer),
        None,
    );
    assert_eq!(s, 200);
    let (s, _) = a.call(
        "GET",
        &format!("/api/v1/records/{new_id}"),
        Some(&w.officer),
        None,
    );
    assert_eq!(s, 200);
    // analysts may not share
    let (s, _) = a.call(
        "POST",
        &format!("/api/v1/records/{}/share", w.terror_amber),
        Some(&w.analyst),
        Some(json!({"channel": w.ch})),
    );
    assert_eq!(s, 403);
}

#[test]
fn every_read_is_audited_and_the_log_verifies() {
    let w = world();
    let a = &w.api;
    let (_, before) = a.call("GET", "/api/v1/audit/checkpoint", Some(&w.auditor), None);
    a.call(
        "GET",
        &format!("/api/v1/records/{}", w.terror_amber),
        Some(&w.officer),
        None,
    );
    a.call("GET", "/api/v1/records", Some(&w.officer), None);
    let (s, after) = a.call("POST", "/api/v1/audit/checkpoint", Some(&w.auditor), None);
    assert_eq!(s, 200);
    assert_eq!(
        after["size"].as_u64().unwrap(),
        before["size"].as_u64().unwrap() + 3,
        "read, list and the checkpoint request each append a leaf"
    );
    let (s, v) = a.call("GET", "/api/v1/audit/verify", Some(&w.auditor), None);
    assert_eq!(s, 200);
    assert_eq!(v["ok"], true, "{v}");
    let (s, _) = a.call("GET", "/api/v1/audit/verify", Some(&w.analyst), None);
    assert_eq!(s, 403);
}

#[test]
fn admin_manages_users_and_channels_and_openapi_is_served() {
    let w = world();
    let a = &w.api;
    // an admin creates auditors (no files); see
    // an_api_admin_cannot_mint_record_access for what it may not create
    let (s, v) = a.call(
        "POST",
        "/api/v1/users",
        Some(&w.admin),
        Some(json!({"name": "nadia", "role": "auditor"})),
    );
    assert_eq!(s, 200, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    let (s, _) = a.call("GET", "/api/v1/audit/checkpoint", Some(&token), None);
    assert_eq!(s, 200);
    let (s, _) = a.call(
        "POST",
        "/api/v1/users",
        Some(&w.officer),
        Some(json!({"name": "x", "role": "admin"})),
    );
    assert_eq!(s, 403);
    let (s, v) = a.call("GET", "/api/v1/users", Some(&w.admin), None);
    assert_eq!(s, 200);
    assert!(v.to_string().contains("nadia"));
    assert!(!v.to_string().contains(&token));
    let (s, v) = a.call(
        "POST",
        "/api/v1/channels",
        Some(&w.officer),
        Some(json!({"name": "second", "files": ["terrorism"]})),
    );
    assert_eq!(s, 200, "{v}");
    let (s, v) = a.call("GET", "/api/v1/channels", Some(&w.auditor), None);
    assert_eq!(s, 200);
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (s, v) = a.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(s, 200);
    assert_eq!(v["openapi"], "3.1.0");
    assert!(v["paths"]["/api/v1/records"]["get"].is_object());
    let eval = &v["components"]["schemas"]["NewRecord"]["properties"]["evaluation"];
    assert!(
        eval["description"].as_str().unwrap().contains("EU:X3"),
        "{eval}"
    );
    let (s, v) = a.call("GET", "/api/v1/nowhere", Some(&w.admin), None);
    assert_eq!(s, 404);
    assert_eq!(v["error"]["code"], "not_found");
}

/// Issue 12, finding 10: the record view carried every link of the signed
/// body, so `GET /records/{id}` (and lists and searches) named records the
/// caller may not see; `/links` filtered them. Now no answer names one.
#[test]
fn record_views_name_no_record_the_caller_may_not_see() {
    let w = world();
    let a = &w.api;
    // rachid (analyst, recruitment) sees the recruiter, whose body links
    // to a terrorism record he may not see.
    for path in [
        format!("/api/v1/records/{}", w.recruit),
        "/api/v1/records".to_string(),
        "/api/v1/records?name=zeta".to_string(),
    ] {
        let (s, v) = a.call("GET", &path, Some(&w.recruiter_analyst), None);
        assert_eq!(s, 200, "{path}: {v}");
        assert!(v.to_string().contains(&w.recruit), "{path}: {v}");
        assert!(
            !v.to_string().contains(&w.terror_amber),
            "{path} leaks a hidden record's id: {v}"
        );
    }
    // a reader who may see both ends still gets the link
    let op = Actor::Operator;
    let both = w
        .api
        .node
        .user_add(
            &op,
            "samir",
            Role::Officer,
            &["terrorism".to_string(), "recruitment".to_string()],
        )
        .unwrap();
    let (s, v) = a.call(
        "GET",
        &format!("/api/v1/records/{}", w.recruit),
        Some(&both),
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v["links"][0]["target"], w.terror_amber.as_str(), "{v}");
}

/// Issue 12, finding 12 (API): an unauthenticated request was parsed
/// before its token was looked at (400 before 401, so anyone could probe
/// the API's shape), and query-string errors came back as text/plain.
/// Now every route but the OpenAPI document authenticates first, and
/// every error is JSON.
#[test]
fn requests_are_authenticated_before_they_are_parsed() {
    let w = world();
    let a = &w.api;
    for (method, path, body) in [
        ("POST", "/api/v1/records", Some(json!({"bogus": 1}))),
        ("GET", "/api/v1/records?limit=abc", None),
        ("GET", "/api/v1/records?bogus=1", None),
        ("GET", "/api/v1/nowhere", None),
        ("PUT", "/api/v1/users", Some(json!({}))),
        ("POST", "/api/v1/users", Some(json!({"name": "x"}))),
        ("DELETE", "/api/v1/users/adel", None),
    ] {
        for token in [None, Some("tqk_not-a-real-token-at-all-000000000000000")] {
            let (s, v) = a.call(method, path, token, body.clone());
            assert_eq!(s, 401, "{method} {path}: {v}");
            assert_eq!(v["error"]["code"], "unauthorized", "{method} {path}: {v}");
        }
    }
    let resp = a
        .client
        .post(format!("{}/api/v1/records", a.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A body past the size bound is not even read without a token: the
    // 401 comes back while most of the declared body is still unsent. With
    // a token, the body is read up to the bound and refused as too large.
    // (Raw sockets: the server answers before the body ends and closes, so
    // an HTTP client still writing could see the reset first.)
    let answer = |auth: &str, sent: usize| -> String {
        use std::io::{Read as _, Write as _};
        let addr = a.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let head = format!(
            "POST /api/v1/records HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            4 * 1024 * 1024
        );
        s.write_all(head.as_bytes()).unwrap();
        let _ = s.write_all(&vec![b' '; sent]);
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let r = answer("", 1024);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = answer(
        &format!("Authorization: Bearer {}\r\n", w.officer),
        1024 * 1024 + 4096,
    );
    assert!(r.starts_with("HTTP/1.1 413"), "{r}");
    // With a token, a bad query string is a JSON 400 like every other
    // bad input, and a wrong method a JSON 405.
    for path in ["/api/v1/records?limit=abc", "/api/v1/records?bogus=1"] {
        let resp = a
            .client
            .get(format!("{}{path}", a.base))
            .bearer_auth(&w.officer)
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let v: Value = resp.json().unwrap();
        assert_eq!(v["error"]["code"], "bad_input", "{path}: {v}");
    }
    // a path segment that is not UTF-8 once decoded: JSON too
    let resp = a
        .client
        .get(format!("{}/api/v1/records/%FF", a.base))
        .bearer_auth(&w.officer)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let v: Value = resp.json().expect("a JSON error");
    assert_eq!(v["error"]["code"], "bad_input", "{v}");
    let (s, v) = a.call("PUT", "/api/v1/users", Some(&w.admin), Some(json!({})));
    assert_eq!(s, 405, "{v}");
    assert_eq!(v["error"]["code"], "method_not_allowed", "{v}");
    // the OpenAPI document stays public
    let (s, _) = a.call("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(s, 200);
}

/// The actions of the audit log, in order.
fn audit_actions(node: &Node) -> Vec<(String, String, String)> {
    node.store
        .read(|tx| {
            let n = tx.audit_count()?;
            tx.audit_entries(0, n)
        })
        .unwrap()
        .into_iter()
        .map(|(e, _)| (e.actor, e.action, e.object))
        .collect()
}

/// Issue 12, finding 8: an admin created an officer with every file
/// through `POST /api/v1/users` and read TLP:RED records with its token.
/// Now only the operator at the node grants record access (grant rule):
/// an API admin creates auditors without files — not officers, analysts
/// or fellow admins (which would outlive its own revocation) — and may
/// not rotate (take over) the token of a user it could not have created.
#[test]
fn an_api_admin_cannot_mint_record_access() {
    let w = world();
    let a = &w.api;
    let before = a.call("GET", "/api/v1/users", Some(&w.admin), None).1;
    for body in [
        json!({"name": "mole", "role": "officer", "files": ["terrorism", "recruitment"]}),
        json!({"name": "mole", "role": "officer"}),
        json!({"name": "mole", "role": "analyst", "files": ["terrorism"]}),
        json!({"name": "mole", "role": "admin", "files": ["terrorism"]}),
        json!({"name": "mole", "role": "admin"}),
        json!({"name": "mole", "role": "auditor", "files": ["terrorism"]}),
    ] {
        let (s, v) = a.call("POST", "/api/v1/users", Some(&w.admin), Some(body.clone()));
        assert_eq!(s, 403, "{body}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("grant rule"),
            "{v}"
        );
    }
    assert_eq!(
        a.call("GET", "/api/v1/users", Some(&w.admin), None).1,
        before
    );
    // nor by taking an existing user's name
    let (s, v) = a.call(
        "POST",
        "/api/v1/users",
        Some(&w.admin),
        Some(json!({"name": "omar", "role": "auditor"})),
    );
    assert_eq!(s, 400, "{v}");
    assert_eq!(
        a.call("GET", "/api/v1/users", Some(&w.admin), None).1,
        before
    );
    // taking over an officer's token is a grant too
    let (s, v) = a.call("POST", "/api/v1/users/omar/token", Some(&w.admin), None);
    assert_eq!(s, 403, "{v}");
    let (s, _) = a.call("GET", "/api/v1/records", Some(&w.officer), None);
    assert_eq!(
        s, 200,
        "the refused rotation left the officer's token alone"
    );
    // a rotation of an auditor it could have created is fine
    let (s, v) = a.call(
        "POST",
        "/api/v1/users/aicha/token",
        Some(&w.admin),
        Some(json!({"expires": "7d"})),
    );
    assert_eq!(
        s, 403,
        "aicha has files, which only the operator gives: {v}"
    );
    let (s, v) = a.call(
        "POST",
        "/api/v1/users",
        Some(&w.admin),
        Some(json!({"name": "audra", "role": "auditor"})),
    );
    assert_eq!(s, 200, "{v}");
    let old = v["token"].as_str().unwrap().to_string();
    let (s, v) = a.call("POST", "/api/v1/users/audra/token", Some(&w.admin), None);
    assert_eq!(s, 200, "{v}");
    let new = v["token"].as_str().unwrap().to_string();
    assert_eq!(
        a.call("GET", "/api/v1/audit/verify", Some(&old), None).0,
        401
    );
    assert_eq!(
        a.call("GET", "/api/v1/audit/verify", Some(&new), None).0,
        200
    );
    // no other role reaches the user routes at all
    for t in [&w.officer, &w.analyst, &w.auditor, &new] {
        for (m, p, b) in [
            ("GET", "/api/v1/users", None),
            (
                "POST",
                "/api/v1/users",
                Some(json!({"name": "x", "role": "auditor"})),
            ),
            ("DELETE", "/api/v1/users/adel", None),
            ("POST", "/api/v1/users/adel/token", None),
            ("DELETE", "/api/v1/users/adel/token", None),
        ] {
            let (s, v) = a.call(m, p, Some(t), b);
            assert_eq!(s, 403, "{m} {p}: {v}");
        }
    }
    // every refused grant is audited
    let refused: Vec<_> = audit_actions(&a.node)
        .into_iter()
        .filter(|(actor, action, _)| actor == "user:adel" && action == "user.grant.refused")
        .collect();
    assert_eq!(refused.len(), 8, "{refused:?}");
}

/// Issue 12, finding 8: nothing could be revoked. Now a token dies on
/// revocation, rotation, removal of its user, or its expiry; each change
/// is audited.
#[test]
fn tokens_die_on_revocation_rotation_removal_and_expiry() {
    let w = world();
    let a = &w.api;
    let node = &a.node;
    let op = Actor::Operator;
    let reads = |t: &str| a.call("GET", "/api/v1/records", Some(t), None).0;
    // the admin on duty revokes the officer's token: dead at once
    assert_eq!(reads(&w.officer), 200);
    let (s, v) = a.call("DELETE", "/api/v1/users/omar/token", Some(&w.admin), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(reads(&w.officer), 401);
    let (_, v) = a.call("GET", "/api/v1/users", Some(&w.admin), None);
    let omar = v
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "omar")
        .unwrap();
    assert_eq!(omar["token"], "revoked", "{omar}");
    // the operator gives the officer a new token; the revoked one stays dead
    let issued = node.user_token_rotate(&op, "omar", Some("30d")).unwrap();
    assert_eq!(reads(&issued.token), 200);
    assert_eq!(reads(&w.officer), 401);
    let again = node.user_token_rotate(&op, "omar", None).unwrap();
    assert_eq!(
        reads(&issued.token),
        401,
        "rotation kills the previous token"
    );
    assert_eq!(reads(&again.token), 200);
    // removal: the analyst's token is dead, and a namesake gets nothing of it
    let (s, v) = a.call("DELETE", "/api/v1/users/amina", Some(&w.admin), None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(reads(&w.analyst), 401);
    let (s, _) = a.call("DELETE", "/api/v1/users/amina", Some(&w.admin), None);
    assert_eq!(s, 404);
    let namesake = node
        .user_add(&op, "amina", Role::Analyst, &["terrorism".to_string()])
        .unwrap();
    assert_eq!(reads(&w.analyst), 401);
    assert_eq!(reads(&namesake), 200);
    // an admin may remove itself; its token then dies
    let (s, _) = a.call("DELETE", "/api/v1/users/adel", Some(&w.admin), None);
    assert_eq!(s, 200);
    assert_eq!(a.call("GET", "/api/v1/users", Some(&w.admin), None).0, 401);
    // expiry: bad lifetimes are refused, an expired token is 401
    for bad in ["0d", "400d", "2020-01-01", "tomorrow"] {
        let r = node.user_add_expiring(&op, "x", Role::Analyst, &[], Some(bad));
        assert!(
            matches!(r, Err(tansiq_node::NodeError::BadInput(_))),
            "{bad}: {r:?}"
        );
    }
    let short = node
        .user_add_expiring(
            &op,
            "brief",
            Role::Officer,
            &["terrorism".into()],
            Some("1d"),
        )
        .unwrap();
    assert_eq!(reads(&short.token), 200);
    let hash = tansiq_crypto::token::hash(&short.token);
    node.store
        .write(|tx| tx.set_user_token("brief", &hash, "2020-01-01T00:00:00Z"))
        .unwrap();
    assert_eq!(reads(&short.token), 401, "an expired token");
    // a token from before expiries were stored lives 90 days from creation
    let (old_tok, new_tok) = (
        tansiq_crypto::token::generate(),
        tansiq_crypto::token::generate(),
    );
    node.store
        .write(|tx| {
            let u = |n: &str| {
                tansiq_core::user::User::new(n, Role::Officer, &["terrorism".into()]).unwrap()
            };
            tx.add_user(
                &u("legacy-old"),
                &tansiq_crypto::token::hash(&old_tok),
                "2020-01-01T00:00:00Z",
            )?;
            tx.add_user(
                &u("legacy-new"),
                &tansiq_crypto::token::hash(&new_tok),
                &tansiq_core::time::format(&tansiq_core::time::now()),
            )
        })
        .unwrap();
    assert_eq!(reads(&old_tok), 401);
    assert_eq!(reads(&new_tok), 200);
    let (_, v) = a.call(
        "GET",
        "/api/v1/users",
        Some(&node.user_add(&op, "ops", Role::Admin, &[]).unwrap()),
        None,
    );
    let legacy = v
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "legacy-old")
        .unwrap();
    assert_eq!(legacy["token"], "expired", "{legacy}");
    // every change is audited
    let actions: Vec<String> = audit_actions(node)
        .into_iter()
        .map(|(_, a, o)| format!("{a} {o}"))
        .collect();
    for want in [
        "user.token.revoke omar",
        "user.token.rotate omar",
        "user.remove amina",
        "user.remove adel",
        "user.add brief",
    ] {
        assert!(
            actions.iter().any(|a| a == want),
            "{want} not in {actions:?}"
        );
    }
}

/// Issue 12, finding 8: a token racing its own revocation. Requests keep
/// coming while the token is revoked; none that starts after the
/// revocation committed is served.
#[test]
fn no_request_starting_after_a_revocation_is_served() {
    let w = world();
    let a = std::sync::Arc::new(w.api);
    let token = w.officer.clone();
    let revoked_at = std::sync::Arc::new(std::sync::Mutex::new(None::<std::time::Instant>));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut racers = Vec::new();
    for _ in 0..4 {
        let (a, token, revoked_at, stop) =
            (a.clone(), token.clone(), revoked_at.clone(), stop.clone());
        racers.push(std::thread::spawn(move || {
            let mut late_successes = 0;
            let mut served = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let started = std::time::Instant::now();
                let s = a.call("GET", "/api/v1/records", Some(&token), None).0;
                let after = revoked_at.lock().unwrap().is_some_and(|r| started > r);
                if s == 200 {
                    served += 1;
                    if after {
                        late_successes += 1;
                    }
                } else {
                    assert_eq!(s, 401);
                }
            }
            (served, late_successes)
        }));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    a.node.user_token_revoke(&Actor::Operator, "omar").unwrap();
    *revoked_at.lock().unwrap() = Some(std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut served = 0;
    for r in racers {
        let (s, late) = r.join().unwrap();
        served += s;
        assert_eq!(
            late, 0,
            "a request that started after the revocation was served"
        );
    }
    assert!(served > 0, "the token worked before its revocation");
}
