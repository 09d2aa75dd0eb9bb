//! `POST /access/v1/evaluations` over HTTP: defaults and their whole replacement, the three
//! semantics, per-item errors as denies with their error, the single-evaluation fallback, and
//! the batch limit. Fatma holds `admin_approver` on `Org:Procurement` in session `s1` (asked
//! and approved through the API), so `purchase_orders.approve` on `Org/Procurement` is allowed
//! in that session and nowhere else.

use serde_json::json;

use super::client::{Protocol, post, post_as};
use crate::harness::*;
use elevator::http::MAX_EVALUATIONS;

const EVALUATIONS: &str = "/access/v1/evaluations";

/// A server where fatma's grant is active.
async fn app_with_fatmas_grant() -> TestApp {
    let app = spawn_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    app
}

/// The defaults every batch here starts from: fatma, approving, in session s1.
fn batch(semantic: Option<&str>, evaluations: serde_json::Value) -> serde_json::Value {
    let mut body = json!({
        "subject": {"type": "user", "id": "fatma"},
        "action": {"name": "purchase_orders.approve"},
        "context": {"session_id": "s1"},
        "evaluations": evaluations,
    });
    if let Some(semantic) = semantic {
        body["options"] = json!({"evaluations_semantic": semantic});
    }
    body
}

fn resource(kind: &str, id: &str) -> serde_json::Value {
    json!({"resource": {"type": kind, "id": id}})
}

#[tokio::test]
async fn each_semantic_answers_in_order_and_stops_where_it_says() {
    let app = app_with_fatmas_grant().await;
    let items = json!([
        resource("Org", "Procurement"),
        resource("Org", "Finance"),
        resource("Org", "Procurement"),
    ]);
    let cases = [
        (
            None,
            json!([{"decision": true}, {"decision": false}, {"decision": true}]),
        ),
        (
            Some("execute_all"),
            json!([{"decision": true}, {"decision": false}, {"decision": true}]),
        ),
        (
            Some("deny_on_first_deny"),
            json!([{"decision": true}, {"decision": false}]),
        ),
        (Some("permit_on_first_permit"), json!([{"decision": true}])),
    ];
    for (semantic, expected) in cases {
        for protocol in [Protocol::Http1, Protocol::Http2] {
            let body = batch(semantic, items.clone());
            let reply = post_as(&app, protocol, EVALUATIONS, Some(&app.pep()), &body).await;
            assert_eq!(reply.status, 200);
            assert_eq!(
                reply.json(),
                json!({"evaluations": expected}),
                "{semantic:?}"
            );
        }
    }
    let denied_first = json!([resource("Org", "Finance"), resource("Org", "Procurement")]);
    let reply = post(
        &app,
        EVALUATIONS,
        &batch(Some("permit_on_first_permit"), denied_first),
    )
    .await;
    assert_eq!(
        reply.json(),
        json!({"evaluations": [{"decision": false}, {"decision": true}]})
    );
}

#[tokio::test]
async fn an_evaluation_replaces_a_default_whole_and_its_context_too() {
    let app = app_with_fatmas_grant().await;
    let items = json!([
        {},
        {"resource": {"type": "Org", "id": "Procurement"}, "context": {"session_id": "s2"}},
        {"subject": {"type": "user", "id": "ali"}},
        {"action": {"name": "purchase_orders.read"}},
    ]);
    let mut body = batch(None, items);
    body["resource"] = json!({"type": "Org", "id": "Procurement"});
    let reply = post(&app, EVALUATIONS, &body).await;
    // The second runs in another session, the third asks about ali, who holds nothing.
    assert_eq!(
        reply.json(),
        json!({"evaluations": [
            {"decision": true}, {"decision": false}, {"decision": false}, {"decision": true}
        ]})
    );
}

