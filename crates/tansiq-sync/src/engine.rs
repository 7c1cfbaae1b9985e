//! The state machine. See the crate docs and `docs/SYNC.md`.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, Millis, Rng};
use crate::effect::{
    Alarm, Effect, Event, HoldRow, ImportReport, OutboxRow, Output, PeerStatus, Snapshot,
    StreamRow, Transmit,
};
use crate::envelope::{Envelope, EnvelopeHeader, Precedence, HEADER_VERSION};
use crate::error::{BundleError, RestoreError, SubmitError};
use crate::host::{Host, Verdict};
use crate::ids::{ChannelId, EnvelopeId, Kind, NodeId};
use crate::message::{Head, Item, ItemResult, Message, Receipt, Status, MAX_HEADS, MAX_ITEMS};

/// Queue key: most urgent first, then FIFO.
type QKey = (Precedence, u64, EnvelopeId);
/// Outbox key: (final recipient, envelope).
type EKey = (NodeId, EnvelopeId);
/// Stream key: (channel, originator).
pub(crate) type SKey = (ChannelId, NodeId);

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Queued,
    InFlight { hop: NodeId, batch: u64 },
    Relayed { via: NodeId, until: Millis },
    Deferred { until: Millis },
}

#[derive(Clone, Debug)]
struct Entry {
    row: OutboxRow,
    state: State,
    retries: u32,
    /// Put in a batch at least once by this engine: a FLASH row not yet
    /// tried goes out whatever the backoff (§4.2 of docs/SYNC.md).
    tried: bool,
}

#[derive(Clone, Debug)]
struct Batch {
    items: Vec<EKey>,
    deadline: Millis,
    express: bool,
}

#[derive(Clone, Debug, Default)]
struct Link {
    failures: u32,
    /// First failure since the last success.
    failing_since: Option<Millis>,
    next_attempt: Millis,
    batches: BTreeMap<u64, Batch>,
    last_delivery: Option<Millis>,
    ever_ok: bool,
    /// Transmits to this peer numbered below this were made before we
    /// last heard from it: their failures are stale and push nothing back.
    heard_after: u64,
}

#[derive(Clone, Debug)]
struct Fetching {
    peer: NodeId,
    deadline: Millis,
}

/// The question a restore hold puts to its partner: a `fetch` of this
/// node's own stream in the channel from its prefix + 1 (docs/SYNC.md §6,
/// "Restore holds").
#[derive(Clone, Debug, Default)]
struct Probe {
    /// A probe is out until then.
    deadline: Option<Millis>,
    /// Not before then (backoff after a fruitless or unanswered probe).
    next: Millis,
    failures: u32,
    /// The last probe went unanswered (timeout, transmit failure): hearing
    /// from the partner asks again at once.
    unreachable: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Stream {
    prefix: u64,
    last: EnvelopeId,
    /// Held above the prefix: seq → (id, prev).
    pending: BTreeMap<u64, (EnvelopeId, EnvelopeId)>,
    /// Highest seq held (proof: an authentic envelope).
    known: u64,
    /// Highest seq announced by a peer's summary (a claim, unproven).
    claimed: u64,
    /// While before this time, an announced head of this node's own stream
    /// holds its sending (once per stream per process: a lying member
    /// cannot block it for longer).
    hold_until: Millis,
    hold_used: bool,
    /// Who announced `claimed`.
    hint: Option<NodeId>,
    /// Since when the stream has been incomplete without progress.
    stalled_since: Option<Millis>,
    fetch: Option<Fetching>,
    fetch_failures: u32,
    persisted: bool,
}

/// Per-call context: the clock, the host, the output being built, and the
/// envelopes stored earlier in this call (not yet visible through the host).
struct Call<'a> {
    now: Millis,
    host: &'a dyn Host,
    out: Output,
    overlay: BTreeMap<(SKey, u64), Envelope>,
    /// Envelopes stored in this call, by id.
    stored: BTreeMap<EnvelopeId, Envelope>,
    members: BTreeMap<ChannelId, Option<Vec<NodeId>>>,
    receipts: BTreeMap<NodeId, Vec<Receipt>>,
}

impl Call<'_> {
    fn members(&mut self, channel: &ChannelId) -> Option<&Vec<NodeId>> {
        if !self.members.contains_key(channel) {
            let mut m = self.host.members(channel);
            if let Some(v) = m.as_mut() {
                v.sort();
                v.dedup();
            }
            self.members.insert(channel.clone(), m);
        }
        self.members.get(channel).and_then(|m| m.as_ref())
    }
    fn is_member(&mut self, channel: &ChannelId, node: &NodeId) -> bool {
        self.members(channel)
            .is_some_and(|m| m.binary_search(node).is_ok())
    }
    fn effect(&mut self, e: Effect) {
        self.out.effects.push(e);
    }
    /// Emits a `Store` and remembers the envelope for the rest of the call.
    fn store(&mut self, envelope: Envelope, custody: bool) {
        let h = envelope.header();
        if !custody {
            self.overlay.insert(
                ((h.channel.clone(), h.originator.clone()), h.seq),
                envelope.clone(),
            );
        }
        self.stored.insert(envelope.id(), envelope.clone());
        self.out.effects.push(Effect::Store { envelope, custody });
    }
    /// An envelope held, including those stored earlier in this call.
    fn envelope(&self, id: &EnvelopeId) -> Option<Envelope> {
        match self.stored.get(id) {
            Some(e) => Some(e.clone()),
            None => self.host.envelope(id),
        }
    }
}

/// The federation engine of one node. Sans-IO: every method takes the
/// current time and returns what to persist and send; see the crate docs
/// for the driving loop.
pub struct Engine {
    me: NodeId,
    cfg: Config,
    rng: Rng,
    streams: BTreeMap<SKey, Stream>,
    entries: BTreeMap<EKey, Entry>,
    queues: BTreeMap<NodeId, BTreeSet<QKey>>,
    /// Queued entries per final recipient per permitted relay.
    relay_index: BTreeMap<NodeId, BTreeMap<NodeId, usize>>,
    waiting: BTreeSet<(Millis, NodeId, EnvelopeId)>,
    custody: BTreeMap<EnvelopeId, u32>,
    links: BTreeMap<NodeId, Link>,
    next_id: u64,
    next_order: u64,
    next_summary_round: Millis,
    summary_round_reply: bool,
    summary_now: BTreeSet<NodeId>,
    /// The latest time any call was given.
    now: Millis,
    /// No stream needs a timer (fetch deadline, gap fetch) before this.
    stream_timer: Millis,
    /// Streams whose row must be written on the next call.
    dirty: BTreeSet<SKey>,
    /// Restore holds (durable rows): per channel, the partners still to
    /// answer before this node originates on it, each with its probe.
    holds: BTreeMap<ChannelId, BTreeMap<NodeId, Probe>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("me", &self.me)
            .field("streams", &self.streams.len())
            .field("outbox", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// Sizes of the engine's in-memory structures (for tests and metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Streams tracked.
    pub streams: usize,
    /// Envelopes held above stream prefixes.
    pub pending: usize,
    /// Outbox rows.
    pub outbox: usize,
    /// Batches in flight.
    pub batches: usize,
    /// Custody copies (relay).
    pub custody: usize,
    /// Fetches in flight.
    pub fetches: usize,
    /// Streams whose prefix is behind the known head.
    pub incomplete: usize,
}

/// Which queued rows a batch may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lane {
    /// The most urgent rows first, any precedence.
    All,
    /// FLASH and IMMEDIATE only (the normal window is full).
    Express,
    /// FLASH rows never tried yet, while the link backs off.
    UntriedFlash,
}

