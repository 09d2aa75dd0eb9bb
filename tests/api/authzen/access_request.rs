//! The AuthZEN Access Request and Approval profile (issue 15) over the HTTP port, with
//! `examples/authzen/todo-jit.yaml`: Jerry (a viewer) is denied `can_create_todo` with a
//! requestable denial, asks for `editor` with a reason, his manager Beth approves, his PEP
//! evaluates again and is allowed, and after the grant ends he is denied with
//! `next_action: request`. Then the attacks: forged, replayed, expired and altered bindings
//! and approvals, approvals for another resource or subject, self-approval, revocation,
//! foreign task handles, idempotency and cancellation.

use serde_json::{Value as Json, json};

use super::client::{Protocol, Reply, post, request, send};
use crate::harness::*;
use elevator::proto::v1 as pb;

pub(super) const POLICY: &str = include_str!("../../../examples/authzen/todo-jit.yaml");
pub(super) const EVALUATION: &str = "/access/v1/evaluation";
pub(super) const REQUESTS: &str = "/access/v1/requests";
pub(super) const JERRY: &str = "jerry@the-smiths.com";
const BETH: &str = "beth@the-smiths.com";
const SESSION: &str = "jerry-laptop";

async fn jit_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(POLICY.into()),
            ..Default::default()
        },
    )
    .await
}

/// Jerry's PEP asks whether he may create todo `todo`, opting in to the profile.
pub(super) fn jerry_asks(todo: &str) -> Json {
    json!({
        "subject": {"type": "user", "id": JERRY},
        "action": {"name": "can_create_todo"},
        "resource": {"type": "todo", "id": todo},
        "context": {"access_request_profile": true, "session_id": SESSION}
    })
}

/// The submission a PEP builds from `denial` (an evaluation's answer) for `question`.
pub(super) fn submission(question: &Json, denial: &Json, justification: Option<&str>) -> Json {
    let mut body = question.clone();
    if let Some(justification) = justification {
        body["context"]["business_justification"] = json!(justification);
    }
    body["denial"] = json!({
        "evaluation_id": denial["context"]["evaluation_id"],
        "evaluated_at": denial["context"]["evaluated_at"],
        "expires_at": denial["context"]["access_request"]["expires_at"],
        "reason": denial["context"]["reason"],
        "template": denial["context"]["access_request"]["template"],
    });
    body["client"] = json!({"id": "todo-app", "name": "Todo",
        "actor": {"id": "gateway", "type": "service", "act": {"sub": JERRY, "iss": "https://idp.example"}}});
    body
}

pub(super) async fn submit(app: &TestApp, token: &str, key: &str, body: &Json) -> Reply {
    let request = request(
        "POST",
        REQUESTS,
        Some(token),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", key),
        ],
        body.to_string(),
    );
    send(app.http_address, Protocol::Http1, request).await
}

pub(super) async fn get(app: &TestApp, token: &str, path: &str) -> Reply {
    let request = request("GET", path, Some(token), &[], "");
    send(app.http_address, Protocol::Http1, request).await
}

/// The path of an absolute URL the server gave.
pub(super) fn path_of(url: &Json) -> String {
    let url = url.as_str().expect("a URL");
    let rest = url.split_once("://").expect("an absolute URL").1;
    rest[rest.find('/').expect("a path")..].to_owned()
}

/// A pending elevation of Jerry's, as Beth's inbox shows it.
pub(super) async fn beths_inbox(app: &TestApp) -> Vec<pb::Elevation> {
    app.approvals()
        .list_pending_approvals(authed(
            &beth(app),
            pb::ListPendingApprovalsRequest::default(),
        ))
        .await
        .expect("beth's inbox")
        .into_inner()
        .elevations
}

pub(super) fn beth(app: &TestApp) -> String {
    app.token(BETH, &[], &[], None, Some("beth-1"))
}

