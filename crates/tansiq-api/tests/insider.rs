//! An insider's and a removed partner's attempts against peer removal
//! (issue 12, finding 8): a removed peer can no longer reach the partner
//! endpoint, whether it opens a new connection or reuses one it holds.

mod common;

use std::sync::Arc;

use tansiq_api::partner::serve_peers;
use tansiq_net::transport::{PeerClient, PeerSet, TlsIdentity};
use tansiq_node::peering::{self, CARD_PATH};

use common::{node, pump_lenient, OP};

#[test]
fn a_removed_peer_cannot_reach_the_partner_endpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = Arc::new(node(tmp.path(), "dz", "DZ"));
    let ma = node(tmp.path(), "ma", "MA");
    dz.peer_add(&OP, &serde_json::to_vec(&ma.card()).unwrap())
        .unwrap();
    ma.peer_add(&OP, &serde_json::to_vec(&dz.card()).unwrap())
        .unwrap();
    let dz_key = dz.identity.signing_public();
    let dz_endpoint = dz.config.listen.clone();
    let card = serde_json::to_vec(&ma.card()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dz_peers = PeerSet::new();
        peering::refresh_peers(&dz, &dz_peers).unwrap();
        let listener = tokio::net::TcpListener::bind(&dz_endpoint).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_peers(
            dz.clone(),
            listener,
            dz_peers.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        let ma_peers = PeerSet::new();
        peering::refresh_peers(&ma, &ma_peers).unwrap();
        let me = TlsIdentity::from_identity_as(&ma.identity, ma.id()).unwrap();
        let client = PeerClient::new(&me, Arc::new(ma_peers.clone())).unwrap();
        let post = |c: &PeerClient| {
            let (c, e, k, b) = (c.clone(), dz_endpoint.clone(), dz_key, card.clone());
            async move {
                c.post_with_type(&e, &k, CARD_PATH, "application/json", b)
                    .await
            }
        };
        let (status, _) = post(&client).await.unwrap();
        assert_eq!(status, 204, "a trusted peer is heard");
        let removed = dz.peer_remove(&OP, ma.id(), false).unwrap();
        assert_eq!(removed.id, ma.id());
        // what `serve` does every 250 ms
        peering::refresh_peers(&dz, &dz_peers).unwrap();
        assert!(!dz_peers.contains(&ma.identity.signing_public()));
        // the connection MA holds, and a new one
        let r = post(&client).await;
        assert!(!matches!(r, Ok((204, _))), "a held connection: {r:?}");
        let fresh = PeerClient::new(&me, Arc::new(ma_peers.clone())).unwrap();
        let r = post(&fresh).await;
        assert!(r.is_err(), "a new connection: {r:?}");
        let _ = stop.send(());
        let _ = server.await;
    });
    assert!(dz.peer_list(&OP).unwrap().is_empty());
}

/// After `peer remove --force`, nothing the removed peer signs is taken,
/// whether it sends it itself or a member that still trusts it passes it
/// on; the partners that keep it are unaffected.
#[test]
fn nothing_a_removed_peer_signs_is_taken_any_more() {
    use serde_json::json;
    use tansiq_core::record::Kind;
    use tansiq_node::records::NewRecord;

    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ma = node(tmp.path(), "ma", "MA");
    let tn = node(tmp.path(), "tn", "TN");
    let all = [&dz, &ma, &tn];
    for a in all {
        for b in all {
            if a.id() != b.id() {
                a.peer_add(&OP, &serde_json::to_vec(&b.card()).unwrap())
                    .unwrap();
            }
        }
    }
    let ch = dz
        .channel_create(
            &OP,
            "A",
            vec![ma.id().to_string(), tn.id().to_string()],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump_lenient(&all);
    ma.channel_accept(&OP, &ch).unwrap();
    tn.channel_accept(&OP, &ch).unwrap();
    pump_lenient(&all);
    let person = |name: &str| NewRecord {
        channel: ch.clone(),
        file: "terrorism".into(),
        kind: Kind::Person,
        data: json!({"names": [name]}),
        tlp: None,
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    };
    let before = ma.record_add(&OP, person("Before Removal")).unwrap();
    pump_lenient(&all);
    assert!(
        dz.record_get(&OP, &before).is_ok(),
        "a trusted peer is heard"
    );
    // refused without --force: MA is a member of A
    let r = dz.peer_remove(&OP, ma.id(), false);
    assert!(
        matches!(&r, Err(tansiq_node::NodeError::Refused(x)) if x.reason.contains(&ch)),
        "{r:?}"
    );
    let removed = dz.peer_remove(&OP, ma.id(), true).unwrap();
    assert_eq!(removed.channels, vec![ch.clone()]);
    // DZ goes on posting in A; nothing is sealed or queued for MA (rows
    // that could never leave would pile up for as long as the charter
    // names it), and TN still gets it.
    let from_dz = dz.record_add(&OP, person("From DZ After Removal")).unwrap();
    let for_ma = dz
        .store
        .read(|tx| tx.sync_outbox())
        .unwrap()
        .into_iter()
        .filter(|r| r.to_node == ma.id())
        .count();
    assert_eq!(for_ma, 0, "outbox rows for a removed peer");
    let after = ma.record_add(&OP, person("After Removal")).unwrap();
    pump_lenient(&all);
    assert!(tn.record_get(&OP, &after).is_ok(), "TN still trusts MA");
    assert!(tn.record_get(&OP, &from_dz).is_ok(), "TN gets DZ's posts");
    assert!(
        ma.record_get(&OP, &from_dz).is_err(),
        "a peer removed by force still reads DZ's posts"
    );
    assert!(
        dz.record_get(&OP, &after).is_err(),
        "DZ took a record signed by a peer it removed"
    );
    assert!(dz.audit_verify(&OP).unwrap().ok);
}
