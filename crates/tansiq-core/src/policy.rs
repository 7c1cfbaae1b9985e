//! The policy module: every access and sharing decision Tansiq makes.
//!
//! Pure functions of plain data. The store turns [`read_scope`] into its
//! query filters (so a user never receives, counts or searches a record it
//! may not see), the node calls [`authorize`], [`may_read`], [`may_write`]
//! and [`may_share`] before acting, and the receiving side of federation
//! calls [`may_share`] again on what arrives. Nothing else decides.

use std::fmt;

use crate::handling::{HandlingCode, Tlp};
use crate::user::{Actor, Role};

/// Something an actor wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ReadRecord,
    WriteRecord,
    ShareRecord,
    RequestRelease,
    DecideRelease,
    SendMessage,
    ReadMessages,
    ManageUsers,
    ManagePeers,
    ManageChannels,
    ReadChannels,
    ReadAudit,
    MakeCheckpoint,
    Screen,
    /// Ask a partner whether it holds a person (private hit/no-hit).
    QueryPartner,
    /// Expose a watchlist file to a partner's hit/no-hit queries.
    ExposeList,
}

impl Action {
    pub const ALL: [Action; 16] = [
        Action::ReadRecord,
        Action::WriteRecord,
        Action::ShareRecord,
        Action::RequestRelease,
        Action::DecideRelease,
        Action::SendMessage,
        Action::ReadMessages,
        Action::ManageUsers,
        Action::ManagePeers,
        Action::ManageChannels,
        Action::ReadChannels,
        Action::ReadAudit,
        Action::MakeCheckpoint,
        Action::Screen,
        Action::QueryPartner,
        Action::ExposeList,
    ];

    fn describe(self) -> &'static str {
        match self {
            Action::ReadRecord => "read records",
            Action::WriteRecord => "create or change records",
            Action::ShareRecord => "share records into other channels",
            Action::RequestRelease => "request releases",
            Action::DecideRelease => "grant or refuse releases",
            Action::SendMessage => "send liaison messages",
            Action::ReadMessages => "read liaison messages",
            Action::ManageUsers => "manage users",
            Action::ManagePeers => "manage peers",
            Action::ManageChannels => "create or accept channels",
            Action::ReadChannels => "list channels",
            Action::ReadAudit => "read the audit log",
            Action::MakeCheckpoint => "make audit checkpoints",
            Action::Screen => "screen names",
            Action::QueryPartner => "ask partners hit/no-hit queries",
            Action::ExposeList => "expose watchlist files to partners' hit/no-hit queries",
        }
    }
}

/// The rule behind a refusal; its name appears in every refusal message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Role,
    NeedToKnow,
    Handling,
    ThirdParty,
    Membership,
    OriginatorOnly,
    /// A partner may ask hit/no-hit queries only of files exposed to it.
    Exposure,
    /// Hit/no-hit evaluations are rationed per partner.
    RateLimit,
    /// Record access (files, reading roles) is granted by the operator at
    /// the node alone; an API user grants nothing it does not hold.
    Grant,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Role => "role rule",
            Rule::NeedToKnow => "need-to-know rule",
            Rule::Handling => "handling rule",
            Rule::ThirdParty => "third-party rule",
            Rule::Membership => "channel membership rule",
            Rule::OriginatorOnly => "originator-only rule",
            Rule::Exposure => "hit/no-hit exposure rule",
            Rule::RateLimit => "hit/no-hit rate limit",
            Rule::Grant => "grant rule",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused by the {}: {}", self.rule.name(), self.reason)
    }
}

impl std::error::Error for Refusal {}

fn refuse<T>(rule: Rule, reason: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal {
        rule,
        reason: reason.into(),
    })
}

/// The role table. The operator (shell access to the node directory)
/// holds the node's full authority.
pub fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => matches!(
            action,
            ManageUsers | ManagePeers | ManageChannels | ReadChannels | ReadAudit | MakeCheckpoint
        ),
        Role::Officer => matches!(
            action,
            ReadRecord
                | WriteRecord
                | ShareRecord
                | RequestRelease
                | DecideRelease
                | SendMessage
                | ReadMessages
                | ManageChannels
                | ReadChannels
                | Screen
                | QueryPartner
                | ExposeList
        ),
        Role::Analyst => matches!(
            action,
            ReadRecord | WriteRecord | ReadMessages | ReadChannels | Screen | QueryPartner
        ),
        Role::Auditor => matches!(action, ReadChannels | ReadAudit | MakeCheckpoint),
    }
}

