//! The console shows which elevations came through the AuthZEN Access Request profile
//! (issue 15), in a real browser (headless Chromium, driven as in `console.rs`): Jerry's PEP
//! turns a requestable denial into an access request over HTTP, naming its client and the
//! actor chain; Beth's inbox shows the request with a "via Access Request profile" line (client,
//! actor chain, task, submitting PEP) and Jerry's own elevations page shows the same. An
//! elevation Jerry asked for over gRPC carries no such line. Screenshots go under
//! `target/console-screenshots/`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value as Json, json};

use crate::console::Driver;
use crate::harness::*;

const POLICY: &str = include_str!("../../examples/authzen/todo-jit.yaml");
const JERRY: &str = "jerry@the-smiths.com";
const BETH: &str = "beth@the-smiths.com";
const SESSION: &str = "jerry-laptop";

/// POSTs `body` as JSON to `path` on the AuthZEN port as the test PEP; the answer's JSON.
async fn post_as_pep(app: &TestApp, path: &str, headers: &[(&str, &str)], body: &Json) -> Json {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::post(format!("http://{}{path}", app.http_address))
        .header("authorization", format!("Bearer {}", app.pep()))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client
        .request(
            request
                .body(Full::new(Bytes::from(body.to_string())))
                .unwrap(),
        )
        .await
        .unwrap_or_else(|error| panic!("POST {path}: {error}"));
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    assert!(
        status.is_success(),
        "POST {path}: {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).expect("a JSON answer")
}

/// Jerry's PEP is denied `can_create_todo` on `todo`, and asks for access from the denial,
/// naming its client and the actor chain; the submission's task.
async fn jerrys_pep_asks_through_the_profile(app: &TestApp, todo: &str) -> Json {
    let question = json!({
        "subject": {"type": "user", "id": JERRY},
        "action": {"name": "can_create_todo"},
        "resource": {"type": "todo", "id": todo},
        "context": {"access_request_profile": true, "session_id": SESSION}
    });
    let denial = post_as_pep(app, "/access/v1/evaluation", &[], &question).await;
    assert_eq!(denial["context"]["reason"], "approval_required", "{denial}");
    let mut submission = question.clone();
    submission["context"]["business_justification"] = json!("the release notes need a todo");
    submission["denial"] = json!({
        "evaluation_id": denial["context"]["evaluation_id"],
        "expires_at": denial["context"]["access_request"]["expires_at"],
    });
    submission["client"] = json!({
        "id": "todo-app",
        "name": "Todo",
        "actor": {"id": "todo-backend", "type": "service",
                  "act": {"sub": JERRY, "iss": "https://idp.example"}}
    });
    let answer = post_as_pep(
        app,
        "/access/v1/requests",
        &[("idempotency-key", "console-1")],
        &submission,
    )
    .await;
    answer["task"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_through_the_profile_show_their_client_and_actor_chain_in_the_console() {
    let driver = Driver::start().await;
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(POLICY.into()),
            configure: Some(Box::new(|config| {
                config.console.token_login = Some(true);
            })),
            ..Default::default()
        },
    )
    .await;
    let base = format!("http://{}", app.admin_address);
    let task = jerrys_pep_asks_through_the_profile(&app, "todo-1").await;
    let task_id = task["id"].as_str().expect("a task id").to_owned();
    // The same subject asks over gRPC too: that elevation did not come through the profile.
    let jerry_token = app.token(JERRY, &["viewers"], &[], Some(BETH), Some(SESSION));
    let by_hand = app
        .elevations()
        .request_elevation(authed(
            &jerry_token,
            elevation_request("editor", "todo:todo-2", 1800, "by hand"),
        ))
        .await
        .expect("jerry asks over gRPC")
        .into_inner()
        .elevation
        .expect("the elevation")
        .id;

    // Beth's inbox: both wait for her; the profile's shows how it came.
    let beth = driver.browser("beth").await;
    beth.sign_in(
        &base,
        &app.token(BETH, &[], &[], None, Some("beth-1")),
        None,
    )
    .await;
    beth.goto(&format!("{base}/console/approvals")).await;
    beth.find(&format!("#pending-{by_hand}")).await;
    let via = beth.find("#inbox .via-profile").await;
    assert!(!via.is_empty());
    let profile_elevation = beth
        .attribute("#inbox tr[data-id]:has(.via-profile)", "data-id")
        .await;
    assert_ne!(profile_elevation, by_hand);
    let line = beth
        .wait_for_text(&format!("#via-{profile_elevation}"), "todo-app")
        .await;
    for expected in [
        "via Access Request profile",
        "todo-app (Todo)",
        &format!("todo-backend (service) → {JERRY}"),
        &task_id,
        "gateway",
    ] {
        assert!(
            line.contains(expected),
            "the inbox line lacks {expected}: {line}"
        );
    }
    assert_eq!(
        beth.count(".via-profile").await,
        1,
        "only the profile's request"
    );
    beth.screenshot("access-request-inbox").await;

    // Jerry sees the same on his own page.
    let jerry = driver.browser("jerry").await;
    jerry.sign_in(&base, &jerry_token, None).await;
    jerry.goto(&format!("{base}/console/elevations")).await;
    let mine = jerry
        .wait_for_text(&format!("#e-{profile_elevation} .via-profile"), &task_id)
        .await;
    assert!(mine.contains("todo-backend (service)"), "{mine}");
    assert_eq!(jerry.count(&format!("#e-{by_hand} .via-profile")).await, 0);
    jerry.screenshot("access-request-my-elevations").await;

    beth.quit().await;
    jerry.quit().await;
}
