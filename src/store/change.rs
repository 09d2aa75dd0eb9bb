//! What a write is: the [`Change`] a pure decision returns over what the store read under a
//! lock ([`ElevationContext`], [`GrantContext`]), and what committing it gives back.

use chrono::{DateTime, Utc};

use super::{DirectoryWrite, OutboxMessage, StoreError};
use crate::domain::{
    AuditEvent, BreakGlassUse, Elevation, EntityKey, Grant, Revision, RiskSignal, Subject,
    TransitionError,
};

/// Everything one write changes. Rows are written whole (inserted or replaced).
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Elevations to insert or replace.
    pub elevations: Vec<Elevation>,
    /// Grants to insert or replace.
    pub grants: Vec<Grant>,
    /// Risk signals to insert.
    pub risk_signals: Vec<RiskSignal>,
    /// A new policy version to put in force.
    pub policy: Option<PolicyVersion>,
    /// Directory entities to put or delete.
    pub directory: Vec<DirectoryWrite>,
    /// The audit events of the change, in order.
    pub events: Vec<AuditEvent>,
    /// Webhook deliveries announcing the change, written with it and delivered later.
    pub outbox: Vec<OutboxMessage>,
    /// Break-glass uses to insert or replace (their review).
    pub break_glass: Vec<BreakGlassUse>,
}

impl Change {
    /// Whether the change writes nothing.
    pub fn is_empty(&self) -> bool {
        self.elevations.is_empty()
            && self.grants.is_empty()
            && self.risk_signals.is_empty()
            && self.policy.is_none()
            && self.directory.is_empty()
            && self.events.is_empty()
            && self.outbox.is_empty()
            && self.break_glass.is_empty()
    }

    /// The subjects whose cached grants or risk signals the change makes stale.
    pub fn affected_subjects(&self) -> Vec<Subject> {
        let mut subjects: Vec<Subject> = self
            .grants
            .iter()
            .map(|grant| grant.subject.clone())
            .chain(
                self.risk_signals
                    .iter()
                    .map(|signal| signal.subject.clone()),
            )
            .collect();
        subjects.sort();
        subjects.dedup();
        subjects
    }

    /// The canonical keys of the directory entities the change puts or deletes, each once.
    pub fn directory_keys(&self) -> Vec<EntityKey> {
        let mut keys: Vec<EntityKey> = (self.directory.iter())
            .map(|write| write.key().clone())
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Appends `other` to this change.
    pub fn merge(&mut self, other: Change) {
        self.elevations.extend(other.elevations);
        self.grants.extend(other.grants);
        self.risk_signals.extend(other.risk_signals);
        if other.policy.is_some() {
            self.policy = other.policy;
        }
        self.directory.extend(other.directory);
        self.events.extend(other.events);
        self.outbox.extend(other.outbox);
        self.break_glass.extend(other.break_glass);
    }
}

/// A numbered policy document: a version to store, or one as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVersion {
    /// The version number: one more than the version in force.
    pub version: u64,
    /// The document.
    pub source: String,
    /// Who put it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A committed write.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The revision the write committed at; for an empty change, the revision then current.
    pub revision: Revision,
    /// What was written.
    pub change: Change,
}

/// The outcome of creating an elevation.
#[derive(Debug, Clone)]
pub enum Created {
    /// A new elevation was written.
    New(Box<Committed>),
    /// The requester's idempotency key was used before: this is the elevation it created.
    Existing(Box<Elevation>),
}

/// What a decision about an elevation sees: the elevation, its grant, and the requester's
/// other live grants (for separation-of-duties checks), all read under the elevation's lock.
#[derive(Debug, Clone)]
pub struct ElevationContext {
    /// The elevation.
    pub elevation: Elevation,
    /// Its grant, once it has one.
    pub grant: Option<Grant>,
    /// The requester's other grants that have not ended.
    pub requester_grants: Vec<Grant>,
}

/// What a decision about a grant sees: the grant, the elevation that created it, and every
/// grant delegated from it (at any depth) that is not revoked, all locked.
#[derive(Debug, Clone)]
pub struct GrantContext {
    /// The grant.
    pub grant: Grant,
    /// The elevation that created it, if any.
    pub elevation: Option<Elevation>,
    /// Grants delegated from it, directly or through other delegations, not yet revoked.
    pub descendants: Vec<Grant>,
}

/// A pure decision over what was read: the change to apply, or why not.
pub type Decide<'a, C> = &'a (dyn Fn(C) -> Result<Change, TransitionError> + Send + Sync);

/// Decides the change for `context`, mapping a refusal to a store error.
pub(crate) fn decide_change<C>(decide: Decide<'_, C>, context: C) -> Result<Change, StoreError> {
    decide(context).map_err(StoreError::Rejected)
}

/// Decides the change for `context` (see [`decide_change`]) and checks that every elevation it
/// writes moves along the state machine from how it stood in `before`, as read under the lock.
/// Both stores run every locked elevation or grant write through this one gate.
pub(crate) fn decide_checked<C>(
    decide: Decide<'_, C>,
    context: C,
    before: &[Elevation],
) -> Result<Change, StoreError> {
    let change = decide_change(decide, context)?;
    check_transitions(before, &change)?;
    Ok(change)
}

/// Checks, as a second line behind the domain, that elevations in `change` only move along
/// the state machine from how they were read.
fn check_transitions(before: &[Elevation], change: &Change) -> Result<(), StoreError> {
    for next in &change.elevations {
        let Some(previous) = before.iter().find(|previous| previous.id == next.id) else {
            continue;
        };
        if !previous.state().may_become_in_one_write(next.state()) {
            return Err(StoreError::Internal(format!(
                "refusing transition of elevation {} from {} to {}",
                next.id,
                previous.state(),
                next.state()
            )));
        }
    }
    Ok(())
}
