//! The policy: roles and their permissions, eligibility entries with their approval chains and
//! rules, separation-of-duties sets, and limits. A document is parsed and validated as a whole
//! ([`Policy::parse`]): every problem is reported with its place
//! (`eligibility[2].max_duration: ...`, and a line and column where one is known), and a
//! document with any problem never replaces the policy in force. Rules are compiled here, once
//! per policy version.

pub mod document;
pub mod rules;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::TimeDelta;

use crate::domain::{
    ApprovalStep, ApproverSpec, GrantId, GroupName, Identity, InvalidValue, Permission, RoleName,
    Scope, ScopePattern, Subject, parse_duration, shown,
};
use document::{EligibilityDocument, PolicyDocument, SeparationDocument, StepDocument};
use rules::{Moment, Rule};

/// Largest policy document accepted, in bytes.
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

/// The demo policy `elevator serve` uses in dev mode.
pub const DEMO_POLICY: &str = include_str!("demo.yaml");

const DEFAULT_MAX_DURATION_CEILING: TimeDelta = TimeDelta::hours(24);
const DEFAULT_REQUEST_TTL: TimeDelta = TimeDelta::hours(1);

/// One thing wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    /// Where: a path into the document, e.g. `eligibility[2].max_duration`.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
    /// 1-based line, when known (0 otherwise).
    pub line: u32,
    /// 1-based column, when known (0 otherwise).
    pub column: u32,
}

