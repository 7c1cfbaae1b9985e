//! The node's storage: `backup`, `store migrate`.

use std::path::Path;

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::progress::{self, Progress};

#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Copy everything to an empty PostgreSQL database, verify the audit
    /// log there, then switch the node to it (the SQLite file is kept).
    Migrate {
        #[arg(long)]
        to: String,
    },
}

pub fn backup(ctx: &Ctx, out: &Path) -> CliResult {
    if out.exists() {
        return Err(CliError::bad(format!(
            "{} already exists; choose a new file",
            out.display()
        )));
    }
    let node = ctx.open()?;
    progress::with(progress::bar(0, "copying"), |pb| {
        node.backup_with_progress(&OP, out, &pb.report())
    })?;
    if !ctx.json {
        outln!("{}", out.display());
    }
    Ok(())
}

pub fn run(ctx: &Ctx, c: StoreCmd) -> CliResult {
    let StoreCmd::Migrate { to } = c;
    let node = ctx.open()?;
    let rows = progress::with(progress::bar(0, "copying"), |pb| {
        node.migrate_store_with_progress(&to, &pb.report())
    })?;
    if ctx.json {
        outln!("{}", serde_json::json!({"rows": rows}));
    } else {
        outln!("{rows} rows copied and verified; the node now uses PostgreSQL (node.db is kept unchanged)");
    }
    Ok(())
}
