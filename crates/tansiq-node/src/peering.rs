//! The node's partner side while serving, without the HTTP server: the
//! sender that delivers queued messages to peers (retrying through the
//! engine's backoff, pushing this node's card after a key rotation,
//! fetching a rotated peer's card from a third node), the trusted key set
//! the transport pins, the wire pieces both sides share (paths, the
//! card-fetch request), and the services the partner endpoint calls. The
//! endpoint itself (router and listener) is `tansiq_api::partner`: HTTP
//! servers live above the node.

use std::sync::Arc;
use std::time::Duration;

use tansiq_store::PeerLinkRow;
use tansiq_sync::Transmit;

use crate::card::NodeCard;
use crate::error::{NodeError, NodeResult, PeerError};
use crate::federation::now_ms;
use crate::node::Node;
use crate::transport::{self, PeerClient, PeerSet, TlsIdentity};

/// The path every federation message is POSTed to.
pub const SYNC_PATH: &str = "/peer/v1/sync";
/// The path a node pushes its new card to after a key rotation.
pub const CARD_PATH: &str = "/peer/v1/card";
/// The path a node asks a peer for the card it holds of a third node
/// (after meeting an envelope signed by a key it does not know).
pub const CARD_FETCH_PATH: &str = "/peer/v1/card/fetch";

/// Rebuilds the set of trusted keys from the store (peers added by the
/// CLI while serving are picked up on the next refresh).
pub fn refresh_peers(node: &Node, set: &PeerSet) -> NodeResult<()> {
    let peers = node.store.read(|tx| tx.peers())?;
    let mut keep = std::collections::HashSet::new();
    for p in peers {
        let card: NodeCard =
            serde_json::from_str(&p.card).map_err(|e| PeerError::Card(e.to_string()))?;
        // Every key of its chain: a peer that rotated may still present
        // the key of the card it believes this node holds.
        for span in card.key_spans()? {
            set.insert_as(span.key, &p.id);
            keep.insert(span.key);
        }
    }
    // A peer removed (`peer remove`) loses its keys: its open connections
    // are refused from their next request, new ones at the handshake.
    set.retain(|k| keep.contains(k));
    Ok(())
}

/// The query by which a sender asks for the `batch_ack` of its `batch`
/// in the response body (docs/PROTOCOL.md §6): with several workers
/// serving one node, the acknowledgement then reaches the worker whose
/// engine sent the batch, whichever worker the peer's next POST would
/// reach.
pub const REPLY_QUERY: &str = "reply=1";

/// A peer's endpoint and current signing key, as `tx` sees them (`None`:
/// not a peer).
fn endpoint_and_key(
    tx: &mut tansiq_store::Tx,
    peer: &str,
) -> NodeResult<Option<(String, [u8; 32])>> {
    let Some(p) = tx.peer(peer)? else {
        return Ok(None);
    };
    let card: NodeCard =
        serde_json::from_str(&p.card).map_err(|e| PeerError::Card(e.to_string()))?;
    Ok(Some((p.endpoint, card.signing_key()?)))
}

