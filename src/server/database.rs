//! The store the configuration names: PostgreSQL (migrated first unless told not to) when a
//! database URL is set, the in-memory store in dev mode; and `elevator migrate`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::store::Store;
use crate::store::memory::MemoryStore;
use crate::store::postgres::{PostgresOptions, PostgresStore};

/// The configured store; a PostgreSQL one is migrated first when
/// `database.migrate_on_start` says so. `instance_id` names this replica's LISTEN connection.
pub(super) async fn open_store(
    config: &Config,
    instance_id: &str,
) -> anyhow::Result<Arc<dyn Store>> {
    let Some(url) = &config.database_url else {
        return Ok(Arc::new(MemoryStore::new()));
    };
    let options = postgres_options(config, url, instance_id);
    if config.database.migrate_on_start {
        migrate(config, &options).await?;
    }
    let store = PostgresStore::connect(options)
        .await
        .context("connecting to PostgreSQL")?;
    Ok(Arc::new(store))
}

/// Applies pending migrations to the configured database (`elevator migrate`, and `serve`
/// unless told not to); returns the names of those applied.
pub async fn migrate_database(config: &Config) -> anyhow::Result<Vec<&'static str>> {
    let url = config
        .database_url
        .as_deref()
        .context("no database URL: set --database-url or ELEVATOR_DATABASE_URL")?;
    migrate(config, &postgres_options(config, url, "migrate")).await
}

/// Applies pending migrations, then grants the runtime role (if configured) what it needs.
async fn migrate(config: &Config, options: &PostgresOptions) -> anyhow::Result<Vec<&'static str>> {
    let applied = PostgresStore::migrate(options)
        .await
        .context("migrating the database")?;
    if let Some(role) = &config.database.runtime_role {
        PostgresStore::grant_runtime_role(options, role)
            .await
            .with_context(|| format!("granting database.runtime_role {role:?} its privileges"))?;
        tracing::info!(role = %role, "runtime role granted its privileges");
    }
    Ok(applied)
}

/// The PostgreSQL store's settings from `config`.
fn postgres_options(config: &Config, url: &str, instance_id: &str) -> PostgresOptions {
    PostgresOptions {
        url: url.to_owned(),
        max_connections: config.database.max_connections,
        connect_timeout: Duration::from_millis(config.database.connect_timeout_ms),
        listener_backoff: Duration::from_millis(config.database.listener_backoff_ms),
        listener_name: format!("elevator-listener-{instance_id}"),
    }
}
