//! `bundle export|import`: offline bundles carried by hand.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::print_line_or_json;
use crate::progress;

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Write everything queued for a peer to a signed, sealed file.
    Export {
        #[arg(long)]
        to: String,
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file at --out (refused otherwise).
        #[arg(long)]
        force: bool,
    },
    /// Import a bundle addressed to this node (idempotent).
    Import { file: PathBuf },
}

pub fn run(ctx: &Ctx, c: BundleCmd) -> CliResult {
    match c {
        BundleCmd::Export { to, out, force } => {
            // The file is written inside the export's transaction, before
            // its audit entry: no entry without the file, and no file
            // without the entry (removed if the commit fails).
            let mut written = false;
            let node = ctx.open()?;
            let r = progress::with(progress::spinner("exporting"), |_| {
                node.bundle_export_to(&OP, &to, |bytes| {
                    tansiq_node::config::write_file(&out, bytes, force)?;
                    written = true;
                    Ok(())
                })
            });
            if r.is_err() && written {
                let _ = std::fs::remove_file(&out);
            }
            print_line_or_json(ctx.json, "items", &r?.to_string());
        }
        BundleCmd::Import { file } => {
            let bytes = read_bundle(&file)?;
            let node = ctx.open()?;
            let n = progress::with(progress::spinner("importing"), |_| {
                node.bundle_import(&OP, &bytes)
            })?;
            print_line_or_json(ctx.json, "new", &n.to_string());
        }
    }
    Ok(())
}

/// Reads a bundle file: a regular file (not a device or pipe, which could
/// stream without end) of at most `MAX_BUNDLE_FILE` bytes, read with that
/// limit whatever its size claims.
fn read_bundle(path: &Path) -> CliResult<Vec<u8>> {
    let max = tansiq_node::bundles::MAX_BUNDLE_FILE;
    let cannot = |e: std::io::Error| CliError::bad(format!("cannot read {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(cannot)?;
    let meta = f.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(CliError::bad(format!(
            "{} is not a regular file; a bundle is read from a file",
            path.display()
        )));
    }
    let too_large = || {
        CliError::bad(format!(
            "{} is larger than the bundle limit ({} MiB)",
            path.display(),
            max / (1024 * 1024)
        ))
    };
    if meta.len() > max {
        return Err(too_large());
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    f.take(max + 1).read_to_end(&mut buf).map_err(cannot)?;
    if buf.len() as u64 > max {
        return Err(too_large());
    }
    Ok(buf)
}
