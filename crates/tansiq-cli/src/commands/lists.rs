//! Watchlists: `watchlist import`, `screen`, `alerts`. File formats in,
//! records or JSONL out, with a progress bar when a person is watching.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_lists::{EntryKind, Format};
use tansiq_match::{Hit, Index, Query};
use tansiq_node::watchlist::{match_entry, ImportItem};

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::{finish_jsonl, jsonl_sink, print_json, write_jsonl};
use crate::progress::bar;
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum WatchlistCmd {
    /// Import every entry of a list as person/organization records (one transaction).
    Import(ImportArgs),
}

// `watchlist import` (documented on its `WatchlistCmd` variant).
#[derive(Args, Debug)]
pub struct ImportArgs {
    #[arg(long)]
    channel: String,
    #[arg(long)]
    file: String,
    /// un-xml, ofac-csv, jsonl or csv.
    #[arg(long)]
    format: String,
    /// List name recorded in each entry's listing (default: UN, OFAC, or the file name).
    #[arg(long)]
    list: Option<String>,
    /// Skip individually invalid rows (duplicate ids, orphan rows, bad fields),
    /// reporting each on stderr, instead of rejecting the whole file.
    #[arg(long)]
    skip_invalid: bool,
    path: PathBuf,
}

// `tansiq screen` (documented on its `Cmd` variant).
#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// Names to screen: JSONL `{"id","name",…}` or CSV with an `id,name` header.
    #[arg(long)]
    names: PathBuf,
    /// Screen against this list file (JSONL entries) instead of the node.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Minimum score (default: the matcher's calibrated threshold).
    #[arg(long)]
    threshold: Option<f64>,
    /// Hits per query at most.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Write the JSONL here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn watchlist(ctx: &Ctx, c: WatchlistCmd) -> CliResult {
    let WatchlistCmd::Import(a) = c;
    import(ctx, a)
}

fn import(ctx: &Ctx, a: ImportArgs) -> CliResult {
    let ImportArgs {
        channel,
        file,
        format,
        list,
        skip_invalid,
        path,
    } = a;
    let fmt: Format = format.parse().map_err(|_| {
        CliError::bad(format!(
            "--format {format:?}: use un-xml, ofac-csv, jsonl or csv"
        ))
    })?;
    let node = ctx.open()?;
    let list_name = list.unwrap_or_else(|| match fmt {
        Format::UnXml => "UN".into(),
        Format::OfacCsv => "OFAC".into(),
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "list".into()),
    });
    let pb = bar(0, "reading");
    let opts = tansiq_lists::ImportOptions { skip_invalid };
    let imported = tansiq_lists::import_with_options(fmt, &path, opts, &|done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })
    .map_err(|e| CliError::bad(format!("{e}; nothing imported")))?;
    pb.finish_and_clear();
    for skipped in &imported.skipped {
        eprintln!("warning: {}", crate::term::safe(&skipped.to_string()));
    }
    let entries = imported.entries;
    let items: Vec<ImportItem> = entries
        .into_iter()
        .map(|e| ImportItem {
            source_ref: e.source_ref,
            kind: match e.kind {
                EntryKind::Person => Kind::Person,
                EntryKind::Organization => Kind::Organization,
            },
            data: e.data,
        })
        .collect();
    let pb = bar(items.len() as u64, "importing");
    let summary = node.watchlist_import(&OP, &channel, &file, &list_name, items, &|i| {
        pb.set_position(i as u64)
    })?;
    pb.finish_and_clear();
    if ctx.json {
        outln!(
            "{}",
            serde_json::to_string(&summary).expect("summary serialises")
        );
    } else {
        outln!("{}", summary.imported);
        if std::io::stderr().is_terminal() {
            eprintln!(
                "{} new, {} updated, {} unchanged, {} delisted; {} alert(s) raised",
                summary.created,
                summary.updated,
                summary.unchanged,
                summary.delisted,
                summary.alerts
            );
        }
    }
    Ok(())
}

fn to_query(q: tansiq_lists::NameQuery) -> Query {
    Query {
        id: q.id,
        name: q.name,
        birth_date: q.birth_date,
        nationality: q.nationality,
        gender: q.gender,
        documents: vec![],
    }
}

pub fn screen(ctx: &Ctx, args: &ScreenArgs) -> CliResult {
    let queries: Vec<Query> = tansiq_lists::read_queries(&args.names)
        .map_err(|e| CliError::bad(e.to_string()))?
        .into_iter()
        .map(to_query)
        .collect();
    let threshold = args.threshold.unwrap_or(tansiq_match::DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(CliError::bad("--threshold must be between 0 and 1"));
    }
    if args.top == 0 {
        return Err(CliError::bad("--top must be at least 1"));
    }
    let results: Vec<Vec<Hit>> = match &args.list {
        Some(list) => {
            let entries =
                tansiq_lists::read_list(list).map_err(|e| CliError::bad(e.to_string()))?;
            let index = Index::build(
                entries
                    .iter()
                    .map(|e| match_entry(&e.id, &e.data))
                    .collect(),
            );
            let pb = bar(queries.len() as u64, "screening");
            let mut out = Vec::with_capacity(queries.len());
            for chunk in queries.chunks(2048) {
                out.extend(index.screen_batch(chunk, threshold, args.top));
                pb.inc(chunk.len() as u64);
            }
            pb.finish_and_clear();
            out
        }
        None => ctx.open()?.screen(&OP, &queries, threshold, args.top)?,
    };
    let mut sink = jsonl_sink(args.out.as_deref())?;
    for (q, hits) in queries.iter().zip(results) {
        let hits: Vec<serde_json::Value> = hits
            .into_iter()
            .map(|h| json!({"entry_id": h.entry_id, "score": (h.score * 10_000.0).round() / 10_000.0, "matched_name": h.matched_name, "explanation": h.explanation}))
            .collect();
        // query_id first, as documented (serde_json maps sort keys).
        // Names and explanations come from list files: no raw C1 or bidi
        // character (JSON leaves them unescaped) reaches a terminal.
        let line = format!("{{\"query_id\":{},\"hits\":{}}}", json!(q.id), json!(hits));
        write_jsonl(&mut sink, &line);
    }
    finish_jsonl(sink);
    Ok(())
}

/// `alerts`: hits raised by continuous screening of arriving entries.
pub fn alerts(ctx: &Ctx) -> CliResult {
    let alerts = ctx.open()?.alerts(&OP)?;
    if ctx.json {
        let v: Vec<serde_json::Value> = alerts
            .iter()
            .map(|a| {
                serde_json::json!({"id": a.id, "entry_id": a.entry_id, "record_id": a.record_id,
                    "score": a.score, "matched_name": a.matched_name, "explanation": a.explanation,
                    "created_at": a.created_at})
            })
            .collect();
        print_json(&v);
    } else {
        for a in alerts {
            outln!(
                "{}  {:.3}  entry {}  record {}  {}",
                a.id,
                a.score,
                a.entry_id,
                a.record_id,
                one_line(&a.explanation)
            );
        }
    }
    Ok(())
}
