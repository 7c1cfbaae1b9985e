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

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tansiq init` in `root/name` on free ports; the node directory.
pub fn init_at(root: &Path, name: &str, cc: &str) -> PathBuf {
    let dir = root.join(name);
    let (p, a) = (free_port(), free_port());
    ok(
        &dir,
        &[
            "init",
            "--name",
            name,
            "--country",
            cc,
            "--listen",
            &format!("127.0.0.1:{p}"),
            "--api-listen",
            &format!("127.0.0.1:{a}"),
        ],
    );
    dir
}

/// A `tansiq serve` process, killed when dropped.
pub struct Serve(pub std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tansiq serve`; its log (at `level`) goes to `log` if given.
pub fn serve_logged(dir: &Path, level: &str, log: Option<&Path>) -> Serve {
    let err = match log {
        Some(p) => std::process::Stdio::from(std::fs::File::create(p).unwrap()),
        None => std::process::Stdio::null(),
    };
    Serve(
        Command::new(env!("CARGO_BIN_EXE_tansiq"))
            .args(["serve", "--dir"])
            .arg(dir)
            .env("TANSIQ_LOG", level)
            .stdout(std::process::Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap(),
    )
}

/// Polls `f` every 100 ms; panics naming `what` after `secs`.
pub fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(secs) {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

/// Cards exchanged both ways; returns the ids of `a` and `b`.
pub fn introduce(a: &Path, b: &Path) -> (String, String) {
    let ca = a.join("card.json");
    let cb = b.join("card.json");
    std::fs::write(&ca, ok(a, &["card"])).unwrap();
    std::fs::write(&cb, ok(b, &["card"])).unwrap();
    let b_id = ok(a, &["peer", "add", cb.to_str().unwrap()]);
    let a_id = ok(b, &["peer", "add", ca.to_str().unwrap()]);
    (a_id, b_id)
}
