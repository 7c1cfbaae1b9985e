//! `tansiq serve` as a real process: the local API answers, CLI commands
//! work on the same directory while it runs, SIGTERM shuts it down cleanly,
//! and expired records are purged.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn get(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    Some((code, buf))
}

#[test]
fn serve_answers_coexists_with_cli_and_stops_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n");
    let port = free_port();
    let api = free_port();
    ok(
        &dir,
        &[
            "init",
            "--name",
            "DZ",
            "--country",
            "DZ",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--api-listen",
            &format!("127.0.0.1:{api}"),
        ],
    );
    let n = Node {
        dir: dir.clone(),
        _tmp: tmp,
    };
    let ch = channel(&n);
    let token = ok(
        &dir,
        &[
            "user",
            "add",
            "omar",
            "--role",
            "officer",
            "--files",
            "terrorism",
        ],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["serve", "--dir"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let mut up = None;
    while t.elapsed() < Duration::from_secs(20) {
        if let Some(r) = get(api, "/api/v1/records", &token) {
            up = Some(r);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, _) = up.expect("serve came up");
    assert_eq!(code, 200);
    // the CLI writes while serve runs, and the API sees it at once
    let p = write(&dir, "p.json", r#"{"names": ["Hassan Hattab"]}"#);
    let id = ok(
        &dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &p,
        ],
    );
    let (code, body) = get(api, &format!("/api/v1/records/{id}"), &token).unwrap();
    assert_eq!(code, 200);
    assert!(body.contains("Hassan Hattab"));
    // no secret in its log
    send_sigterm(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(!log.contains(&token));
    assert!(log.contains("stopped"), "{log}");
    ok(&dir, &["audit", "verify"]);
}

fn send_sigterm(pid: u32) {
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn expired_records_are_purged_leaving_a_tombstone_and_an_audit_entry() {
    let n = init("DZ", "DZ", 7401);
    let ch = channel(&n);
    let p = write(&n.dir, "p.json", r#"{"names": ["Ephemeral Informant"]}"#);
    let soon = chrono_in(2);
    let id = ok(
        &n.dir,
        &[
            "record",
            "add",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--kind",
            "person",
            "--data",
            &p,
            "--expires",
            &soon,
        ],
    );
    assert_eq!(
        json(&n.dir, &["record", "get", &id, "--json"])["status"],
        "active"
    );
    // Expired once its time has passed (to the second): read until then.
    wait_for("the record to expire", 30, || {
        json(&n.dir, &["record", "get", &id, "--json"])["status"] == "expired"
    });
    let r = json(&n.dir, &["record", "get", &id, "--json"]);
    assert_eq!(r["data"], serde_json::Value::Null);
    let db = store_bytes(&n.dir);
    assert!(!contains(&db, b"Ephemeral Informant"));
    let k = store_count(
        &n.dir,
        &format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'record.expire' AND object = '{id}'"
        ),
    );
    assert_eq!(k, 1);
    ok(&n.dir, &["audit", "verify"]);
}

/// An RFC 3339 instant `secs` seconds from now.
fn chrono_in(secs: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
