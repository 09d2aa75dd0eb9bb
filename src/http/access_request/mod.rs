//! The AuthZEN Access Request and Approval profile (Draft 1) on the HTTP port (issue 15).
//!
//! | path | file |
//! | --- | --- |
//! | `POST /access/v1/evaluation` with the profile: requestable denials, `context.approval` | `denial.rs` |
//! | `POST /access/v1/requests` (submission) | `submission.rs` |
//! | `GET /access/v1/requests/{task}`, `POST`/`DELETE /access/v1/requests/{task}/cancel` | `task.rs` |
//! | `GET /access/v1/requests/schemas/{entry}` (the request schema of an eligibility entry) | `denial.rs` |
//!
//! A PEP opts in per evaluation with `"context": {"access_request_profile": true}` (or by
//! presenting `context.approval`); one that does not gets exactly the decision it always got.
//! Errors the profile names are problem documents of its types
//! (`urn:openid:authzen:access-request:error:*`); the rest are the port's usual problems.

mod denial;
pub(super) use denial::OPT_IN_MEMBER;
mod signed;
mod submission;
mod task;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Map, Value as Json, json};

use super::problem::HttpError;
use super::router::{Connection, HttpEdge};
use super::{caller, discovery};
use crate::domain::echo::bounded;

/// Where access requests are submitted; tasks live below it.
pub(super) const REQUESTS_PATH: &str = crate::service::ACCESS_REQUEST_PATH;

/// Where request schemas live (below [`REQUESTS_PATH`]; task ids start with `arq_`).
const SCHEMAS_SEGMENT: &str = "schemas";

/// The capability this port lists in its metadata.
const CAPABILITY: &str = "urn:openid:authzen:capability:access-request";

/// Longest detail of a profile problem.
const MAX_DETAIL_BYTES: usize = 1024;

