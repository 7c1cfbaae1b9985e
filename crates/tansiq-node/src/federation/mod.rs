//! Federation, node side: drives the sans-IO `tansiq-sync` engine over
//! this node's store and keys.
//!
//! - [`payload`]: what a sealed envelope carries (records, charters,
//!   messages, releases, checkpoints, hit/no-hit follow-ups) and how it is
//!   sealed to the recipients and opened.
//! - [`host`]: the engine's reads (`tansiq_sync::Host`) through the open
//!   store transaction, and the envelope checks done before delivery.
//! - [`prepare`]: signature checks and opening done before the store lock.
//! - [`cards`]: peers' cards to fetch ([`CardWants`]).
//! - `apply`: the engine's effects applied to the store; each arrived
//!   payload handed to [`Context::deliver`].
//! - [`Federation`]: one engine per node; every call runs inside a store
//!   write transaction, applies the engine's effects (and the application
//!   changes of `Deliver`) in that same transaction, and hands the
//!   messages to the sender only once it has committed
//!   ([`Federation::commit`] and its [`Outbox`]).
//! - [`Context`]: what federation needs of the node it runs on; `Node`
//!   implements it in `inbound.rs`, whose dispatcher hands each payload
//!   to the receive function of the feature that owns its kind.
//!
//! Several processes may work on one node directory (the CLI while
//! `serve` runs): the engine is rebuilt from the store whenever another
//! process changed the sync state since this one last did (`sync_gen`).

mod apply;
pub mod cards;
pub mod host;
pub mod payload;
pub mod prepare;

use std::collections::BTreeMap;
use std::sync::Mutex;

use tansiq_crypto::Identity;
use tansiq_store::{Store, Tx};
use tansiq_sync::{
    ChannelId, Config, Engine, Envelope, Kind, Message, NodeId, Output, Precedence, Snapshot,
    Transmit,
};

use crate::card::KeyBook;
use crate::error::{NodeError, NodeResult};
pub use apply::Outcome;
pub use cards::{CardFetched, CardWants};
use host::SqlHost;
pub use payload::Payload;
pub use prepare::{Prepared, RecordCheck};

/// What federation needs of the node it runs on: who it is, the keys of
/// its peers as a transaction sees them, and the application that takes
/// in what arrives. `Node` implements it (`inbound.rs`); federation never
/// sees the services behind it, so it cannot reach around them.
pub trait Context: Members + Sync {
    /// What taking in one engine output remembers between its envelopes
    /// (channel terms read once per batch, versions to forward after).
    type Batch: Default;
    fn id(&self) -> &str;
    /// The current signing and sealing keys.
    fn identity(&self) -> &Identity;
    /// Every generation of this node's keys (what was sealed to an
    /// earlier one still opens).
    fn identities(&self) -> Vec<&Identity>;
    /// Encryption keys of this node and its peers.
    fn encryption_keys(&self, tx: &mut Tx) -> NodeResult<BTreeMap<String, [u8; 32]>>;
    /// Signing keys of this node and its peers, with their generations.
    fn key_lookup(&self, tx: &mut Tx) -> NodeResult<KeyBook>;
    fn audit(
        &self,
        tx: &mut Tx,
        actor: &str,
        action: &str,
        object: &str,
        details: serde_json::Value,
    ) -> NodeResult<u64>;
    /// Takes in an opened payload that `env` brought, in `tx`. `check`:
    /// a record payload's signature check done before the transaction.
    fn deliver(
        &self,
        tx: &mut Tx,
        env: &Envelope,
        payload: Payload,
        check: Option<RecordCheck>,
        keys: &KeyBook,
        batch: &mut Self::Batch,
    ) -> Result<(), Outcome>;
    /// Runs once the engine is free again after an output was taken in
    /// (what it sends goes through the engine).
    fn delivered(&self, tx: &mut Tx, batch: Self::Batch, out: &mut Outbox) -> NodeResult<()>;
}

/// The members of a channel as this node holds it (None: no active
/// channel here). A trait object the engine's host reads through.
pub trait Members {
    fn channel_members(&self, tx: &mut Tx, channel: &str) -> Option<Vec<String>>;
}

/// Messages to peers made inside a write transaction. Only
/// [`Federation::commit`] makes one, and it hands them to the sender only
/// once the transaction committed: sending before durability cannot be
/// written.
pub struct Outbox(Vec<Transmit>);

impl Outbox {
    fn push_all(&mut self, t: Vec<Transmit>) {
        self.0.extend(t);
    }
}

/// Milliseconds since the Unix epoch (the engine never reads a clock).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The implicit two-member channel between two peers, for what is not
/// yet (or never) tied to a chartered channel: charter proposals and
/// signatures. Its id is derived from the pair, so both sides agree on it
/// without talking.
pub fn control_channel(a: &str, b: &str) -> String {
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    let h = tansiq_crypto::sha256(format!("tansiq/control/v1\0{x}\0{y}").as_bytes());
    format!("ctl_{}", &hex::encode(h)[..20])
}

pub(crate) fn node_id(s: &str) -> NodeResult<NodeId> {
    Ok(NodeId::new(s)?)
}

pub(crate) fn channel_id(s: &str) -> NodeResult<ChannelId> {
    Ok(ChannelId::new(s)?)
}

