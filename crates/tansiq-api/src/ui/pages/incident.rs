//! Declaring an incident (mission S11, `Node::incident_declare` as the
//! user): the incident record, a FLASH to every channel carrying its
//! file, and a mass screening of an attached list of names (typed or a
//! CSV/JSONL upload), hits raised as alerts linked to the incident.

use axum::extract::{Multipart, State};
use axum::response::Response;
use axum::Extension;
use minijinja::context;

use tansiq_core::handling::Tlp;
use tansiq_core::user::Actor;
use tansiq_node::incidents::NewIncident;
use tansiq_node::NodeError;

use super::screening::{queries, read_form, threshold, Input};
use crate::ui::view::{self, as_viewer, UiState, Viewer};

/// The active channels the form offers.
async fn channels(st: &UiState, v: &Viewer) -> Result<Vec<serde_json::Value>, view::UiError> {
    as_viewer(st, v, |node, actor| {
        Ok(node
            .channel_list(actor)?
            .into_iter()
            .filter(|c| c.status == "active")
            .map(|c| serde_json::json!({"id": c.id, "name": c.name, "files": c.files}))
            .collect())
    })
    .await
}

fn files(v: &Viewer) -> Vec<String> {
    match &v.actor {
        Actor::User(u) => u.files.clone(),
        Actor::Operator => vec![],
    }
}

pub async fn form(State(st): State<UiState>, Extension(v): Extension<Viewer>) -> Response {
    let r = async {
        let chans = channels(&st, &v).await?;
        view::page(
            &st,
            "incident.html",
            context! {..view::base(&v, "/ui/incident"), ..context! {
                channels => chans, files => files(&v), report => Option::<()>::None,
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

fn new_incident(input: &Input) -> Result<NewIncident, NodeError> {
    let need = |k: &str| {
        input
            .field(k)
            .map(str::to_string)
            .ok_or_else(|| NodeError::bad(format!("{k} is required")))
    };
    let names = if input.file.is_some() || input.field("names").is_some() {
        queries(input)?
    } else {
        vec![]
    };
    Ok(NewIncident {
        channel: need("channel")?,
        file: need("file")?,
        title: need("title")?,
        place: input.field("place").map(str::to_string),
        occurred_at: input.field("occurred_at").map(str::to_string),
        tlp: input
            .field("tlp")
            .map(|t| {
                t.parse::<Tlp>()
                    .map_err(|e| NodeError::bad(format!("tlp: {e}")))
            })
            .transpose()?,
        message: input.field("message").map(str::to_string),
        names,
        threshold: threshold(input)?,
    })
}

pub async fn declare(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    mp: Multipart,
) -> Response {
    let r = async {
        let input = read_form(mp).await?;
        let new = new_incident(&input)?;
        let started = std::time::Instant::now();
        let report = as_viewer(&st, &v, move |node, actor| {
            node.incident_declare(actor, new, &|_, _| {})
        })
        .await?;
        let chans = channels(&st, &v).await?;
        view::page(
            &st,
            "incident.html",
            context! {..view::base(&v, "/ui/incident"), ..context! {
                channels => chans, files => files(&v), report => report,
                millis => started.elapsed().as_millis() as u64,
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}
