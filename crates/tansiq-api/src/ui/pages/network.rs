//! The network view of a record: the records and typed, dated links
//! within N hops that the viewer may see (`Node::record_graph`), drawn as
//! an SVG of concentric rings — the record at the centre, each hop one
//! ring further out — with the same nodes and links as tables.

use std::collections::HashMap;
use std::f64::consts::PI;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::Extension;
use minijinja::context;
use serde::Deserialize;

use tansiq_node::graph::Graph;

use crate::ui::view::{self, as_viewer, UiState, Viewer};

/// Most records one drawing shows (the node's walk stops there and says
/// it was cut).
const MAX_DRAWN: usize = 200;
/// The drawing's size and the distance between rings, in SVG units.
const SIZE: f64 = 720.0;
const RING: f64 = 150.0;

#[derive(Deserialize, Default)]
pub struct HopsQuery {
    hops: Option<u32>,
}

/// Positions on concentric rings by hop count, evenly spaced on each.
fn layout(g: &Graph) -> HashMap<String, (f64, f64)> {
    let c = SIZE / 2.0;
    let max_hop = g.nodes.iter().map(|n| n.hops).max().unwrap_or(0).max(1) as f64;
    let ring = RING.min((c - 60.0) / max_hop);
    let mut by_hop: HashMap<u32, Vec<&str>> = HashMap::new();
    for n in &g.nodes {
        by_hop.entry(n.hops).or_default().push(&n.id);
    }
    let mut out = HashMap::new();
    for (hop, ids) in by_hop {
        let r = ring * hop as f64;
        let step = 2.0 * PI / ids.len().max(1) as f64;
        // Rings turned a little each, so labels of successive rings do
        // not line up.
        let turn = hop as f64 * 0.4;
        for (i, id) in ids.into_iter().enumerate() {
            let a = turn + step * i as f64;
            out.insert(id.to_string(), (c + r * a.cos(), c + r * a.sin()));
        }
    }
    out
}

pub async fn network(
    State(st): State<UiState>,
    Extension(v): Extension<Viewer>,
    Path(id): Path<String>,
    Query(q): Query<HopsQuery>,
) -> Response {
    let hops = q.hops.unwrap_or(2);
    let r = async {
        let g = as_viewer(&st, &v, move |node, actor| {
            node.record_graph(actor, &id, hops, Some(MAX_DRAWN))
        })
        .await?;
        let pos = layout(&g);
        let at = |id: &str| pos.get(id).copied().unwrap_or((SIZE / 2.0, SIZE / 2.0));
        let nodes: Vec<_> = g
            .nodes
            .iter()
            .map(|n| {
                let (x, y) = at(&n.id);
                let label: String = n.name.clone().unwrap_or_else(|| n.id.clone()).chars().take(32).collect();
                context! {id => n.id, kind => n.kind, label => label, file => n.file,
                    tlp => n.tlp.replace('+', "-"), hops => n.hops, root => n.id == g.root,
                    x => format!("{x:.1}"), y => format!("{y:.1}"), ty => format!("{:.1}", y + 22.0)}
            })
            .collect();
        let links: Vec<_> = g
            .links
            .iter()
            .map(|l| {
                let ((x1, y1), (x2, y2)) = (at(&l.src), at(&l.dst));
                context! {src => l.src, dst => l.dst, rel => l.rel, from => l.from, until => l.until,
                    x1 => format!("{x1:.1}"), y1 => format!("{y1:.1}"),
                    x2 => format!("{x2:.1}"), y2 => format!("{y2:.1}")}
            })
            .collect();
        view::page(
            &st,
            "network.html",
            context! {..view::base(&v, "/ui/records"), ..context! {
                root => g.root, hops => g.hops, truncated => g.truncated,
                nodes => nodes, links => links, size => SIZE,
                hop_choices => (1..=tansiq_node::graph::MAX_HOPS).collect::<Vec<_>>(),
            }},
        )
    }
    .await;
    view::respond(&st, &v, r)
}
