//! What a new campaign covers, item by item: eligibility (policy entries over the directory's
//! subjects), standing roles (the directory), delegations in force and grants of the period
//! (found through the audit log), each with its reviewers resolved by policy (never the
//! subject) and its usage evidence read from the audit log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Elevator, ServiceError};
use crate::domain::{
    AuditAction, Campaign, DirectoryView, Grant, GrantId, ReviewItem, ReviewItemId, ReviewKind,
    ReviewTarget, Reviewer, RoleName, StoredAuditEvent, Subject, Value,
};
use crate::policy::{CampaignDefinition, Policy};
use crate::store::{AuditFilter, MAX_CAMPAIGN_ITEMS};

/// Audit events read per page while looking for grants and delegations.
const AUDIT_PAGE: usize = 1000;
/// Most audit events about one subject read for its evidence.
const EVIDENCE_EVENTS: usize = 5000;
/// The directory entity type subjects are looked up as (as a plain Check does).
const SUBJECT_TYPE: &str = "user";

/// A subject's manager, as the directory's `manager` property names it.
pub(super) fn manager_of(directory: &DirectoryView, subject: &Subject) -> Option<Subject> {
    let entity = directory.find(SUBJECT_TYPE, subject.as_str())?;
    match entity.properties.get("manager") {
        Some(Value::String(name)) => Subject::parse(name).ok(),
        _ => None,
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn target(kind: ReviewKind, subject: &Subject, role: &RoleName) -> ReviewTarget {
    ReviewTarget {
        kind,
        subject: subject.clone(),
        role: role.clone(),
        scope: None,
        grant_id: None,
        seen_not_after: None,
        patterns: Vec::new(),
    }
}

fn grant_target(kind: ReviewKind, grant: &Grant) -> ReviewTarget {
    ReviewTarget {
        scope: Some(grant.scope.clone()),
        grant_id: Some(grant.id),
        seen_not_after: Some(grant.not_after),
        ..target(kind, &grant.subject, &grant.role)
    }
}

/// Eligibility targets: every subject an entry for a covered role admits, by name or through
/// a group the directory gives it; one target per subject and role, with all its patterns.
fn eligibility_targets(
    policy: &Policy,
    directory: &DirectoryView,
    roles: &[RoleName],
) -> Vec<ReviewTarget> {
    let mut targets: Vec<ReviewTarget> = Vec::new();
    let mut add = |subject: &Subject, role: &RoleName, patterns: Vec<String>| {
        let same = |known: &&mut ReviewTarget| known.subject == *subject && known.role == *role;
        match targets.iter_mut().find(|known| same(known)) {
            Some(known) => known.patterns.extend(patterns),
            None => targets.push(ReviewTarget {
                patterns,
                ..target(ReviewKind::Eligibility, subject, role)
            }),
        }
    };
    for entry in policy.eligibility() {
        if !roles.contains(&entry.role) {
            continue;
        }
        let patterns: Vec<String> = entry.scopes.iter().map(|p| p.as_str().to_owned()).collect();
        for user in &entry.users {
            add(user, &entry.role, patterns.clone());
        }
        for entity in directory.entities() {
            if entity.key.entity_type.as_str() != SUBJECT_TYPE {
                continue;
            }
            let Ok(subject) = Subject::parse(entity.key.id.as_str()) else {
                continue;
            };
            if !entry.users.contains(&subject) && entry.admits_subject(&subject, &entity.groups) {
                add(&subject, &entry.role, patterns.clone());
            }
        }
    }
    for found in &mut targets {
        found.patterns.sort();
        found.patterns.dedup();
    }
    targets
}

/// Standing-role targets: every covered role a directory subject holds.
fn standing_role_targets(directory: &DirectoryView, roles: &[RoleName]) -> Vec<ReviewTarget> {
    let mut targets = Vec::new();
    for entity in directory.entities() {
        if entity.key.entity_type.as_str() != SUBJECT_TYPE {
            continue;
        }
        let Ok(subject) = Subject::parse(entity.key.id.as_str()) else {
            continue;
        };
        for standing in entity.roles.iter().filter(|s| roles.contains(&s.role)) {
            targets.push(ReviewTarget {
                scope: standing.scope.clone(),
                ..target(ReviewKind::StandingRole, &subject, &standing.role)
            });
        }
    }
    targets
}

/// What the audit log says about one subject, for evidence.
struct Usage<'e> {
    events: &'e [StoredAuditEvent],
    since: DateTime<Utc>,
    days: i64,
}

impl Usage<'_> {
    fn about(&self, action: AuditAction, role: &RoleName) -> Vec<&StoredAuditEvent> {
        (self.events.iter())
            .filter(|e| e.event.action == action && e.event.role.as_ref() == Some(role))
            .collect()
    }

    fn writes_by(&self, subject: &Subject, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let writes: Vec<&StoredAuditEvent> = (self.events.iter())
            .filter(|e| e.event.actor == subject.as_str() && e.event.at >= from && e.event.at < to)
            .collect();
        match writes.last() {
            None => "made no recorded write".into(),
            Some(last) => format!(
                "made {} recorded writes (last on {})",
                writes.len(),
                day(last.event.at)
            ),
        }
    }

    /// The evidence sentence for `target` (with its grant, for grants and delegations).
    fn evidence(&self, target: &ReviewTarget, grant: Option<&Grant>, now: DateTime<Utc>) -> String {
        let days = self.days;
        match (target.kind, grant) {
            (ReviewKind::Eligibility, _) => {
                let requests = self.about(AuditAction::ElevationRequested, &target.role);
                match requests.last() {
                    None => format!("eligible; never elevated in the last {days} days"),
                    Some(last) => format!(
                        "eligible; elevated {} times in the last {days} days, last on {}",
                        requests.len(),
                        day(last.event.at)
                    ),
                }
            }
            (ReviewKind::StandingRole, _) => format!(
                "standing role from the directory; the subject {} in the last {days} days",
                self.writes_by(&target.subject, self.since, now)
            ),
            (ReviewKind::Delegation, Some(grant)) => {
                let from = grant.delegated_by().map_or("?".into(), ToString::to_string);
                let taken_up = (self.events.iter()).find(|e| {
                    e.event.action == AuditAction::DelegationAccepted
                        && e.event.grant_id == Some(grant.id)
                });
                let use_text = match taken_up {
                    Some(event) => format!("taken up on {}", day(event.event.at)),
                    None if grant.awaiting_acceptance => "never used (never taken up)".into(),
                    None => format!(
                        "the delegatee {} while it held it",
                        self.writes_by(&grant.subject, grant.not_before, grant.not_after.min(now))
                    ),
                };
                format!(
                    "delegated by {from} until {}; {use_text}",
                    day(grant.not_after)
                )
            }
            (ReviewKind::Grant, Some(grant)) => {
                let state = match (&grant.revocation, grant.has_ended(now)) {
                    (Some(revocation), _) => format!("revoked on {}", day(revocation.at)),
                    (None, true) => format!("ended on {}", day(grant.not_after)),
                    (None, false) => format!("active until {}", day(grant.not_after)),
                };
                format!(
                    "granted on {}, {state}; the subject {} while it was active",
                    day(grant.not_before),
                    self.writes_by(&grant.subject, grant.not_before, grant.not_after.min(now))
                )
            }
            (_, None) => "the grant could not be read".into(),
        }
    }
}

