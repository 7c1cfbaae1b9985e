//! Node-to-node transport: HTTP/1.1 over TLS 1.3 with mutual
//! authentication pinned to the peers' Ed25519 node keys.
//!
//! There is no certificate authority. Each node presents a self-signed
//! X.509 certificate whose public key is its Ed25519 **node signing key**
//! (the `signing_key` of its signed node card), made by
//! [`TlsIdentity::from_identity`]. Each side accepts the other's
//! certificate if and only if:
//!
//! - exactly one certificate is presented (no chain);
//! - its SubjectPublicKeyInfo is an Ed25519 key (RFC 8410), and that key is
//!   a known peer *right now* ([`PeerKeys`], which the caller may change at
//!   run time) — and, for a client, exactly the key it expected at that
//!   address;
//! - the TLS 1.3 `CertificateVerify` signature (scheme `ed25519`) verifies
//!   under that key, which proves the peer holds the node's secret key.
//!
//! Validity dates, names, extensions and the certificate's own signature
//! are ignored: the pinned key replaces the PKI. A client whose key is not
//! a known peer fails the handshake, so no HTTP request of it is ever read.
//! Session resumption is disabled on both sides, so every connection is
//! authenticated against the peer set of the moment; with
//! [`ServeOptions::peers`] the server also re-checks the peer before every
//! request on a kept-alive connection.
//!
//! After a key rotation a node has several signing keys bound to one id
//! (`card.rs`): a [`PeerSet`] built with [`PeerSet::insert_card`] accepts
//! every key of a peer's verified chain, and the rotated node presents,
//! to a peer that has not yet taken its new card, the key of the card that
//! peer holds (tansiq-node's `peering.rs` and `rotation.rs`).
//!
//! See `docs/PROTOCOL.md` ("Transport") for the profile a second
//! implementation must follow.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    ServerConfig, SignatureScheme,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tower::ServiceExt as _;
use zeroize::Zeroizing;

use crate::card::NodeCard;
use crate::gate::{accept_gated, Gate, GateLimits, Member};

/// ALPN protocol id spoken on the partner port.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";
/// Default limit on a response body read by [`PeerClient`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Default time allowed for TCP connect plus TLS handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time allowed for sending a request and reading the whole response.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4):
/// `SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) }`,
/// followed by the 32-byte key.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The only signature scheme either side offers or accepts.
static ED25519_ONLY: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[webpki::ring::ED25519],
    mapping: &[(SignatureScheme::ED25519, &[webpki::ring::ED25519])],
};

/// Client connections kept for reuse are dropped after this long idle
/// (below the server's idle limit, so a reused connection is rarely one
/// the server is closing).
const POOL_IDLE: Duration = Duration::from_secs(20);
/// Idle connections kept per (endpoint, peer key).
const POOL_MAX_PER_PEER: usize = 4;
/// Distinct (endpoint, key) pairs and expected keys cached by a client.
const CACHE_MAX_ENTRIES: usize = 1024;

// ---------------------------------------------------------------- errors

/// What can go wrong in the transport. Messages name endpoints and causes,
/// never keys' secrets or message contents.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Building the certificate or a TLS configuration failed.
    #[error("TLS setup: {0}")]
    Setup(String),
    /// The caller passed an unusable endpoint or path.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The key the caller expects is not (or no longer) a known peer.
    #[error("the expected peer key is not a known peer")]
    UnknownPeer,
    /// TCP connect failed.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The server at the endpoint is not the expected peer (its
    /// certificate key differs, is unknown, or is not Ed25519).
    #[error("the server at {endpoint} is not the expected peer: {reason}")]
    UnexpectedPeer { endpoint: String, reason: String },
    /// The peer refused us during the handshake (e.g. it does not know our
    /// key): it sent a TLS alert.
    #[error("{endpoint} refused the TLS connection: {reason}")]
    Refused { endpoint: String, reason: String },
    /// Any other TLS handshake failure.
    #[error("TLS handshake with {endpoint} failed: {reason}")]
    Handshake { endpoint: String, reason: String },
    /// A connect or read deadline passed.
    #[error("timed out {stage} {endpoint}")]
    Timeout {
        endpoint: String,
        stage: &'static str,
    },
    /// The HTTP exchange failed after the connection was set up.
    #[error("HTTP exchange with {endpoint} failed: {reason}")]
    Http { endpoint: String, reason: String },
    /// The response body exceeds the client's limit; it was not read.
    #[error("the response from {endpoint} exceeds {limit} bytes")]
    ResponseTooLarge { endpoint: String, limit: usize },
}

