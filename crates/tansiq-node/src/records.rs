//! Record services: create, update, retract, read, list, search, share.
//! Each is one transaction that checks policy, writes, and audits. The
//! receiving side is here too: a partner's version or tombstone taken in
//! (`Node::receive_record`), and the originator's later versions forwarded
//! to where this node shared the record onward (`Node::forward_version`).

use serde::Serialize;
use serde_json::{json, Value};

use tansiq_core::charter::ChannelState;
use tansiq_core::handling::{Evaluation, Handling, HandlingCode, Tlp};
use tansiq_core::ids::new_record_id;
use tansiq_core::policy::{self, Action, ReadScope, RecordMeta, ShareSource};
use tansiq_core::record::{
    search_names, search_norm, validate_data, Kind, Link, LinkType, RecordBody, SignedRecord,
};
use tansiq_core::time;
use tansiq_core::user::Actor;
use tansiq_store::{RecordFilter, StoredRecord, Tx};

use crate::arrival::{Batch, Forward};
use crate::card::KeyBook;
use crate::channels::load_channel;
use crate::error::{NodeError, NodeResult};
use crate::federation::Payload;
use crate::federation::{Outbox, Outcome, RecordCheck};
use crate::node::Node;
use crate::par::par_map;
use tansiq_core::release::SignedRelease;
use tansiq_sync::Envelope;

/// What the caller asks to create.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub channel: String,
    pub file: String,
    pub kind: Kind,
    pub data: Value,
    pub tlp: Option<Tlp>,
    pub code: Option<HandlingCode>,
    pub evaluation: Option<Evaluation>,
    pub expires: Option<String>,
    pub links: Vec<Link>,
}

/// A record as the CLI and API show it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub id: String,
    pub version: u64,
    pub kind: String,
    pub originator: String,
    pub channel: String,
    pub file: String,
    pub tlp: String,
    pub handling_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<String>,
    pub status: String,
    pub created: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub data: Value,
    pub links: Vec<Link>,
    pub channels: Vec<String>,
}

/// One version of a record as its history shows it: when and by which
/// node it was signed, its handling, whether it is the retraction. No
/// content: that is the record itself (`record_get`).
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    pub version: u64,
    pub content_hash: String,
    /// `None` once the version's content was purged (retraction, expiry).
    pub created: Option<String>,
    pub originator: Option<String>,
    pub tlp: Option<String>,
    pub handling_code: Option<String>,
    pub retracted: bool,
    pub purged: bool,
}

fn meta(r: &StoredRecord) -> RecordMeta<'_> {
    RecordMeta {
        id: &r.id,
        originator: &r.originator,
        channel: &r.channel,
        file: &r.file,
        tlp: r.tlp,
        code: r.code.parse().unwrap_or_default(),
    }
}

fn hash_hex(h: &[u8; 32]) -> String {
    hex::encode(h)
}

impl Node {
    /// The record as `scope` may see it: a link whose other end lies
    /// outside the scope is left out, so no answer names a record the
    /// reader may not see (issue 12, finding 10).
    fn view(&self, tx: &mut Tx, scope: &ReadScope, r: StoredRecord) -> NodeResult<RecordView> {
        let channels = tx.placements(&r.id)?;
        let (data, mut links, evaluation) = match &r.signed {
            Some(s) => (
                s.body.data.clone(),
                s.body.links.clone(),
                s.body.handling.evaluation.map(String::from),
            ),
            None => (Value::Null, vec![], None),
        };
        if *scope != ReadScope::everything() {
            let mut visible = Vec::with_capacity(links.len());
            for l in links {
                if tx.record_visible(&l.target, scope)? {
                    visible.push(l);
                }
            }
            links = visible;
        }
        Ok(RecordView {
            id: r.id,
            version: r.version,
            kind: r.kind.as_str().into(),
            originator: r.originator,
            channel: r.channel,
            file: r.file,
            tlp: r.tlp.as_str().into(),
            handling_code: r.code,
            evaluation,
            status: r.status.as_str().into(),
            created: r.created_at,
            expires: r.expires_at,
            data,
            links,
            channels,
        })
    }

    /// Every link target must be a record the actor can see.
    fn check_links(&self, tx: &mut Tx, scope: &ReadScope, links: &[Link]) -> NodeResult<()> {
        tansiq_core::record::check_link_list(links)?;
        for l in links {
            if tx.record(&l.target, scope)?.is_none() {
                return Err(NodeError::bad(format!(
                    "link {}: no record {} that you may see",
                    l.rel, l.target
                )));
            }
        }
        Ok(())
    }

    fn sign_and_store(&self, tx: &mut Tx, body: RecordBody) -> NodeResult<SignedRecord> {
        body.validate()?;
        let signed = SignedRecord::sign(body, &self.identity);
        let names = search_names(&signed.body.data);
        tx.put_record(&signed, &names)?;
        Ok(signed)
    }

