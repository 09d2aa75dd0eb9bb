//! The PostgreSQL store's operations (due elevations, the sweep's advisory lock, what
//! operators watch) and its change feed, which the LISTEN connection ([`super::listener`])
//! fills.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::PostgresStore;
use super::connect::missing_migrations;
use super::queries;
use super::transaction::cached;
use crate::domain::ElevationId;
use crate::store::{ChangeFeed, Lease, Operations, PoolStatus, StoreError, StoreEvent};

#[async_trait]
impl Operations for PostgresStore {
    #[tracing::instrument(name = "postgres.due_elevations", skip_all, fields(db.system = "postgresql"))]
    async fn due_elevations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ElevationId>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &cached!(client, queries::DUE_ELEVATIONS),
                &[&now, &(limit as i64)],
            )
            .await?;
        Ok(rows.iter().map(|row| ElevationId(row.get(0))).collect())
    }

    #[tracing::instrument(name = "postgres.pending_elevations", skip_all, fields(db.system = "postgresql"))]
    async fn pending_elevations(&self) -> Result<u64, StoreError> {
        self.single_number(queries::PENDING_ELEVATIONS).await
    }

    #[tracing::instrument(name = "postgres.missing_migrations", skip_all, fields(db.system = "postgresql"))]
    async fn missing_migrations(&self) -> Result<Vec<&'static str>, StoreError> {
        missing_migrations(&self.pool).await
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        let status = self.pool.status();
        Some(PoolStatus {
            open: status.size,
            idle: status.available,
            max: status.max_size,
        })
    }

    #[tracing::instrument(name = "postgres.sweep_lease", skip_all, fields(db.system = "postgresql"))]
    async fn sweep_lease(&self) -> Result<Option<Lease>, StoreError> {
        let client = self.client().await?;
        let acquired: bool = client.query_one(queries::TRY_LOCK_SWEEP, &[]).await?.get(0);
        if !acquired {
            return Ok(None);
        }
        // The lock lives as long as this session: take the connection out of the pool, so
        // that dropping the lease closes it (and a replica that dies loses the lock with it).
        // Released in order, it unlocks first: the next sweep, here or on another replica,
        // need not wait for the server to notice the connection closed.
        let client = deadpool_postgres::Object::take(client);
        Ok(Some(Lease::releasing(move || {
            Box::pin(async move {
                if let Err(error) = client.batch_execute(queries::UNLOCK_SWEEP).await {
                    tracing::debug!(%error, "sweep lease: unlock failed; closing releases it");
                }
            })
        })))
    }
}

impl ChangeFeed for PostgresStore {
    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}
