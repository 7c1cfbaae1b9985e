//! A deterministic simulation of Tansiq nodes driving `tansiq-sync`
//! engines: an in-memory durable store per node (the only thing that
//! survives a crash), a network with loss, duplication, delay (hence
//! reordering), partitions and transport failures, crashes with restarts
//! from the durable state, a malicious peer injecting mutated messages,
//! and invariant checks after every step.
//!
//! Everything random comes from one seed (SplitMix64), so a seed replays
//! exactly.

#![allow(dead_code)]

use std::collections::BTreeMap;

use tansiq_sync::*;

pub fn nid(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}
pub fn cid(s: &str) -> ChannelId {
    ChannelId::new(s).unwrap()
}

/// Fake signatures: only the simulator can make them, every node can check
/// them. (Real Ed25519 is exercised in `tests/crypto_host.rs`.)
pub fn sim_sig(originator: &NodeId, id: &EnvelopeId) -> [u8; 64] {
    let mut v = b"sim-sig".to_vec();
    v.extend_from_slice(originator.as_str().as_bytes());
    v.push(0);
    v.extend_from_slice(&id.0);
    let a = tansiq_crypto::sha256(&v);
    v.push(1);
    let b = tansiq_crypto::sha256(&v);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&a);
    out[32..].copy_from_slice(&b);
    out
}

/// Channels and their membership over time: the charters every node
/// agrees on (charter distribution is the node's business).
#[derive(Clone, Debug, Default)]
pub struct Directory {
    pub channels: BTreeMap<ChannelId, ChannelDef>,
    /// A new charter version is active at receivers only this long after
    /// it takes effect (until then they answer `retry`).
    pub lag: Millis,
    /// When (simulation time) each envelope was made. A node's clock may be
    /// skewed, so `created_ms` is that node's reading, not the time the
    /// charter version in force is looked up by: nodes agree on charter
    /// versions, not on clocks. Missing: `created_ms` (no skew).
    pub made: BTreeMap<EnvelopeId, Millis>,
}

#[derive(Clone, Debug)]
pub struct ChannelDef {
    /// (from time, members) in time order.
    pub versions: Vec<(Millis, Vec<NodeId>)>,
    pub relays: Vec<NodeId>,
}

impl ChannelDef {
    pub fn members_at(&self, t: Millis) -> Vec<NodeId> {
        let mut m = self.versions[0].1.clone();
        for (from, v) in &self.versions {
            if *from <= t {
                m = v.clone();
            }
        }
        m.sort();
        m
    }
    pub fn ever_member(&self, n: &NodeId, until: Millis) -> bool {
        self.versions
            .iter()
            .any(|(from, v)| *from <= until && v.contains(n))
    }
}

impl Directory {
    /// When `env` was made, in simulation time.
    pub fn made_at(&self, env: &Envelope) -> Millis {
        self.made
            .get(&env.id())
            .copied()
            .unwrap_or(env.header().created_ms)
    }
    pub fn add(&mut self, ch: &str, members: &[&str], relays: &[&str]) {
        let mut r: Vec<NodeId> = relays.iter().map(|s| nid(s)).collect();
        r.sort();
        self.channels.insert(
            cid(ch),
            ChannelDef {
                versions: vec![(0, members.iter().map(|s| nid(s)).collect())],
                relays: r,
            },
        );
    }
    pub fn change(&mut self, ch: &str, at: Millis, members: &[&str]) {
        let c = self.channels.get_mut(&cid(ch)).unwrap();
        c.versions
            .push((at, members.iter().map(|s| nid(s)).collect()));
    }
}

/// What survives a crash: the node's database.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub envelopes: BTreeMap<EnvelopeId, (Envelope, bool)>,
    pub by_seq: BTreeMap<(ChannelId, NodeId, u64), EnvelopeId>,
    pub streams: BTreeMap<(ChannelId, NodeId), StreamRow>,
    pub outbox: BTreeMap<(NodeId, EnvelopeId), OutboxRow>,
    pub alarms: Vec<Alarm>,
    /// The application's table of delivered envelopes (id → time).
    pub delivered: BTreeMap<EnvelopeId, Millis>,
    /// Restore holds (the restore marker, `tansiq restore`).
    pub holds: std::collections::BTreeSet<HoldRow>,
}

impl Disk {
    pub fn apply(&mut self, e: &Effect, now: Millis) {
        match e {
            Effect::Store { envelope, custody } => {
                let id = envelope.id();
                let h = envelope.header();
                if !custody {
                    self.by_seq
                        .insert((h.channel.clone(), h.originator.clone(), h.seq), id);
                }
                // Never let a stub replace a full copy, nor custody replace membership.
                match self.envelopes.get(&id) {
                    Some((old, false)) if !old.is_stub() && *custody => {}
                    _ => {
                        self.envelopes.insert(id, (envelope.clone(), *custody));
                    }
                }
            }
            Effect::Forget { id } => {
                if matches!(self.envelopes.get(id), Some((_, true))) {
                    self.envelopes.remove(id);
                }
            }
            Effect::Purge { id } => {
                if let Some((e, c)) = self.envelopes.get(id).cloned() {
                    self.envelopes.insert(*id, (e.to_stub(), c));
                }
            }
            Effect::Deliver { envelope, .. } => {
                self.delivered.entry(envelope.id()).or_insert(now);
            }
            Effect::Stream(row) => {
                self.streams
                    .insert((row.channel.clone(), row.originator.clone()), row.clone());
            }
            Effect::OutboxPut(row) => {
                self.outbox.insert((row.to.clone(), row.id), row.clone());
            }
            Effect::OutboxDone { to, id } => {
                self.outbox.remove(&(to.clone(), *id));
            }
            Effect::Alarm(a) => self.alarms.push(a.clone()),
            Effect::HoldDone(h) => {
                self.holds.remove(h);
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            streams: self.streams.values().cloned().collect(),
            outbox: self.outbox.values().cloned().collect(),
            holds: self.holds.iter().cloned().collect(),
        }
    }

    pub fn custody_count(&self) -> usize {
        self.envelopes.values().filter(|(_, c)| *c).count()
    }
}

/// The host view of one node: its disk, the directory, its identity.
pub struct View<'a> {
    pub now: Millis,
    pub me: &'a NodeId,
    pub disk: &'a Disk,
    pub dir: &'a Directory,
}

