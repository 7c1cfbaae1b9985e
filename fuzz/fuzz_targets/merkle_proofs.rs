//! Merkle proof verification on peer-supplied sizes, roots and proofs
//! (the consistency proof of `Payload::Checkpoint`; inclusion proofs):
//! `tansiq_crypto::merkle::{verify_consistency, verify_inclusion}` and
//! `Frontier::from_bytes`. Input: old_size (8 bytes, big-endian), new_size
//! (8), old_root (32), new_root (32), then proof hashes of 32 bytes.
//! Never panics (sizes up to 2^64 − 1, any proof length). In addition, a
//! small tree built from the input verifies its own honest proofs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tansiq_crypto::merkle;

fn u64_at(d: &[u8], i: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, x) in d.iter().skip(i).take(8).enumerate() {
        b[k] = *x;
    }
    u64::from_be_bytes(b)
}

fn hash_at(d: &[u8], i: usize) -> [u8; 32] {
    let mut h = [0u8; 32];
    for (k, x) in d.iter().skip(i).take(32).enumerate() {
        h[k] = *x;
    }
    h
}

fuzz_target!(|data: &[u8]| {
    let old = u64_at(data, 0);
    let new = u64_at(data, 8);
    let old_root = hash_at(data, 16);
    let new_root = hash_at(data, 48);
    let proof: Vec<[u8; 32]> = data
        .get(80..)
        .unwrap_or(&[])
        .chunks(32)
        .map(|c| hash_at(c, 0))
        .collect();
    let _ = merkle::verify_consistency(old, new, &old_root, &new_root, &proof);
    let _ = merkle::verify_inclusion(&old_root, old, new, &proof, &new_root);
    let _ = merkle::Frontier::from_bytes(data);

    // Honest proofs over a small tree whose size comes from the input.
    let n = (new % 64) as usize + 1;
    let m = (old % n as u64) as usize + 1;
    let leaves: Vec<[u8; 32]> = (0..n)
        .map(|i| merkle::leaf_hash(&[data.first().copied().unwrap_or(0), i as u8]))
        .collect();
    let root_n = merkle::root(&leaves);
    let root_m = merkle::root(&leaves[..m]);
    let p = merkle::consistency_proof(&leaves, m).expect("consistency proof");
    merkle::verify_consistency(m as u64, n as u64, &root_m, &root_n, &p)
        .expect("an honest consistency proof verifies");
    let i = m - 1;
    let p = merkle::inclusion_proof(&leaves, i).expect("inclusion proof");
    merkle::verify_inclusion(&leaves[i], i as u64, n as u64, &p, &root_n)
        .expect("an honest inclusion proof verifies");
    let f = merkle::Frontier::from_leaves(&leaves);
    assert_eq!(f.root(), root_n, "frontier root");
    let g = merkle::Frontier::from_bytes(&f.to_bytes()).expect("frontier round trip");
    assert_eq!(g.root(), root_n);
});
