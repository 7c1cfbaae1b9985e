//! Key rotation: a node moves to new signing, encryption (and so TLS)
//! keys while its id stays bound to its genesis key.
//!
//! - Keys: generation 0 lives in `keys/` (as created by `init`), generation
//!   N in `keys/gen-N/`, each 0600 in a 0700 directory. Old generations are
//!   kept: what was sealed to an old encryption key still opens.
//! - The store holds the chain of rotation statements (`meta.key_rotations`);
//!   the node's card carries it, so any partner holding an earlier card can
//!   verify the new one (`crate::card`, tansiq-net's `card.rs`).
//! - Partners learn the new card by a push on the partner endpoint
//!   (`POST /peer/v1/card`, `peering.rs`), made before anything else is
//!   sent to them and retried until they answer, so none needs to be online
//!   at the moment of rotation. `meta.card_acked:<peer>` records the
//!   generation each partner confirmed; until it confirms the newest, this
//!   node presents to it the TLS key of the generation it confirmed.
//! - Receivers move a pinned card forward only along a verified chain from
//!   the same genesis key, never back to an older generation.

use serde_json::json;

use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_crypto::Identity;
use tansiq_store::{PeerRow, Tx};

use crate::card::{NodeCard, Rotation, RotationBody};
use crate::error::{KeyError, NodeError, NodeResult, PathError, PeerError};
use crate::node::Node;

use crate::keyring::gen_dir;
pub use crate::keyring::ROTATIONS_META;

fn acked_meta(peer: &str) -> String {
    format!("card_acked:{peer}")
}

/// What `Node::accept_card` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardUpdate {
    /// A node not known before.
    New,
    /// The card held already (same keys); its row was refreshed.
    Same,
    /// A later generation along the held chain: the pinned keys moved.
    Rotated { from: u64, to: u64 },
}

impl Node {
    /// This node's key generation (0: never rotated).
    pub fn key_generation(&self) -> u64 {
        self.rotations.len() as u64
    }

    /// The keys of generation `gen` (the current ones for `gen` at or
    /// beyond the current generation).
    pub(crate) fn identity_of_generation(&self, gen: u64) -> &Identity {
        self.retired.get(gen as usize).unwrap_or(&self.identity)
    }

    /// Every identity this node had, newest first (to open what was sealed
    /// to any of them).
    pub fn identities(&self) -> Vec<&Identity> {
        std::iter::once(&self.identity)
            .chain(self.retired.iter().rev())
            .collect()
    }