    /// Creates and signs a record in a channel of this node. Returns its id.
    pub fn record_add(&self, actor: &Actor, new: NewRecord) -> NodeResult<String> {
        let ids = self.records_add(actor, vec![new], |_| {})?;
        Ok(ids.into_iter().next().expect("one record in, one id out"))
    }

    /// Creates many records in one transaction (imports, bulk loads).
    /// Validation and policy run first, signing is spread over the cores,
    /// then everything is stored and audited in one commit.
    pub fn records_add(
        &self,
        actor: &Actor,
        batch: Vec<NewRecord>,
        progress: impl Fn(usize),
    ) -> NodeResult<Vec<String>> {
        policy::authorize(actor, Action::WriteRecord)?;
        // A bulk write: acknowledgements and urgent peer messages waiting
        // for the store go first (they are short and keep delivery going).
        let _turn = self.federation.turns.wait(false);
        self.commit(|tx, out| self.create_in(tx, actor, batch, &progress, out))
            .inspect_err(|e| self.audit_derived_refusal(actor, e))
    }

    /// Creates records inside the caller's transaction (no checkpoint).
    pub(crate) fn create_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        batch: Vec<NewRecord>,
        progress: &dyn Fn(usize),
        out: &mut Outbox,
    ) -> NodeResult<Vec<String>> {
        let minted = batch
            .into_iter()
            .map(|n| (new_record_id(self.id()), n))
            .collect();
        self.create_minted(tx, actor, minted, progress, out)
    }

    /// [`Node::create_in`] with the ids minted by the caller, so records of
    /// one batch may link to each other (a STIX import's references go
    /// anywhere in the bundle): a link target among the batch's ids needs
    /// no stored record.
    pub(crate) fn create_minted(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        batch: Vec<(String, NewRecord)>,
        progress: &dyn Fn(usize),
        out: &mut Outbox,
    ) -> NodeResult<Vec<String>> {
        let scope = policy::read_scope(actor);
        let in_batch: std::collections::HashSet<String> =
            batch.iter().map(|(id, _)| id.clone()).collect();
        let now = self.signing_time();
        let created = time::format(&now);
        {
            let mut bodies = Vec::with_capacity(batch.len());
            // Each channel's state, read once for the whole call: the
            // checks here and the sending below use the same.
            let mut states: std::collections::HashMap<String, ChannelState> = Default::default();
            // Schema validation is pure: spread it over the cores.
            let validated = par_map(batch, |(id, new)| {
                validate_data(new.kind, &new.data).map(|d| (id, new, d))
            });
            for v in validated {
                let (id, new, data) = v?;
                if !states.contains_key(&new.channel) {
                    let st = load_channel(tx, &new.channel)?;
                    states.insert(new.channel.clone(), st);
                }
                let state = &states[&new.channel];
                let charter = state
                    .charter()
                    .ok_or_else(|| crate::held::no_charter(&new.channel))?;
                policy::may_post(
                    self.id(),
                    &charter.members,
                    state.active.is_some(),
                    &charter.files,
                    &new.file,
                    &new.channel,
                )?;
                let tlp = new.tlp.unwrap_or(charter.default_tlp);
                policy::may_write(actor, self.id(), &new.file, tlp, None)?;
                let stored: Vec<Link> = new
                    .links
                    .iter()
                    .filter(|l| !in_batch.contains(&l.target))
                    .cloned()
                    .collect();
                if stored.len() < new.links.len() {
                    tansiq_core::record::check_link_list(&new.links)?;
                }
                self.check_links(tx, &scope, &stored)?;
                self.check_derived(tx, self.id(), &new.links, &new.channel, &charter.members)?;
                let expires = match (&new.expires, charter.retention_days) {
                    (Some(e), _) => {
                        let t = time::parse_instant(e)
                            .map_err(|e| NodeError::bad(format!("--expires: {e}")))?;
                        if t <= now {
                            return Err(NodeError::bad(format!("--expires {e} is in the past")));
                        }
                        Some(time::format(&t))
                    }
                    (None, Some(days)) => {
                        Some(time::format(&(now + chrono::Duration::days(days.into()))))
                    }
                    (None, None) => None,
                };
                let body = RecordBody {
                    id,
                    version: 1,
                    kind: new.kind,
                    originator: self.id().to_string(),
                    channel: new.channel.clone(),
                    members: charter.members.clone(),
                    file: new.file.clone(),
                    handling: Handling {
                        tlp,
                        code: new.code.unwrap_or_default(),
                        evaluation: new.evaluation,
                        note: None,
                    },
                    created: created.clone(),
                    expires,
                    data,
                    links: new.links,
                    retracted: false,
                };
                body.validate_structure()?;
                bodies.push(body);
            }
            let signed = par_map(bodies, |body| {
                let (signed, hash) = SignedRecord::sign_hashed(body, &self.identity);
                let names = search_names(&signed.body.data);
                (signed, hash, names)
            });
            let mut ids = Vec::with_capacity(signed.len());
            let mut outgoing = Vec::new();
            // One multi-row upsert per 100 records (PostgreSQL: one round
            // trip each; the rest of each record is pipelined).
            let rows: Vec<_> = signed
                .iter()
                .map(|(s, h, n)| (s, h, n.as_slice()))
                .collect();
            tx.put_records_hashed(&rows)?;
            for (i, (signed, hash, _)) in signed.into_iter().enumerate() {
                // Whether the channel has other members to send to.
                let others = states[&signed.body.channel]
                    .active
                    .as_ref()
                    .is_some_and(|a| a.charter.members.len() > 1);
                if others {
                    outgoing.push(Payload::Record {
                        record: signed.clone(),
                        release: None,
                    });
                }
                self.audit(
                    tx,
                    &actor.audit_name(),
                    "record.create",
                    &signed.body.id,
                    json!({"id": signed.body.id, "version": 1, "hash": hash_hex(&hash)}),
                )?;
                ids.push(signed.body.id);
                progress(i + 1);
            }
            // Sealed and sent as one batch: the keys and charters are read
            // once, the envelope signatures made on every core.
            self.distribute_records(tx, &outgoing, &states, out)?;
            Ok(ids)
        }
    }

    /// A new version of this node's record with new data (and, if given,
    /// new links or TLP).
    pub fn record_update(
        &self,
        actor: &Actor,
        id: &str,
        data: Value,
        links: Option<Vec<Link>>,
        tlp: Option<Tlp>,
    ) -> NodeResult<u64> {
        let scope = policy::read_scope(actor);
        self.commit(|tx, out| {
            let cur = tx
                .record(id, &scope)?
                .ok_or_else(|| NodeError::NotFound(format!("no record {id} that you may see")))?;
            self.update_in(tx, actor, cur, data, links, tlp, out)
        })
        .inspect_err(|e| self.audit_derived_refusal(actor, e))
    }

    /// Makes a new version of `cur` inside the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        cur: StoredRecord,
        data: Value,
        links: Option<Vec<Link>>,
        tlp: Option<Tlp>,
        out: &mut Outbox,
    ) -> NodeResult<u64> {
        let scope = policy::read_scope(actor);
        let id = cur.id.clone();
        let Some(signed) = cur.signed.clone() else {
            return Err(NodeError::bad(format!(
                "record {id} is {}; it cannot be changed",
                cur.status.as_str()
            )));
        };
        self.refuse_versions_while_held(tx, &id)?;
        let tlp = tlp.unwrap_or(cur.tlp);
        policy::may_write(actor, self.id(), &cur.file, tlp, Some(&meta(&cur)))?;
        let data = validate_data(cur.kind, &data)?;
        let links = links.unwrap_or(signed.body.links.clone());
        self.check_links(tx, &scope, &links)?;
        self.check_derived(
            tx,
            self.id(),
            &links,
            &signed.body.channel,
            &signed.body.members,
        )?;
        let mut body = signed.body;
        body.version += 1;
        body.data = data;
        body.links = links;
        body.handling.tlp = tlp;
        body.created = time::format(&self.signing_time());
        let signed = self.sign_and_store(tx, body)?;
        // Every channel the record was placed in gets the correction (its
        // home channel, and wherever it was shared since).
        for ch in tx.placements(&id)? {
            self.distribute_record(tx, &ch, &signed, None, out)?;
        }
        self.audit(
            tx,
            &actor.audit_name(),
            "record.update",
            &id,
            json!({"id": id, "version": signed.body.version, "hash": hash_hex(&signed.content_hash())}),
        )?;
        Ok(signed.body.version)
    }

    /// The originator withdraws a record: a signed tombstone replaces it
    /// and its content is purged from this store.
    pub fn record_retract(&self, actor: &Actor, id: &str) -> NodeResult<()> {
        let scope = policy::read_scope(actor);
        self.commit(|tx, out| {
            let cur = tx
                .record(id, &scope)?
                .ok_or_else(|| NodeError::NotFound(format!("no record {id} that you may see")))?;
            self.retract_in(tx, actor, cur, out)
        })?;
        // The store scrubs its files after the purge committed.
        Ok(())
    }

    /// Retracts `cur` inside the caller's transaction.
    pub(crate) fn retract_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        cur: StoredRecord,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let id = cur.id.as_str();
        self.refuse_versions_while_held(tx, id)?;
        {
            let Some(signed) = cur.signed.clone() else {
                return Err(NodeError::bad(format!(
                    "record {id} is already {}",
                    cur.status.as_str()
                )));
            };
            policy::may_write(actor, self.id(), &cur.file, cur.tlp, Some(&meta(&cur)))?;
            let mut body = signed.body;
            body.version += 1;
            body.data = json!({});
            body.links = vec![];
            body.retracted = true;
            body.created = time::format(&self.signing_time());
            let signed = self.sign_and_store(tx, body)?;
            // Every channel the record was placed in hears of the retraction,
            // and every earlier sealed copy held here is purged.
            let earlier = tx.record_envelopes(id)?;
            for ch in tx.placements(id)? {
                self.distribute_record(tx, &ch, &signed, None, out)?;
            }
            // Through the engine (Engine::purge), as the simulation runs it.
            self.federation.purge(self, tx, out, &earlier)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "record.retract",
                id,
                json!({"id": id, "version": signed.body.version, "hash": hash_hex(&signed.content_hash())}),
            )?;
            Ok(())
        }
    }

    /// One record, if the actor may see it. The read is audited.
    pub fn record_get(&self, actor: &Actor, id: &str) -> NodeResult<RecordView> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let r = tx
                .record(id, &scope)?
                .ok_or_else(|| NodeError::NotFound(format!("no record {id} that you may see")))?;
            debug_assert!(policy::may_read(actor, &meta(&r)).is_ok());
            self.audit(
                tx,
                &actor.audit_name(),
                "record.read",
                id,
                json!({"id": id, "version": r.version}),
            )?;
            self.view(tx, &scope, r)
        })
    }

    /// Records the actor may see, filtered. The listing is audited (the
    /// ids returned are committed to, not listed, in the entry).
    pub fn record_list(&self, actor: &Actor, filter: &RecordFilter) -> NodeResult<Vec<RecordView>> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let rows = tx.records(filter, &scope)?;
            let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
            let digest = tansiq_crypto::sha256(ids.join("\n").as_bytes());
            self.audit(
                tx,
                &actor.audit_name(),
                "record.list",
                filter.channel.as_deref().unwrap_or("*"),
                json!({"count": rows.len(), "ids_sha256": hash_hex(&digest)}),
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(self.view(tx, &scope, r)?);
            }
            Ok(out)
        })
    }

    /// Records the actor may see with a name containing `query`. The
    /// query text is audited only as a hash.
    pub fn record_search(
        &self,
        actor: &Actor,
        query: &str,
        limit: u64,
    ) -> NodeResult<Vec<RecordView>> {
        policy::authorize(actor, Action::ReadRecord)?;
        let q = search_norm(query);
        if q.is_empty() {
            return Err(NodeError::bad("the search needs a name"));
        }
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            let rows = tx.search_names(&q, &scope, limit.clamp(1, 1000))?;
            self.audit(
                tx,
                &actor.audit_name(),
                "record.search",
                "*",
                json!({"query_sha256": hash_hex(&tansiq_crypto::sha256(q.as_bytes())), "count": rows.len()}),
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(self.view(tx, &scope, r)?);
            }
            Ok(out)
        })
    }

    /// The versions of a record the actor may see, oldest first: who
    /// signed each and when, and the retraction. The read is audited.
    pub fn record_history(&self, actor: &Actor, id: &str) -> NodeResult<Vec<VersionView>> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            if tx.record(id, &scope)?.is_none() {
                return Err(NodeError::NotFound(format!(
                    "no record {id} that you may see"
                )));
            }
            let versions = tx.record_versions(id)?;
            self.audit(
                tx,
                &actor.audit_name(),
                "record.history",
                id,
                json!({"id": id, "count": versions.len()}),
            )?;
            Ok(versions
                .into_iter()
                .map(|v| {
                    let body = v
                        .body
                        .as_deref()
                        .and_then(|b| serde_json::from_str::<RecordBody>(b).ok());
                    VersionView {
                        version: v.version,
                        content_hash: hash_hex(&v.hash),
                        created: body.as_ref().map(|b| b.created.clone()),
                        originator: body.as_ref().map(|b| b.originator.clone()),
                        tlp: body.as_ref().map(|b| b.handling.tlp.as_str().to_string()),
                        handling_code: body.as_ref().map(|b| b.handling.code.as_str().to_string()),
                        retracted: body.as_ref().is_some_and(|b| b.retracted),
                        purged: body.is_none(),
                    }
                })
                .collect())
        })
    }

    /// Links of a record whose other end the actor may also see.
    pub fn record_links(&self, actor: &Actor, id: &str) -> NodeResult<Vec<Value>> {
        policy::authorize(actor, Action::ReadRecord)?;
        let scope = policy::read_scope(actor);
        self.note_read(|tx| {
            if tx.record(id, &scope)?.is_none() {
                return Err(NodeError::NotFound(format!("no record {id} that you may see")));
            }
            let links = tx.links_of(id, &scope)?;
            self.audit(tx, &actor.audit_name(), "record.links", id, json!({"count": links.len()}))?;
            Ok(links
                .into_iter()
                .map(|l| json!({"src": l.src, "rel": l.rel, "dst": l.dst, "from": l.from, "until": l.until}))
                .collect())
        })
    }

    /// Places a record in another channel of this node, under the
    /// third-party rule (for itself and every record it derives from).
    pub fn record_share(&self, actor: &Actor, id: &str, target: &str) -> NodeResult<()> {
        // A role refused sharing is audited like any refused share (an
        // insider trying is what an auditor wants to see).
        policy::authorize(actor, Action::ShareRecord)
            .map_err(NodeError::from)
            .and_then(|()| self.commit(|tx, out| self.share_in(tx, actor, id, target, out)))
            .inspect_err(|e| self.audit_share_refusal(actor, id, target, e))
    }

    /// A record refused because what it derives from may not go to its
    /// channel (the third-party rule) leaves an audit entry of its own.
    fn audit_derived_refusal(&self, actor: &Actor, e: &NodeError) {
        if let NodeError::Refused(r) = e {
            if r.rule == policy::Rule::ThirdParty {
                self.audit_refused(
                    actor,
                    "record.derived.refused",
                    "",
                    json!({"rule": r.rule.name()}),
                );
            }
        }
    }

    /// A refused share leaves an audit entry of its own (the refused
    /// change itself left nothing behind).
    pub(crate) fn audit_share_refusal(&self, actor: &Actor, id: &str, target: &str, e: &NodeError) {
        if let NodeError::Refused(r) = e {
            self.audit_refused(
                actor,
                "record.share.refused",
                id,
                json!({"id": id, "channel": target, "rule": r.rule.name()}),
            );
        }
    }

    /// Audits a refusal in a transaction of its own: the refused change
    /// itself left nothing behind.
    pub(crate) fn audit_refused(
        &self,
        actor: &Actor,
        action: &str,
        object: &str,
        details: serde_json::Value,
    ) {
        let _ = self.commit(|tx, _| {
            self.audit(tx, &actor.audit_name(), action, object, details)?;
            self.checkpoint_in(tx)
        });
    }

    /// The third-party rule for `sources` (a record and what it derives
    /// from) placed in `target` with members `members`, with the
    /// originators' releases this node holds for `target`: refused (exit
    /// 3, naming the rule) unless policy allows every one.
    fn may_share_sources(
        &self,
        tx: &mut Tx,
        sharer: &str,
        sources: &[StoredRecord],
        target: &str,
        members: &[String],
    ) -> NodeResult<()> {
        let releases = releases_for(tx, sources, target)?;
        let share_sources = share_sources(sources, &releases);
        policy::may_share(sharer, &share_sources, target, members).map_err(NodeError::Refused)
    }

    /// The export rule for `rec` and everything it is derived from: may
    /// this node let it leave the federation (docs/POLICY.md, "Export")?
    pub(crate) fn may_export(&self, tx: &mut Tx, rec: StoredRecord) -> NodeResult<()> {
        if rec.originator == self.id() && !derives(&rec) {
            return Ok(());
        }
        let sources = with_derived(tx, vec![rec])?;
        let target = policy::export_destination(self.id());
        let releases = releases_for(tx, &sources, &target)?;
        policy::may_export(self.id(), &share_sources(&sources, &releases))
            .map_err(NodeError::Refused)
    }
}

