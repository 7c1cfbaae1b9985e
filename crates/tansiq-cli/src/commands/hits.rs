//! Private hit/no-hit commands: `query` (ask, or with a subcommand decide
//! what partners may ask), `request`, `requests`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::json;

use tansiq_match::hitkeys::HitSubject;
use tansiq_node::hits::{hit_query_with_progress, HitAnswer, HitQuery};

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::output::{finish_jsonl, jsonl_sink, write_jsonl};
use crate::progress::{self, Progress};

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct QueryArgs {
    #[command(subcommand)]
    cmd: Option<QueryCmd>,
    /// The list holder to ask.
    #[arg(long, required = true)]
    peer: Option<String>,
    /// The person's name (any script).
    #[arg(long, conflicts_with = "names", required_unless_present = "names")]
    name: Option<String>,
    /// YYYY, YYYY-MM or YYYY-MM-DD.
    #[arg(long, requires = "name")]
    birth_date: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[arg(long, requires = "name")]
    nationality: Option<String>,
    /// A batch: JSONL `{"id","name",…}` or CSV with an `id,name` header (as for `screen`).
    #[arg(long)]
    names: Option<PathBuf>,
    /// Write the batch's JSONL here instead of stdout.
    #[arg(long, requires = "names")]
    out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum QueryCmd {
    /// Expose a watchlist file (FILE of channel CH) to PEER's hit/no-hit queries.
    Allow {
        #[arg(long)]
        peer: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: String,
        /// PEER's evaluation budget per hour (each name costs one per match key).
        #[arg(long)]
        rate: Option<i64>,
    },
    /// Withdraw an exposure.
    Deny {
        #[arg(long)]
        peer: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: String,
    },
    /// The files exposed to partners.
    Allowed,
    /// Start a new key period now: every partner's evaluations and references change.
    Rotate,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct RequestArgs {
    #[command(subcommand)]
    cmd: Option<RequestCmd>,
    /// A hit's reference: ask its holder for the record.
    #[arg(required = true)]
    reference: Option<String>,
}

#[derive(Subcommand, Debug)]
enum RequestCmd {
    /// Share the record behind a partner's request into the request's channel.
    Grant { request_id: String },
    /// Refuse a partner's request.
    Refuse {
        request_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

fn check_subject(name: &str, birth: Option<&str>, nat: Option<&str>) -> CliResult<()> {
    if name.trim().is_empty() || name.chars().count() > 300 {
        return Err(CliError::bad("--name must be 1-300 characters"));
    }
    if let Some(b) = birth {
        tansiq_core::time::check_partial_date(b)
            .map_err(|e| CliError::bad(format!("--birth-date: {e}")))?;
    }
    if let Some(n) = nat {
        tansiq_core::country::parse_country(n)
            .map_err(|e| CliError::bad(format!("--nationality: {e}")))?;
    }
    Ok(())
}

fn ask(ctx: &Ctx, peer: &str, queries: Vec<HitQuery>) -> CliResult<Vec<HitAnswer>> {
    let node = Arc::new(ctx.open()?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("cannot start the runtime: {e}")))?;
    let peer = peer.to_string();
    // The last reference to the node (and its store, whose PostgreSQL
    // client blocks when dropped) is released outside the runtime.
    let n = node.clone();
    // A bar for a batch (`--names`); one name is one quick exchange.
    let pb = if queries.len() > 1 {
        progress::bar(0, "asking")
    } else {
        indicatif::ProgressBar::hidden()
    };
    // The node wants a 'static callback; a ProgressBar is a shared handle.
    let shown = pb.clone();
    let answers = rt.block_on(async move {
        let report = move |done: usize, total: usize| shown.report()(done as u64, total as u64);
        hit_query_with_progress(n, &OP, &peer, &queries, &report).await
    });
    pb.finish_and_clear();
    drop(rt);
    drop(node);
    Ok(answers?)
}

pub fn query(ctx: &Ctx, args: QueryArgs) -> CliResult {
    match args.cmd {
        Some(QueryCmd::Allow {
            peer,
            channel,
            file,
            rate,
        }) => ctx.open()?.query_allow(&OP, &peer, &channel, &file, rate)?,
        Some(QueryCmd::Deny {
            peer,
            channel,
            file,
        }) => ctx.open()?.query_deny(&OP, &peer, &channel, &file)?,
        Some(QueryCmd::Allowed) => allowed(ctx)?,
        Some(QueryCmd::Rotate) => {
            let id = ctx.open()?.query_rotate(&OP)?;
            if ctx.json {
                outln!("{}", json!({"key_id": id}));
            } else {
                outln!("{id}");
            }
        }
        None => {
            let peer = args
                .peer
                .ok_or_else(|| CliError::bad("--peer is required"))?;
            if let Some(name) = args.name {
                ask_one(ctx, &peer, name, args.birth_date, args.nationality)?
            } else if let Some(path) = args.names {
                ask_batch(ctx, &peer, &path, args.out.as_deref())?
            } else {
                return Err(CliError::bad("give --name NAME or --names FILE"));
            }
        }
    }
    Ok(())
}

/// `query allowed`: the files exposed to partners.
fn allowed(ctx: &Ctx) -> CliResult {
    let rows = ctx.open()?.query_allowed(&OP)?;
    if ctx.json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| json!({"peer": r.peer, "channel": r.channel, "file": r.file, "created_at": r.created_at}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&v).expect("serialises"));
    } else {
        for r in rows {
            outln!(
                "{}  {}/{}  since {}",
                r.peer,
                r.channel,
                r.file,
                r.created_at
            );
        }
    }
    Ok(())
}

/// `query --peer P --name N`: one person, the answer on a line.
fn ask_one(
    ctx: &Ctx,
    peer: &str,
    name: String,
    birth_date: Option<String>,
    nationality: Option<String>,
) -> CliResult {
    check_subject(&name, birth_date.as_deref(), nationality.as_deref())?;
    let q = HitQuery {
        id: "Q1".into(),
        subject: HitSubject {
            names: vec![name],
            birth_date,
            nationality: nationality.map(|n| n.to_ascii_uppercase()),
            documents: vec![],
        },
    };
    let a = ask(ctx, peer, vec![q])?
        .pop()
        .ok_or_else(|| CliError::other("no answer"))?;
    if ctx.json {
        outln!("{}", json!({"hit": a.hit, "reference": a.reference}));
    } else if let Some(r) = &a.reference {
        outln!(
            "hit  {r}  ({} keys shared: {})",
            a.shared,
            a.kinds.join(", ")
        );
    } else {
        outln!("no hit");
    }
    Ok(())
}

/// `query --peer P --names FILE`: a batch, one JSONL answer per query.
fn ask_batch(ctx: &Ctx, peer: &str, path: &Path, out: Option<&Path>) -> CliResult {
    let queries: Vec<HitQuery> = tansiq_lists::read_queries(path)
        .map_err(|e| CliError::bad(e.to_string()))?
        .into_iter()
        .map(|q| HitQuery {
            id: q.id,
            subject: HitSubject {
                names: vec![q.name],
                birth_date: q.birth_date,
                nationality: q.nationality.into_iter().next(),
                documents: vec![],
            },
        })
        .collect();
    let answers = ask(ctx, peer, queries)?;
    let mut sink = jsonl_sink(out)?;
    for a in answers {
        // The reference is a partner's text: no raw C1 or bidi
        // character (JSON leaves them unescaped) reaches a terminal.
        let line = format!(
            "{{\"query_id\":{},\"hit\":{},\"reference\":{}}}",
            json!(a.query_id),
            a.hit,
            json!(a.reference)
        );
        write_jsonl(&mut sink, &line);
    }
    finish_jsonl(sink);
    Ok(())
}

pub fn request(ctx: &Ctx, args: RequestArgs) -> CliResult {
    let node = ctx.open()?;
    match args.cmd {
        Some(RequestCmd::Grant { request_id }) => node.hit_grant(&OP, &request_id)?,
        Some(RequestCmd::Refuse { request_id, reason }) => {
            node.hit_refuse(&OP, &request_id, reason.as_deref())?
        }
        None => {
            let r = args
                .reference
                .ok_or_else(|| CliError::bad("give a REFERENCE"))?;
            let id = node.hit_request(&OP, &r)?;
            if ctx.json {
                outln!("{}", json!({"id": id}));
            } else {
                outln!("{id}");
            }
        }
    }
    Ok(())
}

pub fn requests(ctx: &Ctx) -> CliResult {
    let list = ctx.open()?.hit_requests(&OP)?;
    if ctx.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&list).expect("serialises")
        );
    } else {
        for r in list {
            outln!(
                "{}  {:3}  {:8}  {}  {}  via {}{}",
                r.id,
                r.direction,
                r.status,
                r.peer,
                r.reference,
                r.channel,
                r.reason.map(|x| format!("  ({x})")).unwrap_or_default()
            );
        }
    }
    Ok(())
}
