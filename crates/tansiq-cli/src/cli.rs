//! Argument parsing (clap) and dispatch to the node's services.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use tansiq_core::handling::{Evaluation, HandlingCode, Tlp};
use tansiq_core::record::{Kind, Link};
use tansiq_core::user::{Actor, Role};
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node, NodeError};
use tansiq_store::RecordFilter;

use crate::term::one_line;

/// Largest data or card file read from disk.
const MAX_INPUT_FILE: u64 = 1024 * 1024;

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
    Init {
        #[arg(long)]
        name: String,
        #[arg(long)]
        country: String,
        /// Partner endpoint HOST:PORT (the address `serve` binds).
        #[arg(long)]
        listen: String,
        /// Partner address HOST:PORT advertised in the card, when partners
        /// reach this node elsewhere (NAT, a proxy); default: --listen.
        #[arg(long)]
        endpoint: Option<String>,
        /// Local API HOST:PORT (default: loopback, the partner port + 1).
        #[arg(long)]
        api_listen: Option<String>,
        /// Allow a non-loopback --api-listen: the API is plain HTTP, so
        /// its bearer tokens then cross the network in clear.
        #[arg(long)]
        api_insecure_non_loopback: bool,
        /// `sqlite` (default) or a postgres:// URL.
        #[arg(long)]
        store: Option<String>,
    },
    /// Print this node's signed card (JSON).
    Card,
    /// Partner nodes.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// This node's keys.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Run the node (local API, background work) until SIGINT/SIGTERM.
    /// Several `serve` workers may run on one PostgreSQL node, each with
    /// its own addresses (docs/STORE.md, "Several workers").
    Serve {
        /// Partner address to bind instead of the config's `listen`.
        #[arg(long)]
        listen: Option<String>,
        /// Local API address to bind instead of the config's `api_listen`.
        #[arg(long)]
        api_listen: Option<String>,
        /// Allow a non-loopback API address (plain HTTP on the network).
        #[arg(long)]
        api_insecure_non_loopback: bool,
    },
    /// Local users.
    #[command(subcommand)]
    User(UserCmd),
    /// Channels and their charters.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Records.
    #[command(subcommand)]
    Record(RecordCmd),
    /// The Merkle audit log.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Delivery to partners.
    #[command(subcommand)]
    Sync(SyncCmd),
    /// Send a liaison message to a channel.
    Send {
        #[arg(long)]
        channel: String,
        #[arg(long)]
        file: Option<String>,
        /// flash, immediate, priority or routine.
        #[arg(long)]
        precedence: String,
        #[arg(long)]
        text: String,
        /// Recipients must acknowledge it (tracked per recipient).
        #[arg(long)]
        ack_required: bool,
    },
    /// Liaison messages received.
    Inbox,
    /// Releases under the third-party rule.
    #[command(subcommand)]
    Release(ReleaseCmd),
    /// Release requests received and sent.
    Releases,
    /// Offline bundles carried by hand.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// Acknowledge a received message to its sender.
    Ack { message_id: String },
    /// Watchlists: import real list formats.
    #[command(subcommand)]
    Watchlist(WatchlistCmd),
    /// Screen names against a list file or every watchlist entry this node may see.
    Screen(ScreenArgs),
    /// Hits raised by continuous screening of arriving watchlist entries.
    Alerts,
    /// Private hit/no-hit: ask a partner whether it holds a person, without
    /// sending the name (`--peer P --name N`); or decide what partners may ask
    /// (`allow`, `deny`, `allowed`, `rotate`).
    Query(crate::query::QueryArgs),
    /// Ask a hit's holder for the record (`request REFERENCE`), or answer a
    /// partner's request (`request grant|refuse ID`).
    Request(crate::query::RequestArgs),
    /// Hit follow-up requests received and sent.
    Requests,
    /// A consistent copy of the node's SQLite store, taken while it runs
    /// (online backup). Restore: put it back as node.db beside the same
    /// keys and config, then `tansiq audit verify`.
    Backup {
        #[arg(long)]
        out: PathBuf,
    },
    /// Storage: move a SQLite node to PostgreSQL.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Play the scenario of the source article with real nodes.
    Demo,
}