/// Why one of our verifiers refused a certificate (carried inside
/// `rustls::Error` so the client can report it precisely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PinError {
    /// More than one certificate presented.
    Chain,
    /// Not an Ed25519 key.
    NotEd25519,
    /// An Ed25519 key that is not a known peer.
    UnknownKey,
    /// A known peer, but not the one the client expected at this address.
    NotExpected,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PinError::Chain => "a peer must present exactly one self-signed certificate",
            PinError::NotEd25519 => "the certificate key is not an Ed25519 key",
            PinError::UnknownKey => "the certificate key is not a known peer",
            PinError::NotExpected => "the certificate key is not the expected peer's key",
        })
    }
}

impl std::error::Error for PinError {}

impl From<PinError> for rustls::Error {
    fn from(e: PinError) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e))))
    }
}

// ---------------------------------------------------------------- peers

/// The set of peers a node accepts, looked up on every handshake (so it can
/// change at run time).
pub trait PeerKeys: Send + Sync {
    /// The node id of the peer whose Ed25519 signing key is `key`, if that
    /// key is a known peer now: `tansiq_crypto::node_id_from_key(key)` for
    /// a genesis key, the id bound to the genesis key of the chain for a
    /// key a node rotated to (see tansiq-node's `rotation.rs`).
    fn is_known(&self, key: &[u8; 32]) -> Option<String>;
}

/// A ready-made, shareable, run-time updatable [`PeerKeys`]: Ed25519 keys
/// mapped to their node ids. Clones share the same set.
#[derive(Clone, Default)]
pub struct PeerSet {
    inner: Arc<RwLock<HashMap<[u8; 32], String>>>,
}

impl fmt::Debug for PeerSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<String> = self.read().values().cloned().collect();
        ids.sort();
        f.debug_struct("PeerSet").field("peers", &ids).finish()
    }
}

impl PeerSet {
    pub fn new() -> PeerSet {
        PeerSet::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 32], String>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<[u8; 32], String>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts `key` from now on; returns its node id.
    pub fn insert(&self, key: [u8; 32]) -> String {
        let id = tansiq_crypto::node_id_from_key(&key);
        self.write().insert(key, id.clone());
        id
    }

    /// Accepts `key` as a key of node `id` (a key the node rotated to,
    /// certified by a verified card).
    pub fn insert_as(&self, key: [u8; 32], id: &str) {
        self.write().insert(key, id.to_string());
    }

    /// Verifies `card` (self-signature, id derived from the genesis key,
    /// rotation chain) and accepts every signing key of its chain, so a
    /// node that has not yet learned that a peer knows its newest card can
    /// still present the key that peer knew; returns the node id.
    pub fn insert_card(&self, card: &NodeCard) -> Result<String, tansiq_core::Invalid> {
        card.verify()?;
        for span in card.key_spans()? {
            self.insert_as(span.key, &card.body.id);
        }
        Ok(card.body.id.clone())
    }

    /// Stops accepting `key` for new connections (and, on a server run
    /// with [`ServeOptions::peers`], for new requests). Returns whether it
    /// was known.
    pub fn remove(&self, key: &[u8; 32]) -> bool {
        self.write().remove(key).is_some()
    }

    /// Keeps only the keys `keep` accepts (a rebuild after peers were
    /// removed).
    pub fn retain(&self, keep: impl Fn(&[u8; 32]) -> bool) {
        self.write().retain(|k, _| keep(k));
    }

    pub fn contains(&self, key: &[u8; 32]) -> bool {
        self.read().contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }
}

impl PeerKeys for PeerSet {
    fn is_known(&self, key: &[u8; 32]) -> Option<String> {
        self.read().get(key).cloned()
    }
}

// ---------------------------------------------------------------- identity

/// This node's TLS credentials: a self-signed certificate over its Ed25519
/// node signing key, and that key (PKCS#8). `Debug` shows no secret.
pub struct TlsIdentity {
    node_id: String,
    public: [u8; 32],
    cert: CertificateDer<'static>,
    key_pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("node_id", &self.node_id)
            .finish_non_exhaustive()
    }
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity {
            node_id: self.node_id.clone(),
            public: self.public,
            cert: self.cert.clone(),
            key_pkcs8: self.key_pkcs8.clone(),
        }
    }
}

