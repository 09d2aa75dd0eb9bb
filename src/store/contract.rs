//! The storage contract: narrow traits, one per kind of consumer, and [`Store`], all of them
//! together. A consumer that needs one part takes that trait (the webhook worker takes an
//! [`Outbox`]); an `Arc<dyn Store>` coerces to any of them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::{
    AuditFilter, BreakGlassUses, Change, Checkpoint, Committed, Created, Decide, DelegationFilter,
    DeliveryOutcome, ElevationContext, ElevationFilter, EntityFilter, GrantContext, Lease,
    PendingDelivery, PolicyVersion, PoolStatus, Snapshot, StoreError, StoreEvent, StoredAuditEvent,
};
use crate::domain::{
    Elevation, ElevationId, Entity, EntityKey, Grant, GrantId, Revision, RiskSignal, SessionId,
    Subject,
};

/// The writes of the use cases. Each reads what its decision needs under a lock, hands it to
/// the decision, and commits the [`Change`] it returns whole, with the revision bump, the
/// audit events and the notification to the other replicas; a refusal commits nothing.
#[async_trait]
pub trait Writes: Send + Sync {
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

    /// Writes a change that needs no prior read (a risk signal).
    async fn append(&self, change: Change) -> Result<Committed, StoreError>;

    /// Decides and applies a new policy version, given the one in force.
    async fn update_policy(
        &self,
        decide: Decide<'_, Option<PolicyVersion>>,
    ) -> Result<Committed, StoreError>;
}

/// Elevations and grants as they stand.
#[async_trait]
pub trait Elevations: Send + Sync {
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
}

/// What the decision cache loads: a subject's grants and risk signals, each in one snapshot
/// with its revision, and the latest revision.
#[async_trait]
pub trait Snapshots: Send + Sync {
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

    /// The latest committed revision.
    async fn revision(&self) -> Result<Revision, StoreError>;
}

/// The policy versions stored.
#[async_trait]
pub trait Policies: Send + Sync {
    /// The policy in force, if any was stored.
    async fn latest_policy(&self) -> Result<Option<PolicyVersion>, StoreError>;

    /// The latest policy version put by `created_by`.
    async fn latest_policy_by(&self, created_by: &str)
    -> Result<Option<PolicyVersion>, StoreError>;
}

/// The directory as stored: the subjects and resources managed through the API (PostgreSQL
/// mode; the memory store keeps them too). Writes go through the unit of work like every
/// other write, so they carry their audit events and notify the other replicas.
#[async_trait]
pub trait DirectoryEntries: Send + Sync {
    /// Decides and applies a change to the directory, given every stored entity that one of
    /// `names` names (by canonical id or alias), read under the directory's lock. The change's
    /// directory writes are checked (both stores, and the database's unique names as a second
    /// line) so that no name ends up naming two entities: a clash is a
    /// [`StoreError::Conflict`] and commits nothing.
    async fn update_directory(
        &self,
        names: &[EntityKey],
        decide: Decide<'_, Vec<Entity>>,
    ) -> Result<Committed, StoreError>;

    /// The entity `name` names: its canonical key or one of its aliases.
    async fn get_entity(&self, name: &EntityKey) -> Result<Option<Entity>, StoreError>;

    /// The stored entities whose canonical keys are among `keys` (a key with none is left
    /// out): what a replica reads when the change feed names the entities a write changed.
    async fn entities_with_keys(&self, keys: &[EntityKey]) -> Result<Vec<Entity>, StoreError>;

    /// Entities matching `filter`, by type, then canonical id.
    async fn list_entities(&self, filter: &EntityFilter) -> Result<Vec<Entity>, StoreError>;

    /// Every stored entity, in one snapshot with its revision: what a replica's directory
    /// snapshot is built from.
    async fn load_directory(&self) -> Result<Snapshot<Vec<Entity>>, StoreError>;
}

/// The hash-chained audit log and its signed checkpoints.
#[async_trait]
pub trait AuditLog: Send + Sync {
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
}

/// The webhook outbox: deliveries written with the changes they announce, claimed and
/// finished by the delivery worker.
#[async_trait]
pub trait Outbox: Send + Sync {
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
}

/// The feed of committed writes, from this and every other replica.
pub trait ChangeFeed: Send + Sync {
    /// Subscribes to the feed.
    fn subscribe(&self) -> broadcast::Receiver<StoreEvent>;

    /// Whether the change feed is connected (always true for the memory store).
    fn is_listening(&self) -> bool;
}

/// What operating the store needs: time-driven work and its lease, and what operators watch.
#[async_trait]
pub trait Operations: Send + Sync {
    /// Elevations that time may have moved on at `now`: pending past their approval window,
    /// scheduled whose start came, active whose grant ended.
    async fn due_elevations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ElevationId>, StoreError>;

    /// Takes the exclusive right to run time-driven work (the sweep) while the returned lease
    /// lives; `None` when another replica holds it. A replica that dies loses its lease.
    async fn sweep_lease(&self) -> Result<Option<Lease>, StoreError>;

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
}

/// The whole storage contract: every narrow trait. Implemented for every type that implements
/// them all, so a store implements the parts and is a `Store`.
pub trait Store:
    Writes
    + Elevations
    + Snapshots
    + Policies
    + DirectoryEntries
    + AuditLog
    + Outbox
    + ChangeFeed
    + Operations
    + BreakGlassUses
    + super::Reviews
    + super::AccessRequests
    + 'static
{
}

impl<T> Store for T where
    T: Writes
        + Elevations
        + Snapshots
        + Policies
        + DirectoryEntries
        + AuditLog
        + Outbox
        + ChangeFeed
        + Operations
        + BreakGlassUses
        + super::Reviews
        + super::AccessRequests
        + 'static
{
}

/// How many times a write is retried when the database reports a serialization failure or a
/// deadlock between concurrent transactions.
pub(crate) const WRITE_RETRIES: usize = 8;

/// The most revoked grants [`Snapshots::load_grants`] returns for one subject (the most
/// recently revoked). They only explain a denial, so what a cached subject holds is bounded by
/// its active grants and this, not by how often its grants were revoked.
pub const MAX_REVOKED_GRANTS_LOADED: usize = 8;
