//! An insider's and a removed partner's attempts against peer removal
//! (issue 12, finding 8): a removed peer can no longer reach the partner
//! endpoint, whether it opens a new connection or reuses one it holds.

use std::sync::Arc;

use tansiq_core::user::Actor;
use tansiq_node::peering::{self, CARD_PATH};
use tansiq_node::transport::{PeerClient, PeerSet, TlsIdentity};
use tansiq_node::{InitOptions, Node};

const OP: Actor = Actor::Operator;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn node(root: &std::path::Path, name: &str, cc: &str) -> Node {
    Node::init(
        &root.join(name),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{}", free_port()),
            endpoint: None,
            api_listen: Some(&format!("127.0.0.1:{}", free_port())),
            store: None,
        },
    )
    .unwrap()
}

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
        let server = tokio::spawn(peering::serve_peers(
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
