//! `tansiq demo`: the source article's scenario, played by six real nodes
//! (separate directories, keys and stores) with the node's real services,
//! the real local HTTP API and the real UN list. Each step checks what must
//! hold and the demo exits non-zero if any step misbehaves.
//!
//! The scenario is [`STEPS`]: a header and a function per step, played in
//! order on one [`Scene`] (the nodes, the channels and records made so far).

mod keep;
mod scene;
mod steps;
mod support;

use std::path::Path;

use scene::{Report, Scene, Step};
use support::err;

use crate::error::{CliError, CliResult};

const STEPS: &[Step] = &[
    Step {
        shows: "Six agencies each install a node: Algeria, Morocco, Tunisia, France, Spain, the United States",
        run: steps::install,
    },
    Step {
        shows: "They exchange signed node cards; a forged card is refused",
        run: steps::cards,
    },
    Step {
        shows: "2002: a secret DZ–MA agreement — a bilateral channel, Tunisia named as a permitted relay",
        run: steps::bilateral,
    },
    Step {
        shows: "Maghreb services coordinate with European states hosting Maghrebi communities",
        run: steps::maghreb_europe,
    },
    Step {
        shows: "The trilateral DZ–MA–US framework",
        run: steps::trilateral,
    },
    Step {
        shows: "Exchanging lists of suspects: Algeria shares the UN consolidated list with Morocco",
        run: steps::un_list,
    },
    Step {
        shows: "A cross-script hit: Morocco's own dossier names \"Abdallah Belkeziz\"; Algeria lists عبد الله بلقزاز",
        run: steps::cross_script,
    },
    Step {
        shows: "Hit/no-hit: Spain asks Algeria whether it holds a person, without sending the name",
        run: steps::hit_no_hit,
    },
    Step {
        shows: "Dossiers: the GSPC renames itself al-Qaeda in the Islamic Maghreb (AQIM)",
        run: steps::dossiers,
    },
    Step {
        shows: "May 2003: the Casablanca bombings — Morocco records the incident and sends a FLASH",
        run: steps::flash,
    },
    Step {
        shows: "The DZ–MA link is cut; traffic goes through the Tunisian relay, which cannot read it",
        run: steps::link_cut,
    },
    Step {
        shows: "The third-party rule: Morocco may not pass Algeria's AQIM dossier to the US without consent",
        run: steps::third_party,
    },
    Step {
        shows: "Need-to-know inside Algeria's node, through its real local HTTP API",
        run: steps::need_to_know,
    },
    Step {
        shows: "A retraction is purged everywhere",
        run: steps::retraction,
    },
    Step {
        shows: "Partners witness each other's audit logs: checkpoints co-signed across the federation",
        run: steps::witnesses,
    },
    Step {
        shows: "Every node verifies its Merkle audit log",
        run: steps::audit,
    },
];

/// Plays the scenario; with `keep`, the nodes then stay up with their
/// web interface until a signal ([`keep::keep`]).
pub fn run(dir: Option<&Path>, keep: bool) -> CliResult {
    let tmp;
    let root = match dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .map(|mut r| r.next().is_some())
                    .unwrap_or(false)
            {
                return Err(CliError::bad(format!(
                    "{} is not empty; the demo needs a fresh directory",
                    d.display()
                )));
            }
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().map_err(err)?;
            tmp.path().to_path_buf()
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(err)?;
    let mut d = Report::default();
    outln!("Tansiq demo — \"coordination with Morocco continues despite the crises\"");
    outln!("Six real nodes (separate keys and stores) talk mutual TLS on loopback; nodes live under {}", root.display());
    let mut scene = Scene {
        rt,
        root,
        nodes: None,
        ids: Default::default(),
    };
    for step in STEPS {
        d.step(step.shows);
        (step.run)(&mut d, &mut scene)?;
    }
    if keep && d.failures.is_empty() {
        d.step(
            "The nodes stay up: the web interface of Algeria, Morocco and the US, a token per role",
        );
        keep::keep(&mut d, &mut scene)?;
    }
    scene.rt.shutdown_timeout(std::time::Duration::from_secs(2));

    outln!("");
    if d.failures.is_empty() {
        outln!("Demo complete: every step behaved as it must.");
        Ok(())
    } else {
        for f in &d.failures {
            outln!("FAILED {f}");
        }
        Err(CliError::other(format!(
            "{} demo step(s) failed",
            d.failures.len()
        )))
    }
}
