//! Restored from a backup (issue 17 §1, docs/SYNC.md §6 "Restore holds"):
//! the restore marker and its override.
//!
//! A node restored from an old copy of its store does not know which of
//! its own envelopes its partners received after the copy was taken; a
//! new envelope at a sequence number a partner already holds would fork
//! its stream there. `mark_restored` records, durably, for every channel
//! this node is a member of (and the control channel with every peer),
//! which partners (members and permitted relays) must answer before it
//! originates there again; the
//! engine asks each (a `fetch` of its own stream) and clears the hold as
//! each answers with nothing beyond what it holds again. What users make
//! on a held channel meanwhile is kept (`sync_deferred`) and sealed and
//! sent when the channel's holds clear (`federation::send_deferred`).

use serde::Serialize;
use tansiq_core::policy::{self, Action};
use tansiq_core::user::Actor;
use tansiq_store::{HoldRow, Tx};

use crate::error::{NodeError, NodeResult};
use crate::federation::control_channel;
use crate::node::Node;

/// One restore hold, as `sync status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldView {
    pub channel: String,
    /// The partner that has not answered yet.
    pub partner: String,
    /// Its name (empty if it is no longer a peer).
    pub partner_name: String,
    /// When the node was marked restored.
    pub since: String,
    /// What this node's users made on the channel meanwhile, waiting.
    pub deferred: u64,
}

/// What `mark_restored` set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Marked {
    /// (channel, partner) holds set.
    pub holds: Vec<(String, String)>,
}

impl Node {
    /// Marks this node as restored from a backup: a hold on every channel
    /// it is an active member of, for each other member and permitted
    /// relay it delivers to (a known peer), and on the control channel
    /// with each peer. Audited
    /// as `store.mark_restored`. Idempotent (holds already set stay).
    pub fn mark_restored(&self, actor: &Actor) -> NodeResult<Marked> {
        policy::authorize(actor, Action::ManagePeers)?;
        let marked = self.commit(|tx, _| {
            let holds = self.restore_holds(tx)?;
            let since = tansiq_core::time::format(&tansiq_core::time::now());
            for (channel, partner) in &holds {
                tx.sync_put_hold(&HoldRow {
                    channel: channel.clone(),
                    partner: partner.clone(),
                    since: since.clone(),
                })?;
            }
            // A running engine (another process) rebuilds with the holds.
            let gen = hex::encode(tansiq_crypto::random_bytes::<8>());
            tx.meta_set("sync_gen", &gen)?;
            let channels: std::collections::BTreeSet<&String> =
                holds.iter().map(|h| &h.0).collect();
            self.audit(
                tx,
                &actor.audit_name(),
                "store.mark_restored",
                "*",
                serde_json::json!({"channels": channels.len(), "holds": holds.len()}),
            )?;
            Ok(Marked { holds })
        })?;
        self.federation.reset();
        Ok(marked)
    }

    /// The (channel, partner) pairs a restored node must hear from.
    fn restore_holds(&self, tx: &mut Tx) -> NodeResult<Vec<(String, String)>> {
        let peers: std::collections::BTreeSet<String> =
            tx.peers()?.into_iter().map(|p| p.id).collect();
        let mut holds = Vec::new();
        for c in tx.channels()? {
            let st = crate::channels::load_channel(tx, &c.id)?;
            let Some(active) = &st.active else { continue };
            if !active.charter.is_member(self.id()) {
                continue;
            }
            // The other members, and the permitted relays: a relay may
            // still hold custody copies of this node's later envelopes.
            for m in active.charter.members.iter().chain(&active.charter.relays) {
                if m != self.id() && peers.contains(m) {
                    holds.push((c.id.clone(), m.clone()));
                }
            }
        }
        for p in &peers {
            holds.push((control_channel(self.id(), p), p.clone()));
        }
        Ok(holds)
    }