/// The engine's settings on a node: the defaults (docs/SYNC.md §11) but a
/// 10 s backoff cap instead of 60 s, so a healed link is retried — and a
/// backlog starts to drain — within 5–10 s; probing a dead peer every few
/// seconds costs one small request; 4 batches in flight per peer instead
/// of 2, so the receiver still has work queued while this node's store is
/// held by a bulk write; and batches of up to 384 envelopes (2 MiB) instead
/// of 256 (1 MiB): fewer commits, flushes and acknowledgements per record,
/// while a FLASH still waits for one routine transaction of ~40 ms at most
/// (docs/BENCHMARKS.md, "Federation").
pub fn engine_config() -> Config {
    Config {
        backoff_cap: 10_000,
        window: 4,
        max_batch_items: 384,
        max_batch_bytes: 2 * 1024 * 1024,
        ..Config::default()
    }
}

/// Turn-taking for the store lock: while a message carrying FLASH or
/// IMMEDIATE envelopes, or a peer's acknowledgement, waits for the lock,
/// messages of ROUTINE envelopes and bulk record writes hold back, so an
/// urgent message waits for at most the one routine transaction already
/// running, not for every batch queued; and the next batch to a peer is
/// not held up behind a bulk import.
#[derive(Default)]
pub struct Turns {
    urgent: std::sync::atomic::AtomicUsize,
    /// Held by the one routine writer waiting for, or holding, the store:
    /// the others wait here, where they still see urgent arrivals.
    routine: Mutex<()>,
}

/// Held while a message waits for, or holds, the store.
pub struct UrgentTurn<'a> {
    urgent: Option<&'a Turns>,
    /// The routine gate, released with the turn.
    _gate: Option<std::sync::MutexGuard<'a, ()>>,
}

impl Drop for UrgentTurn<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.urgent {
            t.urgent.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

impl Turns {
    /// Call before taking the store lock for a peer's message (or a bulk
    /// write); keep the result until the transaction is done. A routine
    /// writer waits (at most 2 s) while urgent ones are pending, and only
    /// one routine writer at a time goes on to the store lock: the store's
    /// mutex is not fair, and routine writers already queued on it would
    /// otherwise each go before an urgent one.
    pub fn wait(&self, urgent: bool) -> UrgentTurn<'_> {
        use std::sync::atomic::Ordering::SeqCst;
        if urgent {
            self.urgent.fetch_add(1, SeqCst);
            return UrgentTurn {
                urgent: Some(self),
                _gate: None,
            };
        }
        let t = std::time::Instant::now();
        let gate = self.routine.lock().unwrap_or_else(|p| p.into_inner());
        while self.urgent.load(SeqCst) > 0 && t.elapsed() < std::time::Duration::from_secs(2) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        UrgentTurn {
            urgent: None,
            _gate: Some(gate),
        }
    }
}

/// One payload for [`Federation::submit_many`].
pub struct Submission<'a> {
    pub channel: &'a str,
    pub precedence: Precedence,
    pub recipients: &'a [String],
    pub relays: &'a [String],
    pub payload: &'a Payload,
}

/// The engine of one node, cached between calls, and the messages that
/// wait to be sent (only ever filled after their transaction committed).
pub struct Federation {
    engine: Mutex<Option<(Engine, String)>>,
    outgoing: Mutex<Vec<Transmit>>,
    /// Peers this node does not reach directly (the demo and fault tests
    /// cut links this way; sends to them fail as a dead link would).
    cut: Mutex<std::collections::BTreeSet<String>>,
    /// Wakes the sender task of `serve` when there is something to send.
    pub wake: tokio::sync::Notify,
    /// Per peer, the time (to the second) of the last successful delivery
    /// this process recorded in `peer_links`, so an unchanged row is not
    /// written again.
    link_ok: Mutex<std::collections::HashMap<String, String>>,
    /// The signing keys the last engine call saw, for [`Federation::prepare`].
    keys: Mutex<Option<crate::card::KeyBook>>,
    /// Set in a delivery worker (`serve`): its id and lease. Its engine
    /// then holds only the outbox rows it claimed (docs/STORE.md,
    /// "Several workers").
    worker: Mutex<Option<Worker>>,
    /// Another process announced new outbox work: claim at once.
    pub claim_due: std::sync::atomic::AtomicBool,
    /// Channel epoch keys this node seals under and has unwrapped.
    pub epochs: payload::EpochKeys,
    /// Urgent peer messages go first to the store lock.
    pub turns: Turns,
    /// Cards of peers that rotated without this node hearing of it, to
    /// fetch from the peers that brought their envelopes.
    pub cards: std::sync::Arc<CardWants>,
    /// Envelopes this node made recently, to send without reading them
    /// back from the store (see [`SentCache`]).
    pub(crate) sent: std::sync::Arc<SentCache>,
    /// Per peer: endpoint, signing key and the card generation it holds,
    /// as last read from the store, and when (see `peering::send_one`).
    targets: Mutex<std::collections::HashMap<String, (std::time::Instant, SendTarget)>>,
    /// The clock the engine is driven by: the system's, unless a
    /// simulation set its own (see [`Federation::set_clock`]).
    clock: Mutex<Option<Clock>>,
    /// A fault point for the simulation: the next application of effects
    /// with more than this many effects fails at that effect, as a store
    /// error would (negative: none armed).
    fault_at: std::sync::atomic::AtomicI64,
}

/// A clock reading milliseconds since the Unix epoch.
pub type Clock = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

/// A peer's endpoint, signing key, and the generation of this node's card
/// it acknowledged.
pub type SendTarget = (String, [u8; 32], u64);

