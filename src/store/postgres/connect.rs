//! Connecting to PostgreSQL and bringing its schema up to date: the pool, the migrations this
//! build knows, and the privileges of the role the server runs as.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio::sync::broadcast;
use tokio_postgres::NoTls;

use super::{PostgresStore, listener, queries};
use crate::store::StoreError;

/// The versioned schema migrations, applied in order at start-up.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "0001_initial",
        include_str!("../../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "0002_extensions",
        include_str!("../../../migrations/0002_extensions.sql"),
    ),
    (
        3,
        "0003_delegation_and_outbox",
        include_str!("../../../migrations/0003_delegation_and_outbox.sql"),
    ),
    (
        4,
        "0004_audit_chain",
        include_str!("../../../migrations/0004_audit_chain.sql"),
    ),
    (
        5,
        "0005_delegation_acceptance",
        include_str!("../../../migrations/0005_delegation_acceptance.sql"),
    ),
    (
        6,
        "0006_directory",
        include_str!("../../../migrations/0006_directory.sql"),
    ),
    (
        7,
        "0007_access_requests",
        include_str!("../../../migrations/0007_access_requests.sql"),
    ),
    (
        10,
        "0010_breakglass",
        include_str!("../../../migrations/0010_breakglass.sql"),
    ),
    (
        11,
        "0011_reviews",
        include_str!("../../../migrations/0011_reviews.sql"),
    ),
];

/// Settings of the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connection URL (`postgres://user:password@host:port/database`).
    pub url: String,
    /// Pool size.
    pub max_connections: usize,
    /// How long a request waits for a connection, or for one to open.
    pub connect_timeout: Duration,
    /// The first wait before the LISTEN connection is reopened after it broke (doubling up to
    /// two seconds while it keeps failing).
    pub listener_backoff: Duration,
    /// A name for this replica's LISTEN connection (`application_name`), so operators and tests
    /// can find it in `pg_stat_activity`.
    pub listener_name: String,
}

fn parse_config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    url.parse::<tokio_postgres::Config>().map_err(|error| {
        StoreError::Internal(format!(
            "the database URL is not valid (postgres://user:password@host:port/database): {error}"
        ))
    })
}

/// The connection settings and a pool of `size` for `options`.
fn pool(
    options: &PostgresOptions,
    size: usize,
) -> Result<(tokio_postgres::Config, Pool), StoreError> {
    let mut config = parse_config(&options.url)?;
    config.connect_timeout(options.connect_timeout);
    config.application_name("elevator");
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));

    let manager = Manager::from_config(
        config.clone(),
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(options.connect_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|error| StoreError::Internal(format!("building the pool: {error}")))?;
    Ok((config, pool))
}

impl PostgresStore {
    /// Applies the migrations the database lacks (what `elevator migrate` and a `serve` without
    /// `--no-migrate` do); returns the names of those applied.
    pub async fn migrate(options: &PostgresOptions) -> Result<Vec<&'static str>, StoreError> {
        let (_, pool) = pool(options, 1)?;
        migrate(&pool).await
    }

    /// Gives `role` (an existing PostgreSQL role) exactly the privileges the server needs at
    /// run time ([`queries::GRANT_RUNTIME_ROLE`]); run by `elevator migrate` with the owner's
    /// credentials, so that the server itself can run as a role that owns nothing.
    pub async fn grant_runtime_role(
        options: &PostgresOptions,
        role: &str,
    ) -> Result<(), StoreError> {
        // Quoted as an identifier (inner quotes doubled), so any role name is taken literally.
        let quoted = format!("\"{}\"", role.replace('"', "\"\""));
        let (_, pool) = pool(options, 1)?;
        let client = pool.get().await?;
        client
            .batch_execute(&queries::GRANT_RUNTIME_ROLE.replace("{role}", &quoted))
            .await?;
        Ok(())
    }

    /// Connects and starts listening for other replicas' writes. The schema must be current
    /// (see [`PostgresStore::migrate`]): a database this build cannot use is refused, naming
    /// the migrations it lacks.
    pub async fn connect(options: PostgresOptions) -> Result<Self, StoreError> {
        let (config, pool) = pool(&options, options.max_connections)?;
        let missing = missing_migrations(&pool).await?;
        if !missing.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "the database schema lacks migrations {}: run `elevator migrate` (or serve without --no-migrate)",
                missing.join(", ")
            )));
        }

        let (events, _) = broadcast::channel(4096);
        let listening = Arc::new(AtomicBool::new(false));
        let mut listener_config = config;
        listener_config.application_name(&options.listener_name);
        let listener_task = tokio::spawn(listener::run(
            listener_config,
            options.listener_backoff,
            events.clone(),
            listening.clone(),
        ));
        Ok(PostgresStore {
            pool,
            events,
            listening,
            listener_task,
        })
    }
}

/// The migrations this build knows that the database has not recorded.
pub(super) async fn missing_migrations(pool: &Pool) -> Result<Vec<&'static str>, StoreError> {
    let client = pool.get().await?;
    let has_table: bool = client
        .query_one(queries::MIGRATIONS_TABLE_EXISTS, &[])
        .await?
        .get(0);
    let applied: Vec<i32> = if has_table {
        client
            .query(queries::APPLIED_MIGRATIONS, &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    Ok(MIGRATIONS
        .iter()
        .filter(|(version, _, _)| !applied.contains(version))
        .map(|(_, name, _)| *name)
        .collect())
}

/// Applies every migration not yet recorded, each in its own transaction, holding an advisory
/// lock so that replicas starting together take turns. Returns the names of those applied.
async fn migrate(pool: &Pool) -> Result<Vec<&'static str>, StoreError> {
    let mut client = pool.get().await?;
    client.batch_execute(queries::LOCK_MIGRATIONS).await?;
    let result = async {
        client
            .batch_execute(queries::CREATE_MIGRATIONS_TABLE)
            .await?;
        let applied: Vec<i32> = client
            .query(queries::APPLIED_MIGRATIONS, &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut newly_applied = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tracing::info!(version, name, "applying migration");
            let transaction = client.transaction().await?;
            transaction.batch_execute(sql).await?;
            transaction
                .execute(queries::RECORD_MIGRATION, &[version, name])
                .await?;
            transaction.commit().await?;
            newly_applied.push(*name);
        }
        Ok(newly_applied)
    }
    .await;
    client.batch_execute(queries::UNLOCK_MIGRATIONS).await?;
    result
}
