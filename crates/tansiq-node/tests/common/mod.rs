//! Helpers shared by the node test suites: nodes in a temporary directory,
//! trust between them, an in-process network that hands each queued
//! message to its recipient, and the hostile-node harness.
#![allow(dead_code)]

use serde_json::json;

use tansiq_core::charter::ChannelState;
use tansiq_core::policy::ReadScope;
use tansiq_core::record::{Kind, RecordBody, SignedRecord};
use tansiq_core::release::SignedRelease;
use tansiq_core::user::Actor;
use tansiq_node::federation::Payload;
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};
use tansiq_sync::Precedence;

pub const OP: Actor = Actor::Operator;

/// With `TANSIQ_TEST_CLI_POSTGRES` set (a postgres:// URL, as
/// `scripts/test` sets it), a fresh schema of that server for a new node;
/// unset, SQLite in the node directory.
pub fn store_url() -> Option<String> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let base = std::env::var("TANSIQ_TEST_CLI_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let schema = format!("nt_{}_{}_{n}", std::process::id(), nanos % 1_000_000_000);
    let sep = if base.contains('?') { '&' } else { '?' };
    Some(format!("{base}{sep}schema={schema}"))
}

/// A new node in `root/name`, on the store [`store_url`] picks.
pub fn node(root: &std::path::Path, name: &str, cc: &str, port: u16) -> Node {
    let store = store_url();
    Node::init(
        &root.join(name),
        &InitOptions {
            name,
            country: cc,
            listen: &format!("127.0.0.1:{port}"),
            endpoint: None,
            api_listen: None,
            store: store.as_deref(),
        },
    )
    .unwrap()
}

/// Sorted node ids.
pub fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
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

/// A port free on loopback now, for a node whose partner port must be
/// bindable (`keys rotate` checks that no `serve` holds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Hands every message now queued at `nodes` to its recipient, except over
/// the direct links `cut` (each pair, both ways), where the send fails the
/// way a refused connection does. Returns how many were handed over, and
/// how many transmits were taken from the queues (failed ones included).
fn hand_over(nodes: &[&Node], cut: &[(&str, &str)]) -> (usize, usize) {
    let is_cut = |a: &str, b: &str| {
        cut.iter()
            .any(|&(x, y)| (x, y) == (a, b) || (y, x) == (a, b))
    };
    let (mut moved, mut taken) = (0, 0);
    for n in nodes {
        for t in n.federation.take_outgoing() {
            taken += 1;
            if is_cut(n.id(), t.to.as_str()) {
                n.transmit_failed(&t).unwrap();
                continue;
            }
            let Some(dest) = nodes.iter().find(|d| d.id() == t.to.as_str()) else {
                continue;
            };
            let bytes = t.message.encode();
            dest.take_in_peer_message(n.id(), &bytes, false).unwrap();
            moved += 1;
        }
    }
    (moved, taken)
}

/// Lets every node's timers (summaries, retries) queue what they have.
fn poll_all(nodes: &[&Node]) {
    for n in nodes {
        n.poll_peers().unwrap();
    }
}