fn jitter(rng: &mut Rng, d: Millis) -> Millis {
    d / 2 + rng.below(d / 2 + 1)
}

impl Engine {
    /// A fresh engine for node `me` with no durable state.
    pub fn new(me: NodeId, cfg: Config, seed: u64, now: Millis) -> Engine {
        let mut rng = Rng::new(seed);
        let next_id = 1 + rng.below(1 << 40);
        Engine {
            me,
            cfg,
            rng,
            streams: BTreeMap::new(),
            entries: BTreeMap::new(),
            queues: BTreeMap::new(),
            relay_index: BTreeMap::new(),
            waiting: BTreeSet::new(),
            custody: BTreeMap::new(),
            links: BTreeMap::new(),
            next_id,
            next_order: 1,
            next_summary_round: now,
            summary_round_reply: true,
            summary_now: BTreeSet::new(),
            now,
            stream_timer: now,
            dirty: BTreeSet::new(),
            holds: BTreeMap::new(),
        }
    }

    /// Rebuilds the engine after a (re)start from its durable rows and the
    /// envelopes the host holds. Volatile state (in-flight batches, backoff,
    /// fetches) starts afresh: every outbox row is queued again (receivers
    /// deduplicate), and a summary round with replies is scheduled now.
    /// `seed` should differ between starts (jitter).
    pub fn restore(
        me: NodeId,
        cfg: Config,
        seed: u64,
        snapshot: Snapshot,
        now: Millis,
        host: &dyn Host,
    ) -> Result<Engine, RestoreError> {
        let mut e = Engine::new(me, cfg, seed, now);
        for row in snapshot.streams {
            if (row.seq == 0) != (row.last == EnvelopeId::ZERO) {
                return Err(RestoreError(format!(
                    "stream {}/{}: seq {} with last {:?}",
                    row.channel, row.originator, row.seq, row.last
                )));
            }
            let key = (row.channel, row.originator);
            let mut s = stream_from_store(&key, row.seq, row.last, host);
            if advance(&mut s) {
                // Inconsistent rows (prefix not advanced over held
                // envelopes): persist the corrected prefix on the next call.
                s.persisted = false;
                e.dirty.insert(key.clone());
            }
            e.streams.insert(key, s);
        }
        for h in snapshot.holds {
            if h.partner != e.me {
                e.holds.entry(h.channel).or_default().insert(
                    h.partner,
                    Probe {
                        next: now,
                        ..Probe::default()
                    },
                );
            }
        }
        e.adopt(snapshot.outbox);
        Ok(e)
    }

    /// Queues outbox rows that are already durable but that this engine
    /// does not hold (a delivery worker's newly claimed rows, queued by
    /// another process), as [`Engine::restore`] does, without forgetting
    /// what is in flight: no effect is emitted (the rows are stored);
    /// they go out with the next call that sends. Rows already held are
    /// left as they are. Returns how many were added.
    pub fn adopt(&mut self, rows: Vec<OutboxRow>) -> usize {
        let mut added = 0;
        for row in rows {
            self.next_order = self.next_order.max(row.order.saturating_add(1));
            let key = (row.to.clone(), row.id);
            if self.entries.contains_key(&key) {
                continue;
            }
            if row.reply_to.is_some() {
                *self.custody.entry(row.id).or_default() += 1;
            }
            self.entries.insert(
                key.clone(),
                Entry {
                    row,
                    state: State::Queued,
                    retries: 0,
                    tried: false,
                },
            );
            self.enqueue(&key);
            added += 1;
        }
        added
    }

    /// Brings the engine's streams and restore holds up to their durable
    /// rows `streams` and `holds` (all of them) after another process
    /// changed them — a second
    /// delivery worker of this node submitting on a channel or taking in
    /// a peer's envelopes — without forgetting what is in flight: outbox
    /// entries, batches in flight, backoff and each stream's volatile
    /// state (heads announced by peers, holds, fetches) are kept. A
    /// stream whose row moved, or that is incomplete here, is read again
    /// from the host as [`Engine::restore`] reads it; a row behind what
    /// this engine holds is ignored. Outbox rows for a peer no longer
    /// delivered to (dropped by another process) are dropped. The outbox is not read: a delivery
    /// worker's rows are its own (leased); rows it claims later join by
    /// [`Engine::adopt`].
    pub fn refresh(
        &mut self,
        streams: Vec<StreamRow>,
        holds: Vec<HoldRow>,
        host: &dyn Host,
    ) -> Result<(), RestoreError> {
        // Restore holds as the durable rows say (another process may have
        // placed or cleared one); a hold kept keeps its probe.
        let mut now_held: BTreeMap<ChannelId, BTreeMap<NodeId, Probe>> = BTreeMap::new();
        for h in holds {
            if h.partner == self.me {
                continue;
            }
            let probe = self
                .holds
                .get_mut(&h.channel)
                .and_then(|w| w.remove(&h.partner))
                .unwrap_or(Probe {
                    next: self.now,
                    ..Probe::default()
                });
            now_held
                .entry(h.channel)
                .or_default()
                .insert(h.partner, probe);
        }
        self.holds = now_held;
        for row in streams {
            if (row.seq == 0) != (row.last == EnvelopeId::ZERO) {
                return Err(RestoreError(format!(
                    "stream {}/{}: seq {} with last {:?}",
                    row.channel, row.originator, row.seq, row.last
                )));
            }
            let key = (row.channel, row.originator);
            let old = self.streams.get(&key);
            if let Some(o) = old {
                let incomplete = o.known > o.prefix || !o.pending.is_empty();
                if row.seq < o.prefix || (row.seq == o.prefix && row.last == o.last && !incomplete)
                {
                    continue;
                }
            }
            let mut s = stream_from_store(&key, row.seq, row.last, host);
            if let Some(o) = old {
                s.known = s.known.max(o.known);
                s.claimed = o.claimed;
                s.hold_until = o.hold_until;
                s.hold_used = o.hold_used;
                s.hint = o.hint.clone();
                s.stalled_since = o.stalled_since;
                s.fetch = o.fetch.clone();
                s.fetch_failures = o.fetch_failures;
            }
            if advance(&mut s) {
                s.persisted = false;
                self.dirty.insert(key.clone());
            } else {
                self.dirty.remove(&key);
            }
            self.streams.insert(key, s);
        }
        // Rows for a peer another process dropped: gone from the store
        // with it; nothing to send them to.
        let gone: Vec<EKey> = self
            .entries
            .keys()
            .filter(|k| !host.delivers_to(&k.0))
            .cloned()
            .collect();
        for key in gone {
            self.unqueue(&key);
            if let Some(e) = self.entries.remove(&key) {
                if e.row.reply_to.is_some() {
                    if let Some(n) = self.custody.get_mut(&key.1) {
                        *n -= 1;
                        if *n == 0 {
                            self.custody.remove(&key.1);
                        }
                    }
                }
            }
        }
        // Timers of the streams read again are looked at on the next call.
        self.stream_timer = self.stream_timer.min(self.now);
        Ok(())
    }

