//! The holder: which watchlist files are exposed to which partner, the
//! keyed list built for each, and the blind evaluations it serves them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use tansiq_core::handling::{HandlingCode, Tlp};
use tansiq_core::policy::{self, Action, HitBudget, ReadScope, Refusal, Rule};
use tansiq_core::record::LinkType;
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_crypto::oprf::{self, OprfKey, ELEMENT_LEN};
use tansiq_crypto::{b64, b64_decode_array, sha256};
use tansiq_match::hitkeys::{self, HitKey, HitSubject, Side};
use tansiq_store::{HitAllowRow, HitBudgetRow, HitEntryHead, Tx};

use super::lock;
use super::wire::{
    encode_list, tag_of, ErrorResponse, EvaluateRequest, EvaluateResponse, ListHeader, ListRequest,
    Tag, MAX_ELEMENTS, REF_LEN, TAG_LEN,
};
use crate::channels::load_channel;
use crate::config::keys_dir;
use crate::error::{KeyError, NodeError, NodeResult, ServeError};
use crate::federation::now_ms;
use crate::node::Node;

/// Default hourly evaluation budget per partner (each name costs one
/// evaluation per match key).
pub const DEFAULT_HOURLY_EVALUATIONS: i64 = 250_000;
/// How stale the list digest in an evaluation answer may be.
const DIGEST_MAX_AGE: Duration = Duration::from_secs(5);
const SEED_FILE: &str = "hit.key";
const SEED_LABEL: &str = "tansiq-hit-seed-v1";
/// Meta keys: a partner's key generation, and the key id and fingerprint
/// of the last list built for it (to notice, after a restart, entries
/// that left while no list was in memory).
const GEN_META: &str = "hit_gen:";
const LAST_META: &str = "hit_last:";

/// The keys the holder keys for one entry: the union over the entry's
/// birth dates and nationalities (a list entry often has several).
fn entry_keys(
    names: Vec<String>,
    births: &[String],
    nats: &[String],
    docs: &[(String, Option<String>)],
) -> Vec<HitKey> {
    let births: Vec<Option<String>> = if births.is_empty() {
        vec![None]
    } else {
        births.iter().take(3).cloned().map(Some).collect()
    };
    let nats: Vec<Option<String>> = if nats.is_empty() {
        vec![None]
    } else {
        nats.iter().take(3).cloned().map(Some).collect()
    };
    // The primary date and nationality first: each `side_keys` call is
    // already capped (keeping its most useful keys), so the primary
    // subject's whole set goes in before any other combination's.
    let mut keys = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for b in &births {
        for n in &nats {
            let subject = HitSubject {
                names: names.clone(),
                birth_date: b.clone(),
                nationality: n.clone(),
                documents: docs.to_vec(),
            };
            for k in hitkeys::side_keys(&subject, Side::Entry) {
                if keys.len() < hitkeys::MAX_KEYS && seen.insert(k.bytes.clone()) {
                    keys.push(k);
                }
            }
        }
    }
    keys
}

fn entry_keys_of(data: &Value) -> Vec<HitKey> {
    let e = crate::watchlist::match_entry("", data);
    let docs: Vec<(String, Option<String>)> = e
        .documents
        .iter()
        .map(|d| (d.number.clone(), d.country.clone()))
        .collect();
    entry_keys(e.names, &e.birth_dates, &e.nationality, &docs)
}

