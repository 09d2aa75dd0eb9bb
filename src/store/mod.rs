//! The storage contract and its two implementations: [`memory`] (the embedded default for dev
//! mode and tests) and [`postgres`] (production). One contract test suite runs against both.
//!
//! Writes follow one pattern: the store reads what a use case needs under a lock (the row, and
//! the subject's other grants), hands it to a pure decision function from the service layer,
//! and applies the resulting [`Change`] in the same transaction that bumps the revision, appends
//! the audit events and notifies the other replicas. A function that refuses changes nothing;
//! a function that returns an empty change commits nothing (a replay).

mod delivery_ids;
pub mod memory;
pub mod postgres;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

pub use crate::domain::audit_log::{Checkpoint, StoredAuditEvent};
use crate::domain::{
    AuditEvent, Elevation, ElevationId, ElevationState, Grant, GrantId, Revision, RiskSignal,
    RoleName, SessionId, Subject, TransitionError,
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
    pub policy: Option<NewPolicy>,
    /// The audit events of the change, in order.
    pub events: Vec<AuditEvent>,
    /// Webhook deliveries announcing the change, written with it and delivered later.
    pub outbox: Vec<OutboxMessage>,
}

/// A webhook delivery to make.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Where to post.
    pub url: String,
    /// The audit action announced.
    pub event_kind: String,
    /// The body (the audit event); the store adds the revision.
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A webhook delivery claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelivery {
    /// The outbox row.
    pub id: i64,
    /// Where to post.
    pub url: String,
    /// The audit action announced.
    pub event_kind: String,
    /// The body, with the revision of the change it announces.
    pub payload: serde_json::Value,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The receiver accepted it.
    Delivered,
    /// It failed; try again at `retry_at`, or never when `None` (attempts exhausted).
    Failed {
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

impl Change {
    /// Whether the change writes nothing.
    pub fn is_empty(&self) -> bool {
        self.elevations.is_empty()
            && self.grants.is_empty()
            && self.risk_signals.is_empty()
            && self.policy.is_none()
            && self.events.is_empty()
            && self.outbox.is_empty()
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

    /// Appends `other` to this change.
    pub fn merge(&mut self, other: Change) {
        self.elevations.extend(other.elevations);
        self.grants.extend(other.grants);
        self.risk_signals.extend(other.risk_signals);
        if other.policy.is_some() {
            self.policy = other.policy;
        }
        self.events.extend(other.events);
        self.outbox.extend(other.outbox);
    }
}

/// A policy version to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPolicy {
    /// The version number: one more than the version in force.
    pub version: u64,
    /// The document.
    pub source: String,
    /// Who put it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A stored policy version.
pub type StoredPolicy = NewPolicy;

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
    New(Committed),
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

/// Which delegated grants to list.
#[derive(Debug, Clone)]
pub enum DelegationFilter {
    /// Those this subject delegated.
    GivenBy(Subject),
    /// Those delegated to this subject.
    GivenTo(Subject),
    /// Those delegated from this grant, at any depth.
    From(GrantId),
}

/// A pure decision over what was read: the change to apply, or why not.
pub type Decide<'a, C> = &'a (dyn Fn(C) -> Result<Change, TransitionError> + Send + Sync);

/// Values read in one snapshot, with the revision that snapshot reflects.
#[derive(Debug, Clone)]
pub struct Snapshot<T> {
    /// The values.
    pub value: T,
    /// Every write up to this revision is reflected in `value`.
    pub revision: Revision,
}

/// Filters for listing elevations; results are newest first.
#[derive(Debug, Clone, Default)]
pub struct ElevationFilter {
    /// Only this requester's.
    pub requester: Option<Subject>,
    /// Only in this state.
    pub state: Option<ElevationState>,
    /// Only for this role.
    pub role: Option<RoleName>,
    /// Only those older than this id (the page token).
    pub before: Option<ElevationId>,
    /// At most this many.
    pub limit: usize,
}

/// Filters for listing audit events; results are oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events about this subject.
    pub subject: Option<Subject>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events by this actor or about this subject (an "involving me" view).
    pub involving: Option<Subject>,
    /// Only this action.
    pub action: Option<crate::domain::AuditAction>,
    /// Only events about one of these elevations or grants (either matches).
    pub elevations: Vec<ElevationId>,
    /// See `elevations`.
    pub grants: Vec<GrantId>,
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only events after this sequence number (the page token).
    pub after_seq: u64,
    /// At most this many.
    pub limit: usize,
}

/// What replicas learn about each other's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A write committed.
    Changed {
        /// Its revision.
        revision: Revision,
        /// Subjects whose grants or risk signals changed.
        subjects: Vec<Subject>,
        /// Too many subjects changed to list: treat every cached subject as changed.
        everyone: bool,
        /// Whether the policy changed.
        policy_changed: bool,
        /// When it committed, by the store's clock (for the invalidation-lag metric).
        committed_at: Option<DateTime<Utc>>,
    },
    /// The change feed broke: anything cached may be stale until [`StoreEvent::Restored`].
    Lost,
    /// The change feed works again; nothing after `revision` was missed.
    Restored {
        /// The revision when listening resumed.
        revision: Revision,
    },
}

/// What can go wrong in a store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The decision function refused the change.
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    /// A concurrent write got there first and the retry budget ran out, or a precondition
    /// (such as an expected policy version) does not hold.
    #[error("{0}")]
    Conflict(String),
    /// Concurrent transactions collided and the retries ran out; the caller may try again.
    #[error("concurrent writes collided: {0}")]
    Contention(String),
    /// The database refused a value as out of bounds (a check or not-null constraint, a
    /// number or timestamp out of range): bad input the edge let through. The text names the
    /// constraint or the kind of value, never the value.
    #[error("the store refused a value: {0}")]
    OutOfBounds(String),
    /// The database cannot be reached or refused the connection.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back.
    #[error("a stored row is unreadable: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("store error: {0}")]
    Internal(String),
}

