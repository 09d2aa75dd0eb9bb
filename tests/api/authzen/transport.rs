//! The transport rules of the HTTPS binding: a deny is `200 {"decision": false}`; what is
//! wrong with a request is a `400` problem naming the field; unknown fields are ignored;
//! `X-Request-ID` is echoed; bodies over the limit are `413`; no credentials is `401`, no PEP
//! role `403`; HTTP/1.1 and h2 answer alike. Nothing a bad request says changes anything.

use serde_json::json;

use super::client::{Protocol, post, post_as, request, send};
use crate::harness::*;
use elevator::http::MAX_BODY_BYTES;

const EVALUATION: &str = "/access/v1/evaluation";
const EVALUATIONS: &str = "/access/v1/evaluations";

/// A question nobody has a grant for.
fn unknown_question() -> serde_json::Value {
    json!({
        "subject": {"type": "user", "id": "nobody"},
        "action": {"name": "purchase_orders.approve"},
        "resource": {"type": "Org", "id": "Procurement"}
    })
}

#[tokio::test]
async fn a_deny_is_a_200_whose_body_is_exactly_decision_false() {
    let app = spawn_app(Backend::Memory).await;
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let reply = post_as(
            &app,
            protocol,
            EVALUATION,
            Some(&app.pep()),
            &unknown_question(),
        )
        .await;
        assert_eq!(reply.status, 200, "{protocol:?}");
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.json(), json!({"decision": false}));
        let expected_version = match protocol {
            Protocol::Http1 => http::Version::HTTP_11,
            Protocol::Http2 => http::Version::HTTP_2,
        };
        assert_eq!(reply.version, expected_version);
    }
}

#[tokio::test]
async fn reasons_come_in_the_context_only_when_the_pep_asks_for_them() {
    let app = spawn_app(Backend::Memory).await;
    let mut asked = unknown_question();
    asked["options"] = json!({"include_reasons": true});
    let reply = post(&app, EVALUATION, &asked).await.json();
    assert_eq!(reply["decision"], false);
    assert_eq!(reply["context"]["reason"], "no_grant");
    assert!(
        reply["context"]["message"]
            .as_str()
            .unwrap()
            .contains("permission")
    );
    assert!(reply["context"]["revision"].is_u64());
}

#[tokio::test]
async fn every_malformed_request_is_a_400_problem_naming_what_to_fix_and_changes_nothing() {
    let app = spawn_app(Backend::Memory).await;
    let revision = app.store.revision().await.unwrap();
    let user = json!({"type": "user", "id": "alice"});
    let read = json!({"name": "read"});
    let record = json!({"type": "record", "id": "record-1"});
    let cases = [
        (json!({"action": read, "resource": record}), "subject"),
        (json!({"subject": user, "resource": record}), "action"),
        (json!({"subject": user, "action": read}), "resource"),
        (
            json!({"subject": {"id": "alice"}, "action": read, "resource": record}),
            "subject.type",
        ),
        (
            json!({"subject": {"type": "user"}, "action": read, "resource": record}),
            "subject.id",
        ),
        (
            json!({"subject": user, "action": {}, "resource": record}),
            "action.name",
        ),
        (
            json!({"subject": user, "action": read, "resource": {"id": "record-1"}}),
            "resource.type",
        ),
        (
            json!({"subject": user, "action": read, "resource": {"type": "record"}}),
            "resource.id",
        ),
        (
            json!({"subject": "alice", "action": read, "resource": record}),
            "subject",
        ),
        (
            json!({"subject": user, "action": {"name": 123}, "resource": record}),
            "action.name",
        ),
        (
            json!({"subject": user, "action": read, "resource": record, "context": [1]}),
            "context",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        for path in [EVALUATION, EVALUATIONS] {
            let reply = post(&app, path, &body).await;
            assert_eq!(reply.status, 400, "{path} {body}");
            assert_eq!(reply.header("content-type"), "application/problem+json");
            let problem = reply.json();
            assert_eq!(problem["status"], 400);
            assert_eq!(problem["field"], field, "{path} {body}");
            assert!(problem["detail"].as_str().unwrap().starts_with(field));
        }
    }
    let raw = |content_type: &str, body: &str| {
        request(
            "POST",
            EVALUATION,
            Some(&app.pep()),
            &[("content-type", content_type)],
            body.to_owned(),
        )
    };
    for (content_type, body, code) in [
        ("application/json", "{\"subject\": ", "INVALID_ARGUMENT"),
        ("application/json", "", "INVALID_ARGUMENT"),
        (
            "text/plain",
            &unknown_question().to_string(),
            "INVALID_CONTENT_TYPE",
        ),
    ] {
        let reply = send(app.http_address, Protocol::Http1, raw(content_type, body)).await;
        assert_eq!(reply.status, 400, "{content_type} {body:?}");
        assert_eq!(reply.json()["code"], code);
    }
    assert_eq!(app.store.revision().await.unwrap(), revision);
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let app = spawn_app(Backend::Memory).await;
    let mut body = unknown_question();
    body["foo"] = json!("bar");
    body["futureField"] = json!({"nested": true});
    body["subject"]["extra"] = json!(1);
    let reply = post(&app, EVALUATION, &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"decision": false}));
}

