//! The local HTTP API for the node's own users (analysts, officers,
//! admins, auditors). Token auth; every call goes through the same
//! services as the CLI, as the user the token names; errors become HTTP
//! statuses in one place ([`ApiError`], from `NodeError::status`). Served
//! behind tansiq-net's gate: the token is checked from the request's head
//! before its body is read.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use tansiq_core::handling::{Evaluation, HandlingCode, Tlp};
use tansiq_core::record::{Kind, Link};
use tansiq_core::user::{Actor, Role};
use tansiq_store::RecordFilter;

use tansiq_net::gate::{self, HeadCheck, HttpLimits};
use tansiq_node::records::NewRecord;
use tansiq_node::{Node, NodeError};

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub struct ApiError(NodeError);

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %self.0, "api request failed");
        }
        let body = json!({"error": {"code": self.0.code(), "message": self.0.public_message()}});
        (status, Json(body)).into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

/// A JSON request body whose rejections (malformed JSON, wrong types,
/// unknown fields, too large) become our 400 error like every other bad
/// input.
struct Body<T>(T);

impl<T, S> axum::extract::FromRequest<S> for Body<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(e) => Err(ApiError(NodeError::bad(format!(
                "request body: {}",
                e.body_text()
            )))),
        }
    }
}

/// A query string whose rejections become our JSON 400, not axum's
/// text/plain one.
struct Query<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(e) => Err(ApiError(NodeError::bad(format!(
                "query string: {}",
                e.body_text()
            )))),
        }
    }
}

/// A path parameter whose rejections (e.g. not UTF-8 once decoded)
/// become our JSON 400, not axum's text/plain one.
struct Path<T>(T);

impl<T, S> axum::extract::FromRequestParts<S> for Path<T>
where
    T: serde::de::DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(e) => Err(ApiError(NodeError::bad(format!("path: {}", e.body_text())))),
        }
    }
}

#[derive(Clone)]
struct AppState {
    node: Arc<Node>,
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// HTTP Basic credentials `(user, token)`: the TAXII server takes them
/// too, as most TAXII clients speak nothing else.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let b64 = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    // standard base64 with padding, read through the URL-safe decoder
    let url_safe: String = b64
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let raw = tansiq_crypto::b64_decode(&url_safe).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, token) = text.split_once(':')?;
    Some((user.to_string(), token.to_string()))
}

/// Paths served without a token: the API's public description and the
/// health probes (`ops.rs`).
const PUBLIC_PATHS: &[&str] = &[
    "/api/v1/openapi.json",
    crate::ops::HEALTHZ,
    crate::ops::READYZ,
];

/// The web interface's paths: authenticated by its own session cookie
/// (`ui::session`), not by a bearer token.
fn is_ui(path: &str) -> bool {
    path == crate::ui::PREFIX || path.starts_with("/ui/")
}

/// Authenticates every request before anything of it is parsed (route,
/// method, path, query or body), so a caller without a valid token learns
/// nothing but 401; the user the token names rides to the handler in the
/// request's extensions.
async fn authenticate(
    State(st): State<AppState>,
    mut req: axum::extract::Request,
    next: Next,
) -> Response {
    // Public, or already authenticated by the server's head check (before
    // the body was read: `serve_with`).
    if PUBLIC_PATHS.contains(&req.uri().path())
        || is_ui(req.uri().path())
        || req.extensions().get::<Actor>().is_some()
    {
        return next.run(req).await;
    }
    match authenticate_head(
        st.node,
        req.headers(),
        crate::taxii::is_taxii(req.uri().path()),
    )
    .await
    {
        Ok(actor) => {
            req.extensions_mut().insert(actor);
            next.run(req).await
        }
        Err(e) => ApiError(e).into_response(),
    }
}

/// The actor a request's bearer token names (looked up on a blocking
/// thread: the store is synchronous).
async fn authenticate_head(
    node: Arc<Node>,
    headers: &HeaderMap,
    basic_too: bool,
) -> Result<Actor, NodeError> {
    let (user, token) = match (bearer(headers), basic_too.then(|| basic(headers)).flatten()) {
        (Some(t), _) => (None, Some(t.to_string())),
        (None, Some((u, t))) => (Some(u), Some(t)),
        (None, None) => (None, None),
    };
    tokio::task::spawn_blocking(move || {
        let actor = node.authenticate(token.as_deref().ok_or(NodeError::Unauthorized)?)?;
        // Basic names the user too: the token must be that user's.
        match (&user, &actor) {
            (Some(u), Actor::User(x)) if *u != x.name => Err(NodeError::Unauthorized),
            _ => Ok(actor),
        }
    })
    .await
    .map_err(|e| NodeError::Internal(format!("worker failed: {e}")))
    .and_then(|r| r)
}

/// Runs `f` as the authenticated user on a blocking thread (the store is
/// synchronous).
async fn as_user<T: serde::Serialize + Send + 'static>(
    st: AppState,
    actor: Actor,
    f: impl FnOnce(&Node, &Actor) -> Result<T, NodeError> + Send + 'static,
) -> ApiResult {
    let out = tokio::task::spawn_blocking(move || f(&st.node, &actor))
        .await
        .map_err(|e| NodeError::Internal(format!("worker failed: {e}")))??;
    Ok(Json(
        serde_json::to_value(out).map_err(|e| NodeError::Internal(e.to_string()))?,
    ))
}

fn parse<T: std::str::FromStr<Err = tansiq_core::Invalid>>(
    field: &str,
    v: Option<&str>,
) -> Result<Option<T>, NodeError> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| NodeError::bad(format!("{field}: {e}")))
    })
    .transpose()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    channel: Option<String>,
    file: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    limit: Option<u64>,
    offset: Option<u64>,
}

async fn list_records(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        if let Some(name) = &q.name {
            return node.record_search(actor, name, q.limit.unwrap_or(100));
        }
        let filter = RecordFilter {
            channel: q.channel,
            file: q.file,
            kind: parse::<Kind>("kind", q.kind.as_deref())?,
            limit: Some(q.limit.unwrap_or(1000).min(10_000)),
            offset: q.offset.unwrap_or(0),
            ..Default::default()
        };
        node.record_list(actor, &filter)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRecord {
    channel: String,
    file: String,
    kind: String,
    data: Value,
    tlp: Option<String>,
    handling_code: Option<String>,
    evaluation: Option<String>,
    expires: Option<String>,
    #[serde(default)]
    links: Vec<Link>,
}

async fn create_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<CreateRecord>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        let new = NewRecord {
            channel: b.channel,
            file: b.file,
            kind: b.kind.parse()?,
            data: b.data,
            tlp: parse::<Tlp>("tlp", b.tlp.as_deref())?,
            code: parse::<HandlingCode>("handling_code", b.handling_code.as_deref())?,
            evaluation: parse::<Evaluation>("evaluation", b.evaluation.as_deref())?,
            expires: b.expires,
            links: b.links,
        };
        node.record_add(actor, new).map(|id| json!({"id": id}))
    })
    .await
}