impl TlsIdentity {
    /// Makes the node's certificate (see the module docs and
    /// `docs/PROTOCOL.md`): X.509 v3, self-signed with Ed25519, subject
    /// and issuer `CN=<node id>`, subjectAltName `dNSName:<node id>`,
    /// serial SHA-256(public key)\[:20\] with the top bit cleared, validity
    /// 2000-01-01 to 9999-12-31, keyUsage digitalSignature (critical),
    /// extKeyUsage serverAuth + clientAuth, subjectKeyIdentifier
    /// SHA-256(SPKI)\[:20\], basicConstraints CA:FALSE (critical). Ed25519
    /// signatures are deterministic, so the certificate is a function of
    /// the key. Peers look only at its key.
    pub fn from_identity(id: &tansiq_crypto::Identity) -> Result<TlsIdentity, TransportError> {
        Self::from_identity_as(id, &id.node_id())
    }

    /// [`TlsIdentity::from_identity`] for node `node_id` with keys `id`
    /// (after a key rotation the id derives from the genesis key).
    pub fn from_identity_as(
        id: &tansiq_crypto::Identity,
        node_id: &str,
    ) -> Result<TlsIdentity, TransportError> {
        let setup =
            |what: &str, e: &dyn fmt::Display| TransportError::Setup(format!("{what}: {e}"));
        let node_id = node_id.to_string();
        let public = id.signing_public();
        let key_pkcs8 = id.signing_key_pkcs8_der();
        let pkcs8 = PrivatePkcs8KeyDer::from(key_pkcs8.as_slice());
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|e| setup("loading the node key", &e))?;
        if key_pair.public_key_raw() != public.as_slice() {
            return Err(TransportError::Setup(
                "the PKCS#8 key does not match the node's public key".into(),
            ));
        }
        let mut params = rcgen::CertificateParams::new(vec![node_id.clone()])
            .map_err(|e| setup("certificate parameters", &e))?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, node_id.as_str());
        params.distinguished_name = dn;
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(9999, 12, 31);
        params.serial_number = None; // rcgen: SHA-256(public key)[:20], top bit cleared
        params.is_ca = rcgen::IsCa::ExplicitNoCa;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params
            .self_signed(&key_pair)
            .map_err(|e| setup("self-signing the certificate", &e))?;
        let cert = cert.der().clone();
        // The certificate must carry exactly our key (what peers pin).
        if ed25519_key_of(&cert).ok() != Some(public) {
            return Err(TransportError::Setup(
                "the certificate does not carry the node key".into(),
            ));
        }
        Ok(TlsIdentity {
            node_id,
            public,
            cert,
            key_pkcs8,
        })
    }

    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The Ed25519 public key in the certificate.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The certificate (DER).
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.to_vec()))
    }
}

/// The Ed25519 key of a certificate (DER), if its SubjectPublicKeyInfo is
/// exactly an RFC 8410 Ed25519 key. This is the key peers are pinned to.
pub fn peer_key_from_cert(cert_der: &[u8]) -> Option<[u8; 32]> {
    ed25519_key_of(&CertificateDer::from(cert_der)).ok()
}

fn ed25519_key_of(cert: &CertificateDer<'_>) -> Result<[u8; 32], rustls::Error> {
    let parsed = webpki::EndEntityCert::try_from(cert)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let spki = parsed.subject_public_key_info();
    let spki = spki.as_ref();
    match spki.strip_prefix(ED25519_SPKI_PREFIX.as_slice()) {
        Some(key) => key
            .try_into()
            .map_err(|_| rustls::Error::from(PinError::NotEd25519)),
        None => Err(PinError::NotEd25519.into()),
    }
}

// ---------------------------------------------------------------- verifiers

/// Accepts exactly the certificates of known peers (and, as a server
/// verifier with `expected` set, only that one key).
struct PinnedPeerVerifier {
    peers: Arc<dyn PeerKeys>,
    expected: Option<[u8; 32]>,
}

impl fmt::Debug for PinnedPeerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedPeerVerifier")
            .field(
                "expected",
                &self.expected.map(|k| tansiq_crypto::node_id_from_key(&k)),
            )
            .finish_non_exhaustive()
    }
}

impl PinnedPeerVerifier {
    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) -> Result<(), rustls::Error> {
        if !intermediates.is_empty() {
            return Err(PinError::Chain.into());
        }
        let key = ed25519_key_of(end_entity)?;
        if let Some(expected) = &self.expected {
            if &key != expected {
                return Err(PinError::NotExpected.into());
            }
        }
        if self.peers.is_known(&key).is_none() {
            return Err(PinError::UnknownKey.into());
        }
        Ok(())
    }

    fn tls13_signature(
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if dss.scheme != SignatureScheme::ED25519 {
            return Err(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ));
        }
        rustls::crypto::verify_tls13_signature(message, cert, dss, &ED25519_ONLY)
    }

    fn no_tls12() -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.2 is not accepted".into()))
    }
}

