//! The one mapping from service errors to gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` with a stable reason code (domain `elevator`), and invalid arguments
//! also a `google.rpc.BadRequest` naming the field, so clients in any language can branch on
//! them.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::service::ServiceError;

/// The `ErrorInfo` domain of every error.
pub const ERROR_DOMAIN: &str = "elevator";

/// Maps a service error to its status.
pub fn status(error: ServiceError) -> Status {
    let reason = error.code();
    let mut message = error.to_string();
    let mut details = ErrorDetails::new();
    let code = match error {
        ServiceError::InvalidArgument {
            field,
            message: description,
        } => {
            details.add_bad_request_violation(field, description);
            Code::InvalidArgument
        }
        ServiceError::InvalidPolicy(problems) => {
            for problem in &problems.0 {
                let place = if problem.line > 0 {
                    format!(
                        "{} (line {}, column {})",
                        problem.path, problem.line, problem.column
                    )
                } else {
                    problem.path.clone()
                };
                details.add_bad_request_violation(place, problem.message.clone());
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
    details.set_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}
