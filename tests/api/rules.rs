//! Policy rules, separation of duties, risk, time and scope limits, and the simulator, over
//! real gRPC. Each reason code a Check can give appears here or in `fatma`.

use chrono::TimeDelta;
use elevator::clock::Clock;
use elevator::domain::{DelegationHop, Grant, GrantId, RoleName, Scope, SessionId, Subject};
use elevator::store::Change;
use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

const RULES_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve, purchase_orders.read] }
  po_creator: { permissions: [purchase_orders.create, purchase_orders.read] }
  auditor: { permissions: [audit.read] }
eligibility:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 4h
    min_duration: 15m
    approval:
      - step: manager
        approvers: { manager_of_requester: true }
    require: [reason]
    request_rules: ["deny if risk.score > 70 || 'vpn' in risk.flags"]
    grant_rules: ["deny if risk.flags.exists(f, f == \"impossible_travel\") || risk.score > 90"]
  - role: po_creator
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 8h
  - role: auditor
    scopes: ["Org:*"]
    who: { groups: [procurement-staff] }
    max_duration: 8h
    grant_rules: ["allow if token.delegatedBy != null && context.time < 2h"]
separation_of_duties:
  - { name: po-maker-checker, roles: [po_creator, admin_approver], mode: dynamic }
"#;

async fn rules_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(RULES_POLICY.into()),
            ..Default::default()
        },
    )
    .await
}

fn ask(role: &str, scope: &str, minutes: i64) -> pb::RequestElevationRequest {
    pb::RequestElevationRequest {
        role: role.into(),
        scope: scope.into(),
        duration: Some(prost_types::Duration {
            seconds: minutes * 60,
            nanos: 0,
        }),
        reason: "month end".into(),
        ..Default::default()
    }
}

async fn request(
    app: &TestApp,
    message: pb::RequestElevationRequest,
) -> Result<pb::RequestElevationResponse, tonic::Status> {
    app.elevations()
        .request_elevation(authed(&app.fatma(), message))
        .await
        .map(|response| response.into_inner())
}

