//! Helpers of the demo's steps: starting nodes, forming channels over the
//! network, adding records, waiting for what must arrive, reading bytes
//! on disk, one raw HTTP request.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tansiq_core::handling::Tlp;
use tansiq_core::record::{Kind, Link};

use tansiq_node::records::NewRecord;
use tansiq_node::watchlist::ImportItem;
use tansiq_node::{InitOptions, Node};

use super::scene::Report;
use crate::ctx::OP;
use crate::error::{CliError, CliResult};

pub fn err(e: impl std::fmt::Display) -> CliError {
    CliError::other(format!("demo: {e}"))
}

/// Polls `f` every 100 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

pub fn status(n: &Node, ch: &str) -> String {
    n.channel_list(&OP)
        .ok()
        .and_then(|l| l.into_iter().find(|c| c.id == ch))
        .map(|c| c.status)
        .unwrap_or_default()
}

/// Forms a channel over the network: the proposer signs and sends the
/// charter, each member sees it pending and co-signs, and the channel turns
/// active everywhere once every signature has travelled.
pub fn form_channel(
    d: &mut Report,
    proposer: &Node,
    others: &[&Node],
    name: &str,
    files: &[&str],
    relays: &[&Node],
) -> CliResult<String> {
    let members = others.iter().map(|n| n.id().to_string()).collect();
    let files = files.iter().map(|f| f.to_string()).collect();
    let relays = relays.iter().map(|n| n.id().to_string()).collect();
    let ch = proposer
        .channel_create(&OP, name, members, files, relays, Some(3650))
        .map_err(err)?;
    let arrived = wait_until(20, || others.iter().all(|n| status(n, &ch) == "pending"));
    d.check(
        arrived,
        &format!(
            "the charter of \"{name}\" reached its {} other member(s), pending there",
            others.len()
        ),
    );
    for n in others {
        n.channel_accept(&OP, &ch).map_err(err)?;
    }
    let active = wait_until(30, || {
        std::iter::once(proposer)
            .chain(others.iter().copied())
            .all(|n| status(n, &ch) == "active")
    });
    d.check(
        active,
        &format!(
            "every member signed; \"{name}\" ({ch}) is active at all {} members",
            others.len() + 1
        ),
    );
    Ok(ch)
}

pub fn record(
    node: &Node,
    ch: &str,
    file: &str,
    kind: Kind,
    data: serde_json::Value,
    links: Vec<Link>,
    tlp: Option<Tlp>,
) -> CliResult<String> {
    node.record_add(
        &OP,
        NewRecord {
            channel: ch.into(),
            file: file.into(),
            kind,
            data,
            tlp,
            code: None,
            evaluation: Some("B2".parse().map_err(err)?),
            expires: None,
            links,
        },
    )
    .map_err(err)
}

/// One HTTP/1.1 request to the node's local API, as any client would send it.
pub fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: &str,
) -> CliResult<(u16, serde_json::Value)> {
    let mut s = std::net::TcpStream::connect(addr).map_err(err)?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").map_err(err)?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).map_err(err)?;
    let status = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf.split("\r\n\r\n").nth(1).unwrap_or("");
    // chunked bodies: take the JSON between the first '[' or '{' and the last ']' or '}'
    let start = body.find(['[', '{']).unwrap_or(0);
    let end = body.rfind([']', '}']).map_or(body.len(), |e| e + 1);
    Ok((
        status,
        serde_json::from_str(&body[start..end]).unwrap_or(serde_json::Value::Null),
    ))
}

/// The sample watchlists shipped in the repository's `data/` (from the
/// project root, the README's command, or from the binary's crate).
pub fn shared_data() -> PathBuf {
    for base in [
        PathBuf::from("data"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data"),
    ] {
        if base.join("watchlists").exists() {
            return base;
        }
    }
    PathBuf::from("data")
}

/// One node of the demo: its services, its partner endpoint and sender.
pub fn start_node(root: &Path, dirname: &str, name: &str, cc: &str) -> CliResult<Arc<Node>> {
    // A port the OS calls free, and not one handed to an earlier node (a
    // released port can come back at once).
    static TAKEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let port = loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(err)?
            .port();
        let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
        if !taken.contains(&p) {
            taken.push(p);
            break p;
        }
    };
    let node = Node::init(
        &root.join(dirname),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{port}"),
            endpoint: None,
            api_listen: Some("127.0.0.1:0"),
            store: None,
        },
    )
    .map_err(err)?;
    Ok(Arc::new(node))
}

pub fn start_network(rt: &tokio::runtime::Runtime, node: &Arc<Node>) -> CliResult<()> {
    let peers = tansiq_node::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(node, &peers).map_err(err)?;
    let addr = tansiq_node::config::parse_listen(&node.config.listen).map_err(err)?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .map_err(err)?;
    rt.spawn(tansiq_api::partner::serve_peers(
        node.clone(),
        listener,
        peers.clone(),
        std::future::pending::<()>(),
    ));
    rt.spawn(tansiq_node::peering::sender(node.clone(), peers));
    Ok(())
}

pub fn import_items(entries: Vec<tansiq_lists::ImportedEntry>) -> Vec<ImportItem> {
    entries
        .into_iter()
        .map(|e| ImportItem {
            source_ref: e.source_ref,
            kind: if e.kind == tansiq_lists::EntryKind::Person {
                Kind::Person
            } else {
                Kind::Organization
            },
            data: e.data,
        })
        .collect()
}

pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all.extend(all_bytes(&p));
        } else {
            all.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    all
}

pub fn holds(n: &Node, id: &str) -> bool {
    n.record_get(&OP, id).is_ok_and(|r| r.status == "active")
}

/// Cuts (or heals) the direct link between two nodes, both ways: each
/// stops (or resumes) sending to the other directly.
pub fn cut_link(a: &Node, b: &Node, cut: bool) {
    a.federation.set_link_cut(b.id(), cut);
    b.federation.set_link_cut(a.id(), cut);
}