/// Whether a record links to anything it is derived from.
fn derives(rec: &StoredRecord) -> bool {
    rec.signed
        .as_ref()
        .is_some_and(|s| s.body.links.iter().any(|l| l.rel == LinkType::DerivedFrom))
}

/// The originator's release for `target` this node holds, per source.
fn releases_for(
    tx: &mut Tx,
    sources: &[StoredRecord],
    target: &str,
) -> NodeResult<Vec<Option<tansiq_core::release::Release>>> {
    let mut releases = Vec::new();
    for s in sources {
        let rel = tx
            .granted_releases(&s.id, target)?
            .into_iter()
            .filter_map(|r| r.signed)
            .filter_map(|j| serde_json::from_str::<tansiq_core::release::SignedRelease>(&j).ok())
            .map(|s| s.release)
            .next();
        releases.push(rel);
    }
    Ok(releases)
}

/// What the third-party rule needs of each source.
fn share_sources<'a>(
    sources: &'a [StoredRecord],
    releases: &'a [Option<tansiq_core::release::Release>],
) -> Vec<ShareSource<'a>> {
    sources
        .iter()
        .zip(releases)
        .map(|(s, rel)| ShareSource {
            id: &s.id,
            originator: &s.originator,
            home_channel: &s.channel,
            home_members: s
                .signed
                .as_ref()
                .map(|x| x.body.members.as_slice())
                .unwrap_or(&[]),
            tlp: s.tlp,
            code: s.code.parse().unwrap_or_default(),
            release: rel.as_ref(),
        })
        .collect()
}

