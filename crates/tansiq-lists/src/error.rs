//! Errors: every one names the file, the place in it and what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where in an input file a problem was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (e.g. it is empty, or has no header).
    File,
    /// A line of a text file (1-based), and the column (1-based, in
    /// characters) when known.
    Line { line: u64, column: Option<u64> },
    /// An XML element: its name, the entry it belongs to (e.g.
    /// `DATAID 110577, REFERENCE_NUMBER TAi.002`) and its line/column.
    Element {
        element: String,
        entry: Option<String>,
        line: u64,
        column: Option<u64>,
    },
}

impl Location {
    pub fn line(line: u64) -> Location {
        Location::Line { line, column: None }
    }

    pub fn line_col(line: u64, column: u64) -> Location {
        Location::Line {
            line,
            column: Some(column),
        }
    }

    /// The line number, when the location has one.
    pub fn line_number(&self) -> Option<u64> {
        match self {
            Location::File => None,
            Location::Line { line, .. } | Location::Element { line, .. } => Some(*line),
        }
    }

    /// The column number, when known.
    pub fn column_number(&self) -> Option<u64> {
        match self {
            Location::File => None,
            Location::Line { column, .. } | Location::Element { column, .. } => *column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File => f.write_str("whole file"),
            Location::Line { line, column } => {
                write!(f, "line {line}")?;
                if let Some(c) = column {
                    write!(f, ", column {c}")?;
                }
                Ok(())
            }
            Location::Element {
                element,
                entry,
                line,
                column,
            } => {
                write!(f, "element <{element}>")?;
                if let Some(e) = entry {
                    write!(f, " of the entry with {e}")?;
                }
                write!(f, " (line {line}")?;
                if let Some(c) = column {
                    write!(f, ", column {c}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Why a list or screening file could not be read. Nothing of the file is
/// returned when any error is raised: an import is all or nothing.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// The file could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The content is malformed or does not follow the format.
    #[error("{}, {at}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        at: Location,
        message: String,
    },
    /// A format name that is not one of ours.
    #[error("unknown list format {0:?}: use one of un-xml, ofac-csv, jsonl, csv")]
    UnknownFormat(String),
}

impl ListError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ListError {
        ListError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, at: Location, message: impl Into<String>) -> ListError {
        ListError::Malformed {
            path: path.to_path_buf(),
            at,
            message: message.into(),
        }
    }

    /// The location of a [`ListError::Malformed`] error.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ListError::Malformed { at, .. } => Some(at),
            _ => None,
        }
    }

    /// The line at fault, when known.
    pub fn line(&self) -> Option<u64> {
        self.location().and_then(Location::line_number)
    }

    /// The file at fault, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ListError::Io { path, .. } | ListError::Malformed { path, .. } => Some(path),
            ListError::UnknownFormat(_) => None,
        }
    }
}
