//! The PostgreSQL store (tokio-postgres with a deadpool pool). Each write is one transaction:
//! lock and read what the decision needs, apply the decided [`Change`], bump the revision,
//! append the audit events and `pg_notify` the other replicas; serialization failures and
//! deadlocks are retried from the start. A dedicated connection LISTENs for other replicas'
//! writes (see [`listener`]).

mod errors;
mod listener;

pub use listener::STALL_DETECTION_BOUND;
mod queries;
mod rows;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use self::errors::{from_pg, from_pool, is_retryable};
use super::{
    AuditFilter, Change, Checkpoint, Committed, Created, Decide, DelegationFilter, DeliveryOutcome,
    ElevationContext, ElevationFilter, GrantContext, Lease, MAX_REVOKED_GRANTS_LOADED,
    PendingDelivery, PoolStatus, Snapshot, Store, StoreError, StoreEvent, StoredAuditEvent,
    StoredPolicy, WRITE_RETRIES, check_transitions, decide_change, with_revision,
};
use crate::domain::audit::chain_hash;
use crate::domain::{
    Elevation, ElevationId, Grant, GrantId, Revision, RiskSignal, SessionId, Subject,
};

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
];

/// A notification payload must stay under PostgreSQL's 8000-byte limit; past this many bytes of
/// subject names a write tells replicas to drop everything instead.
const MAX_NOTIFIED_SUBJECT_BYTES: usize = 6000;

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
        let client = pool.get().await.map_err(from_pool)?;
        client
            .batch_execute(&queries::GRANT_RUNTIME_ROLE.replace("{role}", &quoted))
            .await
            .map_err(from_pg)
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

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(from_pool)
    }
}

/// The migrations this build knows that the database has not recorded.
async fn missing_migrations(pool: &Pool) -> Result<Vec<&'static str>, StoreError> {
    let client = pool.get().await.map_err(from_pool)?;
    let has_table: bool = client
        .query_one(queries::MIGRATIONS_TABLE_EXISTS, &[])
        .await
        .map_err(from_pg)?
        .get(0);
    let applied: Vec<i32> = if has_table {
        client
            .query(queries::APPLIED_MIGRATIONS, &[])
            .await
            .map_err(from_pg)?
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
    let mut client = pool.get().await.map_err(from_pool)?;
    client
        .batch_execute(queries::LOCK_MIGRATIONS)
        .await
        .map_err(from_pg)?;
    let result = async {
        client
            .batch_execute(queries::CREATE_MIGRATIONS_TABLE)
            .await
            .map_err(from_pg)?;
        let applied: Vec<i32> = client
            .query(queries::APPLIED_MIGRATIONS, &[])
            .await
            .map_err(from_pg)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut newly_applied = Vec::new();
        for (version, name, sql) in MIGRATIONS {
            if applied.contains(version) {
                continue;
            }
            tracing::info!(version, name, "applying migration");
            let transaction = client.transaction().await.map_err(from_pg)?;
            transaction.batch_execute(sql).await.map_err(from_pg)?;
            transaction
                .execute(queries::RECORD_MIGRATION, &[version, name])
                .await
                .map_err(from_pg)?;
            transaction.commit().await.map_err(from_pg)?;
            newly_applied.push(*name);
        }
        Ok(newly_applied)
    }
    .await;
    client
        .batch_execute(queries::UNLOCK_MIGRATIONS)
        .await
        .map_err(from_pg)?;
    result
}

/// The connection's prepared statement for `$sql`, prepared on first use: a statement sent as
/// text costs a second round trip (parse, then execute) every time.
macro_rules! cached {
    ($connection:expr, $sql:expr) => {
        $connection.prepare_cached($sql).await.map_err(from_pg)?
    };
}

/// Runs `$body` in a transaction bound to `$tx`, retrying from the start when PostgreSQL picks
/// the transaction as the victim of a serialization failure or deadlock.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = $store.client().await?;
            let $tx = client.transaction().await.map_err(from_pg)?;
            let outcome: Result<_, StoreError> = async { $body }.await;
            let outcome = match outcome {
                Ok(value) => $tx.commit().await.map(|()| value).map_err(from_pg),
                Err(error) => Err(error),
            };
            match outcome {
                Err(error) if is_retryable(&error) && attempt < WRITE_RETRIES => {
                    tracing::debug!(attempt, %error, "retrying write after contention");
                    tokio::time::sleep(Duration::from_millis(attempt as u64 * 2)).await;
                }
                other => break other,
            }
        }
    }};
}

