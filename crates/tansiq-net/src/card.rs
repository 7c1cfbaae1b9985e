//! Node cards: a node's self-signed public identity (id, name, country,
//! endpoint, public keys), exchanged out of band to establish trust.
//!
//! A node's id is bound for life to its first (genesis) signing key. When
//! it rotates its keys, its card carries the generation number and the
//! chain of rotation statements back to the genesis key, each signed by
//! the key it retires; a receiver that holds any earlier card of the node
//! can verify the chain and move to the new keys (`docs/PROTOCOL.md` §1).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use tansiq_core::country::parse_country;
use tansiq_core::Invalid;

pub const CARD_CONTEXT: &str = "tansiq/card/v1";
/// Context of a rotation statement (signed by the key it retires).
pub const ROTATION_CONTEXT: &str = "tansiq/key-rotation/v1";
/// Most rotations a card may carry.
pub const MAX_GENERATION: u64 = 64;
/// Largest card file accepted.
pub const MAX_CARD_BYTES: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardBody {
    pub v: u32,
    pub id: String,
    pub name: String,
    pub country: String,
    pub endpoint: String,
    /// Ed25519 public key, URL-safe base64.
    pub signing_key: String,
    /// X25519 public key, URL-safe base64.
    pub encryption_key: String,
    pub created: String,
    /// Key generation: 0 for the keys the node was created with, +1 per
    /// rotation. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gen: u64,
    /// The genesis signing key (the id derives from it). Present iff
    /// `gen > 0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_key: Option<String>,
    /// Rotation statements for generations 1..=gen, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rotations: Vec<Rotation>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a rotation statement signs: the node moves to generation `gen`
/// with these public keys, at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationBody {
    pub id: String,
    pub gen: u64,
    /// Ed25519 public key of generation `gen`, URL-safe base64.
    pub signing_key: String,
    /// X25519 public key of generation `gen`, URL-safe base64.
    pub encryption_key: String,
    /// When the previous generation was retired (RFC 3339, seconds).
    pub at: String,
}

/// A rotation statement: `sig` is by the signing key of generation
/// `gen - 1` over the body, context [`ROTATION_CONTEXT`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rotation {
    #[serde(flatten)]
    pub body: RotationBody,
    pub sig: String,
}

impl Rotation {
    /// The statement moving `prev` (generation `body.gen - 1`) to the keys
    /// in `body`.
    pub fn sign(body: RotationBody, prev: &tansiq_crypto::Identity) -> Rotation {
        let v = serde_json::to_value(&body).expect("rotations serialise");
        let sig = prev
            .sign_json(ROTATION_CONTEXT, &v)
            .expect("rotations are canonicalisable");
        Rotation {
            body,
            sig: tansiq_crypto::b64(sig),
        }
    }

    /// Checks the signature under `prev_key`.
    pub fn verify(&self, prev_key: &[u8; 32]) -> Result<(), Invalid> {
        let sig = tansiq_core::record::decode_sig(&self.sig)?;
        let v = serde_json::to_value(&self.body).expect("rotations serialise");
        tansiq_crypto::verify_json(prev_key, ROTATION_CONTEXT, &v, &sig).map_err(|_| {
            Invalid::new(format!(
                "rotation to generation {} is not signed by the previous key (forged chain)",
                self.body.gen
            ))
        })
    }
}

/// One signing key of a node and the span (Unix seconds, inclusive) of
/// the times of the objects it may sign: from its generation's rotation
/// (0 for genesis) to the next rotation (open for the current key). At a
/// rotation's second both keys are valid: times are whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpan {
    pub gen: u64,
    pub key: [u8; 32],
    pub from: i64,
    pub until: Option<i64>,
}

/// How far (seconds) an object's date may fall outside its signing key's
/// span and still be verified under that key: a clock stepped back after
/// a rotation (NTP correcting a clock that ran fast) dates the new key's
/// objects before the rotation, and one stepped back before it dates the
/// old key's last objects after. Ten minutes of grace lose nothing to such
/// steps and give a thief of a retired key nothing: it can always date
/// what it signs before the key's retirement (a rotation is not a
/// revocation, docs/PROTOCOL.md §1).
pub const CLOCK_GRACE_SECS: i64 = 600;

