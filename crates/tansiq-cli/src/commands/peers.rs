//! `peer add|list|remove`: the partner nodes this node trusts.

use std::path::PathBuf;

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::input::read_input;
use crate::output::{print_json, print_line_or_json};
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum PeerCmd {
    /// Trust a partner node from its card file (verifies the signature).
    Add { card_file: PathBuf },
    /// Known peers.
    List,
    /// Stop trusting a partner: its keys, queue and hit/no-hit exposures
    /// go. Refused while it is in one of this node's channels, unless
    /// --force (the charters keep it; nothing more is sent to it).
    Remove {
        id: String,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(ctx: &Ctx, c: PeerCmd) -> CliResult {
    match c {
        PeerCmd::Add { card_file } => {
            let bytes = read_input(&card_file)?;
            let id = ctx.open()?.peer_add(&OP, &bytes)?;
            print_line_or_json(ctx.json, "id", &id);
        }
        PeerCmd::List => {
            let peers = ctx.open()?.peer_list(&OP)?;
            if ctx.json {
                print_json(&peers);
            } else {
                for p in peers {
                    let (name, ep) = (one_line(&p.name), one_line(&p.endpoint));
                    outln!("{}  {}  {name}  {ep}", p.id, one_line(&p.country));
                }
            }
        }
        PeerCmd::Remove { id, force } => {
            let r = ctx.open()?.peer_remove(&OP, &id, force)?;
            if ctx.json {
                print_json(&r);
            } else {
                outln!("{}", r.id);
            }
        }
    }
    Ok(())
}
