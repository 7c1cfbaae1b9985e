//! The TAXII 2.1 server (OASIS TAXII 2.1, docs/STIX.md "TAXII") under
//! `/taxii2/` on the local API port, with the local API's users and
//! tokens (a bearer token, or HTTP Basic with the user's name and token:
//! most TAXII clients speak only Basic).
//!
//! One API root, `/taxii2/api/`; its collections are the (channel, file)
//! pairs the user may see. Reads are exports (the export rule, audited:
//! `Node::taxii_objects`); POST is an import, DELETE by the originator a
//! retraction. Whatever the user may not see is absent from every
//! answer, count and error: an unknown collection, object or status and
//! one the user may not see get the same 404.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Extension, Query, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use tansiq_core::user::Actor;
use tansiq_node::stix::{Collection, ObjectFilter, ObjectPage, PageCursor, VersionMatch};
use tansiq_node::{Node, NodeError};
use tansiq_store::VersionCursor;

/// The TAXII media type every answer has and every request must accept.
pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the collections' objects.
pub const STIX_MEDIA: &str = "application/stix+json;version=2.1";
/// Where the server is mounted.
pub const PREFIX: &str = "/taxii2/";
const API_ROOT: &str = "/taxii2/api/";
/// Objects per page when the client asks for no `limit`, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// Status resources kept (the oldest go first).
const MAX_STATUSES: usize = 1000;

pub fn is_taxii(path: &str) -> bool {
    path == "/taxii2" || path.starts_with(PREFIX)
}

#[derive(Clone)]
struct Taxii {
    node: Arc<Node>,
    /// The largest body the server reads (the local API's limit).
    max_content_length: usize,
    /// Status resources of POSTs, by id, with the user who posted.
    statuses: Arc<Mutex<Statuses>>,
}

#[derive(Default)]
struct Statuses {
    by_id: HashMap<String, (String, Value)>,
    order: std::collections::VecDeque<String>,
}

/// A TAXII error message resource, with its status.
struct TaxiiError(StatusCode, String);

impl From<NodeError> for TaxiiError {
    fn from(e: NodeError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "taxii request failed");
        }
        TaxiiError(status, e.public_message())
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let title = self.0.canonical_reason().unwrap_or("error");
        let body = json!({"title": title, "description": self.1,
                          "http_status": self.0.as_u16().to_string()});
        taxii_json(self.0, &body, &[])
    }
}

type TaxiiResult = Result<Response, TaxiiError>;

fn taxii_json(status: StatusCode, body: &Value, headers: &[(&str, String)]) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA));
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(k, v);
        }
    }
    r
}

/// Whether a media-type list (`Accept`, or a `Content-Type`) names TAXII
/// 2.1: `application/taxii+json` with `version=2.1` or no version.
fn names_taxii(list: &str, wildcards: bool) -> bool {
    list.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let ty = parts.next().unwrap_or_default().to_ascii_lowercase();
        let version = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("version"))
            .map(|(_, v)| v.trim().trim_matches('"').to_string());
        let version_ok = version.as_deref().is_none_or(|v| v == "2.1");
        match ty.as_str() {
            "application/taxii+json" => version_ok,
            "*/*" | "application/*" => wildcards,
            _ => false,
        }
    })
}

/// 406 unless the request accepts TAXII 2.1 (no `Accept` accepts all).
fn check_accept(headers: &HeaderMap) -> Result<(), TaxiiError> {
    match headers
        .get(header::ACCEPT)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Ok(()),
        Some(a) if names_taxii(a, true) => Ok(()),
        Some(_) => Err(TaxiiError(
            StatusCode::NOT_ACCEPTABLE,
            format!("this server answers {TAXII_MEDIA} only"),
        )),
    }
}

/// Runs `f` as the user on a blocking thread (the store is synchronous).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, NodeError> + Send + 'static,
) -> Result<T, TaxiiError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| NodeError::Internal(format!("worker failed: {e}")))??)
}

async fn discovery(headers: HeaderMap) -> TaxiiResult {
    check_accept(&headers)?;
    Ok(taxii_json(
        StatusCode::OK,
        &json!({
            "title": "Tansiq TAXII 2.1",
            "description": "The records of this node's channels that you may see and that may leave it (docs/STIX.md).",
            "default": API_ROOT,
            "api_roots": [API_ROOT],
        }),
        &[],
    ))
}

