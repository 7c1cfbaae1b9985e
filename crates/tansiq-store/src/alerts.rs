//! Alerts raised by continuous screening: a watchlist entry that matched
//! one of the node's own person records.

use crate::sql::Value;
use crate::{to_u64, StoreError, Tx};

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: String,
    pub entry_id: String,
    pub record_id: String,
    /// Score in [0, 1], stored as millionths for exact round trips.
    pub score: f64,
    pub matched_name: String,
    pub explanation: String,
    pub created_at: String,
}

impl Tx<'_> {
    /// Stores an alert unless one for the same (entry, record) pair exists.
    /// Returns whether it was new.
    pub fn put_alert(&mut self, a: &AlertRow) -> Result<bool, StoreError> {
        let micros = (a.score.clamp(0.0, 1.0) * 1e6).round() as i64;
        let n = self.exec(
            "INSERT INTO alerts (id, entry_id, record_id, score_micros, matched_name, explanation, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id, record_id) DO NOTHING",
            &[
                (&a.id).into(),
                (&a.entry_id).into(),
                (&a.record_id).into(),
                Value::Int(micros),
                (&a.matched_name).into(),
                (&a.explanation).into(),
                (&a.created_at).into(),
            ],
        )?;
        Ok(n > 0)
    }

    pub fn alerts(&mut self) -> Result<Vec<AlertRow>, StoreError> {
        self.query(
            "SELECT id, entry_id, record_id, score_micros, matched_name, explanation, created_at
             FROM alerts ORDER BY created_at, id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(AlertRow {
                id: r.text(0)?,
                entry_id: r.text(1)?,
                record_id: r.text(2)?,
                score: to_u64(r.int(3)?)? as f64 / 1e6,
                matched_name: r.text(4)?,
                explanation: r.text(5)?,
                created_at: r.text(6)?,
            })
        })
        .collect()
    }
}
