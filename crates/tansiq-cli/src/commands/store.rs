//! The node's storage: `backup`, `restore`, `store migrate`, `store
//! mark-restored`.

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
    /// After restoring the store from a backup by other means (pg_restore
    /// on PostgreSQL): hold every channel until its partners confirm they
    /// hold none of this node's later envelopes (docs/OPERATIONS.md,
    /// "Backups"). `tansiq restore` does it for SQLite.
    MarkRestored,
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

/// Prints the holds a restore set.
fn print_holds(ctx: &Ctx, replaced: Option<&str>, holds: &[(String, String)]) {
    if ctx.json {
        let holds: Vec<_> = holds
            .iter()
            .map(|(c, p)| serde_json::json!({"channel": c, "partner": p}))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"replaced": replaced, "holds": holds})
        );
        return;
    }
    if let Some(r) = replaced {
        outln!("the store it replaced is kept as {r}");
    }
    let channels: std::collections::BTreeSet<&String> = holds.iter().map(|h| &h.0).collect();
    outln!(
        "marked restored: {} channel(s) held until their partners answer ({} hold(s)); see `tansiq sync status`",
        channels.len(),
        holds.len()
    );
}

pub fn restore(ctx: &Ctx, backup: &Path) -> CliResult {
    if !backup.is_file() {
        return Err(CliError::bad(format!(
            "{} is not a file; give the copy made by `tansiq backup`",
            backup.display()
        )));
    }
    let r = tansiq_node::restore::restore_sqlite(&ctx.dir, backup)?;
    print_holds(ctx, r.replaced.as_deref(), &r.holds);
    Ok(())
}

pub fn run(ctx: &Ctx, c: StoreCmd) -> CliResult {
    let to = match c {
        StoreCmd::Migrate { to } => to,
        StoreCmd::MarkRestored => {
            let m = ctx.open()?.mark_restored(&OP)?;
            print_holds(ctx, None, &m.holds);
            return Ok(());
        }
    };
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
