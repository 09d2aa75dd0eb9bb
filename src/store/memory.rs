//! The in-memory store: the embedded default for dev mode (`elevator serve` without a database)
//! and a second implementation for the contract suite. One mutex guards all state, so every
//! write is atomic and serialized exactly as the PostgreSQL store's transactions are.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::delivery_ids::DeliveryIds;
use super::{
    AuditFilter, Change, Checkpoint, Committed, Created, Decide, DelegationFilter, DeliveryOutcome,
    ElevationContext, ElevationFilter, GrantContext, Lease, MAX_REVOKED_GRANTS_LOADED,
    OutboxMessage, PendingDelivery, Snapshot, Store, StoreError, StoreEvent, StoredAuditEvent,
    StoredPolicy, check_transitions, decide_change, whole_revisions, with_revision,
};
use crate::domain::audit::{GENESIS_HASH, chain_hash};
use crate::domain::{
    Elevation, ElevationId, ElevationState, Grant, GrantId, Revision, RiskSignal, SessionId,
    Subject,
};

#[derive(Default)]
struct State {
    revision: Revision,
    elevations: BTreeMap<ElevationId, Elevation>,
    idempotency_keys: HashMap<(Subject, String), ElevationId>,
    grants: HashMap<GrantId, Grant>,
    grants_by_subject: HashMap<Subject, Vec<GrantId>>,
    risk_by_subject: HashMap<Subject, Vec<RiskSignal>>,
    policies: Vec<StoredPolicy>,
    audit: Vec<StoredAuditEvent>,
    audit_hash: Option<[u8; 32]>,
    checkpoints: Vec<Checkpoint>,
    outbox: Vec<OutboxRow>,
}

/// A webhook delivery kept in memory.
struct OutboxRow {
    message: OutboxMessage,
    revision: Revision,
    attempts: u32,
    next_attempt_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
    finished: bool,
}

