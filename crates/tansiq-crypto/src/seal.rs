//! Sealing to N recipients, and epoch content keys.
//!
//! A payload is encrypted once under a 32-byte content key `K`; `K` is
//! wrapped for each recipient with HPKE (RFC 9180) base mode, suite
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305
//! (0x0020, 0x0001, 0x0003).
//!
//! Payload (`seal_with_key`): a fresh 24-byte random `nonce`;
//! `PRK = HKDF-Extract(salt = nonce, IKM = K)`;
//! `enc_key = HKDF-Expand(PRK, "tansiq/seal/v1 payload key", 32)`;
//! `commit = HKDF-Expand(PRK, "tansiq/seal/v1 key commitment", 32)`;
//! `ciphertext = commit || XChaCha20-Poly1305(enc_key, nonce, aad, plaintext)`.
//! The commitment makes the scheme key-committing: recipients who unwrap
//! different keys cannot both accept the same ciphertext (no "invisible
//! salamanders"), so every recipient that opens a sealed payload reads the
//! same plaintext.
//!
//! Key wrap (`wrap_key`): for each recipient, HPKE `SealBase(pkR,
//! info = "tansiq/seal/v1 wrap", aad = u32be(len(id)) || id || aad, pt = K)`,
//! giving `enc` (32 bytes) and `ct` (48 bytes). The recipient id and the
//! caller's header (`aad`) are bound into every wrapped key.
//!
//! Sealing gives confidentiality and integrity against outsiders, not
//! sender authentication: any recipient knows `K`. Authenticity comes from
//! the originator's signature over the plaintext (sign, then seal), which
//! should cover the recipient set.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable as _, OpModeR, OpModeS, Serializable as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::encoding::{serde_b64, serde_b64_array};
use crate::{os_rng, random_bytes, CryptoError, Identity};

const WRAP_INFO: &[u8] = b"tansiq/seal/v1 wrap";
const PAYLOAD_KEY_INFO: &[u8] = b"tansiq/seal/v1 payload key";
const COMMIT_INFO: &[u8] = b"tansiq/seal/v1 key commitment";
const COMMIT_LEN: usize = 32;
const TAG_LEN: usize = 16;
/// Longest recipient id accepted.
pub const MAX_RECIPIENT_ID_LEN: usize = 255;
/// Most recipients one payload may be sealed to.
pub const MAX_RECIPIENTS: usize = 1024;

type Kem = X25519HkdfSha256;

/// A recipient of a sealed payload: an application-level id (e.g. a node
/// id) and its X25519 public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// Identifier under which the wrapped key is filed (1..=255 bytes).
    pub id: String,
    /// The recipient's X25519 public key.
    pub public: [u8; 32],
}

/// The content key wrapped for one recipient.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    /// The recipient's id.
    pub recipient: String,
    /// HPKE encapsulated key (32 bytes).
    #[serde(with = "serde_b64")]
    pub enc: Vec<u8>,
    /// HPKE ciphertext of the content key (48 bytes).
    #[serde(with = "serde_b64")]
    pub ct: Vec<u8>,
}

/// A payload sealed to N recipients. Serialises with base64url fields:
/// `{"wrapped":[{"recipient":…,"enc":…,"ct":…}],"nonce":…,"ciphertext":…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sealed {
    /// One wrapped content key per recipient.
    pub wrapped: Vec<WrappedKey>,
    /// Random 24-byte nonce (also the HKDF salt).
    #[serde(with = "serde_b64_array")]
    pub nonce: [u8; 24],
    /// `commit (32) || XChaCha20-Poly1305 ciphertext and tag`.
    #[serde(with = "serde_b64")]
    pub ciphertext: Vec<u8>,
}

/// A payload sealed under a content key that the recipients already hold
/// (see [`seal_with_key`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedBody {
    /// Random 24-byte nonce (also the HKDF salt).
    #[serde(with = "serde_b64_array")]
    pub nonce: [u8; 24],
    /// `commit (32) || XChaCha20-Poly1305 ciphertext and tag`.
    #[serde(with = "serde_b64")]
    pub ciphertext: Vec<u8>,
}