impl Host for View<'_> {
    fn verify(&self, env: &Envelope) -> Verdict {
        let h = env.header();
        if *env.sig() != sim_sig(&h.originator, &env.id()) {
            return Verdict::Refuse("bad signature".into());
        }
        let Some(ch) = self.dir.channels.get(&h.channel) else {
            return Verdict::Refuse("unknown channel".into());
        };
        if ch.ever_member(self.me, self.now) {
            let made = self.dir.made_at(env);
            let version_from = ch
                .versions
                .iter()
                .filter(|(from, _)| *from <= made)
                .map(|(from, _)| *from)
                .max()
                .unwrap_or(0);
            if version_from > 0 && self.now < version_from + self.dir.lag {
                return Verdict::Retry("charter version not active here yet".into());
            }
            if h.recipients != ch.members_at(made) {
                return Verdict::Refuse("recipients differ from the charter".into());
            }
            if h.relays != ch.relays {
                return Verdict::Refuse("relays differ from the charter".into());
            }
            Verdict::Accept
        } else if ch.relays.contains(self.me) {
            Verdict::Accept
        } else {
            Verdict::Refuse("unknown channel".into())
        }
    }

    fn members(&self, channel: &ChannelId) -> Option<Vec<NodeId>> {
        let ch = self.dir.channels.get(channel)?;
        if !ch.ever_member(self.me, self.now) {
            return None;
        }
        Some(ch.members_at(self.now))
    }

    fn envelope(&self, id: &EnvelopeId) -> Option<Envelope> {
        self.disk.envelopes.get(id).map(|(e, _)| e.clone())
    }

    fn stream_range(
        &self,
        channel: &ChannelId,
        originator: &NodeId,
        from_seq: u64,
        limit: usize,
    ) -> Vec<Envelope> {
        self.disk
            .by_seq
            .range((channel.clone(), originator.clone(), from_seq)..)
            .take_while(|((c, o, _), _)| c == channel && o == originator)
            .take(limit)
            .filter_map(|(_, id)| self.disk.envelopes.get(id).map(|(e, _)| e.clone()))
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct Faults {
    pub loss: f64,
    pub dup: f64,
    pub min_delay: Millis,
    pub max_delay: Millis,
    /// Probability that a failed send is reported (else blackholed).
    pub report_failure: f64,
    /// Probability per engine call that the node crashes right after it.
    pub crash: f64,
    /// Of crashes: probability the effects were not committed yet.
    pub crash_before_commit: f64,
    pub downtime: (Millis, Millis),
    /// Probability per step of a random partition starting.
    pub partition: f64,
    pub partition_len: (Millis, Millis),
    /// Probability per delivered message that the evil peer injects a
    /// mutated copy somewhere.
    pub evil: f64,
    /// Probability that a committed effect batch is applied twice.
    pub double_apply: f64,
    /// Each node's clock starts up to this far (ms) ahead of or behind
    /// simulation time.
    pub skew: Millis,
    /// Probability per step that a random node's clock jumps (forwards or
    /// backwards) by up to `jump_max` ms.
    pub clock_jump: f64,
    pub jump_max: Millis,
    /// Probability per engine call with effects that the store fails while
    /// applying them (at a random effect): the transaction rolls back, the
    /// transmits are not sent and the engine is rebuilt from the store.
    pub store_error: f64,
    /// Probability per step that a random node's link towards another is
    /// cut one way only (its messages are lost, the other's arrive).
    pub oneway: f64,
    /// Probability per step that a random node is restored from its last
    /// backup (an older disk), and that a node takes a new backup.
    pub rollback: f64,
    pub backup: f64,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            loss: 0.0,
            dup: 0.0,
            min_delay: 5,
            max_delay: 20,
            report_failure: 1.0,
            crash: 0.0,
            crash_before_commit: 0.0,
            downtime: (0, 0),
            partition: 0.0,
            partition_len: (0, 0),
            evil: 0.0,
            double_apply: 0.0,
            skew: 0,
            clock_jump: 0.0,
            jump_max: 0,
            store_error: 0.0,
            oneway: 0.0,
            rollback: 0.0,
            backup: 0.0,
        }
    }
    pub fn nasty() -> Faults {
        Faults {
            loss: 0.1,
            dup: 0.05,
            min_delay: 1,
            max_delay: 300,
            report_failure: 0.6,
            crash: 0.002,
            crash_before_commit: 0.5,
            downtime: (500, 20_000),
            partition: 0.01,
            partition_len: (1_000, 30_000),
            evil: 0.02,
            double_apply: 0.05,
            skew: 0,
            clock_jump: 0.0,
            jump_max: 0,
            store_error: 0.0,
            oneway: 0.0,
            rollback: 0.0,
            backup: 0.0,
        }
    }

    /// [`Faults::nasty`] and the faults of issue 17: skewed clocks that
    /// jump both ways, store errors while applying effects, one-way links,
    /// restores from old backups.
    pub fn nastier() -> Faults {
        Faults {
            skew: 30_000,
            clock_jump: 0.01,
            jump_max: 20_000,
            store_error: 0.01,
            oneway: 0.01,
            rollback: 0.002,
            backup: 0.02,
            ..Faults::nasty()
        }
    }
}

#[derive(Clone, Debug)]
enum Packet {
    Data {
        from: NodeId,
        to: NodeId,
        bytes: Vec<u8>,
    },
    Failed {
        node: NodeId,
        peer: NodeId,
        id: u64,
    },
}

pub struct SimNode {
    pub id: NodeId,
    pub disk: Disk,
    pub engine: Option<Engine>,
    pub wake: Option<Millis>,
    pub restart_at: Option<Millis>,
    pub restarts: u32,
    /// This node's clock minus simulation time (ms).
    pub clock: i64,
    /// Its last backup: (simulation time taken, disk).
    pub backup: Option<(Millis, Disk)>,
}