/// The envelopes this node made most recently (at most [`SentCache::MAX`]),
/// by id. Batches to peers are built from the outbox, mostly of envelopes
/// just made; reading each back from the store (a row of ~2 KB, its header
/// parsed and hashed again) was half the cost of taking in an
/// acknowledgement, inside the store lock. A cached envelope is used only
/// after the store confirms, in the same transaction, that its row exists
/// with its body (not purged by a retraction or expiry, not rolled back):
/// header and body never change otherwise.
#[derive(Default)]
pub(crate) struct SentCache {
    inner: Mutex<SentInner>,
}

/// The cached envelopes by id, and their ids oldest first.
type SentInner = (
    std::collections::HashMap<[u8; 32], Envelope>,
    std::collections::VecDeque<[u8; 32]>,
);

impl SentCache {
    const MAX: usize = 4096;

    fn insert(&self, env: &Envelope) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *g;
        if map.insert(env.id().0, env.clone()).is_none() {
            order.push_back(env.id().0);
        }
        while order.len() > Self::MAX {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
    }

    pub(crate) fn get(&self, id: &[u8; 32]) -> Option<Envelope> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.0.get(id).cloned()
    }

    /// `id` and up to `n - 1` ids cached after it (made after it: the
    /// envelopes a batch most likely takes next).
    pub(crate) fn ids_from(&self, id: &[u8; 32], n: usize) -> Vec<[u8; 32]> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = vec![*id];
        if let Some(at) = g.1.iter().position(|x| x == id) {
            out.extend(g.1.iter().skip(at + 1).take(n.saturating_sub(1)));
        }
        out
    }
}

/// A delivery worker's identity and lease length.
#[derive(Clone, Debug)]
struct Worker {
    id: String,
    lease_ms: u64,
    /// When this worker last renewed its claims (ms).
    renewed: u64,
}

/// Rows a worker claims at most per round, so workers share a backlog.
pub const CLAIM_BATCH: u64 = 1024;

/// A worker claims more rows only while its engine holds fewer than this
/// many waiting to be sent (0.4 s of work at 20,000 records/s).
const CLAIM_AHEAD: usize = 8 * CLAIM_BATCH as usize;

impl Default for Federation {
    fn default() -> Self {
        Federation {
            engine: Mutex::new(None),
            outgoing: Mutex::new(Vec::new()),
            cut: Mutex::new(Default::default()),
            wake: tokio::sync::Notify::new(),
            link_ok: Mutex::default(),
            keys: Mutex::default(),
            epochs: payload::EpochKeys::default(),
            turns: Turns::default(),
            worker: Mutex::default(),
            claim_due: std::sync::atomic::AtomicBool::new(true),
            cards: Default::default(),
            sent: Default::default(),
            targets: Mutex::default(),
            clock: Mutex::default(),
            fault_at: std::sync::atomic::AtomicI64::new(-1),
        }
    }
}

impl Federation {
    /// Drives the engine by `clock` instead of the system's (a simulation
    /// gives each node its own, skewed and jumping: tansiq-node's
    /// `tests/sim.rs`). Envelope dates, timers and leases follow it.
    pub fn set_clock(&self, clock: Clock) {
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = Some(clock);
    }