/// The statements a write sends while it holds the head row.
struct WriteStatements {
    upsert_elevation: tokio_postgres::Statement,
    upsert_grant: tokio_postgres::Statement,
    insert_risk_signal: tokio_postgres::Statement,
    insert_policy: tokio_postgres::Statement,
    insert_outbox: tokio_postgres::Statement,
    insert_audit_event: tokio_postgres::Statement,
    set_audit_head: tokio_postgres::Statement,
}

/// Writes `change` in `tx`: the revision bump with its notification (which locks the head row
/// until commit), then the rows and the chained audit events, pipelined. Returns the revision
/// (the caller commits).
async fn apply(tx: &Transaction<'_>, change: Change) -> Result<Committed, StoreError> {
    if change.is_empty() {
        let revision: i64 = tx
            .query_one(&cached!(tx, queries::CURRENT_REVISION), &[])
            .await
            .map_err(from_pg)?
            .get(0);
        return Ok(Committed {
            revision: revision as u64,
            change,
        });
    }

    let subjects: Vec<String> = change
        .affected_subjects()
        .iter()
        .map(ToString::to_string)
        .collect();
    let notify_everyone =
        subjects.iter().map(String::len).sum::<usize>() > MAX_NOTIFIED_SUBJECT_BYTES;
    let notified_subjects: Vec<String> = if notify_everyone {
        Vec::new()
    } else {
        subjects
    };
    // Prepared before the head row is locked, so that the lock is held for two round trips:
    // the bump, then every write pipelined, then the commit.
    let statements = WriteStatements {
        upsert_elevation: cached!(tx, queries::UPSERT_ELEVATION),
        upsert_grant: cached!(tx, queries::UPSERT_GRANT),
        insert_risk_signal: cached!(tx, queries::INSERT_RISK_SIGNAL),
        insert_policy: cached!(tx, queries::INSERT_POLICY),
        insert_outbox: cached!(tx, queries::INSERT_OUTBOX),
        insert_audit_event: cached!(tx, queries::INSERT_AUDIT_EVENT),
        set_audit_head: cached!(tx, queries::SET_AUDIT_HEAD),
    };
    let event_count = change.events.len() as i64;
    let head = tx
        .query_one(
            &cached!(tx, queries::BUMP_REVISION_AND_NOTIFY),
            &[
                &event_count,
                &change.policy.is_some(),
                &notify_everyone,
                &notified_subjects,
            ],
        )
        .await
        .map_err(from_pg)?;
    let revision: i64 = head.get(0);
    let last_seq: i64 = head.get(1);
    let head_hash: &[u8] = head.get(2);
    let mut prev_hash: [u8; 32] = head_hash
        .try_into()
        .map_err(|_| StoreError::Corrupt("the audit chain head is not a SHA-256 hash".into()))?;
    let revision = revision as u64;
    let revision_param = revision as i64;

    // Everything below is sent pipelined: one round trip while the head row is locked, not
    // one per row (commits are ordered by that lock, so its hold time bounds write throughput).
    let elevations = change
        .elevations
        .iter()
        .map(|elevation| rows::ElevationParams::new(elevation, revision))
        .collect::<Result<Vec<_>, _>>()?;
    let grants = change
        .grants
        .iter()
        .map(|grant| rows::GrantParams::new(grant, revision))
        .collect::<Result<Vec<_>, _>>()?;
    let signals: Vec<(&RiskSignal, &str, Option<String>, i32)> = change
        .risk_signals
        .iter()
        .map(|signal| {
            (
                signal,
                signal.subject.as_str(),
                signal.session.as_ref().map(ToString::to_string),
                signal.score as i32,
            )
        })
        .collect();
    let policy_version = change.policy.as_ref().map(|policy| policy.version as i64);
    let first_seq = last_seq - event_count + 1;
    let mut events = Vec::with_capacity(change.events.len());
    for (offset, event) in change.events.iter().enumerate() {
        let seq = first_seq + offset as i64;
        let hash = chain_hash(seq as u64, revision, &prev_hash, event);
        events.push(rows::AuditEventParams::new(
            event, seq, revision, prev_hash, hash,
        ));
        prev_hash = hash;
    }

    let elevation_params: Vec<_> = elevations.iter().map(|p| p.as_params()).collect();
    let grant_params: Vec<_> = grants.iter().map(|p| p.as_params()).collect();
    let event_params: Vec<_> = events.iter().map(|p| p.as_params()).collect();
    let signal_params: Vec<[&(dyn ToSql + Sync); 9]> = signals
        .iter()
        .map(
            |(signal, subject, session, score)| -> [&(dyn ToSql + Sync); 9] {
                [
                    &signal.id,
                    subject,
                    session,
                    score,
                    &signal.flags,
                    &signal.source,
                    &signal.reported_at,
                    &signal.expires_at,
                    &revision_param,
                ]
            },
        )
        .collect();
    let policy_params: Option<[&(dyn ToSql + Sync); 5]> =
        change.policy.as_ref().zip(policy_version.as_ref()).map(
            |(policy, version)| -> [&(dyn ToSql + Sync); 5] {
                [
                    version,
                    &policy.source,
                    &policy.created_by,
                    &policy.created_at,
                    &revision_param,
                ]
            },
        );
    let outbox_params: Vec<[&(dyn ToSql + Sync); 5]> = change
        .outbox
        .iter()
        .map(|message| -> [&(dyn ToSql + Sync); 5] {
            [
                &message.url,
                &message.event_kind,
                &message.payload,
                &message.created_at,
                &revision_param,
            ]
        })
        .collect();
    let head_hash: &[u8] = &prev_hash;
    let head_params: [&(dyn ToSql + Sync); 1] = [&head_hash];
    let mut writes: Vec<BoxFuture<'_, Result<u64, tokio_postgres::Error>>> = Vec::new();
    for params in &elevation_params {
        writes.push(Box::pin(tx.execute(&statements.upsert_elevation, params)));
    }
    for params in &grant_params {
        writes.push(Box::pin(tx.execute(&statements.upsert_grant, params)));
    }
    for params in &signal_params {
        writes.push(Box::pin(tx.execute(&statements.insert_risk_signal, params)));
    }
    if let Some(params) = &policy_params {
        writes.push(Box::pin(tx.execute(&statements.insert_policy, params)));
    }
    for params in &outbox_params {
        writes.push(Box::pin(tx.execute(&statements.insert_outbox, params)));
    }
    for params in &event_params {
        writes.push(Box::pin(tx.execute(&statements.insert_audit_event, params)));
    }
    if !events.is_empty() {
        writes.push(Box::pin(
            tx.execute(&statements.set_audit_head, &head_params),
        ));
    }
    futures_util::future::try_join_all(writes)
        .await
        .map_err(from_pg)?;
    Ok(Committed { revision, change })
}

