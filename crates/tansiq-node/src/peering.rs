//! The node's partner side while serving: the mutual-TLS endpoint that
//! takes federation messages from peers, and the sender that delivers
//! queued messages to them, retrying through the engine's backoff.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use tansiq_store::PeerLinkRow;
use tansiq_sync::Transmit;

use crate::card::NodeCard;
use crate::error::{NodeError, NodeResult};
use crate::federation::now_ms;
use crate::hits::{ServeError, HIT_EVALUATE_PATH, HIT_LIST_PATH};
use crate::node::Node;
use crate::transport::{self, PeerClient, PeerId, PeerSet, TlsIdentity};

/// The path every federation message is POSTed to.
pub const SYNC_PATH: &str = "/peer/v1/sync";
/// Largest message accepted from a peer.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Rebuilds the set of trusted keys from the store (peers added by the
/// CLI while serving are picked up on the next refresh).
pub fn refresh_peers(node: &Node, set: &PeerSet) -> NodeResult<()> {
    let peers = node.store.read(|tx| tx.peers())?;
    for p in peers {
        let card: NodeCard = serde_json::from_str(&p.card)
            .map_err(|e| NodeError::Other(format!("peer card: {e}")))?;
        set.insert(card.signing_key()?);
    }
    Ok(())
}

async fn receive(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    body: Bytes,
) -> StatusCode {
    let n = node.clone();
    let r = tokio::task::spawn_blocking(move || {
        // Signature checks and opening, on every core, before the store
        // lock; the transaction then only stores.
        let prepared = n.federation.prepare(&n, &body);
        let _turn = n.federation.turns.wait(prepared.is_urgent());
        let out = n.store.write(|tx| {
            n.federation
                .receive_prepared(&n, tx, &peer, &body, prepared)
        })?;
        n.federation.queue(out);
        Ok::<_, NodeError>(())
    })
    .await;
    match r {
        Ok(Ok(())) => StatusCode::NO_CONTENT,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "federation message not taken in");
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(e) => {
            tracing::error!(error = %e, "federation worker failed");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

/// Runs a hit/no-hit request off the async workers; the answer as a
/// status, content type and body.
async fn hit_call(
    node: Arc<Node>,
    peer: String,
    f: impl FnOnce(&Node, &str) -> Result<Option<(Vec<u8>, &'static str)>, ServeError> + Send + 'static,
) -> Response {
    let r = tokio::task::spawn_blocking(move || f(&node, &peer)).await;
    let (status, ctype, body) = match r {
        Ok(Ok(Some((body, ctype)))) => (200, ctype, body),
        Ok(Ok(None)) => (204, "application/json", Vec::new()),
        Ok(Err(e)) => {
            if let ServeError::Internal(err) = &e {
                tracing::warn!(error = %err, "hit/no-hit request failed");
            }
            let (s, b) = e.response();
            (s, "application/json", b)
        }
        Err(e) => {
            tracing::error!(error = %e, "hit/no-hit worker failed");
            (500, "application/json", Vec::new())
        }
    };
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, ctype)],
        body,
    )
        .into_response()
}

async fn hit_list(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    body: Bytes,
) -> Response {
    hit_call(node, peer, move |n, p| {
        Ok(n.hit_serve_list(p, &body)?
            .map(|l| (l.body.clone(), "application/octet-stream")))
    })
    .await
}

async fn hit_evaluate(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    body: Bytes,
) -> Response {
    hit_call(node, peer, move |n, p| {
        let r = n.hit_serve_evaluate(p, &body)?;
        Ok(Some((
            serde_json::to_vec(&r).unwrap_or_default(),
            "application/json",
        )))
    })
    .await
}

pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route(SYNC_PATH, post(receive))
        .route(HIT_LIST_PATH, post(hit_list))
        .route(HIT_EVALUATE_PATH, post(hit_evaluate))
        .layer(DefaultBodyLimit::max(MAX_MESSAGE_BYTES))
        .with_state(node)
}

