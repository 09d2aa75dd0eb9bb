//! The verified caller: who a bearer token says it is, after its signature, algorithm and
//! lifetime were checked. Nothing else in a request may name the caller.

use chrono::{DateTime, Utc};

use super::names::{GroupName, RoleName, SessionId, Subject};
use super::scope::Scope;

/// A role the identity provider gives a subject permanently, read from the token's `roles`
/// claim: `role` (everywhere) or `role@Type:Name/...` (on that scope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingRole {
    /// The role.
    pub role: RoleName,
    /// Where it applies; `None` means everywhere.
    pub scope: Option<Scope>,
}

impl StandingRole {
    /// Reads one `roles` entry; entries that are not role names (such as `elevator:check`
    /// service roles with unusual spelling) are simply not standing roles.
    pub fn parse(entry: &str) -> Option<StandingRole> {
        match entry.split_once('@') {
            Some((role, scope)) => Some(StandingRole {
                role: RoleName::parse(role).ok()?,
                scope: Some(Scope::parse(scope).ok()?),
            }),
            None => Some(StandingRole {
                role: RoleName::parse(entry).ok()?,
                scope: None,
            }),
        }
    }

    /// Whether it applies to `resource`.
    pub fn covers(&self, resource: &str) -> bool {
        self.scope
            .as_ref()
            .is_none_or(|scope| scope.covers(resource))
    }
}

/// A verified identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`.
    pub subject: Subject,
    /// The token's `sid`, when present.
    pub session: Option<SessionId>,
    /// The token's `groups`.
    pub groups: Vec<GroupName>,
    /// The token's `roles`: standing roles (`role` or `role@Scope`) and service roles such as
    /// `elevator:check`.
    pub roles: Vec<String>,
    /// The standing roles among `roles`, parsed once when the token was verified.
    pub standing_roles: Vec<StandingRole>,
    /// The token's `manager` claim: who approves as this subject's manager.
    pub manager: Option<Subject>,
    /// The token's `amr`: how the subject authenticated.
    pub amr: Vec<String>,
    /// The token's `exp`.
    pub expires_at: DateTime<Utc>,
    /// The token's `iss`, when present.
    pub issuer: Option<String>,
}

impl Identity {
    /// Whether the token carries `role` in its `roles` claim.
    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|held| held == role)
    }

    /// Whether the token lists `group`.
    pub(crate) fn in_group(&self, group: &GroupName) -> bool {
        self.groups.contains(group)
    }
}
