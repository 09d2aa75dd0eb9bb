//! Break-glass uses: an emergency grant a user activated without approval, under a policy entry
//! that allowed it, and the review that use owes afterwards. The review is pure state: who may
//! give it (a named reviewer, never the user who broke glass), once, confirming or flagging;
//! and when an unreviewed use is overdue (which bars its user from breaking glass again).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::elevation::TransitionError;
use super::identity::Identity;
use super::ids::{ElevationId, GrantId};
use super::names::{GroupName, InvalidValue, RoleName, SessionId, Subject};
use super::scope::Scope;

/// A break-glass use's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BreakGlassId(pub Uuid);

impl BreakGlassId {
    /// A new, time-ordered id: ordering ids orders uses by time.
    pub fn generate() -> Self {
        BreakGlassId(Uuid::now_v7())
    }

    /// Parses the textual form.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        Uuid::parse_str(text).map(BreakGlassId).map_err(|_| {
            InvalidValue(format!(
                "{} is not a break-glass id (a UUID)",
                super::shown(text)
            ))
        })
    }
}

impl std::fmt::Display for BreakGlassId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The most allowed Checks kept as evidence for one break-glass grant: enough to review, and a
/// bound on what a grant used in a loop can write.
pub const MAX_BREAK_GLASS_CHECKS: usize = 1000;

/// A Check a break-glass grant allowed, kept as evidence for its review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassCheck {
    /// The grant that allowed it.
    pub grant_id: GrantId,
    /// When.
    pub at: DateTime<Utc>,
    /// The session asked about.
    pub session: Option<String>,
    /// The permission asked for.
    pub permission: String,
    /// The resource.
    pub resource: String,
    /// The request that asked.
    pub request_id: Option<String>,
}

/// What a reviewer decided about a use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BreakGlassVerdict {
    /// The use was justified.
    #[serde(rename = "confirmed")]
    Confirmed,
    /// The use needs looking into: raises an alert.
    #[serde(rename = "flagged")]
    Flagged,
}

impl BreakGlassVerdict {
    /// The stable name: `confirmed`, `flagged`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakGlassVerdict::Confirmed => "confirmed",
            BreakGlassVerdict::Flagged => "flagged",
        }
    }
}

/// A review given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassReview {
    /// Confirmed or flagged.
    pub verdict: BreakGlassVerdict,
    /// The reviewer.
    pub by: Subject,
    /// When.
    pub at: DateTime<Utc>,
    /// What the reviewer wrote.
    pub comment: String,
}

/// Where a use's review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewState {
    /// Not reviewed, and its deadline has not passed.
    Pending,
    /// Not reviewed, and its deadline has passed.
    Overdue,
    /// Confirmed by a reviewer.
    Confirmed,
    /// Flagged by a reviewer.
    Flagged,
}

impl ReviewState {
    /// The stable name, e.g. `overdue`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Overdue => "overdue",
            ReviewState::Confirmed => "confirmed",
            ReviewState::Flagged => "flagged",
        }
    }
}

/// Who must review a use, as the policy entry named them when it was used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reviewers {
    /// These subjects.
    pub users: Vec<Subject>,
    /// Members of these groups.
    pub groups: Vec<GroupName>,
}

impl Reviewers {
    /// Whether `who` is one of them.
    pub fn include(&self, who: &Identity) -> bool {
        self.users.contains(&who.subject) || self.groups.iter().any(|group| who.in_group(group))
    }
}

/// One use of break-glass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlassUse {
    /// Identifier.
    pub id: BreakGlassId,
    /// The policy entry used (its name).
    pub entry: String,
    /// Who broke glass.
    pub subject: Subject,
    /// The login session the grant is bound to.
    pub session: SessionId,
    /// The role granted.
    pub role: RoleName,
    /// The scope granted.
    pub scope: Scope,
    /// Why.
    pub reason: String,
    /// The incident reference given.
    pub incident: String,
    /// When glass was broken (the grant's start).
    pub used_at: DateTime<Utc>,
    /// The grant's end as activated (a session end or a revocation ends it earlier).
    pub ends_at: DateTime<Utc>,
    /// The elevation record of the use.
    pub elevation_id: ElevationId,
    /// The grant it activated.
    pub grant_id: GrantId,
    /// Who must review it.
    pub reviewers: Reviewers,
    /// When an unreviewed use becomes overdue.
    pub review_due_at: DateTime<Utc>,
    /// Request rules that refused and that the entry explicitly overrode (empty unless the
    /// entry says `override_deny_rules: true` and a rule denied).
    pub overridden_rules: Vec<String>,
    /// The policy version it was used under.
    pub policy_version: u64,
    /// The review, once given.
    pub review: Option<BreakGlassReview>,
}

