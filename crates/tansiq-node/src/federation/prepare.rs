//! Work on a peer's message done before the store lock is taken: the
//! public-key checks and the opening of every envelope addressed to this
//! node, spread over the cores.
//!
//! The node takes in a peer's message inside one store write transaction
//! and a node has one writer, so whatever is done in that transaction is
//! done on one core while the other waits. Checking the originator's
//! envelope signature, unwrapping the content key (an X25519 agreement)
//! and checking the record's own signature are pure functions of the
//! envelope, this node's identity and a public key: they are computed here
//! first, in parallel and outside the lock, and the transaction uses a
//! result only when it is for exactly the same input — the same envelope
//! (its id binds header and body), the same signature bytes and the same
//! key that the transaction itself looks up. Anything not prepared, or
//! prepared against a key that has since changed, is checked in the
//! transaction as before; the outcome is the same either way.

use std::collections::HashMap;
use std::sync::Mutex;

use tansiq_core::record::{decode_sig, RECORD_CONTEXT};
use tansiq_sync::{Body, Envelope, Message, NodeId, ENVELOPE_SIG_CONTEXT};

use super::payload::{self, EpochKeys, Payload};
use super::Context;
use crate::card::KeyBook;
use tansiq_core::record::search_names;

/// A record payload whose signature verified with `key`, with what storing
/// it needs.
#[derive(Debug, Clone)]
pub struct RecordCheck {
    pub key: [u8; 32],
    pub hash: [u8; 32],
    pub names: Vec<String>,
    /// The outcome of `RecordBody::validate`.
    pub valid: Result<(), String>,
}

struct Opened {
    /// The envelope signature bytes that were checked.
    sig: [u8; 64],
    /// The originator key the envelope signature verified with.
    sig_key: Option<[u8; 32]>,
    /// The opened payload (or why it could not be opened), taken at delivery.
    payload: Option<Result<Payload, String>>,
    record: Option<RecordCheck>,
}

/// A peer's message, decoded, with its envelopes checked and opened.
#[derive(Default)]
pub struct Prepared {
    pub(crate) message: Option<Message>,
    opened: Mutex<HashMap<[u8; 32], Opened>>,
}

