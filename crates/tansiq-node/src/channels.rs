//! Channel services: propose a charter, accept (co-sign) one, import a
//! signed charter carried from a partner, list.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use tansiq_core::charter::{ChannelEvent, ChannelState, Charter, SignedCharter};
use tansiq_core::ids::{new_id, CHANNEL_PREFIX};
use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::{ChannelRow, Tx};

use crate::card::{KeyBook, NodeCard};
use crate::error::{NodeError, NodeResult};
use crate::node::Node;
use crate::records::load_channel;

#[derive(Debug, Clone, Serialize)]
pub struct ChannelView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub files: Vec<String>,
    pub relays: Vec<String>,
    pub status: String,
    pub version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Members whose signature the newest version still lacks.
    pub awaiting: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<u64>,
}

impl Node {
    /// Encryption (X25519) keys of this node and its known peers.
    pub(crate) fn encryption_keys(&self, tx: &mut Tx) -> NodeResult<BTreeMap<String, [u8; 32]>> {
        let mut keys = BTreeMap::new();
        keys.insert(self.id().to_string(), self.identity.encryption_public());
        for p in tx.peers()? {
            let card: NodeCard = serde_json::from_str(&p.card)
                .map_err(|e| NodeError::Other(format!("peer card: {e}")))?;
            let k = tansiq_crypto::b64_decode_array::<32>(&card.body.encryption_key)
                .map_err(|_| NodeError::Other(format!("peer {} card: encryption key", p.id)))?;
            keys.insert(p.id, k);
        }
        Ok(keys)
    }

    /// Signing keys of this node and its known peers: the current ones,
    /// and the earlier ones of nodes that rotated (for what they signed
    /// before).
    pub(crate) fn key_lookup(&self, tx: &mut Tx) -> NodeResult<KeyBook> {
        let mut keys = KeyBook::default();
        keys.insert_spans(
            self.id().to_string(),
            crate::card::chain_spans(
                self.identity_of_generation(0).signing_public(),
                &self.rotations,
            )?,
        );
        for p in tx.peers()? {
            let card: NodeCard = serde_json::from_str(&p.card)
                .map_err(|e| NodeError::Other(format!("peer card: {e}")))?;
            keys.insert_spans(p.id, card.key_spans()?);
        }
        Ok(keys)
    }

    fn save_channel(&self, tx: &mut Tx, state: &ChannelState) -> NodeResult<()> {
        let c = state
            .charter()
            .ok_or_else(|| NodeError::Other("channel without charter".into()))?;
        tx.put_channel(
            &ChannelRow {
                id: c.id.clone(),
                name: c.name.clone(),
                status: state.status().as_str().into(),
                state: serde_json::to_string(state).expect("channel state serialises"),
            },
            &time::format(&time::now()),
        )?;
        Ok(())
    }

    pub(crate) fn apply_channel_event(
        &self,
        tx: &mut Tx,
        id: &str,
        event: ChannelEvent,
    ) -> NodeResult<ChannelState> {
        let keys = self.key_lookup(tx)?;
        let cur = match tx.channel(id)? {
            Some(_) => load_channel(tx, id)?,
            None => ChannelState::default(),
        };
        let chosen = charter_signing_keys(&keys, &cur, &event);
        let next = cur.apply(event, &|n: &str| {
            chosen.get(n).copied().or_else(|| keys.get(n).copied())
        })?;
        self.save_channel(tx, &next)?;
        Ok(next)
    }

    /// Proposes a channel; this node signs its charter and is always a
    /// member. Every other member must be a known peer.
    pub fn channel_create(
        &self,
        actor: &Actor,
        name: &str,
        members: Vec<String>,
        files: Vec<String>,
        relays: Vec<String>,
        retention_days: Option<u32>,
    ) -> NodeResult<String> {
        policy::authorize(actor, Action::ManageChannels)?;
        let mut out = Vec::new();
        let id = self.store.write(|tx| {
            let known = self.key_lookup(tx)?;
            for m in members.iter().chain(&relays) {
                if !known.contains_key(m.trim()) {
                    return Err(NodeError::bad(format!(
                        "{m} is not a known peer; add its card first with `tansiq peer add CARD_FILE`"
                    )));
                }
            }
            let charter = Charter::new(
                new_id(CHANNEL_PREFIX),
                1,
                name,
                self.id(),
                members,
                files,
                relays,
                retention_days,
                time::format(&time::now()),
            )?;
            let mut signed = SignedCharter {
                charter,
                signatures: BTreeMap::new(),
            };
            signed.sign_as(self.id(), &self.identity);
            let id = signed.charter.id.clone();
            let state = self.apply_channel_event(tx, &id, ChannelEvent::Proposed(signed.clone()))?;
            self.send_charter(tx, &signed, &mut out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.create",
                &id,
                json!({"id": id, "version": 1, "status": state.status().as_str()}),
            )?;
            self.checkpoint_in(tx)?;
            Ok::<_, NodeError>(id)
        })?;
        self.federation.queue(out);
        Ok(id)
    }