impl ServerCertVerifier for PinnedPeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

impl ClientCertVerifier for PinnedPeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity, intermediates)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::no_tls12()
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Self::tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

// ---------------------------------------------------------------- configs

/// ring with TLS 1.3 suites only (AES-128-GCM, AES-256-GCM,
/// ChaCha20-Poly1305) and key exchange X25519 or P-256.
fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite, default_provider, kx_group};
    let mut p = default_provider();
    p.cipher_suites = vec![
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    p.kx_groups = vec![kx_group::X25519, kx_group::SECP256R1];
    Arc::new(p)
}

fn setup_err(e: rustls::Error) -> TransportError {
    TransportError::Setup(e.to_string())
}

/// The server side: TLS 1.3 only, a client certificate is required and
/// must carry the key of a peer `peers` knows at handshake time; no
/// session resumption (tickets or cache), ALPN `http/1.1`.
pub fn server_config(
    me: &TlsIdentity,
    peers: Arc<dyn PeerKeys>,
) -> Result<Arc<ServerConfig>, TransportError> {
    let verifier = Arc::new(PinnedPeerVerifier {
        peers,
        expected: None,
    });
    let mut cfg = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![me.cert.clone()], me.private_key())
        .map_err(setup_err)?;
    cfg.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    cfg.max_early_data_size = 0;
    Ok(Arc::new(cfg))
}

/// The client side, accepting any server whose key `peers` knows. To pin
/// one expected key per connection use [`PeerClient`] (which does).
pub fn client_config(
    me: &TlsIdentity,
    peers: Arc<dyn PeerKeys>,
) -> Result<Arc<ClientConfig>, TransportError> {
    client_config_for(me, peers, None)
}

fn client_config_for(
    me: &TlsIdentity,
    peers: Arc<dyn PeerKeys>,
    expected: Option<[u8; 32]>,
) -> Result<Arc<ClientConfig>, TransportError> {
    let verifier = Arc::new(PinnedPeerVerifier { peers, expected });
    let mut cfg = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(setup_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![me.cert.clone()], me.private_key())
        .map_err(setup_err)?;
    cfg.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    cfg.resumption = rustls::client::Resumption::disabled();
    cfg.enable_sni = false;
    cfg.enable_early_data = false;
    Ok(Arc::new(cfg))
}

// ---------------------------------------------------------------- server

/// The authenticated peer's node id, an extension of every request served
/// by [`serve_tls`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerId(pub String);

/// The authenticated peer's Ed25519 key, an extension of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerKey(pub [u8; 32]);

/// The peer's TCP address, an extension of every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// Server limits. `Default` gives the values [`serve_tls`] uses.
#[derive(Clone)]
pub struct ServeOptions {
    /// Time a client has to complete the TLS handshake (a partner needs a
    /// few round trips; an idle socket is closed past it).
    pub handshake_timeout: Duration,
    /// Time a client has to send a request's headers; also how long an idle
    /// kept-alive connection stays open.
    pub header_timeout: Duration,
    /// A connection is closed gracefully (after its current request) once
    /// this old, so no connection outlives a change of the peer set for long.
    pub max_connection_age: Duration,
    /// Authenticated connections served at once; one more is closed
    /// after its handshake.
    pub max_connections: usize,
    /// Connections still in their TLS handshake held at once, in all and
    /// from one source (IPv4 address, IPv6 /64): beyond either, the oldest
    /// of them is closed to make room for the new one (`gate.rs`), so idle
    /// sockets cannot keep a partner out. Authenticated connections do
    /// not count.
    pub max_unauthenticated: usize,
    pub max_unauthenticated_per_source: usize,
    /// Authenticated connections of one peer served at once; one more is
    /// closed after its handshake, so one partner (hostile or broken)
    /// cannot take every slot of `max_connections` from the others.
    pub max_connections_per_peer: usize,
    /// After shutdown, time allowed to in-flight requests before their
    /// connections are dropped.
    pub shutdown_grace: Duration,
    /// If set, the peer is looked up again before every request; a peer
    /// removed meanwhile gets `403` and the connection is closed (the
    /// router never sees the request), and `PeerId` is the id this returns.
    pub peers: Option<Arc<dyn PeerKeys>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(30),
            max_connection_age: Duration::from_secs(600),
            max_connections: 512,
            max_unauthenticated: 256,
            max_unauthenticated_per_source: 64,
            // A sender keeps a few batches in flight per peer; a node of
            // several workers, a few times that.
            max_connections_per_peer: 128,
            shutdown_grace: Duration::from_secs(10),
            peers: None,
        }
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("header_timeout", &self.header_timeout)
            .field("max_connection_age", &self.max_connection_age)
            .field("max_connections", &self.max_connections)
            .field("max_unauthenticated", &self.max_unauthenticated)
            .field(
                "max_unauthenticated_per_source",
                &self.max_unauthenticated_per_source,
            )
            .field("max_connections_per_peer", &self.max_connections_per_peer)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("peers", &self.peers.is_some())
            .finish()
    }
}

