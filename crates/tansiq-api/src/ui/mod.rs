//! The web interface for analysts and liaison officers, under `/ui/` on
//! the local API's port: server-rendered pages (minijinja, autoescaped),
//! Fluent translations in Arabic, French and English, a stylesheet and a
//! few lines of script embedded in the binary.
//!
//! Every page acts as the logged-in user through the same node services,
//! and so the same policy, as the API: a record the user may not see is
//! 404 here exactly as there. Security (docs/SECURITY.md, "Web
//! interface"): a login with the user's API token opens a server-side
//! session ([`session`]); its cookie is HttpOnly and SameSite=Strict;
//! every POST carries the session's CSRF token, checked by the middleware
//! before any handler runs; every answer carries a strict
//! Content-Security-Policy (no inline script or style), nosniff,
//! no-referrer and no framing.
//!
//! Layers: `i18n` and `session` at the floor, `view` (state, rendering,
//! errors) on them, `pages` (one module per screen) on `view`, this file
//! (the router and the middleware) on top.

pub mod i18n;
mod pages;
pub mod session;
pub mod view;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use tansiq_node::{Node, NodeError};

use session::{Sessions, LANG_COOKIE, LOGIN_COOKIE, SESSION_COOKIE};
use view::{UiError, UiState, Viewer};

/// The prefix of every path of the interface.
pub const PREFIX: &str = "/ui";

/// Largest form or upload the interface takes (a screening list).
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;

/// The policy every answer carries: resources from this origin only (the
/// stylesheet and script are files, never inline), no framing, forms
/// posted only here.
pub const CSP: &str = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

const STYLE: &str = include_str!("assets/ui.css");
const SCRIPT: &str = include_str!("assets/ui.js");

/// Paths served without a session.
fn public(path: &str) -> bool {
    matches!(path, "/ui/login" | "/ui/lang") || path.starts_with("/ui/static/")
}