    /// Proposes the next charter version of an active channel with members
    /// added or removed. Every member of the new version must sign it (a
    /// removed member need not); removed members are told too.
    pub fn channel_update(
        &self,
        actor: &Actor,
        id: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> NodeResult<ChannelView> {
        policy::authorize(actor, Action::ManageChannels)?;
        let mut out = Vec::new();
        let v = self.store.write(|tx| {
            let st = load_channel(tx, id)?;
            let Some(active) = &st.active else {
                return Err(NodeError::bad(format!("channel {id} is not active yet")));
            };
            if st.pending.is_some() {
                return Err(NodeError::bad(format!(
                    "channel {id} already has a version waiting for signatures"
                )));
            }
            let known = self.key_lookup(tx)?;
            for m in &add {
                if !known.contains_key(m.trim()) {
                    return Err(NodeError::bad(format!(
                        "{m} is not a known peer; add its card first"
                    )));
                }
            }
            let c = &active.charter;
            if remove.iter().any(|r| r == self.id()) {
                return Err(NodeError::bad(
                    "this node cannot remove itself; another member can",
                ));
            }
            let members: Vec<String> = c
                .members
                .iter()
                .filter(|m| !remove.contains(m))
                .cloned()
                .chain(add.iter().map(|a| a.trim().to_string()))
                .collect();
            let charter = Charter::new(
                c.id.clone(),
                c.version + 1,
                &c.name,
                self.id(),
                members,
                c.files.clone(),
                c.relays.clone(),
                c.retention_days,
                time::format(&time::now()),
            )?;
            let mut signed = SignedCharter {
                charter,
                signatures: BTreeMap::new(),
            };
            signed.sign_as(self.id(), &self.identity);
            let next = self.apply_channel_event(tx, id, ChannelEvent::Proposed(signed.clone()))?;
            self.send_charter(tx, &signed, &mut out)?;
            // Removed members learn of their removal.
            for r in c.members.iter().filter(|m| !signed.charter.is_member(m)) {
                let notice = crate::federation::Payload::Charter {
                    charter: signed.clone(),
                };
                self.send_control(tx, r, &notice, tansiq_sync::Precedence::Immediate, &mut out)?;
            }
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.update",
                id,
                json!({"id": id, "version": signed.charter.version, "add": add, "remove": remove}),
            )?;
            self.checkpoint_in(tx)?;
            Ok::<_, NodeError>(view(&next, self.id()))
        })?;
        self.federation.queue(out);
        Ok(v)
    }