pub(super) async fn approve(
    app: &TestApp,
    token: &str,
    elevation_id: &str,
) -> Result<(), tonic::Status> {
    app.approvals()
        .approve(authed(
            token,
            pb::ApproveRequest {
                elevation_id: elevation_id.into(),
                comment: "go ahead".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .map(|_| ())
}

/// Denial, submission and Beth's approval: the approved task's status document.
async fn approved_task(app: &TestApp, todo: &str) -> Json {
    let denial = post(app, EVALUATION, &jerry_asks(todo)).await.json();
    let submitted = submit(
        app,
        &app.pep(),
        &format!("key-{todo}"),
        &submission(&jerry_asks(todo), &denial, Some("release notes")),
    )
    .await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let status_path = path_of(&submitted.json()["task"]["status_endpoint"]);
    let pending = beths_inbox(app).await;
    approve(app, &beth(app), &pending[0].id)
        .await
        .expect("beth approves");
    get(app, &app.pep(), &status_path).await.json()
}

/// Re-evaluation of `todo` with `approval`, as the profile says a PEP does it.
fn with_approval(todo: &str, approval: &Json) -> Json {
    let mut question = jerry_asks(todo);
    question["context"]["approval"] = approval.clone();
    question
}

async fn the_jerry_loop(backend: Backend) {
    let app = jit_app(backend).await;
    // A PEP that knows nothing of the profile gets exactly what it always got.
    let mut plain = jerry_asks("todo-1");
    plain["context"] = json!({"session_id": SESSION});
    assert_eq!(
        post(&app, EVALUATION, &plain).await.json(),
        json!({"decision": false})
    );

    // A PEP that opts in learns the denial is requestable, and what to send.
    let denial = post(&app, EVALUATION, &jerry_asks("todo-1")).await.json();
    assert_eq!(denial["decision"], false);
    let context = &denial["context"];
    assert!(
        context["evaluation_id"]
            .as_str()
            .unwrap()
            .starts_with("eval_")
    );
    assert_eq!(context["reason"], "approval_required");
    let offer = &context["access_request"];
    assert_eq!(offer["template"], "eligibility/0/editor");
    assert!(offer["expires_at"].as_str().is_some());
    assert!(offer["endpoint"].as_str().unwrap().ends_with(REQUESTS));
    assert!(
        offer["display"]["title"]
            .as_str()
            .unwrap()
            .contains("editor")
    );
    let schema = get(&app, &app.pep(), &path_of(&offer["request_schema_url"])).await;
    assert_eq!(schema.status, 200);
    assert_eq!(
        schema.json()["properties"]["context"]["required"],
        json!(["business_justification"])
    );
    let metadata = get(&app, &app.pep(), "/.well-known/authzen-configuration")
        .await
        .json();
    assert!(
        metadata["access_request_endpoint"]
            .as_str()
            .unwrap()
            .ends_with(REQUESTS)
    );
    assert_eq!(
        metadata["capabilities"],
        json!(["urn:openid:authzen:capability:access-request"])
    );

    // Without the justification the entry requires, the request is refused and says so.
    let question = jerry_asks("todo-1");
    let unjustified = submit(
        &app,
        &app.pep(),
        "k1",
        &submission(&question, &denial, None),
    )
    .await;
    assert_eq!(unjustified.status, 400);
    assert_eq!(
        unjustified.json()["field"],
        "context.business_justification"
    );

    // With it: a pending task awaiting Beth, Jerry's manager.
    let body = submission(&question, &denial, Some("the release notes need a todo"));
    let submitted = submit(&app, &app.pep(), "k2", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let task = submitted.json()["task"].clone();
    assert_eq!(task["status"], "pending");
    assert!(task["id"].as_str().unwrap().starts_with("arq_"));
    assert_eq!(
        submitted.header("location"),
        task["status_endpoint"].as_str().unwrap()
    );
    assert_eq!(task["progress"]["current_step"], 1);
    assert_eq!(task["progress"]["total_steps"], 1);
    assert_eq!(task["progress"]["step_name"], "manager");
    assert_eq!(task["progress"]["awaiting"], json!([BETH]));
    assert!(task["links"]["cancel"].as_str().is_some());
    // The same submission again is the same task; another body under the key is refused.
    let again = submit(&app, &app.pep(), "k2", &body).await;
    assert_eq!(again.status, 202);
    assert_eq!(again.json()["task"]["id"], task["id"]);
    let mut changed = body.clone();
    changed["context"]["business_justification"] = json!("something else");
    let conflicting = submit(&app, &app.pep(), "k2", &changed).await;
    assert_eq!(conflicting.status, 409);
    assert_eq!(
        conflicting.json()["type"],
        "urn:openid:authzen:access-request:error:duplicate_request"
    );
    let status_path = path_of(&task["status_endpoint"]);
    assert_eq!(
        get(&app, &app.pep(), &status_path).await.json()["task"]["status"],
        "pending"
    );

    // The request is an elevation like any other: Jerry cannot approve it himself.
    let pending = beths_inbox(&app).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].requester, JERRY);
    let jerry = app.token(JERRY, &["viewers"], &[], None, Some(SESSION));
    assert!(approve(&app, &jerry, &pending[0].id).await.is_err());
    let morty = app.token("morty@the-citadel.com", &[], &[], None, None);
    assert!(approve(&app, &morty, &pending[0].id).await.is_err());
    approve(&app, &beth(&app), &pending[0].id)
        .await
        .expect("beth approves");

    let done = get(&app, &app.pep(), &status_path).await.json();
    assert_eq!(done["task"]["status"], "approved");
    assert_eq!(done["result"]["mode"], "reevaluate");
    let approval = done["result"]["approval"].clone();
    assert!(approval["id"].as_str().unwrap().starts_with("apr_"));
    assert!(approval["approved_until"].as_str().is_some());

    // Jerry's PEP evaluates again with the approval: allowed, for the approval's window.
    let allowed = post(&app, EVALUATION, &with_approval("todo-1", &approval))
        .await
        .json();
    assert_eq!(allowed["decision"], true, "{allowed}");
    assert_eq!(allowed["context"]["approval"]["id"], approval["id"]);
    assert_eq!(
        allowed["context"]["approval"]["approved_until"],
        approval["approved_until"]
    );

    // The approval is for todo-1: another todo stays denied, and may be requested.
    let other = post(&app, EVALUATION, &with_approval("todo-2", &approval))
        .await
        .json();
    assert_eq!(other["decision"], false);
    assert_eq!(other["context"]["reason"], "out_of_scope");
    assert_eq!(other["context"]["next_action"], "request");
    assert!(other["context"]["access_request"].is_object());

    // After the grant ends, Jerry is denied again and told to request anew.
    app.clock.advance(chrono::TimeDelta::minutes(61));
    let ended = post(&app, EVALUATION, &with_approval("todo-1", &approval))
        .await
        .json();
    assert_eq!(ended["decision"], false);
    assert_eq!(ended["context"]["reason"], "approval_expired");
    assert_eq!(ended["context"]["next_action"], "request");
    assert!(
        ended["context"]["access_request"]["expires_at"]
            .as_str()
            .is_some()
    );
}

#[tokio::test]
async fn jerry_asks_for_editor_from_a_denial_is_approved_by_his_manager_and_is_allowed_until_it_ends()
 {
    the_jerry_loop(Backend::Memory).await;
}

#[tokio::test]
async fn the_jerry_loop_holds_on_postgres() {
    the_jerry_loop(Backend::Postgres).await;
}

#[tokio::test]
async fn forged_altered_replayed_foreign_and_expired_bindings_are_refused() {
    let app = jit_app(Backend::Memory).await;
    let question = jerry_asks("todo-1");
    let denial = post(&app, EVALUATION, &question).await.json();
    let body = submission(&question, &denial, Some("why"));
    let refused_as = |reply: &Reply, status: u16, kind: &str| {
        assert_eq!(
            reply.status,
            status,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(
            reply.json()["type"],
            format!("urn:openid:authzen:access-request:error:{kind}")
        );
    };
    // A made-up evaluation id.
    let mut forged = body.clone();
    forged["denial"]["evaluation_id"] = json!("eval_00000000000000000000000000000000");
    refused_as(
        &submit(&app, &app.pep(), "f1", &forged).await,
        400,
        "invalid_denial_binding",
    );
    // No binding at all.
    let mut unbound = body.clone();
    unbound["denial"] = json!({"expires_at": "2030-01-01T00:00:00Z"});
    refused_as(
        &submit(&app, &app.pep(), "f2", &unbound).await,
        400,
        "invalid_denial_binding",
    );
    // The binding of todo-1 with todo-2, or with another subject.
    let mut altered = body.clone();
    altered["resource"]["id"] = json!("todo-2");
    refused_as(
        &submit(&app, &app.pep(), "f3", &altered).await,
        400,
        "invalid_denial_binding",
    );
    let mut swapped = body.clone();
    swapped["subject"]["id"] = json!(BETH);
    refused_as(
        &submit(&app, &app.pep(), "f4", &swapped).await,
        400,
        "invalid_denial_binding",
    );
    // Another enforcement point cannot use this PEP's denial.
    let other_pep = app.token("other-gateway", &[], &["elevator:check"], None, None);
    refused_as(
        &submit(&app, &other_pep, "f5", &body).await,
        400,
        "invalid_denial_binding",
    );
    // Used once, the denial cannot be replayed under another key.
    assert_eq!(submit(&app, &app.pep(), "f6", &body).await.status, 202);
    refused_as(
        &submit(&app, &app.pep(), "f7", &body).await,
        400,
        "invalid_denial_binding",
    );
    // A denial past its expiry.
    let late = post(&app, EVALUATION, &jerry_asks("todo-3")).await.json();
    app.clock.advance(chrono::TimeDelta::minutes(11));
    let late_body = submission(&jerry_asks("todo-3"), &late, Some("why"));
    refused_as(
        &submit(&app, &app.pep(), "f8", &late_body).await,
        410,
        "expired_denial",
    );
    // Nothing of it became an elevation but the one accepted request.
    assert_eq!(beths_inbox(&app).await.len(), 1);
}

#[tokio::test]
async fn forged_foreign_and_revoked_approvals_allow_nothing() {
    let app = jit_app(Backend::Memory).await;
    let done = approved_task(&app, "todo-1").await;
    let approval = done["result"]["approval"].clone();
    // A made-up approval: no allow, and nothing to retry or request.
    let forged = json!({"id": "apr_00000000000000000000000000000000", "approved_until": "2030-01-01T00:00:00Z"});
    let answer = post(&app, EVALUATION, &with_approval("todo-2", &forged))
        .await
        .json();
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["reason"], "approval_unverifiable");
    assert_eq!(answer["context"]["next_action"], "none");
    // Jerry's approval presented for Beth.
    let mut beths = with_approval("todo-1", &approval);
    beths["subject"]["id"] = json!(BETH);
    let answer = post(&app, EVALUATION, &beths).await.json();
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["reason"], "approval_unverifiable");
    // Another session than the one approved (a context member bound to it) is out of scope.
    let mut elsewhere = with_approval("todo-1", &approval);
    elsewhere["context"]["session_id"] = json!("jerry-phone");
    let answer = post(&app, EVALUATION, &elsewhere).await.json();
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["reason"], "out_of_scope");
    // Revoked, the approval ends at the next evaluation.
    let allowed = post(&app, EVALUATION, &with_approval("todo-1", &approval))
        .await
        .json();
    assert_eq!(allowed["decision"], true);
    let grant = app
        .store
        .list_grants(
            &elevator::domain::Subject::parse(JERRY).unwrap(),
            false,
            elevator::clock::Clock::now(&*app.clock),
        )
        .await
        .unwrap()
        .remove(0);
    app.elevations()
        .revoke_grant(authed(
            &app.admin(),
            pb::RevokeGrantRequest {
                grant_id: grant.id.to_string(),
                reason: "no longer needed".into(),
            },
        ))
        .await
        .expect("the admin revokes");
    let revoked = post(&app, EVALUATION, &with_approval("todo-1", &approval))
        .await
        .json();
    assert_eq!(revoked["decision"], false);
    assert_eq!(revoked["context"]["reason"], "approval_expired");
    assert_eq!(revoked["context"]["next_action"], "request");
}

