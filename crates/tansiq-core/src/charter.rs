//! Channels and their charters.
//!
//! A channel is founded by a charter: name, members, files, permitted
//! relays, retention, default handling. Each charter version is signed by
//! its proposer and comes into force only with the consent the version it
//! replaces requires ([`consent`], docs/POLICY.md "Charter changes"): the
//! founding version, every member's; a later one, every member of the
//! version in force (a member being removed excepted, at most one per
//! version) and every member joining; a member leaving needs only its own.
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
        if self.members.is_empty() {
            return Err(Invalid::new("a channel has at least one member"));
        }
        // A later version may drop its proposer (a member leaving): that
        // is judged against the version it replaces, in `consent`.
        if self.version == 1 && !self.members.contains(&self.proposer) {
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

    /// Same channel and same terms: everything but the version, members,
    /// proposer and date.
    fn same_terms(&self, other: &Charter) -> bool {
        self.id == other.id
            && self.name == other.name
            && self.files == other.files
            && self.relays == other.relays
            && self.retention_days == other.retention_days
            && self.default_tlp == other.default_tlp
    }

    /// The next version, in which `node` leaves and nothing else changes
    /// (it needs only `node`'s signature).
    pub fn leave(&self, node: &str, created: String) -> Result<Charter, Invalid> {
        if !self.is_member(node) {
            return Err(Invalid::new(format!("{node} is not a member")));
        }
        let c = Charter {
            version: self.version + 1,
            members: self
                .members
                .iter()
                .filter(|m| *m != node)
                .cloned()
                .collect(),
            proposer: node.to_string(),
            created,
            ..self.clone()
        };
        c.validate()
            .map_err(|_| Invalid::new("the last member of a channel cannot leave it"))?;
        Ok(c)
    }
}

/// Whose signatures a charter version needs to come into force at a node,
/// and whose may count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Every one of these must have signed.
    pub required: Vec<String>,
    /// Members of this version or of the one it replaces: only their
    /// signatures are taken; any other signer makes the version invalid.
    pub allowed: Vec<String>,
}

impl Consent {
    /// Required signers the signed version still lacks.
    pub fn missing(&self, s: &SignedCharter) -> Vec<String> {
        self.required
            .iter()
            .filter(|m| !s.signatures.contains_key(*m))
            .cloned()
            .collect()
    }
}

