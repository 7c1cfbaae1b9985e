//! Records: the list (or a name search) and the dossier of one record —
//! its names in both scripts, aliases, data, links, versions, releases,
//! under a banner in its TLP colour — with the share and release-request
//! forms.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;

use tansiq_core::user::Actor;
use tansiq_node::records::RecordView;
use tansiq_node::{Node, NodeError};
use tansiq_store::RecordFilter;

use crate::ui::view::{self, as_viewer, Done, UiState, Viewer};

/// Records a list page shows.
pub const PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    name: Option<String>,
    offset: Option<u64>,
}

pub async fn list(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Query(q): Query<ListQuery>,
) -> Response {
    let r = async {
        let name = q.name.clone().filter(|n| !n.trim().is_empty());
        let offset = q.offset.unwrap_or(0);
        let search = name.clone();
        let rows = as_viewer(&st, &v, move |node, actor| match &search {
            Some(n) => node.record_search(actor, n, PAGE),
            None => node.record_list(
                actor,
                &RecordFilter {
                    limit: Some(PAGE),
                    offset,
                    ..Default::default()
                },
            ),
        })
        .await?;
        let more = name.is_none() && rows.len() as u64 == PAGE;
        let rows: Vec<_> = rows.iter().map(summary).collect();
        view::page(
            &st,
            "records.html",
            context! {..view::base(&v, "/ui/records"), ..context! {
                rows => rows, name => name, offset => offset,
                next => more.then_some(offset + PAGE),
                prev => (offset > 0).then(|| offset.saturating_sub(PAGE)),
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

/// What a list row shows of a record.
fn summary(r: &RecordView) -> Value {
    serde_json::json!({
        "id": r.id, "kind": r.kind, "title": title(r), "file": r.file,
        "channel": r.channel, "tlp": r.tlp, "status": r.status, "created": r.created,
    })
}

/// A record's heading: its first name, title or text.
fn title(r: &RecordView) -> String {
    let d = &r.data;
    let s = d["names"][0]
        .as_str()
        .or(d["title"].as_str())
        .or(d["text"].as_str())
        .unwrap_or(&r.id);
    s.chars().take(120).collect()
}

/// Whether a name is written in Arabic script (the dossier shows the
/// Arabic-script and Latin-script names apart).
pub fn is_arabic(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c as u32, 0x0600..=0x06FF | 0x0750..=0x077F | 0x08A0..=0x08FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF)
    })
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The data fields other than names, as (field, text) pairs.
fn fields(data: &Value) -> Vec<(String, String)> {
    data.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "names" | "weak_names"))
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Array(a) if a.iter().all(Value::is_string) => strings(v).join(", "),
                        _ => v.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Everything the dossier shows, read as the viewer in one blocking call.
fn dossier_of(node: &Node, actor: &Actor, id: &str) -> Result<Value, NodeError> {
    let r = node.record_get(actor, id)?;
    let history = node.record_history(actor, id)?;
    let links = node.record_links(actor, id)?;
    let releases: Vec<_> = match node.releases(actor) {
        Err(NodeError::Refused(_)) => vec![],
        l => l?,
    }
    .into_iter()
    .filter(|x| x.record == id)
    .collect();
    let channels: Vec<_> = match node.channel_list(actor) {
        Err(NodeError::Refused(_)) => vec![],
        l => l?,
    }
    .into_iter()
    .filter(|c| c.status == "active" && !r.channels.contains(&c.id))
    .map(|c| serde_json::json!({"id": c.id, "name": c.name}))
    .collect();
    let names = strings(&r.data["names"]);
    let (arabic, latin): (Vec<String>, Vec<String>) =
        names.iter().cloned().partition(|n| is_arabic(n));
    Ok(serde_json::json!({
        "record": r, "title": title(&r), "arabic": arabic, "latin": latin,
        "aliases": strings(&r.data["weak_names"]), "fields": fields(&r.data),
        "tlp_class": r.tlp.replace('+', "-"),
        "history": history, "links": links, "releases": releases,
        "share_channels": channels,
    }))
}

pub async fn dossier(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let r = async {
        let d = as_viewer(&st, &v, move |node, actor| dossier_of(node, actor, &id)).await?;
        view::page(
            &st,
            "record.html",
            context! {..view::base(&v, "/ui/records"), ..context! {
                d => d, notice => view::notice(q.done.as_deref()),
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}

#[derive(Deserialize)]
pub struct ShareForm {
    channel: String,
}

/// Places the record in another channel (the third-party rule applies:
/// another originator's record needs its release first).
pub async fn share(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Form(f): Form<ShareForm>,
) -> Response {
    let back = format!("/ui/records/{id}?done=shared");
    let r = as_viewer(&st, &v, move |node, actor| {
        node.record_share(actor, &id, &f.channel)
    })
    .await;
    match r {
        Ok(()) => Redirect::to(&back).into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}

#[derive(Deserialize)]
pub struct ReleaseForm {
    channel: String,
    reason: Option<String>,
}

/// Asks the record's originator to release it into another channel.
pub async fn request_release(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Form(f): Form<ReleaseForm>,
) -> Response {
    let back = format!("/ui/records/{id}?done=requested");
    let r = as_viewer(&st, &v, move |node, actor| {
        let reason = f.reason.as_deref().map(str::trim).filter(|s| !s.is_empty());
        node.release_request(actor, &id, &f.channel, reason)
    })
    .await;
    match r {
        Ok(_) => Redirect::to(&back).into_response(),
        Err(e) => view::error_page(&st, Some(&v), e),
    }
}