impl SimNode {
    /// This node's clock reading at simulation time `now`.
    pub fn local(&self, now: Millis) -> Millis {
        (now as i64 + self.clock).max(0) as Millis
    }
    /// The simulation time at which this node's clock reads `t`.
    pub fn world(&self, t: Millis) -> Millis {
        (t as i64 - self.clock).max(0) as Millis
    }
}

#[derive(Clone, Debug)]
pub struct Submitted {
    pub header: EnvelopeHeader,
    pub at: Millis,
}

pub struct World {
    pub seed: u64,
    pub now: Millis,
    pub rng: Rng,
    pub cfg: Config,
    pub faults: Faults,
    pub dir: Directory,
    pub nodes: BTreeMap<NodeId, SimNode>,
    queue: BTreeMap<(Millis, u64), Packet>,
    qseq: u64,
    /// Cut links (unordered pairs, smaller first) until a time.
    pub cuts: BTreeMap<(NodeId, NodeId), Millis>,
    pub truth: BTreeMap<EnvelopeId, Submitted>,
    /// Deliver effects emitted per (node, id): must never exceed 1.
    pub delivered: BTreeMap<(NodeId, EnvelopeId), Millis>,
    pub evil: NodeId,
    pub trace: Vec<String>,
    pub stats: BTreeMap<&'static str, u64>,
    /// Last traffic-making event (for quiescence).
    pub last_activity: Millis,
    /// Outbox rows ever created (bound for growth checks).
    pub rows_ever: usize,
    /// A node restored from an old backup gets its own lost envelopes
    /// back through anti-entropy (and delivered, once).
    pub allow_self_delivery: bool,
    /// Envelopes purged by their originator.
    pub purged: std::collections::BTreeSet<EnvelopeId>,
    /// Links cut one way (from, to) until a time.
    pub oneway: BTreeMap<(NodeId, NodeId), Millis>,
    /// Nodes restored from an old backup at least once: they get their
    /// own lost envelopes back through anti-entropy (delivered, once).
    pub rolled_back: std::collections::BTreeSet<NodeId>,
    /// Envelopes that existed only on a node's disk and were lost when it
    /// was restored from an older backup: they never reached anyone, and
    /// need not.
    pub lost: std::collections::BTreeSet<EnvelopeId>,
    /// Nodes restored from a backup and not restarted yet: the disk they
    /// lost (what only it held is lost once everything in flight landed).
    restoring: BTreeMap<NodeId, Disk>,
    /// Nodes no partition or one-way cut touches until a time (none since
    /// restores carry a durable hold: a restored node's partners may be
    /// unreachable; kept so a test can shield a node).
    shielded: BTreeMap<NodeId, Millis>,
    /// Streams with a hole: a restore lost an envelope nobody else held
    /// while a later one of the stream had reached a partner. The hole can
    /// never be filled (SYNC.md §14): from its first lost seq on, the
    /// stream is exempt from eventual delivery and from complete prefixes.
    pub holed: BTreeMap<(ChannelId, NodeId), u64>,
}

/// The stats that count injected faults (`World::faults_injected`).
pub const FAULT_STATS: [&str; 10] = [
    "lost",
    "duplicated",
    "evil",
    "crash",
    "partition",
    "double_apply",
    "clock_jump",
    "store_error",
    "oneway",
    "rollback",
];

pub const EVIL: &str = "zz-evil";

impl World {
    pub fn new(seed: u64, cfg: Config, faults: Faults, dir: Directory, nodes: &[&str]) -> World {
        let mut w = World {
            seed,
            now: 1_000_000,
            rng: Rng::new(seed),
            cfg,
            faults,
            dir,
            nodes: BTreeMap::new(),
            queue: BTreeMap::new(),
            qseq: 0,
            cuts: BTreeMap::new(),
            truth: BTreeMap::new(),
            delivered: BTreeMap::new(),
            evil: nid(EVIL),
            trace: Vec::new(),
            stats: BTreeMap::new(),
            last_activity: 0,
            rows_ever: 0,
            allow_self_delivery: false,
            purged: Default::default(),
            oneway: BTreeMap::new(),
            rolled_back: Default::default(),
            lost: Default::default(),
            restoring: BTreeMap::new(),
            shielded: BTreeMap::new(),
            holed: BTreeMap::new(),
        };
        for n in nodes {
            let id = nid(n);
            let seed = w.rng.next_u64();
            let clock = if w.faults.skew > 0 {
                w.rng.below(2 * w.faults.skew + 1) as i64 - w.faults.skew as i64
            } else {
                0
            };
            let local = (w.now as i64 + clock) as Millis;
            let engine = Engine::new(id.clone(), w.cfg.clone(), seed, local);
            w.nodes.insert(
                id.clone(),
                SimNode {
                    id,
                    disk: Disk::default(),
                    engine: Some(engine),
                    wake: Some(w.now),
                    restart_at: None,
                    restarts: 0,
                    clock,
                    backup: None,
                },
            );
        }
        w
    }

    /// Faults injected so far (the sum of [`FAULT_STATS`]).
    pub fn faults_injected(&self) -> u64 {
        FAULT_STATS
            .iter()
            .map(|k| self.stats.get(k).copied().unwrap_or(0))
            .sum()
    }

    fn stat(&mut self, k: &'static str) {
        *self.stats.entry(k).or_default() += 1;
    }

    fn log(&mut self, s: String) {
        if std::env::var_os("TANSIQ_SIM_TRACE").is_some() {
            eprintln!("t={} {s}", self.now);
        }
        if self.trace.len() >= 400 {
            self.trace.drain(..200);
        }
        self.trace.push(format!("t={} {s}", self.now));
    }

    pub fn fail(&self, msg: &str) -> ! {
        let tail = self
            .trace
            .iter()
            .rev()
            .take(60)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        panic!(
            "simulation invariant violated: {msg}\n--- last trace lines ---\n{tail}\n--- replay with: TANSIQ_SIM_SEED={} cargo test -p tansiq-sync --test sim -- --nocapture",
            self.seed
        );
    }

    fn pair(a: &NodeId, b: &NodeId) -> (NodeId, NodeId) {
        if a < b {
            (a.clone(), b.clone())
        } else {
            (b.clone(), a.clone())
        }
    }

