//! The PostgreSQL store's break-glass uses: one row per use in `break_glass_uses`, the record as
//! jsonb beside the columns listings filter on; written in the unit of work with the grant the
//! use activated, reviewed under `SELECT ... FOR UPDATE`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::PostgresStore;
use super::transaction::{apply, cached, in_transaction};
use crate::domain::{
    BreakGlassCheck, BreakGlassId, BreakGlassUse, GrantId, MAX_BREAK_GLASS_CHECKS, Revision,
};
use crate::store::{
    BreakGlassFilter, BreakGlassUses, Committed, Decide, StoreError, decide_change,
};

const UPSERT_BREAK_GLASS: &str = "\
    INSERT INTO break_glass_uses (id, subject, elevation_id, grant_id, used_at, review_due_at, \
        reviewed, record, revision) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
    ON CONFLICT (id) DO UPDATE SET reviewed = EXCLUDED.reviewed, record = EXCLUDED.record, \
        revision = EXCLUDED.revision";

const BREAK_GLASS_BY_ID: &str = "SELECT record FROM break_glass_uses WHERE id = $1";

const BREAK_GLASS_BY_ID_FOR_UPDATE: &str =
    "SELECT record FROM break_glass_uses WHERE id = $1 FOR UPDATE";

const LIST_BREAK_GLASS: &str = "\
    SELECT record FROM break_glass_uses \
    WHERE ($1::text IS NULL OR subject = $1) AND (NOT $2 OR NOT reviewed) \
      AND ($3::uuid IS NULL OR id < $3) \
      AND ($5::timestamptz IS NULL OR (NOT reviewed AND review_due_at <= $5)) \
    ORDER BY id DESC LIMIT $4";

const OVERDUE_BREAK_GLASS: &str =
    "SELECT count(*) FROM break_glass_uses WHERE NOT reviewed AND review_due_at <= $1";

/// Inserts a Check unless the grant has its cap of kept Checks (`$7`) already.
const INSERT_BREAK_GLASS_CHECK: &str = "\
    INSERT INTO break_glass_checks (grant_id, at, session_id, permission, resource, request_id) \
    SELECT $1, $2, $3, $4, $5, $6 \
    WHERE (SELECT count(*) FROM break_glass_checks WHERE grant_id = $1) < $7";

const BREAK_GLASS_CHECKS: &str = "\
    SELECT grant_id, at, session_id, permission, resource, request_id FROM break_glass_checks \
    WHERE grant_id = $1 ORDER BY id";

fn record(row: &Row) -> Result<BreakGlassUse, StoreError> {
    let Json(used): Json<BreakGlassUse> = row
        .try_get(0)
        .map_err(|error| StoreError::Corrupt(format!("break-glass record: {error}")))?;
    Ok(used)
}

/// Writes the break-glass uses of a change at `revision` (inserted, or their review replaced).
pub(super) async fn write_break_glass(
    tx: &Transaction<'_>,
    uses: &[BreakGlassUse],
    revision: Revision,
) -> Result<(), StoreError> {
    if uses.is_empty() {
        return Ok(());
    }
    let statement = cached!(tx, UPSERT_BREAK_GLASS);
    for used in uses {
        let document = serde_json::to_value(used)
            .map_err(|error| StoreError::Internal(format!("encoding break-glass: {error}")))?;
        tx.execute(
            &statement,
            &[
                &used.id.0,
                &used.subject.as_str(),
                &used.elevation_id.0,
                &used.grant_id.0,
                &used.used_at,
                &used.review_due_at,
                &used.review.is_some(),
                &document,
                &(revision as i64),
            ],
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl BreakGlassUses for PostgresStore {
    #[tracing::instrument(name = "postgres.get_break_glass", skip_all, fields(db.system = "postgresql"))]
    async fn get_break_glass(&self, id: BreakGlassId) -> Result<Option<BreakGlassUse>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, BREAK_GLASS_BY_ID), &[&id.0])
            .await?
            .map(|row| record(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.list_break_glass", skip_all, fields(db.system = "postgresql"))]
    async fn list_break_glass(
        &self,
        filter: &BreakGlassFilter,
    ) -> Result<Vec<BreakGlassUse>, StoreError> {
        let client = self.client().await?;
        let subject = filter.subject.as_ref().map(|s| s.as_str());
        let before: Option<Uuid> = filter.before.map(|id| id.0);
        let limit = filter.limit as i64;
        client
            .query(
                &cached!(client, LIST_BREAK_GLASS),
                &[
                    &subject,
                    &filter.unreviewed,
                    &before,
                    &limit,
                    &filter.overdue_at,
                ],
            )
            .await?
            .iter()
            .map(record)
            .collect()
    }

    #[tracing::instrument(name = "postgres.overdue_break_glass", skip_all, fields(db.system = "postgresql"))]
    async fn overdue_break_glass(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&cached!(client, OVERDUE_BREAK_GLASS), &[&now])
            .await?
            .get(0);
        Ok(count as u64)
    }

    #[tracing::instrument(name = "postgres.record_break_glass_check", skip_all, fields(db.system = "postgresql"))]
    async fn record_break_glass_check(&self, check: &BreakGlassCheck) -> Result<(), StoreError> {
        let client = self.client().await?;
        let cap = MAX_BREAK_GLASS_CHECKS as i64;
        client
            .execute(
                &cached!(client, INSERT_BREAK_GLASS_CHECK),
                &[
                    &check.grant_id.0,
                    &check.at,
                    &check.session,
                    &check.permission,
                    &check.resource,
                    &check.request_id,
                    &cap,
                ],
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.break_glass_checks", skip_all, fields(db.system = "postgresql"))]
    async fn break_glass_checks(&self, grant: GrantId) -> Result<Vec<BreakGlassCheck>, StoreError> {
        let client = self.client().await?;
        client
            .query(&cached!(client, BREAK_GLASS_CHECKS), &[&grant.0])
            .await?
            .iter()
            .map(|row| {
                let column = |index: usize| {
                    StoreError::Corrupt(format!("break-glass check column {index} is unreadable"))
                };
                Ok(BreakGlassCheck {
                    grant_id: GrantId(row.try_get(0).map_err(|_| column(0))?),
                    at: row.try_get(1).map_err(|_| column(1))?,
                    session: row.try_get(2).map_err(|_| column(2))?,
                    permission: row.try_get(3).map_err(|_| column(3))?,
                    resource: row.try_get(4).map_err(|_| column(4))?,
                    request_id: row.try_get(5).map_err(|_| column(5))?,
                })
            })
            .collect()
    }

    #[tracing::instrument(name = "postgres.update_break_glass", skip_all, fields(db.system = "postgresql"))]
    async fn update_break_glass(
        &self,
        id: BreakGlassId,
        decide: Decide<'_, BreakGlassUse>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            let used = tx
                .query_opt(&cached!(tx, BREAK_GLASS_BY_ID_FOR_UPDATE), &[&id.0])
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "break-glass use",
                    id: id.to_string(),
                })?;
            let change = decide_change(decide, record(&used)?)?;
            apply(&tx, change).await
        })
    }
}