#[tokio::test]
async fn a_task_is_only_the_submitters_and_a_pending_one_can_be_cancelled_once() {
    let app = jit_app(Backend::Memory).await;
    let question = jerry_asks("todo-1");
    let denial = post(&app, EVALUATION, &question).await.json();
    let submitted = submit(
        &app,
        &app.pep(),
        "c1",
        &submission(&question, &denial, Some("why")),
    )
    .await;
    let task = submitted.json()["task"].clone();
    let status_path = path_of(&task["status_endpoint"]);
    let other_pep = app.token("other-gateway", &[], &["elevator:check"], None, None);
    let foreign = get(&app, &other_pep, &status_path).await;
    assert_eq!(foreign.status, 404);
    assert_eq!(
        foreign.json()["type"],
        "urn:openid:authzen:access-request:error:unknown_task"
    );
    let unknown = get(&app, &app.pep(), &format!("{REQUESTS}/arq_nothing")).await;
    assert_eq!(unknown.status, 404);
    // Jerry himself may read his task.
    let jerry = app.token(JERRY, &["viewers"], &[], None, Some(SESSION));
    assert_eq!(get(&app, &jerry, &status_path).await.status, 200);

    let cancel = |token: String| {
        let path = path_of(&task["links"]["cancel"]);
        let request = request(
            "POST",
            &path,
            Some(&token),
            &[("content-type", "application/json")],
            json!({"reason": "no_longer_needed"}).to_string(),
        );
        send(app.http_address, Protocol::Http1, request)
    };
    assert_eq!(cancel(other_pep.clone()).await.status, 404);
    let cancelled = cancel(app.pep()).await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["task"]["status"], "cancelled");
    let again = cancel(app.pep()).await;
    assert_eq!(again.status, 409);
    assert_eq!(
        again.json()["type"],
        "urn:openid:authzen:access-request:error:invalid_task_state"
    );
    assert!(beths_inbox(&app).await.is_empty());
}