impl ServeError {
    /// HTTP status and JSON body (docs/PROTOCOL.md, "Hit/no-hit queries").
    pub fn response(self) -> (u16, Vec<u8>) {
        let (key_id, rule) = match &self {
            ServeError::NotExposed => (None, Some(Rule::Exposure.name().into())),
            ServeError::Stale(k) => (Some(k.clone()), None),
            ServeError::Limited(r) => (None, Some(r.rule.name().into())),
            ServeError::Bad(_) | ServeError::Internal(_) => (None, None),
        };
        let e = NodeError::from(self);
        let body = ErrorResponse {
            error: e.public_message(),
            key_id,
            rule,
        };
        (e.status(), serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// One entry as keyed for one partner and period.
#[derive(Clone)]
struct KeyedEntry {
    version: i64,
    reference: [u8; REF_LEN],
    tags: Vec<Tag>,
}

/// A keyed list built for one partner.
pub struct BuiltList {
    pub key_id: String,
    /// Over the exposed entries' (id, version): unchanged ⇒ same list.
    fingerprint: [u8; 32],
    entries: BTreeMap<String, KeyedEntry>,
    pub body: Vec<u8>,
    pub digest: String,
}

/// An allowance as `query allowed` shows it.
pub type HitAllowView = HitAllowRow;

/// A user exposes (or withdraws) only files it is assigned to.
fn check_file(actor: &Actor, file: &str) -> NodeResult<()> {
    match actor {
        Actor::User(u) if !u.has_file(file) => Err(Refusal {
            rule: Rule::NeedToKnow,
            reason: format!("user {} is not assigned to file {file}", u.name),
        }
        .into()),
        _ => Ok(()),
    }
}

impl Node {
    /// The seed from `keys/hit.key` (created on first use), read once per
    /// process rather than on every partner request.
    pub(super) fn hit_seed(&self) -> NodeResult<[u8; 32]> {
        if let Some(s) = self.hits.seed.get() {
            return Ok(**s);
        }
        let s =
            tansiq_crypto::load_or_create_secret(&keys_dir(&self.dir).join(SEED_FILE), SEED_LABEL)
                .map_err(|e| KeyError::files("hit/no-hit key", e))?;
        Ok(**self.hits.seed.get_or_init(|| s))
    }

    /// The current key period for every partner: `{period}.{epoch}`
    /// where `period` counts `hit_period_secs` since the epoch and `epoch`
    /// counts forced rotations (`query rotate`).
    fn hit_period_id(&self, tx: &mut Tx) -> NodeResult<String> {
        let period = (now_ms() / 1000) / self.config.hit_period_secs.max(1);
        let epoch = tx.meta_get("hit_epoch")?.unwrap_or_else(|| "0".into());
        Ok(format!("{period}.{epoch}"))
    }

    /// `peer`'s key id: the period id, then `.{generation}` once entries
    /// have left what is exposed to `peer` (`rekey_peer`).
    pub(crate) fn hit_key_id(&self, tx: &mut Tx, peer: &str) -> NodeResult<String> {
        let base = self.hit_period_id(tx)?;
        Ok(match tx.meta_get(&format!("{GEN_META}{peer}"))? {
            Some(g) if g != "0" => format!("{base}.{g}"),
            _ => base,
        })
    }

    /// A new key for `peer` alone (same period): a keyed list it fetched
    /// earlier matches nothing its evaluations return from now on, so an
    /// entry that left its exposure stops answering at once, even in a
    /// copy a modified querier kept.
    fn rekey_peer(&self, tx: &mut Tx, peer: &str, why: &str) -> NodeResult<()> {
        let k = format!("{GEN_META}{peer}");
        let g: u64 = tx.meta_get(&k)?.and_then(|v| v.parse().ok()).unwrap_or(0);
        tx.meta_set(&k, &(g + 1).to_string())?;
        self.audit(
            tx,
            "node",
            "hit.rekey",
            peer,
            json!({"peer": peer, "why": why}),
        )?;
        Ok(())
    }

    fn hit_oprf_key(
        seed: &[u8; 32],
        holder: &str,
        querier: &str,
        key_id: &str,
    ) -> NodeResult<OprfKey> {
        let info = format!("tansiq-hit-v1\0{holder}\0{querier}\0{key_id}");
        OprfKey::derive(seed, info.as_bytes()).map_err(NodeError::internal)
    }

    pub(super) fn hit_ref(
        seed: &[u8; 32],
        querier: &str,
        key_id: &str,
        record: &str,
    ) -> [u8; REF_LEN] {
        oprf::reference(seed, format!("{querier}\0{key_id}\0{record}").as_bytes())
    }

    /// `query allow`: exposes file `file` of channel `channel` to `peer`'s
    /// hit/no-hit queries; `hourly` sets the partner's evaluation budget.
    pub fn query_allow(
        &self,
        actor: &Actor,
        peer: &str,
        channel: &str,
        file: &str,
        hourly: Option<i64>,
    ) -> NodeResult<()> {
        policy::authorize(actor, Action::ExposeList)?;
        check_file(actor, file)?;
        if let Some(h) = hourly {
            if !(1..=100_000_000).contains(&h) {
                return Err(NodeError::bad(
                    "--rate must be 1..100000000 evaluations an hour",
                ));
            }
        }
        self.commit(|tx, _| {
            if tx.peer(peer)?.is_none() {
                return Err(NodeError::bad(format!(
                    "{peer} is not a known peer (add its card with `tansiq peer add`)"
                )));
            }
            let st = load_channel(tx, channel)?;
            let charter = st
                .charter()
                .ok_or_else(|| NodeError::bad(format!("channel {channel} has no charter")))?;
            if !charter.members.iter().any(|m| m == self.id()) {
                return Err(NodeError::bad(format!(
                    "this node is not a member of channel {channel}"
                )));
            }
            if !charter.files.iter().any(|f| f == file) {
                return Err(NodeError::bad(format!(
                    "channel {channel} has no file {file} (its files: {})",
                    charter.files.join(", ")
                )));
            }
            // Create the seed before the first partner can ask (and only
            // once the exposure is known to be valid: a refused one leaves
            // the node directory as it was).
            self.hit_seed()?;
            let now = time::format(&time::now());
            tx.hit_allow(&HitAllowRow {
                peer: peer.into(),
                channel: channel.into(),
                file: file.into(),
                created_at: now,
            })?;
            let budget = tx.hit_budget(peer)?;
            if hourly.is_some() || budget.is_none() {
                let cap = hourly.unwrap_or(DEFAULT_HOURLY_EVALUATIONS);
                tx.put_hit_budget(&HitBudgetRow {
                    peer: peer.into(),
                    capacity: cap,
                    tokens: cap,
                    refilled_ms: now_ms() as i64,
                })?;
            }
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.allow",
                peer,
                json!({"peer": peer, "channel": channel, "file": file, "hourly": hourly}),
            )?;
            Ok::<_, NodeError>(())
        })
    }

    /// `query deny`: withdraws an exposure.
    pub fn query_deny(
        &self,
        actor: &Actor,
        peer: &str,
        channel: &str,
        file: &str,
    ) -> NodeResult<()> {
        policy::authorize(actor, Action::ExposeList)?;
        check_file(actor, file)?;
        self.commit(|tx, _| {
            if !tx.hit_deny(peer, channel, file)? {
                return Err(NodeError::NotFound(format!(
                    "file {file} of channel {channel} is not exposed to {peer}"
                )));
            }
            // The file's entries leave: other exposures may remain.
            self.rekey_peer(tx, peer, "exposure withdrawn")?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.deny",
                peer,
                json!({"peer": peer, "channel": channel, "file": file}),
            )?;
            Ok::<_, NodeError>(())
        })?;
        lock(&self.hits.lists).remove(peer);
        Ok(())
    }

    /// The exposures, for `query allowed`.
    pub fn query_allowed(&self, actor: &Actor) -> NodeResult<Vec<HitAllowView>> {
        policy::authorize(actor, Action::ExposeList)?;
        let mut rows = self.store.read(|tx| tx.hit_allowed(None))?;
        if let Actor::User(u) = actor {
            rows.retain(|r| u.has_file(&r.file));
        }
        Ok(rows)
    }

    /// `query rotate`: starts a new key period now, for every partner.
    /// Evaluations and references of the old period stop matching.
    pub fn query_rotate(&self, actor: &Actor) -> NodeResult<String> {
        policy::authorize(actor, Action::ExposeList)?;
        let id = self.commit(|tx, _| {
            let e: u64 = tx
                .meta_get("hit_epoch")?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            tx.meta_set("hit_epoch", &(e + 1).to_string())?;
            let id = self.hit_period_id(tx)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.rotate",
                &id,
                json!({"key_id": id}),
            )?;
            Ok::<_, NodeError>(id)
        })?;
        lock(&self.hits.lists).clear();
        Ok(id)
    }

