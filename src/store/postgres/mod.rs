//! The PostgreSQL store (tokio-postgres with a deadpool pool). Each write is one transaction:
//! lock and read what the decision needs, apply the decided [`Change`](crate::store::Change),
//! bump the revision, append the audit events and `pg_notify` the other replicas;
//! serialization failures and deadlocks are retried from the start. A dedicated connection
//! LISTENs for other replicas' writes (see [`listener`]).
//!
//! This file holds the store itself; `connect` opens and migrates it, `transaction` is the
//! unit of work under the head row's lock, `writes` and `reads` implement the contract,
//! with the outbox and operations beside them.

mod access_requests;
mod break_glass;
mod connect;
mod directory;
mod errors;
mod listener;
mod operations;
mod outbox;
mod queries;
mod reads;
mod reviews;
mod rows;
mod transaction;
mod writes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use deadpool_postgres::Pool;
use tokio::sync::broadcast;

pub use connect::PostgresOptions;
pub use listener::STALL_DETECTION_BOUND;

use crate::store::{StoreError, StoreEvent};
use transaction::cached;

/// The PostgreSQL store.
pub struct PostgresStore {
    pool: Pool,
    events: broadcast::Sender<StoreEvent>,
    listening: Arc<AtomicBool>,
    listener_task: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener_task.abort();
    }
}

impl PostgresStore {
    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// The one number `sql` (a statement without parameters) selects: a count or the revision,
    /// neither of which the schema lets go negative.
    async fn single_number(&self, sql: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let number: i64 = client.query_one(&cached!(client, sql), &[]).await?.get(0);
        Ok(number as u64)
    }
}