async fn report_risk(app: &TestApp, score: u32, flags: &[&str], minutes: i64) -> u64 {
    let engine = app.token("risk-engine", &[], &["elevator:risk"], None, None);
    app.checks()
        .report_risk_signal(authed(
            &engine,
            pb::ReportRiskSignalRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                score,
                flags: flags.iter().map(|f| f.to_string()).collect(),
                source: "risk-engine".into(),
                ttl: Some(prost_types::Duration {
                    seconds: minutes * 60,
                    nanos: 0,
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .revision
}

async fn check_at(
    app: &TestApp,
    permission: &str,
    resource: &str,
    min_revision: u64,
) -> pb::CheckResponse {
    app.check("fatma", "s1", permission, resource, min_revision)
        .await
}

async fn the_seed_rule_counts_only_delegated_grants_for_two_hours(backend: Backend) {
    let app = rules_app(backend).await;
    // Fatma's own auditor grant (no approval needed) does not come through a delegation.
    let own = request(&app, ask("auditor", "Org:Finance", 240))
        .await
        .unwrap();
    let own_grant = own.grant.expect("auditor needs no approval");
    let denied = check_at(&app, "audit.read", "Org:Finance", own.revision).await;
    assert!(!denied.allowed);
    assert_eq!(reason(&denied), pb::DecisionReason::RuleDenied);
    assert!(
        denied.message.contains("token.delegatedBy != null"),
        "{}",
        denied.message
    );

    // A grant Ali delegated to her counts, for two hours from its activation.
    let now = app.clock.now();
    let delegated = Grant {
        id: GrantId::generate(),
        subject: Subject::parse("fatma").unwrap(),
        session: Some(SessionId::parse("s1").unwrap()),
        role: RoleName::parse("auditor").unwrap(),
        scope: Scope::parse("Org:Sales").unwrap(),
        not_before: now,
        not_after: now + TimeDelta::hours(4),
        elevation_id: None,
        parent_grant_id: Some(GrantId(uuid::Uuid::parse_str(&own_grant.id).unwrap())),
        delegation_trail: vec![DelegationHop {
            delegator: Subject::parse("ali").unwrap(),
            delegatee: Subject::parse("fatma").unwrap(),
            scope: Scope::parse("Org:Sales").unwrap(),
            reason: "cover for me".into(),
            approvers: vec![],
            at: now,
            grant_id: GrantId::generate(),
        }],
        revocation: None,
        awaiting_acceptance: false,
        break_glass: false,
    };
    let committed = app
        .store
        .append(Change {
            grants: vec![delegated.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    app.app
        .decider()
        .forget(std::slice::from_ref(&delegated.subject), committed.revision)
        .await;
    let allowed = check_at(&app, "audit.read", "Org:Sales", committed.revision).await;
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(allowed.grant_id, delegated.id.to_string());

    app.clock.advance(TimeDelta::minutes(119));
    assert!(check_at(&app, "audit.read", "Org:Sales", 0).await.allowed);
    app.clock.advance(TimeDelta::minutes(1));
    let late = check_at(&app, "audit.read", "Org:Sales", 0).await;
    assert!(!late.allowed);
    assert_eq!(reason(&late), pb::DecisionReason::RuleDenied);
}
on_both_backends!(
    seed_rule,
    the_seed_rule_counts_only_delegated_grants_for_two_hours
);

async fn risk_refuses_requests_and_suspends_grants_while_it_holds(backend: Backend) {
    let app = rules_app(backend).await;

    // A VPN signal refuses the request, by rule, with nothing written.
    report_risk(&app, 10, &["vpn"], 15).await;
    let refused = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "RISK_DENIED");
    assert!(refused.message().contains("'vpn' in risk.flags"));

    // The engine reports the VPN gone; the request goes through and is approved.
    report_risk(&app, 5, &[], 15).await;
    let elevation = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap();
    let approved = app.ali_approves(&elevation.elevation.unwrap().id).await;
    assert!(
        check_at(
            &app,
            "purchase_orders.approve",
            "Org:Procurement/PO:1",
            approved.revision
        )
        .await
        .allowed
    );

    // Impossible travel suspends the active grant...
    let revision = report_risk(&app, 50, &["impossible_travel"], 10).await;
    let suspended = check_at(
        &app,
        "purchase_orders.approve",
        "Org:Procurement/PO:1",
        revision,
    )
    .await;
    assert!(!suspended.allowed);
    assert_eq!(reason(&suspended), pb::DecisionReason::RiskSuspended);
    assert!(suspended.message.contains("impossible_travel"));

    // ...and it counts again when the signal expires.
    app.clock.advance(TimeDelta::minutes(10));
    let released = check_at(&app, "purchase_orders.approve", "Org:Procurement/PO:1", 0).await;
    assert!(released.allowed, "{released:?}");

    // A drop reported by the engine releases it too.
    let revision = report_risk(&app, 95, &[], 30).await;
    assert_eq!(
        reason(
            &check_at(
                &app,
                "purchase_orders.approve",
                "Org:Procurement/PO:1",
                revision
            )
            .await
        ),
        pb::DecisionReason::RiskSuspended
    );
    let revision = report_risk(&app, 20, &[], 30).await;
    assert!(
        check_at(
            &app,
            "purchase_orders.approve",
            "Org:Procurement/PO:1",
            revision
        )
        .await
        .allowed
    );
}
on_both_backends!(
    risk,
    risk_refuses_requests_and_suspends_grants_while_it_holds
);

async fn separation_of_duties_holds_at_request_and_at_activation(backend: Backend) {
    let app = rules_app(backend).await;

    // At activation: admin_approver is pending when po_creator becomes active.
    let pending = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap();
    let pending_id = pending.elevation.unwrap().id;
    let maker = request(&app, ask("po_creator", "Org:Procurement", 60))
        .await
        .unwrap();
    let maker_grant = maker.grant.expect("po_creator needs no approval");
    let approved = app.ali_approves(&pending_id).await;
    let denied = approved.elevation.unwrap();
    assert_eq!(denied.state, pb::ElevationState::Denied as i32);
    assert!(
        denied.state_reason.contains("sod_conflict"),
        "{}",
        denied.state_reason
    );
    assert!(
        denied.state_reason.contains(&maker_grant.id),
        "{}",
        denied.state_reason
    );
    assert!(approved.grant.is_none());

    // At request: the conflicting grant is named.
    let refused = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "SOD_CONFLICT");
    assert!(refused.message().contains(&maker_grant.id));

    // Once the maker grant is given up, the checker role may be requested again.
    app.elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: maker_grant.id,
                reason: "done".into(),
            },
        ))
        .await
        .unwrap();
    assert!(
        request(&app, ask("admin_approver", "Org:Procurement", 60))
            .await
            .is_ok()
    );
}
on_both_backends!(
    separation_of_duties,
    separation_of_duties_holds_at_request_and_at_activation
);

#[tokio::test]
async fn static_separation_refuses_anyone_eligible_for_both_roles() {
    let policy = RULES_POLICY.replace("mode: dynamic", "mode: static");
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await;
    let refused = request(&app, ask("po_creator", "Org:Procurement", 60))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&refused), "SOD_CONFLICT");
    assert!(
        refused.message().contains("eligibility"),
        "{}",
        refused.message()
    );
}

