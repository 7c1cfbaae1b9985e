//! Interoperability tables (issue 15): which record a STIX object
//! imported into a channel became, and the record versions of a channel
//! and file in the order this node stored them (TAXII's `date_added`).

use tansiq_core::policy::ReadScope;

use crate::records::scope_sql;
use crate::sql::Value;
use crate::{to_u64, StoreError, Tx};

/// A STIX object imported into `channel`: the record it made and the
/// `modified` last taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StixImportRow {
    pub channel: String,
    pub stix_id: String,
    pub modified: String,
    pub record_id: String,
    /// `created_by_ref` of the imported object (who it came from).
    pub source: Option<String>,
    pub imported_at: String,
}

/// A position in the stored-version order: `(added_ms, record id,
/// version)`; versions at or after it are read. Ties on `added_ms` (a
/// bulk import stores thousands in one millisecond) are broken by id and
/// version, so a page boundary never skips or repeats a version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionCursor {
    pub added_ms: i64,
    pub id: String,
    pub version: u64,
}

/// One stored version of a record in a channel and file.
#[derive(Debug, Clone)]
pub struct AddedVersion {
    pub id: String,
    pub version: u64,
    pub added_ms: i64,
    /// The signed body as stored (`None` once purged).
    pub body: Option<String>,
    /// Whether this is the record's current version.
    pub current: bool,
}

impl Tx<'_> {
    pub fn stix_import(
        &mut self,
        channel: &str,
        stix_id: &str,
    ) -> Result<Option<StixImportRow>, StoreError> {
        let rows = self.query(
            "SELECT channel, stix_id, modified, record_id, source, imported_at FROM stix_imports
             WHERE channel = ? AND stix_id = ?",
            &[channel.into(), stix_id.into()],
        )?;
        rows.first()
            .map(|r| {
                Ok(StixImportRow {
                    channel: r.text(0)?,
                    stix_id: r.text(1)?,
                    modified: r.text(2)?,
                    record_id: r.text(3)?,
                    source: r.opt_text(4)?,
                    imported_at: r.text(5)?,
                })
            })
            .transpose()
    }

    pub fn put_stix_import(&mut self, row: &StixImportRow) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO stix_imports (channel, stix_id, modified, record_id, source, imported_at)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (channel, stix_id) DO UPDATE SET modified = excluded.modified,
               record_id = excluded.record_id, source = excluded.source,
               imported_at = excluded.imported_at",
            &[
                (&row.channel).into(),
                (&row.stix_id).into(),
                (&row.modified).into(),
                (&row.record_id).into(),
                row.source.clone().into(),
                (&row.imported_at).into(),
            ],
        )?;
        Ok(())
    }

    /// Versions of the records placed in `channel` (and in `file`, when
    /// given) within `scope`, from `after` on, in stored order: every
    /// version, or only current ones (`current_only`). At most `limit`.
    pub fn versions_added(
        &mut self,
        channel: &str,
        file: Option<&str>,
        scope: &ReadScope,
        after: &VersionCursor,
        current_only: bool,
        limit: u64,
    ) -> Result<Vec<AddedVersion>, StoreError> {
        let mut sql = String::from(
            "SELECT v.id, v.version, v.added_ms, v.body, r.version FROM record_versions v
             CROSS JOIN records r
             WHERE r.id = v.id
               AND EXISTS (SELECT 1 FROM placements p WHERE p.record_id = r.id AND p.channel = ?)
               AND v.added_ms >= ?
               AND (v.added_ms > ? OR v.id > ? OR (v.id = ? AND v.version >= ?))",
        );
        // Versions outermost (SQLite keeps the order of a CROSS JOIN), from
        // a range of the index `record_versions_by_added` in the order
        // asked, so LIMIT stops early; joined the other way, SQLite read
        // every record of the file and sorted them (150 ms a page at
        // 100,000 records). The OR breaks ties within one millisecond.
        let mut params: Vec<Value> = vec![
            channel.into(),
            after.added_ms.into(),
            after.added_ms.into(),
            (&after.id).into(),
            (&after.id).into(),
            after.version.into(),
        ];
        if let Some(f) = file {
            sql.push_str(" AND r.file = ?");
            params.push(f.into());
        }
        if current_only {
            sql.push_str(" AND v.version = r.version");
        }
        scope_sql(scope, &mut sql, &mut params);
        sql.push_str(" ORDER BY v.added_ms, v.id, v.version LIMIT ?");
        params.push(limit.into());
        self.query(&sql, &params)?
            .iter()
            .map(|r| {
                let version = to_u64(r.int(1)?)?;
                Ok(AddedVersion {
                    id: r.text(0)?,
                    version,
                    added_ms: r.int(2)?,
                    body: r.opt_text(3)?,
                    current: to_u64(r.int(4)?)? == version,
                })
            })
            .collect()
    }

    /// The originators of the records placed in `channel` and `file`
    /// within `scope` (any status), sorted.
    pub fn originators_in(
        &mut self,
        channel: &str,
        file: &str,
        scope: &ReadScope,
    ) -> Result<Vec<String>, StoreError> {
        let mut sql = String::from(
            "SELECT DISTINCT r.originator FROM records r
             WHERE EXISTS (SELECT 1 FROM placements p WHERE p.record_id = r.id AND p.channel = ?)
               AND r.file = ?",
        );
        let mut params: Vec<Value> = vec![channel.into(), file.into()];
        scope_sql(scope, &mut sql, &mut params);
        sql.push_str(" ORDER BY r.originator");
        self.query(&sql, &params)?
            .iter()
            .map(|r| r.text(0))
            .collect()
    }
}
