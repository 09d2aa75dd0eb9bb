//! Requestable denials in a batch (`POST /access/v1/evaluations`, issue 15): an evaluation that
//! opts in (in its own context, or through the batch's top-level context) gets the profile's
//! requestable denial, each with its own `evaluation_id` a request can be bound to; the others
//! keep exactly the plain answer.

use serde_json::json;

use super::access_request::{JERRY, POLICY, jerry_asks, submission, submit};
use super::client::post;
use crate::harness::*;

const EVALUATIONS: &str = "/access/v1/evaluations";
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_evaluations_that_opt_in_get_requestable_denials_and_the_others_stay_plain() {
    let app = jit_app().await;
    let batch = json!({
        "subject": {"type": "user", "id": JERRY},
        "action": {"name": "can_create_todo"},
        "context": {"session_id": SESSION},
        "evaluations": [
            {"resource": {"type": "todo", "id": "todo-1"},
             "context": {"access_request_profile": true, "session_id": SESSION}},
            {"resource": {"type": "todo", "id": "todo-2"}}
        ]
    });
    let answers = post(&app, EVALUATIONS, &batch).await.json();
    let answers = answers["evaluations"].as_array().expect("answers").clone();
    assert_eq!(answers.len(), 2);
    assert_eq!(
        answers[1],
        json!({"decision": false}),
        "not opted in: plain"
    );
    let denial = &answers[0];
    assert_eq!(denial["decision"], false);
    assert_eq!(denial["context"]["reason"], "approval_required");
    assert_eq!(
        denial["context"]["access_request"]["template"],
        "eligibility/0/editor"
    );

    // The batch item's denial binds a request exactly as a single evaluation's does.
    let body = submission(&jerry_asks("todo-1"), denial, Some("release notes"));
    let submitted = submit(&app, &app.pep(), "batch-1", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    // ... and only for its own question.
    let other = submission(&jerry_asks("todo-2"), denial, Some("release notes"));
    let refused = submit(&app, &app.pep(), "batch-2", &other).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json()["type"],
        "urn:openid:authzen:access-request:error:invalid_denial_binding"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_opting_in_at_its_top_level_gets_one_requestable_denial_per_evaluation() {
    let app = jit_app().await;
    let batch = json!({
        "subject": {"type": "user", "id": JERRY},
        "action": {"name": "can_create_todo"},
        "context": {"access_request_profile": true, "session_id": SESSION},
        "options": {"evaluations_semantic": "execute_all"},
        "evaluations": [
            {"resource": {"type": "todo", "id": "todo-3"}},
            {"resource": {"type": "todo", "id": "todo-4"}, "context": {"session_id": SESSION}}
        ]
    });
    let answers = post(&app, EVALUATIONS, &batch).await.json();
    let answers = answers["evaluations"].as_array().expect("answers").clone();
    assert_eq!(answers.len(), 2);
    let ids: Vec<&str> = answers
        .iter()
        .map(|answer| {
            assert_eq!(answer["context"]["reason"], "approval_required");
            answer["context"]["evaluation_id"].as_str().expect("an id")
        })
        .collect();
    assert_ne!(ids[0], ids[1], "each evaluation has its own id");
    let body = submission(&jerry_asks("todo-4"), &answers[1], Some("release notes"));
    assert_eq!(submit(&app, &app.pep(), "batch-4", &body).await.status, 202);
}
