//! Access review campaigns as plain values: a campaign over a chosen set of access, its items
//! (one piece of access each, as the campaign saw it, with its reviewers and usage evidence),
//! and the pure rules of deciding an item: who may, until when, once, and what the deadline's
//! default does to an item nobody decided.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::elevation::TransitionError;
use super::names::{GroupName, InvalidValue, RoleName, Subject};
use super::scope::Scope;
use super::{GrantId, Identity};

/// The actor recorded when the deadline's default decides an item.
pub(crate) const DEADLINE_ACTOR: &str = "system:review-deadline";

/// A campaign's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CampaignId(pub Uuid);

/// A review item's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReviewItemId(pub Uuid);

macro_rules! uuid_id {
    ($name:ident, $what:literal) => {
        impl $name {
            /// A new, time-ordered id.
            pub fn generate() -> Self {
                $name(Uuid::now_v7())
            }

            /// Parses the textual form.
            pub fn parse(text: &str) -> Result<Self, InvalidValue> {
                Uuid::parse_str(text).map($name).map_err(|_| {
                    InvalidValue(format!(
                        "{} is not a {} id (a UUID)",
                        super::shown(text),
                        $what
                    ))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
uuid_id!(CampaignId, "campaign");
uuid_id!(ReviewItemId, "review item");

/// What kind of access an item is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// Who may request which role (policy eligibility, over the directory's subjects).
    Eligibility,
    /// A role a directory subject holds permanently.
    StandingRole,
    /// A delegation in force.
    Delegation,
    /// A grant from an elevation within the campaign's period.
    Grant,
}

impl ReviewKind {
    /// Every kind, in the order items are listed.
    pub const ALL: [ReviewKind; 4] = [
        ReviewKind::Eligibility,
        ReviewKind::StandingRole,
        ReviewKind::Delegation,
        ReviewKind::Grant,
    ];

    /// The name used in policy, the API and exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::Eligibility => "eligibility",
            ReviewKind::StandingRole => "standing_role",
            ReviewKind::Delegation => "delegation",
            ReviewKind::Grant => "grant",
        }
    }

    /// Parses a name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// A reviewer's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewVerdict {
    /// The access stays.
    Keep,
    /// The access goes, through the normal use case.
    Remove,
}

impl ReviewVerdict {
    /// `keep` or `remove`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Keep => "keep",
            ReviewVerdict::Remove => "remove",
        }
    }

    /// Parses `keep` or `remove`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "keep" => Some(ReviewVerdict::Keep),
            "remove" => Some(ReviewVerdict::Remove),
            _ => None,
        }
    }
}

/// What the deadline does to an item nobody decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadlineDefault {
    /// The access stays (recorded as decided by the deadline).
    Keep,
    /// The access goes.
    Remove,
    /// The item goes to the escalation reviewers for one more window; missed again, the access
    /// goes (an unreviewed privilege fails closed).
    Escalate,
}

impl DeadlineDefault {
    /// `keep`, `remove` or `escalate`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineDefault::Keep => "keep",
            DeadlineDefault::Remove => "remove",
            DeadlineDefault::Escalate => "escalate",
        }
    }

    /// Parses `keep`, `remove` or `escalate`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "keep" => Some(DeadlineDefault::Keep),
            "remove" => Some(DeadlineDefault::Remove),
            "escalate" => Some(DeadlineDefault::Escalate),
            _ => None,
        }
    }
}

/// Who may decide an item: one subject, or any member of a group (as the reviewer's verified
/// token says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reviewer {
    /// This subject.
    Subject(Subject),
    /// Any member of this group.
    Group(GroupName),
}

impl Reviewer {
    /// Whether `who` is this reviewer.
    pub fn includes(&self, who: &Identity) -> bool {
        match self {
            Reviewer::Subject(subject) => *subject == who.subject,
            Reviewer::Group(group) => who.groups.contains(group),
        }
    }

    /// `user:alice` or `group:security`, for lists and exports.
    pub fn label(&self) -> String {
        match self {
            Reviewer::Subject(subject) => format!("user:{subject}"),
            Reviewer::Group(group) => format!("group:{group}"),
        }
    }
}

/// How undecided items end, and who reviews an escalated one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadlineRule {
    /// The default at the deadline.
    pub default: DeadlineDefault,
    /// How long an escalated item stays open, in seconds.
    pub escalation_seconds: i64,
}

