//! The [`Compiler`]: what every section's compilation needs (the document's limits and roles,
//! where rule text stands in the document, the problems found so far), and the walk over the
//! whole document in the order its problems are reported.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::TimeDelta;

use crate::domain::{Permission, RoleName, shown};
use crate::policy::MAX_POLICY_BYTES;
use crate::policy::document::{LimitsDocument, PermissionDocument, PolicyDocument, RoleDocument};
use crate::policy::entries::{DelegationEntry, Eligibility, RoleDefinition};
use crate::policy::model::{CheckLookup, Policy};
use crate::policy::problems::{DocumentLocator, PolicyProblem, PolicyProblems, ProblemCollector};
use crate::policy::rules::{Moment, Rule, RuleError};

/// The global ceiling on any access window when `limits.max_duration` does not set one.
const DEFAULT_MAX_DURATION_CEILING: TimeDelta = TimeDelta::hours(24);
/// The approval window of entries when neither they nor `limits.default_request_ttl` set one.
const DEFAULT_REQUEST_TTL: TimeDelta = TimeDelta::hours(1);

/// Reads `source` as a policy document and compiles it into policy `version`, reporting every
/// problem.
pub(in crate::policy) fn compile(source: &str, version: u64) -> Result<Policy, PolicyProblems> {
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
    Compiler::new(source).compile_document(&document, version)
}

/// Compiles one document. Each section reports into `problems` and yields `None` (or leaves
/// itself out) when it has any; the document's limits and roles are read first, as every
/// later section is checked against them.
pub(super) struct Compiler<'s> {
    pub(super) source: &'s str,
    pub(super) locator: DocumentLocator<'s>,
    pub(super) problems: ProblemCollector,
    /// No access window may be longer (`limits.max_duration`).
    pub(super) max_duration_ceiling: TimeDelta,
    /// The approval window of entries that set none (`limits.default_request_ttl`).
    pub(super) default_request_ttl: TimeDelta,
    /// The roles defined under `roles`, which every other section may only name.
    pub(super) roles: HashMap<RoleName, RoleDefinition>,
    /// The conditions role permissions carry, by role and permission.
    pub(super) conditions: CheckLookup<RoleName, CheckLookup<Permission, Arc<Rule>>>,
}

impl<'s> Compiler<'s> {
    fn new(source: &'s str) -> Self {
        Compiler {
            source,
            locator: DocumentLocator::new(source),
            problems: ProblemCollector::new(),
            max_duration_ceiling: DEFAULT_MAX_DURATION_CEILING,
            default_request_ttl: DEFAULT_REQUEST_TTL,
            roles: HashMap::new(),
            conditions: CheckLookup::default(),
        }
    }

