//! The compiled policy and the questions the rest of the system asks it: which roles carry a
//! permission, who may request or delegate what, which rules judge a grant, and whether a role
//! would break a separation-of-duties set.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::TimeDelta;

use super::access_model::AccessModel;
use super::entries::{
    BreakGlassEntry, DelegationEntry, Eligibility, RoleDefinition, Separation, SeparationMode,
    Webhook,
};
use super::problems::PolicyProblems;
use super::review_campaigns::ReviewPolicy;
use super::rules::Rule;
use super::{DEMO_POLICY, compile};
use crate::domain::{
    GrantId, GroupName, Identity, Permission, RoleName, Scope, ScopePattern, Subject,
};

/// Why a role may not be delegated on a scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotDelegable {
    /// No delegation entry names the role.
    Role,
    /// Entries name the role, but not on this scope.
    Scope {
        /// The patterns it may be delegated on.
        allowed: Vec<String>,
    },
}

/// A role the subject holds or could hold, as far as separation of duties is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Holding<'a> {
    /// A grant that has not ended.
    Grant(GrantId, &'a RoleName),
    /// A standing role from the subject's token.
    Standing(&'a RoleName),
    /// A role the subject is eligible to request (matters for static sets only).
    Eligible(&'a RoleName),
}

/// Why a role would break a separation-of-duties set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeparationConflict {
    /// The set.
    pub set: String,
    /// The role already held (or eligible for).
    pub role: RoleName,
    /// The conflicting grant, when a grant is the conflict.
    pub grant: Option<GrantId>,
    /// How the conflicting role is held: `grant`, `standing role`, `eligibility`.
    pub held_as: &'static str,
}

impl std::fmt::Display for SeparationConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.grant {
            Some(grant) => write!(
                f,
                "sod_conflict: separation of duties {:?} forbids combining it with {} held through grant {grant}",
                self.set, self.role
            ),
            None => write!(
                f,
                "sod_conflict: separation of duties {:?} forbids combining it with {} ({})",
                self.set, self.role, self.held_as
            ),
        }
    }
}

/// Why a request is not eligible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// The role does not exist.
    UnknownRole,
    /// No entry lets this subject request the role.
    NotEligible,
    /// Entries let the subject request the role, but not on this scope.
    ScopeNotEligible {
        /// The patterns the subject may request the role on.
        allowed: Vec<String>,
    },
}

/// A map a Check looks up by text on every call (the permission's roles, whether a role has
/// rules, a permission's condition). Hashed with foldhash, seeded per process: SipHash was a
/// tenth of a cached decision (BENCHMARKS.md). The keys are the policy's own names; a lookup
/// by a caller's text that no key matches costs one hash and no more.
pub(crate) type CheckLookup<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A validated, compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub(super) version: u64,
    pub(super) source: Arc<str>,
    pub(super) roles: HashMap<RoleName, RoleDefinition>,
    pub(super) roles_by_permission: CheckLookup<Permission, Vec<RoleName>>,
    pub(super) eligibility: Vec<Eligibility>,
    pub(super) max_duration_ceiling: TimeDelta,
    pub(super) request_rules: Vec<Arc<Rule>>,
    pub(super) grant_rules: Vec<Arc<Rule>>,
    pub(super) separations: Vec<Separation>,
    pub(super) delegations: Vec<DelegationEntry>,
    pub(super) webhooks: Vec<Webhook>,
    /// Roles whose grants are judged by rules at Check time, and whether a rule reads risk.
    pub(super) ruled_roles: CheckLookup<RoleName, bool>,
    /// Whether any grant rule reads risk (most policies: no, and Checks skip the lookup).
    pub(super) any_rule_reads_risk: bool,
    /// The directory, resource scopes and permission conditions.
    pub(super) access: AccessModel,
    /// Emergency access, reviewed afterwards.
    pub(super) break_glass: Vec<BreakGlassEntry>,
    /// Access review campaign definitions and role owners.
    pub(super) reviews: ReviewPolicy,
}

impl Policy {
    /// Parses and validates `source`, reporting every problem.
    pub fn parse(source: &str, version: u64) -> Result<Policy, PolicyProblems> {
        compile::compile(source, version)
    }

    /// The built-in demo policy.
    pub fn demo() -> Policy {
        // The demo document ships inside the binary and a unit test parses it, so it is valid.
        Policy::parse(DEMO_POLICY, 1).expect("the built-in demo policy is valid")
    }

    /// The access review campaigns and role owners (the `reviews` section).
    pub fn reviews(&self) -> &ReviewPolicy {
        &self.reviews
    }

    /// The version number.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The same policy under the version the store gave it: a writer compiles a document once,
    /// before the store numbers it, and puts that compiled policy in force after the commit.
    pub fn stored_as(mut self, version: u64) -> Policy {
        self.version = version;
        self
    }

    /// The document it was compiled from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A role's definition.
    pub fn role(&self, name: &str) -> Option<&RoleDefinition> {
        self.roles.get(name)
    }