#[tokio::test]
async fn a_question_that_cannot_be_decided_is_a_deny_with_its_error_and_the_rest_are_answered() {
    let app = app_with_fatmas_grant().await;
    let items = json!([
        resource("Org", "Procurement"),
        {},
        {"resource": {"type": "Org", "id": 7}},
        {"resource": {"type": "9lives", "id": "x"}},
        resource("Org", "Procurement"),
    ]);
    let reply = post(&app, EVALUATIONS, &batch(Some("execute_all"), items)).await;
    assert_eq!(reply.status, 200);
    let answers = reply.json()["evaluations"].as_array().unwrap().clone();
    assert_eq!(answers.len(), 5);
    assert_eq!(answers[0], json!({"decision": true}));
    assert_eq!(answers[4], json!({"decision": true}));
    for (index, field) in [
        (1, "evaluations[1].resource"),
        (2, "evaluations[2].resource.id"),
        (3, "evaluations[3].resource.type"),
    ] {
        assert_eq!(answers[index]["decision"], false);
        let error = &answers[index]["context"]["error"];
        assert_eq!(error["status"], 400);
        assert!(
            error["message"].as_str().unwrap().starts_with(field),
            "{error}"
        );
    }
    // Under deny_on_first_deny a failure ends the batch like a deny.
    let items = json!([
        resource("Org", "Procurement"),
        {},
        resource("Org", "Procurement")
    ]);
    let reply = post(&app, EVALUATIONS, &batch(Some("deny_on_first_deny"), items)).await;
    assert_eq!(reply.json()["evaluations"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn without_evaluations_the_request_is_one_evaluation() {
    let app = app_with_fatmas_grant().await;
    for evaluations in [None, Some(json!([]))] {
        let mut body = json!({
            "subject": {"type": "user", "id": "fatma"},
            "action": {"name": "purchase_orders.approve"},
            "resource": {"type": "Org", "id": "Procurement"},
            "context": {"session_id": "s1"},
        });
        if let Some(evaluations) = evaluations {
            body["evaluations"] = evaluations;
        }
        let reply = post(&app, EVALUATIONS, &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({"decision": true}));
    }
}

#[tokio::test]
async fn what_is_wrong_with_the_batch_as_a_whole_is_a_400() {
    let app = spawn_app(Backend::Memory).await;
    let one = resource("Org", "Procurement");
    let too_many = serde_json::Value::Array(vec![one.clone(); MAX_EVALUATIONS + 1]);
    let mut wrong_default = batch(None, json!([one.clone()]));
    wrong_default["subject"] = json!({"type": "user"});
    let cases = [
        (batch(None, too_many), "evaluations"),
        (batch(None, json!({"not": "an array"})), "evaluations"),
        (
            batch(Some("first_wins"), json!([one.clone()])),
            "options.evaluations_semantic",
        ),
        (wrong_default, "subject.id"),
    ];
    for (body, field) in cases {
        let reply = post(&app, EVALUATIONS, &body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.json()["field"], field);
    }
    let full = serde_json::Value::Array(vec![one; MAX_EVALUATIONS]);
    let reply = post(&app, EVALUATIONS, &batch(None, full)).await;
    assert_eq!(
        reply.json()["evaluations"].as_array().unwrap().len(),
        MAX_EVALUATIONS
    );
}

#[tokio::test]
async fn reasons_are_given_per_item_when_asked_for() {
    let app = app_with_fatmas_grant().await;
    let mut body = batch(
        None,
        json!([resource("Org", "Procurement"), resource("Org", "Finance")]),
    );
    body["options"] = json!({"include_reasons": true});
    let answers = post(&app, EVALUATIONS, &body).await.json()["evaluations"].clone();
    assert_eq!(answers[0]["context"]["reason"], "allowed");
    assert_eq!(answers[0]["context"]["role"], "admin_approver");
    assert!(answers[0]["context"]["grant"].is_string());
    assert_eq!(answers[1]["context"]["reason"], "scope_mismatch");
}
