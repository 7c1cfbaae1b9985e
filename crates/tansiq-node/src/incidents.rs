//! Incidents and surge (mission S11): after an attack, one declaration
//! makes the incident record, sends a FLASH to every channel carrying the
//! incident's file, and screens a list of names (a passenger manifest, a
//! crowd of detainees) against every person and organization record the
//! declarer may see. Each name with a hit becomes a person record linked
//! to the incident (`related_to`), and each of its hits an alert between
//! the matched record and that person — the alerts `tansiq alerts` and
//! the API list, and the network `record graph` walks from the incident.
//!
//! The matching index is built and the names screened before the write
//! transaction, on a read of the entries (seconds of CPU for a large
//! manifest must not hold the store's write lock); everything that
//! changes state — incident, messages, persons, alerts, audit — is then
//! one transaction, which checks again that each matched record is still
//! there for the declarer.

use serde::Serialize;
use serde_json::{json, Value};

use tansiq_core::charter::ChannelState;
use tansiq_core::handling::Tlp;
use tansiq_core::ids::new_id;
use tansiq_core::policy::{self, Action};
use tansiq_core::record::{validate_data, Kind, Link, LinkType};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_match::{Hit, Query};
use tansiq_store::{AlertRow, RecordStatus, Tx};
use tansiq_sync::Precedence;

use crate::error::{NodeError, NodeResult};
use crate::federation::Outbox;
use crate::messages::text_problem;
use crate::node::Node;
use crate::records::NewRecord;
use crate::watchlist::screening_entries;

/// Most names one declaration screens.
pub const MAX_INCIDENT_NAMES: usize = 100_000;
/// Hits kept per name (the best first), as `screen`'s default.
const HITS_PER_NAME: usize = 5;
/// Names screened between two progress reports.
const PROGRESS_STEP: usize = 500;

/// What the declarer gives.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// The incident record's channel (it must carry `file`).
    pub channel: String,
    pub file: String,
    pub title: String,
    pub place: Option<String>,
    /// Date or date-time; default: now.
    pub occurred_at: Option<String>,
    /// Default: the channel's.
    pub tlp: Option<Tlp>,
    /// The FLASH text; default `INCIDENT: <title>` (and the place).
    pub message: Option<String>,
    /// Names to screen, in input order (ids unique within the list).
    pub names: Vec<Query>,
    /// Minimum score of a hit (`tansiq_match::DEFAULT_THRESHOLD` usually).
    pub threshold: f64,
}

/// What a declaration did.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentReport {
    /// The incident record's id.
    pub incident: String,
    /// One FLASH per channel carrying the file that has other members.
    pub messages: Vec<FlashSent>,
    pub names_screened: usize,
    /// Person and organization records the names were screened against.
    pub entries: usize,
    /// The names with at least one hit, in input order.
    pub hits: Vec<NameHit>,
    /// Alerts raised: one per (name, matched record).
    pub alerts: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct FlashSent {
    pub id: String,
    pub channel: String,
}

/// A screened name that matched: the person record made for it (linked
/// to the incident) and what it matched, best first.
#[derive(Debug, Clone, Serialize)]
pub struct NameHit {
    pub query_id: String,
    pub name: String,
    pub record: String,
    pub matches: Vec<Match>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub entry_id: String,
    pub score: f64,
    pub matched_name: String,
    pub explanation: String,
    pub alert: String,
}