/// A campaign: who started it, what it covers, and until when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// Its id.
    pub id: CampaignId,
    /// Its name (the policy's campaign definition it was started from).
    pub name: String,
    /// Who started it: an admin's subject, or `system:review-schedule`.
    pub started_by: String,
    /// When.
    pub started_at: DateTime<Utc>,
    /// Until when its items may be decided.
    pub deadline: DateTime<Utc>,
    /// What happens to items nobody decided.
    pub on_deadline: DeadlineRule,
    /// The kinds of access it covers.
    pub covers: Vec<ReviewKind>,
    /// The roles it covers.
    pub roles: Vec<RoleName>,
    /// Grant history and usage evidence are read from here on.
    pub period_start: DateTime<Utc>,
    /// The policy version it was built from.
    pub policy_version: u64,
}

/// What an item is about, exactly as the campaign saw it: a removal acts on this version or
/// says why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewTarget {
    /// The kind of access.
    pub kind: ReviewKind,
    /// Who holds it.
    pub subject: Subject,
    /// The role.
    pub role: RoleName,
    /// Where (none: everywhere, for a standing role; the entry's patterns for eligibility).
    pub scope: Option<Scope>,
    /// The grant, for a grant or a delegation.
    pub grant_id: Option<GrantId>,
    /// The grant's end as seen (an extension approved later moves it).
    pub seen_not_after: Option<DateTime<Utc>>,
    /// The eligibility entry's patterns, for eligibility.
    pub patterns: Vec<String>,
}

impl ReviewTarget {
    /// `grant 0190… admin_approver@Org:Procurement for fatma`, for messages and exports.
    pub fn describe(&self) -> String {
        let place = match (&self.scope, self.patterns.is_empty()) {
            (Some(scope), _) => format!("@{scope}"),
            (None, false) => format!(" on {}", self.patterns.join(", ")),
            (None, true) => String::new(),
        };
        format!(
            "{} {}{place} for {}",
            self.kind.as_str(),
            self.role,
            self.subject
        )
    }
}

/// A decision on an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewDecision {
    /// Keep or remove.
    pub verdict: ReviewVerdict,
    /// Who decided: a reviewer's subject, or [`DEADLINE_ACTOR`].
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The reviewer's comment.
    pub comment: String,
    /// Whether the deadline's default decided it.
    pub by_default: bool,
    /// What a removal did, once done (or why it could not be done).
    pub outcome: Option<String>,
}

/// One piece of access under review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewItem {
    /// Its id.
    pub id: ReviewItemId,
    /// Its campaign.
    pub campaign_id: CampaignId,
    /// What it is about.
    pub target: ReviewTarget,
    /// Who may decide it (never its subject).
    pub reviewers: Vec<Reviewer>,
    /// Who decides it once escalated (never its subject).
    pub escalate_to: Vec<Reviewer>,
    /// Usage evidence from the audit log, as a sentence.
    pub evidence: String,
    /// Until when it may be decided.
    pub deadline: DateTime<Utc>,
    /// Whether the deadline passed once and the item went to the escalation reviewers.
    pub escalated: bool,
    /// The decision, once made.
    pub decision: Option<ReviewDecision>,
}

