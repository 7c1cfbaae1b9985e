//! Liaison messages: `send`, `inbox`, `ack`.

use clap::Args;

use crate::ctx::{Ctx, OP};
use crate::error::CliResult;
use crate::output::{print_json, print_line_or_json};
use crate::term::one_line;

// `tansiq send` (documented on its `Cmd` variant).
#[derive(Args, Debug)]
pub struct SendArgs {
    #[arg(long)]
    channel: String,
    #[arg(long)]
    file: Option<String>,
    /// flash, immediate, priority or routine.
    #[arg(long)]
    precedence: String,
    #[arg(long)]
    text: String,
    /// Recipients must acknowledge it (tracked per recipient).
    #[arg(long)]
    ack_required: bool,
}

pub fn send(ctx: &Ctx, a: SendArgs) -> CliResult {
    let id = ctx.open()?.send_message(
        &OP,
        &a.channel,
        a.file.as_deref(),
        &a.precedence,
        &a.text,
        a.ack_required,
    )?;
    print_line_or_json(ctx.json, "id", &id);
    Ok(())
}

pub fn inbox(ctx: &Ctx) -> CliResult {
    let msgs = ctx.open()?.inbox(&OP)?;
    if ctx.json {
        print_json(&msgs);
    } else {
        for m in msgs {
            outln!(
                "{}  {:9}  {}  from {}  {}{}",
                m.id,
                one_line(&m.precedence.to_uppercase()),
                one_line(&m.sent_at),
                one_line(&m.sender),
                crate::term::block(&m.text),
                if m.ack_required && !m.acked {
                    "  [ack required]"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

pub fn ack(ctx: &Ctx, message_id: &str) -> CliResult {
    Ok(ctx.open()?.ack_message(&OP, message_id)?)
}