impl Node {
    /// Declares an incident (see the module's documentation). Needs the
    /// rights to write records, send messages and screen, and the file;
    /// `progress(done, total)` follows the screening. One transaction for
    /// every change; a refusal or bad input changes nothing.
    pub fn incident_declare(
        &self,
        actor: &Actor,
        new: NewIncident,
        progress: &dyn Fn(usize, usize),
    ) -> NodeResult<IncidentReport> {
        for a in [Action::WriteRecord, Action::SendMessage, Action::Screen] {
            policy::authorize(actor, a)?;
        }
        // The file's need-to-know before seconds of screening (the TLP is
        // checked with the record, once the channel's default is known).
        policy::may_write(actor, self.id(), &new.file, Tlp::Clear, None)?;
        if new.title.trim().is_empty() {
            return Err(NodeError::bad("the incident needs a title"));
        }
        let text = flash_text(&new)?;
        if new.names.len() > MAX_INCIDENT_NAMES {
            return Err(NodeError::bad(format!(
                "at most {MAX_INCIDENT_NAMES} names a declaration"
            )));
        }
        if !(0.0..=1.0).contains(&new.threshold) {
            return Err(NodeError::bad("the threshold must be between 0 and 1"));
        }
        if !new.names.is_empty() {
            crate::watchlist::check_queries(&new.names)?;
        }
        let persons: Vec<Value> = new
            .names
            .iter()
            .map(|q| person_data(q, &new.title))
            .collect::<NodeResult<_>>()?;
        let incident = incident_data(&new)?;
        let scope = policy::read_scope(actor);
        let found = self
            .store
            .read(|tx| self.screening.lookup(tx, &scope, screening_entries))?;
        let n_entries = found.entries();
        let index = self.screening.finish(found);
        let mut results: Vec<Vec<Hit>> = Vec::with_capacity(new.names.len());
        progress(0, new.names.len());
        for chunk in new.names.chunks(PROGRESS_STEP) {
            results.extend(index.screen_batch(chunk, new.threshold, HITS_PER_NAME));
            progress(results.len(), new.names.len());
        }
        drop(index);
        // A FLASH: acknowledgements and urgent messages share its turn.
        let _turn = self.federation.turns.wait(true);
        self.commit(|tx, out| {
            let record = NewRecord {
                channel: new.channel.clone(),
                file: new.file.clone(),
                kind: Kind::Incident,
                data: incident.clone(),
                tlp: new.tlp,
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            };
            let id = self
                .create_in(tx, actor, vec![record], &|_| {}, out)?
                .pop()
                .expect("one record in, one id out");
            let tlp = tx.record(&id, &scope)?.map(|r| r.tlp);
            let messages = self.flash_channels(tx, actor, &new.file, &text, out)?;
            let hits = self.raise_hits(tx, actor, &id, tlp, &new, &persons, results, out)?;
            let alerts = hits.iter().map(|h| h.matches.len()).sum();
            self.audit(
                tx,
                &actor.audit_name(),
                "incident.declare",
                &id,
                json!({"id": id, "channel": new.channel, "file": new.file, "messages": messages.len(),
                       "names": new.names.len(), "entries": n_entries, "hits": hits.len(), "alerts": alerts}),
            )?;
            Ok(IncidentReport {
                incident: id,
                messages,
                names_screened: new.names.len(),
                entries: n_entries,
                hits,
                alerts,
            })
        })
    }

    /// A FLASH with `text` in `file` to every active channel of this node
    /// that carries the file and has other members.
    fn flash_channels(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        file: &str,
        text: &str,
        out: &mut Outbox,
    ) -> NodeResult<Vec<FlashSent>> {
        let mut sent = Vec::new();
        for row in tx.channels()? {
            let st: ChannelState = serde_json::from_str(&row.state)
                .map_err(|e| NodeError::corrupt(&format!("channel {} state", row.id), e))?;
            let Some(active) = &st.active else { continue };
            let c = &active.charter;
            if !c.is_member(self.id()) || c.members.len() < 2 || !c.files.iter().any(|f| f == file)
            {
                continue;
            }
            let id = self.send_in(
                tx,
                actor,
                &row.id,
                Some(file),
                Precedence::Flash,
                text,
                true,
                out,
            )?;
            sent.push(FlashSent {
                id,
                channel: row.id,
            });
        }
        Ok(sent)
    }

