//! Refusals: each bad call gets the right status and a reason code, and changes nothing (the
//! store's revision and audit log stay as they were).

use chrono::TimeDelta;
use elevator::clock::Clock;
use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

struct Unchanged {
    revision: u64,
    events: usize,
}

async fn snapshot(app: &TestApp) -> Unchanged {
    Unchanged {
        revision: app.store.revision().await.unwrap(),
        events: app.audit_actions().await.len(),
    }
}

async fn assert_unchanged(app: &TestApp, before: &Unchanged, what: &str) {
    let after = snapshot(app).await;
    assert_eq!(
        after.revision, before.revision,
        "{what} changed the revision"
    );
    assert_eq!(after.events, before.events, "{what} appended audit events");
}

async fn bad_requests_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    let before = snapshot(&app).await;

    // Self-approval, even by a token that names fatma her own manager.
    let fatma_as_manager = app.token(
        "fatma",
        &["procurement-staff", "managers"],
        &[],
        Some("fatma"),
        Some("s1"),
    );
    let error = app
        .approvals()
        .approve(authed(
            &fatma_as_manager,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&error), "SELF_APPROVAL");
    assert_unchanged(&app, &before, "self-approval").await;

    // An approver from the wrong group (a manager, but not fatma's).
    let mallory = app.token("mallory", &["managers"], &[], None, Some("s7"));
    let error = app
        .approvals()
        .approve(authed(
            &mallory,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&error), "NOT_AN_APPROVER");
    assert_unchanged(&app, &before, "a wrong approver").await;

    // A forged token (signed with another secret) and an expired one.
    let forged = token_signed(
        b"not-the-secret",
        &app.clock,
        elevator::auth::Claims {
            sub: "ali".into(),
            ..Default::default()
        },
    );
    let error = app
        .approvals()
        .approve(authed(
            &forged,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    let expired = token_signed(
        TEST_SECRET.as_bytes(),
        &app.clock,
        elevator::auth::Claims {
            sub: "ali".into(),
            exp: (app.clock.now() - TimeDelta::minutes(5)).timestamp(),
            ..Default::default()
        },
    );
    let error = app
        .approvals()
        .approve(authed(
            &expired,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    assert!(error.message().contains("expired"));
    let error = app
        .elevations()
        .list_grants(tonic::Request::new(pb::ListGrantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_unchanged(&app, &before, "bad tokens").await;

    // An over-long duration, an unknown role, a malformed scope, a scope outside eligibility,
    // a missing reason, someone not eligible at all.
    let cases: Vec<(String, pb::RequestElevationRequest, Code, &str, &str)> = vec![
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 3 * 3600, "x"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "duration",
        ),
        (
            app.fatma(),
            elevation_request("root", "Org:Procurement", 3600, "x"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "role",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org", 3600, "x"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "scope",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement/PO:1/../x", 3600, "x"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "scope",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement2", 3600, "x"),
            Code::PermissionDenied,
            "SCOPE_NOT_ELIGIBLE",
            "",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 3600, ""),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "reason",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 0, "x"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "duration",
        ),
        (
            app.ali(),
            elevation_request("admin_approver", "Org:Procurement", 3600, "x"),
            Code::PermissionDenied,
            "NOT_ELIGIBLE",
            "",
        ),
        (
            app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 3600, "bad\u{7}reason"),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
            "reason",
        ),
    ];
    for (token, message, code, reason_code, field) in cases {
        let description = format!("{message:?}");
        let error = app
            .elevations()
            .request_elevation(authed(&token, message))
            .await
            .unwrap_err();
        assert_eq!(error.code(), code, "{description}: {error:?}");
        assert_eq!(error_reason(&error), reason_code, "{description}");
        if !field.is_empty() {
            use tonic_types::StatusExt;
            let details = error.get_error_details();
            let violations = &details
                .bad_request()
                .expect("a BadRequest detail")
                .field_violations;
            assert_eq!(violations[0].field, field, "{description}");
        }
        assert_unchanged(&app, &before, &description).await;
    }

    // Check needs the PEP role; a user token is not enough.
    let error = app
        .checks()
        .check(authed(
            &app.fatma(),
            pb::CheckRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&error), "ROLE_REQUIRED");

    // A malformed Check resource is a clear error, not an allow.
    let error = app
        .checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                subject: "fatma".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/'; DROP TABLE grants; --".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    // Someone else may not revoke fatma's grant, cancel her elevation, or list her grants.
    let error = app
        .elevations()
        .cancel_elevation(authed(
            &mallory,
            pb::CancelElevationRequest {
                id: elevation.id.clone(),
                reason: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let error = app
        .elevations()
        .list_grants(authed(
            &mallory,
            pb::ListGrantsRequest {
                subject: "fatma".into(),
                include_ended: false,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let error = app
        .elevations()
        .get_elevation(authed(
            &mallory,
            pb::GetElevationRequest {
                id: elevation.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    assert_unchanged(&app, &before, "other people's calls").await;

    // After all that, the elevation is still pending and nothing is allowed.
    let shown = app
        .elevations()
        .get_elevation(authed(
            &app.fatma(),
            pb::GetElevationRequest { id: elevation.id },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    assert_eq!(shown.state, pb::ElevationState::Pending as i32);
    assert!(shown.votes.is_empty());
    assert!(!app.check_fatma("s1").await.allowed);
}
on_both_backends!(refusals, bad_requests_are_refused_and_change_nothing);

async fn only_admins_replace_policy_and_invalid_policy_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let before = snapshot(&app).await;
    let error = app
        .policies()
        .put_policy(authed(
            &app.fatma(),
            pb::PutPolicyRequest {
                source: elevator::policy::DEMO_POLICY.into(),
                expected_version: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let error = app
        .policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: "roles: { x: { permissions: [] } }\neligibility:\n  - role: y\n    scopes: [Org]\n    who: {}\n    max_duration: soon\n".into(),
                expected_version: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&error), "INVALID_POLICY");
    {
        use tonic_types::StatusExt;
        let fields: Vec<String> = error
            .get_error_details()
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        for expected in [
            "roles.x.permissions",
            "eligibility[0].role",
            "eligibility[0].scopes[0]",
            "eligibility[0].who",
            "eligibility[0].max_duration",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} missing from {fields:?}"
            );
        }
    }
    assert_unchanged(&app, &before, "a refused policy").await;

    let validated = app
        .policies()
        .validate_policy(authed(
            &app.fatma(),
            pb::ValidatePolicyRequest {
                source: "roles: [".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!validated.valid);
    assert!(validated.problems[0].line > 0);

    // A valid put takes effect, and a stale expected version is refused.
    let narrowed = elevator::policy::DEMO_POLICY.replace("max_duration: 2h", "max_duration: 1h");
    let put = app
        .policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: narrowed.clone(),
                expected_version: 1,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(put.version, 2);
    let error = app
        .policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: narrowed,
                expected_version: 1,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    let error = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 7200, "x"),
        ))
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Code::InvalidArgument,
        "the new 1h limit applies"
    );
    let shown = app
        .policies()
        .get_policy(authed(&app.fatma(), pb::GetPolicyRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(shown.version, 2);
    assert_eq!(shown.updated_by, "root");
}
on_both_backends!(
    policy_changes,
    only_admins_replace_policy_and_invalid_policy_changes_nothing
);