impl std::fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{} (line {}, column {}): {}",
                self.path, self.line, self.column, self.message
            )
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in a document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the policy has {} problem(s): {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyProblems(pub Vec<PolicyProblem>);

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

/// A validated, compiled policy.
#[derive(Debug)]
pub struct Policy {
    version: u64,
    source: Arc<str>,
    roles: HashMap<RoleName, RoleDefinition>,
    roles_by_permission: HashMap<Permission, Vec<RoleName>>,
    eligibility: Vec<Eligibility>,
    max_duration_ceiling: TimeDelta,
    request_rules: Vec<Arc<Rule>>,
    grant_rules: Vec<Arc<Rule>>,
    separations: Vec<Separation>,
    delegations: Vec<DelegationEntry>,
    webhooks: Vec<Webhook>,
    /// Roles whose grants are judged by rules at Check time, and whether a rule reads risk.
    ruled_roles: HashMap<RoleName, bool>,
    /// Whether any grant rule reads risk (most policies: no, and Checks skip the lookup).
    any_rule_reads_risk: bool,
}

impl Policy {
    /// Parses and validates `source`, reporting every problem.
    pub fn parse(source: &str, version: u64) -> Result<Policy, PolicyProblems> {
        if source.len() > MAX_POLICY_BYTES {
            return Err(PolicyProblems(vec![PolicyProblem {
                path: "(document)".into(),
                message: format!("a policy may be at most {MAX_POLICY_BYTES} bytes long"),
                line: 0,
                column: 0,
            }]));
        }
        let document: PolicyDocument = serde_yaml::from_str(source).map_err(|error| {
            let (line, column) = error
                .location()
                .map_or((0, 0), |at| (at.line() as u32, at.column() as u32));
            PolicyProblems(vec![PolicyProblem {
                path: "(document)".into(),
                message: error.to_string(),
                line,
                column,
            }])
        })?;
        compile(document, source, version)
    }

    /// The built-in demo policy.
    pub fn demo() -> Policy {
        Policy::parse(DEMO_POLICY, 1).expect("the built-in demo policy is valid")
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
        let sets: Vec<&Separation> = self
            .separations
            .iter()
            .filter(|set| set.roles.contains(role))
            .collect();
        if sets.is_empty() {
            return None;
        }
        for holding in holdings {
            let (held, grant, held_as, counts_for_dynamic) = match holding {
                Holding::Grant(grant, held) => (held, Some(grant), "grant", true),
                Holding::Standing(held) => (held, None, "standing role", true),
                Holding::Eligible(held) => (held, None, "eligibility", false),
            };
            if held == role {
                continue;
            }
            let breaks = sets.iter().find(|set| {
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

/// Collects problems while walking the document.
struct Problems(Vec<PolicyProblem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(PolicyProblem {
            path: path.into(),
            message: message.into(),
            line: 0,
            column: 0,
        });
    }

    fn check<T>(&mut self, path: impl Into<String>, result: Result<T, InvalidValue>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(InvalidValue(message)) => {
                self.add(path, message);
                None
            }
        }
    }

    fn duration(&mut self, path: String, text: &str) -> Option<TimeDelta> {
        let duration = self.check(path.clone(), parse_duration(text))?;
        if duration <= TimeDelta::zero() {
            self.add(path, "must be longer than zero");
            return None;
        }
        Some(duration)
    }
}

fn compile(document: PolicyDocument, source: &str, version: u64) -> Result<Policy, PolicyProblems> {
    let mut problems = Problems(Vec::new());

    let max_duration_ceiling = match &document.limits.max_duration {
        Some(text) => problems
            .duration("limits.max_duration".into(), text)
            .unwrap_or(DEFAULT_MAX_DURATION_CEILING),
        None => DEFAULT_MAX_DURATION_CEILING,
    };
    let default_request_ttl = match &document.limits.default_request_ttl {
        Some(text) => problems
            .duration("limits.default_request_ttl".into(), text)
            .unwrap_or(DEFAULT_REQUEST_TTL),
        None => DEFAULT_REQUEST_TTL,
    };

    let mut roles = HashMap::new();
    let mut roles_by_permission: HashMap<Permission, Vec<RoleName>> = HashMap::new();
    for (name, role) in &document.roles {
        let path = format!("roles.{name}");
        let Some(role_name) = problems.check(path.clone(), RoleName::parse(name)) else {
            continue;
        };
        if role.permissions.is_empty() {
            problems.add(
                format!("{path}.permissions"),
                "a role needs at least one permission",
            );
        }
        let mut permissions = Vec::new();
        for (index, permission) in role.permissions.iter().enumerate() {
            if let Some(permission) = problems.check(
                format!("{path}.permissions[{index}]"),
                Permission::parse(permission),
            ) {
                let holders = roles_by_permission.entry(permission.clone()).or_default();
                if !holders.contains(&role_name) {
                    holders.push(role_name.clone());
                }
                permissions.push(permission);
            }
        }
        roles.insert(
            role_name.clone(),
            RoleDefinition {
                name: role_name,
                description: role.description.clone(),
                permissions,
            },
        );
    }

    let locate = Locator { source };
    let request_rules = compile_rules(
        &document.request_rules,
        "request_rules",
        Moment::Request,
        &locate,
        &mut problems,
    );
    let grant_rules = compile_rules(
        &document.grant_rules,
        "grant_rules",
        Moment::Grant,
        &locate,
        &mut problems,
    );

    let mut eligibility = Vec::new();
    for (index, entry) in document.eligibility.iter().enumerate() {
        let path = format!("eligibility[{index}]");
        if let Some(compiled) = compile_eligibility(
            entry,
            index,
            &path,
            &roles,
            max_duration_ceiling,
            default_request_ttl,
            &locate,
            &mut problems,
        ) {
            eligibility.push(compiled);
        }
    }

    let delegations: Vec<DelegationEntry> = document
        .delegation
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| {
            compile_delegation(
                entry,
                index,
                &roles,
                max_duration_ceiling,
                &locate,
                &mut problems,
            )
        })
        .collect();
    let webhooks: Vec<Webhook> = document
        .webhooks
        .iter()
        .enumerate()
        .filter_map(|(index, hook)| {
            compile_webhook(hook, &format!("webhooks[{index}]"), &mut problems)
        })
        .collect();

    let separations: Vec<Separation> = document
        .separation_of_duties
        .iter()
        .enumerate()
        .filter_map(|(index, set)| {
            compile_separation(
                set,
                &format!("separation_of_duties[{index}]"),
                &roles,
                &mut problems,
            )
        })
        .collect();

    if !problems.0.is_empty() {
        return Err(PolicyProblems(problems.0));
    }
    let global_reads_risk = grant_rules.iter().any(|rule| rule.reads_risk());
    let mut ruled_roles: HashMap<RoleName, bool> = HashMap::new();
    for role in roles.keys() {
        let entry_rules = eligibility
            .iter()
            .filter(|entry: &&Eligibility| &entry.role == role)
            .flat_map(|entry| entry.grant_rules.iter())
            .chain(
                delegations
                    .iter()
                    .filter(|entry| &entry.role == role)
                    .flat_map(|entry| entry.grant_rules.iter()),
            );
        let mut any = !grant_rules.is_empty();
        let mut reads_risk = global_reads_risk;
        for rule in entry_rules {
            any = true;
            reads_risk |= rule.reads_risk();
        }
        if any {
            ruled_roles.insert(role.clone(), reads_risk);
        }
    }
    Ok(Policy {
        version,
        source: Arc::from(source),
        roles,
        roles_by_permission,
        eligibility,
        max_duration_ceiling,
        request_rules,
        grant_rules,
        separations,
        delegations,
        webhooks,
        any_rule_reads_risk: ruled_roles.values().any(|reads_risk| *reads_risk),
        ruled_roles,
    })
}

/// Finds where a rule's text stands in the document, to give its problems a line and column.
struct Locator<'a> {
    source: &'a str,
}

impl Locator<'_> {
    /// The document position of byte `offset` in `rule`, when the rule's text appears verbatim
    /// exactly once in the document.
    fn position(&self, rule: &str, line_in_rule: u32, column_in_rule: u32) -> Option<(u32, u32)> {
        let mut found = self.source.match_indices(rule);
        let (start, _) = found.next()?;
        if found.next().is_some() {
            return None;
        }
        let before = &self.source[..start];
        let line = before.matches('\n').count() as u32 + 1;
        let column = before
            .rfind('\n')
            .map_or(before.chars().count(), |n| before[n + 1..].chars().count())
            as u32
            + 1;
        Some(if line_in_rule <= 1 {
            (line, column + column_in_rule - 1)
        } else {
            (line + line_in_rule - 1, column_in_rule)
        })
    }
}

fn compile_rules(
    texts: &[String],
    path: &str,
    moment: Moment,
    locate: &Locator<'_>,
    problems: &mut Problems,
) -> Vec<Arc<Rule>> {
    texts
        .iter()
        .enumerate()
        .filter_map(|(index, text)| match Rule::parse(text, moment) {
            Ok(rule) => Some(Arc::new(rule)),
            Err(error) => {
                let (line, column) = locate
                    .position(text, error.line, error.column)
                    .unwrap_or((0, 0));
                problems.0.push(PolicyProblem {
                    path: format!("{path}[{index}]"),
                    message: format!(
                        "{} (rule line {}, column {})",
                        error.message, error.line, error.column
                    ),
                    line,
                    column,
                });
                None
            }
        })
        .collect()
}

fn compile_delegation(
    entry: &document::DelegationDocument,
    index: usize,
    roles: &HashMap<RoleName, RoleDefinition>,
    max_duration_ceiling: TimeDelta,
    locate: &Locator<'_>,
    problems: &mut Problems,
) -> Option<DelegationEntry> {
    let path = format!("delegation[{index}]");
    let problems_before = problems.0.len();
    let role = problems.check(format!("{path}.role"), RoleName::parse(&entry.role));
    if let Some(role) = &role
        && !roles.contains_key(role)
    {
        problems.add(
            format!("{path}.role"),
            format!("role {} is not defined under roles", shown(role.as_str())),
        );
    }
    if entry.scopes.is_empty() {
        problems.add(format!("{path}.scopes"), "list at least one scope pattern");
    }
    let scopes: Vec<ScopePattern> = entry
        .scopes
        .iter()
        .enumerate()
        .filter_map(|(i, pattern)| {
            problems.check(format!("{path}.scopes[{i}]"), ScopePattern::parse(pattern))
        })
        .collect();
    let max_depth = entry.max_depth.unwrap_or(1);
    if max_depth == 0 {
        problems.add(
            format!("{path}.max_depth"),
            "must be at least 1 (one delegation)",
        );
    }
    let max_duration = match &entry.max_duration {
        Some(text) => {
            let duration = problems.duration(format!("{path}.max_duration"), text);
            if let Some(duration) = duration
                && duration > max_duration_ceiling
            {
                problems.add(
                    format!("{path}.max_duration"),
                    "is above the global ceiling limits.max_duration",
                );
            }
            duration
        }
        None => None,
    };
    let mut step_names = HashSet::new();
    let steps: Vec<ApprovalStep> = entry
        .approval
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let step_path = format!("{path}.approval[{i}]");
            if !step_names.insert(step.step.clone()) {
                problems.add(
                    format!("{step_path}.step"),
                    format!("step name {} is used twice", shown(&step.step)),
                );
            }
            compile_step(step, &step_path, locate, problems)
        })
        .collect();
    let grant_rules = compile_rules(
        &entry.grant_rules,
        &format!("{path}.grant_rules"),
        Moment::Grant,
        locate,
        problems,
    );
    let session_bound = session_binding(
        entry.session_binding.as_deref(),
        &format!("{path}.session_binding"),
        problems,
    );
    if problems.0.len() > problems_before {
        return None;
    }
    Some(DelegationEntry {
        index,
        role: role?,
        scopes,
        max_depth,
        max_duration,
        steps,
        grant_rules,
        session_bound,
    })
}