/// May this actor perform this kind of action at all?
pub fn authorize(actor: &Actor, action: Action) -> Result<(), Refusal> {
    match actor {
        Actor::Operator => Ok(()),
        Actor::User(u) if role_allows(u.role, action) => Ok(()),
        Actor::User(u) => refuse(
            Rule::Role,
            format!("the {} role may not {}", u.role, action.describe()),
        ),
    }
}

/// Who may create a user of `role` assigned to `files` — or rotate the
/// token of such a user, which hands the caller that user's powers.
///
/// The operator at the node (the CLI, holding the node directory) grants
/// anything. An API user — an admin — may grant only less than it holds:
/// a role none of whose actions its own role lacks, that cannot manage
/// users itself (so: auditors), and no files. So no API token, stolen or
/// misused, can mint a token that reads record content, nor a fellow
/// admin that outlives its own revocation: officers, analysts, admins
/// and every file assignment come from the operator.
pub fn may_grant(actor: &Actor, role: Role, files: &[String]) -> Result<(), Refusal> {
    authorize(actor, Action::ManageUsers)?;
    let Actor::User(u) = actor else {
        return Ok(());
    };
    if role_allows(role, Action::ManageUsers) {
        return refuse(
            Rule::Grant,
            format!(
                "the {} role may not grant the {role} role (it manages users); only the operator at the node (the tansiq CLI) may",
                u.role
            ),
        );
    }
    if let Some(a) = Action::ALL
        .into_iter()
        .find(|a| role_allows(role, *a) && !role_allows(u.role, *a))
    {
        return refuse(
            Rule::Grant,
            format!(
                "the {} role may not grant the {role} role (it may {}, which the {} role may not); only the operator at the node (the tansiq CLI) may",
                u.role,
                a.describe(),
                u.role
            ),
        );
    }
    if !files.is_empty() {
        return refuse(
            Rule::Grant,
            "only the operator at the node (the tansiq CLI) assigns files to users",
        );
    }
    Ok(())
}

/// May the actor remove a user or revoke its token? Any user manager may:
/// taking access away escalates nothing, and a compromised token must be
/// revocable at once by whoever is on duty.
pub fn may_revoke(actor: &Actor) -> Result<(), Refusal> {
    authorize(actor, Action::ManageUsers)
}

/// The most restrictive TLP a role may read inside the node. TLP:RED is
/// for named individuals: only officers (the liaison officers a partner
/// addresses) read it.
pub fn max_tlp(role: Role) -> Option<Tlp> {
    match role {
        Role::Officer => Some(Tlp::Red),
        Role::Analyst => Some(Tlp::AmberStrict),
        Role::Admin | Role::Auditor => None,
    }
}

/// What a record looks like to the policy.
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta<'a> {
    pub id: &'a str,
    pub originator: &'a str,
    pub channel: &'a str,
    pub file: &'a str,
    pub tlp: Tlp,
    pub code: HandlingCode,
}

/// The set of records an actor may see, as the store's queries apply it:
/// files in `files` (all files when `None`) with TLP at most `max_tlp`;
/// nothing at all when `max_tlp` is `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadScope {
    pub files: Option<Vec<String>>,
    pub max_tlp: Option<Tlp>,
}

impl ReadScope {
    pub fn everything() -> ReadScope {
        ReadScope {
            files: None,
            max_tlp: Some(Tlp::Red),
        }
    }

    pub fn admits(&self, file: &str, tlp: Tlp) -> bool {
        let Some(max) = self.max_tlp else {
            return false;
        };
        tlp <= max
            && self
                .files
                .as_ref()
                .is_none_or(|fs| fs.iter().any(|f| f == file))
    }

    /// TLP levels admitted, for SQL `IN (…)` filters.
    pub fn tlps(&self) -> Vec<Tlp> {
        Tlp::ALL
            .into_iter()
            .filter(|t| self.max_tlp.is_some_and(|m| *t <= m))
            .collect()
    }
}

pub fn read_scope(actor: &Actor) -> ReadScope {
    match actor {
        Actor::Operator => ReadScope::everything(),
        Actor::User(u) => ReadScope {
            files: Some(u.files.clone()),
            max_tlp: if role_allows(u.role, Action::ReadRecord) {
                max_tlp(u.role)
            } else {
                None
            },
        },
    }
}

