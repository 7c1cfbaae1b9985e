//! The figures behind `GET /metrics` (tansiq-api `ops.rs` encodes them):
//! per peer the link, backlog, backoff, unacknowledged FLASH, witness lag
//! and hit/no-hit budget; node-wide the rows per table and state, audit
//! entries per action, checkpoint lag and store latency.
//!
//! Counts, ages and ids only — peer ids and the fixed names of states and
//! audit actions are the only text, never a record, name or message.
//! Authorised as reading the audit log (admin, auditor): node-wide
//! aggregates, for a scraper whose token reads no record content.

use std::collections::BTreeMap;

use tansiq_core::policy::{self, Action, HitBudget};
use tansiq_core::user::Actor;
use tansiq_store::{Counted, LatencySnapshot};

use crate::error::NodeResult;
use crate::federation::now_ms;
use crate::node::Node;

/// One peer's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerFigures {
    pub id: String,
    /// The last delivery attempt succeeded (as stored; any process).
    pub up: bool,
    /// Envelopes waiting for it in the durable outbox.
    pub queued: u64,
    /// Sent by this process, not yet acknowledged.
    pub in_flight: u64,
    /// Seconds since the last successful delivery (None: never).
    pub last_delivery_age: Option<i64>,
    /// Consecutive failed attempts (this process).
    pub failures: u32,
    /// Seconds until the next attempt while backing off (0: not backing off).
    pub backoff_seconds: f64,
    /// Sent FLASH messages it has not acknowledged, and the oldest's age.
    pub flash_unacked: u64,
    pub flash_oldest_age: Option<i64>,
    /// Audit entries of this node not yet co-signed by the peer.
    pub witness_lag: u64,
    /// Hit/no-hit evaluations it may still ask for this hour, of how many
    /// (None: no budget set, it was never exposed a file).
    pub budget: Option<(i64, i64)>,
}

/// Everything `/metrics` shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub peers: Vec<PeerFigures>,
    /// Audit log entries.
    pub audit_size: u64,
    /// Entries not covered by a signed checkpoint yet (reads noted since
    /// the last commit), and the latest checkpoint's age.
    pub checkpoint_lag: u64,
    pub checkpoint_age: Option<i64>,
    /// (table, state, rows): records by status, messages by direction, …
    pub rows: Vec<(&'static str, String, u64)>,
    /// Audit entries per action, since the log began.
    pub actions: BTreeMap<String, u64>,
    /// Sent FLASH messages some recipient has not acknowledged, and the
    /// oldest one's age.
    pub flash_unacked: u64,
    pub flash_oldest_age: Option<i64>,
    /// Alarms raised by partners' misbehaviour, not yet cleared.
    pub alarms: u64,
    /// This process's store transactions.
    pub read_latency: Option<LatencySnapshot>,
    pub write_latency: Option<LatencySnapshot>,
}

/// Running totals of audit entries per action, kept by the caller between
/// scrapes so each reads only the entries appended since the last one.
#[derive(Debug, Default)]
pub struct AuditTally {
    next: u64,
    counts: BTreeMap<String, u64>,
}

/// Tables counted, with the name `/metrics` gives them.
const COUNTED: [(Counted, &str); 5] = [
    (Counted::Records, "records"),
    (Counted::Messages, "messages"),
    (Counted::Releases, "releases"),
    (Counted::Alerts, "alerts"),
    (Counted::HitRequests, "hit_requests"),
];

/// An audit action as code writes it (`record.create`, `hit.evaluate`):
/// anything else is left out of the labels rather than trusted.
fn plain_action(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 48
        && a.bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
}

/// Seconds since a stored instant (None if it does not parse).
fn age(at: &str) -> Option<i64> {
    let t = tansiq_core::time::parse_instant(at).ok()?;
    Some((tansiq_core::time::now() - t).num_seconds().max(0))
}