/// Reads a `session_binding` setting: `session` (the default) binds, `none` does not. An unknown
/// value is a problem (and binds, failing closed).
fn session_binding(value: Option<&str>, path: &str, problems: &mut Problems) -> bool {
    match value {
        None | Some("session") => true,
        Some("none") => false,
        Some(other) => {
            problems.add(
                path.to_owned(),
                format!(
                    "{} is not a session binding; use session or none",
                    shown(other)
                ),
            );
            true
        }
    }
}

fn compile_webhook(
    hook: &document::WebhookDocument,
    path: &str,
    problems: &mut Problems,
) -> Option<Webhook> {
    let problems_before = problems.0.len();
    let scheme_ok = hook.url.starts_with("http://") || hook.url.starts_with("https://");
    if !scheme_ok
        || hook.url.len() > 2048
        || hook
            .url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        problems.add(
            format!("{path}.url"),
            "must be an http:// or https:// URL without spaces",
        );
    }
    if hook.events.is_empty() {
        problems.add(
            format!("{path}.events"),
            "list the audit actions to announce, or \"*\"",
        );
    }
    for (index, event) in hook.events.iter().enumerate() {
        if event != "*" && crate::domain::AuditAction::parse(event).is_none() {
            problems.add(
                format!("{path}.events[{index}]"),
                format!(
                    "{} is not an audit action (e.g. elevation.requested, grant.activated)",
                    shown(event)
                ),
            );
        }
    }
    if problems.0.len() > problems_before {
        return None;
    }
    Some(Webhook {
        url: hook.url.clone(),
        events: hook.events.clone(),
    })
}