    /// Rotates this node's keys: new signing and encryption keys (0600),
    /// a rotation statement signed by the current key, the new card, an
    /// audit entry and a checkpoint signed by the new key — and partners
    /// get the new card by push (see the module docs). Old keys are kept.
    /// Returns the new card. Refused while `serve` holds the partner port
    /// (it keeps the current keys in memory): stop it, rotate, start it.
    pub fn keys_rotate(&self, actor: &Actor) -> NodeResult<NodeCard> {
        policy::authorize(actor, Action::ManagePeers)?;
        let listen = crate::config::parse_listen(&self.config.listen)?;
        if let Err(e) = std::net::TcpListener::bind(listen) {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                return Err(NodeError::bad(format!(
                    "the partner port {listen} is in use: stop `tansiq serve` before rotating keys \
                     (it holds the current keys), then start it again"
                )));
            }
        }
        let gen = self.key_generation() + 1;
        let d = gen_dir(&self.dir, gen);
        if d.exists() {
            // Left by a rotation that crashed before its commit: never used.
            std::fs::remove_dir_all(&d).map_err(|e| PathError::new("removing", &d, e))?;
        }
        let new = Identity::generate();
        new.save(&d)
            .map_err(|e| KeyError::files("saving keys", e))?;
        let rotation = Rotation::sign(
            RotationBody {
                id: self.id().to_string(),
                gen,
                signing_key: tansiq_crypto::b64(new.signing_public()),
                encryption_key: tansiq_crypto::b64(new.encryption_public()),
                at: time::format(&self.signing_time()),
            },
            &self.identity,
        );
        let mut rotations = self.rotations.clone();
        rotations.push(rotation.clone());
        let written = self.commit(|tx, _| {
            tx.meta_set(
                ROTATIONS_META,
                &serde_json::to_string(&rotations).expect("rotations serialise"),
            )?;
            self.audit(
                tx,
                &actor.audit_name(),
                "keys.rotate",
                self.id(),
                json!({
                    "gen": gen,
                    "signing_key": rotation.body.signing_key,
                    "encryption_key": rotation.body.encryption_key,
                    "at": rotation.body.at,
                    "sig": rotation.sig,
                }),
            )?;
            // From here on the log is signed by the new key (audit verify
            // switches keys after this entry).
            self.checkpoint_signed_by(tx, &new)?;
            Ok::<_, NodeError>(())
        });
        if let Err(e) = written {
            let _ = std::fs::remove_dir_all(&d);
            return Err(e);
        }
        let created = self
            .store
            .read(|tx| tx.meta_get("card_created"))?
            .unwrap_or_else(|| time::format(&time::now()));
        let genesis = self.retired.first().unwrap_or(&self.identity);
        Ok(NodeCard::issue_rotated(
            self.id(),
            &new,
            Some(genesis.signing_public()),
            &rotations,
            &self.config.name,
            &self.config.country,
            self.config.endpoint(),
            &created,
        ))
    }

    /// The generation of this node's card that `peer` confirmed holding
    /// (0 until it confirms one).
    pub(crate) fn card_acked(&self, tx: &mut Tx, peer: &str) -> NodeResult<u64> {
        Ok(tx
            .meta_get(&acked_meta(peer))?
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }

    /// Records that `peer` holds this node's card of generation `gen`.
    pub(crate) fn set_card_acked(&self, peer: &str, gen: u64) -> NodeResult<()> {
        self.commit(|tx, _| {
            if self.card_acked(tx, peer)? < gen {
                tx.meta_set(&acked_meta(peer), &gen.to_string())?;
                self.audit(
                    tx,
                    "node",
                    "peer.card_pushed",
                    peer,
                    json!({"peer": peer, "gen": gen}),
                )?;
            }
            Ok::<_, NodeError>(())
        })
    }

    /// Peers that have not confirmed this node's current card, with the
    /// generation they did confirm. Empty for a node that never rotated.
    pub fn card_pending(&self) -> NodeResult<Vec<(String, u64)>> {
        let gen = self.key_generation();
        if gen == 0 {
            return Ok(Vec::new());
        }
        self.store.read(|tx| {
            let mut out = Vec::new();
            for p in tx.peers()? {
                let acked = self.card_acked(tx, &p.id)?;
                if acked < gen {
                    out.push((p.id, acked));
                }
            }
            Ok(out)
        })
    }

    /// Takes a verified card of another node into the trusted set, in the
    /// caller's transaction: a node not known yet, the same card again, or
    /// a later generation continuing the chain held (audited as
    /// `peer.rotate`). Refuses an older generation (rollback) and a chain
    /// that is not a continuation of the one held (a fork).
    pub(crate) fn accept_card(
        &self,
        tx: &mut Tx,
        actor: &str,
        card: &NodeCard,
    ) -> NodeResult<CardUpdate> {
        card.verify()?;
        if card.body.id == self.id() {
            return Err(NodeError::bad("that is this node's own card"));
        }
        crate::config::parse_listen(&card.body.endpoint)
            .map_err(|e| NodeError::bad(format!("card endpoint: {e}")))?;
        let update = match tx.peer(&card.body.id)? {
            None => CardUpdate::New,
            Some(old) => {
                let old: NodeCard =
                    serde_json::from_str(&old.card).map_err(|e| PeerError::Card(e.to_string()))?;
                let (from, to) = (old.body.gen, card.body.gen);
                if to < from {
                    return Err(NodeError::bad(format!(
                        "this card is of key generation {to}, older than the generation {from} \
                         already trusted for {} (rollback refused)",
                        card.body.id
                    )));
                }
                if !old.is_extended_by(card)? {
                    return Err(NodeError::bad(
                        "a different key is already trusted for this node id, and this card's \
                         rotation chain does not continue it",
                    ));
                }
                if to == from {
                    CardUpdate::Same
                } else {
                    CardUpdate::Rotated { from, to }
                }
            }
        };
        let row = PeerRow {
            id: card.body.id.clone(),
            name: card.body.name.clone(),
            country: card.body.country.clone(),
            endpoint: card.body.endpoint.clone(),
            card: serde_json::to_string(card).expect("cards serialise"),
        };
        tx.put_peer(&row, &time::format(&time::now()))?;
        match update {
            CardUpdate::New => {
                self.audit(
                    tx,
                    actor,
                    "peer.add",
                    &row.id,
                    json!({"id": row.id, "signing_key": card.body.signing_key, "gen": card.body.gen}),
                )?;
            }
            CardUpdate::Rotated { from, to } => {
                self.audit(
                    tx,
                    actor,
                    "peer.rotate",
                    &row.id,
                    json!({"id": row.id, "signing_key": card.body.signing_key, "from_gen": from, "gen": to}),
                )?;
            }
            CardUpdate::Same => {}
        }
        self.checkpoint_in(tx)?;
        Ok(update)
    }

    /// A partner pushed its card over the partner endpoint: `from` is the
    /// node the TLS handshake authenticated; the card must be its own.
    pub fn receive_card_push(&self, from: &str, bytes: &[u8]) -> NodeResult<CardUpdate> {
        let card = NodeCard::parse_verified(bytes)?;
        if card.body.id != from {
            return Err(NodeError::bad(format!(
                "{from} pushed the card of another node ({})",
                card.body.id
            )));
        }
        self.commit(|tx, _| {
            if tx.peer(from)?.is_none() {
                return Err(NodeError::bad(format!("{from} is not a known peer")));
            }
            self.accept_card(tx, &format!("node:{from}"), &card)
        })
    }
}

