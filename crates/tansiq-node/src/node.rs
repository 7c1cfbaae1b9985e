//! A node: its directory, identity, configuration and store, and the
//! helpers every service uses (audit append, checkpoints, expiry, and the
//! commit path: `Node::commit` for a state change, `Node::note` for a
//! relaxed audited read).

use std::path::{Path, PathBuf};

use serde_json::json;

use tansiq_core::country::parse_country;
use tansiq_core::time;
use tansiq_crypto::checkpoint::{self, Checkpoint};
use tansiq_crypto::Identity;
use tansiq_store::{CheckpointRow, RecordStatus, Store, Tx};

use crate::card::NodeCard;
use crate::config::{keys_dir, parse_endpoint, parse_listen, Config, DB_FILE};
use crate::error::{KeyError, NodeError, NodeResult, PathError};

pub struct Node {
    pub dir: PathBuf,
    pub config: Config,
    /// The current keys (the newest generation).
    pub identity: Identity,
    /// Earlier generations' keys, oldest (genesis) first: kept so that
    /// what was sealed to them still opens (see `rotation.rs`).
    pub(crate) retired: Vec<Identity>,
    /// The rotation statements from genesis to `identity` (empty: never
    /// rotated).
    pub(crate) rotations: Vec<crate::card::Rotation>,
    pub store: Store,
    pub federation: crate::federation::Federation,
    /// Hit/no-hit keyed lists built for partners, reused while unchanged.
    pub(crate) hits: crate::hits::HitCache,
    /// Screening indexes per read scope, reused while the records are
    /// unchanged (`screen_cache.rs`).
    pub(crate) screening: crate::screen_cache::IndexCache,
}

/// What `init` needs.
pub struct InitOptions<'a> {
    pub name: &'a str,
    pub country: &'a str,
    pub listen: &'a str,
    /// The partner address advertised in the node's card (default: `listen`),
    /// for a node behind NAT or a proxy.
    pub endpoint: Option<&'a str>,
    pub api_listen: Option<&'a str>,
    pub store: Option<&'a str>,
}

