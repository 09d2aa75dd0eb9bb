//! The unit of work: a transaction retried on contention ([`in_transaction!`]), and [`apply`],
//! which writes a decided change under the head row's lock: the revision bump with its
//! notification, then every row and the chained audit events in one pipelined round trip.
//! Commits are ordered by that lock, so its hold time bounds write throughput.

use deadpool_postgres::Transaction;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::rows::{
    AuditEventParams, ElevationParams, GrantParams, OutboxParams, PolicyParams, RiskSignalParams,
};
use super::{queries, rows};
use crate::domain::audit::chain_hash;
use crate::domain::{Elevation, Grant, GrantId, Revision};
use crate::store::{Change, Committed, StoreError};

/// A notification payload must stay under PostgreSQL's 8000-byte limit; past this many bytes of
/// subject names a write tells replicas to drop everything instead.
const MAX_NOTIFIED_SUBJECT_BYTES: usize = 6000;
/// Past this many bytes of directory keys (counted as JSON writes them, at worst) a directory
/// write tells replicas to reload the whole directory instead of naming the keys. Beside the
/// subjects' budget the payload stays under the limit; one entity's key (at most 577 bytes of
/// text) always fits.
const MAX_NOTIFIED_DIRECTORY_KEY_BYTES: usize = 1500;

/// The connection's prepared statement for `$sql`, prepared on first use: a statement sent as
/// text costs a second round trip (parse, then execute) every time.
macro_rules! cached {
    ($connection:expr, $sql:expr) => {
        $connection.prepare_cached($sql).await?
    };
}
pub(super) use cached;

/// Runs `$body` in a transaction bound to `$tx`, retrying from the start when PostgreSQL picks
/// the transaction as the victim of a serialization failure or deadlock.
macro_rules! in_transaction {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut client = $store.client().await?;
            let $tx = client.transaction().await?;
            let outcome: Result<_, $crate::store::StoreError> = async { $body }.await;
            let outcome = match outcome {
                Ok(value) => $tx
                    .commit()
                    .await
                    .map(|()| value)
                    .map_err($crate::store::StoreError::from),
                Err(error) => Err(error),
            };
            match outcome {
                Err(error)
                    if super::errors::is_retryable(&error)
                        && attempt < $crate::store::WRITE_RETRIES =>
                {
                    tracing::debug!(attempt, %error, "retrying write after contention");
                    tokio::time::sleep(std::time::Duration::from_millis(attempt as u64 * 2)).await;
                }
                other => break other,
            }
        }
    }};
}
pub(super) use in_transaction;

/// Writes `change` in `tx`: the revision bump with its notification (which locks the head row
/// until commit), then the rows and the chained audit events, pipelined. Returns the revision
/// (the caller commits).
pub(super) async fn apply(tx: &Transaction<'_>, change: Change) -> Result<Committed, StoreError> {
    if change.is_empty() {
        let revision: i64 = tx
            .query_one(&cached!(tx, queries::CURRENT_REVISION), &[])
            .await?
            .get(0);
        return Ok(Committed {
            revision: revision as u64,
            change,
        });
    }
    // Prepared before the head row is locked, so that the lock is held for two round trips:
    // the bump, then every write pipelined, then the commit.
    let statements = WriteStatements::prepare(tx).await?;
    let head = bump_revision(tx, &change).await?;
    let rows = ChangeRows::new(&change, &head)?;
    write_pipelined(tx, &statements, &rows).await?;
    super::directory::write_directory(tx, &change.directory, head.revision).await?;
    super::break_glass::write_break_glass(tx, &change.break_glass, head.revision).await?;
    Ok(Committed {
        revision: head.revision,
        change,
    })
}

/// The head row as the revision bump left it: the new revision, the last audit sequence
/// number it reserved, and the hash the chain continues from.
struct Head {
    revision: Revision,
    last_seq: i64,
    hash: [u8; 32],
}