    fn compile_document(
        mut self,
        document: &PolicyDocument,
        version: u64,
    ) -> Result<Policy, PolicyProblems> {
        self.limits(&document.limits);
        let roles_by_permission = self.roles(&document.roles);
        let request_rules = self.rules(&document.request_rules, "request_rules", Moment::Request);
        let grant_rules = self.rules(&document.grant_rules, "grant_rules", Moment::Grant);
        let eligibility: Vec<Eligibility> = document
            .eligibility
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| self.eligibility(entry, index))
            .collect();
        let delegations: Vec<DelegationEntry> = document
            .delegation
            .iter()
            .enumerate()
            .filter_map(|(index, entry)| self.delegation(entry, index))
            .collect();
        let webhooks = document
            .webhooks
            .iter()
            .enumerate()
            .filter_map(|(index, hook)| self.webhook(hook, &format!("webhooks[{index}]")))
            .collect();
        let separations = document
            .separation_of_duties
            .iter()
            .enumerate()
            .filter_map(|(index, set)| {
                self.separation(set, &format!("separation_of_duties[{index}]"))
            })
            .collect();
        let access = self.access_model(document);
        let break_glass = self.break_glass_entries(&document.break_glass);
        let reviews = self.reviews(&document.reviews);
        if let Some(problems) = self.problems.into_problems() {
            return Err(problems);
        }
        let ruled_roles = ruled_roles(&self.roles, &grant_rules, &eligibility, &delegations);
        Ok(Policy {
            version,
            source: Arc::from(self.source),
            roles: self.roles,
            roles_by_permission,
            eligibility,
            max_duration_ceiling: self.max_duration_ceiling,
            request_rules,
            grant_rules,
            separations,
            delegations,
            webhooks,
            any_rule_reads_risk: ruled_roles.values().any(|reads_risk| *reads_risk),
            ruled_roles,
            access,
            break_glass,
            reviews,
        })
    }

    /// Reads `limits`; a limit with a problem falls back to its default so that the rest of
    /// the document is still checked against something.
    fn limits(&mut self, limits: &LimitsDocument) {
        if let Some(text) = &limits.max_duration {
            self.max_duration_ceiling = self
                .problems
                .positive_duration("limits.max_duration".into(), text)
                .unwrap_or(DEFAULT_MAX_DURATION_CEILING);
        }
        if let Some(text) = &limits.default_request_ttl {
            self.default_request_ttl = self
                .problems
                .positive_duration("limits.default_request_ttl".into(), text)
                .unwrap_or(DEFAULT_REQUEST_TTL);
        }
    }

    /// Compiles `roles` into the compiler's role table, and returns which roles carry each
    /// permission (each role once per permission, in document order).
    fn roles(
        &mut self,
        roles: &BTreeMap<String, RoleDocument>,
    ) -> CheckLookup<Permission, Vec<RoleName>> {
        let mut roles_by_permission: CheckLookup<Permission, Vec<RoleName>> =
            CheckLookup::default();
        for (name, role) in roles {
            let Some(definition) = self.role(name, role) else {
                continue;
            };
            for permission in &definition.permissions {
                let holders = roles_by_permission.entry(permission.clone()).or_default();
                if !holders.contains(&definition.name) {
                    holders.push(definition.name.clone());
                }
            }
            self.roles.insert(definition.name.clone(), definition);
        }
        roles_by_permission
    }

    /// One role; `None` only when its name is invalid (a role with a bad permission is kept,
    /// with the permissions that are valid, so that entries naming it are not misreported).
    fn role(&mut self, name: &str, role: &RoleDocument) -> Option<RoleDefinition> {
        let path = format!("roles.{name}");
        let role_name = self.problems.valid(path.clone(), RoleName::parse(name))?;
        if role.permissions.is_empty() {
            self.problems.add(
                format!("{path}.permissions"),
                "a role needs at least one permission",
            );
        }
        let mut permissions: Vec<Permission> = Vec::with_capacity(role.permissions.len());
        for (index, entry) in role.permissions.iter().enumerate() {
            let at = format!("{path}.permissions[{index}]");
            let (text, condition) = match entry {
                PermissionDocument::Plain(text) => (text, None),
                PermissionDocument::Conditional(conditional) => {
                    (&conditional.permission, Some(&conditional.condition))
                }
            };
            let Some(permission) = self.problems.valid(at.clone(), Permission::parse(text)) else {
                continue;
            };
            let conditioned = |c: &Compiler<'_>| {
                c.conditions
                    .get(&role_name)
                    .is_some_and(|held| held.contains_key(permission.as_str()))
            };
            if permissions.contains(&permission) && (condition.is_some() || conditioned(self)) {
                self.problems.add(
                    at,
                    format!(
                        "{permission} is listed more than once; give it once, with or without a condition"
                    ),
                );
                continue;
            }
            if let Some(text) = condition
                && let Some(rule) = self.condition(text, &format!("{at}.if"))
            {
                self.conditions
                    .entry(role_name.clone())
                    .or_default()
                    .insert(permission.clone(), rule);
            }
            permissions.push(permission);
        }
        Some(RoleDefinition {
            name: role_name,
            description: role.description.clone(),
            permissions,
        })
    }

    /// Compiles a permission's condition; reports it at `path` when it does not compile.
    fn condition(&mut self, text: &str, path: &str) -> Option<Arc<Rule>> {
        match Rule::parse_condition(text, Moment::Permission) {
            Ok(rule) => Some(Arc::new(rule)),
            Err(error) => {
                let message = format!(
                    "{} (condition line {}, column {})",
                    error.message, error.line, error.column
                );
                self.rule_problem(text, &error, path.to_owned(), message);
                None
            }
        }
    }

    /// Compiles each rule of a list for `moment`; a rule that does not compile is reported at
    /// its place in the document and left out.
    pub(super) fn rules(&mut self, texts: &[String], path: &str, moment: Moment) -> Vec<Arc<Rule>> {
        let mut compiled = Vec::with_capacity(texts.len());
        for (index, text) in texts.iter().enumerate() {
            match Rule::parse(text, moment) {
                Ok(rule) => compiled.push(Arc::new(rule)),
                Err(error) => {
                    let message = format!(
                        "{} (rule line {}, column {})",
                        error.message, error.line, error.column
                    );
                    self.rule_problem(text, &error, format!("{path}[{index}]"), message);
                }
            }
        }
        compiled
    }

    /// Reports a rule that does not compile, placed where `error` points inside `text` in the
    /// document (the document's start when the text cannot be found there).
    pub(super) fn rule_problem(
        &mut self,
        text: &str,
        error: &RuleError,
        path: String,
        message: String,
    ) {
        let (line, column) = self
            .locator
            .position(text, error.line, error.column)
            .unwrap_or((0, 0));
        self.problems.add_placed(PolicyProblem {
            path,
            message,
            line,
            column,
        });
    }

    /// Reports at `path` a role that is not defined under `roles`.
    pub(super) fn require_defined_role(&mut self, path: &str, role: &RoleName) {
        if !self.roles.contains_key(role) {
            self.problems.add(
                path,
                format!("role {} is not defined under roles", shown(role.as_str())),
            );
        }
    }
}

/// The roles whose grants are judged by rules at Check time (any global grant rule, or one of
/// an eligibility or delegation entry for the role), each with whether one of those rules reads
/// risk.
fn ruled_roles(
    roles: &HashMap<RoleName, RoleDefinition>,
    global_grant_rules: &[Arc<Rule>],
    eligibility: &[Eligibility],
    delegations: &[DelegationEntry],
) -> CheckLookup<RoleName, bool> {
    let global_reads_risk = global_grant_rules.iter().any(|rule| rule.reads_risk());
    let mut ruled_roles = CheckLookup::default();
    for role in roles.keys() {
        let entry_rules = eligibility
            .iter()
            .filter(|entry| &entry.role == role)
            .flat_map(|entry| entry.grant_rules.iter())
            .chain(
                delegations
                    .iter()
                    .filter(|entry| &entry.role == role)
                    .flat_map(|entry| entry.grant_rules.iter()),
            );
        let mut any = !global_grant_rules.is_empty();
        let mut reads_risk = global_reads_risk;
        for rule in entry_rules {
            any = true;
            reads_risk |= rule.reads_risk();
        }
        if any {
            ruled_roles.insert(role.clone(), reads_risk);
        }
    }
    ruled_roles
}

#[cfg(test)]
mod tests {
    use crate::policy::Policy;

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
