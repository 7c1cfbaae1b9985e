//! STIX 2.1 export and import, and the reads the TAXII server answers
//! from (issue 15; docs/STIX.md, docs/POLICY.md "Export and import").
//!
//! Export is dissemination: a record leaves only under the export rule
//! (`policy::may_export`, the third-party rule with `export:<this node>`
//! as destination), and every export is audited. Import makes this node's
//! own records, in one transaction, and remembers which STIX object
//! (id, `modified`) became which record, so importing it again changes
//! nothing.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use serde_json::{json, Value};

use tansiq_core::ids::new_record_id;
use tansiq_core::policy::{self, Action, ReadScope};
use tansiq_core::record::{Kind, Link, LinkType, RecordBody};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_stix::{Imported, Skipped};
use tansiq_store::{AddedVersion, StixImportRow, Tx, VersionCursor};

use crate::error::{NodeError, NodeResult};
use crate::federation::Outbox;
use crate::node::Node;
use crate::records::NewRecord;

/// What `stix export` wrote.
#[derive(Debug, Clone)]
pub struct StixExport {
    pub bundle: Value,
    /// Record versions exported (a retraction counts).
    pub records: usize,
    /// Records held back by the export rule (another node's, not released
    /// to this node's export destination).
    pub withheld: Vec<String>,
    /// Links left out: their target may not be exported.
    pub links_left_out: usize,
}

/// What `stix import` did, object by object.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StixImportReport {
    /// `(STIX id, record id)` of each record made.
    pub created: Vec<(String, String)>,
    /// New versions of records made by an earlier import.
    pub updated: Vec<(String, String)>,
    /// Revoked objects whose record was retracted.
    pub retracted: Vec<(String, String)>,
    /// Objects already imported at this `modified` (or a later one).
    pub unchanged: usize,
    /// Objects and links left out, with why.
    pub skipped: Vec<(String, String)>,
}

/// Where a TAXII page starts: a stored-version position, and how many of
/// that version's (filtered) objects were already served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageCursor {
    pub at: VersionCursor,
    pub skip: usize,
}

/// Which versions of each object a TAXII request wants
/// (`match[version]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionMatch {
    Last,
    First,
    All,
    /// Exactly these `modified` values.
    At(Vec<String>),
}

/// The `match[…]` filters of a TAXII request.
#[derive(Debug, Clone)]
pub struct ObjectFilter {
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub spec_versions: Vec<String>,
    pub versions: VersionMatch,
}

impl ObjectFilter {
    fn admits(&self, o: &Value) -> bool {
        let has = |list: &[String], key: &str| {
            list.is_empty() || o[key].as_str().is_some_and(|v| list.iter().any(|x| x == v))
        };
        let version_ok = match &self.versions {
            VersionMatch::At(ts) => o["modified"]
                .as_str()
                .is_some_and(|m| ts.iter().any(|t| same_instant(t, m))),
            _ => true,
        };
        has(&self.ids, "id")
            && has(&self.types, "type")
            && (self.spec_versions.is_empty() || has(&self.spec_versions, "spec_version"))
            && version_ok
    }
}

/// A STIX timestamp, to the sub-second (`time::parse_instant` keeps
/// whole seconds, what Tansiq signs).
fn stix_instant(s: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(s.trim()).ok()
}

