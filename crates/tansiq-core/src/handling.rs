//! Handling: how a record may be used and passed on. TLP 2.0 for the
//! audience, a SIENA-style handling code for onward dissemination, the
//! Admiralty evaluation codes, and retention.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

/// Traffic Light Protocol 2.0. Ordered from least to most restrictive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "clear")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
}

impl fmt::Display for Tlp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tlp {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let l = s.trim().to_ascii_lowercase();
        let l = l.strip_prefix("tlp:").unwrap_or(&l);
        Tlp::ALL
            .into_iter()
            .find(|t| t.as_str() == l)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "{s:?} is not a TLP level: use clear, green, amber, amber+strict or red"
                ))
            })
    }
}

/// Onward-dissemination codes, after Europol SIENA's H0–H3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum HandlingCode {
    /// H0: may be passed on to other channels by holders (TLP still applies).
    #[serde(rename = "H0")]
    NoRestriction,
    /// H1: may be passed on, but not used as evidence in judicial proceedings
    /// without the originator's consent.
    #[serde(rename = "H1")]
    NotForEvidence,
    /// H2 (the default): no onward dissemination without the originator's
    /// consent — the third-party rule.
    #[default]
    #[serde(rename = "H2")]
    OriginatorConsent,
    /// H3: H2 plus conditions stated in the record's handling note.
    #[serde(rename = "H3")]
    Restricted,
}

impl HandlingCode {
    pub fn as_str(self) -> &'static str {
        match self {
            HandlingCode::NoRestriction => "H0",
            HandlingCode::NotForEvidence => "H1",
            HandlingCode::OriginatorConsent => "H2",
            HandlingCode::Restricted => "H3",
        }
    }

    /// Whether a holder needs the originator's release to pass the record
    /// on beyond the channel it was given in.
    pub fn needs_release(self) -> bool {
        matches!(
            self,
            HandlingCode::OriginatorConsent | HandlingCode::Restricted
        )
    }
}

impl FromStr for HandlingCode {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_uppercase().as_str() {
            "H0" => Ok(HandlingCode::NoRestriction),
            "H1" => Ok(HandlingCode::NotForEvidence),
            "H2" => Ok(HandlingCode::OriginatorConsent),
            "H3" => Ok(HandlingCode::Restricted),
            _ => Err(Invalid::new(format!(
                "{s:?} is not a handling code: use H0, H1, H2 (default) or H3"
            ))),
        }
    }
}

/// Admiralty (NATO AJP-2.1) evaluation: source reliability A–F and
/// information credibility 1–6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Evaluation {
    pub reliability: char,
    pub credibility: u8,
}

impl FromStr for Evaluation {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = s.trim().to_ascii_uppercase();
        let mut chars = t.chars();
        let (r, c) = (chars.next(), chars.next());
        match (r, c, chars.next()) {
            (Some(r @ 'A'..='F'), Some(c @ '1'..='6'), None) => Ok(Evaluation {
                reliability: r,
                credibility: c as u8 - b'0',
            }),
            _ => Err(Invalid::new(format!(
                "{s:?} is not an evaluation code: source reliability A-F then credibility 1-6, e.g. B2"
            ))),
        }
    }
}

impl TryFrom<String> for Evaluation {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl From<Evaluation> for String {
    fn from(e: Evaluation) -> String {
        format!("{}{}", e.reliability, e.credibility)
    }
}

/// The handling block every record version carries and signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handling {
    pub tlp: Tlp,
    pub code: HandlingCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// Conditions that come with H3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Default for Handling {
    fn default() -> Self {
        Handling {
            tlp: Tlp::Amber,
            code: HandlingCode::OriginatorConsent,
            evaluation: None,
            note: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_parse_table() {
        for (s, t) in [
            ("clear", Tlp::Clear),
            ("GREEN", Tlp::Green),
            ("amber", Tlp::Amber),
            ("amber+strict", Tlp::AmberStrict),
            ("TLP:RED", Tlp::Red),
        ] {
            assert_eq!(s.parse::<Tlp>().unwrap(), t, "{s}");
            assert_eq!(t.as_str().parse::<Tlp>().unwrap(), t);
        }
        assert!("white".parse::<Tlp>().is_err());
        assert!(Tlp::Clear < Tlp::Red);
    }

    #[test]
    fn evaluation_table() {
        for ok in ["A1", "b2", "F6"] {
            assert!(ok.parse::<Evaluation>().is_ok(), "{ok}");
        }
        for bad in ["G1", "A7", "A", "A12", "", "1A"] {
            assert!(bad.parse::<Evaluation>().is_err(), "{bad}");
        }
        let e: Evaluation = "B2".parse().unwrap();
        assert_eq!(serde_json::to_value(e).unwrap(), serde_json::json!("B2"));
    }

    #[test]
    fn handling_serialises_compactly() {
        let h = Handling::default();
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            serde_json::json!({"tlp": "amber", "code": "H2"})
        );
    }
}
