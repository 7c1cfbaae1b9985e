//! Witnessed audit: each node sends its latest signed checkpoint to its
//! peers with a consistency proof from the last checkpoint that peer saw;
//! the peer verifies, co-signs and sends the co-signature back. A
//! checkpoint inconsistent with what a peer saw (a rewritten or rolled
//! back log) is kept as evidence and raises an alarm there.
//!
//! Co-signatures are produced while an envelope is being delivered (the
//! engine is busy), so they are queued in `meta.cosig_out` and sent by the
//! next [`Node::witness_round`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use tansiq_core::policy::{self, Action};
use tansiq_core::user::Actor;
use tansiq_crypto::checkpoint;
use tansiq_crypto::merkle;
use tansiq_store::{AlarmRow, Tx};
use tansiq_sync::Precedence;

use crate::error::{NodeError, NodeResult};
use crate::federation::Payload;
use crate::node::Node;

/// One peer as a witness of this node's audit log, and as a log this
/// node witnesses ([`Node::audit_witnesses`]).
#[derive(Debug, Clone, Serialize)]
pub struct WitnessView {
    pub peer: String,
    pub name: String,
    /// The largest checkpoint of this node's log the peer has cosigned.
    pub cosigned_size: Option<u64>,
    /// Audit entries of this node beyond what the peer has cosigned.
    pub not_cosigned: u64,
    /// The latest checkpoint of the peer's log this node has witnessed.
    pub witnessed_size: Option<u64>,
    pub witnessed_root: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Witnessed {
    size: u64,
    root: String,
    note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cosig {
    size: u64,
    line: String,
}

fn origin(node: &str) -> String {
    format!("tansiq/{node}")
}

fn alarm(node: &Node, tx: &mut Tx, peer: &str, why: &str, held: &str, got: &str) -> NodeResult<()> {
    let row = AlarmRow {
        id: tansiq_core::ids::new_id("alm_"),
        kind: "audit_inconsistent".into(),
        detail: json!({"peer": peer, "why": why, "held": held, "received": got}).to_string(),
        created_at: tansiq_core::time::format(&tansiq_core::time::now()),
    };
    tx.sync_add_alarm(&row)?;
    node.audit(
        tx,
        "node",
        "witness.alarm",
        peer,
        json!({"peer": peer, "why": why, "alarm": row.id}),
    )?;
    tracing::error!(
        peer,
        why,
        "a peer's audit checkpoint is inconsistent with the one witnessed before"
    );
    Ok(())
}

/// A peer's checkpoint arrives: verify, check consistency with the last
/// one witnessed, co-sign (queued) or raise an alarm.
pub(crate) fn take_checkpoint(
    node: &Node,
    tx: &mut Tx,
    sender: &str,
    note: &str,
    old_size: u64,
    proof: &[String],
) -> NodeResult<()> {
    let keys = node.key_lookup(tx)?;
    let key = keys
        .get(sender)
        .ok_or_else(|| NodeError::bad("checkpoint from an unknown peer"))?;
    let cp = checkpoint::verify(note, &origin(sender), key)
        .map_err(|_| NodeError::bad("checkpoint signature does not verify"))?;
    // Sizes go into canonical JSON (audit entries), which holds integers up
    // to 2^53 - 1 only: larger ones are refused, never a panic.
    if cp.size > tansiq_crypto::MAX_SAFE_INTEGER || old_size > tansiq_crypto::MAX_SAFE_INTEGER {
        return Err(NodeError::bad("checkpoint size beyond 2^53 - 1"));
    }
    let meta_key = format!("witnessed:{sender}");
    let prev: Option<Witnessed> = tx
        .meta_get(&meta_key)?
        .and_then(|s| serde_json::from_str(&s).ok());
    if let Some(p) = &prev {
        let prev_root = tansiq_crypto::b64_decode_array::<32>(&p.root)
            .map_err(|e| NodeError::corrupt(&format!("stored checkpoint of {sender}"), e))?;
        if cp.size == p.size {
            if cp.root != prev_root {
                return alarm(
                    node,
                    tx,
                    sender,
                    "two different logs of the same size (fork)",
                    &p.note,
                    note,
                );
            }
            return Ok(());
        }
        if old_size != p.size {
            // A proof from another base (messages crossed, or this one is
            // stale): nothing to conclude; the next round brings a proof
            // from the checkpoint witnessed here.
            node.audit(
                tx,
                "node",
                "witness.skip",
                sender,
                json!({"peer": sender, "size": cp.size, "base": old_size, "witnessed": p.size}),
            )?;
            return Ok(());
        }
        let hashes: Result<Vec<[u8; 32]>, _> = proof
            .iter()
            .map(|h| tansiq_crypto::b64_decode_array::<32>(h))
            .collect();
        let consistent = cp.size > p.size
            && hashes.is_ok_and(|h| {
                merkle::verify_consistency(p.size, cp.size, &prev_root, &cp.root, &h).is_ok()
            });
        if !consistent {
            return alarm(
                node,
                tx,
                sender,
                "not an extension of the log witnessed before (rewritten or rolled back)",
                &p.note,
                note,
            );
        }
    }
    let w = Witnessed {
        size: cp.size,
        root: tansiq_crypto::b64(cp.root),
        note: note.to_string(),
    };
    tx.meta_set(
        &meta_key,
        &serde_json::to_string(&w).map_err(|e| NodeError::internal(format!("encoding: {e}")))?,
    )?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let line = checkpoint::cosign(&node.identity, &origin(node.id()), &cp, now)
        .map_err(|e| NodeError::internal(format!("co-signing: {e}")))?;
    let mut pending: BTreeMap<String, Cosig> = tx
        .meta_get("cosig_out")?
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    pending.insert(
        sender.to_string(),
        Cosig {
            size: cp.size,
            line,
        },
    );
    tx.meta_set(
        "cosig_out",
        &serde_json::to_string(&pending)
            .map_err(|e| NodeError::internal(format!("encoding: {e}")))?,
    )?;
    node.audit(
        tx,
        "node",
        "witness.cosign",
        sender,
        json!({"peer": sender, "size": cp.size, "root": tansiq_crypto::b64(cp.root)}),
    )?;
    Ok(())
}

/// A peer's co-signature of one of this node's checkpoints arrives.
pub(crate) fn take_cosignature(
    node: &Node,
    tx: &mut Tx,
    witness: &str,
    size: u64,
    line: &str,
) -> NodeResult<()> {
    let keys = node.key_lookup(tx)?;
    let key = keys
        .get(witness)
        .ok_or_else(|| NodeError::bad("co-signature from an unknown peer"))?;
    let cp_row = tx
        .checkpoints()?
        .into_iter()
        .find(|c| c.size == size)
        .ok_or_else(|| {
            NodeError::bad(format!(
                "co-signature of a checkpoint of size {size} this node never signed"
            ))
        })?;
    let combined = checkpoint::add_signature_line(&cp_row.note, line)
        .map_err(|_| NodeError::bad("malformed co-signature line"))?;
    let (cp, _) = checkpoint::verify_cosignature(&combined, &origin(witness), key)
        .map_err(|_| NodeError::bad("co-signature does not verify"))?;
    if cp.size != size || cp.root != cp_row.root {
        return Err(NodeError::bad("co-signature of another checkpoint"));
    }
    tx.put_cosignature(size, witness, line)?;
    tx.meta_set(&format!("witness_sent:{witness}"), &size.to_string())?;
    node.audit(
        tx,
        &format!("node:{witness}"),
        "witness.cosigned",
        witness,
        json!({"witness": witness, "size": size}),
    )?;
    Ok(())
}

impl Node {
    /// Sends this node's latest checkpoint (with a consistency proof) to
    /// every peer, and the co-signatures owed to peers. Runs periodically
    /// in `serve`. Returns the number of payloads queued.
    pub fn witness_round(&self) -> NodeResult<usize> {
        self.commit(|tx, out| {
            let cp = self.checkpoint_in(tx)?;
            let peers: Vec<String> = tx.peers()?.into_iter().map(|p| p.id).collect();
            let mut leaves: Option<Vec<[u8; 32]>> = None;
            let mut sent = 0;
            for peer in &peers {
                let old: u64 = tx
                    .meta_get(&format!("witness_sent:{peer}"))?
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                if old >= cp.size && old != 0 {
                    continue;
                }
                let proof = if old > 0 && old < cp.size {
                    if leaves.is_none() {
                        leaves = Some(
                            tx.audit_entries(0, cp.size)?
                                .into_iter()
                                .map(|(_, leaf)| leaf)
                                .collect(),
                        );
                    }
                    let l = leaves.as_ref().expect("loaded above");
                    merkle::consistency_proof(&l[..cp.size as usize], old as usize)
                        // old < size, checked above: cannot fail.
                        .map_err(|e| NodeError::internal(format!("consistency proof: {e}")))?
                        .iter()
                        .map(tansiq_crypto::b64)
                        .collect()
                } else {
                    vec![]
                };
                let payload = Payload::Checkpoint {
                    note: cp.note.clone(),
                    old_size: old,
                    proof,
                };
                self.send_control(tx, peer, &payload, Precedence::Routine, out)?;
                sent += 1;
            }
            let pending: BTreeMap<String, Cosig> = tx
                .meta_get("cosig_out")?
                .and_then(|s| serde_json::from_str(&s).ok())
                .unwrap_or_default();
            for (peer, c) in &pending {
                let payload = Payload::Cosignature {
                    size: c.size,
                    line: c.line.clone(),
                };
                self.send_control(tx, peer, &payload, Precedence::Routine, out)?;
                sent += 1;
            }
            if !pending.is_empty() {
                tx.meta_set("cosig_out", "{}")?;
            }
            Ok(sent)
        })
    }

    /// Who witnesses whom, for an auditor: per peer, how far it has
    /// cosigned this node's log (and how many entries lie beyond), and
    /// the latest checkpoint of its log this node has witnessed. Audited.
    pub fn audit_witnesses(&self, actor: &Actor) -> NodeResult<Vec<WitnessView>> {
        policy::authorize(actor, Action::ReadAudit)?;
        self.note(|tx| {
            let size = tx.audit_count()?;
            let cosigned = tx.cosigned_sizes()?;
            let mut out = Vec::new();
            for p in tx.peers()? {
                let upto = cosigned.iter().find(|(w, _)| *w == p.id).map(|(_, s)| *s);
                let w: Option<Witnessed> = tx
                    .meta_get(&format!("witnessed:{}", p.id))?
                    .and_then(|s| serde_json::from_str(&s).ok());
                out.push(WitnessView {
                    cosigned_size: upto,
                    not_cosigned: size.saturating_sub(upto.unwrap_or(0)),
                    witnessed_size: w.as_ref().map(|w| w.size),
                    witnessed_root: w.map(|w| w.root),
                    peer: p.id,
                    name: p.name,
                });
            }
            self.audit(
                tx,
                &actor.audit_name(),
                "audit.witnesses",
                "*",
                serde_json::json!({"count": out.len()}),
            )?;
            Ok(out)
        })
    }

    /// The checkpoints of `peer` this node has witnessed (latest).
    pub fn witnessed(&self, peer: &str) -> NodeResult<Option<(u64, String)>> {
        let w: Option<Witnessed> = self
            .store
            .read(|tx| tx.meta_get(&format!("witnessed:{peer}")))?
            .and_then(|s| serde_json::from_str(&s).ok());
        Ok(w.map(|w| (w.size, w.root)))
    }
}
