//! The official AuthZEN interop vectors (43 Todo, 25 API gateway; vendored under
//! `tests/api/authzen/vectors/` with their licence notice) over HTTP, against a server started
//! in dev mode with `examples/authzen/todo.yaml` or `gateway.yaml`, compared exactly as the
//! interop runners compare them: an `evaluation` case by its `decision`, an `evaluations` case
//! by the JSON of its whole `evaluations` array (so an unasked-for `context` fails it). The
//! credential goes as the raw `Authorization` header, as the runners send it.

use serde_json::{Value as Json, json};

use super::client::{Protocol, request, send};
use crate::harness::*;

/// Runs every case of `vectors` against a dev-mode server on `policy`, over `protocol`;
/// returns how many ran, failing with every mismatch listed.
async fn run(policy: &str, vectors: &str, protocol: Protocol) -> usize {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy.into()),
            ..Default::default()
        },
    )
    .await;
    let vectors: Json = serde_json::from_str(vectors).expect("the vectors are JSON");
    let authorization = format!("Bearer {}", app.pep());
    let mut failures = Vec::new();
    let mut ran = 0;
    for (path, key) in [
        ("/access/v1/evaluation", "evaluation"),
        ("/access/v1/evaluations", "evaluations"),
    ] {
        for case in vectors[key].as_array().into_iter().flatten() {
            ran += 1;
            let asked = request(
                "POST",
                path,
                None,
                &[
                    ("content-type", "application/json"),
                    ("authorization", &authorization),
                ],
                case["request"].to_string(),
            );
            let reply = send(app.http_address, protocol, asked).await;
            let answer: Json = serde_json::from_slice(&reply.body).unwrap_or(Json::Null);
            let got = match key {
                "evaluation" => answer["decision"].clone(),
                _ => answer["evaluations"].clone(),
            };
            if reply.status != 200 || got != case["expected"] {
                failures.push(json!({
                    "request": case["request"],
                    "expected": case["expected"],
                    "status": reply.status,
                    "got": answer,
                }));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} vectors failed:\n{}",
        failures.len(),
        serde_json::to_string_pretty(&failures).unwrap()
    );
    ran
}

#[tokio::test]
async fn every_todo_vector_passes_over_http() {
    let policy = include_str!("../../../examples/authzen/todo.yaml");
    let vectors = include_str!("vectors/todo-decisions.json");
    assert_eq!(run(policy, vectors, Protocol::Http1).await, 43);
    assert_eq!(run(policy, vectors, Protocol::Http2).await, 43);
}

#[tokio::test]
async fn every_gateway_vector_passes_over_http() {
    let policy = include_str!("../../../examples/authzen/gateway.yaml");
    let vectors = include_str!("vectors/gateway-decisions.json");
    assert_eq!(run(policy, vectors, Protocol::Http1).await, 25);
    assert_eq!(run(policy, vectors, Protocol::Http2).await, 25);
}