fn compile_separation(
    set: &SeparationDocument,
    path: &str,
    roles: &HashMap<RoleName, RoleDefinition>,
    problems: &mut Problems,
) -> Option<Separation> {
    let problems_before = problems.0.len();
    if set.name.trim().is_empty() {
        problems.add(
            format!("{path}.name"),
            "a separation-of-duties set needs a name",
        );
    }
    let mode = match set.mode.as_str() {
        "static" => SeparationMode::Static,
        "dynamic" => SeparationMode::Dynamic,
        other => {
            problems.add(
                format!("{path}.mode"),
                format!("{} is not a mode; use static or dynamic", shown(other)),
            );
            SeparationMode::Dynamic
        }
    };
    if set.roles.len() < 2 {
        problems.add(format!("{path}.roles"), "a set needs at least two roles");
    }
    let mut members = Vec::new();
    for (index, role) in set.roles.iter().enumerate() {
        if let Some(role) = problems.check(format!("{path}.roles[{index}]"), RoleName::parse(role))
        {
            if !roles.contains_key(&role) {
                problems.add(
                    format!("{path}.roles[{index}]"),
                    format!("role {} is not defined under roles", shown(role.as_str())),
                );
            }
            members.push(role);
        }
    }
    if problems.0.len() > problems_before {
        return None;
    }
    Some(Separation {
        name: set.name.clone(),
        roles: members,
        mode,
    })
}

