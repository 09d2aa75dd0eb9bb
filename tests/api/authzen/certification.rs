//! The AuthZEN certification scenario (`spec/certification-scenario.md`) against
//! `examples/authzen/certification.yaml` in dev mode, over HTTP: the eight fixture decisions
//! (Basic Core and Properties), the structural cases, errors and headers, the batch cases with
//! their defaults, per-item errors and semantics, the search fixture (S1–S6, empty results,
//! errors) and discovery.

use serde_json::{Value as Json, json};

use super::client::{Protocol, post, request, send};
use crate::harness::*;

const POLICY: &str = include_str!("../../../examples/authzen/certification.yaml");
const EVALUATION: &str = "/access/v1/evaluation";
const EVALUATIONS: &str = "/access/v1/evaluations";

async fn fixture() -> TestApp {
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(POLICY.into()),
            configure: Some(Box::new(|config| {
                config.authzen.policy_decision_point = Some("https://pdp.example.com".into());
            })),
            ..Default::default()
        },
    )
    .await
}

async fn decision(app: &TestApp, body: &Json) -> Json {
    let reply = post(app, EVALUATION, body).await;
    assert_eq!(reply.status, 200, "{body}");
    assert_eq!(reply.header("content-type"), "application/json");
    reply.json()
}

fn user(id: &str) -> Json {
    json!({"type": "user", "id": id})
}

fn record(id: &str) -> Json {
    json!({"type": "record", "id": id})
}

fn act(name: &str) -> Json {
    json!({"name": name})
}

#[tokio::test]
async fn the_eight_fixture_decisions_hold_with_and_without_context() {
    let app = fixture().await;
    let archived =
        json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let admin_bob = json!({"type": "user", "id": "bob", "properties": {"role": "admin"}});
    let cases = [
        (
            json!({"subject": user("alice"), "action": act("read"), "resource": record("record-1")}),
            true,
        ),
        (
            json!({"subject": user("alice"), "action": act("write"), "resource": record("record-1")}),
            true,
        ),
        (
            json!({"subject": user("bob"), "action": act("read"), "resource": record("record-1")}),
            true,
        ),
        (
            json!({"subject": user("bob"), "action": act("write"), "resource": record("record-1")}),
            false,
        ),
        (
            json!({"subject": user("alice"), "action": act("write"), "resource": archived}),
            false,
        ),
        (
            json!({"subject": admin_bob, "action": act("write"), "resource": archived}),
            true,
        ),
        (
            json!({"subject": user("alice"), "action": {"name": "delete", "properties": {"soft": true}}, "resource": record("record-1")}),
            true,
        ),
        (
            json!({"subject": user("alice"), "action": {"name": "delete", "properties": {"soft": false}}, "resource": record("record-1")}),
            false,
        ),
    ];
    for (number, (body, expected)) in cases.iter().enumerate() {
        assert_eq!(
            decision(&app, body).await,
            json!({"decision": expected}),
            "rule {}",
            number + 1
        );
        let mut with_context = body.clone();
        with_context["context"] = json!({"time": "2025-06-27T18:03-07:00", "ip": "192.168.1.1"});
        assert_eq!(decision(&app, &with_context).await["decision"], *expected);
        // Idempotency: the same question, the same answer.
        assert_eq!(decision(&app, body).await["decision"], *expected);
    }
}

#[tokio::test]
async fn additional_properties_and_unknown_fields_change_nothing() {
    let app = fixture().await;
    let body = json!({
        "subject": {"type": "user", "id": "alice", "properties": {"department": "Sales", "role": "manager"}},
        "action": {"name": "read", "properties": {"method": "GET"}},
        "resource": {"type": "record", "id": "record-1", "properties": {"status": "active", "owner": "bob"}},
        "foo": "bar",
        "futureField": {"nested": true},
    });
    assert_eq!(decision(&app, &body).await, json!({"decision": true}));
}

#[tokio::test]
async fn errors_and_headers_follow_the_scenario() {
    let app = fixture().await;
    let bodies = [
        json!({"action": act("read"), "resource": record("record-1")}),
        json!({"subject": {"id": "alice"}, "action": act("read"), "resource": record("record-1")}),
        json!({"subject": "alice", "action": act("read"), "resource": record("record-1")}),
        json!({"subject": user("alice"), "action": {"name": 123}, "resource": record("record-1")}),
    ];
    for body in bodies {
        assert_eq!(post(&app, EVALUATION, &body).await.status, 400, "{body}");
    }
    let good =
        json!({"subject": user("alice"), "action": act("read"), "resource": record("record-1")});
    let asked = request(
        "POST",
        EVALUATION,
        Some(&app.pep()),
        &[
            ("content-type", "application/json"),
            ("x-request-id", "cert-42"),
        ],
        good.to_string(),
    );
    let reply = send(app.http_address, Protocol::Http2, asked).await;
    assert_eq!(reply.header("x-request-id"), "cert-42");
    assert_eq!(reply.json(), json!({"decision": true}));
}

