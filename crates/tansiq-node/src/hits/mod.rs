//! Private hit/no-hit queries (docs/PROTOCOL.md, "Hit/no-hit queries";
//! what still leaks: docs/PRIVACY.md).
//!
//! The holder exposes some of its watchlist files to a partner. For that
//! partner and the current period it keys every match key of every
//! exposed entry with its OPRF key and hands the partner the keyed list
//! (opaque references and 16-byte tags; never a name). The querier derives
//! the match keys of its own subject, has them evaluated blind, and
//! compares: an entry sharing at least `t` keys is a hit. The holder sees
//! only how many evaluations arrive, rations them, and audits them; the
//! querier can test a name only by asking.
//!
//! A hit's reference opens a follow-up request, carried over the pairwise
//! control channel; the holder's officer grants (the record is shared into
//! a channel both belong to, under the third-party rule) or refuses.
//!
//! Four parts: `wire` the keyed list format and references both sides
//! read; `holder` the exposures and what a holder serves a partner;
//! `query` the querier asking a holder; `follow_up` the request for
//! the record behind a hit, its grant or refusal, and their receipt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

mod follow_up;
mod holder;
mod query;
mod wire;

pub use crate::error::ServeError;
pub use follow_up::HitRequestView;
pub use holder::{BuiltList, HitAllowView, DEFAULT_HOURLY_EVALUATIONS};
pub use query::{
    check_queries, hit_query, hit_query_with_progress, query_keys, HitAnswer, HitQuery, Progress,
    MAX_QUERIES,
};
pub use wire::{
    parse_list, ErrorResponse, EvaluateRequest, EvaluateResponse, KeyedList, ListHeader,
    ListRequest, HIT_EVALUATE_PATH, HIT_LIST_PATH, MAX_ELEMENTS, REF_LEN, TAG_LEN,
};

/// Keyed lists by partner, reused while the exposed entries and the
/// period are unchanged, and re-keyed incrementally when entries change.
#[derive(Default)]
pub struct HitCache {
    /// By partner: the list and when its entries were last checked.
    lists: Mutex<HashMap<String, (Arc<BuiltList>, std::time::Instant)>>,
    /// Querier side, by holder: the keyed list last used, so a serving
    /// node or a long-lived client neither re-reads nor re-parses it.
    fetched: Mutex<HashMap<String, Arc<KeyedList>>>,
    /// The holder's seed (`keys/hit.key`), once read.
    seed: std::sync::OnceLock<zeroize::Zeroizing<[u8; 32]>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
