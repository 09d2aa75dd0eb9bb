//! The one mapping from service errors to gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` with a stable reason code (domain `elevator`), and invalid arguments
//! also a `google.rpc.BadRequest` naming the field, so clients in any language can branch on
//! them.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::service::ServiceError;

/// The `ErrorInfo` domain of every error.
pub const ERROR_DOMAIN: &str = "elevator";

fn with_info(code: Code, reason: &str, message: String, mut details: ErrorDetails) -> Status {
    details.set_error_info(reason, ERROR_DOMAIN, std::collections::HashMap::new());
    Status::with_error_details(code, message, details)
}

/// Maps a service error to its status.
pub fn status(error: ServiceError) -> Status {
    let message = error.to_string();
    match error {
        ServiceError::InvalidArgument {
            field,
            message: description,
        } => {
            let details = ErrorDetails::with_bad_request_violation(field, description);
            with_info(Code::InvalidArgument, "INVALID_ARGUMENT", message, details)
        }
        ServiceError::InvalidPolicy(problems) => {
            let mut details = ErrorDetails::new();
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
            with_info(Code::InvalidArgument, "INVALID_POLICY", message, details)
        }
        ServiceError::Unauthenticated(_) => with_info(
            Code::Unauthenticated,
            "UNAUTHENTICATED",
            message,
            ErrorDetails::new(),
        ),
        ServiceError::PermissionDenied { code, .. } => {
            with_info(Code::PermissionDenied, code, message, ErrorDetails::new())
        }
        ServiceError::NotFound { .. } => {
            with_info(Code::NotFound, "NOT_FOUND", message, ErrorDetails::new())
        }
        ServiceError::FailedPrecondition { code, .. } => {
            with_info(Code::FailedPrecondition, code, message, ErrorDetails::new())
        }
        ServiceError::Aborted(_) => {
            with_info(Code::Aborted, "CONTENTION", message, ErrorDetails::new())
        }
        ServiceError::Unavailable(_) => with_info(
            Code::Unavailable,
            "UNAVAILABLE",
            message,
            ErrorDetails::new(),
        ),
        ServiceError::Internal(detail) => {
            tracing::error!(error = %detail, "internal error");
            with_info(
                Code::Internal,
                "INTERNAL",
                "internal error".into(),
                ErrorDetails::new(),
            )
        }
    }
}
