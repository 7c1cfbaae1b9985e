//! Offline bundles: everything queued for one peer, in a file carried by
//! hand. The file is signed by the sending node and its contents sealed to
//! the receiving node (a courier sees neither headers nor bodies); import
//! goes through the engine's idempotent inbox and is all or nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;

use tansiq_core::user::Actor;
use tansiq_crypto::seal::{self, Recipient, Sealed};

use crate::error::{NodeError, NodeResult};
use crate::federation::node_id;
use crate::node::Node;

pub const BUNDLE_CONTEXT: &str = "tansiq/bundle/v1";
/// Largest bundle file accepted.
pub const MAX_BUNDLE_FILE: u64 = 512 * 1024 * 1024;

/// What the sender signs: who, for whom, when, how many, and the sealed
/// items (by hash).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct BundleHead {
    v: u32,
    from: String,
    to: String,
    created: String,
    count: u64,
    sealed_sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleFile {
    head: BundleHead,
    sealed: Sealed,
    sig: String,
    /// The sender's card when it has rotated its keys, so a receiver that
    /// holds an older card learns the new keys from the bundle itself
    /// (verified along its chain; not covered by `sig`, it needs no more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card: Option<crate::card::NodeCard>,
}

impl Node {
    /// Writes everything queued for `peer` into a bundle; returns the
    /// number of items.
    pub fn bundle_export(&self, actor: &Actor, peer: &str) -> NodeResult<(Vec<u8>, usize)> {
        let mut out = Vec::new();
        let n = self.bundle_export_to(actor, peer, |b| {
            out = b.to_vec();
            Ok(())
        })?;
        Ok((out, n))
    }