    pub fn cut(&mut self, a: &str, b: &str, until: Millis) {
        self.cuts.insert(Self::pair(&nid(a), &nid(b)), until);
    }
    pub fn heal_all(&mut self) {
        self.cuts.clear();
        self.oneway.clear();
    }

    pub fn is_cut_now(&self, a: &str, b: &str) -> bool {
        self.is_cut(&nid(a), &nid(b))
    }

    fn is_cut(&self, a: &NodeId, b: &NodeId) -> bool {
        self.cuts
            .get(&Self::pair(a, b))
            .is_some_and(|until| *until > self.now)
    }

    fn shielded(&self, n: &NodeId) -> bool {
        self.shielded.get(n).is_some_and(|t| *t > self.now)
    }

    /// Whether messages from `from` to `to` are lost now (a cut, or a
    /// one-way cut in that direction).
    fn blocked(&self, from: &NodeId, to: &NodeId) -> bool {
        self.is_cut(from, to)
            || self
                .oneway
                .get(&(from.clone(), to.clone()))
                .is_some_and(|until| *until > self.now)
    }

    pub fn is_up(&self, n: &NodeId) -> bool {
        self.nodes.get(n).is_some_and(|x| x.engine.is_some())
    }

    fn push(&mut self, at: Millis, p: Packet) {
        self.qseq += 1;
        self.queue.insert((at, self.qseq), p);
    }

    fn delay(&mut self) -> Millis {
        let (a, b) = (self.faults.min_delay, self.faults.max_delay);
        a + self.rng.below(b - a + 1)
    }

    /// Sends one transmit through the faulty network.
    fn send(&mut self, from: &NodeId, t: Transmit) {
        let bytes = t.message.encode();
        self.stat(t.message.type_name());
        if std::env::var("SIM_DEBUG_FETCH").is_ok() {
            if let Message::Fetch {
                channel,
                originator,
                from_seq,
                ..
            } = &t.message
            {
                eprintln!(
                    "t={} {from} -> {} fetch {channel}/{originator} from {from_seq} up={}",
                    self.now,
                    t.to,
                    self.is_up(&t.to)
                );
            }
        }
        let reachable =
            self.nodes.contains_key(&t.to) && self.is_up(&t.to) && !self.blocked(from, &t.to);
        if !reachable || self.rng.chance(self.faults.loss) {
            if reachable {
                self.stat("lost");
            } else {
                self.stat("unreachable");
            }
            if !self.rng.chance(self.faults.report_failure) {
                self.stat("blackholed");
            } else {
                let d = self.delay() * 3;
                self.push(
                    self.now + d,
                    Packet::Failed {
                        node: from.clone(),
                        peer: t.to.clone(),
                        id: t.id,
                    },
                );
            }
            return;
        }
        let d = self.delay();
        self.push(
            self.now + d,
            Packet::Data {
                from: from.clone(),
                to: t.to.clone(),
                bytes: bytes.clone(),
            },
        );
        if self.rng.chance(self.faults.dup) {
            self.stat("duplicated");
            let d = self.delay() * 2;
            self.push(
                self.now + d,
                Packet::Data {
                    from: from.clone(),
                    to: t.to.clone(),
                    bytes: bytes.clone(),
                },
            );
        }
        if self.rng.chance(self.faults.evil) {
            self.inject_evil(&t.to, bytes);
        }
    }

    /// The malicious peer (authenticated, member of nothing) replays or
    /// mutates real traffic at a node.
    fn inject_evil(&mut self, target: &NodeId, bytes: Vec<u8>) {
        self.stat("evil");
        let mut b = bytes;
        match self.rng.below(6) {
            0 => {} // plain replay
            1 => {
                if !b.is_empty() {
                    let i = self.rng.below(b.len() as u64) as usize;
                    b[i] = self.rng.below(256) as u8;
                }
            }
            2 => {
                let n = self.rng.below(b.len() as u64 + 1) as usize;
                b.truncate(n);
            }
            3 => {
                // Structured: change a field inside a decoded message.
                if let Ok(Message::Batch { batch, mut items }) = Message::decode(&b) {
                    for it in &mut items {
                        let mut v = it.envelope.to_value();
                        v["header"]["seq"] = serde_json::json!(it.envelope.header().seq + 1);
                        if let Ok(e) = Envelope::from_value(v) {
                            it.envelope = e;
                        }
                    }
                    b = Message::Batch { batch, items }.encode();
                }
            }
            4 => {
                if let Ok(Message::Batch { batch, mut items }) = Message::decode(&b) {
                    for it in &mut items {
                        it.to = self.evil.clone();
                    }
                    b = Message::Batch { batch, items }.encode();
                }
            }
            _ => {
                let s = String::from_utf8_lossy(&b).replace("\"stored\"", "\"refused\"");
                b = s.into_bytes();
            }
        }
        let d = self.delay();
        self.push(
            self.now + d,
            Packet::Data {
                from: self.evil.clone(),
                to: target.clone(),
                bytes: b,
            },
        );
    }

    /// Runs one engine call on node `n` and processes its output: effects
    /// (with invariant checks), crash injection, transmits.
    fn drive(&mut self, n: &NodeId, f: impl FnOnce(&mut Engine, &View, Millis) -> Output) {
        let now = self.now;
        let node = self.nodes.get_mut(n).unwrap();
        let local = node.local(now);
        let Some(engine) = node.engine.as_mut() else {
            return;
        };
        let view = View {
            now,
            me: &node.id,
            disk: &node.disk,
            dir: &self.dir,
        };
        let out = f(engine, &view, local);
        self.process(n, out);
    }

