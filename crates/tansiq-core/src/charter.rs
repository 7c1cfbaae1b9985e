//! Channels and their charters.
//!
//! A channel is founded by a charter: name, members, files, permitted
//! relays, retention, default handling. Each charter version is signed by
//! its proposer and becomes **active** only when every member of that
//! version has signed it. Joining and leaving are new versions; a member
//! being removed need not sign (it cannot block its own removal), a member
//! joining must.
//!
//! [`ChannelState::apply`] is the whole state machine; the store only
//! persists its result.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;
use crate::handling::Tlp;
use crate::ids::check_id;
use crate::record::decode_sig;

pub const CHARTER_CONTEXT: &str = "tansiq/charter/v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Charter {
    pub id: String,
    pub version: u64,
    pub name: String,
    /// Member node ids, sorted and unique.
    pub members: Vec<String>,
    /// Files (committees), sorted and unique.
    pub files: Vec<String>,
    /// Nodes permitted to carry sealed traffic they cannot read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relays: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    pub default_tlp: Tlp,
    pub proposer: String,
    pub created: String,
}

impl Charter {
    /// Builds a well-formed charter (sorted, deduplicated lists) or says
    /// what is wrong with the proposal.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        version: u64,
        name: &str,
        proposer: &str,
        mut members: Vec<String>,
        mut files: Vec<String>,
        mut relays: Vec<String>,
        retention_days: Option<u32>,
        created: String,
    ) -> Result<Charter, Invalid> {
        members.push(proposer.to_string());
        for v in [&mut members, &mut files, &mut relays] {
            v.iter_mut().for_each(|s| *s = s.trim().to_string());
            v.retain(|s| !s.is_empty());
            v.sort();
            v.dedup();
        }
        let c = Charter {
            id,
            version,
            name: name.trim().to_string(),
            members,
            files,
            relays,
            retention_days,
            default_tlp: Tlp::Amber,
            proposer: proposer.to_string(),
            created,
        };
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        check_id("channel id", &self.id)?;
        if self.version == 0 {
            return Err(Invalid::new("charter versions start at 1"));
        }
        if self.name.is_empty() || self.name.chars().count() > 200 {
            return Err(Invalid::new("a channel needs a name of 1-200 characters"));
        }
        if self.name.chars().any(char::is_control) {
            return Err(Invalid::new("the channel name contains control characters"));
        }
        if self.files.is_empty() {
            return Err(Invalid::new(
                "a channel needs at least one file (e.g. --files terrorism)",
            ));
        }
        for f in &self.files {
            check_id("file", f)?;
        }
        for m in self.members.iter().chain(&self.relays) {
            check_id("member", m)?;
        }
        if self.members.len() > 64 {
            return Err(Invalid::new("a channel has at most 64 members"));
        }
        if !self.members.contains(&self.proposer) {
            return Err(Invalid::new("the proposer must be a member"));
        }
        if let Some(r) = self.relays.iter().find(|r| self.members.contains(r)) {
            return Err(Invalid::new(format!(
                "{r} is a member; relays are for non-members"
            )));
        }
        if let Some(d) = self.retention_days {
            if d == 0 || d > 36_500 {
                return Err(Invalid::new("retention must be 1-36500 days"));
            }
        }
        let sorted = |v: &Vec<String>| v.windows(2).all(|w| w[0] < w[1]);
        if !sorted(&self.members) || !sorted(&self.files) || !sorted(&self.relays) {
            return Err(Invalid::new("charter lists must be sorted and unique"));
        }
        Ok(())
    }

    pub fn has_file(&self, file: &str) -> bool {
        self.files.iter().any(|f| f == file)
    }

    pub fn is_member(&self, node: &str) -> bool {
        self.members.iter().any(|m| m == node)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("charters always serialise")
    }
}

/// A charter version with the member signatures gathered so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCharter {
    pub charter: Charter,
    /// Node id → signature over the charter (URL-safe base64).
    pub signatures: BTreeMap<String, String>,
}