    /// What is exposed to `peer` now, as (id, version) by id: the active
    /// persons and organizations of every (channel, file) allowed to it
    /// that the exposure rule (`policy::may_expose`) lets this node answer
    /// for; `None` when nothing is allowed to `peer`. The keyed list, the
    /// resolution of a follow-up request and its grant all go through
    /// here, so they agree; the list's fingerprint covers this set, so a
    /// change to it (a record retracted or remarked) rebuilds the list.
    pub(super) fn exposed_heads(
        &self,
        tx: &mut Tx,
        peer: &str,
    ) -> NodeResult<Option<BTreeMap<String, i64>>> {
        let allowed = tx.hit_allowed(Some(peer))?;
        if allowed.is_empty() {
            return Ok(None);
        }
        let mut heads = BTreeMap::new();
        for a in &allowed {
            for h in tx.hit_entry_heads(&a.channel, &a.file)? {
                if !heads.contains_key(&h.id) && self.exposable(tx, &h)? {
                    heads.insert(h.id, h.version);
                }
            }
        }
        Ok(Some(heads))
    }

    /// The exposure rule for one candidate; a marking the store cannot
    /// parse exposes nothing.
    fn exposable(&self, tx: &mut Tx, h: &HitEntryHead) -> NodeResult<bool> {
        let (Ok(tlp), Ok(code)) = (h.tlp.parse::<Tlp>(), h.code.parse::<HandlingCode>()) else {
            return Ok(false);
        };
        let derived = if h.derived {
            derived_originators(tx, &h.id)?
        } else {
            Some(vec![])
        };
        let candidate = policy::ExposeCandidate {
            id: &h.id,
            originator: &h.originator,
            tlp,
            code,
            derived_from: derived.as_deref(),
        };
        Ok(policy::may_expose(self.id(), &candidate).is_ok())
    }