#[derive(Subcommand, Debug)]
enum WatchlistCmd {
    /// Import every entry of a list as person/organization records (one transaction).
    Import {
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
    },
}

#[derive(Args, Debug)]
pub struct ScreenArgs {
    /// Names to screen: JSONL `{"id","name",…}` or CSV with an `id,name` header.
    #[arg(long)]
    pub names: PathBuf,
    /// Screen against this list file (JSONL entries) instead of the node.
    #[arg(long)]
    pub list: Option<PathBuf>,
    /// Minimum score (default: the matcher's calibrated threshold).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Hits per query at most.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Write the JSONL here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum PeerCmd {
    /// Trust a partner node from its card file (verifies the signature).
    Add { card_file: PathBuf },
    /// Known peers.
    List,
    /// Stop trusting a partner: its keys, queue and hit/no-hit exposures
    /// go. Refused while it is in one of this node's channels, unless
    /// --force (the charters keep it; nothing more is sent to it).
    Remove {
        id: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCmd {
    /// New signing, encryption and TLS keys (old ones kept); prints the
    /// new card, which partners receive by push as they come online.
    /// Stop `serve` first.
    Rotate,
}

#[derive(Subcommand, Debug)]
enum UserCmd {
    /// Create a user; prints its API token once.
    Add {
        name: String,
        #[arg(long)]
        role: String,
        /// Files the user is assigned to, comma-separated.
        #[arg(long, value_delimiter = ',')]
        files: Vec<String>,
        /// Token lifetime: Nd (days, at most 366d), a date or an RFC 3339
        /// date-time (default 90d).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Users of this node, with each token's state and expiry.
    List,
    /// Remove a user; its token stops working at once.
    Remove { name: String },
    /// Rotate a user's token (prints the new one once; the old one stops
    /// working at once) or revoke it (issuing none).
    #[command(group(clap::ArgGroup::new("op").required(true).args(["rotate", "revoke"])))]
    Token {
        name: String,
        #[arg(long)]
        rotate: bool,
        #[arg(long)]
        revoke: bool,
        /// Lifetime of the new token (with --rotate).
        #[arg(long, conflicts_with = "revoke")]
        expires: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ChannelCmd {
    /// Propose a channel (this node signs its charter and is a member).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',')]
        members: Vec<String>,
        #[arg(long, value_delimiter = ',', required = true)]
        files: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        relays: Vec<String>,
        #[arg(long)]
        retention_days: Option<u32>,
    },
    /// Co-sign a pending charter.
    Accept { channel_id: String },
    /// Propose the next charter version with members added or removed.
    Update {
        channel_id: String,
        #[arg(long, value_delimiter = ',')]
        add: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove: Vec<String>,
    },
    /// Channels this node belongs to.
    List,
    /// Print a channel's newest signed charter (to carry to a partner).
    Export { channel_id: String },
    /// Import a signed charter file from a partner.
    Import { file: PathBuf },
}

#[derive(Args, Debug)]
struct HandlingArgs {
    /// clear, green, amber, amber+strict or red (default: the channel's).
    #[arg(long)]
    tlp: Option<String>,
    /// H0, H1, H2 (default: no onward dissemination without consent) or H3.
    #[arg(long)]
    handling: Option<String>,
    /// Source reliability A-F and credibility 1-6, e.g. B2.
    #[arg(long)]
    evaluation: Option<String>,
}

#[derive(Subcommand, Debug)]
enum RecordCmd {
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
    /// Share an existing record into another channel (third-party rule).
    Share {
        id: String,
        #[arg(long)]
        channel: String,
    },
}

#[derive(Subcommand, Debug)]
enum ReleaseCmd {
    /// Ask a record's originator to release it into another channel.
    Request {
        record_id: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Grant: a REQUEST_ID, or a record ID with --channel CH (no request).
    Grant {
        id: String,
        #[arg(long)]
        channel: Option<String>,
        /// Conditions attached to the release.
        #[arg(long)]
        conditions: Option<String>,
    },
    /// Refuse a release request.
    Refuse {
        request_id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum BundleCmd {
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

#[derive(Subcommand, Debug)]
enum StoreCmd {
    /// Copy everything to an empty PostgreSQL database, verify the audit
    /// log there, then switch the node to it (the SQLite file is kept).
    Migrate {
        #[arg(long)]
        to: String,
    },
}

#[derive(Subcommand, Debug)]
enum SyncCmd {
    /// Delivery state per peer.
    Status,
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// Recompute the log and check it against checkpoints and the store.
    Verify,
    /// The latest signed checkpoint (makes one if the log grew).
    Checkpoint,
}

/// A CLI failure with its exit code.
#[derive(Debug)]
pub struct CliError {
    pub msg: String,
    pub code: i32,
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        self.code
    }
    pub fn bad(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 2,
        }
    }
    pub fn other(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 1,
        }
    }
}

impl From<NodeError> for CliError {
    fn from(e: NodeError) -> Self {
        CliError {
            msg: e.to_string(),
            code: e.exit_code(),
        }
    }
}

impl From<tansiq_core::Invalid> for CliError {
    fn from(e: tansiq_core::Invalid) -> Self {
        CliError::bad(e.0)
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

pub fn node_dir(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(|| PathBuf::from("tansiq-node"))
}

/// Reads a bundle file: a regular file (not a device or pipe, which could
/// stream without end) of at most `MAX_BUNDLE_FILE` bytes, read with that
/// limit whatever its size claims.
fn read_bundle(path: &Path) -> CliResult<Vec<u8>> {
    let max = tansiq_node::federation::bundle::MAX_BUNDLE_FILE;
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

/// Reads a small input file (or stdin for `-`), with a size limit.
pub fn read_input(path: &Path) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_INPUT_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::bad(format!("reading stdin: {e}")))?;
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| CliError::bad(format!("cannot read {}: {e}", path.display())))?;
        f.take(MAX_INPUT_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::bad(format!("cannot read {}: {e}", path.display())))?;
    }
    if buf.len() as u64 > MAX_INPUT_FILE {
        return Err(CliError::bad(format!(
            "{} is larger than the 1 MiB limit",
            path.display()
        )));
    }
    Ok(buf)
}

fn read_json(path: &Path) -> CliResult<serde_json::Value> {
    let bytes = read_input(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| CliError::bad(format!("{} is not valid JSON: {e}", path.display())))
}

fn parse_opt<T: std::str::FromStr<Err = tansiq_core::Invalid>>(
    flag: &str,
    v: Option<&str>,
) -> CliResult<Option<T>> {
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| CliError::bad(format!("{flag}: {e}")))
    })
    .transpose()
}

fn print_json<T: Serialize>(v: &T) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).expect("output serialises")
    );
}

