//! What every command gets from the global flags: the node directory and
//! the output mode; and the one way a command opens its node.

use std::path::PathBuf;

use tansiq_core::user::Actor;
use tansiq_node::Node;

use crate::error::CliResult;

/// Every command runs as the node's operator.
pub const OP: Actor = Actor::Operator;

pub struct Ctx {
    /// `--dir`, else $TANSIQ_DIR, else ./tansiq-node.
    pub dir: PathBuf,
    /// `--json`: machine-readable output on stdout.
    pub json: bool,
}

impl Ctx {
    pub fn open(&self) -> CliResult<Node> {
        Ok(Node::open(&self.dir)?)
    }
}
