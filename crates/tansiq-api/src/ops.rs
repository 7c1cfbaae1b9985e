//! Health endpoints on the local API port, for a supervisor, an
//! orchestrator or a load balancer (docs/OPERATIONS.md):
//!
//! - `GET /healthz`: the process serves HTTP — always 200 while it does.
//! - `GET /readyz`: 200 once the store answers a read and the partner
//!   port is bound in this process; 503 otherwise, with the reason
//!   (`store` or `partner port`).
//!
//! No token: a prober has none. So the answers say ok / not ready and
//! which of the two checks failed, nothing else — no ids, no counts, no
//! error text (which could name a database host).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use tansiq_node::Node;

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

/// A store slower than this to answer one read is not ready: a prober
/// must get an answer well inside its own timeout, and a PostgreSQL pool
/// would otherwise make it wait for `acquire_timeout` (30 s).
const STORE_DEADLINE: Duration = Duration::from_secs(2);

/// Partner listeners bound in this process, per node id. `serve` binds
/// the partner port beside the API and holds a [`PartnerPortBound`] while
/// it serves; the API router is built from the node alone, so this is how
/// it learns of the port (several nodes may serve in one test process,
/// hence per node).
static PARTNER_PORTS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Says that `node`'s partner port is bound in this process, until dropped.
pub struct PartnerPortBound {
    node: String,
}

/// Marks `node`'s partner port bound; `/readyz` answers 200 (store
/// permitting) while the returned guard lives.
pub fn partner_port_bound(node: &Node) -> PartnerPortBound {
    let node = node.id().to_string();
    *ports().entry(node.clone()).or_insert(0) += 1;
    PartnerPortBound { node }
}

impl Drop for PartnerPortBound {
    fn drop(&mut self) {
        let mut ports = ports();
        if let Some(n) = ports.get_mut(&self.node) {
            *n -= 1;
            if *n == 0 {
                ports.remove(&self.node);
            }
        }
    }
}

fn ports() -> std::sync::MutexGuard<'static, BTreeMap<String, usize>> {
    // A panic while holding it cannot leave the map inconsistent.
    PARTNER_PORTS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The health routes, merged into the local API's router (`local.rs`),
/// whose authentication lets these paths through without a token.
pub fn router<S: Clone + Send + Sync + 'static>(node: Arc<Node>) -> Router<S> {
    Router::new()
        .route(HEALTHZ, get(healthz))
        .route(READYZ, get(readyz))
        .with_state(node)
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(node): State<Arc<Node>>) -> (StatusCode, Json<Value>) {
    let not_ready = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": reason})),
        )
    };
    if !store_answers(node.clone()).await {
        return not_ready("store");
    }
    if !ports().contains_key(node.id()) {
        return not_ready("partner port");
    }
    (StatusCode::OK, Json(json!({"status": "ok"})))
}

/// One read transaction on the store, off the async workers (the store
/// is synchronous), within [`STORE_DEADLINE`].
async fn store_answers(node: Arc<Node>) -> bool {
    let read = tokio::task::spawn_blocking(move || {
        node.store.read(|tx| tx.meta_get("schema_version")).is_ok()
    });
    matches!(
        tokio::time::timeout(STORE_DEADLINE, read).await,
        Ok(Ok(true))
    )
}

/// `GET /metrics`: Prometheus text format, behind the API's bearer token
/// (not public: peer ids and backlogs describe the node's partners), for
/// a user who may read the sync status — the same view as
/// `GET /api/v1/sync/status`, so no new disclosure.
pub const METRICS: &str = "/metrics";

/// The token-protected metrics route, merged into the local API's router
/// (authenticated there like every other non-public path).
pub fn metrics_router<S: Clone + Send + Sync + 'static>(node: Arc<Node>) -> Router<S> {
    Router::new().route(METRICS, get(metrics)).with_state(node)
}

async fn metrics(
    State(node): State<Arc<Node>>,
    axum::Extension(actor): axum::Extension<tansiq_core::user::Actor>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = tokio::task::spawn_blocking(move || node.sync_probe(&actor)).await;
    match status {
        Ok(Ok(s)) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            encode_metrics(&s),
        )
            .into_response(),
        Ok(Err(tansiq_node::NodeError::Refused(_))) => StatusCode::FORBIDDEN.into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The sync status as Prometheus metrics.
pub fn encode_metrics(s: &tansiq_node::peering::SyncStatus) -> String {
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    type PerPeer = Family<Vec<(String, String)>, Gauge>;
    let mut reg = prometheus_client::registry::Registry::with_prefix("tansiq");
    let now = tansiq_core::time::now();
    // Seconds since a stored instant; None if it does not parse.
    let age = |at: &str| {
        tansiq_core::time::parse_instant(at)
            .ok()
            .map(|t| (now - t).num_seconds().max(0))
    };
    let (up, queued, in_flight) = (PerPeer::default(), PerPeer::default(), PerPeer::default());
    let delivered = PerPeer::default();
    for p in &s.peers {
        let label = vec![("peer".to_string(), p.id.clone())];
        up.get_or_create(&label).set(i64::from(p.link == "up"));
        queued.get_or_create(&label).set(p.queued as i64);
        in_flight.get_or_create(&label).set(p.in_flight as i64);
        // No sample for a peer never delivered to: absent, not "0 s ago".
        if let Some(a) = p.last_delivery.as_deref().and_then(age) {
            delivered.get_or_create(&label).set(a);
        }
    }
    let flashes: Vec<_> = s
        .unacked
        .iter()
        .filter(|m| m.precedence.eq_ignore_ascii_case("flash"))
        .collect();
    let (flash, oldest) = (Gauge::<i64>::default(), Gauge::<i64>::default());
    flash.set(flashes.len() as i64);
    oldest.set(
        flashes
            .iter()
            .filter_map(|m| age(&m.sent_at))
            .max()
            .unwrap_or(0),
    );
    reg.register(
        "peer_last_delivery_age_seconds",
        "Seconds since the last successful delivery to the peer",
        delivered,
    );
    reg.register(
        "unacked_flash_oldest_age_seconds",
        "Age of the oldest unacknowledged FLASH message (0 if none)",
        oldest,
    );
    reg.register(
        "peer_up",
        "1 when the last delivery attempt to the peer succeeded",
        up,
    );
    reg.register(
        "peer_queued",
        "Envelopes waiting for the peer in the outbox",
        queued,
    );
    reg.register(
        "peer_in_flight",
        "Envelopes sent to the peer, not yet acknowledged",
        in_flight,
    );
    reg.register(
        "unacked_flash_messages",
        "Sent FLASH messages some recipient has not acknowledged",
        flash,
    );
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}