async fn get_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| node.record_get(actor, &id)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRecord {
    data: Value,
    links: Option<Vec<Link>>,
    tlp: Option<String>,
}

async fn update_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Body(b): Body<UpdateRecord>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        let tlp = parse::<Tlp>("tlp", b.tlp.as_deref())?;
        node.record_update(actor, &id, b.data, b.links, tlp)
            .map(|v| json!({"id": id, "version": v}))
    })
    .await
}

async fn retract_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.record_retract(actor, &id)
            .map(|_| json!({"id": id, "status": "retracted"}))
    })
    .await
}

async fn record_links(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| node.record_links(actor, &id)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphQuery {
    hops: Option<u32>,
    limit: Option<usize>,
}

/// The network within `hops` (default 2) of a record, as the user may
/// see it (`Node::record_graph`).
async fn record_graph(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Query(q): Query<GraphQuery>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.record_graph(actor, &id, q.hops.unwrap_or(2), q.limit)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareBody {
    channel: String,
}

async fn share_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Body(b): Body<ShareBody>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.record_share(actor, &id, &b.channel)
            .map(|_| json!({"id": id, "channel": b.channel}))
    })
    .await
}

async fn list_channels(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| node.channel_list(actor)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateChannel {
    name: String,
    #[serde(default)]
    members: Vec<String>,
    files: Vec<String>,
    #[serde(default)]
    relays: Vec<String>,
    retention_days: Option<u32>,
}

async fn create_channel(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<CreateChannel>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.channel_create(
            actor,
            &b.name,
            b.members,
            b.files,
            b.relays,
            b.retention_days,
        )
        .map(|id| json!({"id": id}))
    })
    .await
}

async fn accept_channel(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.channel_accept(actor, &id)
    })
    .await
}

/// `GET /api/v1/channels/{id}/charter`: the newest signed charter, to
/// carry to a partner (what `tansiq channel export` writes).
async fn export_channel(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.channel_export(actor, &id)
    })
    .await
}

/// `POST /api/v1/channels/import`: a signed charter carried from a
/// partner (a proposal, or one with more members' signatures).
async fn import_channel(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    body: axum::body::Bytes,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.channel_import(actor, &body)
    })
    .await
}

async fn list_peers(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.peer_list(actor)).await
}

async fn list_users(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.user_list(actor)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    name: String,
    role: String,
    #[serde(default)]
    files: Vec<String>,
    expires: Option<String>,
}

async fn create_user(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<CreateUser>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        let role: Role = b.role.parse()?;
        node.user_add_expiring(actor, &b.name, role, &b.files, b.expires.as_deref())
    })
    .await
}

async fn remove_user(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.user_remove(actor, &name)
            .map(|_| json!({"name": name, "status": "removed"}))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RotateToken {
    expires: Option<String>,
}

async fn rotate_token(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    // The body is optional: none means the default lifetime.
    let b: RotateToken = optional_body(&body)?;
    as_user(st, actor, move |node, actor| {
        node.user_token_rotate(actor, &name, b.expires.as_deref())
    })
    .await
}

async fn revoke_token(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.user_token_revoke(actor, &name)
            .map(|_| json!({"name": name, "token": "revoked"}))
    })
    .await
}

async fn get_checkpoint(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| node.audit_checkpoint(actor, false)).await
}

async fn make_checkpoint(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| node.audit_checkpoint(actor, true)).await
}

async fn verify_audit(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.audit_verify(actor)).await
}

/// An optional JSON body: none (or only whitespace) is `T::default()`.
fn optional_body<T: serde::de::DeserializeOwned + Default>(
    body: &axum::body::Bytes,
) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| ApiError(NodeError::bad(format!("request body: {e}"))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendMessage {
    channel: String,
    file: Option<String>,
    precedence: String,
    text: String,
    #[serde(default)]
    ack_required: bool,
}

async fn send_message(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<SendMessage>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.send_message(
            actor,
            &b.channel,
            b.file.as_deref(),
            &b.precedence,
            &b.text,
            b.ack_required,
        )
        .map(|id| json!({"id": id}))
    })
    .await
}

async fn inbox(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.inbox_by_precedence(actor)).await
}

async fn ack_message(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.ack_message(actor, &id)
            .map(|()| json!({"id": id, "status": "acknowledged"}))
    })
    .await
}

