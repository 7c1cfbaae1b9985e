//! # tansiq-sync
//!
//! Tansiq's federation protocol as a **sans-IO state machine**: durable
//! per-peer outboxes with batching, precedence and jittered backoff; an
//! idempotent inbox; per-(channel, originator) hash chains with gap and
//! fork detection; anti-entropy (summaries, fetches); relays that carry
//! sealed envelopes they cannot open; offline bundles.
//!
//! Architecture invariants:
//! - tansiq-sync never opens a socket, never reads a clock, never touches a
//!   database and never opens a sealed body. Time comes in as an argument,
//!   randomness from a seed, reads through [`Host`], and everything to
//!   persist goes out as [`Effect`]s.
//! - Input from peers never panics: every decoder returns [`DecodeError`].
//! - The engine is rebuilt after a crash from its durable rows
//!   ([`Snapshot`]) plus the envelopes the host holds; nothing volatile
//!   is needed for correctness.
//!
//! ## Driving it (the node's loop)
//! ```text
//! engine = Engine::restore(me, cfg, seed, snapshot_from_sql, now, &host)
//! loop:
//!   input = peer bytes | transport failure | local submit | timer
//!   out = engine.handle_bytes / transmit_failed / submit / poll (now, &host)
//!   BEGIN; apply out.effects in order (+ application changes for Deliver); COMMIT
//!   if COMMIT failed: drop the engine and restore it from the store
//!   send out.transmits (failure -> engine.transmit_failed(to, id, ...))
//!   sleep until out.next_wakeup or the next input
//! ```
//! See `docs/SYNC.md` for the protocol, wire format and constants.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod effect;
mod engine;
mod envelope;
mod error;
mod host;
mod ids;
mod message;

pub use config::{Config, Millis, Rng};
pub use effect::{
    Alarm, Effect, Event, HoldRow, ImportReport, OutboxRow, Output, PeerStatus, Snapshot,
    StreamRow, Transmit,
};
pub use engine::{Engine, Footprint};
pub use envelope::{
    envelope_id, Body, Envelope, EnvelopeHeader, Precedence, ENVELOPE_ID_DOMAIN,
    ENVELOPE_SIG_CONTEXT, HEADER_VERSION, MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_INT,
    MAX_RECIPIENTS, MAX_RELAYS,
};
pub use error::{BundleError, DecodeError, RestoreError, SubmitError};
pub use host::{Host, Verdict};
pub use ids::{ChannelId, EnvelopeId, Kind, NodeId};
pub use message::{
    decode_bundle_items, encode_bundle_items, Head, Item, ItemResult, Message, Receipt, Status,
    MAX_FETCH_LIMIT, MAX_HEADS, MAX_ITEMS, MAX_MESSAGE_BYTES,
};
