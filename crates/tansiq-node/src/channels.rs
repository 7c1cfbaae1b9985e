//! Channel services: propose a charter, accept (co-sign) one, import a
//! signed charter carried from a partner, list; and the receiving side,
//! a charter a partner sent (`Node::receive_charter`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use tansiq_core::charter::{ChannelEvent, ChannelState, Charter, SignedCharter};
use tansiq_core::ids::{new_id, CHANNEL_PREFIX};
use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::{ChannelRow, Tx};

use crate::arrival::Batch;
use crate::card::{KeyBook, NodeCard};
use crate::error::{NodeError, NodeResult, PeerError};
use crate::federation::Outcome;
use crate::node::Node;

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

pub(crate) use crate::held::load_channel;

impl Node {
    /// Encryption (X25519) keys of this node and its known peers.
    pub(crate) fn encryption_keys(&self, tx: &mut Tx) -> NodeResult<BTreeMap<String, [u8; 32]>> {
        let mut keys = BTreeMap::new();
        keys.insert(self.id().to_string(), self.identity.encryption_public());
        for p in tx.peers()? {
            let card: NodeCard = serde_json::from_str(&p.card)
                .map_err(|e| PeerError::Card(format!("{}: {e}", p.id)))?;
            let k = tansiq_crypto::b64_decode_array::<32>(&card.body.encryption_key)
                .map_err(|_| PeerError::Card(format!("{}: unusable encryption key", p.id)))?;
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
                .map_err(|e| PeerError::Card(format!("{}: {e}", p.id)))?;
            keys.insert_spans(p.id, card.key_spans()?);
        }
        Ok(keys)
    }

    fn save_channel(&self, tx: &mut Tx, state: &ChannelState) -> NodeResult<()> {
        let c = state
            .charter()
            // Every caller keeps a charter in the state it saves.
            .ok_or_else(|| NodeError::internal("saving a channel without charter"))?;
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
        let cur = crate::held::find_channel(tx, id)?.unwrap_or_default();
        let chosen = charter_signing_keys(&keys, &cur, &event);
        let next = cur.apply(event, self.id(), &|n: &str| {
            chosen.get(n).copied().or_else(|| keys.get(n).copied())
        })?;
        self.save_channel(tx, &next)?;
        Ok(next)
    }

    /// Whether a received charter version is a sign of a rule-breaking
    /// member (`ChannelState::hostile`), judged against what this node
    /// holds.
    pub(crate) fn charter_hostile(
        &self,
        tx: &mut Tx,
        p: &SignedCharter,
    ) -> NodeResult<Option<String>> {
        let id = &p.charter.id;
        let Some(cur) = crate::held::find_channel(tx, id)? else {
            return Ok(None);
        };
        let keys = self.key_lookup(tx)?;
        let chosen = charter_signing_keys(&keys, &cur, &ChannelEvent::Proposed(p.clone()));
        Ok(cur.hostile(p, self.id(), &|n: &str| {
            chosen.get(n).copied().or_else(|| keys.get(n).copied())
        }))
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
        let id = self.commit(|tx, out| {
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
            self.send_charter(tx, &signed, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.create",
                &id,
                json!({"id": id, "version": 1, "status": state.status().as_str()}),
            )?;
            Ok(id)
        })?;
        Ok(id)
    }