impl KeySpan {
    /// Whether this key may have signed an object dated `secs`: within
    /// its span, widened by [`CLOCK_GRACE_SECS`] at both ends.
    pub fn covers(&self, secs: i64) -> bool {
        secs >= self.from.saturating_sub(CLOCK_GRACE_SECS)
            && self
                .until
                .is_none_or(|u| secs <= u.saturating_add(CLOCK_GRACE_SECS))
    }
}
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeCard {
    #[serde(flatten)]
    pub body: CardBody,
    pub sig: String,
}

impl NodeCard {
    /// Issues a card for a node of generation 0 (its keys are the ones it
    /// was created with).
    pub fn issue(
        id: &tansiq_crypto::Identity,
        name: &str,
        country: &str,
        endpoint: &str,
        created: &str,
    ) -> NodeCard {
        Self::issue_rotated(
            &id.node_id(),
            id,
            None,
            &[],
            name,
            country,
            endpoint,
            created,
        )
    }

    /// Issues a card signed by `current`, the keys of generation
    /// `rotations.len()`; `genesis` is the generation-0 signing key when
    /// there were rotations.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_rotated(
        node_id: &str,
        current: &tansiq_crypto::Identity,
        genesis: Option<[u8; 32]>,
        rotations: &[Rotation],
        name: &str,
        country: &str,
        endpoint: &str,
        created: &str,
    ) -> NodeCard {
        let body = CardBody {
            v: 1,
            id: node_id.to_string(),
            name: name.to_string(),
            country: country.to_string(),
            endpoint: endpoint.to_string(),
            signing_key: tansiq_crypto::b64(current.signing_public()),
            encryption_key: tansiq_crypto::b64(current.encryption_public()),
            created: created.to_string(),
            gen: rotations.len() as u64,
            genesis_key: genesis
                .filter(|_| !rotations.is_empty())
                .map(tansiq_crypto::b64),
            rotations: rotations.to_vec(),
        };
        let v = serde_json::to_value(&body).expect("cards serialise");
        let sig = current
            .sign_json(CARD_CONTEXT, &v)
            .expect("cards are canonicalisable");
        NodeCard {
            body,
            sig: tansiq_crypto::b64(sig),
        }
    }

    /// Parses and verifies a card: well-formed, the id derives from the
    /// signing key, and the self-signature holds.
    pub fn parse_verified(bytes: &[u8]) -> Result<NodeCard, Invalid> {
        if bytes.len() > MAX_CARD_BYTES {
            return Err(Invalid::new(format!(
                "a card is at most {MAX_CARD_BYTES} bytes"
            )));
        }
        let card: NodeCard = serde_json::from_slice(bytes)
            .map_err(|e| Invalid::new(format!("not a node card: {e}")))?;
        card.verify()?;
        Ok(card)
    }

    pub fn verify(&self) -> Result<(), Invalid> {
        let b = &self.body;
        if b.v != 1 {
            return Err(Invalid::new(format!(
                "card version {} is not supported",
                b.v
            )));
        }
        parse_country(&b.country).map_err(|e| e.at("country"))?;
        if b.name.trim().is_empty() || b.name.len() > 200 {
            return Err(Invalid::new("card name must be 1-200 characters"));
        }
        let key = self.signing_key()?;
        tansiq_crypto::b64_decode_array::<32>(&b.encryption_key)
            .map_err(|_| Invalid::new("card encryption_key is not 32 bytes of base64"))?;
        // The chain: genesis key (the id derives from it), then each
        // rotation signed by the key before it, ending at this card's keys.
        let spans = self.key_spans()?;
        let genesis = spans[0].key;
        if tansiq_crypto::node_id_from_key(&genesis) != b.id {
            return Err(Invalid::new(
                "card id does not derive from its genesis signing key (forged or altered card)",
            ));
        }
        if spans.last().map(|s| s.key) != Some(key) {
            return Err(Invalid::new(
                "the card's signing key is not the last key of its rotation chain",
            ));
        }
        if let Some(last) = b.rotations.last() {
            if last.body.encryption_key != b.encryption_key {
                return Err(Invalid::new(
                    "the card's encryption key is not the one its last rotation names",
                ));
            }
        }
        let mut prev = genesis;
        for r in &b.rotations {
            if r.body.id != b.id {
                return Err(Invalid::new("a rotation statement names another node"));
            }
            r.verify(&prev)?;
            prev = decode_key(&r.body.signing_key, "rotation signing_key")?;
        }
        let sig = tansiq_core::record::decode_sig(&self.sig)?;
        let v = serde_json::to_value(b).expect("cards serialise");
        tansiq_crypto::verify_json(&key, CARD_CONTEXT, &v, &sig)
            .map_err(|_| Invalid::new("card signature does not verify (forged or altered card)"))
    }

    /// The node's signing keys by generation with the time span each may
    /// sign for. Checks the chain's shape (not its signatures: `verify`).
    pub fn key_spans(&self) -> Result<Vec<KeySpan>, Invalid> {
        let b = &self.body;
        if b.gen > MAX_GENERATION {
            return Err(Invalid::new(format!(
                "a card carries at most {MAX_GENERATION} rotations"
            )));
        }
        if b.rotations.len() as u64 != b.gen {
            return Err(Invalid::new(
                "a card of generation N carries exactly N rotation statements",
            ));
        }
        let genesis = match (&b.genesis_key, b.gen) {
            (None, 0) => self.signing_key()?,
            (Some(g), n) if n > 0 => decode_key(g, "genesis_key")?,
            _ => {
                return Err(Invalid::new(
                    "genesis_key is present exactly when the generation is above 0",
                ))
            }
        };
        chain_spans(genesis, &b.rotations)
    }

    /// The generation-0 signing key.
    pub fn genesis_key(&self) -> Result<[u8; 32], Invalid> {
        Ok(self.key_spans()?[0].key)
    }

    /// Whether `newer` (verified, same id) continues this card's chain:
    /// same keys for every generation this card has. A different key at a
    /// shared generation is a fork (someone holding an old key made
    /// another chain).
    pub fn is_extended_by(&self, newer: &NodeCard) -> Result<bool, Invalid> {
        let mine = self.key_spans()?;
        let theirs = newer.key_spans()?;
        Ok(mine.len() <= theirs.len() && mine.iter().zip(&theirs).all(|(a, b)| a.key == b.key))
    }

    pub fn signing_key(&self) -> Result<[u8; 32], Invalid> {
        tansiq_crypto::b64_decode_array::<32>(&self.body.signing_key)
            .map_err(|_| Invalid::new("card signing_key is not 32 bytes of base64"))
    }
}

