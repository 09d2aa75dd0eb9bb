//! The examples answer the interop vectors: `examples/authzen/todo.yaml` every Todo vector
//! (40 evaluations and 3 batches) and `examples/authzen/gateway.yaml` every API-gateway vector
//! (25), each through `Elevator::evaluate_access` in process. (The same vectors run over HTTP
//! against `elevator serve` in the HTTP endpoints' tests.)

use super::questions::Pdp;

const TODO_POLICY: &str = include_str!("../../../examples/authzen/todo.yaml");
const TODO_JIT_POLICY: &str = include_str!("../../../examples/authzen/todo-jit.yaml");
const GATEWAY_POLICY: &str = include_str!("../../../examples/authzen/gateway.yaml");
const TODO_VECTORS: &str = include_str!("vectors/todo-decisions.json");
const GATEWAY_VECTORS: &str = include_str!("vectors/gateway-decisions.json");

/// Runs every `evaluation` vector and every `evaluations` batch (top-level subject, action,
/// resource and context as defaults for each item) and names each that fails.
async fn failures(policy: &str, vectors: &str) -> (usize, Vec<String>) {
    let pdp = Pdp::with_policy(policy).await;
    let vectors: serde_json::Value = serde_json::from_str(vectors).unwrap();
    let mut failed = Vec::new();
    let mut ran = 0;
    for case in vectors["evaluation"].as_array().into_iter().flatten() {
        ran += 1;
        let decision = pdp.decide(&case["request"]).await;
        if serde_json::Value::Bool(decision) != case["expected"] {
            failed.push(format!("{} -> {decision}", case["request"]));
        }
    }
    for case in vectors["evaluations"].as_array().into_iter().flatten() {
        ran += 1;
        let request = &case["request"];
        let mut answers = Vec::new();
        for item in request["evaluations"].as_array().unwrap() {
            let mut merged = serde_json::json!({});
            for key in ["subject", "action", "resource", "context"] {
                let value = item.get(key).or_else(|| request.get(key));
                merged[key] = value.cloned().unwrap_or(serde_json::Value::Null);
            }
            answers.push(serde_json::json!({ "decision": pdp.decide(&merged).await }));
        }
        if serde_json::Value::Array(answers.clone()) != case["expected"] {
            failed.push(format!("{request} -> {answers:?}"));
        }
    }
    (ran, failed)
}

#[tokio::test]
async fn the_todo_example_answers_all_43_todo_vectors() {
    let (ran, failed) = failures(TODO_POLICY, TODO_VECTORS).await;
    assert_eq!(ran, 43);
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[tokio::test]
async fn the_todo_example_with_access_requests_answers_all_43_todo_vectors_too() {
    let (ran, failed) = failures(TODO_JIT_POLICY, TODO_VECTORS).await;
    assert_eq!(ran, 43);
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[tokio::test]
async fn the_gateway_example_answers_all_25_gateway_vectors() {
    let (ran, failed) = failures(GATEWAY_POLICY, GATEWAY_VECTORS).await;
    assert_eq!(ran, 25);
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