impl SignedCharter {
    /// Signs as the node whose id derives from `id`'s key (a node that
    /// never rotated its keys).
    pub fn sign_by(&mut self, id: &tansiq_crypto::Identity) {
        self.sign_as(&id.node_id(), id);
    }

    /// Signs as node `node_id` with its current keys `id` (after a key
    /// rotation the id stays bound to the first key, not to `id`).
    pub fn sign_as(&mut self, node_id: &str, id: &tansiq_crypto::Identity) {
        let sig = id
            .sign_json(CHARTER_CONTEXT, &self.charter.to_value())
            .expect("charters contain only canonicalisable JSON");
        self.signatures
            .insert(node_id.to_string(), tansiq_crypto::b64(sig));
    }

    /// Members who have not signed yet.
    pub fn missing(&self) -> Vec<String> {
        self.charter
            .members
            .iter()
            .filter(|m| !self.signatures.contains_key(*m))
            .cloned()
            .collect()
    }

    pub fn is_complete(&self) -> bool {
        self.missing().is_empty()
    }

    /// Verifies every signature present; `key` maps a node id to its
    /// signing key (None: unknown node).
    pub fn verify(&self, key: &dyn Fn(&str) -> Option<[u8; 32]>) -> Result<(), Invalid> {
        self.charter.validate()?;
        if !self.signatures.contains_key(&self.charter.proposer) {
            return Err(Invalid::new("the charter is not signed by its proposer"));
        }
        let value = self.charter.to_value();
        for (node, sig) in &self.signatures {
            if !self.charter.is_member(node) {
                return Err(Invalid::new(format!("{node} signed but is not a member")));
            }
            let pk = key(node)
                .ok_or_else(|| Invalid::new(format!("member {node} is not a known peer")))?;
            let sig = decode_sig(sig)?;
            tansiq_crypto::verify_json(&pk, CHARTER_CONTEXT, &value, &sig)
                .map_err(|_| Invalid::new(format!("bad charter signature by {node}")))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelStatus {
    Pending,
    Active,
}

impl ChannelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelStatus::Pending => "pending",
            ChannelStatus::Active => "active",
        }
    }
}

/// What a node knows of one channel: the charter version in force (all
/// members signed) and at most one proposed version awaiting signatures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    pub active: Option<SignedCharter>,
    pub pending: Option<SignedCharter>,
}

/// An input to the channel state machine.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// A charter version signed by at least its proposer (maybe more).
    Proposed(SignedCharter),
    /// A member's signature over a pending version.
    Signed {
        version: u64,
        node: String,
        sig: String,
    },
}

impl ChannelState {
    pub fn status(&self) -> ChannelStatus {
        if self.active.is_some() {
            ChannelStatus::Active
        } else {
            ChannelStatus::Pending
        }
    }

    /// The version the channel's lists come from: the active one, else the
    /// pending proposal.
    pub fn charter(&self) -> Option<&Charter> {
        self.active
            .as_ref()
            .or(self.pending.as_ref())
            .map(|s| &s.charter)
    }

