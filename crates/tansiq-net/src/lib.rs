//! Tansiq's network floor: what two nodes need to reach each other
//! safely, and nothing of what a node does with what arrives.
//!
//! - [`card`]: signed node cards, their key-rotation chains and the
//!   [`card::KeyBook`] (which key of a node verifies an object of a date).
//! - [`transport`]: HTTP/1.1 over TLS 1.3, both sides pinned to node-card
//!   keys (no certificate authority), with bounded framing and timeouts.
//! - [`gate`]: admission of connections that proved nothing yet (partner
//!   handshakes, idle local-API connections), shared by both listeners.
//!
//! Invariants: this crate knows no `Node`, no store and no policy — it
//! serves whatever router it is handed and trusts exactly the keys the
//! caller put in its peer set, so the node's rules stay in the crates
//! above. A client whose key is not a known peer never gets an HTTP
//! request read; an unauthenticated connection never holds a slot a
//! partner or user needs (the oldest waiting ones make room).

pub mod card;
pub mod gate;
pub mod transport;