/// Whether `path` is one of the profile's.
pub(super) fn serves(path: &str) -> bool {
    path == REQUESTS_PATH
        || path
            .strip_prefix(REQUESTS_PATH)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Adds the profile's metadata: the endpoint and the capability.
pub(super) fn metadata(identifier: &str, document: &mut Map<String, Json>) {
    document
        .entry("jwks_uri")
        .or_insert_with(|| json!(format!("{identifier}/.well-known/jwks.json")));
    document.insert(
        "access_request_endpoint".into(),
        json!(format!("{identifier}{REQUESTS_PATH}")),
    );
    document.insert("capabilities".into(), json!([CAPABILITY]));
}

/// What a path below [`REQUESTS_PATH`] names.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    /// The endpoint itself.
    Submission,
    /// A task.
    Task(&'a str),
    /// A task's cancellation.
    Cancel(&'a str),
    /// An eligibility entry's request schema.
    Schema(&'a str),
}

impl<'a> Target<'a> {
    fn of(path: &'a str) -> Option<Target<'a>> {
        let rest = path.strip_prefix(REQUESTS_PATH)?;
        if rest.is_empty() {
            return Some(Target::Submission);
        }
        let segments: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
        match segments.as_slice() {
            [SCHEMAS_SEGMENT, entry] if !entry.is_empty() => Some(Target::Schema(entry)),
            [task] if !task.is_empty() => Some(Target::Task(task)),
            [task, "cancel"] if !task.is_empty() => Some(Target::Cancel(task)),
            _ => None,
        }
    }

    /// The methods it takes.
    fn allows(&self, method: &Method) -> bool {
        match self {
            Target::Submission => method == Method::POST,
            Target::Task(_) | Target::Schema(_) => method == Method::GET || method == Method::HEAD,
            Target::Cancel(_) => method == Method::POST || method == Method::DELETE,
        }
    }

    fn allow_header(&self) -> &'static str {
        match self {
            Target::Submission => "POST",
            Target::Task(_) | Target::Schema(_) => "GET, HEAD",
            Target::Cancel(_) => "POST, DELETE",
        }
    }
}

impl HttpEdge {
    /// Answers a request to one of the profile's paths.
    pub(super) async fn access_request(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<Response<Full<Bytes>>, HttpError> {
        let path = request.uri().path().to_owned();
        let Some(target) = Target::of(&path) else {
            return Err(HttpError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such path: access requests are submitted to /access/v1/requests",
            ));
        };
        if !target.allows(request.method()) {
            let mut refused = profile_problem(
                StatusCode::METHOD_NOT_ALLOWED,
                "about:blank",
                "this path does not take this method",
            );
            refused.headers_mut().insert(
                header::ALLOW,
                HeaderValue::from_static(target.allow_header()),
            );
            return Ok(refused);
        }
        let base = discovery::identifier(self, &request, connection)?;
        let caller = caller::authenticated(
            &self.auth,
            request.headers(),
            connection.certificate.as_ref(),
        )
        .await?;
        let answered = match target {
            Target::Submission => self.submit(&caller, request, &base).await,
            Target::Task(task) => self.task_status(&caller, task, &base).await,
            Target::Cancel(task) => self.cancel(&caller, request, task, &base).await,
            Target::Schema(entry) => self.request_schema(entry),
        };
        match answered {
            Err(error) => match problem_type(error.code) {
                Some((status, urn)) => Ok(profile_problem(status, urn, &error.detail)),
                None => Err(error),
            },
            answer => answer,
        }
    }
}

/// The profile's problem type and status for a service refusal's code.
fn problem_type(code: &str) -> Option<(StatusCode, &'static str)> {
    Some(match code {
        "NOT_REQUESTABLE" => (
            StatusCode::BAD_REQUEST,
            "urn:openid:authzen:access-request:error:not_requestable",
        ),
        "EXPIRED_DENIAL" => (
            StatusCode::GONE,
            "urn:openid:authzen:access-request:error:expired_denial",
        ),
        "INVALID_DENIAL_BINDING" => (
            StatusCode::BAD_REQUEST,
            "urn:openid:authzen:access-request:error:invalid_denial_binding",
        ),
        "DUPLICATE_REQUEST" => (
            StatusCode::CONFLICT,
            "urn:openid:authzen:access-request:error:duplicate_request",
        ),
        "UNKNOWN_TASK" => (
            StatusCode::NOT_FOUND,
            "urn:openid:authzen:access-request:error:unknown_task",
        ),
        "TASK_EXPIRED" => (
            StatusCode::GONE,
            "urn:openid:authzen:access-request:error:task_expired",
        ),
        "INVALID_TASK_STATE" => (
            StatusCode::CONFLICT,
            "urn:openid:authzen:access-request:error:invalid_task_state",
        ),
        _ => return None,
    })
}

/// A problem document (RFC 9457) of type `urn`.
fn profile_problem(status: StatusCode, urn: &str, detail: &str) -> Response<Full<Bytes>> {
    let document = json!({
        "type": urn,
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": bounded(detail, MAX_DETAIL_BYTES),
    });
    let mut answer = Response::new(Full::new(Bytes::from(document.to_string())));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_submission_tasks_their_cancellation_and_schemas() {
        assert_eq!(Target::of("/access/v1/requests"), Some(Target::Submission));
        assert_eq!(
            Target::of("/access/v1/requests/arq_1"),
            Some(Target::Task("arq_1"))
        );
        assert_eq!(
            Target::of("/access/v1/requests/arq_1/cancel"),
            Some(Target::Cancel("arq_1"))
        );
        assert_eq!(
            Target::of("/access/v1/requests/schemas/0"),
            Some(Target::Schema("0"))
        );
        assert_eq!(Target::of("/access/v1/requests/"), None);
        assert_eq!(Target::of("/access/v1/requests/a/b/c"), None);
        assert!(!serves("/access/v1/requestsx"));
        assert!(serves("/access/v1/requests/arq_1"));
    }

    #[test]
    fn each_profile_refusal_has_its_problem_type() {
        let (status, urn) = problem_type("EXPIRED_DENIAL").unwrap();
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(
            urn,
            "urn:openid:authzen:access-request:error:expired_denial"
        );
        assert_eq!(
            problem_type("INVALID_TASK_STATE").unwrap().1,
            "urn:openid:authzen:access-request:error:invalid_task_state"
        );
        assert!(problem_type("INVALID_ARGUMENT").is_none());
    }
}
