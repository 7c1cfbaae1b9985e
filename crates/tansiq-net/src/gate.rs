//! Admission of connections that have proved nothing yet, on the partner
//! port and the local API.
//!
//! A TCP connection costs its opener nothing, and before the TLS
//! handshake (partner port) or before a request arrives (API) the server
//! cannot tell a partner or a user from a flood. Such connections wait in
//! one bounded pool, the [`Gate`]: at most `max_waiting` in all and
//! `max_waiting_per_source` from one source (an IPv4 address, an IPv6
//! /64). When a new connection would pass a limit, the *oldest* waiting
//! connection of the offending source (for the global limit: of the
//! source holding most) is closed to make room — never the new one. A
//! real partner completes its handshake in a few round trips, so a host
//! holding idle sockets open cannot keep it out, even from the same
//! address; it would have to open connections faster than the partner
//! handshakes, and only ever evicts its own or its heaviest neighbour's.
//! Connections that proved themselves (a pinned partner key, a request
//! being served) leave the pool and count against separate limits.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt as _;

/// Where a connection comes from, for the per-source limit: an IPv4
/// address, or the /64 of an IPv6 address (one host usually holds a
/// whole /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    V4([u8; 4]),
    V6([u8; 8]),
}

impl Source {
    pub fn of(ip: IpAddr) -> Source {
        match ip {
            IpAddr::V4(a) => Source::V4(a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => Source::V4(v4.octets()),
                None => {
                    let o = a.octets();
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&o[..8]);
                    Source::V6(p)
                }
            },
        }
    }
}

/// Limits of a [`Gate`]'s pool of waiting connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateLimits {
    pub max_waiting: usize,
    pub max_waiting_per_source: usize,
}

struct Waiting {
    source: Source,
    kick: Arc<watch::Sender<bool>>,
}

#[derive(Default)]
struct State {
    next: u64,
    /// By arrival order (the smallest key is the oldest).
    waiting: BTreeMap<u64, Waiting>,
    per_source: HashMap<Source, usize>,
}

impl State {
    fn insert(&mut self, source: Source, kick: Arc<watch::Sender<bool>>) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.waiting.insert(seq, Waiting { source, kick });
        *self.per_source.entry(source).or_default() += 1;
        seq
    }

    fn remove(&mut self, seq: u64) -> Option<Waiting> {
        let w = self.waiting.remove(&seq)?;
        if let Some(n) = self.per_source.get_mut(&w.source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&w.source);
            }
        }
        Some(w)
    }

    /// Evicts until one more connection from `source` fits; returns how
    /// many were evicted.
    fn make_room(&mut self, source: Source, limits: GateLimits) -> u64 {
        let mut evicted = 0;
        loop {
            let from = if self.per_source.get(&source).copied().unwrap_or(0)
                >= limits.max_waiting_per_source.max(1)
            {
                source
            } else if self.waiting.len() >= limits.max_waiting.max(1) {
                // The source holding most; among equals, the one whose
                // connection is oldest (found by the scan below).
                let most = self.per_source.values().copied().max().unwrap_or(0);
                match self
                    .waiting
                    .values()
                    .find(|w| self.per_source.get(&w.source) == Some(&most))
                {
                    Some(w) => w.source,
                    None => return evicted,
                }
            } else {
                return evicted;
            };
            let Some(seq) = self
                .waiting
                .iter()
                .find(|(_, w)| w.source == from)
                .map(|(s, _)| *s)
            else {
                return evicted;
            };
            if let Some(w) = self.remove(seq) {
                w.kick.send_replace(true);
                evicted += 1;
            }
        }
    }
}

/// The pool of connections that have proved nothing yet (see the module
/// docs). Shared by the accept loop and the connections' tasks.
pub struct Gate {
    limits: GateLimits,
    state: Mutex<State>,
    evicted: AtomicU64,
}

