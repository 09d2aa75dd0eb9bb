//! The PostgreSQL store's requestable denials and access requests: one row each, the record
//! as JSON (the profile compares the bound question as the JSON the PEP sent), found by key,
//! by task id, or by an item's approval or elevation id through a GIN index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::PostgresStore;
use super::transaction::cached;
use crate::domain::{AccessRequestRecord, ElevationId, RequestableDenial};
use crate::store::{AccessRequests, DENIAL_RETENTION_AFTER_EXPIRY, StoreError};

const DELETE_EXPIRED_DENIALS: &str = "DELETE FROM requestable_denials WHERE evaluation_id IN \
     (SELECT evaluation_id FROM requestable_denials WHERE expires_at < $1 LIMIT 1000)";
const INSERT_DENIAL: &str =
    "INSERT INTO requestable_denials (evaluation_id, record, expires_at) VALUES ($1, $2, $3)";
const SELECT_DENIAL: &str = "SELECT record FROM requestable_denials WHERE evaluation_id = $1";
const INSERT_REQUEST: &str = "INSERT INTO access_requests \
     (task_id, submitted_by, idempotency_key, record, created_at) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (submitted_by, idempotency_key) DO NOTHING";
const SELECT_BY_KEY: &str =
    "SELECT record FROM access_requests WHERE submitted_by = $1 AND idempotency_key = $2";
const SELECT_BY_TASK: &str = "SELECT record FROM access_requests WHERE task_id = $1";
const SELECT_BY_ITEMS: &str =
    "SELECT record FROM access_requests WHERE record -> 'items' @> $1 ORDER BY created_at";

/// A record read back from its JSON column.
fn record<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value)
        .map_err(|error| StoreError::Corrupt(format!("an access request row: {error}")))
}

/// A record as its JSON column.
fn column<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|error| StoreError::Internal(error.to_string()))
}

impl PostgresStore {
    /// Every access request whose items contain `pattern` (a JSON array of one partial item).
    async fn requests_with_item(
        &self,
        pattern: serde_json::Value,
    ) -> Result<Vec<AccessRequestRecord>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&cached!(client, SELECT_BY_ITEMS), &[&pattern])
            .await?;
        rows.into_iter().map(|row| record(row.get(0))).collect()
    }

    /// The one access request `sql` selects with `parameters`, if any.
    async fn one_request(
        &self,
        sql: &str,
        parameters: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(&cached!(client, sql), parameters).await?;
        row.map(|row| record(row.get(0))).transpose()
    }
}

#[async_trait]
impl AccessRequests for PostgresStore {
    #[tracing::instrument(name = "postgres.save_denial", skip_all, fields(db.system = "postgresql"))]
    async fn save_denial(
        &self,
        denial: &RequestableDenial,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &cached!(client, DELETE_EXPIRED_DENIALS),
                &[&(now - DENIAL_RETENTION_AFTER_EXPIRY)],
            )
            .await?;
        client
            .execute(
                &cached!(client, INSERT_DENIAL),
                &[&denial.evaluation_id, &column(denial)?, &denial.expires_at],
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.get_denial", skip_all, fields(db.system = "postgresql"))]
    async fn get_denial(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<RequestableDenial>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&cached!(client, SELECT_DENIAL), &[&evaluation_id])
            .await?;
        row.map(|row| record(row.get(0))).transpose()
    }

    #[tracing::instrument(name = "postgres.create_access_request", skip_all, fields(db.system = "postgresql"))]
    async fn create_access_request(
        &self,
        request: &AccessRequestRecord,
    ) -> Result<AccessRequestRecord, StoreError> {
        let client = self.client().await?;
        let inserted = client
            .execute(
                &cached!(client, INSERT_REQUEST),
                &[
                    &request.task_id,
                    &request.submitted_by.as_str(),
                    &request.idempotency_key,
                    &column(request)?,
                    &request.created_at,
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(request.clone());
        }
        // Only the (submitted_by, idempotency_key) conflict is absorbed, so a key was given.
        let key = request.idempotency_key.as_deref().unwrap_or_default();
        self.access_request_by_key(request.submitted_by.as_str(), key)
            .await?
            .ok_or_else(|| StoreError::Internal("a conflicting access request vanished".into()))
    }

    #[tracing::instrument(name = "postgres.access_request_by_key", skip_all, fields(db.system = "postgresql"))]
    async fn access_request_by_key(
        &self,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        self.one_request(SELECT_BY_KEY, &[&submitted_by, &idempotency_key])
            .await
    }

    #[tracing::instrument(name = "postgres.get_access_request", skip_all, fields(db.system = "postgresql"))]
    async fn get_access_request(
        &self,
        task_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        self.one_request(SELECT_BY_TASK, &[&task_id]).await
    }

    #[tracing::instrument(name = "postgres.access_request_by_approval", skip_all, fields(db.system = "postgresql"))]
    async fn access_request_by_approval(
        &self,
        approval_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        let found = self
            .requests_with_item(json!([{ "approval_id": approval_id }]))
            .await?;
        Ok(found.into_iter().next())
    }

    #[tracing::instrument(name = "postgres.access_request_by_evaluation", skip_all, fields(db.system = "postgresql"))]
    async fn access_request_by_evaluation(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        let found = self
            .requests_with_item(json!([{ "evaluation_id": evaluation_id }]))
            .await?;
        Ok(found.into_iter().next())
    }

    #[tracing::instrument(name = "postgres.access_requests_for_elevations", skip_all, fields(db.system = "postgresql"))]
    async fn access_requests_for_elevations(
        &self,
        elevations: &[ElevationId],
    ) -> Result<Vec<AccessRequestRecord>, StoreError> {
        let mut found: Vec<AccessRequestRecord> = Vec::new();
        for elevation in elevations {
            let pattern = json!([{ "elevation_id": elevation }]);
            for request in self.requests_with_item(pattern).await? {
                if !found.iter().any(|kept| kept.task_id == request.task_id) {
                    found.push(request);
                }
            }
        }
        Ok(found)
    }
}
