use tansiq_crypto::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root, verify_consistency,
    verify_inclusion, Frontier,
};
use tansiq_crypto::Hash;

fn h(s: &str) -> Hash {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// Certificate Transparency / transparency-dev reference leaves.
fn ct_leaves() -> Vec<Hash> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|x| leaf_hash(&hex::decode(x).unwrap()))
    .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn reference_roots() {
    let leaves = ct_leaves();
    assert_eq!(empty_root(), h(CT_ROOTS[0]));
    let mut f = Frontier::new();
    assert_eq!(f.root(), h(CT_ROOTS[0]));
    for n in 0..=8 {
        assert_eq!(root(&leaves[..n]), h(CT_ROOTS[n]), "size {n}");
        if n > 0 {
            f.push(leaves[n - 1]);
            assert_eq!(f.root(), h(CT_ROOTS[n]), "frontier size {n}");
        }
    }
}

#[test]
fn reference_inclusion_proofs() {
    let leaves = ct_leaves();
    let cases: [(usize, usize, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (0, 1, &[]),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
    ];
    for (index, size, want) in cases {
        let want: Vec<Hash> = want.iter().map(|x| h(x)).collect();
        let got = inclusion_proof(&leaves[..size], index).unwrap();
        assert_eq!(got, want, "inclusion {index}/{size}");
        verify_inclusion(
            &leaves[index],
            index as u64,
            size as u64,
            &got,
            &h(CT_ROOTS[size]),
        )
        .unwrap();
    }
}

#[test]
fn reference_consistency_proofs() {
    let leaves = ct_leaves();
    let cases: [(usize, usize, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let want: Vec<Hash> = want.iter().map(|x| h(x)).collect();
        let got = consistency_proof(&leaves[..n], m).unwrap();
        assert_eq!(got, want, "consistency {m}->{n}");
        verify_consistency(m as u64, n as u64, &h(CT_ROOTS[m]), &h(CT_ROOTS[n]), &got).unwrap();
    }
}

// --- Naive recursive definitions straight from RFC 6962 §2.1 ---

fn naive_mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => tansiq_crypto::sha256(b""),
        1 => d[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
        }
    }
}

fn naive_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m < k {
        let mut p = naive_path(m, &d[..k]);
        p.push(naive_mth(&d[k..]));
        p
    } else {
        let mut p = naive_path(m - k, &d[k..]);
        p.push(naive_mth(&d[..k]));
        p
    }
}

fn naive_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![naive_mth(d)] };
    }
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    if m <= k {
        let mut p = naive_subproof(m, &d[..k], b);
        p.push(naive_mth(&d[k..]));
        p
    } else {
        let mut p = naive_subproof(m - k, &d[k..], false);
        p.push(naive_mth(&d[..k]));
        p
    }
}

fn many(n: usize) -> Vec<Hash> {
    (0..n as u32).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

#[test]
fn all_sizes_up_to_64_match_the_naive_definition() {
    let all = many(64);
    let mut frontier = Frontier::new();
    let roots: Vec<Hash> = (0..=64).map(|n| naive_mth(&all[..n])).collect();
    for n in 0..=64usize {
        let d = &all[..n];
        assert_eq!(root(d), roots[n], "root {n}");
        assert_eq!(frontier.root(), roots[n], "frontier {n}");
        let restored = Frontier::from_bytes(&frontier.to_bytes()).unwrap();
        assert_eq!(restored.root(), roots[n]);
        for i in 0..n {
            let p = inclusion_proof(d, i).unwrap();
            assert_eq!(p, naive_path(i, d), "path {i}/{n}");
            verify_inclusion(&d[i], i as u64, n as u64, &p, &roots[n]).unwrap();
            // Wrong index, size, leaf or root; truncated or extended proof.
            if n > 1 {
                let other = (i + 1) % n;
                assert!(verify_inclusion(&d[i], other as u64, n as u64, &p, &roots[n]).is_err());
                assert!(verify_inclusion(&d[other], i as u64, n as u64, &p, &roots[n]).is_err());
            }
            // (A different size with the same root may verify: the size is bound
            // by the signed checkpoint, not by the proof.)
            assert!(verify_inclusion(&d[i], i as u64, n as u64, &p, &roots[(n + 1) % 65]).is_err());
            assert!(verify_inclusion(&d[i], n as u64, n as u64, &p, &roots[n]).is_err());
            if !p.is_empty() {
                assert!(
                    verify_inclusion(&d[i], i as u64, n as u64, &p[..p.len() - 1], &roots[n])
                        .is_err()
                );
                for j in 0..p.len() {
                    let mut q = p.clone();
                    q[j][0] ^= 1;
                    assert!(verify_inclusion(&d[i], i as u64, n as u64, &q, &roots[n]).is_err());
                }
            }
            let mut longer = p.clone();
            longer.push([0xab; 32]);
            assert!(verify_inclusion(&d[i], i as u64, n as u64, &longer, &roots[n]).is_err());
        }
        for m in 0..=n {
            let p = consistency_proof(d, m).unwrap();
            if m > 0 {
                assert_eq!(p, naive_subproof(m, d, true), "consistency {m}->{n}");
            }
            verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &p)
                .unwrap_or_else(|e| panic!("consistency {m}->{n}: {e}"));
            if m > 0 && m < n {
                assert!(verify_consistency(
                    m as u64,
                    n as u64,
                    &roots[m],
                    &roots[n],
                    &p[..p.len() - 1]
                )
                .is_err());
                let mut longer = p.clone();
                longer.push([0xcd; 32]);
                assert!(
                    verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &longer).is_err()
                );
                for j in 0..p.len() {
                    let mut q = p.clone();
                    q[j][5] ^= 0x80;
                    assert!(
                        verify_consistency(m as u64, n as u64, &roots[m], &roots[n], &q).is_err()
                    );
                }
                // A different old root, or claiming another old size.
                assert!(
                    verify_consistency(m as u64, n as u64, &roots[m - 1], &roots[n], &p).is_err()
                );
                assert!(
                    verify_consistency(m as u64, n as u64, &roots[m], &roots[n - 1], &p).is_err()
                );
                if m + 1 < n {
                    assert!(
                        verify_consistency(m as u64 + 1, n as u64, &roots[m], &roots[n], &p)
                            .is_err()
                    );
                }
                // A forked tree: same size, one changed leaf before m.
                let mut forked = d.to_vec();
                forked[m - 1] = leaf_hash(b"forged");
                let forked_root = root(&forked);
                assert!(
                    verify_consistency(m as u64, n as u64, &roots[m], &forked_root, &p).is_err()
                );
            }
        }
        if n < 64 {
            frontier.push(all[n]);
        }
    }
}