fn same_instant(a: &str, b: &str) -> bool {
    match (stix_instant(a), stix_instant(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// One TAXII page: objects with their `date_added` (ms), and where the
/// next page starts if there is more.
#[derive(Debug, Clone)]
pub struct ObjectPage {
    pub objects: Vec<(Value, i64)>,
    pub next: Option<PageCursor>,
}

/// A TAXII collection: one file of one active channel, as a user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Collection {
    pub id: String,
    pub channel: String,
    pub channel_name: String,
    pub file: String,
    pub can_read: bool,
    pub can_write: bool,
}

/// Per-request memory of the export rule and of link targets' kinds.
#[derive(Default)]
struct ExportCheck {
    allowed: HashMap<String, bool>,
    kinds: HashMap<String, Option<Kind>>,
}

impl Node {
    /// The TAXII collections `actor` may see: every file of every active
    /// channel of this node that is among the actor's files (none for a
    /// role that reads no records). Not audited: it names no record.
    pub fn taxii_collections(&self, actor: &Actor) -> NodeResult<Vec<Collection>> {
        let Actor::User(u) = actor else {
            return Err(NodeError::bad("TAXII collections are a user's view"));
        };
        let can_read = policy::role_allows(u.role, Action::ReadRecord);
        let can_write = policy::role_allows(u.role, Action::WriteRecord);
        if !can_read && !can_write {
            return Ok(Vec::new());
        }
        let scope = policy::read_scope(actor);
        let mut out = Vec::new();
        for ch in self.channel_list(actor)? {
            if ch.status != "active" {
                continue;
            }
            for f in &ch.files {
                if scope.files.as_ref().is_some_and(|fs| !fs.contains(f)) {
                    continue;
                }
                out.push(Collection {
                    id: tansiq_stix::collection_id(self.id(), &ch.id, f),
                    channel: ch.id.clone(),
                    channel_name: ch.name.clone(),
                    file: f.clone(),
                    can_read,
                    can_write,
                });
            }
        }
        Ok(out)
    }

    /// The collection `id` if `actor` may see it (else not found, as if
    /// there were none).
    pub fn taxii_collection(&self, actor: &Actor, id: &str) -> NodeResult<Collection> {
        self.taxii_collections(actor)?
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| NodeError::NotFound(format!("no collection {id}")))
    }

    /// May `id` (visible in `scope`) leave this node? Cached per request.
    fn exportable(
        &self,
        tx: &mut Tx,
        scope: &ReadScope,
        id: &str,
        memo: &mut ExportCheck,
    ) -> NodeResult<bool> {
        if let Some(&a) = memo.allowed.get(id) {
            return Ok(a);
        }
        let ok = match tx.record(id, scope)? {
            Some(r) => {
                let kind = r.kind;
                let ok = match self.may_export(tx, r) {
                    Ok(()) => true,
                    Err(NodeError::Refused(_)) => false,
                    Err(e) => return Err(e),
                };
                memo.kinds.insert(id.to_string(), ok.then_some(kind));
                ok
            }
            None => false,
        };
        memo.allowed.insert(id.to_string(), ok);
        Ok(ok)
    }

    /// The kinds of the link targets of `bodies` that may be named in an
    /// export for `scope` (visible and exportable); the rest are `None`.
    fn target_kinds(
        &self,
        tx: &mut Tx,
        scope: &ReadScope,
        bodies: &[&RecordBody],
        memo: &mut ExportCheck,
    ) -> NodeResult<()> {
        let targets: BTreeSet<&str> = bodies
            .iter()
            .flat_map(|b| b.links.iter().map(|l| l.target.as_str()))
            .collect();
        for t in targets {
            if !memo.kinds.contains_key(t) && !self.exportable(tx, scope, t, memo)? {
                memo.kinds.insert(t.to_string(), None);
            }
        }
        Ok(())
    }

    /// The body of a stored version, and the record's earlier versions
    /// still held (for the relationships a later version dropped).
    fn version_bodies(
        tx: &mut Tx,
        v: &AddedVersion,
    ) -> NodeResult<Option<(RecordBody, Vec<RecordBody>)>> {
        let Some(body) = &v.body else {
            return Ok(None);
        };
        let body: RecordBody =
            serde_json::from_str(body).map_err(|e| NodeError::corrupt("record version", e))?;
        let earlier = if body.version > 1 {
            tx.record_versions(&v.id)?
                .into_iter()
                .filter(|e| e.version < body.version)
                .filter_map(|e| e.body)
                .filter_map(|b| serde_json::from_str::<RecordBody>(&b).ok())
                .collect()
        } else {
            Vec::new()
        };
        Ok(Some((body, earlier)))
    }

    /// Exports the records of `channel` (and `file`) the actor may see
    /// and the export rule lets leave: their current versions, a
    /// retraction as a revoked object, links a later version dropped as
    /// revoked relationships. Audited as `stix.export`.
    pub fn stix_export(
        &self,
        actor: &Actor,
        channel: &str,
        file: Option<&str>,
    ) -> NodeResult<StixExport> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            crate::channels::load_channel(tx, channel)?;
            let rows = tx.versions_added(
                channel,
                file,
                &scope,
                &VersionCursor::default(),
                true,
                u64::MAX >> 1,
            )?;
            let mut memo = ExportCheck::default();
            let mut bodies = Vec::new();
            let mut earlier = Vec::new();
            let mut withheld = Vec::new();
            for v in &rows {
                if !self.exportable(tx, &scope, &v.id, &mut memo)? {
                    withheld.push(v.id.clone());
                    continue;
                }
                if let Some((b, e)) = Self::version_bodies(tx, v)? {
                    if scope.admits(&b.file, b.handling.tlp) {
                        bodies.push(b);
                        earlier.push(e);
                    }
                }
            }
            let all: Vec<&RecordBody> = bodies.iter().chain(earlier.iter().flatten()).collect();
            self.target_kinds(tx, &scope, &all, &mut memo)?;
            let kinds = |id: &str| memo.kinds.get(id).copied().flatten();
            let revoked: Vec<Value> = bodies
                .iter()
                .zip(&earlier)
                .flat_map(|(b, e)| tansiq_stix::revoked_links(b, e, &kinds))
                .collect();
            let (bundle, left_out) = tansiq_stix::bundle_with(&bodies, revoked, &kinds);
            let ids: Vec<&str> = bodies.iter().map(|b| b.id.as_str()).collect();
            let digest = tansiq_crypto::sha256(ids.join("\n").as_bytes());
            self.audit(
                tx,
                &actor.audit_name(),
                "stix.export",
                channel,
                json!({"channel": channel, "file": file, "via": "file",
                       "destination": policy::export_destination(self.id()),
                       "count": bodies.len(), "withheld": withheld.len(),
                       "ids_sha256": hex::encode(digest)}),
            )?;
            Ok(StixExport {
                bundle,
                records: bodies.len(),
                withheld,
                links_left_out: left_out.len(),
            })
        })
    }

    /// A page of a TAXII collection (`channel`, `file`): the objects of
    /// the record versions stored from `cursor` on that the actor may see
    /// and may export, filtered, at most `limit`. The fixed objects (the
    /// Tansiq identity and extension, TLP markings, this node's identity)
    /// come first, dated 0. Audited as `stix.export` (via `taxii`).
    pub fn taxii_objects(
        &self,
        actor: &Actor,
        (channel, file): (&str, &str),
        filter: &ObjectFilter,
        cursor: &PageCursor,
        limit: usize,
    ) -> NodeResult<ObjectPage> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        if !scope.admits(file, tansiq_core::handling::Tlp::Clear) {
            return Err(NodeError::NotFound("no such collection".into()));
        }
        let limit = limit.max(1);
        self.note(|tx| {
            let mut page = ObjectPage {
                objects: Vec::new(),
                next: None,
            };
            let mut memo = ExportCheck::default();
            let mut at = cursor.at.clone();
            let mut skip = cursor.skip;
            if at == VersionCursor::default() {
                // The objects records refer to: the Tansiq ones, and the
                // identity of every node that originated a record of the
                // collection the reader may see (what `record list` names).
                let mut fixed = tansiq_stix::common_objects();
                fixed.push(tansiq_stix::node_identity(
                    self.id(),
                    Some(&self.config.name),
                ));
                for n in tx.originators_in(channel, file, &scope)? {
                    if n != self.id() {
                        fixed.push(tansiq_stix::node_identity(&n, None));
                    }
                }
                let fixed: Vec<Value> = fixed.into_iter().filter(|o| filter.admits(o)).collect();
                for (k, o) in fixed.into_iter().enumerate().skip(skip) {
                    if page.objects.len() == limit {
                        page.next = Some(PageCursor {
                            at: at.clone(),
                            skip: k,
                        });
                        return self.audit_page(tx, actor, channel, file, page);
                    }
                    page.objects.push((o, 0));
                }
                at.id = "\u{1}".into();
                skip = 0;
            }
            let current_only = filter.versions == VersionMatch::Last;
            loop {
                let batch = (limit as u64 + 1).max(64);
                let rows =
                    tx.versions_added(channel, Some(file), &scope, &at, current_only, batch)?;
                let n = rows.len();
                for v in rows {
                    let objs = self.version_objects(tx, &scope, &v, filter, &mut memo)?;
                    for (k, o) in objs.into_iter().enumerate().skip(skip) {
                        if page.objects.len() == limit {
                            page.next = Some(PageCursor {
                                at: VersionCursor {
                                    added_ms: v.added_ms,
                                    id: v.id.clone(),
                                    version: v.version,
                                },
                                skip: k,
                            });
                            return self.audit_page(tx, actor, channel, file, page);
                        }
                        page.objects.push((o, v.added_ms));
                    }
                    skip = 0;
                    at = VersionCursor {
                        added_ms: v.added_ms,
                        id: v.id.clone(),
                        version: v.version + 1,
                    };
                }
                if (n as u64) < batch {
                    return self.audit_page(tx, actor, channel, file, page);
                }
            }
        })
    }

    /// The STIX objects one stored version becomes for a TAXII answer,
    /// filtered (nothing if the record may not be exported, or this
    /// version is outside the reader's scope).
    fn version_objects(
        &self,
        tx: &mut Tx,
        scope: &ReadScope,
        v: &AddedVersion,
        filter: &ObjectFilter,
        memo: &mut ExportCheck,
    ) -> NodeResult<Vec<Value>> {
        if filter.versions == VersionMatch::First && v.version != 1 {
            return Ok(Vec::new());
        }
        if !self.exportable(tx, scope, &v.id, memo)? {
            return Ok(Vec::new());
        }
        let Some((body, earlier)) = Self::version_bodies(tx, v)? else {
            return Ok(Vec::new());
        };
        if !scope.admits(&body.file, body.handling.tlp) {
            return Ok(Vec::new());
        }
        let all: Vec<&RecordBody> = std::iter::once(&body).chain(earlier.iter()).collect();
        self.target_kinds(tx, scope, &all, memo)?;
        let kinds = |id: &str| memo.kinds.get(id).copied().flatten();
        let mut objs = tansiq_stix::export_record(&body, &kinds).objects;
        objs.extend(tansiq_stix::revoked_links(&body, &earlier, &kinds));
        Ok(objs.into_iter().filter(|o| filter.admits(o)).collect())
    }

    fn audit_page(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        channel: &str,
        file: &str,
        page: ObjectPage,
    ) -> NodeResult<ObjectPage> {
        let ids: Vec<&str> = page
            .objects
            .iter()
            .filter_map(|(o, _)| o["id"].as_str())
            .collect();
        let digest = tansiq_crypto::sha256(ids.join("\n").as_bytes());
        self.audit(
            tx,
            &actor.audit_name(),
            "stix.export",
            channel,
            json!({"channel": channel, "file": file, "via": "taxii",
                   "destination": policy::export_destination(self.id()),
                   "count": ids.len(), "ids_sha256": hex::encode(digest)}),
        )?;
        Ok(page)
    }

    /// Retracts the record of this node whose main STIX object is
    /// `object_id`, in collection (`channel`, `file`) as the actor sees
    /// it (TAXII DELETE by the originator). Not found when there is none
    /// the actor may see; refused when another node originated it.
    pub fn stix_retract(
        &self,
        actor: &Actor,
        (channel, file): (&str, &str),
        object_id: &str,
    ) -> NodeResult<String> {
        policy::authorize(actor, Action::WriteRecord)?;
        let scope = policy::read_scope(actor);
        let found = self.store.read(|tx| {
            let mut at = VersionCursor::default();
            loop {
                let rows = tx.versions_added(channel, Some(file), &scope, &at, true, 512)?;
                let n = rows.len();
                for v in rows {
                    at = VersionCursor {
                        added_ms: v.added_ms,
                        id: v.id.clone(),
                        version: v.version + 1,
                    };
                    let Some(r) = tx.record(&v.id, &scope)? else {
                        continue;
                    };
                    if tansiq_stix::main_id(r.kind, &r.id).as_deref() == Some(object_id) {
                        return Ok::<_, NodeError>(Some(r.id));
                    }
                }
                if n < 512 {
                    return Ok(None);
                }
            }
        })?;
        let not_found = || NodeError::NotFound(format!("no object {object_id} in this collection"));
        let id = found.ok_or_else(not_found)?;
        self.commit(|tx, out| {
            let cur = tx.record(&id, &scope)?.ok_or_else(not_found)?;
            if cur.originator != self.id() {
                return Err(NodeError::Refused(policy::Refusal {
                    rule: policy::Rule::OriginatorOnly,
                    reason: format!("object {object_id} was originated by another node; only its originator retracts it"),
                }));
            }
            self.retract_in(tx, actor, cur, out)
        })?;
        Ok(id)
    }
}

