//! Networks within N hops (mission S4): the records a reader may see
//! around one record, and the typed, dated links between them.
//!
//! A breadth-first walk over the store's links, both directions, one
//! batched query per hop (the whole frontier at once), in one
//! transaction. The reader's `ReadScope` is applied by the store to both
//! ends of every link: a record the reader may not see is no node, no
//! link end, no count and no hint in the answer (not even in
//! `truncated`, which counts visible records only).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::json;

use tansiq_core::policy::{self, Action, ReadScope};
use tansiq_core::user::Actor;
use tansiq_store::{LinkRow, RecordHead, RecordStatus, Tx};

use crate::error::{NodeError, NodeResult};
use crate::node::Node;

/// Most hops a walk may take: beyond six, almost any two records of a
/// large store are connected and the answer is the cap, not a network.
pub const MAX_HOPS: u32 = 6;
/// Nodes a graph holds unless the caller asks for fewer.
pub const DEFAULT_GRAPH_NODES: usize = 1000;
/// Most nodes a graph may hold; past it the walk stops and the answer
/// says `truncated`.
pub const MAX_GRAPH_NODES: usize = 5000;

/// A record's neighbourhood: `nodes` ordered by distance then id, `links`
/// (only those whose both ends are nodes) by source, type, target.
#[derive(Debug, Clone, Serialize)]
pub struct Graph {
    /// The record the walk started from (`nodes[0]`, at 0 hops).
    pub root: String,
    pub hops: u32,
    pub nodes: Vec<GraphNode>,
    pub links: Vec<GraphLink>,
    /// The node cap stopped the walk: records within `hops` were left out
    /// (the nearest, then the lowest ids, were kept).
    pub truncated: bool,
}

/// One record of a graph: what a network view labels it with, no content.
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    pub id: String,
    pub kind: String,
    /// The primary name (the title of an incident or document); `None`
    /// once the record was retracted or expired.
    pub name: Option<String>,
    pub file: String,
    pub tlp: String,
    pub status: String,
    /// Distance from the root, in links.
    pub hops: u32,
}

/// A typed, dated link `src -rel-> dst` as its source record states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GraphLink {
    pub src: String,
    pub rel: String,
    pub dst: String,
    pub from: Option<String>,
    pub until: Option<String>,
}

impl From<LinkRow> for GraphLink {
    fn from(l: LinkRow) -> Self {
        GraphLink {
            src: l.src,
            rel: l.rel,
            dst: l.dst,
            from: l.from,
            until: l.until,
        }
    }
}

impl Node {
    /// The records within `hops` links of record `id` (either direction)
    /// that `actor` may see, and the links between them; at most
    /// `max_nodes` records ([`DEFAULT_GRAPH_NODES`] when `None`, at most
    /// [`MAX_GRAPH_NODES`]). `hops` is 1 to [`MAX_HOPS`]. Authorised as
    /// reading the record; audited (`record.graph`: the counts and a hash
    /// of the ids returned). A record `actor` may not see is not found,
    /// exactly as an unknown id.
    pub fn record_graph(
        &self,
        actor: &Actor,
        id: &str,
        hops: u32,
        max_nodes: Option<usize>,
    ) -> NodeResult<Graph> {
        policy::authorize(actor, Action::ReadRecord)?;
        if !(1..=MAX_HOPS).contains(&hops) {
            return Err(NodeError::bad(format!(
                "hops must be between 1 and {MAX_HOPS}, not {hops}"
            )));
        }
        let cap = max_nodes.unwrap_or(DEFAULT_GRAPH_NODES);
        if !(1..=MAX_GRAPH_NODES).contains(&cap) {
            return Err(NodeError::bad(format!(
                "the node limit must be between 1 and {MAX_GRAPH_NODES}, not {cap}"
            )));
        }
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let graph = walk(tx, &scope, id, hops, cap)?;
            let ids: Vec<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
            let digest = tansiq_crypto::sha256(ids.join("\n").as_bytes());
            self.audit(
                tx,
                &actor.audit_name(),
                "record.graph",
                id,
                json!({"id": id, "hops": hops, "nodes": graph.nodes.len(), "links": graph.links.len(),
                       "truncated": graph.truncated, "ids_sha256": hex::encode(digest)}),
            )?;
            Ok(graph)
        })
    }
}