/// Serves `router` over mutual TLS on `listener` until `shutdown`
/// completes, with [`ServeOptions::default`]. Each request carries the
/// authenticated peer as extensions [`PeerId`], [`PeerKey`], [`PeerAddr`].
pub async fn serve_tls(
    listener: TcpListener,
    cfg: Arc<ServerConfig>,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_tls_with(listener, cfg, router, shutdown, ServeOptions::default()).await
}

/// [`serve_tls`] with explicit limits (and optional per-request peer
/// re-check). Returns once `shutdown` has completed and open connections
/// have finished or the grace period has passed.
pub async fn serve_tls_with(
    listener: TcpListener,
    cfg: Arc<ServerConfig>,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    opts: ServeOptions,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    let limit = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
    let gate = Gate::new(GateLimits {
        max_waiting: opts.max_unauthenticated,
        max_waiting_per_source: opts.max_unauthenticated_per_source,
    });
    let per_peer = PerPeer::default();
    let grace = opts.shutdown_grace;
    accept_gated(
        listener,
        &gate,
        "partner port",
        shutdown,
        grace,
        |tcp, addr, member, stop| {
            let conn = Connection {
                acceptor: acceptor.clone(),
                router: router.clone(),
                opts: opts.clone(),
                stop,
                limit: limit.clone(),
                per_peer: per_peer.clone(),
            };
            conn.run(tcp, addr, member)
        },
    )
    .await
}

struct Connection {
    acceptor: tokio_rustls::TlsAcceptor,
    router: axum::Router,
    opts: ServeOptions,
    stop: tokio::sync::watch::Receiver<bool>,
    /// Authenticated connections (`ServeOptions::max_connections`).
    limit: Arc<tokio::sync::Semaphore>,
    per_peer: PerPeer,
}

/// Authenticated connections open per peer id.
#[derive(Clone, Default)]
struct PerPeer(Arc<Mutex<HashMap<String, usize>>>);

/// One connection counted in [`PerPeer`] until dropped.
struct PeerSlot {
    map: PerPeer,
    peer: String,
}

impl PerPeer {
    fn take(&self, peer: &str, max: usize) -> Option<PeerSlot> {
        let mut m = lock(&self.0);
        let n = m.entry(peer.to_string()).or_default();
        if *n >= max.max(1) {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            map: self.clone(),
            peer: peer.to_string(),
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut m = lock(&self.map.0);
        if let Some(n) = m.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.peer);
            }
        }
    }
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, addr: SocketAddr, member: Member) {
        let _ = tcp.set_nodelay(true);
        let handshake =
            tokio::time::timeout(self.opts.handshake_timeout, self.acceptor.accept(tcp));
        let tls = tokio::select! {
            r = handshake => match r {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    // A misconfigured partner shows in the log; a flood of
                    // garbage handshakes does not fill it (one line a second).
                    if refusal_log_due() {
                        tracing::info!(%addr, error = %e, "refused a partner TLS connection");
                    } else {
                        tracing::debug!(%addr, error = %e, "refused a partner TLS connection");
                    }
                    return;
                }
                Err(_) => {
                    tracing::debug!(%addr, "partner TLS handshake timed out");
                    return;
                }
            },
            // Closed to make room for newer connections (`gate.rs`).
            _ = member.kicked() => return,
            _ = self.stop.wait_for(|s| *s) => return,
        };
        // Authenticated from here on: out of the pool of unproven
        // connections, into the partners' own limit.
        if !member.settle() {
            return;
        }
        drop(member);
        let Ok(_permit) = self.limit.clone().try_acquire_owned() else {
            tracing::warn!(%addr, "too many partner connections; closing a new one");
            return;
        };
        // The verifier accepted exactly one Ed25519 certificate.
        let key = match tls.get_ref().1.peer_certificates() {
            Some([cert]) => match ed25519_key_of(cert) {
                Ok(k) => k,
                Err(_) => return,
            },
            _ => return,
        };
        let peer_id = match &self.opts.peers {
            Some(peers) => match peers.is_known(&key) {
                Some(id) => id,
                None => return, // removed since the handshake
            },
            None => tansiq_crypto::node_id_from_key(&key),
        };
        let Some(_slot) = self
            .per_peer
            .take(&peer_id, self.opts.max_connections_per_peer)
        else {
            tracing::warn!(%addr, peer = %peer_id, "too many connections from one partner; closing a new one");
            return;
        };
        tracing::debug!(%addr, peer = %peer_id, "partner connection");
        let router = self.router.clone();
        let peers = self.opts.peers.clone();
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let router = router.clone();
            let peer_id = peer_id.clone();
            let peers = peers.clone();
            async move {
                if let Some(peers) = &peers {
                    if peers.is_known(&key).as_deref() != Some(peer_id.as_str()) {
                        return Ok::<_, Infallible>(peer_removed_response());
                    }
                }
                let ext = req.extensions_mut();
                ext.insert(PeerId(peer_id));
                ext.insert(PeerKey(key));
                ext.insert(PeerAddr(addr));
                router.oneshot(req).await
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.opts.header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(conn);
        let age = tokio::time::sleep(self.opts.max_connection_age);
        tokio::pin!(age);
        let mut closing = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(%addr, error = %e, "partner connection ended with an error");
                    }
                    return;
                }
                _ = &mut age, if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = self.stop.wait_for(|s| *s), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Whether a refused handshake may be logged at info: at most once a
