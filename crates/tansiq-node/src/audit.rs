//! Audit services: on-demand checkpoints and full verification of the
//! Merkle audit log against its signed checkpoints and the store.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::json;

use tansiq_core::policy::{self, Action};
use tansiq_core::record::RecordBody;
use tansiq_core::user::Actor;
use tansiq_crypto::merkle::{self, Frontier};
use tansiq_crypto::{checkpoint, Hash};

use crate::error::{NodeError, NodeResult};
use crate::node::Node;

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointView {
    pub size: u64,
    pub root: String,
    pub signature: String,
    pub note: String,
    pub created_at: String,
    pub witnesses: Vec<serde_json::Value>,
    /// The newest checkpoint partners have co-signed (the log keeps
    /// growing, so the latest one is often not co-signed yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_witnessed: Option<serde_json::Value>,
}

/// The outcome of `audit verify`.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries: u64,
    pub checkpoints: usize,
    pub record_versions: usize,
    pub inclusion_proofs: usize,
    /// The first problem found, naming the entry or record at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Node {
    /// Writes a consistent copy of the store to `dest` (SQLite online
    /// backup; PostgreSQL nodes use pg_dump). Audited.
    pub fn backup(&self, actor: &Actor, dest: &std::path::Path) -> NodeResult<()> {
        self.backup_with_progress(actor, dest, &|_, _| {})
    }

    /// [`Node::backup`], telling `progress` the pages copied of how many.
    pub fn backup_with_progress(
        &self,
        actor: &Actor,
        dest: &std::path::Path,
        progress: &dyn Fn(u64, u64),
    ) -> NodeResult<()> {
        policy::authorize(actor, Action::ManagePeers)?;
        // Created here, exclusively and 0600 before a byte is written:
        // nothing at `dest` is replaced or followed (a planted symlink),
        // and the copy — every record in clear — is never readable by
        // others, not even while it is written.
        crate::config::create_private(dest)?;
        let undo = || {
            let _ = std::fs::remove_file(dest);
        };
        if let Err(e) = self.store.backup_to_with(dest, progress) {
            undo();
            return Err(NodeError::bad(format!("backup: {e}")));
        }
        // Audited once the copy exists: a failed backup leaves no entry
        // (and a failed commit no copy).
        let r = self.commit(|tx, _| {
            self.audit(tx, &actor.audit_name(), "store.backup", "*", json!({}))?;
            self.checkpoint_in(tx)
        });
        if r.is_err() {
            undo();
        }
        r.map(|_| ())
    }

    /// Signs a checkpoint of the log as it stands (audited itself).
    pub fn audit_checkpoint(&self, actor: &Actor, make: bool) -> NodeResult<CheckpointView> {
        policy::authorize(
            actor,
            if make {
                Action::MakeCheckpoint
            } else {
                Action::ReadAudit
            },
        )?;
        self.commit(|tx, _| {
            if make {
                self.audit(tx, &actor.audit_name(), "audit.checkpoint", "*", json!({}))?;
            }
            let row = self.checkpoint_in(tx)?;
            let witnesses = tx
                .cosignatures(row.size)?
                .into_iter()
                .map(|(w, note)| json!({"witness": w, "note": note}))
                .collect();
            let mut last_witnessed = None;
            for c in tx.checkpoints()?.into_iter().rev() {
                let cos = tx.cosignatures(c.size)?;
                if !cos.is_empty() {
                    let ws: Vec<serde_json::Value> = cos.into_iter().map(|(w, note)| json!({"witness": w, "note": note})).collect();
                    last_witnessed = Some(json!({"size": c.size, "root": tansiq_crypto::b64(c.root), "witnesses": ws}));
                    break;
                }
            }
            let signature = row
                .note
                .lines()
                .rev()
                .find(|l| l.starts_with("\u{2014} "))
                .and_then(|l| l.rsplit(' ').next())
                .unwrap_or_default()
                .to_string();
            Ok(CheckpointView {
                size: row.size,
                root: tansiq_crypto::b64(row.root),
                signature,
                note: row.note,
                created_at: row.created_at,
                witnesses,
                last_witnessed,
            })
        })
    }

    /// The latest `limit` signed checkpoints, newest first, each with the
    /// partners' cosignatures (witnesses) it gathered. Audited.
    pub fn audit_checkpoints(
        &self,
        actor: &Actor,
        limit: usize,
    ) -> NodeResult<Vec<serde_json::Value>> {
        policy::authorize(actor, Action::ReadAudit)?;
        self.note_read(|tx| {
            let mut out = Vec::new();
            for c in tx.checkpoints()?.into_iter().rev().take(limit) {
                let witnesses: Vec<serde_json::Value> = tx
                    .cosignatures(c.size)?
                    .into_iter()
                    .map(|(w, note)| json!({"witness": w, "note": note}))
                    .collect();
                out.push(json!({"size": c.size, "root": tansiq_crypto::b64(c.root), "note": c.note, "created_at": c.created_at, "witnesses": witnesses}));
            }
            self.audit(tx, &actor.audit_name(), "audit.checkpoints", "*", json!({"count": out.len()}))?;
            Ok(out)
        })
    }

    /// Recomputes the whole audit log and checks it against the signed
    /// checkpoints and the record store. Read-only.
    pub fn audit_verify(&self, actor: &Actor) -> NodeResult<VerifyReport> {
        self.audit_verify_with_progress(actor, &|_, _| {})
    }

    /// [`Node::audit_verify`], telling `progress` the entries checked of
    /// how many.
    pub fn audit_verify_with_progress(
        &self,
        actor: &Actor,
        progress: &dyn Fn(u64, u64),
    ) -> NodeResult<VerifyReport> {
        policy::authorize(actor, Action::ReadAudit)?;
        // Leaves of audited reads still queued (PostgreSQL) join the tree
        // first, under a checkpoint, so the verification covers them.
        if self.store.read(|tx| tx.audit_pending_count())? > 0 {
            self.commit(|_, _| Ok(()))?;
        }
        self.store.read(|tx| {
            let (head_size, head_root) = tx.audit_head()?;
            let checkpoints = tx.checkpoints()?;
            let versions = tx.version_hashes()?;
            let keys = self.key_lookup(tx)?;
            let mut report = VerifyReport {
                ok: false,
                entries: 0,
                checkpoints: checkpoints.len(),
                record_versions: versions.len(),
                inclusion_proofs: 0,
                problem: None,
            };
            let fail = |mut r: VerifyReport, msg: String| {
                r.problem = Some(msg);
                Ok::<_, NodeError>(r)
            };

            // 1. Every entry, in order, without gaps, hashing to its leaf.
            let count = tx.audit_count()?;
            let mut leaves: Vec<Hash> = Vec::with_capacity(count as usize);
            let mut frontier = Frontier::new();
            let mut cps = checkpoints.iter().peekable();
            let mut committed: HashSet<(String, u64, String)> = HashSet::new();
            let origin = self.log_origin();
            // The log's signing key: genesis first, then the key each
            // `keys.rotate` entry names, from the checkpoint covering it on.
            let mut my_key = self.identity_of_generation(0).signing_public();
            const CHUNK: u64 = 10_000;
            let mut from = 0;
            while from < count.max(head_size) {
                progress(from, count);
                let chunk = tx.audit_entries(from, from + CHUNK)?;
                if chunk.is_empty() {
                    break;
                }
                for (entry, stored_leaf) in chunk {
                    let expected = leaves.len() as u64;
                    if entry.idx != expected {
                        return fail(report, format!("audit entry {expected} is missing (next present is {})", entry.idx));
                    }
                    let leaf = entry.leaf();
                    if leaf != stored_leaf {
                        return fail(report, format!("audit entry {} ({} on {}) was altered: it no longer matches its leaf", entry.idx, entry.action, entry.object));
                    }
                    if let (Some(id), Some(v), Some(h)) = (
                        entry.details.get("id").and_then(|x| x.as_str()),
                        entry.details.get("version").and_then(|x| x.as_u64()),
                        entry.details.get("hash").and_then(|x| x.as_str()),
                    ) {
                        committed.insert((id.to_string(), v, h.to_string()));
                    }
                    if entry.action == "keys.rotate" {
                        match rotated_key(&entry.details, self.id(), &my_key) {
                            Ok(k) => my_key = k,
                            Err(p) => return fail(report, format!("audit entry {}: {p}", entry.idx)),
                        }
                    }
                    leaves.push(leaf);
                    frontier.push(leaf);
                    report.entries += 1;
                    // 2. Each checkpoint: same root, valid signature,
                    // consistent with the previous one.
                    while let Some(cp) = cps.peek() {
                        if cp.size != frontier.size() {
                            break;
                        }
                        let cp = cps.next().expect("peeked");
                        if let Err(p) = check_checkpoint(cp, &origin, &my_key, &frontier.root()) {
                            return fail(report, p);
                        }
                    }
                }
                from += CHUNK;
            }
            if let Some(cp) = cps.next() {
                return fail(report, format!("checkpoint of size {} is beyond the {} entries present: entries were deleted", cp.size, leaves.len()));
            }
            if head_size != leaves.len() as u64 || head_root != frontier.root() {
                return fail(report, format!("the tree head (size {head_size}) does not match the {} entries present", leaves.len()));
            }
            // 3. The store: every record version is committed to by an
            // audit entry, its body hashes to that commitment, and its
            // originator's signature holds; each commitment has an
            // inclusion proof against the latest checkpoint.
            let latest = checkpoints.last();
            for tansiq_store::VersionHash { id, version, hash, body } in &versions {
                let hex_hash = hex::encode(hash);
                if !committed.contains(&(id.clone(), *version, hex_hash.clone())) {
                    return fail(report, format!("record {id} version {version} has no matching audit entry: the store was altered"));
                }
                if let Some(body) = body {
                    let parsed: RecordBody = match serde_json::from_str(body) {
                        Ok(b) => b,
                        Err(_) => return fail(report, format!("record {id} version {version}: stored body is unreadable")),
                    };
                    let canon = tansiq_crypto::canonical_json(&parsed.to_value())
                        .map_err(NodeError::internal)?;
                    if tansiq_crypto::sha256(&canon) != *hash {
                        return fail(report, format!("record {id} version {version}: content was altered after it was audited"));
                    }
                    // The keys the originator had when it signed this version.
                    let ks = keys.keys_at_time(&parsed.originator, &parsed.created);
                    if !ks.is_empty() {
                        let sig_ok = tx
                            .record(id, &tansiq_core::policy::ReadScope::everything())?
                            .and_then(|r| r.signed)
                            .filter(|s| s.body.version == *version)
                            .map(|s| ks.iter().any(|k| s.verify(k).is_ok()))
                            .unwrap_or(true);
                        if !sig_ok {
                            return fail(report, format!("record {id} version {version}: originator signature does not verify"));
                        }
                    }
                }
            }
            if let Some(cp) = latest {
                // Inclusion proofs of the first entry, every power-of-two
                // index and the last, against the latest checkpoint.
                let n = cp.size as usize;
                let mut picks: Vec<usize> = std::iter::once(0).chain((0..63).map(|k| 1usize << k).take_while(|&i| i < n)).collect();
                picks.push(n.saturating_sub(1));
                picks.dedup();
                for idx in picks.into_iter().filter(|&i| i < n) {
                    let proof = merkle::inclusion_proof(&leaves[..n], idx).map_err(NodeError::internal)?;
                    if merkle::verify_inclusion(&leaves[idx], idx as u64, cp.size, &proof, &cp.root).is_err() {
                        return fail(report, format!("audit entry {idx} has no valid inclusion proof in checkpoint {}", cp.size));
                    }
                    report.inclusion_proofs += 1;
                }
                // Consistency proofs between the most recent checkpoints
                // (earlier ones were checked by recomputing their roots).
                let recent = &checkpoints[checkpoints.len().saturating_sub(17)..];
                for w in recent.windows(2) {
                    let (old, new) = (&w[0], &w[1]);
                    if old.size == 0 {
                        continue;
                    }
                    let proof = merkle::consistency_proof(&leaves[..new.size as usize], old.size as usize)
                        .map_err(NodeError::internal)?;
                    if merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &proof).is_err() {
                        return fail(report, format!("checkpoint {} is not consistent with checkpoint {}", new.size, old.size));
                    }
                }
            }
            report.ok = true;
            Ok(report)
        })
    }
}

