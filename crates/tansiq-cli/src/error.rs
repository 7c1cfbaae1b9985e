//! The CLI's one error type: a message for stderr and the exit code the
//! contract gives it (docs/CLI.md: 2 bad input, 3 refused by policy,
//! 1 other). Node errors keep the code `tansiq_node` mapped them to.

use tansiq_node::NodeError;

/// A CLI failure with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub msg: String,
    pub code: i32,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        self.code
    }
    pub fn bad(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 2,
        }
    }
    pub fn other(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 1,
        }
    }
}

impl From<NodeError> for CliError {
    fn from(e: NodeError) -> Self {
        CliError {
            msg: e.to_string(),
            code: e.exit_code(),
        }
    }
}

impl From<tansiq_core::Invalid> for CliError {
    fn from(e: tansiq_core::Invalid) -> Self {
        CliError::bad(e.0)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