impl Node {
    /// The node's figures for `/metrics`; `tally` carries the audit
    /// totals from one call to the next.
    pub fn metrics(&self, actor: &Actor, tally: &mut AuditTally) -> NodeResult<Figures> {
        policy::authorize(actor, Action::ReadAudit)?;
        let engine = self.federation.engine_status();
        // Per awaited peer: FLASH messages and the oldest one's age.
        let mut flash: BTreeMap<String, (u64, Option<i64>)> = BTreeMap::new();
        let mut flash_total = (0, None);
        for m in self.unacked_messages()? {
            if !m.precedence.eq_ignore_ascii_case("flash") {
                continue;
            }
            let a = age(&m.sent_at);
            flash_total.0 += 1;
            flash_total.1 = flash_total.1.max(a);
            for p in m.awaiting {
                let e = flash.entry(p).or_default();
                e.0 += 1;
                e.1 = e.1.max(a);
            }
        }
        let now = now_ms();
        let mut fig = self.store.read(|tx| {
            let mut fig = Figures {
                audit_size: tx.audit_head()?.0,
                ..Figures::default()
            };
            let cp = tx.latest_checkpoint()?;
            fig.checkpoint_lag = fig.audit_size - cp.as_ref().map_or(0, |c| c.0);
            fig.checkpoint_age = cp.and_then(|c| age(&c.1));
            for (table, name) in COUNTED {
                for (state, n) in tx.count_rows(table)? {
                    fig.rows.push((name, state, n));
                }
            }
            if fig.audit_size < tally.next {
                // Another store under the same process (a restore): start over.
                *tally = AuditTally::default();
            }
            let (new, next) = tx.audit_actions_since(tally.next)?;
            for (action, n) in new {
                *tally.counts.entry(action).or_default() += n;
            }
            tally.next = next;
            fig.actions = tally
                .counts
                .iter()
                .filter(|(a, _)| plain_action(a))
                .map(|(a, n)| (a.clone(), *n))
                .collect();
            fig.alarms = tx.sync_alarms()?.len() as u64;
            let queued: BTreeMap<String, u64> = tx.sync_outbox_counts()?.into_iter().collect();
            let cosigned: BTreeMap<String, u64> = tx.cosigned_sizes()?.into_iter().collect();
            let budgets: BTreeMap<String, (i64, i64)> = tx
                .hit_budgets()?
                .into_iter()
                .map(|b| {
                    let left = policy::hit_budget_take(
                        HitBudget {
                            capacity: b.capacity,
                            tokens: b.tokens,
                            refilled_ms: b.refilled_ms,
                        },
                        now as i64,
                        0,
                    )
                    .map_or(0, |nb| nb.tokens);
                    (b.peer, (left, b.capacity))
                })
                .collect();
            for p in tx.peers()? {
                let link = tx.sync_link(&p.id)?;
                let e = engine.iter().find(|s| s.peer.as_str() == p.id);
                let (fl, oldest) = flash.get(&p.id).copied().unwrap_or_default();
                fig.peers.push(PeerFigures {
                    up: link
                        .as_ref()
                        .is_some_and(|l| l.last_delivery.is_some() && l.last_error.is_none()),
                    queued: queued.get(&p.id).copied().unwrap_or(0),
                    in_flight: e.map_or(0, |s| s.in_flight as u64),
                    last_delivery_age: link.and_then(|l| l.last_delivery).as_deref().and_then(age),
                    failures: e.map_or(0, |s| s.failures),
                    backoff_seconds: e
                        .and_then(|s| s.next_attempt)
                        .map_or(0.0, |t| t.saturating_sub(now) as f64 / 1000.0),
                    flash_unacked: fl,
                    flash_oldest_age: oldest,
                    witness_lag: fig
                        .audit_size
                        .saturating_sub(cosigned.get(&p.id).copied().unwrap_or(0)),
                    budget: budgets.get(&p.id).copied(),
                    id: p.id,
                });
            }
            Ok::<_, crate::error::NodeError>(fig)
        })?;
        (fig.flash_unacked, fig.flash_oldest_age) = flash_total;
        let t = self.store.timings();
        fig.read_latency = Some(t.read.snapshot());
        fig.write_latency = Some(t.write.snapshot());
        Ok(fig)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_action;

    #[test]
    fn only_code_shaped_actions_become_labels() {
        for a in [
            "record.create",
            "hit.evaluate.refused",
            "screen",
            "user.token_revoke",
        ] {
            assert!(plain_action(a), "{a}");
        }
        for a in ["", "Record", "a b", "x\"y", "name=Ahmed", &"a".repeat(49)] {
            assert!(!plain_action(a), "{a}");
        }
    }
}
