//! The partner endpoint: the HTTP routes a peer calls over mutual TLS on
//! the node's `listen` address — federation messages, card pushes and
//! fetches, hit/no-hit list and evaluate requests. Each handler only
//! translates HTTP to one node service call, run off the async workers
//! (the store is synchronous), and its result back to a status; the rules
//! live in the services. The paths, the card-fetch request parser and
//! the sender that calls them are tansiq-node's (`peering`, `hits`): both
//! sides share one definition.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use tansiq_net::card::MAX_CARD_BYTES;
use tansiq_net::transport::{self, PeerId, PeerSet};
use tansiq_node::hits::{ServeError, HIT_EVALUATE_PATH, HIT_LIST_PATH};
use tansiq_node::peering::{parse_card_fetch, CARD_FETCH_PATH, CARD_PATH, REPLY_QUERY, SYNC_PATH};
use tansiq_node::rotation::CardUpdate;
use tansiq_node::{Node, NodeError, NodeResult};

/// Largest message accepted from a peer.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// A partner pushes its card after rotating its keys: `204` taken (or
/// already held), `409` refused (not a continuation of the chain held, an
/// older generation, another node's card), `503` try again.
async fn receive_card(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    body: Bytes,
) -> (StatusCode, String) {
    if body.len() > MAX_CARD_BYTES {
        return (StatusCode::PAYLOAD_TOO_LARGE, "card too large".into());
    }
    let n = node.clone();
    let r = tokio::task::spawn_blocking(move || n.receive_card_push(&peer, &body)).await;
    match r {
        Ok(Ok(update)) => {
            if let CardUpdate::Rotated { from, to } = update {
                tracing::info!(from_gen = from, gen = to, "a peer rotated its keys");
            }
            (StatusCode::NO_CONTENT, String::new())
        }
        Ok(Err(NodeError::BadInput(m))) => {
            tracing::warn!(reason = %m, "a pushed card was refused");
            (StatusCode::CONFLICT, m)
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "a pushed card was not taken in");
            (StatusCode::SERVICE_UNAVAILABLE, String::new())
        }
        Err(e) => {
            tracing::error!(error = %e, "card worker failed");
            (StatusCode::INTERNAL_SERVER_ERROR, String::new())
        }
    }
}

/// A peer asks for the card this node holds of another node: `200` with
/// the card, `404` not held or not disclosed to it, `400` malformed.
async fn serve_card(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    body: Bytes,
) -> Response {
    let Some(id) = parse_card_fetch(&body) else {
        return (StatusCode::BAD_REQUEST, "expected {\"id\": NODE_ID}").into_response();
    };
    let r = tokio::task::spawn_blocking(move || node.card_for_peer(&peer, &id)).await;
    match r {
        Ok(Ok(Some(card))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            card,
        )
            .into_response(),
        Ok(Ok(None)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "answering a card fetch");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "card worker failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// One federation message: `204` taken in (its effects committed), `200`
/// with the `batch_ack` in the body when the sender asked for it
/// ([`REPLY_QUERY`]), `503` try again.
async fn receive(
    State(node): State<Arc<Node>>,
    Extension(PeerId(peer)): Extension<PeerId>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let want_reply = query.as_deref() == Some(REPLY_QUERY);
    let r =
        tokio::task::spawn_blocking(move || node.take_in_peer_message(&peer, &body, want_reply))
            .await;
    match r {
        Ok(Ok(Some(reply))) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            reply,
        )
            .into_response(),
        Ok(Ok(None)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "federation message not taken in");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "federation worker failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
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

/// The partner routes; the peer's id comes from the transport (its pinned
/// TLS key) as a [`PeerId`] extension.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route(SYNC_PATH, post(receive))
        .route(CARD_PATH, post(receive_card))
        .route(CARD_FETCH_PATH, post(serve_card))
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
    let me = node.tls_identity().map_err(NodeError::internal)?;
    let cfg =
        transport::server_config(&me, Arc::new(peers.clone())).map_err(NodeError::internal)?;
    // Re-check the peer before every request on kept-alive connections, so
    // a peer removed while connected is cut off at once.
    let opts = transport::ServeOptions {
        peers: Some(Arc::new(peers)),
        ..Default::default()
    };
    transport::serve_tls_with(listener, cfg, router(node), shutdown, opts)
        .await
        .map_err(|e| NodeError::internal(format!("partner endpoint: {e}")))
}
