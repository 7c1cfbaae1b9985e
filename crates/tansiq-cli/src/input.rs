//! What the commands read: small input files (or stdin) with a size
//! limit, JSON data files, and flag values parsed into domain types with
//! the flag named in the error (exit 2).

use std::io::Read;
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Largest data or card file read from disk.
const MAX_INPUT_FILE: u64 = 1024 * 1024;

/// Reads a small input file (or stdin for `-`), with a size limit.
pub fn read_input(path: &Path) -> CliResult<Vec<u8>> {
    let mut buf = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .take(MAX_INPUT_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::bad(format!("reading stdin: {e}")))?;
    } else {
        let f = std::fs::File::open(path)
            .map_err(|e| CliError::bad(format!("cannot read {}: {e}", path.display())))?;
        f.take(MAX_INPUT_FILE + 1)
            .read_to_end(&mut buf)
            .map_err(|e| CliError::bad(format!("cannot read {}: {e}", path.display())))?;
    }
    if buf.len() as u64 > MAX_INPUT_FILE {
        return Err(CliError::bad(format!(
            "{} is larger than the 1 MiB limit",
            path.display()
        )));
    }
    Ok(buf)
}

/// A JSON data file, parsed as strictly as what is signed: a duplicate
/// member name (which a lenient parser resolves to its last value, so two
/// readers could disagree on what was signed) is refused.
pub fn read_json(path: &Path) -> CliResult<serde_json::Value> {
    let bytes = read_input(path)?;
    tansiq_crypto::parse_json_strict(&bytes)
        .map_err(|e| CliError::bad(format!("{} is not valid JSON: {e}", path.display())))
}

/// `--flag VALUE` parsed into `T`; an error names the flag.
pub fn parse_flag<T: std::str::FromStr<Err = tansiq_core::Invalid>>(
    flag: &str,
    v: &str,
) -> CliResult<T> {
    v.parse::<T>()
        .map_err(|e| CliError::bad(format!("{flag}: {e}")))
}

/// [`parse_flag`] of an optional flag.
pub fn parse_opt<T: std::str::FromStr<Err = tansiq_core::Invalid>>(
    flag: &str,
    v: Option<&str>,
) -> CliResult<Option<T>> {
    v.map(|s| parse_flag(flag, s)).transpose()
}