impl Node {
    /// A record of this node placed in `channel` (members `members`) and
    /// linked as derived from others: the third-party rule holds for
    /// everything it derives from, as if those were shared there.
    ///
    /// `sharer` is the node that placed it: this node for its own records,
    /// the sender for a record received from its originator — which checks
    /// the sources this node holds (it may hold none).
    pub(crate) fn check_derived(
        &self,
        tx: &mut Tx,
        sharer: &str,
        links: &[Link],
        channel: &str,
        members: &[String],
    ) -> NodeResult<()> {
        let mut roots = Vec::new();
        for l in links.iter().filter(|l| l.rel == LinkType::DerivedFrom) {
            if let Some(r) = tx.record(&l.target, &ReadScope::everything())? {
                roots.push(r);
            }
        }
        if roots.is_empty() {
            return Ok(());
        }
        let mut sources = Vec::new();
        // A source already placed in the channel (shared there under the
        // rule, or received there) discloses nothing more.
        for s in with_derived(tx, roots)? {
            if !tx.placements(&s.id)?.iter().any(|c| c == channel) {
                sources.push(s);
            }
        }
        self.may_share_sources(tx, sharer, &sources, channel, members)
    }

    /// Sends the originator's new version (or tombstone) `record` of a
    /// record this node shared onward into `channel`, with the release it
    /// was shared under. Nothing if this node is no longer an active
    /// member there.
    pub(crate) fn forward_version(
        &self,
        tx: &mut Tx,
        record: &SignedRecord,
        channel: &str,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let active = crate::held::find_channel(tx, channel)?
            .and_then(|st| st.active)
            .is_some_and(|a| a.charter.is_member(self.id()));
        if !active {
            return Ok(());
        }
        let id = &record.body.id;
        let release = tx
            .granted_releases(id, channel)?
            .into_iter()
            .filter_map(|r| r.signed)
            .find_map(|j| serde_json::from_str::<tansiq_core::release::SignedRelease>(&j).ok());
        self.distribute_record(tx, channel, record, release.as_ref(), out)?;
        self.audit(
            tx,
            "node",
            "record.forward",
            id,
            json!({"id": id, "version": record.body.version, "channel": channel}),
        )?;
        Ok(())
    }

