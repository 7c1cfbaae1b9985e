//! `incident declare`: the surge after an attack (mission S11) — the
//! incident record, a FLASH to every channel carrying its file, and the
//! screening of a list of names, in one command (one transaction).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use tansiq_core::handling::Tlp;
use tansiq_match::Query;
use tansiq_node::incidents::{IncidentReport, NewIncident};

use crate::commands::lists::to_query;
use crate::ctx::{Ctx, OP};
use crate::error::{CliError, CliResult};
use crate::input::parse_opt;
use crate::output::print_json;
use crate::progress::{self, Progress};
use crate::term::one_line;

#[derive(Subcommand, Debug)]
pub enum IncidentCmd {
    /// Declare an incident: its record in CHANNEL, a FLASH to every channel
    /// carrying FILE, and --names screened against every person and
    /// organization record this node may see (hits become alerts, linked
    /// to the incident).
    Declare(DeclareArgs),
}

// `incident declare` (documented on its `IncidentCmd` variant).
#[derive(Args, Debug)]
pub struct DeclareArgs {
    /// The incident record's channel (it must carry --file).
    #[arg(long)]
    channel: String,
    /// The file (committee): the FLASH goes to every channel carrying it.
    #[arg(long)]
    file: String,
    #[arg(long)]
    title: String,
    /// Where it happened.
    #[arg(long)]
    place: Option<String>,
    /// When (ISO 8601 date or date-time; default: now).
    #[arg(long)]
    occurred_at: Option<String>,
    /// clear, green, amber, amber+strict or red (default: the channel's).
    #[arg(long)]
    tlp: Option<String>,
    /// The FLASH text (default: "INCIDENT: TITLE (PLACE)").
    #[arg(long)]
    message: Option<String>,
    /// Names to screen (a manifest): JSONL `{"id","name",…}` or CSV with an
    /// `id,name` header, as for `screen --names`.
    #[arg(long)]
    names: Option<PathBuf>,
    /// Minimum score of a hit (default: the matcher's calibrated threshold).
    #[arg(long)]
    threshold: Option<f64>,
}

pub fn run(ctx: &Ctx, c: IncidentCmd) -> CliResult {
    let IncidentCmd::Declare(a) = c;
    let names: Vec<Query> = match &a.names {
        Some(p) => tansiq_lists::read_queries(p)
            .map_err(|e| CliError::bad(format!("{e}; nothing declared")))?
            .into_iter()
            .map(to_query)
            .collect(),
        None => vec![],
    };
    let new = NewIncident {
        channel: a.channel,
        file: a.file,
        title: a.title,
        place: a.place,
        occurred_at: a.occurred_at,
        tlp: parse_opt::<Tlp>("--tlp", a.tlp.as_deref())?,
        message: a.message,
        names,
        threshold: a.threshold.unwrap_or(tansiq_match::DEFAULT_THRESHOLD),
    };
    let node = ctx.open()?;
    let pb = progress::bar(new.names.len() as u64, "screening");
    let report = progress::with(pb, |pb| {
        let report = pb.report();
        node.incident_declare(&OP, new, &|done, total| report(done as u64, total as u64))
    })?;
    if ctx.json {
        print_json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(r: &IncidentReport) {
    outln!("{}", r.incident);
    outln!(
        "FLASH sent to {} channel(s); {} name(s) screened against {} record(s): {} hit(s), {} alert(s)",
        r.messages.len(),
        r.names_screened,
        r.entries,
        r.hits.len(),
        r.alerts
    );
    for m in &r.messages {
        outln!("  flash {}  {}", m.id, m.channel);
    }
    for h in &r.hits {
        for m in &h.matches {
            outln!(
                "  hit {}  {}  → {}  {:.2}  {}",
                one_line(&h.query_id),
                h.record,
                m.entry_id,
                m.score,
                one_line(&m.matched_name)
            );
        }
    }
}
