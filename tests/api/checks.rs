//! Check's other inputs: standing roles from the end user's own token, BatchCheck, and risk
//! signals (stored, cached, refused without the reporter role).

use chrono::TimeDelta;
use tonic::Code;

use crate::harness::*;
use elevator::proto::v1 as pb;

fn question(subject: &str, session: &str, permission: &str, resource: &str) -> pb::CheckRequest {
    pb::CheckRequest {
        subject: subject.into(),
        session_id: session.into(),
        permission: permission.into(),
        resource: resource.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn standing_roles_come_from_the_subjects_own_verified_token() {
    let app = spawn_app(Backend::Memory).await;
    let bob = app.token(
        "bob",
        &[],
        &["po_creator@Org:Procurement"],
        None,
        Some("b1"),
    );
    let mut asked = question(
        "bob",
        "b1",
        "purchase_orders.create",
        "Org:Procurement/PO:1",
    );
    asked.subject_token = bob.clone();
    let allowed = app
        .checks()
        .check(authed(&app.pep(), asked.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(allowed.allowed);
    assert_eq!(allowed.role, "po_creator");
    assert!(allowed.grant_id.is_empty());

    // Outside the standing role's scope, or without the token, it does not count.
    let mut outside = asked.clone();
    outside.resource = "Org:Finance".into();
    let denied = app
        .checks()
        .check(authed(&app.pep(), outside))
        .await
        .unwrap()
        .into_inner();
    assert!(!denied.allowed);
    let mut without = asked.clone();
    without.subject_token.clear();
    assert!(
        !app.checks()
            .check(authed(&app.pep(), without))
            .await
            .unwrap()
            .into_inner()
            .allowed
    );

    // Someone else's token cannot lend its roles.
    let mut borrowed = asked.clone();
    borrowed.subject = "fatma".into();
    let error = app
        .checks()
        .check(authed(&app.pep(), borrowed))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let mut forged = asked;
    forged.subject_token = token_signed(
        b"wrong-secret",
        &app.clock,
        elevator::auth::Claims {
            sub: "bob".into(),
            roles: vec!["admin_approver".into()],
            ..Default::default()
        },
    );
    let error = app
        .checks()
        .check(authed(&app.pep(), forged))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn batch_check_answers_each_question_in_order() {
    let app = spawn_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let answers = app
        .checks()
        .batch_check(authed(
            &app.pep(),
            pb::BatchCheckRequest {
                checks: vec![
                    question(
                        "fatma",
                        "s1",
                        "purchase_orders.approve",
                        "Org:Procurement/PO:1",
                    ),
                    question(
                        "fatma",
                        "s2",
                        "purchase_orders.approve",
                        "Org:Procurement/PO:1",
                    ),
                    question("fatma", "s1", "purchase_orders.approve", "Org:Finance"),
                ],
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .results;
    let reasons: Vec<pb::DecisionReason> = answers.iter().map(reason).collect();
    assert_eq!(
        reasons,
        [
            pb::DecisionReason::Allowed,
            pb::DecisionReason::OtherSession,
            pb::DecisionReason::ScopeMismatch
        ]
    );
    let error = app
        .checks()
        .batch_check(authed(
            &app.pep(),
            pb::BatchCheckRequest {
                checks: vec![
                    question("fatma", "s1", "purchase_orders.approve", "Org:Procurement"),
                    question("fatma", "s1", "purchase_orders.approve", "not a scope"),
                ],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert!(
        error.message().contains("checks[1].resource"),
        "{}",
        error.message()
    );
}

async fn risk_signals_are_stored_and_cached(backend: Backend) {
    let app = spawn_app(backend).await;
    let signal = pb::ReportRiskSignalRequest {
        subject: "fatma".into(),
        session_id: "s1".into(),
        score: 85,
        flags: vec!["vpn".into()],
        source: "risk-engine".into(),
        ttl: Some(prost_types::Duration {
            seconds: 900,
            nanos: 0,
        }),
    };
    let error = app
        .checks()
        .report_risk_signal(authed(&app.pep(), signal.clone()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let mut bad = signal.clone();
    bad.score = 101;
    let risk_engine = app.token("risk-engine", &[], &["elevator:risk"], None, None);
    let error = app
        .checks()
        .report_risk_signal(authed(&risk_engine, bad))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);

    let decider = app.app.decider();
    assert!(
        decider
            .subject_risk("fatma", 0)
            .await
            .unwrap()
            .signals
            .is_empty()
    );
    let stored = app
        .checks()
        .report_risk_signal(authed(&risk_engine, signal))
        .await
        .unwrap()
        .into_inner();
    let cached = decider
        .subject_risk("fatma", stored.revision)
        .await
        .unwrap();
    assert_eq!(cached.signals.len(), 1);
    assert_eq!(cached.signals[0].score, 85);
    assert_eq!(cached.signals[0].flags, ["vpn"]);
    assert_eq!(app.audit_actions().await.last().unwrap(), "risk.reported");

    // It expires by itself.
    app.clock.advance(TimeDelta::minutes(16));
    let later = app
        .store
        .load_risk("fatma", elevator::clock::Clock::now(&*app.clock))
        .await
        .unwrap();
    assert!(later.value.is_empty());
}
crate::on_both_backends!(risk_signals, risk_signals_are_stored_and_cached);

#[tokio::test]
async fn grant_rules_read_how_the_subject_authenticated() {
    let policy = elevator::policy::DEMO_POLICY.replace(
        "\n\n  - role: po_creator",
        "\n    grant_rules: [\"allow if 'mfa' in token.amr\"]\n\n  - role: po_creator",
    );
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let fatma_with = |amr: &[&str]| {
        token_signed(
            TEST_SECRET.as_bytes(),
            &app.clock,
            elevator::auth::Claims {
                sub: "fatma".into(),
                sid: Some("s1".into()),
                groups: vec!["procurement-staff".into()],
                amr: amr.iter().map(|m| m.to_string()).collect(),
                ..Default::default()
            },
        )
    };
    let ask = |token: String| {
        let mut asked = question(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:1",
        );
        asked.subject_token = token;
        asked
    };
    let with_mfa = app
        .checks()
        .check(authed(&app.pep(), ask(fatma_with(&["pwd", "mfa"]))))
        .await
        .unwrap()
        .into_inner();
    assert!(with_mfa.allowed, "{with_mfa:?}");
    let password_only = app
        .checks()
        .check(authed(&app.pep(), ask(fatma_with(&["pwd"]))))
        .await
        .unwrap()
        .into_inner();
    assert!(!password_only.allowed);
    assert_eq!(reason(&password_only), pb::DecisionReason::RuleDenied);
}

/// The cache keeps only what a Check reads of a grant (no revocation text); a simulated Check
/// still shows each grant whole, read from the store, and the real Check names the same grant.
async fn a_simulated_check_shows_the_whole_grant_the_cache_does_not_keep(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();
    assert!(app.check_fatma("s1").await.allowed, "cached while allowed");
    let revoked = app
        .elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant.id.clone(),
                reason: "finished early".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let denied = app
        .checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                min_revision: revoked.revision,
                ..question(
                    "fatma",
                    "s1",
                    "purchase_orders.approve",
                    "Org:Procurement/PO:4711",
                )
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!denied.allowed);
    assert_eq!(reason(&denied), pb::DecisionReason::Revoked);
    assert_eq!(denied.grant_id, grant.id);

    let explained = app
        .checks()
        .simulate_check(authed(
            &app.pep(),
            pb::SimulateCheckRequest {
                check: Some(question(
                    "fatma",
                    "s1",
                    "purchase_orders.approve",
                    "Org:Procurement/PO:4711",
                )),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let decision = explained.decision.unwrap();
    assert_eq!(reason(&decision), pb::DecisionReason::Revoked);
    assert_eq!(explained.grants.len(), 1);
    let shown = explained.grants[0]
        .grant
        .as_ref()
        .expect("the grant, whole");
    assert_eq!(shown.id, grant.id);
    assert_eq!(shown.revoke_reason, "finished early");
    assert_eq!(shown.revoked_by, "fatma");
    assert_eq!(shown.elevation_id, elevation.id);
}

crate::on_both_backends!(
    simulated_checks_show_whole_grants,
    a_simulated_check_shows_the_whole_grant_the_cache_does_not_keep
);
