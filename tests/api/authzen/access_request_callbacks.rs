//! Callbacks of the AuthZEN Access Request profile (issue 15): a PEP names `callback.endpoint`
//! in its submission and, when the task ends, gets a signed notification there through the
//! webhook outbox. Internal targets (loopback, link-local, private, IPv6 loopback), other
//! schemes and URLs with user information are refused at submission unless the deployment
//! allow-lists them; a target no longer allowed when the post is made is not posted to.

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::access_request::{
    EVALUATION, JERRY, POLICY, approve, beth, beths_inbox, get, jerry_asks, path_of, submission,
    submit,
};
use super::client::{Protocol, post, request, send};
use crate::harness::*;
use crate::http::{Received, Recorder, start_recorder};
use crate::on_both_backends;

/// A server with the Todo JIT example, on `database` when given, allowing callbacks to
/// `allowed` (a `host:port`) over plain http when given.
async fn app_allowing(
    backend: Backend,
    allowed: Option<String>,
    database: Option<String>,
) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(POLICY.into()),
            database_url: database,
            configure: Some(Box::new(move |config| {
                config.webhooks.callback_allow_http = true;
                config.webhooks.max_attempts = 1;
                config.webhooks.callback_allow = allowed.into_iter().collect();
            })),
            ..Default::default()
        },
    )
    .await
}

/// Jerry's denied question for `todo`, turned into a submission carrying `callback`.
async fn submission_with_callback(app: &TestApp, todo: &str, callback: Json) -> Json {
    let denial = post(app, EVALUATION, &jerry_asks(todo)).await.json();
    let mut body = submission(&jerry_asks(todo), &denial, Some("release notes"));
    body["callback"] = callback;
    body
}

fn assert_signed_callback(post: &Received) {
    let timestamp: i64 = post
        .header("x-elevator-timestamp")
        .parse()
        .expect("a timestamp");
    assert_eq!(post.header("x-elevator-event"), "access_request.callback");
    assert_eq!(
        post.header("x-elevator-signature"),
        elevator::webhooks::signature(TEST_WEBHOOK_SECRET.as_bytes(), timestamp, &post.body),
        "the callback is authenticated by an HMAC over the timestamp and body"
    );
}

async fn cancel(app: &TestApp, status_path: &str) -> u16 {
    let cancel = request(
        "POST",
        &format!("{status_path}/cancel"),
        Some(&app.pep()),
        &[],
        "",
    );
    send(app.http_address, Protocol::Http1, cancel).await.status
}

