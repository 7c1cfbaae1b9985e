//! The node-to-node transport over real sockets on 127.0.0.1: mutual TLS
//! 1.3 pinned to Ed25519 node keys.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Router};
use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use tansiq_crypto::Identity;
use tansiq_net::transport::{
    peer_key_from_cert, serve_tls_with, server_config, PeerAddr, PeerClient, PeerId, PeerKeys,
    PeerSet, ServeOptions, TlsIdentity, TransportError,
};

// ------------------------------------------------------------ fixtures

struct TestNode {
    id: Identity,
    tls: TlsIdentity,
    peers: PeerSet,
}

impl TestNode {
    fn new() -> TestNode {
        let id = Identity::generate();
        let tls = TlsIdentity::from_identity(&id).expect("tls identity");
        TestNode {
            id,
            tls,
            peers: PeerSet::new(),
        }
    }

    fn key(&self) -> [u8; 32] {
        self.id.signing_public()
    }

    fn knows(&self, other: &TestNode) {
        self.peers.insert(other.key());
    }

    fn client(&self) -> PeerClient {
        PeerClient::new(&self.tls, Arc::new(self.peers.clone()))
            .expect("client")
            .with_timeouts(Duration::from_secs(5), Duration::from_secs(5))
    }
}

struct Server {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.handle)
            .await
            .expect("server stops promptly")
            .expect("server task")
            .expect("server result");
    }
}

/// Answers `<peer id>|<peer port>|<request body>`.
async fn whoami(
    State(hits): State<Arc<AtomicUsize>>,
    Extension(PeerId(id)): Extension<PeerId>,
    Extension(PeerAddr(addr)): Extension<PeerAddr>,
    body: Bytes,
) -> String {
    hits.fetch_add(1, Ordering::SeqCst);
    format!("{id}|{}|{}", addr.port(), String::from_utf8_lossy(&body))
}

/// Answers as many bytes as the decimal request body says, with a
/// Content-Length.
async fn big(State(hits): State<Arc<AtomicUsize>>, body: Bytes) -> Vec<u8> {
    hits.fetch_add(1, Ordering::SeqCst);
    let n: usize = String::from_utf8_lossy(&body).parse().unwrap_or(0);
    vec![b'x'; n]
}

/// A body of unknown length (sent chunked).
struct Chunks {
    left: usize,
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(8192);
        self.left -= n;
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(vec![b'y'; n])))))
    }
}

async fn chunked(State(hits): State<Arc<AtomicUsize>>, body: Bytes) -> Body {
    hits.fetch_add(1, Ordering::SeqCst);
    let n: usize = String::from_utf8_lossy(&body).parse().unwrap_or(0);
    Body::new(Chunks { left: n })
}

async fn serve(node: &TestNode, opts: ServeOptions) -> Server {
    let cfg = server_config(&node.tls, Arc::new(node.peers.clone())).expect("server config");
    serve_config(cfg, opts).await
}

async fn serve_config(cfg: Arc<rustls::ServerConfig>, opts: ServeOptions) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route("/whoami", post(whoami))
        .route("/big", post(big))
        .route("/chunked", post(chunked))
        .with_state(hits.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = rx.await;
    };
    let handle = tokio::spawn(serve_tls_with(listener, cfg, router, shutdown, opts));
    Server {
        addr,
        hits,
        stop: Some(tx),
        handle,
    }
}

fn parse_whoami(body: &[u8]) -> (String, u16, String) {
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    let mut parts = text.splitn(3, '|');
    let id = parts.next().unwrap_or_default().to_string();
    let port = parts.next().unwrap_or_default().parse().expect("port");
    let rest = parts.next().unwrap_or_default().to_string();
    (id, port, rest)
}

/// Accepts any server certificate: for hand-made clients whose point is
/// what the *server* does with them.
#[derive(Debug)]
struct AcceptAnyServer;

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::ED25519,
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::RSA_PSS_SHA256,
        ]
    }
}

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn raw_client_tls13() -> rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert> {
    ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("tls13")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer))
}

