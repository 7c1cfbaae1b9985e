//! Every HTTP surface a user or a partner calls on a Tansiq node, over the
//! services of tansiq-node:
//!
//! - [`local`]: the local API for the node's own users (token auth), and
//!   its OpenAPI document; the web interface and TAXII server go here too.
//! - [`ops`]: `/healthz` and `/readyz` on the local API port, no token.
//! - [`ui`]: the web interface under `/ui/` on the local API port
//!   (session cookie from a login with the user's token).
//! - [`taxii`]: the TAXII 2.1 server under `/taxii2/` on the local API
//!   port, with the local API's users and tokens.
//! - [`partner`]: the partner endpoint on the node's `listen` address
//!   (federation messages, card push and fetch, hit/no-hit), served over
//!   tansiq-net's mutual TLS.
//!
//! Invariants: a handler translates HTTP to one service call of `Node` and
//! its result to a status, and decides nothing — who may do what is
//! `tansiq_core::policy`, asked inside the service, so the CLI and every
//! HTTP surface get the same answer. Blocking store calls run off the
//! async workers. Connections are admitted through tansiq-net's gate
//! (bounded waiting, the oldest make room); nothing here opens a socket to
//! a peer — the sender and the hit/no-hit client stay in tansiq-node.

pub mod local;
pub mod ops;
pub mod partner;
pub mod taxii;
pub mod ui;
