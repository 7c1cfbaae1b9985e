//! Private hit/no-hit queries (docs/PROTOCOL.md, "Hit/no-hit queries";
//! what still leaks: docs/PRIVACY.md).
//!
//! The holder exposes some of its watchlist files to a partner. For that
//! partner and the current period it keys every match key of every
//! exposed entry with its OPRF key and hands the partner the keyed list
//! (opaque references and 16-byte tags; never a name). The querier derives
//! the match keys of its own subject, has them evaluated blind, and
//! compares: an entry sharing at least `t` keys is a hit. The holder sees
//! only how many evaluations arrive, rations them, and audits them; the
//! querier can test a name only by asking.
//!
//! A hit's reference opens a follow-up request, carried over the pairwise
//! control channel; the holder's officer grants (the record is shared into
//! a channel both belong to, under the third-party rule) or refuses.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use tansiq_core::handling::{HandlingCode, Tlp};
use tansiq_core::ids::{new_id, REQUEST_PREFIX};
use tansiq_core::policy::{self, Action, HitBudget, ReadScope, Refusal, Rule};
use tansiq_core::record::LinkType;
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_crypto::oprf::{self, OprfKey, ELEMENT_LEN, PROOF_LEN};
use tansiq_crypto::{b64, b64_decode_array, sha256};
use tansiq_match::hitkeys::{self, HitKey, HitSubject, Side};
use tansiq_store::{HitAllowRow, HitBudgetRow, HitEntryHead, HitListRow, HitRequestRow, Tx};
use tansiq_sync::Precedence;

use crate::card::NodeCard;
use crate::channels::load_channel;
use crate::config::keys_dir;
use crate::error::{KeyError, NodeError, NodeResult, PeerError};
use crate::federation::{now_ms, Payload};
use crate::node::Node;
use crate::transport::{PeerClient, PeerSet, TlsIdentity};

/// Where a partner fetches the keyed list exposed to it.
pub const HIT_LIST_PATH: &str = "/peer/v1/hit/list";
/// Where a partner has its blinded keys evaluated.
pub const HIT_EVALUATE_PATH: &str = "/peer/v1/hit/evaluate";
/// Bytes of an entry tag: the first bytes of the OPRF output.
pub const TAG_LEN: usize = 16;
/// Bytes of an entry reference.
pub const REF_LEN: usize = 16;
/// Most blinded elements in one evaluation request.
pub const MAX_ELEMENTS: usize = 4096;
/// Default hourly evaluation budget per partner (each name costs one
/// evaluation per match key).
pub const DEFAULT_HOURLY_EVALUATIONS: i64 = 250_000;
/// Most entries a keyed list may announce (a bound for the parser).
const MAX_LIST_ENTRIES: usize = 20_000_000;
/// How stale the list digest in an evaluation answer may be.
const DIGEST_MAX_AGE: Duration = Duration::from_secs(5);
const LIST_MAGIC: &[u8; 8] = b"TQHITL1\n";
const SEED_FILE: &str = "hit.key";
const SEED_LABEL: &str = "tansiq-hit-seed-v1";
/// Meta keys: a partner's key generation, and the key id and fingerprint
/// of the last list built for it (to notice, after a restart, entries
/// that left while no list was in memory).
const GEN_META: &str = "hit_gen:";
const LAST_META: &str = "hit_last:";

type Tag = [u8; TAG_LEN];

fn tag_of(out: &oprf::Output) -> Tag {
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&out[..TAG_LEN]);
    t
}

/// The keys the querier asks about for one subject.
pub fn query_keys(s: &HitSubject) -> Vec<HitKey> {
    hitkeys::side_keys(s, Side::Query)
}

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

// ---------------------------------------------------------------------
// Wire forms

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// The digest of the list the querier holds, if any.
    #[serde(default)]
    pub have: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    pub key_id: String,
    pub elements: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateResponse {
    pub key_id: String,
    pub evaluated: Vec<String>,
    pub proof: String,
    /// The digest of the keyed list as it stands now.
    pub list_digest: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// Why the holder did not answer a partner. Its HTTP status and the
/// message the partner reads are decided with every other error's, in
/// `error.rs` (through `NodeError::Hit`).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Malformed request (400).
    #[error("{0}")]
    Bad(String),
    /// No file is exposed to this partner (403).
    #[error("no watchlist file is exposed to your node")]
    NotExposed,
    /// The request names another key period (409).
    #[error("the key period changed; fetch the keyed list again")]
    Stale(String),
    /// The partner's budget is spent (429).
    #[error("{0}")]
    Limited(Refusal),
    /// Our own failure (500); not detailed to the partner.
    #[error("{0}")]
    Internal(NodeError),
}

impl From<NodeError> for ServeError {
    fn from(e: NodeError) -> Self {
        ServeError::Internal(e)
    }
}

impl From<tansiq_store::StoreError> for ServeError {
    fn from(e: tansiq_store::StoreError) -> Self {
        ServeError::Internal(e.into())
    }
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

/// A keyed list: header and entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListHeader {
    pub holder: String,
    pub querier: String,
    pub key_id: String,
    /// The OPRF public key evaluations are proven against (base64url).
    pub public_key: String,
    pub entries: u64,
    pub tag_len: u32,
}

/// A parsed keyed list: entries and their tags, flat (matching scans
/// the tags once against the query's, which beats building a map of a
/// million tags for a handful of queries).
#[derive(Debug, Clone)]
pub struct KeyedList {
    pub header: ListHeader,
    pub public_key: [u8; ELEMENT_LEN],
    pub refs: Vec<[u8; REF_LEN]>,
    /// Entry `i`'s tags are `tags[starts[i]..starts[i + 1]]`.
    starts: Vec<u32>,
    tags: Vec<Tag>,
    pub digest: String,
    /// (tag, entry) sorted, built when a list kept in memory is used
    /// again: each query tag is then a binary search.
    index: std::sync::OnceLock<Vec<(Tag, u32)>>,
}