async fn lock_descendants(tx: &Transaction<'_>, root: GrantId) -> Result<Vec<Grant>, StoreError> {
    tx.query(&cached!(tx, queries::DESCENDANTS_FOR_UPDATE), &[&root.0])
        .await
        .map_err(from_pg)?
        .iter()
        .map(rows::grant)
        .collect()
}

async fn lock_elevations(tx: &Transaction<'_>, ids: &[Uuid]) -> Result<Vec<Elevation>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tx.query(&cached!(tx, queries::ELEVATIONS_BY_IDS_FOR_UPDATE), &[&ids])
        .await
        .map_err(from_pg)?
        .iter()
        .map(rows::elevation)
        .collect()
}

#[async_trait]
impl Store for PostgresStore {
    #[tracing::instrument(name = "postgres.create_elevation", skip_all, fields(db.system = "postgresql"))]
    async fn create_elevation(
        &self,
        change: Change,
        idempotency: Option<(Subject, String)>,
    ) -> Result<Created, StoreError> {
        in_transaction!(self, |tx| {
            if let Some((requester, key)) = &idempotency {
                tx.execute(&cached!(tx, queries::LOCK_SUBJECT), &[&requester.as_str()])
                    .await
                    .map_err(from_pg)?;
                let existing = tx
                    .query_opt(
                        &cached!(tx, queries::ELEVATION_BY_IDEMPOTENCY_KEY),
                        &[&requester.as_str(), key],
                    )
                    .await
                    .map_err(from_pg)?;
                if let Some(row) = existing {
                    return Ok(Created::Existing(Box::new(rows::elevation(&row)?)));
                }
            }
            Ok(Created::New(apply(&tx, change.clone()).await?))
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
                .await
                .map_err(from_pg)?
                .ok_or_else(|| StoreError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
            let elevation = rows::elevation(&row)?;
            tx.execute(
                &cached!(tx, queries::LOCK_SUBJECT),
                &[&elevation.requester.as_str()],
            )
            .await
            .map_err(from_pg)?;
            let own_grant_id = elevation.grant_id.map(|grant_id| grant_id.0);
            let mut requester_grants: Vec<Grant> = tx
                .query(
                    &cached!(tx, queries::REQUESTER_GRANTS),
                    &[&elevation.requester.as_str(), &now, &own_grant_id],
                )
                .await
                .map_err(from_pg)?
                .iter()
                .map(rows::grant)
                .collect::<Result<_, _>>()?;
            let grant = own_grant_id.and_then(|own| {
                let position = requester_grants.iter().position(|g| g.id.0 == own)?;
                Some(requester_grants.remove(position))
            });
            let before = [elevation.clone()];
            let change = decide_change(
                decide,
                ElevationContext {
                    elevation,
                    grant,
                    requester_grants,
                },
            )?;
            check_transitions(&before, &change)?;
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
                .await
                .map_err(from_pg)?
                .map(|row| row.get(0));
            if let Some(holder) = &holder {
                tx.execute(&cached!(tx, queries::LOCK_SUBJECT), &[holder])
                    .await
                    .map_err(from_pg)?;
            }
            let row = tx
                .query_opt(&cached!(tx, queries::GRANT_BY_ID_FOR_UPDATE), &[&id.0])
                .await
                .map_err(from_pg)?
                .ok_or_else(|| StoreError::NotFound {
                    what: "grant",
                    id: id.to_string(),
                })?;
            let grant = rows::grant(&row)?;
            let elevation_ids: Vec<Uuid> = grant.elevation_id.iter().map(|e| e.0).collect();
            let elevation = lock_elevations(&tx, &elevation_ids).await?.pop();
            let before: Vec<Elevation> = elevation.iter().cloned().collect();
            let descendants = lock_descendants(&tx, grant.id).await?;
            let change = decide_change(
                decide,
                GrantContext {
                    grant,
                    elevation,
                    descendants,
                },
            )?;
            check_transitions(&before, &change)?;
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
                .await
                .map_err(from_pg)?;
            let grants: Vec<Grant> = tx
                .query(
                    &cached!(tx, queries::SESSION_GRANTS_FOR_UPDATE),
                    &[&subject.as_str(), &session.as_str(), &now],
                )
                .await
                .map_err(from_pg)?
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
            let change = decide_change(decide, contexts)?;
            check_transitions(&elevations, &change)?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.update_policy", skip_all, fields(db.system = "postgresql"))]
    async fn update_policy(
        &self,
        decide: Decide<'_, Option<StoredPolicy>>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            tx.execute(&cached!(tx, queries::LOCK_HEAD), &[])
                .await
                .map_err(from_pg)?;
            let current = tx
                .query_opt(&cached!(tx, queries::LATEST_POLICY), &[])
                .await
                .map_err(from_pg)?
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
            .await
            .map_err(from_pg)?;
        Ok(rows.iter().map(|row| ElevationId(row.get(0))).collect())
    }

    #[tracing::instrument(name = "postgres.get_elevation", skip_all, fields(db.system = "postgresql"))]
    async fn get_elevation(&self, id: ElevationId) -> Result<Option<Elevation>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::ELEVATION_BY_ID), &[&id.0])
            .await
            .map_err(from_pg)?
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
            .await
            .map_err(from_pg)?
            .iter()
            .map(rows::elevation)
            .collect()
    }

    #[tracing::instrument(name = "postgres.get_grant", skip_all, fields(db.system = "postgresql"))]
    async fn get_grant(&self, id: GrantId) -> Result<Option<Grant>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::GRANT_BY_ID), &[&id.0])
            .await
            .map_err(from_pg)?
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
        }
        .map_err(from_pg)?;
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
            .await
            .map_err(from_pg)?
            .iter()
            .map(rows::grant)
            .collect()
    }

    #[tracing::instrument(name = "postgres.load_grants", skip_all, fields(db.system = "postgresql"))]
    async fn load_grants(
        &self,
        subject: &str,
        since: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<Grant>>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(queries::LOAD_GRANTS)
            .await
            .map_err(from_pg)?;
        let most_revoked = MAX_REVOKED_GRANTS_LOADED as i64;
        let rows = client
            .query(&statement, &[&subject, &since, &most_revoked])
            .await
            .map_err(from_pg)?;
        let revision: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("the head row is missing".into()))?
            .get(0);
        let mut grants = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(grant) = rows::grant_at(row, 1)? {
                grants.push(grant);
            }
        }
        Ok(Snapshot {
            value: grants,
            revision: revision as u64,
        })
    }

    #[tracing::instrument(name = "postgres.load_risk", skip_all, fields(db.system = "postgresql"))]
    async fn load_risk(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Snapshot<Vec<RiskSignal>>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(queries::LOAD_RISK)
            .await
            .map_err(from_pg)?;
        let rows = client
            .query(&statement, &[&subject, &now])
            .await
            .map_err(from_pg)?;
        let revision: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Corrupt("the head row is missing".into()))?
            .get(0);
        let mut signals = Vec::new();
        for row in &rows {
            if let Some(signal) = rows::risk_signal_at(row, 1)? {
                signals.push(signal);
            }
        }
        Ok(Snapshot {
            value: signals,
            revision: revision as u64,
        })
    }

    #[tracing::instrument(name = "postgres.latest_policy", skip_all, fields(db.system = "postgresql"))]
    async fn latest_policy(&self) -> Result<Option<StoredPolicy>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_POLICY), &[])
            .await
            .map_err(from_pg)?
            .map(|row| rows::policy(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.latest_policy_by", skip_all, fields(db.system = "postgresql"))]
    async fn latest_policy_by(&self, created_by: &str) -> Result<Option<StoredPolicy>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_POLICY_BY), &[&created_by])
            .await
            .map_err(from_pg)?
            .map(|row| rows::policy(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.revision", skip_all, fields(db.system = "postgresql"))]
    async fn revision(&self) -> Result<Revision, StoreError> {
        let client = self.client().await?;
        let revision: i64 = client
            .query_one(&cached!(client, queries::CURRENT_REVISION), &[])
            .await
            .map_err(from_pg)?
            .get(0);
        Ok(revision as u64)
    }

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
            .await
            .map_err(from_pg)?
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
            .await
            .map_err(from_pg)?
            .iter()
            .map(rows::audit_event)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(super::whole_revisions(events, limit))
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
            .await
            .map_err(from_pg)?
            .iter()
            .map(rows::audit_event)
            .collect()
    }

    #[tracing::instrument(name = "postgres.audit_head", skip_all, fields(db.system = "postgresql"))]
    async fn audit_head(&self) -> Result<(u64, [u8; 32], Revision), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(&cached!(client, queries::AUDIT_HEAD), &[])
            .await
            .map_err(from_pg)?;
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
            .await
            .map_err(from_pg)?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.latest_checkpoint", skip_all, fields(db.system = "postgresql"))]
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(&cached!(client, queries::LATEST_CHECKPOINT), &[])
            .await
            .map_err(from_pg)?
            .map(|row| rows::checkpoint(&row))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.claim_deliveries", skip_all, fields(db.system = "postgresql"))]
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &cached!(client, queries::CLAIM_DELIVERIES),
                &[&now, &(now + lease), &(limit as i64)],
            )
            .await
            .map_err(from_pg)?;
        Ok(rows
            .iter()
            .map(|row| {
                let revision: i64 = row.get(5);
                let attempts: i32 = row.get(4);
                PendingDelivery {
                    id: row.get(0),
                    url: row.get(1),
                    event_kind: row.get(2),
                    payload: with_revision(row.get(3), revision as u64),
                    attempts: attempts.max(0) as u32,
                }
            })
            .collect())
    }

    #[tracing::instrument(name = "postgres.finish_delivery", skip_all, fields(db.system = "postgresql"))]
    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        match outcome {
            DeliveryOutcome::Delivered => {
                client
                    .execute(&cached!(client, queries::DELIVERED), &[&id, &now])
                    .await
            }
            DeliveryOutcome::Failed { error, retry_at } => {
                client
                    .execute(
                        &cached!(client, queries::DELIVERY_FAILED),
                        &[&id, &error, &retry_at, &now],
                    )
                    .await
            }
        }
        .map_err(from_pg)?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.pending_deliveries", skip_all, fields(db.system = "postgresql"))]
    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&cached!(client, queries::PENDING_DELIVERIES), &[])
            .await
            .map_err(from_pg)?
            .get(0);
        Ok(count as u64)
    }

    #[tracing::instrument(name = "postgres.pending_elevations", skip_all, fields(db.system = "postgresql"))]
    async fn pending_elevations(&self) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let count: i64 = client
            .query_one(&cached!(client, queries::PENDING_ELEVATIONS), &[])
            .await
            .map_err(from_pg)?
            .get(0);
        Ok(count as u64)
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
        let acquired: bool = client
            .query_one(queries::TRY_LOCK_SWEEP, &[])
            .await
            .map_err(from_pg)?
            .get(0);
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

    fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.events.subscribe()
    }

    fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}