#[allow(clippy::too_many_arguments)]
fn compile_eligibility(
    entry: &EligibilityDocument,
    index: usize,
    path: &str,
    roles: &HashMap<RoleName, RoleDefinition>,
    max_duration_ceiling: TimeDelta,
    default_request_ttl: TimeDelta,
    locate: &Locator<'_>,
    problems: &mut Problems,
) -> Option<Eligibility> {
    let problems_before = problems.0.len();

    let role = problems.check(format!("{path}.role"), RoleName::parse(&entry.role));
    if let Some(role) = &role
        && !roles.contains_key(role)
    {
        problems.add(
            format!("{path}.role"),
            format!("role {} is not defined under roles", shown(role.as_str())),
        );
    }

    if entry.scopes.is_empty() {
        problems.add(format!("{path}.scopes"), "list at least one scope pattern");
    }
    let scopes: Vec<ScopePattern> = entry
        .scopes
        .iter()
        .enumerate()
        .filter_map(|(i, pattern)| {
            problems.check(format!("{path}.scopes[{i}]"), ScopePattern::parse(pattern))
        })
        .collect();

    if entry.who.groups.is_empty() && entry.who.users.is_empty() {
        problems.add(
            format!("{path}.who"),
            "name at least one group or user who may request",
        );
    }
    let groups = parse_all(
        &entry.who.groups,
        &format!("{path}.who.groups"),
        GroupName::parse,
        problems,
    );
    let users = parse_all(
        &entry.who.users,
        &format!("{path}.who.users"),
        Subject::parse,
        problems,
    );

    let max_duration = problems.duration(format!("{path}.max_duration"), &entry.max_duration);
    if let Some(max_duration) = max_duration
        && max_duration > max_duration_ceiling
    {
        problems.add(
            format!("{path}.max_duration"),
            format!(
                "{} is above the global ceiling limits.max_duration ({})",
                entry.max_duration,
                crate::domain::format_duration(max_duration_ceiling)
            ),
        );
    }
    let min_duration = match &entry.min_duration {
        Some(text) => problems.duration(format!("{path}.min_duration"), text),
        None => None,
    };
    if let (Some(min), Some(max)) = (min_duration, max_duration)
        && min > max
    {
        problems.add(
            format!("{path}.min_duration"),
            "is longer than max_duration",
        );
    }
    let request_rules = compile_rules(
        &entry.request_rules,
        &format!("{path}.request_rules"),
        Moment::Request,
        locate,
        problems,
    );
    let grant_rules = compile_rules(
        &entry.grant_rules,
        &format!("{path}.grant_rules"),
        Moment::Grant,
        locate,
        problems,
    );
    let request_ttl = match &entry.request_ttl {
        Some(text) => problems.duration(format!("{path}.request_ttl"), text),
        None => Some(default_request_ttl),
    };

    let mut step_names = HashSet::new();
    let steps: Vec<ApprovalStep> = entry
        .approval
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let step_path = format!("{path}.approval[{i}]");
            if !step_names.insert(step.step.clone()) {
                problems.add(
                    format!("{step_path}.step"),
                    format!("step name {} is used twice", shown(&step.step)),
                );
            }
            compile_step(step, &step_path, locate, problems)
        })
        .collect();

    let mut require_reason = false;
    let mut require_ticket = false;
    for (i, field) in entry.require.iter().enumerate() {
        match field.as_str() {
            "reason" => require_reason = true,
            "ticket" => require_ticket = true,
            other => problems.add(
                format!("{path}.require[{i}]"),
                format!("{} cannot be required; use reason or ticket", shown(other)),
            ),
        }
    }

    let session_bound = session_binding(
        entry.session_binding.as_deref(),
        &format!("{path}.session_binding"),
        problems,
    );

    if problems.0.len() > problems_before {
        return None;
    }
    Some(Eligibility {
        index,
        role: role?,
        scopes,
        groups,
        users,
        max_duration: max_duration?,
        min_duration,
        request_rules,
        grant_rules,
        request_ttl: request_ttl?,
        steps,
        require_reason,
        require_ticket,
        session_bound,
    })
}

