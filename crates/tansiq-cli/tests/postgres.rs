//! Nodes on PostgreSQL through the CLI: a node created on PostgreSQL works
//! like a SQLite one, a SQLite node moves to PostgreSQL with its audit log
//! verified, and a PostgreSQL node federates with a SQLite node.
//! Needs `TANSIQ_TEST_POSTGRES` (set by `scripts/with-postgres`).

mod common;

use common::*;

#[test]
fn a_node_on_postgres_works_and_refuses_a_second_init() {
    let Some(url) = pg_url("postgres") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n");
    ok(
        &dir,
        &[
            "init",
            "--name",
            "DZ",
            "--country",
            "DZ",
            "--listen",
            "127.0.0.1:7401",
            "--store",
            &url,
        ],
    );
    let n = Node {
        dir: dir.clone(),
        _tmp: tmp,
    };
    let ch = channel(&n);
    let p = write(&dir, "p.json", r#"{"names": ["Hassan Hattab"]}"#);
    let id = add_person_data(&dir, &ch, "terrorism", &p, &[]);
    assert_eq!(
        json(&dir, &["record", "get", &id, "--json"])["data"]["names"][0],
        "Hassan Hattab"
    );
    ok(&dir, &["record", "retract", &id]);
    ok(&dir, &["audit", "verify"]);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(dir.join("config.toml"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let other = dir.parent().unwrap().join("other");
    let err = fails(
        &other,
        &[
            "init",
            "--name",
            "X",
            "--country",
            "DZ",
            "--listen",
            "127.0.0.1:7402",
            "--store",
            &url,
        ],
        2,
    );
    assert!(err.contains("already holds a Tansiq node"), "{err}");
}

#[test]
fn a_sqlite_node_moves_to_postgres_verified_and_the_file_is_kept() {
    let Some(url) = pg_url("postgres") else {
        return;
    };
    let n = init("DZ", "DZ", 7401);
    let ch = channel(&n);
    let mut ids = Vec::new();
    for i in 0..20 {
        let p = write(
            &n.dir,
            &format!("p{i}.json"),
            &format!(r#"{{"names": ["Person {i}"]}}"#),
        );
        ids.push(add_person_data(&n.dir, &ch, "terrorism", &p, &[]));
    }
    let digest = |p: &std::path::Path| tansiq_crypto::sha256(&std::fs::read(p).unwrap());
    let before = digest(&n.dir.join("node.db"));
    let out = ok(&n.dir, &["store", "migrate", "--to", &url]);
    assert!(out.contains("verified"), "{out}");
    assert!(
        digest(&n.dir.join("node.db")) == before,
        "the SQLite file is untouched"
    );
    let config = std::fs::read_to_string(n.dir.join("config.toml")).unwrap();
    assert!(config.contains("postgres"), "{config}");
    assert_eq!(
        json(&n.dir, &["record", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        20
    );
    ok(&n.dir, &["audit", "verify"]);
    // a second migration into the same database is refused
    fails(&n.dir, &["store", "migrate", "--to", &url], 2);
}

#[test]
fn a_postgres_node_federates_with_a_sqlite_node() {
    use tansiq_core::user::Actor;
    use tansiq_node::{InitOptions, Node as N};
    let Some(url) = pg_url("postgres") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mk = |name: &str, cc: &str, port: u16, store: Option<&str>| {
        N::init(
            &tmp.path().join(name),
            &InitOptions {
                name,
                country: cc,
                listen: &format!("127.0.0.1:{port}"),
                api_listen: None,
                store,
                endpoint: None,
            },
        )
        .unwrap()
    };
    let dz = mk("dz", "DZ", 7401, Some(&url));
    let ma = mk("ma", "MA", 7411, None);
    let op = Actor::Operator;
    dz.peer_add(&op, &serde_json::to_vec(&ma.card()).unwrap())
        .unwrap();
    ma.peer_add(&op, &serde_json::to_vec(&dz.card()).unwrap())
        .unwrap();
    let pump = || {
        for _ in 0..20 {
            let mut moved = false;
            for (from, to) in [(&dz, &ma), (&ma, &dz)] {
                for t in from.federation.take_outgoing() {
                    let bytes = t.message.encode();
                    to.take_in_peer_message(from.id(), &bytes, false).unwrap();
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
    };
    let ch = dz
        .channel_create(
            &op,
            "DZ-MA",
            vec![ma.id().into()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump();
    ma.channel_accept(&op, &ch).unwrap();
    pump();
    let new = tansiq_node::records::NewRecord {
        channel: ch.clone(),
        file: "terrorism".into(),
        kind: tansiq_core::record::Kind::Person,
        data: serde_json::json!({"names": ["Abdelmalek Droukdel"]}),
        tlp: None,
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    };
    let id = dz.record_add(&op, new.clone()).unwrap();
    pump();
    assert_eq!(ma.record_get(&op, &id).unwrap().originator, dz.id());
    let back = ma
        .record_add(
            &op,
            tansiq_node::records::NewRecord {
                data: serde_json::json!({"names": ["Mokhtar Belmokhtar"]}),
                ..new
            },
        )
        .unwrap();
    pump();
    assert_eq!(dz.record_get(&op, &back).unwrap().originator, ma.id());
    assert!(dz.audit_verify(&op).unwrap().ok);
    assert!(ma.audit_verify(&op).unwrap().ok);
}