impl Elevator {
    /// Every grant named by an audit event of `actions` at or after `from`, once each, that
    /// `keep` accepts, up to the campaign's bound.
    async fn grants_from_audit(
        &self,
        actions: &[AuditAction],
        from: Option<DateTime<Utc>>,
        keep: impl Fn(&Grant) -> bool,
    ) -> Result<Vec<Grant>, ServiceError> {
        let mut grants: Vec<Grant> = Vec::new();
        let mut seen: Vec<GrantId> = Vec::new();
        for action in actions {
            let mut after_seq = 0;
            loop {
                let filter = AuditFilter {
                    action: Some(*action),
                    from,
                    after_seq,
                    limit: AUDIT_PAGE,
                    ..AuditFilter::default()
                };
                let page = self.store.list_audit(&filter).await?;
                for id in page.iter().filter_map(|stored| stored.event.grant_id) {
                    if seen.contains(&id) || grants.len() >= MAX_CAMPAIGN_ITEMS {
                        continue;
                    }
                    seen.push(id);
                    if let Some(grant) = self.store.get_grant(id).await?
                        && keep(&grant)
                    {
                        grants.push(grant);
                    }
                }
                match page.last() {
                    Some(last) if page.len() == AUDIT_PAGE => after_seq = last.seq,
                    _ => break,
                }
            }
        }
        Ok(grants)
    }

