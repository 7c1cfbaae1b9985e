//! Releases under the third-party rule: `release request|grant|refuse`,
//! `releases`.

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::output::{print_json, print_line_or_json};

#[derive(Subcommand, Debug)]
pub enum ReleaseCmd {
    /// Ask a record's originator to release it into another channel.
    Request {
        record_id: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Grant: a REQUEST_ID, or a record ID with --channel CH (no request).
    Grant {
        id: String,
        #[arg(long)]
        channel: Option<String>,
        /// Conditions attached to the release.
        #[arg(long)]
        conditions: Option<String>,
    },
    /// Refuse a release request.
    Refuse {
        request_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

pub fn run(ctx: &Ctx, c: ReleaseCmd) -> CliResult {
    match c {
        ReleaseCmd::Request {
            record_id,
            channel,
            reason,
        } => {
            let id = ctx
                .open()?
                .release_request(&OP, &record_id, &channel, reason.as_deref())?;
            print_line_or_json(ctx.json, "id", &id);
        }
        ReleaseCmd::Grant {
            id,
            channel,
            conditions,
        } => {
            let node = ctx.open()?;
            let rid = match channel {
                Some(ch) => {
                    node.release_grant(&OP, None, Some(&id), Some(&ch), conditions.as_deref())?
                }
                None => node.release_grant(&OP, Some(&id), None, None, conditions.as_deref())?,
            };
            if ctx.json {
                outln!("{}", serde_json::json!({"id": rid}));
            }
        }
        ReleaseCmd::Refuse { request_id, reason } => {
            ctx.open()?
                .release_refuse(&OP, &request_id, reason.as_deref())?
        }
    }
    Ok(())
}

/// `releases`: requests received and sent.
pub fn list(ctx: &Ctx) -> CliResult {
    let list = ctx.open()?.releases(&OP)?;
    if ctx.json {
        print_json(&list);
    } else {
        for r in list {
            outln!(
                "{}  {:8}  {}  record {}  → {}  ({} members)",
                r.id,
                r.status,
                r.direction,
                r.record,
                r.target_channel,
                r.target_members.len()
            );
        }
    }
    Ok(())
}