    /// For each name with a hit on a record still visible and active: a
    /// person record linked to the incident, and an alert per hit.
    #[allow(clippy::too_many_arguments)]
    fn raise_hits(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        incident: &str,
        tlp: Option<Tlp>,
        new: &NewIncident,
        persons: &[Value],
        results: Vec<Vec<Hit>>,
        out: &mut Outbox,
    ) -> NodeResult<Vec<NameHit>> {
        let scope = policy::read_scope(actor);
        let mut found = Vec::new();
        let mut records = Vec::new();
        for ((q, data), hits) in new.names.iter().zip(persons).zip(results) {
            let mut live = Vec::with_capacity(hits.len());
            for h in hits {
                if tx
                    .record(&h.entry_id, &scope)?
                    .is_some_and(|r| r.status == RecordStatus::Active)
                {
                    live.push(h);
                }
            }
            if live.is_empty() {
                continue;
            }
            records.push(NewRecord {
                channel: new.channel.clone(),
                file: new.file.clone(),
                kind: Kind::Person,
                data: data.clone(),
                tlp,
                code: None,
                evaluation: None,
                expires: None,
                links: vec![Link {
                    rel: LinkType::RelatedTo,
                    target: incident.to_string(),
                    from: None,
                    until: None,
                    note: None,
                }],
            });
            found.push((q, live));
        }
        let ids = self.create_in(tx, actor, records, &|_| {}, out)?;
        let now = time::format(&time::now());
        let mut hits = Vec::with_capacity(found.len());
        for ((q, live), record) in found.into_iter().zip(ids) {
            let mut matches = Vec::with_capacity(live.len());
            for h in live {
                let alert = AlertRow {
                    id: new_id("alr_"),
                    entry_id: h.entry_id.clone(),
                    record_id: record.clone(),
                    score: h.score,
                    matched_name: h.matched_name.clone(),
                    explanation: h.explanation.clone(),
                    created_at: now.clone(),
                };
                tx.put_alert(&alert)?;
                self.audit(
                    tx,
                    &actor.audit_name(),
                    "alert.raise",
                    &alert.id,
                    json!({"entry": h.entry_id, "record": record, "incident": incident,
                           "score": (h.score * 1000.0).round() / 1000.0}),
                )?;
                matches.push(Match {
                    entry_id: h.entry_id,
                    score: (h.score * 10_000.0).round() / 10_000.0,
                    matched_name: h.matched_name,
                    explanation: h.explanation,
                    alert: alert.id,
                });
            }
            hits.push(NameHit {
                query_id: q.id.clone(),
                name: q.name.clone(),
                record,
                matches,
            });
        }
        Ok(hits)
    }
}

/// The FLASH text: the declarer's, or `INCIDENT: <title>` (at <place>).
fn flash_text(new: &NewIncident) -> NodeResult<String> {
    let text = match &new.message {
        Some(m) => m.trim_end().to_string(),
        None => match &new.place {
            Some(p) => format!("INCIDENT: {} ({p})", new.title.trim()),
            None => format!("INCIDENT: {}", new.title.trim()),
        },
    };
    match text_problem(&text) {
        Some(p) => Err(NodeError::bad(format!("message: {p}"))),
        None => Ok(text),
    }
}

/// The incident record's data, validated against its schema.
fn incident_data(new: &NewIncident) -> NodeResult<Value> {
    let mut data = json!({
        "title": new.title,
        "occurred_at": new.occurred_at.clone().unwrap_or_else(|| time::format(&time::now())),
    });
    if let Some(p) = &new.place {
        data["place"] = json!(p);
    }
    validate_data(Kind::Incident, &data).map_err(|e| NodeError::bad(format!("incident: {e}")))
}

/// The person record a name with a hit becomes: its name and, where they
/// are valid, its birth date, nationality and gender; a note naming the
/// incident and the line. Checked before anything is screened.
fn person_data(q: &Query, title: &str) -> NodeResult<Value> {
    let notes = format!(
        "Screened for incident \"{}\", list line {}",
        title.trim(),
        q.id
    );
    let mut full = json!({"names": [q.name], "notes": notes});
    if let Some(b) = &q.birth_date {
        full["birth_date"] = json!(b);
    }
    if !q.nationality.is_empty() {
        full["nationality"] = json!(q.nationality);
    }
    if let Some(g) = &q.gender {
        full["gender"] = json!(g);
    }
    if let Ok(v) = validate_data(Kind::Person, &full) {
        return Ok(v);
    }
    validate_data(Kind::Person, &json!({"names": [q.name], "notes": notes}))
        .map_err(|e| NodeError::bad(format!("name {}: {e}", q.id)))
}