    /// Proposes the next charter version of an active channel with members
    /// added or removed. It comes into force once the members of the
    /// version in force consent (`tansiq_core::charter::consent`): every
    /// one of them but the member removed (at most one per version), and
    /// every member joining. Removing this node alone is leaving: in force
    /// at once. A pending version this node has not signed is declined by
    /// proposing another. Everyone concerned is sent the version, removed
    /// members included.
    pub fn channel_update(
        &self,
        actor: &Actor,
        id: &str,
        add: Vec<String>,
        remove: Vec<String>,
    ) -> NodeResult<ChannelView> {
        policy::authorize(actor, Action::ManageChannels)?;
        if add.is_empty() && remove.is_empty() {
            return Err(NodeError::bad(
                "nothing to change: name members to add or remove",
            ));
        }
        let add: Vec<String> = add.iter().map(|a| a.trim().to_string()).collect();
        let remove: Vec<String> = remove.iter().map(|r| r.trim().to_string()).collect();
        let v = self.commit(|tx, out| {
            let mut st = load_channel(tx, id)?;
            let Some(c) = st.basis(self.id()).cloned() else {
                return Err(NodeError::bad(format!(
                    "channel {id} is not active with this node as a member"
                )));
            };
            if let Some(m) = remove.iter().find(|m| !c.is_member(m)) {
                return Err(NodeError::bad(format!(
                    "{m} is not a member of channel {id}"
                )));
            }
            if let Some(m) = add.iter().find(|m| c.is_member(m)) {
                return Err(NodeError::bad(format!(
                    "{m} is already a member of channel {id}"
                )));
            }
            let known = self.key_lookup(tx)?;
            for m in &add {
                if !known.contains_key(m) {
                    return Err(NodeError::bad(format!(
                        "{m} is not a known peer; add its card first"
                    )));
                }
            }
            let declined = match &st.pending {
                // Signing two versions of one number could put both in
                // force at different members.
                Some(p) if p.signatures.contains_key(self.id()) => {
                    return Err(NodeError::bad(format!(
                        "this node signed version {} of channel {id}, still waiting for signatures; propose once it is in force",
                        p.charter.version
                    )));
                }
                // Not signed here: proposing another declines it.
                Some(p) => Some(p.charter.version),
                None => None,
            };
            let leaving = remove.iter().any(|r| r == self.id());
            if leaving && (remove.len() > 1 || !add.is_empty()) {
                return Err(NodeError::bad(
                    "to leave a channel, give --remove with this node's id alone",
                ));
            }
            let now = time::format(&time::now());
            let charter = if leaving {
                c.leave(self.id(), now)?
            } else {
                let members: Vec<String> = c
                    .members
                    .iter()
                    .filter(|m| !remove.contains(m))
                    .cloned()
                    .chain(add.iter().cloned())
                    .collect();
                Charter::new(
                    c.id.clone(),
                    c.version + 1,
                    &c.name,
                    self.id(),
                    members,
                    c.files.clone(),
                    c.relays.clone(),
                    c.retention_days,
                    now,
                )?
            };
            // The rule every receiver applies, before anything is written.
            tansiq_core::charter::consent(Some(&c), &charter)?;
            if declined.is_some() {
                st.pending = None;
                self.save_channel(tx, &st)?;
            }
            let mut signed = SignedCharter {
                charter,
                signatures: BTreeMap::new(),
            };
            signed.sign_as(self.id(), &self.identity);
            let next = self.apply_channel_event(tx, id, ChannelEvent::Proposed(signed.clone()))?;
            self.send_version(tx, Some(&c), &signed, out)?;
            let v = view(&next, self.id());
            self.audit(
                tx,
                &actor.audit_name(),
                if leaving { "channel.leave" } else { "channel.update" },
                id,
                json!({"id": id, "version": signed.charter.version, "add": add, "remove": remove, "declined": declined, "status": v.status}),
            )?;
            Ok(v)
        })?;
        Ok(v)
    }

    /// Sends a charter version with the signatures this node holds to
    /// every other member of it and of `prev`, the version it replaces
    /// here: members it removes learn of their removal and collect the
    /// signatures that put it in force.
    fn send_version(
        &self,
        tx: &mut Tx,
        prev: Option<&Charter>,
        signed: &SignedCharter,
        out: &mut crate::federation::Outbox,
    ) -> NodeResult<()> {
        self.send_charter(tx, signed, out)?;
        for r in prev.into_iter().flat_map(|p| &p.members) {
            if r != self.id() && !signed.charter.is_member(r) {
                let notice = crate::federation::Payload::Charter {
                    charter: signed.clone(),
                };
                self.send_control(tx, r, &notice, tansiq_sync::Precedence::Immediate, out)?;
            }
        }
        Ok(())
    }

