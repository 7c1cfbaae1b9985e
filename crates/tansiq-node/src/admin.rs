//! Peers and users.

use serde::Serialize;
use serde_json::json;

use tansiq_core::policy::{self, Action};
use tansiq_core::time;
use tansiq_core::user::{token_expiry, Actor, Role, User, TOKEN_DEFAULT_DAYS};

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
        self.commit(|tx, _| {
            self.accept_card(tx, &actor.audit_name(), &card)?;
            Ok(card.body.id.clone())
        })
    }

    /// Stops trusting a partner: its pinned keys go (no mTLS connection
    /// from it is accepted once `serve` refreshes its peers, and nothing it
    /// signs verifies here any more), what is queued for it is dropped, and
    /// its hit/no-hit exposures end. Refused (channel membership rule)
    /// while it is a member or relay of a channel this node is in, unless
    /// `force`: the charters stay as their members signed them (no node
    /// rewrites a shared charter alone), and nothing reaches the removed
    /// peer from here. Audited as `peer.remove`.
    pub fn peer_remove(&self, actor: &Actor, id: &str, force: bool) -> NodeResult<PeerRemoved> {
        policy::authorize(actor, Action::ManagePeers)?;
        self.commit(|tx, _| {
            let peer = tx
                .peer(id)?
                .ok_or_else(|| NodeError::NotFound(format!("no peer {id}; see `tansiq peer list`")))?;
            let mut channels = Vec::new();
            for c in tx.channels()? {
                let st = crate::channels::load_channel(tx, &c.id)?;
                if st.active.as_ref().is_some_and(|a| !a.charter.is_member(self.id())) {
                    continue; // this node left it
                }
                let holds = [&st.active, &st.pending].into_iter().flatten().any(|s| {
                    s.charter.members.iter().chain(&s.charter.relays).any(|m| m == id)
                });
                if holds {
                    channels.push(c.id);
                }
            }
            if !channels.is_empty() && !force {
                return Err(policy::Refusal {
                    rule: policy::Rule::Membership,
                    reason: format!(
                        "peer {id} is a member or relay of channel(s) {}: take it out with \
                         `tansiq channel update CHANNEL --remove {id}` first, or pass --force \
                         (the charters keep it; nothing more is delivered to it from here)",
                        channels.join(", ")
                    ),
                }
                .into());
            }
            let dropped = tx.remove_peer(id)?.unwrap_or(0);
            // Serving engines rebuild from the store, without its rows.
            tx.meta_set(
                "sync_gen",
                &hex::encode(tansiq_crypto::random_bytes::<8>()),
            )?;
            self.audit(
                tx,
                &actor.audit_name(),
                "peer.remove",
                id,
                json!({"id": id, "name": peer.name, "country": peer.country, "channels": channels, "outbox_dropped": dropped, "forced": force}),
            )?;
            Ok(PeerRemoved {
                id: id.to_string(),
                channels,
                outbox_dropped: dropped,
            })
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

    /// Creates a local user with a token of the default lifetime; returns
    /// the API token (shown once, stored only as a hash).
    pub fn user_add(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        files: &[String],
    ) -> NodeResult<String> {
        Ok(self
            .user_add_expiring(actor, name, role, files, None)?
            .token)
    }

    /// Creates a local user whose token expires as `expires` says
    /// (`user::token_expiry`). Who may grant what: `policy::may_grant`.
    pub fn user_add_expiring(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        files: &[String],
        expires: Option<&str>,
    ) -> NodeResult<IssuedToken> {
        let user = User::new(name, role, files)?;
        if let Err(r) = policy::may_grant(actor, user.role, &user.files) {
            self.audit_grant_refusal(actor, "user.add", &user, &r);
            return Err(r.into());
        }
        let now = time::now();
        let expires_at = time::format(&token_expiry(now, expires)?);
        let token = tansiq_crypto::token::generate();
        let hash = tansiq_crypto::token::hash(&token);
        self.commit(|tx, _| {
            if tx.user_exists(&user.name)? {
                return Err(NodeError::bad(format!("user {} already exists", user.name)));
            }
            tx.add_user(&user, &hash, &time::format(&now))?;
            tx.set_user_token(&user.name, &hash, &expires_at)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "user.add",
                &user.name,
                json!({"name": user.name, "role": user.role, "files": user.files, "token_expires_at": expires_at}),
            )?;
            Ok(())
        })?;
        Ok(IssuedToken {
            name: user.name,
            token,
            expires_at,
        })
    }

    pub fn user_list(&self, actor: &Actor) -> NodeResult<Vec<UserView>> {
        policy::authorize(actor, Action::ManageUsers)?;
        let now = time::format(&time::now());
        let rows = self.store.read(|tx| tx.user_rows())?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let expires_at = token_expires_at(&r);
                let token = if r.token_revoked_at.is_some() {
                    "revoked"
                } else if expires_at <= now {
                    "expired"
                } else {
                    "active"
                };
                UserView {
                    name: r.user.name,
                    role: r.user.role,
                    files: r.user.files,
                    token: token.into(),
                    token_expires_at: expires_at,
                    token_revoked_at: r.token_revoked_at,
                }
            })
            .collect())
    }

    /// Removes a user: its token stops working with this commit. Audited
    /// as `user.remove` (role and files kept in the entry).
    pub fn user_remove(&self, actor: &Actor, name: &str) -> NodeResult<()> {
        policy::may_revoke(actor)?;
        self.commit(|tx, _| {
            let row = tx.user_row(name)?.ok_or_else(|| no_user(name))?;
            tx.remove_user(name)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "user.remove",
                name,
                json!({"name": name, "role": row.user.role, "files": row.user.files}),
            )?;
            Ok(())
        })
    }

    /// A new token for user `name` (the old one stops working with this
    /// commit). It hands the caller the user's powers, so it is a grant:
    /// `policy::may_grant` for the user's role and files.
    pub fn user_token_rotate(
        &self,
        actor: &Actor,
        name: &str,
        expires: Option<&str>,
    ) -> NodeResult<IssuedToken> {
        policy::authorize(actor, Action::ManageUsers)?;
        let now = time::now();
        let expires_at = time::format(&token_expiry(now, expires)?);
        let token = tansiq_crypto::token::generate();
        let hash = tansiq_crypto::token::hash(&token);
        self.commit(|tx, _| {
            let row = tx.user_row(name)?.ok_or_else(|| no_user(name))?;
            policy::may_grant(actor, row.user.role, &row.user.files)?;
            tx.set_user_token(name, &hash, &expires_at)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "user.token.rotate",
                name,
                json!({"name": name, "token_expires_at": expires_at}),
            )?;
            Ok::<_, NodeError>(())
        })
        .inspect_err(|e| {
            if let NodeError::Refused(r) = e {
                if r.rule == policy::Rule::Grant {
                    self.audit_refused(
                        actor,
                        "user.grant.refused",
                        name,
                        json!({"name": name, "action": "user.token.rotate", "rule": r.rule.name()}),
                    );
                }
            }
        })?;
        Ok(IssuedToken {
            name: name.to_string(),
            token,
            expires_at,
        })
    }

    /// Revokes user `name`'s token at once, issuing none: the user stays
    /// (role, files) until a `user token NAME --rotate` by whoever may.
    pub fn user_token_revoke(&self, actor: &Actor, name: &str) -> NodeResult<()> {
        policy::may_revoke(actor)?;
        // The hash of a token nobody holds (thrown away here).
        let dead = tansiq_crypto::token::hash(&tansiq_crypto::token::generate());
        let at = time::format(&time::now());
        self.commit(|tx, _| {
            if !tx.revoke_user_token(name, &dead, &at)? {
                return Err(no_user(name));
            }
            self.audit(
                tx,
                &actor.audit_name(),
                "user.token.revoke",
                name,
                json!({"name": name}),
            )?;
            Ok(())
        })
    }

    /// The user an API token belongs to.
    pub fn authenticate(&self, token: &str) -> NodeResult<Actor> {
        if !tansiq_crypto::token::is_well_formed(token) {
            return Err(NodeError::Unauthorized);
        }
        let hash = tansiq_crypto::token::hash(token);
        let row = self
            .store
            .read(|tx| tx.user_row_by_token(&hash))?
            .ok_or(NodeError::Unauthorized)?;
        // A revoked token's hash was replaced, so it is not found above;
        // the date check is the second line.
        if row.token_revoked_at.is_some() || token_expires_at(&row) <= time::format(&time::now()) {
            return Err(NodeError::Unauthorized);
        }
        Ok(Actor::User(row.user))
    }
}

