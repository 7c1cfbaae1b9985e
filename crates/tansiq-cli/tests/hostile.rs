//! A hostile partner over the real transport (issue 12): Morocco's node
//! keys, opened by this test while its `serve` is stopped, sign a rewrite
//! and a tombstone of Algeria's record; Morocco's own `serve` then delivers
//! them over mutual TLS to Algeria and Tunisia, both serving. Neither takes
//! them in; both raise an alarm that `sync status` shows; every audit log
//! verifies. Runs on SQLite and, in CI, on PostgreSQL.

mod common;

use serde_json::json;

use common::*;
use tansiq_core::policy::ReadScope;
use tansiq_core::record::SignedRecord;
use tansiq_node::federation::Payload;
use tansiq_node::Node;
use tansiq_sync::Precedence;

/// Signs `payload` with `n`'s keys and queues it to the channel's members,
/// bypassing every check of `n`'s own: what a partner's modified node can
/// send.
fn forge(n: &Node, channel: &str, members: &[&str], payload: &Payload) {
    let mut m: Vec<String> = members.iter().map(|s| s.to_string()).collect();
    m.sort();
    // Queued in the store: the node's `serve` delivers it.
    n.send_unchecked(channel, Precedence::Routine, m, vec![], payload)
        .unwrap();
}

fn hostile_alarms(dir: &std::path::Path) -> usize {
    json(dir, &["sync", "status", "--json"])["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "hostile")
        .count()
}

#[test]
fn a_partner_rewriting_another_agencys_record_over_tls_is_refused_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = init_at(tmp.path(), "dz", "DZ");
    let ma = init_at(tmp.path(), "ma", "MA");
    let tn = init_at(tmp.path(), "tn", "TN");
    let (dz_id, ma_id) = introduce(&dz, &ma);
    let (_, tn_id) = introduce(&dz, &tn);
    introduce(&ma, &tn);
    let _dz = serve_logged(&dz, "warn", None);
    let _tn = serve_logged(&tn, "warn", None);
    let ma_serve = serve_logged(&ma, "warn", None);
    let ch = form_channel_serving(&dz, &[(&ma, &ma_id), (&tn, &tn_id)], "A");
    let r = add_person(&dz, &ch, "terrorism", "Abdelmalek Droukdel");
    for d in [&ma, &tn] {
        wait_for("the record at each member", 30, || {
            tansiq(d, &["record", "get", &r, "--json"]).status.success()
        });
    }

    // Morocco's node, modified: its serve stopped, its keys used directly.
    drop(ma_serve);
    {
        let node = Node::open(&ma).unwrap();
        let held: SignedRecord = node
            .store
            .read(|tx| tx.record(&r, &ReadScope::everything()))
            .unwrap()
            .unwrap()
            .signed
            .unwrap();
        let members = [dz_id.as_str(), ma_id.as_str(), tn_id.as_str()];
        let mut body = held.body.clone();
        body.originator = ma_id.clone();
        body.version = 49;
        body.data = json!({"names": ["Someone Else"], "nationality": ["MA"]});
        let record = SignedRecord::sign(body, &node.identity);
        forge(
            &node,
            &ch,
            &members,
            &Payload::Record {
                record,
                release: None,
            },
        );
        let mut tomb = held.body;
        tomb.originator = ma_id.clone();
        tomb.version = 50;
        tomb.data = json!({});
        tomb.retracted = true;
        let record = SignedRecord::sign(tomb, &node.identity);
        forge(
            &node,
            &ch,
            &members,
            &Payload::Record {
                record,
                release: None,
            },
        );
    }
    let _ma = serve_logged(&ma, "warn", None);
    for d in [&dz, &tn] {
        wait_for("the alarms at each receiver", 30, || hostile_alarms(d) == 2);
        let got = json(d, &["record", "get", &r, "--json"]);
        assert_eq!(got["version"], 1);
        assert_eq!(got["originator"], dz_id.as_str());
        assert_eq!(got["status"], "active");
        assert_eq!(got["data"]["names"][0], "Abdelmalek Droukdel");
    }
    // Algeria's own correction still reaches Tunisia.
    let p = write(
        &dz,
        "v2.json",
        r#"{"names": ["Abdelmalek Droukdel", "Abou Moussab Abdelouadoud"]}"#,
    );
    ok(&dz, &["record", "update", &r, "--data", &p]);
    wait_for("the correction at TN", 30, || {
        json(&tn, &["record", "get", &r, "--json"])["version"] == 2
    });
    for d in [&dz, &ma, &tn] {
        ok(d, &["audit", "verify"]);
    }
}
