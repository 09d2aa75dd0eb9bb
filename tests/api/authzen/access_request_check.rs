//! gRPC Check in the AuthZEN Access Request profile's "form of its own" (issue 15): a Check in
//! AuthZEN's form that opts in (`access_request_profile`) and is denied where policy lets the
//! subject ask for a role gets an `access_request` hint, made by the same use case as the HTTP
//! edge's requestable denials, whose binding works at `POST /access/v1/requests`. A Check that
//! does not opt in gets the response it always got.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::access_request::{JERRY, POLICY, submit};
use crate::harness::*;
use elevator::proto::v1 as pb;

const SESSION: &str = "jerry-laptop";

async fn jit_app() -> TestApp {
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(POLICY.into()),
            ..Default::default()
        },
    )
    .await
}

/// Jerry's Check on creating todo `todo`, in AuthZEN's form.
fn jerry_checks(todo: &str, opted_in: bool) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: JERRY.into(),
        session_id: SESSION.into(),
        permission: "can_create_todo".into(),
        resource: todo.into(),
        resource_type: "todo".into(),
        access_request_profile: opted_in,
        ..Default::default()
    }
}

async fn check(
    app: &TestApp,
    request: pb::CheckRequest,
) -> Result<pb::CheckResponse, tonic::Status> {
    app.checks()
        .check(authed(&app.pep(), request))
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opted_in_check_denial_carries_a_hint_whose_binding_works_at_the_request_endpoint() {
    let app = jit_app().await;
    let denied = check(&app, jerry_checks("todo-1", true))
        .await
        .expect("a decision");
    assert!(!denied.allowed);
    let hint = denied.access_request.expect("a requestable denial hint");
    assert!(hint.evaluation_id.starts_with("eval_"));
    assert_eq!(hint.template, "eligibility/0/editor");
    assert_eq!(hint.role, "editor");
    assert!(!hint.scope.is_empty());
    assert!(hint.endpoint.ends_with("/access/v1/requests"));
    assert!(
        hint.request_schema_url
            .contains("/access/v1/requests/schemas/")
    );
    assert_eq!(hint.binding_token.split('.').count(), 3, "a compact JWS");
    let expires_at = hint.expires_at.expect("an expiry");
    let expires_at = DateTime::<Utc>::from_timestamp(expires_at.seconds, 0).expect("a time");

    // The same question in AuthZEN's JSON, bound by the hint, becomes a pending request.
    let submission = json!({
        "subject": {"type": "user", "id": JERRY},
        "action": {"name": "can_create_todo"},
        "resource": {"type": "todo", "id": "todo-1"},
        "context": {"session_id": SESSION, "business_justification": "release notes"},
        "denial": {
            "evaluation_id": hint.evaluation_id,
            "binding_token": hint.binding_token,
            "expires_at": expires_at.to_rfc3339(),
        }
    });
    let submitted = submit(&app, &app.pep(), "grpc-1", &submission).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    assert_eq!(submitted.json()["task"]["status"], "pending");

    // Bound to todo-1, it binds no request for another todo.
    let mut other = submission.clone();
    other["resource"]["id"] = json!("todo-2");
    let refused = submit(&app, &app.pep(), "grpc-2", &other).await;
    assert_eq!(refused.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_does_not_opt_in_gets_no_hint_and_a_scope_check_cannot_opt_in() {
    let app = jit_app().await;
    let plain = check(&app, jerry_checks("todo-1", false))
        .await
        .expect("a decision");
    assert!(!plain.allowed);
    assert!(plain.access_request.is_none());

    let in_batch = app
        .checks()
        .batch_check(authed(
            &app.pep(),
            pb::BatchCheckRequest {
                checks: vec![jerry_checks("todo-1", false), jerry_checks("todo-2", true)],
            },
        ))
        .await
        .expect("decisions")
        .into_inner();
    assert!(in_batch.results[0].access_request.is_none());
    assert!(in_batch.results[1].access_request.is_some());

    let scope_form = pb::CheckRequest {
        subject: JERRY.into(),
        permission: "can_create_todo".into(),
        resource: "todo:todo-1".into(),
        access_request_profile: true,
        ..Default::default()
    };
    let refused = check(&app, scope_form).await.expect_err("refused");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("access_request_profile"));
}