/// second per process.
fn refusal_log_due() -> bool {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    now > last
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
}

fn peer_removed_response() -> axum::response::Response {
    let mut resp = Response::new(axum::body::Body::from(
        "{\"error\":{\"code\":\"peer_not_accepted\",\"message\":\"this peer is no longer accepted\"}}",
    ));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

// ---------------------------------------------------------------- client

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

struct Idle {
    sender: Sender,
    since: Instant,
}

type PoolKey = (String, [u8; 32]);

/// POSTs to peers over mutual TLS, checking that the server holds exactly
/// the expected key; keeps connections alive for reuse. Cheap to clone
/// (clones share the connection pool).
#[derive(Clone)]
pub struct PeerClient {
    me: Arc<TlsIdentity>,
    peers: Arc<dyn PeerKeys>,
    connect_timeout: Duration,
    read_timeout: Duration,
    max_response_bytes: usize,
    configs: Arc<Mutex<HashMap<[u8; 32], Arc<ClientConfig>>>>,
    pool: Arc<Mutex<HashMap<PoolKey, Vec<Idle>>>>,
}

impl fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerClient")
            .field("node_id", &self.me.node_id)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PeerClient {
    /// A client with the default timeouts (connect 10 s, read 30 s) and
    /// response limit (16 MiB).
    pub fn new(me: &TlsIdentity, peers: Arc<dyn PeerKeys>) -> Result<PeerClient, TransportError> {
        // Fail early if our credentials cannot make a configuration.
        client_config_for(me, peers.clone(), None)?;
        Ok(PeerClient {
            me: Arc::new(me.clone()),
            peers,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            configs: Arc::default(),
            pool: Arc::default(),
        })
    }

    /// `connect` bounds TCP connect + TLS handshake; `read` bounds sending
    /// the request and reading the whole response.
    pub fn with_timeouts(mut self, connect: Duration, read: Duration) -> PeerClient {
        self.connect_timeout = connect;
        self.read_timeout = read;
        self
    }

    /// Largest response body accepted; a larger one is an error
    /// ([`TransportError::ResponseTooLarge`]) and is not read further.
    pub fn with_max_response_bytes(mut self, limit: usize) -> PeerClient {
        self.max_response_bytes = limit;
        self
    }

    /// POSTs `body` (`application/octet-stream`) to `https://endpoint{path}`
    /// and returns the status and the response body.
    pub async fn post(
        &self,
        endpoint: &str,
        expected_peer_key: &[u8; 32],
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        self.post_with_type(
            endpoint,
            expected_peer_key,
            path,
            "application/octet-stream",
            body,
        )
        .await
    }

    /// [`PeerClient::post`] with an explicit `Content-Type`.
    pub async fn post_with_type(
        &self,
        endpoint: &str,
        expected_peer_key: &[u8; 32],
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        check_endpoint(endpoint)?;
        let pool_key: PoolKey = (endpoint.to_string(), *expected_peer_key);
        if self.peers.is_known(expected_peer_key).is_none() {
            lock(&self.pool).remove(&pool_key);
            return Err(TransportError::UnknownPeer);
        }
        let mut req = build_request(endpoint, path, content_type, body)?;
        let deadline = Instant::now() + self.read_timeout;
        let timeout = |stage| TransportError::Timeout {
            endpoint: endpoint.to_string(),
            stage,
        };

        // A kept-alive connection first; if it turns out closed before the
        // request went out, the request comes back and we try the next.
        while let Some(mut sender) = self.take_idle(&pool_key) {
            // A connection whose previous response was just read may need
            // a moment to become ready again.
            if !matches!(
                tokio::time::timeout(Duration::from_millis(100), sender.ready()).await,
                Ok(Ok(()))
            ) {
                continue;
            }
            match tokio::time::timeout_at(deadline, sender.try_send_request(req)).await {
                Err(_) => return Err(timeout("waiting for the response of")),
                Ok(Ok(resp)) => return self.finish(resp, sender, pool_key, deadline).await,
                Ok(Err(mut e)) => match e.take_message() {
                    Some(r) => req = r,
                    None => return Err(exchange_error(endpoint, &e.into_error())),
                },
            }
        }

        let mut sender = tokio::time::timeout(
            self.connect_timeout,
            self.connect(endpoint, expected_peer_key),
        )
        .await
        .map_err(|_| timeout("connecting to"))??;
        let deadline = Instant::now() + self.read_timeout;
        let resp = tokio::time::timeout_at(deadline, sender.send_request(req))
            .await
            .map_err(|_| timeout("waiting for the response of"))?
            .map_err(|e| exchange_error(endpoint, &e))?;
        self.finish(resp, sender, pool_key, deadline).await
    }

    fn config_for(&self, expected: &[u8; 32]) -> Result<Arc<ClientConfig>, TransportError> {
        let mut configs = lock(&self.configs);
        if let Some(c) = configs.get(expected) {
            return Ok(c.clone());
        }
        let cfg = client_config_for(&self.me, self.peers.clone(), Some(*expected))?;
        if configs.len() >= CACHE_MAX_ENTRIES {
            configs.clear();
        }
        configs.insert(*expected, cfg.clone());
        Ok(cfg)
    }

    fn take_idle(&self, key: &PoolKey) -> Option<Sender> {
        let mut pool = lock(&self.pool);
        let idle = pool.get_mut(key)?;
        while let Some(i) = idle.pop() {
            if !i.sender.is_closed() && i.since.elapsed() < POOL_IDLE {
                return Some(i.sender);
            }
        }
        pool.remove(key);
        None
    }

    fn put_idle(&self, key: PoolKey, sender: Sender) {
        let mut pool = lock(&self.pool);
        if pool.len() >= CACHE_MAX_ENTRIES && !pool.contains_key(&key) {
            pool.retain(|_, v| {
                v.retain(|i| !i.sender.is_closed() && i.since.elapsed() < POOL_IDLE);
                !v.is_empty()
            });
            if pool.len() >= CACHE_MAX_ENTRIES {
                return;
            }
        }
        let idle = pool.entry(key).or_default();
        idle.retain(|i| !i.sender.is_closed() && i.since.elapsed() < POOL_IDLE);
        if idle.len() < POOL_MAX_PER_PEER {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    async fn connect(&self, endpoint: &str, expected: &[u8; 32]) -> Result<Sender, TransportError> {
        let cfg = self.config_for(expected)?;
        let tcp = TcpStream::connect(endpoint)
            .await
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        // Keys, not names, authenticate the server: name it by its address
        // (which also means no SNI is sent).
        let ip = tcp
            .peer_addr()
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })?
            .ip();
        let tls = tokio_rustls::TlsConnector::from(cfg)
            .connect(ServerName::IpAddress(ip.into()), tcp)
            .await
            .map_err(|e| handshake_error(endpoint, &e))?;
        // Belt and braces: the verifier already insisted on this key.
        let presented = match tls.get_ref().1.peer_certificates() {
            Some([cert]) => ed25519_key_of(cert).ok(),
            _ => None,
        };
        if presented.as_ref() != Some(expected) {
            return Err(TransportError::UnexpectedPeer {
                endpoint: endpoint.to_string(),
                reason: PinError::NotExpected.to_string(),
            });
        }
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(tls))
            .await
            .map_err(|e| exchange_error(endpoint, &e))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn finish(
        &self,
        resp: Response<Incoming>,
        sender: Sender,
        pool_key: PoolKey,
        deadline: Instant,
    ) -> Result<(u16, Vec<u8>), TransportError> {
        let endpoint = pool_key.0.as_str();
        let limit = self.max_response_bytes;
        let too_large = || TransportError::ResponseTooLarge {
            endpoint: endpoint.to_string(),
            limit,
        };
        let status = resp.status().as_u16();
        let close = resp
            .headers()
            .get(header::CONNECTION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
        let declared = resp
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            // The connection is dropped with `sender`, body unread.
            return Err(too_large());
        }
        let mut body = resp.into_body();
        let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize));
        let read = async {
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| exchange_error(endpoint, &e))?;
                if let Ok(data) = frame.into_data() {
                    if data.len() > limit - out.len() {
                        return Err(too_large());
                    }
                    out.extend_from_slice(&data);
                }
            }
            Ok(())
        };
        tokio::time::timeout_at(deadline, read)
            .await
            .map_err(|_| TransportError::Timeout {
                endpoint: endpoint.to_string(),
                stage: "reading the response of",
            })??;
        if !close && !sender.is_closed() {
            self.put_idle(pool_key, sender);
        }
        Ok((status, out))
    }
}

