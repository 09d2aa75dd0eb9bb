//! The in-memory store's reads: elevations and grants, the decision cache's snapshots, the
//! policy versions and the audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::audit::GENESIS_HASH;
use crate::domain::{Elevation, ElevationId, Grant, GrantId, Revision, RiskSignal, Subject};
use crate::store::{
    AuditFilter, AuditLog, Checkpoint, DelegationFilter, ElevationFilter, Elevations,
    MAX_REVOKED_GRANTS_LOADED, Policies, PolicyVersion, Snapshot, Snapshots, StoreError,
    StoredAuditEvent, whole_revisions,
};

#[async_trait]
impl Elevations for MemoryStore {
    async fn get_elevation(&self, id: ElevationId) -> Result<Option<Elevation>, StoreError> {
        Ok(self.lock().elevations.get(&id).cloned())
    }

    async fn list_elevations(
        &self,
        filter: &ElevationFilter,
    ) -> Result<Vec<Elevation>, StoreError> {
        let state = self.lock();
        let upper = match filter.before {
            Some(before) => std::ops::Bound::Excluded(before),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state
            .elevations
            .range((std::ops::Bound::Unbounded, upper))
            .rev()
            .map(|(_, elevation)| elevation)
            .filter(|elevation| {
                filter
                    .requester
                    .as_ref()
                    .is_none_or(|requester| &elevation.requester == requester)
                    && filter.state.is_none_or(|state| elevation.state() == state)
                    && filter
                        .role
                        .as_ref()
                        .is_none_or(|role| &elevation.role == role)
            })
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        Ok(self.lock().grants.get(&id).cloned())
    }

    async fn list_delegations(
        &self,
        filter: &DelegationFilter,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError> {
        let state = self.lock();
        let mut grants: Vec<Grant> = match filter {
            DelegationFilter::GivenBy(delegator) => state
                .grants
                .values()
                .filter(|grant| grant.delegated_by() == Some(delegator))
                .cloned()
                .collect(),
            DelegationFilter::GivenTo(delegatee) => state
                .subject_grants(delegatee.as_str())
                .filter(|grant| grant.delegated_by().is_some())
                .cloned()
                .collect(),
            DelegationFilter::From(root) => state.descendants(*root),
        };
        grants.retain(|grant| include_ended || !grant.has_ended(now));
        grants.sort_by_key(|grant| std::cmp::Reverse(grant.id));
        Ok(grants)
    }

    async fn list_grants(
        &self,
        subject: &Subject,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError> {
        let state = self.lock();
        let mut grants: Vec<Grant> = state
            .subject_grants(subject.as_str())
            .filter(|grant| include_ended || !grant.has_ended(now))
            .cloned()
            .collect();
        grants.sort_by_key(|grant| std::cmp::Reverse(grant.id));
        Ok(grants)
    }
}

#[async_trait]
impl Snapshots for MemoryStore {
    async fn load_grants(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<Grant>>, StoreError> {
        let state = self.lock();
        let (mut revoked, mut value): (Vec<&Grant>, Vec<&Grant>) = state
            .subject_grants(subject)
            .filter(|grant| grant.not_after > since)
            .partition(|grant| grant.revocation.is_some());
        // The most recently revoked, as the PostgreSQL store picks them.
        revoked.sort_by_key(|grant| {
            std::cmp::Reverse((
                grant.revocation.as_ref().map(|revoked| revoked.at),
                grant.id,
            ))
        });
        value.extend(revoked.into_iter().take(MAX_REVOKED_GRANTS_LOADED));
        Ok(state.snapshot(value.into_iter().cloned().collect()))
    }

    async fn load_risk(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<RiskSignal>>, StoreError> {
        let state = self.lock();
        let signals = (state.risk_by_subject.get(subject).into_iter().flatten())
            .filter(|signal| signal.expires_at > now)
            .cloned()
            .collect();
        Ok(state.snapshot(signals))
    }
    async fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }
}

#[async_trait]
impl Policies for MemoryStore {
    async fn latest_policy(&self) -> Result<Option<PolicyVersion>, StoreError> {
        Ok(self.lock().policies.last().cloned())
    }

    async fn latest_policy_by(
        &self,
        created_by: &str,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        Ok(self
            .lock()
            .policies
            .iter()
            .rev()
            .find(|policy| policy.created_by == created_by)
            .cloned())
    }
}

#[async_trait]
impl AuditLog for MemoryStore {
    async fn audit_events(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let state = self.lock();
        Ok(state
            .audit
            .iter()
            .skip(after_seq as usize)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn audit_events_after_revision(
        &self,
        after_revision: Revision,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let state = self.lock();
        let events: Vec<StoredAuditEvent> = state
            .audit
            .iter()
            .filter(|stored| stored.revision > after_revision)
            .take(limit + 1)
            .cloned()
            .collect();
        Ok(whole_revisions(events, limit))
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let state = self.lock();
        Ok(state
            .audit
            .iter()
            .filter(|stored| stored.seq > filter.after_seq && audit_matches(filter, stored))
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn audit_head(&self) -> Result<(u64, [u8; 32], Revision), StoreError> {
        let state = self.lock();
        let revision = state.audit.last().map_or(0, |stored| stored.revision);
        Ok((
            state.audit.len() as u64,
            state.audit_hash.unwrap_or(GENESIS_HASH),
            revision,
        ))
    }

    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let mut state = self.lock();
        if !state
            .checkpoints
            .iter()
            .any(|kept| kept.seq == checkpoint.seq)
        {
            state.checkpoints.push(checkpoint.clone());
        }
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self
            .lock()
            .checkpoints
            .iter()
            .max_by_key(|c| c.seq)
            .cloned())
    }
}

/// Whether a stored event passes `filter` (the sequence bound and limit aside).
fn audit_matches(filter: &AuditFilter, stored: &StoredAuditEvent) -> bool {
    let event = &stored.event;
    let about_one = (filter.elevations.is_empty() && filter.grants.is_empty())
        || event
            .elevation_id
            .is_some_and(|id| filter.elevations.contains(&id))
        || event.grant_id.is_some_and(|id| filter.grants.contains(&id));
    filter
        .subject
        .as_ref()
        .is_none_or(|s| event.subject.as_ref() == Some(s))
        && filter.actor.as_ref().is_none_or(|a| &event.actor == a)
        && filter
            .involving
            .as_ref()
            .is_none_or(|s| event.subject.as_ref() == Some(s) || event.actor == s.as_str())
        && filter.action.is_none_or(|a| event.action == a)
        && filter.from.is_none_or(|from| event.at >= from)
        && filter.to.is_none_or(|to| event.at < to)
        && about_one
}
