//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use tansiq_lists::{country_code, EntryKind};

/// The crate's own test data (small excerpts of the real lists).
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The full real lists shipped in the repository's `data/` (see
/// `data/README.md`), or under `TANSIQ_SHARED_DATA` if set.
pub fn shared(name: &str) -> PathBuf {
    let base = std::env::var_os("TANSIQ_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"));
    let p = base.join(name);
    assert!(
        p.exists(),
        "{} is missing: the tests read the real lists from the repository's data/ (set TANSIQ_SHARED_DATA to move it)",
        p.display()
    );
    p
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("tansiq-lists")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `content` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

/// The shared copy with the one inconsistent line repaired (ent_num 34489
/// restored on line 9044), in a scratch directory.
pub fn repaired_ofac(scratch_name: &str) -> PathBuf {
    let src = shared("watchlists/ofac");
    let dir = scratch(scratch_name);
    let sdn = std::fs::read_to_string(src.join("sdn.csv")).unwrap();
    let mut lines: Vec<&str> = sdn.split('\n').collect();
    let fixed = lines[9043].replacen("2677,", "34489,", 1);
    assert!(fixed.starts_with("34489,HAMER AND NAIL CONSTRUCTION LIMITED"));
    lines[9043] = &fixed;
    write(&dir, "sdn.csv", lines.join("\n").as_bytes());
    for f in ["alt.csv", "add.csv"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    dir
}

fn is_partial_date(s: &str) -> bool {
    let ok = |f: &str| chrono::NaiveDate::parse_from_str(f, "%Y-%m-%d").is_ok();
    match s.len() {
        4 => s.bytes().all(|b| b.is_ascii_digit()),
        7 => ok(&format!("{s}-01")),
        10 => ok(s),
        _ => false,
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max && !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn code_ok(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|c| c.len() == 2 && country_code(c) == Some(c))
}

/// Checks data against the node's person/organization schema (the rules
/// of tansiq-core's `validate_data`): known fields only, no nulls, names
/// present, valid dates and country codes, text within limits.
pub fn check_schema(kind: EntryKind, data: &Value) -> Result<(), String> {
    let o = data.as_object().ok_or("data is not an object")?;
    let person = [
        "names",
        "weak_names",
        "birth_date",
        "birth_dates",
        "birth_place",
        "nationality",
        "gender",
        "documents",
        "listing",
        "notes",
    ];
    let org = ["names", "weak_names", "country", "listing", "notes"];
    let allowed: &[&str] = match kind {
        EntryKind::Person => &person,
        EntryKind::Organization => &org,
    };
    for (k, v) in o {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unexpected field {k}"));
        }
        if v.is_null() {
            return Err(format!("{k} is null"));
        }
        if v.as_array().is_some_and(|a| a.is_empty()) {
            return Err(format!("{k} is an empty array"));
        }
    }
    let names = o.get("names").and_then(Value::as_array).ok_or("no names")?;
    let weak = o
        .get("weak_names")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if names.len() + weak.len() > 200 {
        return Err("more than 200 names".into());
    }
    for n in names.iter().chain(weak.iter()) {
        let n = n.as_str().ok_or("a name is not a string")?;
        if n.trim().is_empty() || n != n.trim() || !text_ok(n, 300) {
            return Err(format!("bad name {n:?}"));
        }
    }
    if let Some(d) = o.get("birth_date") {
        if !d.as_str().is_some_and(is_partial_date) {
            return Err(format!("bad birth_date {d}"));
        }
    }
    if let Some(ds) = o.get("birth_dates") {
        let ds = ds.as_array().ok_or("birth_dates is not an array")?;
        if ds.len() < 2 {
            return Err("birth_dates with fewer than two dates".into());
        }
        if ds.first() != o.get("birth_date") {
            return Err("birth_date is not the first of birth_dates".into());
        }
        for d in ds {
            if !d.as_str().is_some_and(is_partial_date) {
                return Err(format!("bad birth date {d}"));
            }
        }
    }
    for key in ["nationality", "country"] {
        if let Some(cs) = o.get(key) {
            for c in cs.as_array().ok_or("countries not an array")? {
                if !code_ok(c) {
                    return Err(format!("bad {key} {c}"));
                }
            }
        }
    }
    if let Some(g) = o.get("gender") {
        if !matches!(g.as_str(), Some("male" | "female")) {
            return Err(format!("bad gender {g}"));
        }
    }
    if let Some(p) = o.get("birth_place") {
        if !p.as_str().is_some_and(|p| !p.is_empty() && text_ok(p, 300)) {
            return Err(format!("bad birth_place {p}"));
        }
    }
    if let Some(docs) = o.get("documents") {
        for d in docs.as_array().ok_or("documents not an array")? {
            let d = d.as_object().ok_or("document not an object")?;
            for (k, v) in d {
                match k.as_str() {
                    "type" | "number" => {
                        if !v
                            .as_str()
                            .is_some_and(|s| !s.trim().is_empty() && text_ok(s, 100))
                        {
                            return Err(format!("bad document {k} {v}"));
                        }
                    }
                    "country" => {
                        if !code_ok(v) {
                            return Err(format!("bad document country {v}"));
                        }
                    }
                    _ => return Err(format!("unexpected document field {k}")),
                }
            }
            if !d.contains_key("type") || !d.contains_key("number") {
                return Err("document without type or number".into());
            }
        }
    }
    if let Some(l) = o.get("listing") {
        let l = l.as_object().ok_or("listing not an object")?;
        if !l
            .get("list")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && text_ok(s, 100))
        {
            return Err("listing without list".into());
        }
        for (k, v) in l {
            let s = v.as_str().ok_or(format!("listing.{k} is not a string"))?;
            match k.as_str() {
                "list" | "reference" | "program" => {}
                "listed_on" if is_partial_date(s) => {}
                "reason" if text_ok(s, 20_000) => {}
                "status" if s == "active" || s == "delisted" => {}
                _ => return Err(format!("bad listing.{k} {s:?}")),
            }
        }
    }
    if let Some(n) = o.get("notes") {
        if !n
            .as_str()
            .is_some_and(|n| !n.is_empty() && text_ok(n, 20_000))
        {
            return Err("bad notes".into());
        }
    }
    Ok(())
}