/// A reviewer's decision, as asked for.
#[derive(Debug, Clone)]
pub struct ReviewChoice<'a> {
    /// Who decides.
    pub reviewer: &'a Identity,
    /// Keep or remove.
    pub verdict: ReviewVerdict,
    /// Why.
    pub comment: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl ReviewItem {
    /// Whether `who` may decide this item: one of its reviewers, and never the subject whose
    /// access it is (whatever group the subject is in).
    pub fn may_review(&self, who: &Identity) -> Result<(), TransitionError> {
        if who.subject == self.target.subject {
            return Err(TransitionError::NotAllowed(
                "nobody may review their own access; another reviewer decides this item".into(),
            ));
        }
        if !self.reviewers.iter().any(|reviewer| reviewer.includes(who)) {
            let named: Vec<String> = self.reviewers.iter().map(Reviewer::label).collect();
            return Err(TransitionError::NotAllowed(format!(
                "{} is not a reviewer of this item (its reviewers: {})",
                who.subject,
                named.join(", ")
            )));
        }
        Ok(())
    }

    /// The item decided by a reviewer: refused when it was decided already (a decision is
    /// final), when its deadline has passed (the configured default applies then), or when the
    /// caller is not one of its reviewers or is its subject.
    pub fn decide(&self, choice: &ReviewChoice<'_>) -> Result<ReviewItem, TransitionError> {
        if let Some(decision) = &self.decision {
            return Err(TransitionError::WrongState {
                action: "decide",
                what: format!("review item {}", self.id),
                state: format!(
                    "already decided {} by {} at {}",
                    decision.verdict.as_str(),
                    decision.by,
                    rfc3339(decision.at)
                ),
            });
        }
        if choice.at >= self.deadline {
            return Err(TransitionError::WrongState {
                action: "decide",
                what: format!("review item {}", self.id),
                state: format!(
                    "past its deadline ({}); the campaign's default decides it",
                    rfc3339(self.deadline)
                ),
            });
        }
        self.may_review(choice.reviewer)?;
        Ok(self.decided(ReviewDecision {
            verdict: choice.verdict,
            by: choice.reviewer.subject.to_string(),
            at: choice.at,
            comment: choice.comment.to_owned(),
            by_default: false,
            outcome: None,
        }))
    }

    /// What the deadline does at `now` to an item nobody decided: `None` when it is decided or
    /// not yet due. Escalation hands it to the item's escalation reviewers for one more window; an escalated
    /// item missed again is removed.
    pub fn at_deadline(&self, rule: &DeadlineRule, now: DateTime<Utc>) -> Option<ReviewItem> {
        if self.decision.is_some() || now < self.deadline {
            return None;
        }
        let verdict = match rule.default {
            DeadlineDefault::Keep => ReviewVerdict::Keep,
            DeadlineDefault::Remove => ReviewVerdict::Remove,
            DeadlineDefault::Escalate if !self.escalated && !self.escalate_to.is_empty() => {
                let mut escalated = self.clone();
                escalated.escalated = true;
                escalated.reviewers = self.escalate_to.clone();
                escalated.deadline = now + chrono::TimeDelta::seconds(rule.escalation_seconds);
                return Some(escalated);
            }
            DeadlineDefault::Escalate => ReviewVerdict::Remove,
        };
        Some(self.decided(ReviewDecision {
            verdict,
            by: DEADLINE_ACTOR.into(),
            at: now,
            comment: format!(
                "nobody decided by the deadline ({}); the campaign's default applies",
                rfc3339(self.deadline)
            ),
            by_default: true,
            outcome: None,
        }))
    }

    /// The item with what its removal did recorded.
    pub fn with_outcome(&self, outcome: impl Into<String>) -> ReviewItem {
        let mut item = self.clone();
        if let Some(decision) = &mut item.decision {
            decision.outcome = Some(outcome.into());
        }
        item
    }

    fn decided(&self, decision: ReviewDecision) -> ReviewItem {
        let mut item = self.clone();
        item.decision = Some(decision);
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(subject: &str, groups: &[&str]) -> Identity {
        Identity {
            subject: Subject::parse(subject).unwrap(),
            groups: groups
                .iter()
                .map(|g| GroupName::parse(g).unwrap())
                .collect(),
            session: None,
            roles: Vec::new(),
            standing_roles: Vec::new(),
            manager: None,
            amr: Vec::new(),
            expires_at: Utc::now(),
            issuer: None,
        }
    }

    fn item(default_escalate_to: &[&str]) -> ReviewItem {
        let now = Utc::now();
        ReviewItem {
            id: ReviewItemId::generate(),
            campaign_id: CampaignId::generate(),
            target: ReviewTarget {
                kind: ReviewKind::StandingRole,
                subject: Subject::parse("eve").unwrap(),
                role: RoleName::parse("admin_approver").unwrap(),
                scope: None,
                grant_id: None,
                seen_not_after: None,
                patterns: Vec::new(),
            },
            reviewers: vec![Reviewer::Group(GroupName::parse("security").unwrap())],
            escalate_to: (default_escalate_to.iter())
                .map(|s| Reviewer::Subject(Subject::parse(s).unwrap()))
                .collect(),
            evidence: String::new(),
            deadline: now + chrono::TimeDelta::days(1),
            escalated: false,
            decision: None,
        }
    }

    #[test]
    fn a_subject_in_the_reviewing_group_still_cannot_review_itself() {
        let item = item(&[]);
        assert!(item.may_review(&identity("sam", &["security"])).is_ok());
        assert!(item.may_review(&identity("eve", &["security"])).is_err());
        assert!(item.may_review(&identity("ali", &["managers"])).is_err());
    }

    #[test]
    fn escalation_happens_once_and_a_second_miss_removes() {
        let rule = DeadlineRule {
            default: DeadlineDefault::Escalate,
            escalation_seconds: 3600,
        };
        let late = item(&["zoe"]).deadline + chrono::TimeDelta::seconds(1);
        let escalated = item(&["zoe"]).at_deadline(&rule, late).unwrap();
        assert!(escalated.escalated && escalated.decision.is_none());
        let later = escalated.deadline;
        let removed = escalated.at_deadline(&rule, later).unwrap();
        assert_eq!(removed.decision.unwrap().verdict, ReviewVerdict::Remove);
        assert!(
            item(&["zoe"]).at_deadline(&rule, Utc::now()).is_none(),
            "not due yet"
        );
    }
}
