//! Tansiq's domain: records, handling, channels and their charters, users
//! and roles, and the pure **policy** module that decides every access and
//! every onward share.
//!
//! Architecture invariant: this crate does no IO, no async, no SQL and no
//! HTTP. Storage, sync and the API call into it; they never re-implement a
//! decision made here.

pub mod audit;
pub mod charter;
pub mod country;
pub mod error;
pub mod handling;
pub mod ids;
pub mod policy;
pub mod record;
pub mod release;
pub mod time;
pub mod user;

pub use error::{Invalid, InvalidResult};
