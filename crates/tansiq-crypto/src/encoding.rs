//! Base64 as used on the wire: RFC 4648 §5 URL-safe alphabet, no padding.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::CryptoError;

/// Encodes bytes as URL-safe base64 without padding (RFC 4648 §5).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes URL-safe base64 without padding. Strict: rejects padding,
/// whitespace, the standard alphabet's `+` and `/`, and non-canonical
/// trailing bits, so every byte string has exactly one accepted encoding.
pub fn b64_decode(s: &str) -> Result<Vec<u8>, CryptoError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| CryptoError::Encoding(format!("invalid base64url: {e}")))
}

/// Decodes URL-safe base64 (as [`b64_decode`]) into exactly `N` bytes.
pub fn b64_decode_array<const N: usize>(s: &str) -> Result<[u8; N], CryptoError> {
    // Reject over-long input before allocating.
    if s.len() > (N * 4).div_ceil(3) {
        return Err(CryptoError::Encoding(format!(
            "expected {N} bytes of base64url, got {} characters",
            s.len()
        )));
    }
    let v = b64_decode(s)?;
    v.as_slice().try_into().map_err(|_| {
        CryptoError::Encoding(format!("expected {N} bytes of base64url, got {}", v.len()))
    })
}

/// Serde helpers: `#[serde(with = "tansiq_crypto::serde_b64")]`-style modules
/// used by this crate's wire structs.
pub(crate) mod serde_b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::b64_decode(&s).map_err(serde::de::Error::custom)
    }
}

pub(crate) mod serde_b64_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::b64_decode_array::<N>(&s).map_err(serde::de::Error::custom)
    }
}