    /// The engine's time: milliseconds since the Unix epoch by this
    /// node's clock.
    pub fn now(&self) -> u64 {
        match &*self.clock.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(c) => c(),
            None => now_ms(),
        }
    }

    /// Arms the fault point of the simulation: the next application of an
    /// engine call's effects that has more than `k` of them fails at
    /// effect `k` (before it) with a store error, so its transaction rolls
    /// back. Never armed outside tests.
    #[doc(hidden)]
    pub fn fail_apply_at(&self, k: usize) {
        self.fault_at
            .store(k as i64, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the fault point is armed for effect `i` (and disarms it).
    fn fault_now(&self, i: usize) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        let k = self.fault_at.load(SeqCst);
        k >= 0
            && k as usize == i
            && self
                .fault_at
                .compare_exchange(k, -1, SeqCst, SeqCst)
                .is_ok()
    }

    /// The peer's send target if read within the last two seconds.
    pub fn send_target(&self, peer: &str) -> Option<SendTarget> {
        let g = self.targets.lock().unwrap_or_else(|p| p.into_inner());
        g.get(peer)
            .filter(|(at, _)| at.elapsed() < std::time::Duration::from_secs(2))
            .map(|(_, t)| t.clone())
    }

    pub fn set_send_target(&self, peer: &str, t: &SendTarget) {
        self.targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(peer.to_string(), (std::time::Instant::now(), t.clone()));
    }

    /// Makes this process a delivery worker named `id`: from now on its
    /// engine holds only the outbox rows it has claimed, rows it queues
    /// are claimed by it, and claims last `lease_ms` unless renewed.
    pub fn become_worker(&self, id: &str, lease_ms: u64) {
        *self.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(Worker {
            id: id.to_string(),
            lease_ms: lease_ms.max(1_000),
            renewed: 0,
        });
        self.reset();
    }

    /// This process's worker id, if it delivers.
    pub fn worker_id(&self) -> Option<String> {
        self.worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|w| w.id.clone())
    }

    /// The claim a row queued now gets: `(worker, until_ms)`, or `None`
    /// in a process that does not deliver.
    pub(crate) fn claim_for_new_rows(&self) -> Option<(String, i64)> {
        self.worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|w| (w.id.clone(), (self.now() + w.lease_ms) as i64))
    }

    /// One claim round of a worker, outside the store's write lock:
    /// renews its claims when a third of the lease has passed, and claims
    /// free or expired rows (queued by the CLI, or left by a worker that
    /// died). Newly claimed rows reach the engine by rebuilding it on the
    /// next call. Returns the rows newly claimed.
    pub fn claim_round(&self, store: &Store) -> NodeResult<usize> {
        let Some(w) = self
            .worker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        else {
            return Ok(0);
        };
        let now = self.now();
        let until = (now + w.lease_ms) as i64;
        let renew = now.saturating_sub(w.renewed) >= w.lease_ms / 3;
        // Claim only while this engine runs short of work, so workers
        // share a backlog; a worker alone keeps ahead of its sends.
        let want = self
            .engine
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|(e, _)| e.queued() < CLAIM_AHEAD);
        if !renew && !want {
            return Ok(0);
        }
        let claimed = store.write_unlocked(|tx| {
            if renew {
                tx.sync_renew_claims(&w.id, until)?;
            }
            if !want {
                return Ok(Vec::new());
            }
            tx.sync_claim_free(&w.id, until, now as i64, CLAIM_BATCH)
        })?;
        if renew {
            if let Some(me) = self
                .worker
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_mut()
            {
                me.renewed = now;
            }
        }
        let n = claimed.len();
        if n > 0 {
            // Into the running engine, which keeps what it has in flight
            // (a rebuild would forget it and send it all again); an engine
            // not built yet, or stale, reads them from the store.
            let rows = claimed
                .into_iter()
                .map(apply::outbox_from_row)
                .collect::<NodeResult<Vec<_>>>();
            let mut g = self.engine.lock().unwrap_or_else(|p| p.into_inner());
            match (rows, g.as_mut()) {
                (Ok(rows), Some((e, _))) => {
                    e.adopt(rows);
                }
                _ => *g = None,
            }
            drop(g);
            if n as u64 == CLAIM_BATCH {
                // More may be waiting: the sender claims again at once
                // (while its engine is short of work).
                self.claim_due
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                self.wake.notify_one();
            }
        }
        Ok(n)
    }

    /// Frees this worker's claims (at shutdown), so other workers take
    /// its rows over at once instead of after the lease.
    pub fn release_claims(&self, store: &Store) -> NodeResult<u64> {
        let Some(id) = self.worker_id() else {
            return Ok(0);
        };
        let n = store.write_unlocked(|tx| {
            let n = tx.sync_release_claims(&id)?;
            if n > 0 {
                tx.notify_work()?;
            }
            Ok::<_, NodeError>(n)
        })?;
        Ok(n)
    }

    /// The one way a transaction that may send commits. `f` runs in a
    /// write transaction and puts what must reach peers in the outbox;
    /// the messages are handed to the sender only once the transaction
    /// committed. If it fails, an engine that queued them is rebuilt from
    /// the store (it may be ahead of it).
    pub fn commit<T>(
        &self,
        store: &Store,
        f: impl FnOnce(&mut Tx, &mut Outbox) -> NodeResult<T>,
    ) -> NodeResult<T> {
        self.commit_then(store, f, |_| None::<()>).map(|(v, _)| v)
    }

    /// [`Federation::commit`] that first lets `pick` take one committed
    /// message out of the outbox instead of queueing it (the
    /// acknowledgement a peer waits for in its HTTP response).
    pub fn commit_then<T, R>(
        &self,
        store: &Store,
        f: impl FnOnce(&mut Tx, &mut Outbox) -> NodeResult<T>,
        pick: impl FnOnce(&mut Vec<Transmit>) -> Option<R>,
    ) -> NodeResult<(T, Option<R>)> {
        let mut out = Outbox(Vec::new());
        match store.write(|tx| f(tx, &mut out)) {
            Ok(v) => {
                let mut sent = out.0;
                let picked = pick(&mut sent);
                self.queue(sent);
                Ok((v, picked))
            }
            Err(e) => {
                if !out.0.is_empty() {
                    self.reset();
                }
                Err(e)
            }
        }
    }

    /// Hands back transmits taken with [`Federation::take_outgoing`] (they
    /// were committed when first queued), e.g. to a reopened node.
    pub fn requeue(&self, t: Vec<Transmit>) {
        self.queue(t)
    }

    /// Hands committed transmits to the sender.
    fn queue(&self, t: Vec<Transmit>) {
        if t.is_empty() {
            return;
        }
        self.outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(t);
        self.wake.notify_one();
    }

    /// Cuts (or, with `cut = false`, heals) the direct link to `peer`.
    pub fn set_link_cut(&self, peer: &str, cut: bool) {
        let mut set = self.cut.lock().unwrap_or_else(|p| p.into_inner());
        if cut {
            set.insert(peer.to_string());
        } else {
            set.remove(peer);
        }
    }

    pub fn is_link_cut(&self, peer: &str) -> bool {
        self.cut
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(peer)
    }

    /// Whether recording the outcome of a transmit to `peer` at `now` (an
    /// RFC 3339 time to the second) changes its `peer_links` row: always
    /// after a failure, and after a success unless the last outcome this
    /// process recorded was a success in the same second.
    pub fn link_changes(&self, peer: &str, ok: bool, now: &str) -> bool {
        let mut m = self.link_ok.lock().unwrap_or_else(|p| p.into_inner());
        if !ok {
            m.remove(peer);
            return true;
        }
        if m.get(peer).is_some_and(|t| t == now) {
            return false;
        }
        m.insert(peer.to_string(), now.to_string());
        true
    }

    /// How many transmits wait to be sent.
    pub fn take_outgoing_peek(&self) -> usize {
        self.outgoing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Takes everything waiting to be sent.
    pub fn take_outgoing(&self) -> Vec<Transmit> {
        std::mem::take(&mut *self.outgoing.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The engine's view of each peer's link (in flight, failures, next
    /// retry) in this process, without rebuilding it: empty before the
    /// first engine call (a process that sends nothing has no engine).
    pub fn engine_status(&self) -> Vec<tansiq_sync::PeerStatus> {
        let engine = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        engine
            .as_ref()
            .map(|(e, _)| e.status(self.now()))
            .unwrap_or_default()
    }

    /// Runs `f` with an engine that is current for the state in `tx`,
    /// applies its output's effects in `tx`, and puts its transmits in
    /// `out`.
    pub fn with_engine<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        f: impl FnOnce(&mut Engine, &SqlHost, u64) -> NodeResult<Output>,
    ) -> NodeResult<()> {
        self.run(cx, tx, out, |e, h, now| f(e, h, now).map(|o| (o, ())))
    }

    /// [`Federation::with_engine`] for calls that also return a value.
    pub fn run<C: Context, T>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        f: impl FnOnce(&mut Engine, &SqlHost, u64) -> NodeResult<(Output, T)>,
    ) -> NodeResult<T> {
        self.run_prepared(cx, tx, out, None, None, f)
    }

    /// `from`: the peer whose message this call handles.
    fn run_prepared<C: Context, T>(
        &self,
        cx: &C,
        tx: &mut Tx,
        sent: &mut Outbox,
        prepared: Option<&Prepared>,
        from: Option<&str>,
        f: impl FnOnce(&mut Engine, &SqlHost, u64) -> NodeResult<(Output, T)>,
    ) -> NodeResult<T> {
        let mut guard = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now();
        self.current(&mut guard, cx, tx, now)?;
        let (engine, _) = guard.as_mut().expect("set above");
        let (out, keys) = {
            let mut host = SqlHost::new(cx, tx, self.sent.clone())?.with_prepared(prepared);
            if let Some(p) = from {
                host = host.handling_peer(p, self.cards.clone());
            }
            let keys = host.signing_keys().clone();
            (f(engine, &host, now), keys)
        };
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = Some(keys.clone());
        let (out, value) = match out {
            Ok(o) => o,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        log_events(&out.events);
        let mut batch = C::Batch::default();
        let claim = self.claim_for_new_rows();
        if let Err(e) = apply::apply(
            cx,
            &self.epochs,
            claim,
            tx,
            &out,
            &keys,
            prepared,
            &mut batch,
            &|i| self.fault_now(i),
        ) {
            *guard = None;
            return Err(e);
        }
        // Only a durable change makes other processes rebuild their
        // engines (a rebuild forgets what is in flight): a call without
        // effects (most polls) leaves the generation as it is.
        if !out.effects.is_empty() {
            let new_gen = hex::encode(tansiq_crypto::random_bytes::<8>());
            tx.meta_set("sync_gen", &new_gen)?;
            guard.as_mut().expect("set above").1 = new_gen;
        }
        sent.push_all(out.transmits);
        let cleared: std::collections::BTreeSet<String> = out
            .effects
            .iter()
            .filter_map(|e| match e {
                tansiq_sync::Effect::HoldDone(h) => Some(h.channel.as_str().to_string()),
                _ => None,
            })
            .collect();
        // What the application sends in turn needs the engine: after this
        // call's own effects.
        drop(guard);
        for channel in &cleared {
            self.send_deferred(cx, tx, sent, channel)?;
        }
        cx.delivered(tx, batch, sent)?;
        Ok(value)
    }

    /// Makes the cached engine current for the state in `tx` when another
    /// process changed the sync state since: a delivery worker refreshes
    /// its streams and restore holds and keeps its outbox and what is in
    /// flight (`Engine::refresh`); any other process rebuilds it from
    /// the store.
    fn current<C: Context>(
        &self,
        guard: &mut Option<(Engine, String)>,
        cx: &C,
        tx: &mut Tx,
        now: u64,
    ) -> NodeResult<()> {
        let gen = tx.meta_get("sync_gen")?.unwrap_or_default();
        if let Some((engine, g)) = guard.as_mut() {
            if *g == gen {
                return Ok(());
            }
            // A delivery worker's outbox rows are its own (leases): it
            // takes the streams another worker moved and keeps what it
            // has in flight, where a rebuild forgot every batch in flight
            // and sent them again (issue 16 §2).
            if self.worker_id().is_some() {
                let streams = tx
                    .sync_streams()?
                    .into_iter()
                    .map(apply::stream_from_row)
                    .collect::<NodeResult<Vec<_>>>()?;
                let holds = Self::hold_rows(tx)?;
                let host = SqlHost::new(cx, tx, self.sent.clone())?;
                if let Err(e) = engine.refresh(streams, holds, &host) {
                    *guard = None;
                    return Err(e.into());
                }
                *g = gen;
                return Ok(());
            }
        }
        let snapshot = Snapshot {
            streams: tx
                .sync_streams()?
                .into_iter()
                .map(apply::stream_from_row)
                .collect::<NodeResult<_>>()?,
            outbox: match self.worker_id() {
                Some(w) => tx.sync_outbox_claimed_by(&w)?,
                None => tx.sync_outbox()?,
            }
            .into_iter()
            .map(apply::outbox_from_row)
            .collect::<NodeResult<_>>()?,
            holds: Self::hold_rows(tx)?,
        };
        let host = SqlHost::new(cx, tx, self.sent.clone())?;
        let seed = u64::from_le_bytes(tansiq_crypto::random_bytes());
        let engine = Engine::restore(
            node_id(cx.id())?,
            engine_config(),
            seed,
            snapshot,
            now,
            &host,
        )?;
        *guard = Some((engine, gen));
        Ok(())
    }

    /// The restore holds' durable rows.
    fn hold_rows(tx: &mut Tx) -> NodeResult<Vec<tansiq_sync::HoldRow>> {
        tx.sync_holds()?
            .into_iter()
            .map(|h| {
                Ok(tansiq_sync::HoldRow {
                    channel: channel_id(&h.channel)?,
                    partner: node_id(&h.partner)?,
                })
            })
            .collect()
    }

    /// Forgets the cached engine (after a failed commit).
    pub fn reset(&self) {
        *self.engine.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Seals `payload` to the recipients, signs and submits it. The
    /// services decide who may send what before calling it (a hostile
    /// node's modified services would not: receivers check again).
    #[allow(clippy::too_many_arguments)]
    pub fn submit<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        channel: &str,
        precedence: Precedence,
        recipients: Vec<String>,
        relays: Vec<String>,
        payload: &Payload,
    ) -> NodeResult<()> {
        let kind = payload.kind();
        self.submit_as(
            cx, tx, out, channel, kind, precedence, recipients, relays, payload,
        )
    }

    /// [`Federation::submit`] under the envelope kind `kind`, whatever the
    /// payload: an honest node never needs it; the fuzzers play a hostile
    /// one with it.
    #[allow(clippy::too_many_arguments)]
    pub fn submit_as<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        channel: &str,
        kind: &str,
        precedence: Precedence,
        recipients: Vec<String>,
        relays: Vec<String>,
        payload: &Payload,
    ) -> NodeResult<()> {
        if held(tx, channel)? {
            defer(tx, channel, kind, precedence, &recipients, &relays, payload)?;
            return Ok(());
        }
        let channel = channel_id(channel)?;
        let kind = Kind::new(kind)?;
        let recipients = recipients
            .iter()
            .map(|r| node_id(r))
            .collect::<NodeResult<Vec<_>>>()?;
        let relays = relays
            .iter()
            .map(|r| node_id(r))
            .collect::<NodeResult<Vec<_>>>()?;
        let keys = cx.encryption_keys(tx)?;
        let env_id = self.run(cx, tx, out, |engine, host, now| {
            let header = engine.prepare(&channel, kind, precedence, recipients, relays, now)?;
            let body = payload::seal(payload, &header, &keys, &self.epochs)?;
            let env = Envelope::new(header, tansiq_sync::Body::Sealed(body), |id| {
                cx.identity().sign(tansiq_sync::ENVELOPE_SIG_CONTEXT, &id.0)
            })?;
            let id = env.id();
            engine
                .submit(env, now, host)
                .map(|o| (o, id))
                .map_err(NodeError::from)
        })?;
        if let Payload::Record { record, .. } = payload {
            // So a retraction can purge every sealed copy of the record.
            tx.put_record_envelope(&record.body.id, &env_id.0)?;
        }
        Ok(())
    }

    /// [`Federation::submit`] for many payloads in one transaction (a batch
    /// of new records): the keys, the engine and the sync state are read
    /// once, the headers are chained and the bodies sealed in order (each
    /// header names its predecessor's id), the envelope signatures are
    /// made on every core, then each envelope is submitted and its effects
    /// applied before the next (so the engine finds the earlier ones in
    /// the store). Returns the envelope id of each item (`None`: kept in
    /// `sync_deferred`, its channel under a restore hold — sealed and sent
    /// when the hold clears, [`Federation::send_deferred`]).
    pub fn submit_many<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        items: &[Submission<'_>],
    ) -> NodeResult<Vec<Option<tansiq_sync::EnvelopeId>>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let holds = tx.sync_holds()?;
        if !holds.is_empty() {
            let mut ids = Vec::with_capacity(items.len());
            let mut now_items = Vec::new();
            for it in items {
                if holds.iter().any(|h| h.channel == it.channel) {
                    let kind = it.payload.kind();
                    defer(
                        tx,
                        it.channel,
                        kind,
                        it.precedence,
                        it.recipients,
                        it.relays,
                        it.payload,
                    )?;
                    ids.push(None);
                } else {
                    ids.push(Some(now_items.len()));
                    now_items.push(Submission { ..*it });
                }
            }
            let made = self.submit_many_now(cx, tx, out, &now_items)?;
            return Ok(ids.into_iter().map(|i| i.map(|i| made[i])).collect());
        }
        Ok(self
            .submit_many_now(cx, tx, out, items)?
            .into_iter()
            .map(Some)
            .collect())
    }

    /// [`Federation::submit_many`] on channels under no hold.
    fn submit_many_now<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        items: &[Submission<'_>],
    ) -> NodeResult<Vec<tansiq_sync::EnvelopeId>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let keys = cx.encryption_keys(tx)?;
        let mut guard = self.engine.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.now();
        self.current(&mut guard, cx, tx, now)?;
        let result = self.submit_many_in(cx, tx, &mut guard, &keys, items, now);
        match result {
            Ok((t, ids)) => {
                out.push_all(t);
                Ok(ids)
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }

    fn submit_many_in<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        guard: &mut Option<(Engine, String)>,
        keys: &BTreeMap<String, [u8; 32]>,
        items: &[Submission<'_>],
        now: u64,
    ) -> NodeResult<(Vec<Transmit>, Vec<tansiq_sync::EnvelopeId>)> {
        let (engine, _) = guard.as_mut().expect("made current");
        // Headers and sealed bodies, in order: the engine's stream head
        // advances only on submit, so later items of a channel chain onto
        // the ids computed here (submit checks seq and prev again).
        let mut heads: std::collections::HashMap<&str, (u64, tansiq_sync::EnvelopeId)> =
            Default::default();
        let mut unsigned = Vec::with_capacity(items.len());
        for it in items {
            let channel = channel_id(it.channel)?;
            let kind = Kind::new(it.payload.kind())?;
            let recipients = it
                .recipients
                .iter()
                .map(|r| node_id(r))
                .collect::<NodeResult<Vec<_>>>()?;
            let relays = it
                .relays
                .iter()
                .map(|r| node_id(r))
                .collect::<NodeResult<Vec<_>>>()?;
            let mut header =
                engine.prepare(&channel, kind, it.precedence, recipients, relays, now)?;
            if let Some((seq, prev)) = heads.get(it.channel) {
                header.seq = seq + 1;
                header.prev = *prev;
            }
            let body = payload::seal(it.payload, &header, keys, &self.epochs)?;
            let env = Envelope::new(header, tansiq_sync::Body::Sealed(body), |_| [0; 64])?;
            heads.insert(it.channel, (env.header().seq, env.id()));
            unsigned.push(env);
        }
        let sigs = crate::par::par_map(unsigned.iter().map(|e| e.id()).collect(), |id| {
            cx.identity().sign(tansiq_sync::ENVELOPE_SIG_CONTEXT, &id.0)
        });
        let signing = cx.key_lookup(tx)?;
        *self.keys.lock().unwrap_or_else(|p| p.into_inner()) = Some(signing.clone());
        let mut transmits = Vec::new();
        let mut ids = Vec::with_capacity(unsigned.len());
        // The submissions' effects are applied together after the last
        // one, so each table's rows (envelopes, outbox rows) go to the
        // store as multi-row statements and each stream's row once
        // (PostgreSQL: a few statements per batch instead of three per
        // envelope). Until then the host finds the envelopes submitted so
        // far here.
        let mut unapplied = std::collections::HashMap::with_capacity(unsigned.len());
        let mut effects = Output::default();
        for (env, sig) in unsigned.into_iter().zip(sigs) {
            let env = env.with_sig(sig);
            ids.push(env.id());
            self.sent.insert(&env);
            unapplied.insert(env.id().0, env.clone());
            let out = {
                let host = SqlHost::with_keys(cx, tx, signing.clone(), self.sent.clone())
                    .with_unapplied(&unapplied);
                engine.submit(env, now, &host)?
            };
            effects.effects.extend(out.effects);
            transmits.extend(out.transmits);
        }
        // A submission delivers nothing here.
        let claim = self.claim_for_new_rows();
        let mut none = C::Batch::default();
        apply::apply(
            cx,
            &self.epochs,
            claim,
            tx,
            &effects,
            &signing,
            None,
            &mut none,
            &|i| self.fault_now(i),
        )?;
        let new_gen = hex::encode(tansiq_crypto::random_bytes::<8>());
        tx.meta_set("sync_gen", &new_gen)?;
        guard.as_mut().expect("made current").1 = new_gen;
        Ok((transmits, ids))
    }

    /// Seals and sends what was kept on `channel` while it was under a
    /// restore hold, in the order it was made, once no hold is left on it
    /// (the transaction that cleared the last one). Recipients are the
    /// channel's members now (its charter may have changed meanwhile).
    pub fn send_deferred<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        channel: &str,
    ) -> NodeResult<()> {
        if held(tx, channel)? {
            return Ok(());
        }
        for d in tx.sync_deferred(Some(channel))? {
            let payload: Payload = serde_json::from_str(&d.payload)
                .map_err(|e| NodeError::internal(format!("deferred payload {}: {e}", d.id)))?;
            let precedence = parse_precedence(&d.precedence)?;
            let recipients = cx.channel_members(tx, channel).unwrap_or(d.recipients);
            tx.sync_deferred_done(d.id)?;
            self.submit_as(
                cx, tx, out, channel, &d.kind, precedence, recipients, d.relays, &payload,
            )?;
        }
        Ok(())
    }

    /// The operator's override of a restore hold (a partner gone for
    /// good): drops the hold of `channel` for `partner` (every partner if
    /// `None`) and sends what was kept meanwhile if none is left. Returns
    /// the partners released.
    pub fn release_hold<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        channel: &str,
        partner: Option<&str>,
    ) -> NodeResult<Vec<String>> {
        let released: Vec<String> = tx
            .sync_holds()?
            .into_iter()
            .filter(|h| h.channel == channel && partner.is_none_or(|p| h.partner == p))
            .map(|h| h.partner)
            .collect();
        let ch = channel_id(channel)?;
        let p = partner.map(node_id).transpose()?;
        self.with_engine(cx, tx, out, |engine, host, now| {
            Ok(engine.release_hold(&ch, p.as_ref(), now, host))
        })?;
        // Rows the engine did not hold (none, unless a rebuild raced):
        // cleared here too.
        for r in &released {
            tx.sync_hold_done(channel, r)?;
        }
        self.send_deferred(cx, tx, out, channel)?;
        Ok(released)
    }

    /// Handles a message received from an authenticated peer.
    pub fn receive<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        from: &str,
        bytes: &[u8],
    ) -> NodeResult<()> {
        self.receive_prepared(cx, tx, out, from, bytes, Prepared::none())
    }

    /// Decodes a peer's message and checks and opens the envelopes in it
    /// for this node, on every core, without the store: call it before
    /// taking the store lock, then [`Federation::receive_prepared`].
    pub fn prepare<C: Context>(&self, cx: &C, bytes: &[u8]) -> Prepared {
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner()).clone();
        prepare::prepare(cx, &self.epochs, keys.as_ref(), bytes)
    }

    /// [`Federation::receive`] using what [`Federation::prepare`] did for
    /// these `bytes`.
    pub fn receive_prepared<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        from: &str,
        bytes: &[u8],
        mut prepared: Prepared,
    ) -> NodeResult<()> {
        let peer = from;
        let from = node_id(from)?;
        let msg = prepared.message.take();
        self.run_prepared(
            cx,
            tx,
            out,
            Some(&prepared),
            Some(peer),
            |engine, host, now| {
                let o = match msg {
                    Some(m) => engine.handle_message(&from, m, now, host),
                    None => engine.handle_bytes(&from, bytes, now, host),
                };
                Ok((o, ()))
            },
        )
    }

    /// Purges the bodies of this node's sealed copies `ids` (a retraction)
    /// through the engine, [`Engine::purge`] — the path the simulation
    /// exercises: what is still queued for a peer then goes as a stub.
    pub fn purge<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        ids: &[[u8; 32]],
    ) -> NodeResult<()> {
        for id in ids {
            let id = tansiq_sync::EnvelopeId(*id);
            self.with_engine(cx, tx, out, |engine, host, now| {
                Ok(engine.purge(&id, now, host))
            })?;
        }
        Ok(())
    }

    /// Timers: retries, summaries, fetches.
    pub fn poll<C: Context>(&self, cx: &C, tx: &mut Tx, out: &mut Outbox) -> NodeResult<()> {
        self.with_engine(cx, tx, out, |engine, host, now| Ok(engine.poll(now, host)))
    }

    /// A transmit could not be delivered.
    pub fn failed<C: Context>(
        &self,
        cx: &C,
        tx: &mut Tx,
        out: &mut Outbox,
        t: &Transmit,
    ) -> NodeResult<()> {
        let (to, id) = (t.to.clone(), t.id);
        self.with_engine(cx, tx, out, |engine, host, now| {
            Ok(engine.transmit_failed(&to, id, now, host))
        })
    }
}

