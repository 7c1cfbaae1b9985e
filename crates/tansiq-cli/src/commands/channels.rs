//! `channel create|accept|update|list|export|import`: channels and their
//! charters.

use std::path::PathBuf;

use clap::Subcommand;

use tansiq_node::Node;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::input::read_input;
use crate::output::{print_json, print_line_or_json};
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum ChannelCmd {
    /// Propose a channel (this node signs its charter and is a member).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[arg(long, value_delimiter = ',', required = true)]
        files: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        relays: Vec<String>,
        #[arg(long)]
        retention_days: Option<u32>,
    },
    /// Co-sign a pending charter.
    Accept { channel_id: String },
    /// Propose the next charter version with members added or removed.
    Update {
        channel_id: String,
        #[arg(long, value_delimiter = ',')]
        add: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove: Vec<String>,
    },
    /// Channels this node belongs to.
    List,
    /// Print a channel's newest signed charter (to carry to a partner).
    Export { channel_id: String },
    /// Import a signed charter file from a partner.
    Import { file: PathBuf },
}

pub fn run(ctx: &Ctx, c: ChannelCmd) -> CliResult {
    let node = ctx.open()?;
    let json = ctx.json;
    match c {
        ChannelCmd::Create {
            name,
            members,
            files,
            relays,
            retention_days,
        } => {
            let id = node.channel_create(&OP, &name, members, files, relays, retention_days)?;
            print_line_or_json(json, "id", &id);
        }
        ChannelCmd::Accept { channel_id } => {
            let v = node.channel_accept(&OP, &channel_id)?;
            if json {
                print_json(&v);
            }
        }
        ChannelCmd::Update {
            channel_id,
            add,
            remove,
        } => update(&node, json, &channel_id, add, remove)?,
        ChannelCmd::List => list(&node, json)?,
        ChannelCmd::Export { channel_id } => print_json(&node.channel_export(&OP, &channel_id)?),
        ChannelCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let v = node.channel_import(&OP, &bytes)?;
            if json {
                print_json(&v);
            } else {
                outln!("{} {}", v.id, v.status);
            }
        }
    }
    Ok(())
}

fn update(
    node: &Node,
    json: bool,
    channel_id: &str,
    add: Vec<String>,
    remove: Vec<String>,
) -> CliResult {
    if add.is_empty() && remove.is_empty() {
        return Err(CliError::bad("give --add ID,… and/or --remove ID,…"));
    }
    let v = node.channel_update(&OP, channel_id, add, remove)?;
    if json {
        print_json(&v);
    } else if let Some(p) = v.pending_version {
        outln!("{} v{} pending: awaiting {}", v.id, p, v.awaiting.join(","));
    } else {
        // In force at once: this node left.
        outln!("{} v{} {}", v.id, v.version, v.status);
    }
    Ok(())
}

fn list(node: &Node, json: bool) -> CliResult {
    let list = node.channel_list(&OP)?;
    if json {
        print_json(&list);
    } else {
        for c in list {
            outln!(
                "{}  {:7}  v{}  {}  members: {}  files: {}",
                c.id,
                c.status,
                c.version,
                one_line(&c.name),
                c.members.join(","),
                one_line(&c.files.join(","))
            );
        }
    }
    Ok(())
}
