//! The surge (issue 14 §3): `Node::incident_declare` with a manifest of
//! 10,000 names against a node holding 100,000 person entries, through
//! the node's real services on a real SQLite store.
//!
//! Entries: names made of a given name, a father's name ("ben"/"ould"
//! and a given name) and one of 900 family names — 2.9 million
//! combinations, so a random name is rarely on the list — in Latin
//! script, a fifth with a name in Arabic script as well. Manifest: 1 name in 10 an entry's name respelled (a letter
//! doubled or dropped, as transliterations differ), the rest drawn from
//! the same pools at random (some of which are on the list by chance, as
//! in life). Timed: the whole declaration, and its phases from the
//! progress callback — reading the entries and building the index,
//! screening, and the one transaction (incident, person records for the
//! hits, alerts, audit).
//!
//! `cargo bench -p tansiq-node --bench incident [-- ENTRIES [NAMES [RUNS]]]`
//! (defaults 100,000, 10,000, 3).

mod common;
use common::*;

use std::cell::Cell;
use std::time::Instant;

use serde_json::json;

use tansiq_core::record::Kind;
use tansiq_core::user::Actor;
use tansiq_match::Query;
use tansiq_node::incidents::NewIncident;
use tansiq_node::records::NewRecord;
use tansiq_node::{InitOptions, Node};

const GIVEN: [&str; 40] = [
    "Abdallah", "Mohamed", "Youssef", "Karim", "Samir", "Nadia", "Fatima", "Amina", "Omar",
    "Rachid", "Hassan", "Khaled", "Leila", "Yasmina", "Mourad", "Nabil", "Sofiane", "Djamel",
    "Pierre", "Jean", "Marie", "Lucas", "Ahmed", "Said", "Brahim", "Aissa", "Larbi", "Kaddour",
    "Moussa", "Salah", "Hamza", "Bilal", "Walid", "Zineb", "Houda", "Kamel", "Farid", "Tarek",
    "Anis", "Idris",
];
/// Family names are made of two parts: 30 × 30 = 900 of them.
const FAMILY_HEAD: [&str; 30] = [
    "Bel", "Ben", "Bou", "Ham", "Kha", "Mes", "Zer", "Sal", "Tah", "Lou", "Che", "Dje", "Fer",
    "Gha", "Ida", "Jaz", "Mab", "Nac", "Oua", "Rah", "Sli", "Yah", "Zit", "Amr", "Dah", "Har",
    "Kad", "Mok", "Nou", "Sad",
];
const FAMILY_TAIL: [&str; 30] = [
    "kacem", "ali", "zid", "dad", "souri", "rouki", "lifi", "aidi", "khari", "rif", "bar", "hat",
    "idi", "rissi", "iri", "ci", "nes", "arki", "eri", "li", "mani", "touni", "rani", "azza",
    "oui", "ghoul", "djeb", "louz", "mache", "tout",
];

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

fn name(rng: &mut Rng) -> String {
    let father = ["ben", "ould"][rng.below(2)];
    format!(
        "{} {father} {} {}{}",
        GIVEN[rng.below(GIVEN.len())],
        GIVEN[rng.below(GIVEN.len())],
        FAMILY_HEAD[rng.below(FAMILY_HEAD.len())],
        FAMILY_TAIL[rng.below(FAMILY_TAIL.len())]
    )
}

/// A respelling: one letter of the family name doubled or dropped.
fn respell(rng: &mut Rng, n: &str) -> String {
    let mut chars: Vec<char> = n.chars().collect();
    let i = chars.len() - 1 - rng.below(4);
    if rng.below(2) == 0 {
        chars.insert(i, chars[i]);
    } else {
        chars.remove(i);
    }
    chars.into_iter().collect()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n_entries: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let n_names: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let tmp = tempfile::tempdir().unwrap();
    let node = Node::init(
        &tmp.path().join("n"),
        &InitOptions {
            name: "bench",
            country: "DZ",
            listen: "127.0.0.1:7401",
            endpoint: None,
            api_listen: None,
            store: None,
        },
    )
    .unwrap();
    let op = Actor::Operator;
    let ch = node
        .channel_create(
            &op,
            "national",
            vec![],
            vec!["terrorism".into()],
            vec![],
            None,
        )
        .unwrap();
    let mut rng = Rng(11);
    let names: Vec<String> = (0..n_entries).map(|_| name(&mut rng)).collect();
    let t = Instant::now();
    let batch: Vec<NewRecord> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut all = vec![n.clone()];
            if i % 5 == 0 {
                all.push(format!("عبد الله بلقزاز {}", i % 97));
            }
            NewRecord {
                channel: ch.clone(),
                file: "terrorism".into(),
                kind: Kind::Person,
                data: json!({"names": all, "birth_date": format!("{}", 1950 + i % 50),
                             "listing": {"list": "national", "reference": format!("N{i}")}}),
                tlp: None,
                code: None,
                evaluation: None,
                expires: None,
                links: vec![],
            }
        })
        .collect();
    node.records_add(&op, batch, |_| {}).unwrap();
    println!(
        "built {n_entries} entries in {:.1} s · load {}",
        t.elapsed().as_secs_f64(),
        load()
    );
    let manifest: Vec<Query> = (0..n_names)
        .map(|i| {
            let name = if i % 10 == 0 {
                let k = rng.below(names.len());
                respell(&mut rng, &names[k])
            } else {
                name(&mut rng)
            };
            Query {
                id: format!("P{i}"),
                name,
                birth_date: None,
                nationality: vec![],
                gender: None,
                documents: vec![],
            }
        })
        .collect();
    let (mut totals, mut phases) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let t0 = Instant::now();
        let c0 = cpu();
        let (indexed, screened) = (Cell::new(0.0), Cell::new(0.0));
        let r = node
            .incident_declare(
                &op,
                NewIncident {
                    channel: ch.clone(),
                    file: "terrorism".into(),
                    title: format!("Bench incident {run}"),
                    place: None,
                    occurred_at: None,
                    tlp: None,
                    message: None,
                    names: manifest.clone(),
                    threshold: tansiq_match::DEFAULT_THRESHOLD,
                },
                &|done, total| {
                    let s = t0.elapsed().as_secs_f64();
                    if done == 0 {
                        indexed.set(s);
                    }
                    if done == total {
                        screened.set(s);
                    }
                },
            )
            .unwrap();
        let total = t0.elapsed().as_secs_f64();
        let cpu_s = cpu() - c0;
        let (i, s) = (indexed.get(), screened.get());
        println!(
            "run {run}: {} names against {} records: {total:.2} s (entries + index {i:.2} s, screening {:.2} s, transaction {:.2} s), CPU {cpu_s:.2} s · {} hits, {} alerts · load {}",
            r.names_screened,
            r.entries,
            s - i,
            total - s,
            r.hits.len(),
            r.alerts,
            load()
        );
        totals.push(total);
        phases.push((i, s - i, total - s));
    }
    println!(
        "median of {runs}: declare with {n_names} names against {n_entries} entries {:.2} s (entries + index {:.2} s, screening {:.2} s = {:.0} names/s, transaction {:.2} s)",
        median(totals),
        median(phases.iter().map(|p| p.0).collect()),
        median(phases.iter().map(|p| p.1).collect()),
        n_names as f64 / median(phases.iter().map(|p| p.1).collect()),
        median(phases.iter().map(|p| p.2).collect()),
    );
}
