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
