//! Compiling the `reviews` section: campaign definitions (what they cover, reviewers, deadline,
//! the deadline's default, the schedule) and role owners, each value checked with its place.

use std::collections::HashMap;

use chrono::TimeDelta;

use super::Compiler;
use crate::domain::{DeadlineDefault, GroupName, ReviewKind, RoleName, Subject, shown};
use crate::policy::review_campaigns::{CampaignDefinition, ReviewPolicy, ReviewerRule};
use crate::policy::review_document::{CampaignDocument, ReviewersDocument, ReviewsDocument};

/// How far back a campaign looks when its definition says nothing.
const DEFAULT_HISTORY: TimeDelta = TimeDelta::days(90);
/// The shortest schedule accepted: a campaign a day at most.
const SHORTEST_SCHEDULE: TimeDelta = TimeDelta::days(1);

impl Compiler<'_> {
    /// The `reviews` section; definitions with a problem are left out (and reported).
    pub(super) fn reviews(&mut self, section: &ReviewsDocument) -> ReviewPolicy {
        let mut role_owners = HashMap::new();
        for (role, owners) in &section.role_owners {
            let path = format!("reviews.role_owners.{role}");
            let Some(role) = self.problems.valid(path.clone(), RoleName::parse(role)) else {
                continue;
            };
            self.require_defined_role(&path, &role);
            let owners: Vec<Subject> = owners
                .iter()
                .enumerate()
                .filter_map(|(index, owner)| {
                    self.problems
                        .valid(format!("{path}[{index}]"), Subject::parse(owner))
                })
                .collect();
            role_owners.insert(role, owners);
        }
        let mut campaigns: Vec<CampaignDefinition> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        for (index, campaign) in section.campaigns.iter().enumerate() {
            let path = format!("reviews.campaigns[{index}]");
            let name = campaign.name.trim();
            if names.contains(&name) {
                self.problems.add(
                    format!("{path}.name"),
                    format!("{} names another campaign already", shown(&campaign.name)),
                );
            }
            names.push(name);
            if let Some(definition) = self.campaign_definition(campaign, &path) {
                campaigns.push(definition);
            }
        }
        ReviewPolicy {
            role_owners,
            campaigns,
        }
    }

    fn campaign_definition(
        &mut self,
        campaign: &CampaignDocument,
        path: &str,
    ) -> Option<CampaignDefinition> {
        let problems_before = self.problems.count();
        let name = campaign.name.trim();
        if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
            self.problems.add(
                format!("{path}.name"),
                "a campaign needs a name of 1 to 128 printable characters",
            );
        }
        let covers = self.covered_kinds(&campaign.covers, path);
        let roles = self.covered_roles(&campaign.roles, path);
        let reviewers = self.reviewer_rule(&campaign.reviewers, &format!("{path}.reviewers"));
        let deadline = self
            .problems
            .positive_duration(format!("{path}.deadline"), &campaign.deadline);
        let on_deadline = DeadlineDefault::parse(&campaign.on_deadline);
        if on_deadline.is_none() {
            self.problems.add(
                format!("{path}.on_deadline"),
                format!(
                    "{} is not a default; use keep, remove or escalate",
                    shown(&campaign.on_deadline)
                ),
            );
        }
        let escalate_to = match &campaign.escalate_to {
            Some(rule) => self.reviewer_rule(rule, &format!("{path}.escalate_to")),
            None => {
                if on_deadline == Some(DeadlineDefault::Escalate) {
                    self.problems.add(
                        format!("{path}.escalate_to"),
                        "on_deadline: escalate needs escalate_to (groups or users)",
                    );
                }
                ReviewerRule::default()
            }
        };
        let duration = |compiler: &mut Self, field: &str, text: &Option<String>| {
            text.as_ref().and_then(|text| {
                compiler
                    .problems
                    .positive_duration(format!("{path}.{field}"), text)
            })
        };
        let escalation_window = duration(self, "escalation_window", &campaign.escalation_window);
        let history = duration(self, "history", &campaign.history).unwrap_or(DEFAULT_HISTORY);
        let every = duration(self, "every", &campaign.every);
        if every.is_some_and(|every| every < SHORTEST_SCHEDULE) {
            self.problems.add(
                format!("{path}.every"),
                "a campaign may start at most once a day (every: 1d or longer)",
            );
        }
        if self.problems.count() > problems_before {
            return None;
        }
        let deadline = deadline?;
        Some(CampaignDefinition {
            name: name.to_owned(),
            covers,
            roles,
            reviewers,
            deadline,
            on_deadline: on_deadline?,
            escalate_to,
            escalation_window: escalation_window.unwrap_or(deadline),
            history,
            every,
        })
    }

    fn covered_kinds(&mut self, covers: &[String], path: &str) -> Vec<ReviewKind> {
        if covers.is_empty() {
            self.problems.add(
                format!("{path}.covers"),
                "list what the campaign covers: eligibility, standing_role, delegation, grant",
            );
        }
        let mut kinds = Vec::new();
        for (index, text) in covers.iter().enumerate() {
            match ReviewKind::parse(text) {
                Some(kind) if !kinds.contains(&kind) => kinds.push(kind),
                Some(_) => {}
                None => self.problems.add(
                    format!("{path}.covers[{index}]"),
                    format!(
                        "{} is not a kind of access; use eligibility, standing_role, delegation or grant",
                        shown(text)
                    ),
                ),
            }
        }
        kinds
    }

    fn covered_roles(&mut self, roles: &[String], path: &str) -> Vec<RoleName> {
        if roles.is_empty() {
            self.problems.add(
                format!("{path}.roles"),
                "list the roles the campaign covers",
            );
        }
        let mut covered = Vec::new();
        for (index, text) in roles.iter().enumerate() {
            let role_path = format!("{path}.roles[{index}]");
            if let Some(role) = self
                .problems
                .valid(role_path.clone(), RoleName::parse(text))
            {
                self.require_defined_role(&role_path, &role);
                covered.push(role);
            }
        }
        covered
    }

    fn reviewer_rule(&mut self, rule: &ReviewersDocument, path: &str) -> ReviewerRule {
        if !rule.manager_of_subject
            && !rule.role_owner
            && rule.groups.is_empty()
            && rule.users.is_empty()
        {
            self.problems.add(
                path.to_owned(),
                "name reviewers: manager_of_subject: true, role_owner: true, groups or users",
            );
        }
        let groups = (rule.groups.iter().enumerate())
            .filter_map(|(index, group)| {
                self.problems
                    .valid(format!("{path}.groups[{index}]"), GroupName::parse(group))
            })
            .collect();
        let users = (rule.users.iter().enumerate())
            .filter_map(|(index, user)| {
                self.problems
                    .valid(format!("{path}.users[{index}]"), Subject::parse(user))
            })
            .collect();
        ReviewerRule {
            manager_of_subject: rule.manager_of_subject,
            role_owner: rule.role_owner,
            groups,
            users,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{DeadlineDefault, ReviewKind, Reviewer, RoleName, Subject};
    use crate::policy::{DEMO_POLICY, Policy};

    fn with_reviews(section: &str) -> String {
        format!("{DEMO_POLICY}\nreviews:\n{section}")
    }

    #[test]
    fn a_campaign_definition_compiles_with_its_defaults() {
        let policy = Policy::parse(
            &with_reviews(
                "  role_owners: { admin_approver: [dana] }\n  campaigns:\n    - { name: quarterly, covers: [eligibility, grant], roles: [admin_approver], reviewers: { manager_of_subject: true, role_owner: true }, deadline: 14d, on_deadline: keep }\n",
            ),
            1,
        )
        .unwrap();
        let campaign = policy.reviews().campaign("quarterly").unwrap();
        assert_eq!(
            campaign.covers,
            [ReviewKind::Eligibility, ReviewKind::Grant]
        );
        assert_eq!(campaign.on_deadline, DeadlineDefault::Keep);
        assert_eq!(campaign.history, chrono::TimeDelta::days(90));
        assert_eq!(campaign.escalation_window, campaign.deadline);
        let (fatma, dana) = (
            Subject::parse("fatma").unwrap(),
            Subject::parse("dana").unwrap(),
        );
        let role = RoleName::parse("admin_approver").unwrap();
        let ali = Subject::parse("ali").unwrap();
        assert_eq!(
            policy
                .reviews()
                .resolve(&campaign.reviewers, &fatma, &role, Some(&ali)),
            [Reviewer::Subject(ali), Reviewer::Subject(dana.clone())]
        );
        // The owner reviewing her own access is left out.
        assert_eq!(
            policy
                .reviews()
                .resolve(&campaign.reviewers, &dana, &role, None),
            []
        );
    }

    #[test]
    fn bad_campaign_values_say_what_to_fix() {
        let problems = Policy::parse(
            &with_reviews(
                "  campaigns:\n    - { name: q, covers: [everything], roles: [nobody], reviewers: {}, deadline: soon, on_deadline: forget, every: 1h }\n    - { name: q, covers: [grant], roles: [admin_approver], reviewers: { users: [ali] }, deadline: 1d, on_deadline: escalate }\n",
            ),
            1,
        )
        .unwrap_err()
        .to_string();
        for expected in [
            "reviews.campaigns[0].covers[0]",
            "reviews.campaigns[0].roles[0]",
            "reviews.campaigns[0].reviewers",
            "reviews.campaigns[0].deadline",
            "reviews.campaigns[0].on_deadline",
            "reviews.campaigns[0].every",
            "reviews.campaigns[1].name",
            "reviews.campaigns[1].escalate_to",
        ] {
            assert!(
                problems.contains(expected),
                "{expected} missing from {problems}"
            );
        }
    }
}
