//! `audit verify|checkpoint`: the Merkle audit log.

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::print_json;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute the log and check it against checkpoints and the store.
    Verify,
    /// The latest signed checkpoint (makes one if the log grew).
    Checkpoint,
}

pub fn run(ctx: &Ctx, c: AuditCmd) -> CliResult {
    match c {
        AuditCmd::Verify => verify(ctx),
        AuditCmd::Checkpoint => {
            let c = ctx.open()?.audit_checkpoint(&OP, false)?;
            if ctx.json {
                print_json(&c);
            } else {
                outln!("size {}\nroot {}\n\n{}", c.size, c.root, c.note);
            }
            Ok(())
        }
    }
}

/// A failed verification prints its report (with --json) and exits 1.
fn verify(ctx: &Ctx) -> CliResult {
    let r = ctx.open()?.audit_verify(&OP)?;
    if ctx.json {
        print_json(&r);
    } else if r.ok {
        outln!(
            "audit log verified: {} entries, {} signed checkpoints, {} record versions cross-checked, {} inclusion proofs",
            r.entries, r.checkpoints, r.record_versions, r.inclusion_proofs
        );
    }
    if !r.ok {
        return Err(CliError::other(format!(
            "audit verification FAILED: {}",
            r.problem.unwrap_or_default()
        )));
    }
    Ok(())
}