    /// [`Node::record_share`] inside the caller's transaction.
    pub(crate) fn share_in(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        id: &str,
        target: &str,
        out: &mut Outbox,
    ) -> NodeResult<()> {
        let scope = policy::read_scope(actor);
        let rec = tx
            .record(id, &scope)?
            .ok_or_else(|| NodeError::NotFound(format!("no record {id} that you may see")))?;
        if rec.signed.is_none() {
            return Err(NodeError::bad(format!(
                "record {id} is {}",
                rec.status.as_str()
            )));
        }
        let state = load_channel(tx, target)?;
        let charter = state
            .charter()
            .cloned()
            .ok_or_else(|| crate::held::no_charter(target))?;
        policy::may_post(
            self.id(),
            &charter.members,
            state.active.is_some(),
            &charter.files,
            &rec.file,
            target,
        )?;
        // The record and everything it is derived from, transitively.
        let sources = with_derived(tx, vec![rec])?;
        self.may_share_sources(tx, self.id(), &sources, target, &charter.members)?;
        tx.add_placement(id, target, "share")?;
        // The record travels with the originator's release when this
        // node is not its originator.
        let record = sources[0]
            .signed
            .clone()
            .expect("checked above: not purged");
        let release = if record.body.originator == self.id() {
            None
        } else {
            tx.granted_releases(id, target)?
                .into_iter()
                .filter_map(|r| r.signed)
                .find_map(|j| serde_json::from_str::<tansiq_core::release::SignedRelease>(&j).ok())
        };
        self.distribute_record(tx, target, &record, release.as_ref(), out)?;
        self.audit(
            tx,
            &actor.audit_name(),
            "record.share",
            id,
            json!({"id": id, "channel": target}),
        )?;
        Ok(())
    }
}

