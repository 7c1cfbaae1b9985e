//! Prints a list as JSONL, one entry a line, for inspection:
//! `cargo run -p tansiq-lists --example dump -- [--skip-invalid] un-xml path/to/list.xml`
//!
//! With `--skip-invalid`, invalid rows are skipped and listed on stderr.

use std::path::Path;
use std::process::ExitCode;

use tansiq_lists::ImportOptions;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let skip_invalid = match args.iter().position(|a| a == "--skip-invalid") {
        Some(i) => {
            args.remove(i);
            true
        }
        None => false,
    };
    let [format, path] = args.as_slice() else {
        eprintln!("usage: dump [--skip-invalid] un-xml|ofac-csv|jsonl|csv PATH");
        return ExitCode::from(2);
    };
    let format = match format.parse::<tansiq_lists::Format>() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let options = ImportOptions { skip_invalid };
    match tansiq_lists::import_with_options(format, Path::new(path), options, &|_, _| {}) {
        Ok(imported) => {
            for e in imported.entries {
                println!(
                    "{}",
                    serde_json::json!({"source_ref": e.source_ref, "kind": e.kind.as_str(), "data": e.data})
                );
            }
            for e in &imported.skipped {
                eprintln!("skipped: {e}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
