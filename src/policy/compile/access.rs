//! Compiling the sections that give access: eligibility entries, delegation entries, and the
//! approval chains both may carry, with the fields they share (a defined role, scope patterns,
//! a session binding).

use std::collections::HashSet;

use chrono::TimeDelta;

use super::Compiler;
use crate::domain::{
    ApprovalStep, ApproverSpec, GroupName, InvalidValue, RoleName, ScopePattern, Subject,
    format_duration, shown,
};
use crate::policy::document::{
    ApproversDocument, DelegationDocument, EligibilityDocument, StepDocument, WhoDocument,
};
use crate::policy::entries::{DelegationEntry, Eligibility};
use crate::policy::rules::{Moment, Rule};

/// The shortest and longest access window an eligibility entry allows.
struct AccessWindow {
    min_duration: Option<TimeDelta>,
    max_duration: Option<TimeDelta>,
}

/// The request fields an eligibility entry requires.
#[derive(Default)]
struct RequiredFields {
    reason: bool,
    ticket: bool,
}

impl Compiler<'_> {
    /// One eligibility entry; `None` when it has any problem.
    pub(super) fn eligibility(
        &mut self,
        entry: &EligibilityDocument,
        index: usize,
    ) -> Option<Eligibility> {
        let path = format!("eligibility[{index}]");
        let problems_before = self.problems.count();
        let role = self.defined_role(&path, &entry.role);
        let scopes = self.scope_patterns(&path, &entry.scopes);
        let (groups, users) = self.requesters(&path, &entry.who);
        let window = self.access_window(&path, entry);
        let request_rules = self.rules(
            &entry.request_rules,
            &format!("{path}.request_rules"),
            Moment::Request,
        );
        let grant_rules = self.rules(
            &entry.grant_rules,
            &format!("{path}.grant_rules"),
            Moment::Grant,
        );
        let request_ttl = match &entry.request_ttl {
            Some(text) => self
                .problems
                .positive_duration(format!("{path}.request_ttl"), text),
            None => Some(self.default_request_ttl),
        };
        let steps = self.approval_chain(&path, &entry.approval);
        let required = self.required_fields(&path, &entry.require);
        let session_bound = self.session_binding(&path, entry.session_binding.as_deref());
        if self.problems.count() > problems_before {
            return None;
        }
        Some(Eligibility {
            index,
            role: role?,
            scopes,
            groups,
            users,
            max_duration: window.max_duration?,
            min_duration: window.min_duration,
            request_rules,
            grant_rules,
            request_ttl: request_ttl?,
            steps,
            require_reason: required.reason,
            require_ticket: required.ticket,
            session_bound,
        })
    }

    /// One delegation entry; `None` when it has any problem.
    pub(super) fn delegation(
        &mut self,
        entry: &DelegationDocument,
        index: usize,
    ) -> Option<DelegationEntry> {
        let path = format!("delegation[{index}]");
        let problems_before = self.problems.count();
        let role = self.defined_role(&path, &entry.role);
        let scopes = self.scope_patterns(&path, &entry.scopes);
        let max_depth = entry.max_depth.unwrap_or(1);
        if max_depth == 0 {
            self.problems.add(
                format!("{path}.max_depth"),
                "must be at least 1 (one delegation)",
            );
        }
        let max_duration = self.delegation_max_duration(&path, entry.max_duration.as_deref());
        let steps = self.approval_chain(&path, &entry.approval);
        let grant_rules = self.rules(
            &entry.grant_rules,
            &format!("{path}.grant_rules"),
            Moment::Grant,
        );
        let session_bound = self.session_binding(&path, entry.session_binding.as_deref());
        if self.problems.count() > problems_before {
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

    /// `<path>.role`: a valid role name that `roles` defines.
    fn defined_role(&mut self, path: &str, text: &str) -> Option<RoleName> {
        let role = self
            .problems
            .valid(format!("{path}.role"), RoleName::parse(text));
        if let Some(role) = &role {
            self.require_defined_role(&format!("{path}.role"), role);
        }
        role
    }

    /// `<path>.scopes`: at least one pattern, each valid.
    pub(super) fn scope_patterns(&mut self, path: &str, patterns: &[String]) -> Vec<ScopePattern> {
        if patterns.is_empty() {
            self.problems
                .add(format!("{path}.scopes"), "list at least one scope pattern");
        }
        self.parse_all(patterns, &format!("{path}.scopes"), ScopePattern::parse)
    }

    /// `<path>.who`: the groups and users who may request, at least one of them.
    fn requesters(&mut self, path: &str, who: &WhoDocument) -> (Vec<GroupName>, Vec<Subject>) {
        if who.groups.is_empty() && who.users.is_empty() {
            self.problems.add(
                format!("{path}.who"),
                "name at least one group or user who may request",
            );
        }
        let groups = self.parse_all(&who.groups, &format!("{path}.who.groups"), GroupName::parse);
        let users = self.parse_all(&who.users, &format!("{path}.who.users"), Subject::parse);
        (groups, users)
    }

    /// `<path>.max_duration` (within the global ceiling) and `<path>.min_duration` (not above
    /// it).
    fn access_window(&mut self, path: &str, entry: &EligibilityDocument) -> AccessWindow {
        let max_duration = self
            .problems
            .positive_duration(format!("{path}.max_duration"), &entry.max_duration);
        if let Some(max_duration) = max_duration
            && max_duration > self.max_duration_ceiling
        {
            self.problems.add(
                format!("{path}.max_duration"),
                format!(
                    "{} is above the global ceiling limits.max_duration ({})",
                    entry.max_duration,
                    format_duration(self.max_duration_ceiling)
                ),
            );
        }
        let min_duration = match &entry.min_duration {
            Some(text) => self
                .problems
                .positive_duration(format!("{path}.min_duration"), text),
            None => None,
        };
        if let (Some(min), Some(max)) = (min_duration, max_duration)
            && min > max
        {
            self.problems.add(
                format!("{path}.min_duration"),
                "is longer than max_duration",
            );
        }
        AccessWindow {
            min_duration,
            max_duration,
        }
    }

    /// A delegation's `<path>.max_duration`, when it caps one (within the global ceiling).
    fn delegation_max_duration(&mut self, path: &str, text: Option<&str>) -> Option<TimeDelta> {
        let duration = self
            .problems
            .positive_duration(format!("{path}.max_duration"), text?);
        if let Some(duration) = duration
            && duration > self.max_duration_ceiling
        {
            self.problems.add(
                format!("{path}.max_duration"),
                "is above the global ceiling limits.max_duration",
            );
        }
        duration
    }

    /// `<path>.require`: which of `reason` and `ticket` a request must carry.
    fn required_fields(&mut self, path: &str, require: &[String]) -> RequiredFields {
        let mut required = RequiredFields::default();
        for (index, field) in require.iter().enumerate() {
            match field.as_str() {
                "reason" => required.reason = true,
                "ticket" => required.ticket = true,
                other => self.problems.add(
                    format!("{path}.require[{index}]"),
                    format!("{} cannot be required; use reason or ticket", shown(other)),
                ),
            }
        }
        required
    }

    /// `<path>.session_binding`: `session` (the default) binds, `none` does not. An unknown
    /// value is a problem (and binds, failing closed).
    fn session_binding(&mut self, path: &str, value: Option<&str>) -> bool {
        match value {
            None | Some("session") => true,
            Some("none") => false,
            Some(other) => {
                self.problems.add(
                    format!("{path}.session_binding"),
                    format!(
                        "{} is not a session binding; use session or none",
                        shown(other)
                    ),
                );
                true
            }
        }
    }

    /// `<path>.approval`: the steps, each named once; steps with problems are left out.
    fn approval_chain(&mut self, path: &str, steps: &[StepDocument]) -> Vec<ApprovalStep> {
        let mut step_names = HashSet::new();
        let mut chain = Vec::with_capacity(steps.len());
        for (index, step) in steps.iter().enumerate() {
            let step_path = format!("{path}.approval[{index}]");
            if !step_names.insert(step.step.clone()) {
                self.problems.add(
                    format!("{step_path}.step"),
                    format!("step name {} is used twice", shown(&step.step)),
                );
            }
            chain.extend(self.approval_step(step, &step_path));
        }
        chain
    }

    /// One approval step at `path`; `None` when it has any problem.
    fn approval_step(&mut self, step: &StepDocument, path: &str) -> Option<ApprovalStep> {
        let problems_before = self.problems.count();
        if step.step.trim().is_empty() {
            self.problems
                .add(format!("{path}.step"), "a step needs a name");
        }
        let approvers = self.approvers(path, &step.approvers);
        let auto_approve = match &step.auto_approve {
            Some(text) => self.auto_approve(path, text),
            None => None,
        };
        let quorum = self.quorum(path, step.quorum, &approvers);
        let deny_threshold = step.deny_threshold.unwrap_or(1);
        if deny_threshold == 0 {
            self.problems.add(
                format!("{path}.deny_threshold"),
                "deny_threshold must be at least 1",
            );
        }
        if self.problems.count() > problems_before {
            return None;
        }
        Some(ApprovalStep {
            name: step.step.clone(),
            approvers,
            quorum,
            deny_threshold,
            auto_approve,
        })
    }

    /// `<path>.approvers`: groups, users, roles or the requester's manager, at least one.
    fn approvers(&mut self, path: &str, approvers: &ApproversDocument) -> ApproverSpec {
        let groups = self.parse_all(
            &approvers.groups,
            &format!("{path}.approvers.groups"),
            GroupName::parse,
        );
        let users = self.parse_all(
            &approvers.users,
            &format!("{path}.approvers.users"),
            Subject::parse,
        );
        let roles = self.parse_all(
            &approvers.roles,
            &format!("{path}.approvers.roles"),
            RoleName::parse,
        );
        if groups.is_empty()
            && users.is_empty()
            && roles.is_empty()
            && !approvers.manager_of_requester
        {
            self.problems.add(
                format!("{path}.approvers"),
                "name approver groups, users, roles, or manager_of_requester: true",
            );
        }
        ApproverSpec {
            groups,
            users,
            manager_of_requester: approvers.manager_of_requester,
            roles,
        }
    }

    /// `<path>.auto_approve`: `auto_approve if <expr>` (the prefix may be left out), kept as
    /// the request-time rule `allow if <expr>` once it compiles.
    fn auto_approve(&mut self, path: &str, text: &str) -> Option<String> {
        let expression = text
            .trim()
            .strip_prefix("auto_approve if ")
            .unwrap_or(text.trim());
        let rule = format!("allow if {expression}");
        match Rule::parse(&rule, Moment::Request) {
            Ok(_) => Some(rule),
            Err(error) => {
                let message = error.message.clone();
                self.rule_problem(text, &error, format!("{path}.auto_approve"), message);
                None
            }
        }
    }

    /// `<path>.quorum` (default 1): at least 1, and no more than the listed users when only
    /// users may approve.
    fn quorum(&mut self, path: &str, quorum: Option<u32>, approvers: &ApproverSpec) -> u32 {
        let quorum = quorum.unwrap_or(1);
        if quorum == 0 {
            self.problems
                .add(format!("{path}.quorum"), "quorum must be at least 1");
        }
        let only_users = !approvers.users.is_empty()
            && approvers.groups.is_empty()
            && approvers.roles.is_empty()
            && !approvers.manager_of_requester;
        if only_users && quorum as usize > approvers.users.len() {
            self.problems.add(
                format!("{path}.quorum"),
                format!(
                    "quorum {quorum} can never be met by {} listed user(s)",
                    approvers.users.len()
                ),
            );
        }
        quorum
    }

    /// Each value of a list at `path`, parsed; invalid ones are reported (`<path>[i]`) and
    /// left out.
    pub(super) fn parse_all<T>(
        &mut self,
        values: &[String],
        path: &str,
        parse: fn(&str) -> Result<T, InvalidValue>,
    ) -> Vec<T> {
        values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| {
                self.problems
                    .valid(format!("{path}[{index}]"), parse(value))
            })
            .collect()
    }
}