/// Connects with a hand-made client configuration and sends one HTTP
/// request. `Ok(bytes)` is whatever came back (perhaps nothing); `Err` a
/// TLS or I/O failure.
async fn raw_exchange(cfg: ClientConfig, addr: SocketAddr) -> Result<Vec<u8>, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::IpAddress(addr.ip().into());
    let exchange = async {
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tls.write_all(
            b"POST /whoami HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        )
        .await
        .map_err(|e| format!("write: {e}"))?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok(out)
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// The server answers a refused client with a TLS alert only, never HTTP.
fn assert_refused(r: &Result<Vec<u8>, String>, alert: &str) {
    match r {
        Ok(bytes) => panic!("the server answered: {:?}", String::from_utf8_lossy(bytes)),
        Err(e) => assert!(e.contains(alert), "expected alert {alert}, got {e}"),
    }
}

// ------------------------------------------------------------ tests

#[test]
fn certificate_carries_the_node_key_and_is_deterministic() {
    let id = Identity::generate();
    let a = TlsIdentity::from_identity(&id).unwrap();
    let b = TlsIdentity::from_identity(&id).unwrap();
    assert_eq!(a.cert_der(), b.cert_der(), "same key, same certificate");
    assert_eq!(peer_key_from_cert(a.cert_der()), Some(id.signing_public()));
    assert_eq!(a.public_key(), id.signing_public());
    assert_eq!(a.node_id(), id.node_id());
    let dbg = format!("{a:?}");
    assert!(dbg.contains(&id.node_id()));
    assert!(!dbg.contains("key_pkcs8"));

    // A key of another type is not a peer key; garbage is not a certificate.
    let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let other = rcgen::CertificateParams::new(vec!["x".into()])
        .unwrap()
        .self_signed(&p256)
        .unwrap();
    assert_eq!(peer_key_from_cert(other.der()), None);
    assert_eq!(peer_key_from_cert(b"not a certificate"), None);
    assert_eq!(peer_key_from_cert(&a.cert_der()[..100]), None);
}

#[tokio::test]
async fn known_peers_exchange_and_the_server_sees_the_client_id() {
    let a = TestNode::new();
    let b = TestNode::new();
    a.knows(&b);
    b.knows(&a);
    let server = serve(&a, ServeOptions::default()).await;
    let client = b.client();

    let (status, body) = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"hello".to_vec())
        .await
        .expect("post");
    assert_eq!(status, 200);
    let (peer, port1, echo) = parse_whoami(&body);
    assert_eq!(peer, b.id.node_id());
    assert_eq!(echo, "hello");

    // Keep-alive: the second request arrives on the same connection.
    let (status, body) = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"again".to_vec())
        .await
        .expect("second post");
    assert_eq!(status, 200);
    let (peer, port2, echo) = parse_whoami(&body);
    assert_eq!(
        (peer.as_str(), echo.as_str()),
        (b.id.node_id().as_str(), "again")
    );
    assert_eq!(port1, port2, "connection reused");

    // Unknown route: an ordinary HTTP status, not a transport error.
    let (status, _) = client
        .post(&server.endpoint(), &a.key(), "/nope", Vec::new())
        .await
        .expect("404 is a response");
    assert_eq!(status, 404);
    assert_eq!(server.hits(), 2);
    server.stop().await;
}

