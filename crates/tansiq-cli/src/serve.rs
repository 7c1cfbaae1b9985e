//! `tansiq serve`: the local API and the node's background work, until
//! SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use tansiq_node::Node;

use crate::error::{CliError, CliResult};

// `tansiq serve` (documented on its `Cmd` variant).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Partner address to bind instead of the config's `listen`.
    #[arg(long)]
    listen: Option<String>,
    /// Local API address to bind instead of the config's `api_listen`.
    #[arg(long)]
    api_listen: Option<String>,
    /// Allow a non-loopback API address (plain HTTP on the network).
    #[arg(long)]
    api_insecure_non_loopback: bool,
}

/// `serve` is a daemon: a store busy when it starts (another worker
/// migrating or holding the write lock, the session of a worker killed a
/// moment ago not yet ended, a loaded machine) is waited out for up to two
/// minutes, not a reason to exit. A one-shot command still says "try
/// again" at once.
fn open_when_free(dir: &Path) -> Result<Node, tansiq_node::NodeError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut wait = std::time::Duration::from_millis(200);
    loop {
        match Node::open(dir) {
            Err(tansiq_node::NodeError::Store(tansiq_store::StoreError::Busy))
                if std::time::Instant::now() < deadline =>
            {
                tracing::warn!(
                    retry_in_ms = wait.as_millis() as u64,
                    "the store is busy; opening it again"
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            r => return r,
        }
    }
}

pub fn run(dir: &Path, args: ServeArgs) -> CliResult {
    let listen = args.listen.as_deref();
    init_logs()?;
    // Held while serving: `tansiq restore` refuses to replace the store
    // under a running node (and serve refuses to start during a restore).
    let _serving = if dir.is_dir() {
        let Some(lock) = tansiq_node::config::serve_lock(dir, false)? else {
            return Err(CliError::bad(
                "a restore is replacing this node's store (its serve lock is held); try again when it is done",
            ));
        };
        Some(lock)
    } else {
        None
    };
    let node = Arc::new(open_when_free(dir)?);
    // Refused before anything binds: bearer tokens over plain HTTP stay
    // on loopback unless the operator opted in (here or at `init`).
    let api_addr = tansiq_node::config::parse_listen(
        args.api_listen
            .as_deref()
            .unwrap_or(&node.config.api_listen),
    )?;
    tansiq_node::config::check_api_addr(
        api_addr,
        args.api_insecure_non_loopback || node.config.api_insecure_non_loopback,
    )?;
    let worker = become_worker(&node, listen)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("starting runtime: {e}")))?;
    // Blocking store calls (the postgres client runs its own small
    // runtime) happen outside the async runtime or in spawn_blocking.
    let peers = tansiq_node::transport::PeerSet::new();
    tansiq_node::peering::refresh_peers(&node, &peers)?;
    // Dropped after the runtime: closing pooled connections blocks.
    let _keep = node.clone();
    rt.block_on(serve_until_signal(node, peers, api_addr, listen, worker))
}

/// The log on stderr: level filter from `TANSIQ_LOG` (default `info`),
/// format from `TANSIQ_LOG_FORMAT` — `text` (default, for a terminal) or
/// `json` (one object per line, for log shippers; docs/OPERATIONS.md).
/// An unknown format is refused rather than silently logged as text: a
/// shipper parsing text as JSON would drop every line.
fn init_logs() -> CliResult {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TANSIQ_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match std::env::var("TANSIQ_LOG_FORMAT").as_deref() {
        Ok("json") => logs.json().init(),
        Ok("text" | "") | Err(std::env::VarError::NotPresent) => logs.init(),
        Ok(other) => {
            return Err(CliError::bad(format!(
                "TANSIQ_LOG_FORMAT={other:?}: expected \"text\" or \"json\""
            )))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            return Err(CliError::bad(
                "TANSIQ_LOG_FORMAT: expected \"text\" or \"json\"",
            ))
        }
    }
    Ok(())
}

/// Makes this process a delivery worker of the node; returns its id.
///
/// This process delivers the outbox rows it claims; other workers on
/// the same (PostgreSQL) node deliver theirs. The id is stable across
/// restarts (host and partner address, unique among live workers), so
/// a restarted worker resumes its own claims at once; a worker that
/// stays down has its rows taken over when its lease lapses.
fn become_worker(node: &Arc<Node>, listen: Option<&str>) -> CliResult<String> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let worker = format!("{host}/{}", listen.unwrap_or(&node.config.listen));
    node.federation
        .become_worker(&worker, node.config.outbox_lease_secs.max(1) * 1000);
    // New work queued by another process wakes this worker at once
    // (PostgreSQL LISTEN); the sender's polling is the fallback.
    let weak = Arc::downgrade(node);
    let listening = node
        .store
        .watch_work(move |heard| {
            let Some(n) = weak.upgrade() else {
                return false;
            };
            if heard {
                n.federation
                    .claim_due
                    .store(true, std::sync::atomic::Ordering::SeqCst);
                n.federation.wake.notify_one();
            }
            true
        })
        .map_err(tansiq_node::NodeError::from)?;
    tracing::info!(worker = %worker, listening, "delivery worker");
    Ok(worker)
}

