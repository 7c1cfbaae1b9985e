//! Two real nodes, each a `tansiq serve` process, talking mutual TLS on
//! loopback: a channel formed by the CLI on both sides, a record created
//! at one node arriving at the other, a retraction purged there, and
//! delivery resuming after the receiving process is killed and restarted.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> Serve {
    Serve(
        Command::new(env!("CARGO_BIN_EXE_tansiq"))
            .args(["serve", "--dir"])
            .arg(dir)
            .env("TANSIQ_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn channel_status(dir: &Path, ch: &str) -> String {
    let v = json(dir, &["channel", "list", "--json"]);
    v.as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ch)
        .map(|c| c["status"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn two_serving_nodes_exchange_charters_and_records_over_mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let dz_card = tmp.path().join("dz.json");
    let ma_card = tmp.path().join("ma.json");
    std::fs::write(&dz_card, ok(&dz, &["card"])).unwrap();
    std::fs::write(&ma_card, ok(&ma, &["card"])).unwrap();
    let ma_id = ok(&dz, &["peer", "add", ma_card.to_str().unwrap()]);
    ok(&ma, &["peer", "add", dz_card.to_str().unwrap()]);
    let _s1 = serve(&dz);
    let mut s2 = serve(&ma);

    // DZ proposes; MA sees it pending, accepts; both become active.
    let ch = ok(
        &dz,
        &[
            "channel",
            "create",
            "--name",
            "DZ-MA",
            "--members",
            &ma_id,
            "--files",
            "terrorism,recruitment",
        ],
    );
    wait_for("the charter at MA", 20, || {
        channel_status(&ma, &ch) == "pending"
    });
    ok(&ma, &["channel", "accept", &ch]);
    wait_for("the channel active at DZ", 20, || {
        channel_status(&dz, &ch) == "active"
    });
    assert_eq!(channel_status(&ma, &ch), "active");

    // A record crosses.
    let p = write(
        &dz,
        "p.json",
        r#"{"names": ["Abdallah Belkeziz"], "nationality": ["DZ"]}"#,
    );
    let id = ok(
        &dz,
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
    wait_for("the record at MA", 20, || {
        tansiq(&ma, &["record", "get", &id, "--json"])
            .status
            .success()
    });
    let r = json(&ma, &["record", "get", &id, "--json"]);
    assert_eq!(r["data"]["names"][0], "Abdallah Belkeziz");
    let st = json(&dz, &["sync", "status", "--json"]);
    let peer = &st["peers"][0];
    assert_eq!(peer["id"], ma_id.as_str());
    assert!(peer["last_delivery"].is_string(), "{st}");

    // A FLASH liaison message, acknowledged by the recipient.
    let msg = ok(
        &dz,
        &[
            "send",
            "--channel",
            &ch,
            "--file",
            "terrorism",
            "--precedence",
            "flash",
            "--text",
            "Attack in Casablanca; screen these names now",
            "--ack-required",
        ],
    );
    wait_for("the FLASH at MA", 20, || {
        json(&ma, &["inbox", "--json"])
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    let inbox = json(&ma, &["inbox", "--json"]);
    let m = &inbox[0];
    assert_eq!(m["id"], msg.as_str());
    assert_eq!(m["precedence"], "flash");
    assert_eq!(m["sender"], json(&dz, &["card"])["id"]);
    assert_eq!(m["acked"], false);
    for f in ["channel", "file", "text", "sent_at", "received_at"] {
        assert!(m.get(f).is_some(), "inbox entry lacks {f}");
    }
    assert_eq!(
        json(&dz, &["sync", "status", "--json"])["unacked"][0]["id"],
        msg.as_str()
    );
    ok(&ma, &["ack", &msg]);
    assert_eq!(json(&ma, &["inbox", "--json"])[0]["acked"], true);
    wait_for("the ack at DZ", 20, || {
        json(&dz, &["sync", "status", "--json"])["unacked"]
            .as_array()
            .is_some_and(|a| a.is_empty())
    });

    // MA is killed; DZ keeps creating; MA restarts and catches up.
    drop(s2);
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = write(
            &dz,
            &format!("q{i}.json"),
            &format!(r#"{{"names": ["Courier {i}"]}}"#),
        );
        ids.push(ok(
            &dz,
            &[
                "record",
                "add",
                "--channel",
                &ch,
                "--file",
                "recruitment",
                "--kind",
                "person",
                "--data",
                &p,
            ],
        ));
    }
    s2 = serve(&ma);
    wait_for("the backlog at MA", 40, || {
        ids.iter().all(|i| {
            tansiq(&ma, &["record", "get", i, "--json"])
                .status
                .success()
        })
    });

    // A retraction is purged at the holder.
    ok(&dz, &["record", "retract", &id]);
    wait_for("the retraction at MA", 20, || {
        json(&ma, &["record", "get", &id, "--json"])["status"] == "retracted"
    });
    drop(s2);
    for d in [&dz, &ma] {
        ok(d, &["audit", "verify"]);
    }
    let db = store_bytes(&ma);
    assert!(
        !contains(&db, b"Belkeziz"),
        "plaintext of the retracted record left at the holder"
    );
}
