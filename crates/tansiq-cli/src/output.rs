//! What the commands print: every line through `outln!` (and so through
//! `term::safe`), JSON pretty-printed, JSONL results to a file or stdout.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{CliError, CliResult};

/// Writing to stdout failed: exit 0 without a word on a broken pipe, else
/// report it and exit 1.
pub fn failed(e: std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    eprintln!("error: writing output: {e}");
    std::process::exit(1);
}

pub fn print_json<T: Serialize>(v: &T) {
    outln!(
        "{}",
        serde_json::to_string_pretty(v).expect("output serialises")
    );
}

/// `value` alone, or `{"key": value}` with --json.
pub fn print_line_or_json(json: bool, key: &str, value: &str) {
    if json {
        outln!("{}", serde_json::json!({ key: value }));
    } else {
        outln!("{value}");
    }
}

/// Where a JSONL result goes: the `--out` file (created 0600: results
/// name people) or stdout.
pub fn jsonl_sink(out: Option<&Path>) -> CliResult<Box<dyn Write>> {
    Ok(match out {
        Some(p) => {
            Box::new(std::io::BufWriter::new(create_private(p).map_err(|e| {
                CliError::bad(format!("cannot write {}: {e}", p.display()))
            })?))
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// One JSONL line, through `term::safe`: names and explanations come from
/// list files and partners, and JSON leaves C1 and bidi characters raw.
pub fn write_jsonl(sink: &mut dyn Write, line: &str) {
    writeln!(sink, "{}", crate::term::safe(line)).unwrap_or_else(|e| failed(e));
}

/// Flushes a JSONL sink (a closed pipe ends the process quietly).
pub fn finish_jsonl(mut sink: Box<dyn Write>) {
    sink.flush().unwrap_or_else(|e| failed(e));
}

/// `File::create`, but a new file is 0600: results name people.
fn create_private(p: &Path) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(p)
}