    /// Commits an output (unless a crash strikes first) and sends its
    /// transmits. Returns whether the effects were committed.
    pub fn process(&mut self, n: &NodeId, out: Output) -> bool {
        let crash = self.rng.chance(self.faults.crash);
        let before_commit = crash && self.rng.chance(self.faults.crash_before_commit);
        if !crash && !out.effects.is_empty() && self.rng.chance(self.faults.store_error) {
            // The store fails at effect k of the transaction: it rolls
            // back, nothing of this call is sent, and the node drops its
            // engine and rebuilds it from the store at once (SYNC.md §10.1).
            let k = self.rng.below(out.effects.len() as u64);
            self.stat("store_error");
            self.log(format!(
                "{n}: store error at effect {k} of {}; engine rebuilt",
                out.effects.len()
            ));
            let node = self.nodes.get_mut(n).unwrap();
            node.engine = None;
            node.wake = None;
            self.restart(n);
            return false;
        }
        if !before_commit {
            for e in &out.effects {
                self.check_effect(n, e);
            }
            let twice = self.rng.chance(self.faults.double_apply);
            let now = self.now;
            let node = self.nodes.get_mut(n).unwrap();
            for e in &out.effects {
                node.disk.apply(e, now);
            }
            if twice {
                for e in &out.effects {
                    node.disk.apply(e, now);
                }
            }
        }
        if crash {
            self.crash(n);
            return !before_commit;
        }
        if !out.effects.is_empty() {
            self.last_activity = self.now;
        }
        for ev in &out.events {
            let k = match ev {
                Event::Malformed { .. } => "ev_malformed",
                Event::Rejected {
                    status: Status::Retry,
                    ..
                } => "ev_retry",
                Event::Rejected { .. } => "ev_refused",
                Event::Link { up: true, .. } => "ev_link_up",
                Event::Link { up: false, .. } => "ev_link_down",
            };
            self.stat(k);
        }
        let node = self.nodes.get_mut(n).unwrap();
        node.wake = out.next_wakeup.map(|t| node.world(t));
        for t in out.transmits {
            self.send(n, t);
        }
        true
    }

    pub fn crash(&mut self, n: &NodeId) {
        self.stat("crash");
        let down = {
            let (a, b) = self.faults.downtime;
            a + self.rng.below(b - a + 1)
        };
        let now = self.now;
        let node = self.nodes.get_mut(n).unwrap();
        node.engine = None;
        node.wake = None;
        node.restart_at = Some(now + down);
        self.log(format!("{n} crashed, down {down} ms"));
    }

    pub fn restart(&mut self, n: &NodeId) {
        if let Some(old) = self.restoring.remove(n) {
            self.settle_loss(n, old);
        }
        let seed = self.rng.next_u64();
        let now = self.now;
        let cfg = self.cfg.clone();
        let node = self.nodes.get_mut(n).unwrap();
        let view = View {
            now,
            me: &node.id,
            disk: &node.disk,
            dir: &self.dir,
        };
        let local = node.local(now);
        let engine = Engine::restore(
            node.id.clone(),
            cfg,
            seed,
            node.disk.snapshot(),
            local,
            &view,
        )
        .unwrap_or_else(|e| panic!("restore failed: {e}"));
        node.engine = Some(engine);
        node.restart_at = None;
        node.wake = Some(now);
        node.restarts += 1;
        self.last_activity = now;
        self.log(format!("{n} restarted"));
    }

    fn check_effect(&mut self, n: &NodeId, e: &Effect) {
        match e {
            Effect::Deliver { envelope, .. } => {
                let id = envelope.id();
                let Some(sub) = self.truth.get(&id) else {
                    self.fail(&format!("{n} delivered {id:?}, which nobody submitted"));
                };
                if !sub.header.recipients.contains(n)
                    || (sub.header.originator == *n
                        && !self.allow_self_delivery
                        && !self.rolled_back.contains(n))
                {
                    self.fail(&format!("{n} delivered {id:?} but is not a recipient"));
                }
                let ch = &self.dir.channels[&sub.header.channel];
                if !ch.members_at(sub.at).contains(n) {
                    self.fail(&format!(
                        "{n} delivered {id:?} of a channel it was not a member of"
                    ));
                }
                if envelope.is_stub() {
                    self.fail(&format!("{n} delivered a stub"));
                }
                if self.delivered.insert((n.clone(), id), self.now).is_some() {
                    self.fail(&format!("{n} delivered {id:?} twice (exactly-once broken)"));
                }
                self.log(format!("{n} delivered {id:?} seq {}", sub.header.seq));
            }
            Effect::Alarm(a) => {
                self.fail(&format!("{n} raised an alarm in an honest run: {a:?}"));
            }
            Effect::Store {
                envelope,
                custody: true,
            } => {
                let h = envelope.header();
                if !h.relays.contains(n) {
                    self.fail(&format!(
                        "{n} took custody of {:?} without being a relay",
                        envelope.id()
                    ));
                }
                self.stat("custody_store");
            }
            _ => {}
        }
    }

    /// Submits a new envelope from `n` on `ch` (members as of now).
    pub fn submit(
        &mut self,
        n: &str,
        ch: &str,
        prec: Precedence,
        kind: &str,
        body_len: usize,
    ) -> Option<EnvelopeId> {
        let n = nid(n);
        if !self.is_up(&n) {
            return None;
        }
        if self.holed.contains_key(&(cid(ch), n.clone())) {
            // Its stream there has a hole nobody can fill: sending on it
            // would fork it (SYNC.md §14); the operator opens a new channel.
            self.stat("submit_holed");
            return None;
        }
        let chd = self.dir.channels[&cid(ch)].clone();
        let members = chd.members_at(self.now);
        if !members.contains(&n) {
            return None;
        }
        let mut body = vec![0u8; body_len];
        for b in body.iter_mut() {
            *b = self.rng.below(256) as u8;
        }
        let now = self.now;
        let node = self.nodes.get_mut(&n).unwrap();
        let local = node.local(now);
        let engine = node.engine.as_mut()?;
        let header = match engine.prepare(
            &cid(ch),
            Kind::new(kind).unwrap(),
            prec,
            members,
            chd.relays.clone(),
            local,
        ) {
            Ok(h) => h,
            Err(SubmitError::StreamBehind { .. }) => {
                self.stat("submit_behind");
                return None;
            }
            Err(SubmitError::Restored { .. }) => {
                // Restored from a backup, some partner yet to answer: the
                // node keeps what its user made and sends it once the hold
                // clears (tansiq-node); here the submission just waits.
                self.stat("submit_held");
                return None;
            }
            Err(e) => panic!("prepare: {e}"),
        };
        let originator = n.clone();
        let env = Envelope::new(header.clone(), Body::Sealed(body), |id| {
            sim_sig(&originator, id)
        })
        .unwrap();
        let id = env.id();
        // Recorded before processing so the delivery check knows it; removed
        // if the crash struck before the commit (the submission never happened).
        self.rows_ever += header.recipients.len();
        self.truth.insert(id, Submitted { header, at: now });
        self.dir.made.insert(id, now);
        self.log(format!(
            "{n} submits {id:?} on {ch} {prec:?} seq {}",
            self.truth[&id].header.seq
        ));
        let node = self.nodes.get_mut(&n).unwrap();
        let view = View {
            now,
            me: &node.id,
            disk: &node.disk,
            dir: &self.dir,
        };
        let out = node
            .engine
            .as_mut()
            .unwrap()
            .submit(env, local, &view)
            .expect("submit");
        if self.process(&n, out) {
            self.stat("submitted");
            Some(id)
        } else {
            self.truth.remove(&id);
            self.dir.made.remove(&id);
            self.stat("submit_lost_in_crash");
            None
        }
    }