#[tokio::test]
async fn a_bundle_of_items_from_separate_denials_becomes_one_elevation_each() {
    let app = jit_app(Backend::Memory).await;
    let mut items = Vec::new();
    for todo in ["todo-5", "todo-6"] {
        let denial = post(&app, EVALUATION, &jerry_asks(todo)).await.json();
        let bound = submission(&jerry_asks(todo), &denial, None);
        items.push(json!({"resource": bound["resource"], "action": bound["action"], "denial": bound["denial"]}));
    }
    let body = json!({
        "subject": {"type": "user", "id": JERRY},
        "items": items,
        "context": {"access_request_profile": true, "session_id": SESSION, "business_justification": "both"},
    });
    let submitted = submit(&app, &app.pep(), "b1", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let task = submitted.json()["task"].clone();
    assert_eq!(task["items"].as_array().unwrap().len(), 2);
    let pending = beths_inbox(&app).await;
    assert_eq!(pending.len(), 2);
    approve(&app, &beth(&app), &pending[0].id).await.unwrap();
    let deny = app
        .approvals()
        .deny(authed(
            &beth(&app),
            pb::DenyRequest {
                elevation_id: pending[1].id.clone(),
                comment: "one is enough".into(),
                ..Default::default()
            },
        ))
        .await;
    assert!(deny.is_ok());
    let done = get(&app, &app.pep(), &path_of(&task["status_endpoint"]))
        .await
        .json();
    assert_eq!(done["task"]["status"], "partial");
    let statuses: Vec<&str> = done["task"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"approved") && statuses.contains(&"denied"));
    assert!(done.get("result").is_none());
}

