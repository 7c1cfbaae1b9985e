//! A whole node taking a peer message: the bytes B (a trusted, mutually
//! authenticated peer) POSTs to A's `/peer/v1/sync`, through
//! `Node::take_in_peer_message` (decode, engine: inbox, hash chains, relays,
//! anti-entropy) and, for envelopes that pass, delivery (opening the
//! sealed body, applying the payload) in A's store. Real nodes on a RAM
//! disk, built once per process (see `tansiq_fuzz::nodes`).
//!
//! Input: one mode byte, then the message. `@A@`, `@B@`, `@CH@` and
//! `@CTL@` are replaced by the live node ids and channels. Mode & 1: the
//! message is decoded and every envelope B originates is re-signed with
//! B's real key before A gets it (a malicious but authenticated peer);
//! otherwise the bytes go as they are. Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_sync::Message;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let pair = tansiq_fuzz::pair();
    let mut bytes = pair.substitute(body);
    if mode & 1 == 1 {
        if let Ok(m) = Message::decode(&bytes) {
            bytes = pair.resign_message(m).encode();
        }
    }
    pair.receive_from_b(&bytes);
});
