//! Helpers shared by the CLI test binaries: run the real `tansiq` binary
//! against temporary node directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub struct Node {
    pub dir: PathBuf,
    pub _tmp: tempfile::TempDir,
}

pub fn tansiq(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .env_remove("TANSIQ_DIR")
        .output()
        .expect("run tansiq")
}

pub fn ok(dir: &Path, args: &[&str]) -> String {
    let out = tansiq(dir, args);
    assert!(
        out.status.success(),
        "tansiq {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .trim()
        .to_string()
}

/// Runs a command expected to fail with `code`; returns stderr.
pub fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = tansiq(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(
        out.status.code(),
        Some(code),
        "tansiq {args:?}: stdout {} stderr {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

pub fn json(dir: &Path, args: &[&str]) -> Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
}

pub fn init(name: &str, country: &str, port: u16) -> Node {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let id = ok(
        &dir,
        &[
            "init",
            "--name",
            name,
            "--country",
            country,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert!(id.starts_with("tq") && id.len() == 18, "{id}");
    Node { dir, _tmp: tmp }
}

pub fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.parent().unwrap().join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

/// Fingerprint of everything a command could change.
pub fn state(dir: &Path) -> (String, String, String) {
    let list = ok(dir, &["record", "list", "--all", "--json"]);
    let chans = ok(dir, &["channel", "list", "--json"]);
    let db = rusqlite::Connection::open(dir.join("node.db")).unwrap();
    let n: i64 = db
        .query_row("SELECT COUNT(*) FROM record_versions", [], |r| r.get(0))
        .unwrap();
    let peers: i64 = db
        .query_row("SELECT COUNT(*) FROM peers", [], |r| r.get(0))
        .unwrap();
    let users: i64 = db
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    (list, chans, format!("{n}/{peers}/{users}"))
}

pub fn channel(n: &Node) -> String {
    ok(
        &n.dir,
        &[
            "channel",
            "create",
            "--name",
            "DZ national",
            "--files",
            "terrorism,recruitment,arms-smuggling",
        ],
    )
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
