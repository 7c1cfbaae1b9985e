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
/// (not public: peer ids, backlogs and counts describe the node and its
/// partners), for a user who may read the audit log (admin, auditor —
/// an auditor token reads no record content, the least a scraper needs).
pub const METRICS: &str = "/metrics";

/// What the metrics route keeps between scrapes: the node, and the audit
/// totals per action (so a scrape reads only the entries appended since).
#[derive(Clone)]
struct MetricsState {
    node: Arc<Node>,
    tally: Arc<Mutex<tansiq_node::metrics::AuditTally>>,
}

/// The token-protected metrics route, merged into the local API's router
/// (authenticated there like every other non-public path).
pub fn metrics_router<S: Clone + Send + Sync + 'static>(node: Arc<Node>) -> Router<S> {
    Router::new()
        .route(METRICS, get(metrics))
        .with_state(MetricsState {
            node,
            tally: Default::default(),
        })
}

async fn metrics(
    State(st): State<MetricsState>,
    axum::Extension(actor): axum::Extension<tansiq_core::user::Actor>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    // Prometheus asks for OpenMetrics; anything else (curl, promtool, an
    // older scraper) gets the classic text format.
    let open_metrics = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let figures = tokio::task::spawn_blocking(move || {
        let mut tally = st.tally.lock().unwrap_or_else(|e| e.into_inner());
        st.node.metrics(&actor, &mut tally)
    })
    .await;
    let e = match figures {
        Ok(Ok(f)) => {
            let text = encode_metrics(&f);
            let (kind, body) = if open_metrics {
                (OPENMETRICS_TYPE, text)
            } else {
                (PROMETHEUS_TYPE, prometheus_text(&text))
            };
            return ([(axum::http::header::CONTENT_TYPE, kind)], body).into_response();
        }
        Ok(Err(e)) => e,
        Err(_) => tansiq_node::NodeError::internal("metrics task failed"),
    };
    // The API's error shape (local.rs's ApiError, which uses this module).
    if e.status() >= 500 {
        tracing::error!(error = %e, "metrics failed");
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"error": {"code": e.code(), "message": e.public_message()}});
    (status, Json(body)).into_response()
}

const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// OpenMetrics text (what prometheus-client writes) in the classic
/// Prometheus text format 0.0.4: a counter's `# HELP` and `# TYPE` name the
/// `_total` sample itself, and there are no `# UNIT` or `# EOF` lines.
/// Samples, gauges and histograms are the same in both.
pub fn prometheus_text(open: &str) -> String {
    let counters: std::collections::BTreeSet<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len());
    for line in open.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
            let rest = line.strip_prefix(p)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{p}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