/// May the actor read this record? Agrees with [`read_scope`] by
/// construction (tested exhaustively).
pub fn may_read(actor: &Actor, rec: &RecordMeta) -> Result<(), Refusal> {
    authorize(actor, Action::ReadRecord)?;
    check_file_and_tlp(actor, rec.file, rec.tlp)
}

fn check_file_and_tlp(actor: &Actor, file: &str, tlp: Tlp) -> Result<(), Refusal> {
    let Actor::User(u) = actor else {
        return Ok(());
    };
    if !u.has_file(file) {
        return refuse(
            Rule::NeedToKnow,
            format!("user {} is not assigned to file {file}", u.name),
        );
    }
    if max_tlp(u.role).is_none_or(|m| tlp > m) {
        return refuse(
            Rule::Handling,
            format!(
                "TLP:{} records are not readable by the {} role",
                tlp.as_str().to_uppercase(),
                u.role
            ),
        );
    }
    Ok(())
}

/// May the actor create (`existing` = None) or change this node's record?
/// Changes (new versions, retraction) are for the originator alone.
pub fn may_write(
    actor: &Actor,
    this_node: &str,
    file: &str,
    tlp: Tlp,
    existing: Option<&RecordMeta>,
) -> Result<(), Refusal> {
    authorize(actor, Action::WriteRecord)?;
    if let Some(rec) = existing {
        if rec.originator != this_node {
            return refuse(
                Rule::OriginatorOnly,
                format!(
                    "record {} was created by node {}; only its originator may change it",
                    rec.id, rec.originator
                ),
            );
        }
        check_file_and_tlp(actor, rec.file, rec.tlp)?;
    }
    check_file_and_tlp(actor, file, tlp)
}

/// One record whose third-party rule a share must respect: the record being
/// shared, or one it is derived from.
#[derive(Debug, Clone)]
pub struct ShareSource<'a> {
    pub id: &'a str,
    pub originator: &'a str,
    /// The channel the record was given in, and its members as bound into
    /// the originator's signature.
    pub home_channel: &'a str,
    pub home_members: &'a [String],
    pub tlp: Tlp,
    pub code: HandlingCode,
    /// A release by the originator for the target channel, already
    /// verified against the originator's key.
    pub release: Option<&'a crate::release::Release>,
}

/// The third-party rule: may `sharer` pass these records into
/// `target_channel` whose members are `target_members`?
///
/// Allowed when, for every source: the sharer is its originator; or no
/// target member is outside the channel the record was given in; or the
/// record is H0/H1 and TLP:CLEAR/GREEN; or the originator released it to
/// this very channel and every current target member was named in that
/// release.
pub fn may_share(
    sharer: &str,
    sources: &[ShareSource],
    target_channel: &str,
    target_members: &[String],
) -> Result<(), Refusal> {
    for s in sources {
        if s.originator == sharer {
            continue;
        }
        let outside: Vec<&String> = target_members
            .iter()
            .filter(|m| !s.home_members.contains(m))
            .collect();
        if outside.is_empty() {
            continue;
        }
        if !s.code.needs_release() && s.tlp <= Tlp::Green {
            continue;
        }
        if let Some(r) = s.release {
            let covers = r.record == s.id
                && r.originator == s.originator
                && r.target_channel == target_channel
                && target_members.iter().all(|m| r.target_members.contains(m));
            if covers {
                continue;
            }
            return refuse(
                Rule::ThirdParty,
                format!(
                    "the release for record {} does not cover every current member of channel {target_channel}; ask {} for a new release",
                    s.id, s.originator
                ),
            );
        }
        let names: Vec<&str> = outside.iter().map(|s| s.as_str()).collect();
        return refuse(
            Rule::ThirdParty,
            format!(
                "record {} was given by {} in channel {}; channel {target_channel} includes {} outside it. Ask the originator: tansiq release request {} --channel {target_channel}",
                s.id,
                s.originator,
                s.home_channel,
                names.join(", "),
                s.id
            ),
        );
    }
    Ok(())
}

/// The member an export destination has: whoever reads a STIX file or
/// polls TAXII — outside every channel, so never a home member.
pub const EXTERNAL_MEMBER: &str = "external";

