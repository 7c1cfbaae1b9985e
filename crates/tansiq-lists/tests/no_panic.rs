//! Damaged input never panics: every truncation and many byte mutations of
//! real excerpts give either entries or an error, in strict and in lenient
//! (`skip_invalid`) mode.

mod common;

use std::path::Path;

use tansiq_lists::{import, import_with_options, read_list, read_queries, Format, ImportOptions};

/// A small deterministic generator (64-bit LCG), so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn variants(original: &[u8], seed: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Truncations.
    let step = (original.len() / 150).max(1);
    for cut in (0..original.len()).step_by(step) {
        out.push(original[..cut].to_vec());
    }
    // Byte substitutions with characters that matter to parsers.
    let nasty = b"<>&\"',;\n\r\x00\x1a{}[]:/ \xff\xd8";
    let mut rng = Lcg(seed);
    for _ in 0..300 {
        let mut v = original.to_vec();
        for _ in 0..(1 + rng.next() % 4) {
            let i = (rng.next() as usize) % v.len();
            v[i] = nasty[(rng.next() as usize) % nasty.len()];
        }
        out.push(v);
    }
    out
}

/// Imports `path` in both modes and checks how they relate: a file strict
/// mode accepts gives the same entries and no skips in lenient mode; a file
/// lenient mode rejects is rejected by strict mode too; a file only lenient
/// mode accepts has skips. True when strict mode accepts the file.
fn both_modes(format: Format, path: &Path) -> bool {
    let strict = import(format, path);
    let lenient = import_with_options(
        format,
        path,
        ImportOptions { skip_invalid: true },
        &|_, _| {},
    );
    match (&strict, &lenient) {
        (Ok(s), Ok(l)) => {
            assert_eq!(*s, l.entries, "{}", path.display());
            assert!(l.skipped.is_empty(), "{:?}", l.skipped);
        }
        (Ok(_), Err(e)) => panic!("lenient mode rejects what strict mode accepts: {e}"),
        (Err(_), Ok(l)) => assert!(!l.skipped.is_empty(), "accepted without skips"),
        (Err(_), Err(_)) => {}
    }
    strict.is_ok()
}

fn survive(name: &str, original: &Path, run: &dyn Fn(&Path) -> bool) {
    let bytes = std::fs::read(original).unwrap();
    let dir = common::scratch(name);
    let target = dir.join(original.file_name().unwrap());
    let mut ok = 0;
    for (i, v) in variants(&bytes, 0x7a5e_1a11 + name.len() as u64)
        .iter()
        .enumerate()
    {
        std::fs::write(&target, v).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&target)));
        match result {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(_) => panic!("{name}: variant {i} panicked"),
        }
    }
    assert!(ok > 0, "{name}: no variant parsed at all");
}

#[test]
fn un_xml_never_panics() {
    survive("np-un", &common::data("un-excerpt.xml"), &|p| {
        both_modes(Format::UnXml, p)
    });
}

#[test]
fn ofac_csv_never_panics() {
    // Mutate sdn.csv; alt.csv and add.csv stay beside it.
    let dir = common::scratch("np-ofac-src");
    for f in ["alt.csv", "add.csv"] {
        std::fs::copy(common::data("ofac").join(f), dir.join(f)).unwrap();
    }
    let sdn = std::fs::read(common::data("ofac/sdn.csv")).unwrap();
    let mut ok = 0;
    for (i, v) in variants(&sdn, 99).iter().enumerate() {
        std::fs::write(dir.join("sdn.csv"), v).unwrap();
        match std::panic::catch_unwind(|| both_modes(Format::OfacCsv, &dir.join("sdn.csv"))) {
            Ok(true) => ok += 1,
            Ok(false) => {}
            Err(_) => panic!("sdn variant {i} panicked"),
        }
    }
    assert!(ok > 0);
}

#[test]
fn jsonl_and_csv_never_panic() {
    let dir = common::scratch("np-generic-src");
    let jsonl = common::write(
        &dir,
        "list.jsonl",
        "{\"id\": \"E1\", \"names\": [\"عبد الله بلقزاز\", \"Abdellah Belkaziz\"], \"birth_date\": \"1962-02-01\", \"nationality\": [\"DZ\"], \"gender\": \"male\", \"documents\": [{\"type\": \"passport\", \"number\": \"X1\", \"country\": \"DZ\"}], \"listing\": {\"list\": \"L\", \"listed_on\": \"2019\"}}\n{\"id\": \"E2\", \"names\": [\"B\"]}\n".as_bytes(),
    );
    let csv = common::write(
        &dir,
        "names.csv",
        "id,name,birth_date,nationality,gender\nQ1,\"BELKEZIZ, Abdallah\",1962,DZ;MA,male\nQ2,عبد الله,,,\n".as_bytes(),
    );
    survive("np-jsonl-import", &jsonl, &|p| both_modes(Format::Jsonl, p));
    survive("np-jsonl-list", &jsonl, &|p| read_list(p).is_ok());
    survive("np-csv-queries", &csv, &|p| read_queries(p).is_ok());
    survive("np-csv-import", &csv, &|p| {
        both_modes(Format::Csv, p);
        true
    });
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let dir = common::scratch("np-deep");
    let mut xml = String::from("<CONSOLIDATED_LIST><INDIVIDUALS><INDIVIDUAL>");
    for _ in 0..100_000 {
        xml.push_str("<X>");
    }
    let p = common::write(&dir, "deep.xml", xml.as_bytes());
    let err = import(Format::UnXml, &p).unwrap_err();
    assert!(err.to_string().contains("nested more than"), "{err}");
}

#[test]
fn byte_order_mark_is_accepted() {
    let dir = common::scratch("np-bom");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend(std::fs::read(common::data("un-excerpt.xml")).unwrap());
    let p = common::write(&dir, "un.xml", &bytes);
    assert_eq!(
        import(Format::UnXml, &p).unwrap(),
        import(Format::UnXml, &common::data("un-excerpt.xml")).unwrap()
    );
}