impl Node {
    /// An attempt to grant beyond the grant rule leaves an audit entry of
    /// its own (the refused change left nothing behind).
    fn audit_grant_refusal(&self, actor: &Actor, action: &str, user: &User, r: &policy::Refusal) {
        if r.rule == policy::Rule::Grant {
            self.audit_refused(
                actor,
                "user.grant.refused",
                &user.name,
                json!({"name": user.name, "action": action, "role": user.role, "files": user.files, "rule": r.rule.name()}),
            );
        }
    }
}

/// What `peer remove` did.
#[derive(Debug, Clone, Serialize)]
pub struct PeerRemoved {
    pub id: String,
    /// Channels whose charters still name it (with --force).
    pub channels: Vec<String>,
    pub outbox_dropped: u64,
}

/// A token just issued (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub name: String,
    pub token: String,
    pub expires_at: String,
}

/// A user as `user list` shows it: no token, only its state.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub files: Vec<String>,
    /// `active`, `expired` or `revoked`.
    pub token: String,
    pub token_expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_revoked_at: Option<String>,
}

fn no_user(name: &str) -> NodeError {
    NodeError::NotFound(format!("no user {name}; see `tansiq user list`"))
}

/// When a user's token expires; a token issued before expiries were
/// stored lives the default lifetime from the user's creation. RFC 3339
/// UTC at second precision, so it compares as text.
fn token_expires_at(r: &tansiq_store::UserRow) -> String {
    if let Some(e) = &r.token_expires_at {
        return e.clone();
    }
    time::parse_instant(&r.created_at)
        .map(|c| time::format(&(c + chrono::Duration::days(TOKEN_DEFAULT_DAYS))))
        // An unreadable date: treat the token as expired.
        .unwrap_or_default()
}