/// The destination a node's exports (STIX files, TAXII answers) go to,
/// as the third-party rule sees it: a channel of its own, `export:<node>`,
/// whose only member is [`EXTERNAL_MEMBER`]. An originator consents to
/// one holder's exports by a release naming this channel.
pub fn export_destination(node: &str) -> String {
    format!("export:{node}")
}

/// Whether `channel` names an export destination (and of which node).
pub fn export_destination_of(channel: &str) -> Option<&str> {
    channel.strip_prefix("export:").filter(|n| !n.is_empty())
}

/// The export rule: may `exporter` let these records (one and what it is
/// derived from) leave the federation? The third-party rule with the
/// exporter's [`export_destination`] as target: its own records always;
/// another node's only when H0/H1 and TLP:CLEAR/GREEN, or released by
/// their originator to that destination.
pub fn may_export(exporter: &str, sources: &[ShareSource]) -> Result<(), Refusal> {
    let target = export_destination(exporter);
    may_share(exporter, sources, &target, &[EXTERNAL_MEMBER.to_string()])
}

/// The most restrictive TLP a hit/no-hit answer may be given for.
/// TLP:RED is addressed to named individuals; an automated answer to a
/// partner agency's query is not, so a RED record is never exposed.
pub const MAX_EXPOSED_TLP: Tlp = Tlp::AmberStrict;

/// What the hit/no-hit exposure rule needs to know of a record placed in
/// an exposed channel and file.
#[derive(Debug, Clone, Copy)]
pub struct ExposeCandidate<'a> {
    pub id: &'a str,
    pub originator: &'a str,
    pub tlp: Tlp,
    pub code: HandlingCode,
    /// The originators of every record it is `derived_from`,
    /// transitively, as this node holds them; `None` when the chain could
    /// not be followed to its end (a source this node does not hold, or a
    /// chain too long to walk) — then nothing is known, and it is refused.
    pub derived_from: Option<&'a [String]>,
}

/// The hit/no-hit exposure rule for one record: may `holder` answer a
/// partner's hit/no-hit queries about it (it is in a channel and file the
/// holder exposed to that partner)?
///
/// A holder answers only for what it originated itself: a hit on another
/// agency's record tells the querier what that agency holds, which is the
/// originator's to disclose (no release expresses that consent yet —
/// docs/POLICY.md). Nor for a record derived from another agency's, for
/// the same reason. Among its own records, never TLP:RED (for named
/// individuals only) and never H3 (conditions in a note the software
/// cannot check): to expose one, its originator lowers its marking with a
/// new version, a deliberate and audited act.
pub fn may_expose(holder: &str, rec: &ExposeCandidate) -> Result<(), Refusal> {
    if rec.originator != holder {
        return refuse(
            Rule::Exposure,
            format!(
                "record {} was given by {}; a holder answers hit/no-hit queries only for its own records",
                rec.id, rec.originator
            ),
        );
    }
    if rec.tlp > MAX_EXPOSED_TLP {
        return refuse(
            Rule::Exposure,
            format!(
                "record {} is TLP:{}; hit/no-hit never answers for it",
                rec.id,
                rec.tlp.as_str().to_uppercase()
            ),
        );
    }
    if rec.code == HandlingCode::Restricted {
        return refuse(
            Rule::Exposure,
            format!(
                "record {} is H3 (conditions of use); hit/no-hit never answers for it",
                rec.id
            ),
        );
    }
    match rec.derived_from {
        None => refuse(
            Rule::Exposure,
            format!(
                "record {} is derived from records this node cannot fully trace",
                rec.id
            ),
        ),
        Some(origs) => match origs.iter().find(|o| *o != holder) {
            Some(o) => refuse(
                Rule::Exposure,
                format!(
                    "record {} is derived from a record given by {o}; hit/no-hit would answer for it",
                    rec.id
                ),
            ),
            None => Ok(()),
        },
    }
}

/// A partner's hit/no-hit evaluation budget: a token bucket holding at
/// most `capacity` evaluations and refilled at `capacity` per hour, so a
/// partner can test at most `capacity` keys an hour however it spreads
/// them (docs/PRIVACY.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HitBudget {
    pub capacity: i64,
    pub tokens: i64,
    pub refilled_ms: i64,
}

