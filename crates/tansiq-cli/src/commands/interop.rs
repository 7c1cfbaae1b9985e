//! `stix export|import`: STIX 2.1 bundles in and out, and `misp import`:
//! MISP events and feeds in (docs/STIX.md; the export rule and the
//! import's provenance: docs/POLICY.md).

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::print_json;

/// Largest STIX or MISP file read (a bundle of 100,000 records is about
/// 150 MiB).
pub const MAX_INTEROP_FILE: u64 = 1024 * 1024 * 1024;

#[derive(Subcommand, Debug)]
pub enum StixCmd {
    /// Write the records of a channel (and file) that may leave this node
    /// as a STIX 2.1 bundle (audited; another node's records only where
    /// the third-party rule lets them leave: docs/POLICY.md).
    Export {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: Option<String>,
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file at --out (refused otherwise).
        #[arg(long)]
        force: bool,
    },
    /// Import a STIX 2.1 bundle as this node's own records, in one
    /// transaction (a bad object imports nothing; exit 2 names it).
    Import {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: String,
        bundle: PathBuf,
    },
}

pub fn stix(ctx: &Ctx, c: StixCmd) -> CliResult {
    match c {
        StixCmd::Export {
            channel,
            file,
            out,
            force,
        } => {
            let node = ctx.open()?;
            let e = node.stix_export(&OP, &channel, file.as_deref())?;
            let bytes = serde_json::to_vec_pretty(&e.bundle)
                .map_err(|e| CliError::other(format!("encoding the bundle: {e}")))?;
            tansiq_node::config::write_file(&out, &bytes, force)?;
            if !e.withheld.is_empty() {
                eprintln!(
                    "withheld by the third-party rule (not released to export:{}): {}",
                    node.id(),
                    e.withheld.join(", ")
                );
            }
            if ctx.json {
                print_json(&serde_json::json!({
                    "exported": e.records, "withheld": e.withheld,
                    "links_left_out": e.links_left_out,
                }));
            } else {
                outln!(
                    "{} records exported, {} withheld, {} links left out",
                    e.records,
                    e.withheld.len(),
                    e.links_left_out
                );
            }
        }
        StixCmd::Import {
            channel,
            file,
            bundle,
        } => {
            let bytes = read_interop_file(&bundle)?;
            let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::bad(format!("{} is not valid JSON: {e}", bundle.display()))
            })?;
            let source = bundle
                .file_name()
                .map_or_else(|| "stdin".to_string(), |n| n.to_string_lossy().into_owned());
            let r = ctx
                .open()?
                .stix_import(&OP, (&channel, &file), &v, &source)?;
            print_import(ctx, &r);
        }
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum MispCmd {
    /// Import a MISP event (JSON export) or a MISP feed directory
    /// (manifest.json, <uuid>.json, hashes.csv) as this node's own
    /// records, in one transaction (docs/STIX.md, "MISP").
    Import {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: String,
        /// EVENT.json or FEED_DIR.
        path: PathBuf,
    },
}

pub fn misp(ctx: &Ctx, c: MispCmd) -> CliResult {
    let MispCmd::Import {
        channel,
        file,
        path,
    } = c;
    let events = if path.is_dir() {
        read_feed(&path)?
    } else {
        vec![read_json_file(&path)?]
    };
    let bundle = tansiq_stix::misp::events_bundle(&events)
        .map_err(|e| CliError::bad(format!("{}: {e}", path.display())))?;
    let source = path.file_name().map_or_else(
        || "misp".to_string(),
        |n| format!("misp:{}", n.to_string_lossy()),
    );
    let r = ctx
        .open()?
        .stix_import(&OP, (&channel, &file), &bundle, &source)?;
    print_import(ctx, &r);
    Ok(())
}

fn read_json_file(path: &Path) -> CliResult<serde_json::Value> {
    let bytes = read_interop_file(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::bad(format!("{} is not valid JSON: {e}", path.display())))
}

/// A MISP feed: the events its `manifest.json` lists, each from
/// `<uuid>.json`; `hashes.csv`, when present, must name only those.
fn read_feed(dir: &Path) -> CliResult<Vec<serde_json::Value>> {
    let manifest = read_json_file(&dir.join("manifest.json"))?;
    let manifest = manifest.as_object().ok_or_else(|| {
        CliError::bad(format!(
            "{}: manifest.json must map event uuids to events",
            dir.display()
        ))
    })?;
    let hashes = dir.join("hashes.csv");
    if hashes.exists() {
        let text = String::from_utf8(read_interop_file(&hashes)?)
            .map_err(|_| CliError::bad(format!("{} is not UTF-8", hashes.display())))?;
        tansiq_stix::misp::check_feed_hashes(&text, manifest)
            .map_err(|e| CliError::bad(format!("{}: {e}", dir.display())))?;
    }
    let mut events = Vec::with_capacity(manifest.len());
    for uuid in manifest.keys() {
        // a uuid is a file name, never a path
        if uuid.is_empty() || !uuid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(CliError::bad(format!(
                "{}: manifest.json key {uuid:?} is not an event uuid",
                dir.display()
            )));
        }
        events.push(read_json_file(&dir.join(format!("{uuid}.json")))?);
    }
    Ok(events)
}

/// The import's counts (and with --json, every object's record).
pub fn print_import(ctx: &Ctx, r: &tansiq_node::stix::StixImportReport) {
    for (id, why) in &r.skipped {
        eprintln!("skipped {id}: {why}");
    }
    if ctx.json {
        print_json(r);
    } else {
        outln!(
            "{} created, {} updated, {} retracted, {} unchanged, {} skipped",
            r.created.len(),
            r.updated.len(),
            r.retracted.len(),
            r.unchanged,
            r.skipped.len()
        );
    }
}

/// Reads an interchange file: a regular file of at most
/// [`MAX_INTEROP_FILE`] bytes, read with that limit whatever its size
/// claims.
pub fn read_interop_file(path: &Path) -> CliResult<Vec<u8>> {
    let cannot = |e: std::io::Error| CliError::bad(format!("cannot read {}: {e}", path.display()));
    let f = std::fs::File::open(path).map_err(cannot)?;
    let meta = f.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(CliError::bad(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let max = MAX_INTEROP_FILE;
    let mut buf = Vec::with_capacity(meta.len().min(max) as usize);
    f.take(max + 1).read_to_end(&mut buf).map_err(cannot)?;
    if buf.len() as u64 > max {
        return Err(CliError::bad(format!(
            "{} is larger than the {} MiB limit",
            path.display(),
            max / (1024 * 1024)
        )));
    }
    Ok(buf)
}
