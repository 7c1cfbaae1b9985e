//! `watchlist import` and `screen`: file formats in, records or JSONL out,
//! with a progress bar when a person is watching.

use std::io::{IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_core::user::Actor;
use tansiq_lists::{EntryKind, Format};
use tansiq_match::{Hit, Index, Query};
use tansiq_node::watchlist::{match_entry, ImportItem};
use tansiq_node::Node;

use crate::cli::{CliError, CliResult, ScreenArgs};

/// A progress bar on stderr when stdout is a terminal; hidden otherwise.
fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({per_sec}, {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

#[allow(clippy::too_many_arguments)]
pub fn import(
    dir: &Path,
    json_out: bool,
    channel: &str,
    file: &str,
    format: &str,
    list: Option<&str>,
    skip_invalid: bool,
    path: &Path,
) -> CliResult {
    let fmt: Format = format.parse().map_err(|_| {
        CliError::bad(format!(
            "--format {format:?}: use un-xml, ofac-csv, jsonl or csv"
        ))
    })?;
    let node = Node::open(dir)?;
    let list_name = list.map(str::to_string).unwrap_or_else(|| match fmt {
        Format::UnXml => "UN".into(),
        Format::OfacCsv => "OFAC".into(),
        _ => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "list".into()),
    });
    let pb = bar(0, "reading");
    let opts = tansiq_lists::ImportOptions { skip_invalid };
    let imported = tansiq_lists::import_with_options(fmt, path, opts, &|done, total| {
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
    let summary =
        node.watchlist_import(&Actor::Operator, channel, file, &list_name, items, &|i| {
            pb.set_position(i as u64)
        })?;
    pb.finish_and_clear();
    if json_out {
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

pub fn screen(dir: &Path, args: &ScreenArgs) -> CliResult {
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
        None => Node::open(dir)?.screen(&Actor::Operator, &queries, threshold, args.top)?,
    };
    let mut sink: Box<dyn Write> = match &args.out {
        Some(p) => {
            Box::new(std::io::BufWriter::new(create_private(p).map_err(|e| {
                CliError::bad(format!("cannot write {}: {e}", p.display()))
            })?))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    for (q, hits) in queries.iter().zip(results) {
        let hits: Vec<serde_json::Value> = hits
            .into_iter()
            .map(|h| json!({"entry_id": h.entry_id, "score": (h.score * 10_000.0).round() / 10_000.0, "matched_name": h.matched_name, "explanation": h.explanation}))
            .collect();
        // query_id first, as documented (serde_json maps sort keys).
        // Names and explanations come from list files: no raw C1 or bidi
        // character (JSON leaves them unescaped) reaches a terminal.
        let line = format!("{{\"query_id\":{},\"hits\":{}}}", json!(q.id), json!(hits));
        writeln!(sink, "{}", crate::term::safe(&line)).unwrap_or_else(|e| crate::output_failed(e));
    }
    sink.flush().unwrap_or_else(|e| crate::output_failed(e));
    Ok(())
}

/// `File::create`, but a new file is 0600: results name people.
pub(crate) fn create_private(p: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
}