fn decode_key(s: &str, what: &str) -> Result<[u8; 32], Invalid> {
    tansiq_crypto::b64_decode_array::<32>(s)
        .map_err(|_| Invalid::new(format!("card {what} is not 32 bytes of base64")))
}

/// The signing keys of this node and its peers as a transaction sees
/// them: the current key of each (what `get` and `contains_key` give,
/// through `Deref`), and the spans of every key of nodes that rotated,
/// for signatures made before a rotation.
#[derive(Debug, Clone, Default)]
pub struct KeyBook {
    current: BTreeMap<String, [u8; 32]>,
    spans: BTreeMap<String, Vec<KeySpan>>,
}

impl std::ops::Deref for KeyBook {
    type Target = BTreeMap<String, [u8; 32]>;
    fn deref(&self) -> &Self::Target {
        &self.current
    }
}

impl KeyBook {
    /// Adds a node with one key (generation 0).
    pub fn insert(&mut self, id: String, key: [u8; 32]) {
        self.spans.remove(&id);
        self.current.insert(id, key);
    }

    /// Adds a node with its key chain (`spans` from [`NodeCard::key_spans`]).
    pub fn insert_spans(&mut self, id: String, spans: Vec<KeySpan>) {
        let Some(last) = spans.last() else {
            return;
        };
        self.current.insert(id.clone(), last.key);
        if spans.len() > 1 {
            self.spans.insert(id, spans);
        } else {
            self.spans.remove(&id);
        }
    }

    /// The keys of `id` that may have signed an object dated `secs` (Unix
    /// seconds): the current key for a node that never rotated.
    pub fn keys_at(&self, id: &str, secs: i64) -> Vec<[u8; 32]> {
        match self.spans.get(id) {
            Some(spans) => spans
                .iter()
                .filter(|s| s.covers(secs))
                .map(|s| s.key)
                .collect(),
            None => self.current.get(id).copied().into_iter().collect(),
        }
    }