    /// Outbox rows waiting to be sent (queued, not in flight), all peers.
    pub fn queued(&self) -> usize {
        self.queues.values().map(|q| q.len()).sum()
    }

    /// This node.
    pub fn me(&self) -> &NodeId {
        &self.me
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    // ------------------------------------------------------------------
    // Local submissions
    // ------------------------------------------------------------------

    /// The header of this node's next envelope in `channel`. Pure: seal the
    /// body with `header.canonical_bytes()` as AAD, sign the id, build the
    /// [`Envelope`] and [`Engine::submit`] it before preparing another in
    /// the same channel.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &self,
        channel: &ChannelId,
        kind: Kind,
        precedence: Precedence,
        mut recipients: Vec<NodeId>,
        mut relays: Vec<NodeId>,
        created_ms: Millis,
    ) -> Result<EnvelopeHeader, SubmitError> {
        self.check_hold(channel)?;
        let key = (channel.clone(), self.me.clone());
        let (prefix, last) = self
            .streams
            .get(&key)
            .map_or((0, EnvelopeId::ZERO), |s| (s.prefix, s.last));
        if let Some(known) = self.streams.get(&key).and_then(|s| s.behind(created_ms)) {
            return Err(SubmitError::StreamBehind { known });
        }
        recipients.push(self.me.clone());
        recipients.sort();
        recipients.dedup();
        relays.sort();
        relays.dedup();
        let h = EnvelopeHeader {
            v: HEADER_VERSION,
            channel: channel.clone(),
            originator: self.me.clone(),
            seq: prefix + 1,
            prev: last,
            precedence,
            kind,
            created_ms,
            recipients,
            relays,
        };
        h.validate()?;
        Ok(h)
    }

    /// Takes a locally made envelope (from [`Engine::prepare`]): stores it,
    /// advances this node's stream and queues it for every other recipient.
    pub fn submit(
        &mut self,
        envelope: Envelope,
        now: Millis,
        host: &dyn Host,
    ) -> Result<Output, SubmitError> {
        let h = envelope.header();
        if h.originator != self.me {
            return Err(SubmitError::NotOriginator);
        }
        if envelope.is_stub() {
            return Err(SubmitError::NoBody);
        }
        self.check_hold(&h.channel)?;
        let key = (h.channel.clone(), self.me.clone());
        let (prefix, last) = self
            .streams
            .get(&key)
            .map_or((0, EnvelopeId::ZERO), |s| (s.prefix, s.last));
        if let Some(known) = self.streams.get(&key).and_then(|s| s.behind(now)) {
            return Err(SubmitError::StreamBehind { known });
        }
        if h.seq != prefix + 1 || h.prev != last {
            return Err(SubmitError::OutOfSequence {
                expected: prefix + 1,
                got: h.seq,
            });
        }
        let mut c = self.call(now, host);
        let id = envelope.id();
        let s = self.streams.entry(key.clone()).or_default();
        s.prefix = h.seq;
        s.last = id;
        s.known = h.seq;
        s.persisted = true;
        c.store(envelope.clone(), false);
        c.effect(Effect::Stream(StreamRow {
            channel: key.0,
            originator: key.1,
            seq: h.seq,
            last: id,
        }));
        let size = envelope.encoded_len() as u64;
        let h = h.clone();
        let me = self.me.clone();
        for r in h
            .recipients
            .iter()
            .filter(|r| **r != me && host.delivers_to(r))
        {
            let row = OutboxRow {
                to: r.clone(),
                id,
                channel: h.channel.clone(),
                originator: self.me.clone(),
                seq: h.seq,
                precedence: h.precedence,
                order: self.next_order,
                size,
                relays: h.relays.clone(),
                reply_to: None,
            };
            self.next_order += 1;
            self.add_entry(row, &mut c);
        }
        Ok(self.finish(c))
    }

    /// `Err(Restored)` while `channel` is under a restore hold.
    fn check_hold(&self, channel: &ChannelId) -> Result<(), SubmitError> {
        match self.holds.get(channel) {
            Some(w) if !w.is_empty() => Err(SubmitError::Restored {
                channel: channel.as_str().to_string(),
                waiting: w.keys().map(|n| n.as_str().to_string()).collect(),
            }),
            _ => Ok(()),
        }
    }

    /// The restore holds still in force: per channel, the partners that
    /// have not answered yet (for `sync status`).
    pub fn holds(&self) -> Vec<(ChannelId, Vec<NodeId>)> {
        self.holds
            .iter()
            .filter(|(_, w)| !w.is_empty())
            .map(|(c, w)| (c.clone(), w.keys().cloned().collect()))
            .collect()
    }

    /// Whether this node may not originate on `channel` yet (a restore
    /// hold).
    pub fn is_held(&self, channel: &ChannelId) -> bool {
        self.holds.get(channel).is_some_and(|w| !w.is_empty())
    }

    /// The operator's override for a partner gone for good: drops the
    /// restore hold of `channel` for `partner` (every partner if `None`)
    /// without its answer. The node audits it; what this node then sends
    /// may fork its stream at a partner that did hold more of it.
    pub fn release_hold(
        &mut self,
        channel: &ChannelId,
        partner: Option<&NodeId>,
        now: Millis,
        host: &dyn Host,
    ) -> Output {
        let mut c = self.call(now, host);
        let partners: Vec<NodeId> = match (self.holds.get(channel), partner) {
            (None, _) => Vec::new(),
            (Some(w), None) => w.keys().cloned().collect(),
            (Some(w), Some(p)) => w.keys().filter(|k| *k == p).cloned().collect(),
        };
        for p in partners {
            self.clear_hold(channel, &p, &mut c);
        }
        self.finish(c)
    }

    fn clear_hold(&mut self, channel: &ChannelId, partner: &NodeId, c: &mut Call) {
        if let Some(w) = self.holds.get_mut(channel) {
            if w.remove(partner).is_some() {
                c.effect(Effect::HoldDone(HoldRow {
                    channel: channel.clone(),
                    partner: partner.clone(),
                }));
            }
            if w.is_empty() {
                self.holds.remove(channel);
            }
        }
    }