    /// The operator's override for a partner gone for good: releases the
    /// restore hold of `channel` for `partner` (every partner still
    /// awaited if `None`), and sends what was kept on the channel if no
    /// hold is left. Audited as `sync.release_hold`. Returns the partners
    /// released; an unknown (channel, partner) hold is an error that
    /// changes nothing.
    pub fn release_hold(
        &self,
        actor: &Actor,
        channel: &str,
        partner: Option<&str>,
    ) -> NodeResult<Vec<String>> {
        policy::authorize(actor, Action::ManagePeers)?;
        self.commit(|tx, out| {
            let held = tx
                .sync_holds()?
                .into_iter()
                .any(|h| h.channel == channel && partner.is_none_or(|p| h.partner == p));
            if !held {
                return Err(NodeError::NotFound(match partner {
                    Some(p) => format!(
                        "no restore hold of channel {channel} for {p}; see `tansiq sync status`"
                    ),
                    None => {
                        format!("no restore hold of channel {channel}; see `tansiq sync status`")
                    }
                }));
            }
            let released = self
                .federation
                .release_hold(self, tx, out, channel, partner)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "sync.release_hold",
                channel,
                serde_json::json!({"partners": released}),
            )?;
            Ok(released)
        })
    }

    /// A new version (or tombstone) of a record placed in a held channel
    /// is refused: restored from a backup, this node may not hold the
    /// versions it made after the backup yet (they come back from its
    /// partners as the hold clears), and a version made now could repeat
    /// one of their numbers with other content. New records, messages
    /// and charters are kept and sent later instead (docs/OPERATIONS.md).
    pub(crate) fn refuse_versions_while_held(&self, tx: &mut Tx, record: &str) -> NodeResult<()> {
        let holds = tx.sync_holds()?;
        if holds.is_empty() {
            return Ok(());
        }
        for ch in tx.placements(record)? {
            let waiting: Vec<&str> = holds
                .iter()
                .filter(|h| h.channel == ch)
                .map(|h| h.partner.as_str())
                .collect();
            if !waiting.is_empty() {
                return Err(NodeError::bad(format!(
                    "restored from a backup: waiting for {} to confirm channel {ch}; record \
                     {record} cannot change until then (its later versions may not be back \
                     yet; see `tansiq sync status`)",
                    waiting.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The restore holds in force, with what waits behind each channel.
    pub(crate) fn hold_views(&self, tx: &mut Tx) -> NodeResult<Vec<HoldView>> {
        let holds = tx.sync_holds()?;
        if holds.is_empty() {
            return Ok(Vec::new());
        }
        let names: std::collections::BTreeMap<String, String> =
            tx.peers()?.into_iter().map(|p| (p.id, p.name)).collect();
        let mut deferred: std::collections::BTreeMap<String, u64> = Default::default();
        for d in tx.sync_deferred(None)? {
            *deferred.entry(d.channel).or_default() += 1;
        }
        Ok(holds
            .into_iter()
            .map(|h| HoldView {
                partner_name: names.get(&h.partner).cloned().unwrap_or_default(),
                deferred: deferred.get(&h.channel).copied().unwrap_or(0),
                channel: h.channel,
                partner: h.partner,
                since: h.since,
            })
            .collect())
    }
}

/// What `tansiq restore` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restored {
    /// Where the store it replaced was moved (with its `-wal`/`-shm`).
    pub replaced: Option<String>,
    pub holds: Vec<(String, String)>,
}

/// Restores a SQLite node from `backup` (a `tansiq backup` copy): the
/// copy is checked (a store of this node, migrated to the current
/// schema) beside the store, the store in place is moved aside (kept,
/// with its WAL, as `node.db.replaced-TIME`), the copy takes its place,
/// and the node is marked restored ([`Node::mark_restored`]). Refused
/// while `serve` runs on the directory (its lock), on PostgreSQL
/// (`pg_restore`, then `tansiq store mark-restored`), and for a copy of
/// another node's store; nothing is changed then.
pub fn restore_sqlite(dir: &std::path::Path, backup: &std::path::Path) -> NodeResult<Restored> {
    use crate::config::{Config, DB_FILE};
    let config = Config::load(dir)?;
    if config.store != "sqlite" {
        return Err(NodeError::bad(
            "this node's store is PostgreSQL: restore it with pg_restore, then run \
             `tansiq store mark-restored`",
        ));
    }
    let Some(_lock) = crate::config::serve_lock(dir, true)? else {
        return Err(NodeError::bad(
            "`tansiq serve` is running on this node directory: stop it first",
        ));
    };
    let db = dir.join(DB_FILE);
    let tmp = dir.join(format!("{DB_FILE}.restoring"));
    let _ = std::fs::remove_file(&tmp);
    let undo = |p: &std::path::Path| {
        let _ = std::fs::remove_file(p);
        let _ = std::fs::remove_file(sidecar(p, "-wal"));
        let _ = std::fs::remove_file(sidecar(p, "-shm"));
    };
    {
        let mut src = std::fs::File::open(backup)
            .map_err(|e| NodeError::bad(format!("cannot read {}: {e}", backup.display())))?;
        let mut dst = crate::config::create_private(&tmp)?;
        if let Err(e) = std::io::copy(&mut src, &mut dst).and_then(|_| dst.sync_all()) {
            undo(&tmp);
            return Err(NodeError::bad(format!("copying {}: {e}", backup.display())));
        }
    }
    let check = (|| -> NodeResult<()> {
        let store = tansiq_store::Store::open_sqlite(&tmp, false).map_err(|e| {
            NodeError::bad(format!("{} is not a Tansiq store: {e}", backup.display()))
        })?;
        let id = store.read(|tx| tx.meta_get("node_id"))?;
        if id.as_deref() != Some(config.node_id.as_str()) {
            return Err(NodeError::bad(format!(
                "{} is a store of another node ({}), not of {}",
                backup.display(),
                id.unwrap_or_default(),
                config.node_id
            )));
        }
        Ok(())
    })();
    if let Err(e) = check {
        undo(&tmp);
        return Err(e);
    }
    let mut replaced = None;
    if db.exists() {
        let stamp = tansiq_core::time::format(&tansiq_core::time::now()).replace(':', "");
        let aside = dir.join(format!("{DB_FILE}.replaced-{stamp}"));
        for suffix in ["-wal", "-shm"] {
            let s = sidecar(&db, suffix);
            if s.exists() {
                std::fs::rename(&s, sidecar(&aside, suffix))
                    .map_err(|e| NodeError::bad(format!("moving {}: {e}", s.display())))?;
            }
        }
        std::fs::rename(&db, &aside)
            .map_err(|e| NodeError::bad(format!("moving {}: {e}", db.display())))?;
        replaced = Some(aside.display().to_string());
    }
    std::fs::rename(&tmp, &db).map_err(|e| NodeError::bad(format!("placing the copy: {e}")))?;
    for suffix in ["-wal", "-shm"] {
        let s = sidecar(&tmp, suffix);
        if s.exists() {
            let _ = std::fs::rename(&s, sidecar(&db, suffix));
        }
    }
    let node = Node::open(dir)?;
    let marked = node.mark_restored(&Actor::Operator)?;
    Ok(Restored {
        replaced,
        holds: marked.holds,
    })
}

fn sidecar(p: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    std::path::PathBuf::from(s)
}