/// The new signing key a `keys.rotate` audit entry names, after checking
/// its rotation statement under the key it retires.
fn rotated_key(
    details: &serde_json::Value,
    node_id: &str,
    prev: &[u8; 32],
) -> Result<[u8; 32], String> {
    let field = |k: &str| details.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let (Some(gen), Some(signing_key), Some(encryption_key), Some(at), Some(sig)) = (
        details.get("gen").and_then(|v| v.as_u64()),
        field("signing_key"),
        field("encryption_key"),
        field("at"),
        field("sig"),
    ) else {
        return Err("a key rotation entry lacks its statement".into());
    };
    let r = crate::card::Rotation {
        body: crate::card::RotationBody {
            id: node_id.to_string(),
            gen,
            signing_key,
            encryption_key,
            at,
        },
        sig,
    };
    r.verify(prev).map_err(|e| e.to_string())?;
    tansiq_crypto::b64_decode_array::<32>(&r.body.signing_key)
        .map_err(|_| "a key rotation entry names a malformed key".to_string())
}

fn check_checkpoint(
    cp: &tansiq_store::CheckpointRow,
    origin: &str,
    key: &[u8; 32],
    root: &Hash,
) -> Result<(), String> {
    if cp.root != *root {
        return Err(format!(
            "checkpoint {} does not match the entries: the log was rewritten",
            cp.size
        ));
    }
    let signed = checkpoint::verify(&cp.note, origin, key)
        .map_err(|_| format!("checkpoint {}: signature does not verify", cp.size))?;
    if signed.size != cp.size || signed.root != cp.root || signed.origin != origin {
        return Err(format!(
            "checkpoint {}: signed note does not match the stored checkpoint",
            cp.size
        ));
    }
    Ok(())
}
