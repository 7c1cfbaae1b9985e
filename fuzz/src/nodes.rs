//! Two real nodes (stores, keys, engines) in a RAM-disk directory, trusted
//! to each other and sharing one active channel: "dz" (A, the node under
//! test) and "ma" (B, the peer whose input A takes). Messages move by
//! direct hand-over of their bytes, as in `crates/tansiq-node/tests`.

use tansiq_core::user::Actor;
use tansiq_crypto::seal::{self, Recipient};
use tansiq_node::federation::{control_channel, Payload};
use tansiq_node::{InitOptions, Node};
use tansiq_sync::{Envelope, Item, Message, Precedence, ENVELOPE_SIG_CONTEXT};

const OP: Actor = Actor::Operator;

/// The two nodes and their shared channel.
pub struct NodePair {
    /// Keeps the directory alive.
    _dir: tempfile::TempDir,
    /// The node under test.
    pub a: Node,
    /// Its peer, the source of every input.
    pub b: Node,
    /// A channel whose members are exactly A and B (active at both).
    pub channel: String,
    /// The control channel of A and B.
    pub control: String,
}

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
    .expect("node init")
}

impl NodePair {
    /// Builds both nodes and forms the channel (about a second).
    pub fn new() -> NodePair {
        let dir = crate::scratch_dir("tansiq-fuzz-nodes-");
        let a = node(dir.path(), "dz", "DZ", 7401);
        let b = node(dir.path(), "ma", "MA", 7411);
        a.peer_add(&OP, &serde_json::to_vec(&b.card()).expect("card"))
            .expect("peer add");
        b.peer_add(&OP, &serde_json::to_vec(&a.card()).expect("card"))
            .expect("peer add");
        let channel = a
            .channel_create(
                &OP,
                "FUZZ",
                vec![b.id().to_string()],
                vec!["terrorism".into()],
                vec![],
                None,
            )
            .expect("channel create");
        let control = control_channel(a.id(), b.id());
        let pair = NodePair {
            _dir: dir,
            a,
            b,
            channel,
            control,
        };
        pair.pump();
        pair.b.channel_accept(&OP, &pair.channel).expect("accept");
        pair.pump();
        pair
    }

    /// Replaces the placeholders `@A@`, `@B@`, `@CH@` and `@CTL@` in an
    /// input by A's and B's node ids, the channel and the control
    /// channel, so that seeds written once stay addressed correctly to
    /// nodes whose keys are drawn afresh in every process.
    pub fn substitute(&self, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        for (from, to) in [
            (&b"@A@"[..], self.a.id().as_bytes()),
            (b"@B@", self.b.id().as_bytes()),
            (b"@CH@", self.channel.as_bytes()),
            (b"@CTL@", self.control.as_bytes()),
        ] {
            if out.windows(from.len()).any(|w| w == from) {
                out = replace(&out, from, to);
            }
        }
        out
    }

    /// Hands every queued message to its recipient until nothing moves
    /// (bounded). Errors of the receiving side are not panics and are
    /// ignored.
    pub fn pump(&self) {
        for _ in 0..20 {
            let mut moved = false;
            for (src, dst) in [(&self.a, &self.b), (&self.b, &self.a)] {
                for t in src.federation.take_outgoing() {
                    if t.to.as_str() != dst.id() {
                        continue;
                    }
                    let bytes = t.message.encode();
                    let _ = dst.take_in_peer_message(src.id(), &bytes, false);
                    moved = true;
                }
            }
            if !moved {
                return;
            }
        }
        // Whatever is still queued is dropped: the next input starts clean.
        let _ = self.a.federation.take_outgoing();
        let _ = self.b.federation.take_outgoing();
    }

    /// A takes `bytes` as a message from B (the transport's path after
    /// authentication), then replies are exchanged.
    pub fn receive_from_b(&self, bytes: &[u8]) {
        let a = &self.a;
        let _ = a.take_in_peer_message(self.b.id(), bytes, false);
        self.pump();
    }

    /// Re-signs, as B, every envelope that names B as its originator (the
    /// id changes with the header, so the signature is made anew). Others
    /// are kept. The input of a malicious but authenticated peer.
    pub fn resign(&self, env: &Envelope) -> Envelope {
        if env.header().originator.as_str() != self.b.id() {
            return env.clone();
        }
        let id = &self.b.identity;
        Envelope::new(env.header().clone(), env.body().clone(), |eid| {
            id.sign(ENVELOPE_SIG_CONTEXT, &eid.0)
        })
        .unwrap_or_else(|_| env.clone())
    }

    /// [`NodePair::resign`] over every envelope of a message.
    pub fn resign_message(&self, m: Message) -> Message {
        match m {
            Message::Batch { batch, items } => Message::Batch {
                batch,
                items: self.resign_items(items),
            },
            Message::FetchReply {
                channel,
                originator,
                envelopes,
                more,
            } => Message::FetchReply {
                channel,
                originator,
                envelopes: envelopes.iter().map(|e| self.resign(e)).collect(),
                more,
            },
            m => m,
        }
    }

    /// [`NodePair::resign`] over bundle or batch items.
    pub fn resign_items(&self, items: Vec<Item>) -> Vec<Item> {
        items
            .into_iter()
            .map(|i| Item {
                to: i.to,
                envelope: self.resign(&i.envelope),
            })
            .collect()
    }

    /// B builds a bundle file for A around `items_plain` (the sealed
    /// plaintext, normally a JSON array of items), signed and sealed as
    /// `Node::bundle_export` does (format: docs/SYNC.md, bundle.rs), with
    /// `count` as the signed item count.
    pub fn bundle_for_a(&self, items_plain: &[u8], count: u64) -> Vec<u8> {
        let (from, to) = (self.b.id(), self.a.id());
        let created = "2026-01-01T00:00:00Z";
        let aad = format!("tansiq/bundle/v1\0{from}\0{to}\0{created}");
        let a_key = self.a.identity.encryption_public();
        let sealed = seal::seal(
            items_plain,
            aad.as_bytes(),
            &[Recipient {
                id: to.to_string(),
                public: a_key,
            }],
        )
        .expect("sealing");
        let sealed_json = serde_json::to_vec(&sealed).expect("sealed serialises");
        let head = serde_json::json!({
            "v": 1,
            "from": from,
            "to": to,
            "created": created,
            "count": count,
            "sealed_sha256": hex(&tansiq_crypto::sha256(&sealed_json)),
        });
        let sig = self
            .b
            .identity
            .sign_json("tansiq/bundle/v1", &head)
            .expect("head canonicalises");
        serde_json::to_vec(&serde_json::json!({
            "head": head,
            "sealed": sealed,
            "sig": tansiq_crypto::b64(sig),
        }))
        .expect("bundle serialises")
    }

    /// B, a malicious but authenticated member, seals `payload` to A and
    /// itself in `channel`, signs and sends it; A takes it in.
    pub fn deliver_from_b(&self, channel: &str, kind: &str, precedence: Precedence, p: &Payload) {
        let b = &self.b;
        let mut recipients = vec![self.a.id().to_string(), b.id().to_string()];
        recipients.sort();
        let _ = b.send_unchecked_as(channel, kind, precedence, recipients, vec![], p);
        self.pump();
    }
}

impl Default for NodePair {
    fn default() -> Self {
        NodePair::new()
    }
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