/// Bumps the revision, reserving a sequence number for each of the change's audit events, and
/// queues the notification of what it changed. Locks the head row until commit.
async fn bump_revision(tx: &Transaction<'_>, change: &Change) -> Result<Head, StoreError> {
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
    let directory_keys = notified_directory_keys(change);
    let event_count = change.events.len() as i64;
    let head = tx
        .query_one(
            &cached!(tx, queries::BUMP_REVISION_AND_NOTIFY),
            &[
                &event_count,
                &change.policy.is_some(),
                &notify_everyone,
                &notified_subjects,
                &!change.directory.is_empty(),
                &directory_keys,
            ],
        )
        .await?;
    let revision: i64 = head.get(0);
    let head_hash: &[u8] = head.get(2);
    Ok(Head {
        revision: revision as u64,
        last_seq: head.get(1),
        hash: head_hash.try_into().map_err(|_| {
            StoreError::Corrupt("the audit chain head is not a SHA-256 hash".into())
        })?,
    })
}

/// The directory keys a write's notification names, as `type/id` (a type has no `/`): all of
/// them, or none when they would not fit (replicas then reload the whole directory).
fn notified_directory_keys(change: &Change) -> Vec<String> {
    let keys: Vec<String> = (change.directory_keys().iter())
        .map(|key| format!("{}/{}", key.entity_type.as_str(), key.id.as_str()))
        .collect();
    // A quote or backslash doubles in JSON; each key adds its quotes and a comma.
    let bytes: usize = keys.iter().map(|key| 2 * key.len() + 3).sum();
    if bytes > MAX_NOTIFIED_DIRECTORY_KEY_BYTES {
        Vec::new()
    } else {
        keys
    }
}

/// The statements a write sends while it holds the head row.
struct WriteStatements {
    upsert_elevation: Statement,
    upsert_grant: Statement,
    insert_risk_signal: Statement,
    insert_policy: Statement,
    insert_outbox: Statement,
    insert_audit_event: Statement,
    set_audit_head: Statement,
}

impl WriteStatements {
    async fn prepare(tx: &Transaction<'_>) -> Result<Self, StoreError> {
        Ok(WriteStatements {
            upsert_elevation: cached!(tx, queries::UPSERT_ELEVATION),
            upsert_grant: cached!(tx, queries::UPSERT_GRANT),
            insert_risk_signal: cached!(tx, queries::INSERT_RISK_SIGNAL),
            insert_policy: cached!(tx, queries::INSERT_POLICY),
            insert_outbox: cached!(tx, queries::INSERT_OUTBOX),
            insert_audit_event: cached!(tx, queries::INSERT_AUDIT_EVENT),
            set_audit_head: cached!(tx, queries::SET_AUDIT_HEAD),
        })
    }
}

/// Every row of a change as statement parameters, at the revision the bump gave it, with the
/// audit events chained from the head's hash.
struct ChangeRows<'c> {
    elevations: Vec<ElevationParams>,
    grants: Vec<GrantParams>,
    risk_signals: Vec<RiskSignalParams<'c>>,
    policy: Option<PolicyParams<'c>>,
    outbox: Vec<OutboxParams<'c>>,
    events: Vec<AuditEventParams<'c>>,
    /// The chain's new head hash, when the change has audit events.
    audit_head: Option<Vec<u8>>,
}

impl<'c> ChangeRows<'c> {
    fn new(change: &'c Change, head: &Head) -> Result<Self, StoreError> {
        let revision = head.revision;
        let elevations = change
            .elevations
            .iter()
            .map(|elevation| ElevationParams::new(elevation, revision))
            .collect::<Result<_, _>>()?;
        let grants = change
            .grants
            .iter()
            .map(|grant| GrantParams::new(grant, revision))
            .collect::<Result<_, _>>()?;
        let (events, audit_head) = chain_events(change, head);
        Ok(ChangeRows {
            elevations,
            grants,
            risk_signals: (change.risk_signals.iter())
                .map(|signal| RiskSignalParams::new(signal, revision))
                .collect(),
            policy: (change.policy.as_ref()).map(|policy| PolicyParams::new(policy, revision)),
            outbox: (change.outbox.iter())
                .map(|message| OutboxParams::new(message, revision))
                .collect(),
            events,
            audit_head,
        })
    }
}

