//! gRPC Check in its AuthZEN form (a `resource_type` given) and `Elevator::evaluate_access`
//! answer every question alike: generated questions over the Todo example's directory, with
//! a resource scope template, session-bound and unbound grants of known and unknown
//! subjects, request properties that try to overrule the directory, and sessions named by
//! `session_id` on one side and by `context.session_id` on the other.

use chrono::TimeDelta;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::questions::properties;
use crate::harness::*;
use elevator::clock::Clock;
use elevator::domain::{
    AccessAction, AccessEntity, AccessQuery, Identity, Subject, session_from_context,
};
use elevator::proto::v1 as pb;
use elevator::store::Change;

const POLICY_EXTRA: &str = "\nresources:\n  todo: { scope: \"App:Todo/Todo:{id}\" }\n";

const RICK: &str = "CiRmZDA2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const MORTY: &str = "CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const JERRY: &str = "CiRmZDQ2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs";
const SUBJECTS: [&str; 6] = [
    RICK,
    MORTY,
    JERRY,
    "beth@the-smiths.com",
    "nobody",
    "jerry@the-smiths.com",
];
const EMAILS: [&str; 3] = [
    "rick@the-citadel.com",
    "morty@the-citadel.com",
    "jerry@the-smiths.com",
];
const PERMISSIONS: [&str; 6] = [
    "can_read_user",
    "can_read_todos",
    "can_create_todo",
    "can_update_todo",
    "can_delete_todo",
    "GET",
];
const RESOURCES: [(&str, &str); 5] = [
    ("todo", "t1"),
    ("todo", "t2"),
    ("todo", "a/b c"),
    ("user", "beth@the-smiths.com"),
    ("route", "/todos"),
];

/// One generated question.
#[derive(Debug, Clone)]
struct Question {
    subject: &'static str,
    subject_type: &'static str,
    claimed_email: Option<&'static str>,
    permission: &'static str,
    resource: (&'static str, &'static str),
    owner: Option<&'static str>,
    session: Option<&'static str>,
}

fn questions() -> impl Strategy<Value = Question> {
    (
        prop::sample::select(&SUBJECTS[..]),
        prop::sample::select(&["user", "identity"][..]),
        prop::option::of(prop::sample::select(&EMAILS[..])),
        prop::sample::select(&PERMISSIONS[..]),
        prop::sample::select(&RESOURCES[..]),
        prop::option::of(prop::sample::select(&EMAILS[..])),
        prop::option::of(prop::sample::select(&["s1", "s2"][..])),
    )
        .prop_map(
            |(subject, subject_type, claimed_email, permission, resource, owner, session)| {
                Question {
                    subject,
                    subject_type,
                    claimed_email,
                    permission,
                    resource,
                    owner,
                    session,
                }
            },
        )
}

fn email_json(email: Option<&str>, key: &str) -> serde_json::Value {
    match email {
        Some(email) => serde_json::json!({ key: email }),
        None => serde_json::json!({}),
    }
}

fn to_struct(json: &serde_json::Value) -> Option<prost_types::Struct> {
    let object = json.as_object()?;
    if object.is_empty() {
        return None;
    }
    Some(prost_types::Struct {
        fields: object
            .iter()
            .map(|(k, v)| {
                let kind = prost_types::value::Kind::StringValue(v.as_str().unwrap().to_owned());
                (k.clone(), prost_types::Value { kind: Some(kind) })
            })
            .collect(),
    })
}

/// The question as gRPC Check sends it (the session in `session_id`).
fn grpc_question(question: &Question, min_revision: u64) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: question.subject.into(),
        subject_type: question.subject_type.into(),
        session_id: question.session.unwrap_or_default().into(),
        permission: question.permission.into(),
        resource: question.resource.1.into(),
        resource_type: question.resource.0.into(),
        subject_properties: to_struct(&email_json(question.claimed_email, "email")),
        resource_properties: to_struct(&email_json(question.owner, "ownerID")),
        min_revision,
        ..Default::default()
    }
}

fn pep_identity(app: &TestApp) -> Identity {
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

/// The question as AuthZEN asks it (the session in `context.session_id`), decided in process:
/// allowed, reason, grant id.
async fn access_answer(
    app: &TestApp,
    question: &Question,
    min_revision: u64,
) -> (bool, String, String) {
    let context = properties(&match question.session {
        Some(session) => serde_json::json!({ "session_id": session }),
        None => serde_json::json!({}),
    });
    let subject_properties = email_json(question.claimed_email, "email");
    let resource_properties = email_json(question.owner, "ownerID");
    let query = AccessQuery {
        subject: AccessEntity::parse(
            question.subject_type,
            question.subject,
            properties(&subject_properties),
        )
        .unwrap(),
        action: AccessAction::parse(question.permission, Default::default()).unwrap(),
        resource: AccessEntity::parse(
            question.resource.0,
            question.resource.1,
            properties(&resource_properties),
        )
        .unwrap(),
        session: session_from_context(&context).unwrap(),
        context,
        token: None,
        min_revision,
    };
    let decision = app
        .app
        .evaluate_access(&pep_identity(app), &query)
        .await
        .unwrap();
    (
        decision.allowed,
        format!(
            "DECISION_REASON_{}",
            decision.reason.as_str().to_uppercase()
        ),
        decision
            .grant
            .map(|grant| grant.id.to_string())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_check_and_authzen_evaluation_answer_every_question_alike() {
    let policy = format!(
        "{}{POLICY_EXTRA}",
        include_str!("../../../examples/authzen/todo.yaml")
    );
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await;
    let now = app.clock.now();
    let committed = app
        .store
        .append(Change {
            grants: vec![
                active_grant(JERRY, "editor", "App:Todo", Some("s1"), now),
                active_grant(MORTY, "admin", "App:Todo/Todo:t2", None, now),
                active_grant("nobody", "viewer", "App:Todo/Todo:a%2Fb%20c", None, now),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    let revision = committed.revision;
    let pep = app.pep();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 200,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner
            .run(&questions(), |question| {
                let (over_grpc, in_process) = handle.block_on(async {
                    let response = app
                        .checks()
                        .check(authed(&pep, grpc_question(&question, revision)))
                        .await
                        .unwrap()
                        .into_inner();
                    (
                        (
                            response.allowed,
                            reason(&response).as_str_name().to_owned(),
                            response.grant_id,
                        ),
                        access_answer(&app, &question, revision).await,
                    )
                });
                prop_assert_eq!(&over_grpc, &in_process, "{:?}", question);
                Ok(())
            })
            .map_err(|failure| failure.to_string())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

/// The AuthZEN fields without a resource type would be ignored, so gRPC refuses them.
#[tokio::test]
async fn a_check_on_a_scope_refuses_the_authzen_fields() {
    let app = spawn_app(Backend::Memory).await;
    let status = app
        .checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                subject: "fatma".into(),
                permission: "purchase_orders.read".into(),
                resource: "Org:Procurement".into(),
                subject_type: "identity".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("resource_type"),
        "{}",
        status.message()
    );
}