/// [`endpoint_and_key`] read off the async workers.
async fn read_endpoint(node: &Arc<Node>, peer: &str) -> Result<(String, [u8; 32]), String> {
    let (n, peer) = (node.clone(), peer.to_string());
    match tokio::task::spawn_blocking(move || n.store.read(|tx| endpoint_and_key(tx, &peer))).await
    {
        Ok(Ok(Some(t))) => Ok(t),
        Ok(Ok(None)) => Err("peer not found".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The node id asked for in a card fetch (`{"id": NODE_ID}`, nothing
/// else), or `None` if the body is anything else.
pub fn parse_card_fetch(body: &[u8]) -> Option<String> {
    // An object with one member (serde's derived form would also take
    // `["…"]`).
    let ask: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    match (ask.len(), ask.get("id")) {
        (1, Some(serde_json::Value::String(id))) if tansiq_crypto::is_valid_node_id(id) => {
            Some(id.clone())
        }
        _ => None,
    }
}

/// Fetches the card of `id` from `sources` in turn (peers that brought
/// its envelopes) and takes the first newer one along the chain held.
async fn fetch_card(
    node: &Arc<Node>,
    client: &PeerClient,
    id: &str,
    sources: &[String],
) -> crate::federation::CardFetched {
    use crate::federation::CardFetched;
    use crate::rotation::CardUpdate;
    let mut answered = false;
    for source in sources {
        let Ok((endpoint, key)) = read_endpoint(node, source).await else {
            continue;
        };
        let ask = serde_json::json!({ "id": id }).to_string().into_bytes();
        match client
            .post_with_type(&endpoint, &key, CARD_FETCH_PATH, "application/json", ask)
            .await
        {
            Ok((200, body)) => {
                answered = true;
                let (n, s, i) = (node.clone(), source.clone(), id.to_string());
                match tokio::task::spawn_blocking(move || n.take_fetched_card(&s, &i, &body)).await
                {
                    Ok(Ok(CardUpdate::Rotated { from, to })) => {
                        tracing::info!(peer = id, source = %source, from_gen = from, gen = to,
                            "took a peer's newer card from another node");
                        return CardFetched::Newer;
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(peer = id, source = %source, error = %e, "a fetched card was refused")
                    }
                    Err(e) => tracing::error!(error = %e, "card worker failed"),
                }
            }
            Ok((404, _)) => answered = true,
            Ok((status, _)) => {
                tracing::debug!(peer = id, source = %source, status, "card fetch not answered")
            }
            Err(e) => {
                tracing::debug!(peer = id, source = %source, error = %e, "card fetch failed")
            }
        }
    }
    if !answered {
        return CardFetched::Failed;
    }
    let (n, i) = (node.clone(), id.to_string());
    match tokio::task::spawn_blocking(move || n.peer_generation(&i)).await {
        Ok(Ok(gen)) => CardFetched::NothingNewer(gen),
        _ => CardFetched::Failed,
    }
}

impl Node {
    /// This node's TLS identity on the partner port: its current key,
    /// under its node id.
    pub fn tls_identity(&self) -> Result<TlsIdentity, transport::TransportError> {
        TlsIdentity::from_identity_as(&self.identity, self.id())
    }
}

/// The `peer_links` row to write after a transmit, if any: a success in
/// the same second as the last one this process recorded would write the
/// same row again, so it is skipped (one commit per transmit otherwise,
/// each a disk flush taken under the store lock).
fn link_row(node: &Node, peer: &str, ok: bool, error: Option<String>) -> Option<PeerLinkRow> {
    let now = tansiq_core::time::format(&tansiq_core::time::now());
    if !node.federation.link_changes(peer, ok, &now) {
        return None;
    }
    Some(PeerLinkRow {
        peer: peer.to_string(),
        last_delivery: ok.then(|| now.clone()),
        last_error: if ok { None } else { error },
        updated_at: Some(now),
    })
}

/// Writes a link row; a failure keeps the last delivery time known.
fn put_link(
    tx: &mut tansiq_store::Tx,
    mut row: PeerLinkRow,
) -> Result<(), tansiq_store::StoreError> {
    if row.last_delivery.is_none() {
        row.last_delivery = tx.sync_link(&row.peer)?.and_then(|p| p.last_delivery);
    }
    tx.sync_put_link(&row)
}

/// Pushes this node's current card to `peer` (which confirmed generation
/// `acked`), presenting the TLS key of that generation, which the peer
/// knows; records the confirmation. Errors are for logs and link status.
pub async fn push_card(
    node: &Arc<Node>,
    peers: &PeerSet,
    peer: &str,
    endpoint: &str,
    peer_key: &[u8; 32],
    acked: u64,
) -> Result<(), String> {
    let gen = node.key_generation();
    let me = TlsIdentity::from_identity_as(node.identity_of_generation(acked), node.id())
        .map_err(|e| e.to_string())?;
    let client = PeerClient::new(&me, Arc::new(peers.clone()))
        .map_err(|e| e.to_string())?
        .with_timeouts(Duration::from_secs(5), Duration::from_secs(10));
    let n = node.clone();
    let card = tokio::task::spawn_blocking(move || serde_json::to_vec(&n.card()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let (status, body) = client
        .post_with_type(endpoint, peer_key, CARD_PATH, "application/json", card)
        .await
        .map_err(|e| e.to_string())?;
    if status != 204 {
        return Err(format!(
            "the peer did not take our card (HTTP {status}: {})",
            String::from_utf8_lossy(&body)
                .chars()
                .take(200)
                .collect::<String>()
        ));
    }
    let (n, p) = (node.clone(), peer.to_string());
    tokio::task::spawn_blocking(move || n.set_card_acked(&p, gen))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!(peer, gen, "the peer took our new card");
    Ok(())
}

async fn send_one(node: &Arc<Node>, client: &PeerClient, peers: &PeerSet, t: Transmit) {
    let to = t.to.as_str().to_string();
    // Where and to which key: from memory when read in the last two
    // seconds. A read takes the store's lock, which a bulk import may hold
    // for a while; waiting for it here stalled delivery (docs/BENCHMARKS.md).
    // A stale `acked` is only ever too low: the card is pushed once more.
    let target = match node.federation.send_target(&to) {
        Some(t) => Ok(Ok(Some(t))),
        None => {
            let n = node.clone();
            let to = to.clone();
            tokio::task::spawn_blocking(move || {
                n.store.read(|tx| {
                    let Some((endpoint, key)) = endpoint_and_key(tx, &to)? else {
                        return Ok::<_, NodeError>(None);
                    };
                    let t = (endpoint, key, n.card_acked(tx, &to)?);
                    n.federation.set_send_target(&to, &t);
                    Ok(Some(t))
                })
            })
            .await
        }
    };
    let Ok(Ok(Some((endpoint, key, acked)))) = target else {
        // Told to the engine, which queues it again after its backoff:
        // dropped silently, it would stay in flight for the whole
        // acknowledgement timeout (30 s).
        tracing::warn!(peer = %t.to.as_str(), "no endpoint for peer; message not sent (the engine will retry)");
        let n = node.clone();
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = n.transmit_failed(&t) {
                tracing::warn!(error = %e, "recording a failed transmit")
            }
        })
        .await;
        return;
    };
    let bytes = t.message.encode();
    let result = if node.federation.is_link_cut(t.to.as_str()) {
        Err(transport::TransportError::Connect {
            endpoint: endpoint.clone(),
            reason: "link cut".into(),
        })
    } else if acked < node.key_generation() {
        // The peer must hold our new card before anything signed with the
        // new key reaches it (and before we can present that key).
        match push_card(node, peers, t.to.as_str(), &endpoint, &key, acked).await {
            Ok(()) => {
                client
                    .post(
                        &endpoint,
                        &key,
                        &format!("{SYNC_PATH}?{REPLY_QUERY}"),
                        bytes,
                    )
                    .await
            }
            Err(reason) => Err(transport::TransportError::Connect {
                endpoint: endpoint.clone(),
                reason: format!("pushing our new card: {reason}"),
            }),
        }
    } else {
        client
            .post(
                &endpoint,
                &key,
                &format!("{SYNC_PATH}?{REPLY_QUERY}"),
                bytes,
            )
            .await
    };
    let ok = matches!(&result, Ok((s, _)) if (200..300).contains(s));
    match &result {
        Ok((status, _)) => tracing::debug!(peer = %t.to.as_str(), transmit = t.id, status, "sent"),
        Err(e) => tracing::debug!(peer = %t.to.as_str(), transmit = t.id, error = %e, "not sent"),
    }
    // The peer's acknowledgement, answered in the response: taken in by
    // this worker's engine, which knows the batch.
    let reply = match &result {
        Ok((200, body)) if !body.is_empty() => Some(body.clone()),
        _ => None,
    };
    let peer = t.to.as_str().to_string();
    let n = node.clone();
    let err = match &result {
        Ok((s, _)) if !ok => Some(format!("HTTP {s}")),
        Err(e) => Some(e.to_string()),
        _ => None,
    };
    let _ = tokio::task::spawn_blocking(move || {
        let link = link_row(&n, &peer, ok, err);
        if let Some(reply) = reply {
            // Before bulk writes waiting for the store (see `Turns`): the
            // next batch to this peer goes out only once this is taken in.
            let _turn = n.federation.turns.wait(true);
            // The link's row goes in the same commit as the acknowledgement.
            let r = n.federation.commit(&n.store, |tx, out| {
                n.federation.receive(&*n, tx, out, &peer, &reply)?;
                if let Some(row) = link.clone() {
                    put_link(tx, row)?;
                }
                Ok::<_, NodeError>(())
            });
            if let Err(e) = r {
                // Lost like an ack that never came. The engine is rebuilt
                // from the store on its next call, so what was in flight
                // is sent again at once rather than after the
                // acknowledgement timeout; the peer deduplicates.
                n.federation.reset();
                tracing::warn!(error = %e, "taking in an acknowledgement")
            }
        } else if let Some(row) = link {
            let _ = n.store.write(|tx| put_link(tx, row));
        }
        if !ok {
            if let Err(e) = n.transmit_failed(&t) {
                tracing::warn!(error = %e, "recording a failed transmit")
            }
        }
    })
    .await;
}

/// Sends what is queued, polls the engine's timers, and keeps the trusted
/// key set fresh, until the task is dropped.
pub async fn sender(node: Arc<Node>, peers: PeerSet) {
    let me = match node.tls_identity() {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "TLS identity");
            return;
        }
    };
    let client = match PeerClient::new(&me, Arc::new(peers.clone())) {
        Ok(c) => c.with_timeouts(Duration::from_secs(5), Duration::from_secs(30)),
        Err(e) => {
            tracing::error!(error = %e, "peer client");
            return;
        }
    };
    let mut last_poll = 0u64;
    // Card pushes after a key rotation: per peer, next attempt and wait.
    let mut next_push_round = 0u64;
    let mut push_backoff: std::collections::HashMap<String, (u64, u64)> = Default::default();
    let mut pushing: std::collections::HashSet<String> = Default::default();
    let mut pushes = tokio::task::JoinSet::new();
    // Cards of peers that rotated unheard of, fetched from other peers.
    let mut card_fetches = tokio::task::JoinSet::new();
    // Sends run concurrently and are not waited for as a group: a FLASH
    // queued while a large batch is still being taken in by the peer goes
    // out at once instead of behind it.
    let mut sends = tokio::task::JoinSet::new();
    loop {
        let batch = node.federation.take_outgoing();
        if batch.is_empty() {
            tokio::select! {
                _ = node.federation.wake.notified() => {}
                Some(_) = sends.join_next(), if !sends.is_empty() => {}
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
        for t in batch {
            let (n, c, p) = (node.clone(), client.clone(), peers.clone());
            sends.spawn(async move { send_one(&n, &c, &p, t).await });
        }
        while sends.try_join_next().is_some() {}
        let now = now_ms();
        if node.key_generation() > 0 && now >= next_push_round {
            // Peers that have not taken our new card get it even when
            // nothing else is queued for them.
            next_push_round = now + 1_000;
            let n = node.clone();
            let pending = tokio::task::spawn_blocking(move || n.card_pending())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            for (peer, acked) in pending {
                let due = push_backoff.get(&peer).is_none_or(|(at, _)| now >= *at);
                if !due || pushing.contains(&peer) {
                    continue;
                }
                pushing.insert(peer.clone());
                let (n, p) = (node.clone(), peers.clone());
                pushes.spawn(async move {
                    let r = match read_endpoint(&n, &peer).await {
                        Ok((endpoint, key)) => {
                            push_card(&n, &p, &peer, &endpoint, &key, acked).await
                        }
                        Err(e) => Err(e),
                    };
                    (peer, r)
                });
            }
        }
        while let Some(done) = pushes.try_join_next() {
            if let Ok((peer, r)) = done {
                pushing.remove(&peer);
                match r {
                    Ok(()) => {
                        push_backoff.remove(&peer);
                    }
                    Err(e) => {
                        let wait = push_backoff
                            .get(&peer)
                            .map_or(1_000, |(_, w)| (w * 2).min(10_000));
                        tracing::debug!(peer, error = %e, "card push failed; retrying");
                        push_backoff.insert(peer, (now + wait, wait));
                    }
                }
            }
        }
        for (id, sources) in node.federation.cards.due(now) {
            let (n, c) = (node.clone(), client.clone());
            card_fetches.spawn(async move {
                let r = fetch_card(&n, &c, &id, &sources).await;
                (id, r)
            });
        }
        while let Some(done) = card_fetches.try_join_next() {
            if let Ok((id, r)) = done {
                node.federation.cards.done(&id, r, now_ms());
            }
        }
        let claim_due = node
            .federation
            .claim_due
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        if claim_due || now.saturating_sub(last_poll) >= 250 {
            last_poll = now;
            let n = node.clone();
            let p = peers.clone();
            let _ = tokio::task::spawn_blocking(move || {
                // Claims first, outside the write lock: rows queued by the
                // CLI or left by a worker that died join this engine.
                match n.federation.claim_round(&n.store) {
                    Ok(0) => {}
                    Ok(k) => tracing::info!(rows = k, "claimed outbox rows"),
                    Err(e) => tracing::warn!(error = %e, "claiming outbox rows"),
                }
                if let Err(e) = refresh_peers(&n, &p) {
                    tracing::warn!(error = %e, "refreshing peers");
                }
                if let Err(e) = n.poll_peers() {
                    tracing::warn!(error = %e, "engine poll");
                }
            })
            .await;
        }
    }
}

/// One peer's delivery state, as `tansiq sync status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeerSyncStatus {
    pub id: String,
    pub name: String,
    /// `up` when the last attempt to reach it succeeded, else `down`.
    pub link: &'static str,
    /// Envelopes waiting for it in the durable outbox.
    pub queued: u64,
    /// Sent, not yet acknowledged (known to the serving process only; 0
    /// from a separate command).
    pub in_flight: u64,
    pub last_delivery: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// After a key rotation: the peer has not yet taken this node's new
    /// card (it is pushed before anything else is sent to it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub card_pending: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncStatus {
    pub peers: Vec<PeerSyncStatus>,
    /// Sent FLASH or ack-required messages still awaiting acknowledgement.
    pub unacked: Vec<crate::messages::Unacked>,
    pub alarms: Vec<serde_json::Value>,
    /// Restore holds still in force (docs/SYNC.md §6, "Restore holds"):
    /// this node was restored from a backup and originates nothing on
    /// these channels until these partners answer.
    pub holds: Vec<crate::restore::HoldView>,
}

impl Node {
    /// The link, queue and unacknowledged FLASH of each peer, as the
    /// actor may see them; an audited read (`sync.status`).
    pub fn sync_status(&self, actor: &tansiq_core::user::Actor) -> NodeResult<SyncStatus> {
        tansiq_core::policy::authorize(actor, tansiq_core::policy::Action::ReadChannels)?;
        self.note(|tx| {
            let status = self.sync_view(tx, actor)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "sync.status",
                "*",
                serde_json::json!({"peers": status.peers.len()}),
            )?;
            Ok(status)
        })
    }

    /// [`Node::sync_status`] under the same authorisation, not audited:
    /// for the metrics endpoint, which a monitor scrapes every few
    /// seconds (an audit leaf per scrape would drown the log in noise;
    /// docs/POLICY.md).
    pub fn sync_probe(&self, actor: &tansiq_core::user::Actor) -> NodeResult<SyncStatus> {
        tansiq_core::policy::authorize(actor, tansiq_core::policy::Action::ReadChannels)?;
        self.store.read(|tx| self.sync_view(tx, actor))
    }

    fn sync_view(
        &self,
        tx: &mut tansiq_store::Tx,
        actor: &tansiq_core::user::Actor,
    ) -> NodeResult<SyncStatus> {
        // Message ids and channels only for those who may read them.
        let unacked = self.unacked_seen_by(tx, actor)?;
        let counts = tx.sync_outbox_counts()?;
        let mut peers = Vec::new();
        for p in tx.peers()? {
            let link = tx.sync_link(&p.id)?;
            let queued = counts
                .iter()
                .find(|(to, _)| *to == p.id)
                .map_or(0, |(_, n)| *n);
            let card_pending = self.card_acked(tx, &p.id)? < self.key_generation();
            let up = link
                .as_ref()
                .is_some_and(|l| l.last_delivery.is_some() && l.last_error.is_none());
            peers.push(PeerSyncStatus {
                id: p.id,
                name: p.name,
                link: if up { "up" } else { "down" },
                queued,
                in_flight: 0,
                last_delivery: link.as_ref().and_then(|l| l.last_delivery.clone()),
                last_error: link.and_then(|l| l.last_error),
                card_pending,
            });
        }
        let alarms = tx
            .sync_alarms()?
            .into_iter()
            .map(|a| serde_json::json!({"id": a.id, "kind": a.kind, "created_at": a.created_at}))
            .collect();
        let holds = self.hold_views(tx)?;
        Ok(SyncStatus {
            peers,
            unacked,
            alarms,
            holds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_card_fetch;

    #[test]
    fn card_fetch_requests_are_one_node_id_and_nothing_else() {
        assert_eq!(
            parse_card_fetch(br#"{"id":"tqmfrggzdfmztwq2lk"}"#).as_deref(),
            Some("tqmfrggzdfmztwq2lk")
        );
        for bad in [
            &br#"{"id":"not a node id"}"#[..],
            br#"{"id":"tqmfrggzdfmztwq2lk","more":1}"#,
            br#"{"id":5}"#,
            br#"{}"#,
            br#"["tqmfrggzdfmztwq2lk"]"#,
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(
                parse_card_fetch(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