async fn an_approved_task_is_posted_to_its_callback_signed_with_its_state(backend: Backend) {
    let receiver = start_recorder().await;
    let app = app_allowing(backend, Some(format!("127.0.0.1:{}", receiver.port)), None).await;
    let body = submission_with_callback(
        &app,
        "todo-1",
        json!({"endpoint": receiver.url, "state": "pep-session-7"}),
    )
    .await;
    let submitted = submit(&app, &app.pep(), "cb-1", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let task = submitted.json()["task"].clone();
    assert!(
        receiver.all().is_empty(),
        "nothing is posted while the task is pending"
    );

    let pending = beths_inbox(&app).await;
    approve(&app, &beth(&app), &pending[0].id)
        .await
        .expect("beth approves");
    let posts = receiver.wait_for(1, None).await;
    assert_signed_callback(&posts[0]);
    assert!(posts[0].request_line.starts_with("POST /hooks/elevator "));
    let notification = posts[0].json();
    assert_eq!(notification["state"], "pep-session-7");
    assert_eq!(notification["task"]["id"], task["id"]);
    assert_eq!(notification["task"]["status"], "approved");
    assert_eq!(
        notification["task"]["status_endpoint"],
        task["status_endpoint"]
    );
    assert!(notification.get("result").is_none(), "notification only");
    // The status endpoint it names gives the enforceable result.
    let status = get(&app, &app.pep(), &path_of(&task["status_endpoint"]))
        .await
        .json();
    assert_eq!(status["result"]["mode"], "reevaluate");
    app.wait_until_no_delivery_is_pending().await;
}
on_both_backends!(
    approved_callbacks,
    an_approved_task_is_posted_to_its_callback_signed_with_its_state
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_task_is_posted_only_to_callbacks_that_asked_for_cancellations() {
    let receiver = start_recorder().await;
    let app = app_allowing(
        Backend::Memory,
        Some(format!("127.0.0.1:{}", receiver.port)),
        None,
    )
    .await;
    let mut paths = Vec::new();
    for (todo, events) in [
        ("todo-1", json!(["approved"])),
        ("todo-2", json!(["cancelled"])),
    ] {
        let callback = json!({"endpoint": receiver.url, "events": events});
        let body = submission_with_callback(&app, todo, callback).await;
        let submitted = submit(&app, &app.pep(), &format!("cb-{todo}"), &body).await;
        assert_eq!(submitted.status, 202);
        let task = submitted.json()["task"].clone();
        paths.push((task["id"].clone(), path_of(&task["status_endpoint"])));
    }
    for (_, path) in &paths {
        assert_eq!(cancel(&app, path).await, 200);
    }
    let posts = receiver.wait_for(1, None).await;
    app.wait_until_no_delivery_is_pending().await;
    assert_eq!(
        receiver.all().len(),
        1,
        "only the callback asking for cancellations"
    );
    assert_signed_callback(&posts[0]);
    assert_eq!(posts[0].json()["task"]["id"], paths[1].0);
    assert_eq!(posts[0].json()["task"]["status"], "cancelled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_or_malformed_callback_endpoints_are_refused_naming_the_member_and_change_nothing()
{
    let receiver = start_recorder().await;
    let app = app_allowing(Backend::Memory, None, None).await;
    let loopback = format!("http://127.0.0.1:{}/hooks", receiver.port);
    let ipv6_loopback = format!("http://[::1]:{}/hooks", receiver.port);
    for endpoint in [
        loopback.as_str(),
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.7/hooks",
        "http://192.168.1.20/hooks",
        ipv6_loopback.as_str(),
        "http://[::ffff:127.0.0.1]/hooks",
        "http://localhost/hooks",
        "ftp://pep.example.com/hooks",
        "https://user:secret@pep.example.com/hooks",
        "not a url",
    ] {
        let body = submission_with_callback(&app, "todo-1", json!({"endpoint": endpoint})).await;
        let refused = submit(&app, &app.pep(), "refused", &body).await;
        assert_eq!(refused.status, 400, "{endpoint} is refused");
        let problem = refused.json();
        assert_eq!(problem["field"], "callback.endpoint", "{endpoint}");
        assert!(
            !problem.to_string().contains(endpoint),
            "the refusal does not echo the URL"
        );
    }
    let unnamed = submission_with_callback(&app, "todo-1", json!({"state": "x"})).await;
    let refused = submit(&app, &app.pep(), "refused", &unnamed).await;
    assert_eq!(refused.json()["field"], "callback.endpoint");
    let unknown_event = submission_with_callback(
        &app,
        "todo-1",
        json!({"endpoint": loopback, "events": ["done"]}),
    )
    .await;
    let refused = submit(&app, &app.pep(), "refused", &unknown_event).await;
    assert_eq!(refused.json()["field"], "callback.events");
    assert!(
        beths_inbox(&app).await.is_empty(),
        "no elevation was requested"
    );
    assert_eq!(app.store.pending_deliveries().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_callbacks_are_refused_unless_the_deployment_allows_them() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(POLICY.into()),
            configure: Some(Box::new(|config| {
                config.webhooks.callback_allow = vec!["127.0.0.1".into()];
            })),
            ..Default::default()
        },
    )
    .await;
    let body = submission_with_callback(
        &app,
        "todo-1",
        json!({"endpoint": "http://127.0.0.1/hooks"}),
    )
    .await;
    let refused = submit(&app, &app.pep(), "http", &body).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["field"], "callback.endpoint");
    assert!(refused.json()["detail"].as_str().unwrap().contains("https"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_target_no_longer_allowed_when_the_post_is_made_is_not_posted_to() {
    let receiver: Recorder = start_recorder().await;
    // The first replica allows the loopback receiver, and takes the submission.
    let first = app_allowing(
        Backend::Postgres,
        Some(format!("127.0.0.1:{}", receiver.port)),
        None,
    )
    .await;
    let body = submission_with_callback(&first, "todo-1", json!({"endpoint": receiver.url})).await;
    assert_eq!(
        submit(&first, &first.pep(), "rebound", &body).await.status,
        202
    );
    let database = first.database_url.clone();
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The replica that approves (and delivers) does not allow it: the address is checked again
    // where the post connects, and the delivery fails instead of reaching the loopback.
    let second = app_allowing(Backend::Postgres, None, database.clone()).await;
    let pending = beths_inbox(&second).await;
    approve(&second, &beth(&second), &pending[0].id)
        .await
        .expect("beth approves");
    second.wait_until_no_delivery_is_pending().await;
    let abandoned = sql(
        database.as_deref().expect("a database"),
        "SELECT count(*) FROM webhook_outbox WHERE abandoned_at IS NOT NULL",
    )
    .await;
    let count = abandoned.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(
        count.as_deref(),
        Some("1"),
        "the post was queued, tried and given up"
    );
    assert!(
        receiver.all().is_empty(),
        "nothing reached the internal target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_posted_once_when_its_last_pending_item_ends_partial() {
    let receiver = start_recorder().await;
    let app = app_allowing(
        Backend::Memory,
        Some(format!("127.0.0.1:{}", receiver.port)),
        None,
    )
    .await;
    let mut items = Vec::new();
    for todo in ["todo-5", "todo-6"] {
        let denial = post(&app, EVALUATION, &jerry_asks(todo)).await.json();
        let bound = submission(&jerry_asks(todo), &denial, None);
        items.push(
            json!({"resource": bound["resource"], "action": bound["action"],
            "denial": bound["denial"]}),
        );
    }
    let body = json!({
        "subject": {"type": "user", "id": JERRY},
        "items": items,
        "context": {"session_id": "jerry-laptop", "business_justification": "both"},
        "callback": {"endpoint": receiver.url, "state": "bundle"},
    });
    let submitted = submit(&app, &app.pep(), "bundle", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let task_id = submitted.json()["task"]["id"].clone();
    let pending = beths_inbox(&app).await;
    assert_eq!(pending.len(), 2);
    approve(&app, &beth(&app), &pending[0].id)
        .await
        .expect("beth approves one");
    // One item still pends: the task has not ended, nothing is queued.
    app.wait_until_no_delivery_is_pending().await;
    assert!(
        receiver.all().is_empty(),
        "nothing is posted while an item pends"
    );
    let denied = app
        .approvals()
        .deny(authed(
            &beth(&app),
            elevator::proto::v1::DenyRequest {
                elevation_id: pending[1].id.clone(),
                comment: "one is enough".into(),
                ..Default::default()
            },
        ))
        .await;
    assert!(denied.is_ok(), "{denied:?}");
    let posts = receiver.wait_for(1, None).await;
    app.wait_until_no_delivery_is_pending().await;
    assert_eq!(receiver.all().len(), 1, "posted once");
    assert_signed_callback(&posts[0]);
    let notification = posts[0].json();
    assert_eq!(notification["task"]["id"], task_id);
    assert_eq!(notification["task"]["status"], "partial");
    assert_eq!(notification["state"], "bundle");
}
