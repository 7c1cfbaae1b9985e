//! `audit verify|checkpoint|checkpoints|witnesses`: the Merkle audit log.

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::print_json;
use crate::progress::{self, Progress};
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute the log and check it against checkpoints and the store.
    Verify,
    /// The latest signed checkpoint (makes one if the log grew).
    Checkpoint,
    /// The latest signed checkpoints, newest first, with the partners'
    /// cosignatures each gathered.
    Checkpoints {
        /// How many (1-10000).
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=10000))]
        limit: u16,
    },
    /// Per partner: how far it has cosigned this node's log, and the
    /// latest checkpoint of its log this node has witnessed.
    Witnesses,
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
        AuditCmd::Checkpoints { limit } => {
            let list = ctx.open()?.audit_checkpoints(&OP, limit as usize)?;
            if ctx.json {
                print_json(&list);
            } else {
                for c in &list {
                    let by: Vec<&str> = c["witnesses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|w| w["witness"].as_str())
                        .collect();
                    outln!(
                        "{:>8}  {}  {}  witnessed by {}",
                        c["size"],
                        c["created_at"].as_str().unwrap_or(""),
                        c["root"].as_str().unwrap_or(""),
                        if by.is_empty() {
                            "none yet".to_string()
                        } else {
                            by.join(", ")
                        }
                    );
                }
            }
            Ok(())
        }
        AuditCmd::Witnesses => {
            let list = ctx.open()?.audit_witnesses(&OP)?;
            if ctx.json {
                print_json(&list);
            } else {
                for w in &list {
                    outln!(
                        "{}  cosigned ours to {} ({} entries since)  witnessed theirs to {}  {}",
                        w.peer,
                        w.cosigned_size.map_or("-".into(), |s| s.to_string()),
                        w.not_cosigned,
                        w.witnessed_size.map_or("-".into(), |s| s.to_string()),
                        one_line(&w.name)
                    );
                }
            }
            Ok(())
        }
    }
}

/// A failed verification prints its report (with --json) and exits 1.
fn verify(ctx: &Ctx) -> CliResult {
    let node = ctx.open()?;
    let r = progress::with(progress::bar(0, "verifying"), |pb| {
        node.audit_verify_with_progress(&OP, &pb.report())
    })?;
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
