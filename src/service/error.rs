//! The service layer's one error type. [`crate::api::status`] maps it to gRPC statuses;
//! every variant carries a stable machine-readable code.

use crate::auth::AuthError;
use crate::domain::{AcceptRefusal, TransitionError, Verdict};
use crate::policy::PolicyProblems;
use crate::store::StoreError;

/// Why a use case did not happen. Nothing was changed in any case.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// A request field is malformed or out of bounds.
    #[error("{field}: {message}")]
    InvalidArgument {
        /// The field, as named in the API.
        field: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A policy document has problems.
    #[error(transparent)]
    InvalidPolicy(#[from] PolicyProblems),
    /// No valid credentials.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The caller may not do this.
    #[error("{message}")]
    PermissionDenied {
        /// Stable code, e.g. `SELF_APPROVAL`.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// The object does not exist (or the caller may not know it does).
    #[error("{what} {id} does not exist")]
    NotFound {
        /// Kind of object.
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The object is not in a state that allows this, or a precondition does not hold.
    #[error("{message}")]
    FailedPrecondition {
        /// Stable code, e.g. `WRONG_STATE`.
        code: &'static str,
        /// For people.
        message: String,
    },
    /// Concurrent writes collided; retrying may succeed.
    #[error("{0}")]
    Aborted(String),
    /// The store is unreachable.
    #[error("{0}")]
    Unavailable(String),
    /// The replica is at its limit of calls in flight, or the caller at its write rate.
    #[error("{message}")]
    ResourceExhausted {
        /// Stable code, e.g. `WRITE_RATE`.
        code: &'static str,
        /// For people: what limit, and when to retry.
        message: String,
    },
    /// A bug or corrupt data.
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// The stable code clients branch on (the `ErrorInfo` reason of its status).
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::InvalidArgument { .. } => "INVALID_ARGUMENT",
            ServiceError::InvalidPolicy(_) => "INVALID_POLICY",
            ServiceError::Unauthenticated(AuthError::TooLarge(_)) => "TOKEN_TOO_LARGE",
            ServiceError::Unauthenticated(_) => "UNAUTHENTICATED",
            ServiceError::PermissionDenied { code, .. }
            | ServiceError::FailedPrecondition { code, .. }
            | ServiceError::ResourceExhausted { code, .. } => code,
            ServiceError::NotFound { .. } => "NOT_FOUND",
            ServiceError::Aborted(_) => "CONTENTION",
            ServiceError::Unavailable(_) => "UNAVAILABLE",
            ServiceError::Internal(_) => "INTERNAL",
        }
    }

    /// An invalid-argument error for `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::InvalidArgument {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A permission-denied error.
    pub fn denied(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::PermissionDenied {
            code,
            message: message.into(),
        }
    }

    /// A failed-precondition error.
    pub fn precondition(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::FailedPrecondition {
            code,
            message: message.into(),
        }
    }
}

impl From<TransitionError> for ServiceError {
    fn from(error: TransitionError) -> Self {
        let message = error.to_string();
        match error {
            TransitionError::WrongState { .. } => {
                ServiceError::precondition("WRONG_STATE", message)
            }
            TransitionError::AlreadyVoted { .. } => {
                ServiceError::precondition("ALREADY_VOTED", message)
            }
            TransitionError::AlreadyCounted { verdict, .. } => ServiceError::precondition(
                if verdict == Verdict::Approve.as_str() {
                    "ALREADY_APPROVED"
                } else {
                    "ALREADY_DENIED"
                },
                message,
            ),
            TransitionError::SelfApproval => ServiceError::denied("SELF_APPROVAL", message),
            TransitionError::NotIndependent { .. } => {
                ServiceError::denied("NOT_INDEPENDENT", message)
            }
            TransitionError::NotAnApprover { .. } => {
                ServiceError::denied("NOT_AN_APPROVER", message)
            }
            TransitionError::NotAllowed(_) => ServiceError::denied("NOT_ALLOWED", message),
            TransitionError::SelfReview => ServiceError::denied("SELF_REVIEW", message),
            TransitionError::NotAccepted(refusal) => match refusal {
                AcceptRefusal::NotDelegatee(_) => ServiceError::denied(refusal.code(), message),
                _ => ServiceError::precondition(refusal.code(), message),
            },
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { what, id } => ServiceError::NotFound { what, id },
            StoreError::Rejected(rejection) => rejection.into(),
            StoreError::Conflict(message) => ServiceError::precondition("CONFLICT", message),
            StoreError::Contention(message) => ServiceError::Aborted(message),
            // A backstop: validation at the edge should have refused the value already.
            StoreError::OutOfBounds(what) => ServiceError::precondition(
                "CONSTRAINT_VIOLATED",
                format!("a value in this request is out of bounds ({what}); nothing was changed"),
            ),
            StoreError::Unavailable(message) => ServiceError::Unavailable(message),
            StoreError::Corrupt(message) | StoreError::Internal(message) => {
                ServiceError::Internal(message)
            }
        }
    }
}
