//! The one mapping from service errors to HTTP answers: a status and a problem document
//! (RFC 9457, `application/problem+json`) with the same stable reason code a gRPC status
//! carries in its `ErrorInfo`, and the field to fix when one is at fault:
//!
//! ```json
//! {"type": "about:blank", "title": "Bad Request", "status": 400,
//!  "code": "INVALID_ARGUMENT", "field": "subject.type", "detail": "subject.type: is required"}
//! ```
//!
//! A deny is never an error (it is `200 {"decision": false}`); these are answers about the
//! request itself.

use http::StatusCode;
use serde_json::json;

use crate::auth::AuthError;
use crate::domain::echo::bounded;
use crate::service::ServiceError;

/// Longest `detail`, in bytes: messages quote caller input only through
/// [`crate::domain::shown`], and this bounds them again.
const MAX_DETAIL_BYTES: usize = 1024;

/// An HTTP error answer: what went wrong with the request as a whole.
#[derive(Debug, Clone)]
pub(super) struct HttpError {
    /// The HTTP status.
    pub(super) status: StatusCode,
    /// The stable reason code (`INVALID_ARGUMENT`, `UNAUTHENTICATED`, `ROLE_REQUIRED`, ...).
    pub(super) code: &'static str,
    /// The field at fault, for invalid arguments.
    pub(super) field: Option<String>,
    /// What is wrong and how to fix it.
    pub(super) detail: String,
}

impl HttpError {
    /// A `400 Bad Request` naming `field`.
    pub(super) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::invalid(field, message).into()
    }

    /// An answer with `status` and `code`, about no field.
    pub(super) fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        HttpError {
            status,
            code,
            field: None,
            detail: detail.into(),
        }
    }

    /// The problem document.
    pub(super) fn document(&self) -> serde_json::Value {
        let mut document = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": bounded(&self.detail, MAX_DETAIL_BYTES),
        });
        if let Some(field) = &self.field {
            document["field"] = json!(bounded(field, MAX_DETAIL_BYTES));
        }
        document
    }

    /// The per-item error of a batch: `{"status": 400, "message": "..."}`, as the
    /// specification's example of an error in one evaluation has it.
    pub(super) fn item_error(&self) -> serde_json::Value {
        json!({
            "status": self.status.as_u16(),
            "code": self.code,
            "message": bounded(&self.detail, MAX_DETAIL_BYTES),
        })
    }
}

/// Every handler's error path: a service error becomes its HTTP status and problem.
impl From<ServiceError> for HttpError {
    fn from(error: ServiceError) -> Self {
        let code = error.code();
        let mut field = None;
        let mut detail = error.to_string();
        let status = match error {
            ServiceError::InvalidArgument { field: named, .. } => {
                field = Some(named);
                StatusCode::BAD_REQUEST
            }
            ServiceError::InvalidPolicy(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthenticated(AuthError::TooLarge(_))
            | ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ServiceError::PermissionDenied { .. } => StatusCode::FORBIDDEN,
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::FailedPrecondition { .. } | ServiceError::Aborted(_) => {
                StatusCode::CONFLICT
            }
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::ResourceExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Internal(message) => {
                tracing::error!(error = %message, "internal error");
                detail = "internal error".into();
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        HttpError {
            status,
            code,
            field,
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_service_error_has_its_status() {
        let cases = [
            (ServiceError::invalid("subject.id", "is required"), 400),
            (ServiceError::Unauthenticated(AuthError::Missing), 401),
            (ServiceError::denied("ROLE_REQUIRED", "needs the role"), 403),
            (ServiceError::Unavailable("down".into()), 503),
            (ServiceError::Internal("secret detail".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(HttpError::from(error).status.as_u16(), status);
        }
    }

    #[test]
    fn an_invalid_argument_names_its_field_and_internal_details_stay_inside() {
        let invalid = HttpError::from(ServiceError::invalid("subject.type", "is required"));
        let document = invalid.document();
        assert_eq!(document["field"], "subject.type");
        assert_eq!(document["code"], "INVALID_ARGUMENT");
        assert_eq!(document["status"], 400);
        assert_eq!(document["detail"], "subject.type: is required");
        let internal = HttpError::from(ServiceError::Internal("db password wrong".into()));
        assert_eq!(internal.document()["detail"], "internal error");
    }
}