    /// The keyed list for `peer` as it stands now (built or re-keyed as
    /// needed). Refused when nothing is exposed to `peer`.
    pub fn hit_list_for(&self, peer: &str) -> Result<Arc<BuiltList>, ServeError> {
        let (mut key_id, heads, last) = self
            .store
            .read(|tx| {
                let Some(heads) = self.exposed_heads(tx, peer)? else {
                    return Ok::<_, NodeError>(None);
                };
                let last = tx.meta_get(&format!("{LAST_META}{peer}"))?;
                Ok(Some((self.hit_key_id(tx, peer)?, heads, last)))
            })?
            .ok_or(ServeError::NotExposed)?;
        // After the exposure check: a partner without one creates nothing.
        let seed = self.hit_seed()?;
        let fingerprint_of = |key_id: &str| {
            let mut h = Vec::with_capacity(heads.len() * 40);
            h.extend_from_slice(key_id.as_bytes());
            for (id, v) in &heads {
                h.extend_from_slice(format!("\n{id}\0{v}").as_bytes());
            }
            sha256(&h)
        };
        let mut fingerprint = fingerprint_of(&key_id);
        let prev = lock(&self.hits.lists).get(peer).map(|p| p.0.clone());
        if prev.as_ref().is_some_and(|p| p.fingerprint == fingerprint) {
            let p = prev.expect("checked");
            lock(&self.hits.lists).insert(peer.to_string(), (p.clone(), std::time::Instant::now()));
            return Ok(p);
        }
        // Did an entry leave (or change) since the last list under this
        // key? With that list in memory, compare entries; otherwise the
        // last fingerprint stored: any change under the same key, or no
        // record of a list at all (the first list since this rule), counts.
        let left = match prev.as_ref().filter(|p| p.key_id == key_id) {
            Some(p) => p
                .entries
                .iter()
                .any(|(id, e)| heads.get(id) != Some(&e.version)),
            None => match last.as_deref().and_then(|l| l.split_once(' ')) {
                Some((k, fp)) if k == key_id => fp != hex::encode(fingerprint),
                Some(_) => false,
                None => true,
            },
        };
        if left {
            let seen = key_id.clone();
            key_id = self.commit(|tx, _| {
                // Once, however many requests noticed it at the same time.
                if self.hit_key_id(tx, peer)? == seen {
                    self.rekey_peer(tx, peer, "entries left the exposed set")?;
                }
                self.hit_key_id(tx, peer)
            })?;
            fingerprint = fingerprint_of(&key_id);
        }
        let built =
            Arc::new(self.build_list(&seed, peer, &key_id, heads, fingerprint, prev.as_deref())?);
        let last = format!("{key_id} {}", hex::encode(fingerprint));
        self.note(|tx| Ok(tx.meta_set(&format!("{LAST_META}{peer}"), &last)?))?;
        lock(&self.hits.lists).insert(peer.to_string(), (built.clone(), std::time::Instant::now()));
        Ok(built)
    }