/// Whether `channel` is under a restore hold (docs/SYNC.md §6, "Restore
/// holds"): what is made on it now waits in `sync_deferred`.
fn held(tx: &mut Tx, channel: &str) -> NodeResult<bool> {
    Ok(tx.sync_holds()?.iter().any(|h| h.channel == channel))
}

/// Keeps a payload made on a held channel, to seal and send once the
/// channel's holds clear.
fn defer(
    tx: &mut Tx,
    channel: &str,
    kind: &str,
    precedence: Precedence,
    recipients: &[String],
    relays: &[String],
    payload: &Payload,
) -> NodeResult<()> {
    let row = tansiq_store::DeferredRow {
        id: 0,
        channel: channel.to_string(),
        kind: kind.to_string(),
        precedence: apply::prec_str(precedence).to_string(),
        recipients: recipients.to_vec(),
        relays: relays.to_vec(),
        payload: serde_json::to_string(payload)
            .map_err(|e| NodeError::internal(format!("payload: {e}")))?,
        created_at: tansiq_core::time::format(&tansiq_core::time::now()),
    };
    let n = tx.sync_defer(&row)?;
    tracing::info!(%channel, deferred = n, "restore hold: payload kept until the partners answer");
    Ok(())
}

fn parse_precedence(s: &str) -> NodeResult<Precedence> {
    Ok(match s {
        "flash" => Precedence::Flash,
        "immediate" => Precedence::Immediate,
        "priority" => Precedence::Priority,
        "routine" => Precedence::Routine,
        other => return Err(NodeError::internal(format!("deferred precedence {other}"))),
    })
}

/// Writes the engine's events to the node's log: peer input that was
/// malformed, refused or deferred (with the peer, the envelope id and the
/// reason code — never content), and links going up or down.
fn log_events(events: &[tansiq_sync::Event]) {
    use tansiq_sync::{Event, Status};
    for e in events {
        match e {
            Event::Malformed { from, error } => {
                tracing::warn!(peer = %from.as_str(), %error, "malformed message from a peer dropped")
            }
            Event::Rejected {
                from,
                id,
                status: Status::Refused,
                reason,
            } => tracing::warn!(peer = %from.as_str(), envelope = %hex::encode(id.0), %reason,
                "envelope refused"),
            Event::Rejected {
                from, id, reason, ..
            } => tracing::info!(peer = %from.as_str(), envelope = %hex::encode(id.0), %reason,
                "envelope deferred (retry)"),
            Event::Link { peer, up } => {
                tracing::info!(peer = %peer.as_str(), up, "link state changed")
            }
        }
    }
}

/// The wire bytes of a transmit.
pub fn encode(m: &Message) -> Vec<u8> {
    m.encode()
}