/// The storage contract.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Writes a new elevation (and its grant, when it needs no approval). With an idempotency
    /// key the requester used before, writes nothing and returns the earlier elevation.
    async fn create_elevation(
        &self,
        change: Change,
        idempotency: Option<(Subject, String)>,
    ) -> Result<Created, StoreError>;

    /// Decides and applies a change to one elevation, under its lock.
    async fn update_elevation(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
        decide: Decide<'_, ElevationContext>,
    ) -> Result<Committed, StoreError>;

    /// Decides and applies a change to one grant, under its lock.
    async fn update_grant(
        &self,
        id: GrantId,
        decide: Decide<'_, GrantContext>,
    ) -> Result<Committed, StoreError>;

    /// Decides and applies a change to every live grant of one login session, at once.
    async fn update_session(
        &self,
        subject: &Subject,
        session: &SessionId,
        now: DateTime<Utc>,
        decide: Decide<'_, Vec<GrantContext>>,
    ) -> Result<Committed, StoreError>;

    /// Decides and applies a new policy version, given the one in force.
    async fn update_policy(
        &self,
        decide: Decide<'_, Option<StoredPolicy>>,
    ) -> Result<Committed, StoreError>;

    /// Writes a change that needs no prior read (a risk signal).
    async fn append(&self, change: Change) -> Result<Committed, StoreError>;

    /// Elevations that time may have moved on at `now`: pending past their approval window,
    /// scheduled whose start came, active whose grant ended.
    async fn due_elevations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ElevationId>, StoreError>;

    /// One elevation.
    async fn get_elevation(&self, id: ElevationId) -> Result<Option<Elevation>, StoreError>;

    /// Elevations matching `filter`, newest first.
    async fn list_elevations(&self, filter: &ElevationFilter)
    -> Result<Vec<Elevation>, StoreError>;

    /// One grant.
    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError>;

    /// Delegated grants matching `filter`, newest first: those that have not ended at `now`,
    /// or all of them.
    async fn list_delegations(
        &self,
        filter: &DelegationFilter,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError>;

    /// A subject's grants, newest first: those that have not ended at `now`, or all of them.
    async fn list_grants(
        &self,
        subject: &Subject,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError>;

    /// A subject's grants whose access window ends after `since`, in one snapshot with its
    /// revision. This is the cache load. Revoked ones are included so that decisions can say
    /// `revoked`, but only the [`MAX_REVOKED_GRANTS_LOADED`] most recently revoked: a subject
    /// whose grants are requested and revoked again and again would otherwise load (and cache)
    /// every grant revoked within its longest access window.
    async fn load_grants(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<Grant>>, StoreError>;

    /// A subject's risk signals that hold after `now`, in one snapshot with its revision.
    async fn load_risk(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<RiskSignal>>, StoreError>;

    /// The policy in force, if any was stored.
    async fn latest_policy(&self) -> Result<Option<StoredPolicy>, StoreError>;

    /// The latest policy version put by `created_by`.
    async fn latest_policy_by(&self, created_by: &str) -> Result<Option<StoredPolicy>, StoreError>;

    /// The latest committed revision.
    async fn revision(&self) -> Result<Revision, StoreError>;

    /// Audit events after `after_seq`, oldest first, at most `limit`.
    async fn audit_events(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError>;

    /// Audit events of revisions after `after_revision`, oldest first, at most `limit` (a
    /// revision is never split: the last revision is dropped when the limit would cut it).
    async fn audit_events_after_revision(
        &self,
        after_revision: Revision,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError>;

    /// Audit events matching `filter`, oldest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredAuditEvent>, StoreError>;

    /// The chain head as the store keeps it: the last sequence number, its hash and the
    /// revision (sequence 0 and the genesis hash before the first event).
    async fn audit_head(&self) -> Result<(u64, [u8; 32], Revision), StoreError>;

    /// Keeps a signed chain head (a second one for the same sequence is ignored).
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError>;

    /// The latest signed chain head kept.
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;

    /// Claims up to `limit` webhook deliveries that are due at `now`, for `lease` (a worker that
    /// dies releases them when the lease ends).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError>;

    /// Records how a claimed delivery went.
    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Webhook deliveries not yet made (and not given up).
    async fn pending_deliveries(&self) -> Result<u64, StoreError>;

    /// Elevations waiting for approval.
    async fn pending_elevations(&self) -> Result<u64, StoreError>;

    /// Migrations this build needs that the store lacks (none for the memory store).
    async fn missing_migrations(&self) -> Result<Vec<&'static str>, StoreError> {
        Ok(Vec::new())
    }

    /// The connection pool's state, for stores that have one.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// Takes the exclusive right to run time-driven work (the sweep) while the returned lease
    /// lives; `None` when another replica holds it. A replica that dies loses its lease.
    async fn sweep_lease(&self) -> Result<Option<Lease>, StoreError>;

    /// The feed of committed writes, from this and every other replica.
    fn subscribe(&self) -> broadcast::Receiver<StoreEvent>;

    /// Whether the change feed is connected (always true for the memory store).
    fn is_listening(&self) -> bool;
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now.
    pub open: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// The most it opens.
    pub max: usize,
}

/// A webhook body with the revision of the change it announces.
pub(crate) fn with_revision(
    mut payload: serde_json::Value,
    revision: Revision,
) -> serde_json::Value {
    if let Some(object) = payload.as_object_mut() {
        object.insert("revision".into(), revision.into());
    }
    payload
}

/// Trims `events` (fetched with one more than `limit`) to at most `limit`, never cutting a
/// revision in two: a reader that resumes after the last revision it saw misses nothing.
pub(crate) fn whole_revisions(
    mut events: Vec<StoredAuditEvent>,
    limit: usize,
) -> Vec<StoredAuditEvent> {
    if events.len() <= limit {
        return events;
    }
    events.truncate(limit);
    let last = events.last().map(|event| event.revision);
    let first = events.first().map(|event| event.revision);
    if last != first {
        events.retain(|event| Some(event.revision) != last);
    }
    events
}

/// How a lease is given back at once.
type Release = Box<dyn FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// An exclusive right, held until [`Lease::release`]d or dropped. Dropping it gives it up too,
/// but possibly later (a PostgreSQL advisory lock goes when the server sees its connection
/// close), which is what a replica that dies relies on.
pub struct Lease {
    release: Option<Release>,
}

impl Lease {
    /// A lease kept alive by `holder`, given back when it is dropped.
    pub fn new(holder: impl Send + Sync + 'static) -> Self {
        Lease::releasing(move || {
            drop(holder);
            Box::pin(std::future::ready(()))
        })
    }

    /// A lease that `release` gives back; dropping the closure unreleased must give it up
    /// too (by dropping what it owns).
    pub fn releasing(
        release: impl FnOnce() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync + 'static,
    ) -> Self {
        Lease {
            release: Some(Box::new(release)),
        }
    }

    /// Gives the lease back now, so the next holder need not wait.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            release().await;
        }
    }
}

/// How many times a write is retried when the database reports a serialization failure or a
/// deadlock between concurrent transactions.
pub const WRITE_RETRIES: usize = 8;

/// The most revoked grants [`Store::load_grants`] returns for one subject (the most recently
/// revoked). They only explain a denial, so what a cached subject holds is bounded by its
/// active grants and this, not by how often its grants were revoked.
pub const MAX_REVOKED_GRANTS_LOADED: usize = 8;

/// Decides the change for `context`, mapping a refusal to a store error.
pub(crate) fn decide_change<C>(decide: Decide<'_, C>, context: C) -> Result<Change, StoreError> {
    decide(context).map_err(StoreError::Rejected)
}

/// Checks, as a second line behind the domain, that elevations in `change` only move along
/// the state machine from how they were read.
pub(crate) fn check_transitions(before: &[Elevation], change: &Change) -> Result<(), StoreError> {
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
