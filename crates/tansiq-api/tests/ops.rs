//! `/healthz` and `/readyz` on the local API port: no token needed,
//! nothing in the answer but ok / not ready and which check failed.

mod common;

use std::sync::Arc;

use reqwest::blocking::Client;
use serde_json::{json, Value};

use common::*;

struct Served {
    base: String,
    node: Arc<tansiq_node::Node>,
    _tmp: tempfile::TempDir,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A node's local API served on a free loopback port (the partner port
/// is not bound: `serve` does that).
fn serve_api() -> Served {
    let tmp = tempfile::tempdir().unwrap();
    let node = Arc::new(node(tmp.path(), "DZ", "DZ"));
    let (base, stop) = common::serve_api(node.clone());
    Served {
        base,
        node,
        _tmp: tmp,
        _stop: stop,
    }
}

fn get(s: &Served, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = Client::new().get(format!("{}{path}", s.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().unwrap();
    let code = resp.status().as_u16();
    (code, serde_json::from_str(&resp.text().unwrap()).unwrap())
}

#[test]
fn healthz_is_ok_without_a_token_whatever_the_token() {
    let s = serve_api();
    assert_eq!(get(&s, "/healthz", None), (200, json!({"status": "ok"})));
    assert_eq!(
        get(&s, "/healthz", Some("tqk_not-a-real-token")),
        (200, json!({"status": "ok"}))
    );
    // the rest of the API still wants a token
    assert_eq!(get(&s, "/api/v1/records", None).0, 401);
}

#[test]
fn readyz_waits_for_the_partner_port_and_says_only_why() {
    let s = serve_api();
    // the store answers, the partner port is not bound yet
    assert_eq!(
        get(&s, "/readyz", None),
        (
            503,
            json!({"status": "not ready", "reason": "partner port"})
        )
    );
    let bound = tansiq_api::ops::partner_port_bound(&s.node);
    assert_eq!(get(&s, "/readyz", None), (200, json!({"status": "ok"})));
    // another node's port in the same process says nothing about this one
    let tmp = tempfile::tempdir().unwrap();
    let other = node(tmp.path(), "MA", "MA");
    drop(bound);
    let _other_bound = tansiq_api::ops::partner_port_bound(&other);
    assert_eq!(get(&s, "/readyz", None).0, 503);
    // a wrong token changes nothing: the probe takes none and shows nothing
    let (code, body) = get(&s, "/readyz", Some("tqk_wrong"));
    assert_eq!((code, body["status"].as_str()), (503, Some("not ready")));
}

#[test]
fn probes_answer_only_get() {
    let s = serve_api();
    let r = Client::new()
        .post(format!("{}/healthz", s.base))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[test]
fn metrics_are_prometheus_text_behind_the_token() {
    let s = serve_api();
    let tmp = tempfile::tempdir().unwrap();
    let partner = node(tmp.path(), "MA", "MA");
    trust(&[&s.node, &partner]);
    let token = s
        .node
        .user_add(
            &OP,
            "omar",
            tansiq_core::user::Role::Officer,
            &["terrorism".to_string()],
        )
        .unwrap();
    let url = format!("{}/metrics", s.base);
    assert_eq!(
        Client::new().get(&url).send().unwrap().status().as_u16(),
        401
    );
    let resp = Client::new().get(&url).bearer_auth(&token).send().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().unwrap();
    // every sample line: NAME{LABELS} VALUE, with a # TYPE line for its family
    let mut samples = std::collections::BTreeMap::new();
    for l in text.lines() {
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
        let family = name.split('{').next().unwrap();
        assert!(
            text.contains(&format!("# TYPE {family} gauge")),
            "{family}: {text}"
        );
        samples.insert(name.to_string(), value.parse::<f64>().unwrap());
    }
    assert!(text.ends_with("# EOF\n"), "{text}");
    let peer = format!("{{peer=\"{}\"}}", partner.id());
    assert_eq!(samples[&format!("tansiq_peer_queued{peer}")], 0.0);
    assert_eq!(samples[&format!("tansiq_peer_up{peer}")], 0.0);
    assert_eq!(samples["tansiq_unacked_flash_messages"], 0.0);
}

#[test]
fn metrics_carry_delivery_age_and_the_oldest_unacknowledged_flash() {
    use tansiq_node::messages::Unacked;
    use tansiq_node::peering::{PeerSyncStatus, SyncStatus};
    let ago = |secs: i64| {
        tansiq_core::time::format(&(tansiq_core::time::now() - chrono::TimeDelta::seconds(secs)))
    };
    let peer = |id: &str, last: Option<String>| PeerSyncStatus {
        id: id.into(),
        name: id.into(),
        link: if last.is_some() { "up" } else { "down" },
        queued: 3,
        in_flight: 1,
        last_delivery: last,
        last_error: None,
        card_pending: false,
    };
    let msg = |p: &str, secs: i64| Unacked {
        id: format!("m{secs}"),
        channel: "ch".into(),
        precedence: p.into(),
        sent_at: ago(secs),
        awaiting: vec!["tqB".into()],
    };
    let text = tansiq_api::ops::encode_metrics(&SyncStatus {
        peers: vec![peer("tqA", Some(ago(90))), peer("tqB", None)],
        unacked: vec![msg("flash", 300), msg("flash", 30), msg("routine", 9000)],
        alarms: vec![],
    });
    let value = |name: &str| -> f64 {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing: {text}"));
        line.rsplit_once(' ').unwrap().1.parse().unwrap()
    };
    let a = value(r#"tansiq_peer_last_delivery_age_seconds{peer="tqA"}"#);
    assert!((90.0..100.0).contains(&a), "{a}");
    assert!(!text.contains(r#"tansiq_peer_last_delivery_age_seconds{peer="tqB"}"#));
    assert_eq!(value(r#"tansiq_peer_queued{peer="tqB"}"#), 3.0);
    assert_eq!(value(r#"tansiq_peer_up{peer="tqB"}"#), 0.0);
    assert_eq!(value("tansiq_unacked_flash_messages"), 2.0);
    let o = value("tansiq_unacked_flash_oldest_age_seconds");
    assert!((300.0..310.0).contains(&o), "{o}");
}