#[tokio::test]
async fn unknown_client_key_is_refused_in_the_handshake() {
    let a = TestNode::new();
    let b = TestNode::new();
    let stranger = TestNode::new();
    a.knows(&b);
    stranger.knows(&a); // the stranger knows A; A does not know it
    let server = serve(&a, ServeOptions::default()).await;

    let err = stranger
        .client()
        .post(
            &server.endpoint(),
            &a.key(),
            "/whoami",
            b"let me in".to_vec(),
        )
        .await
        .expect_err("an unknown client must be refused");
    assert!(
        matches!(err, TransportError::Refused { .. }),
        "unexpected error: {err}"
    );

    // A client that offers no certificate at all.
    let r = raw_exchange(raw_client_tls13().with_no_client_auth(), server.addr).await;
    assert_refused(&r, "CertificateRequired");

    // A client certificate with a P-256 key (not an Ed25519 node key).
    let p256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["x".into()])
        .unwrap()
        .self_signed(&p256)
        .unwrap();
    let cfg = raw_client_tls13()
        .with_client_auth_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(p256.serialize_der())),
        )
        .unwrap();
    let r = raw_exchange(cfg, server.addr).await;
    assert_refused(&r, "CertificateRequired");

    // An impostor presenting B's (known) certificate without B's key: the
    // CertificateVerify signature does not verify under B's key.
    let impostor = Identity::generate();
    let impostor_key = ring()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            impostor.signing_key_pkcs8_der().to_vec(),
        )))
        .unwrap();
    let stolen = Arc::new(CertifiedKey::new(
        vec![b.tls.cert_der().clone()],
        impostor_key,
    ));
    let cfg = raw_client_tls13().with_client_cert_resolver(Arc::new(Fixed(stolen)));
    let r = raw_exchange(cfg, server.addr).await;
    assert_refused(&r, "DecryptError");

    // Control: the same hand-made client with B's real credentials works.
    let b_key = ring()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            b.id.signing_key_pkcs8_der().to_vec(),
        )))
        .unwrap();
    let real = Arc::new(CertifiedKey::new(vec![b.tls.cert_der().clone()], b_key));
    let cfg = raw_client_tls13().with_client_cert_resolver(Arc::new(Fixed(real)));
    let r = raw_exchange(cfg, server.addr).await.expect("control");
    assert!(
        r.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&r)
    );

    assert_eq!(
        server.hits(),
        1,
        "only the control request reached a handler"
    );
    server.stop().await;
}

/// Always presents the same certificate and key.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl rustls::client::ResolvesClientCert for Fixed {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[tokio::test]
async fn client_refuses_a_server_that_is_not_the_expected_peer() {
    let a = TestNode::new();
    let b = TestNode::new();
    let c = TestNode::new();
    // B knows both A and C; C (known, but not A) answers on the address
    // where B expects A.
    b.knows(&a);
    b.knows(&c);
    c.knows(&b);
    let server_c = serve(&c, ServeOptions::default()).await;
    let client = b.client();

    let err = client
        .post(&server_c.endpoint(), &a.key(), "/whoami", b"for A".to_vec())
        .await
        .expect_err("C is not A");
    assert!(
        matches!(err, TransportError::UnexpectedPeer { .. }),
        "unexpected error: {err}"
    );
    // Control: expecting C there works.
    let (status, _) = client
        .post(&server_c.endpoint(), &c.key(), "/whoami", b"for C".to_vec())
        .await
        .expect("C is C");
    assert_eq!(status, 200);
    // A pooled connection to C is not reused when A is expected.
    let err = client
        .post(&server_c.endpoint(), &a.key(), "/whoami", b"for A".to_vec())
        .await
        .expect_err("still not A");
    assert!(
        matches!(err, TransportError::UnexpectedPeer { .. }),
        "{err}"
    );

    // Expecting a key that is not a known peer: refused before connecting.
    let stranger = TestNode::new();
    let err = client
        .post(&server_c.endpoint(), &stranger.key(), "/whoami", Vec::new())
        .await
        .expect_err("unknown expected key");
    assert!(matches!(err, TransportError::UnknownPeer), "{err}");
    assert_eq!(server_c.hits(), 1);
    server_c.stop().await;

    // An impostor server presenting A's certificate without A's key.
    let impostor = Identity::generate();
    let key = ring()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            impostor.signing_key_pkcs8_der().to_vec(),
        )))
        .unwrap();
    let stolen = Arc::new(CertifiedKey::new(vec![a.tls.cert_der().clone()], key));
    let cfg = rustls::ServerConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(stolen)));
    let fake_a = serve_config(Arc::new(cfg), ServeOptions::default()).await;
    let err = client
        .post(&fake_a.endpoint(), &a.key(), "/whoami", b"for A".to_vec())
        .await
        .expect_err("the impostor cannot sign as A");
    assert!(
        matches!(
            err,
            TransportError::UnexpectedPeer { .. } | TransportError::Handshake { .. }
        ),
        "{err}"
    );
    assert_eq!(fake_a.hits(), 0);
    fake_a.stop().await;
}