#[tokio::test]
async fn signed_binding_tokens_and_approval_states_bind_and_altered_ones_are_refused() {
    let app = jit_app(Backend::Memory).await;
    let metadata = get(&app, &app.pep(), "/.well-known/authzen-configuration")
        .await
        .json();
    assert!(
        metadata["jwks_uri"]
            .as_str()
            .unwrap()
            .ends_with("/.well-known/jwks.json")
    );
    let question = jerry_asks("todo-7");
    let denial = post(&app, EVALUATION, &question).await.json();
    let token = denial["context"]["access_request"]["binding_token"]
        .as_str()
        .expect("a signed binding token")
        .to_owned();
    // The token alone binds the request (the PEP echoes it, not the evaluation id).
    let mut body = submission(&question, &denial, Some("why"));
    body["denial"] = json!({
        "binding_token": token,
        "expires_at": denial["context"]["access_request"]["expires_at"],
    });
    // Altered by one character, it binds nothing.
    let mut altered = body.clone();
    let mut forged_token = token.clone();
    let last = forged_token.pop().unwrap();
    forged_token.push(if last == 'A' { 'B' } else { 'A' });
    altered["denial"]["binding_token"] = json!(forged_token);
    let refused = submit(&app, &app.pep(), "s1", &altered).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json()["type"],
        "urn:openid:authzen:access-request:error:invalid_denial_binding"
    );
    // Beside another evaluation's id, it binds nothing either.
    let other = post(&app, EVALUATION, &jerry_asks("todo-8")).await.json();
    let mut mixed = body.clone();
    mixed["denial"]["evaluation_id"] = other["context"]["evaluation_id"].clone();
    assert_eq!(submit(&app, &app.pep(), "s2", &mixed).await.status, 400);
    let submitted = submit(&app, &app.pep(), "s3", &body).await;
    assert_eq!(
        submitted.status,
        202,
        "{}",
        String::from_utf8_lossy(&submitted.body)
    );
    let status_path = path_of(&submitted.json()["task"]["status_endpoint"]);
    let pending = beths_inbox(&app).await;
    approve(&app, &beth(&app), &pending[0].id).await.unwrap();
    let approval = get(&app, &app.pep(), &status_path).await.json()["result"]["approval"].clone();
    assert!(approval["state"].as_str().is_some(), "{approval}");
    let allowed = post(&app, EVALUATION, &with_approval("todo-7", &approval))
        .await
        .json();
    assert_eq!(allowed["decision"], true);
    // A state altered, or paired with another approval's id, makes the approval count for nothing.
    let mut tampered = approval.clone();
    tampered["state"] = json!(format!("{}x", approval["state"].as_str().unwrap()));
    let answer = post(&app, EVALUATION, &with_approval("todo-7", &tampered))
        .await
        .json();
    assert_eq!(answer["decision"], true, "the grant itself still allows");
    assert!(answer["context"].get("approval").is_none(), "{answer}");
    let mut swapped = approval.clone();
    swapped["id"] = json!("apr_00000000000000000000000000000000");
    let answer = post(&app, EVALUATION, &with_approval("todo-9", &swapped))
        .await
        .json();
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["reason"], "approval_unverifiable");
}
