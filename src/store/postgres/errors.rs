//! PostgreSQL and pool errors mapped to store errors, in one place (as `From`, so the store's
//! code uses `?`). SQLSTATE codes:
//! <https://www.postgresql.org/docs/15/errcodes-appendix.html>.

use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// Whether a write should be retried from the start: the database chose it as the victim of a
/// serialization failure or a deadlock.
pub(super) fn is_retryable(error: &StoreError) -> bool {
    matches!(error, StoreError::Contention(_))
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        from_pg(error)
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => from_pg(error),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// Maps a driver error.
fn from_pg(error: tokio_postgres::Error) -> StoreError {
    let Some(code) = error.code() else {
        // No SQLSTATE: the connection broke, timed out, or never opened.
        return StoreError::Unavailable(error.to_string());
    };
    let message = error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned());
    match code {
        c if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED => {
            StoreError::Contention(message)
        }
        c if *c == SqlState::UNIQUE_VIOLATION => StoreError::Conflict(format!(
            "a concurrent write created the same object: {message}"
        )),
        c if *c == SqlState::ADMIN_SHUTDOWN
            || *c == SqlState::CRASH_SHUTDOWN
            || *c == SqlState::CANNOT_CONNECT_NOW
            || *c == SqlState::CONNECTION_FAILURE
            || *c == SqlState::CONNECTION_EXCEPTION
            || *c == SqlState::TOO_MANY_CONNECTIONS
            || *c == SqlState::QUERY_CANCELED =>
        {
            StoreError::Unavailable(message)
        }
        // Class 23 (integrity constraint) and class 22 (data exception): a value bad input can
        // reach. Named by its constraint or SQLSTATE, since the database's own text may quote
        // the value.
        other if other.code().starts_with("23") => {
            let constraint = error
                .as_db_error()
                .and_then(|db| db.constraint())
                .unwrap_or("an integrity constraint");
            tracing::warn!(sqlstate = other.code(), constraint, %message, "constraint violated");
            StoreError::OutOfBounds(format!("{constraint}, SQLSTATE {}", other.code()))
        }
        other if other.code().starts_with("22") => {
            tracing::warn!(sqlstate = other.code(), %message, "data exception");
            StoreError::OutOfBounds(format!("SQLSTATE {}", other.code()))
        }
        other => StoreError::Internal(format!("SQLSTATE {}: {message}", other.code())),
    }
}