    /// [`Node::bundle_export`], handing the bundle to `deliver` (e.g. a
    /// file write) inside the transaction that records the export, before
    /// its audit entry: if `deliver` fails, no `bundle.export` entry is
    /// left. (If the commit then fails, the caller undoes what `deliver`
    /// did.)
    pub fn bundle_export_to(
        &self,
        actor: &Actor,
        peer: &str,
        deliver: impl FnOnce(&[u8]) -> NodeResult<()>,
    ) -> NodeResult<usize> {
        tansiq_core::policy::authorize(actor, tansiq_core::policy::Action::ManagePeers)?;
        let to = node_id(peer)?;
        let keys = self.store.read(|tx| self.encryption_keys(tx))?;
        let Some(peer_key) = keys.get(peer).copied().filter(|_| peer != self.id()) else {
            return Err(NodeError::bad(format!("{peer} is not a known peer")));
        };
        let items = self.federation.commit(&self.store, |tx, out| {
            self.federation.run(self, tx, out, |engine, host, now| {
                let items = engine.export_bundle(&to, usize::MAX, host);
                // Restoring (if needed) changed nothing durable; poll
                // would, so nothing else is called here.
                let _ = now;
                Ok((tansiq_sync::Output::default(), items))
            })
        })?;
        let count = items.len();
        let bytes = tansiq_sync::encode_bundle_items(&items);
        let created = tansiq_core::time::format(&self.signing_time());
        let aad = format!("{BUNDLE_CONTEXT}\0{}\0{peer}\0{created}", self.id());
        let sealed = seal::seal(
            &bytes,
            aad.as_bytes(),
            &[Recipient {
                id: peer.to_string(),
                public: peer_key,
            }],
        )
        .map_err(|e| NodeError::Internal(format!("sealing the bundle: {e}")))?;
        // Encoding and signing what we just built cannot fail short of a bug.
        let enc = |e: serde_json::Error| NodeError::internal(format!("encoding the bundle: {e}"));
        let sealed_json = serde_json::to_vec(&sealed).map_err(enc)?;
        let head = BundleHead {
            v: 1,
            from: self.id().to_string(),
            to: peer.to_string(),
            created,
            count: count as u64,
            sealed_sha256: hex::encode(tansiq_crypto::sha256(&sealed_json)),
        };
        let sig = self
            .identity
            .sign_json(BUNDLE_CONTEXT, &serde_json::to_value(&head).map_err(enc)?)
            .map_err(|e| NodeError::internal(format!("signing the bundle: {e}")))?;
        let file = BundleFile {
            head,
            sealed,
            sig: tansiq_crypto::b64(sig),
            card: (self.key_generation() > 0).then(|| self.card()),
        };
        let bytes = serde_json::to_vec(&file).map_err(enc)?;
        self.commit(|tx, _| {
            deliver(&bytes)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "bundle.export",
                peer,
                json!({"to": peer, "items": count}),
            )
        })?;
        Ok(count)
    }

    /// Imports a bundle addressed to this node; returns the number of new
    /// items. A tampered, foreign or malformed bundle changes nothing.
    pub fn bundle_import(&self, actor: &Actor, bytes: &[u8]) -> NodeResult<usize> {
        tansiq_core::policy::authorize(actor, tansiq_core::policy::Action::ManagePeers)?;
        let bad = |m: &str| NodeError::bad(format!("bundle rejected: {m}; nothing imported"));
        let v = tansiq_crypto::parse_json_strict(bytes)
            .map_err(|_| bad("not a bundle file (invalid JSON)"))?;
        let file: BundleFile =
            serde_json::from_value(v).map_err(|e| bad(&format!("not a bundle file ({e})")))?;
        let h = &file.head;
        if h.v != 1 {
            return Err(bad(&format!("version {} is not supported", h.v)));
        }
        if h.to != self.id() {
            return Err(bad(&format!(
                "it is addressed to {}, not to this node",
                h.to
            )));
        }
        let mut signing = self.store.read(|tx| self.key_lookup(tx))?;
        if h.from == self.id() || !signing.contains_key(&h.from) {
            return Err(bad(&format!("it comes from {}, not a known peer", h.from)));
        }
        // A newer card of the sender carried along: its keys count if its
        // chain verifies and continues the one held (stored on import).
        let card = match &file.card {
            Some(c) if c.body.id == h.from => {
                c.verify()
                    .map_err(|e| bad(&format!("the card it carries: {e}")))?;
                let held = self.store.read(|tx| tx.peer(&h.from))?;
                let held: Option<crate::card::NodeCard> =
                    held.and_then(|p| serde_json::from_str(&p.card).ok());
                match held {
                    Some(old) if old.body.gen < c.body.gen && old.is_extended_by(c)? => {
                        signing.insert_spans(h.from.clone(), c.key_spans()?);
                        Some(c.clone())
                    }
                    _ => None,
                }
            }
            Some(_) => return Err(bad("it carries the card of another node")),
            None => None,
        };
        let sig =
            tansiq_core::record::decode_sig(&file.sig).map_err(|_| bad("malformed signature"))?;
        // Re-encoding what was just parsed cannot fail short of a bug.
        let enc =
            |e: serde_json::Error| NodeError::internal(format!("re-encoding the bundle: {e}"));
        let head_value = serde_json::to_value(h).map_err(enc)?;
        signing
            .keys_at_time(&h.from, &h.created)
            .iter()
            .find(|k| tansiq_crypto::verify_json(k, BUNDLE_CONTEXT, &head_value, &sig).is_ok())
            .ok_or_else(|| bad("its signature does not verify (tampered with, or forged)"))?;
        let sealed_json = serde_json::to_vec(&file.sealed).map_err(enc)?;
        if hex::encode(tansiq_crypto::sha256(&sealed_json)) != h.sealed_sha256 {
            return Err(bad(
                "its contents do not match the signed digest (tampered with)",
            ));
        }
        let aad = format!("{BUNDLE_CONTEXT}\0{}\0{}\0{}", h.from, h.to, h.created);
        let plain = self
            .identities()
            .into_iter()
            .find_map(|id| seal::open(&file.sealed, aad.as_bytes(), self.id(), id).ok())
            .ok_or_else(|| bad("its contents cannot be opened by this node (tampered with)"))?;
        let items = tansiq_sync::decode_bundle_items(&plain)
            .map_err(|e| bad(&format!("malformed items ({e})")))?;
        if items.len() as u64 != h.count {
            return Err(bad("item count differs from the signed count"));
        }
        let from = node_id(&h.from)?;
        self.commit(|tx, out| {
            if let Some(c) = &card {
                self.accept_card(tx, &format!("node:{}", h.from), c)?;
            }
            let report = self.federation.run(self, tx, out, |engine, host, now| {
                engine
                    .import_bundle(&from, items, now, host)
                    .map_err(|e| bad(&format!("item {} refused: {}", e.index, e.reason)))
            })?;
            self.audit(
                tx,
                &actor.audit_name(),
                "bundle.import",
                &h.from,
                json!({"from": h.from, "items": h.count, "new": report.new}),
            )?;
            Ok(report.new)
        })
    }
}
