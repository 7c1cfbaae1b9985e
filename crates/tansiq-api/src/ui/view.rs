//! What every page shares: the interface's state, the viewer (the
//! logged-in user as the node knows them, their locale, their CSRF token),
//! the embedded templates and how a page or an error becomes a response.

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::value::Kwargs;
use minijinja::{context, Environment, State, Value};

use tansiq_core::policy::{self, Action};
use tansiq_core::user::Actor;
use tansiq_node::{Node, NodeError};

use super::i18n::{self, I18n, Locale};
use super::session::Sessions;

/// The templates, embedded: (name, source). Autoescaped (`.html`).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("login.html", include_str!("templates/login.html")),
    ("error.html", include_str!("templates/error.html")),
    ("inbox.html", include_str!("templates/inbox.html")),
    ("records.html", include_str!("templates/records.html")),
    ("record.html", include_str!("templates/record.html")),
    ("network.html", include_str!("templates/network.html")),
    ("screen.html", include_str!("templates/screen.html")),
    ("alerts.html", include_str!("templates/alerts.html")),
    ("incident.html", include_str!("templates/incident.html")),
    ("releases.html", include_str!("templates/releases.html")),
    ("channels.html", include_str!("templates/channels.html")),
    ("sync.html", include_str!("templates/sync.html")),
    ("audit.html", include_str!("templates/audit.html")),
];

/// Notices a page shows after a redirect (`?done=…`): the only values
/// taken from the query string, each a translation key.
pub const NOTICES: &[(&str, &str)] = &[
    ("acked", "notice-acked"),
    ("granted", "notice-granted"),
    ("refused", "notice-refused"),
    ("requested", "notice-requested"),
    ("shared", "notice-shared"),
    ("checkpoint", "notice-checkpoint"),
];

/// Keys the templates build from data (`t("prec-" ~ m.precedence)`), so
/// the key test checks them too.
pub const DYNAMIC_KEYS: &[&str] = &[
    "role-admin",
    "role-officer",
    "role-analyst",
    "role-auditor",
    "role-operator",
    "prec-flash",
    "prec-immediate",
    "prec-priority",
    "prec-routine",
    "kind-person",
    "kind-organization",
    "kind-network",
    "kind-location",
    "kind-incident",
    "kind-document",
    "kind-note",
    "status-active",
    "status-retracted",
    "status-pending",
    "status-granted",
    "status-refused",
    "tlp-clear",
    "tlp-green",
    "tlp-amber",
    "tlp-amber-strict",
    "tlp-red",
    "handling-H0",
    "handling-H1",
    "handling-H2",
    "handling-H3",
    "direction-in",
    "direction-out",
    "link-up",
    "link-down",
    "error-not-found",
    "error-refused",
    "error-bad-input",
    "error-internal",
    "login-failed",
    "login-expired",
];

/// The navigation, in order: (path, key, the action the page needs).
pub const NAV: &[(&str, &str, Action)] = &[
    ("/ui/inbox", "nav-inbox", Action::ReadMessages),
    ("/ui/records", "nav-records", Action::ReadRecord),
    ("/ui/screen", "nav-screen", Action::Screen),
    ("/ui/alerts", "nav-alerts", Action::ReadRecord),
    ("/ui/incident", "nav-incident", Action::SendMessage),
    ("/ui/releases", "nav-releases", Action::RequestRelease),
    ("/ui/channels", "nav-channels", Action::ReadChannels),
    ("/ui/sync", "nav-sync", Action::ReadChannels),
    ("/ui/audit", "nav-audit", Action::ReadAudit),
];

/// Where a user lands: the first page of the navigation their role may
/// use (an auditor has no inbox).
pub fn home(actor: &Actor) -> &'static str {
    NAV.iter()
        .find(|(_, _, a)| policy::authorize(actor, *a).is_ok())
        .map_or("/ui/channels", |(p, _, _)| *p)
}