    /// A charter version that excludes this node arrives from `sender`
    /// while this node is a member of the version in force: a removal
    /// notice. Signatures accumulate across notices (the proposal, then
    /// each member's co-signature); once every member that stays has
    /// signed (verified; members new to the channel may be unknown here
    /// and are not required), the version is in force here too: the
    /// channel shows as `removed`, and this node can no longer place or
    /// send anything in it. Before that, the version is pending.
    pub(crate) fn receive_removal(
        &self,
        tx: &mut Tx,
        sender: &str,
        notice: SignedCharter,
    ) -> NodeResult<ChannelState> {
        let id = notice.charter.id.clone();
        let st = load_channel(tx, &id)?;
        let Some(active) = st.active.clone() else {
            return Err(NodeError::bad("a removal from a channel not active here"));
        };
        let p = &notice.charter;
        p.validate()?;
        if p.is_member(self.id()) || !active.charter.is_member(self.id()) {
            return Err(NodeError::bad("not a removal of this node"));
        }
        if p.version != active.charter.version + 1 {
            return Err(NodeError::bad(format!(
                "charter version {} does not follow the active version {}",
                p.version, active.charter.version
            )));
        }
        if !active.charter.is_member(&p.proposer) || !active.charter.is_member(sender) {
            return Err(NodeError::bad(
                "only a current member may propose or pass on a new version",
            ));
        }
        let mut signatures = match &st.pending {
            Some(q) if q.charter == *p => q.signatures.clone(),
            Some(q) if q.charter.version == p.version => {
                return Err(NodeError::bad(format!(
                    "another version {} is already pending for this channel",
                    p.version
                )))
            }
            _ => BTreeMap::new(),
        };
        signatures.extend(notice.signatures.clone());
        let keys = self.key_lookup(tx)?;
        let value = p.to_value();
        let created = time::parse_instant(&p.created)?.timestamp();
        let mut verified = BTreeMap::new();
        for (n, sig) in signatures {
            if !p.is_member(&n) {
                return Err(NodeError::bad(format!("{n} signed but is not a member")));
            }
            // Keys in force when the version was proposed or later.
            let candidates = keys.keys_since(&n, created);
            if candidates.is_empty() {
                continue; // a new member this node does not know
            }
            let raw = tansiq_core::record::decode_sig(&sig)?;
            if !candidates.iter().any(|k| {
                tansiq_crypto::verify_json(k, tansiq_core::charter::CHARTER_CONTEXT, &value, &raw)
                    .is_ok()
            }) {
                return Err(NodeError::bad(format!("bad charter signature by {n}")));
            }
            verified.insert(n, sig);
        }
        if !verified.contains_key(&p.proposer) {
            return Err(NodeError::bad("the charter is not signed by its proposer"));
        }
        let staying_signed = p
            .members
            .iter()
            .filter(|m| active.charter.is_member(m))
            .all(|m| verified.contains_key(m));
        let signed = SignedCharter {
            charter: p.clone(),
            signatures: verified,
        };
        let next = if staying_signed {
            ChannelState {
                active: Some(signed),
                pending: None,
            }
        } else {
            ChannelState {
                active: st.active.clone(),
                pending: Some(signed),
            }
        };
        self.save_channel(tx, &next)?;
        if staying_signed {
            self.audit(
                tx,
                &format!("node:{sender}"),
                "channel.removed",
                &id,
                json!({"id": id, "version": p.version}),
            )?;
        }
        Ok(next)
    }

    /// This node co-signs the pending charter version of a channel.
    pub fn channel_accept(&self, actor: &Actor, id: &str) -> NodeResult<ChannelView> {
        policy::authorize(actor, Action::ManageChannels)?;
        let mut out = Vec::new();
        let v = self.store.write(|tx| {
            let st = load_channel(tx, id)?;
            let Some(pending) = &st.pending else {
                return Err(NodeError::bad(format!(
                    "channel {id} has no charter waiting for signatures"
                )));
            };
            if !pending.charter.is_member(self.id()) {
                return Err(NodeError::Refused(tansiq_core::policy::Refusal {
                    rule: tansiq_core::policy::Rule::Membership,
                    reason: format!("this node is not a member of channel {id}"),
                }));
            }
            if pending.signatures.contains_key(self.id()) {
                return Err(NodeError::bad(format!(
                    "this node already signed version {} of channel {id}",
                    pending.charter.version
                )));
            }
            let mut mine = pending.clone();
            mine.sign_as(self.id(), &self.identity);
            let sig = mine.signatures[self.id()].clone();
            let version = pending.charter.version;
            let next = self.apply_channel_event(
                tx,
                id,
                ChannelEvent::Signed {
                    version,
                    node: self.id().to_string(),
                    sig,
                },
            )?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.accept",
                id,
                json!({"id": id, "version": version, "status": next.status().as_str()}),
            )?;
            self.checkpoint_in(tx)?;
            // Every other member gets this node's signature (with all the
            // others it holds).
            let signed = next
                .pending
                .clone()
                .or(next.active.clone())
                .filter(|c| c.charter.version == version);
            if let Some(signed) = signed {
                self.send_charter(tx, &signed, &mut out)?;
                // Members this version removes get every co-signature
                // too: they take the removal once all who stay signed.
                if let Some(prev) = st.active.as_ref().filter(|a| a.charter.version < version) {
                    for r in prev
                        .charter
                        .members
                        .iter()
                        .filter(|m| *m != self.id() && !signed.charter.is_member(m))
                    {
                        let notice = crate::federation::Payload::Charter {
                            charter: signed.clone(),
                        };
                        self.send_control(
                            tx,
                            r,
                            &notice,
                            tansiq_sync::Precedence::Immediate,
                            &mut out,
                        )?;
                    }
                }
            }
            Ok::<_, NodeError>(view(&next, self.id()))
        })?;
        self.federation.queue(out);
        Ok(v)
    }

    /// Imports a signed charter (a proposal, or one carrying more member
    /// signatures), e.g. carried by hand from a partner.
    pub fn channel_import(&self, actor: &Actor, bytes: &[u8]) -> NodeResult<ChannelView> {
        policy::authorize(actor, Action::ManageChannels)?;
        if bytes.len() > 256 * 1024 {
            return Err(NodeError::bad("a charter file is at most 256 KiB"));
        }
        let signed: SignedCharter = serde_json::from_slice(bytes)
            .map_err(|e| NodeError::bad(format!("not a signed charter: {e}")))?;
        if !signed.charter.is_member(self.id()) {
            return Err(NodeError::bad("this node is not a member of that charter"));
        }
        self.store.write(|tx| {
            let id = signed.charter.id.clone();
            let version = signed.charter.version;
            let next = self.apply_channel_event(tx, &id, ChannelEvent::Proposed(signed))?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.import",
                &id,
                json!({"id": id, "version": version, "status": next.status().as_str()}),
            )?;
            self.checkpoint_in(tx)?;
            Ok(view(&next, self.id()))
        })
    }

    /// The newest charter version of a channel with its signatures, for
    /// carrying to partners.
    pub fn channel_export(&self, actor: &Actor, id: &str) -> NodeResult<SignedCharter> {
        policy::authorize(actor, Action::ReadChannels)?;
        self.store.read(|tx| {
            let st = load_channel(tx, id)?;
            st.pending
                .or(st.active)
                .ok_or_else(|| NodeError::Other("channel without charter".into()))
        })
    }

    pub fn channel_list(&self, actor: &Actor) -> NodeResult<Vec<ChannelView>> {
        policy::authorize(actor, Action::ReadChannels)?;
        self.store.read(|tx| {
            let mut out = Vec::new();
            for row in tx.channels()? {
                let st: ChannelState = serde_json::from_str(&row.state)
                    .map_err(|e| NodeError::Other(format!("channel state: {e}")))?;
                out.push(view(&st, self.id()));
            }
            Ok(out)
        })
    }
}

