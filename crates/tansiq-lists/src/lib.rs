//! tansiq-lists: pure parsers of real watchlist formats and of screening
//! inputs. No storage: every function reads files and returns data in the
//! node's record schema (see `docs/WATCHLISTS.md`).
//!
//! - [`import`] reads a whole list — the UN Security Council consolidated
//!   XML, the OFAC SDN legacy CSV (sdn + alt + add), or a generic JSONL or
//!   CSV list — into [`ImportedEntry`] values, all or nothing: the first
//!   malformed element rejects the file with a [`ListError`] naming the
//!   file, the line (and column, or the XML element and its entry) and what
//!   is wrong.
//! - [`import_with_options`] with [`ImportOptions::skip_invalid`] is the
//!   opt-in lenient mode: a row or entry that is invalid on its own is
//!   skipped and reported in [`Imported::skipped`], while problems with the
//!   file as a whole still reject it.
//! - [`read_queries`] and [`read_list`] read the inputs of `tansiq screen`.
//! - [`country_code`] maps the country spellings lists use to ISO 3166-1
//!   alpha-2.
//!
//! Every function is deterministic: the same input gives the same entries,
//! in file order, with the same `source_ref` and data.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

mod country;
mod csv;
mod dates;
mod error;
mod generic;
mod ofac;
mod schema;
mod un;

pub use country::{countries_in, country_code};
pub use error::{ListError, Location};
pub use generic::{
    queries_from_text, queries_from_text_with, read_list, read_queries, read_queries_with,
    ListEntryInput, NameQuery, QueryColumns,
};

/// What a list entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryKind {
    Person,
    Organization,
}

impl EntryKind {
    /// `person` or `organization`, as record kinds are named.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Person => "person",
            EntryKind::Organization => "organization",
        }
    }
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of an imported list.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedEntry {
    /// Stable id of the entry within its list: the UN REFERENCE_NUMBER, the
    /// OFAC ent_num, or the `id` field of a JSONL/CSV list. A re-import of
    /// the same list gives the same `source_ref` for the same entry.
    pub source_ref: String,
    pub kind: EntryKind,
    /// Person or organization data in the node's record schema.
    pub data: serde_json::Value,
}

/// The list formats [`import`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// UN Security Council consolidated list, XML (`un-xml`).
    UnXml,
    /// OFAC SDN legacy CSV: sdn.csv with alt.csv and add.csv beside it
    /// (`ofac-csv`).
    OfacCsv,
    /// One JSON object per line (`jsonl`).
    Jsonl,
    /// CSV with a header line (`csv`).
    Csv,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::UnXml, Format::OfacCsv, Format::Jsonl, Format::Csv];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::UnXml => "un-xml",
            Format::OfacCsv => "ofac-csv",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ListError;

    fn from_str(s: &str) -> Result<Format, ListError> {
        let l = s.trim().to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == l)
            .ok_or_else(|| ListError::UnknownFormat(s.to_string()))
    }
}