    /// The targets `definition` covers, with the grant of each grant or delegation.
    async fn campaign_targets(
        &self,
        definition: &CampaignDefinition,
        policy: &Policy,
        directory: &DirectoryView,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<(ReviewTarget, Option<Grant>)>, ServiceError> {
        let roles = &definition.roles;
        let mut targets: Vec<(ReviewTarget, Option<Grant>)> = Vec::new();
        for kind in &definition.covers {
            match kind {
                ReviewKind::Eligibility => targets.extend(
                    eligibility_targets(policy, directory, roles)
                        .into_iter()
                        .map(|t| (t, None)),
                ),
                ReviewKind::StandingRole => targets.extend(
                    standing_role_targets(directory, roles)
                        .into_iter()
                        .map(|t| (t, None)),
                ),
                ReviewKind::Delegation => {
                    let actions = [AuditAction::GrantDelegated];
                    let in_force = |grant: &Grant| {
                        roles.contains(&grant.role)
                            && grant.revocation.is_none()
                            && !grant.has_ended(now)
                    };
                    let grants = self.grants_from_audit(&actions, None, in_force).await?;
                    targets.extend(
                        grants.into_iter().map(|grant| {
                            (grant_target(ReviewKind::Delegation, &grant), Some(grant))
                        }),
                    );
                }
                ReviewKind::Grant => {
                    let actions = [AuditAction::GrantActivated, AuditAction::GrantScheduled];
                    let elevated =
                        |grant: &Grant| roles.contains(&grant.role) && grant.elevation_id.is_some();
                    let grants = self
                        .grants_from_audit(&actions, Some(since), elevated)
                        .await?;
                    targets.extend(
                        grants
                            .into_iter()
                            .map(|grant| (grant_target(ReviewKind::Grant, &grant), Some(grant))),
                    );
                }
            }
        }
        targets.truncate(MAX_CAMPAIGN_ITEMS);
        Ok(targets)
    }

    /// The items of `campaign`, started from `definition` under `policy`.
    pub(super) async fn campaign_items(
        &self,
        campaign: &Campaign,
        definition: &CampaignDefinition,
        policy: &Policy,
    ) -> Result<Vec<ReviewItem>, ServiceError> {
        let directory = self.decider.directory();
        let (since, now) = (campaign.period_start, campaign.started_at);
        let targets = self
            .campaign_targets(definition, policy, &directory, since, now)
            .await?;
        let mut events_by_subject: HashMap<Subject, Vec<StoredAuditEvent>> = HashMap::new();
        let mut items = Vec::with_capacity(targets.len());
        for (target, grant) in targets {
            if !events_by_subject.contains_key(&target.subject) {
                let filter = AuditFilter {
                    involving: Some(target.subject.clone()),
                    from: Some(since),
                    limit: EVIDENCE_EVENTS,
                    ..AuditFilter::default()
                };
                let events = self.store.list_audit(&filter).await?;
                events_by_subject.insert(target.subject.clone(), events);
            }
            let usage = Usage {
                events: events_by_subject
                    .get(&target.subject)
                    .map_or(&[], Vec::as_slice),
                since,
                days: definition.history.num_days(),
            };
            let reviews = policy.reviews();
            let manager = manager_of(&directory, &target.subject);
            let mut reviewers: Vec<Reviewer> = reviews.resolve(
                &definition.reviewers,
                &target.subject,
                &target.role,
                manager.as_ref(),
            );
            let escalate_to = reviews.resolve(
                &definition.escalate_to,
                &target.subject,
                &target.role,
                manager.as_ref(),
            );
            let mut evidence = usage.evidence(&target, grant.as_ref(), now);
            if reviewers.is_empty() {
                reviewers = escalate_to.clone();
                evidence.push_str("; no reviewer resolved, so the escalation reviewers decide");
            }
            items.push(ReviewItem {
                id: ReviewItemId::generate(),
                campaign_id: campaign.id,
                target,
                reviewers,
                escalate_to,
                evidence,
                deadline: campaign.deadline,
                escalated: false,
                decision: None,
            });
        }
        Ok(items)
    }
}
