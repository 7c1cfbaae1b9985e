//! Shared fixtures of the fuzz targets (and of `seedgen`, which writes
//! their seed corpora): fixed identities, a fixed envelope header for the
//! sealed-body target, and a pair of real nodes on a RAM disk for the
//! targets that drive a whole node.
//!
//! Everything here is deterministic except the nodes (whose keys
//! `Node::init` draws at random), which is why the node targets rewrite
//! placeholders in their input (see [`NodePair::substitute`]).

use std::cell::OnceCell;
use std::path::Path;

use tansiq_crypto::Identity;
use tansiq_sync::{ChannelId, EnvelopeHeader, EnvelopeId, Kind, NodeId, Precedence};

/// A fixed identity: `n` selects one of several (1 = "receiver",
/// 2 = "sender", 3 = "witness").
pub fn identity(n: u8) -> Identity {
    Identity::from_secret_bytes([n; 32], [n.wrapping_add(100); 32])
}

/// The node id of [`identity`]`(n)`.
pub fn node_id(n: u8) -> String {
    identity(n).node_id()
}

/// A key lookup that knows every node and answers with the sender's
/// (identity 2) public signing key: signatures made by [`identity`]`(2)`
/// verify for any node name.
pub fn any_key(_node: &str) -> Option<[u8; 32]> {
    Some(identity(2).signing_public())
}

/// Channel used by the fixed header.
pub const CHANNEL: &str = "ch_fuzz";

/// The header of the envelope whose sealed body the `sealed_open` target
/// fuzzes: from identity 2, to identities 1 and 2.
pub fn sealed_open_header() -> EnvelopeHeader {
    let mut recipients = vec![
        NodeId::new(node_id(1)).expect("node ids are valid"),
        NodeId::new(node_id(2)).expect("node ids are valid"),
    ];
    recipients.sort();
    EnvelopeHeader {
        v: tansiq_sync::HEADER_VERSION,
        channel: ChannelId::new(CHANNEL).expect("valid channel id"),
        originator: NodeId::new(node_id(2)).expect("node ids are valid"),
        seq: 1,
        prev: EnvelopeId::ZERO,
        precedence: Precedence::Routine,
        kind: Kind::new(Kind::RECORD).expect("valid kind"),
        created_ms: 1_700_000_000_000,
        recipients,
        relays: vec![],
    }
}

/// Splits `data` on `sep` into at most `n` parts (the last part keeps any
/// further separators).
pub fn split_n<'a>(data: &'a [u8], sep: &[u8], n: usize) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + sep.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    out
}

/// A scratch directory on a RAM disk when there is one (temp files in the
/// list importer and the node stores stay cheap).
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let b = tempfile::Builder::new().prefix(prefix).to_owned();
    if shm.is_dir() {
        if let Ok(d) = b.tempdir_in(shm) {
            return d;
        }
    }
    b.tempdir().expect("a temporary directory")
}

pub mod nodes;

thread_local! {
    static PAIR: OnceCell<&'static nodes::NodePair> = const { OnceCell::new() };
}

/// The process's pair of nodes (built on first use, then kept: libFuzzer
/// runs every input on one thread).
pub fn pair() -> &'static nodes::NodePair {
    PAIR.with(|c| *c.get_or_init(|| Box::leak(Box::new(nodes::NodePair::new()))))
}

/// Whether the targets step around the findings already reported in
/// `fuzz/artifacts/*/README.md` (so a run goes on past them). Set
/// `TANSIQ_FUZZ_ALL=1` to hit them again (e.g. to check a fix).
pub fn skip_known() -> bool {
    static S: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *S.get_or_init(|| std::env::var_os("TANSIQ_FUZZ_ALL").is_none_or(|v| v != "1"))
}
