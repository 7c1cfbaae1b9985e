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

/// When set (a postgres:// URL), the CLI suites create every node on
/// PostgreSQL, each in a schema of its own; unset, on SQLite in the node
/// directory. `scripts/test` runs the suites both ways.
pub fn pg_base() -> Option<String> {
    std::env::var("TANSIQ_TEST_CLI_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

pub fn on_postgres() -> bool {
    pg_base().is_some()
}

/// `--store URL` for a new node: a fresh schema on the test server.
pub fn store_args() -> Vec<String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let Some(base) = pg_base() else {
        return vec![];
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let schema = format!("t_{}_{}_{n}", std::process::id(), nanos % 1_000_000_000);
    let sep = if base.contains('?') { '&' } else { '?' };
    vec!["--store".into(), format!("{base}{sep}schema={schema}")]
}

/// The schema a node's config names, if its store is PostgreSQL.
fn node_schema(dir: &Path) -> Option<String> {
    tansiq_store::test_support::node_schema(dir)
}

fn pg_client(schema: &str) -> postgres::Client {
    let base = pg_base().expect("a PostgreSQL node needs TANSIQ_TEST_CLI_POSTGRES");
    tansiq_store::test_support::pg_client(&base, schema)
}

/// Every byte the node's store holds, to search for plaintext: the SQLite
/// file and its WAL, or every row of the node's PostgreSQL schema as text
/// with `bytea` values decoded.
pub fn store_bytes(dir: &Path) -> Vec<u8> {
    let Some(schema) = node_schema(dir) else {
        let mut all = std::fs::read(dir.join("node.db")).unwrap();
        all.extend(std::fs::read(dir.join("node.db-wal")).unwrap_or_default());
        return all;
    };
    let mut c = pg_client(&schema);
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
            &[&schema],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut all = Vec::new();
    for t in tables {
        for r in c
            .query(&format!("SELECT t::text FROM \"{t}\" t"), &[])
            .unwrap()
        {
            let text: String = r.get(0);
            all.extend_from_slice(text.as_bytes());
            // bytea renders as \x<hex>: decode it too.
            for part in text.split("\\x").skip(1) {
                let hex: String = part.chars().take_while(|c| c.is_ascii_hexdigit()).collect();
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
                    .collect();
                all.extend(bytes);
            }
        }
    }
    all
}

/// One integer from the node's store (SQL valid on both backends).
pub fn store_count(dir: &Path, sql: &str) -> i64 {
    match node_schema(dir) {
        Some(schema) => pg_client(&schema)
            .query_one(sql, &[])
            .unwrap()
            .get::<_, i64>(0),
        None => sqlite_db(dir).query_row(sql, [], |r| r.get(0)).unwrap(),
    }
}

pub fn init(name: &str, country: &str, port: u16) -> Node {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let listen = format!("127.0.0.1:{port}");
    let store = store_args();
    let mut args = vec![
        "init",
        "--name",
        name,
        "--country",
        country,
        "--listen",
        &listen,
    ];
    args.extend(store.iter().map(String::as_str));
    let id = ok(&dir, &args);
    assert!(id.starts_with("tq") && id.len() == 18, "{id}");
    Node { dir, _tmp: tmp }
}

pub fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.parent().unwrap().join(name);
    std::fs::write(&p, content).unwrap();
    p.to_string_lossy().into_owned()
}

pub use tansiq_store::test_support::Fingerprint;

/// Fingerprint of everything a command could change, read without
/// running a command (`tansiq_store::test_support::state`: every row of
/// every table, `config.toml`, the node directory's files).
pub fn state(dir: &Path) -> Fingerprint {
    tansiq_store::test_support::state(dir, pg_base().as_deref())
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

/// A free loopback port below Linux's ephemeral range (32768+), picked at
/// random: a port handed out by `bind(0)` and released can be handed at
/// once to another test process running in parallel (or taken by an
/// outgoing connection), which made start-ups fail now and then.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        );
        let p = 10_000 + (h.finish() % 22_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
}

/// `tansiq init` in `root/name` on free ports; the node directory.
pub fn init_at(root: &Path, name: &str, cc: &str) -> PathBuf {
    let dir = root.join(name);
    let (p, a) = (free_port(), free_port());
    let (listen, api) = (format!("127.0.0.1:{p}"), format!("127.0.0.1:{a}"));
    let store = store_args();
    let mut args = vec![
        "init",
        "--name",
        name,
        "--country",
        cc,
        "--listen",
        &listen,
        "--api-listen",
        &api,
    ];
    args.extend(store.iter().map(String::as_str));
    ok(&dir, &args);
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
pub fn wait_for(what: &str, secs: u64, f: impl FnMut() -> bool) {
    wait_diag(what, secs, f, String::new)
}

/// [`wait_for`], with `diag()` (node state, log tails) in the panic.
pub fn wait_diag(what: &str, secs: u64, mut f: impl FnMut() -> bool, diag: impl Fn() -> String) {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(secs) {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("timed out after {secs} s waiting for {what}\n{}", diag());
}

/// A SQLite node's store, opened beside its serving process (waits for
/// that process's write lock rather than failing).
pub fn sqlite_db(dir: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(dir.join("node.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
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

/// `tansiq record add` of a person in `file` of channel `ch`, from the JSON
/// file `data`, with `extra` arguments: the new record's id.
pub fn add_person_data(dir: &Path, ch: &str, file: &str, data: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "record",
        "add",
        "--channel",
        ch,
        "--file",
        file,
        "--kind",
        "person",
        "--data",
        data,
    ];
    args.extend_from_slice(extra);
    ok(dir, &args)
}

/// The same for a person known by one name.
pub fn add_person(dir: &Path, ch: &str, file: &str, name: &str) -> String {
    let p = write(
        dir,
        &format!("{}.json", name.replace(' ', "_")),
        &format!(r#"{{"names": ["{name}"]}}"#),
    );
    add_person_data(dir, ch, file, &p, &[])
}

/// The status of channel `ch` at `dir` (`channel list --json`); empty if
/// it is not listed there.
pub fn channel_status(dir: &Path, ch: &str) -> String {
    let v = json(dir, &["channel", "list", "--json"]);
    v.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch)
        .map(|c| c["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// With every node serving: `creator` proposes channel `name` in the
/// "terrorism" file to `partners` (directory and node id), each accepts
/// once it sees it pending; returns the channel's id once it is active at
/// all of them.
pub fn form_channel_serving(creator: &Path, partners: &[(&Path, &str)], name: &str) -> String {
    let ids: Vec<&str> = partners.iter().map(|(_, id)| *id).collect();
    let ch = ok(
        creator,
        &[
            "channel",
            "create",
            "--name",
            name,
            "--members",
            &ids.join(","),
            "--files",
            "terrorism",
        ],
    );
    for (d, _) in partners {
        wait_for("the charter at each partner", 30, || {
            channel_status(d, &ch) == "pending"
        });
        ok(d, &["channel", "accept", &ch]);
    }
    wait_for("the channel active everywhere", 30, || {
        channel_status(creator, &ch) == "active"
            && partners
                .iter()
                .all(|(d, _)| channel_status(d, &ch) == "active")
    });
    ch
}

/// Ids of `record list --json`, asserting none repeats.
pub fn record_ids(dir: &Path) -> std::collections::BTreeSet<String> {
    let v = json(dir, &["record", "list", "--json"]);
    let a = v.as_array().unwrap();
    let ids: std::collections::BTreeSet<String> = a
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), a.len(), "a record listed twice in {dir:?}");
    ids
}

/// The last `lines` lines of a log file (empty if there is none), for a
/// failure's diagnosis.
pub fn tail(p: &Path, lines: usize) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A PostgreSQL URL with a fresh schema, for the PostgreSQL-only test
/// binary `test`; None (the test skips) when `TANSIQ_SKIP_POSTGRES` is set.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("TANSIQ_TEST_POSTGRES") {
        Ok(u) => {
            let n = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let sep = if u.contains('?') { '&' } else { '?' };
            Some(format!("{u}{sep}schema=t{n:x}{:x}", std::process::id()))
        }
        Err(_) if std::env::var_os("TANSIQ_SKIP_POSTGRES").is_some() => {
            eprintln!("skipped: TANSIQ_SKIP_POSTGRES is set");
            None
        }
        Err(_) => panic!("TANSIQ_TEST_POSTGRES is not set: run `scripts/with-postgres cargo test -p tansiq-cli --test {test}` (or set TANSIQ_SKIP_POSTGRES=1 to skip)"),
    }
}

/// The first column of every row `sql` returns from the node's store, as
/// text (SQL valid on both backends; the column must be text).
pub fn store_texts(dir: &Path, sql: &str) -> Vec<String> {
    match node_schema(dir) {
        Some(schema) => pg_client(&schema)
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
            .collect(),
        None => sqlite_db(dir)
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_default())
            .collect(),
    }
}

/// Runs one statement on the node's store behind its back (for tests
/// that rewire a node while it is stopped); the number of rows changed.
pub fn store_exec(dir: &Path, sql: &str) -> u64 {
    match node_schema(dir) {
        Some(schema) => pg_client(&schema).execute(sql, &[]).unwrap(),
        None => sqlite_db(dir).execute(sql, []).unwrap() as u64,
    }
}