/// Serves partners on the node's `listen` address until `shutdown`.
pub async fn serve_peers(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    peers: PeerSet,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> NodeResult<()> {
    let me =
        TlsIdentity::from_identity(&node.identity).map_err(|e| NodeError::Other(e.to_string()))?;
    let cfg = transport::server_config(&me, Arc::new(peers.clone()))
        .map_err(|e| NodeError::Other(e.to_string()))?;
    // Re-check the peer before every request on kept-alive connections, so
    // a peer removed while connected is cut off at once.
    let opts = transport::ServeOptions {
        peers: Some(Arc::new(peers)),
        ..Default::default()
    };
    transport::serve_tls_with(listener, cfg, router(node), shutdown, opts)
        .await
        .map_err(|e| NodeError::Other(format!("partner endpoint: {e}")))
}

fn record_link(node: &Node, peer: &str, ok: bool, error: Option<String>) {
    let now = tansiq_core::time::format(&tansiq_core::time::now());
    // A success in the same second as the last one this process recorded
    // would write the same row again: skip that commit (one per transmit
    // otherwise, each a disk flush taken under the store lock).
    if !node.federation.link_changes(peer, ok, &now) {
        return;
    }
    let _ = node.store.write(|tx| {
        let prev = tx.sync_link(peer)?;
        let row = PeerLinkRow {
            peer: peer.to_string(),
            last_delivery: if ok {
                Some(now.clone())
            } else {
                prev.as_ref().and_then(|p| p.last_delivery.clone())
            },
            last_error: if ok { None } else { error.clone() },
            updated_at: Some(now.clone()),
        };
        tx.sync_put_link(&row)
    });
}

async fn send_one(node: &Arc<Node>, client: &PeerClient, t: Transmit) {
    let to = t.to.as_str().to_string();
    let n = node.clone();
    let target = tokio::task::spawn_blocking(move || {
        let p = n.store.read(|tx| tx.peer(&to))?;
        let Some(p) = p else {
            return Ok::<_, NodeError>(None);
        };
        let card: NodeCard =
            serde_json::from_str(&p.card).map_err(|e| NodeError::Other(e.to_string()))?;
        Ok(Some((p.endpoint, card.signing_key()?)))
    })
    .await;
    let Ok(Ok(Some((endpoint, key)))) = target else {
        tracing::warn!(peer = %t.to.as_str(), "no endpoint for peer; message dropped (the engine will retry)");
        return;
    };
    let bytes = t.message.encode();
    let result = if node.federation.is_link_cut(t.to.as_str()) {
        Err(transport::TransportError::Connect {
            endpoint: endpoint.clone(),
            reason: "link cut".into(),
        })
    } else {
        client.post(&endpoint, &key, SYNC_PATH, bytes).await
    };
    let ok = matches!(&result, Ok((s, _)) if (200..300).contains(s));
    let peer = t.to.as_str().to_string();
    let n = node.clone();
    let err = match &result {
        Ok((s, _)) if !ok => Some(format!("HTTP {s}")),
        Err(e) => Some(e.to_string()),
        _ => None,
    };
    let _ = tokio::task::spawn_blocking(move || {
        record_link(&n, &peer, ok, err);
        if !ok {
            match n.store.write(|tx| n.federation.failed(&n, tx, &t)) {
                Ok(more) => n.federation.queue(more),
                Err(e) => tracing::warn!(error = %e, "recording a failed transmit"),
            }
        }
    })
    .await;
}

/// Sends what is queued, polls the engine's timers, and keeps the trusted
/// key set fresh, until the task is dropped.
pub async fn sender(node: Arc<Node>, peers: PeerSet) {
    let me = match TlsIdentity::from_identity(&node.identity) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "TLS identity");
            return;
        }
    };
    let client = match PeerClient::new(&me, Arc::new(peers.clone())) {
        Ok(c) => c.with_timeouts(Duration::from_secs(5), Duration::from_secs(30)),
        Err(e) => {
            tracing::error!(error = %e, "peer client");
            return;
        }
    };
    let mut last_poll = 0u64;
    // Sends run concurrently and are not waited for as a group: a FLASH
    // queued while a large batch is still being taken in by the peer goes
    // out at once instead of behind it.
    let mut sends = tokio::task::JoinSet::new();
    loop {
        let batch = node.federation.take_outgoing();
        if batch.is_empty() {
            tokio::select! {
                _ = node.federation.wake.notified() => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
        for t in batch {
            let (n, c) = (node.clone(), client.clone());
            sends.spawn(async move { send_one(&n, &c, t).await });
        }
        while sends.try_join_next().is_some() {}
        let now = now_ms();
        if now.saturating_sub(last_poll) >= 250 {
            last_poll = now;
            let n = node.clone();
            let p = peers.clone();
            let _ = tokio::task::spawn_blocking(move || {
                if let Err(e) = refresh_peers(&n, &p) {
                    tracing::warn!(error = %e, "refreshing peers");
                }
                match n.store.write(|tx| n.federation.poll(&n, tx)) {
                    Ok(more) => n.federation.queue(more),
                    Err(e) => tracing::warn!(error = %e, "engine poll"),
                }
            })
            .await;
        }
    }
}

/// One peer's delivery state, as `tansiq sync status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerSyncStatus {
    pub id: String,
    pub name: String,
    /// `up` when the last attempt to reach it succeeded, else `down`.
    pub link: &'static str,
    /// Envelopes waiting for it in the durable outbox.
    pub queued: u64,
    /// Sent, not yet acknowledged (known to the serving process only; 0
    /// from a separate command).
    pub in_flight: u64,
    pub last_delivery: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncStatus {
    pub peers: Vec<PeerSyncStatus>,
    /// Sent FLASH or ack-required messages still awaiting acknowledgement.
    pub unacked: Vec<crate::messages::Unacked>,
    pub alarms: Vec<serde_json::Value>,
}

impl Node {
    pub fn sync_status(&self, actor: &tansiq_core::user::Actor) -> NodeResult<SyncStatus> {
        tansiq_core::policy::authorize(actor, tansiq_core::policy::Action::ReadChannels)?;
        let unacked = self.unacked_messages()?;
        self.store.read(|tx| {
            let counts = tx.sync_outbox_counts()?;
            let mut peers = Vec::new();
            for p in tx.peers()? {
                let link = tx.sync_link(&p.id)?;
                let queued = counts
                    .iter()
                    .find(|(to, _)| *to == p.id)
                    .map_or(0, |(_, n)| *n);
                let up = link
                    .as_ref()
                    .is_some_and(|l| l.last_delivery.is_some() && l.last_error.is_none());
                peers.push(PeerSyncStatus {
                    id: p.id,
                    name: p.name,
                    link: if up { "up" } else { "down" },
                    queued,
                    in_flight: 0,
                    last_delivery: link.as_ref().and_then(|l| l.last_delivery.clone()),
                    last_error: link.and_then(|l| l.last_error),
                });
            }
            let alarms = tx
                .sync_alarms()?
                .into_iter()
                .map(
                    |a| serde_json::json!({"id": a.id, "kind": a.kind, "created_at": a.created_at}),
                )
                .collect();
            Ok(SyncStatus {
                peers,
                unacked,
                alarms,
            })
        })
    }
}