#[tokio::test]
async fn tls12_is_refused() {
    let a = TestNode::new();
    let b = TestNode::new();
    a.knows(&b);
    let server = serve(&a, ServeOptions::default()).await;
    let b_key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        b.id.signing_key_pkcs8_der().to_vec(),
    ));
    let cfg = ClientConfig::builder_with_provider(ring())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer))
        .with_client_auth_cert(vec![b.tls.cert_der().clone()], b_key)
        .unwrap();
    let r = raw_exchange(cfg, server.addr).await;
    let err = r.expect_err("a TLS 1.2 handshake must fail");
    assert!(
        err.starts_with("handshake") && err.contains("ProtocolVersion"),
        "{err}"
    );
    assert_eq!(server.hits(), 0);
    server.stop().await;
}

#[tokio::test]
async fn peers_added_and_removed_at_run_time() {
    let a = TestNode::new();
    let c = TestNode::new();
    c.knows(&a);
    let opts = ServeOptions {
        peers: Some(Arc::new(a.peers.clone()) as Arc<dyn PeerKeys>),
        ..ServeOptions::default()
    };
    let server = serve(&a, opts).await;
    let client = c.client();

    let err = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"1".to_vec())
        .await
        .expect_err("not yet a peer");
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");

    // A learns C's card: from now on C is accepted, under its node id.
    let card = tansiq_net::card::NodeCard::issue(
        &c.id,
        "Node C",
        "TN",
        "127.0.0.1:1",
        "2025-01-01T00:00:00Z",
    );
    assert_eq!(a.peers.insert_card(&card).unwrap(), c.id.node_id());
    let (status, body) = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"2".to_vec())
        .await
        .expect("now a peer");
    assert_eq!(status, 200);
    assert_eq!(parse_whoami(&body).0, c.id.node_id());
    assert_eq!(server.hits(), 1);

    // Removed again: the kept-alive connection gets 403 and is closed
    // without reaching the handler; a new connection is refused.
    assert!(a.peers.remove(&c.key()));
    let (status, _) = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"3".to_vec())
        .await
        .expect("answered on the kept-alive connection");
    assert_eq!(status, 403);
    let err = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"4".to_vec())
        .await
        .expect_err("refused again");
    assert!(matches!(err, TransportError::Refused { .. }), "{err}");
    assert_eq!(server.hits(), 1);

    // The client side too: once C forgets A, it will not talk to A.
    c.peers.remove(&a.key());
    let err = client
        .post(&server.endpoint(), &a.key(), "/whoami", b"5".to_vec())
        .await
        .expect_err("A is no longer known to C");
    assert!(matches!(err, TransportError::UnknownPeer), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn oversized_responses_are_cut_with_an_error() {
    let a = TestNode::new();
    let b = TestNode::new();
    a.knows(&b);
    b.knows(&a);
    let server = serve(&a, ServeOptions::default()).await;
    let limit = 64 * 1024;
    let client = b.client().with_max_response_bytes(limit);
    let ep = server.endpoint();

    let (status, body) = client
        .post(&ep, &a.key(), "/big", limit.to_string().into_bytes())
        .await
        .expect("exactly the limit is fine");
    assert_eq!((status, body.len()), (200, limit));
    let (status, body) = client
        .post(&ep, &a.key(), "/chunked", limit.to_string().into_bytes())
        .await
        .expect("exactly the limit is fine, chunked too");
    assert_eq!((status, body.len()), (200, limit));

    for path in ["/big", "/chunked"] {
        let err = client
            .post(&ep, &a.key(), path, (limit + 1).to_string().into_bytes())
            .await
            .expect_err("over the limit");
        assert!(
            matches!(err, TransportError::ResponseTooLarge { limit: l, .. } if l == limit),
            "{path}: {err}"
        );
        let err = client
            .post(&ep, &a.key(), path, (4 * limit).to_string().into_bytes())
            .await
            .expect_err("far over the limit");
        assert!(
            matches!(err, TransportError::ResponseTooLarge { .. }),
            "{err}"
        );
    }
    // The client is still usable afterwards.
    let (status, _) = client
        .post(&ep, &a.key(), "/whoami", Vec::new())
        .await
        .expect("still works");
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn bad_endpoints_and_paths_are_errors_and_dead_peers_time_out() {
    let a = TestNode::new();
    let b = TestNode::new();
    b.knows(&a);
    let client = b.client();
    for ep in ["", "127.0.0.1", "127.0.0.1:x", "https://127.0.0.1:1", ":80"] {
        let err = client
            .post(ep, &a.key(), "/whoami", Vec::new())
            .await
            .expect_err(ep);
        assert!(matches!(err, TransportError::BadRequest(_)), "{ep}: {err}");
    }
    for path in ["", "whoami", "//evil/x", "/a b"] {
        let err = client
            .post("127.0.0.1:9", &a.key(), path, Vec::new())
            .await
            .expect_err(path);
        assert!(
            matches!(err, TransportError::BadRequest(_)),
            "{path}: {err}"
        );
    }

    // Nothing listening.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = client
        .post(&closed, &a.key(), "/whoami", Vec::new())
        .await
        .expect_err("connection refused");
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");

    // A listener that accepts but never speaks TLS: the connect timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_ep = silent.local_addr().unwrap().to_string();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let quick = b
        .client()
        .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    // Well within the default connect timeout (10 s): the client's own
    // 300 ms applied, however loaded the machine.
    let err = tokio::time::timeout(
        Duration::from_secs(8),
        quick.post(&silent_ep, &a.key(), "/whoami", Vec::new()),
    )
    .await
    .expect("the configured connect timeout, not the default")
    .expect_err("silent peer");
    assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    hold.abort();
}

#[tokio::test]
async fn server_drops_silent_handshakes_and_stops_on_shutdown() {
    let a = TestNode::new();
    let b = TestNode::new();
    a.knows(&b);
    b.knows(&a);
    let opts = ServeOptions {
        handshake_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let server = serve(&a, opts).await;
    // A TCP client that never sends a ClientHello is dropped.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(3), idle.read(&mut buf))
        .await
        .expect("closed by the server")
        .unwrap_or(0);
    assert_eq!(n, 0);

    // Real peers still get through; shutdown then ends `serve_tls_with`
    // even with a kept-alive connection open.
    let client = b.client();
    let (status, _) = client
        .post(&server.endpoint(), &a.key(), "/whoami", Vec::new())
        .await
        .unwrap();
    assert_eq!(status, 200);
    let addr = server.addr;
    server.stop().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_through_one_client() {
    let a = TestNode::new();
    let b = TestNode::new();
    a.knows(&b);
    b.knows(&a);
    let server = serve(&a, ServeOptions::default()).await;
    let client = b.client();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..24 {
        let client = client.clone();
        let ep = server.endpoint();
        let key = a.key();
        tasks.spawn(async move {
            let body = format!("req-{i}");
            let (status, resp) = client
                .post(&ep, &key, "/whoami", body.clone().into_bytes())
                .await
                .expect("post");
            assert_eq!(status, 200);
            assert_eq!(parse_whoami(&resp).2, body);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("task");
    }
    assert_eq!(server.hits(), 24);
    server.stop().await;
}

/// One partner (hostile or broken) cannot take every authenticated slot:
/// beyond `max_connections_per_peer` its new connections are closed after
/// the handshake, while another partner still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_partner_cannot_take_every_connection() {
    let a = TestNode::new();
    let b = TestNode::new();
    let c = TestNode::new();
    a.knows(&b);
    a.knows(&c);
    b.knows(&a);
    c.knows(&a);
    let opts = ServeOptions {
        max_connections_per_peer: 2,
        ..ServeOptions::default()
    };
    let server = serve(&a, opts).await;
    let ep = server.endpoint();
    // Each client keeps its connection alive in its own pool.
    let held: Vec<PeerClient> = (0..2).map(|_| b.client()).collect();
    for client in &held {
        let (status, _) = client
            .post(&ep, &a.key(), "/whoami", Vec::new())
            .await
            .unwrap();
        assert_eq!(status, 200);
    }
    b.client()
        .post(&ep, &a.key(), "/whoami", Vec::new())
        .await
        .expect_err("a third connection of the same partner");
    let (status, _) = c
        .client()
        .post(&ep, &a.key(), "/whoami", Vec::new())
        .await
        .expect("another partner");
    assert_eq!(status, 200);
    // Its connections closed, the partner gets in again.
    drop(held);
    let t = std::time::Instant::now();
    loop {
        match b.client().post(&ep, &a.key(), "/whoami", Vec::new()).await {
            Ok((200, _)) => break,
            r => assert!(t.elapsed() < Duration::from_secs(30), "{r:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}
