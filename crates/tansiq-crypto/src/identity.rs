//! A node's long-term identity: an Ed25519 signing key and an X25519
//! encryption key, with their key files.

use std::fmt;
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer as _, SigningKey};
use x25519_dalek::{PublicKey as XPublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::signature::{check_context, node_id_from_key};
use crate::{b64, b64_decode_array, canonical_json, random_bytes, signing_input, CryptoError};

/// File name of the Ed25519 signing key inside an identity directory.
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File name of the X25519 encryption key inside an identity directory.
pub const ENCRYPTION_KEY_FILE: &str = "encryption.key";

const SIGNING_KEY_LABEL: &str = "tansiq-ed25519-secret-v1";
const ENCRYPTION_KEY_LABEL: &str = "tansiq-x25519-secret-v1";
/// Key files are a few dozen bytes; anything larger is not a key file.
const MAX_KEY_FILE_LEN: u64 = 256;

/// A node identity: an Ed25519 signing key and an X25519 encryption key.
///
/// Secret keys are zeroed when the `Identity` is dropped; `Debug` shows only
/// the node id and the public keys.
#[derive(Clone)]
pub struct Identity {
    signing: SigningKey,
    encryption: StaticSecret,
    encryption_public: [u8; 32],
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("node_id", &self.node_id())
            .field("signing_public", &b64(self.signing_public()))
            .field("encryption_public", &b64(self.encryption_public))
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Generates a fresh identity from the operating system's CSPRNG.
    pub fn generate() -> Identity {
        Identity::from_secret_bytes(random_bytes(), random_bytes())
    }

    /// Builds an identity from a 32-byte Ed25519 seed (RFC 8032 secret key)
    /// and a 32-byte X25519 secret (clamped on use, RFC 7748).
    pub fn from_secret_bytes(mut signing: [u8; 32], mut encryption: [u8; 32]) -> Identity {
        let signing_key = SigningKey::from_bytes(&signing);
        let secret = StaticSecret::from(encryption);
        signing.zeroize();
        encryption.zeroize();
        let encryption_public = XPublicKey::from(&secret).to_bytes();
        Identity {
            signing: signing_key,
            encryption: secret,
            encryption_public,
        }
    }

    /// The Ed25519 public key (RFC 8032 encoding).
    pub fn signing_public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The X25519 public key (RFC 7748 encoding).
    pub fn encryption_public(&self) -> [u8; 32] {
        self.encryption_public
    }

    /// This node's id, [`node_id_from_key`] of the signing public key.
    pub fn node_id(&self) -> String {
        node_id_from_key(&self.signing_public())
    }

    /// Signs `context || 0x00 || msg` (see [`signing_input`]).
    ///
    /// # Panics
    /// If `context` is not a valid context string (see
    /// [`crate::is_valid_context`]): contexts are compile-time constants, so
    /// this is a programming error, never a consequence of peer input.
    pub fn sign(&self, context: &str, msg: &[u8]) -> [u8; 64] {
        if let Err(e) = check_context(context) {
            panic!("Identity::sign: {e}: {context:?}");
        }
        self.signing.sign(&signing_input(context, msg)).to_bytes()
    }

    /// Signs the RFC 8785 canonical form of `value` under `context`.
    pub fn sign_json(
        &self,
        context: &str,
        value: &serde_json::Value,
    ) -> Result<[u8; 64], CryptoError> {
        check_context(context)?;
        let msg = canonical_json(value)?;
        Ok(self.sign(context, &msg))
    }

    /// Signs raw bytes with no context prefix. Only for formats that define
    /// their own domain separation (C2SP signed notes and cosignatures).
    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.signing.sign(msg).to_bytes()
    }

    /// The X25519 secret, for HPKE decapsulation inside this crate.
    pub(crate) fn x25519_secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.encryption.to_bytes())
    }

    /// The Ed25519 secret key as a PKCS#8 v1 DER document (RFC 8410 §7),
    /// e.g. for a TLS library that pins the node's key. Handle with care:
    /// this is the node's signing secret.
    pub fn signing_key_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        // SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PREFIX);
        der.extend_from_slice(self.signing.as_bytes());
        der
    }

    /// Writes `dir/signing.key` and `dir/encryption.key`.
    ///
    /// Each file is written to a temporary file created with mode 0600
    /// (never readable by others, even briefly), synced, then hard-linked to
    /// its final name, which fails rather than overwrite an existing file.
    /// `dir` is created with mode 0700 if missing. If either key file already
    /// exists nothing is written and [`CryptoError::AlreadyExists`] is returned.
    ///
    /// File format: one line, `tansiq-ed25519-secret-v1 <base64url seed>\n`
    /// and `tansiq-x25519-secret-v1 <base64url secret>\n`.
    pub fn save(&self, dir: &Path) -> Result<(), CryptoError> {
        create_private_dir(dir)?;
        let signing_path = dir.join(SIGNING_KEY_FILE);
        let encryption_path = dir.join(ENCRYPTION_KEY_FILE);
        for p in [&signing_path, &encryption_path] {
            if fs::symlink_metadata(p).is_ok() {
                return Err(CryptoError::AlreadyExists(format!(
                    "{} exists; refusing to overwrite a key file",
                    p.display()
                )));
            }
        }
        let signing_text = Zeroizing::new(format!(
            "{SIGNING_KEY_LABEL} {}\n",
            b64(self.signing.as_bytes())
        ));
        write_new_private_file(&signing_path, signing_text.as_bytes())?;
        let encryption_text = Zeroizing::new(format!(
            "{ENCRYPTION_KEY_LABEL} {}\n",
            b64(*self.x25519_secret_bytes())
        ));
        if let Err(e) = write_new_private_file(&encryption_path, encryption_text.as_bytes()) {
            // Leave the directory as it was: remove the file we just created.
            let _ = fs::remove_file(&signing_path);
            return Err(e);
        }
        sync_dir(dir)
    }

    /// Reads an identity written by [`Identity::save`].
    ///
    /// Refuses key files that are not regular files or whose mode grants any
    /// permission to group or others ([`CryptoError::InsecurePermissions`]).
    pub fn load(dir: &Path) -> Result<Identity, CryptoError> {
        let mut signing = read_key_file(&dir.join(SIGNING_KEY_FILE), SIGNING_KEY_LABEL)?;
        let mut encryption = read_key_file(&dir.join(ENCRYPTION_KEY_FILE), ENCRYPTION_KEY_LABEL)?;
        let id = Identity::from_secret_bytes(*signing, *encryption);
        signing.zeroize();
        encryption.zeroize();
        Ok(id)
    }
}

