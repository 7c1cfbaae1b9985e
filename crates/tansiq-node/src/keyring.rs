//! The node's keys on disk, generation by generation: generation 0 in
//! `keys/`, generation N in `keys/gen-N/`, bound together by the chain of
//! rotation statements the store holds (see `rotation.rs` for how a node
//! rotates).

use std::path::{Path, PathBuf};

use tansiq_crypto::Identity;
use tansiq_store::Store;

use crate::card::{chain_spans, Rotation};
use crate::config::keys_dir;
use crate::error::{KeyError, NodeError, NodeResult};

/// Meta key holding the JSON array of this node's rotation statements.
pub const ROTATIONS_META: &str = "key_rotations";

pub(crate) fn gen_dir(dir: &Path, gen: u64) -> PathBuf {
    keys_dir(dir).join(format!("gen-{gen}"))
}

/// Loads every key generation the store's chain names: returns the
/// current identity, the earlier ones (genesis first) and the chain.
pub(crate) fn load_generations(
    dir: &Path,
    store: &Store,
    genesis: Identity,
) -> NodeResult<(Identity, Vec<Identity>, Vec<Rotation>)> {
    let rotations: Vec<Rotation> = match store.read(|tx| tx.meta_get(ROTATIONS_META))? {
        Some(s) => {
            serde_json::from_str(&s).map_err(|e| NodeError::corrupt("stored key rotations", e))?
        }
        None => Vec::new(),
    };
    chain_spans(genesis.signing_public(), &rotations)?;
    let mut ids = vec![genesis];
    for r in &rotations {
        let prev = ids.last().expect("genesis first");
        r.verify(&prev.signing_public())?;
        let d = gen_dir(dir, r.body.gen);
        let id = Identity::load(&d)
            .map_err(|e| KeyError::files(format!("node keys of generation {}", r.body.gen), e))?;
        if tansiq_crypto::b64(id.signing_public()) != r.body.signing_key
            || tansiq_crypto::b64(id.encryption_public()) != r.body.encryption_key
        {
            return Err(KeyError::NotGeneration {
                dir: d,
                gen: r.body.gen,
            }
            .into());
        }
        ids.push(id);
    }
    let current = ids.pop().expect("at least genesis");
    Ok((current, ids, rotations))
}