/// The interface's state, shared by every request.
#[derive(Clone)]
pub struct UiState {
    pub node: Arc<Node>,
    pub sessions: Arc<Sessions>,
    pub env: Arc<Environment<'static>>,
}

/// The logged-in user of a request (set by the session middleware, after
/// the token was authenticated and, for a POST, the CSRF token checked).
#[derive(Clone)]
pub struct Viewer {
    pub actor: Actor,
    /// "Name (CC)" of this node and each partner, by node id: pages name
    /// agencies, not keys (`who(id)` in a template).
    pub nodes: std::collections::BTreeMap<String, String>,
    pub key: String,
    pub csrf: String,
    pub locale: &'static Locale,
}

/// "Name (CC)" of this node and of each partner it holds a card of, by
/// node id, as `actor` may list them (every role may: channel members are
/// shown to all); nothing when refused.
pub fn node_labels(node: &Node, actor: &Actor) -> std::collections::BTreeMap<String, String> {
    let mut out: std::collections::BTreeMap<String, String> = node
        .peer_list(actor)
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.id, format!("{} ({})", p.name, p.country)))
        .collect();
    out.insert(
        node.id().to_string(),
        format!("{} ({})", node.config.name, node.config.country),
    );
    out
}

/// The template environment: the embedded templates, `t(key, …)`, which
/// translates into the page's `lang`, and `who(id)`, a node's name from
/// the page's `node_names` (the id itself when unknown).
pub fn environment(i18n: Arc<I18n>) -> Environment<'static> {
    let mut env = Environment::new();
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .unwrap_or_else(|e| panic!("template {name}: {e}"));
    }
    env.add_function(
        "t",
        move |state: &State, key: &str, kwargs: Kwargs| -> Result<String, minijinja::Error> {
            let lang = state.lookup("lang");
            let lang = lang
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or(i18n::DEFAULT);
            let mut args = Vec::new();
            for k in kwargs.args() {
                let v: Value = kwargs.get(k)?;
                let fv = match v.as_i64() {
                    Some(n) => fluent_bundle::FluentValue::from(n),
                    None => fluent_bundle::FluentValue::from(v.to_string()),
                };
                args.push((k, fv));
            }
            Ok(i18n.text(lang, key, &args))
        },
    );
    env.add_function("who", |state: &State, id: &str| -> String {
        state
            .lookup("node_names")
            .and_then(|n| n.get_attr(id).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| id.to_string())
    });
    env
}

/// Every key the templates and the notices use (`t("…"` in a template).
pub fn keys_used() -> std::collections::BTreeSet<String> {
    let mut out: std::collections::BTreeSet<String> = NOTICES
        .iter()
        .map(|(_, k)| *k)
        .chain(NAV.iter().map(|(_, k, _)| *k))
        .map(str::to_string)
        .chain(DYNAMIC_KEYS.iter().map(|k| k.to_string()))
        .collect();
    for (_, src) in TEMPLATES {
        for part in src.split("t(\"").skip(1) {
            // `t("kind-" ~ r.kind)`: a prefix, whose keys DYNAMIC_KEYS lists.
            if let Some(end) = part.find('"').filter(|&e| !part[..e].ends_with('-')) {
                out.insert(part[..end].to_string());
            }
        }
    }
    out
}

/// A page or an error, as the interface answers.
pub enum UiError {
    Node(NodeError),
    Render(minijinja::Error),
    /// The session is missing or over: to the login form.
    Login,
}

impl From<NodeError> for UiError {
    fn from(e: NodeError) -> Self {
        UiError::Node(e)
    }
}

impl From<minijinja::Error> for UiError {
    fn from(e: minijinja::Error) -> Self {
        UiError::Render(e)
    }
}

pub type UiResult = Result<Response, UiError>;

