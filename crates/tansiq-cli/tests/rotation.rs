//! Key rotation between two real `tansiq serve` processes over mutual
//! TLS: a node rotates while its partner is down; when the partner comes
//! back it learns the new card by push, records flow both ways, envelopes
//! sealed to the old key still open, and a forged or rolled-back card is
//! refused.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn init_at(root: &Path, name: &str, cc: &str) -> std::path::PathBuf {
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

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &Path) -> Serve {
    let s = Serve(
        Command::new(env!("CARGO_BIN_EXE_tansiq"))
            .args(["serve", "--dir"])
            .arg(dir)
            .env("TANSIQ_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Serving once the partner port accepts.
    let listen = std::fs::read_to_string(dir.join("config.toml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("listen = ")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap();
    wait_for("serve to listen", 20, || {
        std::net::TcpStream::connect(&listen).is_ok()
    });
    s
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
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

fn add_person(dir: &Path, ch: &str, file: &str, name: &str) -> String {
    let p = write(
        dir,
        &format!("{}.json", name.replace(' ', "_")),
        &format!(r#"{{"names": ["{name}"]}}"#),
    );
    ok(
        dir,
        &[
            "record",
            "add",
            "--channel",
            ch,
            "--file",
            file,
            "--kind",
            "person",
            "--data",
            &p,
        ],
    )
}

fn has_record(dir: &Path, id: &str) -> bool {
    tansiq(dir, &["record", "get", id, "--json"])
        .status
        .success()
}

fn audit_actions(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("node.db")).unwrap();
    let mut st = db.prepare("SELECT action FROM audit_log").unwrap();
    st.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Two nodes with an active DZ-MA channel, both stopped.
fn pair(root: &Path) -> (std::path::PathBuf, std::path::PathBuf, String, String) {
    let dz = init_at(root, "dz", "DZ");
    let ma = init_at(root, "ma", "MA");
    let dz_card = root.join("dz.json");
    let ma_card = root.join("ma-gen0.json");
    std::fs::write(&dz_card, ok(&dz, &["card"])).unwrap();
    std::fs::write(&ma_card, ok(&ma, &["card"])).unwrap();
    let ma_id = ok(&dz, &["peer", "add", ma_card.to_str().unwrap()]);
    ok(&ma, &["peer", "add", dz_card.to_str().unwrap()]);
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
    let exported = write(&dz, "charter.json", &ok(&dz, &["channel", "export", &ch]));
    ok(&ma, &["channel", "import", &exported]);
    ok(&ma, &["channel", "accept", &ch]);
    let back = write(&ma, "signed.json", &ok(&ma, &["channel", "export", &ch]));
    ok(&dz, &["channel", "import", &back]);
    assert_eq!(channel_status(&dz, &ch), "active");
    assert_eq!(channel_status(&ma, &ch), "active");
    (dz, ma, ma_id, ch)
}

#[test]
fn a_node_rotates_while_its_partner_is_down_and_both_carry_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (dz, ma, ma_id, ch) = pair(tmp.path());

    // Before the rotation, both stopped: DZ's record is sealed to MA's
    // current (soon old) encryption key; MA's is signed by its old key.
    let sealed_before = add_person(&dz, &ch, "terrorism", "Sealed Before");
    let signed_before = add_person(&ma, &ch, "terrorism", "Signed Before");

    // MA rotates (DZ is down, and stays down a while).
    let old_card = json(&ma, &["card"]);
    let rotated = json(&ma, &["keys", "rotate", "--json"]);
    assert_eq!(rotated["gen"], 1);
    let new_card = &rotated["card"];
    assert_eq!(
        new_card["id"],
        ma_id.as_str(),
        "the node id does not change"
    );
    assert_ne!(new_card["signing_key"], old_card["signing_key"]);
    assert_ne!(new_card["encryption_key"], old_card["encryption_key"]);
    assert_eq!(new_card["genesis_key"], old_card["signing_key"]);
    assert_eq!(json(&ma, &["card"]), *new_card, "`card` shows the new card");
    use std::os::unix::fs::PermissionsExt;
    for f in [
        "keys/gen-1/signing.key",
        "keys/gen-1/encryption.key",
        "keys/signing.key",
    ] {
        let mode = std::fs::metadata(ma.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    assert!(audit_actions(&ma).iter().any(|a| a == "keys.rotate"));
    ok(&ma, &["audit", "verify"]);

    let st = json(&ma, &["sync", "status", "--json"]);
    assert_eq!(st["peers"][0]["card_pending"], true, "{st}");
    // MA serves alone and keeps working with its new key.
    let s_ma = serve(&ma);
    let signed_after = add_person(&ma, &ch, "recruitment", "Signed After");
    // Rotating again while serve holds the keys is refused.
    let err = fails(&ma, &["keys", "rotate"], 2);
    assert!(err.contains("stop `tansiq serve`"), "{err}");
    std::thread::sleep(Duration::from_secs(2));

    // DZ comes back: it learns MA's new card by push, then everything flows.
    let s_dz = serve(&dz);
    wait_for("MA's records at DZ", 90, || {
        has_record(&dz, &signed_before) && has_record(&dz, &signed_after)
    });
    wait_for("DZ's record (sealed to MA's old key) at MA", 90, || {
        has_record(&ma, &sealed_before)
    });
    assert_eq!(
        json(&ma, &["record", "get", &sealed_before, "--json"])["data"]["names"][0],
        "Sealed Before"
    );
    assert!(audit_actions(&dz).iter().any(|a| a == "peer.rotate"));
    let st = json(&ma, &["sync", "status", "--json"]);
    assert!(st["peers"][0].get("card_pending").is_none(), "{st}");

    // And after: both ways, under the new keys.
    let from_dz = add_person(&dz, &ch, "terrorism", "From DZ After");
    let from_ma = add_person(&ma, &ch, "terrorism", "From MA After");
    wait_for("the new records on both sides", 60, || {
        has_record(&ma, &from_dz) && has_record(&dz, &from_ma)
    });
    drop(s_dz);
    drop(s_ma);
    for d in [&dz, &ma] {
        ok(d, &["audit", "verify"]);
    }

    // DZ refuses to go back to MA's old card.
    let err = fails(
        &dz,
        &[
            "peer",
            "add",
            tmp.path().join("ma-gen0.json").to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("rollback"), "{err}");
}

#[test]
fn forged_rotations_are_refused() {
    use tansiq_crypto::Identity;
    use tansiq_node::card::{NodeCard, Rotation, RotationBody};
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let ma_card: NodeCard = serde_json::from_str(&ok(&ma, &["card"])).unwrap();
    let card_file = write(&dz, "ma.json", &serde_json::to_string(&ma_card).unwrap());
    ok(&dz, &["peer", "add", &card_file]);

    // Someone without MA's key claims a rotation of MA to their own key:
    // the statement is signed by the new key, not by MA's.
    let thief = Identity::generate();
    let body = RotationBody {
        id: ma_card.body.id.clone(),
        gen: 1,
        signing_key: tansiq_crypto::b64(thief.signing_public()),
        encryption_key: tansiq_crypto::b64(thief.encryption_public()),
        at: "2026-11-29T06:00:00Z".into(),
    };
    let forged = NodeCard::issue_rotated(
        &ma_card.body.id,
        &thief,
        Some(ma_card.signing_key().unwrap()),
        &[Rotation::sign(body, &thief)],
        "MA",
        "MA",
        &ma_card.body.endpoint,
        &ma_card.body.created,
    );
    let f = write(&dz, "forged.json", &serde_json::to_string(&forged).unwrap());
    let before = ok(&dz, &["peer", "list", "--json"]);
    let err = fails(&dz, &["peer", "add", &f], 2);
    assert!(err.contains("not signed by the previous key"), "{err}");
    assert_eq!(
        ok(&dz, &["peer", "list", "--json"]),
        before,
        "nothing changed"
    );

    // A chain to the thief's key from another genesis: not MA's id.
    let forged2 = NodeCard::issue_rotated(
        &ma_card.body.id,
        &thief,
        Some(thief.signing_public()),
        &[Rotation::sign(
            RotationBody {
                id: ma_card.body.id.clone(),
                gen: 1,
                signing_key: tansiq_crypto::b64(thief.signing_public()),
                encryption_key: tansiq_crypto::b64(thief.encryption_public()),
                at: "2026-11-29T06:00:00Z".into(),
            },
            &thief,
        )],
        "MA",
        "MA",
        &ma_card.body.endpoint,
        &ma_card.body.created,
    );
    let f2 = write(
        &dz,
        "forged2.json",
        &serde_json::to_string(&forged2).unwrap(),
    );
    let err = fails(&dz, &["peer", "add", &f2], 2);
    assert!(err.contains("genesis"), "{err}");

    // The real rotation is taken; an altered copy of it is not.
    let real = json(&ma, &["keys", "rotate", "--json"])["card"].clone();
    let mut altered = real.clone();
    altered["rotations"][0]["at"] = "2020-01-01T00:00:00Z".into();
    let fa = write(&dz, "altered.json", &altered.to_string());
    fails(&dz, &["peer", "add", &fa], 2);
    let fr = write(&dz, "real.json", &real.to_string());
    ok(&dz, &["peer", "add", &fr]);
    assert!(audit_actions(&dz).iter().any(|a| a == "peer.rotate"));
}
