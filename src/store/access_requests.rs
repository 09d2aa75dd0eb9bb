//! The storage contract of the AuthZEN Access Request and Approval profile (issue 15): the
//! requestable denials a PEP may bind a request to by `evaluation_id`, and the access requests
//! (the profile's tasks) with the elevations their items became. Kept in their own tables
//! beside the elevations, which they point at and never change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::{AccessRequestRecord, ElevationId, RequestableDenial};

/// How long a requestable denial is kept after it expired before a later write removes it
/// (nothing can be bound to it any more; the grace only keeps "expired" distinguishable from
/// "unknown" for a PEP that is a little late).
pub const DENIAL_RETENTION_AFTER_EXPIRY: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Requestable denials and access requests.
#[async_trait]
pub trait AccessRequests: Send + Sync {
    /// Keeps `denial` so a request can be bound to it by id; removes denials expired longer
    /// than [`DENIAL_RETENTION_AFTER_EXPIRY`] before `now`.
    async fn save_denial(
        &self,
        denial: &RequestableDenial,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The denial with `evaluation_id`, if kept.
    async fn get_denial(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<RequestableDenial>, StoreError>;

    /// Keeps a new access request, or, when the same enforcement point already submitted one
    /// with the same idempotency key, returns that one unchanged (the caller compares bodies).
    async fn create_access_request(
        &self,
        record: &AccessRequestRecord,
    ) -> Result<AccessRequestRecord, StoreError>;

    /// The access request submitted by `submitted_by` with `idempotency_key`, if any.
    async fn access_request_by_key(
        &self,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError>;

    /// The access request with `task_id`, if any.
    async fn get_access_request(
        &self,
        task_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError>;

    /// The access request one of whose items has `approval_id`, if any.
    async fn access_request_by_approval(
        &self,
        approval_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError>;

    /// The access request one of whose items was bound to denial `evaluation_id`, if any.
    async fn access_request_by_evaluation(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError>;

    /// The access requests whose items became any of `elevations`.
    async fn access_requests_for_elevations(
        &self,
        elevations: &[ElevationId],
    ) -> Result<Vec<AccessRequestRecord>, StoreError>;
}