/// Most records a derived-from walk visits before it refuses: the walk
/// never stops early and lets the rest through (a padded record must not
/// hide a source past the bound).
const MAX_DERIVED_WALK: usize = 4096;

/// `sources` and every record they are derived from, transitively, as
/// this node holds them — each once. A walk longer than
/// [`MAX_DERIVED_WALK`] is refused under the third-party rule (fails
/// closed).
pub(crate) fn with_derived(
    tx: &mut Tx,
    sources: Vec<StoredRecord>,
) -> NodeResult<Vec<StoredRecord>> {
    let mut seen: std::collections::HashSet<String> = Default::default();
    let mut out: Vec<StoredRecord> = Vec::with_capacity(sources.len());
    for s in sources {
        if seen.insert(s.id.clone()) {
            out.push(s);
        }
    }
    let mut i = 0;
    while i < out.len() {
        let derived: Vec<String> = out[i]
            .signed
            .as_ref()
            .map(|s| {
                s.body
                    .links
                    .iter()
                    .filter(|l| l.rel == LinkType::DerivedFrom)
                    .map(|l| l.target.clone())
                    .collect()
            })
            .unwrap_or_default();
        for d in derived {
            if seen.insert(d.clone()) {
                if let Some(r) = tx.record(&d, &ReadScope::everything())? {
                    out.push(r);
                }
            }
        }
        if out.len() > MAX_DERIVED_WALK {
            return Err(NodeError::Refused(policy::Refusal {
                rule: policy::Rule::ThirdParty,
                reason: format!(
                    "the record derives from more than {MAX_DERIVED_WALK} records; \
                     each must be checked under the third-party rule"
                ),
            }));
        }
        i += 1;
    }
    Ok(out)
}