    /// What the policy says about access questions: the file's directory, resource scopes,
    /// permission conditions.
    pub fn access(&self) -> &AccessModel {
        &self.access
    }

    /// Every role.
    pub fn roles(&self) -> impl Iterator<Item = &RoleDefinition> {
        self.roles.values()
    }

    /// The roles that carry `permission` (the hot path's first lookup).
    pub fn roles_with_permission(&self, permission: &str) -> &[RoleName] {
        self.roles_by_permission
            .get(permission)
            .map_or(&[], Vec::as_slice)
    }

    /// Every eligibility entry.
    pub fn eligibility(&self) -> &[Eligibility] {
        &self.eligibility
    }

    /// The global ceiling on any access window.
    pub fn max_duration_ceiling(&self) -> TimeDelta {
        self.max_duration_ceiling
    }

    /// Rules every request must pass.
    pub fn request_rules(&self) -> &[Arc<Rule>] {
        &self.request_rules
    }

    /// Whether a grant of `role` is judged by rules at Check time.
    pub fn has_grant_rules(&self, role: &str) -> bool {
        !self.ruled_roles.is_empty() && self.ruled_roles.contains_key(role)
    }

    /// Whether a Check for `permission` may need the subject's risk signals.
    pub fn permission_reads_risk(&self, permission: &str) -> bool {
        if !self.any_rule_reads_risk {
            return false;
        }
        self.roles_with_permission(permission).iter().any(|role| {
            self.ruled_roles
                .get(role.as_str())
                .copied()
                .unwrap_or(false)
        })
    }

