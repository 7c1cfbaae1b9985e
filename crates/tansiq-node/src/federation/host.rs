//! The engine's view of the node: keys, channel membership and held
//! envelopes, read through the caller's open transaction.

use std::cell::RefCell;
use tansiq_store::Tx;
use tansiq_sync::{ChannelId, Envelope, EnvelopeId, Host, NodeId, Verdict, ENVELOPE_SIG_CONTEXT};

use super::apply::envelope_from_row;
use super::prepare::Prepared;
use super::{control_channel, CardWants, Context, Members, SentCache};
use crate::card::KeyBook;
use crate::error::NodeResult;

pub struct SqlHost<'a, 'b> {
    me: String,
    /// Reads a channel's members as this node holds it.
    view: &'a dyn Members,
    signing: KeyBook,
    tx: RefCell<&'a mut Tx<'b>>,
    prepared: Option<&'a Prepared>,
    /// Members per channel as read in this call. The engine's effects are
    /// applied only after the call returns, so the view cannot change
    /// while this host lives; a 256-envelope batch reads it once, not 256
    /// times.
    members: RefCell<std::collections::HashMap<String, Option<Vec<String>>>>,
    /// The peer whose message is being handled, and where to note a card
    /// to fetch when it brings an envelope signed by a key not held here.
    from: Option<(String, std::sync::Arc<CardWants>)>,
    /// Envelopes this node made recently (see [`super::SentCache`]).
    sent: std::sync::Arc<SentCache>,
    /// Envelopes submitted in this transaction whose effects are applied
    /// after the last of them ([`super::Federation::submit_many`]): held,
    /// though not yet in the store.
    unapplied: Option<&'a std::collections::HashMap<[u8; 32], Envelope>>,
    /// Cached envelopes whose body this transaction asked the store
    /// about: held with its body or not. One query asks about a hundred
    /// (the envelope wanted and those made after it), not one each.
    checked: RefCell<std::collections::HashMap<[u8; 32], bool>>,
}

impl<'a, 'b> SqlHost<'a, 'b> {
    pub(crate) fn new<C: Context>(
        cx: &'a C,
        tx: &'a mut Tx<'b>,
        sent: std::sync::Arc<SentCache>,
    ) -> NodeResult<SqlHost<'a, 'b>> {
        let signing = cx.key_lookup(tx)?;
        Ok(SqlHost {
            me: cx.id().to_string(),
            view: cx,
            signing,
            tx: RefCell::new(tx),
            prepared: None,
            members: RefCell::default(),
            from: None,
            sent,
            unapplied: None,
            checked: RefCell::default(),
        })
    }

    /// A host with the signing keys already looked up in this transaction.
    pub(crate) fn with_keys<C: Context>(
        cx: &'a C,
        tx: &'a mut Tx<'b>,
        signing: KeyBook,
        sent: std::sync::Arc<SentCache>,
    ) -> SqlHost<'a, 'b> {
        SqlHost {
            me: cx.id().to_string(),
            view: cx,
            signing,
            tx: RefCell::new(tx),
            prepared: None,
            members: RefCell::default(),
            from: None,
            sent,
            unapplied: None,
            checked: RefCell::default(),
        }
    }

    /// Finds the envelopes of `unapplied` (submitted in this transaction,
    /// their effects not applied yet) as held.
    pub(crate) fn with_unapplied(
        mut self,
        unapplied: &'a std::collections::HashMap<[u8; 32], Envelope>,
    ) -> Self {
        self.unapplied = Some(unapplied);
        self
    }

    /// Uses the signature checks done before the transaction (see
    /// [`super::prepare`]).
    pub(crate) fn with_prepared(mut self, prepared: Option<&'a Prepared>) -> Self {
        self.prepared = prepared;
        self
    }

    /// Handling a message from peer `from`: an envelope it brings whose
    /// signature no held key verifies may be deferred while the
    /// originator's card is fetched from it (see [`SqlHost::bad_signature`]).
    pub(crate) fn handling_peer(mut self, from: &str, wants: std::sync::Arc<CardWants>) -> Self {
        self.from = Some((from.to_string(), wants));
        self
    }

    /// No held key of the originator verifies `env`. Refused as forged,
    /// unless it may be signed by a generation of the originator's keys
    /// this node has not seen: it was brought by another node than the
    /// originator (which pushes its card before anything else it sends,
    /// so its own deliveries never need this), it is dated where the
    /// newest held key is valid, it does not claim this node as its
    /// originator, and no fetch lately found the card unchanged. Then it is deferred (`retry`) and the card fetched from
    /// the peer that brought it (docs/PROTOCOL.md §6, "Card fetch").
    fn bad_signature(&self, originator: &str, secs: i64) -> Verdict {
        let refuse = Verdict::Refuse("bad originator signature".into());
        let Some((from, wants)) = &self.from else {
            return refuse;
        };
        // The originator brought it itself, or it claims this node: every
        // generation of this node's own keys is held here, so no newer card
        // can make it verify.
        if from == originator || originator == self.me {
            return refuse;
        }
        let Some(gen) = self.signing.newest_gen_covering(originator, secs) else {
            return refuse;
        };
        if wants.unknown_key(originator, gen, from, super::now_ms()) {
            Verdict::Retry(format!(
                "no key of {originator} held here verifies it: fetching its card"
            ))
        } else {
            refuse
        }
    }