    /// Time of the next scheduled thing (packet, wakeup, restart).
    pub fn next_event(&self) -> Option<Millis> {
        let mut t = self.queue.keys().next().map(|k| k.0);
        for n in self.nodes.values() {
            for x in [n.wake, n.restart_at].into_iter().flatten() {
                t = Some(t.map_or(x, |y: Millis| y.min(x)));
            }
        }
        t
    }

    /// Advances to `until`, processing every event on the way.
    pub fn run_until(&mut self, until: Millis) {
        while let Some(t) = self.next_event() {
            if t > until {
                break;
            }
            self.now = self.now.max(t);
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Processes everything due now.
    pub fn step(&mut self) {
        // Restarts.
        let due: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.restart_at.is_some_and(|t| t <= self.now))
            .map(|n| n.id.clone())
            .collect();
        for n in due {
            self.restart(&n);
        }
        // Packets.
        while let Some((&(t, s), _)) = self.queue.iter().next() {
            if t > self.now {
                break;
            }
            let p = self.queue.remove(&(t, s)).unwrap();
            match p {
                Packet::Data { from, to, bytes } => {
                    if !self.is_up(&to) || (from != self.evil && self.blocked(&from, &to)) {
                        continue;
                    }
                    self.drive(&to, |e, v, now| e.handle_bytes(&from, &bytes, now, v));
                }
                Packet::Failed { node, peer, id } => {
                    self.drive(&node, |e, v, now| e.transmit_failed(&peer, id, now, v));
                }
            }
            self.check_footprints();
        }
        // Timers.
        let due: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.engine.is_some() && n.wake.is_some_and(|t| t <= self.now))
            .map(|n| n.id.clone())
            .collect();
        for n in due {
            let mut idle_spin = false;
            self.drive(&n, |e, v, now| {
                let out = e.poll(now, v);
                idle_spin = out.effects.is_empty()
                    && out.transmits.is_empty()
                    && out.next_wakeup.is_some_and(|t| t <= now);
                out
            });
            if idle_spin {
                self.fail(&format!(
                    "{n}: poll did nothing and asked to be polled again at once"
                ));
            }
        }
    }

    /// Bounded growth: checked after every step.
    pub fn check_footprints(&self) {
        let total_rows = self.rows_ever;
        for n in self.nodes.values() {
            let Some(e) = &n.engine else { continue };
            let f = e.footprint();
            if f.pending > self.cfg.max_pending_per_stream * f.streams.max(1) {
                self.fail(&format!("{}: pending {} over the cap", n.id, f.pending));
            }
            if f.batches > (self.cfg.window + self.cfg.express_window) * (self.nodes.len() + 1) {
                self.fail(&format!("{}: {} batches in flight", n.id, f.batches));
            }
            if f.outbox > total_rows {
                self.fail(&format!(
                    "{}: outbox {} exceeds rows ever created {}",
                    n.id, f.outbox, total_rows
                ));
            }
            let streams_max: usize = self
                .dir
                .channels
                .values()
                .map(|c| c.versions.iter().map(|v| v.1.len()).sum::<usize>())
                .sum();
            if f.streams > streams_max {
                self.fail(&format!("{}: {} streams tracked", n.id, f.streams));
            }
            if f.outbox != n.disk.outbox.len() {
                self.fail(&format!(
                    "{}: outbox in memory {} but {} durable rows",
                    n.id,
                    f.outbox,
                    n.disk.outbox.len()
                ));
            }
        }
    }

    /// Brings every node up, heals the network, switches faults off.
    pub fn calm(&mut self) {
        self.heal_all();
        self.faults = Faults {
            crash: 0.0,
            partition: 0.0,
            loss: 0.0,
            dup: 0.0,
            evil: 0.0,
            clock_jump: 0.0,
            store_error: 0.0,
            oneway: 0.0,
            rollback: 0.0,
            backup: 0.0,
            ..self.faults.clone()
        };
        let down: Vec<NodeId> = self
            .nodes
            .values()
            .filter(|n| n.engine.is_none())
            .map(|n| n.id.clone())
            .collect();
        for n in down {
            self.restart(&n);
        }
    }

    /// Runs until nothing durable happened for `quiet` ms (or `max` passes).
    pub fn quiesce(&mut self, quiet: Millis, max: Millis) {
        let end = self.now + max;
        self.last_activity = self.now;
        while self.now < end {
            let t = (self.now + 1_000).min(end);
            self.run_until(t);
            if self.now.saturating_sub(self.last_activity) >= quiet {
                break;
            }
        }
    }

