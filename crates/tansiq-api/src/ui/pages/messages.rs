//! The inbox: received messages, FLASH first, with the acknowledge
//! button; and the caller's own FLASH still awaiting acknowledgement.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use minijinja::context;

use crate::ui::view::{self, as_viewer, Done, UiState, Viewer};

pub async fn inbox(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<Done>,
) -> Response {
    let r = async {
        let (messages, unacked) = as_viewer(&st, &v, |node, actor| {
            let m = node.inbox_by_precedence(actor)?;
            // Roles that send nothing have no unacknowledged list.
            let u = match node.unacked_for(actor) {
                Err(tansiq_node::NodeError::Refused(_)) => vec![],
                r => r?,
            };
            Ok((m, u))
        })
        .await?;
        let pending = messages
            .iter()
            .filter(|m| m.ack_required && !m.acked)
            .count();
        view::page(
            &st,
            "inbox.html",
            context! {..view::base(&v, "/ui/inbox"), ..context! {
                messages => messages, unacked => unacked, pending => pending,
                notice => view::notice(q.done.as_deref()),
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

pub async fn ack(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
) -> Response {
    let r = as_viewer(&st, &v, move |node, actor| node.ack_message(actor, &id)).await;
    match r {
        Ok(()) => Redirect::to("/ui/inbox?done=acked").into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}