    /// The signing keys of this node and its peers, as this transaction sees them.
    pub(crate) fn signing_keys(&self) -> &KeyBook {
        &self.signing
    }

    fn members_of(&self, channel: &str) -> Option<Vec<String>> {
        if let Some(m) = self.members.borrow().get(channel) {
            return m.clone();
        }
        let m = self.read_members(channel);
        self.members
            .borrow_mut()
            .insert(channel.to_string(), m.clone());
        m
    }

    fn read_members(&self, channel: &str) -> Option<Vec<String>> {
        if channel.starts_with("ctl_") {
            return self
                .signing
                .keys()
                .find(|p| **p != self.me && control_channel(&self.me, p) == channel)
                .map(|p| {
                    let mut v = vec![self.me.clone(), p.clone()];
                    v.sort();
                    v
                });
        }
        let mut tx = self.tx.borrow_mut();
        self.view.channel_members(&mut tx, channel)
    }
}

impl Host for SqlHost<'_, '_> {
    fn verify(&self, env: &Envelope) -> Verdict {
        let h = env.header();
        if !self.signing.contains_key(h.originator.as_str()) {
            return Verdict::Retry(format!(
                "originator {} is not a known peer",
                h.originator.as_str()
            ));
        }
        // The key the originator had when it made the envelope (its
        // current one unless it rotated since).
        let secs = (h.created_ms / 1000) as i64;
        let candidates = self.signing.keys_at(h.originator.as_str(), secs);
        let ok = candidates.iter().any(|pk| {
            self.prepared.is_some_and(|p| p.signature_verified(env, pk))
                || tansiq_crypto::verify(pk, ENVELOPE_SIG_CONTEXT, &env.id().0, env.sig()).is_ok()
        });
        if !ok {
            return self.bad_signature(h.originator.as_str(), secs);
        }
        let me = match NodeId::new(self.me.clone()) {
            Ok(m) => m,
            Err(_) => return Verdict::Retry("own id".into()),
        };
        if !h.is_recipient(&me) {
            // A relay copy: the signature is all a relay can check.
            return Verdict::Accept;
        }
        let Some(members) = self.members_of(h.channel.as_str()) else {
            return Verdict::Retry(format!(
                "channel {} is not active here (yet)",
                h.channel.as_str()
            ));
        };
        if !members.iter().any(|m| m == h.originator.as_str()) {
            return Verdict::Refuse(format!(
                "{} is not a member of channel {}",
                h.originator.as_str(),
                h.channel.as_str()
            ));
        }
        let recipients: Vec<&str> = h.recipients.iter().map(|r| r.as_str()).collect();
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        if recipients != members {
            // Membership views may be changing (a new charter version on
            // its way): ask the sender to try again later.
            return Verdict::Retry("recipients differ from the charter this node holds".into());
        }
        Verdict::Accept
    }

    fn delivers_to(&self, node: &NodeId) -> bool {
        // Its keys are held: this node itself or a known peer.
        self.signing.contains_key(node.as_str())
    }

    fn members(&self, channel: &ChannelId) -> Option<Vec<NodeId>> {
        self.members_of(channel.as_str())
            .map(|v| v.into_iter().filter_map(|m| NodeId::new(m).ok()).collect())
    }

    fn envelope(&self, id: &EnvelopeId) -> Option<Envelope> {
        if let Some(env) = self.unapplied.and_then(|u| u.get(&id.0)) {
            return Some(env.clone());
        }
        if let Some(env) = self.sent.get(&id.0) {
            let known = self.checked.borrow().get(&id.0).copied();
            let held = match known {
                Some(h) => h,
                None => {
                    let ids = self.sent.ids_from(&id.0, 100);
                    let held = self.tx.borrow_mut().sync_envelopes_with_body(&ids).ok()?;
                    let mut checked = self.checked.borrow_mut();
                    for i in &ids {
                        checked.insert(*i, held.contains(i));
                    }
                    held.contains(&id.0)
                }
            };
            if held {
                return Some(env);
            }
        }
        let row = self.tx.borrow_mut().sync_envelope(&id.0).ok()??;
        envelope_from_row(&row).ok()
    }

    fn stream_range(
        &self,
        channel: &ChannelId,
        originator: &NodeId,
        from_seq: u64,
        limit: usize,
    ) -> Vec<Envelope> {
        let rows = self
            .tx
            .borrow_mut()
            .sync_stream_range(
                channel.as_str(),
                originator.as_str(),
                from_seq,
                limit.min(i64::MAX as usize) as u64,
            )
            .unwrap_or_default();
        rows.iter()
            .filter_map(|r| envelope_from_row(r).ok())
            .collect()
    }
}