/// `HOST:PORT` with a non-empty host and a numeric port.
fn check_endpoint(endpoint: &str) -> Result<(), TransportError> {
    let bad = || {
        TransportError::BadRequest(format!(
            "endpoint {endpoint:?} is not HOST:PORT (e.g. 192.0.2.7:7401)"
        ))
    };
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty()
        || port.parse::<u16>().is_err()
        || endpoint.contains('/')
        || endpoint
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(())
}

fn build_request(
    endpoint: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>, TransportError> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(TransportError::BadRequest(format!(
            "path {path:?} must start with a single /"
        )));
    }
    let path_q = path
        .parse::<axum::http::uri::PathAndQuery>()
        .map_err(|_| TransportError::BadRequest(format!("path {path:?} is not a valid path")))?;
    let host = HeaderValue::from_str(endpoint)
        .map_err(|_| TransportError::BadRequest(format!("endpoint {endpoint:?}")))?;
    let ctype = HeaderValue::from_str(content_type).map_err(|_| {
        TransportError::BadRequest(format!("content type {content_type:?} is not valid"))
    })?;
    Request::post(axum::http::Uri::from(path_q))
        .header(header::HOST, host)
        .header(header::CONTENT_TYPE, ctype)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| TransportError::BadRequest(e.to_string()))
}

