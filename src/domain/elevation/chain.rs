//! The approval chain of an elevation as captured from policy: its steps, who may approve
//! each, the verdicts given, and what the requester's token said when it asked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::identity::Identity;
use crate::domain::names::{GroupName, RoleName, Subject};
use crate::domain::scope::Scope;

/// Who may approve a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverSpec {
    /// Members of any of these groups.
    pub groups: Vec<GroupName>,
    /// These subjects.
    pub users: Vec<Subject>,
    /// The requester's manager, from the requester's `manager` claim.
    pub manager_of_requester: bool,
    /// Holders of any of these roles as standing roles in their own token. A role held through
    /// an elevated or delegated grant never counts: approvals cannot be bootstrapped.
    #[serde(default)]
    pub roles: Vec<RoleName>,
}

impl ApproverSpec {
    /// Whether `approver` may approve, on `scope`, for a requester described by `requester`.
    pub fn admits(
        &self,
        approver: &Identity,
        requester: &RequesterSnapshot,
        scope: &Scope,
    ) -> bool {
        self.users.contains(&approver.subject)
            || self.groups.iter().any(|group| approver.in_group(group))
            || (self.manager_of_requester && requester.manager.as_ref() == Some(&approver.subject))
            || self.roles.iter().any(|role| {
                approver
                    .standing_roles
                    .iter()
                    .any(|standing| &standing.role == role && standing.covers(scope.as_str()))
            })
    }
}

/// One step of an approval chain, as captured from policy when the request was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// The step's name (e.g. `manager`).
    pub name: String,
    /// Who may approve.
    pub approvers: ApproverSpec,
    /// How many distinct approvals meet the step.
    pub quorum: u32,
    /// How many denials end the elevation.
    pub deny_threshold: u32,
    /// A rule (`auto_approve if <expr>`, as written in policy) that meets the step by policy
    /// when it holds as the step opens.
    #[serde(default)]
    pub auto_approve: Option<String>,
}

/// An approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Agree.
    Approve,
    /// Refuse.
    Deny,
}

impl Verdict {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// One verdict on one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Who gave it (verified).
    pub approver: Subject,
    /// The step it counted for.
    pub step: u32,
    /// The answer.
    pub verdict: Verdict,
    /// The approver's comment (for an automatic approval: the rule that fired).
    pub comment: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Given by policy (an `auto_approve` rule), not a person; meets the step by itself.
    #[serde(default)]
    pub automatic: bool,
    /// The idempotency key the vote came with: a retry with the same key is answered as the
    /// first call was; any other repeat is told it counted nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The subject votes recorded for policy's automatic approvals carry.
pub(super) const POLICY_APPROVER: &str = "policy";

/// What the requester's token said when the request was made; approvers are matched against it
/// (the manager) while the requester is not around.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterSnapshot {
    /// The requester's groups.
    pub groups: Vec<GroupName>,
    /// The requester's manager.
    pub manager: Option<Subject>,
    /// The requester's token roles (standing roles among them), for separation-of-duties
    /// checks at activation.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl RequesterSnapshot {
    /// What `requester`'s token says now.
    pub fn of(requester: &Identity) -> Self {
        RequesterSnapshot {
            groups: requester.groups.clone(),
            manager: requester.manager.clone(),
            roles: requester.roles.clone(),
        }
    }
}
