//! Watchlists: importing list entries as records (re-imports update
//! instead of duplicating), screening names against the entries a user
//! may see, and continuous screening of arriving entries against the
//! node's own person records, which raises alerts.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use tansiq_core::ids::new_id;
use tansiq_core::policy::{self, Action};
use tansiq_core::record::Kind;
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_match::{Document, Entry, Hit, Index, Query};
use tansiq_store::{AlertRow, RecordFilter, StoredRecord, Tx};

use crate::error::{NodeError, NodeResult};
use crate::node::Node;
use crate::records::NewRecord;

/// One entry of a list being imported.
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// Stable id within the list (UN reference, OFAC ent_num, `id`).
    pub source_ref: String,
    pub kind: Kind,
    pub data: Value,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    pub imported: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub delisted: usize,
    pub alerts: usize,
}

/// The screening view of a person or organization record's data.
pub fn match_entry(id: &str, data: &Value) -> Entry {
    let strs = |k: &str| -> Vec<String> {
        data.get(k)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut birth_dates: Vec<String> = data
        .get("birth_date")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .into_iter()
        .collect();
    for d in strs("birth_dates") {
        if !birth_dates.contains(&d) {
            birth_dates.push(d);
        }
    }
    let mut nationality = strs("nationality");
    nationality.extend(strs("country"));
    let documents = data
        .get("documents")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|d| {
                    Some(Document {
                        doc_type: d.get("type")?.as_str()?.to_string(),
                        number: d.get("number")?.as_str()?.to_string(),
                        country: d
                            .get("country")
                            .and_then(|c| c.as_str())
                            .map(str::to_string),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Entry {
        id: id.to_string(),
        names: strs("names"),
        weak_names: strs("weak_names"),
        birth_dates,
        nationality,
        gender: data
            .get("gender")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        documents,
    }
}

/// What screening matches names against: every person and organization
/// record within `scope` (list entries and dossiers alike).
pub(crate) fn screening_entries(tx: &mut Tx, scope: &policy::ReadScope) -> NodeResult<Vec<Entry>> {
    let mut entries = Vec::new();
    for kind in [Kind::Person, Kind::Organization] {
        let filter = RecordFilter {
            kind: Some(kind),
            ..Default::default()
        };
        for r in tx.records(&filter, scope)? {
            if let Some(s) = &r.signed {
                entries.push(match_entry(&r.id, &s.body.data));
            }
        }
    }
    Ok(entries)
}

/// The queries that screen one entry: one per name, with its attributes.
fn entry_queries(e: &Entry) -> Vec<Query> {
    e.names
        .iter()
        .map(|n| Query {
            id: e.id.clone(),
            name: n.clone(),
            birth_date: e.birth_dates.first().cloned(),
            nationality: e.nationality.clone(),
            gender: e.gender.clone(),
            documents: e.documents.clone(),
        })
        .collect()
}

fn listing_key(data: &Value) -> Option<(String, String)> {
    let l = data.get("listing")?;
    Some((
        l.get("list")?.as_str()?.to_string(),
        l.get("reference")?.as_str()?.to_string(),
    ))
}

fn is_watchlist_entry(r: &StoredRecord) -> bool {
    r.signed
        .as_ref()
        .is_some_and(|s| s.body.data.get("listing").is_some())
}

impl Node {
    /// Imports list entries into a channel and file in one transaction.
    /// Entries are keyed by (list, reference): a re-import updates changed
    /// entries, leaves identical ones alone and marks entries no longer on
    /// the list as delisted. New and changed person entries are screened
    /// against this node's own person records; each hit is an alert.
    pub fn watchlist_import(
        &self,
        actor: &Actor,
        channel: &str,
        file: &str,
        list_name: &str,
        items: Vec<ImportItem>,
        progress: &dyn Fn(usize),
    ) -> NodeResult<ImportSummary> {
        policy::authorize(actor, Action::WriteRecord)?;
        if list_name.trim().is_empty() {
            return Err(NodeError::bad("the list needs a name"));
        }
        let scope = policy::read_scope(actor);
        let mut summary = ImportSummary {
            imported: items.len(),
            ..Default::default()
        };
        let summary = self.commit(|tx, out| {
            // What this node already holds from this list, in this channel and file.
            let filter = RecordFilter {
                channel: Some(channel.to_string()),
                file: Some(file.to_string()),
                originator: Some(self.id().to_string()),
                ..Default::default()
            };
            let mut existing: HashMap<(String, String), StoredRecord> = HashMap::new();
            for r in tx.records(&filter, &scope)? {
                if let Some(k) = r.signed.as_ref().and_then(|s| listing_key(&s.body.data)) {
                    existing.insert(k, r);
                }
            }
            let mut seen: HashSet<(String, String)> = HashSet::new();
            let mut creates = Vec::new();
            let mut screen_ids = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                let mut data = item.data;
                if !data.is_object() {
                    return Err(NodeError::bad(format!("entry {}: data is not an object", item.source_ref)));
                }
                let listing = data.as_object_mut().expect("checked above").entry("listing").or_insert_with(|| json!({}));
                if !listing.is_object() {
                    return Err(NodeError::bad(format!("entry {}: listing is not an object", item.source_ref)));
                }
                let l = listing.as_object_mut().expect("checked above");
                l.entry("list").or_insert_with(|| json!(list_name));
                l.entry("reference").or_insert_with(|| json!(item.source_ref));
                let key = listing_key(&data).expect("set above");
                if !seen.insert(key.clone()) {
                    return Err(NodeError::bad(format!(
                        "entry {} appears twice in the list; nothing imported",
                        item.source_ref
                    )));
                }
                match existing.get(&key) {
                    Some(cur) => {
                        let normal = tansiq_core::record::validate_data(cur.kind, &data)
                            .map_err(|e| NodeError::bad(format!("entry {}: {e}", item.source_ref)))?;
                        if cur.signed.as_ref().is_some_and(|s| s.body.data == normal) {
                            summary.unchanged += 1;
                        } else {
                            self.update_in(tx, actor, cur.clone(), normal, None, None, out)?;
                            summary.updated += 1;
                            if cur.kind == Kind::Person {
                                screen_ids.push(cur.id.clone());
                            }
                        }
                    }
                    None => creates.push((
                        item.source_ref,
                        NewRecord {
                            channel: channel.to_string(),
                            file: file.to_string(),
                            kind: item.kind,
                            data,
                            tlp: None,
                            code: None,
                            evaluation: None,
                            expires: None,
                            links: vec![],
                        },
                    )),
                }
                progress(i + 1);
            }
            // Entries that left the list stay, marked delisted.
            for (key, cur) in &existing {
                if key.0 != list_name || seen.contains(key) {
                    continue;
                }
                let Some(signed) = &cur.signed else { continue };
                let mut data = signed.body.data.clone();
                if data["listing"].get("status").and_then(|s| s.as_str()) == Some("delisted") {
                    continue;
                }
                data["listing"]["status"] = json!("delisted");
                self.update_in(tx, actor, cur.clone(), data, None, None, out)?;
                summary.delisted += 1;
            }
            let kinds: Vec<Kind> = creates.iter().map(|(_, n)| n.kind).collect();
            let ids = self
                .create_in(
                    tx,
                    actor,
                    creates.into_iter().map(|(_, n)| n).collect(),
                    &|_| {},
                    out,
                )
                .map_err(|e| match e {
                    NodeError::BadInput(m) => NodeError::BadInput(format!("{m} (in the list's entries; nothing imported)")),
                    e => e,
                })?;
            summary.created = ids.len();
            screen_ids.extend(ids.into_iter().zip(kinds).filter(|(_, k)| *k == Kind::Person).map(|(id, _)| id));
            summary.alerts = self.screen_new_entries(tx, &screen_ids)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "watchlist.import",
                channel,
                json!({"channel": channel, "file": file, "list": list_name, "created": summary.created,
                       "updated": summary.updated, "unchanged": summary.unchanged, "delisted": summary.delisted,
                       "alerts": summary.alerts}),
            )?;
            Ok(summary.clone())
        })?;
        Ok(summary)
    }

    /// Continuous screening: new or changed watchlist entries against this
    /// node's own person records (those that are not themselves list
    /// entries). Returns the number of new alerts.
    pub(crate) fn screen_new_entries(
        &self,
        tx: &mut Tx,
        entry_ids: &[String],
    ) -> NodeResult<usize> {
        if entry_ids.is_empty() {
            return Ok(0);
        }
        let own = tx.records(
            &RecordFilter {
                kind: Some(Kind::Person),
                originator: Some(self.id().to_string()),
                ..Default::default()
            },
            &policy::ReadScope::everything(),
        )?;
        let own: Vec<Entry> = own
            .iter()
            .filter(|r| !is_watchlist_entry(r))
            .filter_map(|r| r.signed.as_ref().map(|s| match_entry(&r.id, &s.body.data)))
            .collect();
        if own.is_empty() {
            return Ok(0);
        }
        let index = Index::build(own);
        let everything = policy::ReadScope::everything();
        let mut new_alerts = 0;
        let now = time::format(&time::now());
        for id in entry_ids {
            let Some(rec) = tx.record(id, &everything)? else {
                continue;
            };
            let Some(signed) = &rec.signed else { continue };
            let entry = match_entry(id, &signed.body.data);
            let mut best: HashMap<String, Hit> = HashMap::new();
            for hits in
                index.screen_batch(&entry_queries(&entry), tansiq_match::DEFAULT_THRESHOLD, 5)
            {
                for h in hits {
                    let slot = best.entry(h.entry_id.clone()).or_insert_with(|| h.clone());
                    if h.score > slot.score {
                        *slot = h;
                    }
                }
            }
            for (record_id, hit) in best {
                let alert = AlertRow {
                    id: new_id("alr_"),
                    entry_id: id.clone(),
                    record_id: record_id.clone(),
                    score: hit.score,
                    matched_name: hit.matched_name,
                    explanation: hit.explanation,
                    created_at: now.clone(),
                };
                if tx.put_alert(&alert)? {
                    new_alerts += 1;
                    self.audit(tx, "node", "alert.raise", &alert.id, json!({"entry": id, "record": record_id, "score": (hit.score * 1000.0).round() / 1000.0}))?;
                }
            }
        }
        Ok(new_alerts)
    }

    /// Screens names against every person and organization record the
    /// actor may see. Results in input order.
    pub fn screen(
        &self,
        actor: &Actor,
        queries: &[Query],
        threshold: f64,
        top: usize,
    ) -> NodeResult<Vec<Vec<Hit>>> {
        policy::authorize(actor, Action::Screen)?;
        check_queries(queries)?;
        let scope = policy::read_scope(actor);
        let found = self.note_read(|tx| {
            let found = self.screening.lookup(tx, &scope, screening_entries)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "screen",
                "*",
                json!({"queries": queries.len(), "entries": found.entries()}),
            )?;
            Ok::<_, NodeError>(found)
        })?;
        // Built outside the transaction when the records changed (or this
        // scope was never screened): seconds at 100,000 entries; else the
        // index kept from the last call.
        let index = self.screening.finish(found);
        Ok(index.screen_batch(queries, threshold, top))
    }

    /// Screening indexes built since this node was opened (the others
    /// were reused: same read scope, records unchanged).
    #[doc(hidden)]
    pub fn screening_index_builds(&self) -> u64 {
        self.screening.builds()
    }

    pub fn alerts(&self, actor: &Actor) -> NodeResult<Vec<AlertRow>> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let mut out = Vec::new();
            for a in tx.alerts()? {
                // An alert is shown only if both its ends are visible.
                if tx.record(&a.entry_id, &scope)?.is_some()
                    && tx.record(&a.record_id, &scope)?.is_some()
                {
                    out.push(a);
                }
            }
            let count = out.len();
            self.audit(
                tx,
                &actor.audit_name(),
                "alert.list",
                "*",
                serde_json::json!({ "count": count }),
            )?;
            Ok(out)
        })
    }
}

/// The names one screening takes, checked before anything is read or
/// audited: at least one; each with an id and a name that are not blank,
/// and a birth date, if given, that is a date (YYYY, YYYY-MM or
/// YYYY-MM-DD).
pub fn check_queries(queries: &[Query]) -> NodeResult<()> {
    if queries.is_empty() {
        return Err(NodeError::bad("no names to screen: give at least one"));
    }
    for (i, q) in queries.iter().enumerate() {
        if q.id.trim().is_empty() {
            return Err(NodeError::bad(format!(
                "name {} of the list: the id is empty",
                i + 1
            )));
        }
        if q.name.trim().is_empty() {
            return Err(NodeError::bad(format!("name {}: the name is empty", q.id)));
        }
        if let Some(b) = &q.birth_date {
            time::check_partial_date(b)
                .map_err(|e| NodeError::bad(format!("name {}: birth_date: {e}", q.id)))?;
        }
    }
    Ok(())
}