/// The receiving side.
impl Node {
    /// Takes in a record version (or tombstone) that `env` brought: from
    /// its originator, or passed on by a holder under the third-party
    /// rule (`record.receive`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn receive_record(
        &self,
        tx: &mut Tx,
        env: &Envelope,
        record: SignedRecord,
        release: Option<SignedRelease>,
        check: Option<RecordCheck>,
        keys: &KeyBook,
        batch: &mut Batch,
    ) -> Result<(), Outcome> {
        let h = env.header();
        let sender = h.originator.as_str();
        let channel = h.channel.as_str();
        let b = &record.body;
        // A record id belongs to its originator for ever: a version or
        // tombstone of an id signed by anyone else is a forgery,
        // whoever relays it.
        if tansiq_core::ids::record_id_owner(&b.id) != Some(b.originator.as_str()) {
            return Err(Outcome::Hostile(format!(
                "record {} signed by {}, which does not own it",
                b.id, b.originator
            )));
        }
        // Placed, like any post, only in an active channel of the
        // sender, in one of its files (a partner cannot put a record
        // into a file the channel does not carry, where other users
        // would see it). A tombstone carries nothing to see, and a
        // retraction must reach every holder whatever became of the
        // channel's terms since.
        if !b.retracted {
            batch.may_post(tx, sender, channel, &b.file)?;
        }
        // Validated before the transaction when prepared (the same body:
        // the envelope id binds it).
        match check.as_ref().map(|c| &c.valid) {
            Some(v) => v.clone(),
            None => b.validate().map_err(|e| e.to_string()),
        }
        .map_err(|e| Outcome::Reject(format!("record: {e}")))?;
        let (okey, check) = originator_key(&record, check, keys)?;
        let target: Vec<String> = h
            .recipients
            .iter()
            .map(|r| r.as_str().to_string())
            .collect();
        self.check_onward(
            tx,
            sender,
            channel,
            &target,
            &record,
            release.as_ref(),
            &okey,
        )?;
        self.keep_received(tx, env, sender, channel, record, check, batch)
    }

    /// The third-party rule on a received record: a holder passing on
    /// another node's record needs the rule's consent (with the
    /// originator's signed release, verified with `okey`); a record its
    /// sender derived from others' records is checked again against the
    /// sources held here.
    #[allow(clippy::too_many_arguments)]
    fn check_onward(
        &self,
        tx: &mut Tx,
        sender: &str,
        channel: &str,
        target: &[String],
        record: &SignedRecord,
        release: Option<&SignedRelease>,
        okey: &[u8; 32],
    ) -> Result<(), Outcome> {
        let b = &record.body;
        if sender != b.originator {
            // A holder passes on another node's record: the third-party
            // rule, decided by the policy module, with the originator's
            // signed release if any.
            let rel = match release {
                Some(r) => {
                    r.verify(okey)
                        .map_err(|e| Outcome::Reject(format!("release: {e}")))?;
                    Some(r.release.clone())
                }
                None => None,
            };
            let src = ShareSource {
                id: &b.id,
                originator: &b.originator,
                home_channel: &b.channel,
                home_members: &b.members,
                tlp: b.handling.tlp,
                code: b.handling.code,
                release: rel.as_ref(),
            };
            if let Err(refusal) = policy::may_share(sender, &[src], channel, target) {
                return Err(Outcome::Reject(refusal.to_string()));
            }
        } else if b.links.iter().any(|l| l.rel == LinkType::DerivedFrom) {
            // A record its sender made from others' records: the sender
            // checked the rule against them; this node checks again
            // against the sources it holds (a modified sender could skip
            // its check, though not drop a link it signed).
            match self.check_derived(tx, sender, &b.links, channel, target) {
                Ok(()) => {}
                Err(NodeError::Refused(r)) => return Err(Outcome::Reject(r.to_string())),
                Err(e) => return Err(Outcome::Fail(e)),
            }
        }
        Ok(())
    }

    /// Stores a received version (or only its placement, if this node
    /// holds it or a later one), purges the other sealed copies of a
    /// retracted record, queues the forwards owed to onward copies,
    /// audits it, and screens a new listing.
    #[allow(clippy::too_many_arguments)]
    fn keep_received(
        &self,
        tx: &mut Tx,
        env: &Envelope,
        sender: &str,
        channel: &str,
        record: SignedRecord,
        check: Option<RecordCheck>,
        batch: &mut Batch,
    ) -> Result<(), Outcome> {
        let b = &record.body;
        let everything = ReadScope::everything();
        let held = tx.record(&b.id, &everything)?;
        if let Some(cur) = &held {
            // Ids made before they named their owner: the owner is the
            // one stored first.
            if cur.originator != b.originator {
                return Err(Outcome::Hostile(format!(
                    "record {} belongs to {}, not to {}",
                    b.id, cur.originator, b.originator
                )));
            }
        }
        tx.put_record_envelope(&b.id, &env.id().0)?;
        if b.retracted {
            // Every other sealed copy of the record held here goes too:
            // this node could otherwise still open them.
            for other in tx.record_envelopes(&b.id)? {
                if other != env.id().0 {
                    tx.sync_purge_envelope(&other)?;
                }
            }
        }
        if let Some(cur) = held {
            if cur.version >= b.version {
                // Already hold this version or a later one: placement only.
                if cur.signed.is_none() && !b.retracted {
                    // An earlier version arriving after the retraction
                    // (delivery is not in stream order): its sealed copy
                    // goes like every other, or this node could still
                    // open it (found by the node simulation, issue 17).
                    tx.sync_purge_envelope(&env.id().0)?;
                }
                tx.add_placement(&b.id, channel, "received")?;
                return Ok(());
            }
        }
        let (hash, names) = match check {
            Some(c) => (c.hash, c.names),
            None => (record.content_hash(), search_names(&b.data)),
        };
        tx.put_record_hashed(&record, &hash, &names)?;
        tx.add_placement(&b.id, channel, "received")?;
        // The originator's correction or retraction follows every copy
        // this node shared onward (signed by the originator: the
        // forwarding holder is trusted for nothing).
        // (A first version cannot have been shared onward yet.)
        let onward = if b.version > 1 {
            tx.shared_placements(&b.id)?
        } else {
            Vec::new()
        };
        for ch in onward {
            if ch != channel {
                batch.forwards.push(Forward {
                    record: record.clone(),
                    channel: ch,
                });
            }
        }
        self.audit(
            tx,
            &format!("node:{sender}"),
            "record.receive",
            &b.id,
            json!({"id": b.id, "version": b.version, "hash": hex::encode(hash), "from": sender, "channel": channel}),
        )?;
        if b.kind == Kind::Person && !b.retracted && b.data.get("listing").is_some() {
            batch.screen_ids.push(b.id.clone());
        }
        Ok(())
    }
}

/// The originator's key that verifies a received record (the one it held
/// when it signed this version), with the check made before the
/// transaction if it was made with that key.
fn originator_key(
    record: &SignedRecord,
    check: Option<RecordCheck>,
    keys: &KeyBook,
) -> Result<([u8; 32], Option<RecordCheck>), Outcome> {
    let b = &record.body;
    if !keys.contains_key(&b.originator) {
        return Err(Outcome::Reject(format!(
            "record originator {} is not a known peer",
            b.originator
        )));
    }
    // The keys the originator had when it signed this version (its
    // current one unless it rotated since).
    let okeys = keys.keys_at_time(&b.originator, &b.created);
    // Verified before the transaction with one of these keys, or now.
    let check = check.filter(|c| okeys.contains(&c.key));
    let okey = match &check {
        Some(c) => c.key,
        None => {
            let mut found = None;
            let mut why = "no key of the originator for its date".to_string();
            for k in &okeys {
                match record.verify(k) {
                    Ok(()) => {
                        found = Some(*k);
                        break;
                    }
                    Err(e) => why = e.0,
                }
            }
            found.ok_or(Outcome::Reject(why))?
        }
    };
    Ok((okey, check))
}