fn compile_step(
    step: &StepDocument,
    path: &str,
    locate: &Locator<'_>,
    problems: &mut Problems,
) -> Option<ApprovalStep> {
    let problems_before = problems.0.len();
    if step.step.trim().is_empty() {
        problems.add(format!("{path}.step"), "a step needs a name");
    }
    let approvers = &step.approvers;
    let groups = parse_all(
        &approvers.groups,
        &format!("{path}.approvers.groups"),
        GroupName::parse,
        problems,
    );
    let users = parse_all(
        &approvers.users,
        &format!("{path}.approvers.users"),
        Subject::parse,
        problems,
    );
    let roles = parse_all(
        &approvers.roles,
        &format!("{path}.approvers.roles"),
        RoleName::parse,
        problems,
    );
    if groups.is_empty() && users.is_empty() && roles.is_empty() && !approvers.manager_of_requester
    {
        problems.add(
            format!("{path}.approvers"),
            "name approver groups, users, roles, or manager_of_requester: true",
        );
    }
    let auto_approve = match &step.auto_approve {
        Some(text) => {
            let expression = text
                .trim()
                .strip_prefix("auto_approve if ")
                .unwrap_or(text.trim());
            let rule = format!("allow if {expression}");
            match Rule::parse(&rule, Moment::Request) {
                Ok(_) => Some(rule),
                Err(error) => {
                    let (line, column) = locate
                        .position(text, error.line, error.column)
                        .unwrap_or((0, 0));
                    problems.0.push(PolicyProblem {
                        path: format!("{path}.auto_approve"),
                        message: error.message,
                        line,
                        column,
                    });
                    None
                }
            }
        }
        None => None,
    };
    let quorum = step.quorum.unwrap_or(1);
    if quorum == 0 {
        problems.add(format!("{path}.quorum"), "quorum must be at least 1");
    }
    if !users.is_empty()
        && groups.is_empty()
        && roles.is_empty()
        && !approvers.manager_of_requester
        && quorum as usize > users.len()
    {
        problems.add(
            format!("{path}.quorum"),
            format!(
                "quorum {quorum} can never be met by {} listed user(s)",
                users.len()
            ),
        );
    }
    let deny_threshold = step.deny_threshold.unwrap_or(1);
    if deny_threshold == 0 {
        problems.add(
            format!("{path}.deny_threshold"),
            "deny_threshold must be at least 1",
        );
    }
    if problems.0.len() > problems_before {
        return None;
    }
    Some(ApprovalStep {
        name: step.step.clone(),
        approvers: ApproverSpec {
            groups,
            users,
            manager_of_requester: approvers.manager_of_requester,
            roles,
        },
        quorum,
        deny_threshold,
        auto_approve,
    })
}

fn parse_all<T>(
    values: &[String],
    path: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
    problems: &mut Problems,
) -> Vec<T> {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| problems.check(format!("{path}[{i}]"), parse(value)))
        .collect()
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

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let source = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve] }
  "bad role": { permissions: [] }
eligibility:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [staff] }
    max_duration: 2h
  - role: ghost
    scopes: ["Org"]
    who: {}
    max_duration: 2x
    request_ttl: 0s
    approval:
      - step: manager
        approvers: {}
        quorum: 0
    require: [mood]
    session_binding: sometimes
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [staff] }
    max_duration: 48h
"#;
        let problems = Policy::parse(source, 2).unwrap_err().0;
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "roles.bad role",
            "eligibility[1].role",
            "eligibility[1].scopes[0]",
            "eligibility[1].who",
            "eligibility[1].max_duration",
            "eligibility[1].request_ttl",
            "eligibility[1].approval[0].approvers",
            "eligibility[1].approval[0].quorum",
            "eligibility[1].require[0]",
            "eligibility[1].session_binding",
            "eligibility[2].max_duration",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
        assert!(!paths.iter().any(|p| p.starts_with("eligibility[0]")));
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let problems = Policy::parse("roles:\n  a: { permissions: [x\n", 1)
            .unwrap_err()
            .0;
        assert_eq!(problems.len(), 1);
        assert!(problems[0].line > 0);
        let unknown_key = Policy::parse("roles: {}\neligibilty: []\n", 1)
            .unwrap_err()
            .0;
        assert!(unknown_key[0].message.contains("eligibilty"));
        assert_eq!(unknown_key[0].line, 2);
    }
}