    fn build_list(
        &self,
        seed: &[u8; 32],
        peer: &str,
        key_id: &str,
        heads: BTreeMap<String, i64>,
        fingerprint: [u8; 32],
        prev: Option<&BuiltList>,
    ) -> NodeResult<BuiltList> {
        let key = Self::hit_oprf_key(seed, self.id(), peer, key_id)?;
        let reuse = prev.filter(|p| p.key_id == key_id);
        let mut entries: BTreeMap<String, KeyedEntry> = BTreeMap::new();
        let mut missing = Vec::new();
        for (id, v) in heads {
            match reuse
                .and_then(|p| p.entries.get(&id))
                .filter(|e| e.version == v)
            {
                Some(e) => {
                    entries.insert(id, e.clone());
                }
                None => missing.push(id),
            }
        }
        let bodies: Vec<(String, i64, Value)> = self.store.read(|tx| {
            let mut out = Vec::with_capacity(missing.len());
            for id in &missing {
                if let Some(r) = tx.record(id, &ReadScope::everything())? {
                    if let Some(s) = r.signed {
                        out.push((r.id, s.body.version as i64, s.body.data));
                    }
                }
            }
            Ok::<_, NodeError>(out)
        })?;
        let keyed = crate::par::par_map(bodies, |(id, version, data)| {
            let tags: Vec<Tag> = entry_keys_of(&data)
                .iter()
                .filter_map(|k| key.evaluate(&k.bytes).ok())
                .map(|o| tag_of(&o))
                .collect();
            let reference = Self::hit_ref(seed, peer, key_id, &id);
            (
                id,
                KeyedEntry {
                    version,
                    reference,
                    tags,
                },
            )
        });
        entries.extend(keyed);
        let header = ListHeader {
            holder: self.id().to_string(),
            querier: peer.to_string(),
            key_id: key_id.to_string(),
            public_key: b64(key.public_key()),
            entries: entries.len() as u64,
            tag_len: TAG_LEN as u32,
        };
        let flat: Vec<([u8; REF_LEN], Vec<Tag>)> = entries
            .values()
            .map(|e| (e.reference, e.tags.clone()))
            .collect();
        let body = encode_list(&header, &flat);
        let digest = hex::encode(sha256(&body));
        Ok(BuiltList {
            key_id: key_id.to_string(),
            fingerprint,
            entries,
            body,
            digest,
        })
    }

    /// Serves `POST /peer/v1/hit/list` for `peer`: the list, or `None`
    /// when the partner already holds this one.
    pub fn hit_serve_list(
        &self,
        peer: &str,
        req: &[u8],
    ) -> Result<Option<Arc<BuiltList>>, ServeError> {
        let req: ListRequest = serde_json::from_slice(req)
            .map_err(|e| ServeError::Bad(format!("list request: {e}")))?;
        let list = self.hit_list_for(peer)?;
        self.note(|tx| {
            self.audit(
                tx,
                &format!("node:{peer}"),
                "hit.list",
                peer,
                json!({"peer": peer, "key_id": list.key_id, "entries": list.entries.len()}),
            )
        })?;
        Ok((req.have.as_deref() != Some(list.digest.as_str())).then_some(list))
    }

