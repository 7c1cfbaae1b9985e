//! RFC 6962 §2.1 Merkle hash trees (identical in RFC 9162 §2.1).
//!
//! - leaf hash: `SHA-256(0x00 || data)`
//! - interior node: `SHA-256(0x01 || left || right)`
//! - MTH of the empty list: `SHA-256("")`
//! - MTH(D[n]) for n > 1: `node(MTH(D[0:k]), MTH(D[k:n]))` with k the
//!   largest power of two strictly smaller than n.
//!
//! Proof generation follows RFC 6962 §2.1.1 (PATH) and §2.1.2 (PROOF /
//! SUBPROOF); verification follows the algorithms of RFC 9162 §2.1.3.2 and
//! §2.1.4.2. All functions here take *leaf hashes*, not raw entries.

use sha2::{Digest, Sha256};

use crate::{CryptoError, Hash};

/// Upper bound on proof lengths accepted by the verifiers: a tree of up to
/// 2^64 leaves never needs more than 64 (inclusion) or 65 (consistency) hashes.
const MAX_PROOF_LEN: usize = 65;

/// The RFC 6962 leaf hash of an entry: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// The Merkle tree hash (root) of a list of leaf hashes.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        _ => {
            // Pairing level by level, promoting an odd last node unchanged,
            // yields exactly RFC 6962's left-balanced tree.
            let mut level: Vec<Hash> = leaves
                .chunks(2)
                .map(|c| {
                    if c.len() == 2 {
                        node_hash(&c[0], &c[1])
                    } else {
                        c[0]
                    }
                })
                .collect();
            while level.len() > 1 {
                level = level
                    .chunks(2)
                    .map(|c| {
                        if c.len() == 2 {
                            node_hash(&c[0], &c[1])
                        } else {
                            c[0]
                        }
                    })
                    .collect();
            }
            level[0]
        }
    }
}

/// The audit path (RFC 6962 §2.1.1 `PATH(m, D[n])`) of leaf `index` in the
/// tree of all `leaves`, ordered from the leaf's sibling up to the root's
/// child. Errors if `index >= leaves.len()`.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Result<Vec<Hash>, CryptoError> {
    inclusion_proof_by(leaves.len() as u64, index as u64, |start, end| {
        Ok::<_, CryptoError>(root(&leaves[start as usize..end as usize]))
    })
}

/// [`inclusion_proof`] for a tree that is not in memory: `subtree_root(start,
/// end)` must return the Merkle tree hash of leaves `[start, end)` (a store
/// can answer from cached perfect-subtree hashes in O(log n) reads). It is
/// called O(log n) times, with ranges that are RFC 6962 subtrees.
pub fn inclusion_proof_by<E: From<CryptoError>>(
    size: u64,
    index: u64,
    mut subtree_root: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    if index >= size {
        return Err(CryptoError::InvalidArgument(format!(
            "leaf index {index} is outside a tree of size {size}"
        ))
        .into());
    }
    let mut proof = Vec::new();
    path(index, 0, size, &mut subtree_root, &mut proof)?;
    Ok(proof)
}

/// Largest power of two strictly smaller than `n` (n ≥ 2), for u64.
fn split_point_u64(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (u64::BITS - 1 - (n - 1).leading_zeros())
}

/// PATH(m, D[lo..hi]) appended to `proof`, deepest first.
fn path<E>(
    m: u64,
    lo: u64,
    hi: u64,
    subtree_root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    proof: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point_u64(n);
    if m < k {
        path(m, lo, lo + k, subtree_root, proof)?;
        proof.push(subtree_root(lo + k, hi)?);
    } else {
        path(m - k, lo + k, hi, subtree_root, proof)?;
        proof.push(subtree_root(lo, lo + k)?);
    }
    Ok(())
}

