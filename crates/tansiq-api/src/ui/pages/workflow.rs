//! Alerts raised by continuous screening, and releases: those asked of
//! this node to decide (grant with conditions, or refuse with a reason)
//! and those it asked.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use minijinja::context;
use serde::Deserialize;

use crate::ui::view::{self, as_viewer, Done, UiState, Viewer};

pub async fn alerts(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = async {
        let alerts = as_viewer(&st, &v, |node, actor| node.alerts(actor)).await?;
        let rows: Vec<_> = alerts
            .into_iter()
            .map(|a| {
                context! {id => a.id, entry_id => a.entry_id, record_id => a.record_id,
                score => format!("{:.2}", a.score), matched_name => a.matched_name,
                explanation => a.explanation, created_at => a.created_at}
            })
            .collect();
        view::page(
            &st,
            "alerts.html",
            context! {..view::base(&v, "/ui/alerts"), ..context! {alerts => rows}},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

pub async fn releases(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<Done>,
) -> Response {
    let r = async {
        let all = as_viewer(&st, &v, |node, actor| node.releases(actor)).await?;
        let (to_decide, rest): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|r| r.direction == "in" && r.status == "pending");
        let (requested, decided): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|r| r.direction == "out");
        view::page(
            &st,
            "releases.html",
            context! {..view::base(&v, "/ui/releases"), ..context! {
                to_decide => to_decide, requested => requested, decided => decided,
                notice => view::notice(q.done.as_deref()),
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

#[derive(Deserialize)]
pub struct Decision {
    text: Option<String>,
}

fn text(d: &Decision) -> Option<String> {
    d.text
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Grants a release asked of this node, with optional conditions.
pub async fn grant(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Form(d): Form<Decision>,
) -> Response {
    let conditions = text(&d);
    let r = as_viewer(&st, &v, move |node, actor| {
        node.release_grant(actor, Some(&id), None, None, conditions.as_deref())
    })
    .await;
    match r {
        Ok(_) => Redirect::to("/ui/releases?done=granted").into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}

/// Refuses a release asked of this node, with an optional reason.
pub async fn refuse(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Form(d): Form<Decision>,
) -> Response {
    let reason = text(&d);
    let r = as_viewer(&st, &v, move |node, actor| {
        node.release_refuse(actor, &id, reason.as_deref())
    })
    .await;
    match r {
        Ok(()) => Redirect::to("/ui/releases?done=refused").into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}