async fn durations_are_bounded_scheduled_and_extended(backend: Backend) {
    let app = rules_app(backend).await;
    let too_short = request(&app, ask("admin_approver", "Org:Procurement", 10))
        .await
        .unwrap_err();
    assert_eq!(too_short.code(), Code::InvalidArgument);
    assert!(too_short.message().contains("at least 15m"));

    // A planned start: the grant exists but does not count until then.
    let start = app.clock.now() + TimeDelta::hours(1);
    let mut planned = ask("admin_approver", "Org:Procurement", 60);
    planned.not_before = Some(prost_types::Timestamp {
        seconds: start.timestamp(),
        nanos: 0,
    });
    let elevation = request(&app, planned).await.unwrap().elevation.unwrap();
    let approved = app.ali_approves(&elevation.id).await;
    assert_eq!(
        approved.elevation.as_ref().unwrap().state,
        pb::ElevationState::Scheduled as i32
    );
    let early = check_at(
        &app,
        "purchase_orders.approve",
        "Org:Procurement",
        approved.revision,
    )
    .await;
    assert_eq!(reason(&early), pb::DecisionReason::NotYetActive);
    app.clock.advance(TimeDelta::hours(1));
    assert!(
        check_at(&app, "purchase_orders.approve", "Org:Procurement", 0)
            .await
            .allowed
    );
    assert_eq!(app.app.sweep().await.unwrap(), 1);
    let grant = approved.grant.unwrap();

    // Extending moves not_after on the same grant once approved; no second grant.
    let extension = app
        .elevations()
        .extend_elevation(authed(
            &app.fatma(),
            pb::ExtendElevationRequest {
                id: elevation.id.clone(),
                extension: Some(prost_types::Duration {
                    seconds: 1800,
                    nanos: 0,
                }),
                reason: "still closing".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    assert_eq!(extension.state, pb::ElevationState::Pending as i32);
    let extended = app.ali_approves(&extension.id).await;
    let moved = extended.grant.expect("the extended grant");
    assert_eq!(moved.id, grant.id);
    assert_eq!(
        moved.not_after.unwrap().seconds - grant.not_after.unwrap().seconds,
        1800,
        "not_after moved by exactly the extension"
    );
    let grants = app
        .elevations()
        .list_grants(authed(
            &app.fatma(),
            pb::ListGrantsRequest {
                subject: String::new(),
                include_ended: true,
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grants;
    assert_eq!(grants.len(), 1, "no second grant");
    app.clock.advance(TimeDelta::minutes(75));
    assert!(
        check_at(&app, "purchase_orders.approve", "Org:Procurement", 0)
            .await
            .allowed,
        "still within the extension"
    );
    app.clock.advance(TimeDelta::minutes(15));
    assert_eq!(
        reason(&check_at(&app, "purchase_orders.approve", "Org:Procurement", 0).await),
        pb::DecisionReason::Expired
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"grant.extended".to_owned())
    );

    // An extension that would outlast max_duration (4h) is refused up front.
    let long = request(&app, ask("admin_approver", "Org:Procurement", 200))
        .await
        .unwrap();
    app.ali_approves(&long.elevation.as_ref().unwrap().id).await;
    let error = app
        .elevations()
        .extend_elevation(authed(
            &app.fatma(),
            pb::ExtendElevationRequest {
                id: long.elevation.unwrap().id,
                extension: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                reason: "more".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}
on_both_backends!(durations, durations_are_bounded_scheduled_and_extended);

#[tokio::test]
async fn invalid_rules_are_refused_with_their_place_and_the_old_policy_stays() {
    let app = rules_app(Backend::Memory).await;
    let broken = RULES_POLICY.replace(
        "allow if token.delegatedBy != null && context.time < 2h",
        "allow if token.delegatedBy != null && context.time < 2",
    );
    let error = app
        .policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: broken.clone(),
                expected_version: 0,
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "INVALID_POLICY");
    use tonic_types::StatusExt;
    let violation = error
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations[0]
        .clone();
    let line = broken
        .lines()
        .position(|l| l.contains("context.time < 2\""))
        .unwrap()
        + 1;
    assert!(
        violation.field.starts_with(&format!(
            "eligibility[2].grant_rules[0] (line {line}, column"
        )),
        "{violation:?}"
    );
    assert!(
        violation
            .description
            .contains("comparison cannot take duration and int"),
        "{violation:?}"
    );

    for (broken_rule, expected) in [
        ("deny if user.score > 1", "unknown variable"),
        (
            "deny if grant.role == 'x'",
            "not known when a request is made",
        ),
        ("maybe if true", "allow if"),
    ] {
        let source = RULES_POLICY.replace(
            "deny if risk.score > 70 || 'vpn' in risk.flags",
            broken_rule,
        );
        let validated = app
            .policies()
            .validate_policy(authed(&app.admin(), pb::ValidatePolicyRequest { source }))
            .await
            .unwrap()
            .into_inner();
        assert!(!validated.valid);
        assert_eq!(
            validated.problems[0].path,
            "eligibility[0].request_rules[0]"
        );
        assert!(
            validated.problems[0].message.contains(expected),
            "{:?}",
            validated.problems
        );
        assert!(validated.problems[0].line > 0 && validated.problems[0].column > 0);
    }
    let in_force = app
        .policies()
        .get_policy(authed(&app.fatma(), pb::GetPolicyRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(in_force.version, 1);
    assert_eq!(in_force.source, RULES_POLICY);
}

async fn simulations_answer_what_the_real_flow_then_does(backend: Backend) {
    let app = rules_app(backend).await;
    let simulate = |message: pb::RequestElevationRequest, risk: Option<pb::RiskOverride>| {
        let app = &app;
        async move {
            app.elevations()
                .simulate_elevation(authed(
                    &app.fatma(),
                    pb::SimulateElevationRequest {
                        request: Some(message),
                        at: None,
                        risk,
                        requester: None,
                    },
                ))
                .await
                .unwrap()
                .into_inner()
        }
    };

    // Eligible, with its chain and window; then the real request is accepted alike.
    let preview = simulate(ask("admin_approver", "Org:Procurement", 60), None).await;
    assert!(preview.eligible, "{preview:?}");
    assert_eq!(preview.steps.len(), 1);
    assert_eq!(preview.steps[0].name, "manager");
    assert_eq!(preview.manager, "ali");
    assert_eq!(preview.rules.len(), 1);
    assert!(!preview.rules[0].held);
    assert_eq!(preview.session_id, "s1");
    assert_eq!(
        preview.not_after.unwrap().seconds - preview.not_before.unwrap().seconds,
        3600
    );
    let real = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap();
    assert_eq!(real.elevation.unwrap().steps.len(), 1);

    // Under a hypothetical VPN signal: refused by the rule, as the real request then is.
    let risky = simulate(
        ask("admin_approver", "Org:Procurement", 60),
        Some(pb::RiskOverride {
            score: 0,
            flags: vec!["vpn".into()],
        }),
    )
    .await;
    assert!(!risky.eligible);
    assert_eq!(risky.refusal_code, "RISK_DENIED");
    assert!(risky.rules[0].held);
    report_risk(&app, 0, &["vpn"], 5).await;
    let refused = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&refused), risky.refusal_code);
    app.clock.advance(TimeDelta::minutes(5));

    // Outside the eligible scopes, and over the limit: the same codes as the real answers.
    for (message, code) in [
        (
            ask("admin_approver", "Org:Procurement2", 60),
            "SCOPE_NOT_ELIGIBLE",
        ),
        (
            ask("admin_approver", "Org:Procurement", 300),
            "INVALID_ARGUMENT",
        ),
    ] {
        let preview = simulate(message.clone(), None).await;
        assert_eq!(preview.refusal_code, code);
        assert_eq!(
            error_reason(&request(&app, message).await.unwrap_err()),
            code
        );
    }

    // A Check simulated at a later time explains each grant; the real Check agrees then.
    let pending = app
        .elevations()
        .list_elevations(authed(
            &app.fatma(),
            pb::ListElevationsRequest {
                state: pb::ElevationState::Pending as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevations;
    let approved = app.ali_approves(&pending[0].id).await;
    let at_later = app.clock.now() + TimeDelta::minutes(61);
    let explained = app
        .checks()
        .simulate_check(authed(
            &app.pep(),
            pb::SimulateCheckRequest {
                check: Some(pb::CheckRequest {
                    subject: "fatma".into(),
                    session_id: "s1".into(),
                    permission: "purchase_orders.approve".into(),
                    resource: "Org:Procurement/PO:9".into(),
                    min_revision: approved.revision,
                    subject_token: String::new(),
                    ..Default::default()
                }),
                at: Some(prost_types::Timestamp {
                    seconds: at_later.timestamp(),
                    nanos: at_later.timestamp_subsec_nanos() as i32,
                }),
                risk: None,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let decision = explained.decision.unwrap();
    assert!(!decision.allowed);
    assert_eq!(
        pb::DecisionReason::try_from(decision.reason).unwrap(),
        pb::DecisionReason::Expired
    );
    assert_eq!(explained.grants.len(), 1);
    assert_eq!(
        pb::DecisionReason::try_from(explained.grants[0].reason).unwrap(),
        pb::DecisionReason::Expired
    );
    assert_eq!(
        explained.grants[0].rules.len(),
        0,
        "rules are not evaluated for an expired grant"
    );
    // Nothing changed, and the real Check says the same once the time has come.
    assert!(
        check_at(&app, "purchase_orders.approve", "Org:Procurement/PO:9", 0)
            .await
            .allowed
    );
    app.clock.set(at_later);
    let real = check_at(&app, "purchase_orders.approve", "Org:Procurement/PO:9", 0).await;
    assert_eq!(real.reason, decision.reason);
    assert_eq!(real.grant_id, decision.grant_id);

    // The simulator needs the PEP or admin role for Checks, and admin to act as someone else.
    let error = app
        .checks()
        .simulate_check(authed(&app.fatma(), pb::SimulateCheckRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(
        error.code(),
        Code::InvalidArgument,
        "the empty question is refused first"
    );
    let error = app
        .elevations()
        .simulate_elevation(authed(
            &app.fatma(),
            pb::SimulateElevationRequest {
                request: Some(ask("admin_approver", "Org:Procurement", 60)),
                requester: Some(pb::SimulatedRequester {
                    subject: "ali".into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}
on_both_backends!(simulator, simulations_answer_what_the_real_flow_then_does);

#[tokio::test]
async fn global_rules_apply_to_every_entry() {
    let policy = format!(
        "{RULES_POLICY}request_rules: [\"deny if request.ticket == ''\"]\ngrant_rules: [\"deny if context.time > 30m\"]\n"
    );
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await;
    let refused = request(&app, ask("po_creator", "Org:Procurement", 60))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&refused), "RULE_DENIED");
    assert!(refused.message().contains("request.ticket == ''"));
    let mut with_ticket = ask("po_creator", "Org:Procurement", 60);
    with_ticket.ticket = "CHG-7".into();
    let granted = request(&app, with_ticket).await.unwrap();
    assert!(
        check_at(
            &app,
            "purchase_orders.create",
            "Org:Procurement",
            granted.revision
        )
        .await
        .allowed
    );
    app.clock.advance(TimeDelta::minutes(31));
    let late = check_at(&app, "purchase_orders.create", "Org:Procurement", 0).await;
    assert_eq!(reason(&late), pb::DecisionReason::RuleDenied);
    assert!(late.message.contains("context.time > 30m"));
}

#[tokio::test]
async fn a_check_refuses_a_grant_that_conflicts_with_a_standing_role() {
    let app = rules_app(Backend::Memory).await;
    let elevation = request(&app, ask("admin_approver", "Org:Procurement", 60))
        .await
        .unwrap();
    let approved = app.ali_approves(&elevation.elevation.unwrap().id).await;
    // The identity provider gives Fatma po_creator permanently (in her token's roles).
    let standing = app.token(
        "fatma",
        &["procurement-staff"],
        &["po_creator"],
        Some("ali"),
        Some("s1"),
    );
    let mut question = pb::CheckRequest {
        subject: "fatma".into(),
        session_id: "s1".into(),
        permission: "purchase_orders.approve".into(),
        resource: "Org:Procurement/PO:1".into(),
        min_revision: approved.revision,
        subject_token: standing,
        ..Default::default()
    };
    let refused = app
        .checks()
        .check(authed(&app.pep(), question.clone()))
        .await
        .unwrap()
        .into_inner();
    assert!(!refused.allowed);
    assert_eq!(reason(&refused), pb::DecisionReason::SodConflict);
    assert!(
        refused.message.contains("po-maker-checker"),
        "{}",
        refused.message
    );
    question.subject_token.clear();
    assert!(
        app.checks()
            .check(authed(&app.pep(), question))
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
}
