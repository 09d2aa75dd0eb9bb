//! The PostgreSQL store's reads: elevations and grants, the decision cache's snapshots, the
//! policy versions and the audit log. Each is one query on a pooled connection, with the
//! statement prepared once per connection.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::PostgresStore;
use super::queries;
use super::rows;
use super::transaction::cached;
use crate::domain::{Elevation, ElevationId, Grant, GrantId, Revision, RiskSignal, Subject};
use crate::store::{
    AuditFilter, AuditLog, Checkpoint, DelegationFilter, ElevationFilter, Elevations,
    MAX_REVOKED_GRANTS_LOADED, Policies, PolicyVersion, Snapshot, Snapshots, StoreError,
    StoredAuditEvent, whole_revisions,
};

#[async_trait]
impl Elevations for PostgresStore {
    #[tracing::instrument(name = "postgres.get_elevation", skip_all, fields(db.system = "postgresql"))]
    async fn get_elevation(&self, id: ElevationId) -> Result<Option<Elevation>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::ELEVATION_BY_ID), &[&id.0])
            .await?
            .map(|row| rows::elevation(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.list_elevations", skip_all, fields(db.system = "postgresql"))]
    async fn list_elevations(
        &self,
        filter: &ElevationFilter,
    ) -> Result<Vec<Elevation>, StoreError> {
        let client = self.client().await?;
        let requester = filter.requester.as_ref().map(|s| s.as_str());
        let state = filter.state.map(|s| s.as_str());
        let role = filter.role.as_ref().map(|r| r.as_str());
        let before = filter.before.map(|id| id.0);
        client
            .query(
                &cached!(client, queries::LIST_ELEVATIONS),
                &[&requester, &state, &role, &before, &(filter.limit as i64)],
            )
            .await?
            .iter()
            .map(rows::elevation)
            .collect()
    }

    #[tracing::instrument(name = "postgres.get_grant", skip_all, fields(db.system = "postgresql"))]
    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::GRANT_BY_ID), &[&id.0])
            .await?
            .map(|row| rows::grant(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.list_delegations", skip_all, fields(db.system = "postgresql"))]
    async fn list_delegations(
        &self,
        filter: &DelegationFilter,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError> {
        let client = self.client().await?;
        let rows = match filter {
            DelegationFilter::GivenBy(delegator) => {
                client
                    .query(
                        &cached!(client, queries::DELEGATIONS_GIVEN_BY),
                        &[&delegator.as_str(), &include_ended, &now],
                    )
                    .await
            }
            DelegationFilter::GivenTo(delegatee) => {
                client
                    .query(
                        &cached!(client, queries::DELEGATIONS_GIVEN_TO),
                        &[&delegatee.as_str(), &include_ended, &now],
                    )
                    .await
            }
            DelegationFilter::From(root) => {
                client
                    .query(
                        &cached!(client, queries::DELEGATIONS_FROM),
                        &[&root.0, &include_ended, &now],
                    )
                    .await
            }
        }?;
        rows.iter().map(rows::grant).collect()
    }

    #[tracing::instrument(name = "postgres.list_grants", skip_all, fields(db.system = "postgresql"))]
    async fn list_grants(
        &self,
        subject: &Subject,
        include_ended: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Grant>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &cached!(client, queries::LIST_GRANTS),
                &[&subject.as_str(), &include_ended, &now],
            )
            .await?
            .iter()
            .map(rows::grant)
            .collect()
    }
}

impl PostgresStore {
    /// The values a cache load reads, with the revision they reflect, in one statement: `sql`
    /// returns the head row's revision in column 0 of every row, outer-joined with the values
    /// from column 1 on, which `value_at` reads (`None` for the one row of a subject with none).
    async fn load_snapshot<T>(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        value_at: fn(&Row, usize) -> Result<Option<T>, StoreError>,
    ) -> Result<Snapshot<Vec<T>>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(&cached!(client, sql), params).await?;
        let revision: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("the head row is missing".into()))?
            .get(0);
        let mut values = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(value) = value_at(row, 1)? {
                values.push(value);
            }
        }
        Ok(Snapshot {
            value: values,
            revision: revision as u64,
        })
    }
}