impl BreakGlassUse {
    /// Where its review stands at `now`.
    pub fn review_state(&self, now: DateTime<Utc>) -> ReviewState {
        match &self.review {
            Some(review) if review.verdict == BreakGlassVerdict::Confirmed => {
                ReviewState::Confirmed
            }
            Some(_) => ReviewState::Flagged,
            None if now >= self.review_due_at => ReviewState::Overdue,
            None => ReviewState::Pending,
        }
    }

    /// Whether it is unreviewed past its deadline at `now`.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.review_state(now) == ReviewState::Overdue
    }

    /// Whether `who` may review it: a named reviewer who did not break this glass.
    pub fn may_review(&self, who: &Identity) -> bool {
        who.subject != self.subject && self.reviewers.include(who)
    }

    /// This use, reviewed by `who` with `verdict` at `now`. Its user can never review it, only
    /// a named reviewer can, and only once: a second review (also a concurrent one that lost
    /// the race for the row) is refused and changes nothing.
    pub fn reviewed(
        &self,
        who: &Identity,
        verdict: BreakGlassVerdict,
        comment: &str,
        now: DateTime<Utc>,
    ) -> Result<BreakGlassUse, TransitionError> {
        if who.subject == self.subject {
            return Err(TransitionError::SelfReview);
        }
        if let Some(review) = &self.review {
            return Err(TransitionError::WrongState {
                action: "review",
                what: format!("break-glass use {}", self.id),
                state: format!(
                    "already {} by {}",
                    review.verdict.as_str(),
                    review.by.as_str()
                ),
            });
        }
        if !self.reviewers.include(who) {
            return Err(TransitionError::NotAllowed(format!(
                "{} is not a reviewer of break-glass use {}",
                who.subject, self.id
            )));
        }
        let mut reviewed = self.clone();
        reviewed.review = Some(BreakGlassReview {
            verdict,
            by: who.subject.clone(),
            at: now,
            comment: comment.to_owned(),
        });
        Ok(reviewed)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;
    use crate::domain::elevation::tests::identity;

    fn used_by(subject: &str, now: DateTime<Utc>) -> BreakGlassUse {
        BreakGlassUse {
            id: BreakGlassId::generate(),
            entry: "prod-db-emergency".into(),
            subject: Subject::parse(subject).unwrap(),
            session: SessionId::parse("s1").unwrap(),
            role: RoleName::parse("db_admin").unwrap(),
            scope: Scope::parse("Env:Prod").unwrap(),
            reason: "orders table locked".into(),
            incident: "INC-42".into(),
            used_at: now,
            ends_at: now + TimeDelta::hours(1),
            elevation_id: ElevationId::generate(),
            grant_id: GrantId::generate(),
            reviewers: Reviewers {
                users: vec![Subject::parse("lena").unwrap()],
                groups: vec![GroupName::parse("security").unwrap()],
            },
            review_due_at: now + TimeDelta::hours(24),
            overridden_rules: Vec::new(),
            policy_version: 1,
            review: None,
        }
    }

    #[test]
    fn whoever_broke_glass_can_never_review_it_even_as_a_named_reviewer() {
        let now = Utc::now();
        let mut used = used_by("fatma", now);
        used.reviewers.users.push(Subject::parse("fatma").unwrap());
        let fatma = identity("fatma", &["security"]);
        assert!(!used.may_review(&fatma));
        assert_eq!(
            used.reviewed(&fatma, BreakGlassVerdict::Confirmed, "fine", now),
            Err(TransitionError::SelfReview)
        );
    }

    #[test]
    fn only_named_reviewers_review_and_only_once() {
        let now = Utc::now();
        let used = used_by("fatma", now);
        let outsider = identity("mallory", &["sales"]);
        assert!(matches!(
            used.reviewed(&outsider, BreakGlassVerdict::Confirmed, "", now),
            Err(TransitionError::NotAllowed(_))
        ));
        let by_group = identity("sam", &["security"]);
        let flagged = used
            .reviewed(&by_group, BreakGlassVerdict::Flagged, "why prod?", now)
            .unwrap();
        assert_eq!(flagged.review_state(now), ReviewState::Flagged);
        let lena = identity("lena", &[]);
        assert!(matches!(
            flagged.reviewed(&lena, BreakGlassVerdict::Confirmed, "", now),
            Err(TransitionError::WrongState { .. })
        ));
    }

    #[test]
    fn an_unreviewed_use_becomes_overdue_at_its_deadline_and_a_review_settles_it() {
        let now = Utc::now();
        let used = used_by("fatma", now);
        assert_eq!(used.review_state(now), ReviewState::Pending);
        let later = used.review_due_at;
        assert!(used.is_overdue(later));
        let confirmed = used
            .reviewed(
                &identity("lena", &[]),
                BreakGlassVerdict::Confirmed,
                "ok",
                later,
            )
            .unwrap();
        assert!(!confirmed.is_overdue(later + TimeDelta::days(30)));
        assert_eq!(confirmed.review_state(later), ReviewState::Confirmed);
    }
}