async fn unacknowledged(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| node.unacked_for(actor)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleasesQuery {
    direction: Option<String>,
}

async fn list_releases(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<ReleasesQuery>,
) -> ApiResult {
    let dir = match q.direction.as_deref() {
        None => None,
        Some(d @ ("in" | "out")) => Some(d.to_string()),
        Some(_) => return Err(NodeError::bad("direction: use in or out").into()),
    };
    as_user(st, actor, move |node, actor| {
        let mut list = node.releases(actor)?;
        list.retain(|r| dir.as_ref().is_none_or(|d| *d == r.direction));
        Ok(list)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestRelease {
    record: String,
    channel: String,
    reason: Option<String>,
}

async fn request_release(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<RequestRelease>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.release_request(actor, &b.record, &b.channel, b.reason.as_deref())
            .map(|id| json!({"id": id}))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GrantRelease {
    conditions: Option<String>,
}

async fn grant_release(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b: GrantRelease = optional_body(&body)?;
    as_user(st, actor, move |node, actor| {
        node.release_grant(actor, Some(&id), None, None, b.conditions.as_deref())
            .map(|id| json!({"id": id, "status": "granted"}))
    })
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RefuseRelease {
    reason: Option<String>,
}

async fn refuse_release(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b: RefuseRelease = optional_body(&body)?;
    as_user(st, actor, move |node, actor| {
        node.release_refuse(actor, &id, b.reason.as_deref())
            .map(|()| json!({"id": id, "status": "refused"}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseRecord {
    channel: String,
    conditions: Option<String>,
}

async fn release_record(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Body(b): Body<ReleaseRecord>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.release_grant(
            actor,
            None,
            Some(&id),
            Some(&b.channel),
            b.conditions.as_deref(),
        )
        .map(|rid| json!({"id": rid, "record": id, "channel": b.channel, "status": "granted"}))
    })
    .await
}

async fn list_alerts(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| {
        Ok(node
            .alerts(actor)?
            .into_iter()
            .map(|a| {
                json!({"id": a.id, "entry_id": a.entry_id, "record_id": a.record_id,
                    "score": a.score, "matched_name": a.matched_name,
                    "explanation": a.explanation, "created_at": a.created_at})
            })
            .collect::<Vec<_>>())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenName {
    id: String,
    name: String,
    birth_date: Option<String>,
    #[serde(default)]
    nationality: Vec<String>,
    gender: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScreenBody {
    names: Vec<ScreenName>,
    threshold: Option<f64>,
    top: Option<usize>,
}

/// Most names one screening request takes (a larger list goes in
/// several requests, or to `tansiq screen`).
pub const MAX_SCREEN_NAMES: usize = 10_000;

async fn screen(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<ScreenBody>,
) -> ApiResult {
    let threshold = b.threshold.unwrap_or(tansiq_match::DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(NodeError::bad("threshold must be between 0 and 1").into());
    }
    let top = b.top.unwrap_or(5);
    if !(1..=100).contains(&top) {
        return Err(NodeError::bad("top must be 1 to 100").into());
    }
    if b.names.len() > MAX_SCREEN_NAMES {
        return Err(NodeError::bad(format!("at most {MAX_SCREEN_NAMES} names a request")).into());
    }
    let queries: Vec<tansiq_match::Query> = b
        .names
        .into_iter()
        .map(|n| tansiq_match::Query {
            id: n.id,
            name: n.name,
            birth_date: n.birth_date,
            nationality: n.nationality,
            gender: n.gender,
            documents: vec![],
        })
        .collect();
    as_user(st, actor, move |node, actor| {
        let results = node.screen(actor, &queries, threshold, top)?;
        Ok(queries
            .iter()
            .zip(results)
            .map(|(q, hits)| {
                let hits: Vec<Value> = hits
                    .into_iter()
                    .map(|h| json!({"entry_id": h.entry_id, "score": (h.score * 10_000.0).round() / 10_000.0, "matched_name": h.matched_name, "explanation": h.explanation}))
                    .collect();
                json!({"query_id": q.id, "hits": hits})
            })
            .collect::<Vec<_>>())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentBody {
    channel: String,
    file: String,
    title: String,
    place: Option<String>,
    occurred_at: Option<String>,
    tlp: Option<String>,
    message: Option<String>,
    #[serde(default)]
    names: Vec<ScreenName>,
    threshold: Option<f64>,
}

/// Declares an incident as the user (`Node::incident_declare`): the
/// record, a FLASH to every channel carrying the file, the names screened
/// (at most [`MAX_SCREEN_NAMES`] a request, as `/screen`).
async fn declare_incident(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<IncidentBody>,
) -> ApiResult {
    if b.names.len() > MAX_SCREEN_NAMES {
        return Err(NodeError::bad(format!("at most {MAX_SCREEN_NAMES} names a request")).into());
    }
    let new = tansiq_node::incidents::NewIncident {
        channel: b.channel,
        file: b.file,
        title: b.title,
        place: b.place,
        occurred_at: b.occurred_at,
        tlp: parse::<Tlp>("tlp", b.tlp.as_deref())?,
        message: b.message,
        names: b
            .names
            .into_iter()
            .map(|n| tansiq_match::Query {
                id: n.id,
                name: n.name,
                birth_date: n.birth_date,
                nationality: n.nationality,
                gender: n.gender,
                documents: vec![],
            })
            .collect(),
        threshold: b.threshold.unwrap_or(tansiq_match::DEFAULT_THRESHOLD),
    };
    as_user(st, actor, move |node, actor| {
        node.incident_declare(actor, new, &|_, _| {})
    })
    .await
}

async fn record_history(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.record_history(actor, &id)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateChannel {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

async fn update_channel(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    Body(b): Body<UpdateChannel>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.channel_update(actor, &id, b.add, b.remove)
    })
    .await
}

async fn hit_requests(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.hit_requests(actor)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HitRequestBody {
    reference: String,
}

async fn hit_request(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<HitRequestBody>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.hit_request(actor, &b.reference)
            .map(|id| json!({"id": id}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HitQueryBody {
    peer: String,
    queries: Vec<HitSubjectBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HitSubjectBody {
    id: String,
    names: Vec<String>,
    #[serde(default)]
    birth_date: Option<String>,
    #[serde(default)]
    nationality: Option<String>,
    #[serde(default)]
    documents: Vec<HitDocumentBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HitDocumentBody {
    number: String,
    #[serde(default)]
    country: Option<String>,
}

/// `POST /api/v1/hits/query`: asks a partner, as the user, whether it
/// holds each subject — the same blinded exchange as `tansiq query`, so
/// neither side learns the other's names; one audit entry.
async fn hit_query(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<HitQueryBody>,
) -> ApiResult {
    use tansiq_match::hitkeys::HitSubject;
    use tansiq_node::hits::HitQuery;
    let queries: Vec<HitQuery> = b
        .queries
        .into_iter()
        .map(|q| HitQuery {
            id: q.id,
            subject: HitSubject {
                names: q.names,
                birth_date: q.birth_date,
                nationality: q.nationality.map(|n| n.to_ascii_uppercase()),
                documents: q
                    .documents
                    .into_iter()
                    .map(|d| (d.number, d.country.map(|c| c.to_ascii_uppercase())))
                    .collect(),
            },
        })
        .collect();
    let answers = tansiq_node::hits::hit_query(st.node.clone(), &actor, &b.peer, &queries).await?;
    Ok(Json(
        serde_json::to_value(answers).map_err(|e| NodeError::Internal(e.to_string()))?,
    ))
}

async fn hit_rotate(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| {
        node.query_rotate(actor).map(|id| json!({ "key_id": id }))
    })
    .await
}

async fn hit_grant(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.hit_grant(actor, &id)
            .map(|()| json!({"id": id, "status": "granted"}))
    })
    .await
}

async fn hit_refuse(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let b: RefuseRelease = optional_body(&body)?;
    as_user(st, actor, move |node, actor| {
        node.hit_refuse(actor, &id, b.reason.as_deref())
            .map(|()| json!({"id": id, "status": "refused"}))
    })
    .await
}

async fn list_exposures(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| {
        Ok(node
            .query_allowed(actor)?
            .into_iter()
            .map(|r| json!({"peer": r.peer, "channel": r.channel, "file": r.file, "created_at": r.created_at}))
            .collect::<Vec<_>>())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Exposure {
    peer: String,
    channel: String,
    file: String,
    hourly: Option<i64>,
}

async fn expose(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<Exposure>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.query_allow(actor, &b.peer, &b.channel, &b.file, b.hourly)
            .map(|()| json!({"peer": b.peer, "channel": b.channel, "file": b.file, "status": "exposed"}))
    })
    .await
}

async fn withdraw_exposure(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<Exposure>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        node.query_deny(actor, &b.peer, &b.channel, &b.file)
            .map(|()| json!({"peer": b.peer, "channel": b.channel, "file": b.file, "status": "withdrawn"}))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointsQuery {
    limit: Option<usize>,
}

async fn list_checkpoints(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Query(q): Query<CheckpointsQuery>,
) -> ApiResult {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    as_user(st, actor, move |node, actor| {
        node.audit_checkpoints(actor, limit)
    })
    .await
}

async fn list_witnesses(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
) -> ApiResult {
    as_user(st, actor, |node, actor| node.audit_witnesses(actor)).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportEntry {
    id: String,
    kind: String,
    data: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportBody {
    channel: String,
    file: String,
    list: String,
    entries: Vec<ImportEntry>,
}

async fn import_watchlist(
    State(st): State<AppState>,
    Extension(actor): Extension<Actor>,
    Body(b): Body<ImportBody>,
) -> ApiResult {
    as_user(st, actor, move |node, actor| {
        let items = b
            .entries
            .into_iter()
            .map(|e| {
                Ok(tansiq_node::watchlist::ImportItem {
                    kind: e.kind.parse().map_err(NodeError::from)?,
                    source_ref: e.id,
                    data: e.data,
                })
            })
            .collect::<Result<Vec<_>, NodeError>>()?;
        node.watchlist_import(actor, &b.channel, &b.file, &b.list, items, &|_| {})
    })
    .await
}

async fn sync_status(State(st): State<AppState>, Extension(actor): Extension<Actor>) -> ApiResult {
    as_user(st, actor, |node, actor| node.sync_status(actor)).await
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

async fn method_not_allowed() -> Response {
    let body = json!({"error": {"code": "method_not_allowed", "message": "this endpoint does not take that method; see /api/v1/openapi.json"}});
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

async fn not_found() -> ApiError {
    ApiError(NodeError::NotFound(
        "no such endpoint; see /api/v1/openapi.json".into(),
    ))
}

/// The router, for tests and for `serve`.
pub fn router(node: Arc<Node>) -> Router {
    router_with(node, Arc::new(crate::ui::session::Sessions::default()))
}

/// [`router`] with the web interface's sessions given (`serve_with`
/// checks them from the request's head too).
fn router_with(node: Arc<Node>, sessions: Arc<crate::ui::session::Sessions>) -> Router {
    let state = AppState { node };
    Router::new()
        .merge(crate::ops::router(state.node.clone()))
        .merge(crate::ops::metrics_router(state.node.clone()))
        .merge(crate::ui::router(state.node.clone(), sessions))
        .merge(crate::taxii::router(state.node.clone(), MAX_BODY_BYTES))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/records", get(list_records).post(create_record))
        .route(
            "/api/v1/records/{id}",
            get(get_record).put(update_record).delete(retract_record),
        )
        .route("/api/v1/records/{id}/links", get(record_links))
        .route("/api/v1/records/{id}/graph", get(record_graph))
        .route("/api/v1/records/{id}/share", post(share_record))
        .route("/api/v1/channels", get(list_channels).post(create_channel))
        .route("/api/v1/channels/{id}/accept", post(accept_channel))
        .route("/api/v1/channels/{id}/charter", get(export_channel))
        .route("/api/v1/channels/import", post(import_channel))
        .route("/api/v1/peers", get(list_peers))
        .route("/api/v1/users", get(list_users).post(create_user))
        .route("/api/v1/users/{name}", axum::routing::delete(remove_user))
        .route(
            "/api/v1/users/{name}/token",
            post(rotate_token).delete(revoke_token),
        )
        .route(
            "/api/v1/audit/checkpoint",
            get(get_checkpoint).post(make_checkpoint),
        )
        .route("/api/v1/audit/verify", get(verify_audit))
        .route("/api/v1/messages", get(inbox).post(send_message))
        .route("/api/v1/messages/unacknowledged", get(unacknowledged))
        .route("/api/v1/messages/{id}/ack", post(ack_message))
        .route("/api/v1/releases", get(list_releases).post(request_release))
        .route("/api/v1/releases/{id}/grant", post(grant_release))
        .route("/api/v1/releases/{id}/refuse", post(refuse_release))
        .route("/api/v1/records/{id}/release", post(release_record))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/screen", post(screen))
        .route("/api/v1/incidents", post(declare_incident))
        .route("/api/v1/sync/status", get(sync_status))
        .route("/api/v1/records/{id}/history", get(record_history))
        .route("/api/v1/channels/{id}/members", post(update_channel))
        .route("/api/v1/audit/checkpoints", get(list_checkpoints))
        .route("/api/v1/audit/witnesses", get(list_witnesses))
        .route("/api/v1/watchlists/import", post(import_watchlist))
        .route("/api/v1/hits/requests", get(hit_requests).post(hit_request))
        .route("/api/v1/hits/query", post(hit_query))
        .route("/api/v1/hits/rotate", post(hit_rotate))
        .route("/api/v1/hits/requests/{id}/grant", post(hit_grant))
        .route("/api/v1/hits/requests/{id}/refuse", post(hit_refuse))
        .route("/api/v1/hits/exposures", get(list_exposures).post(expose))
        .route("/api/v1/hits/exposures/withdraw", post(withdraw_exposure))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the API on `addr` until `shutdown` resolves, with the
/// connection cap and timeouts of [`HttpLimits::default`].
pub async fn serve(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(node, listener, shutdown, HttpLimits::default()).await
}

/// [`serve`] with explicit limits.
pub async fn serve_with(
    node: Arc<Node>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    limits: HttpLimits,
) -> std::io::Result<()> {
    let limits = HttpLimits {
        max_body_bytes: MAX_BODY_BYTES,
        ..limits
    };
    // Authenticated from the request's head, before its body is read: an
    // unauthenticated client gets 401 whatever it sends.
    let n = node.clone();
    let sessions = Arc::new(crate::ui::session::Sessions::default());
    let ui_sessions = sessions.clone();
    let check: HeadCheck = Arc::new(move |mut parts| {
        let node = n.clone();
        let sessions = ui_sessions.clone();
        Box::pin(async move {
            if PUBLIC_PATHS.contains(&parts.uri.path()) {
                return Ok(parts);
            }
            // The web interface: a live session (or a public page) before
            // the body is read; its middleware checks the rest.
            if is_ui(parts.uri.path()) {
                return crate::ui::head_check(&sessions, parts);
            }
            let taxii = crate::taxii::is_taxii(parts.uri.path());
            match authenticate_head(node, &parts.headers, taxii).await {
                Ok(actor) => {
                    parts.extensions.insert(actor);
                    Ok(parts)
                }
                Err(e) => Err(ApiError(e).into_response()),
            }
        })
    });
    gate::serve_http_checked(
        listener,
        router_with(node, sessions),
        shutdown,
        limits,
        Some(check),
    )
    .await
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// The OpenAPI 3.1 description of this API.
pub fn openapi_document() -> Value {
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let errors = json!({"400": err, "401": err, "403": err, "404": err, "405": err, "500": err});
    let id_param =
        json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let ok = |schema: Value| json!({"description": "ok", "content": {"application/json": {"schema": schema}}});
    let merge = |mut base: Value, extra: &Value| {
        if let (Some(b), Some(e)) = (base.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        base
    };
    let rec = json!({"$ref": "#/components/schemas/Record"});
    let name_param =
        json!([{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}]);
    // The workflows' paths and schemas (issue 14), in their own `json!`
    // (one macro call for the whole document exceeds the recursion limit).
    let workflow_paths = json!({
            "/api/v1/messages": {
                "get": {"summary": "Inbox: received messages in the caller's files, FLASH first, then IMMEDIATE, PRIORITY, ROUTINE (each in the order sent)", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Message"}}))}), &errors)},
                "post": {"summary": "Send a liaison message to the other members of a channel (officer)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["channel", "precedence", "text"], "properties": {"channel": {"type": "string"}, "file": {"type": "string"}, "precedence": {"enum": ["flash", "immediate", "priority", "routine"]}, "text": {"type": "string"}, "ack_required": {"type": "boolean"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object", "properties": {"id": {"type": "string"}}}))}), &errors)}
            },
            "/api/v1/messages/unacknowledged": {"get": {"summary": "Sent FLASH (or ack-required) messages some member has not acknowledged, in the caller's files", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Unacked"}}))}), &errors)}},
            "/api/v1/messages/{id}/ack": {"parameters": id_param, "post": {"summary": "Acknowledge a received message to its sender (officer)", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/releases": {
                "get": {"summary": "Release requests about records the caller may see: out (asked by this node) and in (asked of it)",
                    "parameters": [{"name": "direction", "in": "query", "schema": {"enum": ["in", "out"]}}],
                    "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Release"}}))}), &errors)},
                "post": {"summary": "Ask a record's originator to release it into another channel (officer)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["record", "channel"], "properties": {"record": {"type": "string"}, "channel": {"type": "string"}, "reason": {"type": "string"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object", "properties": {"id": {"type": "string"}}}))}), &errors)}
            },
            "/api/v1/releases/{id}/grant": {"parameters": id_param, "post": {"summary": "Grant a release request addressed to this node (officer; originator only)",
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"conditions": {"type": "string"}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/releases/{id}/refuse": {"parameters": id_param, "post": {"summary": "Refuse a release request addressed to this node (officer; originator only)",
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string"}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/records/{id}/release": {"parameters": id_param, "post": {"summary": "Release this node's record into another of its channels without a request (officer; originator only)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["channel"], "properties": {"channel": {"type": "string"}, "conditions": {"type": "string"}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/alerts": {"get": {"summary": "Screening alerts whose both ends the caller may see", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}))}), &errors)}},
            "/api/v1/screen": {"post": {"summary": "Screen names against the person and organization records the caller may see; results in input order, with explanations",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["names"], "properties": {
                    "names": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {"type": "object", "additionalProperties": false, "required": ["id", "name"], "properties": {"id": {"type": "string", "minLength": 1, "pattern": "\\S"}, "name": {"type": "string", "minLength": 1, "pattern": "\\S"}, "birth_date": {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$", "description": "YYYY, YYYY-MM or YYYY-MM-DD, a real date"}, "nationality": {"type": "array", "items": {"type": "string"}}, "gender": {"type": "string"}}}},
                    "threshold": {"type": "number", "minimum": 0, "maximum": 1}, "top": {"type": "integer", "minimum": 1, "maximum": 100}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "properties": {"query_id": {"type": "string"}, "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}}}))}), &errors)}},
            "/api/v1/records/{id}/history": {"parameters": id_param, "get": {"summary": "The record's versions, oldest first: who signed each and when, handling, the retraction (no content)", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Version"}}))}), &errors)}},
            "/api/v1/channels/{id}/members": {"parameters": id_param, "post": {"summary": "Propose the channel's next charter version: members added and removed (consent of the members in force applies)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"add": {"type": "array", "items": {"type": "string"}}, "remove": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Channel"}))}), &errors)}},
            "/api/v1/hits/requests": {
                "get": {"summary": "Hit/no-hit follow-up requests, in and out; one naming a record the caller may not see is left out", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/HitRequest"}}))}), &errors)},
                "post": {"summary": "Ask the holder for the record behind a hit reference (officer)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["reference"], "properties": {"reference": {"type": "string"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object", "properties": {"id": {"type": "string"}}}))}), &errors)}
            },
            "/api/v1/hits/query": {"post": {"summary": "Ask a partner whether it holds each subject: a blinded hit/no-hit exchange (neither side learns the other's names); 502/504 when the partner cannot be reached (officer, analyst)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HitQuery"}}}},
                "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "required": ["query_id", "hit", "reference", "shared", "kinds"], "properties": {"query_id": {"type": "string"}, "hit": {"type": "boolean"}, "reference": {"type": ["string", "null"]}, "shared": {"type": "integer", "minimum": 0}, "kinds": {"type": "array", "items": {"type": "string"}}}}})), "502": err}), &errors)}},
            "/api/v1/hits/rotate": {"post": {"summary": "Start a new key period for this node's hit/no-hit lists: partners' earlier evaluations stop matching (officer)",
                "responses": merge(json!({"200": ok(json!({"type": "object", "required": ["key_id"], "properties": {"key_id": {"type": "string"}}}))}), &errors)}},
            "/api/v1/hits/requests/{id}/grant": {"parameters": id_param, "post": {"summary": "Grant a follow-up request addressed to this node: the record is shared into the request's channel (officer)", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/hits/requests/{id}/refuse": {"parameters": id_param, "post": {"summary": "Refuse a follow-up request addressed to this node (officer)",
                "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string"}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/hits/exposures": {
                "get": {"summary": "Files exposed to partners' hit/no-hit queries, in the caller's files (officer)", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "properties": {"peer": {"type": "string"}, "channel": {"type": "string"}, "file": {"type": "string"}, "created_at": {"type": "string"}}}}))}), &errors)},
                "post": {"summary": "Expose a file of a channel to a partner's hit/no-hit queries (officer, in the caller's files)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exposure"}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}
            },
            "/api/v1/hits/exposures/withdraw": {"post": {"summary": "Withdraw an exposure (officer, in the caller's files)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Exposure"}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/audit/witnesses": {"get": {"summary": "Per partner: how far it has cosigned this node's audit log (and how many entries lie beyond), and the latest checkpoint of its log this node has witnessed (admin, auditor; audited)",
                "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "required": ["peer", "name", "cosigned_size", "not_cosigned", "witnessed_size", "witnessed_root"], "properties": {"peer": {"type": "string"}, "name": {"type": "string"}, "cosigned_size": {"type": ["integer", "null"]}, "not_cosigned": {"type": "integer", "minimum": 0}, "witnessed_size": {"type": ["integer", "null"]}, "witnessed_root": {"type": ["string", "null"]}}}}))}), &errors)}},
            "/api/v1/audit/checkpoints": {"get": {"summary": "The latest signed checkpoints, newest first, with the partners' cosignatures (admin, auditor)",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
                "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/SignedCheckpoint"}}))}), &errors)}},
            "/api/v1/watchlists/import": {"post": {"summary": "Import list entries (already parsed: id, kind, data) into a channel and file in one transaction; re-imports update, unchanged entries stay, missing ones are delisted; new person entries are screened (alerts)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WatchlistImport"}}}},
                "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/ImportSummary"}))}), &errors)}},
            "/api/v1/sync/status": {"get": {"summary": "Delivery state per peer (link, queue, last delivery), unacknowledged FLASH the caller may read, alarms, restore holds", "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/SyncStatus"}))}), &errors)}}
    });
    // The surge (issue 14 §3), in a `json!` of its own as well.
    let incident_paths = json!({
            "/api/v1/incidents": {"post": {"summary": "Declare an incident (officer, in the file): its record in `channel`, a FLASH to every channel carrying `file`, and `names` screened against every person and organization record the caller may see; each name with a hit becomes a person record linked to the incident, each hit an alert. One transaction",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["channel", "file", "title"], "properties": {
                    "channel": {"type": "string"}, "file": {"type": "string"}, "title": {"type": "string"}, "place": {"type": "string"}, "occurred_at": {"type": "string"},
                    "tlp": {"enum": ["clear", "green", "amber", "amber+strict", "red"]}, "message": {"type": "string"},
                    "names": {"type": "array", "maxItems": 10000, "items": {"type": "object", "additionalProperties": false, "required": ["id", "name"], "properties": {"id": {"type": "string", "minLength": 1, "pattern": "\\S"}, "name": {"type": "string", "minLength": 1, "pattern": "\\S"}, "birth_date": {"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$", "description": "YYYY, YYYY-MM or YYYY-MM-DD, a real date"}, "nationality": {"type": "array", "items": {"type": "string"}}, "gender": {"type": "string"}}}},
                    "threshold": {"type": "number", "minimum": 0, "maximum": 1}}}}}},
                "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/IncidentReport"}))}), &errors)}}
    });
    let incident_schemas = json!({
                "IncidentReport": {"type": "object", "required": ["incident", "messages", "names_screened", "entries", "hits", "alerts"], "properties": {
                    "incident": {"type": "string"}, "names_screened": {"type": "integer"}, "entries": {"type": "integer"}, "alerts": {"type": "integer"},
                    "messages": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "channel": {"type": "string"}}}},
                    "hits": {"type": "array", "items": {"type": "object", "properties": {"query_id": {"type": "string"}, "name": {"type": "string"}, "record": {"type": "string"},
                        "matches": {"type": "array", "items": {"type": "object", "properties": {"entry_id": {"type": "string"}, "score": {"type": "number"}, "matched_name": {"type": "string"}, "explanation": {"type": "string"}, "alert": {"type": "string"}}}}}}}}}
    });
    let workflow_schemas = json!({
                "Message": {"type": "object", "properties": {"id": {"type": "string"}, "channel": {"type": "string"}, "file": {"type": ["string", "null"]}, "sender": {"type": "string"}, "precedence": {"type": "string"}, "text": {"type": "string"}, "sent_at": {"type": "string"}, "received_at": {"type": ["string", "null"]}, "ack_required": {"type": "boolean"}, "acked": {"type": "boolean"}}},
                "Unacked": {"type": "object", "properties": {"id": {"type": "string"}, "channel": {"type": "string"}, "precedence": {"type": "string"}, "sent_at": {"type": "string"}, "awaiting": {"type": "array", "items": {"type": "string"}}}},
                "Release": {"type": "object", "properties": {"id": {"type": "string"}, "record": {"type": "string"}, "requester": {"type": "string"}, "originator": {"type": "string"}, "target_channel": {"type": "string"}, "target_members": {"type": "array", "items": {"type": "string"}}, "status": {"enum": ["pending", "granted", "refused"]}, "direction": {"enum": ["in", "out"]}, "reason": {"type": "string"}, "created_at": {"type": "string"}, "decided_at": {"type": "string"}}},
                "Alert": {"type": "object", "properties": {"id": {"type": "string"}, "entry_id": {"type": "string"}, "record_id": {"type": "string"}, "score": {"type": "number"}, "matched_name": {"type": "string"}, "explanation": {"type": "string"}, "created_at": {"type": "string"}}},
                "Version": {"type": "object", "properties": {"version": {"type": "integer"}, "content_hash": {"type": "string"}, "created": {"type": ["string", "null"]}, "originator": {"type": ["string", "null"]}, "tlp": {"type": ["string", "null"]}, "handling_code": {"type": ["string", "null"]}, "retracted": {"type": "boolean"}, "purged": {"type": "boolean"}}},
                "HitRequest": {"type": "object", "properties": {"id": {"type": "string"}, "direction": {"enum": ["in", "out"]}, "peer": {"type": "string"}, "reference": {"type": "string"}, "status": {"type": "string"}, "channel": {"type": "string"}, "record": {"type": "string"}, "reason": {"type": "string"}, "created_at": {"type": "string"}, "decided_at": {"type": "string"}}},
                "HitQuery": {"type": "object", "additionalProperties": false, "required": ["peer", "queries"], "properties": {"peer": {"type": "string"}, "queries": {"type": "array", "maxItems": 100000, "items": {"type": "object", "additionalProperties": false, "required": ["id", "names"], "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 100}, "names": {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string", "minLength": 1, "maxLength": 300}}, "birth_date": {"type": ["string", "null"], "description": "YYYY, YYYY-MM or YYYY-MM-DD"}, "nationality": {"type": ["string", "null"], "description": "ISO 3166-1 alpha-2"}, "documents": {"type": "array", "maxItems": 16, "items": {"type": "object", "additionalProperties": false, "required": ["number"], "properties": {"number": {"type": "string"}, "country": {"type": ["string", "null"]}}}}}}}}},
                "Exposure": {"type": "object", "additionalProperties": false, "required": ["peer", "channel", "file"], "properties": {"peer": {"type": "string"}, "channel": {"type": "string"}, "file": {"type": "string"}, "hourly": {"type": "integer", "minimum": 1, "maximum": 100000000}}},
                "SignedCheckpoint": {"type": "object", "properties": {"size": {"type": "integer"}, "root": {"type": "string"}, "note": {"type": "string"}, "created_at": {"type": "string"}, "witnesses": {"type": "array", "items": {"type": "object", "properties": {"witness": {"type": "string"}, "note": {"type": "string"}}}}}},
                "WatchlistImport": {"type": "object", "additionalProperties": false, "required": ["channel", "file", "list", "entries"], "properties": {"channel": {"type": "string"}, "file": {"type": "string"}, "list": {"type": "string"}, "entries": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["id", "kind", "data"], "properties": {"id": {"type": "string"}, "kind": {"enum": ["person", "organization", "network", "location", "incident", "document", "note"]}, "data": {"type": "object"}}}}}},
                "ImportSummary": {"type": "object", "properties": {"imported": {"type": "integer"}, "created": {"type": "integer"}, "updated": {"type": "integer"}, "unchanged": {"type": "integer"}, "delisted": {"type": "integer"}, "alerts": {"type": "integer"}}},
                "Graph": {"type": "object", "required": ["root", "hops", "nodes", "links", "truncated"], "properties": {
                    "root": {"type": "string"}, "hops": {"type": "integer"}, "truncated": {"type": "boolean"},
                    "nodes": {"type": "array", "items": {"type": "object", "required": ["id", "kind", "name", "file", "tlp", "status", "hops"], "properties": {"id": {"type": "string"}, "kind": {"type": "string"}, "name": {"type": ["string", "null"]}, "file": {"type": "string"}, "tlp": {"type": "string"}, "status": {"type": "string"}, "hops": {"type": "integer"}}}},
                    "links": {"type": "array", "items": {"type": "object", "required": ["src", "rel", "dst", "from", "until"], "properties": {"src": {"type": "string"}, "rel": {"type": "string"}, "dst": {"type": "string"}, "from": {"type": ["string", "null"]}, "until": {"type": ["string", "null"]}}}}}},
                "Hit": {"type": "object", "properties": {"entry_id": {"type": "string"}, "score": {"type": "number"}, "matched_name": {"type": "string"}, "explanation": {"type": "string"}}},
                "SyncStatus": {"type": "object", "properties": {"peers": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "link": {"enum": ["up", "down"]}, "queued": {"type": "integer"}, "in_flight": {"type": "integer"}, "last_delivery": {"type": ["string", "null"]}, "last_error": {"type": "string"}, "card_pending": {"type": "boolean"}}}}, "unacked": {"type": "array", "items": {"$ref": "#/components/schemas/Unacked"}}, "alarms": {"type": "array"}, "holds": {"type": "array", "description": "Restore holds still in force (docs/SYNC.md §6): restored from a backup, the node sends nothing new on the channel until the partner answers", "items": {"type": "object", "properties": {"channel": {"type": "string"}, "partner": {"type": "string"}, "partner_name": {"type": "string"}, "since": {"type": "string"}, "deferred": {"type": "integer"}}}}}}
    });
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Tansiq node local API", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/records": {
                "get": {"summary": "Records the caller may see (or a name search with ?name=)",
                    "parameters": [
                        {"name": "channel", "in": "query", "schema": {"type": "string"}},
                        {"name": "file", "in": "query", "schema": {"type": "string"}},
                        {"name": "kind", "in": "query", "schema": {"type": "string"}},
                        {"name": "name", "in": "query", "schema": {"type": "string"}},
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
                    "responses": merge(json!({"200": ok(json!({"type": "array", "items": rec}))}), &errors)},
                "post": {"summary": "Create and sign a record",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewRecord"}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object", "properties": {"id": {"type": "string"}}}))}), &errors)}
            },
            "/api/v1/records/{id}": {
                "parameters": id_param,
                "get": {"summary": "One record", "responses": merge(json!({"200": ok(rec.clone())}), &errors)},
                "put": {"summary": "New version (originator only)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "object"}, "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}, "tlp": {"type": "string"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)},
                "delete": {"summary": "Retract (originator only)", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}
            },
            "/api/v1/records/{id}/links": {"parameters": id_param, "get": {"summary": "Links of a record whose both ends the caller may see (audited)", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "required": ["src", "rel", "dst"], "properties": {"src": {"type": "string"}, "rel": {"type": "string"}, "dst": {"type": "string"}, "from": {"type": ["string", "null"]}, "until": {"type": ["string", "null"]}}}}))}), &errors)}},
            "/api/v1/records/{id}/graph": {"parameters": id_param, "get": {"summary": "The network around a record: the records within `hops` links of it (either direction) that the caller may see, nearest first, and the typed, dated links between them; at most `limit` records (then `truncated`)",
                "parameters": [
                    {"name": "hops", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 6, "default": 2}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 5000, "default": 1000}}],
                "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Graph"}))}), &errors)}},
            "/api/v1/records/{id}/share": {"parameters": id_param, "post": {"summary": "Share into another channel (third-party rule applies)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["channel"], "properties": {"channel": {"type": "string"}}}}}},
                "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/channels": {
                "get": {"summary": "Channels", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/Channel"}}))}), &errors)},
                "post": {"summary": "Propose a channel", "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "files"], "properties": {"name": {"type": "string"}, "members": {"type": "array", "items": {"type": "string"}}, "files": {"type": "array", "items": {"type": "string"}}, "relays": {"type": "array", "items": {"type": "string"}}, "retention_days": {"type": "integer"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}
            },
            "/api/v1/channels/{id}/accept": {"parameters": id_param, "post": {"summary": "Co-sign the pending charter", "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Channel"}))}), &errors)}},
            "/api/v1/channels/{id}/charter": {"parameters": id_param, "get": {"summary": "The channel's newest charter version with its members' signatures, to carry to a partner (what tansiq channel export writes; audited)", "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/SignedCharter"}))}), &errors)}},
            "/api/v1/channels/import": {"post": {"summary": "Take in a signed charter carried from a partner: a proposal naming this node, or a version with more members' signatures (admin, officer; at most 256 KiB)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignedCharter"}}}},
                "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Channel"}))}), &errors)}},
            "/api/v1/peers": {"get": {"summary": "Known peers", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"type": "object", "required": ["id", "name", "country", "endpoint"], "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "country": {"type": "string"}, "endpoint": {"type": "string"}}}}))}), &errors)}},
            "/api/v1/users": {
                "get": {"summary": "Users (admin), with each token's state (active, expired, revoked) and expiry", "responses": merge(json!({"200": ok(json!({"type": "array", "items": {"$ref": "#/components/schemas/User"}}))}), &errors)},
                "post": {"summary": "Create a user (admin); the token is returned once. An API admin may create only auditors, with no files (grant rule); officers, analysts, admins and files are granted by the operator (CLI)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["name", "role"], "properties": {"name": {"type": "string"}, "role": {"enum": ["admin", "officer", "analyst", "auditor"]}, "files": {"type": "array", "items": {"type": "string"}}, "expires": {"$ref": "#/components/schemas/Expires"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/IssuedToken"}))}), &errors)}
            },
            "/api/v1/users/{name}": {"parameters": name_param,
                "delete": {"summary": "Remove a user (admin); its token stops working at once", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/users/{name}/token": {"parameters": name_param,
                "post": {"summary": "Rotate: a new token, returned once; the old one stops working at once. Only for a user the caller could create (grant rule)",
                    "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "properties": {"expires": {"$ref": "#/components/schemas/Expires"}}}}}},
                    "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/IssuedToken"}))}), &errors)},
                "delete": {"summary": "Revoke the user's token at once, issuing none", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}},
            "/api/v1/audit/checkpoint": {
                "get": {"summary": "Latest signed checkpoint", "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Checkpoint"}))}), &errors)},
                "post": {"summary": "Make a checkpoint now", "responses": merge(json!({"200": ok(json!({"$ref": "#/components/schemas/Checkpoint"}))}), &errors)}
            },
            "/api/v1/audit/verify": {"get": {"summary": "Verify the audit log", "responses": merge(json!({"200": ok(json!({"type": "object"}))}), &errors)}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Expires": {"type": "string", "description": "token lifetime: Nd (1-366 days), a date YYYY-MM-DD or an RFC 3339 date-time, at most 366 days ahead; default 90d"},
                "IssuedToken": {"type": "object", "properties": {"name": {"type": "string"}, "token": {"type": "string"}, "expires_at": {"type": "string"}}},
                "User": {"type": "object", "properties": {"name": {"type": "string"}, "role": {"type": "string"}, "files": {"type": "array", "items": {"type": "string"}}, "token": {"enum": ["active", "expired", "revoked"]}, "token_expires_at": {"type": "string"}, "token_revoked_at": {"type": "string"}}},
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Link": {"type": "object", "required": ["rel", "target"], "properties": {"rel": {"type": "string"}, "target": {"type": "string"}, "from": {"type": "string"}, "until": {"type": "string"}, "note": {"type": "string"}}},
                "NewRecord": {"type": "object", "required": ["channel", "file", "kind", "data"], "properties": {
                    "channel": {"type": "string"}, "file": {"type": "string"},
                    "kind": {"enum": ["person", "organization", "network", "location", "incident", "document", "note"]},
                    "data": {"type": "object"}, "tlp": {"enum": ["clear", "green", "amber", "amber+strict", "red"]},
                    "handling_code": {"enum": ["H0", "H1", "H2", "H3"]}, "evaluation": {"type": "string", "description": "Admiralty source reliability A-F and information credibility 1-6 (B2), or Europol 4x4: EU: then source A, B, C or X and information 1-4 (EU:X3); a bare X1-X4 reads as Europol"},
                    "expires": {"type": "string"}, "links": {"type": "array", "items": {"$ref": "#/components/schemas/Link"}}}},
                "Record": {"type": "object", "properties": {"id": {"type": "string"}, "version": {"type": "integer"}, "kind": {"type": "string"}, "originator": {"type": "string"}, "channel": {"type": "string"}, "file": {"type": "string"}, "tlp": {"type": "string"}, "handling_code": {"type": "string"}, "status": {"type": "string"}, "created": {"type": "string"}, "expires": {"type": "string"}, "data": {"type": "object"}, "links": {"type": "array"}, "channels": {"type": "array"}}},
                "SignedCharter": {"type": "object", "required": ["charter", "signatures"], "properties": {"charter": {"type": "object", "required": ["id", "version", "members", "files"], "properties": {"id": {"type": "string"}, "version": {"type": "integer"}, "members": {"type": "array", "items": {"type": "string"}}, "files": {"type": "array", "items": {"type": "string"}}}}, "signatures": {"type": "object", "additionalProperties": {"type": "string"}}}},
                "Channel": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "members": {"type": "array"}, "files": {"type": "array"}, "status": {"enum": ["pending", "active"]}, "version": {"type": "integer"}}},
                "Checkpoint": {"type": "object", "properties": {"size": {"type": "integer"}, "root": {"type": "string"}, "signature": {"type": "string"}, "witnesses": {"type": "array"}}}
            }
        }
    });
    doc["paths"] = merge(doc["paths"].take(), &workflow_paths);
    doc["paths"] = merge(doc["paths"].take(), &incident_paths);
    doc["paths"] = merge(doc["paths"].take(), &crate::ops::openapi_paths());
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), &workflow_schemas);
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), &incident_schemas);
    doc
}
