//! Text written by others never reaches the operator's terminal raw
//! (issue 12, finding 12): a message stored with escape sequences (say,
//! before receiving nodes checked them) is printed escaped by `inbox`,
//! continuation lines indented, and `--json` stays valid JSON.

mod common;

use common::*;

#[test]
fn inbox_prints_no_escape_sequence_from_a_message() {
    if on_postgres() {
        return; // the row is planted with SQLite
    }
    let tmp = tempfile::tempdir().unwrap();
    let ma = init_at(tmp.path(), "ma", "MA");
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mall clear\rOVERWRITTEN\u{9b}0m\u{202e}txt.exe\nmsg_fake  FLASH  a line of its own";
    sqlite_db(&ma)
        .execute(
            "INSERT INTO messages (id, direction, channel, file, sender, precedence, text, sent_at, received_at, ack_required)
             VALUES ('msg_planted', 'in', 'ch_x', NULL, ?1, 'flash', ?2, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 0)",
            rusqlite::params!["tq\u{1b}[8mhidden", hostile],
        )
        .unwrap();
    let out = tansiq(&ma, &["inbox"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for bad in ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}'] {
        assert!(!text.contains(bad), "{bad:?} printed raw: {text:?}");
    }
    assert!(
        text.contains("\\u001b[2J") && text.contains("\\u000dOVERWRITTEN"),
        "{text}"
    );
    // The message's second line is indented under the listing line.
    assert!(text.contains("\n      msg_fake  FLASH"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("msg_fake")), "{text}");
    let v = json(&ma, &["inbox", "--json"]);
    assert_eq!(v[0]["text"], hostile);
    assert_eq!(v[0]["sender"], "tq\u{1b}[8mhidden");
}

/// `screen` prints JSON lines whose values come from list and names
/// files: characters JSON leaves raw (C1 controls, bidi overrides) are
/// escaped too, the lines stay JSON with the same values, and an --out
/// file is private.
#[test]
fn screen_output_escapes_what_json_leaves_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("nothing-here");
    let list = tmp.path().join("list.jsonl");
    std::fs::write(
        &list,
        "{\"id\": \"E\u{202e}1\", \"names\": [\"Mokhtar Belmokhtar\"]}\n",
    )
    .unwrap();
    let names = tmp.path().join("names.jsonl");
    std::fs::write(
        &names,
        "{\"id\": \"Q\u{9b}2J1\", \"name\": \"Mokhtar Belmokhtar\"}\n",
    )
    .unwrap();
    let args = [
        "screen",
        "--names",
        names.to_str().unwrap(),
        "--list",
        list.to_str().unwrap(),
    ];
    let out = ok(&d, &args);
    assert!(
        !out.contains('\u{9b}') && !out.contains('\u{202e}'),
        "{out:?}"
    );
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    // (The names parser already turns control characters into spaces.)
    assert_eq!(v["query_id"], "Q 2J1");
    assert_eq!(v["hits"][0]["entry_id"], "E\u{202e}1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let o = tmp.path().join("out.jsonl");
        let mut with_out = args.to_vec();
        with_out.extend(["--out", o.to_str().unwrap()]);
        ok(&d, &with_out);
        let mode = std::fs::metadata(&o).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
