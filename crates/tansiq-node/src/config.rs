//! The node directory: `config.toml`, `keys/` (0600 key files) and the
//! SQLite store `node.db` (unless the config names a PostgreSQL URL).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, NodeError, NodeResult, PathError};

pub const CONFIG_FILE: &str = "config.toml";
pub const KEYS_DIR: &str = "keys";
pub const DB_FILE: &str = "node.db";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node_id: String,
    pub name: String,
    pub country: String,
    /// Partner endpoint (HTTPS, mutual TLS): the address `serve` binds.
    pub listen: String,
    /// The partner address advertised in the node's card, when partners
    /// reach it elsewhere than `listen` (NAT, a proxy). Default: `listen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Local API for the node's users (HTTP on loopback).
    pub api_listen: String,
    /// The operator chose to serve the API (plain HTTP, bearer tokens) on
    /// a non-loopback address (`init --api-insecure-non-loopback`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api_insecure_non_loopback: bool,
    /// `sqlite` (the file `node.db` in the node directory) or a
    /// `postgres://` URL.
    pub store: String,
    /// Seconds between automatic audit checkpoints while serving.
    #[serde(default = "default_checkpoint_secs")]
    pub checkpoint_interval_secs: u64,
    /// Seconds a `serve` worker's claim on an outbox row lasts without
    /// renewal: how soon another worker takes over the deliveries of one
    /// that died (docs/STORE.md, "Several workers").
    #[serde(default = "default_lease_secs")]
    pub outbox_lease_secs: u64,
    /// Length of a hit/no-hit key period: every partner's OPRF key and
    /// references change when a period ends (docs/PRIVACY.md).
    #[serde(default = "default_hit_period_secs")]
    pub hit_period_secs: u64,
}

pub(crate) fn default_hit_period_secs() -> u64 {
    7 * 24 * 3600
}

fn default_checkpoint_secs() -> u64 {
    60
}

fn default_lease_secs() -> u64 {
    15
}

impl Config {
    pub fn load(dir: &Path) -> NodeResult<Config> {
        let path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|_| ConfigError::NoNode {
            dir: dir.to_path_buf(),
            file: CONFIG_FILE,
        })?;
        Ok(toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path,
            detail: e.to_string(),
        })?)
    }

    /// The partner address this node advertises.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(&self.listen)
    }

    pub fn save(&self, dir: &Path) -> NodeResult<()> {
        let text = toml::to_string_pretty(self).map_err(NodeError::internal)?;
        write_atomic(&dir.join(CONFIG_FILE), text.as_bytes())
    }
}

pub fn keys_dir(dir: &Path) -> PathBuf {
    dir.join(KEYS_DIR)
}

/// Writes via a temporary file and rename, so a crash leaves the old file
/// or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> NodeResult<()> {
    write_file(path, bytes, true)
}

