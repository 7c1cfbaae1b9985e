//! What this node holds, read back from the store the one way every
//! feature and the federation's host read it.

use tansiq_core::charter::ChannelState;
use tansiq_store::Tx;

use crate::error::{NodeError, NodeResult};

/// The stored state of channel `id` (exit 2 if this node has none).
pub(crate) fn load_channel(tx: &mut Tx, id: &str) -> NodeResult<ChannelState> {
    let row = tx.channel(id)?.ok_or_else(|| {
        NodeError::bad(format!(
            "this node has no channel {id}; see `tansiq channel list`"
        ))
    })?;
    serde_json::from_str(&row.state)
        .map_err(|e| NodeError::corrupt(&format!("channel {id} state"), e))
}

/// A stored channel carries an active charter or a pending proposal;
/// one with neither is damaged.
pub(crate) fn no_charter(id: &str) -> NodeError {
    NodeError::corrupt(&format!("channel {id}"), "no charter")
}
