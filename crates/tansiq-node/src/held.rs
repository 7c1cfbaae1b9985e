//! What this node holds, read back from the store the one way every
//! feature and the federation's host read it.

use tansiq_core::charter::ChannelState;
use tansiq_store::Tx;

use crate::error::{NodeError, NodeResult};

/// The stored state of channel `id` (exit 2 if this node has none).
pub(crate) fn load_channel(tx: &mut Tx, id: &str) -> NodeResult<ChannelState> {
    find_channel(tx, id)?.ok_or_else(|| {
        NodeError::bad(format!(
            "this node has no channel {id}; see `tansiq channel list`"
        ))
    })
}

/// The stored state of channel `id`, if this node holds it (one read).
pub(crate) fn find_channel(tx: &mut Tx, id: &str) -> NodeResult<Option<ChannelState>> {
    match tx.channel(id)? {
        Some(row) => serde_json::from_str(&row.state)
            .map(Some)
            .map_err(|e| NodeError::corrupt(&format!("channel {id} state"), e)),
        None => Ok(None),
    }
}

/// A stored channel carries an active charter or a pending proposal;
/// one with neither is damaged.
pub(crate) fn no_charter(id: &str) -> NodeError {
    NodeError::corrupt(&format!("channel {id}"), "no charter")
}