/// A new token: alone on stdout (shown once), or with its expiry in JSON.
fn print_token(json: bool, t: &tansiq_node::admin::IssuedToken) {
    if json {
        print_json(&serde_json::json!({"token": t.token, "expires_at": t.expires_at}));
    } else {
        outln!("{}", t.token);
    }
}

fn print_line_or_json(json: bool, key: &str, value: &str) {
    if json {
        outln!("{}", serde_json::json!({ key: value }));
    } else {
        outln!("{value}");
    }
}

pub fn run(cli: Cli) -> CliResult {
    let json = cli.json;
    // The demo makes its own nodes: in --dir if given, else a temporary directory.
    let demo_dir = cli.dir.clone();
    let dir = node_dir(cli.dir);
    let op = Actor::Operator;
    let open = || Node::open(&dir).map_err(CliError::from);
    match cli.cmd {
        Cmd::Init {
            name,
            country,
            listen,
            endpoint,
            api_listen,
            api_insecure_non_loopback,
            store,
        } => {
            if let Some(a) = &api_listen {
                let addr = tansiq_node::config::parse_listen(a)?;
                tansiq_node::config::check_api_addr(addr, api_insecure_non_loopback)?;
            }
            let node = Node::init(
                &dir,
                &InitOptions {
                    name: &name,
                    country: &country,
                    listen: &listen,
                    endpoint: endpoint.as_deref(),
                    api_listen: api_listen.as_deref(),
                    store: store.as_deref(),
                },
            )?;
            if api_insecure_non_loopback {
                let mut config = node.config.clone();
                config.api_insecure_non_loopback = true;
                config.save(&dir)?;
            }
            print_line_or_json(json, "id", node.id());
        }
        Cmd::Card => print_json(&open()?.card()),
        Cmd::Keys(KeysCmd::Rotate) => {
            let card = open()?.keys_rotate(&op)?;
            if json {
                print_json(&serde_json::json!({"gen": card.body.gen, "card": card}));
            } else {
                print_json(&card);
            }
        }
        Cmd::Peer(PeerCmd::Add { card_file }) => {
            let bytes = read_input(&card_file)?;
            let id = open()?.peer_add(&op, &bytes)?;
            print_line_or_json(json, "id", &id);
        }
        Cmd::Peer(PeerCmd::List) => {
            let peers = open()?.peer_list(&op)?;
            if json {
                print_json(&peers);
            } else {
                for p in peers {
                    let (name, ep) = (one_line(&p.name), one_line(&p.endpoint));
                    outln!("{}  {}  {name}  {ep}", p.id, one_line(&p.country));
                }
            }
        }
        Cmd::Peer(PeerCmd::Remove { id, force }) => {
            let r = open()?.peer_remove(&op, &id, force)?;
            if json {
                print_json(&r);
            } else {
                outln!("{}", r.id);
            }
        }
        Cmd::Serve {
            listen,
            api_listen,
            api_insecure_non_loopback,
        } => crate::serve::run(
            &dir,
            listen.as_deref(),
            api_listen.as_deref(),
            api_insecure_non_loopback,
        )?,
        Cmd::User(UserCmd::Add {
            name,
            role,
            files,
            expires,
        }) => {
            let role: Role = role
                .parse()
                .map_err(|e: tansiq_core::Invalid| CliError::bad(format!("--role: {e}")))?;
            let t = open()?.user_add_expiring(&op, &name, role, &files, expires.as_deref())?;
            print_token(json, &t);
        }
        Cmd::User(UserCmd::List) => {
            let users = open()?.user_list(&op)?;
            if json {
                print_json(&users);
            } else {
                for u in users {
                    outln!(
                        "{}  {}  {}  token {} until {}",
                        u.name,
                        u.role,
                        u.files.join(","),
                        u.token,
                        u.token_expires_at
                    );
                }
            }
        }
        Cmd::User(UserCmd::Remove { name }) => {
            open()?.user_remove(&op, &name)?;
            print_line_or_json(json, "removed", &name);
        }
        Cmd::User(UserCmd::Token {
            name,
            rotate,
            expires,
            ..
        }) => {
            let node = open()?;
            if rotate {
                print_token(
                    json,
                    &node.user_token_rotate(&op, &name, expires.as_deref())?,
                );
            } else {
                node.user_token_revoke(&op, &name)?;
                print_line_or_json(json, "revoked", &name);
            }
        }
        Cmd::Channel(c) => channel(&open()?, &op, json, c)?,
        Cmd::Record(r) => record(&open()?, &op, json, r)?,
        Cmd::Audit(AuditCmd::Verify) => {
            let r = open()?.audit_verify(&op)?;
            if json {
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
        }
        Cmd::Send {
            channel,
            file,
            precedence,
            text,
            ack_required,
        } => {
            let id = open()?.send_message(
                &op,
                &channel,
                file.as_deref(),
                &precedence,
                &text,
                ack_required,
            )?;
            print_line_or_json(json, "id", &id);
        }
        Cmd::Inbox => {
            let msgs = open()?.inbox(&op)?;
            if json {
                print_json(&msgs);
            } else {
                for m in msgs {
                    outln!(
                        "{}  {:9}  {}  from {}  {}{}",
                        m.id,
                        one_line(&m.precedence.to_uppercase()),
                        one_line(&m.sent_at),
                        one_line(&m.sender),
                        crate::term::block(&m.text),
                        if m.ack_required && !m.acked {
                            "  [ack required]"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        Cmd::Ack { message_id } => open()?.ack_message(&op, &message_id)?,
        Cmd::Release(ReleaseCmd::Request {
            record_id,
            channel,
            reason,
        }) => {
            let id = open()?.release_request(&op, &record_id, &channel, reason.as_deref())?;
            print_line_or_json(json, "id", &id);
        }
        Cmd::Release(ReleaseCmd::Grant {
            id,
            channel,
            conditions,
        }) => {
            let node = open()?;
            let rid = match channel {
                Some(ch) => {
                    node.release_grant(&op, None, Some(&id), Some(&ch), conditions.as_deref())?
                }
                None => node.release_grant(&op, Some(&id), None, None, conditions.as_deref())?,
            };
            if json {
                outln!("{}", serde_json::json!({"id": rid}));
            }
        }
        Cmd::Release(ReleaseCmd::Refuse { request_id, reason }) => {
            open()?.release_refuse(&op, &request_id, reason.as_deref())?
        }
        Cmd::Bundle(BundleCmd::Export { to, out, force }) => {
            // The file is written inside the export's transaction, before
            // its audit entry: no entry without the file, and no file
            // without the entry (removed if the commit fails).
            let mut written = false;
            let r = open()?.bundle_export_to(&op, &to, |bytes| {
                tansiq_node::config::write_file(&out, bytes, force)?;
                written = true;
                Ok(())
            });
            if r.is_err() && written {
                let _ = std::fs::remove_file(&out);
            }
            print_line_or_json(json, "items", &r?.to_string());
        }
        Cmd::Bundle(BundleCmd::Import { file }) => {
            let bytes = read_bundle(&file)?;
            let n = open()?.bundle_import(&op, &bytes)?;
            print_line_or_json(json, "new", &n.to_string());
        }
        Cmd::Releases => {
            let list = open()?.releases(&op)?;
            if json {
                print_json(&list);
            } else {
                for r in list {
                    outln!(
                        "{}  {:8}  {}  record {}  → {}  ({} members)",
                        r.id,
                        r.status,
                        r.direction,
                        r.record,
                        r.target_channel,
                        r.target_members.len()
                    );
                }
            }
        }
        Cmd::Sync(SyncCmd::Status) => {
            let st = open()?.sync_status(&op)?;
            if json {
                print_json(&st);
            } else {
                for p in &st.peers {
                    outln!(
                        "{}  {:4}  queued {:6}  last delivery {}  {}",
                        p.id,
                        p.link,
                        p.queued,
                        p.last_delivery.as_deref().unwrap_or("never"),
                        one_line(&p.name)
                    );
                }
                for a in &st.alarms {
                    outln!("ALARM {a}");
                }
            }
        }
        Cmd::Audit(AuditCmd::Checkpoint) => {
            let c = open()?.audit_checkpoint(&op, false)?;
            if json {
                print_json(&c);
            } else {
                outln!("size {}\nroot {}\n\n{}", c.size, c.root, c.note);
            }
        }
        Cmd::Watchlist(WatchlistCmd::Import {
            channel,
            file,
            format,
            list,
            skip_invalid,
            path,
        }) => crate::screen::import(
            &dir,
            json,
            &channel,
            &file,
            &format,
            list.as_deref(),
            skip_invalid,
            &path,
        )?,
        Cmd::Screen(args) => crate::screen::screen(&dir, &args)?,
        Cmd::Query(args) => crate::query::query(&dir, json, args)?,
        Cmd::Request(args) => crate::query::request(&dir, json, args)?,
        Cmd::Requests => crate::query::requests(&dir, json)?,
        Cmd::Alerts => {
            let alerts = open()?.alerts(&op)?;
            if json {
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
        }
        Cmd::Backup { out } => {
            if out.exists() {
                return Err(CliError::bad(format!(
                    "{} already exists; choose a new file",
                    out.display()
                )));
            }
            let node = open()?;
            node.backup(&op, &out)?;
            if !json {
                outln!("{}", out.display());
            }
        }
        Cmd::Store(StoreCmd::Migrate { to }) => {
            let rows = open()?.migrate_store(&to)?;
            if json {
                outln!("{}", serde_json::json!({"rows": rows}));
            } else {
                outln!("{rows} rows copied and verified; the node now uses PostgreSQL (node.db is kept unchanged)");
            }
        }
        Cmd::Demo => crate::demo::run(demo_dir.as_deref())?,
    }
    Ok(())
}

fn parse_links(v: &[String]) -> CliResult<Vec<Link>> {
    v.iter()
        .map(|l| Link::parse_cli(l).map_err(|e| CliError::bad(format!("--link: {e}"))))
        .collect()
}

fn channel(node: &Node, op: &Actor, json: bool, c: ChannelCmd) -> CliResult {
    match c {
        ChannelCmd::Create {
            name,
            members,
            files,
            relays,
            retention_days,
        } => {
            let id = node.channel_create(op, &name, members, files, relays, retention_days)?;
            print_line_or_json(json, "id", &id);
        }
        ChannelCmd::Accept { channel_id } => {
            let v = node.channel_accept(op, &channel_id)?;
            if json {
                print_json(&v);
            }
        }
        ChannelCmd::Update {
            channel_id,
            add,
            remove,
        } => {
            if add.is_empty() && remove.is_empty() {
                return Err(CliError::bad("give --add ID,… and/or --remove ID,…"));
            }
            let v = node.channel_update(op, &channel_id, add, remove)?;
            if json {
                print_json(&v);
            } else if let Some(p) = v.pending_version {
                outln!("{} v{} pending: awaiting {}", v.id, p, v.awaiting.join(","));
            } else {
                // In force at once: this node left.
                outln!("{} v{} {}", v.id, v.version, v.status);
            }
        }
        ChannelCmd::List => {
            let list = node.channel_list(op)?;
            if json {
                print_json(&list);
            } else {
                for c in list {
                    outln!(
                        "{}  {:7}  v{}  {}  members: {}  files: {}",
                        c.id,
                        c.status,
                        c.version,
                        one_line(&c.name),
                        c.members.join(","),
                        one_line(&c.files.join(","))
                    );
                }
            }
        }
        ChannelCmd::Export { channel_id } => print_json(&node.channel_export(op, &channel_id)?),
        ChannelCmd::Import { file } => {
            let bytes = read_input(&file)?;
            let v = node.channel_import(op, &bytes)?;
            if json {
                print_json(&v);
            } else {
                outln!("{} {}", v.id, v.status);
            }
        }
    }
    Ok(())
}

fn record(node: &Node, op: &Actor, json: bool, r: RecordCmd) -> CliResult {
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
            let kind: Kind = kind
                .parse()
                .map_err(|e: tansiq_core::Invalid| CliError::bad(format!("--kind: {e}")))?;
            let new = NewRecord {
                channel,
                file,
                kind,
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
            let id = node.record_add(op, new)?;
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
            let v = node.record_update(op, &id, read_json(&data)?, links, tlp)?;
            if json {
                outln!("{}", serde_json::json!({"id": id, "version": v}));
            }
        }
        RecordCmd::Retract { id } => node.record_retract(op, &id)?,
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
            let list = node.record_list(op, &filter)?;
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
        }
        RecordCmd::Get { id } => {
            let r = node.record_get(op, &id)?;
            print_json(&r);
        }
        RecordCmd::Search { text, limit } => {
            let list = node.record_search(op, &text, limit)?;
            if json {
                print_json(&list);
            } else {
                for r in list {
                    let name = tansiq_core::record::names_of(&r.data).join(" / ");
                    outln!("{}  {:12}  {}", r.id, r.kind, one_line(&name));
                }
            }
        }
        RecordCmd::Links { id } => print_json(&node.record_links(op, &id)?),
        RecordCmd::Share { id, channel } => node.record_share(op, &id, &channel)?,
    }
    Ok(())
}