async fn api_root(State(t): State<Taxii>, headers: HeaderMap) -> TaxiiResult {
    check_accept(&headers)?;
    Ok(taxii_json(
        StatusCode::OK,
        &json!({
            "title": "Tansiq",
            "description": "One collection per channel and file you may see.",
            "versions": [TAXII_MEDIA],
            "max_content_length": t.max_content_length,
        }),
        &[],
    ))
}

fn collection_json(c: &Collection) -> Value {
    json!({
        "id": c.id,
        "title": format!("{} / {}", c.channel_name, c.file),
        "description": format!("channel {}, file {}", c.channel, c.file),
        "can_read": c.can_read,
        "can_write": c.can_write,
        "media_types": [STIX_MEDIA],
    })
}

async fn collections(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
) -> TaxiiResult {
    check_accept(&headers)?;
    let node = t.node.clone();
    let cs = blocking(move || node.taxii_collections(&actor)).await?;
    let list: Vec<Value> = cs.iter().map(collection_json).collect();
    let body = if list.is_empty() {
        json!({})
    } else {
        json!({ "collections": list })
    };
    Ok(taxii_json(StatusCode::OK, &body, &[]))
}

async fn collection(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> TaxiiResult {
    check_accept(&headers)?;
    let node = t.node.clone();
    let c = blocking(move || node.taxii_collection(&actor, &id)).await?;
    Ok(taxii_json(StatusCode::OK, &collection_json(&c), &[]))
}

/// The query parameters of the object, manifest and versions endpoints.
struct Params {
    filter: ObjectFilter,
    cursor: PageCursor,
    limit: usize,
}

fn bad(msg: impl Into<String>) -> TaxiiError {
    TaxiiError(StatusCode::BAD_REQUEST, msg.into())
}

/// `next`: the page cursor, as `added_ms.version.skip.hex(record id)`.
fn encode_next(c: &PageCursor) -> String {
    format!(
        "{}.{}.{}.{}",
        c.at.added_ms,
        c.at.version,
        c.skip,
        hex_encode(c.at.id.as_bytes())
    )
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn decode_next(s: &str) -> Option<PageCursor> {
    let mut it = s.splitn(4, '.');
    let added_ms = it.next()?.parse().ok()?;
    let version = it.next()?.parse().ok()?;
    let skip = it.next()?.parse().ok()?;
    let hex = it.next()?;
    if hex.len() % 2 != 0 || hex.len() > 512 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(PageCursor {
        at: VersionCursor {
            added_ms,
            id: String::from_utf8(bytes?).ok()?,
            version,
        },
        skip,
    })
}

/// A timestamp's milliseconds (RFC 3339, sub-second digits kept: pages
/// turn within a second).
fn ms_of(ts: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(ts.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

fn date_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Reads `added_after`, `limit`, `next` and `match[…]` (each a comma-
/// separated list); `default_versions` is what no `match[version]` means.
fn params(raw: Option<&str>, default_versions: VersionMatch) -> Result<Params, TaxiiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| bad(format!("query: {e}")))?;
    let mut p = Params {
        filter: ObjectFilter {
            ids: vec![],
            types: vec![],
            spec_versions: vec![],
            versions: default_versions,
        },
        cursor: PageCursor::default(),
        limit: DEFAULT_LIMIT,
    };
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut next = None;
    let mut added_after = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => {
                let n: usize = v
                    .parse()
                    .map_err(|_| bad("limit must be a positive integer"))?;
                if n == 0 {
                    return Err(bad("limit must be a positive integer"));
                }
                p.limit = n.min(MAX_LIMIT);
            }
            "next" => {
                next = Some(decode_next(v).ok_or_else(|| bad("next: not a page of this server"))?)
            }
            "added_after" => {
                added_after = Some(ms_of(v).ok_or_else(|| bad("added_after must be a timestamp"))?)
            }
            "match[id]" => p.filter.ids.extend(list(v)),
            "match[type]" => p.filter.types.extend(list(v)),
            "match[spec_version]" => p.filter.spec_versions.extend(list(v)),
            "match[version]" => {
                let vs = list(v);
                p.filter.versions = if vs.iter().any(|x| x == "all") {
                    VersionMatch::All
                } else if vs.iter().any(|x| x == "first") {
                    VersionMatch::First
                } else if vs.iter().any(|x| x == "last") {
                    VersionMatch::Last
                } else {
                    for x in &vs {
                        ms_of(x).ok_or_else(|| {
                            bad(format!(
                                "match[version]: {x:?} is not first, last, all or a timestamp"
                            ))
                        })?;
                    }
                    VersionMatch::At(vs)
                };
            }
            other => return Err(bad(format!("unknown query parameter {other:?}"))),
        }
    }
    if let Some(c) = next {
        p.cursor = c;
    } else if let Some(ms) = added_after {
        // strictly after: the next millisecond on (0: the fixed objects
        // are dated 0, so any added_after leaves them out)
        p.cursor.at = VersionCursor {
            added_ms: ms.saturating_add(1).max(0),
            id: "\u{1}".into(),
            version: 0,
        };
    }
    Ok(p)
}

/// A page of a collection's objects, as the user may see and export them.
async fn page(
    t: &Taxii,
    actor: Actor,
    collection: String,
    p: Params,
) -> Result<ObjectPage, TaxiiError> {
    let node = t.node.clone();
    blocking(move || {
        let c = node.taxii_collection(&actor, &collection)?;
        if !c.can_read {
            return Err(NodeError::NotFound(format!("no collection {collection}")));
        }
        node.taxii_objects(&actor, (&c.channel, &c.file), &p.filter, &p.cursor, p.limit)
    })
    .await
}

/// `{more, next}` and the date headers of a page.
fn paging(pg: &ObjectPage) -> (Value, Vec<(&'static str, String)>) {
    let mut env = json!({"more": pg.next.is_some()});
    if let Some(n) = &pg.next {
        env["next"] = encode_next(n).into();
    }
    let mut headers = Vec::new();
    if let (Some(first), Some(last)) = (pg.objects.first(), pg.objects.last()) {
        headers.push(("X-TAXII-Date-Added-First", date_of(first.1)));
        headers.push(("X-TAXII-Date-Added-Last", date_of(last.1)));
    }
    (env, headers)
}

async fn get_objects(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    RawQuery(q): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let p = params(q.as_deref(), VersionMatch::Last)?;
    let pg = page(&t, actor, id, p).await?;
    let (mut env, hs) = paging(&pg);
    if !pg.objects.is_empty() {
        env["objects"] = pg.objects.into_iter().map(|(o, _)| o).collect();
    }
    Ok(taxii_json(StatusCode::OK, &env, &hs))
}

async fn get_object(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path((id, object)): axum::extract::Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let mut p = params(q.as_deref(), VersionMatch::Last)?;
    if !p.filter.ids.is_empty() {
        return Err(bad("match[id] is not a parameter of this endpoint"));
    }
    p.filter.ids = vec![object.clone()];
    let pg = page(&t, actor, id, p).await?;
    if pg.objects.is_empty() && pg.next.is_none() {
        return Err(TaxiiError(
            StatusCode::NOT_FOUND,
            format!("no object {object} in this collection"),
        ));
    }
    let (mut env, hs) = paging(&pg);
    env["objects"] = pg.objects.into_iter().map(|(o, _)| o).collect();
    Ok(taxii_json(StatusCode::OK, &env, &hs))
}

async fn object_versions(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path((id, object)): axum::extract::Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let mut p = params(q.as_deref(), VersionMatch::All)?;
    p.filter.ids = vec![object.clone()];
    p.filter.versions = VersionMatch::All;
    let pg = page(&t, actor, id, p).await?;
    if pg.objects.is_empty() && pg.next.is_none() {
        return Err(TaxiiError(
            StatusCode::NOT_FOUND,
            format!("no object {object} in this collection"),
        ));
    }
    let (mut env, hs) = paging(&pg);
    let versions: Vec<Value> = pg
        .objects
        .iter()
        .filter_map(|(o, _)| o.get("modified").cloned())
        .collect();
    env["versions"] = versions.into();
    Ok(taxii_json(StatusCode::OK, &env, &hs))
}

async fn manifest(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    RawQuery(q): RawQuery,
) -> TaxiiResult {
    check_accept(&headers)?;
    let p = params(q.as_deref(), VersionMatch::Last)?;
    let pg = page(&t, actor, id, p).await?;
    let (mut env, hs) = paging(&pg);
    if !pg.objects.is_empty() {
        env["objects"] = pg
            .objects
            .iter()
            .map(|(o, added)| {
                json!({"id": o["id"], "date_added": date_of(*added),
                       "version": o.get("modified").or(o.get("created")).cloned().unwrap_or_default(),
                       "media_type": STIX_MEDIA})
            })
            .collect();
    }
    Ok(taxii_json(StatusCode::OK, &env, &hs))
}

async fn add_objects(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
    body: axum::body::Bytes,
) -> TaxiiResult {
    check_accept(&headers)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !names_taxii(ct, false) {
        return Err(TaxiiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("POST an envelope as {TAXII_MEDIA}"),
        ));
    }
    let env: Value = serde_json::from_slice(&body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let objects = env
        .get("objects")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| bad("an envelope needs an objects list"))?;
    let ids: Vec<String> = objects
        .iter()
        .filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_string))
        .collect();
    let status_id = uuid_v4();
    let bundle =
        json!({"type": "bundle", "id": format!("bundle--{status_id}"), "objects": objects});
    let node = t.node.clone();
    let who = actor.clone();
    let res = blocking(move || {
        let c = node.taxii_collection(&who, &id)?;
        if !c.can_write {
            return Err(NodeError::NotFound(format!("no collection {id}")));
        }
        Ok(node.stix_import(&who, (&c.channel, &c.file), &bundle, "taxii"))
    })
    .await?;
    let now = date_of(chrono::Utc::now().timestamp_millis());
    let status = match res {
        Ok(_) => json!({"id": status_id, "status": "complete", "request_timestamp": now,
            "total_count": ids.len(), "success_count": ids.len(), "failure_count": 0, "pending_count": 0,
            "successes": ids.iter().map(|i| json!({"id": i, "message": "imported"})).collect::<Vec<_>>()}),
        // one transaction: a refused envelope imports nothing
        Err(NodeError::Stix(e)) => {
            json!({"id": status_id, "status": "complete", "request_timestamp": now,
            "total_count": ids.len(), "success_count": 0, "failure_count": ids.len(), "pending_count": 0,
            "failures": ids.iter().map(|i| json!({"id": i, "message":
                if *i == e.object_id { e.to_string() } else { format!("not imported: {e}") }})).collect::<Vec<_>>()})
        }
        Err(e) => return Err(e.into()),
    };
    let mut st = t.statuses.lock().unwrap_or_else(|e| e.into_inner());
    st.by_id
        .insert(status_id.clone(), (actor.audit_name(), status.clone()));
    st.order.push_back(status_id);
    while st.order.len() > MAX_STATUSES {
        if let Some(old) = st.order.pop_front() {
            st.by_id.remove(&old);
        }
    }
    Ok(taxii_json(StatusCode::ACCEPTED, &status, &[]))
}

