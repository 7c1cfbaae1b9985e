//! The TAXII 2.1 server on a served node (issue 15): discovery, the API
//! root, collections as the user sees them, paging that survives many
//! objects of one date, filters, manifest, versions, POST with a status,
//! DELETE as retraction, media types — and nothing outside the user's
//! need-to-know in any answer.

mod common;

use std::sync::Arc;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use common::*;
use tansiq_core::handling::Tlp;
use tansiq_core::user::{Actor, Role};
use tansiq_node::records::NewRecord;

const MEDIA: &str = "application/taxii+json;version=2.1";
const OP: Actor = Actor::Operator;

struct Fixture {
    base: String,
    node: Arc<tansiq_node::Node>,
    ch: String,
    officer: String,
    analyst: String,
    admin: String,
    _tmp: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

fn person(ch: &str, file: &str, name: &str, tlp: Tlp) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: file.into(),
        kind: tansiq_core::record::Kind::Person,
        data: json!({"names": [name]}),
        tlp: Some(tlp),
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    }
}

/// One node with a channel of two files: 250 people in `terrorism` (one
/// transaction: one date for all), one RED, one in `finance`.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let node = Arc::new(node(tmp.path(), "DZ", "DZ"));
    let ch = node
        .channel_create(
            &OP,
            "DZ national",
            vec![],
            vec!["terrorism".into(), "finance".into()],
            vec![],
            None,
        )
        .unwrap();
    let batch: Vec<NewRecord> = (0..250)
        .map(|i| person(&ch, "terrorism", &format!("شخص {i}"), Tlp::Amber))
        .collect();
    node.records_add(&OP, batch, |_| {}).unwrap();
    node.record_add(&OP, person(&ch, "terrorism", "Red Secret", Tlp::Red))
        .unwrap();
    node.record_add(&OP, person(&ch, "finance", "Finance Person", Tlp::Green))
        .unwrap();
    let t = |name: &str, role, files: &[&str]| {
        let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
        node.user_add(&OP, name, role, &files).unwrap()
    };
    let officer = t("omar", Role::Officer, &["terrorism", "finance"]);
    let analyst = t("amina", Role::Analyst, &["terrorism"]);
    let admin = t("root", Role::Admin, &[]);
    let (base, stop) = serve_api(node.clone());
    Fixture {
        base,
        node,
        ch,
        officer,
        analyst,
        admin,
        _tmp: tmp,
        _stop: stop,
    }
}

fn taxii(
    f: &Fixture,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let c = Client::new();
    let url = format!("{}{path}", f.base);
    let mut req = match method {
        "GET" => c.get(url),
        "POST" => c.post(url),
        "DELETE" => c.delete(url),
        m => panic!("{m}"),
    }
    .bearer_auth(token)
    .header("Accept", MEDIA);
    if let Some(b) = body {
        req = req.header("Content-Type", MEDIA).body(b.to_string());
    }
    let r = req.send().unwrap();
    let code = r.status().as_u16();
    let headers = r.headers().clone();
    if code != 401 {
        assert_eq!(headers["content-type"], MEDIA, "{path}");
    }
    let text = r.text().unwrap();
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    )
}

