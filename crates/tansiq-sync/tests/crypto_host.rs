//! The boundary with real cryptography, as the node will implement it:
//! the originator seals the body to the recipients with the canonical
//! header as AAD and signs the envelope id; the receiving host verifies the
//! signature; only recipients open the body; a relay carries it unopened.

use std::collections::BTreeMap;

use tansiq_crypto::seal::{self, Recipient, Sealed};
use tansiq_crypto::Identity;
use tansiq_sync::*;

struct Keys(BTreeMap<NodeId, ([u8; 32], [u8; 32])>);

/// A host with real signature checks over an in-memory store.
struct RealHost<'a> {
    keys: &'a Keys,
    members: Vec<NodeId>,
    held: BTreeMap<EnvelopeId, Envelope>,
}

impl Host for RealHost<'_> {
    fn verify(&self, env: &Envelope) -> Verdict {
        let h = env.header();
        let Some((sign_pk, _)) = self.keys.0.get(&h.originator) else {
            return Verdict::Retry("unknown originator key".into());
        };
        match tansiq_crypto::verify(sign_pk, ENVELOPE_SIG_CONTEXT, &env.id().0, env.sig()) {
            Ok(()) => Verdict::Accept,
            Err(_) => Verdict::Refuse("bad signature".into()),
        }
    }
    fn members(&self, _: &ChannelId) -> Option<Vec<NodeId>> {
        Some(self.members.clone())
    }
    fn envelope(&self, id: &EnvelopeId) -> Option<Envelope> {
        self.held.get(id).cloned()
    }
    fn stream_range(&self, c: &ChannelId, o: &NodeId, from: u64, limit: usize) -> Vec<Envelope> {
        let mut v: Vec<Envelope> = self
            .held
            .values()
            .filter(|e| {
                e.header().channel == *c && e.header().originator == *o && e.header().seq >= from
            })
            .cloned()
            .collect();
        v.sort_by_key(|e| e.header().seq);
        v.truncate(limit);
        v
    }
}

fn node(seed: u8) -> (Identity, NodeId) {
    let id = Identity::from_secret_bytes([seed; 32], [seed.wrapping_add(100); 32]);
    let n = NodeId::new(id.node_id()).unwrap();
    (id, n)
}

#[test]
fn sealed_signed_envelope_through_relay_and_recipient() {
    let (dz_id, dz) = node(1);
    let (ma_id, ma) = node(2);
    let (tn_id, tn) = node(3);
    let keys = Keys(
        [(&dz_id, &dz), (&ma_id, &ma), (&tn_id, &tn)]
            .into_iter()
            .map(|(i, n)| (n.clone(), (i.signing_public(), i.encryption_public())))
            .collect(),
    );
    let channel = ChannelId::new("ch_dzma").unwrap();

    // Originator: prepare, seal with the header as AAD, sign the id, submit.
    let mut dz_engine = Engine::new(dz.clone(), Config::default(), 1, 0);
    let mut dz_host = RealHost {
        keys: &keys,
        members: vec![dz.clone(), ma.clone()],
        held: BTreeMap::new(),
    };
    let header = dz_engine
        .prepare(
            &channel,
            Kind::new(Kind::MESSAGE).unwrap(),
            Precedence::Flash,
            vec![ma.clone()],
            vec![tn.clone()],
            1_700_000_000_000,
        )
        .unwrap();
    let aad = header.canonical_bytes();
    let recipients: Vec<Recipient> = header
        .recipients
        .iter()
        .map(|n| Recipient {
            id: n.as_str().to_string(),
            public: keys.0[n].1,
        })
        .collect();
    let sealed = seal::seal(b"FLASH: attack on the border post", &aad, &recipients).unwrap();
    let body = serde_json::to_vec(&sealed).unwrap();
    let env = Envelope::new(header, Body::Sealed(body), |id| {
        dz_id.sign(ENVELOPE_SIG_CONTEXT, &id.0)
    })
    .unwrap();
    let out = dz_engine.submit(env.clone(), 0, &dz_host).unwrap();
    for e in &out.effects {
        if let Effect::Store { envelope, .. } = e {
            dz_host.held.insert(envelope.id(), envelope.clone());
        }
    }

    // Through the wire as bytes.
    let wire = Message::Batch {
        batch: 1,
        items: vec![Item {
            to: ma.clone(),
            envelope: env.clone(),
        }],
    }
    .encode();

    // The relay takes custody (signature checked, body unopenable).
    let mut tn_engine = Engine::new(tn.clone(), Config::default(), 2, 0);
    let tn_host = RealHost {
        keys: &keys,
        members: vec![],
        held: BTreeMap::new(),
    };
    let out = tn_engine.handle_bytes(&dz, &wire, 10, &tn_host);
    let Message::BatchAck { results, .. } = &out.transmits[0].message else {
        panic!("no ack")
    };
    assert_eq!(results[0].status, Status::Accepted);
    let sealed: Sealed = serde_json::from_slice(match env.body() {
        Body::Sealed(b) => b,
        Body::Omitted(_) => panic!(),
    })
    .unwrap();
    assert!(seal::open(&sealed, env.header_bytes(), tn.as_str(), &tn_id).is_err());

    // The recipient stores, delivers once, and opens it.
    let mut ma_engine = Engine::new(ma.clone(), Config::default(), 3, 0);
    let ma_host = RealHost {
        keys: &keys,
        members: vec![dz.clone(), ma.clone()],
        held: BTreeMap::new(),
    };
    let out = ma_engine.handle_bytes(&tn, &wire, 20, &ma_host);
    let delivered: Vec<&Envelope> = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver { envelope, .. } => Some(envelope),
            _ => None,
        })
        .collect();
    assert_eq!(delivered.len(), 1);
    let plain = seal::open(&sealed, delivered[0].header_bytes(), ma.as_str(), &ma_id).unwrap();
    assert_eq!(plain, b"FLASH: attack on the border post");

    // A relay rewriting the header (e.g. precedence) breaks the id, hence
    // the signature, and the AAD of the sealed body.
    let mut v = env.to_value();
    v["header"]["precedence"] = serde_json::json!("routine");
    let altered = Envelope::from_value(v).unwrap();
    assert_ne!(altered.id(), env.id());
    assert!(matches!(ma_host.verify(&altered), Verdict::Refuse(_)));
    assert!(seal::open(&sealed, altered.header_bytes(), ma.as_str(), &ma_id).is_err());
}