async fn delete_object(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path((id, object)): axum::extract::Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> TaxiiResult {
    check_accept(&headers)?;
    if q.keys()
        .any(|k| k != "match[version]" && k != "match[spec_version]")
    {
        return Err(bad(
            "DELETE takes match[version] and match[spec_version] only",
        ));
    }
    let node = t.node.clone();
    blocking(move || {
        let c = node.taxii_collection(&actor, &id)?;
        if !c.can_write {
            return Err(NodeError::NotFound(format!("no collection {id}")));
        }
        node.stix_retract(&actor, (&c.channel, &c.file), &object)
    })
    .await?;
    Ok(taxii_json(StatusCode::OK, &json!({}), &[]))
}

async fn status(
    State(t): State<Taxii>,
    Extension(actor): Extension<Actor>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> TaxiiResult {
    check_accept(&headers)?;
    let st = t.statuses.lock().unwrap_or_else(|e| e.into_inner());
    match st.by_id.get(&id) {
        Some((who, s)) if *who == actor.audit_name() => Ok(taxii_json(StatusCode::OK, s, &[])),
        _ => Err(TaxiiError(StatusCode::NOT_FOUND, format!("no status {id}"))),
    }
}

/// A random UUID (v4) for status resources.
fn uuid_v4() -> String {
    let mut b = tansiq_crypto::random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex_encode(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The TAXII routes, merged into the local API's router (whose
/// authentication every route is behind; an unknown path under `/taxii2/`
/// gets its JSON 404).
pub fn router<S: Clone + Send + Sync + 'static>(
    node: Arc<Node>,
    max_content_length: usize,
) -> Router<S> {
    let t = Taxii {
        node,
        max_content_length,
        statuses: Arc::new(Mutex::new(Statuses::default())),
    };
    let c = "/taxii2/api/collections/{id}";
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/api/", get(api_root))
        .route("/taxii2/api/collections/", get(collections))
        .route("/taxii2/api/status/{id}/", get(status))
        .route(&format!("{c}/"), get(collection))
        .route(&format!("{c}/objects/"), get(get_objects).post(add_objects))
        .route(
            &format!("{c}/objects/{{object}}/"),
            get(get_object).delete(delete_object),
        )
        .route(
            &format!("{c}/objects/{{object}}/versions/"),
            get(object_versions),
        )
        .route(&format!("{c}/manifest/"), get(manifest))
        .with_state(t)
}
