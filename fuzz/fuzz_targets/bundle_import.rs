//! A whole node importing an offline bundle file:
//! `tansiq_node::Node::bundle_import` (strict JSON, shape, addressee,
//! sender's signature, digest, opening, `decode_bundle_items`, the
//! engine's all-or-nothing import) on a real node (see
//! `tansiq_fuzz::nodes`).
//!
//! Input: one mode byte, then the data; `@A@`, `@B@`, `@CH@`, `@CTL@` are
//! replaced by the live ids. Mode & 1 = 0: the data is the bundle file.
//! Mode & 1 = 1: the data is the sealed plaintext (the items); the
//! harness wraps it as B would (sealed to A, head signed by B's real key),
//! re-signing B's envelopes in it, with the signed count taken from the
//! items (or from the mode byte when they do not decode). Never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_core::user::Actor;
use tansiq_sync::{decode_bundle_items, encode_bundle_items};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let pair = tansiq_fuzz::pair();
    let body = pair.substitute(body);
    let file = if mode & 1 == 0 {
        body
    } else {
        let (plain, count) = match decode_bundle_items(&body) {
            Ok(items) => {
                let items = pair.resign_items(items);
                let n = items.len() as u64;
                (encode_bundle_items(&items), n)
            }
            Err(_) => (body, u64::from(mode >> 1)),
        };
        pair.bundle_for_a(&plain, count)
    };
    if pair.a.bundle_import(&Actor::Operator, &file).is_ok() {
        pair.pump();
    }
});
