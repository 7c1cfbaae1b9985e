//! Helpers shared by the API and partner-endpoint suites: an in-process
//! network that hands each queued message to its recipient, to set up
//! channels before a test starts the real listeners (a copy of the part
//! of tansiq-node's `tests/common` these suites need).
#![allow(dead_code)]

use tansiq_node::Node;

/// Hands every message now queued at `nodes` to its recipient. Returns
/// how many were handed over.
fn hand_over(nodes: &[&Node]) -> usize {
    let mut moved = 0;
    for n in nodes {
        for t in n.federation.take_outgoing() {
            let Some(dest) = nodes.iter().find(|d| d.id() == t.to.as_str()) else {
                continue;
            };
            let bytes = t.message.encode();
            let more = dest
                .store
                .write(|tx| dest.federation.receive(dest, tx, n.id(), &bytes))
                .unwrap();
            dest.federation.queue(more);
            moved += 1;
        }
    }
    moved
}

/// Lets every node's timers (summaries, retries) queue what they have.
fn poll_all(nodes: &[&Node]) {
    for n in nodes {
        let more = n.store.write(|tx| n.federation.poll(n, tx)).unwrap();
        n.federation.queue(more);
    }
}

/// Hands every queued message to its recipient until nothing moves.
pub fn pump(nodes: &[&Node]) -> usize {
    let mut moved = 0;
    for _round in 0..50 {
        let m = hand_over(nodes);
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