/// For each signature an event brings, the signer's key that verifies it
/// among those in force when the charter was created or later: a member
/// that rotated its keys after co-signing (or between the proposal and
/// its co-signature) is checked under the key it signed with. Signers
/// without such a key are left to the state machine, which refuses them.
fn charter_signing_keys(
    keys: &KeyBook,
    cur: &ChannelState,
    event: &ChannelEvent,
) -> BTreeMap<String, [u8; 32]> {
    let pending;
    let (charter, sigs): (&Charter, Vec<(&String, &String)>) = match event {
        ChannelEvent::Proposed(p) => (&p.charter, p.signatures.iter().collect()),
        ChannelEvent::Signed { version, node, sig } => {
            pending = cur
                .pending
                .as_ref()
                .filter(|p| p.charter.version == *version);
            match pending {
                Some(p) => (&p.charter, vec![(node, sig)]),
                None => return BTreeMap::new(),
            }
        }
    };
    let Ok(created) = time::parse_instant(&charter.created) else {
        return BTreeMap::new();
    };
    let value = charter.to_value();
    let mut out = BTreeMap::new();
    for (n, sig) in sigs {
        let Ok(raw) = tansiq_core::record::decode_sig(sig) else {
            continue;
        };
        if let Some(k) = keys
            .keys_since(n, created.timestamp())
            .into_iter()
            .find(|k| {
                tansiq_crypto::verify_json(k, tansiq_core::charter::CHARTER_CONTEXT, &value, &raw)
                    .is_ok()
            })
        {
            out.insert(n.clone(), k);
        }
    }
    out
}

/// `me`: this node; a channel whose version in force excludes it shows
/// as `removed`.
fn view(st: &ChannelState, me: &str) -> ChannelView {
    let c = st.charter().expect("stored channels have a charter");
    let removed = st.active.as_ref().is_some_and(|a| !a.charter.is_member(me));
    ChannelView {
        id: c.id.clone(),
        name: c.name.clone(),
        members: c.members.clone(),
        files: c.files.clone(),
        relays: c.relays.clone(),
        status: if removed {
            "removed".into()
        } else {
            st.status().as_str().into()
        },
        version: c.version,
        retention_days: c.retention_days,
        awaiting: st.pending.as_ref().map(|p| p.missing()).unwrap_or_default(),
        pending_version: st
            .pending
            .as_ref()
            .filter(|_| st.active.is_some())
            .map(|p| p.charter.version),
    }
}
