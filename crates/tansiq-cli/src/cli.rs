//! The command line: the global flags, the commands (clap), and the
//! dispatcher that hands each command to its feature module under
//! `commands/` (or to `serve` and `demo`, which run until they are done).

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands::{
    audit, bundles, channels, hits, incidents, interop, lists, messages, node, peers, records,
    releases, shell, store, sync, users,
};
use crate::ctx::Ctx;
use crate::error::CliResult;

#[derive(Parser, Debug)]
#[command(
    name = "tansiq",
    version,
    about = "Tansiq: federated exchange of security intelligence between agencies"
)]
pub struct Cli {
    /// Node directory (default: $TANSIQ_DIR, else ./tansiq-node).
    #[arg(long, global = true, env = "TANSIQ_DIR")]
    dir: Option<PathBuf>,
    /// Machine-readable JSON output on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a node: keys, store, config.
    Init(node::InitArgs),
    /// Print this node's signed card (JSON).
    Card,
    /// Partner nodes.
    #[command(subcommand)]
    Peer(peers::PeerCmd),
    /// This node's keys.
    #[command(subcommand)]
    Keys(node::KeysCmd),
    /// Run the node (local API, background work) until SIGINT/SIGTERM.
    /// Several `serve` workers may run on one PostgreSQL node, each with
    /// its own addresses (docs/STORE.md, "Several workers").
    Serve(crate::serve::ServeArgs),
    /// Local users.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Channels and their charters.
    #[command(subcommand)]
    Channel(channels::ChannelCmd),
    /// Records.
    #[command(subcommand)]
    Record(records::RecordCmd),
    /// The Merkle audit log.
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Delivery to partners.
    #[command(subcommand)]
    Sync(sync::SyncCmd),
    /// Send a liaison message to a channel.
    Send(messages::SendArgs),
    /// Liaison messages received.
    Inbox,
    /// Releases under the third-party rule.
    #[command(subcommand)]
    Release(releases::ReleaseCmd),
    /// Release requests received and sent.
    Releases,
    /// STIX 2.1 bundles: export (dissemination, audited) and import.
    #[command(subcommand)]
    Stix(interop::StixCmd),
    /// MISP events and feeds: import.
    #[command(subcommand)]
    Misp(interop::MispCmd),
    /// Offline bundles carried by hand.
    #[command(subcommand)]
    Bundle(bundles::BundleCmd),
    /// Acknowledge a received message to its sender.
    Ack { message_id: String },
    /// Watchlists: import real list formats.
    #[command(subcommand)]
    Watchlist(lists::WatchlistCmd),
    /// Screen names against a list file or every watchlist entry this node may see.
    Screen(lists::ScreenArgs),
    /// Hits raised by continuous screening of arriving watchlist entries.
    Alerts,
    /// Incidents: declare one (record, FLASH to every channel carrying its
    /// file, screening of a list of names) in one transaction.
    #[command(subcommand)]
    Incident(incidents::IncidentCmd),
    /// Private hit/no-hit: ask a partner whether it holds a person, without
    /// sending the name (`--peer P --name N`); or decide what partners may ask
    /// (`allow`, `deny`, `allowed`, `rotate`).
    Query(hits::QueryArgs),
    /// Ask a hit's holder for the record (`request REFERENCE`), or answer a
    /// partner's request (`request grant|refuse ID`).
    Request(hits::RequestArgs),
    /// Hit follow-up requests received and sent.
    Requests,
    /// A consistent copy of the node's SQLite store, taken while it runs
    /// (online backup). Restore: `tansiq restore FILE` (serve stopped),
    /// then `tansiq audit verify`.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a SQLite node from a `backup` copy (serve stopped): the
    /// copy replaces node.db (the old one is kept aside) and the node is
    /// marked restored — it sends nothing new on a channel until each
    /// partner there confirms it holds none of its later envelopes
    /// (`sync status` shows the holds). PostgreSQL: pg_restore, then
    /// `store mark-restored`.
    Restore {
        /// The copy made by `tansiq backup`.
        backup: PathBuf,
    },
    /// Storage: move a SQLite node to PostgreSQL; mark a node restored.
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// Play the scenario of the source article with real nodes.
    Demo {
        /// Then keep the nodes running with their web interface served,
        /// printing its URLs and a token per role, until Ctrl-C.
        #[arg(long)]
        keep: bool,
    },
    /// Print a shell completion script (bash, zsh or fish) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: shell::Shell,
    },
    /// Print the tansiq(1) man page, or write one page per command to --out DIR.
    Man(shell::ManArgs),
}

pub fn run(cli: Cli) -> CliResult {
    // The demo makes its own nodes: in --dir if given, else a temporary directory.
    let demo_dir = cli.dir.clone();
    let ctx = Ctx {
        dir: cli.dir.unwrap_or_else(|| PathBuf::from("tansiq-node")),
        json: cli.json,
    };
    match cli.cmd {
        Cmd::Init(a) => node::init(&ctx, a),
        Cmd::Card => node::card(&ctx),
        Cmd::Keys(c) => node::keys(&ctx, c),
        Cmd::Peer(c) => peers::run(&ctx, c),
        Cmd::Serve(a) => crate::serve::run(&ctx.dir, a),
        Cmd::User(c) => users::run(&ctx, c),
        Cmd::Channel(c) => channels::run(&ctx, c),
        Cmd::Record(c) => records::run(&ctx, c),
        Cmd::Audit(c) => audit::run(&ctx, c),
        Cmd::Sync(c) => sync::run(&ctx, c),
        Cmd::Send(a) => messages::send(&ctx, a),
        Cmd::Inbox => messages::inbox(&ctx),
        Cmd::Ack { message_id } => messages::ack(&ctx, &message_id),
        Cmd::Release(c) => releases::run(&ctx, c),
        Cmd::Releases => releases::list(&ctx),
        Cmd::Bundle(c) => bundles::run(&ctx, c),
        Cmd::Stix(c) => interop::stix(&ctx, c),
        Cmd::Misp(c) => interop::misp(&ctx, c),
        Cmd::Watchlist(c) => lists::watchlist(&ctx, c),
        Cmd::Screen(a) => lists::screen(&ctx, &a),
        Cmd::Alerts => lists::alerts(&ctx),
        Cmd::Incident(c) => incidents::run(&ctx, c),
        Cmd::Query(a) => hits::query(&ctx, a),
        Cmd::Request(a) => hits::request(&ctx, a),
        Cmd::Requests => hits::requests(&ctx),
        Cmd::Backup { out } => store::backup(&ctx, &out),
        Cmd::Restore { backup } => store::restore(&ctx, &backup),
        Cmd::Store(c) => store::run(&ctx, c),
        Cmd::Demo { keep } => crate::demo::run(demo_dir.as_deref(), keep),
        Cmd::Completions { shell } => shell::completions(Cli::command(), shell),
        Cmd::Man(a) => shell::man(Cli::command(), &a),
    }
}