/// Takes `n` evaluations from the budget at `now_ms`: the new budget, or
/// a refusal saying when enough will have accrued.
pub fn hit_budget_take(b: HitBudget, now_ms: i64, n: i64) -> Result<HitBudget, Refusal> {
    const HOUR_MS: i128 = 3_600_000;
    let cap = b.capacity.max(0);
    let elapsed = (now_ms - b.refilled_ms).max(0) as i128;
    let accrued = (elapsed * cap as i128 / HOUR_MS) as i64;
    let tokens = b.tokens.clamp(0, cap).saturating_add(accrued).min(cap);
    // Advance the refill clock only by the time that bought whole tokens,
    // so frequent small requests do not lose fractions.
    let refilled_ms = if tokens == cap || cap == 0 {
        now_ms
    } else {
        b.refilled_ms + (accrued as i128 * HOUR_MS / cap as i128) as i64
    };
    if n > cap {
        return refuse(
            Rule::RateLimit,
            format!("a request of {n} evaluations exceeds the hourly budget of {cap}"),
        );
    }
    if n > tokens {
        let need = (n - tokens) as i128 * HOUR_MS;
        let wait_ms = ((need + cap as i128 - 1) / cap as i128) as i64;
        return refuse(
            Rule::RateLimit,
            format!(
                "{tokens} of {cap} hourly evaluations left; retry in {} s",
                (wait_ms + 999) / 1000
            ),
        );
    }
    Ok(HitBudget {
        capacity: cap,
        tokens: tokens - n,
        refilled_ms,
    })
}

/// Only the originator grants or refuses a release of its record.
pub fn may_decide_release(actor: &Actor, this_node: &str, originator: &str) -> Result<(), Refusal> {
    authorize(actor, Action::DecideRelease)?;
    if originator != this_node {
        return refuse(
            Rule::OriginatorOnly,
            format!("only the originator ({originator}) may release its record"),
        );
    }
    Ok(())
}