    /// The generation of `id`'s newest key held here if that key's span
    /// covers `secs` — so a generation this node has not seen yet could
    /// have signed an object of that date; `None` for an unknown node or
    /// a date only older, closed spans cover.
    pub fn newest_gen_covering(&self, id: &str, secs: i64) -> Option<u64> {
        match self.spans.get(id) {
            Some(spans) => spans.last().filter(|s| s.covers(secs)).map(|s| s.gen),
            None => self.current.get(id).map(|_| 0),
        }
    }

    /// [`KeyBook::keys_at`] for an RFC 3339 time (unparseable: the current
    /// key only).
    pub fn keys_at_time(&self, id: &str, at: &str) -> Vec<[u8; 32]> {
        if !self.spans.contains_key(id) {
            // Never rotated: one key, whatever the date (no parsing on
            // the hot path of taking in records).
            return self.current.get(id).copied().into_iter().collect();
        }
        match tansiq_core::time::parse_instant(at) {
            Ok(t) => self.keys_at(id, t.timestamp()),
            Err(_) => self.current.get(id).copied().into_iter().collect(),
        }
    }

    /// The keys of `id` still in force at or after `secs`, newest first:
    /// those that may have signed, at some time after `secs`, an object
    /// that existed then (a co-signature of a charter created at `secs`).
    pub fn keys_since(&self, id: &str, secs: i64) -> Vec<[u8; 32]> {
        match self.spans.get(id) {
            Some(spans) => spans
                .iter()
                .rev()
                .filter(|s| s.until.is_none_or(|u| u >= secs))
                .map(|s| s.key)
                .collect(),
            None => self.current.get(id).copied().into_iter().collect(),
        }
    }

    /// Every key `id` ever had, newest first.
    pub fn all_keys(&self, id: &str) -> Vec<[u8; 32]> {
        match self.spans.get(id) {
            Some(spans) => spans.iter().rev().map(|s| s.key).collect(),
            None => self.current.get(id).copied().into_iter().collect(),
        }
    }

    /// The key among `keys_at(id, secs)` under which `verify` succeeds.
    pub fn verifying_key(
        &self,
        id: &str,
        secs: i64,
        verify: impl Fn(&[u8; 32]) -> bool,
    ) -> Option<[u8; 32]> {
        self.keys_at(id, secs).into_iter().find(|k| verify(k))
    }
}

