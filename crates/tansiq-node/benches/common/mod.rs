//! Helpers of the node's bench binaries (each `benches/*.rs` is its own
//! crate and includes this module). The benches that serve over the
//! network are tansiq-api's (`crates/tansiq-api/benches`).
#![allow(dead_code)]

/// The allocator the `tansiq` binary runs with, so the figures are the
/// binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}
