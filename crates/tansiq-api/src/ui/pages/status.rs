//! Channels and the viewer's files, sync status per peer, and the audit
//! log (verification and checkpoints).

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::context;

use crate::ui::view::{self, as_viewer, Done, UiState, Viewer};

pub async fn channels(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = async {
        let channels = as_viewer(&st, &v, |node, actor| node.channel_list(actor)).await?;
        view::page(
            &st,
            "channels.html",
            context! {..view::base(&v, "/ui/channels"), ..context! {channels => channels}},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

pub async fn sync(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = async {
        let s = as_viewer(&st, &v, |node, actor| node.sync_status(actor)).await?;
        view::page(
            &st,
            "sync.html",
            context! {..view::base(&v, "/ui/sync"), ..context! {status => s}},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

/// Checkpoints the audit page lists.
const CHECKPOINTS: usize = 20;

pub async fn audit(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<Done>,
) -> Response {
    audit_page(st, v, false, view::notice(q.done.as_deref())).await
}

/// Verifies the whole log (every leaf and record version re-hashed:
/// seconds on a large node, hence a button, not every page view).
pub async fn verify(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    audit_page(st, v, true, None).await
}

async fn audit_page(
    st: UiState,
    v: Viewer,
    verify: bool,
    notice: Option<&'static str>,
) -> Response {
    let r = async {
        let (report, checkpoints) = as_viewer(&st, &v, move |node, actor| {
            let cps = node.audit_checkpoints(actor, CHECKPOINTS)?;
            let report = if verify {
                Some(node.audit_verify(actor)?)
            } else {
                None
            };
            Ok((report, cps))
        })
        .await?;
        view::page(
            &st,
            "audit.html",
            context! {..view::base(&v, "/ui/audit"), ..context! {
                report => report, checkpoints => checkpoints, notice => notice,
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

/// Signs a checkpoint of the audit log now.
pub async fn checkpoint(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = as_viewer(&st, &v, |node, actor| {
        node.audit_checkpoint(actor, true).map(|_| ())
    })
    .await;
    match r {
        Ok(()) => Redirect::to("/ui/audit?done=checkpoint").into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}