/// The common context of every page of a logged-in user.
pub fn base(v: &Viewer, path: &str) -> Value {
    let user = match &v.actor {
        Actor::User(u) => {
            context! {name => u.name.clone(), role => u.role.as_str(), files => u.files.clone()}
        }
        Actor::Operator => {
            context! {name => "operator", role => "operator", files => Vec::<String>::new()}
        }
    };
    // What the role may do, from the policy itself: pages and buttons it
    // could only be refused are not offered (the node still decides).
    let may = |a: Action| policy::authorize(&v.actor, a).is_ok();
    let nav: Vec<Value> = NAV
        .iter()
        .filter(|(_, _, a)| may(*a))
        .map(|(p, k, _)| context! {path => p, key => k, current => path.starts_with(p)})
        .collect();
    context! {
        lang => v.locale.code,
        dir => if v.locale.rtl { "rtl" } else { "ltr" },
        locales => locales(),
        user => user,
        csrf => v.csrf.clone(),
        node_names => v.nodes.clone(),
        nav => nav,
        path => path,
        may => context! {
            ack => may(Action::SendMessage), share => may(Action::ShareRecord),
            request => may(Action::RequestRelease), decide => may(Action::DecideRelease),
            checkpoint => may(Action::MakeCheckpoint),
        },
    }
}

pub fn locales() -> Vec<Value> {
    i18n::LOCALES
        .iter()
        .map(|l| context! {code => l.code, native => l.native})
        .collect()
}

/// The translation key of a `?done=` notice, if it names one.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    let d = done?;
    NOTICES.iter().find(|(n, _)| *n == d).map(|(_, k)| *k)
}

/// A page: the template rendered with `ctx`, as HTML.
pub fn page(st: &UiState, name: &str, ctx: Value) -> UiResult {
    page_status(st, name, ctx, StatusCode::OK)
}

pub fn page_status(st: &UiState, name: &str, ctx: Value, status: StatusCode) -> UiResult {
    let html = st.env.get_template(name)?.render(ctx)?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response())
}

/// Runs `f` as the viewer on a blocking thread (the store is synchronous):
/// the same node service, and so the same policy, as the API.
pub async fn as_viewer<T: Send + 'static>(
    st: &UiState,
    v: &Viewer,
    f: impl FnOnce(&Node, &Actor) -> Result<T, NodeError> + Send + 'static,
) -> Result<T, UiError> {
    let node = st.node.clone();
    let actor = v.actor.clone();
    tokio::task::spawn_blocking(move || f(&node, &actor))
        .await
        .map_err(|e| NodeError::Internal(format!("worker failed: {e}")))?
        .map_err(UiError::Node)
}

/// The answer of a page handler: its page, or its error as a page.
pub fn respond(st: &UiState, v: &Viewer, r: UiResult) -> Response {
    r.unwrap_or_else(|e| error_page(st, Some(v), e))
}

/// `?done=…` after an action (post, redirect, get).
#[derive(serde::Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

/// An error as a page in the viewer's language: the node's public
/// message under its HTTP status (404 exactly where the API says 404).
pub fn error_page(st: &UiState, v: Option<&Viewer>, e: UiError) -> Response {
    let (status, message) = match e {
        UiError::Login => return Redirect::to("/ui/login").into_response(),
        UiError::Node(e) => {
            if e.status() >= 500 {
                tracing::error!(error = %e, "web interface request failed");
            }
            (
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                e.public_message(),
            )
        }
        UiError::Render(e) => {
            tracing::error!(error = %e, "web interface template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
        }
    };
    let key = match status.as_u16() {
        404 => "error-not-found",
        403 => "error-refused",
        400 => "error-bad-input",
        _ => "error-internal",
    };
    let ctx = match v {
        Some(v) => {
            context! {..base(v, ""), ..context! {status => status.as_u16(), key => key, message => message}}
        }
        None => {
            context! {lang => i18n::DEFAULT, dir => "ltr", locales => locales(), status => status.as_u16(), key => key, message => message}
        }
    };
    match page_status(st, "error.html", ctx, status) {
        Ok(r) => r,
        Err(_) => (status, message).into_response(),
    }
}
