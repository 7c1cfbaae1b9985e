//! Work spread over the cores.

/// Maps `f` over `items` on every core, keeping the order. Bulk imports
/// validate and sign this way (on rayon's pool: no thread is started per
/// call); small batches stay on the calling thread.
pub fn par_map<T: Send, U: Send>(items: Vec<T>, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    use rayon::prelude::*;
    if rayon::current_num_threads() <= 1 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    items.into_par_iter().map(&f).collect()
}