impl KeyedList {
    /// The tags of entry `i`.
    pub fn entry_tags(&self, i: usize) -> &[Tag] {
        &self.tags[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn sorted_index(&self) -> &[(Tag, u32)] {
        self.index.get_or_init(|| {
            let mut v = Vec::with_capacity(self.tags.len());
            for e in 0..self.refs.len() {
                v.extend(self.entry_tags(e).iter().map(|t| (*t, e as u32)));
            }
            v.sort_unstable();
            v.dedup();
            v
        })
    }

    /// The entries carrying `t`, through the sorted index.
    fn entries_with<'a>(&'a self, t: &'a Tag) -> impl Iterator<Item = u32> + 'a {
        let idx = self.sorted_index();
        let start = idx.partition_point(|(x, _)| x < t);
        idx[start..]
            .iter()
            .take_while(move |(x, _)| x == t)
            .map(|(_, e)| *e)
    }

    /// Whether any entry carries `t`.
    pub fn has_tag(&self, t: &[u8; TAG_LEN]) -> bool {
        self.tags.iter().any(|x| x == t)
    }
}

fn encode_list(header: &ListHeader, entries: &[([u8; REF_LEN], Vec<Tag>)]) -> Vec<u8> {
    let h = serde_json::to_vec(header).expect("header serialises");
    let tags: usize = entries.iter().map(|e| e.1.len()).sum();
    let mut out = Vec::with_capacity(12 + h.len() + entries.len() * (REF_LEN + 2) + tags * TAG_LEN);
    out.extend_from_slice(LIST_MAGIC);
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    out.extend_from_slice(&h);
    for (r, t) in entries {
        out.extend_from_slice(r);
        out.extend_from_slice(&(t.len() as u16).to_be_bytes());
        for x in t {
            out.extend_from_slice(x);
        }
    }
    out
}

/// Parses a keyed list from a holder; never panics on any input.
pub fn parse_list(bytes: &[u8]) -> Result<KeyedList, String> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if b.len() < n {
            return Err("keyed list truncated".into());
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Ok(h)
    }
    let mut b = bytes;
    if take(&mut b, 8)? != LIST_MAGIC {
        return Err("not a Tansiq keyed list".into());
    }
    let hl = u32::from_be_bytes(take(&mut b, 4)?.try_into().expect("4 bytes")) as usize;
    if hl > 64 * 1024 {
        return Err("keyed list header too large".into());
    }
    let header: ListHeader =
        serde_json::from_slice(take(&mut b, hl)?).map_err(|e| format!("keyed list header: {e}"))?;
    if header.tag_len as usize != TAG_LEN {
        return Err(format!(
            "keyed list tag length {} (expected {TAG_LEN})",
            header.tag_len
        ));
    }
    let n = usize::try_from(header.entries).unwrap_or(usize::MAX);
    if n > MAX_LIST_ENTRIES || n.saturating_mul(REF_LEN + 2) > b.len() {
        return Err("keyed list entry count does not match its size".into());
    }
    let public_key = b64_decode_array::<ELEMENT_LEN>(&header.public_key)
        .map_err(|_| "keyed list public key is not 32 base64url bytes".to_string())?;
    let mut refs = Vec::with_capacity(n);
    let mut starts = Vec::with_capacity(n + 1);
    let mut tags: Vec<Tag> = Vec::with_capacity(b.len() / TAG_LEN);
    starts.push(0u32);
    for _ in 0..n {
        let r: [u8; REF_LEN] = take(&mut b, REF_LEN)?.try_into().expect("REF_LEN bytes");
        let c = u16::from_be_bytes(take(&mut b, 2)?.try_into().expect("2 bytes")) as usize;
        let t = take(&mut b, c * TAG_LEN)?;
        tags.extend(
            t.chunks_exact(TAG_LEN)
                .map(|x| <Tag>::try_from(x).expect("TAG_LEN bytes")),
        );
        refs.push(r);
        starts.push(u32::try_from(tags.len()).map_err(|_| "keyed list too large".to_string())?);
    }
    if !b.is_empty() {
        return Err("keyed list has trailing bytes".into());
    }
    Ok(KeyedList {
        header,
        public_key,
        refs,
        starts,
        tags,
        digest: hex::encode(sha256(bytes)),
        index: std::sync::OnceLock::new(),
    })
}

/// The user-facing reference of a hit: the key period and the opaque
/// entry reference.
fn reference_string(key_id: &str, r: &[u8; REF_LEN]) -> String {
    format!("{key_id}:{}", hex::encode(r))
}

fn parse_reference(s: &str) -> Option<(&str, [u8; REF_LEN])> {
    let (k, h) = s.split_once(':')?;
    if k.is_empty() || k.len() > 40 || !k.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let r: [u8; REF_LEN] = hex::decode(h).ok()?.try_into().ok()?;
    Some((k, r))
}

// ---------------------------------------------------------------------
// Holder side

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

/// Keyed lists by partner, reused while the exposed entries and the
/// period are unchanged, and re-keyed incrementally when entries change.
#[derive(Default)]
pub struct HitCache {
    /// By partner: the list and when its entries were last checked.
    lists: Mutex<HashMap<String, (Arc<BuiltList>, std::time::Instant)>>,
    /// Querier side, by holder: the keyed list last used, so a serving
    /// node or a long-lived client neither re-reads nor re-parses it.
    fetched: Mutex<HashMap<String, Arc<KeyedList>>>,
    /// The holder's seed (`keys/hit.key`), once read.
    seed: std::sync::OnceLock<zeroize::Zeroizing<[u8; 32]>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a follow-up request looks like to the CLI (`requests --json`).
#[derive(Debug, Clone, Serialize)]
pub struct HitRequestView {
    pub id: String,
    pub direction: String,
    pub peer: String,
    pub reference: String,
    pub status: String,
    pub channel: String,
    /// Holder side: the record the reference resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

/// An allowance as `query allowed` shows it.
pub type HitAllowView = HitAllowRow;

impl Node {
    /// The seed from `keys/hit.key` (created on first use), read once per
    /// process rather than on every partner request.
    fn hit_seed(&self) -> NodeResult<[u8; 32]> {
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

    fn hit_ref(seed: &[u8; 32], querier: &str, key_id: &str, record: &str) -> [u8; REF_LEN] {
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
        if let Some(h) = hourly {
            if !(1..=100_000_000).contains(&h) {
                return Err(NodeError::bad(
                    "--rate must be 1..100000000 evaluations an hour",
                ));
            }
        }
        // Create the seed before the first partner can ask.
        self.hit_seed()?;
        self.store.write(|tx| {
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
            self.checkpoint_in(tx)?;
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
        self.store.write(|tx| {
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
            self.checkpoint_in(tx)?;
            Ok::<_, NodeError>(())
        })?;
        lock(&self.hits.lists).remove(peer);
        Ok(())
    }

    /// The exposures, for `query allowed`.
    pub fn query_allowed(&self, actor: &Actor) -> NodeResult<Vec<HitAllowView>> {
        policy::authorize(actor, Action::ExposeList)?;
        Ok(self.store.read(|tx| tx.hit_allowed(None))?)
    }

    /// `query rotate`: starts a new key period now, for every partner.
    /// Evaluations and references of the old period stop matching.
    pub fn query_rotate(&self, actor: &Actor) -> NodeResult<String> {
        policy::authorize(actor, Action::ExposeList)?;
        let id = self.store.write(|tx| {
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
            self.checkpoint_in(tx)?;
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
    fn exposed_heads(&self, tx: &mut Tx, peer: &str) -> NodeResult<Option<BTreeMap<String, i64>>> {
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
        let seed = self.hit_seed()?;
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
            key_id = self.store.write(|tx| {
                // Once, however many requests noticed it at the same time.
                if self.hit_key_id(tx, peer)? == seen {
                    self.rekey_peer(tx, peer, "entries left the exposed set")?;
                    self.checkpoint_in(tx)?;
                }
                self.hit_key_id(tx, peer)
            })?;
            fingerprint = fingerprint_of(&key_id);
        }
        let built =
            Arc::new(self.build_list(&seed, peer, &key_id, heads, fingerprint, prev.as_deref())?);
        let last = format!("{key_id} {}", hex::encode(fingerprint));
        self.store
            .write_relaxed(|tx| tx.meta_set(&format!("{LAST_META}{peer}"), &last))?;
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
        let keyed = crate::records::par_map(bodies, |(id, version, data)| {
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
        self.store.write_relaxed(|tx| {
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
        let seed = self.hit_seed()?;
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
        let outcome = self.store.write_relaxed(|tx| {
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

// ---------------------------------------------------------------------
// Querier side

/// One subject to ask about.
#[derive(Debug, Clone)]
pub struct HitQuery {
    pub id: String,
    pub subject: HitSubject,
}

/// The answer for one subject.
#[derive(Debug, Clone, Serialize)]
pub struct HitAnswer {
    pub query_id: String,
    pub hit: bool,
    pub reference: Option<String>,
    /// How many of the subject's keys the best entry shares.
    pub shared: usize,
    /// The kinds of the shared keys (visible to the querier by design).
    pub kinds: Vec<&'static str>,
}

/// What a querier learns from a holder, per subject: (shared keys of
/// the best entry, that entry if it is a hit, the kinds shared).
fn match_subjects(
    list: &KeyedList,
    keys: &[Vec<HitKey>],
    outputs: &[Tag],
    indexed: bool,
) -> Vec<(usize, Option<u32>, Vec<&'static str>)> {
    // Query tag → (subject, key index); one pass over the list's tags.
    let mut want: HashMap<&Tag, Vec<(u32, u32)>> = HashMap::with_capacity(outputs.len());
    let mut at = 0;
    for (qi, ks) in keys.iter().enumerate() {
        for ki in 0..ks.len() {
            want.entry(&outputs[at + ki])
                .or_default()
                .push((qi as u32, ki as u32));
        }
        at += ks.len();
    }
    // Per subject: entry → the subject's keys it carries.
    let mut found: Vec<HashMap<u32, Vec<u32>>> = vec![HashMap::new(); keys.len()];
    let mut note = |e: u32, ws: &[(u32, u32)]| {
        for (qi, ki) in ws {
            let v = found[*qi as usize].entry(e).or_default();
            // A tag listed twice for one entry counts once.
            if !v.contains(ki) {
                v.push(*ki);
            }
        }
    };
    if indexed {
        for (t, ws) in &want {
            for e in list.entries_with(t) {
                note(e, ws);
            }
        }
    } else {
        // Without an index, one pass over the list's tags.
        for e in 0..list.refs.len() {
            for t in list.entry_tags(e) {
                if let Some(ws) = want.get(t) {
                    note(e as u32, ws);
                }
            }
        }
    }
    found
        .into_iter()
        .zip(keys)
        .map(|(m, ks)| {
            // The entry sharing the most keys; ties to the lowest index,
            // so the answer does not depend on hash order.
            let best = m
                .into_iter()
                .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(&a.0)));
            match best {
                Some((e, idx)) if idx.len() >= hitkeys::DEFAULT_MIN_SHARED => {
                    let mut kinds: Vec<&'static str> =
                        idx.iter().map(|i| ks[*i as usize].kind.as_str()).collect();
                    kinds.sort();
                    kinds.dedup();
                    (idx.len(), Some(e), kinds)
                }
                Some((_, idx)) => (idx.len(), None, vec![]),
                None => (0, None, vec![]),
            }
        })
        .collect()
}

fn remote_error(peer: &str, status: u16, body: &[u8]) -> NodeError {
    let e: Option<ErrorResponse> = serde_json::from_slice(body).ok();
    let msg = e.as_ref().map(|e| e.error.clone()).unwrap_or_default();
    match status {
        403 => NodeError::Refused(Refusal {
            rule: Rule::Exposure,
            reason: format!("{peer} exposes no watchlist file to this node ({msg})"),
        }),
        429 => NodeError::Refused(Refusal {
            rule: Rule::RateLimit,
            reason: format!("{peer} refused the evaluations: {msg}"),
        }),
        400 => PeerError::Rejected {
            peer: peer.to_string(),
            msg,
        }
        .into(),
        status => PeerError::Status {
            peer: peer.to_string(),
            status,
        }
        .into(),
    }
}

fn no_list(peer: &str) -> NodeError {
    PeerError::Sent {
        peer: peer.to_string(),
        what: "no keyed list",
    }
    .into()
}

/// Talks to one holder.
struct Holder {
    id: String,
    endpoint: String,
    key: [u8; 32],
    client: PeerClient,
}

impl Holder {
    fn new(node: &Node, peer: &str) -> NodeResult<Holder> {
        let p = node
            .store
            .read(|tx| tx.peer(peer))?
            .ok_or_else(|| NodeError::bad(format!("{peer} is not a known peer")))?;
        let card: NodeCard =
            serde_json::from_str(&p.card).map_err(|e| PeerError::Card(e.to_string()))?;
        let key = card.signing_key()?;
        let me = TlsIdentity::from_identity_as(&node.identity, node.id())
            .map_err(NodeError::internal)?;
        let set = PeerSet::new();
        set.insert_as(key, peer);
        let client = PeerClient::new(&me, Arc::new(set))
            .map_err(NodeError::internal)?
            .with_timeouts(Duration::from_secs(10), Duration::from_secs(300))
            .with_max_response_bytes(1 << 30);
        Ok(Holder {
            id: peer.to_string(),
            endpoint: p.endpoint,
            key,
            client,
        })
    }

    async fn post(&self, path: &str, body: Vec<u8>) -> NodeResult<(u16, Vec<u8>)> {
        self.client
            .post_with_type(&self.endpoint, &self.key, path, "application/json", body)
            .await
            .map_err(|e| {
                PeerError::Unreachable {
                    peer: self.id.clone(),
                    what: "hit/no-hit queries",
                    detail: e.to_string(),
                }
                .into()
            })
    }

    /// The holder's current list, or `None` if `have` is current.
    async fn fetch_list(
        &self,
        node: &Node,
        have: Option<&str>,
    ) -> NodeResult<Option<(KeyedList, Vec<u8>)>> {
        let body = serde_json::to_vec(&ListRequest {
            have: have.map(str::to_string),
        })
        .expect("serialises");
        let (status, resp) = self.post(HIT_LIST_PATH, body).await?;
        match status {
            204 => Ok(None),
            200 => {
                let list = parse_list(&resp).map_err(|what| PeerError::BadAnswer {
                    peer: self.id.clone(),
                    what,
                })?;
                if list.header.holder != self.id || list.header.querier != node.id() {
                    return Err(PeerError::Sent {
                        peer: self.id.clone(),
                        what: "a keyed list addressed elsewhere",
                    }
                    .into());
                }
                Ok(Some((list, resp)))
            }
            s => Err(remote_error(&self.id, s, &resp)),
        }
    }
}

/// Elements per evaluation request from this client: small enough that
/// two requests in flight keep both sides' cores busy.
const CLIENT_CHUNK: usize = 1024;

enum Evaluated {
    /// Tags in input order, and the holder's latest list digest.
    Done(Vec<Tag>, String),
    /// The holder's key period is not the list's.
    Stale,
}

/// Blinds, has evaluated and unblinds every input, two requests in flight
/// (blinding and unblinding on blocking threads, so they overlap the
/// holder's work on the other request).
async fn evaluate_all(
    holder: &Arc<Holder>,
    list: &KeyedList,
    inputs: &Arc<Vec<Vec<u8>>>,
) -> NodeResult<Evaluated> {
    let n_chunks = inputs.len().div_ceil(CLIENT_CHUNK);
    let gate = Arc::new(tokio::sync::Semaphore::new(2));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..n_chunks {
        let (holder, inputs, gate) = (holder.clone(), inputs.clone(), gate.clone());
        let key_id = list.header.key_id.clone();
        let pk = list.public_key;
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.expect("never closed");
            let range = c * CLIENT_CHUNK..((c + 1) * CLIENT_CHUNK).min(inputs.len());
            let peer = holder.id.clone();
            let (ins, r2) = (inputs.clone(), range.clone());
            let blinded = tokio::task::spawn_blocking(move || oprf::blind(&ins[r2]))
                .await
                .map_err(NodeError::internal)?
                .map_err(NodeError::internal)?;
            let req = EvaluateRequest {
                key_id: key_id.clone(),
                elements: blinded.elements.iter().map(b64).collect(),
            };
            let (status, resp) = holder
                .post(
                    HIT_EVALUATE_PATH,
                    serde_json::to_vec(&req).expect("serialises"),
                )
                .await?;
            if status == 409 {
                return Ok::<_, NodeError>((c, None));
            }
            if status != 200 {
                return Err(remote_error(&peer, status, &resp));
            }
            let bad = move |what: &str| {
                NodeError::from(PeerError::BadAnswer {
                    peer: peer.clone(),
                    what: format!("evaluate response: {what}"),
                })
            };
            let r: EvaluateResponse =
                serde_json::from_slice(&resp).map_err(|e| bad(&e.to_string()))?;
            if r.key_id != key_id {
                return Err(bad("answered under another key period"));
            }
            let evaluated = r
                .evaluated
                .iter()
                .map(|e| b64_decode_array::<ELEMENT_LEN>(e))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("an element is not 32 bytes"))?;
            let proof =
                b64_decode_array::<PROOF_LEN>(&r.proof).map_err(|_| bad("bad proof encoding"))?;
            // The proof binds the answers to the key the list was made
            // with: a holder cannot answer one query under another key.
            let outs = tokio::task::spawn_blocking(move || {
                oprf::finalize(&blinded, &inputs[range], &evaluated, &proof, &pk)
            })
            .await
            .map_err(NodeError::internal)?
            .map_err(|_| bad("the evaluation proof does not verify against the list's key"))?;
            let tags: Vec<Tag> = outs.iter().map(tag_of).collect();
            Ok((c, Some((tags, r.list_digest))))
        });
    }
    let mut parts: Vec<Option<(Vec<Tag>, String)>> = vec![None; n_chunks];
    let mut stale = false;
    while let Some(r) = tasks.join_next().await {
        let (c, part) = r.map_err(NodeError::internal)??;
        match part {
            Some(p) => parts[c] = Some(p),
            None => stale = true,
        }
    }
    if stale {
        return Ok(Evaluated::Stale);
    }
    let mut tags = Vec::with_capacity(inputs.len());
    let mut digest = list.digest.clone();
    for p in parts.into_iter().flatten() {
        tags.extend(p.0);
        digest = p.1;
    }
    Ok(Evaluated::Done(tags, digest))
}

/// Runs `f` on a blocking thread (store calls block).
async fn blocking<T: Send + 'static>(
    node: &Arc<Node>,
    f: impl FnOnce(&Node) -> NodeResult<T> + Send + 'static,
) -> NodeResult<T> {
    let n = node.clone();
    tokio::task::spawn_blocking(move || f(&n))
        .await
        .map_err(NodeError::internal)?
}

/// Asks `peer` about each subject: blinded keys evaluated by the holder,
/// compared against its keyed list. One command; one audit entry.
pub async fn hit_query(
    node: Arc<Node>,
    actor: &Actor,
    peer: &str,
    queries: &[HitQuery],
) -> NodeResult<Vec<HitAnswer>> {
    policy::authorize(actor, Action::QueryPartner)?;
    if queries.is_empty() {
        return Ok(vec![]);
    }
    // Store calls block (the PostgreSQL client drives its own runtime),
    // so they run on blocking threads, never in the async context.
    let holder = blocking(&node, {
        let peer = peer.to_string();
        move |n| Holder::new(n, &peer)
    })
    .await?;
    let mut fetched: Option<Vec<u8>> = None;
    let in_memory = lock(&node.hits.fetched).get(peer).cloned();
    let mut indexed = in_memory.is_some();
    let mut list: Arc<KeyedList> = match in_memory {
        Some(l) => l,
        None => {
            let cached = blocking(&node, {
                let peer = peer.to_string();
                move |n| Ok(n.store.read(|tx| tx.hit_list(&peer))?)
            })
            .await?;
            match cached.as_ref().map(|c| parse_list(&c.body)) {
                Some(Ok(l)) => Arc::new(l),
                _ => {
                    let (l, raw) = holder
                        .fetch_list(&node, None)
                        .await?
                        .ok_or_else(|| no_list(peer))?;
                    fetched = Some(raw);
                    Arc::new(l)
                }
            }
        }
    };
    let keys: Vec<Vec<HitKey>> = queries.iter().map(|q| query_keys(&q.subject)).collect();
    let inputs: Arc<Vec<Vec<u8>>> =
        Arc::new(keys.iter().flatten().map(|k| k.bytes.clone()).collect());
    let holder = Arc::new(holder);
    let mut attempts = 0;
    let (outputs, digest) = loop {
        attempts += 1;
        match evaluate_all(&holder, &list, &inputs).await? {
            Evaluated::Done(o, d) => break (o, d),
            Evaluated::Stale if attempts < 3 => {
                // A new period: fetch its list and start over.
                let (l, raw) = holder
                    .fetch_list(&node, None)
                    .await?
                    .ok_or_else(|| no_list(peer))?;
                list = Arc::new(l);
                indexed = false;
                fetched = Some(raw);
            }
            Evaluated::Stale => {
                return Err(PeerError::KeyPeriodChurn {
                    peer: peer.to_string(),
                }
                .into())
            }
        }
    };
    if digest != list.digest {
        // Entries changed since the list was fetched; the evaluations stay
        // valid within the period.
        if let Some((l, raw)) = holder.fetch_list(&node, Some(&list.digest)).await? {
            if l.header.key_id == list.header.key_id {
                list = Arc::new(l);
                indexed = false;
                fetched = Some(raw);
            }
        }
    }
    let matched = match_subjects(&list, &keys, &outputs, indexed);
    let now = time::format(&time::now());
    let answers: Vec<HitAnswer> = queries
        .iter()
        .zip(matched)
        .map(|(q, (shared, e, kinds))| HitAnswer {
            query_id: q.id.clone(),
            hit: e.is_some(),
            reference: e.map(|e| reference_string(&list.header.key_id, &list.refs[e as usize])),
            shared,
            kinds,
        })
        .collect();
    let hits = answers.iter().filter(|a| a.hit).count();
    let key_id = list.header.key_id.clone();
    let refs: Vec<String> = answers.iter().filter_map(|a| a.reference.clone()).collect();
    let (actor_name, peer_s, n_queries) = (actor.audit_name(), peer.to_string(), queries.len());
    blocking(&node, move |node| {
        let peer = peer_s.as_str();
        node.store.write(|tx| {
            if let Some(raw) = &fetched {
                tx.put_hit_list(&HitListRow {
                    peer: peer.to_string(),
                    key_id: key_id.clone(),
                    body: raw.clone(),
                    fetched_at: now.clone(),
                })?;
            }
            for r in &refs {
                tx.put_hit_reference(r, peer, &now)?;
            }
            node.audit(
                tx,
                &actor_name,
                "hit.query",
                peer,
                json!({"peer": peer, "queries": n_queries, "hits": hits, "key_id": key_id}),
            )?;
            node.checkpoint_in(tx)?;
            Ok::<_, NodeError>(())
        })
    })
    .await?;
    lock(&node.hits.fetched).insert(peer.to_string(), list);
    Ok(answers)
}

// ---------------------------------------------------------------------
// Follow-up requests

impl Node {
    /// `request REF`: asks the holder for the record behind a hit. The
    /// record is to come through the smallest active channel both nodes
    /// belong to.
    pub fn hit_request(&self, actor: &Actor, reference: &str) -> NodeResult<String> {
        policy::authorize(actor, Action::RequestRelease)?;
        if parse_reference(reference).is_none() {
            return Err(NodeError::bad(format!(
                "{reference:?} is not a hit reference (PERIOD:HEX)"
            )));
        }
        let id = new_id(REQUEST_PREFIX);
        self.commit(|tx, out| {
            let peer = tx.hit_reference_peer(reference)?.ok_or_else(|| {
                NodeError::NotFound(format!(
                    "no hit with reference {reference} (run `tansiq query` first)"
                ))
            })?;
            let channel = shared_channel(tx, self.id(), &peer)?.ok_or_else(|| {
                NodeError::bad(format!(
                    "no active channel with {peer} to receive the record in; create one first"
                ))
            })?;
            tx.put_hit_request(&HitRequestRow {
                id: id.clone(),
                direction: "out".into(),
                peer: peer.clone(),
                reference: reference.into(),
                channel: channel.clone(),
                record_id: None,
                status: "pending".into(),
                reason: None,
                created_at: time::format(&time::now()),
                decided_at: None,
            })?;
            let payload = Payload::HitRequest {
                id: id.clone(),
                reference: reference.into(),
                channel: channel.clone(),
            };
            self.send_control(tx, &peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.request",
                &id,
                json!({"id": id, "peer": peer, "reference": reference, "channel": channel}),
            )?;
            Ok(())
        })?;
        Ok(id)
    }

    pub fn hit_requests(&self, actor: &Actor) -> NodeResult<Vec<HitRequestView>> {
        policy::authorize(actor, Action::RequestRelease)?;
        let rows = self.store.read(|tx| tx.hit_requests())?;
        Ok(rows
            .into_iter()
            .map(|r| HitRequestView {
                id: r.id,
                direction: r.direction,
                peer: r.peer,
                reference: r.reference,
                status: r.status,
                channel: r.channel,
                record: r.record_id,
                reason: r.reason,
                created_at: r.created_at,
                decided_at: r.decided_at,
            })
            .collect())
    }

    fn pending_in(tx: &mut Tx, id: &str) -> NodeResult<HitRequestRow> {
        let row = tx
            .hit_request(id)?
            .filter(|r| r.direction == "in")
            .ok_or_else(|| {
                NodeError::NotFound(format!("no request {id} addressed to this node"))
            })?;
        if row.status != "pending" {
            return Err(NodeError::bad(format!(
                "request {id} is already {}",
                row.status
            )));
        }
        Ok(row)
    }

    /// `request grant ID`: shares the record into the request's channel
    /// (under the third-party rule) and tells the requester.
    pub fn hit_grant(&self, actor: &Actor, id: &str) -> NodeResult<()> {
        policy::authorize(actor, Action::DecideRelease)?;
        policy::authorize(actor, Action::ShareRecord)?;
        let mut target = (String::new(), String::new());
        self.commit(|tx, out| {
            let mut row = Self::pending_in(tx, id)?;
            let record = row.record_id.clone().ok_or_else(|| {
                NodeError::bad(format!(
                    "request {id}: {}; refuse it",
                    row.reason.as_deref().unwrap_or("it resolved to no record")
                ))
            })?;
            target = (record.clone(), row.channel.clone());
            self.check_grant(tx, &row, &record)?;
            self.share_in(tx, actor, &record, &row.channel, out)?;
            let now = time::format(&time::now());
            row.status = "granted".into();
            row.decided_at = Some(now);
            tx.put_hit_request(&row)?;
            let payload = Payload::HitDecision {
                request: id.into(),
                granted: true,
                record: Some(record.clone()),
                reason: None,
            };
            self.send_control(tx, &row.peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.grant",
                id,
                json!({"id": id, "peer": row.peer, "record": record, "channel": row.channel}),
            )?;
            Ok(())
        })
        .inspect_err(|e| self.audit_share_refusal(actor, &target.0, &target.1, e))
    }

    /// What held when the request arrived must still hold at the grant:
    /// the record is still exposed to the requester (not retracted,
    /// remarked RED or H3, or its file withdrawn), and the request's
    /// channel is still the one the holder would choose (no member added
    /// since, no smaller channel formed).
    fn check_grant(&self, tx: &mut Tx, row: &HitRequestRow, record: &str) -> NodeResult<()> {
        let exposed = self.exposed_heads(tx, &row.peer)?.unwrap_or_default();
        if !exposed.contains_key(record) {
            return Err(NodeError::Refused(Refusal {
                rule: Rule::Exposure,
                reason: format!(
                    "record {record} is no longer exposed to {}; refuse the request",
                    row.peer
                ),
            }));
        }
        let file = tx
            .record(record, &ReadScope::everything())?
            .map(|r| r.file)
            .unwrap_or_default();
        let now = follow_up_channel(tx, self.id(), &row.peer, &file)?;
        if now.as_deref() != Some(row.channel.as_str()) {
            return Err(NodeError::Refused(Refusal {
                rule: Rule::Membership,
                reason: format!(
                    "channel {} is no longer the smallest active channel shared with {} for file {file}; refuse the request and let {} ask again",
                    row.channel, row.peer, row.peer
                ),
            }));
        }
        Ok(())
    }

    /// `request refuse ID`.
    pub fn hit_refuse(&self, actor: &Actor, id: &str, reason: Option<&str>) -> NodeResult<()> {
        policy::authorize(actor, Action::DecideRelease)?;
        self.commit(|tx, out| {
            let mut row = Self::pending_in(tx, id)?;
            row.status = "refused".into();
            row.reason = reason.map(str::to_string);
            row.decided_at = Some(time::format(&time::now()));
            tx.put_hit_request(&row)?;
            let payload = Payload::HitDecision {
                request: id.into(),
                granted: false,
                record: None,
                reason: Some(reason.unwrap_or("refused").to_string()),
            };
            self.send_control(tx, &row.peer, &payload, Precedence::Immediate, out)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "hit.refuse",
                id,
                json!({"id": id, "peer": row.peer}),
            )?;
            Ok(())
        })?;
        Ok(())
    }

    /// A partner's request arrives (inside the delivery transaction):
    /// resolve the reference against what is exposed to that partner now,
    /// and choose the channel a grant would share into (`channel`, named
    /// by the requester, is a hint only: the holder decides).
    pub(crate) fn take_hit_request(
        &self,
        tx: &mut Tx,
        sender: &str,
        id: &str,
        reference: &str,
        channel: &str,
    ) -> NodeResult<()> {
        tansiq_core::ids::check_id("request id", id)?;
        let (key_id, r) = parse_reference(reference)
            .ok_or_else(|| NodeError::bad("a hit request with a malformed reference"))?;
        if reference.len() > 100 {
            return Err(NodeError::bad("a hit request with an oversized field"));
        }
        tansiq_core::ids::check_id("channel", channel)?;
        if let Some(prev) = tx.hit_request(id)? {
            // The same request delivered again changes nothing; an id
            // reused for another reference (or by another node) must not
            // pass for the request it copies.
            if prev.direction == "in" && prev.peer == sender && prev.reference == reference {
                return Ok(());
            }
            return Err(NodeError::bad(
                "a hit request reusing the id of another request",
            ));
        }
        let seed = self.hit_seed()?;
        let exposed = self.exposed_heads(tx, sender)?.unwrap_or_default();
        let record = exposed
            .keys()
            .find(|rid| Self::hit_ref(&seed, sender, key_id, rid) == r)
            .cloned();
        let file = match &record {
            Some(rid) => tx
                .record(rid, &ReadScope::everything())?
                .map(|rec| rec.file),
            None => None,
        };
        let chosen = match &file {
            Some(f) => follow_up_channel(tx, self.id(), sender, f)?,
            None => None,
        };
        let reason = match (&record, &chosen) {
            (None, _) => {
                Some("the reference matches no entry exposed to the requester".to_string())
            }
            (Some(_), None) => Some(format!(
                "no active channel of both nodes has file {}",
                file.as_deref().unwrap_or_default()
            )),
            _ => None,
        };
        tx.put_hit_request(&HitRequestRow {
            id: id.into(),
            direction: "in".into(),
            peer: sender.into(),
            reference: reference.into(),
            channel: chosen.clone().unwrap_or_default(),
            record_id: chosen.as_ref().and(record.clone()),
            status: "pending".into(),
            reason,
            created_at: time::format(&time::now()),
            decided_at: None,
        })?;
        self.audit(
            tx,
            &format!("node:{sender}"),
            "hit.requested",
            id,
            json!({"id": id, "peer": sender, "reference": reference, "record": record,
                   "channel": chosen, "asked_channel": channel}),
        )?;
        Ok(())
    }

    /// The holder's answer arrives at the requester.
    pub(crate) fn take_hit_decision(
        &self,
        tx: &mut Tx,
        sender: &str,
        request: &str,
        granted: bool,
        reason: Option<String>,
    ) -> NodeResult<()> {
        let mut row = tx
            .hit_request(request)?
            .filter(|r| r.direction == "out" && r.peer == sender)
            .ok_or_else(|| {
                NodeError::bad("an answer to a request this node did not send to that peer")
            })?;
        if row.status != "pending" {
            return Ok(());
        }
        row.status = if granted { "granted" } else { "refused" }.into();
        // The reason is a partner's text that `requests` prints: no
        // control character (terminal escapes) is kept, each becomes a space.
        row.reason = reason.map(|r| {
            r.chars()
                .take(500)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect()
        });
        row.decided_at = Some(time::format(&time::now()));
        tx.put_hit_request(&row)?;
        self.audit(
            tx,
            &format!("node:{sender}"),
            if granted {
                "hit.granted"
            } else {
                "hit.refused"
            },
            request,
            json!({"id": request, "peer": sender}),
        )?;
        Ok(())
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

/// The channel a granted record is shared into, decided by the holder:
/// the smallest active channel (fewest members, then id) of which both
/// nodes are members and whose charter has the record's file. The
/// requester's named channel is only a hint, so a modified requester
/// cannot widen the audience.
fn follow_up_channel(tx: &mut Tx, me: &str, peer: &str, file: &str) -> NodeResult<Option<String>> {
    let mut best: Option<(usize, String)> = None;
    for c in tx.channels()? {
        let st = load_channel(tx, &c.id)?;
        let Some(a) = st.active.as_ref() else {
            continue;
        };
        let ch = &a.charter;
        let both = ch.members.iter().any(|x| x == me) && ch.members.iter().any(|x| x == peer);
        if both && ch.files.iter().any(|f| f == file) {
            let cand = (ch.members.len(), c.id);
            if best.as_ref().is_none_or(|b| cand < *b) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|b| b.1))
}

/// The smallest active channel (fewest members, then id) of which both
/// nodes are members.
fn shared_channel(tx: &mut Tx, me: &str, peer: &str) -> NodeResult<Option<String>> {
    let mut best: Option<(usize, String)> = None;
    for c in tx.channels()? {
        if let Some(n) = active_with_both(tx, &c.id, me, peer)? {
            let cand = (n, c.id);
            if best.as_ref().is_none_or(|b| cand < *b) {
                best = Some(cand);
            }
        }
    }
    Ok(best.map(|b| b.1))
}

/// The member count of `channel` if it is active with both nodes in it.
fn active_with_both(tx: &mut Tx, channel: &str, me: &str, peer: &str) -> NodeResult<Option<usize>> {
    let st = load_channel(tx, channel)?;
    Ok(st.active.as_ref().and_then(|a| {
        let m = &a.charter.members;
        (m.iter().any(|x| x == me) && m.iter().any(|x| x == peer)).then_some(m.len())
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_list_round_trip_and_garbage() {
        let header = ListHeader {
            holder: "tqa".into(),
            querier: "tqb".into(),
            key_id: "1.0".into(),
            public_key: b64([7u8; 32]),
            entries: 2,
            tag_len: TAG_LEN as u32,
        };
        let entries = vec![
            ([1u8; REF_LEN], vec![[9u8; TAG_LEN], [8u8; TAG_LEN]]),
            ([2u8; REF_LEN], vec![]),
        ];
        let body = encode_list(&header, &entries);
        let l = parse_list(&body).unwrap();
        assert_eq!(l.header, header);
        assert_eq!(l.refs, vec![[1u8; REF_LEN], [2u8; REF_LEN]]);
        assert_eq!(l.entry_tags(0), &[[9u8; TAG_LEN], [8u8; TAG_LEN]]);
        assert!(l.has_tag(&[8u8; TAG_LEN]) && !l.has_tag(&[7u8; TAG_LEN]));
        // Every truncation and a trailing byte are errors, never panics.
        for n in 0..body.len() {
            assert!(parse_list(&body[..n]).is_err(), "prefix {n}");
        }
        let mut long = body.clone();
        long.push(0);
        assert!(parse_list(&long).is_err());
        let mut bad = body.clone();
        bad[0] ^= 1;
        assert!(parse_list(&bad).is_err());
    }

    #[test]
    fn indexed_and_scanned_matching_agree() {
        use tansiq_match::hitkeys::KeyKind;
        let tag = |i: u8| [i; TAG_LEN];
        let entries: Vec<([u8; REF_LEN], Vec<Tag>)> = (0..50u8)
            .map(|e| {
                (
                    [e; REF_LEN],
                    (0..6)
                        .map(|k| tag(e.wrapping_mul(7).wrapping_add(k * 3)))
                        .collect(),
                )
            })
            .collect();
        let header = ListHeader {
            holder: "a".into(),
            querier: "b".into(),
            key_id: "1.0".into(),
            public_key: b64([7u8; 32]),
            entries: entries.len() as u64,
            tag_len: TAG_LEN as u32,
        };
        let list = parse_list(&encode_list(&header, &entries)).unwrap();
        let key = |i: u8| HitKey {
            kind: KeyKind::TokenPair,
            bytes: vec![i],
        };
        let keys: Vec<Vec<HitKey>> = (0..20u8)
            .map(|q| (0..5).map(|k| key(q + k)).collect())
            .collect();
        let outputs: Vec<Tag> = (0..100u8).map(|i| tag(i.wrapping_mul(3))).collect();
        let scanned = match_subjects(&list, &keys, &outputs, false);
        let indexed = match_subjects(&list, &keys, &outputs, true);
        assert_eq!(scanned, indexed);
        assert!(scanned.iter().any(|m| m.1.is_some()), "{scanned:?}");
    }

    #[test]
    fn references_parse() {
        let r = reference_string("2914.3", &[0xab; REF_LEN]);
        assert_eq!(parse_reference(&r), Some(("2914.3", [0xab; REF_LEN])));
        assert_eq!(parse_reference("x:00"), None);
        assert_eq!(parse_reference("1.0:zz"), None);
        assert_eq!(parse_reference("1.0"), None);
    }
}