impl State {
    fn subject_grants(&self, subject: &str) -> impl Iterator<Item = &Grant> {
        self.grants_by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get(id))
    }

    fn elevation_context(&self, id: ElevationId, now: DateTime<Utc>) -> Option<ElevationContext> {
        let elevation = self.elevations.get(&id)?.clone();
        let grant = elevation
            .grant_id
            .and_then(|grant_id| self.grants.get(&grant_id).cloned());
        let requester_grants = self
            .subject_grants(elevation.requester.as_str())
            .filter(|grant| Some(grant.id) != elevation.grant_id && !grant.has_ended(now))
            .cloned()
            .collect();
        Some(ElevationContext {
            elevation,
            grant,
            requester_grants,
        })
    }

    fn grant_context(&self, grant: &Grant) -> GrantContext {
        GrantContext {
            grant: grant.clone(),
            elevation: grant
                .elevation_id
                .and_then(|id| self.elevations.get(&id).cloned()),
            descendants: self
                .descendants(grant.id)
                .into_iter()
                .filter(|descendant| descendant.revocation.is_none())
                .collect(),
        }
    }

    /// Every grant delegated from `root`, at any depth.
    fn descendants(&self, root: GrantId) -> Vec<Grant> {
        let mut found: Vec<Grant> = Vec::new();
        let mut frontier = vec![root];
        while let Some(parent) = frontier.pop() {
            for grant in self.grants.values() {
                if grant.parent_grant_id == Some(parent) && !found.iter().any(|g| g.id == grant.id)
                {
                    frontier.push(grant.id);
                    found.push(grant.clone());
                }
            }
        }
        found.sort_by_key(|grant| grant.id);
        found
    }

    fn apply(&mut self, change: Change) -> Committed {
        if change.is_empty() {
            return Committed {
                revision: self.revision,
                change,
            };
        }
        self.revision += 1;
        let revision = self.revision;
        for elevation in &change.elevations {
            if let Some(key) = &elevation.idempotency_key {
                self.idempotency_keys
                    .entry((elevation.requester.clone(), key.clone()))
                    .or_insert(elevation.id);
            }
            self.elevations.insert(elevation.id, elevation.clone());
        }
        for grant in &change.grants {
            if self.grants.insert(grant.id, grant.clone()).is_none() {
                self.grants_by_subject
                    .entry(grant.subject.clone())
                    .or_default()
                    .push(grant.id);
            }
        }
        for signal in &change.risk_signals {
            self.risk_by_subject
                .entry(signal.subject.clone())
                .or_default()
                .push(signal.clone());
        }
        if let Some(policy) = &change.policy {
            self.policies.push(policy.clone());
        }
        for message in &change.outbox {
            self.outbox.push(OutboxRow {
                message: message.clone(),
                revision,
                attempts: 0,
                next_attempt_at: message.created_at,
                locked_until: None,
                finished: false,
            });
        }
        for event in &change.events {
            let seq = self.audit.len() as u64 + 1;
            let prev_hash = self.audit_hash.unwrap_or(GENESIS_HASH);
            let hash = chain_hash(seq, revision, &prev_hash, event);
            self.audit_hash = Some(hash);
            self.audit.push(StoredAuditEvent {
                seq,
                revision,
                event: event.clone(),
                prev_hash,
                hash,
            });
        }
        Committed { revision, change }
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

/// The in-memory store.
pub struct MemoryStore {
    state: Mutex<State>,
    events: broadcast::Sender<StoreEvent>,
    /// Webhook delivery ids unique across restarts (see [`DeliveryIds`]).
    delivery_ids: DeliveryIds,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(1024);
        MemoryStore {
            state: Mutex::new(State::default()),
            events,
            delivery_ids: DeliveryIds::random(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: changes are applied
        // only after every decision succeeded. Keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, committed: &Committed) {
        if committed.change.is_empty() {
            return;
        }
        // Nobody listening is fine: there is only this replica.
        let _ = self.events.send(StoreEvent::Changed {
            revision: committed.revision,
            subjects: committed.change.affected_subjects(),
            everyone: false,
            policy_changed: committed.change.policy.is_some(),
            committed_at: Some(Utc::now()),
        });
    }

    fn commit_with<F>(&self, write: F) -> Result<Committed, StoreError>
    where
        F: FnOnce(&mut State) -> Result<Committed, StoreError>,
    {
        let committed = {
            let mut state = self.lock();
            write(&mut state)?
        };
        self.publish(&committed);
        Ok(committed)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_elevation(
        &self,
        change: Change,
        idempotency: Option<(Subject, String)>,
    ) -> Result<Created, StoreError> {
        let mut existing = None;
        let committed = self.commit_with(|state| {
            if let Some(key) = &idempotency
                && let Some(id) = state.idempotency_keys.get(key)
            {
                existing = state.elevations.get(id).cloned();
                return Ok(state.apply(Change::default()));
            }
            Ok(state.apply(change))
        })?;
        Ok(match existing {
            Some(elevation) => Created::Existing(Box::new(elevation)),
            None => Created::New(committed),
        })
    }

    async fn update_elevation(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
        decide: Decide<'_, ElevationContext>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let context = state
                .elevation_context(id, now)
                .ok_or_else(|| StoreError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
            let before = [context.elevation.clone()];
            let change = decide_change(decide, context)?;
            check_transitions(&before, &change)?;
            Ok(state.apply(change))
        })
    }

    async fn update_grant(
        &self,
        id: GrantId,
        decide: Decide<'_, GrantContext>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let grant = state.grants.get(&id).ok_or_else(|| StoreError::NotFound {
                what: "grant",
                id: id.to_string(),
            })?;
            let context = state.grant_context(grant);
            let before: Vec<Elevation> = context.elevation.iter().cloned().collect();
            let change = decide_change(decide, context)?;
            check_transitions(&before, &change)?;
            Ok(state.apply(change))
        })
    }

    async fn update_session(
        &self,
        subject: &Subject,
        session: &SessionId,
        now: DateTime<Utc>,
        decide: Decide<'_, Vec<GrantContext>>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let contexts: Vec<GrantContext> = state
                .subject_grants(subject.as_str())
                .filter(|grant| grant.session.as_ref() == Some(session) && !grant.has_ended(now))
                .map(|grant| state.grant_context(grant))
                .collect();
            let before: Vec<Elevation> = contexts
                .iter()
                .filter_map(|context| context.elevation.clone())
                .collect();
            let change = decide_change(decide, contexts)?;
            check_transitions(&before, &change)?;
            Ok(state.apply(change))
        })
    }

    async fn update_policy(
        &self,
        decide: Decide<'_, Option<StoredPolicy>>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let change = decide_change(decide, state.policies.last().cloned())?;
            Ok(state.apply(change))
        })
    }

    async fn append(&self, change: Change) -> Result<Committed, StoreError> {
        self.commit_with(|state| Ok(state.apply(change)))
    }

    async fn due_elevations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ElevationId>, StoreError> {
        let state = self.lock();
        let grant_of = |elevation: &Elevation| {
            elevation
                .grant_id
                .and_then(|grant_id| state.grants.get(&grant_id))
        };
        Ok(state
            .elevations
            .values()
            .filter(|elevation| match elevation.state() {
                ElevationState::Pending => now >= elevation.request_expires_at,
                ElevationState::Scheduled => grant_of(elevation)
                    .is_some_and(|grant| now >= grant.not_before || grant.revocation.is_some()),
                ElevationState::Active => grant_of(elevation)
                    .is_some_and(|grant| now >= grant.not_after || grant.revocation.is_some()),
                _ => false,
            })
            .map(|elevation| elevation.id)
            .take(limit)
            .collect())
    }

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
        Ok(Snapshot {
            value: value.into_iter().cloned().collect(),
            revision: state.revision,
        })
    }

    async fn load_risk(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<RiskSignal>>, StoreError> {
        let state = self.lock();
        Ok(Snapshot {
            value: state
                .risk_by_subject
                .get(subject)
                .into_iter()
                .flatten()
                .filter(|signal| signal.expires_at > now)
                .cloned()
                .collect(),
            revision: state.revision,
        })
    }

    async fn latest_policy(&self) -> Result<Option<StoredPolicy>, StoreError> {
        Ok(self.lock().policies.last().cloned())
    }

    async fn latest_policy_by(&self, created_by: &str) -> Result<Option<StoredPolicy>, StoreError> {
        Ok(self
            .lock()
            .policies
            .iter()
            .rev()
            .find(|policy| policy.created_by == created_by)
            .cloned())
    }

    async fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.lock().revision)
    }

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

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let mut state = self.lock();
        let mut claimed = Vec::new();
        for (index, row) in state.outbox.iter_mut().enumerate() {
            if claimed.len() == limit {
                break;
            }
            let due = !row.finished
                && row.next_attempt_at <= now
                && row.locked_until.is_none_or(|until| until <= now);
            if due {
                row.locked_until = Some(now + lease);
                claimed.push(PendingDelivery {
                    id: self.delivery_ids.id(index),
                    url: row.message.url.clone(),
                    event_kind: row.message.event_kind.clone(),
                    payload: with_revision(row.message.payload.clone(), row.revision),
                    attempts: row.attempts,
                });
            }
        }
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = self
            .delivery_ids
            .index(id)
            .and_then(|index| state.outbox.get_mut(index))
            .ok_or_else(|| StoreError::NotFound {
                what: "delivery",
                id: id.to_string(),
            })?;
        row.attempts += 1;
        row.locked_until = None;
        match outcome {
            DeliveryOutcome::Delivered => row.finished = true,
            DeliveryOutcome::Failed { retry_at, .. } => match retry_at {
                Some(at) => row.next_attempt_at = at,
                None => row.finished = true,
            },
        }
        Ok(())
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|row| !row.finished)
            .count() as u64)
    }

    async fn pending_elevations(&self) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .elevations
            .values()
            .filter(|elevation| elevation.state() == ElevationState::Pending)
            .count() as u64)
    }

    async fn sweep_lease(&self) -> Result<Option<Lease>, StoreError> {
        // One process is the only replica.
        Ok(Some(Lease::new(())))
    }

    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    fn is_listening(&self) -> bool {
        true
    }
}
