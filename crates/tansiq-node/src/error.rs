//! The node's error type, and the one place errors become exit codes and
//! HTTP statuses. Messages are written for the person at the keyboard;
//! internal details (SQL, paths inside the store) stay in the log.

use tansiq_core::policy::Refusal;
use tansiq_core::Invalid;
use tansiq_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Bad usage or bad input: nothing changed.
    #[error("{0}")]
    BadInput(String),
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
    #[error("{0}")]
    Other(String),
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

impl NodeError {
    pub fn bad(msg: impl Into<String>) -> Self {
        NodeError::BadInput(msg.into())
    }

    /// Exit code per docs/CLI.md: 2 bad input, 3 policy, 1 anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            NodeError::BadInput(_) | NodeError::NotFound(_) => 2,
            NodeError::Refused(_) => 3,
            NodeError::Unauthorized | NodeError::Store(_) | NodeError::Other(_) => 1,
        }
    }

    /// HTTP status for the local API.
    pub fn status(&self) -> u16 {
        match self {
            NodeError::BadInput(_) => 400,
            NodeError::Unauthorized => 401,
            NodeError::Refused(_) => 403,
            NodeError::NotFound(_) => 404,
            NodeError::Store(StoreError::Busy) => 503,
            NodeError::Store(StoreError::Conflict(_)) => 409,
            NodeError::Store(_) | NodeError::Other(_) => 500,
        }
    }

    /// What an API client is told: never the internals of a 5xx.
    pub fn public_message(&self) -> String {
        match self.status() {
            500 => "internal error; the node's log has the details".to_string(),
            503 => "the node is busy; retry shortly".to_string(),
            409 => "conflicting change; retry".to_string(),
            _ => self.to_string(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            NodeError::BadInput(_) => "bad_input",
            NodeError::Refused(_) => "refused",
            NodeError::NotFound(_) => "not_found",
            NodeError::Unauthorized => "unauthorized",
            NodeError::Store(_) | NodeError::Other(_) => "internal",
        }
    }
}

pub type NodeResult<T> = Result<T, NodeError>;
