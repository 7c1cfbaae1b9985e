//! Prints a list as JSONL, one entry a line, for inspection:
//! `cargo run -p tansiq-lists --example dump -- un-xml path/to/list.xml`

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [format, path] = args.as_slice() else {
        eprintln!("usage: dump un-xml|ofac-csv|jsonl|csv PATH");
        return ExitCode::from(2);
    };
    let format = match format.parse::<tansiq_lists::Format>() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match tansiq_lists::import(format, Path::new(path)) {
        Ok(entries) => {
            for e in entries {
                println!(
                    "{}",
                    serde_json::json!({"source_ref": e.source_ref, "kind": e.kind.as_str(), "data": e.data})
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