/// The consistency proof (RFC 6962 §2.1.2 `PROOF(m, D[n])`) between the
/// tree of the first `old_size` leaves and the tree of all `leaves`.
///
/// For `old_size == 0` or `old_size == leaves.len()` the proof is empty.
/// Errors if `old_size > leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Result<Vec<Hash>, CryptoError> {
    consistency_proof_by(old_size as u64, leaves.len() as u64, |start, end| {
        Ok::<_, CryptoError>(root(&leaves[start as usize..end as usize]))
    })
}

/// [`consistency_proof`] for a tree that is not in memory (see
/// [`inclusion_proof_by`] for `subtree_root`).
pub fn consistency_proof_by<E: From<CryptoError>>(
    old_size: u64,
    new_size: u64,
    mut subtree_root: impl FnMut(u64, u64) -> Result<Hash, E>,
) -> Result<Vec<Hash>, E> {
    if old_size > new_size {
        return Err(CryptoError::InvalidArgument(format!(
            "old size {old_size} exceeds the tree size {new_size}"
        ))
        .into());
    }
    let mut proof = Vec::new();
    if old_size > 0 {
        subproof(old_size, 0, new_size, true, &mut subtree_root, &mut proof)?;
    }
    Ok(proof)
}

/// SUBPROOF(m, D[lo..hi], complete) appended to `proof`.
fn subproof<E>(
    m: u64,
    lo: u64,
    hi: u64,
    complete: bool,
    subtree_root: &mut impl FnMut(u64, u64) -> Result<Hash, E>,
    proof: &mut Vec<Hash>,
) -> Result<(), E> {
    let n = hi - lo;
    if m == n {
        if !complete {
            proof.push(subtree_root(lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point_u64(n);
    if m <= k {
        subproof(m, lo, lo + k, complete, subtree_root, proof)?;
        proof.push(subtree_root(lo + k, hi)?);
    } else {
        subproof(m - k, lo + k, hi, false, subtree_root, proof)?;
        proof.push(subtree_root(lo, lo + k)?);
    }
    Ok(())
}

fn proof_err(msg: &str) -> CryptoError {
    CryptoError::Proof(msg.to_owned())
}

/// Verifies that `leaf` (a leaf hash) is at `index` in the tree of `size`
/// leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), CryptoError> {
    if index >= size {
        return Err(proof_err("leaf index is not smaller than the tree size"));
    }
    if proof.len() > MAX_PROOF_LEN {
        return Err(proof_err("inclusion proof too long"));
    }
    let mut f_n = index;
    let mut s_n = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return Err(proof_err("inclusion proof too long for the tree size"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(proof_err("inclusion proof too short for the tree size"));
    }
    if &r != root {
        return Err(proof_err("inclusion proof does not lead to the root"));
    }
    Ok(())
}

/// Verifies that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root` (RFC 9162 §2.1.4.2).
///
/// Edge cases (which RFC 9162 leaves to the application): `old_size == 0`
/// verifies iff the proof is empty and `old_root` is the empty root;
/// `old_size == new_size` verifies iff the proof is empty and the roots are
/// equal; `old_size > new_size` never verifies.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), CryptoError> {
    if old_size > new_size {
        return Err(proof_err("old tree is larger than the new tree"));
    }
    if old_size == 0 {
        return if !proof.is_empty() {
            Err(proof_err(
                "consistency proof from the empty tree must be empty",
            ))
        } else if *old_root != empty_root() {
            Err(proof_err("old root is not the empty tree's root"))
        } else {
            Ok(())
        };
    }
    if old_size == new_size {
        return if !proof.is_empty() {
            Err(proof_err(
                "consistency proof between equal sizes must be empty",
            ))
        } else if old_root != new_root {
            Err(proof_err("roots differ for the same tree size"))
        } else {
            Ok(())
        };
    }
    if proof.is_empty() || proof.len() > MAX_PROOF_LEN {
        return Err(proof_err("consistency proof has an impossible length"));
    }
    // If old_size is a power of two, the old root is itself a node of the
    // new tree and is the implicit first element of the path.
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(old_root);
    }
    path.extend(proof.iter());

    let mut f_n = old_size - 1;
    let mut s_n = new_size - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let mut fr = *path[0];
    let mut sr = *path[0];
    for c in &path[1..] {
        if s_n == 0 {
            return Err(proof_err("consistency proof too long"));
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(proof_err("consistency proof too short"));
    }
    if &fr != old_root {
        return Err(proof_err("consistency proof does not lead to the old root"));
    }
    if &sr != new_root {
        return Err(proof_err("consistency proof does not lead to the new root"));
    }
    Ok(())
}

/// A compact range over a log's leaves `[0, size)`: the roots of the
/// maximal perfect subtrees (one per set bit of `size`, largest first).
/// Appending a leaf and computing the root are O(log n), and the whole state
/// is at most 8 + 64 × 32 bytes, so a log can persist it next to its leaves.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    roots: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The frontier of a tree with the given leaf hashes.
    pub fn from_leaves(leaves: &[Hash]) -> Frontier {
        let mut f = Frontier::new();
        for l in leaves {
            f.push(*l);
        }
        f
    }

    /// Appends a leaf hash.
    ///
    /// # Panics
    /// If the tree already holds 2^64 − 1 leaves.
    pub fn push(&mut self, leaf: Hash) {
        let mut h = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            let left = self
                .roots
                .pop()
                .expect("invariant: one root per set bit of size");
            h = node_hash(&left, &h);
            s >>= 1;
        }
        self.roots.push(h);
        self.size = self.size.checked_add(1).expect("Merkle tree size overflow");
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The roots of the perfect subtrees, largest (leftmost) first.
    pub fn subtree_roots(&self) -> &[Hash] {
        &self.roots
    }

    /// The Merkle tree hash of the leaves pushed so far.
    pub fn root(&self) -> Hash {
        let mut it = self.roots.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Serialises as `size (u64 big-endian) || subtree roots (32 bytes each,
    /// largest first)`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + 32 * self.roots.len());
        v.extend_from_slice(&self.size.to_be_bytes());
        for r in &self.roots {
            v.extend_from_slice(r);
        }
        v
    }

    /// Parses [`Frontier::to_bytes`]; the length must match the size's
    /// number of set bits exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frontier, CryptoError> {
        if bytes.len() < 8 {
            return Err(CryptoError::Encoding(
                "frontier shorter than 8 bytes".into(),
            ));
        }
        let size = u64::from_be_bytes(bytes[..8].try_into().expect("checked length"));
        let n = size.count_ones() as usize;
        let rest = &bytes[8..];
        if rest.len() != 32 * n {
            return Err(CryptoError::Encoding(format!(
                "frontier of size {size} needs {n} hashes, got {} bytes",
                rest.len()
            )));
        }
        let roots = rest
            .chunks_exact(32)
            .map(|c| c.try_into().expect("chunks of 32"))
            .collect();
        Ok(Frontier { size, roots })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_points() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1000, 512),
            (1 << 40, 1 << 39),
            ((1 << 63) + 1, 1 << 63),
        ] {
            assert_eq!(split_point_u64(n), k, "n = {n}");
        }
    }

    #[test]
    fn frontier_bytes_round_trip() {
        let leaves: Vec<Hash> = (0u8..13).map(|i| leaf_hash(&[i])).collect();
        let f = Frontier::from_leaves(&leaves);
        assert_eq!(f.subtree_roots().len(), 3);
        let g = Frontier::from_bytes(&f.to_bytes()).unwrap();
        assert_eq!(f, g);
        assert_eq!(g.root(), root(&leaves));
        assert!(Frontier::from_bytes(&f.to_bytes()[..40]).is_err());
        assert!(Frontier::from_bytes(&[0; 7]).is_err());
    }
}
