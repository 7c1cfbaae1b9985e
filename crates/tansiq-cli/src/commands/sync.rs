//! `sync status`: delivery to partners.

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::output::print_json;
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum SyncCmd {
    /// Delivery state per peer.
    Status,
}

pub fn run(ctx: &Ctx, c: SyncCmd) -> CliResult {
    let SyncCmd::Status = c;
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
    }
    Ok(())
}
