//! Everything the in-memory store holds, and how a change is applied to it: the revision bump,
//! the rows, the outbox and the chained audit events, in one step under the store's lock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use crate::domain::audit::{GENESIS_HASH, chain_hash};
use crate::domain::{
    BreakGlassCheck, BreakGlassId, BreakGlassUse, Elevation, ElevationId, Grant, GrantId, Revision,
    RiskSignal, Subject,
};
use crate::store::{
    Change, Checkpoint, Committed, ElevationContext, GrantContext, OutboxMessage, PolicyVersion,
    Snapshot, StoredAuditEvent,
};

#[derive(Default)]
pub(super) struct State {
    pub(super) revision: Revision,
    pub(super) elevations: BTreeMap<ElevationId, Elevation>,
    pub(super) idempotency_keys: HashMap<(Subject, String), ElevationId>,
    pub(super) grants: HashMap<GrantId, Grant>,
    pub(super) grants_by_subject: HashMap<Subject, Vec<GrantId>>,
    pub(super) risk_by_subject: HashMap<Subject, Vec<RiskSignal>>,
    pub(super) policies: Vec<PolicyVersion>,
    pub(super) directory: super::directory::StoredDirectory,
    pub(super) audit: Vec<StoredAuditEvent>,
    pub(super) audit_hash: Option<[u8; 32]>,
    pub(super) checkpoints: Vec<Checkpoint>,
    pub(super) outbox: Vec<OutboxRow>,
    pub(super) break_glass: BTreeMap<BreakGlassId, BreakGlassUse>,
    pub(super) break_glass_checks: HashMap<GrantId, Vec<BreakGlassCheck>>,
    pub(super) reviews: super::reviews::StoredReviews,
}

/// A webhook delivery kept in memory.
pub(super) struct OutboxRow {
    pub(super) message: OutboxMessage,
    pub(super) revision: Revision,
    pub(super) attempts: u32,
    pub(super) next_attempt_at: DateTime<Utc>,
    pub(super) locked_until: Option<DateTime<Utc>>,
    pub(super) finished: bool,
}

impl State {
    /// Every grant of `subject`.
    pub(super) fn subject_grants(&self, subject: &str) -> impl Iterator<Item = &Grant> {
        self.grants_by_subject
            .get(subject)
            .into_iter()
            .flatten()
            .filter_map(|id| self.grants.get(id))
    }

    /// What a decision about elevation `id` sees at `now`.
    pub(super) fn elevation_context(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
    ) -> Option<ElevationContext> {
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

    /// What a decision about `grant` sees.
    pub(super) fn grant_context(&self, grant: &Grant) -> GrantContext {
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
    pub(super) fn descendants(&self, root: GrantId) -> Vec<Grant> {
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

    /// `value`, read under the lock, as a snapshot at the current revision.
    pub(super) fn snapshot<T>(&self, value: T) -> Snapshot<T> {
        Snapshot {
            value,
            revision: self.revision,
        }
    }

    /// Applies `change` whole: a revision for a change that writes anything, its rows, its
    /// outbox deliveries and its audit events chained from the head.
    pub(super) fn apply(&mut self, change: Change) -> Committed {
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
        for used in &change.break_glass {
            self.break_glass.insert(used.id, used.clone());
        }
        for write in &change.directory {
            self.directory.apply(write);
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
