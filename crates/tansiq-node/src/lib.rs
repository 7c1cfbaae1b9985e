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

pub mod admin;
mod arrival;
pub mod audit;
pub mod bundles;
pub mod channels;
pub mod config;
pub mod error;
pub mod federation;
mod held;
pub mod hits;
mod inbound;
mod keyring;
pub mod messages;
pub mod node;
mod outbound;
pub mod par;
pub mod peering;
pub mod records;
pub mod releases;
pub mod rotation;
pub mod watchlist;
pub mod witness;

// The network floor lives in tansiq-net; re-exported so `crate::card::…`
// and `tansiq_node::transport::…` paths keep working.
pub use tansiq_net::{card, gate, transport};

pub use error::{NodeError, NodeResult};
pub use node::{InitOptions, Node};
pub use tansiq_core::user::Actor;
