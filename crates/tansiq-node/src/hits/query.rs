//! The querier: asks a holder about its own subjects — blinded keys
//! evaluated by the holder, compared against the holder's keyed list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use tansiq_core::policy::{self, Action, Refusal, Rule};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_crypto::oprf::{self, ELEMENT_LEN, PROOF_LEN};
use tansiq_crypto::{b64, b64_decode_array};
use tansiq_match::hitkeys::{self, HitKey, HitSubject, Side};
use tansiq_store::HitListRow;

use super::lock;
use super::wire::{
    parse_list, reference_string, tag_of, ErrorResponse, EvaluateRequest, EvaluateResponse,
    KeyedList, ListRequest, Tag, HIT_EVALUATE_PATH, HIT_LIST_PATH,
};
use crate::card::NodeCard;
use crate::error::{NodeError, NodeResult, PeerError};
use crate::node::Node;
use crate::transport::{PeerClient, PeerSet, TlsIdentity};

/// The keys the querier asks about for one subject.
pub fn query_keys(s: &HitSubject) -> Vec<HitKey> {
    hitkeys::side_keys(s, Side::Query)
}

/// Most subjects one query command or request asks about.
pub const MAX_QUERIES: usize = 100_000;
/// Most names (primary and aliases) and documents of one subject.
pub const MAX_SUBJECT_NAMES: usize = 16;
/// Longest name or document number of a subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 300;

/// Checks a batch before anything is asked: ids present, short and
/// unique; each subject with 1–16 names of 1–300 characters, a partial
/// date of birth, an ISO 3166 nationality. The error names the query and
/// the field, as every entry path (CLI, API) reports it.
pub fn check_queries(queries: &[HitQuery]) -> NodeResult<()> {
    if queries.len() > MAX_QUERIES {
        return Err(NodeError::bad(format!(
            "{} queries: at most {MAX_QUERIES} at once",
            queries.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for q in queries {
        let at = |field: &str, e: &dyn std::fmt::Display| {
            NodeError::bad(format!("query {:?}: {field}: {e}", q.id))
        };
        if q.id.trim().is_empty()
            || q.id.chars().count() > 100
            || q.id.chars().any(char::is_control)
        {
            return Err(NodeError::bad(format!(
                "query id {:?}: 1-100 characters, no control characters",
                q.id
            )));
        }
        if !seen.insert(q.id.as_str()) {
            return Err(at("id", &"used twice; each query needs its own id"));
        }
        let s = &q.subject;
        if s.names.is_empty() || s.names.len() > MAX_SUBJECT_NAMES {
            return Err(at("names", &format!("1-{MAX_SUBJECT_NAMES} names")));
        }
        for n in &s.names {
            if n.trim().is_empty() || n.chars().count() > MAX_SUBJECT_CHARS {
                return Err(at(
                    "names",
                    &format!("each 1-{MAX_SUBJECT_CHARS} characters"),
                ));
            }
        }
        if let Some(b) = &s.birth_date {
            time::check_partial_date(b).map_err(|e| at("birth_date", &e))?;
        }
        if let Some(n) = &s.nationality {
            tansiq_core::country::parse_country(n).map_err(|e| at("nationality", &e))?;
        }
        if s.documents.len() > MAX_SUBJECT_NAMES {
            return Err(at("documents", &format!("at most {MAX_SUBJECT_NAMES}")));
        }
        for (number, country) in &s.documents {
            if number.trim().is_empty() || number.chars().count() > MAX_SUBJECT_CHARS {
                return Err(at("documents", &"a number is 1-300 characters"));
            }
            if let Some(c) = country {
                tansiq_core::country::parse_country(c).map_err(|e| at("documents", &e))?;
            }
        }
    }
    Ok(())
}

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
    progress: &Progress,
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
    let mut done = 0;
    while let Some(r) = tasks.join_next().await {
        let (c, part) = r.map_err(NodeError::internal)??;
        done += part.as_ref().map_or(0, |p| p.0.len());
        progress(done, inputs.len());
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

/// Told how many of the query's match keys the holder has evaluated, of
/// how many (a progress bar; called from the async tasks).
pub type Progress = dyn Fn(usize, usize) + Send + Sync;

/// Asks `peer` about each subject: blinded keys evaluated by the holder,
/// compared against its keyed list. One command; one audit entry.
pub async fn hit_query(
    node: Arc<Node>,
    actor: &Actor,
    peer: &str,
    queries: &[HitQuery],
) -> NodeResult<Vec<HitAnswer>> {
    hit_query_with_progress(node, actor, peer, queries, &|_, _| {}).await
}

/// [`hit_query`], reporting the evaluation's progress to `progress`.
pub async fn hit_query_with_progress(
    node: Arc<Node>,
    actor: &Actor,
    peer: &str,
    queries: &[HitQuery],
    progress: &Progress,
) -> NodeResult<Vec<HitAnswer>> {
    policy::authorize(actor, Action::QueryPartner)?;
    check_queries(queries)?;
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
        match evaluate_all(&holder, &list, &inputs, progress).await? {
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
        node.commit(|tx, _| {
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
            Ok::<_, NodeError>(())
        })
    })
    .await?;
    lock(&node.hits.fetched).insert(peer.to_string(), list);
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hits::wire::{encode_list, ListHeader, REF_LEN, TAG_LEN};

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
}