#[tokio::test]
async fn the_batch_cases_answer_in_order_with_defaults_replaced_whole() {
    let app = fixture().await;
    let archived =
        json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let cases = [
        // 3-2-2: fixture decisions, action per item.
        (
            json!({"subject": user("bob"), "resource": record("record-1"),
                   "evaluations": [{"action": act("read")}, {"action": act("write")}]}),
            json!([{"decision": true}, {"decision": false}]),
        ),
        // 3-2-3: properties per item.
        (
            json!({"subject": user("alice"), "action": act("write"), "evaluations": [
                {"resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}}},
                {"resource": archived}]}),
            json!([{"decision": true}, {"decision": false}]),
        ),
        // 3-2-4: subject properties per item.
        (
            json!({"action": act("write"), "resource": archived, "evaluations": [
                {"subject": user("alice")},
                {"subject": {"type": "user", "id": "bob", "properties": {"role": "admin"}}}]}),
            json!([{"decision": false}, {"decision": true}]),
        ),
        // 3-2-5: no defaults.
        (
            json!({"evaluations": [
                {"subject": user("alice"), "action": act("read"), "resource": record("record-1")},
                {"subject": user("bob"), "action": act("write"), "resource": record("record-1")}]}),
            json!([{"decision": true}, {"decision": false}]),
        ),
        // 3-2-7: an empty item inherits everything; a resource replaces the default whole.
        (
            json!({"subject": user("alice"), "action": act("write"),
                   "resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}},
                   "evaluations": [{}, {"resource": archived}]}),
            json!([{"decision": true}, {"decision": false}]),
        ),
    ];
    for (body, expected) in cases {
        let reply = post(&app, EVALUATIONS, &body).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({"evaluations": expected}), "{body}");
    }
    // 3-2-1 and 3-2-6: structure only (record-2 is not in the fixture's rules).
    for body in [
        json!({"subject": user("alice"), "action": act("read"),
               "evaluations": [{"resource": record("record-1")}, {"resource": record("record-2")}]}),
        json!({"subject": user("alice"), "action": act("read"), "context": {"time": "2025-06-27T18:03-07:00"},
               "evaluations": [{"resource": record("record-1")},
                               {"resource": record("record-2"), "context": {"time": "2025-06-27T19:00-07:00", "source": "batch-override"}}]}),
    ] {
        let answers = post(&app, EVALUATIONS, &body).await.json()["evaluations"].clone();
        assert_eq!(answers.as_array().unwrap().len(), 2);
        assert!(
            answers
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["decision"].is_boolean())
        );
        assert_eq!(answers[0], json!({"decision": true}));
    }
}

#[tokio::test]
async fn batch_errors_and_the_single_evaluation_fallback_follow_the_scenario() {
    let app = fixture().await;
    // 3-4-1: the item without a resource is a deny with its error.
    let body = json!({"subject": user("alice"), "action": act("read"),
                      "options": {"evaluations_semantic": "execute_all"},
                      "evaluations": [{"resource": record("record-1")}, {}]});
    let answers = post(&app, EVALUATIONS, &body).await.json()["evaluations"].clone();
    assert_eq!(answers[0], json!({"decision": true}));
    assert_eq!(answers[1]["decision"], false);
    assert!(answers[1]["context"].is_object());
    // 3-4-2 and 3-4-3: without evaluations, or with none, it is one evaluation.
    let single =
        json!({"subject": user("alice"), "action": act("read"), "resource": record("record-1")});
    let mut empty = single.clone();
    empty["evaluations"] = json!([]);
    for body in [single, empty] {
        assert_eq!(
            post(&app, EVALUATIONS, &body).await.json(),
            json!({"decision": true})
        );
    }
    // The semantics, on the fixture.
    let ordered = |semantic: &str| {
        json!({"subject": user("bob"), "resource": record("record-1"),
               "options": {"evaluations_semantic": semantic},
               "evaluations": [{"action": act("read")}, {"action": act("write")}, {"action": act("read")}]})
    };
    let answers = |reply: Json| reply["evaluations"].as_array().unwrap().len();
    assert_eq!(
        answers(
            post(&app, EVALUATIONS, &ordered("execute_all"))
                .await
                .json()
        ),
        3
    );
    assert_eq!(
        answers(
            post(&app, EVALUATIONS, &ordered("deny_on_first_deny"))
                .await
                .json()
        ),
        2
    );
    assert_eq!(
        answers(
            post(&app, EVALUATIONS, &ordered("permit_on_first_permit"))
                .await
                .json()
        ),
        1
    );
}