/// [`write_atomic`], refusing (`BadInput`, exit 2) to replace an existing
/// file, symlink or anything else at `path` unless `overwrite`.
///
/// The temporary file is created next to `path` under a random name with
/// `O_CREAT|O_EXCL` (`create_new`), mode 0600: a file or symlink planted
/// in advance (`OUT.tmp` was a fixed, guessable name) is never opened or
/// followed — with `O_EXCL` the open fails on any existing name, a
/// symlink included. Without `overwrite` the new file is put in place with a hard
/// link, which fails if anything exists at `path` (no check-then-rename
/// race); where hard links are unsupported (e.g. FAT media), a check
/// then a rename. On any failure the temporary file is removed.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool) -> NodeResult<()> {
    let exists = || {
        NodeError::bad(format!(
            "{} already exists; choose another path or pass --force to replace it",
            path.display()
        ))
    };
    let failed = |p: &Path, e: std::io::Error| NodeError::from(PathError::new("writing", p, e));
    if !overwrite && std::fs::symlink_metadata(path).is_ok() {
        return Err(exists());
    }
    let name = path
        .file_name()
        .ok_or_else(|| NodeError::bad(format!("{} is not a file path", path.display())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".{}.tmp",
        hex::encode(tansiq_crypto::random_bytes::<8>())
    ));
    let tmp = path.with_file_name(tmp_name);
    {
        // Private from the start: configs may hold a database password,
        // bundles and backups hold sealed traffic.
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(|e| failed(&tmp, e))?;
        if let Err(e) = f.write_all(bytes).and_then(|_| f.sync_all()) {
            drop(f);
            let _ = std::fs::remove_file(&tmp);
            return Err(failed(&tmp, e));
        }
    }
    let placed = if overwrite {
        std::fs::rename(&tmp, path)
    } else {
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => std::fs::remove_file(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_file(&tmp);
                return Err(exists());
            }
            // No hard links here: check, then rename.
            Err(_) if std::fs::symlink_metadata(path).is_ok() => {
                let _ = std::fs::remove_file(&tmp);
                return Err(exists());
            }
            Err(_) => std::fs::rename(&tmp, path),
        }
    };
    if let Err(e) = placed {
        let _ = std::fs::remove_file(&tmp);
        return Err(failed(path, e));
    }
    // The rename itself durable too.
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates `path` as a new empty file, mode 0600, with `O_CREAT|O_EXCL`:
/// refused (`BadInput`) if anything exists there, a symlink included,
/// which is never followed.
pub fn create_private(path: &Path) -> NodeResult<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            NodeError::bad(format!(
                "{} already exists; choose a new file",
                path.display()
            ))
        } else {
            NodeError::bad(format!("cannot create {}: {e}", path.display()))
        }
    })
}

/// An advertised endpoint: `HOST:PORT` as [`parse_listen`] takes it (the
/// form partners accept in a card), normalised.
pub fn parse_endpoint(s: &str) -> NodeResult<String> {
    parse_listen(s)
        .map(|a| a.to_string())
        .map_err(|e| NodeError::bad(format!("--endpoint: {e}")))
}

/// The local API speaks plain HTTP with bearer tokens: bound anywhere but
/// loopback, every token crosses the network in clear. Refused (bad
/// input) unless the operator opted in explicitly.
pub fn check_api_addr(addr: SocketAddr, insecure_non_loopback: bool) -> NodeResult<()> {
    if addr.ip().is_loopback() || insecure_non_loopback {
        return Ok(());
    }
    Err(NodeError::bad(format!(
        "the local API address {addr} is not loopback: the API is plain HTTP and its \
         bearer tokens would cross the network in clear. Use a loopback address \
         (127.0.0.1 or [::1]) behind a TLS proxy, or accept the risk with \
         --api-insecure-non-loopback (docs/API.md)"
    )))
}

/// `HOST:PORT` with a numeric or `localhost` host.
pub fn parse_listen(s: &str) -> NodeResult<SocketAddr> {
    let s2 = s.replace("localhost", "127.0.0.1");
    s2.parse::<SocketAddr>().map_err(|_| {
        NodeError::bad(format!(
            "{s:?} is not a HOST:PORT address (e.g. 127.0.0.1:7401)"
        ))
    })
}

/// The file `serve` holds a shared lock on while it runs, and `tansiq
/// restore` an exclusive one while it replaces the store.
pub const SERVE_LOCK: &str = "serve.lock";

/// Takes the node directory's serve lock: shared for `serve` (several
/// workers may run on one PostgreSQL node), exclusive for `restore`. The
/// lock lasts as long as the returned file is open; `Ok(None)`: another
/// process holds it in a conflicting way.
pub fn serve_lock(dir: &Path, exclusive: bool) -> NodeResult<Option<std::fs::File>> {
    let path = dir.join(SERVE_LOCK);
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts
        .open(&path)
        .map_err(|e| NodeError::bad(format!("cannot open {}: {e}", path.display())))?;
    let r = if exclusive {
        f.try_lock()
    } else {
        f.try_lock_shared()
    };
    match r {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(NodeError::bad(format!(
            "cannot lock {}: {e}",
            path.display()
        ))),
    }
}
