//! This node itself: `init`, `card`, `keys rotate`.

use clap::{Args, Subcommand};

use tansiq_node::{InitOptions, Node};

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::output::{print_json, print_line_or_json};

// `tansiq init` (documented on its `Cmd` variant).
#[derive(Args, Debug)]
pub struct InitArgs {
    #[arg(long)]
    name: String,
    #[arg(long)]
    country: String,
    /// Partner endpoint HOST:PORT (the address `serve` binds).
    #[arg(long)]
    listen: String,
    /// Partner address HOST:PORT advertised in the card, when partners
    /// reach this node elsewhere (NAT, a proxy); default: --listen.
    #[arg(long)]
    endpoint: Option<String>,
    /// Local API HOST:PORT (default: loopback, the partner port + 1).
    #[arg(long)]
    api_listen: Option<String>,
    /// Allow a non-loopback --api-listen: the API is plain HTTP, so
    /// its bearer tokens then cross the network in clear.
    #[arg(long)]
    api_insecure_non_loopback: bool,
    /// `sqlite` (default) or a postgres:// URL.
    #[arg(long)]
    store: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// New signing, encryption and TLS keys (old ones kept); prints the
    /// new card, which partners receive by push as they come online.
    /// Stop `serve` first.
    Rotate,
}

pub fn init(ctx: &Ctx, a: InitArgs) -> CliResult {
    if let Some(addr) = &a.api_listen {
        let addr = tansiq_node::config::parse_listen(addr)?;
        tansiq_node::config::check_api_addr(addr, a.api_insecure_non_loopback)?;
    }
    let node = Node::init(
        &ctx.dir,
        &InitOptions {
            name: &a.name,
            country: &a.country,
            listen: &a.listen,
            endpoint: a.endpoint.as_deref(),
            api_listen: a.api_listen.as_deref(),
            store: a.store.as_deref(),
        },
    )?;
    if a.api_insecure_non_loopback {
        let mut config = node.config.clone();
        config.api_insecure_non_loopback = true;
        config.save(&ctx.dir)?;
    }
    print_line_or_json(ctx.json, "id", node.id());
    Ok(())
}

pub fn card(ctx: &Ctx) -> CliResult {
    print_json(&ctx.open()?.card());
    Ok(())
}

pub fn keys(ctx: &Ctx, c: KeysCmd) -> CliResult {
    match c {
        KeysCmd::Rotate => {
            let card = ctx.open()?.keys_rotate(&OP)?;
            if ctx.json {
                print_json(&serde_json::json!({"gen": card.body.gen, "card": card}));
            } else {
                print_json(&card);
            }
        }
    }
    Ok(())
}
