//! What can go wrong in a store, as one error type both stores return.

use crate::domain::TransitionError;

/// What can go wrong in a store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The decision function refused the change.
    #[error(transparent)]
    Rejected(#[from] TransitionError),
    /// A concurrent write got there first and the retry budget ran out, or a precondition
    /// (such as an expected policy version) does not hold.
    #[error("{0}")]
    Conflict(String),
    /// Concurrent transactions collided and the retries ran out; the caller may try again.
    #[error("concurrent writes collided: {0}")]
    Contention(String),
    /// The database refused a value as out of bounds (a check or not-null constraint, a
    /// number or timestamp out of range): bad input the edge let through. The text names the
    /// constraint or the kind of value, never the value.
    #[error("the store refused a value: {0}")]
    OutOfBounds(String),
    /// The database cannot be reached or refused the connection.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A stored row could not be read back.
    #[error("a stored row is unreadable: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("store error: {0}")]
    Internal(String),
}