    /// The rules a grant of `role` on `scope` must pass: the global grant rules, those of every
    /// eligibility entry for the role whose scopes match, and, for a delegated grant, those of
    /// every delegation entry for the role whose scopes match.
    pub fn grant_rules_for<'p>(
        &'p self,
        role: &'p RoleName,
        scope: &'p Scope,
        delegated: bool,
    ) -> impl Iterator<Item = &'p Arc<Rule>> + 'p {
        let covers = move |patterns: &[ScopePattern]| patterns.iter().any(|p| p.matches(scope));
        let eligibility = self
            .eligibility
            .iter()
            .filter(move |entry| {
                &entry.role == role && !entry.grant_rules.is_empty() && covers(&entry.scopes)
            })
            .flat_map(|entry| entry.grant_rules.iter());
        let delegation = self
            .delegations
            .iter()
            .filter(move |entry| {
                delegated
                    && &entry.role == role
                    && !entry.grant_rules.is_empty()
                    && covers(&entry.scopes)
            })
            .flat_map(|entry| entry.grant_rules.iter());
        self.grant_rules.iter().chain(eligibility).chain(delegation)
    }

    /// The delegation entry that lets `role` be delegated on `scope`.
    pub fn delegation_for(
        &self,
        role: &RoleName,
        scope: &Scope,
    ) -> Result<&DelegationEntry, NotDelegable> {
        let entries: Vec<&DelegationEntry> = self
            .delegations
            .iter()
            .filter(|entry| &entry.role == role)
            .collect();
        if entries.is_empty() {
            return Err(NotDelegable::Role);
        }
        entries
            .iter()
            .find(|entry| entry.scopes.iter().any(|pattern| pattern.matches(scope)))
            .copied()
            .ok_or_else(|| NotDelegable::Scope {
                allowed: entries
                    .iter()
                    .flat_map(|entry| entry.scopes.iter().map(|p| p.as_str().to_owned()))
                    .collect(),
            })
    }

    /// Every break-glass entry.
    pub fn break_glass_entries(&self) -> &[BreakGlassEntry] {
        &self.break_glass
    }

    /// The break-glass entry called `name`.
    pub fn break_glass_entry(&self, name: &str) -> Option<&BreakGlassEntry> {
        self.break_glass.iter().find(|entry| entry.name == name)
    }

    /// Where audit actions are announced.
    pub fn webhooks(&self) -> &[Webhook] {
        &self.webhooks
    }

    /// The separation-of-duties sets.
    pub fn separations(&self) -> &[Separation] {
        &self.separations
    }

    /// The first set that taking `role` would break, given what the subject holds.
    pub fn separation_conflict<'h>(
        &self,
        role: &RoleName,
        holdings: impl IntoIterator<Item = Holding<'h>>,
    ) -> Option<SeparationConflict> {
        // Filtered twice rather than collected: this runs on every allowed Check under a
        // policy with separation sets, and a collected list cost an allocation each time.
        let sets = || {
            self.separations
                .iter()
                .filter(|set| set.roles.contains(role))
        };
        sets().next()?;
        for holding in holdings {
            let (held, grant, held_as, counts_for_dynamic) = match holding {
                Holding::Grant(grant, held) => (held, Some(grant), "grant", true),
                Holding::Standing(held) => (held, None, "standing role", true),
                Holding::Eligible(held) => (held, None, "eligibility", false),
            };
            if held == role {
                continue;
            }
            let breaks = sets().find(|set| {
                set.roles.contains(held)
                    && (counts_for_dynamic || set.mode == SeparationMode::Static)
            });
            if let Some(set) = breaks {
                return Some(SeparationConflict {
                    set: set.name.clone(),
                    role: held.clone(),
                    grant,
                    held_as,
                });
            }
        }
        None
    }

    /// The roles `subject` with `groups` may request somewhere (for static separation sets).
    pub fn eligible_roles(&self, subject: &Subject, groups: &[GroupName]) -> Vec<&RoleName> {
        let mut roles: Vec<&RoleName> = self
            .eligibility
            .iter()
            .filter(|entry| entry.admits_subject(subject, groups))
            .map(|entry| &entry.role)
            .collect();
        roles.sort();
        roles.dedup();
        roles
    }

    /// The first entry that lets a requester, judged by the claims recorded when it asked
    /// (it is not around at approval, nor before its grant starts), have `role` on `scope`.
    pub fn recorded_eligibility(
        &self,
        requester: &Subject,
        groups: &[GroupName],
        role: &RoleName,
        scope: &Scope,
    ) -> Option<&Eligibility> {
        self.eligibility.iter().find(|entry| {
            &entry.role == role && entry.admits_subject(requester, groups) && entry.covers(scope)
        })
    }

    /// The first entry that lets `who` request `role` on `scope`.
    pub fn eligibility_for(
        &self,
        who: &Identity,
        role: &RoleName,
        scope: &Scope,
    ) -> Result<&Eligibility, Ineligible> {
        if !self.roles.contains_key(role) {
            return Err(Ineligible::UnknownRole);
        }
        let entries: Vec<&Eligibility> = self
            .eligibility
            .iter()
            .filter(|entry| &entry.role == role && entry.admits(who))
            .collect();
        if entries.is_empty() {
            return Err(Ineligible::NotEligible);
        }
        entries
            .iter()
            .find(|entry| entry.covers(scope))
            .copied()
            .ok_or_else(|| Ineligible::ScopeNotEligible {
                allowed: entries
                    .iter()
                    .flat_map(|entry| entry.scopes.iter().map(|p| p.as_str().to_owned()))
                    .collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::elevation::tests::identity;

    #[test]
    fn the_demo_policy_is_valid() {
        let policy = Policy::demo();
        assert_eq!(
            policy.roles_with_permission("purchase_orders.approve"),
            &[RoleName::parse("admin_approver").unwrap()]
        );
        assert_eq!(
            policy.roles_with_permission("purchase_orders.read").len(),
            2
        );
        assert!(policy.roles_with_permission("nothing").is_empty());
    }

    #[test]
    fn eligibility_follows_role_group_and_scope() {
        let policy = Policy::demo();
        let fatma = identity("fatma", &["procurement-staff"]);
        let role = RoleName::parse("admin_approver").unwrap();
        let entry = policy
            .eligibility_for(
                &fatma,
                &role,
                &Scope::parse("Org:Procurement/PO:1").unwrap(),
            )
            .unwrap();
        assert_eq!(entry.max_duration, TimeDelta::hours(2));
        assert!(entry.session_bound);
        assert!(entry.require_reason);
        assert_eq!(
            policy
                .eligibility_for(&fatma, &role, &Scope::parse("Org:Procurement2").unwrap())
                .unwrap_err(),
            Ineligible::ScopeNotEligible {
                allowed: vec!["Org:Procurement/**".into()]
            }
        );
        let outsider = identity("mallory", &["sales"]);
        assert_eq!(
            policy
                .eligibility_for(&outsider, &role, &Scope::parse("Org:Procurement").unwrap())
                .unwrap_err(),
            Ineligible::NotEligible
        );
        assert_eq!(
            policy
                .eligibility_for(
                    &fatma,
                    &RoleName::parse("root").unwrap(),
                    &Scope::parse("Org:Procurement").unwrap()
                )
                .unwrap_err(),
            Ineligible::UnknownRole
        );
    }

    #[test]
    fn a_delegation_entry_binds_to_the_delegatees_session_unless_it_says_none() {
        let source = |binding: &str| {
            format!(
                "roles:\n  auditor: {{ permissions: [audit.read] }}\neligibility: []\n\
                 delegation:\n  - role: auditor\n    scopes: [\"Org:A/**\"]\n{binding}"
            )
        };
        let entry = |binding: &str| {
            let policy = Policy::parse(&source(binding), 1).unwrap();
            let role = RoleName::parse("auditor").unwrap();
            let scope = Scope::parse("Org:A").unwrap();
            policy.delegation_for(&role, &scope).unwrap().session_bound
        };
        assert!(entry(""));
        assert!(entry("    session_binding: session\n"));
        assert!(!entry("    session_binding: none\n"));
        let problems = Policy::parse(&source("    session_binding: sometimes\n"), 1)
            .unwrap_err()
            .0;
        assert_eq!(problems[0].path, "delegation[0].session_binding");
    }
}
