//! What taking in one engine output remembers between its envelopes: the
//! terms of the channels read (a batch of records in one channel parses
//! its state once) and the versions to forward once the engine is free.

use tansiq_core::policy;
use tansiq_store::Tx;

use crate::federation::Outcome;
use crate::held::load_channel;

/// An originator's new version of a record this node shared onward (under
/// a release or a follow-up grant): it must follow to `channel`. Sent once
/// the engine is free, in the same transaction.
pub(crate) struct Forward {
    pub record: tansiq_core::record::SignedRecord,
    pub channel: String,
}

#[derive(Default)]
pub struct Batch {
    pub(crate) forwards: Vec<Forward>,
    /// Watchlist entries taken in: screened against this node's own
    /// persons once the output is in (one index for the batch, not one
    /// scan of every record per entry).
    pub(crate) screen_ids: Vec<String>,
    terms: std::collections::HashMap<String, Option<PostTerms>>,
}

/// What a channel allows a post by (active, members, files).
type PostTerms = (bool, Vec<String>, Vec<String>);

impl Batch {
    /// Whether `sender` may post in `file` of `channel` as this node holds
    /// the channel (active, a member, the file carried): the same
    /// membership rule a node applies to its own posts.
    pub(crate) fn may_post(
        &mut self,
        tx: &mut Tx,
        sender: &str,
        channel: &str,
        file: &str,
    ) -> Result<(), Outcome> {
        if !self.terms.contains_key(channel) {
            let st = load_channel(tx, channel).ok();
            let c = st.and_then(|st| {
                let active = st.active.is_some();
                st.charter()
                    .map(|c| (active, c.members.clone(), c.files.clone()))
            });
            self.terms.insert(channel.to_string(), c);
        }
        match &self.terms[channel] {
            Some((active, members, files)) => {
                policy::may_post(sender, members, *active, files, file, channel)
                    .map_err(|r| Outcome::Hostile(r.to_string()))
            }
            None => Err(Outcome::Reject(format!("no channel {channel} here"))),
        }
    }

    /// Later envelopes of the output see `channel` as it becomes.
    pub(crate) fn forget_channel(&mut self, channel: &str) {
        self.terms.remove(channel);
    }
}
