//! Handling: how a record may be used and passed on. TLP 2.0 for the
//! audience, a SIENA-style handling code for onward dissemination, the
//! Admiralty and Europol 4×4 evaluation codes, and retention.

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

/// The grading scheme an [`Evaluation`] is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EvaluationScheme {
    /// Admiralty (NATO AJP-2.1): source reliability A–F, information
    /// credibility 1–6. Written bare: `B2`.
    Admiralty,
    /// Europol's 4×4: source reliability A, B, C or X, information
    /// assessment 1–4. Written with the `EU:` prefix: `EU:X3`.
    Europol,
}

/// Prefix that names the Europol 4×4 scheme in an evaluation code.
pub const EUROPOL_PREFIX: &str = "EU:";

/// An evaluation: source reliability and information credibility, in the
/// Admiralty scheme (`B2`, as every record before Europol codes were
/// accepted) or Europol's 4×4 (`EU:X3`). The text form is what records
/// carry and sign; a bare code is always Admiralty so existing records
/// keep their meaning, and `X1`–`X4` (X exists only in the 4×4) are read
/// as Europol and written back as `EU:X…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Evaluation {
    pub scheme: EvaluationScheme,
    pub reliability: char,
    pub credibility: u8,
}

impl Evaluation {
    /// Source reliability: best first.
    pub fn reliabilities(scheme: EvaluationScheme) -> &'static [char] {
        match scheme {
            EvaluationScheme::Admiralty => &['A', 'B', 'C', 'D', 'E', 'F'],
            EvaluationScheme::Europol => &['A', 'B', 'C', 'X'],
        }
    }

    /// Highest (worst) information grade of the scheme; 1 is best.
    pub fn max_credibility(scheme: EvaluationScheme) -> u8 {
        match scheme {
            EvaluationScheme::Admiralty => 6,
            EvaluationScheme::Europol => 4,
        }
    }

    /// A checked evaluation in `scheme`.
    pub fn new(
        scheme: EvaluationScheme,
        reliability: char,
        credibility: u8,
    ) -> Result<Self, Invalid> {
        let r = reliability.to_ascii_uppercase();
        if Self::reliabilities(scheme).contains(&r)
            && (1..=Self::max_credibility(scheme)).contains(&credibility)
        {
            Ok(Evaluation {
                scheme,
                reliability: r,
                credibility,
            })
        } else {
            Err(Self::invalid(&format!("{reliability}{credibility}")))
        }
    }

    fn invalid(s: &str) -> Invalid {
        Invalid::new(format!(
            "{s:?} is not an evaluation code: Admiralty source reliability A-F then credibility 1-6 (e.g. B2), \
             or Europol 4x4 EU: then source A, B, C or X and information 1-4 (e.g. EU:X3)"
        ))
    }
}

impl FromStr for Evaluation {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = s.trim().to_ascii_uppercase();
        let (scheme, code) = match t.strip_prefix(EUROPOL_PREFIX) {
            Some(rest) => (EvaluationScheme::Europol, rest),
            None if t.starts_with('X') => (EvaluationScheme::Europol, t.as_str()),
            None => (EvaluationScheme::Admiralty, t.as_str()),
        };
        let mut chars = code.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some(r), Some(c @ '1'..='9'), None) => {
                Evaluation::new(scheme, r, c as u8 - b'0').map_err(|_| Self::invalid(s))
            }
            _ => Err(Self::invalid(s)),
        }
    }
}

impl fmt::Display for Evaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.scheme == EvaluationScheme::Europol {
            f.write_str(EUROPOL_PREFIX)?;
        }
        write!(f, "{}{}", self.reliability, self.credibility)
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
        e.to_string()
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
        assert_eq!(e.scheme, EvaluationScheme::Admiralty);
        assert_eq!(serde_json::to_value(e).unwrap(), serde_json::json!("B2"));
    }

    #[test]
    fn europol_4x4_table() {
        // (input, scheme, text form written back)
        for (s, scheme, out) in [
            ("EU:A1", EvaluationScheme::Europol, "EU:A1"),
            ("eu:x4", EvaluationScheme::Europol, "EU:X4"),
            (" EU:C2 ", EvaluationScheme::Europol, "EU:C2"),
            ("X3", EvaluationScheme::Europol, "EU:X3"),
            ("x1", EvaluationScheme::Europol, "EU:X1"),
            // a bare code stays Admiralty: existing records keep their meaning
            ("A1", EvaluationScheme::Admiralty, "A1"),
            ("C4", EvaluationScheme::Admiralty, "C4"),
        ] {
            let e: Evaluation = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(e.scheme, scheme, "{s}");
            assert_eq!(e.to_string(), out, "{s}");
            let back: Evaluation =
                serde_json::from_value(serde_json::to_value(e).unwrap()).unwrap();
            assert_eq!(back, e, "{s}");
        }
        // Europol has no D-F source and no information grade above 4;
        // Admiralty has no X.
        for bad in [
            "EU:D1", "EU:A5", "EU:F6", "X5", "X0", "EU:", "EU:X", "EU:X12", "EU:1X", "EUX3", "A0",
        ] {
            let e = bad
                .parse::<Evaluation>()
                .err()
                .map(|e| e.0)
                .unwrap_or_default();
            assert!(e.contains("EU:X3") && e.contains("B2"), "{bad}: {e}");
        }
        assert!(serde_json::from_value::<Evaluation>(serde_json::json!("EU:D1")).is_err());
    }

    #[test]
    fn every_existing_admiralty_code_reads_as_before() {
        for r in ['A', 'B', 'C', 'D', 'E', 'F'] {
            for c in 1..=6u8 {
                let s = format!("{r}{c}");
                let e: Evaluation = s.parse().unwrap();
                assert_eq!(
                    (e.scheme, e.reliability, e.credibility),
                    (EvaluationScheme::Admiralty, r, c)
                );
                assert_eq!(serde_json::to_value(e).unwrap(), serde_json::json!(s));
            }
        }
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
