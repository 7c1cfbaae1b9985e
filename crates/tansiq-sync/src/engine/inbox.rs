//! Receiving: batches, the idempotent inbox, streams and gap detection,
//! anti-entropy (summaries and fetches).

use super::*;

impl Engine {
    pub(super) fn on_batch(&mut self, from: &NodeId, batch: u64, items: Vec<Item>, c: &mut Call) {
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            let id = item.envelope.id();
            let to = item.to.clone();
            let (status, reason, _) = self.receive_item(from, item, c);
            if let (Status::Retry | Status::Refused, Some(r)) = (status, &reason) {
                c.out.events.push(Event::Rejected {
                    from: from.clone(),
                    id,
                    status,
                    reason: r.clone(),
                });
            }
            results.push(ItemResult {
                id,
                to,
                status,
                reason,
            });
        }
        self.transmit(from, Message::BatchAck { batch, results }, c);
    }

    /// One item of a batch or bundle: custody if it is for another node,
    /// the inbox if for this one. Returns (status, reason, new).
    pub(super) fn receive_item(
        &mut self,
        from: &NodeId,
        item: Item,
        c: &mut Call,
    ) -> (Status, Option<String>, bool) {
        let Item { to, envelope } = item;
        if to == self.me {
            if !envelope.header().is_recipient(&self.me) {
                return refused("not a recipient");
            }
            return self.accept(from, envelope, false, c);
        }
        // Custody: this node is asked to relay.
        let h = envelope.header();
        if !h.is_relay(&self.me) {
            return refused("not a permitted relay");
        }
        if !h.is_recipient(&to) {
            return refused("final recipient is not a recipient");
        }
        if envelope.is_stub() {
            return refused("stubs are not relayed");
        }
        let key = (to.clone(), envelope.id());
        if self.entries.contains_key(&key) {
            return (Status::Accepted, None, false);
        }
        match c.host.verify(&envelope) {
            Verdict::Accept => {}
            Verdict::Retry(r) => return (Status::Retry, Some(r), false),
            Verdict::Refuse(r) => return (Status::Refused, Some(r), false),
        }
        let id = envelope.id();
        if !self.custody.contains_key(&id) {
            c.store(envelope.clone(), true);
        }
        let row = OutboxRow {
            to,
            id,
            channel: h.channel.clone(),
            originator: h.originator.clone(),
            seq: h.seq,
            precedence: h.precedence,
            order: self.next_order,
            size: envelope.encoded_len() as u64,
            relays: h.relays.clone(),
            reply_to: Some(from.clone()),
        };
        self.next_order += 1;
        self.add_entry(row, c);
        (Status::Accepted, None, true)
    }

    fn held_at(&self, key: &SKey, seq: u64, c: &Call) -> Option<Envelope> {
        if let Some(e) = c.overlay.get(&(key.clone(), seq)) {
            return Some(e.clone());
        }
        c.host
            .stream_range(&key.0, &key.1, seq, 1)
            .into_iter()
            .find(|e| {
                e.header().seq == seq
                    && e.header().channel == key.0
                    && e.header().originator == key.1
            })
    }

    fn fork(
        &self,
        key: &SKey,
        held_seq: u64,
        newcomer: &Envelope,
        c: &mut Call,
    ) -> (Status, Option<String>, bool) {
        if let Some(held) = self.held_at(key, held_seq, c) {
            c.effect(Effect::Alarm(Alarm::Fork {
                held: Box::new(held),
                conflicting: Box::new(newcomer.clone()),
            }));
        }
        refused("fork")
    }

    /// The inbox: an envelope of a stream this node follows. `via_fetch`:
    /// it came from anti-entropy, where stubs of envelopes not addressed
    /// to this node are expected.
    pub(super) fn accept(
        &mut self,
        from: &NodeId,
        env: Envelope,
        via_fetch: bool,
        c: &mut Call,
    ) -> (Status, Option<String>, bool) {
        let h = env.header();
        let addressed = h.is_recipient(&self.me);
        if !(addressed || (via_fetch && c.is_member(&h.channel, &self.me))) {
            return refused("not a recipient");
        }
        let key: SKey = (h.channel.clone(), h.originator.clone());
        let seq = h.seq;
        let id = env.id();
        let (prefix, last, at, below, above) = match self.streams.get(&key) {
            Some(s) => (
                s.prefix,
                s.last,
                s.pending.get(&seq).copied(),
                s.pending.get(&(seq - 1)).copied(),
                s.pending.get(&(seq + 1)).copied(),
            ),
            None => (0, EnvelopeId::ZERO, None, None, None),
        };
        // A duplicate is answered without any further work.
        let held_below = if seq <= prefix {
            match self.held_at(&key, seq, c) {
                Some(held) if held.id() != id => Some(seq),
                // Held (or, inconsistently, missing below the prefix):
                // never a second effect.
                _ => return (Status::Stored, None, false),
            }
        } else {
            None
        };
        if at.is_some_and(|(held, _)| held == id) {
            return (Status::Stored, None, false);
        }
        if env.is_stub() && addressed && !h.is_recipient(from) {
            return refused("stub from a non-member");
        }
        // Only an authentic envelope can be evidence of a fork.
        match c.host.verify(&env) {
            Verdict::Accept => {}
            Verdict::Retry(r) => return (Status::Retry, Some(r), false),
            Verdict::Refuse(r) => return (Status::Refused, Some(r), false),
        }
        if held_below.is_some() || at.is_some() {
            return self.fork(&key, seq, &env, c);
        }
        // Hash chain with the neighbours held.
        if seq == prefix + 1 && prefix > 0 && h.prev != last {
            return self.fork(&key, prefix, &env, c);
        }
        if let Some((below_id, _)) = below {
            if h.prev != below_id {
                return self.fork(&key, seq - 1, &env, c);
            }
        }
        if let Some((_, above_prev)) = above {
            if above_prev != id {
                return self.fork(&key, seq + 1, &env, c);
            }
        }
        let cap = self.cfg.max_pending_per_stream;
        let s = self.streams.entry(key.clone()).or_default();
        if seq != s.prefix + 1 && s.pending.len() >= cap {
            return (Status::Retry, Some("stream window full".into()), false);
        }
        // Accept: store (a stub if not addressed here), deliver once.
        let stored = if addressed {
            env.clone()
        } else {
            env.to_stub()
        };
        let prev = h.prev;
        let deliver = addressed && !env.is_stub();
        c.store(stored, false);
        if deliver {
            c.out.effects.push(Effect::Deliver {
                envelope: env,
                from: from.clone(),
            });
        }
        s.pending.insert(seq, (id, prev));
        s.known = s.known.max(seq);
        let moved = advance(s);
        if moved || !s.persisted {
            s.persisted = true;
            c.out.effects.push(Effect::Stream(StreamRow {
                channel: key.0.clone(),
                originator: key.1.clone(),
                seq: s.prefix,
                last: s.last,
            }));
        }
        if s.wanted() <= s.prefix {
            s.stalled_since = None;
            s.fetch_failures = 0;
        } else if moved || s.stalled_since.is_none() {
            s.stalled_since = Some(c.now);
        }
        self.touch_stream(&key, c.now);
        (Status::Stored, None, true)
    }

    // ------------------------------------------------------------------
    // Anti-entropy
    // ------------------------------------------------------------------

    /// Heads of the streams in channels shared with `peer`.
    fn heads_for(&self, peer: &NodeId, c: &mut Call) -> Vec<Head> {
        let mut heads = Vec::new();
        for ((channel, originator), s) in &self.streams {
            if s.prefix == 0 {
                continue;
            }
            if c.is_member(channel, peer) && c.is_member(channel, &self.me) {
                heads.push(Head {
                    channel: channel.clone(),
                    originator: originator.clone(),
                    seq: s.prefix,
                });
            }
        }
        heads
    }

    fn send_summary(&mut self, peer: &NodeId, reply: bool, c: &mut Call) {
        let heads = self.heads_for(peer, c);
        if heads.is_empty() && !reply {
            return;
        }
        let mut chunks: Vec<Vec<Head>> = heads.chunks(MAX_HEADS).map(|h| h.to_vec()).collect();
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        for heads in chunks {
            self.transmit(peer, Message::Summary { heads, reply }, c);
        }
    }

    /// Peers that share a channel with this node (per the host).
    fn member_peers(&self, c: &mut Call) -> BTreeSet<NodeId> {
        let channels: BTreeSet<ChannelId> = self.streams.keys().map(|(ch, _)| ch.clone()).collect();
        let mut peers = BTreeSet::new();
        for ch in channels {
            if let Some(m) = c.members(&ch) {
                if m.binary_search(&self.me).is_ok() {
                    peers.extend(m.iter().cloned());
                }
            }
        }
        peers.remove(&self.me);
        peers
    }

    /// Periodic and on-(re)connect summaries.
    pub(super) fn summaries(&mut self, c: &mut Call) {
        if c.now >= self.next_summary_round && !self.streams.is_empty() {
            let reply = std::mem::replace(&mut self.summary_round_reply, false);
            self.next_summary_round = c.now + self.cfg.summary_interval;
            for p in self.member_peers(c) {
                self.summary_now.remove(&p);
                self.send_summary(&p, reply, c);
            }
        }
        let now_set = std::mem::take(&mut self.summary_now);
        if !now_set.is_empty() {
            let peers = self.member_peers(c);
            for p in now_set {
                if peers.contains(&p) {
                    self.send_summary(&p, true, c);
                }
            }
        }
    }

    pub(super) fn on_summary(
        &mut self,
        from: &NodeId,
        heads: Vec<Head>,
        reply: bool,
        c: &mut Call,
    ) {
        if reply && self.member_peers(c).contains(from) {
            self.send_summary(from, false, c);
        }
        // Cumulative acks: rows for `from` of a stream it holds up to seq.
        let mut held: BTreeMap<SKey, u64> = BTreeMap::new();
        for h in &heads {
            if c.is_member(&h.channel, from) && c.is_member(&h.channel, &self.me) {
                let e = held
                    .entry((h.channel.clone(), h.originator.clone()))
                    .or_default();
                *e = (*e).max(h.seq);
            }
        }
        let done: Vec<EKey> = self
            .entries
            .range((from.clone(), EnvelopeId::ZERO)..)
            .take_while(|((to, _), _)| to == from)
            .filter(|(_, e)| {
                held.get(&(e.row.channel.clone(), e.row.originator.clone()))
                    .is_some_and(|s| e.row.seq <= *s)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in done {
            self.complete(&k, c);
        }
        // Learn what exists (a claim until an envelope proves it).
        for (key, seq) in held {
            let own = key.1 == self.me;
            let hold = self.cfg.fetch_timeout;
            let s = self.streams.entry(key.clone()).or_default();
            if seq > s.wanted() {
                s.claimed = seq;
                s.hint = Some(from.clone());
                if own && !s.hold_used && seq > s.prefix {
                    // Restored from an old backup? Hold sending until the
                    // claim is fetched or refuted (once).
                    s.hold_used = true;
                    s.hold_until = c.now + hold;
                }
                if s.stalled_since.is_none() {
                    s.stalled_since = Some(c.now);
                }
                self.touch_stream(&key, c.now);
            }
        }
    }

    pub(super) fn on_fetch(
        &mut self,
        from: &NodeId,
        channel: ChannelId,
        originator: NodeId,
        from_seq: u64,
        limit: u64,
        c: &mut Call,
    ) {
        let mut envelopes = Vec::new();
        let mut more = false;
        if originator == *from && !c.is_member(&channel, &self.me) {
            // A relay asked by the stream's originator (restored from a
            // backup, §6 "Restore holds"): the custody copies it holds of
            // that stream — the originator's own envelopes, nothing else.
            let mut held: BTreeMap<u64, EnvelopeId> = BTreeMap::new();
            for e in self.entries.values() {
                let r = &e.row;
                if r.reply_to.is_some()
                    && r.channel == channel
                    && r.originator == originator
                    && r.seq >= from_seq
                {
                    held.insert(r.seq, r.id);
                }
            }
            let limit = limit.min(MAX_ITEMS as u64).min(self.cfg.fetch_limit.max(1)) as usize;
            more = held.len() > limit;
            envelopes = held
                .values()
                .take(limit)
                .filter_map(|id| c.envelope(id))
                .collect();
        } else if c.is_member(&channel, from) && c.is_member(&channel, &self.me) {
            let limit = limit.min(MAX_ITEMS as u64).min(self.cfg.fetch_limit.max(1)) as usize;
            let got = c.host.stream_range(&channel, &originator, from_seq, limit);
            more = got.len() == limit;
            let mut bytes = 0usize;
            for e in got {
                let h = e.header();
                if h.channel != channel || h.originator != originator || h.seq < from_seq {
                    continue;
                }
                let e = if h.is_recipient(from) { e } else { e.to_stub() };
                bytes += e.encoded_len();
                if !envelopes.is_empty() && bytes > self.cfg.fetch_reply_bytes {
                    more = true;
                    break;
                }
                envelopes.push(e);
            }
        }
        self.transmit(
            from,
            Message::FetchReply {
                channel,
                originator,
                envelopes,
                more,
            },
            c,
        );
    }

    pub(super) fn on_fetch_reply(
        &mut self,
        from: &NodeId,
        channel: ChannelId,
        originator: NodeId,
        envelopes: Vec<Envelope>,
        more: bool,
        c: &mut Call,
    ) {
        self.link_ok(from, c);
        let key: SKey = (channel, originator);
        let before = self.streams.get(&key).map_or(0, |s| s.prefix);
        let mut got_any = false;
        // Envelopes the host could not judge yet (`retry`: a key or
        // charter not known here yet): the peer does hold them, so its
        // claim stands and the fetch is repeated after a backoff.
        let mut deferred = false;
        let mut top = 0;
        for env in envelopes {
            let h = env.header();
            if h.channel != key.0 || h.originator != key.1 {
                continue;
            }
            top = top.max(h.seq);
            let id = env.id();
            let (status, reason, new) = self.accept(from, env, true, c);
            got_any |= new;
            deferred |= status == Status::Retry;
            if let (Status::Retry | Status::Refused, Some(r)) = (status, reason) {
                c.out.events.push(Event::Rejected {
                    from: from.clone(),
                    id,
                    status,
                    reason: r,
                });
            }
        }
        if key.1 == self.me {
            let progressed = self.streams.get(&key).map_or(0, |s| s.prefix) > before;
            self.hold_answer(from, &key.0, top, more, progressed, deferred, c);
        }
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        let ours = s.fetch.as_ref().is_some_and(|f| f.peer == *from);
        if !ours {
            return;
        }
        s.fetch = None;
        let progressed = s.prefix > before || got_any;
        if progressed {
            s.fetch_failures = 0;
        } else {
            s.fetch_failures = s.fetch_failures.saturating_add(1);
            s.stalled_since = Some(c.now);
            // The peer does not have it: try another next time, and if it
            // was the one that announced it, drop its claim.
            if s.hint.as_ref() == Some(from) && !deferred {
                s.hint = None;
                s.claimed = s.known;
                s.hold_until = 0;
            }
        }
        if more && progressed && s.wanted() > s.prefix {
            let from_seq = s.prefix + 1;
            s.fetch = Some(Fetching {
                peer: from.clone(),
                deadline: c.now + self.cfg.fetch_timeout,
            });
            let limit = self.cfg.fetch_limit;
            self.transmit(
                from,
                Message::Fetch {
                    channel: key.0.clone(),
                    originator: key.1.clone(),
                    from_seq,
                    limit,
                },
                c,
            );
        }
        self.touch_stream(&key, c.now);
    }

    /// Fetches for streams incomplete for longer than the gap delay.
    pub(super) fn gaps(&mut self, c: &mut Call) {
        let now = c.now;
        let due: Vec<SKey> = self
            .streams
            .iter()
            .filter(|(_, s)| {
                s.fetch.is_none() && s.wanted() > s.prefix && self.gap_due(s, now) <= now
            })
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if !c.is_member(&key.0, &self.me) {
                // Not (or no longer) a member: stop chasing this stream.
                if let Some(s) = self.streams.get_mut(&key) {
                    s.known = s.prefix;
                    s.claimed = s.prefix;
                    s.stalled_since = None;
                }
                continue;
            }
            let mut cands: Vec<NodeId> = Vec::new();
            let (hint, failures) = {
                let s = &self.streams[&key];
                (s.hint.clone(), s.fetch_failures)
            };
            if let Some(h) = hint {
                cands.push(h);
            }
            cands.push(key.1.clone());
            if let Some(m) = c.members(&key.0) {
                cands.extend(m.iter().cloned());
            }
            let mut seen = BTreeSet::new();
            cands.retain(|p| *p != self.me && seen.insert(p.clone()));
            let up: Vec<NodeId> = cands.iter().filter(|p| !self.is_down(p)).cloned().collect();
            let pool = if up.is_empty() { &cands } else { &up };
            if pool.is_empty() {
                // Nobody to ask: look again after a backoff, not at once.
                if let Some(s) = self.streams.get_mut(&key) {
                    s.fetch_failures = s.fetch_failures.saturating_add(1);
                    s.stalled_since = Some(now);
                }
                continue;
            }
            let peer = pool[failures as usize % pool.len()].clone();
            let Some(s) = self.streams.get_mut(&key) else {
                continue;
            };
            let from_seq = s.prefix + 1;
            s.fetch = Some(Fetching {
                peer: peer.clone(),
                deadline: now + self.cfg.fetch_timeout,
            });
            let limit = self.cfg.fetch_limit;
            self.transmit(
                &peer,
                Message::Fetch {
                    channel: key.0,
                    originator: key.1,
                    from_seq,
                    limit,
                },
                c,
            );
        }
    }
}

fn refused(reason: &str) -> (Status, Option<String>, bool) {
    (Status::Refused, Some(reason.to_string()), false)
}
