//! Figures for the node's metrics (`GET /metrics`): rows per state of the
//! main tables, audit actions since an index, checkpoint and co-signature
//! hit/no-hit budgets — and how long this process's transactions
//! take. Counts only: no row content leaves these functions.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::{to_u64, StoreError, Tx};

/// Upper bounds (seconds) of the latency buckets: a SQLite commit with
/// fsync is ~1–10 ms, a PostgreSQL round trip ~0.5 ms, a wait for the
/// write lock behind a bulk import up to seconds.
pub const LATENCY_BOUNDS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A histogram of transaction durations, lock-free (every transaction of
/// the process records into it).
#[derive(Default)]
pub struct Latency {
    /// Per bound of [`LATENCY_BOUNDS`], then one for slower ones.
    buckets: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

/// A copy of a [`Latency`]: per bound, the transactions at most that slow
/// (cumulative, as Prometheus wants them), and the total count and time.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencySnapshot {
    pub cumulative: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Latency {
    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Relaxed);
    }

    pub fn snapshot(&self) -> LatencySnapshot {
        let mut acc = 0;
        let mut cumulative = Vec::with_capacity(LATENCY_BOUNDS.len());
        for (b, n) in LATENCY_BOUNDS.iter().zip(&self.buckets) {
            acc += n.load(Relaxed);
            cumulative.push((*b, acc));
        }
        LatencySnapshot {
            cumulative,
            count: acc + self.buckets[LATENCY_BOUNDS.len()].load(Relaxed),
            sum_seconds: self.sum_micros.load(Relaxed) as f64 / 1e6,
        }
    }
}

/// Read and write transaction durations of one store handle (and its
/// clones), begin to commit, waiting for the write lock included.
#[derive(Default)]
pub struct Timings {
    pub read: Latency,
    pub write: Latency,
}

/// Tables whose rows the metrics count, each by one state column. A
/// closed list: the SQL below is never built from a caller's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Records by status (active, retracted, …).
    Records,
    /// Liaison messages by direction (in, out).
    Messages,
    /// Release requests by status (pending, granted, refused).
    Releases,
    /// Screening alerts (one group, "all").
    Alerts,
    /// Hit/no-hit follow-up requests by direction.
    HitRequests,
}

impl Tx<'_> {
    /// Rows of `table`, grouped by its state column.
    pub fn count_rows(&mut self, table: Counted) -> Result<Vec<(String, u64)>, StoreError> {
        let sql = match table {
            Counted::Records => "SELECT status, COUNT(*) FROM records GROUP BY status",
            Counted::Messages => "SELECT direction, COUNT(*) FROM messages GROUP BY direction",
            Counted::Releases => "SELECT status, COUNT(*) FROM releases GROUP BY status",
            Counted::Alerts => "SELECT 'all', COUNT(*) FROM alerts",
            Counted::HitRequests => {
                "SELECT direction, COUNT(*) FROM hit_request GROUP BY direction"
            }
        };
        self.query(sql, &[])?
            .iter()
            .map(|r| Ok((r.text(0)?, to_u64(r.int(1)?)?)))
            .collect()
    }

    /// Audit entries from index `from` on, per action, and the index after
    /// the last one (`from` if there is none). The primary key bounds the
    /// scan, so a caller that keeps the running totals reads only what is new.
    pub fn audit_actions_since(
        &mut self,
        from: u64,
    ) -> Result<(Vec<(String, u64)>, u64), StoreError> {
        let rows = self.query(
            "SELECT action, COUNT(*), MAX(idx) FROM audit_log WHERE idx >= ? GROUP BY action",
            &[from.into()],
        )?;
        let mut next = from;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.text(0)?, to_u64(r.int(1)?)?));
            next = next.max(to_u64(r.int(2)?)? + 1);
        }
        Ok((out, next))
    }

    /// Size and signing time of the latest signed checkpoint (None if none).
    pub fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>, StoreError> {
        self.query(
            "SELECT size, created_at FROM checkpoints ORDER BY size DESC LIMIT 1",
            &[],
        )?
        .first()
        .map(|r| Ok((to_u64(r.int(0)?)?, r.text(1)?)))
        .transpose()
    }

    /// Every partner's hit/no-hit evaluation budget as last stored.
    pub fn hit_budgets(&mut self) -> Result<Vec<crate::HitBudgetRow>, StoreError> {
        self.query(
            "SELECT peer, capacity, tokens, refilled_ms FROM hit_budget ORDER BY peer",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(crate::HitBudgetRow {
                peer: r.text(0)?,
                capacity: r.int(1)?,
                tokens: r.int(2)?,
                refilled_ms: r.int(3)?,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_slow_tail_counts() {
        let l = Latency::default();
        l.observe(Duration::from_micros(300));
        l.observe(Duration::from_millis(3));
        l.observe(Duration::from_secs(9));
        let s = l.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.cumulative[0], (0.0005, 1));
        assert_eq!(s.cumulative[3], (0.005, 2));
        assert_eq!(s.cumulative.last(), Some(&(5.0, 2)));
        assert!((s.sum_seconds - 9.0033).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
