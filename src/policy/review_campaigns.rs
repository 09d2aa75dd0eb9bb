//! Access review campaign definitions, validated: what a campaign covers, who reviews each
//! item (resolved per item, never the subject), its deadline and what the deadline does.

use std::collections::HashMap;

use chrono::TimeDelta;

use crate::domain::{DeadlineDefault, GroupName, ReviewKind, Reviewer, RoleName, Subject};

/// Who reviews an item, as policy names them.
#[derive(Debug, Clone, Default)]
pub struct ReviewerRule {
    /// The subject's manager (the directory's `manager` property).
    pub manager_of_subject: bool,
    /// The role's owners.
    pub role_owner: bool,
    /// Members of these groups.
    pub groups: Vec<GroupName>,
    /// These subjects.
    pub users: Vec<Subject>,
}

/// One campaign definition.
#[derive(Debug, Clone)]
pub struct CampaignDefinition {
    /// Its name.
    pub name: String,
    /// What it covers.
    pub covers: Vec<ReviewKind>,
    /// The roles it covers.
    pub roles: Vec<RoleName>,
    /// Who reviews.
    pub reviewers: ReviewerRule,
    /// How long reviewers have.
    pub deadline: TimeDelta,
    /// What happens to undecided items.
    pub on_deadline: DeadlineDefault,
    /// Who reviews escalated items.
    pub escalate_to: ReviewerRule,
    /// How long an escalated item stays open.
    pub escalation_window: TimeDelta,
    /// How far back grant history and usage evidence go.
    pub history: TimeDelta,
    /// How often it starts by itself.
    pub every: Option<TimeDelta>,
}

/// The `reviews` section, validated.
#[derive(Debug, Clone, Default)]
pub struct ReviewPolicy {
    /// Role -> its owners.
    pub role_owners: HashMap<RoleName, Vec<Subject>>,
    /// The campaign definitions.
    pub campaigns: Vec<CampaignDefinition>,
}

impl ReviewPolicy {
    /// The definition named `name`.
    pub fn campaign(&self, name: &str) -> Option<&CampaignDefinition> {
        self.campaigns.iter().find(|campaign| campaign.name == name)
    }

    /// The reviewers `rule` names for `subject`'s `role` (with `manager`, from the directory),
    /// without the subject itself: nobody reviews their own access.
    pub fn resolve(
        &self,
        rule: &ReviewerRule,
        subject: &Subject,
        role: &RoleName,
        manager: Option<&Subject>,
    ) -> Vec<Reviewer> {
        let mut reviewers: Vec<Reviewer> = Vec::new();
        let mut add = |reviewer: Reviewer| {
            let own = matches!(&reviewer, Reviewer::Subject(who) if who == subject);
            if !own && !reviewers.contains(&reviewer) {
                reviewers.push(reviewer);
            }
        };
        if rule.manager_of_subject
            && let Some(manager) = manager
        {
            add(Reviewer::Subject(manager.clone()));
        }
        if rule.role_owner {
            for owner in self.role_owners.get(role).into_iter().flatten() {
                add(Reviewer::Subject(owner.clone()));
            }
        }
        for user in &rule.users {
            add(Reviewer::Subject(user.clone()));
        }
        for group in &rule.groups {
            add(Reviewer::Group(group.clone()));
        }
        reviewers
    }
}