/// The charter rule: what `next` needs to replace `prev`, the version in
/// force that the judging node is a member of.
///
/// - No `prev` (a founding version, or a node joining — or coming back —
///   with no version of its own to judge against): every member of `next`.
/// - Otherwise `next` is `prev`'s id at version + 1, proposed by a member of
///   `prev`; it removes at most one member, and adds none if it removes
///   one (so every node concerned, the removed one included, judges it by
///   the same signatures). Signatures count from members of either
///   version only.
///   - A member leaving: a version whose only change is dropping its
///     proposer needs the proposer alone (no one can keep a member in).
///   - Anything else (adding, removing someone else, changing terms) needs
///     every member of `prev` except the one removed, and every member
///     joining.
///
/// So no change takes effect without the members of the version it
/// replaces, save a member's own departure or, with all the others'
/// consent, one member's removal.
pub fn consent(prev: Option<&Charter>, next: &Charter) -> Result<Consent, Invalid> {
    next.validate()?;
    let Some(prev) = prev else {
        if !next.is_member(&next.proposer) {
            return Err(Invalid::new("the proposer must be a member"));
        }
        return Ok(Consent {
            required: next.members.clone(),
            allowed: next.members.clone(),
        });
    };
    if prev.id != next.id {
        return Err(Invalid::new("charter is for another channel"));
    }
    if next.version != prev.version + 1 {
        return Err(Invalid::new(format!(
            "charter version {} does not follow the version in force (expected {})",
            next.version,
            prev.version + 1
        )));
    }
    if !prev.is_member(&next.proposer) {
        return Err(Invalid::new(
            "only a member of the version in force may propose the next",
        ));
    }
    let removed: Vec<&String> = prev.members.iter().filter(|m| !next.is_member(m)).collect();
    let joining: Vec<&String> = next.members.iter().filter(|m| !prev.is_member(m)).collect();
    if removed.len() > 1 {
        return Err(Invalid::new(
            "a charter version removes at most one member (each removal needs the consent of all the others)",
        ));
    }
    if !removed.is_empty() && !joining.is_empty() {
        return Err(Invalid::new(
            "a charter version that removes a member adds none (propose them one after the other)",
        ));
    }
    let mut allowed: Vec<String> = prev.members.iter().chain(&next.members).cloned().collect();
    allowed.sort();
    allowed.dedup();
    if !next.is_member(&next.proposer) {
        if !joining.is_empty() || !next.same_terms(prev) {
            return Err(Invalid::new(
                "a member leaving a channel drops only itself and changes nothing else",
            ));
        }
        return Ok(Consent {
            required: vec![next.proposer.clone()],
            allowed,
        });
    }
    // With at most one member removed and none added alongside, the
    // members of `next` are exactly the members of `prev` but the one
    // removed, plus those joining.
    Ok(Consent {
        required: next.members.clone(),
        allowed,
    })
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

/// What a node knows of one channel: the charter version in force and at
/// most one proposed version awaiting signatures.
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

    /// The version in force that `me` is a member of: what a new version
    /// is judged against at `me`. None when there is none, or `me` was
    /// removed or left (it then takes a later version only as a newcomer).
    pub fn basis(&self, me: &str) -> Option<&Charter> {
        self.active
            .as_ref()
            .map(|a| &a.charter)
            .filter(|c| c.is_member(me))
    }

    /// Who must still sign the pending version for it to come into force
    /// at `me`.
    pub fn awaiting(&self, me: &str) -> Vec<String> {
        self.pending
            .as_ref()
            .and_then(|p| {
                consent(self.basis(me), &p.charter)
                    .ok()
                    .map(|c| c.missing(p))
            })
            .unwrap_or_default()
    }

    /// Applies one event at node `me`, returning the new state or why it
    /// is refused. Never mutates `self` on error. `key` maps a node id to
    /// its signing key (None: unknown node).
    ///
    /// A version comes into force once it has the [`consent`] the version
    /// in force requires; until then it is pending and the version in
    /// force governs. A version with that consent takes the place of a
    /// different pending one of the same number (which could then never
    /// come into force): nobody can keep a member from leaving by parking
    /// a proposal. A repeat of the version in force changes nothing; an
    /// older one, another one of its number, or one skipping ahead is
    /// refused.
    pub fn apply(
        &self,
        event: ChannelEvent,
        me: &str,
        key: &dyn Fn(&str) -> Option<[u8; 32]>,
    ) -> Result<ChannelState, Invalid> {
        let (charter, incoming) = match event {
            ChannelEvent::Proposed(p) => {
                if !p.signatures.contains_key(&p.charter.proposer) {
                    return Err(Invalid::new("the charter is not signed by its proposer"));
                }
                (p.charter, p.signatures)
            }
            ChannelEvent::Signed { version, node, sig } => {
                let Some(q) = &self.pending else {
                    return Err(Invalid::new("there is no pending charter to sign"));
                };
                if q.charter.version != version {
                    return Err(Invalid::new(format!(
                        "signature is for version {version} but version {} is pending",
                        q.charter.version
                    )));
                }
                (q.charter.clone(), BTreeMap::from([(node, sig)]))
            }
        };
        if let Some(a) = &self.active {
            if a.charter.id != charter.id {
                return Err(Invalid::new("charter is for another channel"));
            }
            if charter.version == a.charter.version && charter == a.charter {
                return Ok(self.clone());
            }
            if charter.version <= a.charter.version {
                return Err(Invalid::new(format!(
                    "charter version {} {} the version in force ({})",
                    charter.version,
                    if charter.version == a.charter.version {
                        "conflicts with"
                    } else {
                        "is older than"
                    },
                    a.charter.version
                )));
            }
        }
        let rule = consent(self.basis(me), &charter)?;
        let mut signatures = match &self.pending {
            Some(q) if q.charter == charter => q.signatures.clone(),
            _ => BTreeMap::new(),
        };
        signatures.extend(verified(&rule, &charter, incoming, key)?);
        let candidate = SignedCharter {
            charter,
            signatures,
        };
        let mut next = self.clone();
        if rule.missing(&candidate).is_empty() {
            next.active = Some(candidate);
            next.pending = None;
            return Ok(next);
        }
        if let Some(q) = &self.pending {
            if q.charter.version == candidate.charter.version && q.charter != candidate.charter {
                return Err(Invalid::new(format!(
                    "another version {} is already pending for this channel",
                    q.charter.version
                )));
            }
        }
        next.pending = Some(candidate);
        Ok(next)
    }
}