/// The paths of this module for the local API's OpenAPI document.
pub fn openapi_paths() -> Value {
    let err = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let status = |what: &str| json!({"description": what, "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"enum": ["ok", "not ready"]}, "reason": {"enum": ["store", "partner port"]}}}}}});
    json!({
        HEALTHZ: {"get": {"summary": "Liveness: the process serves HTTP (no token)", "security": [],
            "responses": {"200": status("alive"), "405": err("not GET")}}},
        READYZ: {"get": {"summary": "Readiness: the store answers a read within 2 s and the partner port is bound (no token)", "security": [],
            "responses": {"200": status("ready"), "503": status("not ready, and which check failed"), "405": err("not GET")}}},
        METRICS: {"get": {"summary": "Prometheus/OpenMetrics text: per peer link, backlog, backoff, unacknowledged FLASH, witness lag, hit/no-hit budget; rows per table, audit entries per action, checkpoint lag, store latency (admin, auditor)",
            "responses": {
                "200": {"description": "metrics: OpenMetrics when asked for (Accept: application/openmetrics-text, as Prometheus does), else the Prometheus text format 0.0.4", "content": {"application/openmetrics-text": {"schema": {"type": "string"}}, "text/plain": {"schema": {"type": "string"}}}},
                "401": err("no or bad token"), "403": err("the role may not read the audit log"), "405": err("not GET"), "500": err("the store failed")}}}
    })
}

type Labels = Vec<(String, String)>;
type Gauges =
    prometheus_client::metrics::family::Family<Labels, prometheus_client::metrics::gauge::Gauge>;
type FloatGauges = prometheus_client::metrics::family::Family<
    Labels,
    prometheus_client::metrics::gauge::Gauge<f64, std::sync::atomic::AtomicU64>,
>;

fn label(k: &str, v: &str) -> Labels {
    vec![(k.to_string(), v.to_string())]
}

/// A histogram read from the store's own buckets (prometheus-client's
/// `Histogram` only counts what it observes itself).
#[derive(Debug)]
struct StoreLatency(tansiq_store::LatencySnapshot);

impl prometheus_client::encoding::EncodeMetric for StoreLatency {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::MetricEncoder,
    ) -> Result<(), std::fmt::Error> {
        // The encoder wants per-bucket counts, +Inf as f64::MAX.
        let mut buckets = Vec::with_capacity(self.0.cumulative.len() + 1);
        let mut below = 0;
        for (bound, n) in &self.0.cumulative {
            buckets.push((*bound, n - below));
            below = *n;
        }
        buckets.push((f64::MAX, self.0.count - below));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.sum_seconds,
            self.0.count,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> prometheus_client::metrics::MetricType {
        prometheus_client::metrics::MetricType::Histogram
    }
}

/// The node's figures as Prometheus metrics (OpenMetrics text).
pub fn encode_metrics(f: &tansiq_node::metrics::Figures) -> String {
    let mut reg = prometheus_client::registry::Registry::with_prefix("tansiq");
    register_peers(&mut reg, f);
    register_node(&mut reg, f);
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &reg);
    out
}

/// Per peer: link, backlog, backoff, FLASH, witness lag, budget.
fn register_peers(
    reg: &mut prometheus_client::registry::Registry,
    f: &tansiq_node::metrics::Figures,
) {
    let [up, queued, in_flight, delivered, failures, flash, flash_age, witness, left, capacity] =
        std::array::from_fn::<Gauges, 10, _>(|_| Gauges::default());
    let backoff = FloatGauges::default();
    for p in &f.peers {
        let l = label("peer", &p.id);
        up.get_or_create(&l).set(i64::from(p.up));
        queued.get_or_create(&l).set(p.queued as i64);
        in_flight.get_or_create(&l).set(p.in_flight as i64);
        // No sample for a peer never delivered to: absent, not "0 s ago".
        if let Some(a) = p.last_delivery_age {
            delivered.get_or_create(&l).set(a);
        }
        failures.get_or_create(&l).set(i64::from(p.failures));
        backoff.get_or_create(&l).set(p.backoff_seconds);
        flash.get_or_create(&l).set(p.flash_unacked as i64);
        if let Some(a) = p.flash_oldest_age {
            flash_age.get_or_create(&l).set(a);
        }
        witness.get_or_create(&l).set(p.witness_lag as i64);
        if let Some((l_left, l_cap)) = p.budget {
            left.get_or_create(&l).set(l_left);
            capacity.get_or_create(&l).set(l_cap);
        }
    }
    let all: [(&str, &str, Gauges); 10] = [
        (
            "peer_up",
            "1 when the last delivery attempt to the peer succeeded",
            up,
        ),
        (
            "peer_queued",
            "Envelopes waiting for the peer in the outbox",
            queued,
        ),
        (
            "peer_in_flight",
            "Envelopes this process sent to the peer, not yet acknowledged",
            in_flight,
        ),
        (
            "peer_last_delivery_age_seconds",
            "Seconds since the last successful delivery to the peer",
            delivered,
        ),
        (
            "peer_failures",
            "Consecutive failed delivery attempts to the peer (this process)",
            failures,
        ),
        (
            "peer_unacked_flash_messages",
            "Sent FLASH messages the peer has not acknowledged",
            flash,
        ),
        (
            "peer_unacked_flash_oldest_age_seconds",
            "Age of the oldest FLASH message the peer has not acknowledged",
            flash_age,
        ),
        (
            "peer_witness_lag_entries",
            "Audit entries of this node the peer has not co-signed",
            witness,
        ),
        (
            "peer_hit_budget_remaining",
            "Hit/no-hit evaluations the peer may still ask for this hour",
            left,
        ),
        (
            "peer_hit_budget_capacity",
            "The peer's hourly hit/no-hit evaluation budget",
            capacity,
        ),
    ];
    for (name, help, g) in all {
        reg.register(name, help, g);
    }
    reg.register(
        "peer_backoff_seconds",
        "Seconds until the next delivery attempt to the peer while backing off (0 if not)",
        backoff,
    );
}

/// Node-wide: rows, audit actions, checkpoint, alarms, store latency.
fn register_node(
    reg: &mut prometheus_client::registry::Registry,
    f: &tansiq_node::metrics::Figures,
) {
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    let tables = [
        ("records", "status", "Records held, by status"),
        ("messages", "direction", "Liaison messages, by direction"),
        ("releases", "status", "Release requests, by status"),
        ("alerts", "kind", "Screening alerts"),
        (
            "hit_requests",
            "direction",
            "Hit/no-hit follow-up requests, by direction",
        ),
    ];
    for (table, key, help) in tables {
        let g = Gauges::default();
        // Every family has a sample, 0 for an empty table.
        if !f.rows.iter().any(|(t, _, _)| *t == table) {
            g.get_or_create(&label(key, "all")).set(0);
        }
        for (_, state, n) in f.rows.iter().filter(|(t, _, _)| *t == table) {
            g.get_or_create(&label(key, state)).set(*n as i64);
        }
        reg.register(table, help, g);
    }
    let action = |a: &str| f.actions.get(a).copied().unwrap_or(0);
    let counter = |n: u64| {
        let c = Counter::<u64>::default();
        c.inc_by(n);
        c
    };
    reg.register(
        "screenings",
        "Screening runs (each over one input of names)",
        counter(action("screen")),
    );
    let evaluations = Family::<Labels, Counter>::default();
    evaluations
        .get_or_create(&label("outcome", "served"))
        .inc_by(action("hit.evaluate"));
    evaluations
        .get_or_create(&label("outcome", "refused"))
        .inc_by(action("hit.evaluate.refused"));
    reg.register(
        "hit_evaluations",
        "Partners' hit/no-hit evaluation requests, served or refused (budget, exposure)",
        evaluations,
    );
    let per_action = Family::<Labels, Counter>::default();
    for (a, n) in &f.actions {
        per_action.get_or_create(&label("action", a)).inc_by(*n);
    }
    reg.register("audit_entries", "Audit log entries, by action", per_action);
    let gauge = |v: i64| {
        let g = Gauge::<i64>::default();
        g.set(v);
        g
    };
    reg.register(
        "audit_size",
        "Entries in the audit log",
        gauge(f.audit_size as i64),
    );
    reg.register(
        "checkpoint_lag_entries",
        "Audit entries not yet covered by a signed checkpoint",
        gauge(f.checkpoint_lag as i64),
    );
    if let Some(a) = f.checkpoint_age {
        reg.register(
            "checkpoint_age_seconds",
            "Seconds since the latest signed checkpoint",
            gauge(a),
        );
    }
    reg.register(
        "unacked_flash_messages",
        "Sent FLASH messages some recipient has not acknowledged",
        gauge(f.flash_unacked as i64),
    );
    if let Some(a) = f.flash_oldest_age {
        reg.register(
            "unacked_flash_oldest_age_seconds",
            "Age of the oldest FLASH message some recipient has not acknowledged",
            gauge(a),
        );
    }
    reg.register(
        "alarms",
        "Alarms raised by partners' misbehaviour, not yet cleared",
        gauge(f.alarms as i64),
    );
    if let Some(l) = &f.read_latency {
        reg.register(
            "store_read_seconds",
            "Duration of this process's store read transactions",
            StoreLatency(l.clone()),
        );
    }
    if let Some(l) = &f.write_latency {
        reg.register("store_write_seconds", "Duration of this process's store write transactions, waiting for the lock and the commit included", StoreLatency(l.clone()));
    }
}