/// The format of a list file, told from its name and first bytes: a
/// directory or `sdn*.csv` is OFAC's (whose CSV has no header: a first
/// line starting with a digit is OFAC's too), `.xml` or a file starting
/// with `<` the UN's, `.jsonl`/`.ndjson`/`.json` or a first `{` JSONL,
/// anything else CSV with a header. A guess for the user's convenience
/// (`tansiq screen --list`, `watchlist import`): the parsers still check
/// everything, and `--list-format` overrides it.
pub fn detect_format(path: &Path) -> Format {
    if path.is_dir() {
        return Format::OfacCsv;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    if ext == "xml" {
        return Format::UnXml;
    }
    if matches!(ext, "jsonl" | "ndjson" | "json") {
        return Format::Jsonl;
    }
    if name.starts_with("sdn") && ext == "csv" {
        return Format::OfacCsv;
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(&head[..n]);
    let first = text.trim_start_matches('\u{feff}').trim_start();
    match first.chars().next() {
        Some('<') => Format::UnXml,
        Some('{') => Format::Jsonl,
        Some(c) if c.is_ascii_digit() => Format::OfacCsv,
        _ => Format::Csv,
    }
}

/// How [`import_with_options`] treats invalid rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Lenient mode (`tansiq watchlist import … --skip-invalid`). A row or
    /// entry that is invalid on its own is left out and reported in
    /// [`Imported::skipped`], and the rest of the file is imported. Such
    /// problems are a repeated id (the later occurrence is skipped), an
    /// alias or address of an entry the list does not have, a field that
    /// does not parse or is missing, a wrong number of fields on a line, a
    /// JSONL line that is not a JSON object, and a UN entry that lacks a
    /// required part. Problems with the file as a whole still reject it:
    /// a file that cannot be read, XML that is truncated or ill-formed,
    /// CSV quoting that leaves the end of a record unknown, a bad CSV
    /// header, and text that is not UTF-8 where UTF-8 is required.
    ///
    /// `false` (the default) is the strict mode of [`import`]: the first
    /// problem rejects the whole file.
    pub skip_invalid: bool,
}

/// The result of [`import_with_options`].
#[derive(Debug)]
pub struct Imported {
    /// The valid entries, in file order.
    pub entries: Vec<ImportedEntry>,
    /// One error per skipped row, alias, address or UN entry, in the order
    /// met. Each is a [`ListError::Malformed`] naming the file, the line
    /// (or XML element and entry) and what is wrong, and its message ends
    /// with "this line was skipped" or "this entry was skipped". Always
    /// empty in strict mode.
    pub skipped: Vec<ListError>,
}

/// Reads a whole list file. For [`Format::OfacCsv`], `path` is sdn.csv (its
/// alt.csv and add.csv are read from the same directory when present) or
/// the directory holding them. Strict: the first malformed row rejects the
/// file.
pub fn import(format: Format, path: &Path) -> Result<Vec<ImportedEntry>, ListError> {
    import_with_progress(format, path, &|_, _| {})
}

/// [`import`], reporting progress as `(done, total)` in bytes read (for a
/// progress bar). The last call is always `(total, total)` on success.
pub fn import_with_progress(
    format: Format,
    path: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<Vec<ImportedEntry>, ListError> {
    let imported = import_with_options(format, path, ImportOptions::default(), progress)?;
    debug_assert!(imported.skipped.is_empty());
    Ok(imported.entries)
}

/// [`import_with_progress`] with options: with
/// [`ImportOptions::skip_invalid`], invalid rows are skipped and reported
/// instead of rejecting the file (see [`ImportOptions`]).
pub fn import_with_options(
    format: Format,
    path: &Path,
    options: ImportOptions,
    progress: &dyn Fn(u64, u64),
) -> Result<Imported, ListError> {
    let mut p = Progress::new(progress);
    let mut skips = Skips::new(options);
    let entries = match format {
        Format::UnXml => un::import(path, &mut p, &mut skips),
        Format::OfacCsv => ofac::import(path, &mut p, &mut skips),
        Format::Jsonl => generic::import_jsonl(path, &mut p, &mut skips),
        Format::Csv => generic::import_csv(path, &mut p, &mut skips),
    }?;
    Ok(Imported {
        entries,
        skipped: skips.skipped,
    })
}

/// Where the importers send a problem confined to one row or entry: in
/// strict mode it rejects the file; in lenient mode it is recorded and the
/// row is left out.
pub(crate) struct Skips {
    lenient: bool,
    skipped: Vec<ListError>,
}

impl Skips {
    pub fn new(options: ImportOptions) -> Skips {
        Skips {
            lenient: options.skip_invalid,
            skipped: Vec::new(),
        }
    }

    /// Strict mode, for the readers that have no lenient mode.
    pub fn strict() -> Skips {
        Skips::new(ImportOptions::default())
    }

    pub fn lenient(&self) -> bool {
        self.lenient
    }

    /// A row-level problem: `Err` in strict mode; in lenient mode it is
    /// recorded (its message saying that the row was skipped) and `Ok`.
    pub fn skip(&mut self, mut error: ListError) -> Result<(), ListError> {
        if !self.lenient {
            return Err(error);
        }
        if let ListError::Malformed { at, message, .. } = &mut error {
            message.push_str(match at {
                Location::Element { .. } => "; this entry was skipped",
                _ => "; this line was skipped",
            });
        }
        self.skipped.push(error);
        Ok(())
    }
}

/// Throttles progress reports to about one per thousandth of the work.
pub(crate) struct Progress<'a> {
    report: &'a dyn Fn(u64, u64),
    total: u64,
    last: u64,
}

impl<'a> Progress<'a> {
    fn new(report: &'a dyn Fn(u64, u64)) -> Progress<'a> {
        Progress {
            report,
            total: 0,
            last: 0,
        }
    }

    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        (self.report)(0, total);
    }

    pub fn update(&mut self, done: u64) {
        let done = done.min(self.total);
        let step = (self.total / 1000).max(1);
        if done >= self.last + step {
            self.last = done;
            (self.report)(done, self.total);
        }
    }

    pub fn finish(&mut self) {
        (self.report)(self.total, self.total);
    }
}

/// Largest list or screening file read whole (a real OFAC SDN file is a
/// few MiB): a device such as `/dev/zero` or an endless pipe stops here
/// instead of filling memory.
pub const MAX_TEXT_FILE: u64 = 256 * 1024 * 1024;

/// Reads a file as text: UTF-8 (a byte-order mark is dropped), or, for
/// lists that allow it, Latin-1 when the bytes are not UTF-8.
pub(crate) fn read_text(path: &Path, latin1_fallback: bool) -> Result<String, ListError> {
    use std::io::Read as _;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TEXT_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| ListError::io(path, e))?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        return Err(ListError::io(
            path,
            std::io::Error::other(format!("larger than {} MiB", MAX_TEXT_FILE / (1024 * 1024))),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            if latin1_fallback {
                return Ok(e.as_bytes().iter().map(|&b| b as char).collect());
            }
            let bytes = e.as_bytes();
            let at = e.utf8_error().valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
            let line_start = bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&bytes[line_start..at])
                .chars()
                .count() as u64
                + 1;
            Err(ListError::malformed(
                path,
                Location::line_col(line, column),
                format!(
                    "byte 0x{:02X} is not valid UTF-8; save the file as UTF-8 and try again",
                    bytes[at]
                ),
            ))
        }
    }
}

#[cfg(all(test, unix))]
mod read_bound_tests {
    /// Not run against the previous code: it read `/dev/zero` until
    /// memory ran out.
    #[test]
    fn an_endless_file_is_refused_not_read_to_the_end() {
        let e = super::read_text(std::path::Path::new("/dev/zero"), true).unwrap_err();
        assert!(e.to_string().contains("larger than 256 MiB"), "{e}");
    }
}
