//! The node's error type, and the one place errors become exit codes and
//! HTTP statuses. Messages are written for the person at the keyboard;
//! internal details (SQL, paths inside the store) stay in the log.
//!
//! Each feature whose failures a caller acts on differently has its own
//! enum, carried by one variant of [`NodeError`]:
//!
//! | variant      | what the caller does                         | exit | HTTP |
//! |--------------|----------------------------------------------|------|------|
//! | `BadInput`   | fixes the command or request                 | 2    | 400  |
//! | `Stix`       | fixes the named object and property          | 2    | 400  |
//! | `Refused`    | nothing: a rule said no (it is named)        | 3    | 403  |
//! | `NotFound`   | checks the id (or lacks the right to see it) | 2    | 404  |
//! | `Unauthorized` | presents a valid token                     | 1    | 401  |
//! | `Store`      | retries (busy, conflict) or restores         | 1    | 503/409/500 |
//! | `Config`     | passes `--dir` or fixes `config.toml`        | 2    | 400  |
//! | `Keys`       | restores or fixes the files under `keys/`    | 1    | 500  |
//! | `Io`         | fixes the named path (space, permissions)    | 1    | 500  |
//! | `Peer`       | retries later or checks the partner          | 1    | 502 (card: 500) |
//! | `Sync`       | reports it: the sync engine refused          | 1    | 500  |
//! | `Hit`        | (a partner) fixes its hit/no-hit request     | see [`ServeError`] |
//! | `Internal`   | reports it: a bug or an impossible state     | 1    | 500  |
//!
//! A 5xx never tells an API client (or partner) more than that it failed.

use std::fmt;
use std::path::PathBuf;

use tansiq_core::policy::Refusal;
use tansiq_core::Invalid;
use tansiq_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Bad usage or bad input: nothing changed.
    #[error("{0}")]
    BadInput(String),
    /// A STIX bundle refused whole: the object id and property at fault.
    #[error("{0}")]
    Stix(#[from] tansiq_stix::ImportError),
    /// Refused by policy: nothing changed. The message names the rule.
    #[error("{0}")]
    Refused(Refusal),
    /// No such thing — or nothing the caller may see; the two are
    /// deliberately indistinguishable.
    #[error("{0}")]
    NotFound(String),
    #[error("missing or unknown API token")]
    Unauthorized,
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The node directory's `config.toml`: missing or unreadable.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The node's key files: unreadable, or not the ones the node expects.
    #[error("{0}")]
    Keys(#[from] KeyError),
    /// A file or directory the node reads or writes, by path.
    #[error("{0}")]
    Io(#[from] PathError),
    /// A partner unreachable, answering an error, or breaking the protocol.
    #[error("{0}")]
    Peer(#[from] PeerError),
    /// The sync engine refused a submission or a state.
    #[error("sync: {0}")]
    Sync(#[from] SyncError),
    /// What the hit/no-hit holder answers a partner (boxed: it may carry
    /// a `NodeError` of its own).
    #[error("{0}")]
    Hit(Box<ServeError>),
    /// A bug or an impossible state (encoding what we built, a worker
    /// thread that died): nothing the caller can do but report it.
    #[error("{0}")]
    Internal(String),
}

/// The node directory's configuration cannot be used: the operator
/// passes another `--dir` or fixes the config file (exit 2, like bad
/// input).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `dir` has no config file (`file`): no node lives there.
    #[error(
        "{} holds no Tansiq node (no {file}); create one with `tansiq init --dir {}` or pass --dir",
        dir.display(),
        dir.display()
    )]
    NoNode { dir: PathBuf, file: &'static str },
    /// The config file at `path` does not parse.
    #[error("{}: {detail}", path.display())]
    Invalid { path: PathBuf, detail: String },
}

/// Why the hit/no-hit holder did not answer a partner; the body the
/// partner reads is built in `hits/holder.rs` (`ServeError::response`).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Malformed request (400).
    #[error("{0}")]
    Bad(String),
    /// No file is exposed to this partner (403).
    #[error("no watchlist file is exposed to your node")]
    NotExposed,
    /// The request names another key period (409).
    #[error("the key period changed; fetch the keyed list again")]
    Stale(String),
    /// The partner's budget is spent (429).
    #[error("{0}")]
    Limited(Refusal),
    /// Our own failure (500); not detailed to the partner.
    #[error("{0}")]
    Internal(NodeError),
}

impl From<NodeError> for ServeError {
    fn from(e: NodeError) -> Self {
        ServeError::Internal(e)
    }
}

impl From<StoreError> for ServeError {
    fn from(e: StoreError) -> Self {
        ServeError::Internal(e.into())
    }
}

/// The node's key files under `keys/`: the operator restores or fixes them.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// `what` (e.g. "node keys") could not be read, created or written.
    #[error("{what}: {detail}")]
    Files { what: String, detail: String },
    /// The keys in `dir` are not those of node `node`.
    #[error("the keys in {} do not belong to node {node}", dir.display())]
    NotThisNode { dir: PathBuf, node: String },
    /// The keys in `dir` are not those of key generation `gen`.
    #[error("the keys in {} are not those of generation {gen}", dir.display())]
    NotGeneration { dir: PathBuf, gen: u64 },
    /// The store answers for another node than the keys and config.
    #[error("the store belongs to another node")]
    StoreOfAnotherNode,
}