impl Gate {
    pub fn new(limits: GateLimits) -> Arc<Gate> {
        Arc::new(Gate {
            limits,
            state: Mutex::default(),
            evicted: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection from `ip` joins the pool, as its newest member,
    /// after the oldest connections in its way were told to close.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Member {
        let source = Source::of(ip);
        let kick = Arc::new(watch::channel(false).0);
        let seq = {
            let mut st = self.lock();
            let n = st.make_room(source, self.limits);
            if n > 0 {
                self.evicted.fetch_add(n, Ordering::Relaxed);
            }
            st.insert(source, kick.clone())
        };
        Member {
            gate: self.clone(),
            source,
            seq: Mutex::new(Some(seq)),
            kick,
        }
    }

    /// Connections waiting now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// Connections evicted since the last call (for a rate-limited log).
    pub fn take_evicted(&self) -> u64 {
        self.evicted.swap(0, Ordering::Relaxed)
    }
}

/// One connection's place in a [`Gate`]. Dropping it leaves the pool.
pub struct Member {
    gate: Arc<Gate>,
    source: Source,
    /// Its key in the pool while waiting; `None` while settled.
    seq: Mutex<Option<u64>>,
    kick: Arc<watch::Sender<bool>>,
}

impl Member {
    fn seq(&self) -> std::sync::MutexGuard<'_, Option<u64>> {
        self.seq.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the gate told this connection to close.
    pub fn is_kicked(&self) -> bool {
        *self.kick.borrow()
    }

    /// Completes when the gate tells this connection to close.
    pub async fn kicked(&self) {
        let mut rx = self.kick.subscribe();
        let _ = rx.wait_for(|k| *k).await;
    }

    /// Leaves the pool: the connection proved itself (or has a request in
    /// progress) and can no longer be evicted. `false` if it was evicted
    /// first (the caller closes it).
    pub fn settle(&self) -> bool {
        let mut seq = self.seq();
        match seq.take() {
            Some(s) => self.gate.lock().remove(s).is_some(),
            None => !self.is_kicked(),
        }
    }

    /// Back into the pool as its newest member (a kept-alive connection
    /// waiting for its next request). Nothing if it was evicted.
    pub fn wait(&self) {
        if self.is_kicked() {
            return;
        }
        let mut seq = self.seq();
        if seq.is_none() {
            let mut st = self.gate.lock();
            let n = st.make_room(self.source, self.gate.limits);
            if n > 0 {
                self.gate.evicted.fetch_add(n, Ordering::Relaxed);
            }
            *seq = Some(st.insert(self.source, self.kick.clone()));
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(s) = self.seq().take() {
            self.gate.lock().remove(s);
        }
    }
}

/// Logs, at most every ten seconds, how many connections a gate evicted.
fn log_evictions(gate: &Gate, last: &mut tokio::time::Instant, what: &str) {
    if last.elapsed() < Duration::from_secs(10) {
        return;
    }
    let n = gate.take_evicted();
    if n > 0 {
        *last = tokio::time::Instant::now();
        tracing::warn!(
            evicted = n,
            waiting = gate.waiting(),
            "{what}: too many connections that proved nothing yet; closed the oldest"
        );
    }
}

/// Accepts connections on `listener` through `gate` until `shutdown`,
/// running `conn(tcp, addr, member, stop)` for each on a task of its own;
/// then tells them to stop and waits up to `grace` before aborting the
/// rest. The partner port and the local API share it; `what` names the
/// listener in the log.
pub(crate) async fn accept_gated<Fut>(
    listener: TcpListener,
    gate: &Arc<Gate>,
    what: &'static str,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    mut conn: impl FnMut(TcpStream, SocketAddr, Member, watch::Receiver<bool>) -> Fut,
) -> std::io::Result<()>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let mut logged = tokio::time::Instant::now();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors, aborted connection…: not fatal.
                        tracing::warn!(error = %e, "{what}: accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let member = gate.enter(addr.ip());
                log_evictions(gate, &mut logged, what);
                conns.spawn(conn(tcp, addr, member, stop_rx.clone()));
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    Ok(())
}

// ------------------------------------------------------------ local HTTP

/// Limits of [`serve_http`] (the local API). `Default` gives the values
/// `tansiq serve` uses.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Time a client has to send a request's headers, from connecting or
    /// from the end of its previous response (so also how long an idle
    /// kept-alive connection stays open).
    pub header_timeout: Duration,
    /// Time a client has to send a request's whole body once its headers
    /// arrived (answered `408` past it).
    pub body_timeout: Duration,
    /// Largest request body (answered `413` beyond).
    pub max_body_bytes: usize,
    /// Connections without a request in progress (new, or idle between
    /// requests) held at once, and from one source; the oldest are closed
    /// to make room (see [`Gate`]).
    pub max_idle: usize,
    pub max_idle_per_source: usize,
    /// Requests in progress at once; one more is answered `503`.
    pub max_busy: usize,
    /// After shutdown, time allowed to in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_body_bytes: 1024 * 1024,
            max_idle: 128,
            max_idle_per_source: 64,
            max_busy: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

fn plain(status: StatusCode, code: &str, message: &str) -> axum::response::Response {
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// A check of a request's head (method, path, headers) before its body is
/// read: `Err` is the response, and the body is never read (the local API
/// authenticates here, so no unauthenticated client gets its body read or
/// parsed). It may put what it found in the head's extensions.
pub type HeadCheck = Arc<
    dyn Fn(
            axum::http::request::Parts,
        ) -> std::pin::Pin<
            Box<
                dyn Future<Output = Result<axum::http::request::Parts, axum::response::Response>>
                    + Send,
            >,
        > + Send
        + Sync,
>;

/// Serves `router` over plain HTTP/1.1 on `listener` until `shutdown`,
/// with the limits above: a bounded pool of idle connections, a header
/// timeout, a bounded and timed body read, and a cap on requests in
/// progress. Returns once open connections finished or the grace passed.
pub async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: HttpLimits,
) -> std::io::Result<()> {
    serve_http_checked(listener, router, shutdown, limits, None).await
}

/// [`serve_http`] with a [`HeadCheck`] run before each request's body.
pub async fn serve_http_checked(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: HttpLimits,
    check: Option<HeadCheck>,
) -> std::io::Result<()> {
    let gate = Gate::new(GateLimits {
        max_waiting: limits.max_idle,
        max_waiting_per_source: limits.max_idle_per_source,
    });
    let busy = Arc::new(tokio::sync::Semaphore::new(limits.max_busy.max(1)));
    let grace = limits.shutdown_grace;
    accept_gated(
        listener,
        &gate,
        "local API",
        shutdown,
        grace,
        |tcp, addr, member, stop| {
            let conn = HttpConn {
                router: router.clone(),
                limits: limits.clone(),
                busy: busy.clone(),
                stop,
                check: check.clone(),
            };
            conn.run(tcp, addr, Arc::new(member))
        },
    )
    .await
}

struct HttpConn {
    router: axum::Router,
    limits: HttpLimits,
    busy: Arc<tokio::sync::Semaphore>,
    stop: watch::Receiver<bool>,
    check: Option<HeadCheck>,
}

impl HttpConn {
    async fn run(mut self, tcp: TcpStream, addr: SocketAddr, member: Arc<Member>) {
        let _ = tcp.set_nodelay(true);
        let (router, limits, busy) = (self.router.clone(), self.limits.clone(), self.busy.clone());
        let check = self.check.clone();
        let m = member.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            // Settled before the request is served, so the gate never
            // evicts a connection in the middle of one.
            let admitted = m.settle();
            let permit = if admitted {
                busy.clone().try_acquire_owned().ok()
            } else {
                None
            };
            let (router, limits, m) = (router.clone(), limits.clone(), m.clone());
            let check = check.clone();
            async move {
                let Some(permit) = permit else {
                    return Ok::<_, Infallible>(plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy",
                        "too many connections; try again",
                    ));
                };
                let (parts, body) = req.into_parts();
                let parts = match &check {
                    None => parts,
                    Some(check) => match check(parts).await {
                        Ok(parts) => parts,
                        Err(mut resp) => {
                            // The unread body is not drained: the
                            // connection closes after this answer.
                            resp.headers_mut()
                                .insert(header::CONNECTION, HeaderValue::from_static("close"));
                            drop(permit);
                            m.wait();
                            return Ok(resp);
                        }
                    },
                };
                let read = Limited::new(body, limits.max_body_bytes).collect();
                let resp = match tokio::time::timeout(limits.body_timeout, read).await {
                    Err(_) => plain(
                        StatusCode::REQUEST_TIMEOUT,
                        "timeout",
                        "the request body did not arrive in time",
                    ),
                    Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => plain(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "too_large",
                        &format!("the request body exceeds {} bytes", limits.max_body_bytes),
                    ),
                    Ok(Err(_)) => plain(
                        StatusCode::BAD_REQUEST,
                        "bad_request",
                        "the request body could not be read",
                    ),
                    Ok(Ok(body)) => {
                        let req =
                            Request::from_parts(parts, axum::body::Body::from(body.to_bytes()));
                        match router.oneshot(req).await {
                            Ok(r) => r,
                            Err(never) => match never {},
                        }
                    }
                };
                drop(permit);
                m.wait();
                Ok(resp)
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(tcp), service);
        tokio::pin!(conn);
        // Set once the connection is told to close: a graceful shutdown
        // still finishes a response being written, within a second.
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            let deadline = closing.unwrap_or_else(|| {
                tokio::time::Instant::now() + Duration::from_secs(365 * 24 * 3600)
            });
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%addr, error = %e, "API connection ended with an error");
                    }
                    return;
                }
                _ = member.kicked(), if closing.is_none() => {
                    closing = Some(tokio::time::Instant::now() + Duration::from_secs(1));
                    conn.as_mut().graceful_shutdown();
                }
                _ = self.stop.wait_for(|s| *s), if closing.is_none() => {
                    closing = Some(tokio::time::Instant::now() + self.limits.shutdown_grace);
                    conn.as_mut().graceful_shutdown();
                }
                _ = tokio::time::sleep_until(deadline), if closing.is_some() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_oldest_of_the_offending_source_makes_room() {
        let gate = Gate::new(GateLimits {
            max_waiting: 4,
            max_waiting_per_source: 2,
        });
        let a1 = gate.enter(ip("192.0.2.1"));
        let a2 = gate.enter(ip("192.0.2.1"));
        // A third from the same address evicts the oldest of it.
        let a3 = gate.enter(ip("192.0.2.1"));
        assert!(a1.is_kicked() && !a2.is_kicked() && !a3.is_kicked());
        let b1 = gate.enter(ip("192.0.2.2"));
        let c1 = gate.enter(ip("2001:db8::1"));
        assert_eq!(gate.waiting(), 4);
        // The global limit: the source holding most pays, not the newcomer.
        let c2 = gate.enter(ip("2001:db8::2")); // same /64 as c1
        assert!(a2.is_kicked() && !b1.is_kicked() && !c1.is_kicked() && !c2.is_kicked());
        // A settled member leaves the pool; an evicted one cannot settle.
        assert!(b1.settle());
        assert!(!a1.settle());
        assert_eq!(gate.waiting(), 3);
        drop(c1);
        assert_eq!(gate.waiting(), 2);
        // Back to waiting, as the newest.
        b1.wait();
        assert_eq!(gate.waiting(), 3);
        assert_eq!(gate.take_evicted(), 2);
        assert_eq!(
            Source::of(ip("::ffff:192.0.2.1")),
            Source::of(ip("192.0.2.1"))
        );
    }
}