fn io_err(path: &Path, what: &str, e: std::io::Error) -> CryptoError {
    CryptoError::Io(format!("{what} {}: {e}", path.display()))
}

fn create_private_dir(dir: &Path) -> Result<(), CryptoError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| io_err(dir, "cannot create directory", e))
}

fn write_new_private_file(path: &Path, contents: &[u8]) -> Result<(), CryptoError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = dir.join(format!(".{name}.tmp-{}", hex_lower(&random_bytes::<8>())));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts
            .open(&tmp)
            .map_err(|e| io_err(&tmp, "cannot create", e))?;
        // The umask can only remove bits from 0600; make the mode exact.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| io_err(&tmp, "cannot set permissions on", e))?;
        }
        f.write_all(contents)
            .map_err(|e| io_err(&tmp, "cannot write", e))?;
        f.sync_all().map_err(|e| io_err(&tmp, "cannot sync", e))?;
        // Atomic, and never replaces an existing file.
        fs::hard_link(&tmp, path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                CryptoError::AlreadyExists(format!(
                    "{} exists; refusing to overwrite a key file",
                    path.display()
                ))
            } else {
                io_err(path, "cannot create", e)
            }
        })
    })();
    let _ = fs::remove_file(&tmp);
    result
}

fn sync_dir(dir: &Path) -> Result<(), CryptoError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, "cannot sync directory", e))?;
    }
    let _ = dir;
    Ok(())
}

fn read_key_file(path: &Path, label: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let f = fs::File::open(path).map_err(|e| io_err(path, "cannot open key file", e))?;
    let meta = f
        .metadata()
        .map_err(|e| io_err(path, "cannot stat key file", e))?;
    if !meta.is_file() {
        return Err(CryptoError::Io(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(CryptoError::InsecurePermissions(format!(
                "{} has mode {mode:04o}; a key file must not be accessible by group or others \
                 (run `chmod 600 {}`)",
                path.display(),
                path.display()
            )));
        }
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(CryptoError::BadKey(format!(
            "{} is too large to be a key file",
            path.display()
        )));
    }
    let mut text = Zeroizing::new(String::new());
    f.take(MAX_KEY_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(|e| io_err(path, "cannot read key file", e))?;
    let bad = || {
        CryptoError::BadKey(format!(
            "{} is not a valid key file (expected one line `{label} <base64url key>`)",
            path.display()
        ))
    };
    let line = text.strip_suffix('\n').unwrap_or(&text);
    let encoded = line
        .strip_prefix(label)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(bad)?;
    let key = b64_decode_array::<32>(encoded).map_err(|_| bad())?;
    Ok(Zeroizing::new(key))
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A 32-byte secret kept in its own key file (one line `label <base64url>`,
/// mode 0600), created with fresh random bytes on first use. Concurrent
/// first uses agree: the file is linked into place atomically and a loser
/// reads the winner's secret.
pub fn load_or_create_secret(path: &Path, label: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    if !path.exists() {
        let secret = Zeroizing::new(random_bytes::<32>());
        let line = Zeroizing::new(format!("{label} {}\n", crate::b64(*secret)));
        match write_new_private_file(path, line.as_bytes()) {
            Ok(()) => {
                sync_dir(path.parent().unwrap_or_else(|| Path::new(".")))?;
                return Ok(secret);
            }
            Err(CryptoError::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    read_key_file(path, label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret() {
        let id = Identity::from_secret_bytes([1; 32], [2; 32]);
        let dbg = format!("{id:?}");
        assert!(dbg.contains(&id.node_id()));
        assert!(!dbg.contains(&b64([1u8; 32])));
        assert!(!dbg.contains(&b64([2u8; 32])));
    }

    #[test]
    fn pkcs8_shape() {
        let id = Identity::from_secret_bytes([9; 32], [2; 32]);
        let der = id.signing_key_pkcs8_der();
        assert_eq!(der.len(), 48);
        assert_eq!(&der[16..], &[9u8; 32]);
    }
}
