//! Local users of a node, their roles and the files they are assigned to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Invalid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the node: users, peers, channels. Reads no record content.
    Admin,
    /// Liaison officer: records, messages, shares, releases, channels.
    Officer,
    /// Records, search and screening in assigned files.
    Analyst,
    /// Oversight: reads and verifies the audit log. Reads no record content.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Officer, Role::Analyst, Role::Auditor];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Officer => "officer",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let l = s.trim().to_ascii_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == l)
            .ok_or_else(|| {
                Invalid::new(format!(
                    "{s:?} is not a role: use admin, officer, analyst or auditor"
                ))
            })
    }
}

/// Who is acting: the node's operator at the command line (holds the node
/// directory, so holds the node's full authority) or a local API user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator,
    User(User),
}

impl Actor {
    /// The name written in audit entries.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Operator => "operator".to_string(),
            Actor::User(u) => format!("user:{}", u.name),
        }
    }
}

/// Lifetime of an API token when none is asked for.
pub const TOKEN_DEFAULT_DAYS: i64 = 90;
/// The longest lifetime a token may be given: every token dies by itself.
pub const TOKEN_MAX_DAYS: i64 = 366;

/// When a token issued at `now` expires: `requested` is `Nd` (N days), a
/// date (`2027-01-31`, midnight UTC) or an RFC 3339 date-time; none means
/// [`TOKEN_DEFAULT_DAYS`]. It must lie in the future and at most
/// [`TOKEN_MAX_DAYS`] ahead.
pub fn token_expiry(
    now: crate::time::Instant,
    requested: Option<&str>,
) -> Result<crate::time::Instant, Invalid> {
    let t = match requested.map(str::trim) {
        None => now + chrono::Duration::days(TOKEN_DEFAULT_DAYS),
        Some(r) => match r.strip_suffix('d').map(str::parse::<i64>) {
            Some(Ok(days)) if (1..=TOKEN_MAX_DAYS).contains(&days) => {
                now + chrono::Duration::days(days)
            }
            Some(_) => {
                return Err(Invalid::new(format!(
                    "token lifetime {r:?}: give 1d to {TOKEN_MAX_DAYS}d"
                )))
            }
            None => crate::time::parse_instant(r)?,
        },
    };
    if t <= now {
        return Err(Invalid::new(format!(
            "token expiry {} is not in the future",
            crate::time::format(&t)
        )));
    }
    if t > now + chrono::Duration::days(TOKEN_MAX_DAYS) {
        return Err(Invalid::new(format!(
            "token expiry {} is more than {TOKEN_MAX_DAYS} days ahead",
            crate::time::format(&t)
        )));
    }
    Ok(t)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// Files (committees) this user may see; sorted, unique.
    pub files: Vec<String>,
}

impl User {
    pub fn new(name: &str, role: Role, files: &[String]) -> Result<User, Invalid> {
        crate::ids::check_id("user name", name)?;
        let mut files: Vec<String> = files
            .iter()
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect();
        for f in &files {
            crate::ids::check_id("file", f)?;
        }
        files.sort();
        files.dedup();
        Ok(User {
            name: name.to_string(),
            role,
            files,
        })
    }

    pub fn has_file(&self, file: &str) -> bool {
        self.files.iter().any(|f| f == file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_expiry_defaults_bounds_and_forms() {
        let now = crate::time::parse_instant("2026-01-01T00:00:00Z").unwrap();
        let f = |r| token_expiry(now, r).map(|t| crate::time::format(&t));
        assert_eq!(f(None).unwrap(), "2026-04-01T00:00:00Z");
        assert_eq!(f(Some("30d")).unwrap(), "2026-01-31T00:00:00Z");
        assert_eq!(f(Some("2026-02-01")).unwrap(), "2026-02-01T00:00:00Z");
        for bad in [
            "0d",
            "-1d",
            "367d",
            "xd",
            "2025-12-31",
            "2026-01-01",
            "2030-01-01",
            "soon",
        ] {
            assert!(f(Some(bad)).is_err(), "{bad}");
        }
    }
}
