//! Validated identifiers: node ids, channel ids, envelope ids and kinds.
//!
//! Every id that crosses the wire is parsed into one of these newtypes, so
//! code holding a [`NodeId`] knows it is 1–80 characters of
//! `[A-Za-z0-9_.-]` (the rule of `tansiq_core::ids::check_id`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DecodeError;

fn check(field: &'static str, s: &str) -> Result<(), DecodeError> {
    tansiq_core::ids::check_id(field, s).map_err(|_| DecodeError::Invalid {
        field,
        why: "1-80 characters of letters, digits, '_', '-', '.'",
    })
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident, $field:literal) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses an id, checking its alphabet and length.
            pub fn new(s: impl Into<String>) -> Result<Self, DecodeError> {
                let s = s.into();
                check($field, &s)?;
                Ok(Self(s))
            }
            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                if s.len() > 80 {
                    return Err(serde::de::Error::custom(concat!($field, ": longer than 80 bytes")));
                }
                Self::new(s.into_owned()).map_err(serde::de::Error::custom)
            }
        }
        impl std::str::FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, DecodeError> {
                Self::new(s)
            }
        }
    };
}

string_id!(
    /// A node id (in production `tq` + 16 base32 characters, see
    /// `tansiq_crypto::node_id_from_key`; the engine accepts any valid id).
    NodeId,
    "node id"
);
string_id!(
    /// A channel id.
    ChannelId,
    "channel id"
);

/// What an envelope carries, as far as routing is concerned: the engine
/// treats every kind alike. 1–32 characters of `[a-z0-9_]`; unknown kinds
/// are carried unchanged (a newer peer may define more).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind(String);

impl Kind {
    /// A record version (person, organisation, incident, …).
    pub const RECORD: &'static str = "record";
    /// A liaison message.
    pub const MESSAGE: &'static str = "message";
    /// A liaison-message acknowledgement (application level).
    pub const ACK: &'static str = "ack";
    /// A charter version.
    pub const CHARTER: &'static str = "charter";
    /// A release (or a release request / refusal).
    pub const RELEASE: &'static str = "release";

    /// Parses a kind.
    pub fn new(s: impl Into<String>) -> Result<Kind, DecodeError> {
        let s = s.into();
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Kind(s))
        } else {
            Err(DecodeError::Invalid {
                field: "kind",
                why: "1-32 characters of a-z, 0-9, '_'",
            })
        }
    }
    /// The kind as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        if s.len() > 32 {
            return Err(serde::de::Error::custom("kind: longer than 32 bytes"));
        }
        Kind::new(s.into_owned()).map_err(serde::de::Error::custom)
    }
}

/// An envelope id: SHA-256 over the canonical header and the body's hash
/// (see [`crate::Envelope`]). On the wire: 43 characters of base64url.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EnvelopeId(pub [u8; 32]);

impl EnvelopeId {
    /// The all-zero id: the `prev` of a stream's first envelope.
    pub const ZERO: EnvelopeId = EnvelopeId([0; 32]);

    /// Base64url of the 32 bytes.
    pub fn to_b64(&self) -> String {
        tansiq_crypto::b64(self.0)
    }
    /// Lower-case hex (for logs and SQL keys).
    pub fn to_hex(&self) -> String {
        hex_lower(&self.0)
    }
    /// Parses base64url.
    pub fn from_b64(s: &str) -> Result<EnvelopeId, DecodeError> {
        tansiq_crypto::b64_decode_array::<32>(s)
            .map(EnvelopeId)
            .map_err(|_| DecodeError::Invalid {
                field: "envelope id",
                why: "32 bytes of base64url",
            })
    }
}

pub(crate) fn hex_lower(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "env:{}", &self.to_hex()[..12])
    }
}
impl fmt::Display for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl Serialize for EnvelopeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_b64())
    }
}
impl<'de> Deserialize<'de> for EnvelopeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        EnvelopeId::from_b64(&s).map_err(serde::de::Error::custom)
    }
}