fn collection(f: &Fixture, token: &str, file: &str) -> String {
    let (s, v, _) = taxii(f, "GET", "/taxii2/api/collections/", token, None);
    assert_eq!(s, 200, "{v}");
    v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("{v}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn discovery_collections_and_need_to_know() {
    let f = fixture();
    let (s, v, _) = taxii(&f, "GET", "/taxii2/", &f.analyst, None);
    assert_eq!(s, 200);
    assert_eq!(v["api_roots"][0], "/taxii2/api/");
    let (s, v, _) = taxii(&f, "GET", "/taxii2/api/", &f.analyst, None);
    assert_eq!((s, &v["versions"][0]), (200, &json!(MEDIA)));
    // the analyst sees the terrorism file only; the officer both
    let (_, v, _) = taxii(&f, "GET", "/taxii2/api/collections/", &f.analyst, None);
    assert_eq!(v["collections"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["collections"][0]["can_write"], true);
    let (_, v, _) = taxii(&f, "GET", "/taxii2/api/collections/", &f.officer, None);
    assert_eq!(v["collections"].as_array().unwrap().len(), 2);
    // an admin reads no records: no collection
    let (_, v, _) = taxii(&f, "GET", "/taxii2/api/collections/", &f.admin, None);
    assert_eq!(v, json!({}));
    // the finance collection is a 404 to the analyst, like one that does not exist
    let fin = collection(&f, &f.officer, "finance");
    let (s, v, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{fin}/objects/"),
        &f.analyst,
        None,
    );
    assert_eq!(s, 404);
    let (s2, v2, _) = taxii(
        &f,
        "GET",
        "/taxii2/api/collections/00000000-0000-4000-8000-000000000000/objects/",
        &f.analyst,
        None,
    );
    assert_eq!(
        (s, !v["description"].as_str().unwrap().is_empty()),
        (s2, true)
    );
    assert!(!v.to_string().contains("finance") && !v2.to_string().contains("finance"));
    // TLP:RED is beyond the analyst's limit: in no page, count or manifest
    let ter = collection(&f, &f.analyst, "terrorism");
    let all = pages(&f, &f.analyst, &ter, "objects", 1000);
    assert!(!all.iter().any(|o| o.to_string().contains("Red Secret")));
    let officer_all = pages(&f, &f.officer, &ter, "objects", 1000);
    assert!(officer_all
        .iter()
        .any(|o| o.to_string().contains("Red Secret")));
    // without a token, or with a wrong one: 401
    let r = Client::new()
        .get(format!("{}/taxii2/", f.base))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // HTTP Basic: user name and token
    let r = Client::new()
        .get(format!("{}/taxii2/api/collections/", f.base))
        .basic_auth("amina", Some(&f.analyst))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = Client::new()
        .get(format!("{}/taxii2/api/collections/", f.base))
        .basic_auth("omar", Some(&f.analyst))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // 406: a client that does not accept TAXII 2.1
    let r = Client::new()
        .get(format!("{}/taxii2/", f.base))
        .bearer_auth(&f.analyst)
        .header("Accept", "application/taxii+json;version=2.0")
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
}

/// Every page of `what` (objects or manifest) with `limit`, following `next`.
fn pages(f: &Fixture, token: &str, coll: &str, what: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..10_000 {
        let mut path = format!("/taxii2/api/collections/{coll}/{what}/?limit={limit}");
        if let Some(n) = &next {
            path.push_str(&format!("&next={n}"));
        }
        let (s, v, h) = taxii(f, "GET", &path, token, None);
        assert_eq!(s, 200, "{v}");
        let objs = v["objects"].as_array().cloned().unwrap_or_default();
        assert!(objs.len() <= limit);
        if !objs.is_empty() {
            assert!(
                h.contains_key("x-taxii-date-added-first")
                    && h.contains_key("x-taxii-date-added-last")
            );
        }
        out.extend(objs);
        if v["more"] != true {
            return out;
        }
        next = Some(v["next"].as_str().unwrap().to_string());
    }
    panic!("paging did not end");
}

#[test]
fn paging_survives_one_date_and_filters_apply() {
    let f = fixture();
    let ter = collection(&f, &f.officer, "terrorism");
    let big = pages(&f, &f.officer, &ter, "objects", 1000);
    let small = pages(&f, &f.officer, &ter, "objects", 7);
    assert_eq!(big, small, "pages of 7 give what one page gives");
    let ids: std::collections::BTreeSet<(String, String)> = small
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().into(),
                o["modified"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(ids.len(), small.len(), "nothing repeated");
    let people = small
        .iter()
        .filter(|o| o["identity_class"] == "individual")
        .count();
    assert_eq!(people, 251);
    // manifest: one entry per object, with its date added
    let man = pages(&f, &f.officer, &ter, "manifest", 50);
    assert_eq!(man.len(), small.len());
    assert!(man
        .iter()
        .all(|m| m["media_type"] == "application/stix+json;version=2.1"));
    // match[type] and match[id]
    let (_, v, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{ter}/objects/?match[type]=marking-definition"),
        &f.officer,
        None,
    );
    assert_eq!(v["objects"].as_array().unwrap().len(), 5);
    let one = small
        .iter()
        .find(|o| o["identity_class"] == "individual")
        .unwrap();
    let oid = one["id"].as_str().unwrap();
    let (_, v, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{ter}/objects/?match[id]={oid}"),
        &f.officer,
        None,
    );
    assert_eq!(v["objects"].as_array().unwrap().len(), 1);
    // added_after the last date: nothing new
    let (_, _, h) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{ter}/objects/?limit=1000"),
        &f.officer,
        None,
    );
    let last = h["x-taxii-date-added-last"].to_str().unwrap().to_string();
    let (_, v, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{ter}/objects/?added_after={last}"),
        &f.officer,
        None,
    );
    assert_eq!(v, json!({"more": false}));
    // a bad next is a 400
    let (s, _, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/collections/{ter}/objects/?next=zz"),
        &f.officer,
        None,
    );
    assert_eq!(s, 400);
    // reads are audited as exports
    let exports = f
        .node
        .store
        .read(|tx| tx.audit_entries(0, u64::MAX >> 1))
        .unwrap()
        .iter()
        .filter(|(e, _)| e.action == "stix.export")
        .count();
    assert!(exports > 40, "{exports}");
}

#[test]
fn post_versions_and_delete() {
    let f = fixture();
    let ter = collection(&f, &f.analyst, "terrorism");
    let p = "identity--7e4d1c2a-9b3f-4c8e-a1d2-3e4f5a6b7c8d";
    let obj = |modified: &str, name: &str| {
        json!({"type": "identity", "spec_version": "2.1", "id": p, "created": "2026-01-01T00:00:00.000Z",
               "modified": modified, "name": name, "identity_class": "individual"})
    };
    // 415 without the TAXII media type
    let r = Client::new()
        .post(format!("{}/taxii2/api/collections/{ter}/objects/", f.base))
        .bearer_auth(&f.analyst)
        .header("Accept", MEDIA)
        .header("Content-Type", "application/json")
        .body(json!({"objects": []}).to_string())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    // 413 beyond max_content_length (the API's body limit)
    let r = Client::new()
        .post(format!("{}/taxii2/api/collections/{ter}/objects/", f.base))
        .bearer_auth(&f.analyst)
        .header("Accept", MEDIA)
        .header("Content-Type", MEDIA)
        .body(format!("{{\"objects\": [\"{}\"]}}", "x".repeat(2 << 20)))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let path = format!("/taxii2/api/collections/{ter}/objects/");
    let (s, st, _) = taxii(
        &f,
        "POST",
        &path,
        &f.analyst,
        Some(json!({"objects": [obj("2026-01-01T00:00:00.000Z", "أحمد")]})),
    );
    assert_eq!(s, 202, "{st}");
    assert_eq!(
        (st["status"].as_str(), st["success_count"].as_u64()),
        (Some("complete"), Some(1))
    );
    let sid = st["id"].as_str().unwrap();
    let (s, again, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/status/{sid}/"),
        &f.analyst,
        None,
    );
    assert_eq!((s, &again), (200, &st));
    // another user does not see that status
    let (s, _, _) = taxii(
        &f,
        "GET",
        &format!("/taxii2/api/status/{sid}/"),
        &f.officer,
        None,
    );
    assert_eq!(s, 404);
    taxii(
        &f,
        "POST",
        &path,
        &f.analyst,
        Some(json!({"objects": [obj("2026-02-01T00:00:00.000Z", "أحمد بن علي")]})),
    );
    // a bad object: nothing imported, the failure names it
    let (s, st, _) = taxii(
        &f,
        "POST",
        &path,
        &f.analyst,
        Some(json!({"objects": [
        obj("2026-03-01T00:00:00.000Z", "x"),
        {"type": "location", "spec_version": "2.1", "id": "location--1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "L", "latitude": 99.0, "longitude": 0}]})),
    );
    assert_eq!((s, st["failure_count"].as_u64()), (202, Some(2)), "{st}");
    assert!(st.to_string().contains("latitude"));
    // the record this node made: two versions
    let (_, v, _) = taxii(
        &f,
        "GET",
        &format!("{path}?match[type]=identity&limit=1000"),
        &f.analyst,
        None,
    );
    let mine = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "أحمد بن علي")
        .unwrap()
        .clone();
    let mid = mine["id"].as_str().unwrap();
    let (s, v, _) = taxii(
        &f,
        "GET",
        &format!("{path}{mid}/versions/"),
        &f.analyst,
        None,
    );
    assert_eq!(s, 200);
    assert_eq!(v["versions"].as_array().unwrap().len(), 2, "{v}");
    let (_, v, _) = taxii(
        &f,
        "GET",
        &format!("{path}{mid}/?match[version]=all"),
        &f.analyst,
        None,
    );
    assert_eq!(v["objects"].as_array().unwrap().len(), 2);
    // DELETE by the originator: a retraction, seen as revoked
    let (s, _, _) = taxii(&f, "DELETE", &format!("{path}{mid}/"), &f.analyst, None);
    assert_eq!(s, 200);
    let (_, v, _) = taxii(&f, "GET", &format!("{path}{mid}/"), &f.analyst, None);
    assert_eq!(v["objects"][0]["revoked"], true, "{v}");
    let (s, _, _) = taxii(
        &f,
        "DELETE",
        &format!("{path}identity--00000000-0000-4000-8000-000000000000/"),
        &f.analyst,
        None,
    );
    assert_eq!(s, 404);
    let _ = &f.ch;
}
