//! The validated pieces a policy is made of: role definitions, eligibility entries, delegation
//! entries, separation-of-duties sets and webhook subscriptions, each as compiled from its
//! section of the document.

use std::sync::Arc;

use chrono::TimeDelta;

use super::rules::Rule;
use crate::domain::{
    ApprovalStep, GroupName, Identity, Permission, Reviewers, RoleName, Scope, ScopePattern,
    Subject,
};

/// A role's definition.
#[derive(Debug, Clone)]
pub struct RoleDefinition {
    /// Its name.
    pub name: RoleName,
    /// What it is for.
    pub description: String,
    /// What it carries.
    pub permissions: Vec<Permission>,
}

/// One eligibility entry, validated.
#[derive(Debug, Clone)]
pub struct Eligibility {
    /// Its position in the document.
    pub index: usize,
    /// The role.
    pub role: RoleName,
    /// Where it may be requested.
    pub scopes: Vec<ScopePattern>,
    /// Groups whose members may request.
    pub groups: Vec<GroupName>,
    /// Subjects who may request.
    pub users: Vec<Subject>,
    /// The longest access window.
    pub max_duration: TimeDelta,
    /// The shortest access window, if any.
    pub min_duration: Option<TimeDelta>,
    /// Rules a request must pass.
    pub request_rules: Vec<Arc<Rule>>,
    /// Rules the grant must pass at every Check.
    pub grant_rules: Vec<Arc<Rule>>,
    /// The approval window.
    pub request_ttl: TimeDelta,
    /// The approval chain.
    pub steps: Vec<ApprovalStep>,
    /// Whether a reason is required.
    pub require_reason: bool,
    /// Whether a ticket is required.
    pub require_ticket: bool,
    /// Whether grants are bound to the requester's session.
    pub session_bound: bool,
}

impl Eligibility {
    /// Whether `who` is among the entry's requesters.
    pub fn admits(&self, who: &Identity) -> bool {
        self.users.contains(&who.subject) || self.groups.iter().any(|group| who.in_group(group))
    }

    /// Whether `scope` matches one of the entry's patterns.
    pub fn covers(&self, scope: &Scope) -> bool {
        self.scopes.iter().any(|pattern| pattern.matches(scope))
    }

    /// Whether the entry lets a subject with `groups` request its role (while the subject
    /// itself is not around, as at activation).
    pub fn admits_subject(&self, subject: &Subject, groups: &[GroupName]) -> bool {
        self.users.contains(subject) || self.groups.iter().any(|group| groups.contains(group))
    }
}

/// How a separation-of-duties set constrains its roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeparationMode {
    /// One subject may not be eligible for, or hold, two roles of the set.
    Static,
    /// One subject may not have two roles of the set active at the same time.
    Dynamic,
}

/// A role that may be delegated, and how.
#[derive(Debug, Clone)]
pub struct DelegationEntry {
    /// Its position under `delegation`.
    pub index: usize,
    /// The role.
    pub role: RoleName,
    /// Where it may be delegated.
    pub scopes: Vec<ScopePattern>,
    /// Most delegations along one chain.
    pub max_depth: u32,
    /// Longest delegation, if capped.
    pub max_duration: Option<TimeDelta>,
    /// Approval chain; empty means the delegated grant is created at once.
    pub steps: Vec<ApprovalStep>,
    /// Rules delegated grants must pass at every Check.
    pub grant_rules: Vec<Arc<Rule>>,
    /// Whether delegated grants are taken up in, and bound to, a session of the delegatee.
    pub session_bound: bool,
}

/// Where an audit action is announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL.
    pub url: String,
    /// The audit actions announced (`*`: all).
    pub events: Vec<String>,
}

impl Webhook {
    /// Whether `action` is announced here.
    pub fn announces(&self, action: &str) -> bool {
        self.events
            .iter()
            .any(|event| event == "*" || event == action)
    }
}

/// A separation-of-duties set.
#[derive(Debug, Clone)]
pub struct Separation {
    /// Its name.
    pub name: String,
    /// The conflicting roles.
    pub roles: Vec<RoleName>,
    /// How they conflict.
    pub mode: SeparationMode,
}

/// A break-glass entry: who may activate which roles where at once, without approval, what a
/// use must say, how long it lasts, and who reviews it afterwards.
#[derive(Debug, Clone)]
pub struct BreakGlassEntry {
    /// Its position under `break_glass`.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// The roles it may activate.
    pub roles: Vec<RoleName>,
    /// Where.
    pub scopes: Vec<ScopePattern>,
    /// Who may use it (a condition at request time).
    pub condition: Arc<Rule>,
    /// Whether an incident reference is required.
    pub require_incident: bool,
    /// Whether a reason is required.
    pub require_reason: bool,
    /// The longest window.
    pub max_duration: TimeDelta,
    /// Who reviews each use.
    pub reviewers: Reviewers,
    /// How long a use may stay unreviewed.
    pub review_within: TimeDelta,
    /// Webhook URLs told of every use and flag.
    pub notify: Vec<String>,
    /// Whether a use proceeds although a request rule denies it.
    pub override_deny_rules: bool,
}

impl BreakGlassEntry {
    /// Whether the entry covers `role` on `scope`.
    pub fn covers(&self, role: &RoleName, scope: &Scope) -> bool {
        self.roles.contains(role) && self.scopes.iter().any(|pattern| pattern.matches(scope))
    }
}