#[async_trait]
impl Snapshots for PostgresStore {
    #[tracing::instrument(name = "postgres.load_grants", skip_all, fields(db.system = "postgresql"))]
    async fn load_grants(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<Grant>>, StoreError> {
        let most_revoked = MAX_REVOKED_GRANTS_LOADED as i64;
        self.load_snapshot(
            queries::LOAD_GRANTS,
            &[&subject, &since, &most_revoked],
            rows::grant_at,
        )
        .await
    }

    #[tracing::instrument(name = "postgres.load_risk", skip_all, fields(db.system = "postgresql"))]
    async fn load_risk(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<RiskSignal>>, StoreError> {
        self.load_snapshot(queries::LOAD_RISK, &[&subject, &now], rows::risk_signal_at)
            .await
    }

    #[tracing::instrument(name = "postgres.revision", skip_all, fields(db.system = "postgresql"))]
    async fn revision(&self) -> Result<Revision, StoreError> {
        self.single_number(queries::CURRENT_REVISION).await
    }
}

#[async_trait]
impl Policies for PostgresStore {
    #[tracing::instrument(name = "postgres.latest_policy", skip_all, fields(db.system = "postgresql"))]
    async fn latest_policy(&self) -> Result<Option<PolicyVersion>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_POLICY), &[])
            .await?
            .map(|row| rows::policy(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.latest_policy_by", skip_all, fields(db.system = "postgresql"))]
    async fn latest_policy_by(
        &self,
        created_by: &str,
    ) -> Result<Option<PolicyVersion>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_POLICY_BY), &[&created_by])
            .await?
            .map(|row| rows::policy(&row))
            .transpose()
    }
}

#[async_trait]
impl AuditLog for PostgresStore {
    #[tracing::instrument(name = "postgres.audit_events", skip_all, fields(db.system = "postgresql"))]
    async fn audit_events(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let client = self.client().await?;
        client
            .query(
                &cached!(client, queries::AUDIT_EVENTS_AFTER),
                &[&(after_seq as i64), &(limit as i64)],
            )
            .await?
            .iter()
            .map(rows::audit_event)
            .collect()
    }

    #[tracing::instrument(name = "postgres.audit_events_after_revision", skip_all, fields(db.system = "postgresql"))]
    async fn audit_events_after_revision(
        &self,
        after_revision: Revision,
        limit: usize,
    ) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let client = self.client().await?;
        let events = client
            .query(
                &cached!(client, queries::AUDIT_EVENTS_AFTER_REVISION),
                &[&(after_revision as i64), &(limit as i64 + 1)],
            )
            .await?
            .iter()
            .map(rows::audit_event)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(whole_revisions(events, limit))
    }

    #[tracing::instrument(name = "postgres.list_audit", skip_all, fields(db.system = "postgresql"))]
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let client = self.client().await?;
        let elevations: Vec<Uuid> = filter.elevations.iter().map(|id| id.0).collect();
        let grants: Vec<Uuid> = filter.grants.iter().map(|id| id.0).collect();
        client
            .query(
                &cached!(client, queries::LIST_AUDIT),
                &[
                    &(filter.after_seq as i64),
                    &filter.subject.as_ref().map(|s| s.as_str()),
                    &filter.actor.as_deref(),
                    &filter.involving.as_ref().map(|s| s.as_str()),
                    &filter.action.map(|a| a.as_str()),
                    &elevations,
                    &grants,
                    &filter.from,
                    &filter.to,
                    &(filter.limit as i64),
                ],
            )
            .await?
            .iter()
            .map(rows::audit_event)
            .collect()
    }

    #[tracing::instrument(name = "postgres.audit_head", skip_all, fields(db.system = "postgresql"))]
    async fn audit_head(&self) -> Result<(u64, [u8; 32], Revision), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(&cached!(client, queries::AUDIT_HEAD), &[])
            .await?;
        let seq: i64 = row.get(0);
        let hash: &[u8] = row.get(1);
        let revision: i64 = row.get(2);
        let hash = hash.try_into().map_err(|_| {
            StoreError::Corrupt("the audit chain head is not a SHA-256 hash".into())
        })?;
        Ok((seq as u64, hash, revision as u64))
    }

    #[tracing::instrument(name = "postgres.save_checkpoint", skip_all, fields(db.system = "postgresql"))]
    async fn save_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                &cached!(client, queries::SAVE_CHECKPOINT),
                &[
                    &(checkpoint.seq as i64),
                    &checkpoint.hash.as_slice(),
                    &(checkpoint.revision as i64),
                    &checkpoint.signed_at,
                    &checkpoint.public_key.as_slice(),
                    &checkpoint.signature,
                ],
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.latest_checkpoint", skip_all, fields(db.system = "postgresql"))]
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_CHECKPOINT), &[])
            .await?
            .map(|row| rows::checkpoint(&row))
            .transpose()
    }
}
