//! Peers and users.

use serde::Serialize;
use serde_json::json;

use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::{Actor, Role, User};

use crate::card::NodeCard;
use crate::error::{NodeError, NodeResult};
use crate::node::Node;

#[derive(Debug, Clone, Serialize)]
pub struct PeerView {
    pub id: String,
    pub name: String,
    pub country: String,
    pub endpoint: String,
}

impl Node {
    /// Trusts a partner node after verifying its card; a newer card of a
    /// known node (a key rotation) moves its pinned keys forward along a
    /// verified chain (see `rotation.rs`).
    pub fn peer_add(&self, actor: &Actor, card_bytes: &[u8]) -> NodeResult<String> {
        policy::authorize(actor, Action::ManagePeers)?;
        let card = NodeCard::parse_verified(card_bytes)?;
        self.store.write(|tx| {
            self.accept_card(tx, &actor.audit_name(), &card)?;
            Ok(card.body.id.clone())
        })
    }

    pub fn peer_list(&self, actor: &Actor) -> NodeResult<Vec<PeerView>> {
        policy::authorize(actor, Action::ReadChannels)?;
        self.store.read(|tx| {
            Ok(tx
                .peers()?
                .into_iter()
                .map(|p| PeerView {
                    id: p.id,
                    name: p.name,
                    country: p.country,
                    endpoint: p.endpoint,
                })
                .collect())
        })
    }

    /// Creates a local user; returns the API token (shown once, stored
    /// only as a hash).
    pub fn user_add(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        files: &[String],
    ) -> NodeResult<String> {
        policy::authorize(actor, Action::ManageUsers)?;
        let user = User::new(name, role, files)?;
        let token = tansiq_crypto::token::generate();
        let hash = tansiq_crypto::token::hash(&token);
        self.store.write(|tx| {
            if tx.user_exists(&user.name)? {
                return Err(NodeError::bad(format!("user {} already exists", user.name)));
            }
            tx.add_user(&user, &hash, &time::format(&time::now()))?;
            self.audit(
                tx,
                &actor.audit_name(),
                "user.add",
                &user.name,
                json!({"name": user.name, "role": user.role, "files": user.files}),
            )?;
            self.checkpoint_in(tx)?;
            Ok(())
        })?;
        Ok(token)
    }

    pub fn user_list(&self, actor: &Actor) -> NodeResult<Vec<User>> {
        policy::authorize(actor, Action::ManageUsers)?;
        Ok(self.store.read(|tx| tx.users())?)
    }

    /// The user an API token belongs to.
    pub fn authenticate(&self, token: &str) -> NodeResult<Actor> {
        if !tansiq_crypto::token::is_well_formed(token) {
            return Err(NodeError::Unauthorized);
        }
        let hash = tansiq_crypto::token::hash(token);
        self.store
            .read(|tx| tx.user_by_token(&hash))?
            .map(Actor::User)
            .ok_or(NodeError::Unauthorized)
    }
}
