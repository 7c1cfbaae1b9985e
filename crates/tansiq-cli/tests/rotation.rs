//! Key rotation between two real `tansiq serve` processes over mutual
//! TLS: a node rotates while its partner is down; when the partner comes
//! back it learns the new card by push, records flow both ways, envelopes
//! sealed to the old key still open, and a forged or rolled-back card is
//! refused.

mod common;

use std::path::Path;

use common::*;

/// `tansiq init` on SQLite whatever the suite's backend (these tests read
/// node.db directly), on free ports.
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

/// `tansiq serve`, once its partner port accepts.
fn serve(dir: &Path) -> Serve {
    let s = serve_logged(dir, "warn", None);
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
    // MA has tried DZ (down) with its new card to push: the push is
    // retried once DZ is back.
    wait_for("MA failing to reach DZ", 30, || {
        json(&ma, &["sync", "status", "--json"])["peers"][0]["last_error"].is_string()
    });

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

/// A node's key generation as `dir` holds it for `peer` (0: never rotated).
fn peer_gen(dir: &Path, peer: &str) -> i64 {
    sqlite_db(dir)
        .query_row(
            "SELECT COALESCE(json_extract(card, '$.gen'), 0) FROM peers WHERE id = ?1",
            [peer],
            |r| r.get(0),
        )
        .unwrap()
}

/// Points `dir`'s route to `peer` at `endpoint` (the peer row's endpoint,
/// read before every send): a dead address cuts the link on this side
/// only, while other nodes still reach `peer`.
fn route(dir: &Path, peer: &str, endpoint: &str) {
    let n = sqlite_db(dir)
        .execute(
            "UPDATE peers SET endpoint = ?1 WHERE id = ?2",
            [endpoint, peer],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn alarms(dir: &Path) -> Vec<serde_json::Value> {
    json(dir, &["sync", "status", "--json"])["alarms"]
        .as_array()
        .unwrap()
        .clone()
}

/// DZ rotates its keys while its direct link to MA is cut and TN, the
/// channel's relay, is up. DZ's envelopes reach MA only through TN, signed
/// with a key MA has never seen, and DZ's card push cannot reach MA. MA
/// fetches DZ's new card from the relay that brought them (it verifies it
/// against the chain it holds) and takes them in; nothing is refused on
/// the way, everything arrives exactly once, and the relay holds no
/// plaintext. When the link heals, DZ's push completes and traffic goes
/// direct again.
#[test]
fn a_rotation_reaches_a_partner_reachable_only_through_a_relay() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let dz = init_at(root, "dz", "DZ");
    let ma = init_at(root, "ma", "MA");
    let tn = init_at(root, "tn", "TN");
    let (dz_id, ma_id) = introduce(&dz, &ma);
    let (_, tn_id) = introduce(&dz, &tn);
    introduce(&ma, &tn);
    let s_ma = serve(&ma);
    let s_tn = serve(&tn);
    let mut s_dz = serve(&dz);
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
            "terrorism",
            "--relays",
            &tn_id,
        ],
    );
    wait_for("the charter at MA", 30, || {
        channel_status(&ma, &ch) == "pending"
    });
    ok(&ma, &["channel", "accept", &ch]);
    wait_for("the channel active at DZ", 30, || {
        channel_status(&dz, &ch) == "active"
    });
    let before = add_person(&dz, &ch, "terrorism", "Before Rotation");
    wait_for("DZ's first record at MA", 60, || has_record(&ma, &before));

    // DZ stops, loses its direct route to MA, rotates, and serves again.
    drop(s_dz);
    let ma_endpoint = json(&dz, &["peer", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ma_id.as_str())
        .unwrap()["endpoint"]
        .as_str()
        .unwrap()
        .to_string();
    route(&dz, &ma_id, &format!("127.0.0.1:{}", free_port()));
    assert_eq!(json(&dz, &["keys", "rotate", "--json"])["gen"], 1);
    s_dz = serve(&dz);

    // Traffic both ways during the cut: DZ's under its new key, MA's
    // (MA still expects DZ's old TLS key) through the relay too.
    let names = ["Relayed One", "Relayed Two", "Relayed Three"];
    let during: Vec<String> = names
        .iter()
        .map(|n| add_person(&dz, &ch, "terrorism", n))
        .collect();
    let flash = ok(
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
            "FLASH under the new key",
        ],
    );
    let from_ma = add_person(&ma, &ch, "terrorism", "From MA During Cut");
    let inbox_has = |dir: &Path, id: &str| {
        json(dir, &["inbox", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id)
    };
    let diag = || {
        format!(
            "MA holds DZ gen {}; MA alarms {:?}; TN alarms {:?}\nDZ status {}\nTN status {}",
            peer_gen(&ma, &dz_id),
            alarms(&ma),
            alarms(&tn),
            json(&dz, &["sync", "status", "--json"]),
            json(&tn, &["sync", "status", "--json"]),
        )
    };
    wait_diag(
        "DZ's records and FLASH at MA through the relay",
        120,
        || during.iter().all(|r| has_record(&ma, r)) && inbox_has(&ma, &flash),
        diag,
    );
    wait_diag("MA's record at DZ", 120, || has_record(&dz, &from_ma), diag);
    assert_eq!(peer_gen(&ma, &dz_id), 1, "MA took DZ's new card");
    assert!(audit_actions(&ma).iter().any(|a| a == "peer.rotate"));
    // DZ could not push its card to MA itself: still pending on its side.
    let st = json(&dz, &["sync", "status", "--json"]);
    let to_ma = st["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ma_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(to_ma["card_pending"], true, "{st}");
    // Nothing was refused anywhere on the way.
    for d in [&dz, &ma, &tn] {
        assert!(alarms(d).is_empty(), "{d:?}: {:?}", alarms(d));
    }

    // The link heals: DZ's push goes through and traffic goes direct.
    route(&dz, &ma_id, &ma_endpoint);
    wait_diag(
        "DZ's card push to MA after the link heals",
        60,
        || {
            json(&dz, &["sync", "status", "--json"])["peers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p.get("card_pending").is_none())
        },
        diag,
    );
    let after = add_person(&dz, &ch, "terrorism", "After Healing");
    wait_for("DZ's record after healing at MA", 60, || {
        has_record(&ma, &after)
    });
    drop(s_dz);
    drop(s_ma);
    drop(s_tn);

    // Exactly once: one version and one delivery of each of DZ's five
    // records at MA, one message, and MA's record once at DZ.
    let m = sqlite_db(&ma);
    let (versions, receives): (i64, i64) = m
        .query_row(
            "SELECT (SELECT COUNT(*) FROM record_versions v JOIN records r ON r.id = v.id \
             WHERE r.originator = ?1), \
             (SELECT COUNT(*) FROM audit_log WHERE action = 'record.receive')",
            [&dz_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((versions, receives), (5, 5));
    assert_eq!(store_count(&ma, "SELECT COUNT(*) FROM messages"), 1);
    assert_eq!(
        store_count(
            &dz,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'record.receive'"
        ),
        1
    );
    // The relay carried sealed envelopes only.
    let relay = store_bytes(&tn);
    for n in names {
        assert!(!contains(&relay, n.as_bytes()), "{n} in clear at the relay");
    }
    for d in [&dz, &ma, &tn] {
        ok(d, &["audit", "verify"]);
    }
}
