//! Compiling `break_glass` entries: the roles and scopes, the `who` condition, the fields a use
//! must carry, the window, the reviewers and the review deadline, the security contacts, and the
//! explicit opt-in to override deny rules. Every problem is reported with its place.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::TimeDelta;

use super::Compiler;
use crate::domain::{GroupName, Reviewers, RoleName, Subject, format_duration, shown};
use crate::policy::document::BreakGlassDocument;
use crate::policy::entries::BreakGlassEntry;
use crate::policy::rules::{Moment, Rule};

/// The window of an entry that sets no `max_duration`: short, as an emergency should be.
const DEFAULT_BREAK_GLASS_WINDOW: TimeDelta = TimeDelta::hours(1);
/// The review deadline of an entry that sets no `review_within`.
const DEFAULT_REVIEW_WITHIN: TimeDelta = TimeDelta::hours(24);
/// The longest review deadline: a review owed for longer is no review.
const MAX_REVIEW_WITHIN: TimeDelta = TimeDelta::days(30);
/// Longest entry name.
const MAX_NAME_BYTES: usize = 64;

impl Compiler<'_> {
    /// Every `break_glass` entry; entries with problems are left out (and reported).
    pub(super) fn break_glass_entries(
        &mut self,
        entries: &[BreakGlassDocument],
    ) -> Vec<BreakGlassEntry> {
        let mut names = HashSet::new();
        let mut compiled = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            if !names.insert(entry.name.as_str()) {
                self.problems.add(
                    format!("break_glass[{index}].name"),
                    format!(
                        "the name {} is used by an earlier entry",
                        shown(&entry.name)
                    ),
                );
            }
            compiled.extend(self.break_glass(entry, index));
        }
        compiled
    }

    /// One entry; `None` when it has any problem.
    fn break_glass(&mut self, entry: &BreakGlassDocument, index: usize) -> Option<BreakGlassEntry> {
        let path = format!("break_glass[{index}]");
        let problems_before = self.problems.count();
        let valid_name = !entry.name.is_empty()
            && entry.name.len() <= MAX_NAME_BYTES
            && entry
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            self.problems.add(
                format!("{path}.name"),
                format!("use 1 to {MAX_NAME_BYTES} letters, digits, '-', '_' or '.'"),
            );
        }
        let roles = self.break_glass_roles(&path, &entry.roles);
        let scopes = self.scope_patterns(&path, &entry.scopes);
        let condition = self.who_condition(&path, &entry.who);
        let (require_incident, require_reason) = self.break_glass_fields(&path, &entry.require);
        let max_duration = self.bounded_duration(
            format!("{path}.max_duration"),
            entry.max_duration.as_deref(),
            DEFAULT_BREAK_GLASS_WINDOW,
            self.max_duration_ceiling,
        );
        let review_within = self.bounded_duration(
            format!("{path}.review_within"),
            entry.review_within.as_deref(),
            DEFAULT_REVIEW_WITHIN,
            MAX_REVIEW_WITHIN,
        );
        let reviewers = self.reviewers(&path, entry);
        for (url_index, url) in entry.notify.iter().enumerate() {
            self.webhook_url(&format!("{path}.notify[{url_index}]"), url);
        }
        if self.problems.count() > problems_before {
            return None;
        }
        Some(BreakGlassEntry {
            index,
            name: entry.name.clone(),
            roles,
            scopes,
            condition: condition?,
            require_incident,
            require_reason,
            max_duration,
            reviewers,
            review_within,
            notify: entry.notify.clone(),
            override_deny_rules: entry.override_deny_rules,
        })
    }

    /// `<path>.roles`: at least one, each defined.
    fn break_glass_roles(&mut self, path: &str, roles: &[String]) -> Vec<RoleName> {
        if roles.is_empty() {
            self.problems.add(
                format!("{path}.roles"),
                "list at least one role it may activate",
            );
        }
        let parsed = self.parse_all(roles, &format!("{path}.roles"), RoleName::parse);
        for (index, role) in parsed.iter().enumerate() {
            self.require_defined_role(&format!("{path}.roles[{index}]"), role);
        }
        parsed
    }

    /// `<path>.who`: a condition over `token`, `request`, `risk` and `context`.
    fn who_condition(&mut self, path: &str, text: &str) -> Option<Arc<Rule>> {
        match Rule::parse_condition(text, Moment::Request) {
            Ok(rule) => Some(Arc::new(rule)),
            Err(error) => {
                let message = format!(
                    "{} (condition line {}, column {}); write who may break glass, e.g. \
                     \"'oncall' in token.groups && risk.score < 50\"",
                    error.message, error.line, error.column
                );
                self.rule_problem(text, &error, format!("{path}.who"), message);
                None
            }
        }
    }

    /// `<path>.require`: which of `incident` and `reason` a use must carry (both by default).
    fn break_glass_fields(&mut self, path: &str, require: &Option<Vec<String>>) -> (bool, bool) {
        let Some(require) = require else {
            return (true, true);
        };
        let (mut incident, mut reason) = (false, false);
        for (index, field) in require.iter().enumerate() {
            match field.as_str() {
                "incident" => incident = true,
                "reason" => reason = true,
                other => self.problems.add(
                    format!("{path}.require[{index}]"),
                    format!(
                        "{} cannot be required; use incident or reason",
                        shown(other)
                    ),
                ),
            }
        }
        (incident, reason)
    }

    /// A positive duration at `path`, `default` when absent, at most `ceiling`.
    fn bounded_duration(
        &mut self,
        path: String,
        text: Option<&str>,
        default: TimeDelta,
        ceiling: TimeDelta,
    ) -> TimeDelta {
        let Some(text) = text else {
            return default.min(ceiling);
        };
        let Some(duration) = self.problems.positive_duration(path.clone(), text) else {
            return default;
        };
        if duration > ceiling {
            self.problems.add(
                path,
                format!(
                    "{} is above its ceiling of {}",
                    shown(text),
                    format_duration(ceiling)
                ),
            );
        }
        duration
    }

    /// `<path>.reviewers`: at least one user or group, since every use must be reviewed.
    fn reviewers(&mut self, path: &str, entry: &BreakGlassDocument) -> Reviewers {
        let who = &entry.reviewers;
        if who.groups.is_empty() && who.users.is_empty() {
            self.problems.add(
                format!("{path}.reviewers"),
                "name at least one reviewer group or user: every use is reviewed afterwards",
            );
        }
        Reviewers {
            groups: self.parse_all(
                &who.groups,
                &format!("{path}.reviewers.groups"),
                GroupName::parse,
            ),
            users: self.parse_all(
                &who.users,
                &format!("{path}.reviewers.users"),
                Subject::parse,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use crate::policy::Policy;

    const ROLES: &str = "roles:\n  db_admin: { permissions: [db.write] }\n";

    #[test]
    fn an_entry_takes_short_defaults_and_never_overrides_deny_rules_unless_it_says_so() {
        let source = format!(
            "{ROLES}break_glass:\n  - name: db-emergency\n    roles: [db_admin]\n    \
             scopes: [\"Env:Prod/**\"]\n    who: \"'oncall' in token.groups\"\n    \
             reviewers: {{ groups: [security] }}\n"
        );
        let policy = Policy::parse(&source, 1).unwrap();
        let entry = policy.break_glass_entry("db-emergency").unwrap();
        assert_eq!(entry.max_duration, TimeDelta::hours(1));
        assert_eq!(entry.review_within, TimeDelta::hours(24));
        assert!(entry.require_incident && entry.require_reason);
        assert!(!entry.override_deny_rules);
        assert!(policy.break_glass_entry("other").is_none());
    }

    #[test]
    fn every_problem_of_an_entry_is_reported_with_its_place() {
        let source = format!(
            "{ROLES}break_glass:\n  - name: \"bad name\"\n    roles: [ghost]\n    scopes: []\n    \
             who: \"token.nope ==\"\n    require: [mood]\n    max_duration: 48h\n    \
             review_within: 90d\n    notify: [\"ftp://x\"]\n  - name: ok\n    roles: [db_admin]\n    \
             scopes: [\"Env:Prod\"]\n    who: \"true\"\n  - name: ok\n    roles: [db_admin]\n    \
             scopes: [\"Env:Prod\"]\n    who: \"true\"\n    reviewers: {{ users: [lena] }}\n"
        );
        let problems = Policy::parse(&source, 1).unwrap_err().0;
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for expected in [
            "break_glass[0].name",
            "break_glass[0].roles[0]",
            "break_glass[0].scopes",
            "break_glass[0].who",
            "break_glass[0].require[0]",
            "break_glass[0].max_duration",
            "break_glass[0].review_within",
            "break_glass[0].reviewers",
            "break_glass[0].notify[0]",
            "break_glass[1].reviewers",
            "break_glass[2].name",
        ] {
            assert!(paths.contains(&expected), "missing {expected} in {paths:?}");
        }
    }
}
