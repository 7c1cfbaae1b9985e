//! The crate's error type.

/// Every failure of a tansiq-crypto operation.
///
/// Messages never contain secret material (keys, plaintext, tokens). They
/// may name a file path or a field.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// A signature did not verify (wrong key, altered message or context,
    /// malformed or non-canonical signature).
    #[error("signature verification failed")]
    BadSignature,
    /// A public or secret key is malformed, weak (small order) or of the
    /// wrong kind.
    #[error("bad key: {0}")]
    BadKey(String),
    /// Input could not be decoded or encoded (base64, JSON, note, proof bytes…).
    #[error("encoding error: {0}")]
    Encoding(String),
    /// A file-system operation on key files failed.
    #[error("i/o error: {0}")]
    Io(String),
    /// A key file is readable or writable by group or others.
    #[error("insecure key file: {0}")]
    InsecurePermissions(String),
    /// Refused to overwrite an existing key file.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A sealed payload could not be opened: not addressed to us, wrong key,
    /// tampered ciphertext, header (aad) or wrapped key. Deliberately carries
    /// no detail.
    #[error("cannot open sealed payload")]
    Open,
    /// A Merkle inclusion or consistency proof is malformed or does not verify.
    #[error("invalid proof: {0}")]
    Proof(String),
    /// A caller-supplied argument is outside the function's domain
    /// (e.g. a proof index beyond the tree size, an invalid context string).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}