/// The interface's router, merged into the local API's (`local::router`).
pub fn router<S: Clone + Send + Sync + 'static>(
    node: Arc<Node>,
    sessions: Arc<Sessions>,
) -> Router<S> {
    let st = UiState {
        node,
        sessions,
        env: Arc::new(view::environment(Arc::new(i18n::I18n::new()))),
    };
    Router::new()
        .route("/ui", get(start))
        .route("/ui/", get(start))
        .route("/ui/static/ui.css", get(style))
        .route("/ui/static/ui.js", get(script))
        .route("/ui/login", get(login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/lang", get(language))
        .merge(pages::routes())
        // The API router keeps the one fallback; unknown pages of the
        // interface are its own 404, in the viewer's language.
        .route("/ui/{*rest}", get(not_found).post(not_found))
        .layer(middleware::from_fn_with_state(st.clone(), session_layer))
        .layer(middleware::from_fn(security_headers))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(st)
}

/// The check of a request's head for the server's gate (`local::serve`):
/// a page other than the public ones needs a live session before its
/// body is read; without one the answer is the login form, and the
/// connection closes.
// The shape of tansiq-net's `HeadCheck` result, whose error is the answer.
#[allow(clippy::result_large_err)]
pub fn head_check(
    sessions: &Sessions,
    parts: axum::http::request::Parts,
) -> Result<axum::http::request::Parts, Response> {
    let live = session::cookie(&parts.headers, SESSION_COOKIE)
        .is_some_and(|id| sessions.find(id).is_some());
    if public(parts.uri.path()) || live {
        Ok(parts)
    } else {
        let mut r = Redirect::to("/ui/login").into_response();
        secure(&mut r);
        Err(r)
    }
}

/// The headers every answer of the interface carries.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    secure(&mut res);
    res
}

fn secure(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages hold what the user may see; no cache keeps them.
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// Resolves the session of every non-public path: the cookie names a live
/// session, whose token the node still accepts (a revoked token ends the
/// session at once), and, for a POST, the form's CSRF token is the
/// session's. Only then does the handler run, as that user.
async fn session_layer(State(st): State<UiState>, req: Request, next: Next) -> Response {
    if public(req.uri().path()) {
        return next.run(req).await;
    }
    let locale = locale_of(req.headers());
    let Some(live) =
        session::cookie(req.headers(), SESSION_COOKIE).and_then(|id| st.sessions.find(id))
    else {
        return Redirect::to("/ui/login").into_response();
    };
    let node = st.node.clone();
    let token = live.token.clone();
    let who = move || {
        let actor = node.authenticate(&token)?;
        Ok::<_, NodeError>((view::node_labels(&node, &actor), actor))
    };
    let (nodes, actor) = match tokio::task::spawn_blocking(who).await {
        Ok(Ok(a)) => a,
        Ok(Err(NodeError::Unauthorized)) => {
            st.sessions.close(&live.key);
            return Redirect::to("/ui/login").into_response();
        }
        Ok(Err(e)) => return view::error_page(&st, None, UiError::Node(e)),
        Err(e) => {
            return view::error_page(&st, None, UiError::Node(NodeError::Internal(e.to_string())))
        }
    };
    let viewer = Viewer {
        actor,
        nodes,
        key: live.key,
        csrf: live.csrf,
        locale,
    };
    let req = if req.method() == Method::POST {
        match check_csrf(req, &viewer.csrf).await {
            Ok(r) => r,
            Err(r) => return r,
        }
    } else {
        req
    };
    let mut req = req;
    req.extensions_mut().insert(viewer);
    next.run(req).await
}

/// Reads a POST's body (bounded), finds its `csrf` field (form or
/// multipart) and compares it with the session's; the body is handed on
/// unchanged. A missing or wrong token is 403 and nothing runs.
async fn check_csrf(req: Request, expected: &str) -> Result<Request, Response> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, "request too large").into_response())?;
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let copy = || Request::from_parts(parts.clone(), Body::from(bytes.clone()));
    let given = if ct.starts_with("multipart/form-data") {
        multipart_field(copy(), "csrf").await
    } else {
        Form::<CsrfOnly>::from_request(copy(), &())
            .await
            .ok()
            .map(|Form(f)| f.csrf)
    };
    if !given.is_some_and(|g| session::same_secret(&g, expected)) {
        return Err((
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token; reload the page",
        )
            .into_response());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn multipart_field(req: Request, name: &str) -> Option<String> {
    let mut mp = Multipart::from_request(req, &()).await.ok()?;
    while let Ok(Some(f)) = mp.next_field().await {
        if f.name() == Some(name) {
            return f.text().await.ok();
        }
    }
    None
}

/// The locale of a request (language cookie, Accept-Language).
pub fn locale_of(h: &HeaderMap) -> &'static i18n::Locale {
    i18n::negotiate(
        session::cookie(h, LANG_COOKIE),
        h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
    )
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

fn asset(ct: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn login_form(State(st): State<UiState>, headers: HeaderMap) -> Response {
    login_page(&st, &headers, None, StatusCode::OK)
}

/// The login form, with a fresh double-submit token in a cookie and in
/// the form (there is no session yet to hold a CSRF token).
fn login_page(
    st: &UiState,
    headers: &HeaderMap,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let locale = locale_of(headers);
    let token = session::random_token();
    let ctx = minijinja::context! {
        lang => locale.code,
        dir => if locale.rtl { "rtl" } else { "ltr" },
        locales => view::locales(),
        csrf => token.clone(),
        path => "/ui/login",
        error => error,
    };
    match view::page_status(st, "login.html", ctx, status) {
        Ok(mut r) => {
            let c = session::set_cookie(
                LOGIN_COOKIE,
                &token,
                session::IDLE,
                session::over_tls(headers),
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => view::error_page(st, None, e),
    }
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    csrf: String,
}

/// Checks the token with the node (as the API does) and opens a session.
async fn login(
    State(st): State<UiState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let expected = session::cookie(&headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same_secret(&f.csrf, expected) {
        return login_page(&st, &headers, Some("login-expired"), StatusCode::FORBIDDEN);
    }
    let node = st.node.clone();
    let token = f.token.trim().to_string();
    let checked = token.clone();
    let actor = match tokio::task::spawn_blocking(move || node.authenticate(&checked)).await {
        Ok(Ok(a)) => a,
        Ok(Err(NodeError::Unauthorized)) => {
            return login_page(
                &st,
                &headers,
                Some("login-failed"),
                StatusCode::UNAUTHORIZED,
            )
        }
        Ok(Err(e)) => return view::error_page(&st, None, UiError::Node(e)),
        Err(e) => {
            return view::error_page(&st, None, UiError::Node(NodeError::Internal(e.to_string())))
        }
    };
    let id = st.sessions.open(token);
    let tls = session::over_tls(&headers);
    let mut r = Redirect::to(view::home(&actor)).into_response();
    let h = r.headers_mut();
    for c in [
        session::set_cookie(SESSION_COOKIE, &id, session::ABSOLUTE, tls),
        session::set_cookie(LOGIN_COOKIE, "", std::time::Duration::ZERO, tls),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            h.append(header::SET_COOKIE, v);
        }
    }
    r
}

/// `/ui/`: the user's first page.
async fn start(axum::Extension(v): axum::Extension<Viewer>) -> Redirect {
    Redirect::to(view::home(&v.actor))
}

async fn logout(
    State(st): State<UiState>,
    headers: HeaderMap,
    axum::Extension(v): axum::Extension<Viewer>,
) -> Response {
    st.sessions.close(&v.key);
    let mut r = Redirect::to("/ui/login").into_response();
    let c = session::set_cookie(
        SESSION_COOKIE,
        "",
        std::time::Duration::ZERO,
        session::over_tls(&headers),
    );
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
struct LangQuery {
    to: String,
    back: Option<String>,
}

/// The language menu: remembers the choice in a cookie and goes back to
/// the page it was chosen on (a path of the interface only).
async fn language(
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<LangQuery>,
) -> Response {
    let back = q
        .back
        .filter(|b| b.starts_with("/ui/") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or_else(|| "/ui/inbox".into());
    let mut r = Redirect::to(&back).into_response();
    if let Some(l) = i18n::locale(&q.to) {
        let c = session::set_cookie(
            LANG_COOKIE,
            l.code,
            std::time::Duration::from_secs(365 * 86400),
            session::over_tls(&headers),
        );
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

async fn not_found(State(st): State<UiState>, req: Request) -> Response {
    let v = req.extensions().get::<Viewer>().cloned();
    view::error_page(
        &st,
        v.as_ref(),
        UiError::Node(NodeError::NotFound("no such page".into())),
    )
}