/// A 32-byte symmetric content key (per payload, or per channel epoch).
/// Zeroed on drop; `Debug` does not show it.
#[derive(Clone)]
pub struct ContentKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentKey(..)")
    }
}

impl ContentKey {
    /// A fresh random key.
    pub fn generate() -> ContentKey {
        ContentKey(Zeroizing::new(random_bytes()))
    }
    /// Wraps existing key bytes (e.g. read back from a store).
    pub fn from_bytes(bytes: [u8; 32]) -> ContentKey {
        ContentKey(Zeroizing::new(bytes))
    }
    /// The key bytes, e.g. to store them (sealed) at rest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

struct DerivedKeys {
    enc_key: Zeroizing<[u8; 32]>,
    commit: [u8; 32],
}

fn derive(key: &ContentKey, nonce: &[u8; 24]) -> DerivedKeys {
    let hk = Hkdf::<Sha256>::new(Some(nonce), key.as_bytes());
    let mut enc_key = Zeroizing::new([0u8; 32]);
    let mut commit = [0u8; 32];
    hk.expand(PAYLOAD_KEY_INFO, enc_key.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    hk.expand(COMMIT_INFO, &mut commit)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    DerivedKeys { enc_key, commit }
}

/// Encrypts `plaintext` under `key`, binding `aad`.
pub fn seal_with_key(
    key: &ContentKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<SealedBody, CryptoError> {
    let nonce: [u8; 24] = random_bytes();
    let d = derive(key, &nonce);
    let cipher = XChaCha20Poly1305::new(d.enc_key.as_ref().into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::Encoding("payload too large to encrypt".into()))?;
    let mut ciphertext = Vec::with_capacity(COMMIT_LEN + ct.len());
    ciphertext.extend_from_slice(&d.commit);
    ciphertext.extend_from_slice(&ct);
    Ok(SealedBody { nonce, ciphertext })
}

fn open_body(
    key: &ContentKey,
    aad: &[u8],
    nonce: &[u8; 24],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < COMMIT_LEN + TAG_LEN {
        return Err(CryptoError::Open);
    }
    let d = derive(key, nonce);
    let (commit, ct) = ciphertext.split_at(COMMIT_LEN);
    if !bool::from(d.commit.ct_eq(commit)) {
        return Err(CryptoError::Open);
    }
    let cipher = XChaCha20Poly1305::new(d.enc_key.as_ref().into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Open)
}

/// Decrypts a [`SealedBody`] made by [`seal_with_key`] with the same `aad`.
pub fn open_with_key(
    key: &ContentKey,
    aad: &[u8],
    body: &SealedBody,
) -> Result<Vec<u8>, CryptoError> {
    open_body(key, aad, &body.nonce, &body.ciphertext)
}

fn wrap_aad(recipient_id: &str, aad: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + recipient_id.len() + aad.len());
    v.extend_from_slice(&(recipient_id.len() as u32).to_be_bytes());
    v.extend_from_slice(recipient_id.as_bytes());
    v.extend_from_slice(aad);
    v
}

fn check_recipients(recipients: &[Recipient]) -> Result<(), CryptoError> {
    if recipients.is_empty() {
        return Err(CryptoError::InvalidArgument("no recipients".into()));
    }
    if recipients.len() > MAX_RECIPIENTS {
        return Err(CryptoError::InvalidArgument(format!(
            "more than {MAX_RECIPIENTS} recipients"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for r in recipients {
        if r.id.is_empty() || r.id.len() > MAX_RECIPIENT_ID_LEN {
            return Err(CryptoError::InvalidArgument(
                "recipient id must be 1 to 255 bytes".into(),
            ));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(CryptoError::InvalidArgument(format!(
                "duplicate recipient id {:?}",
                r.id
            )));
        }
    }
    Ok(())
}

/// Wraps `key` for each recipient (HPKE base mode), binding each
/// recipient's id and `aad`.
pub fn wrap_key(
    key: &ContentKey,
    aad: &[u8],
    recipients: &[Recipient],
) -> Result<Vec<WrappedKey>, CryptoError> {
    check_recipients(recipients)?;
    let mut rng = os_rng();
    recipients
        .iter()
        .map(|r| {
            let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&r.public).map_err(|_| {
                CryptoError::BadKey(format!("recipient {:?}: invalid X25519 public key", r.id))
            })?;
            let (enc, ct) = hpke::single_shot_seal::<HpkeChaCha, HkdfSha256, Kem, _>(
                &OpModeS::Base,
                &pk,
                WRAP_INFO,
                key.as_bytes(),
                &wrap_aad(&r.id, aad),
                &mut rng,
            )
            .map_err(|_| {
                CryptoError::BadKey(format!(
                    "recipient {:?}: X25519 public key of small order",
                    r.id
                ))
            })?;
            Ok(WrappedKey {
                recipient: r.id.clone(),
                enc: enc.to_bytes().to_vec(),
                ct,
            })
        })
        .collect()
}

/// Unwraps the content key filed for `my_id` with `me`'s X25519 secret.
/// Fails with [`CryptoError::Open`] if there is no entry for `my_id` or no
/// entry opens (wrong key, tampered entry, different `aad`).
pub fn unwrap_key(
    wrapped: &[WrappedKey],
    aad: &[u8],
    my_id: &str,
    me: &Identity,
) -> Result<ContentKey, CryptoError> {
    let secret = me.x25519_secret_bytes();
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(secret.as_ref())
        .map_err(|_| CryptoError::Open)?;
    let waad = wrap_aad(my_id, aad);
    for w in wrapped.iter().filter(|w| w.recipient == my_id) {
        if w.enc.len() != 32 || w.ct.len() != 32 + TAG_LEN {
            continue;
        }
        let Ok(enc) = <Kem as hpke::Kem>::EncappedKey::from_bytes(&w.enc) else {
            continue;
        };
        if let Ok(pt) = hpke::single_shot_open::<HpkeChaCha, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &enc,
            WRAP_INFO,
            &w.ct,
            &waad,
        ) {
            let pt = Zeroizing::new(pt);
            let bytes: [u8; 32] = pt.as_slice().try_into().map_err(|_| CryptoError::Open)?;
            return Ok(ContentKey::from_bytes(bytes));
        }
    }
    Err(CryptoError::Open)
}

/// Seals `plaintext` to `recipients`, binding `aad` (a caller-given header)
/// to the payload and to every wrapped key.
pub fn seal(plaintext: &[u8], aad: &[u8], recipients: &[Recipient]) -> Result<Sealed, CryptoError> {
    let key = ContentKey::generate();
    let wrapped = wrap_key(&key, aad, recipients)?;
    let body = seal_with_key(&key, aad, plaintext)?;
    Ok(Sealed {
        wrapped,
        nonce: body.nonce,
        ciphertext: body.ciphertext,
    })
}

/// Opens a [`Sealed`] payload as recipient `my_id` holding identity `me`,
/// with the same `aad` it was sealed with. Any failure is
/// [`CryptoError::Open`], without detail.
pub fn open(
    sealed: &Sealed,
    aad: &[u8],
    my_id: &str,
    me: &Identity,
) -> Result<Vec<u8>, CryptoError> {
    let key = unwrap_key(&sealed.wrapped, aad, my_id, me)?;
    open_body(&key, aad, &sealed.nonce, &sealed.ciphertext)
}

impl Sealed {
    /// The recipient ids this payload is sealed to.
    pub fn recipients(&self) -> impl Iterator<Item = &str> {
        self.wrapped.iter().map(|w| w.recipient.as_str())
    }
}