    /// A partner answered a fetch of this node's own stream in `channel`
    /// (from at most its prefix + 1, as every fetch this engine makes):
    /// `top` the highest seq it returned, `more` whether it stopped on a
    /// limit, `deferred` whether some of it could not be judged yet. Its
    /// restore hold clears once it holds nothing beyond this node's prefix.
    #[allow(clippy::too_many_arguments)]
    fn hold_answer(
        &mut self,
        from: &NodeId,
        channel: &ChannelId,
        top: u64,
        more: bool,
        progressed: bool,
        deferred: bool,
        c: &mut Call,
    ) {
        let prefix = self.stream_prefix(channel, &self.me);
        let cfg = self.cfg.clone();
        let Some(pr) = self.holds.get_mut(channel).and_then(|w| w.get_mut(from)) else {
            return;
        };
        if pr.deadline.is_none() {
            // Not an answer to a probe of this engine's (a reply to a
            // fetch made before a restart could predate the restore).
            return;
        }
        if !more && !deferred && top <= prefix {
            self.clear_hold(channel, from, c);
            return;
        }
        pr.deadline = None;
        pr.unreachable = false;
        if more && progressed {
            pr.next = c.now;
        } else {
            // It holds later envelopes of ours than we do: the gap fetch
            // gets them back; ask again after a while.
            pr.failures = pr.failures.saturating_add(1);
            pr.next = c.now + cfg.gap_delay + cfg.backoff(pr.failures);
        }
    }

    /// Sends the restore holds' probes that are due; an unanswered one
    /// counts as a failure and is asked again after a backoff.
    fn probe_holds(&mut self, c: &mut Call) {
        if self.holds.is_empty() {
            return;
        }
        let now = c.now;
        let (timeout, cfg) = (self.cfg.fetch_timeout, self.cfg.clone());
        let mut due = Vec::new();
        for (ch, w) in self.holds.iter_mut() {
            for (p, pr) in w.iter_mut() {
                if pr.deadline.is_some_and(|d| d <= now) {
                    pr.deadline = None;
                    pr.failures = pr.failures.saturating_add(1);
                    pr.unreachable = true;
                    pr.next = now + cfg.backoff(pr.failures);
                }
                if pr.deadline.is_none() && pr.next <= now {
                    pr.deadline = Some(now + timeout);
                    due.push((ch.clone(), p.clone()));
                }
            }
        }
        for (channel, p) in due {
            let from_seq = self.stream_prefix(&channel, &self.me) + 1;
            let originator = self.me.clone();
            let limit = self.cfg.fetch_limit;
            self.transmit(
                &p,
                Message::Fetch {
                    channel,
                    originator,
                    from_seq,
                    limit,
                },
                c,
            );
        }
    }

    /// Replaces the body of a held envelope by its hash (retraction or
    /// expiry). Peers still missing it get the stub.
    pub fn purge(&mut self, id: &EnvelopeId, now: Millis, host: &dyn Host) -> Output {
        let mut c = self.call(now, host);
        if let Some(e) = c.envelope(id).filter(|e| !e.is_stub()) {
            c.effect(Effect::Purge { id: *id });
            let stub = e.to_stub();
            c.stored.insert(*id, stub);
        }
        self.finish(c)
    }

