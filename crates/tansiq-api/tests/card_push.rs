//! A key rotation meets the partner endpoint over real mutual TLS: the
//! card push (`peering::push_card`) against a serving partner
//! (`partner::serve_peers`), before and after the partner takes the new
//! key. The rotation rules without a network are tansiq-node's
//! `tests/rotation.rs`.

mod common;

use std::sync::Arc;

use tansiq_api::partner::serve_peers;
use tansiq_node::card::NodeCard;
use tansiq_node::peering::{self, CARD_PATH};
use tansiq_node::transport::{PeerClient, PeerSet, TlsIdentity};
use tansiq_node::Node;

use common::{node, trust, OP};

fn actions(n: &Node) -> Vec<String> {
    n.store
        .read(|tx| tx.audit_entries(0, 100_000))
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.action)
        .collect()
}

/// The card push over real mutual TLS, two rotations at once: a partner
/// that has not taken the new card refuses the new key in the handshake;
/// the push presents the (genesis) key it knows and moves it forward;
/// then the new key is accepted, and a rollback or another node's card
/// gets 409.
#[test]
fn the_card_push_crosses_the_tls_transition() {
    let tmp = tempfile::tempdir().unwrap();
    let dz = node(tmp.path(), "dz", "DZ");
    let ma = node(tmp.path(), "ma", "MA");
    let us = node(tmp.path(), "us", "US");
    trust(&[&dz, &ma]);
    trust(&[&dz, &us]);
    let gen0 = serde_json::to_vec(&ma.card()).unwrap();
    // Two rotations while DZ hears nothing: it will jump from 0 to 2.
    ma.keys_rotate(&OP).unwrap();
    let ma = Node::open(&tmp.path().join("ma")).unwrap();
    ma.keys_rotate(&OP).unwrap();
    let ma = Arc::new(Node::open(&tmp.path().join("ma")).unwrap());
    assert_eq!(ma.key_generation(), 2);
    assert_eq!(ma.card_pending().unwrap(), vec![(dz.id().to_string(), 0)]);
    let dz_key = dz.identity.signing_public();
    let dz_endpoint = dz.config.listen.clone();
    let dz_id = dz.id().to_string();
    let dz = Arc::new(dz);

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
        let new_key = TlsIdentity::from_identity_as(&ma.identity, ma.id()).unwrap();
        let client = PeerClient::new(&new_key, Arc::new(ma_peers.clone())).unwrap();
        let card = serde_json::to_vec(&ma.card()).unwrap();
        // DZ does not know the new key yet: refused before any request.
        let r = client
            .post_with_type(
                &dz_endpoint,
                &dz_key,
                CARD_PATH,
                "application/json",
                card.clone(),
            )
            .await;
        assert!(r.is_err(), "{r:?}");
        // The push presents the genesis key, which DZ knows.
        peering::push_card(&ma, &ma_peers, &dz_id, &dz_endpoint, &dz_key, 0)
            .await
            .unwrap();
        assert!(ma.card_pending().unwrap().is_empty());
        peering::refresh_peers(&dz, &dz_peers).unwrap();
        // Now the new key is accepted; the same card again is a no-op.
        let client = PeerClient::new(&new_key, Arc::new(ma_peers.clone())).unwrap();
        let (status, _) = client
            .post_with_type(&dz_endpoint, &dz_key, CARD_PATH, "application/json", card)
            .await
            .unwrap();
        assert_eq!(status, 204);
        // Rollback and another node's card: 409, nothing changed.
        for bad in [gen0, serde_json::to_vec(&us.card()).unwrap()] {
            let (status, body) = client
                .post_with_type(&dz_endpoint, &dz_key, CARD_PATH, "application/json", bad)
                .await
                .unwrap();
            assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    });
    let held: NodeCard =
        serde_json::from_str(&dz.store.read(|tx| tx.peer(ma.id())).unwrap().unwrap().card).unwrap();
    assert_eq!(held.body.gen, 2);
    let a = actions(&dz);
    assert_eq!(a.iter().filter(|a| *a == "peer.rotate").count(), 1);
    assert!(actions(&ma).iter().any(|a| a == "peer.card_pushed"));
    assert!(dz.audit_verify(&OP).unwrap().ok);
}