    /// Eventual delivery and clean state after quiescence.
    pub fn check_converged(&self) {
        for (id, s) in &self.truth {
            for r in &s.header.recipients {
                if *r == s.header.originator {
                    continue;
                }
                if self.purged.contains(id) && self.nodes[r].disk.envelopes.contains_key(id) {
                    continue; // a stub (or an earlier full copy) is all it may get
                }
                if self.lost.contains(id) || self.in_hole(s) {
                    continue; // only its originator ever held it, and lost it
                }
                if (self.rolled_back.contains(r) || self.rolled_back.contains(&s.header.originator))
                    && !self.dir.channels[&s.header.channel]
                        .members_at(u64::MAX)
                        .contains(r)
                {
                    // It or the originator was restored from a backup
                    // older than the delivery (or the outbox row), and it
                    // is no longer a member: nobody serves a channel's
                    // history to a non-member.
                    continue;
                }
                if !self.delivered.contains_key(&(r.clone(), *id)) {
                    let rn = &self.nodes[r];
                    let on = &self.nodes[&s.header.originator];
                    eprintln!(
                        "debug: recipient prefix {} holds {:?} delivered-on-disk {}; originator outbox row {:?}; originator status {:?}",
                        rn.engine.as_ref().unwrap().stream_prefix(&s.header.channel, &s.header.originator),
                        rn.disk.envelopes.get(id).map(|(e, c)| (e.is_stub(), *c)),
                        rn.disk.delivered.contains_key(id),
                        on.disk.outbox.get(&(r.clone(), *id)),
                        on.engine.as_ref().unwrap().status(self.now).iter().find(|p| p.peer == *r),
                    );
                    self.fail(&format!(
                        "{id:?} ({} seq {} on {}) never reached {r}",
                        s.header.originator, s.header.seq, s.header.channel
                    ));
                }
            }
        }
        // Stream heads: every member holds every stream up to its head.
        let mut heads: BTreeMap<(ChannelId, NodeId), u64> = BTreeMap::new();
        for (id, s) in &self.truth {
            if self.lost.contains(id) {
                continue;
            }
            let k = (s.header.channel.clone(), s.header.originator.clone());
            let e = heads.entry(k).or_default();
            *e = (*e).max(s.header.seq);
        }
        for n in self.nodes.values() {
            let e = n.engine.as_ref().unwrap();
            let f = e.footprint();
            // A node restored from a backup older than its leaving a
            // channel keeps in memory what it held above the gap it can no
            // longer fill (bounded by max_pending_per_stream; SYNC.md §14).
            let stale_ok = self.rolled_back.contains(&n.id) || !self.holed.is_empty();
            if f.outbox != 0
                || f.batches != 0
                || f.custody != 0
                || (f.pending != 0 && !stale_ok)
                || ((f.fetches != 0 || f.incomplete != 0) && self.holed.is_empty())
            {
                eprintln!("incomplete streams: {:?}", e.incomplete_streams());
                self.fail(&format!("{} not clean after quiescence: {f:?}", n.id));
            }
            if n.disk.custody_count() != 0 {
                self.fail(&format!("{} still holds custody copies", n.id));
            }
            // Every restore hold cleared once its partner answered, unless
            // the node's own stream there has a hole nobody can fill (its
            // partner holds an envelope above it: SYNC.md §14).
            for h in &n.disk.holds {
                if !self.holed.contains_key(&(h.channel.clone(), n.id.clone())) {
                    self.fail(&format!(
                        "{}: restore hold of {} for {} never cleared",
                        n.id, h.channel, h.partner
                    ));
                }
            }
            let held: Vec<_> = e.holds();
            if held.len()
                != n.disk
                    .holds
                    .iter()
                    .map(|h| &h.channel)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
            {
                self.fail(&format!(
                    "{}: holds in memory {held:?} differ from the disk",
                    n.id
                ));
            }
            for ((ch, o), head) in &heads {
                if self.holed.contains_key(&(ch.clone(), o.clone())) {
                    continue;
                }
                let def = &self.dir.channels[ch];
                if def.members_at(u64::MAX).contains(&n.id) {
                    let p = e.stream_prefix(ch, o);
                    if p != *head {
                        self.fail(&format!("{}: stream {ch}/{o} at {p}, head is {head}", n.id));
                    }
                }
            }
        }
    }

    /// The originator of a random envelope purges its body (retraction).
    pub fn random_purge(&mut self) {
        if self.truth.is_empty() {
            return;
        }
        let i = self.rng.below(self.truth.len() as u64) as usize;
        let (id, sub) = self
            .truth
            .iter()
            .nth(i)
            .map(|(k, v)| (*k, v.clone()))
            .unwrap();
        let n = sub.header.originator.clone();
        if !self.is_up(&n) {
            return;
        }
        self.log(format!("{n} purges {id:?}"));
        self.stat("purge");
        self.purged.insert(id);
        self.drive(&n, |e, v, now| e.purge(&id, now, v));
    }

    /// A courier carries an offline bundle from `a` to `b` (by hand, so
    /// cut links do not matter). Honest bundles are never rejected.
    pub fn courier(&mut self, a: &NodeId, b: &NodeId) {
        if a == b || !self.is_up(a) || !self.is_up(b) {
            return;
        }
        let items = {
            let na = &self.nodes[a];
            let view = View {
                now: self.now,
                me: &na.id,
                disk: &na.disk,
                dir: &self.dir,
            };
            na.engine.as_ref().unwrap().export_bundle(b, 200, &view)
        };
        if items.is_empty() {
            return;
        }
        // Through the file format.
        let items = decode_bundle_items(&encode_bundle_items(&items)).unwrap();
        self.stat("bundle");
        self.log(format!("courier {a} -> {b}: {} items", items.len()));
        let from = a.clone();
        let mut report = None;
        self.drive(b, |e, v, now| match e.import_bundle(&from, items, now, v) {
            Ok((out, r)) => {
                report = Some(r);
                out
            }
            Err(err) => panic!("honest bundle rejected: {err}"),
        });
        if let Some(r) = report {
            *self.stats.entry("bundle_new").or_default() += r.new as u64;
        }
    }

    /// The faults of issue 17, each with its probability per step: a
    /// node's clock jumps, a link is cut one way, a node takes a backup or
    /// is restored from its last one.
    pub fn chaos(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().cloned().collect();
        let pick = |w: &mut World| ids[w.rng.below(ids.len() as u64) as usize].clone();
        if self.rng.chance(self.faults.clock_jump) {
            let n = pick(self);
            let m = self.faults.jump_max;
            let d = self.rng.below(2 * m + 1) as i64 - m as i64;
            self.stat("clock_jump");
            self.log(format!("{n}: clock jumps by {d} ms"));
            self.nodes.get_mut(&n).unwrap().clock += d;
        }
        if self.rng.chance(self.faults.oneway) {
            let (a, b) = (pick(self), pick(self));
            if a != b && !self.shielded(&a) && !self.shielded(&b) {
                let (lo, hi) = self.faults.partition_len;
                let len = lo + self.rng.below(hi - lo + 1);
                self.stat("oneway");
                self.log(format!("one-way cut {a} -> {b} for {len} ms"));
                self.oneway.insert((a, b), self.now + len);
            }
        }
        if self.rng.chance(self.faults.backup) {
            let n = pick(self);
            let now = self.now;
            let node = self.nodes.get_mut(&n).unwrap();
            if node.engine.is_some() {
                node.backup = Some((now, node.disk.clone()));
            }
        }
        if self.rng.chance(self.faults.rollback) {
            let n = pick(self);
            self.rollback(&n);
        }
    }

