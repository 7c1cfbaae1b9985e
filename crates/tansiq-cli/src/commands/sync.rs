//! `sync status`: delivery to partners; `sync release-hold`: the
//! operator's override of a restore hold.

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::output::print_json;
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum SyncCmd {
    /// Delivery state per peer, alarms, and restore holds.
    Status,
    /// Release a restore hold without the partner's answer (a partner
    /// gone for good). Audited. If the partner did hold later envelopes of
    /// this node's stream, what this node sends next forks it there.
    ReleaseHold {
        /// The held channel.
        #[arg(long)]
        channel: String,
        /// The partner not to wait for (default: every partner still
        /// awaited on the channel).
        #[arg(long)]
        partner: Option<String>,
    },
}

pub fn run(ctx: &Ctx, c: SyncCmd) -> CliResult {
    if let SyncCmd::ReleaseHold { channel, partner } = c {
        let released = ctx
            .open()?
            .release_hold(&OP, &channel, partner.as_deref())?;
        if ctx.json {
            print_json(&serde_json::json!({"channel": channel, "released": released}));
        } else {
            outln!("released the hold of {channel} for {}", released.join(", "));
        }
        return Ok(());
    }
    let st = ctx.open()?.sync_status(&OP)?;
    if ctx.json {
        print_json(&st);
    } else {
        for p in &st.peers {
            outln!(
                "{}  {:4}  queued {:6}  last delivery {}  {}",
                p.id,
                p.link,
                p.queued,
                p.last_delivery.as_deref().unwrap_or("never"),
                one_line(&p.name)
            );
        }
        for a in &st.alarms {
            outln!("ALARM {a}");
        }
        for h in &st.holds {
            outln!(
                "HOLD {}  restored from a backup: waiting for {} ({}) since {}; {} deferred",
                h.channel,
                h.partner,
                one_line(&h.partner_name),
                h.since,
                h.deferred
            );
        }
    }
    Ok(())
}