impl Node {
    /// The card this node holds of `id`, for peer `requester` that asked
    /// for it (`POST /peer/v1/card/fetch`). Given only if `id` is a known
    /// peer and this node has something of `id`'s for the requester — an
    /// outbox row (custody as a relay, or forwarding) or an active channel
    /// with both as members — so it reveals no partnership the requester
    /// could not already see. `None`: not held or not disclosed (the same
    /// answer).
    pub fn card_for_peer(&self, requester: &str, id: &str) -> NodeResult<Option<String>> {
        if id == self.id() {
            return Ok(Some(
                serde_json::to_string(&self.card()).expect("cards serialise"),
            ));
        }
        self.store.read(|tx| {
            let Some(row) = tx.peer(id)? else {
                return Ok(None);
            };
            if tx.peer(requester)?.is_none() {
                return Ok(None);
            }
            if tx.sync_outbox_has(requester, id)? {
                return Ok(Some(row.card));
            }
            for c in tx.channels()? {
                let st = crate::held::load_channel(tx, &c.id)?;
                if let Some(a) = st.active {
                    let m = &a.charter.members;
                    if m.iter().any(|x| x == requester) && m.iter().any(|x| x == id) {
                        return Ok(Some(row.card));
                    }
                }
            }
            Ok(None)
        })
    }

    /// Takes a card of peer `id` fetched from `source`: it must be `id`'s
    /// own, verify, and continue the chain held (as a pushed card, §1);
    /// a node that is not already a peer is never added this way.
    pub fn take_fetched_card(
        &self,
        source: &str,
        id: &str,
        bytes: &[u8],
    ) -> NodeResult<CardUpdate> {
        let card = NodeCard::parse_verified(bytes)?;
        if card.body.id != id {
            return Err(NodeError::bad(format!(
                "{source} answered with the card of another node ({})",
                card.body.id
            )));
        }
        self.commit(|tx, _| {
            if tx.peer(id)?.is_none() {
                return Err(NodeError::bad(format!("{id} is not a known peer")));
            }
            self.accept_card(tx, &format!("node:{source}"), &card)
        })
    }

    /// The generation of the card held for peer `id` (0 if unknown).
    pub(crate) fn peer_generation(&self, id: &str) -> NodeResult<u64> {
        self.store.read(|tx| {
            Ok(match tx.peer(id)? {
                Some(p) => serde_json::from_str::<NodeCard>(&p.card)
                    .map(|c| c.body.gen)
                    .unwrap_or(0),
                None => 0,
            })
        })
    }
}