/// Hands every queued message to its recipient until nothing moves.
pub fn pump(nodes: &[&Node]) -> usize {
    let mut moved = 0;
    for _round in 0..50 {
        let (m, _) = hand_over(nodes, &[]);
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

/// [`pump`] with the direct links `cut` failing, for `secs`: after a few
/// failures the engine sends through the channel's relays.
pub fn pump_cut(nodes: &[&Node], cut: &[(&str, &str)], secs: u64) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut moved = 0;
    while std::time::Instant::now() < deadline {
        let (m, _) = hand_over(nodes, cut);
        moved += m;
        if m == 0 {
            poll_all(nodes);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    moved
}

/// Every node polls once, then [`pump`]-like hand-over until no transmit
/// is left, where every transmit to `down` (in `nodes` or not) fails as a
/// dead link does.
pub fn pump_down(nodes: &[&Node], down: &str) {
    poll_all(nodes);
    let cut: Vec<(&str, &str)> = nodes.iter().map(|n| (n.id(), down)).collect();
    for _ in 0..50 {
        if hand_over(nodes, &cut).1 == 0 {
            return;
        }
    }
}

/// `creator` proposes a channel in the "terrorism" file to `partners`,
/// each accepts, and `nodes` exchange everything: the channel's id.
pub fn form_channel(creator: &Node, name: &str, partners: &[&Node], nodes: &[&Node]) -> String {
    let ch = creator
        .channel_create(
            &OP,
            name,
            partners.iter().map(|p| p.id().to_string()).collect(),
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    pump(nodes);
    for p in partners {
        p.channel_accept(&OP, &ch).unwrap();
    }
    pump(nodes);
    ch
}

pub fn person(ch: &str, name: &str) -> NewRecord {
    NewRecord {
        channel: ch.into(),
        file: "terrorism".into(),
        kind: Kind::Person,
        data: json!({"names": [name], "nationality": ["DZ"]}),
        tlp: None,
        code: None,
        evaluation: None,
        expires: None,
        links: vec![],
    }
}

/// The signed record `id` as `n` holds it (any originator).
pub fn held(n: &Node, id: &str) -> Option<SignedRecord> {
    n.store
        .read(|tx| tx.record(id, &ReadScope::everything()))
        .unwrap()
        .and_then(|r| r.signed)
}

/// Alarms of `kind` raised at `n`, as `sync status` shows them.
pub fn alarms(n: &Node, kind: &str) -> usize {
    n.sync_status(&OP)
        .unwrap()
        .alarms
        .iter()
        .filter(|a| a["kind"] == kind)
        .count()
}

/// Audit entries of `action` at `n` whose details mention `needle`.
pub fn audited(n: &Node, action: &str, needle: &str) -> usize {
    // Leaves of audited reads queued on PostgreSQL join the log with the
    // next writer (docs/STORE.md, "Audited reads"): be that writer.
    n.store.write(|tx| tx.audit_drain()).unwrap();
    n.store
        .read(|tx| tx.audit_entries(0, u64::MAX >> 1))
        .unwrap()
        .iter()
        .filter(|(e, _)| e.action == action && e.details.to_string().contains(needle))
        .count()
}

/// A partner that signs whatever its own keys allow: it holds a real
/// node's keys and engine, and sends arbitrary payloads over the same
/// envelopes, sealing and delivery as an honest node, bypassing every
/// check of its own.
pub struct Hostile<'a>(pub &'a Node);

impl Hostile<'_> {
    /// Seals and sends `payload` in `channel` to `recipients` (this node
    /// added), queued for the network like any of its messages.
    pub fn send(&self, channel: &str, recipients: &[&str], payload: &Payload) {
        let me = self.0;
        let mut members: Vec<String> = recipients.iter().map(|s| s.to_string()).collect();
        members.push(me.id().to_string());
        members.sort();
        members.dedup();
        // The channel's permitted relays, as an honest node names them.
        let relays = me
            .store
            .read(|tx| tx.channel(channel))
            .unwrap()
            .and_then(|c| serde_json::from_str::<ChannelState>(&c.state).ok())
            .and_then(|st| st.charter().map(|c| c.relays.clone()))
            .unwrap_or_default();
        me.send_unchecked(channel, Precedence::Routine, members, relays, payload)
            .unwrap();
    }

    /// Signs `body` with this node's key, whatever it claims.
    pub fn sign(&self, body: RecordBody) -> SignedRecord {
        SignedRecord::sign(body, &self.0.identity)
    }

    /// Sends a record version (with an optional release) in `channel`.
    pub fn send_record(
        &self,
        channel: &str,
        recipients: &[&str],
        record: SignedRecord,
        release: Option<SignedRelease>,
    ) {
        self.send(channel, recipients, &Payload::Record { record, release });
    }
}