/// The change's audit events as rows numbered from the sequence numbers the bump reserved, each
/// hash-linked to the one before; and the hash of the last, the chain's new head.
fn chain_events<'c>(
    change: &'c Change,
    head: &Head,
) -> (Vec<AuditEventParams<'c>>, Option<Vec<u8>>) {
    let first_seq = head.last_seq - change.events.len() as i64 + 1;
    let mut prev_hash = head.hash;
    let mut events = Vec::with_capacity(change.events.len());
    for (offset, event) in change.events.iter().enumerate() {
        let seq = first_seq + offset as i64;
        let hash = chain_hash(seq as u64, head.revision, &prev_hash, event);
        events.push(AuditEventParams::new(
            event,
            seq,
            head.revision,
            prev_hash,
            hash,
        ));
        prev_hash = hash;
    }
    let audit_head = (!events.is_empty()).then(|| prev_hash.to_vec());
    (events, audit_head)
}

/// Sends every row's write at once and waits for all: one round trip while the head row is
/// locked, not one per row.
async fn write_pipelined(
    tx: &Transaction<'_>,
    statements: &WriteStatements,
    rows: &ChangeRows<'_>,
) -> Result<(), StoreError> {
    let elevations: Vec<_> = rows.elevations.iter().map(|p| p.as_params()).collect();
    let grants: Vec<_> = rows.grants.iter().map(|p| p.as_params()).collect();
    let signals: Vec<_> = rows.risk_signals.iter().map(|p| p.as_params()).collect();
    let policy = rows.policy.as_ref().map(|p| p.as_params());
    let outbox: Vec<_> = rows.outbox.iter().map(|p| p.as_params()).collect();
    let events: Vec<_> = rows.events.iter().map(|p| p.as_params()).collect();
    let audit_head: Option<[&(dyn ToSql + Sync); 1]> = rows
        .audit_head
        .as_ref()
        .map(|hash| -> [&(dyn ToSql + Sync); 1] { [hash] });

    type Params<'p> = &'p [&'p (dyn ToSql + Sync)];
    let sends: Vec<(&Statement, Params<'_>)> = (elevations.iter())
        .map(|p| (&statements.upsert_elevation, &p[..]))
        .chain(grants.iter().map(|p| (&statements.upsert_grant, &p[..])))
        .chain(
            signals
                .iter()
                .map(|p| (&statements.insert_risk_signal, &p[..])),
        )
        .chain(policy.iter().map(|p| (&statements.insert_policy, &p[..])))
        .chain(outbox.iter().map(|p| (&statements.insert_outbox, &p[..])))
        .chain(
            events
                .iter()
                .map(|p| (&statements.insert_audit_event, &p[..])),
        )
        .chain(
            audit_head
                .iter()
                .map(|p| (&statements.set_audit_head, &p[..])),
        )
        .collect();
    let writes = (sends.into_iter()).map(|(statement, params)| tx.execute(statement, params));
    futures_util::future::try_join_all(writes).await?;
    Ok(())
}

/// Locks and reads every grant delegated from `root`, at any depth, that is not revoked.
pub(super) async fn lock_descendants(
    tx: &Transaction<'_>,
    root: GrantId,
) -> Result<Vec<Grant>, StoreError> {
    tx.query(&cached!(tx, queries::DESCENDANTS_FOR_UPDATE), &[&root.0])
        .await?
        .iter()
        .map(rows::grant)
        .collect()
}

/// Locks and reads the elevations `ids`.
pub(super) async fn lock_elevations(
    tx: &Transaction<'_>,
    ids: &[Uuid],
) -> Result<Vec<Elevation>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tx.query(&cached!(tx, queries::ELEVATIONS_BY_IDS_FOR_UPDATE), &[&ids])
        .await?
        .iter()
        .map(rows::elevation)
        .collect()
}