/// Binds the local API and the partner port, runs them with the sender
/// and the background jobs until SIGINT or SIGTERM, then stops cleanly.
async fn serve_until_signal(
    node: Arc<Node>,
    peers: tansiq_node::transport::PeerSet,
    addr: std::net::SocketAddr,
    listen: Option<&str>,
    worker: String,
) -> CliResult {
    let listener = tansiq_api::local::bind(addr)
        .await
        .map_err(|e| CliError::other(format!("cannot listen on {addr}: {e}")))?;
    let peer_addr = tansiq_node::config::parse_listen(listen.unwrap_or(&node.config.listen))?;
    let peer_listener = tokio::net::TcpListener::bind(peer_addr)
        .await
        .map_err(|e| CliError::other(format!("cannot listen on {peer_addr}: {e}")))?;
    // `/readyz` answers 200 only while the partner port is held.
    let partner_port = tansiq_api::ops::partner_port_bound(&node);
    tracing::info!(node = %node.id(), api = %addr, partners = %peer_addr, "tansiq node serving");
    let bg = tokio::spawn(background(node.clone(), worker.clone()));
    let sender = tokio::spawn(tansiq_node::peering::sender(node.clone(), peers.clone()));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut rx2 = stop_rx.clone();
    let partner = tokio::spawn(tansiq_api::partner::serve_peers(
        node.clone(),
        peer_listener,
        peers,
        async move {
            let _ = rx2.changed().await;
        },
    ));
    let mut rx1 = stop_rx;
    let api = tokio::spawn(tansiq_api::local::serve(
        node.clone(),
        listener,
        async move {
            let _ = rx1.changed().await;
        },
    ));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    sender.abort();
    bg.abort();
    let _ = api.await;
    let _ = partner.await;
    drop(partner_port);
    // A last checkpoint so the log's head is signed at shutdown, and
    // this worker's claims freed so the other workers take its rows
    // over at once.
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let _ = n.checkpoint_now();
        if let Err(e) = n.federation.release_claims(&n.store) {
            tracing::warn!(error = %e, "freeing outbox claims");
        }
    })
    .await;
    tracing::info!("tansiq node stopped");
    Ok(())
}

/// Periodic checkpoints and expiry purges. With several workers on one
/// node, one of them runs these at a time: the holder of the `jobs`
/// lease in `meta` (taken in a write transaction, so two workers never
/// both hold it), renewed each round, taken over by another worker when
/// it lapses (three intervals). Each job is also safe to repeat: a
/// checkpoint of an unchanged head is not signed again, and purging is
/// idempotent.
async fn background(node: Arc<Node>, worker: String) {
    let every = Duration::from_secs(node.config.checkpoint_interval_secs.max(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let n = node.clone();
        let w = worker.clone();
        let r = tokio::task::spawn_blocking(move || {
            if !take_jobs_lease(&n, &w, 3 * every)? {
                return Ok(());
            }
            n.purge_expired()?;
            n.checkpoint_now()?;
            // Partners witness this node's log (and it theirs).
            n.witness_round().map(|_| ())
        })
        .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "background work failed"),
            Err(e) => tracing::warn!(error = %e, "background task panicked"),
        }
    }
}

/// Takes (or renews) the lease on the node's periodic jobs for `worker`
/// unless another worker holds it unexpired. `meta` key `jobs_worker`:
/// `"<worker> <until ms>"`.
fn take_jobs_lease(
    node: &Node,
    worker: &str,
    lease: Duration,
) -> Result<bool, tansiq_node::NodeError> {
    let now = tansiq_node::federation::now_ms();
    node.store.write(|tx| {
        let held = tx.meta_get("jobs_worker")?;
        let other_live = held
            .as_deref()
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(w, until)| w != worker && until.parse::<u64>().is_ok_and(|u| u > now));
        if other_live {
            return Ok(false);
        }
        let until = now + lease.as_millis() as u64;
        tx.meta_set("jobs_worker", &format!("{worker} {until}"))?;
        Ok(true)
    })
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
