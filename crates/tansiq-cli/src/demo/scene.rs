//! What the demo's steps share: the report they print their checks to,
//! and the scene — the runtime, the six nodes, the ids made so far.

use std::path::PathBuf;
use std::sync::Arc;

use tansiq_node::Node;

use crate::error::CliResult;

/// One step of the scenario: the header it prints, and the function that
/// plays it. Steps run in order; each may use what earlier ones made.
pub struct Step {
    pub shows: &'static str,
    pub run: fn(&mut Report, &mut Scene) -> CliResult,
}

/// The demo's printed account: a numbered header per step, notes, and a
/// ✔ or ✘ per check; the failed checks are listed at the end.
#[derive(Default)]
pub struct Report {
    pub failures: Vec<String>,
    step: usize,
}

impl Report {
    pub fn step(&mut self, title: &str) {
        self.step += 1;
        outln!("\n[{}] {title}", self.step);
    }
    pub fn say(&self, what: &str) {
        outln!("    {what}");
    }
    pub fn check(&mut self, ok: bool, what: &str) {
        if ok {
            outln!("    ✔ {what}");
        } else {
            outln!("    ✘ {what}");
            self.failures.push(format!("step {}: {what}", self.step));
        }
    }
}

/// The six agencies' nodes.
#[derive(Clone)]
pub struct Nodes {
    pub dz: Arc<Node>,
    pub ma: Arc<Node>,
    pub tn: Arc<Node>,
    pub fr: Arc<Node>,
    pub es: Arc<Node>,
    pub us: Arc<Node>,
}

impl Nodes {
    pub fn all(&self) -> [&Node; 6] {
        [&self.dz, &self.ma, &self.tn, &self.fr, &self.es, &self.us]
    }
}

/// Channels and records that later steps use.
#[derive(Default)]
pub struct Ids {
    /// The DZ–MA bilateral channel (Tunisia its relay).
    pub dzma: String,
    /// Maghreb + Europe: recruitment networks.
    pub maghreb_eu: String,
    /// The DZ–MA–US trilateral channel.
    pub tri: String,
    /// Algeria's GSPC dossier.
    pub gspc: String,
    /// Algeria's AQIM dossier, GSPC's successor.
    pub aqim: String,
}

pub struct Scene {
    pub rt: tokio::runtime::Runtime,
    /// The directory holding every node's directory.
    pub root: PathBuf,
    /// Set by the first step.
    pub nodes: Option<Nodes>,
    pub ids: Ids,
}

impl Scene {
    /// The nodes (cheap clones of their handles).
    pub fn nodes(&self) -> Nodes {
        self.nodes
            .clone()
            .expect("the first step installs the nodes")
    }
}
