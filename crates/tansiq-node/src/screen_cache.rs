//! The screening indexes a node has built, kept while the records they
//! were built from are unchanged (issue 14: the web interface and the API
//! rebuilt the index of every list a user may see for each name screened,
//! 3.8–8 s a call at 100,000 entries).
//!
//! An index is kept per read scope (the files and TLP a user may see) and
//! stamped with the store's records generation (`Tx::records_gen`, which
//! every committed change of the records table advances). A lookup serves
//! an index only for the same scope and generation: a user never gets an
//! index holding a record outside their scope, and a change made by any
//! process (a `watchlist import` from the CLI while `serve` runs, a record
//! received from a partner, a retraction, an expiry) is seen at the next
//! screening.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tansiq_core::policy::ReadScope;
use tansiq_match::{Entry, Index};
use tansiq_store::Tx;

use crate::error::NodeResult;

/// Scopes kept at once (each index of 100,000 entries holds a few hundred
/// MB): the least recently used goes first.
const SCOPES_KEPT: usize = 4;

struct Built {
    scope: ReadScope,
    gen: u64,
    index: Arc<Index>,
}

/// The cache (one per `Node`).
#[derive(Default)]
pub(crate) struct IndexCache {
    /// Most recently used last.
    built: Mutex<Vec<Built>>,
    /// Indexes built since the node was opened (for tests and metrics).
    builds: AtomicU64,
}

/// What a lookup found in the open transaction: the index, or the
/// entries to build it from (outside the transaction, then
/// [`IndexCache::finish`]).
pub(crate) enum Lookup {
    Built(Arc<Index>),
    Read {
        scope: ReadScope,
        gen: u64,
        entries: Vec<Entry>,
    },
}

impl Lookup {
    /// Entries the index holds (or will hold).
    pub(crate) fn entries(&self) -> usize {
        match self {
            Lookup::Built(ix) => ix.len(),
            Lookup::Read { entries, .. } => entries.len(),
        }
    }
}

impl IndexCache {
    /// The index of `scope` if one was built at the current generation,
    /// else the entries within `scope`, read in `tx` by `read` (the
    /// generation is read first: a change committed while the entries are
    /// read makes the next lookup miss, it never stamps old entries with a
    /// new generation).
    pub(crate) fn lookup(
        &self,
        tx: &mut Tx,
        scope: &ReadScope,
        read: impl FnOnce(&mut Tx, &ReadScope) -> NodeResult<Vec<Entry>>,
    ) -> NodeResult<Lookup> {
        let gen = tx.records_gen()?;
        if let Ok(mut built) = self.built.lock() {
            if let Some(k) = built.iter().position(|b| b.scope == *scope && b.gen == gen) {
                let b = built.remove(k);
                let index = b.index.clone();
                built.push(b);
                return Ok(Lookup::Built(index));
            }
        }
        Ok(Lookup::Read {
            scope: scope.clone(),
            gen,
            entries: read(tx, scope)?,
        })
    }

    /// The index a lookup found, or built from the entries it read (and
    /// kept, in place of older generations of the same scope).
    pub(crate) fn finish(&self, found: Lookup) -> Arc<Index> {
        match found {
            Lookup::Built(index) => index,
            Lookup::Read {
                scope,
                gen,
                entries,
            } => {
                let index = Arc::new(Index::build(entries));
                self.builds.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut built) = self.built.lock() {
                    built.retain(|b| b.scope != scope || b.gen > gen);
                    if !built.iter().any(|b| b.scope == scope) {
                        if built.len() >= SCOPES_KEPT {
                            built.remove(0);
                        }
                        built.push(Built {
                            scope,
                            gen,
                            index: index.clone(),
                        });
                    }
                }
                index
            }
        }
    }

    /// Indexes built since the node was opened.
    pub(crate) fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }
}