/// The ids (or names) a search found.
async fn found(app: &TestApp, path: &str, body: Json, field: &str) -> Vec<String> {
    let reply = post(app, path, &body).await;
    assert_eq!(reply.status, 200, "{path} {body}");
    reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| result[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_search_fixture_finds_what_the_scenario_requires() {
    let app = fixture().await;
    let archived =
        json!({"type": "record", "id": "record-2", "properties": {"status": "archived"}});
    let admin_bob = json!({"type": "user", "id": "bob", "properties": {"role": "admin"}});
    let subject = "/access/v1/search/subject";
    let resource = "/access/v1/search/resource";
    let action = "/access/v1/search/action";
    // S1: who reads record-1 (the subject's id, when sent, is ignored).
    for searched in [json!({"type": "user"}), user("nobody")] {
        let body =
            json!({"subject": searched, "action": act("read"), "resource": record("record-1")});
        assert_eq!(found(&app, subject, body, "id").await, ["alice", "bob"]);
    }
    // S2: what alice reads.
    let body =
        json!({"subject": user("alice"), "action": act("read"), "resource": {"type": "record"}});
    assert!(
        found(&app, resource, body, "id")
            .await
            .contains(&"record-1".to_owned())
    );
    // S3: what alice may do on record-1.
    let body = json!({"subject": user("alice"), "resource": record("record-1")});
    let actions = found(&app, action, body, "name").await;
    assert!(
        actions.contains(&"read".to_owned()) && actions.contains(&"write".to_owned()),
        "{actions:?}"
    );
    // S4: who writes the archived record-2.
    let body = json!({"subject": {"type": "user"}, "action": act("write"), "resource": archived});
    assert_eq!(found(&app, subject, body, "id").await, ["bob"]);
    // S5: what an admin bob writes.
    let body =
        json!({"subject": admin_bob, "action": act("write"), "resource": {"type": "record"}});
    assert_eq!(found(&app, resource, body, "id").await, ["record-2"]);
    // S6: what an admin bob may do on the archived record-2.
    let body = json!({"subject": admin_bob, "resource": archived});
    assert!(
        found(&app, action, body, "name")
            .await
            .contains(&"write".to_owned())
    );
    // Paging: one at a time.
    let body = json!({"subject": {"type": "user"}, "action": act("read"), "resource": record("record-1"), "page": {"limit": 1}});
    let first = post(&app, subject, &body).await.json();
    assert_eq!(first["results"], json!([{"type": "user", "id": "alice"}]));
    let mut next = body.clone();
    next["page"]["token"] = first["page"]["next_token"].clone();
    let second = post(&app, subject, &next).await.json();
    assert_eq!(second["results"], json!([{"type": "user", "id": "bob"}]));
    assert_eq!(second["page"]["next_token"], "");
    // Unknown ids and types find nothing.
    let body = json!({"subject": {"type": "spaceship"}, "action": act("read"), "resource": record("record-1")});
    assert_eq!(
        post(&app, subject, &body).await.json(),
        json!({"results": []})
    );
    let body =
        json!({"subject": user("zed"), "action": act("read"), "resource": {"type": "record"}});
    assert_eq!(
        post(&app, resource, &body).await.json(),
        json!({"results": []})
    );
}

#[tokio::test]
async fn discovery_names_the_configured_decision_point_and_every_endpoint_over_https() {
    let app = fixture().await;
    let asked = request("GET", "/.well-known/authzen-configuration", None, &[], "");
    let reply = send(app.http_address, Protocol::Http1, asked).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), "application/json");
    let metadata = reply.json();
    assert_eq!(metadata["policy_decision_point"], "https://pdp.example.com");
    for (name, path) in [
        ("access_evaluation_endpoint", "/access/v1/evaluation"),
        ("access_evaluations_endpoint", "/access/v1/evaluations"),
        ("search_subject_endpoint", "/access/v1/search/subject"),
        ("search_resource_endpoint", "/access/v1/search/resource"),
        ("search_action_endpoint", "/access/v1/search/action"),
    ] {
        assert_eq!(metadata[name], format!("https://pdp.example.com{path}"));
    }
}
