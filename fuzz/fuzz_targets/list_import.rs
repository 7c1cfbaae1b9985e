//! The watchlist importers of `tansiq_lists` on arbitrary file contents
//! (written to a RAM-disk temp file: the importers take paths).
//!
//! Input: one mode byte, then the file. Mode & 7 selects the reader:
//! 0 `un-xml`, 1 `ofac-csv` (the file is sdn.csv, NUL, alt.csv, NUL,
//! add.csv; alt and add optional), 2 `jsonl`, 3 `csv`, 4 `csv` named .tsv,
//! 5 `read_list` (layout sniffed from the content), 6 `read_queries`
//! (sniffed), 7 `read_queries` from .csv. Mode & 0x80: `--skip-invalid`
//! (lenient) instead of strict. Never panics; in strict mode nothing is
//! skipped.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tansiq_lists::{import_with_options, read_list, read_queries, Format, ImportOptions};

fn dir() -> &'static Path {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tansiq_fuzz::scratch_dir("tansiq-fuzz-lists-"))
        .path()
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, bytes).expect("write the temp file");
    p
}

fn import(format: Format, path: &Path, lenient: bool) {
    let opts = ImportOptions {
        skip_invalid: lenient,
    };
    if let Ok(imported) = import_with_options(format, path, opts, &|_, _| {}) {
        if !lenient {
            assert!(imported.skipped.is_empty(), "strict mode skips nothing");
        }
        for e in &imported.entries {
            assert!(!e.source_ref.is_empty(), "every entry has a source ref");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let lenient = mode & 0x80 != 0;
    match mode & 7 {
        0 => import(Format::UnXml, &write("list.xml", body), lenient),
        1 => {
            let parts = tansiq_fuzz::split_n(body, b"\0", 3);
            let sdn = write("sdn.csv", parts[0]);
            for (i, name) in [(1, "alt.csv"), (2, "add.csv")] {
                match parts.get(i) {
                    Some(b) => {
                        write(name, b);
                    }
                    None => {
                        let _ = std::fs::remove_file(dir().join(name));
                    }
                }
            }
            import(Format::OfacCsv, &sdn, lenient);
        }
        2 => import(Format::Jsonl, &write("list.jsonl", body), lenient),
        3 => import(Format::Csv, &write("list.csv", body), lenient),
        4 => import(Format::Csv, &write("list.tsv", body), lenient),
        5 => {
            let _ = read_list(&write("list.txt", body));
        }
        6 => {
            let _ = read_queries(&write("queries.txt", body));
        }
        _ => {
            let _ = read_queries(&write("queries.csv", body));
        }
    }
});
