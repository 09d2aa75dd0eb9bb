//! The storage contract and its two implementations: [`memory`] (the embedded default for dev
//! mode and tests) and [`postgres`] (production). One contract test suite runs against both.
//!
//! Writes follow one pattern: the store reads what a use case needs under a lock (the row, and
//! the subject's other grants), hands it to a pure decision function from the service layer,
//! and applies the resulting [`Change`] in the same transaction that bumps the revision, appends
//! the audit events and notifies the other replicas. A function that refuses changes nothing;
//! a function that returns an empty change commits nothing (a replay).
//!
//! The contract is [`Store`], made of narrow traits ([`Writes`], [`Elevations`], [`Snapshots`],
//! [`Policies`], [`DirectoryEntries`], [`AuditLog`], [`Outbox`], [`ChangeFeed`], [`Operations`], [`Reviews`]) so that a consumer
//! can take only the part it uses.

mod access_requests;
mod break_glass;
mod change;
mod contract;
mod delivery_ids;
mod directory;
mod error;
mod feed;
mod lease;
pub mod memory;
mod outbox;
pub mod postgres;
mod reads;
mod reviews;

pub use crate::domain::audit_log::{Checkpoint, StoredAuditEvent};
pub use access_requests::{AccessRequests, DENIAL_RETENTION_AFTER_EXPIRY};
pub use break_glass::{BreakGlassFilter, BreakGlassUses};
pub use change::{
    Change, Committed, Created, Decide, ElevationContext, GrantContext, PolicyVersion,
};
pub(crate) use change::{decide_change, decide_checked};
pub(crate) use contract::WRITE_RETRIES;
pub use contract::{
    AuditLog, ChangeFeed, DirectoryEntries, Elevations, MAX_REVOKED_GRANTS_LOADED, Operations,
    Outbox, Policies, Snapshots, Store, Writes,
};
pub(crate) use directory::check_directory_names;
pub use directory::{DirectoryWrite, EntityFilter, entity_names};
pub use error::StoreError;
pub use feed::StoreEvent;
pub use lease::Lease;
pub(crate) use outbox::with_revision;
pub use outbox::{DeliveryOutcome, OutboxMessage, PendingDelivery};
pub(crate) use reads::whole_revisions;
pub use reads::{AuditFilter, DelegationFilter, ElevationFilter, PoolStatus, Snapshot};
pub use reviews::{MAX_CAMPAIGN_ITEMS, ReviewDecide, Reviews};