/// What one imported object becomes.
enum Plan {
    Create(String),
    Update(String),
    Retract(String),
    Same,
}

impl Node {
    /// Imports a STIX bundle into `channel`/`file` as this node's own
    /// records, in one transaction: a bad object refuses the whole bundle
    /// (the error names the object and the property); references may
    /// point anywhere in the bundle or at objects imported before into
    /// this channel; an object imported before at this `modified` changes
    /// nothing, a later `modified` makes a new version, a revoked one
    /// retracts it. `source` names where the bundle came from (a file
    /// name, `taxii`), for the audit.
    pub fn stix_import(
        &self,
        actor: &Actor,
        (channel, file): (&str, &str),
        bundle: &Value,
        source: &str,
    ) -> NodeResult<StixImportReport> {
        policy::authorize(actor, Action::WriteRecord)?;
        let (objects, skipped) = tansiq_stix::import_bundle(bundle)?;
        let now = time::now();
        for o in &objects {
            if let Some(e) = &o.expires {
                if time::parse_instant(e).is_ok_and(|t| t <= now) && !o.revoked {
                    return Err(tansiq_stix::ImportError {
                        object_id: o.stix_id.clone(),
                        property: format!("extensions.{}.expires", tansiq_stix::EXTENSION_ID),
                        message: format!("{e} is in the past"),
                    }
                    .into());
                }
            }
        }
        let _turn = self.federation.turns.wait(false);
        self.commit(|tx, out| {
            self.import_in(tx, actor, (channel, file), objects, skipped, source, out)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn import_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        (channel, file): (&str, &str),
        objects: Vec<Imported>,
        skipped: Vec<Skipped>,
        source: &str,
        out: &mut Outbox,
    ) -> NodeResult<StixImportReport> {
        let scope = policy::read_scope(actor);
        let mut report = StixImportReport {
            skipped: skipped
                .into_iter()
                .map(|s| (s.object_id, s.reason))
                .collect(),
            ..Default::default()
        };
        // Every object's record id (minted now, or from an earlier
        // import), so links resolve wherever they point in the bundle.
        let mut plans = Vec::with_capacity(objects.len());
        let mut record_of: HashMap<String, String> = HashMap::new();
        for o in &objects {
            if let Some((orig, rid, _)) = &o.tansiq_source {
                if orig == self.id() && tx.record(rid, &ReadScope::everything())?.is_some() {
                    // this node's own record coming back: it is the record
                    report
                        .skipped
                        .push((o.stix_id.clone(), format!("this node's own record {rid}")));
                    plans.push(Plan::Same);
                    continue;
                }
            }
            let plan = match tx.stix_import(channel, &o.stix_id)? {
                Some(row) if !later(&o.modified, &row.modified) => Plan::Same,
                Some(row) if o.revoked => Plan::Retract(row.record_id),
                Some(row) => Plan::Update(row.record_id),
                None if o.revoked => Plan::Same,
                None => Plan::Create(new_record_id(self.id())),
            };
            if let Plan::Create(id) | Plan::Update(id) | Plan::Retract(id) = &plan {
                record_of.insert(o.stix_id.clone(), id.clone());
            }
            plans.push(plan);
        }
        let mut creates = Vec::new();
        let mut later_steps = Vec::new();
        for (o, plan) in objects.into_iter().zip(plans) {
            let links = self.resolve_links(tx, &scope, channel, &o, &record_of, &mut report)?;
            match plan {
                Plan::Same => {
                    if !report.skipped.iter().any(|(id, _)| *id == o.stix_id) {
                        report.unchanged += 1;
                    }
                }
                Plan::Create(id) => creates.push((o, id, links)),
                step => later_steps.push((o, step, links)),
            }
        }
        let batch: Vec<(String, NewRecord)> = creates
            .iter()
            .map(|(o, id, links)| {
                (
                    id.clone(),
                    NewRecord {
                        channel: channel.to_string(),
                        file: file.to_string(),
                        kind: o.kind,
                        data: o.data.clone(),
                        tlp: o.tlp,
                        code: o.code,
                        evaluation: o.evaluation,
                        expires: o.expires.clone(),
                        links: links.clone(),
                    },
                )
            })
            .collect();
        self.create_minted(tx, actor, batch, &|_| {}, out)?;
        for (o, id, _) in &creates {
            self.remember(tx, channel, o, id)?;
            report.created.push((o.stix_id.clone(), id.clone()));
        }
        for (o, step, links) in later_steps {
            let retract = matches!(step, Plan::Retract(_));
            let (Plan::Update(id) | Plan::Retract(id)) = step else {
                continue;
            };
            let cur = tx.record(&id, &scope)?.ok_or_else(|| {
                NodeError::NotFound(format!(
                    "no record {id} that you may see (imported from {})",
                    o.stix_id
                ))
            })?;
            if cur.signed.is_none() {
                // retracted or expired since: nothing to change
                report.unchanged += 1;
                continue;
            }
            if retract {
                self.retract_in(tx, actor, cur, out)?;
                report.retracted.push((o.stix_id.clone(), id.clone()));
            } else {
                self.update_in(tx, actor, cur, o.data.clone(), Some(links), o.tlp, out)?;
                report.updated.push((o.stix_id.clone(), id.clone()));
            }
            self.remember(tx, channel, &o, &id)?;
        }
        self.audit(
            tx,
            &actor.audit_name(),
            "stix.import",
            channel,
            json!({"channel": channel, "file": file, "source": source,
                   "created": report.created.len(), "updated": report.updated.len(),
                   "retracted": report.retracted.len(), "unchanged": report.unchanged,
                   "skipped": report.skipped.len()}),
        )?;
        Ok(report)
    }

    /// The links of an imported object with their targets as record ids:
    /// in the bundle, imported before into this channel, or — for an
    /// object a Tansiq node exported — the record this node holds, which
    /// the import is then `derived_from` (the third-party rule applies to
    /// it). A target found nowhere is left out and reported.
    fn resolve_links(
        &self,
        tx: &mut Tx,
        scope: &ReadScope,
        channel: &str,
        o: &Imported,
        record_of: &HashMap<String, String>,
        report: &mut StixImportReport,
    ) -> NodeResult<Vec<Link>> {
        let mut links = Vec::new();
        for l in &o.links {
            let target = match record_of.get(&l.target_stix_id) {
                Some(id) => Some(id.clone()),
                None => tx
                    .stix_import(channel, &l.target_stix_id)?
                    .map(|r| r.record_id),
            };
            match target {
                Some(t) => links.push(Link {
                    rel: l.rel,
                    target: t,
                    from: l.from.clone(),
                    until: l.until.clone(),
                    note: l.note.clone(),
                }),
                None => report.skipped.push((
                    l.relationship_id.clone(),
                    format!(
                        "its target {} is neither in the bundle nor imported before",
                        l.target_stix_id
                    ),
                )),
            }
        }
        if let Some((orig, rid, _)) = &o.tansiq_source {
            if orig != self.id() && tx.record(rid, scope)?.is_some() {
                links.push(Link {
                    rel: LinkType::DerivedFrom,
                    target: rid.clone(),
                    from: None,
                    until: None,
                    note: Some(format!("imported from STIX {}", o.stix_id)),
                });
            }
        }
        Ok(links)
    }

    fn remember(
        &self,
        tx: &mut Tx,
        channel: &str,
        o: &Imported,
        record_id: &str,
    ) -> NodeResult<()> {
        tx.put_stix_import(&StixImportRow {
            channel: channel.to_string(),
            stix_id: o.stix_id.clone(),
            modified: o.modified.clone(),
            record_id: record_id.to_string(),
            source: o.created_by_ref.clone(),
            imported_at: time::format(&time::now()),
        })?;
        Ok(())
    }
}

/// Whether STIX timestamp `a` is after `b` (text order if either does
/// not parse: both are then compared as given).
fn later(a: &str, b: &str) -> bool {
    match (stix_instant(a), stix_instant(b)) {
        (Some(x), Some(y)) => x > y,
        _ => a > b,
    }
}