impl ChannelState {
    /// Why a received version `p` could only come from a member breaking
    /// the charter rule, as opposed to an honest race (a version older
    /// than, skipping past or conflicting with one held, which delivery
    /// out of order also produces): a version its proposer signed that
    /// the rule forbids outright at the next number, or a member's
    /// signature on two different versions of one number (no honest node
    /// signs both). None otherwise; [`ChannelState::apply`] still judges
    /// `p` either way.
    pub fn hostile(
        &self,
        p: &SignedCharter,
        me: &str,
        key: &dyn Fn(&str) -> Option<[u8; 32]>,
    ) -> Option<String> {
        let signed_by = |s: &SignedCharter, n: &str| {
            let (Some(pk), Some(sig)) = (key(n), s.signatures.get(n)) else {
                return false;
            };
            decode_sig(sig).is_ok_and(|raw| {
                tansiq_crypto::verify_json(&pk, CHARTER_CONTEXT, &s.charter.to_value(), &raw)
                    .is_ok()
            })
        };
        for held in self.active.iter().chain(&self.pending) {
            let c = &held.charter;
            if c.id == p.charter.id && c.version == p.charter.version && *c != p.charter {
                let both: Vec<&str> = held
                    .signatures
                    .keys()
                    .filter(|n| signed_by(held, n) && signed_by(p, n))
                    .map(String::as_str)
                    .collect();
                if !both.is_empty() {
                    return Some(format!(
                        "{} signed two different versions {} of this channel",
                        both.join(","),
                        c.version
                    ));
                }
            }
        }
        let basis = self.basis(me)?;
        if p.charter.id != basis.id
            || p.charter.version != basis.version + 1
            || !signed_by(p, &p.charter.proposer)
        {
            return None;
        }
        match consent(Some(basis), &p.charter) {
            Err(e) => Some(format!(
                "a version its proposer signed breaks the rule: {e}"
            )),
            Ok(rule) => p
                .signatures
                .keys()
                .find(|n| !rule.allowed.contains(*n))
                .map(|n| {
                    format!("signed by {n}, a member of neither this version nor the one in force")
                }),
        }
    }
}