    /// Applies one event, returning the new state or why it is refused.
    /// Never mutates `self` on error.
    pub fn apply(
        &self,
        event: ChannelEvent,
        key: &dyn Fn(&str) -> Option<[u8; 32]>,
    ) -> Result<ChannelState, Invalid> {
        let mut next = self.clone();
        match event {
            ChannelEvent::Proposed(p) => {
                p.verify(key)?;
                // A node joining an existing channel first sees it at a later
                // version: with no active version here, any version may start.
                let expected = self
                    .active
                    .as_ref()
                    .map_or(p.charter.version.max(1), |a| a.charter.version + 1);
                if p.charter.version != expected {
                    return Err(Invalid::new(format!(
                        "charter version {} does not follow the active version (expected {expected})",
                        p.charter.version
                    )));
                }
                if let Some(a) = &self.active {
                    if a.charter.id != p.charter.id {
                        return Err(Invalid::new("charter is for another channel"));
                    }
                    if !a.charter.is_member(&p.charter.proposer) {
                        return Err(Invalid::new(
                            "only a current member may propose a new version",
                        ));
                    }
                }
                match &self.pending {
                    Some(q) if q.charter.version == p.charter.version => {
                        if q.charter != p.charter {
                            return Err(Invalid::new(format!(
                                "another version {} is already pending for this channel",
                                p.charter.version
                            )));
                        }
                        // Same proposal seen again: merge signatures.
                        let mut merged = q.clone();
                        merged.signatures.extend(p.signatures);
                        next.pending = Some(merged);
                    }
                    _ => next.pending = Some(p),
                }
            }
            ChannelEvent::Signed { version, node, sig } => {
                let Some(pending) = next.pending.as_mut() else {
                    return Err(Invalid::new("there is no pending charter to sign"));
                };
                if pending.charter.version != version {
                    return Err(Invalid::new(format!(
                        "signature is for version {version} but version {} is pending",
                        pending.charter.version
                    )));
                }
                if !pending.charter.is_member(&node) {
                    return Err(Invalid::new(format!(
                        "{node} is not a member of this charter"
                    )));
                }
                let pk = key(&node)
                    .ok_or_else(|| Invalid::new(format!("{node} is not a known peer")))?;
                let raw = decode_sig(&sig)?;
                tansiq_crypto::verify_json(&pk, CHARTER_CONTEXT, &pending.charter.to_value(), &raw)
                    .map_err(|_| Invalid::new(format!("bad charter signature by {node}")))?;
                pending.signatures.insert(node, sig);
            }
        }
        if next
            .pending
            .as_ref()
            .is_some_and(SignedCharter::is_complete)
        {
            next.active = next.pending.take();
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tansiq_crypto::Identity;

    struct World {
        ids: Vec<Identity>,
    }

    impl World {
        fn new(n: usize) -> World {
            World {
                ids: (0..n).map(|_| Identity::generate()).collect(),
            }
        }
        fn id(&self, i: usize) -> String {
            self.ids[i].node_id()
        }
        fn key(&self) -> impl Fn(&str) -> Option<[u8; 32]> + '_ {
            move |n: &str| {
                self.ids
                    .iter()
                    .find(|i| i.node_id() == n)
                    .map(|i| i.signing_public())
            }
        }
        fn proposal(&self, by: usize, version: u64, members: &[usize]) -> SignedCharter {
            let c = Charter::new(
                "ch_test".into(),
                version,
                "DZ-MA",
                &self.id(by),
                members.iter().map(|&m| self.id(m)).collect(),
                vec!["terrorism".into(), "recruitment".into()],
                vec![],
                Some(365),
                "2026-11-29T00:00:00Z".into(),
            )
            .unwrap();
            let mut s = SignedCharter {
                charter: c,
                signatures: BTreeMap::new(),
            };
            s.sign_by(&self.ids[by]);
            s
        }
        fn sig(&self, who: usize, c: &SignedCharter) -> ChannelEvent {
            let mut s = c.clone();
            s.sign_by(&self.ids[who]);
            ChannelEvent::Signed {
                version: c.charter.version,
                node: self.id(who),
                sig: s.signatures[&self.id(who)].clone(),
            }
        }
    }

    #[test]
    fn single_member_channel_is_active_at_once() {
        let w = World::new(1);
        let s = ChannelState::default()
            .apply(ChannelEvent::Proposed(w.proposal(0, 1, &[])), &w.key())
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        assert!(s.pending.is_none());
    }

    #[test]
    fn pending_until_every_member_signs() {
        let w = World::new(3);
        let p = w.proposal(0, 1, &[1, 2]);
        let s = ChannelState::default()
            .apply(ChannelEvent::Proposed(p.clone()), &w.key())
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        let s = s.apply(w.sig(1, &p), &w.key()).unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        assert_eq!(s.pending.as_ref().unwrap().missing(), vec![w.id(2)]);
        // signing twice changes nothing
        let s = s.apply(w.sig(1, &p), &w.key()).unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        let s = s.apply(w.sig(2, &p), &w.key()).unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
    }

    #[test]
    fn refusals_leave_state_unchanged() {
        let w = World::new(4);
        let p = w.proposal(0, 1, &[1]);
        let s = ChannelState::default()
            .apply(ChannelEvent::Proposed(p.clone()), &w.key())
            .unwrap();
        // a non-member signs
        assert!(s.apply(w.sig(3, &p), &w.key()).is_err());
        // a forged signature: member 1's name, member 2's key
        let forged = match w.sig(2, &p) {
            ChannelEvent::Signed { version, sig, .. } => ChannelEvent::Signed {
                version,
                node: w.id(1),
                sig,
            },
            e => e,
        };
        assert!(s.apply(forged, &w.key()).is_err());
        // wrong version
        let mut other = p.clone();
        other.charter.version = 2;
        assert!(s.apply(w.sig(1, &other), &w.key()).is_err());
        // an altered charter keeps the proposer's old signature: refused
        let mut altered = p.clone();
        altered.charter.name = "altered".into();
        assert!(ChannelState::default()
            .apply(ChannelEvent::Proposed(altered), &w.key())
            .is_err());
        // a conflicting proposal for the same version is refused
        let q = w.proposal(0, 1, &[2]);
        assert!(s.apply(ChannelEvent::Proposed(q), &w.key()).is_err());
        // signature with no pending charter
        assert!(ChannelState::default()
            .apply(w.sig(1, &p), &w.key())
            .is_err());
    }

    #[test]
    fn join_and_leave_are_new_versions() {
        let w = World::new(3);
        let v1 = w.proposal(0, 1, &[1]);
        let s = ChannelState::default()
            .apply(ChannelEvent::Proposed(v1.clone()), &w.key())
            .unwrap()
            .apply(w.sig(1, &v1), &w.key())
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        // node 2 joins: version 2 needs 0, 1 and 2
        let v2 = w.proposal(1, 2, &[0, 2]);
        let s = s
            .apply(ChannelEvent::Proposed(v2.clone()), &w.key())
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        assert_eq!(s.active.as_ref().unwrap().charter.version, 1);
        let s = s.apply(w.sig(0, &v2), &w.key()).unwrap();
        let s = s.apply(w.sig(2, &v2), &w.key()).unwrap();
        assert_eq!(s.active.as_ref().unwrap().charter.version, 2);
        assert!(s.pending.is_none());
        // node 1 is removed: version 3 without it, it does not need to sign
        let v3 = w.proposal(0, 3, &[2]);
        let s = s
            .apply(ChannelEvent::Proposed(v3.clone()), &w.key())
            .unwrap();
        let s = s.apply(w.sig(2, &v3), &w.key()).unwrap();
        assert_eq!(s.active.as_ref().unwrap().charter.members.len(), 2);
        // a node that joins sees the channel first at version 2 and may sign it
        let joiner = ChannelState::default()
            .apply(ChannelEvent::Proposed(w.proposal(0, 2, &[1, 2])), &w.key())
            .unwrap();
        assert_eq!(joiner.status(), ChannelStatus::Pending);
        // a version that skips ahead is refused
        let v9 = w.proposal(0, 9, &[2]);
        assert!(s.apply(ChannelEvent::Proposed(v9), &w.key()).is_err());
        // a removed member cannot propose
        let v4 = w.proposal(1, 4, &[0, 2]);
        assert!(s.apply(ChannelEvent::Proposed(v4), &w.key()).is_err());
    }

    #[test]
    fn charter_validation() {
        let mk = |files: Vec<String>, relays: Vec<String>| {
            Charter::new(
                "ch_x".into(),
                1,
                "n",
                "tqa",
                vec!["tqb".into()],
                files,
                relays,
                None,
                "t".into(),
            )
        };
        assert!(mk(vec![], vec![]).is_err());
        assert!(mk(vec!["terrorism".into()], vec!["tqb".into()]).is_err());
        assert!(mk(vec!["bad file".into()], vec![]).is_err());
        let c = mk(vec!["b".into(), "a".into(), "a".into()], vec![]).unwrap();
        assert_eq!(c.files, vec!["a", "b"]);
        assert_eq!(c.members, vec!["tqa", "tqb"]);
    }
}
