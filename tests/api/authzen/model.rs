//! What an AuthZEN question means in elevator's model: grants of the subject id join the
//! directory's standing roles, session-bound grants count only in their session (named by
//! `context.session_id`), a resource maps to its scope through the policy's template, the
//! directory's properties win over the request's, and a plain gRPC Check sees the directory's
//! standing roles too.

use chrono::TimeDelta;

use super::questions::properties;
use crate::harness::*;
use elevator::clock::Clock;
use elevator::domain::{
    AccessAction, AccessEntity, AccessQuery, DecisionReason, Grant, Identity, Subject,
    session_from_context,
};
use elevator::proto::v1 as pb;
use elevator::store::Change;

const JERRY: &str = "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const MORTY: &str = "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";

async fn todo_app() -> TestApp {
    let policy = format!(
        "{}\nresources:\n  todo: {{ scope: \"App:Todo/Todo:{{id}}\" }}\n",
        include_str!("../../../examples/authzen/todo.yaml")
    );
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await
}

fn pep(app: &TestApp) -> Identity {
    Identity {
        subject: Subject::parse("todo-backend").unwrap(),
        session: None,
        groups: Vec::new(),
        roles: vec!["elevator:check".into()],
        standing_roles: Vec::new(),
        manager: None,
        amr: Vec::new(),
        expires_at: app.clock.now() + TimeDelta::hours(1),
        issuer: None,
    }
}

/// `request` is AuthZEN JSON; the answer is (allowed, reason).
async fn ask(
    app: &TestApp,
    request: serde_json::Value,
    min_revision: u64,
) -> (bool, DecisionReason) {
    let context = properties(&request["context"]);
    let query = AccessQuery {
        subject: AccessEntity::parse(
            request["subject"]["type"].as_str().unwrap(),
            request["subject"]["id"].as_str().unwrap(),
            properties(&request["subject"]["properties"]),
        )
        .unwrap(),
        action: AccessAction::parse(
            request["action"]["name"].as_str().unwrap(),
            Default::default(),
        )
        .unwrap(),
        resource: AccessEntity::parse(
            request["resource"]["type"].as_str().unwrap(),
            request["resource"]["id"].as_str().unwrap(),
            properties(&request["resource"]["properties"]),
        )
        .unwrap(),
        session: session_from_context(&context).unwrap(),
        context,
        token: None,
        min_revision,
    };
    let decision = app.app.evaluate_access(&pep(app), &query).await.unwrap();
    (decision.allowed, decision.reason)
}

/// Writes `grant` straight to the app's store; the revision it committed at.
async fn write_grant(app: &TestApp, grant: Grant) -> u64 {
    let change = Change {
        grants: vec![grant],
        ..Default::default()
    };
    app.store.append(change).await.unwrap().revision
}

#[tokio::test]
async fn a_session_bound_grant_joins_the_directory_roles_only_in_its_session() {
    let app = todo_app().await;
    let revision = write_grant(
        &app,
        active_grant(JERRY, "editor", "App:Todo", Some("s1"), app.clock.now()),
    )
    .await;
    let update = |session: Option<&str>, owner: &str| {
        let mut request = serde_json::json!({
            "subject": {"type": "user", "id": JERRY},
            "action": {"name": "can_update_todo"},
            "resource": {"type": "todo", "id": "t1", "properties": {"ownerID": owner}},
        });
        if let Some(session) = session {
            request["context"] = serde_json::json!({"session_id": session});
        }
        request
    };
    // Jerry is a viewer in the directory; the editor grant lets him update his own todos, in
    // its session only, and the condition still holds him to his own.
    assert_eq!(
        ask(&app, update(Some("s1"), "jerry@the-smiths.com"), revision).await,
        (true, DecisionReason::Allowed)
    );
    assert_eq!(
        ask(&app, update(Some("s2"), "jerry@the-smiths.com"), revision).await,
        (false, DecisionReason::OtherSession)
    );
    assert_eq!(
        ask(&app, update(None, "jerry@the-smiths.com"), revision).await,
        (false, DecisionReason::OtherSession)
    );
    assert_eq!(
        ask(&app, update(Some("s1"), "rick@the-citadel.com"), revision).await,
        (false, DecisionReason::RuleDenied)
    );
}

