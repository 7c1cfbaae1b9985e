//! `record add|update|retract|list|get|search|links|graph|share`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use tansiq_core::handling::{Evaluation, HandlingCode, Tlp};
use tansiq_core::record::{Kind, Link};
use tansiq_node::records::NewRecord;
use tansiq_node::Node;
use tansiq_store::RecordFilter;

use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::input::{parse_flag, parse_opt, read_json};
use crate::output::{print_json, print_line_or_json};
use crate::term::one_line;

#[derive(Args, Debug)]
pub struct HandlingArgs {
    /// clear, green, amber, amber+strict or red (default: the channel's).
    #[arg(long)]
    tlp: Option<String>,
    /// H0, H1, H2 (default: no onward dissemination without consent) or H3.
    #[arg(long)]
    handling: Option<String>,
    /// Admiralty (source A-F, credibility 1-6: B2) or Europol 4x4
    /// (EU: then source A/B/C/X, information 1-4: EU:X3).
    #[arg(long)]
    evaluation: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum RecordCmd {
    /// Create and share a record in a channel.
    Add {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: String,
        #[arg(long)]
        kind: String,
        /// JSON file with the record data (`-` for stdin).
        #[arg(long)]
        data: PathBuf,
        #[command(flatten)]
        handling: HandlingArgs,
        /// ISO 8601 date or date-time after which every holder purges it.
        #[arg(long)]
        expires: Option<String>,
        /// REL:TARGET[:FROM[:UNTIL]], repeatable (e.g. successor_of:rec_…:2007-01-24).
        #[arg(long = "link")]
        links: Vec<String>,
    },
    /// A new version (originator only).
    Update {
        id: String,
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        tlp: Option<String>,
        /// Replace the links (repeatable); without it links are kept.
        #[arg(long = "link")]
        links: Vec<String>,
    },
    /// Withdraw a record (originator only); its content is purged.
    Retract { id: String },
    /// Records this node holds and may see.
    List {
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        file: Option<String>,
        #[arg(long)]
        kind: Option<String>,
        /// Include retracted and expired tombstones.
        #[arg(long)]
        all: bool,
    },
    /// One record.
    Get { id: String },
    /// Records with a name containing TEXT.
    Search {
        text: String,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Links of a record.
    Links { id: String },
    /// The network around a record: the records within N links of it
    /// (either direction) that you may see, and the typed, dated links
    /// between them.
    Graph {
        id: String,
        /// Links to follow out from the record, 1 to 6.
        #[arg(long, default_value_t = 2)]
        hops: u32,
        /// Most records in the answer (1 to 5000); past it the walk stops,
        /// nearest first, and the answer says truncated.
        #[arg(long, default_value_t = tansiq_node::graph::DEFAULT_GRAPH_NODES)]
        limit: usize,
    },
    /// Share an existing record into another channel (third-party rule).
    Share {
        id: String,
        #[arg(long)]
        channel: String,
    },
}

pub fn run(ctx: &Ctx, r: RecordCmd) -> CliResult {
    let node = ctx.open()?;
    let json = ctx.json;
    match r {
        RecordCmd::Add {
            channel,
            file,
            kind,
            data,
            handling,
            expires,
            links,
        } => {
            let new = NewRecord {
                channel,
                file,
                kind: parse_flag::<Kind>("--kind", &kind)?,
                data: read_json(&data)?,
                tlp: parse_opt::<Tlp>("--tlp", handling.tlp.as_deref())?,
                code: parse_opt::<HandlingCode>("--handling", handling.handling.as_deref())?,
                evaluation: parse_opt::<Evaluation>(
                    "--evaluation",
                    handling.evaluation.as_deref(),
                )?,
                expires,
                links: parse_links(&links)?,
            };
            let id = node.record_add(&OP, new)?;
            print_line_or_json(json, "id", &id);
        }
        RecordCmd::Update {
            id,
            data,
            tlp,
            links,
        } => {
            let links = if links.is_empty() {
                None
            } else {
                Some(parse_links(&links)?)
            };
            let tlp = parse_opt::<Tlp>("--tlp", tlp.as_deref())?;
            let v = node.record_update(&OP, &id, read_json(&data)?, links, tlp)?;
            if json {
                outln!("{}", serde_json::json!({"id": id, "version": v}));
            }
        }
        RecordCmd::Retract { id } => node.record_retract(&OP, &id)?,
        RecordCmd::List {
            channel,
            file,
            kind,
            all,
        } => {
            let filter = RecordFilter {
                channel,
                file,
                kind: parse_opt::<Kind>("--kind", kind.as_deref())?,
                include_tombstones: all,
                ..Default::default()
            };
            list(&node, json, &filter)?;
        }
        RecordCmd::Get { id } => print_json(&node.record_get(&OP, &id)?),
        RecordCmd::Search { text, limit } => search(&node, json, &text, limit)?,
        RecordCmd::Links { id } => print_json(&node.record_links(&OP, &id)?),
        RecordCmd::Graph { id, hops, limit } => {
            let g = node.record_graph(&OP, &id, hops, Some(limit))?;
            if json {
                print_json(&g);
            } else {
                print_graph(&g);
            }
        }
        RecordCmd::Share { id, channel } => node.record_share(&OP, &id, &channel)?,
    }
    Ok(())
}

fn parse_links(v: &[String]) -> CliResult<Vec<Link>> {
    v.iter()
        .map(|l| Link::parse_cli(l).map_err(|e| CliError::bad(format!("--link: {e}"))))
        .collect()
}

fn list(node: &Node, json: bool, filter: &RecordFilter) -> CliResult {
    let list = node.record_list(&OP, filter)?;
    if json {
        print_json(&list);
    } else {
        for r in list {
            let name = tansiq_core::record::names_of(&r.data)
                .into_iter()
                .next()
                .unwrap_or_default();
            outln!(
                "{}  v{}  {:12}  {:10}  {:12}  {}",
                r.id,
                r.version,
                r.kind,
                r.file,
                r.tlp,
                one_line(&name)
            );
        }
    }
    Ok(())
}

fn search(node: &Node, json: bool, text: &str, limit: u64) -> CliResult {
    let list = node.record_search(&OP, text, limit)?;
    if json {
        print_json(&list);
    } else {
        for r in list {
            let name = tansiq_core::record::names_of(&r.data).join(" / ");
            outln!("{}  {:12}  {}", r.id, r.kind, one_line(&name));
        }
    }
    Ok(())
}

fn print_graph(g: &tansiq_node::graph::Graph) {
    outln!(
        "{} records, {} links within {} hops of {}",
        g.nodes.len(),
        g.links.len(),
        g.hops,
        g.root
    );
    for n in &g.nodes {
        outln!(
            "  {}  {}  {:12}  {:12}  {}",
            n.hops,
            n.id,
            n.kind,
            n.tlp,
            one_line(n.name.as_deref().unwrap_or(&n.status))
        );
    }
    if !g.links.is_empty() {
        outln!("links");
    }
    for l in &g.links {
        let dates = match (&l.from, &l.until) {
            (None, None) => String::new(),
            (f, u) => format!(
                "  {}..{}",
                f.as_deref().unwrap_or(""),
                u.as_deref().unwrap_or("")
            ),
        };
        outln!("  {}  {}  {}{}", l.src, l.rel, l.dst, one_line(&dates));
    }
    if g.truncated {
        outln!(
            "(truncated at {} records: lower --hops or raise --limit)",
            g.nodes.len()
        );
    }
}
