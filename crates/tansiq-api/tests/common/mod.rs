//! Helpers shared by the API and partner-endpoint suites: nodes on free
//! ports, trust between them, and an in-process network that hands each
//! queued message to its recipient, to set up channels before a test
//! starts the real listeners (a copy of the part of tansiq-node's
//! `tests/common` these suites need).
#![allow(dead_code)]

use tansiq_core::user::Actor;
use tansiq_node::{InitOptions, Node};

pub const OP: Actor = Actor::Operator;

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A new node in `root/name` on SQLite, its partner port and API on free
/// ports.
pub fn node(root: &std::path::Path, name: &str, cc: &str) -> Node {
    Node::init(
        &root.join(name),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{}", free_port()),
            endpoint: None,
            api_listen: Some(&format!("127.0.0.1:{}", free_port())),
            store: None,
        },
    )
    .unwrap()
}

/// Every node trusts every other's card.
pub fn trust(nodes: &[&Node]) {
    for a in nodes {
        for b in nodes {
            if a.id() != b.id() {
                a.peer_add(&OP, &serde_json::to_vec(&b.card()).unwrap())
                    .unwrap();
            }
        }
    }
}

/// A channel `creator` proposes to `members` (files `files`), accepted by
/// each member, every message handed over among `all`; returns its id.
pub fn form_channel(
    creator: &Node,
    name: &str,
    members: &[&Node],
    files: &[&str],
    all: &[&Node],
) -> String {
    let ch = creator
        .channel_create(
            &OP,
            name,
            members.iter().map(|m| m.id().to_string()).collect(),
            files.iter().map(|f| f.to_string()).collect(),
            vec![],
            None,
        )
        .unwrap();
    pump(all);
    for m in members {
        m.channel_accept(&OP, &ch).unwrap();
    }
    pump(all);
    ch
}

/// A user of `node` with `role` and `files`; returns its token.
pub fn user(node: &Node, name: &str, role: tansiq_core::user::Role, files: &[&str]) -> String {
    node.user_add(
        &OP,
        name,
        role,
        &files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    )
    .unwrap()
}

/// Hands every message now queued at `nodes` to its recipient; with
/// `lenient`, a delivery the recipient refuses is dropped instead of
/// failing the test. Returns how many were handed over.
fn hand_over(nodes: &[&Node], lenient: bool) -> usize {
    let mut moved = 0;
    for n in nodes {
        for t in n.federation.take_outgoing() {
            let Some(dest) = nodes.iter().find(|d| d.id() == t.to.as_str()) else {
                continue;
            };
            let bytes = t.message.encode();
            match dest.take_in_peer_message(n.id(), &bytes, false) {
                Ok(_) => {}
                Err(e) if !lenient => panic!("delivery to {} failed: {e}", dest.id()),
                Err(_) => {}
            }
            moved += 1;
        }
    }
    moved
}

/// Lets every node's timers (summaries, retries) queue what they have.
fn poll_all(nodes: &[&Node]) {
    for n in nodes {
        n.poll_peers().unwrap();
    }
}

/// Hands every queued message to its recipient until nothing moves.
pub fn pump(nodes: &[&Node]) -> usize {
    pump_with(nodes, false)
}

/// [`pump`] where a refused delivery is not a test failure (that is what
/// the test looks at).
pub fn pump_lenient(nodes: &[&Node]) -> usize {
    pump_with(nodes, true)
}

fn pump_with(nodes: &[&Node], lenient: bool) -> usize {
    let mut moved = 0;
    for _round in 0..50 {
        let m = hand_over(nodes, lenient);
        moved += m;
        if m == 0 {
            poll_all(nodes);
            if nodes.iter().all(|n| n.federation.take_outgoing_peek() == 0) {
                return moved;
            }
        }
    }
    moved
}

/// Runs `serve` on a runtime of its own in a thread: it gets a stop
/// signal and a sender for what the caller waits for (the bound address),
/// sent once it listens. Returns that and the stop sender (dropping it
/// stops the server).
fn serve_in_thread<T, F>(
    serve: impl FnOnce(tokio::sync::oneshot::Receiver<()>, std::sync::mpsc::Sender<T>) -> F
        + Send
        + 'static,
) -> (T, tokio::sync::oneshot::Sender<()>)
where
    T: Send + 'static,
    F: std::future::Future<Output = ()>,
{
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(serve(rx, ready_tx));
    });
    (ready_rx.recv().unwrap(), stop)
}

/// Serves `node`'s local API on a free loopback port until the returned
/// sender is dropped; returns its base URL.
pub fn serve_api(node: std::sync::Arc<Node>) -> (String, tokio::sync::oneshot::Sender<()>) {
    let (addr, stop) = serve_in_thread(|rx, ready| async move {
        let l = tansiq_api::local::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        ready.send(l.local_addr().unwrap()).unwrap();
        tansiq_api::local::serve(node, l, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    (format!("http://{addr}"), stop)
}

/// Serves `node`'s partner endpoint (mutual TLS, on its `listen` address)
/// until the returned sender is dropped, as `serve` runs it.
pub fn serve_partner(node: std::sync::Arc<Node>) -> tokio::sync::oneshot::Sender<()> {
    serve_in_thread(|rx, ready| async move {
        let peers = tansiq_net::transport::PeerSet::new();
        tansiq_node::peering::refresh_peers(&node, &peers).unwrap();
        let addr = tansiq_node::config::parse_listen(&node.config.listen).unwrap();
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        ready.send(()).unwrap();
        tansiq_api::partner::serve_peers(node, listener, peers, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    })
    .1
}

/// The whole audit log of `node`, oldest first.
pub fn audit_log(node: &Node) -> Vec<tansiq_core::audit::AuditEntry> {
    node.store
        .read(|tx| {
            let n = tx.audit_count()?;
            tx.audit_entries(0, n)
        })
        .unwrap()
        .into_iter()
        .map(|(e, _)| e)
        .collect()
}

/// One API call with an optional bearer token and JSON body: the status
/// and the JSON answer (or the text, as a JSON string).
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let client = reqwest::blocking::Client::new();
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "PUT" => client.put(url),
        "DELETE" => client.delete(url),
        m => panic!("method {m}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}