#[tokio::test]
async fn a_grant_on_a_resources_scope_covers_that_resource_and_no_other() {
    let app = todo_app().await;
    let revision = write_grant(
        &app,
        active_grant(MORTY, "admin", "App:Todo/Todo:t2", None, app.clock.now()),
    )
    .await;
    let delete = |id: &str| {
        serde_json::json!({
            "subject": {"type": "user", "id": MORTY},
            "action": {"name": "can_delete_todo"},
            "resource": {"type": "todo", "id": id, "properties": {"ownerID": "rick@the-citadel.com"}},
        })
    };
    assert!(ask(&app, delete("t2"), revision).await.0);
    assert!(!ask(&app, delete("t1"), revision).await.0);
    assert!(!ask(&app, delete("t22"), revision).await.0);
}

#[tokio::test]
async fn the_directorys_properties_win_over_what_the_request_claims() {
    let app = todo_app().await;
    let claimed = serde_json::json!({
        "subject": {"type": "user", "id": MORTY, "properties": {"email": "rick@the-citadel.com"}},
        "action": {"name": "can_update_todo"},
        "resource": {"type": "todo", "id": "t1", "properties": {"ownerID": "rick@the-citadel.com"}},
    });
    assert_eq!(
        ask(&app, claimed, 0).await,
        (false, DecisionReason::RuleDenied)
    );
    // A subject the directory does not know has only what the request says, and no roles.
    let stranger = serde_json::json!({
        "subject": {"type": "user", "id": "stranger", "properties": {"email": "rick@the-citadel.com"}},
        "action": {"name": "can_read_todos"},
        "resource": {"type": "todo", "id": "t1"},
    });
    assert_eq!(
        ask(&app, stranger, 0).await,
        (false, DecisionReason::NoGrant)
    );
}

#[tokio::test]
async fn a_plain_check_counts_the_directorys_standing_roles_of_a_user() {
    let app = todo_app().await;
    let check = |subject: &str, permission: &str| pb::CheckRequest {
        subject: subject.into(),
        permission: permission.into(),
        resource: "App:Todo/Todo:t1".into(),
        ..Default::default()
    };
    let allowed = |request| {
        let app = &app;
        async move {
            app.checks()
                .check(authed(&app.pep(), request))
                .await
                .unwrap()
                .into_inner()
        }
    };
    // Found by alias; a standing role everywhere covers every scope.
    let answer = allowed(check(JERRY, "can_read_todos")).await;
    assert!(answer.allowed);
    assert_eq!(answer.role, "viewer");
    assert!(!allowed(check(JERRY, "can_create_todo")).await.allowed);
    // A conditional permission on a plain Check sees no resource properties: refused.
    assert!(!allowed(check(MORTY, "can_update_todo")).await.allowed);
}

#[tokio::test]
async fn a_simulated_check_explains_a_grant_its_permissions_condition_refuses() {
    let app = todo_app().await;
    let revision = write_grant(
        &app,
        active_grant(MORTY, "admin", "App:Todo/Todo:t2", None, app.clock.now()),
    )
    .await;
    let simulation = app
        .checks()
        .simulate_check(authed(
            &app.pep(),
            pb::SimulateCheckRequest {
                check: Some(pb::CheckRequest {
                    subject: MORTY.into(),
                    permission: "can_update_todo".into(),
                    resource: "App:Todo/Todo:t2".into(),
                    min_revision: revision,
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let decision = simulation.decision.unwrap();
    assert!(!decision.allowed);
    assert_eq!(reason(&decision), pb::DecisionReason::RuleDenied);
    let trace = &simulation.grants[0];
    assert_eq!(
        pb::DecisionReason::try_from(trace.reason).unwrap(),
        pb::DecisionReason::RuleDenied
    );
    assert!(trace.rule.contains("ownerID"), "{}", trace.rule);
}