impl KeyError {
    pub fn files(what: impl Into<String>, detail: impl fmt::Display) -> Self {
        KeyError::Files {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}

/// An operation on a named path that failed.
#[derive(Debug)]
pub struct PathError {
    /// What was being done ("writing", "removing"), or empty.
    pub op: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl PathError {
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PathError {
            op,
            path: path.into(),
            source,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.op.is_empty() {
            write!(f, "{} ", self.op)?;
        }
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A partner, as this node calls it: retry later, or check the partner.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The partner could not be reached (connect, TLS, timeout) for `what`.
    #[error("{peer} is unreachable for {what}: {detail}")]
    Unreachable {
        peer: String,
        what: &'static str,
        detail: String,
    },
    /// The partner answered that our request is malformed (HTTP 400).
    #[error("{peer} rejected the request: {msg}")]
    Rejected { peer: String, msg: String },
    /// The partner answered another error status: retry later.
    #[error("{peer} answered HTTP {status}; try again later")]
    Status { peer: String, status: u16 },
    /// The partner's answer breaks the protocol (broken or modified peer).
    #[error("{peer}: {what}")]
    BadAnswer { peer: String, what: String },
    /// The partner sent something other than what it was asked for.
    #[error("{peer} sent {what}")]
    Sent { peer: String, what: &'static str },
    /// The partner's hit/no-hit key period changed on every attempt.
    #[error("{peer} keeps changing its key period; try again")]
    KeyPeriodChurn { peer: String },
    /// The partner's card as stored cannot be used.
    #[error("peer card: {0}")]
    Card(String),
}

impl PeerError {
    /// What an API client is told: the partner and what to do, not the
    /// partner's own words nor the network's (None for a stored card that
    /// cannot be used, which is this node's fault: a plain 500).
    fn public_message(&self) -> Option<String> {
        let (peer, what) = match self {
            PeerError::Unreachable { peer, what, .. } => {
                return Some(format!(
                    "partner {peer} could not be reached for {what}; try again later"
                ))
            }
            PeerError::Rejected { peer, .. } => (peer, "rejected the request"),
            PeerError::Status { peer, .. } => (peer, "answered with an error; try again later"),
            PeerError::BadAnswer { peer, .. } | PeerError::Sent { peer, .. } => {
                (peer, "answered outside the protocol")
            }
            PeerError::KeyPeriodChurn { peer } => {
                (peer, "keeps changing its key period; try again")
            }
            PeerError::Card(_) => return None,
        };
        Some(format!(
            "partner {peer} {what} (the node's log has the details)"
        ))
    }
}

/// What the sync engine (tansiq-sync) refused.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Decode(#[from] tansiq_sync::DecodeError),
    #[error(transparent)]
    Submit(#[from] tansiq_sync::SubmitError),
    #[error(transparent)]
    Bundle(#[from] tansiq_sync::BundleError),
    #[error(transparent)]
    Restore(#[from] tansiq_sync::RestoreError),
}

impl From<Invalid> for NodeError {
    fn from(e: Invalid) -> Self {
        NodeError::BadInput(e.0)
    }
}

impl From<Refusal> for NodeError {
    fn from(r: Refusal) -> Self {
        NodeError::Refused(r)
    }
}

impl From<ServeError> for NodeError {
    fn from(e: ServeError) -> Self {
        NodeError::Hit(Box::new(e))
    }
}

impl From<tansiq_sync::DecodeError> for NodeError {
    fn from(e: tansiq_sync::DecodeError) -> Self {
        NodeError::Sync(e.into())
    }
}

impl From<tansiq_sync::SubmitError> for NodeError {
    fn from(e: tansiq_sync::SubmitError) -> Self {
        NodeError::Sync(e.into())
    }
}

impl From<tansiq_sync::BundleError> for NodeError {
    fn from(e: tansiq_sync::BundleError) -> Self {
        NodeError::Sync(e.into())
    }
}

impl From<tansiq_sync::RestoreError> for NodeError {
    fn from(e: tansiq_sync::RestoreError) -> Self {
        NodeError::Sync(e.into())
    }
}

impl NodeError {
    pub fn bad(msg: impl Into<String>) -> Self {
        NodeError::BadInput(msg.into())
    }

    pub fn internal(msg: impl fmt::Display) -> Self {
        NodeError::Internal(msg.to_string())
    }

    /// Data in the store that does not parse: the store is damaged.
    pub fn corrupt(what: &str, e: impl fmt::Display) -> Self {
        NodeError::Store(StoreError::Corrupt(format!("{what}: {e}")))
    }

    /// Exit code per docs/CLI.md: 2 bad input, 3 policy, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            NodeError::BadInput(_)
            | NodeError::Stix(_)
            | NodeError::NotFound(_)
            | NodeError::Config(_) => 2,
            NodeError::Refused(_) => 3,
            NodeError::Hit(h) => match &**h {
                ServeError::Bad(_) => 2,
                ServeError::NotExposed | ServeError::Limited(_) => 3,
                ServeError::Stale(_) => 1,
                ServeError::Internal(e) => e.exit_code(),
            },
            NodeError::Unauthorized
            | NodeError::Store(_)
            | NodeError::Keys(_)
            | NodeError::Io(_)
            | NodeError::Peer(_)
            | NodeError::Sync(_)
            | NodeError::Internal(_) => 1,
        }
    }

    /// HTTP status, for the local API and (for `Hit`) for a partner's
    /// hit/no-hit request.
    pub fn status(&self) -> u16 {
        match self {
            NodeError::BadInput(_) | NodeError::Stix(_) | NodeError::Config(_) => 400,
            NodeError::Unauthorized => 401,
            NodeError::Refused(_) => 403,
            NodeError::NotFound(_) => 404,
            NodeError::Store(StoreError::Busy) => 503,
            NodeError::Store(StoreError::Conflict(_)) => 409,
            NodeError::Hit(h) => match &**h {
                ServeError::Bad(_) => 400,
                ServeError::NotExposed => 403,
                ServeError::Stale(_) => 409,
                ServeError::Limited(_) => 429,
                // A partner learns nothing of our failure, busy included.
                ServeError::Internal(_) => 500,
            },
            // A partner failed, not this node: the API caller is told
            // which partner, never the network details.
            NodeError::Peer(PeerError::Card(_)) => 500,
            NodeError::Peer(_) => 502,
            NodeError::Store(_)
            | NodeError::Keys(_)
            | NodeError::Io(_)
            | NodeError::Sync(_)
            | NodeError::Internal(_) => 500,
        }
    }

    /// What an API client or partner is told: never the internals of a 5xx.
    pub fn public_message(&self) -> String {
        if let NodeError::Hit(h) = self {
            return match &**h {
                ServeError::Internal(_) => "internal error".to_string(),
                ServeError::Limited(r) => r.reason.clone(),
                e => e.to_string(),
            };
        }
        if let NodeError::Peer(p) = self {
            if let Some(m) = p.public_message() {
                return m;
            }
        }
        match self.status() {
            500 => "internal error; the node's log has the details".to_string(),
            503 => "the node is busy; retry shortly".to_string(),
            409 => "conflicting change; retry".to_string(),
            _ => self.to_string(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            NodeError::BadInput(_) | NodeError::Stix(_) | NodeError::Config(_) => "bad_input",
            NodeError::Refused(_) => "refused",
            NodeError::NotFound(_) => "not_found",
            NodeError::Unauthorized => "unauthorized",
            NodeError::Hit(h) => match &**h {
                ServeError::Bad(_) => "bad_input",
                ServeError::NotExposed | ServeError::Limited(_) => "refused",
                ServeError::Stale(_) => "stale",
                ServeError::Internal(e) => e.code(),
            },
            NodeError::Peer(PeerError::Card(_)) => "internal",
            NodeError::Peer(_) => "partner",
            NodeError::Store(_)
            | NodeError::Keys(_)
            | NodeError::Io(_)
            | NodeError::Sync(_)
            | NodeError::Internal(_) => "internal",
        }
    }
}

pub type NodeResult<T> = Result<T, NodeError>;

#[cfg(test)]
mod tests {
    use super::*;
    use tansiq_core::policy::Rule;

    #[test]
    fn mapping_kept_and_5xx_never_leak() {
        let cases: Vec<(NodeError, i32, u16)> = vec![
            (NodeError::bad("x"), 2, 400),
            (NodeError::NotFound("x".into()), 2, 404),
            (
                NodeError::Refused(Refusal {
                    rule: Rule::Exposure,
                    reason: "r".into(),
                }),
                3,
                403,
            ),
            (NodeError::Unauthorized, 1, 401),
            (StoreError::Busy.into(), 1, 503),
            (StoreError::Conflict("c".into()).into(), 1, 409),
            (StoreError::Db("SELECT secret".into()).into(), 1, 500),
            (
                ConfigError::NoNode {
                    dir: "/d".into(),
                    file: "config.toml",
                }
                .into(),
                2,
                400,
            ),
            (KeyError::StoreOfAnotherNode.into(), 1, 500),
            (
                PeerError::Status {
                    peer: "p".into(),
                    status: 502,
                }
                .into(),
                1,
                502,
            ),
            (
                PeerError::Unreachable {
                    peer: "p".into(),
                    what: "a query",
                    detail: "tcp connect 10.0.0.7:7400 refused".into(),
                }
                .into(),
                1,
                502,
            ),
            (PeerError::Card("secret detail".into()).into(), 1, 500),
            (NodeError::internal("secret detail"), 1, 500),
            (ServeError::Bad("b".into()).into(), 2, 400),
            (ServeError::NotExposed.into(), 3, 403),
            (ServeError::Stale("k".into()).into(), 1, 409),
            (ServeError::Internal(StoreError::Busy.into()).into(), 1, 500),
        ];
        for (e, exit, status) in cases {
            assert_eq!((e.exit_code(), e.status()), (exit, status), "{e:?}");
            let m = e.public_message();
            if status == 502 {
                // The partner named, the network's details not.
                assert!(
                    m.starts_with("partner p ") && !m.contains("10.0.0.7"),
                    "{m}"
                );
            } else if status >= 500 {
                assert!(m.starts_with("internal error") || m.contains("busy"), "{m}");
            }
        }
    }
}
