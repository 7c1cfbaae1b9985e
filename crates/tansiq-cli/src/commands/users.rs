//! `user add|list|remove|token`: local users and their API tokens.

use clap::Subcommand;

use tansiq_core::user::Role;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::input::parse_flag;
use crate::output::{print_json, print_line_or_json};

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Create a user; prints its API token once.
    Add {
        name: String,
        #[arg(long)]
        role: String,
        /// Files the user is assigned to, comma-separated.
        #[arg(long, value_delimiter = ',')]
        files: Vec<String>,
        /// Token lifetime: Nd (days, at most 366d), a date or an RFC 3339
        /// date-time (default 90d).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Users of this node, with each token's state and expiry.
    List,
    /// Remove a user; its token stops working at once.
    Remove { name: String },
    /// Rotate a user's token (prints the new one once; the old one stops
    /// working at once) or revoke it (issuing none).
    #[command(group(clap::ArgGroup::new("op").required(true).args(["rotate", "revoke"])))]
    Token {
        name: String,
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        revoke: bool,
        /// Lifetime of the new token (with --rotate).
        #[arg(long, conflicts_with = "revoke")]
        expires: Option<String>,
    },
}

pub fn run(ctx: &Ctx, c: UserCmd) -> CliResult {
    let json = ctx.json;
    match c {
        UserCmd::Add {
            name,
            role,
            files,
            expires,
        } => {
            let role: Role = parse_flag("--role", &role)?;
            let t = ctx
                .open()?
                .user_add_expiring(&OP, &name, role, &files, expires.as_deref())?;
            print_token(json, &t);
        }
        UserCmd::List => list(ctx)?,
        UserCmd::Remove { name } => {
            ctx.open()?.user_remove(&OP, &name)?;
            print_line_or_json(json, "removed", &name);
        }
        UserCmd::Token {
            name,
            rotate,
            expires,
            ..
        } => {
            let node = ctx.open()?;
            if rotate {
                print_token(
                    json,
                    &node.user_token_rotate(&OP, &name, expires.as_deref())?,
                );
            } else {
                node.user_token_revoke(&OP, &name)?;
                print_line_or_json(json, "revoked", &name);
            }
        }
    }
    Ok(())
}

fn list(ctx: &Ctx) -> CliResult {
    let users = ctx.open()?.user_list(&OP)?;
    if ctx.json {
        print_json(&users);
    } else {
        for u in users {
            outln!(
                "{}  {}  {}  token {} until {}",
                u.name,
                u.role,
                u.files.join(","),
                u.token,
                u.token_expires_at
            );
        }
    }
    Ok(())
}

/// A new token: alone on stdout (shown once), or with its expiry in JSON.
fn print_token(json: bool, t: &tansiq_node::admin::IssuedToken) {
    if json {
        print_json(&serde_json::json!({"token": t.token, "expires_at": t.expires_at}));
    } else {
        outln!("{}", t.token);
    }
}
