//! Time in Tansiq: UTC instants printed as RFC 3339 with second precision
//! (`2026-11-29T02:14:32Z`) so every implementation signs the same bytes.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

use crate::error::Invalid;

pub type Instant = DateTime<Utc>;

/// Now, truncated to whole seconds (what gets signed).
pub fn now() -> Instant {
    let n = Utc::now();
    Utc.timestamp_opt(n.timestamp(), 0)
        .single()
        .expect("whole seconds of a valid instant are valid")
}

pub fn format(t: &Instant) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an ISO 8601 date (`2027-01-31`, meaning midnight UTC) or an
/// RFC 3339 date-time.
pub fn parse_instant(s: &str) -> Result<Instant, Invalid> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let dt = d.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(Utc.from_utc_datetime(&dt));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| {
            let u = d.with_timezone(&Utc);
            Utc.timestamp_opt(u.timestamp(), 0).single().unwrap_or(u)
        })
        .map_err(|_| {
            Invalid::new(format!(
                "{s:?} is not an ISO 8601 date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)"
            ))
        })
}

/// A possibly partial calendar date as lists give them: `1962`,
/// `1962-02` or `1962-02-01`. Returned unchanged when valid.
pub fn check_partial_date(s: &str) -> Result<(), Invalid> {
    let bad = || {
        Invalid::new(format!(
            "{s:?} is not a date: expected YYYY, YYYY-MM or YYYY-MM-DD"
        ))
    };
    let parts: Vec<&str> = s.split('-').collect();
    let num = |p: &str, len: usize| -> Result<u32, Invalid> {
        if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    match parts.as_slice() {
        [y] => {
            num(y, 4)?;
        }
        [y, m] => {
            num(y, 4)?;
            let m = num(m, 2)?;
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
        }
        [y, m, d] => {
            num(y, 4)?;
            num(m, 2)?;
            num(d, 2)?;
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| bad())?;
        }
        _ => return Err(bad()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_dates() {
        for ok in ["1962", "1962-02", "1962-02-01", "2000-02-29"] {
            assert!(check_partial_date(ok).is_ok(), "{ok}");
        }
        for bad in [
            "62",
            "1962-13",
            "1962-02-30",
            "1962/02/01",
            "",
            "abcd",
            "1962-2-1",
        ] {
            assert!(check_partial_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants() {
        assert_eq!(
            format(&parse_instant("2027-01-31").unwrap()),
            "2027-01-31T00:00:00Z"
        );
        assert_eq!(
            format(&parse_instant("2027-01-31T10:00:00+01:00").unwrap()),
            "2027-01-31T09:00:00Z"
        );
        assert!(parse_instant("31/01/2027").is_err());
    }
}