/// The signatures of `sigs` that verify, each by a node `rule` allows. A
/// signer outside `rule.allowed` or a bad signature refuses the whole
/// version, and so does a signer whose key is unknown here.
fn verified(
    rule: &Consent,
    charter: &Charter,
    sigs: BTreeMap<String, String>,
    key: &dyn Fn(&str) -> Option<[u8; 32]>,
) -> Result<BTreeMap<String, String>, Invalid> {
    let value = charter.to_value();
    let mut out = BTreeMap::new();
    for (node, sig) in sigs {
        if !rule.allowed.contains(&node) {
            return Err(Invalid::new(format!(
                "{node} signed but is a member of neither this version nor the one in force"
            )));
        }
        let pk =
            key(&node).ok_or_else(|| Invalid::new(format!("member {node} is not a known peer")))?;
        let raw = decode_sig(&sig)?;
        tansiq_crypto::verify_json(&pk, CHARTER_CONTEXT, &value, &raw)
            .map_err(|_| Invalid::new(format!("bad charter signature by {node}")))?;
        out.insert(node, sig);
    }
    Ok(out)
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
        fn ids(&self, is: &[usize]) -> Vec<String> {
            let mut v: Vec<String> = is.iter().map(|&i| self.id(i)).collect();
            v.sort();
            v
        }
        fn key(&self) -> impl Fn(&str) -> Option<[u8; 32]> + '_ {
            move |n: &str| {
                self.ids
                    .iter()
                    .find(|i| i.node_id() == n)
                    .map(|i| i.signing_public())
            }
        }
        /// Applies at node `me`, knowing every node's key.
        fn apply(
            &self,
            s: &ChannelState,
            me: usize,
            e: ChannelEvent,
        ) -> Result<ChannelState, Invalid> {
            s.apply(e, &self.id(me), &self.key())
        }
        fn signed(&self, c: Charter, signers: &[usize]) -> SignedCharter {
            let mut s = SignedCharter {
                charter: c,
                signatures: BTreeMap::new(),
            };
            for &i in signers {
                s.sign_by(&self.ids[i]);
            }
            s
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
            self.signed(c, &[by])
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
        /// Version 1 with members 0..n, signed by all, in force at `me`.
        fn formed(&self, n: usize, me: usize) -> (ChannelState, SignedCharter) {
            let all: Vec<usize> = (0..n).collect();
            let v1 = self.proposal(0, 1, &all[1..]);
            let v1 = self.signed(v1.charter, &all);
            let s = self
                .apply(
                    &ChannelState::default(),
                    me,
                    ChannelEvent::Proposed(v1.clone()),
                )
                .unwrap();
            assert_eq!(s.status(), ChannelStatus::Active);
            (s, v1)
        }
    }

    fn members(s: &ChannelState) -> Vec<String> {
        s.active.as_ref().unwrap().charter.members.clone()
    }

    #[test]
    fn single_member_channel_is_active_at_once() {
        let w = World::new(1);
        let s = w
            .apply(
                &ChannelState::default(),
                0,
                ChannelEvent::Proposed(w.proposal(0, 1, &[])),
            )
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        assert!(s.pending.is_none());
    }

    #[test]
    fn pending_until_every_member_signs() {
        let w = World::new(3);
        let p = w.proposal(0, 1, &[1, 2]);
        let s = w
            .apply(
                &ChannelState::default(),
                1,
                ChannelEvent::Proposed(p.clone()),
            )
            .unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        assert_eq!(s.awaiting(&w.id(1)), w.ids(&[1, 2]));
        let s = w.apply(&s, 1, w.sig(1, &p)).unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        assert_eq!(s.awaiting(&w.id(1)), vec![w.id(2)]);
        // signing twice changes nothing
        let s = w.apply(&s, 1, w.sig(1, &p)).unwrap();
        assert_eq!(s.status(), ChannelStatus::Pending);
        let s = w.apply(&s, 1, w.sig(2, &p)).unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
    }

    #[test]
    fn refusals_leave_state_unchanged() {
        let w = World::new(4);
        let p = w.proposal(0, 1, &[1]);
        let s = w
            .apply(
                &ChannelState::default(),
                1,
                ChannelEvent::Proposed(p.clone()),
            )
            .unwrap();
        // a non-member signs
        assert!(w.apply(&s, 1, w.sig(3, &p)).is_err());
        // a forged signature: member 1's name, member 2's key
        let forged = match w.sig(2, &p) {
            ChannelEvent::Signed { version, sig, .. } => ChannelEvent::Signed {
                version,
                node: w.id(1),
                sig,
            },
            e => e,
        };
        assert!(w.apply(&s, 1, forged).is_err());
        // wrong version
        let mut other = p.clone();
        other.charter.version = 2;
        assert!(w.apply(&s, 1, w.sig(1, &other)).is_err());
        // an altered charter keeps the proposer's old signature: refused
        let mut altered = p.clone();
        altered.charter.name = "altered".into();
        assert!(w
            .apply(&ChannelState::default(), 1, ChannelEvent::Proposed(altered))
            .is_err());
        // a conflicting proposal for the same version is refused
        let q = w.proposal(0, 1, &[2]);
        assert!(w.apply(&s, 1, ChannelEvent::Proposed(q)).is_err());
        // signature with no pending charter
        assert!(w.apply(&ChannelState::default(), 1, w.sig(1, &p)).is_err());
        // a proposal without its proposer's signature
        let unsigned = w.signed(p.charter.clone(), &[1]);
        assert!(w
            .apply(
                &ChannelState::default(),
                1,
                ChannelEvent::Proposed(unsigned)
            )
            .is_err());
    }

    #[test]
    fn one_member_cannot_evict_the_others_nor_bring_in_an_ally() {
        let w = World::new(4);
        for me in 0..3 {
            let (s, _) = w.formed(3, me);
            // 2 alone keeps itself: refused outright, whoever signs.
            let alone = w.proposal(2, 2, &[]);
            assert!(w
                .apply(&s, me, ChannelEvent::Proposed(alone.clone()))
                .is_err());
            let all = w.signed(alone.charter, &[0, 1, 2]);
            assert!(w.apply(&s, me, ChannelEvent::Proposed(all)).is_err());
            // 2 and its ally 3, signed by both: refused too.
            let ally = w.proposal(2, 2, &[3]);
            let ally = w.signed(ally.charter, &[2, 3]);
            assert!(w.apply(&s, me, ChannelEvent::Proposed(ally)).is_err());
            // The ally added to everyone: a proposal, held until 0 and 1 sign.
            let add = w.proposal(2, 2, &[0, 1, 3]);
            let add = w.signed(add.charter, &[2, 3]);
            let t = w
                .apply(&s, me, ChannelEvent::Proposed(add.clone()))
                .unwrap();
            assert_eq!(members(&t), w.ids(&[0, 1, 2]), "still version 1");
            assert_eq!(t.awaiting(&w.id(me)), w.ids(&[0, 1]));
            let t = w.apply(&t, me, w.sig(0, &add)).unwrap();
            assert_eq!(t.active.as_ref().unwrap().charter.version, 1);
            let t = w.apply(&t, me, w.sig(1, &add)).unwrap();
            assert_eq!(members(&t), w.ids(&[0, 1, 2, 3]));
        }
    }

    #[test]
    fn removing_a_member_needs_all_the_others_and_the_removed_one_learns_it() {
        let w = World::new(3);
        for me in 0..3 {
            let (s, _) = w.formed(3, me);
            let v2 = w.proposal(2, 2, &[0]); // 2 removes 1
            let t = w.apply(&s, me, ChannelEvent::Proposed(v2.clone())).unwrap();
            assert_eq!(t.active.as_ref().unwrap().charter.version, 1);
            assert_eq!(t.awaiting(&w.id(me)), vec![w.id(0)]);
            // The removed member's signature is allowed, not needed.
            let t = w.apply(&t, me, w.sig(1, &v2)).unwrap();
            assert_eq!(t.active.as_ref().unwrap().charter.version, 1);
            let t = w.apply(&t, me, w.sig(0, &v2)).unwrap();
            assert_eq!(members(&t), w.ids(&[0, 2]), "at {me}");
            assert!(t.pending.is_none());
        }
    }

    #[test]
    fn a_removal_adds_no_one_and_an_unknown_signer_refuses_the_version() {
        let w = World::new(4);
        for me in 0..3 {
            let (s, _) = w.formed(3, me);
            // 0 removes 1 and adds 3, signed by everyone: two changes in one.
            let v2 = w.proposal(0, 2, &[2, 3]);
            let v2 = w.signed(v2.charter, &[0, 1, 2, 3]);
            assert!(w.apply(&s, me, ChannelEvent::Proposed(v2)).is_err());
        }
        // A joiner this node has no key for.
        let (s, _) = w.formed(3, 0);
        let add = w.signed(w.proposal(0, 2, &[1, 2, 3]).charter, &[0, 3]);
        let unknown3 = |n: &str| if n == w.id(3) { None } else { w.key()(n) };
        assert!(s
            .apply(ChannelEvent::Proposed(add), &w.id(0), &unknown3)
            .is_err());
    }

    #[test]
    fn a_member_leaves_by_itself_and_nothing_else_passes_as_leaving() {
        let w = World::new(4);
        let (s, v1) = w.formed(3, 0);
        let leave = w.signed(
            v1.charter
                .leave(&w.id(1), "2026-11-30T00:00:00Z".into())
                .unwrap(),
            &[1],
        );
        for me in 0..3 {
            let (s, _) = w.formed(3, me);
            let t = w
                .apply(&s, me, ChannelEvent::Proposed(leave.clone()))
                .unwrap();
            assert_eq!(members(&t), w.ids(&[0, 2]), "at {me}");
        }
        // Leaving and changing files, or bringing someone in: not a leave.
        let mut files = leave.charter.clone();
        files.files = vec!["terrorism".into()];
        assert!(w
            .apply(&s, 0, ChannelEvent::Proposed(w.signed(files, &[1])))
            .is_err());
        let mut ally = leave.charter.clone();
        ally.members = w.ids(&[0, 2, 3]);
        assert!(w
            .apply(&s, 0, ChannelEvent::Proposed(w.signed(ally, &[1, 3])))
            .is_err());
        // Someone else's leave, signed by another: not signed by its proposer.
        let forged = w.signed(leave.charter.clone(), &[2]);
        assert!(w.apply(&s, 0, ChannelEvent::Proposed(forged)).is_err());
        // The last member cannot leave.
        let solo = w.proposal(0, 1, &[]);
        assert!(solo.charter.leave(&w.id(0), "t".into()).is_err());
    }

    #[test]
    fn any_change_of_terms_or_members_needs_every_member() {
        let w = World::new(3);
        let (s, v1) = w.formed(3, 0);
        let mut c = v1.charter.clone();
        c.version = 2;
        c.files = vec!["terrorism".into()];
        c.proposer = w.id(2);
        let v2 = w.signed(c, &[2]);
        let t = w.apply(&s, 0, ChannelEvent::Proposed(v2.clone())).unwrap();
        assert_eq!(t.awaiting(&w.id(0)), w.ids(&[0, 1]));
        let t = w.apply(&t, 0, w.sig(1, &v2)).unwrap();
        assert_eq!(t.active.as_ref().unwrap().charter.version, 1);
        let t = w.apply(&t, 0, w.sig(0, &v2)).unwrap();
        assert_eq!(t.active.as_ref().unwrap().charter.files, vec!["terrorism"]);
    }

    #[test]
    fn signers_outside_both_versions_refuse_the_version() {
        let w = World::new(4);
        let (s, _) = w.formed(3, 0);
        let v2 = w.proposal(0, 2, &[2]); // removes 1
        let v2x = w.signed(v2.charter.clone(), &[0, 2, 3]);
        assert!(w.apply(&s, 0, ChannelEvent::Proposed(v2x)).is_err());
        let t = w.apply(&s, 0, ChannelEvent::Proposed(v2.clone())).unwrap();
        assert!(w.apply(&t, 0, w.sig(3, &v2)).is_err());
        // A non-member of the version in force may not propose.
        let v2y = w.proposal(3, 2, &[0, 1, 2]);
        assert!(w.apply(&s, 0, ChannelEvent::Proposed(v2y)).is_err());
    }

    #[test]
    fn replays_conflicts_skips_and_other_channels_are_refused() {
        let w = World::new(3);
        let (s, v1) = w.formed(3, 0);
        let leave = w.signed(
            v1.charter
                .leave(&w.id(2), "2026-11-30T00:00:00Z".into())
                .unwrap(),
            &[2],
        );
        let s2 = w
            .apply(&s, 0, ChannelEvent::Proposed(leave.clone()))
            .unwrap();
        // a repeat of the version in force changes nothing
        assert_eq!(
            w.apply(&s2, 0, ChannelEvent::Proposed(leave.clone()))
                .unwrap(),
            s2
        );
        // an older version, even signed by all
        assert!(w.apply(&s2, 0, ChannelEvent::Proposed(v1.clone())).is_err());
        // another version 2 with every signature it would need
        let other = w.signed(
            v1.charter
                .leave(&w.id(1), "2026-11-30T00:00:00Z".into())
                .unwrap(),
            &[1],
        );
        assert!(w.apply(&s2, 0, ChannelEvent::Proposed(other)).is_err());
        // a version skipping ahead, signed by every member
        let mut v4 = leave.charter.clone();
        v4.version = 4;
        v4.proposer = w.id(0);
        v4.name = "renamed".into();
        assert!(w
            .apply(&s2, 0, ChannelEvent::Proposed(w.signed(v4, &[0, 1])))
            .is_err());
        // the same version of another channel id
        let mut elsewhere = w.proposal(0, 3, &[1]).charter;
        elsewhere.id = "ch_other".into();
        assert!(w
            .apply(&s2, 0, ChannelEvent::Proposed(w.signed(elsewhere, &[0, 1])))
            .is_err());
    }

    #[test]
    fn what_only_a_rule_breaker_sends_is_told_from_honest_races() {
        let w = World::new(4);
        let (s, v1) = w.formed(3, 0);
        let hostile = |p: &SignedCharter| s.hostile(p, &w.id(0), &w.key());
        // Forbidden outright, signed by the proposer: hostile.
        assert!(hostile(&w.proposal(2, 2, &[])).is_some(), "evicting two");
        let ally = w.signed(w.proposal(2, 2, &[3]).charter, &[2, 3]);
        assert!(hostile(&ally).is_some(), "evicting two for an ally");
        let mut files = v1.charter.leave(&w.id(2), "t2".into()).unwrap();
        files.files = vec!["terrorism".into()];
        assert!(
            hostile(&w.signed(files, &[2])).is_some(),
            "a leave changing files"
        );
        let outsider = w.signed(w.proposal(0, 2, &[2]).charter, &[0, 2, 3]);
        assert!(hostile(&outsider).is_some(), "a signer of neither version");
        // A proposal awaiting signatures, a replay, a skip: not proof.
        assert!(hostile(&w.proposal(2, 2, &[0, 1, 3])).is_none());
        assert!(hostile(&v1).is_none());
        assert!(hostile(&w.proposal(2, 5, &[])).is_none());
        // Forbidden but not signed by its proposer: not attributable.
        let unsigned = w.signed(w.proposal(2, 2, &[]).charter, &[]);
        assert!(hostile(&unsigned).is_none());
        // A member that signed the version in force signs another of its
        // number: named.
        let leave = w.signed(v1.charter.leave(&w.id(1), "t".into()).unwrap(), &[1]);
        let s2 = w.apply(&s, 0, ChannelEvent::Proposed(leave)).unwrap();
        let other = w.signed(v1.charter.leave(&w.id(2), "t".into()).unwrap(), &[2]);
        assert!(
            s2.hostile(&other, &w.id(0), &w.key()).is_none(),
            "2 signed one only"
        );
        let twice = w.signed(v1.charter.leave(&w.id(2), "t".into()).unwrap(), &[2, 1]);
        let why = s2.hostile(&twice, &w.id(0), &w.key()).unwrap();
        assert!(why.contains(&w.id(1)) && !why.contains(&w.id(2)), "{why}");
    }

    #[test]
    fn a_version_with_consent_takes_the_place_of_a_parked_proposal() {
        let w = World::new(4);
        let (s, v1) = w.formed(3, 0);
        let parked = w.signed(w.proposal(2, 2, &[0, 1, 3]).charter, &[2, 3]);
        let t = w.apply(&s, 0, ChannelEvent::Proposed(parked)).unwrap();
        assert!(t.pending.is_some());
        // another proposal without consent is refused while one is pending …
        let other = w.proposal(1, 2, &[0]);
        assert!(w.apply(&t, 0, ChannelEvent::Proposed(other)).is_err());
        // … a member leaving is not
        let leave = w.signed(
            v1.charter
                .leave(&w.id(1), "2026-11-30T00:00:00Z".into())
                .unwrap(),
            &[1],
        );
        let t = w.apply(&t, 0, ChannelEvent::Proposed(leave)).unwrap();
        assert_eq!(members(&t), w.ids(&[0, 2]));
        assert!(t.pending.is_none());
    }

    #[test]
    fn a_removed_member_comes_back_only_as_a_newcomer() {
        let w = World::new(3);
        let (s, v1) = w.formed(3, 1);
        let v2 = w.signed(w.proposal(0, 2, &[2]).charter, &[0, 2]);
        let s = w.apply(&s, 1, ChannelEvent::Proposed(v2)).unwrap();
        assert!(!s.active.as_ref().unwrap().charter.is_member(&w.id(1)));
        assert!(s.basis(&w.id(1)).is_none());
        // the old version that had it is a replay
        assert!(w.apply(&s, 1, ChannelEvent::Proposed(v1)).is_err());
        // a later version bringing it back needs every member's signature
        let v3 = w.proposal(0, 3, &[1, 2]);
        let t = w.apply(&s, 1, ChannelEvent::Proposed(v3.clone())).unwrap();
        assert_eq!(t.awaiting(&w.id(1)), w.ids(&[1, 2]));
        let t = w.apply(&t, 1, w.sig(2, &v3)).unwrap();
        let t = w.apply(&t, 1, w.sig(1, &v3)).unwrap();
        assert_eq!(members(&t), w.ids(&[0, 1, 2]));
    }

    #[test]
    fn join_and_leave_are_new_versions() {
        let w = World::new(3);
        let v1 = w.proposal(0, 1, &[1]);
        let s = w
            .apply(
                &ChannelState::default(),
                0,
                ChannelEvent::Proposed(v1.clone()),
            )
            .unwrap();
        let s = w.apply(&s, 0, w.sig(1, &v1)).unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        // node 2 joins: version 2 needs 0, 1 and 2
        let v2 = w.proposal(1, 2, &[0, 2]);
        let s = w.apply(&s, 0, ChannelEvent::Proposed(v2.clone())).unwrap();
        assert_eq!(s.status(), ChannelStatus::Active);
        assert_eq!(s.active.as_ref().unwrap().charter.version, 1);
        let s = w.apply(&s, 0, w.sig(0, &v2)).unwrap();
        let s = w.apply(&s, 0, w.sig(2, &v2)).unwrap();
        assert_eq!(s.active.as_ref().unwrap().charter.version, 2);
        assert!(s.pending.is_none());
        // node 1 is removed: version 3 without it, it does not need to sign
        let v3 = w.proposal(0, 3, &[2]);
        let s = w.apply(&s, 0, ChannelEvent::Proposed(v3.clone())).unwrap();
        let s = w.apply(&s, 0, w.sig(2, &v3)).unwrap();
        assert_eq!(s.active.as_ref().unwrap().charter.members.len(), 2);
        // a node that joins sees the channel first at version 2 and may sign it
        let joiner = w
            .apply(
                &ChannelState::default(),
                2,
                ChannelEvent::Proposed(w.proposal(0, 2, &[1, 2])),
            )
            .unwrap();
        assert_eq!(joiner.status(), ChannelStatus::Pending);
        // a version that skips ahead is refused
        let v9 = w.proposal(0, 9, &[2]);
        assert!(w.apply(&s, 0, ChannelEvent::Proposed(v9)).is_err());
        // a removed member cannot propose
        let v4 = w.proposal(1, 4, &[0, 2]);
        assert!(w.apply(&s, 0, ChannelEvent::Proposed(v4)).is_err());
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