    /// Gives up on a peer for good (decommissioned, removed from every
    /// charter by the operator): deletes every outbox row for it. Rows for
    /// which this node holds custody are forgotten too.
    pub fn drop_peer(&mut self, peer: &NodeId, now: Millis, host: &dyn Host) -> Output {
        let mut c = self.call(now, host);
        let keys: Vec<EKey> = self
            .entries
            .range((peer.clone(), EnvelopeId::ZERO)..)
            .take_while(|((to, _), _)| to == peer)
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            self.remove_entry(&k, &mut c);
        }
        if let Some(l) = self.links.get_mut(peer) {
            l.batches.clear();
        }
        self.finish(c)
    }

    // ------------------------------------------------------------------
    // Inputs from peers and the transport
    // ------------------------------------------------------------------

    /// Raw bytes from authenticated peer `from`: decoded (never panics),
    /// then handled as [`Engine::handle_message`]. Undecodable input gives
    /// an [`Event::Malformed`] and no state change.
    pub fn handle_bytes(
        &mut self,
        from: &NodeId,
        bytes: &[u8],
        now: Millis,
        host: &dyn Host,
    ) -> Output {
        match Message::decode(bytes) {
            Ok(m) => self.handle_message(from, m, now, host),
            Err(e) => {
                let mut c = self.call(now, host);
                c.out.events.push(Event::Malformed {
                    from: from.clone(),
                    error: e.to_string(),
                });
                self.finish(c)
            }
        }
    }

    /// A decoded message from authenticated peer `from`.
    pub fn handle_message(
        &mut self,
        from: &NodeId,
        msg: Message,
        now: Millis,
        host: &dyn Host,
    ) -> Output {
        let mut c = self.call(now, host);
        if *from != self.me {
            self.heard_from(from, now);
            match msg {
                Message::Batch { batch, items } => self.on_batch(from, batch, items, &mut c),
                Message::BatchAck { batch, results } => {
                    self.on_batch_ack(from, batch, results, &mut c)
                }
                Message::Receipt { receipts } => self.on_receipts(from, receipts, &mut c),
                Message::Summary { heads, reply } => self.on_summary(from, heads, reply, &mut c),
                Message::Fetch {
                    channel,
                    originator,
                    from_seq,
                    limit,
                } => self.on_fetch(from, channel, originator, from_seq, limit, &mut c),
                Message::FetchReply {
                    channel,
                    originator,
                    envelopes,
                    more,
                } => self.on_fetch_reply(from, channel, originator, envelopes, more, &mut c),
            }
        }
        self.finish(c)
    }

    /// The transport could not deliver transmit `id` to `to` (connection
    /// refused, TLS failure, HTTP error, timeout).
    pub fn transmit_failed(
        &mut self,
        to: &NodeId,
        id: u64,
        now: Millis,
        host: &dyn Host,
    ) -> Output {
        let mut c = self.call(now, host);
        // A transmit made before the peer last reached us: its failure
        // says nothing about the link now, so it starts no backoff.
        let stale = self.links.get(to).is_some_and(|l| id < l.heard_after);
        if !stale {
            self.link_failed(to, &mut c);
        }
        // A gap fetch from that peer cannot be answered now: count it as
        // fruitless at once (ask the next candidate after the backoff)
        // instead of waiting out `fetch_timeout`.
        let keys: Vec<SKey> = self
            .streams
            .iter()
            .filter(|(_, s)| s.fetch.as_ref().is_some_and(|f| f.peer == *to))
            .map(|(k, _)| k.clone())
            .collect();
        for k in keys {
            if let Some(s) = self.streams.get_mut(&k) {
                s.fetch = None;
                s.fetch_failures = s.fetch_failures.saturating_add(1);
                s.stalled_since = Some(now);
            }
            self.touch_stream(&k, now);
        }
        let batch = self.links.get_mut(to).and_then(|l| l.batches.remove(&id));
        if let Some(b) = batch {
            self.requeue_batch(to, id, b);
        }
        let cfg = self.cfg.clone();
        for pr in self.holds.values_mut().filter_map(|w| w.get_mut(to)) {
            if pr.deadline.is_some() {
                pr.deadline = None;
                pr.failures = pr.failures.saturating_add(1);
                pr.unreachable = true;
                pr.next = now + cfg.backoff(pr.failures);
            }
        }
        self.finish(c)
    }

    /// Timers: retries, timeouts, summaries, gap fetches. Call at
    /// `next_wakeup` (earlier is harmless).
    pub fn poll(&mut self, now: Millis, host: &dyn Host) -> Output {
        let c = self.call(now, host);
        self.finish(c)
    }

    // ------------------------------------------------------------------
    // Offline bundles
    // ------------------------------------------------------------------

    /// Everything queued for `peer` (most urgent first, at most
    /// `max_items`), for an offline bundle. Rows stay in the outbox until
    /// the peer acknowledges them (its next summary or batch ack).
    pub fn export_bundle(&self, peer: &NodeId, max_items: usize, host: &dyn Host) -> Vec<Item> {
        let mut rows: Vec<&Entry> = self
            .entries
            .range((peer.clone(), EnvelopeId::ZERO)..)
            .take_while(|((to, _), _)| to == peer)
            .map(|(_, e)| e)
            .collect();
        rows.sort_by_key(|e| (e.row.precedence, e.row.order));
        rows.into_iter()
            .filter_map(|e| {
                host.envelope(&e.row.id).map(|envelope| Item {
                    to: peer.clone(),
                    envelope,
                })
            })
            .take(max_items)
            .collect()
    }

    /// Imports an offline bundle whose signature the node has checked
    /// (`from`: the node that made it). All or nothing: if any item is
    /// refused, nothing is applied and the error names it. Idempotent:
    /// items already held count as duplicates.
    pub fn import_bundle(
        &mut self,
        from: &NodeId,
        items: Vec<Item>,
        now: Millis,
        host: &dyn Host,
    ) -> Result<(Output, ImportReport), BundleError> {
        // Phase 1: judge every item without changing anything.
        for (index, item) in items.iter().enumerate() {
            if let Some(reason) = self.precheck(from, item, host) {
                return Err(BundleError { index, reason });
            }
        }
        let mut c = self.call(now, host);
        let mut report = ImportReport::default();
        for item in items {
            let (status, _, new) = self.receive_item(from, item, &mut c);
            match (status, new) {
                (Status::Stored | Status::Accepted, true) => report.new += 1,
                (Status::Stored | Status::Accepted, false) => report.duplicate += 1,
                (Status::Retry, _) => report.deferred += 1,
                // A fork found during import: evidence kept, item skipped.
                (Status::Refused, _) => report.duplicate += 1,
            }
        }
        Ok((self.finish(c), report))
    }

    fn precheck(&self, from: &NodeId, item: &Item, host: &dyn Host) -> Option<String> {
        let h = item.envelope.header();
        if item.to == self.me {
            if !h.is_recipient(&self.me) {
                return Some("not a recipient".into());
            }
            if item.envelope.is_stub() && !h.is_recipient(from) {
                return Some("stub from a non-member".into());
            }
        } else {
            if !h.is_relay(&self.me) || !h.is_recipient(&item.to) {
                return Some("not a relay for this envelope".into());
            }
            if item.envelope.is_stub() {
                return Some("stub in custody".into());
            }
        }
        match host.verify(&item.envelope) {
            Verdict::Refuse(r) => Some(r),
            _ => None,
        }
    }

    // ------------------------------------------------------------------
    // Status
    // ------------------------------------------------------------------

    /// Link state per peer, for `tansiq sync status`.
    pub fn status(&self, now: Millis) -> Vec<PeerStatus> {
        let mut peers: BTreeSet<&NodeId> = self.links.keys().collect();
        peers.extend(self.entries.keys().map(|(to, _)| to));
        peers
            .into_iter()
            .map(|p| {
                let link = self.links.get(p);
                let mut st = PeerStatus {
                    peer: p.clone(),
                    link: match link {
                        Some(_) if self.is_down(p) => "down",
                        Some(l) if l.ever_ok => "up",
                        _ => "unknown",
                    },
                    queued: 0,
                    in_flight: 0,
                    relayed: 0,
                    deferred: 0,
                    flash_unacked: 0,
                    failures: link.map_or(0, |l| l.failures),
                    last_delivery: link.and_then(|l| l.last_delivery),
                    next_attempt: link.map(|l| l.next_attempt).filter(|t| *t > now),
                };
                for (_, e) in self
                    .entries
                    .range((p.clone(), EnvelopeId::ZERO)..)
                    .take_while(|((to, _), _)| to == p)
                {
                    match e.state {
                        State::Queued => st.queued += 1,
                        State::InFlight { .. } => st.in_flight += 1,
                        State::Relayed { .. } => st.relayed += 1,
                        State::Deferred { .. } => st.deferred += 1,
                    }
                    if e.row.precedence == Precedence::Flash {
                        st.flash_unacked += 1;
                    }
                }
                st
            })
            .collect()
    }

    /// Sizes of the in-memory structures.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            streams: self.streams.len(),
            pending: self.streams.values().map(|s| s.pending.len()).sum(),
            outbox: self.entries.len(),
            batches: self.links.values().map(|l| l.batches.len()).sum(),
            custody: self.custody.len(),
            fetches: self.streams.values().filter(|s| s.fetch.is_some()).count(),
            incomplete: self
                .streams
                .values()
                .filter(|s| s.wanted() > s.prefix)
                .count(),
        }
    }

    /// Streams this node knows to be incomplete: (channel, originator,
    /// prefix held, head wanted), for `sync status`.
    pub fn incomplete_streams(&self) -> Vec<(ChannelId, NodeId, u64, u64)> {
        self.streams
            .iter()
            .filter(|(_, s)| s.wanted() > s.prefix)
            .map(|((c, o), s)| (c.clone(), o.clone(), s.prefix, s.wanted()))
            .collect()
    }

    /// The contiguous prefix held of stream (`channel`, `originator`).
    pub fn stream_prefix(&self, channel: &ChannelId, originator: &NodeId) -> u64 {
        self.streams
            .get(&(channel.clone(), originator.clone()))
            .map_or(0, |s| s.prefix)
    }

    // ------------------------------------------------------------------
    // Internals: outbox
    // ------------------------------------------------------------------

    fn call<'a>(&mut self, now: Millis, host: &'a dyn Host) -> Call<'a> {
        self.now = self.now.max(now);
        Call {
            now,
            host,
            out: Output::default(),
            overlay: BTreeMap::new(),
            stored: BTreeMap::new(),
            members: BTreeMap::new(),
            receipts: BTreeMap::new(),
        }
    }

    /// Down: too many consecutive failures, or failing for too long.
    fn is_down(&self, peer: &NodeId) -> bool {
        self.links.get(peer).is_some_and(|l| {
            l.failures >= self.cfg.down_after_failures
                || l.failing_since
                    .is_some_and(|t| self.now.saturating_sub(t) >= self.cfg.down_after)
        })
    }

    /// Whether rows for `to` may take a relay: all of them if its link is
    /// down; FLASH and IMMEDIATE ones as soon as it has failed once.
    fn relay_mode(&self, to: &NodeId) -> Option<bool> {
        if self.is_down(to) {
            Some(false)
        } else if self.links.get(to).is_some_and(|l| l.failures > 0) {
            Some(true)
        } else {
            None
        }
    }

    fn add_entry(&mut self, row: OutboxRow, c: &mut Call) {
        let key = (row.to.clone(), row.id);
        if self.entries.contains_key(&key) {
            return;
        }
        if row.reply_to.is_some() {
            *self.custody.entry(row.id).or_default() += 1;
        }
        c.effect(Effect::OutboxPut(row.clone()));
        self.entries.insert(
            key.clone(),
            Entry {
                row,
                state: State::Queued,
                retries: 0,
                tried: false,
            },
        );
        self.enqueue(&key);
    }

    /// Puts an entry (not in any queue or waiting set) into its queue.
    fn enqueue(&mut self, key: &EKey) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        e.state = State::Queued;
        let q = (e.row.precedence, e.row.order, e.row.id);
        if self.queues.entry(key.0.clone()).or_default().insert(q) && e.row.reply_to.is_none() {
            let idx = self.relay_index.entry(key.0.clone()).or_default();
            for r in &e.row.relays {
                *idx.entry(r.clone()).or_default() += 1;
            }
        }
    }

    /// Takes an entry out of its queue or waiting set (state unchanged).
    fn unqueue(&mut self, key: &EKey) {
        let Some(e) = self.entries.get(key) else {
            return;
        };
        match &e.state {
            State::Queued => {
                let q = (e.row.precedence, e.row.order, e.row.id);
                let removed = self.queues.get_mut(&key.0).is_some_and(|s| s.remove(&q));
                if self.queues.get(&key.0).is_some_and(|s| s.is_empty()) {
                    self.queues.remove(&key.0);
                }
                if removed && e.row.reply_to.is_none() {
                    if let Some(idx) = self.relay_index.get_mut(&key.0) {
                        for r in &e.row.relays {
                            if let Some(n) = idx.get_mut(r) {
                                *n -= 1;
                                if *n == 0 {
                                    idx.remove(r);
                                }
                            }
                        }
                        if idx.is_empty() {
                            self.relay_index.remove(&key.0);
                        }
                    }
                }
            }
            State::Relayed { until, .. } | State::Deferred { until } => {
                self.waiting.remove(&(*until, key.0.clone(), key.1));
            }
            State::InFlight { .. } => {}
        }
    }

    fn set_state(&mut self, key: &EKey, state: State) {
        self.unqueue(key);
        match &state {
            State::Queued => return self.enqueue(key),
            State::Relayed { until, .. } | State::Deferred { until } => {
                self.waiting.insert((*until, key.0.clone(), key.1));
            }
            State::InFlight { .. } => {}
        }
        if let Some(e) = self.entries.get_mut(key) {
            e.state = state;
        }
    }

    /// The entry reached its final recipient (or was refused): drop it.
    fn remove_entry(&mut self, key: &EKey, c: &mut Call) -> Option<Entry> {
        self.unqueue(key);
        let e = self.entries.remove(key)?;
        c.effect(Effect::OutboxDone {
            to: key.0.clone(),
            id: key.1,
        });
        if e.row.reply_to.is_some() {
            if let Some(n) = self.custody.get_mut(&key.1) {
                *n -= 1;
                if *n == 0 {
                    self.custody.remove(&key.1);
                    c.effect(Effect::Forget { id: key.1 });
                }
            }
        }
        Some(e)
    }

    /// End-to-end delivery of `key` confirmed.
    fn complete(&mut self, key: &EKey, c: &mut Call) {
        if let Some(e) = self.remove_entry(key, c) {
            self.links.entry(key.0.clone()).or_default().last_delivery = Some(c.now);
            if let Some(r) = e.row.reply_to {
                c.receipts.entry(r).or_default().push(Receipt {
                    id: key.1,
                    to: key.0.clone(),
                });
            }
        }
    }

    fn link_failed(&mut self, peer: &NodeId, c: &mut Call) {
        let was_down = self.is_down(peer);
        let link = self.links.entry(peer.clone()).or_default();
        link.failures = link.failures.saturating_add(1);
        link.failing_since.get_or_insert(c.now);
        let d = self.cfg.backoff(link.failures);
        link.next_attempt = c.now + jitter(&mut self.rng, d);
        if !was_down && self.is_down(peer) {
            c.out.events.push(Event::Link {
                peer: peer.clone(),
                up: false,
            });
        }
    }

    fn link_ok(&mut self, peer: &NodeId, c: &mut Call) {
        let down = self.is_down(peer);
        let link = self.links.entry(peer.clone()).or_default();
        let was_down = down || !link.ever_ok;
        if down {
            c.out.events.push(Event::Link {
                peer: peer.clone(),
                up: true,
            });
        }
        link.failures = 0;
        link.failing_since = None;
        link.next_attempt = c.now;
        link.ever_ok = true;
        if was_down {
            self.summary_now.insert(peer.clone());
        }
    }

    /// A message from `peer` arrived: it is up, whatever our attempts
    /// towards it met. If they were failing, the backoff ends now and the
    /// batches in flight to it (probably on connections that hang: sent
    /// while it was starting or unreachable) are queued again at once — the
    /// receiver deduplicates — and the failures of attempts made before now
    /// will not start a new backoff when they are reported.
    fn heard_from(&mut self, peer: &NodeId, now: Millis) {
        let next_id = self.next_id;
        for pr in self.holds.values_mut().filter_map(|w| w.get_mut(peer)) {
            if pr.unreachable && pr.deadline.is_none() {
                pr.unreachable = false;
                pr.next = now;
            }
        }
        let link = self.links.entry(peer.clone()).or_default();
        link.heard_after = next_id;
        if link.failures == 0 {
            return;
        }
        link.next_attempt = now;
        let batches = std::mem::take(&mut link.batches);
        for (id, b) in batches {
            self.requeue_batch(peer, id, b);
        }
    }

    fn requeue_batch(&mut self, hop: &NodeId, id: u64, b: Batch) {
        for key in b.items {
            let in_this = matches!(
                self.entries.get(&key).map(|e| &e.state),
                Some(State::InFlight { hop: h, batch }) if h == hop && *batch == id
            );
            if in_this {
                self.set_state(&key, State::Queued);
            }
        }
    }

    fn on_batch_ack(&mut self, hop: &NodeId, batch: u64, results: Vec<ItemResult>, c: &mut Call) {
        self.link_ok(hop, c);
        let b = self
            .links
            .get_mut(hop)
            .and_then(|l| l.batches.remove(&batch));
        for r in results {
            let key = (r.to.clone(), r.id);
            let Some(e) = self.entries.get(&key) else {
                continue;
            };
            let in_this =
                matches!(&e.state, State::InFlight { hop: h, batch: n } if h == hop && *n == batch);
            match r.status {
                Status::Stored => {
                    if *hop == r.to {
                        self.complete(&key, c);
                    }
                }
                Status::Accepted => {
                    if *hop != r.to && in_this && e.row.relays.contains(hop) {
                        let until = c.now + self.cfg.receipt_timeout;
                        self.set_state(
                            &key,
                            State::Relayed {
                                via: hop.clone(),
                                until,
                            },
                        );
                    }
                }
                Status::Retry => {
                    if in_this {
                        let retries = e.retries.saturating_add(1);
                        let d = self.cfg.backoff(retries);
                        let until = c.now + jitter(&mut self.rng, d);
                        self.set_state(&key, State::Deferred { until });
                        if let Some(e) = self.entries.get_mut(&key) {
                            e.retries = retries;
                        }
                    }
                }
                Status::Refused => {
                    if in_this {
                        self.remove_entry(&key, c);
                        c.effect(Effect::Alarm(Alarm::Refused {
                            peer: hop.clone(),
                            to: key.0.clone(),
                            id: key.1,
                            reason: r.reason.unwrap_or_default(),
                        }));
                    }
                }
            }
        }
        if let Some(b) = b {
            self.requeue_batch(hop, batch, b);
        }
    }

    fn on_receipts(&mut self, from: &NodeId, receipts: Vec<Receipt>, c: &mut Call) {
        for r in receipts {
            let key = (r.to.clone(), r.id);
            let ok = match self.entries.get(&key).map(|e| &e.state) {
                Some(State::Relayed { via, .. }) => via == from,
                Some(_) => r.to == *from,
                None => false,
            };
            if ok {
                self.complete(&key, c);
            }
        }
    }

    /// Expired timers: lost batches, relayed/deferred rows due again,
    /// abandoned fetches.
    fn expire(&mut self, c: &mut Call) {
        let now = c.now;
        let mut lost = Vec::new();
        for (hop, l) in &self.links {
            for (id, b) in &l.batches {
                if b.deadline <= now {
                    lost.push((hop.clone(), *id));
                }
            }
        }
        let mut failed = BTreeSet::new();
        for (hop, id) in lost {
            let link = self.links.get_mut(&hop);
            let stale = link.as_ref().is_some_and(|l| id < l.heard_after);
            if let Some(b) = link.and_then(|l| l.batches.remove(&id)) {
                // Several batches timing out together are one failure; one
                // sent before the peer last reached us is none.
                if !stale && failed.insert(hop.clone()) {
                    self.link_failed(&hop, c);
                }
                self.requeue_batch(&hop, id, b);
            }
        }
        while let Some((t, to, id)) = self.waiting.first().cloned() {
            if t > now {
                break;
            }
            self.waiting.remove(&(t, to.clone(), id));
            self.set_state(&(to, id), State::Queued);
        }
    }

    /// Fetch deadlines and gap fetches, only when a stream timer is due.
    fn stream_timers(&mut self, c: &mut Call) {
        if c.now < self.stream_timer {
            return;
        }
        for s in self.streams.values_mut() {
            // An incomplete stream without a stall time (restored, or
            // learnt of without progress) starts its stall clock now;
            // otherwise its gap fetch would be postponed for ever.
            if s.wanted() > s.prefix && s.stalled_since.is_none() {
                s.stalled_since = Some(c.now);
            }
            if s.fetch.as_ref().is_some_and(|f| f.deadline <= c.now) {
                s.fetch = None;
                s.fetch_failures = s.fetch_failures.saturating_add(1);
                // Back off from this attempt, not from the stall's start.
                s.stalled_since = Some(c.now);
            }
        }
        self.gaps(c);
        let now = c.now;
        self.stream_timer = self
            .streams
            .values()
            .map(|s| self.stream_due(s, now))
            .min()
            .unwrap_or(Millis::MAX);
    }

    /// When stream `s` next needs attention (`Millis::MAX`: never).
    fn stream_due(&self, s: &Stream, now: Millis) -> Millis {
        match &s.fetch {
            Some(f) => f.deadline,
            None if s.wanted() > s.prefix => self.gap_due(s, now),
            None => Millis::MAX,
        }
    }

    /// Lowers the stream timer after `key` changed.
    pub(crate) fn touch_stream(&mut self, key: &SKey, now: Millis) {
        if let Some(s) = self.streams.get(key) {
            let due = self.stream_due(s, now);
            self.stream_timer = self.stream_timer.min(due);
        }
    }

    /// Runs the timers and the sender, and closes the call.
    fn finish(&mut self, mut c: Call) -> Output {
        for key in std::mem::take(&mut self.dirty) {
            if let Some(s) = self.streams.get_mut(&key) {
                s.persisted = true;
                c.out.effects.push(Effect::Stream(StreamRow {
                    channel: key.0.clone(),
                    originator: key.1.clone(),
                    seq: s.prefix,
                    last: s.last,
                }));
            }
        }
        self.expire(&mut c);
        self.summaries(&mut c);
        self.stream_timers(&mut c);
        self.probe_holds(&mut c);
        self.send_batches(&mut c);
        for (to, receipts) in std::mem::take(&mut c.receipts) {
            for chunk in receipts.chunks(MAX_ITEMS) {
                self.transmit(
                    &to,
                    Message::Receipt {
                        receipts: chunk.to_vec(),
                    },
                    &mut c,
                );
            }
        }
        c.out.next_wakeup = self.next_wakeup(c.now);
        c.out
    }

    fn transmit(&mut self, to: &NodeId, message: Message, c: &mut Call) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        c.out.transmits.push(Transmit {
            id,
            to: to.clone(),
            message,
        });
        id
    }

    fn send_batches(&mut self, c: &mut Call) {
        let mut hops: BTreeSet<NodeId> = BTreeSet::new();
        for (to, q) in &self.queues {
            hops.insert(to.clone());
            let relay = match self.relay_mode(to) {
                Some(false) => true,
                Some(true) => q.first().is_some_and(|k| k.0.is_express()),
                None => false,
            };
            if relay {
                if let Some(idx) = self.relay_index.get(to) {
                    hops.extend(idx.keys().filter(|r| !self.is_down(r)).cloned());
                }
            }
        }
        hops.remove(&self.me);
        for hop in hops {
            loop {
                let link = self.links.entry(hop.clone()).or_default();
                let backing_off = c.now < link.next_attempt;
                let normal = link.batches.values().filter(|b| !b.express).count();
                let express = link.batches.len() - normal;
                let lane = if backing_off {
                    // A FLASH is tried once at once, whatever the backoff
                    // (and offered to relays: `relay_mode`).
                    if express < self.cfg.express_window || normal < self.cfg.window {
                        Lane::UntriedFlash
                    } else {
                        break;
                    }
                } else if normal < self.cfg.window {
                    Lane::All
                } else if express < self.cfg.express_window {
                    Lane::Express
                } else {
                    break;
                };
                if !self.send_batch(&hop, lane, c) {
                    break;
                }
            }
        }
    }

    /// Builds and sends one batch to `hop`; false if nothing to send.
    fn send_batch(&mut self, hop: &NodeId, lane: Lane, c: &mut Call) -> bool {
        let probe = self.is_down(hop);
        let max_items = if probe { 1 } else { self.cfg.max_batch_items };
        let express_only = lane != Lane::All;
        // Candidates: the hop's own queue, and queues of down peers that
        // permit this hop as relay.
        let mut cands: Vec<(QKey, NodeId)> = Vec::new();
        if let Some(q) = self.queues.get(hop) {
            let entries = &self.entries;
            cands.extend(
                q.iter()
                    .take_while(|k| match lane {
                        Lane::All => true,
                        Lane::Express => k.0.is_express(),
                        Lane::UntriedFlash => k.0 == Precedence::Flash,
                    })
                    .filter(|k| {
                        lane != Lane::UntriedFlash
                            || entries.get(&(hop.clone(), k.2)).is_some_and(|e| !e.tried)
                    })
                    .take(max_items)
                    .map(|k| (*k, hop.clone())),
            );
        }
        if !probe && lane != Lane::UntriedFlash {
            for (to, idx) in &self.relay_index {
                if to == hop || !idx.contains_key(hop) {
                    continue;
                }
                let Some(express_rows_only) = self.relay_mode(to) else {
                    continue;
                };
                let Some(q) = self.queues.get(to) else {
                    continue;
                };
                let express = express_only || express_rows_only;
                cands.extend(
                    q.iter()
                        .take_while(|k| !express || k.0.is_express())
                        .take(16 * max_items)
                        .filter(|k| {
                            self.entries.get(&(to.clone(), k.2)).is_some_and(|e| {
                                e.row.reply_to.is_none() && e.row.relays.contains(hop)
                            })
                        })
                        .take(max_items)
                        .map(|k| (*k, to.clone())),
                );
            }
        }
        cands.sort();
        let mut items = Vec::new();
        let mut keys = Vec::new();
        let mut bytes = 0usize;
        let batch = self.next_id;
        for (q, to) in cands {
            if items.len() >= max_items {
                break;
            }
            let key = (to.clone(), q.2);
            let Some(env) = c.envelope(&q.2) else {
                // The envelope is gone (forgotten or deleted): nothing to send.
                self.remove_entry(&key, c);
                continue;
            };
            if to != *hop && env.is_stub() {
                continue; // stubs never travel through relays
            }
            let size = env.encoded_len();
            if !items.is_empty() && bytes + size > self.cfg.max_batch_bytes {
                break;
            }
            bytes += size;
            self.set_state(
                &key,
                State::InFlight {
                    hop: hop.clone(),
                    batch,
                },
            );
            if let Some(e) = self.entries.get_mut(&key) {
                e.tried = true;
            }
            keys.push(key);
            items.push(Item { to, envelope: env });
        }
        if items.is_empty() {
            return false;
        }
        let id = self.transmit(hop, Message::Batch { batch, items }, c);
        debug_assert_eq!(id, batch);
        self.links.entry(hop.clone()).or_default().batches.insert(
            batch,
            Batch {
                items: keys,
                deadline: c.now + self.cfg.ack_timeout,
                express: express_only,
            },
        );
        true
    }

    fn next_wakeup(&self, now: Millis) -> Option<Millis> {
        let mut t: Option<Millis> = None;
        let mut at = |x: Millis| t = Some(t.map_or(x, |y| y.min(x)));
        for l in self.links.values() {
            for b in l.batches.values() {
                at(b.deadline);
            }
        }
        if let Some((w, _, _)) = self.waiting.first() {
            at(*w);
        }
        for to in self.queues.keys() {
            if let Some(l) = self.links.get(to) {
                if l.next_attempt > now {
                    at(l.next_attempt);
                }
                if let Some(t) = l.failing_since {
                    let down = t + self.cfg.down_after;
                    if down > now {
                        at(down);
                    }
                }
            }
            if self.relay_mode(to).is_some() {
                for r in self.relay_index.get(to).into_iter().flat_map(|i| i.keys()) {
                    if let Some(l) = self.links.get(r) {
                        if l.next_attempt > now {
                            at(l.next_attempt);
                        }
                    }
                }
            }
        }
        if self.stream_timer < Millis::MAX {
            at(self.stream_timer.max(now));
        }
        if !self.streams.is_empty() {
            at(self.next_summary_round);
        }
        for pr in self.holds.values().flat_map(|w| w.values()) {
            at(pr.deadline.unwrap_or(pr.next).max(now));
        }
        t
    }

    fn gap_due(&self, s: &Stream, now: Millis) -> Millis {
        // `None` only until the next `stream_timers` pass stamps it.
        let since = s.stalled_since.unwrap_or(now);
        let extra = if s.fetch_failures == 0 {
            0
        } else {
            self.cfg.backoff(s.fetch_failures)
        };
        since + self.cfg.gap_delay + extra
    }
}

