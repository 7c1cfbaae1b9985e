//! Shared by the examples: the dev names file, a seeded generator, and the
//! synthetic screening list built from them.
#![allow(dead_code)]

use std::collections::HashMap;

use tansiq_match::Entry;

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub struct Row {
    pub ar: String,
    /// (name, weak: a Wikidata alias)
    pub latin: Vec<(String, bool)>,
}

pub fn load(dir: &std::path::Path) -> Vec<Row> {
    let path = dir.join("wikidata-full-names.dev.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut by_ar: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    for l in text.lines().skip(1) {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 3 {
            continue;
        }
        let i = *by_ar.entry(f[0].to_string()).or_insert_with(|| {
            rows.push(Row {
                ar: f[0].to_string(),
                latin: Vec::new(),
            });
            rows.len() - 1
        });
        rows[i].latin.push((f[1].to_string(), f[2] == "alias"));
    }
    rows
}

/// A screening list of `n` entries: one per row (its Arabic name, its
/// Latin spellings as names, Wikidata aliases as weak names), topped up
/// with synthetic people recombined from two-token rows, in both scripts.
pub fn list_entries(rows: &[&Row], n: usize, rng: &mut Rng) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    for (i, r) in rows.iter().enumerate().take(n) {
        let mut e = Entry {
            id: format!("W{i}"),
            names: vec![r.ar.clone()],
            ..Default::default()
        };
        for (l, weak) in &r.latin {
            if *weak {
                e.weak_names.push(l.clone());
            } else {
                e.names.push(l.clone());
            }
        }
        out.push(e);
    }
    let two: Vec<(Vec<&str>, Vec<&str>)> = rows
        .iter()
        .filter_map(|r| {
            let a: Vec<&str> = r.ar.split(' ').collect();
            let (l, _) = r.latin.iter().find(|x| !x.1)?;
            let l: Vec<&str> = l.split(' ').collect();
            (a.len() == 2 && l.len() == 2).then_some((a, l))
        })
        .collect();
    let mut k = 0;
    while out.len() < n && !two.is_empty() {
        let (a1, l1) = &two[rng.below(two.len())];
        let (a2, l2) = &two[rng.below(two.len())];
        let (a3, l3) = &two[rng.below(two.len())];
        let (ar, la) = if rng.below(3) == 0 {
            (
                format!("{} {} {}", a1[0], a3[0], a2[1]),
                format!("{} {} {}", l1[0], l3[0], l2[1]),
            )
        } else {
            (
                format!("{} {}", a1[0], a2[1]),
                format!("{} {}", l1[0], l2[1]),
            )
        };
        out.push(Entry {
            id: format!("S{k}"),
            names: vec![ar, la],
            ..Default::default()
        });
        k += 1;
    }
    out
}