    /// This node co-signs the pending charter version of a channel: as a
    /// member of that version, or of the version in force it replaces.
    pub fn channel_accept(&self, actor: &Actor, id: &str) -> NodeResult<ChannelView> {
        policy::authorize(actor, Action::ManageChannels)?;
        let v = self.commit(|tx, out| {
            let st = load_channel(tx, id)?;
            let Some(pending) = &st.pending else {
                return Err(NodeError::bad(format!(
                    "channel {id} has no charter waiting for signatures"
                )));
            };
            let basis = st.basis(self.id()).cloned();
            if !pending.charter.is_member(self.id()) && basis.is_none() {
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
            // Everyone concerned gets this node's signature (with all the
            // others it holds).
            let signed = next
                .pending
                .clone()
                .or(next.active.clone())
                .filter(|c| c.charter.version == version);
            if let Some(signed) = signed {
                self.send_version(tx, basis.as_ref(), &signed, out)?;
            }
            Ok(view(&next, self.id()))
        })?;
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
        self.commit(|tx, _| {
            let id = signed.charter.id.clone();
            let version = signed.charter.version;
            // The operator brings another version of the number pending
            // here: a pending one this node has not signed gives way.
            if tx.channel(&id)?.is_some() {
                let mut st = load_channel(tx, &id)?;
                if st.pending.as_ref().is_some_and(|p| {
                    p.charter.version == version
                        && p.charter != signed.charter
                        && !p.signatures.contains_key(self.id())
                }) {
                    st.pending = None;
                    self.save_channel(tx, &st)?;
                }
            }
            let next = self.apply_channel_event(tx, &id, ChannelEvent::Proposed(signed))?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.import",
                &id,
                json!({"id": id, "version": version, "status": next.status().as_str()}),
            )?;
            Ok(view(&next, self.id()))
        })
    }

    /// The newest charter version of a channel with its signatures, for
    /// carrying to partners. Audited (`channel.export`): it names the
    /// channel's members.
    pub fn channel_export(&self, actor: &Actor, id: &str) -> NodeResult<SignedCharter> {
        policy::authorize(actor, Action::ReadChannels)?;
        self.note_read(|tx| {
            let st = load_channel(tx, id)?;
            let signed = st
                .pending
                .or(st.active)
                .ok_or_else(|| crate::held::no_charter(id))?;
            self.audit(
                tx,
                &actor.audit_name(),
                "channel.export",
                id,
                json!({"id": id, "version": signed.charter.version}),
            )?;
            Ok(signed)
        })
    }

    pub fn channel_list(&self, actor: &Actor) -> NodeResult<Vec<ChannelView>> {
        policy::authorize(actor, Action::ReadChannels)?;
        self.store.read(|tx| {
            let mut out = Vec::new();
            for row in tx.channels()? {
                let st: ChannelState = serde_json::from_str(&row.state)
                    .map_err(|e| NodeError::corrupt(&format!("channel {} state", row.id), e))?;
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
        awaiting: st.awaiting(me),
        pending_version: st
            .pending
            .as_ref()
            .filter(|_| st.active.is_some())
            .map(|p| p.charter.version),
    }
}

/// The receiving side.
impl Node {
    /// Takes in a charter version a member sent (`channel.receive`).
    pub(crate) fn receive_charter(
        &self,
        tx: &mut Tx,
        sender: &str,
        charter: SignedCharter,
        batch: &mut Batch,
    ) -> Result<(), Outcome> {
        // A member of the new version, or of the version in force here
        // (a removal notice). Whether the version may replace the one
        // in force is the charter rule's to say, in `apply_channel_event`.
        let before = crate::held::find_channel(tx, &charter.charter.id)?;
        let member_now = before
            .as_ref()
            .is_some_and(|st| st.basis(self.id()).is_some());
        if !charter.charter.is_member(self.id()) && !member_now {
            return Err(Outcome::Reject(
                "a charter this node is not a member of".into(),
            ));
        }
        if !charter.signatures.contains_key(sender) {
            return Err(Outcome::Reject(
                "the sender did not sign the charter it sent".into(),
            ));
        }
        if let Some(why) = self.charter_hostile(tx, &charter)? {
            return Err(Outcome::Hostile(format!("charter: {why}")));
        }
        let id = charter.charter.id.clone();
        // Later envelopes of this output see the channel as it becomes.
        batch.forget_channel(&id);
        let version = charter.charter.version;
        match self.apply_channel_event(tx, &id, ChannelEvent::Proposed(charter)) {
            Ok(st) => {
                let removed = member_now && st.basis(self.id()).is_none();
                let status = match &st.active {
                    Some(a) if !a.charter.is_member(self.id()) => "removed",
                    _ => st.status().as_str(),
                };
                self.audit(
                    tx,
                    &format!("node:{sender}"),
                    "channel.receive",
                    &id,
                    json!({"id": id, "version": version, "from": sender, "status": status}),
                )?;
                if removed {
                    self.audit(
                        tx,
                        &format!("node:{sender}"),
                        "channel.removed",
                        &id,
                        json!({"id": id, "version": version}),
                    )?;
                }
                Ok(())
            }
            Err(NodeError::BadInput(m)) => Err(Outcome::Reject(format!("charter: {m}"))),
            Err(e) => Err(Outcome::Fail(e)),
        }
    }
}
