//! A Tansiq node: the services behind every CLI command and HTTP call.
//!
//! Each service method is one store transaction that asks
//! `tansiq_core::policy` before acting and appends to the audit log in the
//! same transaction. The CLI calls them as `Actor::Operator`; the local
//! HTTP API (tansiq-api) calls them as the user its token names.
//!
//! Architecture invariant: decisions stay in tansiq-core. This crate
//! knows files, processes and the client side of the network (the
//! sender, card pushes and fetches, hit/no-hit queries); it serves no
//! HTTP — the local API and the partner endpoint are tansiq-api's.
//!
//! # The node's services by feature
//!
//! What a user or operator calls, by module (all methods of [`Node`]):
//!
//! | feature | module | main public methods |
//! |---|---|---|
//! | records | [`records`] | `record_add`, `records_add`, `record_update`, `record_retract`, `record_get`, `record_list`, `record_search`, `record_links`, `record_history`, `record_share` |
//! | networks (N hops) | [`graph`] | `record_graph` |
//! | incidents (surge) | [`incidents`] | `incident_declare` |
//! | channels | [`channels`] | `channel_create`, `channel_update`, `channel_accept`, `channel_import`, `channel_export`, `channel_list` |
//! | messages | [`messages`] | `send_message`, `inbox`, `inbox_by_precedence`, `ack_message`, `unacked_messages`, `unacked_for` |
//! | releases | [`releases`] | `release_request`, `release_grant`, `release_refuse`, `releases` |
//! | hits (hit/no-hit) | [`hits`] | querier: `hit_request`, `hit_requests`, `hit_grant`, `hit_refuse`, [`hits::hit_query`]; holder: `query_allow`, `query_deny`, `query_allowed`, `query_rotate`, `hit_serve_list`, `hit_serve_evaluate` |
//! | watchlists, screening | [`watchlist`] | `watchlist_import`, `screen`, `alerts` |
//! | peers and keys | [`admin`], [`rotation`], [`peering`] | `peer_add`, `peer_remove`, `peer_list`, `keys_rotate`, `card`, `card_pending`, `card_for_peer`, `receive_card_push`, `sync_status`, `tls_identity` |
//! | users, admin | [`admin`] | `user_add`, `user_add_expiring`, `user_list`, `user_remove`, `user_token_rotate`, `user_token_revoke`, `authenticate` |
//! | audit, witness | [`audit`], [`witness`] | `audit_verify`, `audit_checkpoint`, `audit_checkpoints`, `checkpoint_now`, `witness_round`, `witnessed` |
//! | bundles (air gap) | [`bundles`] | `bundle_export`, `bundle_export_to`, `bundle_import` |
//! | STIX, TAXII | [`stix`] | `stix_export`, `stix_import`, `taxii_objects`, `stix_retract` |
//! | store, lifecycle | [`node`], [`audit`] | `init`, `open`, `migrate_store`, `backup`, `purge_expired` |
//!
//! The partner link (`inbound.rs`), driven by `tansiq serve` and
//! tansiq-api's partner endpoint: `take_in_peer_message` (a partner's
//! sync message in, our acknowledgement out), `poll_peers` (the engine's
//! timers: retries, summaries, fetches), `transmit_failed` (a send that
//! did not arrive; the engine retries it), and, for tests that play a
//! hostile partner only, `send_unchecked` and `send_unchecked_as` (seal
//! and send past the services' rules, so the receivers' checks are what
//! stop it).

pub mod admin;
mod arrival;
pub mod audit;
pub mod bundles;
pub mod channels;
pub mod config;
pub mod error;
pub mod federation;
pub mod graph;
mod held;
pub mod hits;
mod inbound;
pub mod incidents;
mod keyring;
pub mod messages;
pub mod metrics;
pub mod node;
mod outbound;
pub mod par;
pub mod peering;
pub mod records;
pub mod releases;
pub mod restore;
pub mod rotation;
mod screen_cache;
pub mod stix;
pub mod watchlist;
pub mod witness;

// The network floor lives in tansiq-net; re-exported so `crate::card::…`
// and `tansiq_node::transport::…` paths keep working.
pub use tansiq_net::{card, gate, transport};

pub use error::{NodeError, NodeResult};
pub use node::{InitOptions, Node};
pub use tansiq_core::user::Actor;