#[tokio::test]
async fn the_request_id_is_echoed_and_one_is_made_when_none_is_sent() {
    let app = spawn_app(Backend::Memory).await;
    let body = unknown_question().to_string();
    let headers = [
        ("content-type", "application/json"),
        ("x-request-id", "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"),
    ];
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let asked = request("POST", EVALUATION, Some(&app.pep()), &headers, body.clone());
        let reply = send(app.http_address, protocol, asked).await;
        assert_eq!(
            reply.header("x-request-id"),
            "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"
        );
        // Errors carry it too.
        let refused = request("POST", EVALUATION, None, &headers, body.clone());
        let reply = send(app.http_address, protocol, refused).await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.header("x-request-id"),
            "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"
        );
    }
    let reply = post(&app, EVALUATION, &unknown_question()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("x-request-id").len(), 36);
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_and_one_just_under_it_is_read() {
    let app = spawn_app(Backend::Memory).await;
    let padded = |bytes: usize| {
        let mut body = unknown_question();
        let base = body.to_string().len() + ",\"padding\":\"\"".len();
        body["padding"] = json!("x".repeat(bytes - base));
        assert_eq!(body.to_string().len(), bytes);
        body
    };
    let reply = post(&app, EVALUATION, &padded(MAX_BODY_BYTES + 1)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "BODY_TOO_LARGE");
    let reply = post_as(
        &app,
        Protocol::Http2,
        EVALUATION,
        Some(&app.pep()),
        &padded(MAX_BODY_BYTES + 1),
    )
    .await;
    assert_eq!(reply.status, 413);
    let reply = post(&app, EVALUATION, &padded(MAX_BODY_BYTES)).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn without_credentials_it_is_401_and_without_the_pep_role_403() {
    let app = spawn_app(Backend::Memory).await;
    let body = unknown_question();
    let reply = post_as(&app, Protocol::Http1, EVALUATION, None, &body).await;
    assert_eq!(reply.status, 401);
    assert!(reply.header("www-authenticate").starts_with("Bearer"));
    assert_eq!(reply.json()["code"], "UNAUTHENTICATED");
    let reply = post_as(
        &app,
        Protocol::Http1,
        EVALUATIONS,
        Some("not-a-token"),
        &body,
    )
    .await;
    assert_eq!(reply.status, 401);
    let forged = token_signed(
        b"another-secret-entirely",
        &app.clock,
        elevator::auth::Claims {
            sub: "gateway".into(),
            roles: vec!["elevator:check".into()],
            ..Default::default()
        },
    );
    let reply = post_as(&app, Protocol::Http2, EVALUATION, Some(&forged), &body).await;
    assert_eq!(reply.status, 401);
    let reply = post_as(&app, Protocol::Http1, EVALUATION, Some(&app.fatma()), &body).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "ROLE_REQUIRED");
    let basic = request(
        "POST",
        EVALUATION,
        None,
        &[
            ("content-type", "application/json"),
            ("authorization", "Basic Zm9vOmJhcg=="),
        ],
        body.to_string(),
    );
    assert_eq!(
        send(app.http_address, Protocol::Http1, basic).await.status,
        401
    );
}

#[tokio::test]
async fn wrong_methods_and_unknown_paths_are_refused_plainly() {
    let app = spawn_app(Backend::Memory).await;
    let get = request("GET", EVALUATION, Some(&app.pep()), &[], "");
    let reply = send(app.http_address, Protocol::Http1, get).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), "POST");
    let reply = post(&app, "/access/v2/evaluation", &unknown_question()).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "NOT_FOUND");
}
