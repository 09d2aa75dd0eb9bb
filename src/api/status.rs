//! The one mapping from service errors to gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` with a stable reason code (domain `elevator`), and invalid arguments
//! also a `google.rpc.BadRequest` naming the field, so clients in any language can branch on
//! them.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use std::collections::HashMap;

use crate::auth::{AuthError, MAX_TOKEN_BYTES};
use crate::domain::echo::bounded;
use crate::service::ServiceError;

/// The `ErrorInfo` domain of every error.
pub(crate) const ERROR_DOMAIN: &str = "elevator";
/// Longest status message, in bytes. Messages quote caller input only through
/// [`crate::domain::shown`]; this is the last bound, so that no status ever outgrows the
/// 8–16 KiB of metadata stock gRPC clients accept.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest description of one `BadRequest` violation, in bytes.
const MAX_VIOLATION_BYTES: usize = 512;
/// Most `BadRequest` violations in one status (a policy can have many problems;
/// `ValidatePolicy` lists them all).
const MAX_VIOLATIONS: usize = 20;

/// What an `ErrorInfo` adds to its reason: the limit a refused value broke.
fn error_metadata(error: &ServiceError) -> HashMap<String, String> {
    match error {
        ServiceError::Unauthenticated(AuthError::TooLarge(size)) => HashMap::from([
            ("size_bytes".to_owned(), size.to_string()),
            ("limit_bytes".to_owned(), MAX_TOKEN_BYTES.to_string()),
        ]),
        _ => HashMap::new(),
    }
}

/// Every handler's error path: a service error becomes its status (see [`status`]).
impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        status(error)
    }
}

/// Maps a service error to its status.
pub(crate) fn status(error: ServiceError) -> Status {
    let reason = error.code();
    let metadata = error_metadata(&error);
    let mut message = error.to_string();
    let mut details = ErrorDetails::new();
    let code = match error {
        ServiceError::InvalidArgument {
            field,
            message: description,
        } => {
            details.add_bad_request_violation(
                bounded(&field, MAX_VIOLATION_BYTES),
                bounded(&description, MAX_VIOLATION_BYTES),
            );
            Code::InvalidArgument
        }
        ServiceError::InvalidPolicy(problems) => {
            for problem in problems.0.iter().take(MAX_VIOLATIONS) {
                let place = if problem.line > 0 {
                    format!(
                        "{} (line {}, column {})",
                        problem.path, problem.line, problem.column
                    )
                } else {
                    problem.path.clone()
                };
                details.add_bad_request_violation(
                    bounded(&place, MAX_VIOLATION_BYTES),
                    bounded(&problem.message, MAX_VIOLATION_BYTES),
                );
            }
            Code::InvalidArgument
        }
        ServiceError::Unauthenticated(_) => Code::Unauthenticated,
        ServiceError::PermissionDenied { .. } => Code::PermissionDenied,
        ServiceError::NotFound { .. } => Code::NotFound,
        ServiceError::FailedPrecondition { .. } => Code::FailedPrecondition,
        ServiceError::Aborted(_) => Code::Aborted,
        ServiceError::Unavailable(_) => Code::Unavailable,
        ServiceError::ResourceExhausted { .. } => Code::ResourceExhausted,
        ServiceError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            message = "internal error".into();
            Code::Internal
        }
    };
    details.set_error_info(reason, ERROR_DOMAIN, metadata);
    Status::with_error_details(code, bounded(&message, MAX_MESSAGE_BYTES), details)
}