/// The spans of a chain of keys: `genesis`, then each rotation's key.
/// Checks order and times, not signatures.
pub fn chain_spans(genesis: [u8; 32], rotations: &[Rotation]) -> Result<Vec<KeySpan>, Invalid> {
    let mut spans = vec![KeySpan {
        gen: 0,
        key: genesis,
        from: 0,
        until: None,
    }];
    for (i, r) in rotations.iter().enumerate() {
        if r.body.gen != i as u64 + 1 {
            return Err(Invalid::new(
                "rotation statements must be in generation order",
            ));
        }
        let at = tansiq_core::time::parse_instant(&r.body.at)
            .map_err(|e| e.at("rotation at"))?
            .timestamp();
        let prev = spans.last_mut().expect("genesis pushed");
        if at < prev.from {
            return Err(Invalid::new("rotation times must not go backwards"));
        }
        prev.until = Some(at);
        decode_key(&r.body.encryption_key, "rotation encryption_key")?;
        spans.push(KeySpan {
            gen: r.body.gen,
            key: decode_key(&r.body.signing_key, "rotation signing_key")?,
            from: at,
            until: None,
        });
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tansiq_crypto::Identity;

    fn rotate(id: &str, prev: &Identity, next: &Identity, gen: u64, at: &str) -> Rotation {
        Rotation::sign(
            RotationBody {
                id: id.into(),
                gen,
                signing_key: tansiq_crypto::b64(next.signing_public()),
                encryption_key: tansiq_crypto::b64(next.encryption_public()),
                at: at.into(),
            },
            prev,
        )
    }

    fn chain() -> (Vec<Identity>, NodeCard) {
        let ids: Vec<Identity> = (0..3).map(|_| Identity::generate()).collect();
        let node = ids[0].node_id();
        let rots = vec![
            rotate(&node, &ids[0], &ids[1], 1, "2026-01-01T00:00:00Z"),
            rotate(&node, &ids[1], &ids[2], 2, "2026-06-01T00:00:00Z"),
        ];
        let card = NodeCard::issue_rotated(
            &node,
            &ids[2],
            Some(ids[0].signing_public()),
            &rots,
            "DRS",
            "DZ",
            "127.0.0.1:7401",
            "2025-01-01T00:00:00Z",
        );
        (ids, card)
    }

    #[test]
    fn a_rotated_card_verifies_and_its_spans_cover_each_key_s_time() {
        let (ids, card) = chain();
        card.verify().unwrap();
        let mut book = KeyBook::default();
        book.insert_spans(card.body.id.clone(), card.key_spans().unwrap());
        let id = card.body.id.as_str();
        let t = |s: &str| tansiq_core::time::parse_instant(s).unwrap().timestamp();
        let k = |i: usize| ids[i].signing_public();
        assert_eq!(book.get(id), Some(&k(2)));
        assert_eq!(book.keys_at(id, t("2025-12-31T23:49:59Z")), vec![k(0)]);
        // Around a rotation (its second, and the clock grace either side)
        // both keys apply.
        for at in [
            "2025-12-31T23:50:00Z",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:10:00Z",
        ] {
            assert_eq!(book.keys_at(id, t(at)), vec![k(0), k(1)], "{at}");
        }
        assert_eq!(book.keys_at(id, t("2026-01-01T00:10:01Z")), vec![k(1)]);
        assert_eq!(book.keys_at(id, t("2026-03-01T00:00:00Z")), vec![k(1)]);
        assert_eq!(book.keys_at(id, t("2027-01-01T00:00:00Z")), vec![k(2)]);
        assert_eq!(book.all_keys(id), vec![k(2), k(1), k(0)]);
        assert!(card.is_extended_by(&card).unwrap());
    }

    #[test]
    fn broken_chains_are_refused() {
        let (ids, card) = chain();
        let resign = |mut c: NodeCard, by: &Identity| {
            let v = serde_json::to_value(&c.body).unwrap();
            c.sig = tansiq_crypto::b64(by.sign_json(CARD_CONTEXT, &v).unwrap());
            c
        };
        // Each change below is re-signed by the current key: only the
        // chain can catch it.
        let mut c = card.clone();
        c.body.rotations[1] = rotate(&c.body.id, &ids[2], &ids[2], 2, "2026-06-01T00:00:00Z");
        let e = resign(c, &ids[2]).verify().unwrap_err();
        assert!(e.0.contains("not signed by the previous key"), "{e}");
        let mut c = card.clone();
        c.body.rotations.pop();
        assert!(
            resign(c, &ids[2]).verify().is_err(),
            "gen without its statement"
        );
        let mut c = card.clone();
        c.body.rotations.swap(0, 1);
        assert!(resign(c, &ids[2]).verify().is_err(), "order");
        let mut c = card.clone();
        c.body.genesis_key = Some(tansiq_crypto::b64(ids[1].signing_public()));
        assert!(resign(c, &ids[2]).verify().is_err(), "another genesis");
        let mut c = card.clone();
        c.body.rotations[1].body.at = "2025-01-01T00:00:00Z".into();
        assert!(resign(c, &ids[2]).verify().is_err(), "time going back");
        let mut c = card.clone();
        c.body.encryption_key = tansiq_crypto::b64(ids[0].encryption_public());
        assert!(
            resign(c, &ids[2]).verify().is_err(),
            "encryption key not the rotated one"
        );
        // Signed by an older key of the chain: not the card's key.
        assert!(resign(card.clone(), &ids[1]).verify().is_err());
        // A generation-0 card with a genesis_key, and vice versa.
        let mut c = NodeCard::issue(
            &ids[0],
            "DRS",
            "DZ",
            "127.0.0.1:7401",
            "2025-01-01T00:00:00Z",
        );
        c.body.genesis_key = Some(tansiq_crypto::b64(ids[0].signing_public()));
        assert!(resign(c, &ids[0]).verify().is_err());
    }
}
