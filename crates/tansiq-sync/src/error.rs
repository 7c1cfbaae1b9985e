//! Error types. Messages never carry payload bytes or plaintext.

/// Input from a peer (or a file) that could not be decoded. Never a panic.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// More bytes than the limit for this structure (checked before parsing).
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not strict JSON (syntax, duplicate member names, depth, trailing data).
    #[error("invalid JSON: {0}")]
    Json(String),
    /// Well-formed JSON of the wrong shape (unknown or missing field, type).
    #[error("invalid structure: {0}")]
    Shape(String),
    /// A field's value breaks a rule.
    #[error("invalid {field}: {why}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// The rule it breaks.
        why: &'static str,
    },
}

/// A local submission the engine refuses (a programming or ordering error of
/// the caller, never peer input).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubmitError {
    /// The envelope's originator is not this node.
    #[error("the envelope's originator is not this node")]
    NotOriginator,
    /// `seq`/`prev` do not continue this node's stream in the channel (use
    /// [`crate::Engine::prepare`] and submit before preparing another).
    #[error("seq {got} does not continue the stream (next is {expected})")]
    OutOfSequence {
        /// The seq the engine expects.
        expected: u64,
        /// The seq given.
        got: u64,
    },
    /// Peers hold later envelopes of this node's own stream than the local
    /// store does (restored from an old backup?). The engine is fetching
    /// them back; submitting now would fork the stream.
    #[error("peers hold envelopes of this stream up to seq {known}; catching up before sending")]
    StreamBehind {
        /// Highest seq peers reported.
        known: u64,
    },
    /// This node was restored from a backup and `waiting` (partners of
    /// `channel`) have not yet answered that they hold none of its
    /// envelopes there beyond what it holds again: a new envelope now
    /// could fork its stream (docs/SYNC.md §6, "Restore holds"). Plain
    /// strings (channel and node ids), so this module needs no other.
    #[error("restored from a backup: waiting for {} to confirm channel {channel}", .waiting.join(", "))]
    Restored {
        /// The held channel's id.
        channel: String,
        /// The ids of the partners still to answer.
        waiting: Vec<String>,
    },
    /// The header breaks a rule (recipients, relays, sizes).
    #[error("invalid header: {0}")]
    Invalid(#[from] DecodeError),
    /// An omitted-body envelope cannot be submitted.
    #[error("a submitted envelope must carry its sealed body")]
    NoBody,
}

/// A bundle rejected as a whole: nothing of it was applied.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("bundle item {index} rejected: {reason}")]
pub struct BundleError {
    /// Index of the first rejected item.
    pub index: usize,
    /// Why (a short code, no payload).
    pub reason: String,
}

/// The durable state handed to [`crate::Engine::restore`] is inconsistent.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("inconsistent durable state: {0}")]
pub struct RestoreError(pub String);