impl Stream {
    /// The head this node wants to reach (held or announced).
    fn wanted(&self) -> u64 {
        self.known.max(self.claimed)
    }
    /// Whether sending in this (own) stream must wait, at time `now`.
    fn behind(&self, now: Millis) -> Option<u64> {
        if self.known > self.prefix {
            Some(self.known)
        } else if self.claimed > self.prefix && now < self.hold_until {
            Some(self.claimed)
        } else {
            None
        }
    }
}

/// A stream as its durable row (`prefix`, `last`) and the envelopes the
/// host holds above it make it: everything held above the prefix is
/// pending (never more than the cap was accepted, but the cap may have
/// been lowered since) — the pending map must be complete for
/// deduplication.
fn stream_from_store(
    key: &(ChannelId, NodeId),
    prefix: u64,
    last: EnvelopeId,
    host: &dyn Host,
) -> Stream {
    let mut s = Stream {
        prefix,
        last,
        known: prefix,
        persisted: true,
        ..Stream::default()
    };
    for env in host.stream_range(&key.0, &key.1, prefix.saturating_add(1), usize::MAX) {
        let h = env.header();
        if h.channel == key.0 && h.originator == key.1 && h.seq > s.prefix {
            s.pending.insert(h.seq, (env.id(), h.prev));
            s.known = s.known.max(h.seq);
        }
    }
    s
}

/// Moves a stream's prefix over held envelopes; true if it moved.
fn advance(s: &mut Stream) -> bool {
    let mut moved = false;
    while let Some((id, _)) = s.pending.remove(&(s.prefix + 1)) {
        s.prefix += 1;
        s.last = id;
        moved = true;
    }
    moved
}

mod inbox;
