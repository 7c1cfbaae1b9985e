//! Watchlists: `watchlist import`, `screen`, `alerts`. File formats in,
//! records or JSONL out, with a progress bar when a person is watching.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use tansiq_core::record::Kind;
use tansiq_lists::{EntryKind, Format};
use tansiq_match::{Hit, Index, Query};
use tansiq_node::watchlist::{match_entry, ImportItem};

use super::screen_out::{self, ResultFormat};
use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::{finish_jsonl, jsonl_sink, print_json};
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
    /// un-xml, ofac-csv, jsonl or csv (default: told from the file, as
    /// for `screen --list`).
    #[arg(long)]
    format: Option<String>,
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
    /// Names to screen: CSV with a header line, or JSONL. The usual column
    /// names are understood (name, full_name, passenger_name, first_name +
    /// last_name, dob, date_of_birth, nationality, citizenship, sex, …);
    /// without an id column each query is numbered by its line (the
    /// spreadsheet's row).
    #[arg(long)]
    names: PathBuf,
    /// Which column holds which field when the usual names are not used:
    /// FIELD=COLUMN,… with the fields id, name, given_name, surname,
    /// birth_date, nationality, gender (`--columns name=PAX,birth_date=DOB`).
    #[arg(long, value_name = "FIELD=COLUMN,…")]
    columns: Option<String>,
    /// Screen against this list file instead of the node: any format
    /// `watchlist import` reads (UN XML, OFAC CSV, JSONL, CSV), told from
    /// the file, or named with --list-format.
    #[arg(long)]
    list: Option<PathBuf>,
    /// The --list file's format: un-xml, ofac-csv, jsonl or csv.
    #[arg(long, requires = "list", value_name = "FORMAT")]
    list_format: Option<String>,
    /// A UN or OFAC --list: leave out the entries that are invalid on
    /// their own (reported on stderr) instead of refusing the file, as
    /// `watchlist import --skip-invalid` does.
    #[arg(long, requires = "list")]
    skip_invalid: bool,
    /// Minimum score (default: the matcher's calibrated threshold).
    #[arg(long)]
    threshold: Option<f64>,
    /// Hits per query at most.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// table, jsonl or csv. Default: a table on a terminal; JSONL in a
    /// pipe, into --out, or with --json.
    #[arg(long, value_enum)]
    format: Option<ResultFormat>,
    /// Write the results here instead of stdout (created 0600).
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
    let fmt: Format = match &format {
        Some(f) => f.parse().map_err(|_| {
            CliError::bad(format!(
                "--format {f:?}: use un-xml, ofac-csv, jsonl or csv"
            ))
        })?,
        None => tansiq_lists::detect_format(&path),
    };
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
    .map_err(|e| {
        let hint = match format {
            Some(_) => String::new(),
            None => format!(" (read as {fmt}; if it is another format, say which with --format)"),
        };
        CliError::bad(format!("{e}; nothing imported{hint}"))
    })?;
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

pub(crate) fn to_query(q: tansiq_lists::NameQuery) -> Query {
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
    let format = result_format(ctx, args)?;
    let columns = match &args.columns {
        Some(spec) => tansiq_lists::QueryColumns::parse(spec)
            .map_err(|e| CliError::bad(format!("--columns: {e}")))?,
        None => Default::default(),
    };
    let queries: Vec<Query> = tansiq_lists::read_queries_with(&args.names, &columns)
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
            let entries = list_entries(list, args.list_format.as_deref(), args.skip_invalid)?;
            let index = Index::build(
                entries
                    .iter()
                    .map(|(id, data)| match_entry(id, data))
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
    let results: Vec<(&Query, Vec<Hit>)> = queries.iter().zip(results).collect();
    let mut sink = jsonl_sink(args.out.as_deref())?;
    match format {
        ResultFormat::Table => screen_out::table(&mut sink, &results),
        ResultFormat::Jsonl => screen_out::jsonl(&mut sink, &results),
        ResultFormat::Csv => screen_out::csv(&mut sink, &results),
    }
    finish_jsonl(sink);
    Ok(())
}

/// `--format`, else a table for a person at a terminal and JSONL for a
/// program (a pipe, `--out`, `--json`).
fn result_format(ctx: &Ctx, args: &ScreenArgs) -> CliResult<ResultFormat> {
    Ok(match (args.format, ctx.json) {
        (Some(f), true) if f != ResultFormat::Jsonl => {
            return Err(CliError::bad(
                "--json asks for JSONL; leave it out with --format table or csv",
            ))
        }
        (Some(f), _) => f,
        (None, true) => ResultFormat::Jsonl,
        (None, false) if args.out.is_none() && std::io::stdout().is_terminal() => {
            ResultFormat::Table
        }
        (None, false) => ResultFormat::Jsonl,
    })
}

/// The entries of a `--list` file, `(id, data)`, in any format `watchlist
/// import` reads: the UN's XML and OFAC's CSV through their importers,
/// JSONL and CSV lists as before.
fn list_entries(
    path: &std::path::Path,
    format: Option<&str>,
    skip_invalid: bool,
) -> CliResult<Vec<(String, serde_json::Value)>> {
    let (fmt, told) = match format {
        Some(f) => (
            f.parse::<Format>().map_err(|_| {
                CliError::bad(format!(
                    "--list-format {f:?}: use un-xml, ofac-csv, jsonl or csv"
                ))
            })?,
            true,
        ),
        None => (tansiq_lists::detect_format(path), false),
    };
    let read_as = |e: tansiq_lists::ListError| {
        CliError::bad(if told {
            e.to_string()
        } else {
            format!("{e} (read as {fmt}; if it is another format, say which with --list-format)")
        })
    };
    Ok(match fmt {
        Format::UnXml | Format::OfacCsv => {
            let pb = bar(0, "reading");
            let opts = tansiq_lists::ImportOptions { skip_invalid };
            let imported = tansiq_lists::import_with_options(fmt, path, opts, &|done, total| {
                pb.set_length(total);
                pb.set_position(done);
            })
            .map_err(read_as)?;
            pb.finish_and_clear();
            for skipped in &imported.skipped {
                eprintln!("warning: {}", crate::term::safe(&skipped.to_string()));
            }
            imported
                .entries
                .into_iter()
                .map(|e| (e.source_ref, e.data))
                .collect()
        }
        Format::Jsonl | Format::Csv if skip_invalid => {
            return Err(CliError::bad(
                "--skip-invalid is for UN and OFAC lists; a JSONL or CSV --list is read whole",
            ))
        }
        Format::Jsonl | Format::Csv => tansiq_lists::read_list(path)
            .map_err(read_as)?
            .into_iter()
            .map(|e| (e.id, e.data))
            .collect(),
    })
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
