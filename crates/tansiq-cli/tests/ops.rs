//! What an operator runs beside the node: JSON logs for a log shipper
//! (with no secret or record content in them), shell completions and man
//! pages (docs/OPERATIONS.md, docs/CLI.md).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn call(port: u16, method: &str, path: &str, token: &str, body: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let code = buf.split(' ').nth(1)?.parse().ok()?;
    Some((code, buf))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn json_logs_are_one_object_per_line_without_secrets_or_record_content() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n");
    let api = free_port();
    let mut args = vec![
        "init".to_string(),
        "--name".into(),
        "DZ".into(),
        "--country".into(),
        "DZ".into(),
        "--listen".into(),
        format!("127.0.0.1:{}", free_port()),
        "--api-listen".into(),
        format!("127.0.0.1:{api}"),
    ];
    args.extend(store_args());
    ok(&dir, &args.iter().map(String::as_str).collect::<Vec<_>>());
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
    // debug: the most the node itself says, so the check covers it all
    let mut child = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["serve", "--dir"])
        .arg(&dir)
        .env("TANSIQ_LOG_FORMAT", "json")
        .env("TANSIQ_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while call(api, "GET", "/api/v1/records", &token, "").is_none() {
        assert!(t.elapsed() < Duration::from_secs(20), "serve came up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // the probes, no token: alive, and ready once both ports are bound
    let (code, body) = call(api, "GET", "/healthz", "", "").unwrap();
    assert!(
        code == 200 && body.ends_with(r#"{"status":"ok"}"#),
        "{body}"
    );
    let (code, body) = call(api, "GET", "/readyz", "", "").unwrap();
    assert!(
        code == 200 && body.ends_with(r#"{"status":"ok"}"#),
        "{body}"
    );
    // record content through the serving process, then a refused call
    let body = format!(
        r#"{{"channel":"{ch}","file":"terrorism","kind":"person","data":{{"names":["Zoubir Khettab"]}}}}"#
    );
    let (code, resp) = call(api, "POST", "/api/v1/records", &token, &body).unwrap();
    assert_eq!(code, 200, "{resp}");
    let (code, _) = call(api, "GET", "/api/v1/records", "tqk_wrong", "").unwrap();
    assert_eq!(code, 401);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let mut log = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 3, "{log}");
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
    }
    assert!(log.contains("tansiq node serving") && log.contains("stopped"));
    // no secret, no record content
    assert!(!log.contains(&token), "the API token is in the log");
    assert!(!log.contains("Zoubir") && !log.contains("Khettab"), "{log}");
    for f in std::fs::read_dir(dir.join("keys")).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        if text.len() >= 16 {
            assert!(!log.contains(text), "a key file's text is in the log");
        }
        assert!(
            !log.contains(&hex(&bytes)),
            "a key file's bytes are in the log"
        );
    }
}

#[test]
fn an_unknown_log_format_is_refused() {
    let n = init("DZ", "DZ", free_port());
    let out = Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(["serve", "--dir"])
        .arg(&n.dir)
        .env("TANSIQ_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TANSIQ_LOG_FORMAT"));
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tansiq"))
        .args(args)
        .env_remove("TANSIQ_DIR")
        .output()
        .unwrap()
}

#[test]
fn completions_name_the_subcommands_in_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in ["record", "channel", "watchlist", "serve", "completions"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        // nested subcommands and global flags too (fish writes `-l dir`)
        assert!(
            script.contains("retract") && script.contains("dir"),
            "{shell}"
        );
    }
    assert!(String::from_utf8(run(&["completions", "bash"]).stdout)
        .unwrap()
        .contains("complete -F _tansiq"));
    assert_eq!(run(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_prints_the_main_page_and_writes_one_per_command() {
    let out = run(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH tansiq 1"), "{page}");
    assert!(page.contains(".SH NAME") && page.contains(".SH SUBCOMMANDS"));
    assert!(page.contains("tansiq\\-record(1)"), "{page}");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = run(&["man", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let n: usize = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), n);
    let add = std::fs::read_to_string(dir.join("tansiq-record-add.1")).unwrap();
    assert!(add.contains(".TH tansiq-record-add 1"), "{add}");
    assert!(
        add.contains("\\-\\-channel") && add.contains("\\-\\-dir"),
        "{add}"
    );
    assert!(dir.join("tansiq-serve.1").exists() && dir.join("tansiq-man.1").exists());
}

/// Runs `tansiq --dir DIR ARGS` under a pseudo-terminal (util-linux
/// `script`), returning everything it drew; None without `script`.
fn on_a_terminal(dir: &std::path::Path, args: &[&str]) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_tansiq");
    let mut line = format!("'{bin}' --dir '{}'", dir.display());
    for a in args {
        line.push_str(&format!(" '{a}'"));
    }
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    assert!(out.status.success(), "{line}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn long_commands_draw_progress_on_a_terminal_and_nothing_in_a_pipe() {
    if on_postgres() {
        return; // backup is SQLite's
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = init_at(tmp.path(), "dz", "DZ");
    let ch = channel(&Node {
        dir: dir.clone(),
        _tmp: tempfile::tempdir().unwrap(),
    });
    for i in 0..20 {
        add_person(&dir, &ch, "terrorism", &format!("Person {i}"));
    }
    let copy = tmp.path().join("copy.db");
    let cases: [(Vec<&str>, &str); 2] = [
        (vec!["audit", "verify"], "verifying"),
        (vec!["backup", "--out", copy.to_str().unwrap()], "copying"),
    ];
    for (args, label) in &cases {
        // In a pipe: the result on stdout, nothing on stderr.
        let out = tansiq(&dir, args);
        assert!(out.status.success(), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {:?}", out.stderr);
        std::fs::remove_file(&copy).ok();
        let Some(drawn) = on_a_terminal(&dir, args) else {
            eprintln!("no `script` here: the terminal half is not checked");
            return;
        };
        assert!(drawn.contains(label), "{args:?} drew no bar: {drawn:?}");
        // cleared before the result: the last line is the result alone
        let last = drawn.trim_end().rsplit(['\n', '\r']).next().unwrap();
        assert!(!last.contains(label), "{args:?}: {drawn:?}");
        std::fs::remove_file(&copy).ok();
    }
}
