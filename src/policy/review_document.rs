//! The `reviews` section as written (YAML): access review campaign definitions and the owners
//! of roles, before validation.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The `reviews` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewsDocument {
    /// Role name -> the subjects who own it (reviewers named by `role_owner: true`).
    #[serde(default)]
    pub(super) role_owners: BTreeMap<String, Vec<String>>,
    /// Campaign definitions, started by an admin or on their schedule.
    #[serde(default)]
    pub(super) campaigns: Vec<CampaignDocument>,
}

/// One campaign definition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CampaignDocument {
    /// Its name (a campaign started from it carries it).
    pub(super) name: String,
    /// What it covers: `eligibility`, `standing_role`, `delegation`, `grant`.
    pub(super) covers: Vec<String>,
    /// The roles it covers.
    pub(super) roles: Vec<String>,
    /// Who reviews an item.
    pub(super) reviewers: ReviewersDocument,
    /// How long reviewers have (`14d`).
    pub(super) deadline: String,
    /// What happens to undecided items: `keep`, `remove` or `escalate`.
    pub(super) on_deadline: String,
    /// Who reviews escalated items.
    #[serde(default)]
    pub(super) escalate_to: Option<ReviewersDocument>,
    /// How long an escalated item stays open (default: `deadline`).
    pub(super) escalation_window: Option<String>,
    /// How far back grant history and usage evidence go (default 90d).
    pub(super) history: Option<String>,
    /// Starts a campaign this often (none: only when an admin starts one).
    pub(super) every: Option<String>,
}

/// Who reviews.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReviewersDocument {
    /// The subject's manager (the directory's `manager` property).
    #[serde(default)]
    pub(super) manager_of_subject: bool,
    /// The role's owners (`reviews.role_owners`).
    #[serde(default)]
    pub(super) role_owner: bool,
    /// Members of any of these groups.
    #[serde(default)]
    pub(super) groups: Vec<String>,
    /// These subjects.
    #[serde(default)]
    pub(super) users: Vec<String>,
}