/// The first `rustls::Error` in an error's chain (looking inside
/// `io::Error`s, whose `source()` skips their payload).
fn find_rustls_error<'a>(
    mut err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    for _ in 0..16 {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(r) = inner.downcast_ref::<rustls::Error>() {
                return Some(r);
            }
        }
        err = err.source()?;
    }
    None
}

fn pin_error_of(e: &rustls::Error) -> Option<PinError> {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
            inner.downcast_ref::<PinError>().copied()
        }
        _ => None,
    }
}

fn handshake_error(endpoint: &str, e: &std::io::Error) -> TransportError {
    let endpoint = endpoint.to_string();
    match find_rustls_error(e) {
        Some(r) => match (pin_error_of(r), r) {
            (Some(pin), _) => TransportError::UnexpectedPeer {
                endpoint,
                reason: pin.to_string(),
            },
            (None, rustls::Error::InvalidCertificate(c)) => TransportError::UnexpectedPeer {
                endpoint,
                reason: format!("{c:?}"),
            },
            (None, rustls::Error::AlertReceived(a)) => TransportError::Refused {
                endpoint,
                reason: format!("TLS alert {a:?}"),
            },
            (None, other) => TransportError::Handshake {
                endpoint,
                reason: other.to_string(),
            },
        },
        None => TransportError::Handshake {
            endpoint,
            reason: e.to_string(),
        },
    }
}

/// In TLS 1.3 the server checks the client's certificate after the client
/// has finished its side of the handshake, so a refusal (an alert) shows
/// up on the first read.
fn exchange_error(endpoint: &str, e: &(dyn std::error::Error + 'static)) -> TransportError {
    let endpoint = endpoint.to_string();
    match find_rustls_error(e) {
        Some(rustls::Error::AlertReceived(a)) => TransportError::Refused {
            endpoint,
            reason: format!("TLS alert {a:?} (our certificate was not accepted?)"),
        },
        Some(r) => TransportError::Http {
            endpoint,
            reason: r.to_string(),
        },
        None => TransportError::Http {
            endpoint,
            reason: error_chain(e),
        },
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    let mut n = 0;
    while let Some(c) = cur {
        n += 1;
        if n > 8 {
            break;
        }
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
