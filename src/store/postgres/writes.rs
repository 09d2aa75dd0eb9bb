//! The PostgreSQL store's writes: each locks and reads what its decision needs, in the order
//! every write takes its locks (the subject's, then the rows), and applies the decided change
//! in the same transaction (see [`super::transaction`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::PostgresStore;
use super::queries;
use super::rows;
use super::transaction::{apply, cached, in_transaction, lock_descendants, lock_elevations};
use crate::domain::{Elevation, ElevationId, Grant, GrantId, SessionId, Subject};
use crate::store::{
    Change, Committed, Created, Decide, ElevationContext, GrantContext, PolicyVersion, StoreError,
    Writes, decide_change, decide_checked,
};

#[async_trait]
impl Writes for PostgresStore {
    #[tracing::instrument(name = "postgres.create_elevation", skip_all, fields(db.system = "postgresql"))]
    async fn create_elevation(
        &self,
        change: Change,
        idempotency: Option<(Subject, String)>,
    ) -> Result<Created, StoreError> {
        in_transaction!(self, |tx| {
            if let Some((requester, key)) = &idempotency {
                tx.execute(&cached!(tx, queries::LOCK_SUBJECT), &[&requester.as_str()])
                    .await?;
                let existing = tx
                    .query_opt(
                        &cached!(tx, queries::ELEVATION_BY_IDEMPOTENCY_KEY),
                        &[&requester.as_str(), key],
                    )
                    .await?;
                if let Some(row) = existing {
                    return Ok(Created::Existing(Box::new(rows::elevation(&row)?)));
                }
            }
            Ok(Created::New(Box::new(apply(&tx, change.clone()).await?)))
        })
    }

    #[tracing::instrument(name = "postgres.update_elevation", skip_all, fields(db.system = "postgresql"))]
    async fn update_elevation(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
        decide: Decide<'_, ElevationContext>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            let row = tx
                .query_opt(&cached!(tx, queries::ELEVATION_BY_ID_FOR_UPDATE), &[&id.0])
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
            let elevation = rows::elevation(&row)?;
            tx.execute(
                &cached!(tx, queries::LOCK_SUBJECT),
                &[&elevation.requester.as_str()],
            )
            .await?;
            let own_grant_id = elevation.grant_id.map(|grant_id| grant_id.0);
            let mut requester_grants: Vec<Grant> = tx
                .query(
                    &cached!(tx, queries::REQUESTER_GRANTS),
                    &[&elevation.requester.as_str(), &now, &own_grant_id],
                )
                .await?
                .iter()
                .map(rows::grant)
                .collect::<Result<_, _>>()?;
            let grant = own_grant_id.and_then(|own| {
                let position = requester_grants.iter().position(|g| g.id.0 == own)?;
                Some(requester_grants.remove(position))
            });
            let before = [elevation.clone()];
            let change = decide_checked(
                decide,
                ElevationContext {
                    elevation,
                    grant,
                    requester_grants,
                },
                &before,
            )?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.update_grant", skip_all, fields(db.system = "postgresql"))]
    async fn update_grant(
        &self,
        id: GrantId,
        decide: Decide<'_, GrantContext>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            // The holder's lock first, as every write about a subject's grants takes it: a
            // delegation being activated from this grant and its revocation then cannot
            // interleave.
            let holder: Option<String> = tx
                .query_opt(&cached!(tx, queries::GRANT_SUBJECT), &[&id.0])
                .await?
                .map(|row| row.get(0));
            if let Some(holder) = &holder {
                tx.execute(&cached!(tx, queries::LOCK_SUBJECT), &[holder])
                    .await?;
            }
            let row = tx
                .query_opt(&cached!(tx, queries::GRANT_BY_ID_FOR_UPDATE), &[&id.0])
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "grant",
                    id: id.to_string(),
                })?;
            let grant = rows::grant(&row)?;
            let elevation_ids: Vec<Uuid> = grant.elevation_id.iter().map(|e| e.0).collect();
            let elevation = lock_elevations(&tx, &elevation_ids).await?.pop();
            let before: Vec<Elevation> = elevation.iter().cloned().collect();
            let descendants = lock_descendants(&tx, grant.id).await?;
            let change = decide_checked(
                decide,
                GrantContext {
                    grant,
                    elevation,
                    descendants,
                },
                &before,
            )?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.update_session", skip_all, fields(db.system = "postgresql"))]
    async fn update_session(
        &self,
        subject: &Subject,
        session: &SessionId,
        now: DateTime<Utc>,
        decide: Decide<'_, Vec<GrantContext>>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            tx.execute(&cached!(tx, queries::LOCK_SUBJECT), &[&subject.as_str()])
                .await?;
            let grants: Vec<Grant> = tx
                .query(
                    &cached!(tx, queries::SESSION_GRANTS_FOR_UPDATE),
                    &[&subject.as_str(), &session.as_str(), &now],
                )
                .await?
                .iter()
                .map(rows::grant)
                .collect::<Result<_, _>>()?;
            let elevation_ids: Vec<Uuid> = grants
                .iter()
                .filter_map(|grant| grant.elevation_id.map(|e| e.0))
                .collect();
            let elevations = lock_elevations(&tx, &elevation_ids).await?;
            let mut contexts: Vec<GrantContext> = Vec::with_capacity(grants.len());
            for grant in grants {
                let descendants = lock_descendants(&tx, grant.id).await?;
                contexts.push(GrantContext {
                    elevation: elevations
                        .iter()
                        .find(|e| Some(e.id) == grant.elevation_id)
                        .cloned(),
                    grant,
                    descendants,
                });
            }
            let change = decide_checked(decide, contexts, &elevations)?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.update_policy", skip_all, fields(db.system = "postgresql"))]
    async fn update_policy(
        &self,
        decide: Decide<'_, Option<PolicyVersion>>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            tx.execute(&cached!(tx, queries::LOCK_HEAD), &[]).await?;
            let current = tx
                .query_opt(&cached!(tx, queries::LATEST_POLICY), &[])
                .await?
                .map(|row| rows::policy(&row))
                .transpose()?;
            let change = decide_change(decide, current)?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.append", skip_all, fields(db.system = "postgresql"))]
    async fn append(&self, change: Change) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| apply(&tx, change.clone()).await)
    }
}
