//! The bad-input corpus (issue 17): every file under `tests/bad-input/`,
//! fed to the command its line in `tests/bad-input/cases` names — every
//! command that reads a file or a peer's bytes (record data, each
//! watchlist format, screening lists and names, hit/no-hit query names,
//! bundles, charters, cards, STIX bundles). Each must exit with its code
//! and a message naming the problem, and change nothing at all: every
//! table of the store (records, audit log and head, checkpoints, sync
//! tables, alerts, …), `config.toml` and the node's files.

mod common;

use std::path::Path;

use common::*;

struct Case {
    file: String,
    exit: i32,
    fragment: String,
    command: String,
}

fn corpus() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    std::fs::read_to_string(dir.join("cases"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split(" | ").map(str::trim).collect();
            assert_eq!(
                f.len(),
                4,
                "a case is FILE | EXIT | FRAGMENT | COMMAND: {l}"
            );
            Case {
                file: dir.join(f[0]).to_string_lossy().into_owned(),
                exit: f[1].parse().unwrap(),
                fragment: f[2].to_string(),
                command: f[3].to_string(),
            }
        })
        .collect()
}

#[test]
fn every_bad_input_is_refused_clearly_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let (_, peer) = introduce(&dz, &ma);
    let ch = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ national",
            "--files",
            "terrorism,recruitment",
        ],
    );
    let rec = add_person(&dz, &ch, "terrorism", "Ali Good");
    let names = write(&dz, "names.jsonl", "{\"id\": \"q1\", \"name\": \"Ali\"}\n");
    let cases = corpus();
    assert!(cases.len() >= 70, "the corpus shrank: {}", cases.len());
    let before = state(&dz);
    for c in &cases {
        let cmd = c
            .command
            .replace("{}", &c.file)
            .replace("{ch}", &ch)
            .replace("{rec}", &rec)
            .replace("{peer}", &peer)
            .replace("{names}", &names);
        let args: Vec<&str> = cmd.split(' ').collect();
        let out = tansiq(&dz, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        let what = format!(
            "{cmd}\nstdout: {}\nstderr: {err}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(out.status.code(), Some(c.exit), "{what}");
        assert!(
            err.contains(&c.fragment),
            "expected {:?} in the message: {what}",
            c.fragment
        );
        assert!(err.starts_with("error: "), "one error line: {what}");
        let after = state(&dz);
        assert!(
            after == before,
            "{cmd} changed {:?}",
            after.changed(&before)
        );
    }
    eprintln!(
        "{} bad inputs: each exits {} with its message, none changed anything",
        cases.len(),
        cases.iter().map(|c| c.exit).max().unwrap()
    );
    ok(&dz, &["audit", "verify"]);
}