/// The breadth-first walk inside the caller's transaction.
fn walk(tx: &mut Tx, scope: &ReadScope, id: &str, hops: u32, cap: usize) -> NodeResult<Graph> {
    let root = tx
        .record_heads(&[id.to_string()], scope)?
        .pop()
        .ok_or_else(|| NodeError::NotFound(format!("no record {id} that you may see")))?;
    let mut dist: HashMap<String, u32> = HashMap::from([(root.id.clone(), 0)]);
    let mut order = vec![root.id.clone()];
    let mut links: Vec<LinkRow> = Vec::new();
    // A retracted or expired record has no links of its own left, and
    // others' links to it are not shown (as in `record links`).
    let mut frontier = if root.status == RecordStatus::Active {
        vec![root.id.clone()]
    } else {
        vec![]
    };
    let mut truncated = false;
    let mut hop = 0;
    while !frontier.is_empty() && hop < hops && !truncated {
        let found = tx.links_around(&frontier, scope)?;
        hop += 1;
        // Sorted: when the cap cuts a level, the lowest ids stay.
        let mut new = BTreeSet::new();
        for l in &found {
            for end in [&l.src, &l.dst] {
                if !dist.contains_key(end.as_str()) {
                    new.insert(end.clone());
                }
            }
        }
        links.extend(found);
        let room = cap - order.len();
        truncated = new.len() > room;
        frontier = new.into_iter().take(room).collect();
        for n in &frontier {
            dist.insert(n.clone(), hop);
            order.push(n.clone());
        }
    }
    // The farthest records' links to nearer ones came with the level
    // before; the links among themselves belong to the network too.
    links.extend(tx.links_among(&frontier, scope)?);
    links.retain(|l| dist.contains_key(&l.src) && dist.contains_key(&l.dst));
    links.sort_by(|a, b| {
        (&a.src, &a.rel, &a.dst, &a.from, &a.until)
            .cmp(&(&b.src, &b.rel, &b.dst, &b.from, &b.until))
    });
    links.dedup();
    let mut nodes = vec![node_of(root, 0)?];
    for h in tx.record_heads(&order[1..], scope)? {
        let hops = dist[&h.id];
        nodes.push(node_of(h, hops)?);
    }
    nodes.sort_by(|a, b| (a.hops, &a.id).cmp(&(b.hops, &b.id)));
    Ok(Graph {
        root: id.to_string(),
        hops,
        nodes,
        links: links.into_iter().map(GraphLink::from).collect(),
        truncated,
    })
}

/// The part of a stored body a graph shows: its data's first name, in
/// the order of `tansiq_core::record::names_of` (names, weak names, the
/// title). Read alone: parsing whole bodies cost more than the walk.
#[derive(Deserialize)]
struct NamesOnly {
    data: DataNames,
}

#[derive(Deserialize)]
struct DataNames {
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    weak_names: Vec<String>,
    title: Option<String>,
}

fn node_of(h: RecordHead, hops: u32) -> NodeResult<GraphNode> {
    let name = match &h.body {
        Some(b) => {
            let d = serde_json::from_str::<NamesOnly>(b)
                .map_err(|e| tansiq_store::StoreError::Corrupt(format!("record body: {e}")))?
                .data;
            d.names.into_iter().chain(d.weak_names).next().or(d.title)
        }
        None => None,
    };
    Ok(GraphNode {
        id: h.id,
        kind: h.kind.as_str().into(),
        name,
        file: h.file,
        tlp: h.tlp.as_str().into(),
        status: h.status.as_str().into(),
        hops,
    })
}