impl Prepared {
    /// Nothing prepared: the transaction does all the work.
    pub fn none() -> Prepared {
        Prepared::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Opened>> {
        self.opened.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `env`'s signature (these exact bytes) verified with `key`.
    pub(crate) fn signature_verified(&self, env: &Envelope, key: &[u8; 32]) -> bool {
        self.lock()
            .get(&env.id().0)
            .is_some_and(|o| o.sig == *env.sig() && o.sig_key.as_ref() == Some(key))
    }

    /// The opened payload of `env` (a sealed body; the id binds its bytes),
    /// and the record check if it carries a record. Taken: a second
    /// delivery of the same envelope opens it again.
    pub(crate) fn take_opened(
        &self,
        env: &Envelope,
    ) -> Option<(Result<Payload, String>, Option<RecordCheck>)> {
        if !matches!(env.body(), Body::Sealed(_)) {
            return None;
        }
        let mut m = self.lock();
        let o = m.get_mut(&env.id().0)?;
        let p = o.payload.take()?;
        Some((p, o.record.take()))
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the message carries a FLASH or IMMEDIATE envelope (to take
    /// in before routine traffic; see [`super::Turns`]).
    pub fn is_urgent(&self) -> bool {
        match &self.message {
            Some(Message::Batch { items, .. }) => items
                .iter()
                .any(|i| i.envelope.header().precedence.is_express()),
            _ => false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Envelopes of `msg` that this node will open if it takes them in.
fn envelopes_for_me<'a>(msg: &'a Message, me: &NodeId) -> Vec<&'a Envelope> {
    let mine = |e: &Envelope| e.header().is_recipient(me) && matches!(e.body(), Body::Sealed(_));
    match msg {
        Message::Batch { items, .. } => items
            .iter()
            .filter(|i| i.to == *me && mine(&i.envelope))
            .map(|i| &i.envelope)
            .collect(),
        Message::FetchReply { envelopes, .. } => envelopes.iter().filter(|e| mine(e)).collect(),
        _ => Vec::new(),
    }
}

/// Opens `envs` and checks their signatures: each envelope's, and the
/// record's own when the payload is a record. Signatures whose signer has
/// one candidate key (the common case: no rotation around that date) are
/// checked together with [`tansiq_crypto::verify_batch_each`], about 2.5×
/// cheaper than one by one; the others are tried key by key.
fn open_part<C: Context>(
    cx: &C,
    epochs: &EpochKeys,
    keys: &KeyBook,
    envs: &[&Envelope],
) -> Vec<([u8; 32], Opened)> {
    /// A record's candidate keys, canonical signed body and signature.
    type RecordSig = (Vec<[u8; 32]>, Vec<u8>, Option<[u8; 64]>);
    struct Work {
        env_keys: Vec<[u8; 32]>,
        payload: Result<Payload, String>,
        record: Option<RecordSig>,
    }
    let work: Vec<Work> = envs
        .iter()
        .map(|env| {
            let h = env.header();
            let payload = payload::open(env, cx.id(), &cx.identities(), Some(epochs));
            let record = match &payload {
                Ok(Payload::Record { record, .. }) => Some((
                    keys.keys_at_time(&record.body.originator, &record.body.created),
                    record.canonical_body(),
                    decode_sig(&record.sig).ok(),
                )),
                _ => None,
            };
            Work {
                env_keys: keys.keys_at(h.originator.as_str(), (h.created_ms / 1000) as i64),
                payload,
                record,
            }
        })
        .collect();
    let ids: Vec<[u8; 32]> = envs.iter().map(|e| e.id().0).collect();
    // (work index, whether the item is the record's signature)
    let mut slots: Vec<(usize, bool)> = Vec::with_capacity(work.len() * 2);
    let mut items: Vec<tansiq_crypto::BatchItem<'_>> = Vec::with_capacity(work.len() * 2);
    for (i, (w, env)) in work.iter().zip(envs).enumerate() {
        if let [k] = w.env_keys.as_slice() {
            items.push((k, ENVELOPE_SIG_CONTEXT, &ids[i], env.sig()));
            slots.push((i, false));
        }
        if let Some((cands, canon, Some(sig))) = &w.record {
            if let [k] = cands.as_slice() {
                items.push((k, RECORD_CONTEXT, canon, sig));
                slots.push((i, true));
            }
        }
    }
    let results = tansiq_crypto::verify_batch_each(&items);
    let mut env_ok = vec![false; work.len()];
    let mut rec_ok = vec![false; work.len()];
    for ((i, is_record), r) in slots.into_iter().zip(results) {
        if is_record {
            rec_ok[i] = r.is_ok();
        } else {
            env_ok[i] = r.is_ok();
        }
    }
    work.into_iter()
        .zip(envs)
        .enumerate()
        .map(|(i, (w, env))| {
            let sig_key = if w.env_keys.len() == 1 {
                env_ok[i].then(|| w.env_keys[0])
            } else {
                w.env_keys.into_iter().find(|pk| {
                    tansiq_crypto::verify(pk, ENVELOPE_SIG_CONTEXT, &env.id().0, env.sig()).is_ok()
                })
            };
            let record = match (&w.payload, w.record) {
                (Ok(Payload::Record { record, .. }), Some((cands, canon, sig))) => {
                    let key = if cands.len() == 1 {
                        rec_ok[i].then(|| cands[0])
                    } else {
                        sig.and_then(|sig| {
                            cands.into_iter().find(|k| {
                                tansiq_crypto::verify(k, RECORD_CONTEXT, &canon, &sig).is_ok()
                            })
                        })
                    };
                    key.map(|k| RecordCheck {
                        key: k,
                        valid: record.body.validate().map_err(|e| e.to_string()),
                        hash: tansiq_crypto::sha256(&canon),
                        names: search_names(&record.body.data),
                    })
                }
                _ => None,
            };
            (
                env.id().0,
                Opened {
                    sig: *env.sig(),
                    sig_key,
                    payload: Some(w.payload),
                    record,
                },
            )
        })
        .collect()
}

/// Decodes `bytes` and prepares its envelopes with the signing keys
/// `keys` (this node's last view of them; a stale view only means less is
/// prepared). Fewer than `PARALLEL_FROM` envelopes are done on the calling
/// thread.
pub(crate) fn prepare<C: Context>(
    cx: &C,
    epochs: &EpochKeys,
    keys: Option<&KeyBook>,
    bytes: &[u8],
) -> Prepared {
    const PARALLEL_FROM: usize = 16;
    let Ok(msg) = Message::decode(bytes) else {
        return Prepared::none();
    };
    let (Some(keys), Ok(me)) = (keys, NodeId::new(cx.id().to_string())) else {
        return Prepared {
            message: Some(msg),
            ..Default::default()
        };
    };
    let envs = envelopes_for_me(&msg, &me);
    let threads = rayon::current_num_threads();
    let opened: Vec<([u8; 32], Opened)> = if threads <= 1 || envs.len() < PARALLEL_FROM {
        open_part(cx, epochs, keys, &envs)
    } else {
        // One part per core (on rayon's pool, no thread started per
        // message), each verified as one batch.
        use rayon::prelude::*;
        let chunk = envs.len().div_ceil(threads);
        envs.par_chunks(chunk)
            .flat_map_iter(|part| open_part(cx, epochs, keys, part))
            .collect()
    };
    // The same id twice (a forged twin of a valid envelope): keep the one
    // whose signature verified; the other is checked in the transaction.
    let mut map: HashMap<[u8; 32], Opened> = HashMap::with_capacity(opened.len());
    for (id, o) in opened {
        match map.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) if e.get().sig_key.is_some() => {}
            std::collections::hash_map::Entry::Occupied(mut e) => {
                e.insert(o);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(o);
            }
        }
    }
    Prepared {
        message: Some(msg),
        opened: Mutex::new(map),
    }
}

#[cfg(test)]
mod tests {
    //! Taking a message in with its envelopes prepared outside the store
    //! lock has exactly the outcome of taking it in plainly: the same
    //! per-item results, the same records, a verifying audit log — also
    //! for forged signatures, a forged twin of a valid envelope in the same
    //! batch, and preparation done with the wrong keys.

    use super::*;
    use serde_json::json;
    use tansiq_core::record::Kind;
    use tansiq_core::user::Actor;
    use tansiq_store::RecordFilter;
    use tansiq_sync::{Item, Status};

    use crate::records::NewRecord;
    use crate::InitOptions;
    use crate::Node;

    const OP: Actor = Actor::Operator;

    fn node(root: &std::path::Path, name: &str, cc: &str, port: u16) -> Node {
        Node::init(
            &root.join(name),
            &InitOptions {
                name,
                country: cc,
                listen: &format!("127.0.0.1:{port}"),
                endpoint: None,
                api_listen: None,
                store: None,
            },
        )
        .unwrap()
    }

    /// Takes in `bytes` from `from` the plain way, returning the answers
    /// (committed, not queued).
    fn plain(dest: &Node, from: &str, bytes: &[u8]) -> Vec<tansiq_sync::Transmit> {
        let mut out = crate::federation::Outbox(Vec::new());
        dest.store
            .write(|tx| dest.federation.receive(dest, tx, &mut out, from, bytes))
            .unwrap();
        out.0
    }

    /// Takes in `bytes` with what was prepared for them, returning the
    /// answers (committed, not queued).
    fn prepared_in(
        dest: &Node,
        from: &str,
        bytes: &[u8],
        p: Prepared,
    ) -> Vec<tansiq_sync::Transmit> {
        let mut out = crate::federation::Outbox(Vec::new());
        dest.store
            .write(|tx| {
                dest.federation
                    .receive_prepared(dest, tx, &mut out, from, bytes, p)
            })
            .unwrap();
        out.0
    }

    fn pump(nodes: &[&Node]) {
        for _ in 0..20 {
            let mut any = false;
            for n in nodes {
                for t in n.federation.take_outgoing() {
                    let dest = nodes.iter().find(|d| d.id() == t.to.as_str()).unwrap();
                    let bytes = t.message.encode();
                    let more = plain(dest, n.id(), &bytes);
                    dest.federation.queue(more);
                    any = true;
                }
            }
            if !any {
                return;
            }
        }
    }

    /// Creates `n` records at DZ behind single-record batches that fill
    /// the window, delivers everything else, and returns DZ's transmits
    /// once the queued records go out together in one batch per member.
    fn big_batches(nodes: &[&Node; 3], ch: &str, n: usize) -> Vec<tansiq_sync::Transmit> {
        let dz = nodes[0];
        for _ in 0..crate::federation::engine_config().window {
            dz.records_add(&OP, people(ch, 1), |_| {}).unwrap();
        }
        let first = dz.federation.take_outgoing();
        dz.records_add(&OP, people(ch, n), |_| {}).unwrap();
        assert_eq!(dz.federation.take_outgoing_peek(), 0, "the window is full");
        dz.federation.queue(first);
        for _ in 0..20 {
            for m in &nodes[1..] {
                let out = m.federation.take_outgoing();
                deliver(dz, m, out);
            }
            let out = dz.federation.take_outgoing();
            if out
                .iter()
                .any(|t| matches!(&t.message, Message::Batch { items, .. } if items.len() >= n))
            {
                return out;
            }
            for m in &nodes[1..] {
                deliver(
                    m,
                    dz,
                    out.iter()
                        .filter(|t| t.to.as_str() == m.id())
                        .cloned()
                        .collect(),
                );
            }
        }
        panic!("no batch of {n} items");
    }

    /// Hands `out` (from `from`) to `dest` and queues its answers at `dest`.
    fn deliver(dest: &Node, from: &Node, out: Vec<tansiq_sync::Transmit>) {
        for t in out {
            assert_eq!(t.to.as_str(), dest.id());
            let bytes = t.message.encode();
            let more = plain(dest, from.id(), &bytes);
            dest.federation.queue(more);
        }
    }

    /// DZ originates; MA and TN are the other members.
    fn three() -> (tempfile::TempDir, Node, Node, Node, String) {
        let tmp = tempfile::tempdir().unwrap();
        let dz = node(tmp.path(), "dz", "DZ", 7501);
        let ma = node(tmp.path(), "ma", "MA", 7511);
        let tn = node(tmp.path(), "tn", "TN", 7521);
        for a in [&dz, &ma, &tn] {
            for b in [&dz, &ma, &tn] {
                if a.id() != b.id() {
                    a.peer_add(&OP, &serde_json::to_vec(&b.card()).unwrap())
                        .unwrap();
                }
            }
        }
        let ch = dz
            .channel_create(
                &OP,
                "DZ-MA-TN",
                vec![ma.id().into(), tn.id().into()],
                vec!["terrorism".into()],
                vec![],
                None,
            )
            .unwrap();
        pump(&[&dz, &ma, &tn]);
        ma.channel_accept(&OP, &ch).unwrap();
        tn.channel_accept(&OP, &ch).unwrap();
        pump(&[&dz, &ma, &tn]);
        (tmp, dz, ma, tn, ch)
    }

    fn people(ch: &str, n: usize) -> Vec<NewRecord> {
        (0..n)
            .map(|i| NewRecord {
                channel: ch.into(),
                file: "terrorism".into(),
                kind: Kind::Person,
                data: json!({"names": [format!("Person {i}"), format!("شخص {i}")], "nationality": ["DZ"]}),
                tlp: None,
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            })
            .collect()
    }

    /// The batch DZ queued for `to`, with item 0 forged (a valid id with a
    /// wrong signature) and a forged twin of item 1 placed just before it
    /// and another just after it.
    fn tampered(items: &[Item]) -> Vec<Item> {
        let forge = |i: &Item| Item {
            to: i.to.clone(),
            envelope: Envelope::new(
                i.envelope.header().clone(),
                i.envelope.body().clone(),
                |_| [7u8; 64],
            )
            .unwrap(),
        };
        let mut v = vec![forge(&items[0]), forge(&items[1]), items[1].clone()];
        v.push(forge(&items[1]));
        v.extend(items[2..].iter().cloned());
        v
    }

    fn batch_for(out: &[tansiq_sync::Transmit], to: &str) -> (u64, Vec<Item>) {
        out.iter()
            .find_map(|t| match &t.message {
                Message::Batch { batch, items } if t.to.as_str() == to => {
                    Some((*batch, items.clone()))
                }
                _ => None,
            })
            .expect("a batch for the member")
    }

    fn results(out: &[tansiq_sync::Transmit]) -> Vec<(Status, Option<String>)> {
        out.iter()
            .find_map(|t| match &t.message {
                Message::BatchAck { results, .. } => Some(
                    results
                        .iter()
                        .map(|r| (r.status, r.reason.clone()))
                        .collect(),
                ),
                _ => None,
            })
            .expect("a batch ack")
    }

    fn held(n: &Node) -> Vec<(String, serde_json::Value)> {
        let mut v: Vec<_> = n
            .record_list(&OP, &RecordFilter::default())
            .unwrap()
            .into_iter()
            .map(|r| (r.id, r.data))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    #[test]
    fn prepared_and_plain_receipt_have_the_same_outcome() {
        let (_tmp, dz, ma, tn, ch) = three();
        let out = big_batches(&[&dz, &ma, &tn], &ch, 40);
        let (bm, items_m) = batch_for(&out, ma.id());
        let (bt, items_t) = batch_for(&out, tn.id());
        assert!(items_m.len() >= 20, "one batch carries them");
        let to_ma = Message::Batch {
            batch: bm,
            items: tampered(&items_m),
        }
        .encode();
        let to_tn = Message::Batch {
            batch: bt,
            items: tampered(&items_t),
        }
        .encode();

        // MA: checked and opened first, on every core.
        let prepared = ma.federation.prepare(&ma, &to_ma);
        assert!(
            prepared.len() >= items_m.len() - 1,
            "the envelopes were prepared ({} of {})",
            prepared.len(),
            items_m.len()
        );
        let mut out = crate::federation::Outbox(Vec::new());
        ma.store
            .write(|tx| {
                ma.federation
                    .receive_prepared(&ma, tx, &mut out, dz.id(), &to_ma, prepared)
            })
            .unwrap();
        let got_ma = out.0;
        // TN: the plain path.
        let got_tn = plain(&tn, dz.id(), &to_tn);

        let (rm, rt) = (results(&got_ma), results(&got_tn));
        assert_eq!(rm, rt, "same result for every item");
        assert_eq!(rm.len(), items_m.len() + 2);
        assert_eq!(rm[0].0, Status::Refused, "forged signature refused");
        assert_eq!(rm[1].0, Status::Refused, "forged twin refused");
        assert_eq!(rm[2].0, Status::Stored, "the valid envelope taken in");
        assert!(rm[4..].iter().all(|r| r.0 == Status::Stored));

        let (hm, ht) = (held(&ma), held(&tn));
        assert_eq!(hm, ht, "the same records, with the same content");
        assert_eq!(
            hm.len(),
            crate::federation::engine_config().window + items_m.len() - 1,
            "the earlier ones (one per batch of the window) and all but the forged one"
        );
        for n in [&ma, &tn] {
            assert!(n.audit_verify(&OP).unwrap().ok, "audit log verifies");
        }
    }

    #[test]
    fn preparation_with_the_wrong_keys_changes_nothing() {
        let (_tmp, dz, ma, tn, ch) = three();
        let out = big_batches(&[&dz, &ma, &tn], &ch, 20);
        let (bm, items) = batch_for(&out, ma.id());
        let bytes = Message::Batch {
            batch: bm,
            items: tampered(&items),
        }
        .encode();
        // DZ's key replaced by TN's: nothing verifies in preparation, so
        // the transaction checks everything itself.
        let mut keys = ma.store.write(|tx| ma.key_lookup(tx)).unwrap();
        keys.insert(dz.id().to_string(), tn.identity.signing_public());
        let prepared = prepare(&ma, &ma.federation.epochs, Some(&keys), &bytes);
        assert!(prepared
            .lock()
            .values()
            .all(|o| o.sig_key.is_none() && o.record.is_none()));
        let got = prepared_in(&ma, dz.id(), &bytes, prepared);
        let r = results(&got);
        assert_eq!(r[0].0, Status::Refused);
        assert_eq!(r[1].0, Status::Refused);
        assert_eq!(r[2].0, Status::Stored, "the valid twin taken in");
        assert!(r[4..].iter().all(|r| r.0 == Status::Stored));
        assert_eq!(
            held(&ma).len(),
            crate::federation::engine_config().window + items.len() - 1
        );
        assert!(ma.audit_verify(&OP).unwrap().ok);

        // Redelivery through the prepared path has no second effect.
        let again = ma.federation.prepare(&ma, &bytes);
        let got = prepared_in(&ma, dz.id(), &bytes, again);
        assert_eq!(results(&got)[2].0, Status::Stored);
        assert_eq!(
            held(&ma).len(),
            crate::federation::engine_config().window + items.len() - 1
        );
    }

    #[test]
    fn a_malformed_message_is_reported_as_before() {
        let (_tmp, dz, ma, _tn, _ch) = three();
        let bytes = b"{\"type\":\"batch\",\"batch\":1,\"items\":[{]}".to_vec();
        let prepared = ma.federation.prepare(&ma, &bytes);
        assert!(prepared.message.is_none() && prepared.is_empty());
        let out = prepared_in(&ma, dz.id(), &bytes, prepared);
        assert!(out.is_empty(), "nothing is answered to garbage");
    }

    #[test]
    fn link_rows_are_rewritten_only_when_they_change() {
        let f = super::super::Federation::default();
        assert!(f.link_changes("p", true, "2026-11-29T10:00:00Z"));
        assert!(!f.link_changes("p", true, "2026-11-29T10:00:00Z"));
        assert!(f.link_changes("q", true, "2026-11-29T10:00:00Z"));
        assert!(f.link_changes("p", true, "2026-11-29T10:00:01Z"));
        assert!(f.link_changes("p", false, "2026-11-29T10:00:01Z"));
        assert!(f.link_changes("p", true, "2026-11-29T10:00:01Z"));
        assert!(!f.link_changes("p", true, "2026-11-29T10:00:01Z"));
    }
}
