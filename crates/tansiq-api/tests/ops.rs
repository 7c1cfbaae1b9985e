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

/// Every sample of an OpenMetrics text: `name{labels}` → value; panics
/// on a line that is not `NAME{LABELS} VALUE` or whose family has no
/// `# TYPE` line, or a missing `# EOF`.
fn samples(text: &str) -> std::collections::BTreeMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "{text}");
    let mut out = std::collections::BTreeMap::new();
    for l in text.lines() {
        if l.starts_with('#') || l.is_empty() {
            continue;
        }
        let (name, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l}"));
        let family = name.split('{').next().unwrap();
        let typed = ["", "_total", "_bucket", "_sum", "_count"]
            .iter()
            .any(|suffix| {
                family
                    .strip_suffix(suffix)
                    .is_some_and(|f| text.contains(&format!("# TYPE {f} ")))
            });
        assert!(typed, "{family} has no # TYPE: {text}");
        out.insert(name.to_string(), value.parse::<f64>().unwrap());
    }
    out
}

/// Two nodes sharing a channel, records and an unacknowledged FLASH
/// from DZ to MA; DZ's API served, with an auditor's and an officer's token.
struct Traffic {
    s: Served,
    ma: tansiq_node::Node,
    auditor: String,
    officer: String,
    _tmp: tempfile::TempDir,
}

const SECRET_NAME: &str = "Zubaydah Qarawi-Secretname";
const SECRET_TEXT: &str = "meet at the safehouse behind the bakery";

fn traffic() -> Traffic {
    let s = serve_api();
    let tmp = tempfile::tempdir().unwrap();
    let ma = node(tmp.path(), "MA", "MA");
    trust(&[&s.node, &ma]);
    let files = vec!["terrorism".to_string()];
    let ch = s
        .node
        .channel_create(
            &OP,
            "DZ-MA",
            vec![ma.id().into()],
            files.clone(),
            vec![],
            None,
        )
        .unwrap();
    pump(&[&s.node, &ma]);
    ma.channel_accept(&OP, &ch).unwrap();
    pump(&[&s.node, &ma]);
    for i in 0..3 {
        s.node
            .record_add(
                &OP,
                tansiq_node::records::NewRecord {
                    channel: ch.clone(),
                    file: "terrorism".into(),
                    kind: tansiq_core::record::Kind::Person,
                    data: json!({"names": [format!("{SECRET_NAME} {i}")]}),
                    tlp: None,
                    code: None,
                    evaluation: None,
                    expires: None,
                    links: vec![],
                },
            )
            .unwrap();
    }
    pump(&[&s.node, &ma]);
    s.node
        .send_message(&OP, &ch, Some("terrorism"), "flash", SECRET_TEXT, false)
        .unwrap();
    let auditor = s
        .node
        .user_add(&OP, "prometheus", tansiq_core::user::Role::Auditor, &[])
        .unwrap();
    let officer = s
        .node
        .user_add(&OP, "omar", tansiq_core::user::Role::Officer, &files)
        .unwrap();
    Traffic {
        s,
        ma,
        auditor,
        officer,
        _tmp: tmp,
    }
}

fn scrape(t: &Traffic, token: Option<&str>) -> (u16, String) {
    let mut req = Client::new()
        .get(format!("{}/metrics", t.s.base))
        .header("accept", "application/openmetrics-text; version=1.0.0");
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

#[test]
fn metrics_are_openmetrics_text_for_an_auditor_token_only() {
    let t = traffic();
    assert_eq!(scrape(&t, None).0, 401);
    // an officer reads records, so its token is not the scraper's
    let (code, body) = scrape(&t, Some(&t.officer));
    assert_eq!(code, 403, "{body}");
    let (code, text) = scrape(&t, Some(&t.auditor));
    assert_eq!(code, 200, "{text}");
    let v = samples(&text);
    let peer = format!("{{peer=\"{}\"}}", t.ma.id());
    let get = |k: &str| *v.get(k).unwrap_or_else(|| panic!("{k} missing: {text}"));
    // the FLASH awaits MA's acknowledgement
    assert_eq!(
        get(&format!("tansiq_peer_unacked_flash_messages{peer}")),
        1.0
    );
    let age = get(&format!(
        "tansiq_peer_unacked_flash_oldest_age_seconds{peer}"
    ));
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(get("tansiq_unacked_flash_messages"), 1.0);
    assert_eq!(get(r#"tansiq_records{status="active"}"#), 3.0);
    assert_eq!(get(r#"tansiq_messages{direction="out"}"#), 1.0);
    assert_eq!(get(r#"tansiq_releases{status="all"}"#), 0.0);
    assert_eq!(get("tansiq_screenings_total"), 0.0);
    assert_eq!(
        get(r#"tansiq_hit_evaluations_total{outcome="served"}"#),
        0.0
    );
    assert!(get(r#"tansiq_audit_entries_total{action="record.create"}"#) >= 3.0);
    // MA co-signed nothing yet: every entry is its lag
    assert_eq!(
        get(&format!("tansiq_peer_witness_lag_entries{peer}")),
        get("tansiq_audit_size")
    );
    assert_eq!(get(&format!("tansiq_peer_backoff_seconds{peer}")), 0.0);
    assert!(get("tansiq_store_write_seconds_count") >= 5.0);
    assert_eq!(
        get(r#"tansiq_store_write_seconds_bucket{le="+Inf"}"#),
        get("tansiq_store_write_seconds_count")
    );
    // without asking for OpenMetrics (curl, promtool): the classic format,
    // a counter's # TYPE naming its _total sample, no # EOF
    let resp = Client::new()
        .get(format!("{}/metrics", t.s.base))
        .bearer_auth(&t.auditor)
        .send()
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let classic = resp.text().unwrap();
    assert!(
        classic.contains("# TYPE tansiq_screenings_total counter\n"),
        "{classic}"
    );
    assert!(classic.contains("# TYPE tansiq_records gauge\n"));
    assert!(!classic.contains("# EOF"));
    // the tally is incremental: a second scrape counts the reads since
    let again = samples(&scrape(&t, Some(&t.auditor)).1);
    assert_eq!(again["tansiq_records{status=\"active\"}"], 3.0);
    assert!(again["tansiq_store_read_seconds_count"] > get("tansiq_store_read_seconds_count"));
}

#[test]
fn metrics_labels_carry_no_secret_and_no_record_content() {
    let t = traffic();
    let text = scrape(&t, Some(&t.auditor)).1;
    for secret in [
        SECRET_NAME,
        "Zubaydah",
        "safehouse",
        "bakery",
        &t.auditor,
        &t.officer,
        "terrorism",
        "DZ-MA",
    ] {
        assert!(!text.contains(secret), "{secret} in metrics:\n{text}");
    }
    // nor any long token of a key file
    let keys = std::fs::read_dir(t.s.node.dir.join("keys")).unwrap();
    let mut seen = 0;
    for f in keys {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        for word in content.split(|c: char| !c.is_ascii_alphanumeric() && c != '+' && c != '/') {
            if word.len() >= 20 {
                seen += 1;
                assert!(!text.contains(word), "key material in metrics");
            }
        }
    }
    assert!(seen > 0, "no key file read");
    // every label value: a peer id, a state or an action name
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some((_, rest)) = l.split_once('{') {
            let labels = rest.split_once('}').unwrap().0;
            for pair in labels.split(',') {
                let (_, value) = pair.split_once('=').unwrap();
                let value = value.trim_matches('"');
                assert!(
                    value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b)),
                    "label value {value:?} in {l}"
                );
            }
        }
    }
}
