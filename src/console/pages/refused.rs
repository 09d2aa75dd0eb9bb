//! The refusal page: a refused action or a use case's error, shown with its stable code and
//! the HTTP status that matches it.

use http::StatusCode;

use crate::console::html::{self, Page, document};
use crate::console::{Caller, Console};
use crate::service::ServiceError;

/// The HTTP status a refused use case answers with.
pub(crate) fn http_status(error: &ServiceError) -> StatusCode {
    match error {
        ServiceError::InvalidArgument { .. } | ServiceError::InvalidPolicy(_) => {
            StatusCode::BAD_REQUEST
        }
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
        ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
        ServiceError::FailedPrecondition { .. } | ServiceError::Aborted(_) => StatusCode::CONFLICT,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::ResourceExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl Console {
    /// A refusal page: what was refused and why, with the stable code.
    pub(crate) fn refusal(
        &self,
        caller: &Caller,
        status: StatusCode,
        code: &str,
        message: &str,
    ) -> Page {
        html::html(
            status,
            document(
                "Refused",
                "",
                Some(&caller.viewer()),
                &html::refusal::body(code, message),
            ),
        )
    }

    /// The refusal page for a use case's error (an internal one's details stay in the log).
    pub(crate) fn refused(&self, caller: &Caller, error: ServiceError) -> Page {
        let status = http_status(&error);
        let message = match &error {
            ServiceError::Internal(detail) => {
                tracing::error!(error = %detail, "console: internal error");
                "internal error; details are in the server log".to_owned()
            }
            other => other.to_string(),
        };
        self.refusal(caller, status, error.code(), &message)
    }
}
