//! The store conformance suite: written once, run against every backend
//! (tests/conformance.rs builds a fresh store per backend and hands it
//! here). Every check works in its own ids, files and channels, so the
//! checks share one store without seeing each other's rows, and every
//! assertion that is about the whole store (need-to-know) holds whatever
//! the other checks left in it.

#![allow(dead_code)] // each test binary uses the parts it needs

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::json;
use tansiq_core::audit::AuditEntry;
use tansiq_core::handling::{Handling, Tlp};
use tansiq_core::policy::ReadScope;
use tansiq_core::record::{Kind, Link, LinkType, RecordBody, SignedRecord};
use tansiq_core::user::{Role, User};
use tansiq_crypto::Identity;
use tansiq_store::schema::SCHEMA_VERSION;
use tansiq_store::sql::Dialect;
use tansiq_store::{
    ChannelRow, CheckpointRow, PeerRow, RecordFilter, RecordStatus, ReleaseRow, Store, StoreError,
    StoredRecord,
};

/// A fresh id-safe tag: `{prefix}-{16 hex}`.
pub fn uid(prefix: &str) -> String {
    let b: [u8; 8] = tansiq_crypto::random_bytes();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// A record version under construction.
#[derive(Clone)]
pub struct Rec {
    pub id: String,
    pub version: u64,
    pub kind: Kind,
    pub channel: String,
    pub file: String,
    pub tlp: Tlp,
    pub names: Vec<String>,
    pub links: Vec<Link>,
    pub created: String,
    pub expires: Option<String>,
    pub notes: Option<String>,
    pub retracted: bool,
}

impl Rec {
    pub fn new(id: &str, channel: &str, file: &str) -> Rec {
        Rec {
            id: id.to_string(),
            version: 1,
            kind: Kind::Person,
            channel: channel.to_string(),
            file: file.to_string(),
            tlp: Tlp::Amber,
            names: vec![format!("name of {id}")],
            links: Vec::new(),
            created: "2025-03-01T10:00:00Z".into(),
            expires: None,
            notes: None,
            retracted: false,
        }
    }

    pub fn tlp(mut self, t: Tlp) -> Rec {
        self.tlp = t;
        self
    }
    pub fn kind(mut self, k: Kind) -> Rec {
        self.kind = k;
        self
    }
    pub fn names(mut self, n: &[&str]) -> Rec {
        self.names = n.iter().map(|s| s.to_string()).collect();
        self
    }
    pub fn created(mut self, c: &str) -> Rec {
        self.created = c.to_string();
        self
    }
    pub fn link(mut self, rel: LinkType, target: &str) -> Rec {
        self.links.push(Link {
            rel,
            target: target.to_string(),
            from: None,
            until: None,
            note: None,
        });
        self
    }

    pub fn sign(&self, who: &Identity) -> SignedRecord {
        let data = if self.retracted {
            json!({})
        } else {
            let mut d = json!({ "names": self.names });
            if let Some(n) = &self.notes {
                d["notes"] = json!(n);
            }
            d
        };
        let body = RecordBody {
            id: self.id.clone(),
            version: self.version,
            kind: self.kind,
            originator: who.node_id(),
            channel: self.channel.clone(),
            members: vec![who.node_id()],
            file: self.file.clone(),
            handling: Handling {
                tlp: self.tlp,
                ..Handling::default()
            },
            created: self.created.clone(),
            expires: self.expires.clone(),
            data,
            links: if self.retracted {
                Vec::new()
            } else {
                self.links.clone()
            },
            retracted: self.retracted,
        };
        SignedRecord::sign(body, who)
    }

    /// The names to index (the node normalises them; the store takes
    /// them as given, so tests can store upper case too).
    pub fn norms(&self) -> Vec<String> {
        if self.retracted {
            return Vec::new();
        }
        self.names.clone()
    }

    /// Signs and stores this version; returns what was stored.
    pub fn put(&self, store: &Store, who: &Identity) -> SignedRecord {
        let s = self.sign(who);
        store
            .write(|tx| tx.put_record(&s, &self.norms()))
            .unwrap_or_else(|e| panic!("put_record {}: {e}", self.id));
        s
    }

    /// The tombstone version after this one.
    pub fn retraction(&self) -> Rec {
        let mut r = self.clone();
        r.version += 1;
        r.retracted = true;
        r
    }
}

pub fn scope(files: Option<&[&str]>, max: Option<Tlp>) -> ReadScope {
    ReadScope {
        files: files.map(|f| f.iter().map(|s| s.to_string()).collect()),
        max_tlp: max,
    }
}

fn all() -> ReadScope {
    ReadScope::everything()
}

fn in_channel(ch: &str) -> RecordFilter {
    RecordFilter {
        channel: Some(ch.to_string()),
        ..RecordFilter::default()
    }
}

fn ids(rs: &[StoredRecord]) -> Vec<String> {
    rs.iter().map(|r| r.id.clone()).collect()
}

fn set<I: IntoIterator<Item = String>>(i: I) -> BTreeSet<String> {
    i.into_iter().collect()
}

fn get(store: &Store, id: &str, sc: &ReadScope) -> Option<StoredRecord> {
    store.read(|tx| tx.record(id, sc)).unwrap()
}

fn list(store: &Store, f: &RecordFilter, sc: &ReadScope) -> Vec<StoredRecord> {
    store.read(|tx| tx.records(f, sc)).unwrap()
}

fn count(store: &Store, f: &RecordFilter, sc: &ReadScope) -> u64 {
    store.read(|tx| tx.count_records(f, sc)).unwrap()
}

fn search(store: &Store, q: &str, sc: &ReadScope) -> Vec<String> {
    ids(&store.read(|tx| tx.search_names(q, sc, 1000)).unwrap())
}

fn user(name: &str, role: Role, files: &[&str]) -> User {
    let files: Vec<String> = files.iter().map(|s| s.to_string()).collect();
    User::new(name, role, &files).unwrap()
}

type Check = (&'static str, fn(&Store));

/// Every check of the suite, by name.
pub const CHECKS: &[Check] = &[
    ("meta", meta),
    ("peers_upsert_and_order", peers_upsert_and_order),
    ("users_by_token_hash", users_by_token_hash),
    (
        "user_tokens_rotate_revoke_remove",
        user_tokens_rotate_revoke_remove,
    ),
    ("channels_upsert", channels_upsert),
    (
        "record_roundtrip_and_versions",
        record_roundtrip_and_versions,
    ),
    ("record_filters", record_filters),
    ("counts_match_lists", counts_match_lists),
    (
        "name_search_and_like_escaping",
        name_search_and_like_escaping,
    ),
    (
        "name_search_follows_versions_scope_and_order",
        name_search_follows_versions_scope_and_order,
    ),
    ("links_of_scope_both_ends", links_of_scope_both_ends),
    ("links_around_a_frontier", links_around_a_frontier),
    ("placements", placements),
    ("records_put_as_a_batch", records_put_as_a_batch),
    (
        "retraction_purges_but_keeps_tombstone",
        retraction_purges_but_keeps_tombstone,
    ),
    ("expiry_listing_and_purge", expiry_listing_and_purge),
    (
        "records_gen_counts_committed_record_changes",
        records_gen_counts_committed_record_changes,
    ),
    ("large_and_unicode_content", large_and_unicode_content),
    ("releases", releases),
    ("audit_append_entries_head", audit_append_entries_head),
    (
        "audit_same_transaction_as_change",
        audit_same_transaction_as_change,
    ),
    (
        "audit_frontier_across_transactions",
        audit_frontier_across_transactions,
    ),
    (
        "checkpoints_and_cosignatures_idempotent",
        checkpoints_and_cosignatures_idempotent,
    ),
    (
        "failed_statement_poisons_transaction",
        failed_statement_poisons_transaction,
    ),
    (
        "read_transaction_refuses_writes",
        read_transaction_refuses_writes,
    ),
    ("relaxed_write_is_a_write", relaxed_write_is_a_write),
    ("audited_reads_join_the_log", audited_reads_join_the_log),
    (
        "sync_envelope_upsert_idempotent",
        sync::sync_envelope_upsert_idempotent,
    ),
    (
        "sync_envelope_custody_rules",
        sync::sync_envelope_custody_rules,
    ),
    ("sync_purge_keeps_the_stub", sync::sync_purge_keeps_the_stub),
    (
        "sync_stream_range_order_limit_custody",
        sync::sync_stream_range_order_limit_custody,
    ),
    ("sync_streams_upsert", sync::sync_streams_upsert),
    (
        "sync_outbox_put_done_claim_counts",
        sync::sync_outbox_put_done_claim_counts,
    ),
    ("sync_outbox_leases", sync::sync_outbox_leases),
    ("sync_alarms_append_only", sync::sync_alarms_append_only),
    ("sync_peer_links", sync::sync_peer_links),
    ("sync_holds_and_deferred", sync::sync_holds_and_deferred),
    (
        "sync_failed_transaction_leaves_nothing",
        sync::sync_failed_transaction_leaves_nothing,
    ),
    ("need_to_know_in_sql", need_to_know_in_sql),
    ("need_to_know_whole_store", need_to_know_whole_store),
];

/// Runs every check against `store`, reports each, and fails listing
/// the checks that failed. Returns how many ran.
pub fn suite(backend: &str, store: &Store) -> usize {
    run_checks(backend, CHECKS, |f| f(store))
}

pub fn run_checks<T: Copy>(backend: &str, checks: &[(&'static str, T)], run: impl Fn(T)) -> usize {
    let mut failed = Vec::new();
    for (name, f) in checks {
        match catch_unwind(AssertUnwindSafe(|| run(*f))) {
            Ok(()) => eprintln!("conformance[{backend}] {name} ... ok"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                eprintln!("conformance[{backend}] {name} ... FAILED: {msg}");
                failed.push(*name);
            }
        }
    }
    eprintln!(
        "conformance[{backend}]: {} passed, {} failed",
        checks.len() - failed.len(),
        failed.len()
    );
    assert!(failed.is_empty(), "{backend}: failed checks: {failed:?}");
    checks.len()
}

// ---- meta, peers, users, channels --------------------------------------

fn meta(store: &Store) {
    let k = uid("meta");
    assert_eq!(store.read(|tx| tx.meta_get(&k)).unwrap(), None);
    store.write(|tx| tx.meta_set(&k, "one")).unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("one")
    );
    store.write(|tx| tx.meta_set(&k, "two")).unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("two")
    );
    let v = store.read(|tx| tx.meta_get("schema_version")).unwrap();
    assert_eq!(v, Some(SCHEMA_VERSION.to_string()));
}

fn peers_upsert_and_order(store: &Store) {
    let (a, b) = (uid("peer"), uid("peer"));
    let tag = uid("");
    let mk = |id: &str, name: &str, endpoint: &str| PeerRow {
        id: id.to_string(),
        name: format!("{name}{tag}"),
        country: "DZ".into(),
        endpoint: endpoint.into(),
        card: json!({"id": id}).to_string(),
    };
    store
        .write(|tx| {
            tx.put_peer(&mk(&a, "alpha", "http://a"), "2025-01-01T00:00:00Z")?;
            tx.put_peer(&mk(&b, "Bravo", "http://b"), "2025-01-01T00:00:00Z")
        })
        .unwrap();
    // Upsert: the same id again replaces name, endpoint and card.
    let a2 = mk(&a, "alpha", "http://a2");
    store
        .write(|tx| tx.put_peer(&a2, "2025-02-01T00:00:00Z"))
        .unwrap();
    assert_eq!(store.read(|tx| tx.peer(&a)).unwrap(), Some(a2.clone()));
    assert_eq!(store.read(|tx| tx.peer(&uid("none"))).unwrap(), None);
    let mine: Vec<PeerRow> = store
        .read(|tx| tx.peers())
        .unwrap()
        .into_iter()
        .filter(|p| p.id == a || p.id == b)
        .collect();
    // Bytewise order on every backend: "B" (0x42) sorts before "a" (0x61).
    assert_eq!(mine.len(), 2, "one row per id");
    assert_eq!(mine[0].id, b, "names order bytewise (B < a)");
    assert_eq!(mine[1], a2);
}

fn user_tokens_rotate_revoke_remove(store: &Store) {
    let n = uid("user");
    let (h1, h2, dead): ([u8; 32], [u8; 32], [u8; 32]) = (
        tansiq_crypto::random_bytes(),
        tansiq_crypto::random_bytes(),
        tansiq_crypto::random_bytes(),
    );
    let u = user(&n, Role::Officer, &["f1"]);
    store
        .write(|tx| tx.add_user(&u, &h1, "2025-01-01T00:00:00Z"))
        .unwrap();
    // a token from before expiries were stored has none
    let row = store.read(|tx| tx.user_row(&n)).unwrap().unwrap();
    assert_eq!(row.user, u);
    assert_eq!(row.created_at, "2025-01-01T00:00:00Z");
    assert_eq!((row.token_expires_at, row.token_revoked_at), (None, None));
    // rotation: the old hash finds nobody, the new one the user
    assert!(store
        .write(|tx| tx.set_user_token(&n, &h2, "2025-04-01T00:00:00Z"))
        .unwrap());
    assert_eq!(store.read(|tx| tx.user_row_by_token(&h1)).unwrap(), None);
    let row = store.read(|tx| tx.user_row_by_token(&h2)).unwrap().unwrap();
    assert_eq!(
        row.token_expires_at.as_deref(),
        Some("2025-04-01T00:00:00Z")
    );
    // revocation: no token finds it, the date is kept
    assert!(store
        .write(|tx| tx.revoke_user_token(&n, &dead, "2025-02-01T00:00:00Z"))
        .unwrap());
    assert_eq!(store.read(|tx| tx.user_row_by_token(&h2)).unwrap(), None);
    let row = store.read(|tx| tx.user_row(&n)).unwrap().unwrap();
    assert_eq!(
        row.token_revoked_at.as_deref(),
        Some("2025-02-01T00:00:00Z")
    );
    assert!(store
        .read(|tx| tx.user_rows())
        .unwrap()
        .iter()
        .any(|r| r.user.name == n));
    // a new token clears the revocation
    assert!(store
        .write(|tx| tx.set_user_token(&n, &h1, "2025-05-01T00:00:00Z"))
        .unwrap());
    let row = store.read(|tx| tx.user_row_by_token(&h1)).unwrap().unwrap();
    assert_eq!(row.token_revoked_at, None);
    // removal: gone for every lookup; a second removal finds nothing
    assert!(store.write(|tx| tx.remove_user(&n)).unwrap());
    assert!(!store.read(|tx| tx.user_exists(&n)).unwrap());
    assert_eq!(store.read(|tx| tx.user_row_by_token(&h1)).unwrap(), None);
    assert!(!store.write(|tx| tx.remove_user(&n)).unwrap());
    assert!(!store
        .write(|tx| tx.set_user_token(&n, &h2, "2025-05-01T00:00:00Z"))
        .unwrap());
    assert!(!store
        .write(|tx| tx.revoke_user_token(&n, &dead, "2025-05-01T00:00:00Z"))
        .unwrap());
}

fn users_by_token_hash(store: &Store) {
    let n1 = uid("user");
    let n2 = uid("user");
    let h1: [u8; 32] = tansiq_crypto::random_bytes();
    let h2: [u8; 32] = tansiq_crypto::random_bytes();
    let u1 = user(&n1, Role::Analyst, &["f2", "f1"]);
    store
        .write(|tx| tx.add_user(&u1, &h1, "2025-01-01T00:00:00Z"))
        .unwrap();
    assert!(store.read(|tx| tx.user_exists(&n1)).unwrap());
    assert!(!store.read(|tx| tx.user_exists(&n2)).unwrap());
    let found = store.read(|tx| tx.user_by_token(&h1)).unwrap().unwrap();
    assert_eq!(found, u1);
    assert_eq!(found.files, vec!["f1".to_string(), "f2".to_string()]);
    assert_eq!(store.read(|tx| tx.user_by_token(&h2)).unwrap(), None);

    // The same token hash for another user: a conflict, nothing stored.
    let u2 = user(&n2, Role::Officer, &[]);
    let r = store.write(|tx| tx.add_user(&u2, &h1, "2025-01-01T00:00:00Z"));
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert!(!store.read(|tx| tx.user_exists(&n2)).unwrap());
    // The same name again: a conflict too.
    let r = store.write(|tx| tx.add_user(&u1, &h2, "2025-01-01T00:00:00Z"));
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert_eq!(store.read(|tx| tx.user_by_token(&h2)).unwrap(), None);

    store
        .write(|tx| tx.add_user(&u2, &h2, "2025-01-01T00:00:00Z"))
        .unwrap();
    let users = store.read(|tx| tx.users()).unwrap();
    let mine: Vec<&User> = users
        .iter()
        .filter(|u| u.name == n1 || u.name == n2)
        .collect();
    assert_eq!(mine.len(), 2);
    let mut sorted: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    sorted.sort();
    let listed: Vec<&str> = users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(listed, sorted, "users are listed by name");
    assert_eq!(
        store
            .read(|tx| tx.user_by_token(&h2))
            .unwrap()
            .unwrap()
            .role,
        Role::Officer
    );
}

fn channels_upsert(store: &Store) {
    let id = uid("ch");
    let mut c = ChannelRow {
        id: id.clone(),
        name: "Sahel".into(),
        status: "pending".into(),
        state: json!({"v": 1}).to_string(),
    };
    store
        .write(|tx| tx.put_channel(&c, "2025-01-01T00:00:00Z"))
        .unwrap();
    c.status = "active".into();
    c.state = json!({"v": 2}).to_string();
    store
        .write(|tx| tx.put_channel(&c, "2025-01-02T00:00:00Z"))
        .unwrap();
    let got = store.read(|tx| tx.channel(&id)).unwrap().unwrap();
    assert_eq!(
        (got.status.as_str(), got.state.as_str()),
        ("active", c.state.as_str())
    );
    let n = store
        .read(|tx| tx.channels())
        .unwrap()
        .iter()
        .filter(|x| x.id == id)
        .count();
    assert_eq!(n, 1);
    assert!(store.read(|tx| tx.channel(&uid("none"))).unwrap().is_none());
}

// ---- records -----------------------------------------------------------

fn record_roundtrip_and_versions(store: &Store) {
    let who = Identity::generate();
    let (ch, f, id) = (uid("ch"), uid("f"), uid("rec"));
    let mut r = Rec::new(&id, &ch, &f).tlp(Tlp::Green);
    r.expires = Some("2999-01-01T00:00:00Z".into());
    let v1 = r.put(store, &who);
    let got = get(store, &id, &all()).expect("stored");
    assert_eq!(got.id, id);
    assert_eq!(got.version, 1);
    assert_eq!(got.kind, Kind::Person);
    assert_eq!(got.originator, who.node_id());
    assert_eq!(
        (got.channel.as_str(), got.file.as_str()),
        (ch.as_str(), f.as_str())
    );
    assert_eq!(got.tlp, Tlp::Green);
    assert_eq!(got.code, "H2");
    assert_eq!(got.status, RecordStatus::Active);
    assert_eq!(got.created_at, r.created);
    assert_eq!(got.expires_at.as_deref(), Some("2999-01-01T00:00:00Z"));
    assert_eq!(got.signed.as_ref(), Some(&v1));
    assert_eq!(got.content_hash, v1.content_hash());
    v1.verify(&who.signing_public())
        .expect("the stored copy still verifies");

    // A new version replaces the current one; both stay in the history.
    let mut r2 = r.clone().tlp(Tlp::Amber).names(&["Second Name"]);
    r2.version = 2;
    let v2 = r2.put(store, &who);
    let got = get(store, &id, &all()).unwrap();
    assert_eq!((got.version, got.tlp), (2, Tlp::Amber));
    assert_eq!(got.signed.as_ref(), Some(&v2));
    let hist: Vec<_> = store
        .read(|tx| tx.version_hashes())
        .unwrap()
        .into_iter()
        .filter(|v| v.id == id)
        .collect();
    assert_eq!(hist.len(), 2);
    assert_eq!((hist[0].version, hist[0].hash), (1, v1.content_hash()));
    assert_eq!((hist[1].version, hist[1].hash), (2, v2.content_hash()));
    let body1: RecordBody = serde_json::from_str(hist[0].body.as_deref().unwrap()).unwrap();
    assert_eq!(body1, v1.body);
    // Names were replaced, not added to.
    assert!(search(store, &format!("name of {id}"), &all()).is_empty());
    assert!(search(store, "Second Name", &all()).contains(&id));
    // Storing the same version twice is refused.
    let r = store.write(|tx| tx.put_record(&v2, &["x".to_string()]));
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{r:?}");
    assert!(get(store, &uid("none"), &all()).is_none());
}

fn record_filters(store: &Store) {
    let (me, other) = (Identity::generate(), Identity::generate());
    let (ch, ch2, fa, fb) = (uid("ch"), uid("ch"), uid("f"), uid("f"));
    let t = |s: u32| format!("2025-04-01T10:00:{s:02}Z");
    let p1 = Rec::new(&uid("p1"), &ch, &fa).created(&t(1));
    let o1 = Rec::new(&uid("o1"), &ch, &fa)
        .kind(Kind::Organization)
        .created(&t(2));
    let p2 = Rec::new(&uid("p2"), &ch, &fb).created(&t(3));
    let p3 = Rec::new(&uid("p3"), &ch, &fb).created(&t(4));
    let x = Rec::new(&uid("x"), &ch2, &fa).created(&t(5));
    for r in [&p1, &o1, &p2] {
        r.put(store, &me);
    }
    p3.put(store, &other);
    x.put(store, &me);
    // p2 is retracted: a tombstone, listed only on request.
    p2.retraction().put(store, &me);
    // o1 is also placed in the second channel.
    assert!(store
        .write(|tx| tx.add_placement(&o1.id, &ch2, "share"))
        .unwrap());

    let f = |g: &dyn Fn(&mut RecordFilter)| {
        let mut flt = in_channel(&ch);
        g(&mut flt);
        ids(&list(store, &flt, &all()))
    };
    assert_eq!(
        f(&|_| {}),
        vec![p1.id.clone(), o1.id.clone(), p3.id.clone()]
    );
    assert_eq!(
        f(&|x| x.include_tombstones = true),
        vec![p1.id.clone(), o1.id.clone(), p2.id.clone(), p3.id.clone()]
    );
    assert_eq!(
        f(&|x| x.file = Some(fa.clone())),
        vec![p1.id.clone(), o1.id.clone()]
    );
    assert_eq!(
        f(&|x| x.kind = Some(Kind::Organization)),
        vec![o1.id.clone()]
    );
    assert_eq!(f(&|x| x.kind = Some(Kind::Incident)), Vec::<String>::new());
    assert_eq!(
        f(&|x| x.originator = Some(other.node_id())),
        vec![p3.id.clone()]
    );
    assert_eq!(
        f(&|x| {
            x.originator = Some(me.node_id());
            x.file = Some(fb.clone());
            x.include_tombstones = true;
        }),
        vec![p2.id.clone()]
    );
    // Paging follows creation order.
    assert_eq!(
        f(&|x| x.limit = Some(2)),
        vec![p1.id.clone(), o1.id.clone()]
    );
    assert_eq!(
        f(&|x| {
            x.limit = Some(2);
            x.offset = 1;
        }),
        vec![o1.id.clone(), p3.id.clone()]
    );
    assert_eq!(
        f(&|x| {
            x.limit = Some(10);
            x.offset = 3;
        }),
        Vec::<String>::new()
    );
    // The channel filter goes by placement, not by the origin channel.
    let in2 = ids(&list(store, &in_channel(&ch2), &all()));
    assert_eq!(in2, vec![o1.id.clone(), x.id.clone()]);
    let by_file = ids(&list(
        store,
        &RecordFilter {
            file: Some(fa.clone()),
            ..RecordFilter::default()
        },
        &all(),
    ));
    assert_eq!(by_file, vec![p1.id.clone(), o1.id.clone(), x.id.clone()]);
}

fn counts_match_lists(store: &Store) {
    let who = Identity::generate();
    let (ch, fa, fb) = (uid("ch"), uid("f"), uid("f"));
    let mut made = Vec::new();
    for (i, t) in Tlp::ALL.iter().enumerate() {
        for f in [&fa, &fb] {
            let r = Rec::new(&uid("c"), &ch, f)
                .tlp(*t)
                .created(&format!("2025-05-01T00:00:{i:02}Z"));
            r.put(store, &who);
            made.push(r);
        }
    }
    made[0].retraction().put(store, &who);
    let scopes = [
        all(),
        scope(Some(&[fa.as_str()]), Some(Tlp::Red)),
        scope(None, Some(Tlp::Green)),
        scope(Some(&[fb.as_str()]), Some(Tlp::Amber)),
        scope(Some(&[]), Some(Tlp::Red)),
        scope(None, None),
    ];
    for sc in &scopes {
        for tomb in [false, true] {
            for kind in [None, Some(Kind::Person), Some(Kind::Note)] {
                let flt = RecordFilter {
                    channel: Some(ch.clone()),
                    include_tombstones: tomb,
                    kind,
                    ..RecordFilter::default()
                };
                let l = list(store, &flt, sc);
                assert_eq!(count(store, &flt, sc), l.len() as u64, "{sc:?} {flt:?}");
                let want = made
                    .iter()
                    .enumerate()
                    .filter(|(i, r)| {
                        sc.admits(&r.file, r.tlp)
                            && (tomb || *i != 0)
                            && kind.is_none_or(|k| k == Kind::Person)
                    })
                    .count();
                assert_eq!(l.len(), want, "{sc:?} {flt:?}");
            }
        }
    }
    // A limit pages the list; the count is of everything that matches.
    let flt = RecordFilter {
        channel: Some(ch.clone()),
        limit: Some(3),
        ..RecordFilter::default()
    };
    assert_eq!(list(store, &flt, &all()).len(), 3);
}

/// The token index behind `search_names` (schema step 11) answers what a
/// scan of every name would: substrings inside and across tokens, the
/// names of the current version only, nothing of a retracted record, and
/// the first hits in the scope in order even when the first candidates in
/// that order are all outside it.
fn name_search_follows_versions_scope_and_order(store: &Store) {
    let who = Identity::generate();
    let (ch, f, g) = (uid("ch"), uid("f"), uid("g"));
    let tag = uid("").replace('-', "");
    let named = |id: &str, file: &str, names: &[String]| {
        let ns: Vec<&str> = names.iter().map(String::as_str).collect();
        Rec::new(id, &ch, file).names(&ns)
    };
    let id = uid("s");
    let v1 = named(
        &id,
        &f,
        &[format!("abu bakr {tag}"), format!("old{tag}name")],
    );
    v1.put(store, &who);
    let q = |s: &str, sc: &ReadScope| search(store, s, sc);
    assert_eq!(
        q(&format!("u bakr {tag}"), &all()),
        vec![id.clone()],
        "across tokens"
    );
    assert_eq!(
        q(&format!("d{tag}n"), &all()),
        vec![id.clone()],
        "inside a token"
    );
    assert_eq!(q(&format!("bakr {tag}x"), &all()), Vec::<String>::new());
    // A new version's names replace the old ones, its new primary name too.
    let mut v2 = named(&id, &f, &[format!("new{tag}name")]);
    v2.version = 2;
    v2.put(store, &who);
    assert_eq!(q(&format!("old{tag}"), &all()), Vec::<String>::new());
    assert_eq!(q(&format!("abu bakr {tag}"), &all()), Vec::<String>::new());
    assert_eq!(q(&format!("new{tag}"), &all()), vec![id.clone()]);
    // Retracted: gone from the index.
    v2.retraction().put(store, &who);
    assert_eq!(q(&format!("new{tag}"), &all()), Vec::<String>::new());

    // 450 records outside the reader's files sort before the 3 inside.
    let outside: Vec<Rec> = (0..450)
        .map(|i| named(&uid("o"), &f, &[format!("a{i:03} {tag}")]))
        .collect();
    store
        .write(|tx| {
            for r in &outside {
                tx.put_record(&r.sign(&who), &r.norms())?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let inside: Vec<String> = (0..3)
        .map(|i| {
            let r = named(&uid("i"), &g, &[format!("b{i} {tag}")]);
            r.put(store, &who);
            r.id
        })
        .collect();
    let g_only = scope(Some(&[g.as_str()]), Some(Tlp::Red));
    let first_two = ids(&store.read(|tx| tx.search_names(&tag, &g_only, 2)).unwrap());
    assert_eq!(first_two, inside[..2].to_vec());
    assert_eq!(q(&tag, &g_only), inside);
    // Everyone's first five, in primary-name order.
    let five = ids(&store.read(|tx| tx.search_names(&tag, &all(), 5)).unwrap());
    assert_eq!(
        five,
        outside[..5]
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(q(&tag, &all()).len(), 453);
    assert_eq!(
        store
            .read(|tx| tx.search_names(&tag, &all(), 0))
            .unwrap()
            .len(),
        0
    );
}

/// Records stored as one batch (`put_records_hashed`: on PostgreSQL
/// multi-row statements, 100 records each, then the rest queued table by
/// table) hold exactly what the same records stored one by one hold: the
/// row, the version, names and search tokens shared across the batch and
/// repeated inside one record, links and placements. A batch holding an
/// id another originator's record has is a conflict that keeps nothing.
fn records_put_as_a_batch(store: &Store) {
    let (who, other) = (Identity::generate(), Identity::generate());
    let (ch, f, g) = (uid("ch"), uid("f"), uid("g"));
    let tag = uid("").replace('-', "");
    let target = Rec::new(&uid("t"), &ch, &f);
    target.put(store, &who);
    // 123 records: multi-row statements of 100, 10 and 1 rows.
    let make = |k: &str| -> Vec<Rec> {
        (0..123)
            .map(|i| {
                let n1 = format!("{k}{tag} shared{tag} n{i}");
                let n2 = format!("n{i} {k}{tag} alias{i}");
                let r = Rec::new(&uid(k), &ch, if i % 2 == 0 { &f } else { &g }).names(&[&n1, &n2]);
                if i % 3 == 0 {
                    r.link(LinkType::RelatedTo, &target.id)
                } else {
                    r
                }
            })
            .collect()
    };
    let (batch, single) = (make("b"), make("s"));
    let signed = |rs: &[Rec]| -> Vec<(SignedRecord, [u8; 32], Vec<String>)> {
        rs.iter()
            .map(|r| {
                let s = r.sign(&who);
                let h = s.content_hash();
                (s, h, r.norms())
            })
            .collect()
    };
    let (b, s) = (signed(&batch), signed(&single));
    store
        .write(|tx| {
            let rows: Vec<_> = b.iter().map(|(s, h, n)| (s, h, n.as_slice())).collect();
            tx.put_records_hashed(&rows)?;
            for (s, h, n) in &s {
                tx.put_record_hashed(s, h, n)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    // The same answers for both, record by record.
    for (i, (br, sr)) in batch.iter().zip(&single).enumerate() {
        let (bg, sg) = (
            get(store, &br.id, &all()).unwrap(),
            get(store, &sr.id, &all()).unwrap(),
        );
        assert_eq!(bg.signed.as_ref().unwrap().sig, b[i].0.sig);
        assert_eq!(
            (bg.version, bg.file, bg.status, bg.content_hash),
            (1, br.file.clone(), RecordStatus::Active, b[i].1)
        );
        assert_eq!(
            (sg.version, sg.file, sg.status),
            (1, sr.file.clone(), RecordStatus::Active)
        );
        assert_eq!(
            search(store, &format!("n{i} b{tag} alias{i}"), &all()),
            vec![br.id.clone()]
        );
        assert_eq!(
            search(store, &format!("n{i} s{tag} alias{i}"), &all()),
            vec![sr.id.clone()]
        );
        let links = |id: &str| store.read(|tx| tx.links_of(id, &all())).unwrap().len();
        assert_eq!(links(&br.id), links(&sr.id));
        assert_eq!(links(&br.id), usize::from(i % 3 == 0));
        let pl = |id: &str| store.read(|tx| tx.placements(id)).unwrap();
        assert_eq!(pl(&br.id), vec![ch.clone()]);
        assert_eq!(pl(&sr.id), vec![ch.clone()]);
    }
    assert_eq!(
        search(store, &format!("b{tag} shared{tag}"), &all()).len(),
        123
    );
    assert_eq!(
        search(store, &format!("s{tag} shared{tag}"), &all()).len(),
        123
    );
    assert_eq!(search(store, &format!("shared{tag}"), &all()).len(), 246);
    let f_only = scope(Some(&[f.as_str()]), Some(Tlp::Red));
    assert_eq!(
        search(store, &format!("b{tag} shared{tag}"), &f_only).len(),
        62
    );
    assert_eq!(count(store, &in_channel(&ch), &all()), 247);
    // An id held by another originator: a conflict, and nothing kept.
    let theirs = Rec::new(&uid("x"), &ch, &f);
    theirs.put(store, &other);
    let mut clash = make("c");
    clash[57].id = theirs.id.clone();
    let c = signed(&clash);
    let err = store
        .write(|tx| {
            let rows: Vec<_> = c.iter().map(|(s, h, n)| (s, h, n.as_slice())).collect();
            tx.put_records_hashed(&rows)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(get(store, &clash[0].id, &all()).is_none());
    assert!(search(store, &format!("c{tag}"), &all()).is_empty());
    assert_eq!(
        get(store, &theirs.id, &all()).unwrap().originator,
        other.node_id()
    );
    assert_eq!(count(store, &in_channel(&ch), &all()), 248);
}

fn name_search_and_like_escaping(store: &Store) {
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    let tag = uid("").replace('-', "");
    let mk = |names: &[&str]| {
        let ns: Vec<String> = names.iter().map(|n| format!("{n} {tag}")).collect();
        let ns: Vec<&str> = ns.iter().map(String::as_str).collect();
        let r = Rec::new(&uid("s"), &ch, &f).names(&ns);
        r.put(store, &who);
        r.id
    };
    let pct = mk(&["fifty%off"]);
    let under = mk(&["abu_bakr"]);
    let plain = mk(&["abuxbakr", "fiftyxoff"]);
    let bang = mk(&["wow!_x"]);
    let back = mk(&["back\\slash"]);
    let quote = mk(&["o'brien"]);
    let upper = mk(&["ABU bakr"]);
    let mine = [&pct, &under, &plain, &bang, &back, &quote, &upper];
    let q = |s: &str| {
        set(search(store, s, &all())
            .into_iter()
            .filter(|i| mine.contains(&i)))
    };
    let s = |v: &[&String]| set(v.iter().map(|x| x.to_string()));
    assert_eq!(q("%"), s(&[&pct]), "% is a literal");
    assert_eq!(q("y%o"), s(&[&pct]));
    assert_eq!(q("_"), s(&[&under, &bang]), "_ is a literal");
    assert_eq!(q("u_b"), s(&[&under]));
    assert_eq!(q("!"), s(&[&bang]), "the escape character itself");
    assert_eq!(q("!_"), s(&[&bang]));
    assert_eq!(q("\\"), s(&[&back]));
    assert_eq!(q("o'b"), s(&[&quote]));
    assert_eq!(
        q("abu"),
        s(&[&under, &plain]),
        "case-sensitive on every backend"
    );
    assert_eq!(q("ABU"), s(&[&upper]));
    assert_eq!(q("bakr"), s(&[&under, &plain, &upper]));
    // Any of a record's names matches; each record comes once.
    assert_eq!(q("fifty"), s(&[&pct, &plain]));
    assert_eq!(search(store, &tag, &all()).len(), 7);
    // Limit, and order by primary name.
    let two = store.read(|tx| tx.search_names(&tag, &all(), 2)).unwrap();
    assert_eq!(two.len(), 2);
    let every = ids(&store.read(|tx| tx.search_names(&tag, &all(), 100)).unwrap());
    assert_eq!(
        every,
        vec![
            upper.clone(),
            under.clone(),
            plain.clone(),
            back.clone(),
            pct.clone(),
            quote.clone(),
            bang.clone()
        ],
        "ordered by primary name, bytewise"
    );
    assert!(q("nothing-like-this").is_empty());
}

fn links_of_scope_both_ends(store: &Store) {
    let who = Identity::generate();
    let (ch, fa, fb) = (uid("ch"), uid("f"), uid("f"));
    let (a, b, c, d, e) = (uid("a"), uid("b"), uid("c"), uid("d"), uid("e"));
    let mut ra = Rec::new(&a, &ch, &fa)
        .link(LinkType::MemberOf, &b)
        .link(LinkType::Finances, &c)
        .link(LinkType::RelatedTo, &uid("unknown"));
    ra.links[0].from = Some("2007-01".into());
    ra.links[0].until = Some("2012".into());
    ra.put(store, &who);
    Rec::new(&b, &ch, &fa).put(store, &who);
    Rec::new(&c, &ch, &fb).tlp(Tlp::Red).put(store, &who);
    Rec::new(&d, &ch, &fa)
        .link(LinkType::Leads, &a)
        .put(store, &who);
    let re = Rec::new(&e, &ch, &fa).link(LinkType::SmugglesWith, &a);
    re.put(store, &who);
    re.retraction().put(store, &who);

    let links = |id: &str, sc: &ReadScope| {
        store
            .read(|tx| tx.links_of(id, sc))
            .unwrap()
            .into_iter()
            .map(|l| (l.src, l.rel, l.dst))
            .collect::<Vec<_>>()
    };
    let trip = |s: &str, r: &str, t: &str| (s.to_string(), r.to_string(), t.to_string());
    let mut want = vec![
        trip(&a, "member_of", &b),
        trip(&a, "finances", &c),
        trip(&d, "leads", &a),
    ];
    want.sort();
    assert_eq!(
        links(&a, &all()),
        want,
        "links to unknown or retracted records are left out"
    );
    let full = store.read(|tx| tx.links_of(&a, &all())).unwrap();
    let dated = full.iter().find(|l| l.dst == b).unwrap();
    assert_eq!(
        (dated.from.as_deref(), dated.until.as_deref()),
        (Some("2007-01"), Some("2012"))
    );
    // c is in another file: the link to it disappears for a scope without it.
    let only_a = scope(Some(&[fa.as_str()]), Some(Tlp::Red));
    let mut want_a = vec![trip(&d, "leads", &a), trip(&a, "member_of", &b)];
    want_a.sort();
    assert_eq!(links(&a, &only_a), want_a);
    // c is RED: gone under AMBER too.
    let amber = scope(None, Some(Tlp::Amber));
    assert!(!links(&a, &amber).iter().any(|(_, _, t)| *t == c));
    // From c's side, a link to a scope-visible record shows only if c is visible.
    assert_eq!(links(&c, &all()), vec![trip(&a, "finances", &c)]);
    assert!(
        links(&c, &only_a).is_empty(),
        "the record itself is outside the scope"
    );
    assert!(links(&c, &amber).is_empty());
    assert!(links(&a, &scope(Some(&[fb.as_str()]), Some(Tlp::Red))).is_empty());
    assert!(links(&a, &scope(None, None)).is_empty());
    assert!(
        links(&e, &all()).is_empty(),
        "a retracted record has no links"
    );
}

/// The graph walk's batched reads: links touching any of many ids, both
/// ends in scope and active, each once; record heads in scope only.
fn links_around_a_frontier(store: &Store) {
    let who = Identity::generate();
    let (ch, fa, fb) = (uid("ch"), uid("f"), uid("f"));
    let (a, b, c, d, e) = (uid("a"), uid("b"), uid("c"), uid("d"), uid("e"));
    Rec::new(&b, &ch, &fa).put(store, &who);
    Rec::new(&c, &ch, &fb).put(store, &who);
    let mut ra = Rec::new(&a, &ch, &fa)
        .link(LinkType::MemberOf, &b)
        .link(LinkType::Finances, &c);
    ra.links[0].from = Some("2007".into());
    ra.put(store, &who);
    Rec::new(&d, &ch, &fa)
        .link(LinkType::Leads, &b)
        .put(store, &who);
    let re = Rec::new(&e, &ch, &fa).link(LinkType::RelatedTo, &a);
    re.put(store, &who);
    re.retraction().put(store, &who);
    let around = |ids: &[&String], sc: &ReadScope| {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        store
            .read(|tx| tx.links_around(&ids, sc))
            .unwrap()
            .into_iter()
            .map(|l| (l.src, l.rel, l.dst, l.from))
            .collect::<Vec<_>>()
    };
    let l = |s: &str, r: &str, t: &str, f: Option<&str>| {
        (
            s.to_string(),
            r.to_string(),
            t.to_string(),
            f.map(String::from),
        )
    };
    // a and b together: the link between them once, both directions.
    let mut want = vec![
        l(&a, "member_of", &b, Some("2007")),
        l(&a, "finances", &c, None),
        l(&d, "leads", &b, None),
    ];
    want.sort();
    assert_eq!(around(&[&a, &b], &all()), want);
    let only_a = scope(Some(&[fa.as_str()]), Some(Tlp::Red));
    want.retain(|x| x.2 != c);
    assert_eq!(
        around(&[&a, &b], &only_a),
        want,
        "an end outside the scope hides the link"
    );
    assert!(around(&[&c], &only_a).is_empty());
    assert!(
        around(&[&e], &all()).is_empty(),
        "a retracted record has no links"
    );
    assert!(around(&[], &all()).is_empty());
    // More ids than one batched query names.
    let mut many: Vec<&String> = Vec::new();
    let pad: Vec<String> = (0..1200).map(|i| format!("rec_pad_{i}")).collect();
    many.extend(pad.iter());
    many.push(&d);
    assert_eq!(around(&many, &all()), vec![l(&d, "leads", &b, None)]);

    let heads = |ids: &[&String], sc: &ReadScope| {
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        store
            .read(|tx| tx.record_heads(&ids, sc))
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.status, h.body.is_some()))
            .collect::<Vec<_>>()
    };
    let mut want = vec![
        (a.clone(), RecordStatus::Active, true),
        (c.clone(), RecordStatus::Active, true),
        (e.clone(), RecordStatus::Retracted, false),
    ];
    want.sort_by(|x, y| x.0.cmp(&y.0));
    assert_eq!(heads(&[&e, &c, &a, &pad[0]], &all()), want);
    want.retain(|x| x.0 != c);
    assert_eq!(heads(&[&e, &c, &a], &only_a), want);
    assert!(heads(&[&a], &scope(None, None)).is_empty());
}

fn placements(store: &Store) {
    let who = Identity::generate();
    let (ch, ch2, f) = (uid("ch"), uid("ch"), uid("f"));
    let r = Rec::new(&uid("pl"), &ch, &f);
    r.put(store, &who);
    assert_eq!(
        store.read(|tx| tx.placements(&r.id)).unwrap(),
        vec![ch.clone()]
    );
    assert!(store
        .write(|tx| tx.add_placement(&r.id, &ch2, "release"))
        .unwrap());
    assert!(!store
        .write(|tx| tx.add_placement(&r.id, &ch2, "release"))
        .unwrap());
    let mut want = vec![ch.clone(), ch2.clone()];
    want.sort();
    assert_eq!(store.read(|tx| tx.placements(&r.id)).unwrap(), want);
    // A new version keeps the placements.
    let mut r2 = r.clone();
    r2.version = 2;
    r2.put(store, &who);
    assert_eq!(store.read(|tx| tx.placements(&r.id)).unwrap(), want);
    assert!(store
        .read(|tx| tx.placements(&uid("none")))
        .unwrap()
        .is_empty());
}

fn retraction_purges_but_keeps_tombstone(store: &Store) {
    let who = Identity::generate();
    let (ch, f, target) = (uid("ch"), uid("f"), uid("t"));
    Rec::new(&target, &ch, &f).put(store, &who);
    let marker = uid("secretmarker");
    let mut r = Rec::new(&uid("rt"), &ch, &f)
        .names(&[&marker])
        .link(LinkType::RelatedTo, &target);
    r.notes = Some(format!("notes {marker}"));
    r.put(store, &who);
    let mut r2 = r.clone();
    r2.version = 2;
    r2.put(store, &who);
    assert_eq!(search(store, &marker, &all()), vec![r.id.clone()]);
    let tomb = r2.retraction().put(store, &who);

    let got = get(store, &r.id, &all()).expect("the tombstone row stays");
    assert_eq!(got.status, RecordStatus::Retracted);
    assert_eq!(got.version, 3);
    assert!(got.signed.is_none(), "no content on the current row");
    assert_eq!(got.content_hash, tomb.content_hash());
    assert!(search(store, &marker, &all()).is_empty());
    assert!(store
        .read(|tx| tx.links_of(&target, &all()))
        .unwrap()
        .is_empty());
    let hist: Vec<_> = store
        .read(|tx| tx.version_hashes())
        .unwrap()
        .into_iter()
        .filter(|v| v.id == r.id)
        .collect();
    assert_eq!(
        hist.iter().map(|h| h.version).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        hist[0].body.is_none() && hist[1].body.is_none(),
        "old bodies purged"
    );
    let kept: RecordBody = serde_json::from_str(hist[2].body.as_deref().unwrap()).unwrap();
    assert!(kept.retracted, "the signed tombstone is kept");
    assert_eq!(hist[2].hash, tomb.content_hash());
    // Listed only as a tombstone.
    assert!(!ids(&list(store, &in_channel(&ch), &all())).contains(&r.id));
    let with = RecordFilter {
        include_tombstones: true,
        ..in_channel(&ch)
    };
    assert!(ids(&list(store, &with, &all())).contains(&r.id));
}

/// `meta.records_gen` moves with every committed change of the records
/// (what a cached screening index is stamped with), and only then.
fn records_gen_counts_committed_record_changes(store: &Store) {
    let who = Identity::generate();
    let gen = || store.read(|tx| tx.records_gen()).unwrap();
    let g0 = gen();
    let r = Rec::new(&uid("rg"), &uid("ch"), &uid("f"));
    r.put(store, &who);
    let g1 = gen();
    assert!(g1 > g0, "a stored version: {g0} -> {g1}");
    // Writes and reads that change no record leave it.
    store.write(|tx| tx.meta_set(&uid("k"), "v")).unwrap();
    assert!(get(store, &r.id, &all()).is_some());
    assert_eq!(gen(), g1);
    // A change rolled back never advances it.
    let failed: Result<(), StoreError> = store.write(|tx| {
        tx.purge_content(&r.id, RecordStatus::Expired, None)?;
        Err(StoreError::Conflict("rolled back".into()))
    });
    assert!(failed.is_err());
    assert_eq!(gen(), g1);
    assert!(get(store, &r.id, &all()).unwrap().signed.is_some());
    // A purge does; a new version too.
    store
        .write(|tx| tx.purge_content(&r.id, RecordStatus::Expired, None))
        .unwrap();
    let g2 = gen();
    assert!(g2 > g1);
    Rec::new(&uid("rg"), &uid("ch"), &uid("f")).put(store, &who);
    assert!(gen() > g2);
}

fn expiry_listing_and_purge(store: &Store) {
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    let mut gone = Rec::new(&uid("old"), &ch, &f).names(&[&uid("expiring")]);
    gone.expires = Some("2020-06-01T00:00:00Z".into());
    let mut edge = Rec::new(&uid("edge"), &ch, &f);
    edge.expires = Some("2025-01-01T00:00:00Z".into());
    let mut later = Rec::new(&uid("later"), &ch, &f);
    later.expires = Some("2999-01-01T00:00:00Z".into());
    let never = Rec::new(&uid("never"), &ch, &f);
    for r in [&gone, &edge, &later, &never] {
        r.put(store, &who);
    }
    let now = "2025-01-01T00:00:00Z";
    let mine = |v: Vec<String>| {
        v.into_iter()
            .filter(|i| [&gone.id, &edge.id, &later.id, &never.id].contains(&i))
            .collect::<Vec<_>>()
    };
    let mut want = vec![gone.id.clone(), edge.id.clone()];
    want.sort();
    assert_eq!(
        mine(store.read(|tx| tx.expired_records(now)).unwrap()),
        want,
        "at or before now"
    );
    store
        .write(|tx| {
            for id in &want {
                tx.purge_content(id, RecordStatus::Expired, None)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert!(mine(store.read(|tx| tx.expired_records(now)).unwrap()).is_empty());
    let g = get(store, &gone.id, &all()).unwrap();
    assert_eq!(g.status, RecordStatus::Expired);
    assert!(g.signed.is_none());
    assert!(search(store, &gone.names[0], &all()).is_empty());
    let hist: Vec<_> = store
        .read(|tx| tx.version_hashes())
        .unwrap()
        .into_iter()
        .filter(|v| v.id == gone.id)
        .collect();
    assert_eq!(hist.len(), 1);
    assert!(
        hist[0].body.is_none(),
        "no version keeps content after expiry"
    );
    let mut left = ids(&list(store, &in_channel(&ch), &all()));
    left.sort();
    let mut want = vec![later.id.clone(), never.id.clone()];
    want.sort();
    assert_eq!(left, want, "expired records are no longer listed");
}

fn large_and_unicode_content(store: &Store) {
    let who = Identity::generate();
    let (ch, f) = (uid("ch"), uid("f"));
    let arabic = "عبد الله بلقزاز";
    let mut r = Rec::new(&uid("big"), &ch, &f).names(&[arabic, "Абдулла", "O'Neil \"x\" 🙂"]);
    r.notes = Some("ملاحظة ".repeat(20_000));
    let s = r.put(store, &who);
    let got = get(store, &r.id, &all()).unwrap();
    assert_eq!(got.signed.as_ref(), Some(&s));
    assert_eq!(got.content_hash, s.content_hash());
    assert_eq!(search(store, "الله", &all()), vec![r.id.clone()]);
    assert_eq!(search(store, "бдулла", &all()), vec![r.id.clone()]);
    assert_eq!(search(store, "🙂", &all()), vec![r.id.clone()]);
}

fn releases(store: &Store) {
    let (rid, ch) = (uid("rec"), uid("ch"));
    let mut rel = ReleaseRow {
        id: uid("req"),
        record_id: rid.clone(),
        requester: "node-b".into(),
        originator: "node-a".into(),
        target_channel: ch.clone(),
        target_members: vec!["node-a".into(), "node-c".into()],
        status: "pending".into(),
        reason: None,
        signed: None,
        created_at: "2025-01-01T00:00:00Z".into(),
        decided_at: None,
    };
    store.write(|tx| tx.put_release(&rel)).unwrap();
    assert!(store
        .read(|tx| tx.granted_releases(&rid, &ch))
        .unwrap()
        .is_empty());
    rel.status = "granted".into();
    rel.reason = Some("approved by the committee".into());
    rel.signed = Some(json!({"sig": "x"}).to_string());
    rel.decided_at = Some("2025-01-02T00:00:00Z".into());
    store.write(|tx| tx.put_release(&rel)).unwrap();
    let got = store.read(|tx| tx.release(&rel.id)).unwrap().unwrap();
    assert_eq!(got.status, "granted");
    assert_eq!(got.target_members, rel.target_members);
    assert_eq!(got.reason, rel.reason);
    assert_eq!(got.signed, rel.signed);
    assert_eq!(got.decided_at, rel.decided_at);
    let granted = store.read(|tx| tx.granted_releases(&rid, &ch)).unwrap();
    assert_eq!(granted.len(), 1);
    assert!(store
        .read(|tx| tx.granted_releases(&rid, &uid("ch")))
        .unwrap()
        .is_empty());
    let all_rel = store.read(|tx| tx.releases()).unwrap();
    assert_eq!(all_rel.iter().filter(|r| r.id == rel.id).count(), 1);
    assert!(store.read(|tx| tx.release(&uid("none"))).unwrap().is_none());
}

// ---- audit -------------------------------------------------------------

/// Recomputes the tree from the stored entries and checks it against the
/// head; returns the size.
pub fn check_audit_tree(store: &Store) -> u64 {
    store
        .read(|tx| {
            let (size, root) = tx.audit_head()?;
            let entries = tx.audit_entries(0, size + 10)?;
            assert_eq!(entries.len() as u64, size, "one entry per leaf");
            assert_eq!(tx.audit_count()?, size);
            let mut leaves = Vec::new();
            for (i, (e, leaf)) in entries.iter().enumerate() {
                assert_eq!(e.idx, i as u64, "indices are dense");
                assert_eq!(e.leaf(), *leaf, "stored leaf of entry {i}");
                leaves.push(*leaf);
            }
            assert_eq!(tansiq_crypto::merkle::root(&leaves), root, "head root");
            Ok::<_, StoreError>(size)
        })
        .unwrap()
}

fn audit_append_entries_head(store: &Store) {
    let before = check_audit_tree(store);
    let obj = uid("obj");
    let (first, last, head_in_tx) = store
        .write(|tx| {
            let a = tx.audit_append(
                "2025-01-01T00:00:00Z",
                "alice",
                "record.get",
                &obj,
                json!({"n": 1}),
            )?;
            let b = tx.audit_append(
                "2025-01-01T00:00:01Z",
                "bob",
                "record.put",
                &obj,
                json!({"h": "ab"}),
            )?;
            Ok::<_, StoreError>((a, b, tx.audit_head()?))
        })
        .unwrap();
    let (first, last) = (first.expect("appended"), last.expect("appended"));
    assert_eq!((first, last), (before, before + 1));
    assert_eq!(
        head_in_tx.0,
        before + 2,
        "the head inside the transaction counts its appends"
    );
    let after = check_audit_tree(store);
    assert_eq!(after, before + 2);
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap(), head_in_tx);
    let entries = store.read(|tx| tx.audit_entries(first, last + 1)).unwrap();
    let got: Vec<&AuditEntry> = entries.iter().map(|(e, _)| e).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (
            got[0].actor.as_str(),
            got[0].action.as_str(),
            got[0].object.as_str()
        ),
        ("alice", "record.get", obj.as_str())
    );
    assert_eq!(got[1].details, json!({"h": "ab"}));
    assert_ne!(got[0].salt, got[1].salt, "fresh salt per entry");
    assert!(store
        .read(|tx| tx.audit_entries(after, after + 5))
        .unwrap()
        .is_empty());
    assert!(store
        .read(|tx| tx.audit_entries(first + 1, first + 1))
        .unwrap()
        .is_empty());
}

fn audit_same_transaction_as_change(store: &Store) {
    let before = store.read(|tx| tx.audit_head()).unwrap();
    let k = uid("k");
    let r: Result<(), StoreError> = store.write(|tx| {
        tx.meta_set(&k, "changed")?;
        tx.audit_append("2025-01-01T00:00:00Z", "op", "meta.set", &k, json!({}))?;
        Err(StoreError::Conflict(
            "the command failed after its audit entry".into(),
        ))
    });
    assert!(r.is_err());
    assert_eq!(store.read(|tx| tx.meta_get(&k)).unwrap(), None, "no change");
    assert_eq!(
        store.read(|tx| tx.audit_head()).unwrap(),
        before,
        "no audit leaf"
    );
    assert_eq!(check_audit_tree(store), before.0);
    // A panic in the middle rolls back too.
    let k2 = uid("k");
    let p = catch_unwind(AssertUnwindSafe(|| {
        let _ = store.write(|tx| {
            tx.meta_set(&k2, "changed")?;
            tx.audit_append("2025-01-01T00:00:00Z", "op", "meta.set", &k2, json!({}))?;
            if k2.len() > 1 {
                panic!("deliberate panic: the check expects its transaction rolled back");
            }
            Ok::<_, StoreError>(())
        });
    }));
    assert!(p.is_err());
    assert_eq!(store.read(|tx| tx.meta_get(&k2)).unwrap(), None);
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap(), before);
    // And committed: both.
    store
        .write(|tx| {
            tx.meta_set(&k, "changed")?;
            tx.audit_append("2025-01-01T00:00:00Z", "op", "meta.set", &k, json!({}))
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("changed")
    );
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap().0, before.0 + 1);
}

fn audit_frontier_across_transactions(store: &Store) {
    let start = check_audit_tree(store);
    for i in 0..7u64 {
        store
            .write(|tx| {
                for j in 0..=i % 3 {
                    tx.audit_append(
                        "2025-01-01T00:00:00Z",
                        "op",
                        "x",
                        &format!("{i}.{j}"),
                        json!({}),
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    let end = check_audit_tree(store);
    assert_eq!(end - start, (0..7u64).map(|i| i % 3 + 1).sum::<u64>());
    // A transaction that only reads the head leaves it unchanged.
    let h = store.write(|tx| tx.audit_head()).unwrap();
    assert_eq!(h, store.read(|tx| tx.audit_head()).unwrap());
}

fn checkpoints_and_cosignatures_idempotent(store: &Store) {
    // Sizes of our own, far above any real log here.
    let base = 1_000_000 + u64::from(tansiq_crypto::random_bytes::<2>()[0]) * 1000;
    let root: [u8; 32] = tansiq_crypto::random_bytes();
    let cp = |size: u64, note: &str| CheckpointRow {
        size,
        root,
        note: note.into(),
        created_at: "2025-01-01T00:00:00Z".into(),
    };
    store
        .write(|tx| {
            tx.put_checkpoint(&cp(base + 5, "second"))?;
            tx.put_checkpoint(&cp(base + 1, "first"))?;
            tx.put_checkpoint(&cp(base + 1, "first again, ignored"))
        })
        .unwrap();
    let mine: Vec<CheckpointRow> = store
        .read(|tx| tx.checkpoints())
        .unwrap()
        .into_iter()
        .filter(|c| c.size > base && c.size < base + 10)
        .collect();
    assert_eq!(
        mine.iter().map(|c| c.size).collect::<Vec<_>>(),
        vec![base + 1, base + 5]
    );
    assert_eq!(mine[0].note, "first");
    assert_eq!(mine[0].root, root);
    let all_cps = store.read(|tx| tx.checkpoints()).unwrap();
    assert!(
        all_cps.windows(2).all(|w| w[0].size < w[1].size),
        "ordered by size"
    );
    store
        .write(|tx| {
            tx.put_cosignature(base + 1, "witness-b", "note b")?;
            tx.put_cosignature(base + 1, "witness-a", "note a")?;
            tx.put_cosignature(base + 1, "witness-a", "note a again, ignored")
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.cosignatures(base + 1)).unwrap(),
        vec![
            ("witness-a".to_string(), "note a".to_string()),
            ("witness-b".to_string(), "note b".to_string())
        ]
    );
    assert!(store
        .read(|tx| tx.cosignatures(base + 5))
        .unwrap()
        .is_empty());
}

// ---- transactions --------------------------------------------------------

fn failed_statement_poisons_transaction(store: &Store) {
    let (n1, n2, k) = (uid("u"), uid("u"), uid("k"));
    let h: [u8; 32] = tansiq_crypto::random_bytes();
    store
        .write(|tx| tx.add_user(&user(&n1, Role::Analyst, &[]), &h, "2025-01-01T00:00:00Z"))
        .unwrap();
    let before = store.read(|tx| tx.audit_head()).unwrap();
    // The closure swallows the conflict and tries to go on and commit.
    let r = store.write(|tx| {
        tx.audit_append("2025-01-01T00:00:00Z", "op", "x", &k, json!({}))?;
        let dup = tx.add_user(&user(&n2, Role::Analyst, &[]), &h, "2025-01-01T00:00:00Z");
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        let after = tx.meta_set(&k, "v");
        assert!(after.is_err(), "a statement after a failed one fails");
        Ok::<_, StoreError>(())
    });
    assert!(r.is_err(), "the commit of a poisoned transaction fails");
    assert_eq!(store.read(|tx| tx.meta_get(&k)).unwrap(), None);
    assert!(!store.read(|tx| tx.user_exists(&n2)).unwrap());
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap(), before);
    // The store is fine afterwards.
    store.write(|tx| tx.meta_set(&k, "v")).unwrap();
}

fn read_transaction_refuses_writes(store: &Store) {
    let k = uid("k");
    let r = store.read(|tx| tx.meta_set(&k, "v"));
    assert!(r.is_err(), "a write in a read transaction must fail");
    assert_eq!(store.read(|tx| tx.meta_get(&k)).unwrap(), None);
    store.write(|tx| tx.meta_set(&k, "w")).unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("w")
    );
}

/// `write_relaxed` (audit entries of reads) is a full write transaction in
/// everything but the flush: atomic with its audit leaf, rolled back on
/// error, serialised with other writers.
fn relaxed_write_is_a_write(store: &Store) {
    let k = uid("relaxed");
    let before = store.read(|tx| tx.audit_head()).unwrap();
    let r: Result<(), StoreError> = store.write_relaxed(|tx| {
        tx.meta_set(&k, "no")?;
        tx.audit_append("2025-01-01T00:00:00Z", "op", "record.get", &k, json!({}))?;
        Err(StoreError::Busy)
    });
    assert!(r.is_err());
    assert_eq!(store.read(|tx| tx.meta_get(&k)).unwrap(), None);
    assert_eq!(store.read(|tx| tx.audit_head()).unwrap(), before);
    store
        .write_relaxed(|tx| {
            tx.meta_set(&k, "yes")?;
            tx.audit_append("2025-01-01T00:00:00Z", "op", "record.get", &k, json!({}))
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("yes")
    );
    assert_eq!(check_audit_tree(store), before.0 + 1);
    // Ordinary writes go on after it.
    store.write(|tx| tx.meta_set(&k, "after")).unwrap();
    assert_eq!(
        store.read(|tx| tx.meta_get(&k)).unwrap().as_deref(),
        Some("after")
    );
}

// ---- need-to-know --------------------------------------------------------

/// Records in three files at every TLP, linked to each other and sharing
/// a searchable name; every read operation, under many scopes, returns
/// and counts exactly the records the scope admits.
fn need_to_know_in_sql(store: &Store) {
    let who = Identity::generate();
    let ch = uid("ch");
    let files = [uid("f"), uid("f"), uid("f")];
    let word = uid("ntk").replace('-', "");
    let mut made: Vec<Rec> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        for (ti, t) in Tlp::ALL.iter().enumerate() {
            let id = uid(&format!("n{fi}{ti}"));
            let mut r = Rec::new(&id, &ch, f)
                .tlp(*t)
                .names(&[&format!("{word} {fi} {ti}")])
                .created(&format!("2025-06-01T00:{fi:02}:{ti:02}Z"));
            if let Some(prev) = made.last() {
                r = r.link(LinkType::RelatedTo, &prev.id);
            }
            r.put(store, &who);
            made.push(r);
        }
    }
    let admitted = |sc: &ReadScope| -> BTreeSet<String> {
        made.iter()
            .filter(|r| sc.admits(&r.file, r.tlp))
            .map(|r| r.id.clone())
            .collect()
    };
    let f = |i: usize| files[i].as_str();
    let mut scopes = vec![
        all(),
        scope(None, None),
        scope(Some(&[]), Some(Tlp::Red)),
        scope(Some(&[f(0)]), Some(Tlp::Red)),
        scope(Some(&[f(0), f(2)]), Some(Tlp::Amber)),
        scope(Some(&[f(1)]), Some(Tlp::Clear)),
        scope(Some(&["no-such-file"]), Some(Tlp::Red)),
    ];
    for t in Tlp::ALL {
        scopes.push(scope(None, Some(t)));
        scopes.push(scope(Some(&[f(1), f(2)]), Some(t)));
    }
    for sc in &scopes {
        let want = admitted(sc);
        let flt = in_channel(&ch);
        let listed = list(store, &flt, sc);
        assert_eq!(set(ids(&listed)), want, "records under {sc:?}");
        assert!(listed.iter().all(|r| sc.admits(&r.file, r.tlp)));
        assert_eq!(
            count(store, &flt, sc),
            want.len() as u64,
            "count under {sc:?}"
        );
        for file in &files {
            let by_file = RecordFilter {
                file: Some(file.clone()),
                ..in_channel(&ch)
            };
            let n = made
                .iter()
                .filter(|r| &r.file == file && want.contains(&r.id))
                .count();
            assert_eq!(count(store, &by_file, sc), n as u64);
        }
        for r in &made {
            let got = get(store, &r.id, sc);
            assert_eq!(
                got.is_some(),
                want.contains(&r.id),
                "record {} under {sc:?}",
                r.id
            );
        }
        assert_eq!(set(search(store, &word, sc)), want, "search under {sc:?}");
        for r in &made {
            let links = store.read(|tx| tx.links_of(&r.id, sc)).unwrap();
            if !want.contains(&r.id) {
                assert!(links.is_empty(), "links of invisible {} under {sc:?}", r.id);
            }
            for l in links {
                assert!(
                    want.contains(&l.src) && want.contains(&l.dst),
                    "{l:?} under {sc:?}"
                );
            }
        }
    }
    // A tombstone outside the scope is not listed either.
    let last = made.last().unwrap().clone();
    last.retraction().put(store, &who);
    let red_only_elsewhere = scope(Some(&[f(0)]), Some(Tlp::Red));
    let flt = RecordFilter {
        include_tombstones: true,
        ..in_channel(&ch)
    };
    assert!(!ids(&list(store, &flt, &red_only_elsewhere)).contains(&last.id));
    assert!(get(store, &last.id, &red_only_elsewhere).is_none());
}

/// Whatever the other checks stored: nothing any read returns lies
/// outside the scope it was asked with.
fn need_to_know_whole_store(store: &Store) {
    let everything = list(
        store,
        &RecordFilter {
            include_tombstones: true,
            ..RecordFilter::default()
        },
        &all(),
    );
    assert!(
        everything.len() > 20,
        "the other checks left records to test with"
    );
    let files: BTreeSet<String> = everything.iter().map(|r| r.file.clone()).collect();
    let some: Vec<&str> = files.iter().step_by(3).map(String::as_str).collect();
    for sc in [
        scope(Some(some.as_slice()), Some(Tlp::Amber)),
        scope(None, Some(Tlp::Green)),
        scope(Some(some.as_slice()), Some(Tlp::Red)),
    ] {
        let flt = RecordFilter {
            include_tombstones: true,
            ..RecordFilter::default()
        };
        let l = list(store, &flt, &sc);
        assert!(l.iter().all(|r| sc.admits(&r.file, r.tlp)));
        let want = everything
            .iter()
            .filter(|r| sc.admits(&r.file, r.tlp))
            .count();
        assert_eq!(l.len(), want);
        assert_eq!(count(store, &flt, &sc), want as u64);
        for q in ["a", "e", "%", "_", " "] {
            let found = store.read(|tx| tx.search_names(q, &sc, 10_000)).unwrap();
            assert!(
                found.iter().all(|r| sc.admits(&r.file, r.tlp)),
                "search {q:?}"
            );
        }
        for r in everything.iter().take(200) {
            for l in store.read(|tx| tx.links_of(&r.id, &sc)).unwrap() {
                for end in [&l.src, &l.dst] {
                    let e = everything.iter().find(|x| &x.id == end).unwrap();
                    assert!(sc.admits(&e.file, e.tlp), "{l:?}");
                }
            }
        }
    }
}

// ---- several handles on one database --------------------------------------

/// Opens one more handle on the database under test.
pub type Opener<'a> = &'a (dyn Fn() -> Result<Store, StoreError> + Sync);

/// Checks that open more handles on the same database through `open`.
pub type HandleCheck = (&'static str, fn(Opener));

pub const HANDLE_CHECKS: &[HandleCheck] = &[
    (
        "concurrent_writers_lose_nothing",
        concurrent_writers_lose_nothing,
    ),
    ("read_sees_one_snapshot", read_sees_one_snapshot),
    ("too_new_schema_is_refused", too_new_schema_is_refused),
];

pub fn handle_suite(backend: &str, open: Opener) -> usize {
    run_checks(backend, HANDLE_CHECKS, |f| f(open))
}

/// Two handles (two processes' worth), two threads each, doing
/// read-modify-write of one counter and an audit append per transaction:
/// no lost update, one consistent audit tree.
fn concurrent_writers_lose_nothing(open: Opener) {
    let (a, b) = (open().unwrap(), open().unwrap());
    let k = uid("counter");
    let before = check_audit_tree(&a);
    const PER_THREAD: u64 = 25;
    std::thread::scope(|s| {
        for (t, store) in [&a, &b, &a, &b].into_iter().enumerate() {
            let k = &k;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    store
                        .write(|tx| {
                            let n: u64 = tx.meta_get(k)?.map_or(0, |v| v.parse().unwrap());
                            tx.audit_append(
                                "2025-01-01T00:00:00Z",
                                &format!("t{t}"),
                                "count",
                                k,
                                json!({"i": i}),
                            )?;
                            tx.meta_set(k, &(n + 1).to_string())
                        })
                        .unwrap_or_else(|e| panic!("thread {t} write {i}: {e}"));
                }
            });
        }
    });
    let n = b.read(|tx| tx.meta_get(&k)).unwrap();
    assert_eq!(n, Some((4 * PER_THREAD).to_string()), "no lost update");
    assert_eq!(check_audit_tree(&b), before + 4 * PER_THREAD);
    assert_eq!(
        a.read(|tx| tx.audit_head()).unwrap(),
        b.read(|tx| tx.audit_head()).unwrap()
    );
}

fn read_sees_one_snapshot(open: Opener) {
    let (a, b) = (open().unwrap(), open().unwrap());
    let k = uid("snap");
    a.write(|tx| tx.meta_set(&k, "1")).unwrap();
    let (first, second) = a
        .read(|tx| {
            let first = tx.meta_get(&k)?;
            b.write(|t2| t2.meta_set(&k, "2"))?;
            Ok::<_, StoreError>((first, tx.meta_get(&k)?))
        })
        .unwrap();
    assert_eq!(first, second, "one snapshot for the whole read transaction");
    assert_eq!(a.read(|tx| tx.meta_get(&k)).unwrap().as_deref(), Some("2"));
}

fn too_new_schema_is_refused(open: Opener) {
    let a = open().unwrap();
    let newer = (SCHEMA_VERSION + 1).to_string();
    a.write(|tx| tx.meta_set("schema_version", &newer)).unwrap();
    let r = open();
    a.write(|tx| tx.meta_set("schema_version", &SCHEMA_VERSION.to_string()))
        .unwrap();
    match r {
        Err(e @ StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
            let msg = e.to_string();
            assert!(msg.contains("newer than this program supports"), "{msg}");
        }
        Err(e) => panic!("wrong error for a newer schema: {e}"),
        Ok(_) => panic!("a store with a newer schema was opened"),
    }
    open().expect("opens again once the version is back");
}

/// Several handles open a brand-new database at the same moment (workers
/// starting together): every one succeeds, the schema is made once.
pub fn opened_together(open: Opener) {
    let stores: Vec<Store> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6).map(|_| s.spawn(open)).collect();
        hs.into_iter()
            .map(|h| h.join().unwrap().expect("every concurrent open succeeds"))
            .collect()
    });
    for (i, st) in stores.iter().enumerate() {
        assert_eq!(
            st.read(|tx| tx.meta_get("schema_version")).unwrap(),
            Some(SCHEMA_VERSION.to_string())
        );
        st.write(|tx| {
            tx.meta_set(&format!("opened-{i}"), "yes")?;
            tx.audit_append(
                "2025-01-01T00:00:00Z",
                "op",
                "open",
                "store",
                json!({"i": i}),
            )
        })
        .unwrap();
    }
    assert_eq!(check_audit_tree(&stores[0]), stores.len() as u64);
}

pub mod pg;
pub mod sync;

/// An audited read's entries join the one audit sequence: at once on
/// SQLite; on PostgreSQL queued (no write lock taken) and appended, oldest
/// first, by the next writer before its own entries — each exactly once,
/// and the tree still verifies.
fn audited_reads_join_the_log(store: &Store) {
    // Whatever an earlier check queued is appended first.
    let (before, _) = store.write(|tx| tx.audit_head()).unwrap();
    let k = uid("read");
    let first = store
        .read_audited(|tx| {
            tx.record(&k, &all())?;
            tx.audit_append(
                "2025-01-01T00:00:01Z",
                "op",
                "record.read",
                &k,
                json!({"n": 1}),
            )
        })
        .unwrap();
    let second = store
        .read_audited(|tx| {
            tx.audit_append(
                "2025-01-01T00:00:02Z",
                "op",
                "record.read",
                &k,
                json!({"n": 2}),
            )
        })
        .unwrap();
    let queued = store.read(|tx| tx.audit_pending_count()).unwrap();
    let head = store.read(|tx| tx.audit_head()).unwrap().0;
    match store.dialect() {
        Dialect::Sqlite => {
            assert_eq!((first, second), (Some(before), Some(before + 1)));
            assert_eq!((queued, head), (0, before + 2), "appended at once");
        }
        Dialect::Postgres => {
            assert_eq!((first, second), (None, None));
            assert_eq!((queued, head), (2, before), "queued, not yet in the tree");
        }
    }
    // The next writer appends what is queued, then its own entry.
    let own = store
        .write(|tx| tx.audit_append("2025-01-01T00:00:03Z", "op", "meta.set", &k, json!({})))
        .unwrap();
    assert_eq!(own, Some(before + 2));
    assert_eq!(store.read(|tx| tx.audit_pending_count()).unwrap(), 0);
    let entries = store
        .read(|tx| tx.audit_entries(before, before + 3))
        .unwrap();
    let got: Vec<(String, String)> = entries
        .iter()
        .map(|(e, _)| (e.action.clone(), e.details.to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("record.read".to_string(), r#"{"n":1}"#.to_string()),
            ("record.read".to_string(), r#"{"n":2}"#.to_string()),
            ("meta.set".to_string(), "{}".to_string()),
        ]
    );
    assert!(entries.iter().all(|(e, _)| e.object == k));
    assert_eq!(check_audit_tree(store), before + 3);
    // A failed read queues nothing.
    let r: Result<(), StoreError> = store.read_audited(|tx| {
        tx.audit_append("2025-01-01T00:00:04Z", "op", "record.read", &k, json!({}))?;
        Err(StoreError::Db("the read failed after its entry".into()))
    });
    assert!(r.is_err());
    assert_eq!(store.read(|tx| tx.audit_pending_count()).unwrap(), 0);
    store.write(|tx| tx.audit_drain()).unwrap();
    assert_eq!(check_audit_tree(store), before + 3);
}