#[test]
fn edge_cases() {
    let d = many(8);
    let r = root(&d);
    assert!(inclusion_proof(&d, 8).is_err());
    assert!(inclusion_proof(&[], 0).is_err());
    assert!(consistency_proof(&d, 9).is_err());
    assert_eq!(consistency_proof(&d, 0).unwrap(), Vec::<Hash>::new());
    verify_consistency(0, 8, &empty_root(), &r, &[]).unwrap();
    assert!(verify_consistency(0, 8, &root(&d[..1]), &r, &[]).is_err());
    assert!(verify_consistency(0, 8, &empty_root(), &r, &[[0; 32]]).is_err());
    verify_consistency(8, 8, &r, &r, &[]).unwrap();
    assert!(verify_consistency(8, 8, &r, &root(&d[..7]), &[]).is_err());
    assert!(verify_consistency(8, 8, &r, &r, &[[0; 32]]).is_err());
    assert!(verify_consistency(8, 4, &r, &root(&d[..4]), &[]).is_err());
    assert!(verify_consistency(4, 8, &root(&d[..4]), &r, &[]).is_err());
    assert!(verify_inclusion(&d[0], 0, 0, &[], &r).is_err());
    // Huge sizes do not overflow or panic.
    assert!(verify_inclusion(&d[0], u64::MAX - 1, u64::MAX, &[[1; 32]; 64], &r).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &r, &r, &[[1; 32]; 64]).is_err());
    assert!(verify_inclusion(&d[0], 0, 8, &vec![[1; 32]; 1000], &r).is_err());
}

#[test]
fn frontier_large() {
    let d = many(1000);
    let f = Frontier::from_leaves(&d);
    assert_eq!(f.size(), 1000);
    assert_eq!(f.root(), root(&d));
    assert_eq!(f.subtree_roots().len(), 1000u32.count_ones() as usize);
}

#[test]
fn proofs_by_subtree_oracle_match_and_only_ask_for_subtrees() {
    use tansiq_crypto::merkle::{consistency_proof_by, inclusion_proof_by};
    let d = many(37);
    let mut calls = 0;
    let mut oracle = |s: u64, e: u64| {
        calls += 1;
        // RFC 6962 subtrees: [s, e) with e - s a power of two aligned at s,
        // or the right edge of the tree.
        let len = e - s;
        assert!(
            len > 0 && (e == 37 || (len.is_power_of_two() && s % len == 0)),
            "{s}..{e}"
        );
        Ok::<_, tansiq_crypto::CryptoError>(root(&d[s as usize..e as usize]))
    };
    for i in 0..37u64 {
        assert_eq!(
            inclusion_proof_by(37, i, &mut oracle).unwrap(),
            inclusion_proof(&d, i as usize).unwrap()
        );
    }
    for m in 0..=37u64 {
        assert_eq!(
            consistency_proof_by(m, 37, &mut oracle).unwrap(),
            consistency_proof(&d, m as usize).unwrap()
        );
    }
    assert!(inclusion_proof_by(37, 37, &mut oracle).is_err());
    assert!(consistency_proof_by(38, 37, &mut oracle).is_err());
    assert!(calls > 0);
    // Oracle errors propagate.
    let failing = |_: u64, _: u64| Err::<Hash, _>(tansiq_crypto::CryptoError::Io("disk".into()));
    assert!(inclusion_proof_by(37, 3, failing).is_err());
}