    /// Serves `POST /peer/v1/hit/evaluate` for `peer`: rations, audits
    /// (counts only), evaluates blind.
    pub fn hit_serve_evaluate(
        &self,
        peer: &str,
        req: &[u8],
    ) -> Result<EvaluateResponse, ServeError> {
        let req: EvaluateRequest = serde_json::from_slice(req)
            .map_err(|e| ServeError::Bad(format!("evaluate request: {e}")))?;
        if req.elements.is_empty() || req.elements.len() > MAX_ELEMENTS {
            return Err(ServeError::Bad(format!(
                "a request holds 1..{MAX_ELEMENTS} elements"
            )));
        }
        let elements = req
            .elements
            .iter()
            .map(|e| b64_decode_array::<ELEMENT_LEN>(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ServeError::Bad("an element is not 32 base64url bytes".into()))?;
        if !elements.iter().all(oprf::is_valid_element) {
            return Err(ServeError::Bad(
                "an element is not a valid group element".into(),
            ));
        }
        let n = elements.len() as i64;
        let now = now_ms() as i64;
        // The list as it stands (a check a few seconds old will do: the
        // entries cost a scan), before the key check: an entry that left
        // the exposure re-keys the partner, and an evaluation under the
        // old key is then refused as stale.
        let fresh = lock(&self.hits.lists)
            .get(peer)
            .filter(|(_, at)| at.elapsed() < DIGEST_MAX_AGE)
            .map(|(l, _)| l.clone());
        let list = match fresh {
            Some(l) => l,
            None => self.hit_list_for(peer)?,
        };
        let outcome = self.note(|tx| {
            if tx.hit_allowed(Some(peer))?.is_empty() {
                return Ok::<_, NodeError>(Err(ServeError::NotExposed));
            }
            let key_id = self.hit_key_id(tx, peer)?;
            if req.key_id != key_id {
                return Ok(Err(ServeError::Stale(key_id)));
            }
            let b = tx.hit_budget(peer)?.unwrap_or(HitBudgetRow {
                peer: peer.into(),
                capacity: DEFAULT_HOURLY_EVALUATIONS,
                tokens: DEFAULT_HOURLY_EVALUATIONS,
                refilled_ms: now,
            });
            let budget = HitBudget {
                capacity: b.capacity,
                tokens: b.tokens,
                refilled_ms: b.refilled_ms,
            };
            match policy::hit_budget_take(budget, now, n) {
                Ok(nb) => {
                    tx.put_hit_budget(&HitBudgetRow {
                        peer: peer.into(),
                        capacity: nb.capacity,
                        tokens: nb.tokens,
                        refilled_ms: nb.refilled_ms,
                    })?;
                    self.audit(
                        tx,
                        &format!("node:{peer}"),
                        "hit.evaluate",
                        peer,
                        json!({"peer": peer, "key_id": key_id, "count": n}),
                    )?;
                    Ok(Ok(key_id))
                }
                Err(r) => {
                    self.audit(
                        tx,
                        &format!("node:{peer}"),
                        "hit.evaluate.refused",
                        peer,
                        json!({"peer": peer, "key_id": key_id, "count": n, "rule": r.rule.name()}),
                    )?;
                    Ok(Err(ServeError::Limited(r)))
                }
            }
        })?;
        let key_id = outcome?;
        let seed = self.hit_seed()?;
        let key = Self::hit_oprf_key(&seed, self.id(), peer, &key_id)?;
        let (evaluated, proof) = key
            .blind_evaluate(&elements)
            .map_err(|_| ServeError::Bad("an element is not a valid group element".into()))?;
        // The digest lets the querier notice a changed list.
        let list = if list.key_id == key_id {
            list
        } else {
            self.hit_list_for(peer)?
        };
        Ok(EvaluateResponse {
            key_id,
            evaluated: evaluated.iter().map(b64).collect(),
            proof: b64(proof),
            list_digest: list.digest.clone(),
        })
    }
}

/// Most records walked to trace what one exposed record derives from;
/// a longer chain is not traced, and the record is not exposed.
const MAX_DERIVED_WALK: usize = 256;

/// The originators of everything `id` is derived from, transitively, as
/// this node holds them; `None` when the chain cannot be followed to its
/// end (a source not held, a purged source whose links are gone, or more
/// than `MAX_DERIVED_WALK` records).
fn derived_originators(tx: &mut Tx, id: &str) -> NodeResult<Option<Vec<String>>> {
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut todo = vec![id.to_string()];
    let mut origs = Vec::new();
    seen.insert(id.to_string());
    while let Some(cur) = todo.pop() {
        let Some(rec) = tx.record(&cur, &ReadScope::everything())? else {
            return Ok(None);
        };
        if cur != id {
            origs.push(rec.originator.clone());
        }
        let Some(signed) = rec.signed else {
            return Ok(None);
        };
        for l in &signed.body.links {
            if l.rel == LinkType::DerivedFrom && seen.insert(l.target.clone()) {
                if seen.len() > MAX_DERIVED_WALK {
                    return Ok(None);
                }
                todo.push(l.target.clone());
            }
        }
    }
    Ok(Some(origs))
}
