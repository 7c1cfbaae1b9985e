//! `tansiq serve`: the local API and the node's background work, until
//! SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tansiq_node::Node;

use crate::cli::{CliError, CliResult};

pub fn run(dir: &Path) -> CliResult {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TANSIQ_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let node = Arc::new(Node::open(dir)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::other(format!("starting runtime: {e}")))?;
    rt.block_on(async move {
        let addr = tansiq_node::config::parse_listen(&node.config.api_listen)?;
        let listener = tansiq_node::api::bind(addr)
            .await
            .map_err(|e| CliError::other(format!("cannot listen on {addr}: {e}")))?;
        let peer_addr = tansiq_node::config::parse_listen(&node.config.listen)?;
        let peer_listener = tokio::net::TcpListener::bind(peer_addr)
            .await
            .map_err(|e| CliError::other(format!("cannot listen on {peer_addr}: {e}")))?;
        let peers = tansiq_node::transport::PeerSet::new();
        tansiq_node::peering::refresh_peers(&node, &peers)?;
        tracing::info!(node = %node.id(), api = %addr, partners = %peer_addr, "tansiq node serving");
        let bg = tokio::spawn(background(node.clone()));
        let sender = tokio::spawn(tansiq_node::peering::sender(node.clone(), peers.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut rx2 = stop_rx.clone();
        let partner = tokio::spawn(tansiq_node::peering::serve_peers(node.clone(), peer_listener, peers, async move {
            let _ = rx2.changed().await;
        }));
        let mut rx1 = stop_rx;
        let api = tokio::spawn(tansiq_node::api::serve(node.clone(), listener, async move {
            let _ = rx1.changed().await;
        }));
        shutdown_signal().await;
        let _ = stop_tx.send(true);
        sender.abort();
        bg.abort();
        let _ = api.await;
        let _ = partner.await;
        // A last checkpoint so the log's head is signed at shutdown.
        let n = node.clone();
        let _ = tokio::task::spawn_blocking(move || n.store.write(|tx| n.checkpoint_in(tx))).await;
        tracing::info!("tansiq node stopped");
        Ok::<_, CliError>(())
    })
}

/// Periodic checkpoints and expiry purges.
async fn background(node: Arc<Node>) {
    let every = Duration::from_secs(node.config.checkpoint_interval_secs.max(1));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let n = node.clone();
        let r = tokio::task::spawn_blocking(move || {
            n.purge_expired()?;
            n.store.write(|tx| n.checkpoint_in(tx))?;
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

async fn shutdown_signal() {
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