/// A node may place records and messages only in channels it is an
/// active member of, in files of that channel.
pub fn may_post(
    this_node: &str,
    members: &[String],
    active: bool,
    files: &[String],
    file: &str,
    channel: &str,
) -> Result<(), Refusal> {
    if !members.iter().any(|m| m == this_node) {
        return refuse(
            Rule::Membership,
            format!("this node is not a member of channel {channel}"),
        );
    }
    if !active {
        return refuse(
            Rule::Membership,
            format!("channel {channel} is pending: every member must sign its charter first (tansiq channel accept)"),
        );
    }
    if !files.iter().any(|f| f == file) {
        return refuse(
            Rule::Membership,
            format!(
                "channel {channel} has no file {file} (its files: {})",
                files.join(", ")
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::Release;
    use crate::user::User;

    fn user(role: Role, files: &[&str]) -> Actor {
        Actor::User(
            User::new(
                "u1",
                role,
                &files.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .unwrap(),
        )
    }

    fn meta(file: &'static str, tlp: Tlp) -> RecordMeta<'static> {
        RecordMeta {
            id: "rec_1",
            originator: "tqdz",
            channel: "ch_1",
            file,
            tlp,
            code: HandlingCode::OriginatorConsent,
        }
    }

    #[test]
    fn only_the_operator_grants_record_access() {
        let files = vec!["terrorism".to_string()];
        for role in Role::ALL {
            assert!(may_grant(&Actor::Operator, role, &files).is_ok());
        }
        let admin = user(Role::Admin, &["terrorism", "recruitment"]);
        // an admin grants less than it holds: auditors, no files
        assert!(may_grant(&admin, Role::Auditor, &[]).is_ok());
        for role in [Role::Officer, Role::Analyst, Role::Admin] {
            let r = may_grant(&admin, role, &[]).unwrap_err();
            assert_eq!(r.rule, Rule::Grant, "{role}");
        }
        for role in Role::ALL {
            // files, even its own, are never an API user's to give
            let r = may_grant(&admin, role, &files).unwrap_err();
            assert_eq!(r.rule, Rule::Grant, "{role}");
        }
        // roles that may not manage users grant nothing at all
        for role in [Role::Officer, Role::Analyst, Role::Auditor] {
            let actor = user(role, &["terrorism"]);
            for target in Role::ALL {
                assert_eq!(may_grant(&actor, target, &[]).unwrap_err().rule, Rule::Role);
            }
            assert_eq!(may_revoke(&actor).unwrap_err().rule, Rule::Role);
        }
        assert!(may_revoke(&admin).is_ok());
        assert!(may_revoke(&Actor::Operator).is_ok());
    }

    /// Expected read access, one line per role: for an assigned file, the
    /// answer at clear, green, amber, amber+strict, red ('R' = may read).
    const READ_TABLE: &[(Role, &str)] = &[
        (Role::Admin, "-----"),
        (Role::Officer, "RRRRR"),
        (Role::Analyst, "RRRR-"),
        (Role::Auditor, "-----"),
    ];

    #[test]
    fn read_table_every_role_file_and_tlp() {
        for (role, row) in READ_TABLE {
            for assigned in [true, false] {
                let actor = user(
                    *role,
                    if assigned {
                        &["terrorism"]
                    } else {
                        &["recruitment"]
                    },
                );
                let scope = read_scope(&actor);
                for (tlp, cell) in Tlp::ALL.into_iter().zip(row.chars()) {
                    let expected = assigned && cell == 'R';
                    let got = may_read(&actor, &meta("terrorism", tlp));
                    assert_eq!(
                        got.is_ok(),
                        expected,
                        "{role} assigned={assigned} {tlp}: {got:?}"
                    );
                    // the SQL filter says exactly the same
                    assert_eq!(
                        scope.admits("terrorism", tlp),
                        expected,
                        "scope {role} {assigned} {tlp}"
                    );
                    if let Err(r) = got {
                        let rule_ok = match (*role, assigned) {
                            (Role::Admin | Role::Auditor, _) => r.rule == Rule::Role,
                            (_, false) => r.rule == Rule::NeedToKnow,
                            _ => r.rule == Rule::Handling,
                        };
                        assert!(rule_ok, "{role} {assigned} {tlp}: {r}");
                    }
                }
            }
        }
        let op = Actor::Operator;
        for tlp in Tlp::ALL {
            assert!(may_read(&op, &meta("x", tlp)).is_ok());
            assert!(read_scope(&op).admits("x", tlp));
        }
    }

    /// Role × action table: rows are roles, columns follow `Action::ALL`.
    const ROLE_TABLE: &[(Role, &str)] = &[
        (Role::Admin, "-------MMMMMM---"),
        (Role::Officer, "MMMMMMM--MM--MMM"),
        (Role::Analyst, "MM----M---M--MM-"),
        (Role::Auditor, "----------MMM---"),
    ];

    #[test]
    fn role_table_every_role_and_action() {
        for (role, row) in ROLE_TABLE {
            assert_eq!(row.len(), Action::ALL.len());
            for (action, cell) in Action::ALL.into_iter().zip(row.chars()) {
                assert_eq!(role_allows(*role, action), cell == 'M', "{role} {action:?}");
                let r = authorize(&user(*role, &[]), action);
                assert_eq!(r.is_ok(), cell == 'M');
                if let Err(r) = r {
                    assert!(r.to_string().contains("role rule"));
                }
            }
        }
    }

    #[test]
    fn hit_budget_refills_and_refuses() {
        let full = HitBudget {
            capacity: 3600,
            tokens: 3600,
            refilled_ms: 0,
        };
        let b = hit_budget_take(full, 0, 3000).unwrap();
        assert_eq!(b.tokens, 600);
        let r = hit_budget_take(b, 0, 601).unwrap_err();
        assert_eq!(r.rule, Rule::RateLimit);
        assert!(r.to_string().contains("retry in 1 s"), "{r}");
        // One token a second accrues.
        let b = hit_budget_take(b, 10_000, 610).unwrap();
        assert_eq!(b.tokens, 0);
        // Fractions are not lost across many small takes.
        let mut b = HitBudget {
            capacity: 3600,
            tokens: 0,
            refilled_ms: 0,
        };
        for t in 1..=100 {
            b = hit_budget_take(b, t * 1500, 1).unwrap_or(b);
        }
        assert_eq!(b.tokens + 100, 150, "{b:?}");
        // Never above capacity, never a request larger than capacity.
        let b = hit_budget_take(full, 10 * 3_600_000, 0).unwrap();
        assert_eq!(b.tokens, 3600);
        assert!(hit_budget_take(full, 0, 3601).is_err());
        let none = HitBudget {
            capacity: 0,
            tokens: 0,
            refilled_ms: 0,
        };
        assert!(hit_budget_take(none, 99, 1).is_err());
    }

    #[test]
    fn write_table() {
        let officer = user(Role::Officer, &["terrorism"]);
        let analyst = user(Role::Analyst, &["terrorism"]);
        let admin = user(Role::Admin, &["terrorism"]);
        // create
        assert!(may_write(&officer, "tqdz", "terrorism", Tlp::Red, None).is_ok());
        assert!(may_write(&analyst, "tqdz", "terrorism", Tlp::Amber, None).is_ok());
        assert_eq!(
            may_write(&analyst, "tqdz", "terrorism", Tlp::Red, None)
                .unwrap_err()
                .rule,
            Rule::Handling
        );
        assert_eq!(
            may_write(&analyst, "tqdz", "recruitment", Tlp::Amber, None)
                .unwrap_err()
                .rule,
            Rule::NeedToKnow
        );
        assert_eq!(
            may_write(&admin, "tqdz", "terrorism", Tlp::Amber, None)
                .unwrap_err()
                .rule,
            Rule::Role
        );
        // change: only the originator's node
        let mine = meta("terrorism", Tlp::Amber);
        assert!(may_write(&officer, "tqdz", "terrorism", Tlp::Amber, Some(&mine)).is_ok());
        assert_eq!(
            may_write(
                &Actor::Operator,
                "tqma",
                "terrorism",
                Tlp::Amber,
                Some(&mine)
            )
            .unwrap_err()
            .rule,
            Rule::OriginatorOnly
        );
        // moving a record to a file one is not assigned to is refused
        assert_eq!(
            may_write(&officer, "tqdz", "recruitment", Tlp::Amber, Some(&mine))
                .unwrap_err()
                .rule,
            Rule::NeedToKnow
        );
    }

    fn members(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn third_party_rule_table() {
        let home = members(&["tqdz", "tqma"]);
        let trilateral = members(&["tqdz", "tqma", "tqus"]);
        let release = Release {
            record: "rec_1".into(),
            originator: "tqdz".into(),
            target_channel: "ch_tri".into(),
            target_members: trilateral.clone(),
            conditions: None,
            granted: "2026-11-29T00:00:00Z".into(),
        };
        let src = |tlp, code, release| ShareSource {
            id: "rec_1",
            originator: "tqdz",
            home_channel: "ch_dzma",
            home_members: &home,
            tlp,
            code,
            release,
        };
        use HandlingCode::*;
        // (sharer, tlp, code, release?, target members, allowed)
        type Case<'a> = (&'a str, Tlp, HandlingCode, bool, Vec<String>, bool);
        let cases: Vec<Case> = vec![
            (
                "tqdz",
                Tlp::Red,
                OriginatorConsent,
                false,
                trilateral.clone(),
                true,
            ), // originator
            (
                "tqma",
                Tlp::Amber,
                OriginatorConsent,
                false,
                trilateral.clone(),
                false,
            ), // holder, no release
            (
                "tqma",
                Tlp::Amber,
                OriginatorConsent,
                true,
                trilateral.clone(),
                true,
            ), // holder, release
            (
                "tqma",
                Tlp::Amber,
                OriginatorConsent,
                false,
                members(&["tqma", "tqdz"]),
                true,
            ), // nobody new
            (
                "tqma",
                Tlp::Green,
                NoRestriction,
                false,
                trilateral.clone(),
                true,
            ), // H0 green
            (
                "tqma",
                Tlp::Amber,
                NoRestriction,
                false,
                trilateral.clone(),
                false,
            ), // H0 but amber
            (
                "tqma",
                Tlp::Clear,
                NotForEvidence,
                false,
                trilateral.clone(),
                true,
            ), // H1 clear
            (
                "tqma",
                Tlp::Clear,
                Restricted,
                false,
                trilateral.clone(),
                false,
            ), // H3
            (
                "tqma",
                Tlp::Amber,
                OriginatorConsent,
                true,
                members(&["tqdz", "tqma", "tqus", "tqfr"]),
                false,
            ), // member added since
        ];
        for (i, (sharer, tlp, code, rel, target, allowed)) in cases.into_iter().enumerate() {
            let s = src(tlp, code, rel.then_some(&release));
            let r = may_share(sharer, &[s], "ch_tri", &target);
            assert_eq!(r.is_ok(), allowed, "case {i}: {r:?}");
            if let Err(r) = r {
                assert_eq!(r.rule, Rule::ThirdParty);
                assert!(r.to_string().contains("third-party rule"));
            }
        }
        // a release for another channel does not count
        let mut other = release.clone();
        other.target_channel = "ch_other".into();
        let s = src(Tlp::Amber, OriginatorConsent, Some(&other));
        assert!(may_share("tqma", &[s], "ch_tri", &trilateral).is_err());
        // a derived record inherits the rule of its source
        let own_home = members(&["tqma", "tqus"]);
        let own = ShareSource {
            id: "rec_2",
            originator: "tqma",
            home_channel: "ch_maus",
            home_members: &own_home,
            tlp: Tlp::Amber,
            code: OriginatorConsent,
            release: None,
        };
        let source = src(Tlp::Amber, OriginatorConsent, None);
        assert!(may_share("tqma", std::slice::from_ref(&own), "ch_tri", &trilateral).is_ok());
        assert!(may_share("tqma", &[own, source], "ch_tri", &trilateral).is_err());
    }

    /// Exports follow the third-party rule to `export:<node>`: own
    /// records, H0/H1 CLEAR/GREEN ones, and those released to exactly
    /// this node's export destination.
    #[test]
    fn export_rule() {
        use HandlingCode::*;
        let home = members(&["tqdz", "tqma"]);
        let src = |tlp, code, release| ShareSource {
            id: "rec_1",
            originator: "tqdz",
            home_channel: "ch_dzma",
            home_members: &home,
            tlp,
            code,
            release,
        };
        let release = |to: &str| Release {
            record: "rec_1".into(),
            originator: "tqdz".into(),
            target_channel: export_destination(to),
            target_members: vec![EXTERNAL_MEMBER.into()],
            conditions: None,
            granted: "2026-12-04T00:00:00Z".into(),
        };
        assert!(may_export("tqdz", &[src(Tlp::Red, Restricted, None)]).is_ok());
        assert!(may_export("tqma", &[src(Tlp::Green, NoRestriction, None)]).is_ok());
        let r = may_export("tqma", &[src(Tlp::Amber, OriginatorConsent, None)]).unwrap_err();
        assert_eq!(r.rule, Rule::ThirdParty);
        assert!(r.reason.contains("export:tqma"), "{r}");
        let mine = release("tqma");
        assert!(may_export("tqma", &[src(Tlp::Amber, OriginatorConsent, Some(&mine))]).is_ok());
        // a release to another node's export destination does not count
        let theirs = release("tqus");
        assert!(may_export("tqma", &[src(Tlp::Amber, OriginatorConsent, Some(&theirs))]).is_err());
        assert_eq!(export_destination_of("export:tqma"), Some("tqma"));
        assert_eq!(export_destination_of("ch_x"), None);
        assert_eq!(export_destination_of("export:"), None);
    }

    /// Every originator × TLP × handling code × derivation case: only the
    /// holder's own records, TLP:AMBER+STRICT or below, not H3, derived
    /// from nothing but its own, are exposed.
    #[test]
    fn exposure_table() {
        use HandlingCode::*;
        let own = members(&["tqdz"]);
        let mixed = members(&["tqdz", "tqma"]);
        for originator in ["tqdz", "tqma"] {
            for tlp in Tlp::ALL {
                for code in [NoRestriction, NotForEvidence, OriginatorConsent, Restricted] {
                    for (derived, derived_ok) in [
                        (Some(&[][..]), true),
                        (Some(&own[..]), true),
                        (Some(&mixed[..]), false),
                        (None, false),
                    ] {
                        let c = ExposeCandidate {
                            id: "rec_1",
                            originator,
                            tlp,
                            code,
                            derived_from: derived,
                        };
                        let expected = originator == "tqdz"
                            && tlp != Tlp::Red
                            && code != Restricted
                            && derived_ok;
                        let r = may_expose("tqdz", &c);
                        assert_eq!(
                            r.is_ok(),
                            expected,
                            "{originator} {tlp} {code:?} {derived:?}"
                        );
                        if let Err(r) = r {
                            assert_eq!(r.rule, Rule::Exposure);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn posting_needs_active_membership_and_file() {
        let m = members(&["tqdz", "tqma"]);
        let f = members(&["terrorism"]);
        assert!(may_post("tqdz", &m, true, &f, "terrorism", "ch").is_ok());
        assert!(may_post("tqus", &m, true, &f, "terrorism", "ch").is_err());
        assert!(may_post("tqdz", &m, false, &f, "terrorism", "ch").is_err());
        assert!(may_post("tqdz", &m, true, &f, "finance", "ch").is_err());
    }
}