impl Node {
    /// Creates a node in `dir` (which must not hold one): keys (0600),
    /// config, store, and the first audit entry and checkpoint.
    pub fn init(dir: &Path, opts: &InitOptions) -> NodeResult<Node> {
        if dir.join(crate::config::CONFIG_FILE).exists()
            || keys_dir(dir).exists()
            || dir.join(DB_FILE).exists()
        {
            return Err(NodeError::bad(format!(
                "{} already holds a Tansiq node; choose another --dir",
                dir.display()
            )));
        }
        let name = opts.name.trim();
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            return Err(NodeError::bad("--name must be 1-200 printable characters"));
        }
        let country =
            parse_country(opts.country).map_err(|e| NodeError::bad(format!("--country: {e}")))?;
        let listen = parse_listen(opts.listen)?;
        let endpoint = opts.endpoint.map(parse_endpoint).transpose()?;
        let api_listen = match opts.api_listen {
            Some(a) => parse_listen(a)?,
            None => {
                let mut a = listen;
                a.set_port(listen.port().checked_add(1).ok_or_else(|| {
                    NodeError::bad("--listen port is 65535; give --api-listen explicitly")
                })?);
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                a
            }
        };
        let store_url = match opts.store {
            None | Some("sqlite") => "sqlite".to_string(),
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                u.to_string()
            }
            Some(u) => {
                return Err(NodeError::bad(format!(
                    "--store {u:?}: use sqlite (default) or a postgres:// URL"
                )))
            }
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| NodeError::bad(format!("cannot create {}: {e}", dir.display())))?;
        let made = Self::init_in(dir, name, country, listen, endpoint, api_listen, store_url);
        if made.is_err() {
            // Leave the directory as it was: no half-made node.
            let _ = std::fs::remove_dir_all(keys_dir(dir));
            for f in [DB_FILE, "node.db-wal", "node.db-shm"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        made
    }

    fn init_in(
        dir: &Path,
        name: &str,
        country: String,
        listen: std::net::SocketAddr,
        endpoint: Option<String>,
        api_listen: std::net::SocketAddr,
        store_url: String,
    ) -> NodeResult<Node> {
        let identity = Identity::generate();
        std::fs::create_dir_all(keys_dir(dir))
            .map_err(|e| KeyError::files("creating keys dir", e))?;
        set_private_dir(&keys_dir(dir))?;
        identity
            .save(&keys_dir(dir))
            .map_err(|e| KeyError::files("saving keys", e))?;
        let config = Config {
            node_id: identity.node_id(),
            name: name.to_string(),
            country,
            listen: listen.to_string(),
            endpoint,
            api_listen: api_listen.to_string(),
            api_insecure_non_loopback: false,
            store: store_url,
            checkpoint_interval_secs: 60,
            outbox_lease_secs: 15,
            hit_period_secs: crate::config::default_hit_period_secs(),
        };
        let store = open_store(dir, &config, true)?;
        if store.read(|tx| tx.meta_get("node_id"))?.is_some() {
            // Never adopt (or overwrite) another node's database.
            return Err(NodeError::bad(
                "that database already holds a Tansiq node; give an empty database or schema",
            ));
        }
        let node = Node {
            dir: dir.to_path_buf(),
            config,
            identity,
            retired: Vec::new(),
            rotations: Vec::new(),
            store,
            federation: Default::default(),
            hits: Default::default(),
            screening: Default::default(),
        };
        node.commit(|tx, _| {
            tx.meta_set("node_id", &node.config.node_id)?;
            tx.meta_set("card_created", &time::format(&time::now()))?;
            node.audit(
                tx,
                "operator",
                "node.init",
                &node.config.node_id,
                json!({"name": node.config.name, "country": node.config.country}),
            )?;
            Ok::<_, NodeError>(())
        })?;
        // Written last: its presence means "a complete node lives here".
        node.config.save(dir)?;
        Ok(node)
    }

    /// Opens the node in `dir` and purges whatever expired meanwhile.
    pub fn open(dir: &Path) -> NodeResult<Node> {
        let config = Config::load(dir)?;
        let genesis =
            Identity::load(&keys_dir(dir)).map_err(|e| KeyError::files("node keys", e))?;
        if genesis.node_id() != config.node_id {
            return Err(KeyError::NotThisNode {
                dir: keys_dir(dir),
                node: config.node_id,
            }
            .into());
        }
        let store = open_store(dir, &config, false)?;
        let stored_id = store.read(|tx| tx.meta_get("node_id"))?;
        if stored_id.as_deref() != Some(config.node_id.as_str()) {
            return Err(KeyError::StoreOfAnotherNode.into());
        }
        let (identity, retired, rotations) =
            crate::keyring::load_generations(dir, &store, genesis)?;
        let node = Node {
            dir: dir.to_path_buf(),
            config,
            identity,
            retired,
            rotations,
            store,
            federation: Default::default(),
            hits: Default::default(),
            screening: Default::default(),
        };
        node.purge_expired()?;
        Ok(node)
    }

    /// Moves this node's store to PostgreSQL: copies everything into the
    /// (empty) database at `url`, verifies the audit log there, and only
    /// then points the node's config at it. The SQLite file stays as it
    /// was. Returns the rows copied.
    pub fn migrate_store(&self, url: &str) -> NodeResult<u64> {
        self.migrate_store_with_progress(url, &|_, _| {})
    }

    /// [`Node::migrate_store`], telling `progress` the rows copied of how
    /// many.
    pub fn migrate_store_with_progress(
        &self,
        url: &str,
        progress: &dyn Fn(u64, u64),
    ) -> NodeResult<u64> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(NodeError::bad("--to must be a postgres:// URL"));
        }
        if self.config.store != "sqlite" {
            return Err(NodeError::bad("this node's store is not SQLite"));
        }
        let dest =
            Store::open_postgres(url, true).map_err(|e| NodeError::bad(format!("--to: {e}")))?;
        if dest.read(|tx| tx.meta_get("node_id"))?.is_some() {
            return Err(NodeError::bad(
                "that database already holds a Tansiq node; give an empty database or schema",
            ));
        }
        // The source is only read; the move is recorded in the new store.
        let rows = self.store.copy_into_with(&dest, progress)?;
        let mut config = self.config.clone();
        config.store = url.to_string();
        let moved = Node {
            dir: self.dir.clone(),
            config: config.clone(),
            identity: self.identity.clone(),
            retired: self.retired.clone(),
            rotations: self.rotations.clone(),
            store: dest,
            federation: Default::default(),
            hits: Default::default(),
            screening: Default::default(),
        };
        moved.commit(|tx, _| {
            moved.audit(
                tx,
                "operator",
                "store.migrate",
                "*",
                serde_json::json!({"from": "sqlite", "rows": rows}),
            )?;
            moved.checkpoint_in(tx)
        })?;
        let report = moved.audit_verify(&crate::Actor::Operator)?;
        if !report.ok {
            return Err(NodeError::corrupt(
                "the copy does not verify",
                format!(
                    "{}; the node stays on SQLite",
                    report.problem.unwrap_or_default()
                ),
            ));
        }
        config.save(&self.dir)?;
        Ok(rows)
    }

    pub fn id(&self) -> &str {
        &self.config.node_id
    }

    /// Now by this node's clock, in whole seconds: the date of what it
    /// signs (record versions, releases, bundles, rotations). The same
    /// clock dates its envelopes ([`crate::federation::Federation::now`]),
    /// so one clock — the system's, or a simulation's — dates all of a
    /// node's signatures, and a key's span and what it signed agree.
    pub fn signing_time(&self) -> time::Instant {
        let secs = (self.federation.now() / 1000) as i64;
        chrono::DateTime::from_timestamp(secs, 0).unwrap_or_else(time::now)
    }

    pub fn card(&self) -> NodeCard {
        let created = self
            .store
            .read(|tx| tx.meta_get("card_created"))
            .ok()
            .flatten()
            .unwrap_or_else(|| time::format(&time::now()));
        NodeCard::issue_rotated(
            self.id(),
            &self.identity,
            self.retired.first().map(|g| g.signing_public()),
            &self.rotations,
            &self.config.name,
            &self.config.country,
            self.config.endpoint(),
            &created,
        )
    }

    /// Appends an audit entry in the caller's transaction.
    pub(crate) fn audit(
        &self,
        tx: &mut Tx,
        actor: &str,
        action: &str,
        object: &str,
        details: serde_json::Value,
    ) -> NodeResult<Option<u64>> {
        Ok(tx.audit_append(&time::format(&time::now()), actor, action, object, details)?)
    }

    /// The one way a service changes state. `f` runs in a write
    /// transaction and puts what must reach peers in `out`; the audit
    /// log's new head is checkpointed in the same transaction; the messages
    /// in `out` are handed to the sender only once the transaction
    /// committed — so nothing can be sent before it is durable. If the
    /// commit fails, the engine that queued them is rebuilt from the store.
    pub(crate) fn commit<T>(
        &self,
        f: impl FnOnce(&mut Tx, &mut crate::federation::Outbox) -> NodeResult<T>,
    ) -> NodeResult<T> {
        self.federation.commit(&self.store, |tx, out| {
            let v = f(tx, out)?;
            self.checkpoint_in(tx)?;
            Ok(v)
        })
    }

    /// The way a service records what sends nothing and need not wait for
    /// the disk — the audit leaf of a read, a querier's bookkeeping: one
    /// relaxed transaction (durable with the next commit; docs/STORE.md).
    pub(crate) fn note<T>(&self, f: impl FnOnce(&mut Tx) -> NodeResult<T>) -> NodeResult<T> {
        self.store.write_relaxed(f)
    }

    /// An audited read: `f` reads and audits, nothing else. On PostgreSQL
    /// it never takes (or waits for) the write lock: its audit entries
    /// are queued and the next writer appends them to the log
    /// (`Store::read_audited`; docs/STORE.md, "Audited reads"). On SQLite
    /// it is [`Node::note`].
    pub(crate) fn note_read<T>(&self, f: impl FnOnce(&mut Tx) -> NodeResult<T>) -> NodeResult<T> {
        self.store.read_audited(f)
    }

    /// Signs a checkpoint of the audit log's head, unless one covers it
    /// (periodically and at shutdown in `serve`).
    pub fn checkpoint_now(&self) -> NodeResult<()> {
        self.commit(|_, _| Ok(()))
    }

    /// The checkpoint origin line: names this node's log.
    pub(crate) fn log_origin(&self) -> String {
        format!("tansiq/{}", self.config.node_id)
    }

    /// Signs a checkpoint of the current tree head in the caller's
    /// transaction, unless one already covers it.
    pub(crate) fn checkpoint_in(&self, tx: &mut Tx) -> NodeResult<CheckpointRow> {
        self.checkpoint_signed_by(tx, &self.identity)
    }

    /// [`Node::checkpoint_in`] signed by `identity` (a key rotation signs
    /// its checkpoint with the new key).
    pub(crate) fn checkpoint_signed_by(
        &self,
        tx: &mut Tx,
        identity: &Identity,
    ) -> NodeResult<CheckpointRow> {
        let (size, root) = tx.audit_head()?;
        if let Some(last) = tx.checkpoints()?.into_iter().last() {
            if last.size == size {
                return Ok(last);
            }
        }
        let cp = Checkpoint {
            origin: self.log_origin(),
            size,
            root,
        };
        let note = checkpoint::sign(identity, &self.log_origin(), &cp)
            .map_err(|e| NodeError::internal(format!("signing checkpoint: {e}")))?;
        let row = CheckpointRow {
            size,
            root,
            note,
            created_at: time::format(&time::now()),
        };
        tx.put_checkpoint(&row)?;
        Ok(row)
    }

    /// Purges the content of every record past its expiry: a tombstone and
    /// an audit entry remain. Runs when a node opens and periodically in
    /// `serve`.
    pub fn purge_expired(&self) -> NodeResult<usize> {
        let now = time::format(&time::now());
        // Every command opens the node: with nothing expired it writes
        // nothing (a commit would sign a checkpoint even so, and a refused
        // command must change nothing).
        if self.store.read(|tx| tx.expired_records(&now))?.is_empty() {
            return Ok(0);
        }
        let n = self.commit(|tx, _| {
            let ids = tx.expired_records(&now)?;
            for id in &ids {
                tx.purge_content(id, RecordStatus::Expired, None)?;
                for e in tx.record_envelopes(id)? {
                    tx.sync_purge_envelope(&e)?;
                }
                self.audit(tx, "node", "record.expire", id, json!({"id": id}))?;
            }
            Ok::<_, NodeError>(ids.len())
        })?;
        // The store scrubs its files after a purge commits.
        Ok(n)
    }
}

fn open_store(dir: &Path, config: &Config, create: bool) -> NodeResult<Store> {
    if config.store.starts_with("postgres://") || config.store.starts_with("postgresql://") {
        return Store::open_postgres(&config.store, create)
            .map_err(|e| NodeError::bad(format!("--store: {e}")));
    }
    if config.store != "sqlite" {
        return Err(NodeError::bad(format!(
            "store {:?}: use sqlite or a postgres:// URL",
            config.store
        )));
    }
    let path = dir.join(DB_FILE);
    let store = Store::open_sqlite(&path, create)?;
    set_private_file(&path)?;
    Ok(store)
}

#[cfg(unix)]
fn set_private_dir(p: &Path) -> NodeResult<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| PathError::new("", p, e).into())
}

#[cfg(unix)]
fn set_private_file(p: &Path) -> NodeResult<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| PathError::new("", p, e).into())
}

#[cfg(not(unix))]
fn set_private_dir(_: &Path) -> NodeResult<()> {
    Ok(())
}

#[cfg(not(unix))]
fn set_private_file(_: &Path) -> NodeResult<()> {
    Ok(())
}