    /// Node `n` loses its disk and is restored from its last backup (if it
    /// has one and is up). What only its lost disk held is lost for good;
    /// what it delivered since the backup it will deliver again (its
    /// application's tables went back too).
    pub fn rollback(&mut self, n: &NodeId) {
        let Some((taken, backup)) = self.nodes[n].backup.clone() else {
            return;
        };
        if !self.is_up(n) {
            return;
        }
        self.stat("rollback");
        self.log(format!("{n} restored from its backup of t={taken}"));
        self.crash(n);
        // Down long enough for everything it sent to have landed.
        let node = self.nodes.get_mut(n).unwrap();
        node.restart_at = node
            .restart_at
            .map(|t| t.max(self.now + 3 * self.faults.max_delay + 1_000));
        let old = std::mem::replace(&mut node.disk, backup);
        self.cuts.retain(|(a, b), _| a != n && b != n);
        self.oneway.retain(|(a, b), _| a != n && b != n);
        // The restore marker (`tansiq restore`): for each channel it is a
        // member of, every other member must answer before it originates
        // there again. No wait, no shield: it starts at once, whether its
        // partners are reachable or not.
        let nodes = &self.nodes;
        let holds: Vec<HoldRow> = self
            .dir
            .channels
            .iter()
            .flat_map(|(ch, d)| {
                let members = d.members_at(self.now);
                let me = members.contains(n);
                // Partners it delivers to (a node of this world): the
                // other members and the permitted relays (custody copies).
                members
                    .into_iter()
                    .chain(d.relays.clone())
                    .filter(move |m| me && m != n && nodes.contains_key(m))
                    .map(move |partner| HoldRow {
                        channel: ch.clone(),
                        partner,
                    })
            })
            .collect();
        self.nodes.get_mut(n).unwrap().disk.holds.extend(holds);
        let redeliver: Vec<EnvelopeId> = old
            .delivered
            .keys()
            .filter(|id| !self.nodes[n].disk.delivered.contains_key(id))
            .copied()
            .collect();
        for id in redeliver {
            self.delivered.remove(&(n.clone(), id));
        }
        self.restoring.insert(n.clone(), old);
        self.rolled_back.insert(n.clone());
    }

    /// What node `n`, restored from a backup, lost for good: its own
    /// envelopes its old disk held and no other node holds now that
    /// everything it sent before has landed.
    fn settle_loss(&mut self, n: &NodeId, old: Disk) {
        let kept: std::collections::BTreeSet<EnvelopeId> =
            self.nodes[n].disk.envelopes.keys().copied().collect();
        for (id, _) in old.envelopes.iter().filter(|(id, _)| !kept.contains(id)) {
            let Some(sub) = self.truth.get(id).cloned() else {
                continue;
            };
            if sub.header.originator != *n {
                continue;
            }
            // Held by a node that can still pass it on: a member of the
            // channel now (an ex-member serves nobody its history) or a
            // relay with custody of it.
            // A stub passes nothing on: only a full copy counts.
            let members = self.dir.channels[&sub.header.channel].members_at(self.now);
            let elsewhere = self.nodes.values().any(|o| {
                o.id != *n
                    && o.disk.envelopes.get(id).is_some_and(|(e, custody)| {
                        *custody || (members.contains(&o.id) && !e.is_stub())
                    })
            });
            if !elsewhere {
                self.log(format!("{id:?} lost with {n}'s disk"));
                self.lost.insert(*id);
                // A stub of it survives (a later joiner's, fetched from
                // the originator): its seq is taken for good, a hole.
                let stub_elsewhere = self
                    .nodes
                    .values()
                    .any(|o| o.id != *n && o.disk.envelopes.contains_key(id));
                let key = (sub.header.channel.clone(), n.clone());
                if stub_elsewhere && !self.holed.contains_key(&key) {
                    self.log(format!("{id:?}: only stubs survive, a hole"));
                    self.holed.insert(key, sub.header.seq);
                }
            }
        }
        // A lost envelope below one that survives elsewhere is a hole.
        let mut first_lost: BTreeMap<(ChannelId, NodeId), u64> = BTreeMap::new();
        for id in &self.lost {
            let h = &self.truth[id].header;
            let k = first_lost
                .entry((h.channel.clone(), h.originator.clone()))
                .or_insert(h.seq);
            *k = (*k).min(h.seq);
        }
        for (id, sub) in &self.truth {
            let h = &sub.header;
            let key = (h.channel.clone(), h.originator.clone());
            if let Some(k) = first_lost.get(&key) {
                if h.seq > *k && !self.lost.contains(id) && !self.holed.contains_key(&key) {
                    self.holed.insert(key.clone(), *k);
                }
            }
        }
    }

    /// Whether `sub` lies at or above a hole of its stream.
    fn in_hole(&self, sub: &Submitted) -> bool {
        let h = &sub.header;
        self.holed
            .get(&(h.channel.clone(), h.originator.clone()))
            .is_some_and(|k| h.seq >= *k)
    }

    pub fn random_partition(&mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().cloned().collect();
        let a = ids[self.rng.below(ids.len() as u64) as usize].clone();
        let b = ids[self.rng.below(ids.len() as u64) as usize].clone();
        if a != b && !self.shielded(&a) && !self.shielded(&b) {
            let (lo, hi) = self.faults.partition_len;
            let len = lo + self.rng.below(hi - lo + 1);
            self.log(format!("cut {a}-{b} for {len} ms"));
            self.stat("partition");
            self.cuts.insert(Self::pair(&a, &b), self.now + len);
        }
    }
}
