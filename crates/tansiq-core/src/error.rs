//! Validation errors: a plain sentence naming what was wrong, safe to show
//! to the user who supplied the input (never contains secrets).

use std::fmt;

/// Input that does not satisfy the domain's rules. The message names the
/// offending field and says what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(msg: impl Into<String>) -> Self {
        Invalid(msg.into())
    }
    /// Prefix the message with the path of the field at fault.
    pub fn at(self, field: &str) -> Self {
        Invalid(format!("{field}: {}", self.0))
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

pub type InvalidResult<T> = Result<T, Invalid>;
