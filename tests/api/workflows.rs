//! Approval workflows: multi-step chains, quorums and deny thresholds, automatic approval by
//! policy, every independence rule, and a hundred racing approvers.

use std::collections::HashMap;

use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

pub(crate) const WORKFLOW_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve, purchase_orders.read] }
  payments_admin: { permissions: [payments.release] }
  risk_officer: { permissions: [risk.review] }
eligibility:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 4h
    approval:
      - step: manager
        approvers: { manager_of_requester: true }
      - step: risk_officer
        approvers: { groups: [risk-officers], roles: [risk_officer] }
        quorum: 2
        deny_threshold: 2
  - role: payments_admin
    scopes: ["Org:Payments/**"]
    who: { groups: [procurement-staff] }
    max_duration: 2h
    approval:
      - step: finance
        approvers: { users: [fin1, fin2, fin3] }
        quorum: 2
        auto_approve: "auto_approve if request.duration <= 30m && risk.score < 20"
  - role: risk_officer
    scopes: ["Org:*"]
    who: { users: [mallory] }
    max_duration: 1h
delegation:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    max_depth: 3
    max_duration: 4h
"#;

pub(crate) async fn workflow_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(WORKFLOW_POLICY.into()),
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
        reason: "quarter close".into(),
        ..Default::default()
    }
}

async fn request_as(
    app: &TestApp,
    token: &str,
    message: pb::RequestElevationRequest,
) -> pb::Elevation {
    app.elevations()
        .request_elevation(authed(token, message))
        .await
        .expect("the request")
        .into_inner()
        .elevation
        .unwrap()
}

async fn vote(
    app: &TestApp,
    token: &str,
    id: &str,
    approve: bool,
) -> Result<pb::Elevation, tonic::Status> {
    if approve {
        app.approvals()
            .approve(authed(
                token,
                pb::ApproveRequest {
                    elevation_id: id.into(),
                    ..Default::default()
                },
            ))
            .await
            .map(|r| r.into_inner().elevation.unwrap())
    } else {
        app.approvals()
            .deny(authed(
                token,
                pb::DenyRequest {
                    elevation_id: id.into(),
                    ..Default::default()
                },
            ))
            .await
            .map(|r| r.into_inner().elevation.unwrap())
    }
}

fn state(elevation: &pb::Elevation) -> pb::ElevationState {
    pb::ElevationState::try_from(elevation.state).unwrap()
}

async fn a_two_step_chain_opens_its_steps_in_order(backend: Backend) {
    let app = workflow_app(backend).await;
    let elevation = request_as(
        &app,
        &app.fatma(),
        ask("admin_approver", "Org:Procurement", 60),
    )
    .await;
    let rita = app.token("rita", &["risk-officers"], &[], None, Some("r"));
    let rob = app.token("rob", &["risk-officers"], &[], None, Some("r"));

    // The risk officers' step is not open before the manager's.
    let early = vote(&app, &rita, &elevation.id, true).await.unwrap_err();
    assert_eq!(error_reason(&early), "NOT_AN_APPROVER");

    let after_manager = vote(&app, &app.ali(), &elevation.id, true).await.unwrap();
    assert_eq!(state(&after_manager), pb::ElevationState::Pending);
    assert!(after_manager.steps[0].met);
    assert!(!after_manager.steps[1].met);

    // Rita's inbox now shows it; Ali's does not any more.
    let inbox = |token: String| {
        let app = &app;
        async move {
            app.approvals()
                .list_pending_approvals(authed(&token, pb::ListPendingApprovalsRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .elevations
                .len()
        }
    };
    assert_eq!(inbox(rita.clone()).await, 1);
    assert_eq!(inbox(app.ali()).await, 0);

    let after_rita = vote(&app, &rita, &elevation.id, true).await.unwrap();
    assert_eq!(
        state(&after_rita),
        pb::ElevationState::Pending,
        "quorum 2 needs a second officer"
    );
    let done = vote(&app, &rob, &elevation.id, true).await.unwrap();
    assert_eq!(state(&done), pb::ElevationState::Active);
    assert_eq!(done.votes.len(), 3);
}
on_both_backends!(two_step_chain, a_two_step_chain_opens_its_steps_in_order);

async fn quorum_counts_distinct_people_and_deny_thresholds_hold(backend: Backend) {
    let app = workflow_app(backend).await;
    let fin = |name: &str| app.token(name, &["finance"], &[], None, Some("f"));

    // 2 of 3, with a duplicate approver: the repeat counts nothing and says so.
    let payment = request_as(
        &app,
        &app.fatma(),
        ask("payments_admin", "Org:Payments", 60),
    )
    .await;
    assert_eq!(
        state(&payment),
        pb::ElevationState::Pending,
        "60m is over the auto-approval limit"
    );
    let once = vote(&app, &fin("fin1"), &payment.id, true).await.unwrap();
    let twice = vote(&app, &fin("fin1"), &payment.id, true)
        .await
        .unwrap_err();
    assert_eq!(once.votes.len(), 1);
    assert_eq!(
        error_reason(&twice),
        "ALREADY_APPROVED",
        "the same approver counts once"
    );
    let changed_mind = vote(&app, &fin("fin1"), &payment.id, false)
        .await
        .unwrap_err();
    assert_eq!(error_reason(&changed_mind), "ALREADY_VOTED");
    let outsider = vote(&app, &fin("fin9"), &payment.id, true)
        .await
        .unwrap_err();
    assert_eq!(error_reason(&outsider), "NOT_AN_APPROVER");
    let done = vote(&app, &fin("fin2"), &payment.id, true).await.unwrap();
    assert_eq!(state(&done), pb::ElevationState::Active);

    // Deny threshold 2: one officer's denial leaves it pending, a second denies it.
    let elevation = request_as(
        &app,
        &app.fatma(),
        ask("admin_approver", "Org:Procurement", 60),
    )
    .await;
    vote(&app, &app.ali(), &elevation.id, true).await.unwrap();
    let rita = app.token("rita", &["risk-officers"], &[], None, Some("r"));
    let rob = app.token("rob", &["risk-officers"], &[], None, Some("r"));
    assert_eq!(
        state(&vote(&app, &rita, &elevation.id, false).await.unwrap()),
        pb::ElevationState::Pending
    );
    assert_eq!(
        state(&vote(&app, &rob, &elevation.id, false).await.unwrap()),
        pb::ElevationState::Denied
    );
}
on_both_backends!(
    quorum_and_thresholds,
    quorum_counts_distinct_people_and_deny_thresholds_hold
);

async fn policy_approves_automatically_when_its_rule_holds(backend: Backend) {
    let app = workflow_app(backend).await;
    let quick = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            ask("payments_admin", "Org:Payments/Run:7", 20),
        ))
        .await
        .unwrap()
        .into_inner();
    let elevation = quick.elevation.unwrap();
    assert_eq!(state(&elevation), pb::ElevationState::Active);
    assert!(quick.grant.is_some());
    assert!(elevation.votes[0].approver == "policy");
    let events = app.store.audit_events(0, 1000).await.unwrap();
    let auto = events
        .iter()
        .find(|e| e.event.action.as_str() == "approval.auto_approved")
        .expect("the automatic approval is audited");
    assert!(
        auto.event.reason.contains("request.duration <= 30m"),
        "{}",
        auto.event.reason
    );
    assert_eq!(auto.event.actor, "system");

    // Under risk the rule does not hold: people decide.
    let engine = app.token("engine", &[], &["elevator:risk"], None, None);
    app.checks()
        .report_risk_signal(authed(
            &engine,
            pb::ReportRiskSignalRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                score: 50,
                source: "engine".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let held = request_as(
        &app,
        &app.fatma(),
        ask("payments_admin", "Org:Payments/Run:8", 20),
    )
    .await;
    assert_eq!(state(&held), pb::ElevationState::Pending);
}
on_both_backends!(
    auto_approval,
    policy_approves_automatically_when_its_rule_holds
);

async fn approvers_must_be_independent_and_cannot_bootstrap(backend: Backend) {
    let app = workflow_app(backend).await;

    // The requester never approves, at any step: even in the risk officers' group.
    let officer_fatma = app.token(
        "fatma",
        &["procurement-staff", "risk-officers"],
        &[],
        Some("ali"),
        Some("s1"),
    );
    let elevation = request_as(
        &app,
        &officer_fatma,
        ask("admin_approver", "Org:Procurement", 60),
    )
    .await;
    vote(&app, &app.ali(), &elevation.id, true).await.unwrap();
    let own = vote(&app, &officer_fatma, &elevation.id, true)
        .await
        .unwrap_err();
    assert_eq!(error_reason(&own), "SELF_APPROVAL");

    // One person counts once across the request: Ali, also an officer, cannot fill step two.
    let officer_ali = app.token("ali", &["managers", "risk-officers"], &[], None, Some("s9"));
    let again = vote(&app, &officer_ali, &elevation.id, true)
        .await
        .unwrap_err();
    assert_eq!(
        error_reason(&again),
        "ALREADY_APPROVED",
        "Ali's second approval counts nothing and says so"
    );
    assert!(
        again.message().contains("step \"manager\"")
            && again.message().contains("PENDING at step \"risk_officer\""),
        "{}",
        again.message()
    );

    // No bootstrapping: Mallory holds risk_officer through an elevation, which does not make
    // her an approver; the same role standing in her own token does.
    let mallory = app.token("mallory", &[], &[], None, Some("m1"));
    let bootstrap = request_as(&app, &mallory, ask("risk_officer", "Org:Procurement", 30)).await;
    assert_eq!(state(&bootstrap), pb::ElevationState::Active);
    let refused = vote(&app, &mallory, &elevation.id, true).await.unwrap_err();
    assert_eq!(error_reason(&refused), "NOT_AN_APPROVER");
    let standing_mallory = app.token("mallory", &[], &["risk_officer"], None, Some("m1"));
    let counted = vote(&app, &standing_mallory, &elevation.id, true)
        .await
        .unwrap();
    assert_eq!(counted.steps[1].approvals, 1);

    // A delegator cannot approve an elevation of the role it delegated in that chain.
    let boss_ali = app.token(
        "ali",
        &["managers"],
        &["admin_approver@Org:Procurement"],
        None,
        Some("s9"),
    );
    let delegated = app
        .elevations()
        .delegate(authed(
            &boss_ali,
            pb::DelegateRequest {
                delegatee: "fatma".into(),
                role: "admin_approver".into(),
                scope: "Org:Procurement/Dept:A".into(),
                duration: Some(prost_types::Duration {
                    seconds: 1800,
                    nanos: 0,
                }),
                reason: "cover".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(delegated.grant.is_some());
    let more = request_as(
        &app,
        &app.fatma(),
        ask("admin_approver", "Org:Procurement", 60),
    )
    .await;
    let refused = vote(&app, &app.ali(), &more.id, true).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "NOT_INDEPENDENT");
}
on_both_backends!(
    independence,
    approvers_must_be_independent_and_cannot_bootstrap
);

const RACE_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve] }
eligibility:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 2h
    approval:
      - step: approvers
        approvers: { groups: [approvers] }
        quorum: 3
        deny_threshold: 2
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_racing_approvers_count_exactly() {
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(RACE_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    for round in 0..3 {
        let elevation = app.request_fatma().await;
        let mut calls = Vec::new();
        for index in 0..100 {
            let approvals = app.approvals();
            let id = elevation.id.clone();
            let token = app.token(
                &format!("approver-{round}-{index}"),
                &["approvers"],
                &[],
                None,
                Some("s"),
            );
            // Denials are rarer than approvals, so both endings happen across rounds.
            let approve = index % 7 != round;
            calls.push(tokio::spawn(async move {
                let mut approvals = approvals;
                let result = if approve {
                    approvals
                        .approve(authed(
                            &token,
                            pb::ApproveRequest {
                                elevation_id: id,
                                ..Default::default()
                            },
                        ))
                        .await
                        .map(|_| ())
                } else {
                    approvals
                        .deny(authed(
                            &token,
                            pb::DenyRequest {
                                elevation_id: id,
                                ..Default::default()
                            },
                        ))
                        .await
                        .map(|_| ())
                };
                result.map_err(|status| (status.code(), error_reason(&status)))
            }));
        }
        let mut outcomes: HashMap<String, usize> = HashMap::new();
        for call in calls {
            let key = match call.await.unwrap() {
                Ok(()) => "ok".to_owned(),
                Err((code, reason)) => {
                    assert_eq!(code, Code::FailedPrecondition, "{reason}");
                    reason
                }
            };
            *outcomes.entry(key).or_default() += 1;
        }
        let final_state = app
            .elevations()
            .get_elevation(authed(
                &app.fatma(),
                pb::GetElevationRequest {
                    id: elevation.id.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .elevation
            .unwrap();
        let approvals = final_state
            .votes
            .iter()
            .filter(|v| v.verdict == pb::Verdict::Approve as i32)
            .count();
        let denials = final_state.votes.len() - approvals;
        match state(&final_state) {
            pb::ElevationState::Active => {
                assert_eq!(approvals, 3, "quorum counted exactly");
                assert!(denials < 2);
            }
            pb::ElevationState::Denied => {
                assert_eq!(denials, 2, "deny threshold counted exactly");
                assert!(approvals < 3);
            }
            other => panic!("round {round} ended {other:?}"),
        }
        assert_eq!(
            outcomes["ok"],
            final_state.votes.len(),
            "each recorded vote was one successful call: {outcomes:?}"
        );
        assert_eq!(
            outcomes.get("WRONG_STATE").copied().unwrap_or(0),
            100 - final_state.votes.len()
        );

        // A repeated vote changes nothing, and says so.
        let voter = &final_state.votes[0];
        let replay = app.token(&voter.approver, &["approvers"], &[], None, Some("s"));
        let before = app.store.revision().await.unwrap();
        let replayed = if voter.verdict == pb::Verdict::Approve as i32 {
            vote(&app, &replay, &elevation.id, true).await
        } else {
            vote(&app, &replay, &elevation.id, false).await
        };
        let repeated = replayed.unwrap_err();
        assert!(
            ["ALREADY_APPROVED", "ALREADY_DENIED"].contains(&error_reason(&repeated).as_str()),
            "{repeated:?}"
        );
        assert_eq!(app.store.revision().await.unwrap(), before);
    }
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
    let activated = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "grant.activated")
        .count();
    assert_eq!(
        grants.len(),
        activated,
        "one grant per activated elevation, never two"
    );
    assert!(grants.len() <= 3);
}

const UNBOUND_POLICY: &str = r#"
roles:
  auditor: { permissions: [audit.read] }
eligibility:
  - role: auditor
    scopes: ["Org:*"]
    who: { groups: [procurement-staff] }
    max_duration: 1h
    session_binding: none
"#;

async fn session_binding_none_grants_count_in_every_session(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(UNBOUND_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let created = app
        .elevations()
        .request_elevation(authed(&app.fatma(), ask("auditor", "Org:Finance", 30)))
        .await
        .unwrap()
        .into_inner();
    let grant = created.grant.unwrap();
    assert_eq!(grant.session_id, "");
    for session in ["s1", "s7", ""] {
        let decision = app
            .check(
                "fatma",
                session,
                "audit.read",
                "Org:Finance",
                created.revision,
            )
            .await;
        assert!(decision.allowed, "session {session:?}: {decision:?}");
    }
}
on_both_backends!(
    session_binding_none,
    session_binding_none_grants_count_in_every_session
);

async fn next_batch(
    stream: &mut tonic::Streaming<pb::WatchApprovalsResponse>,
) -> pb::WatchApprovalsResponse {
    tokio::time::timeout(std::time::Duration::from_secs(5), stream.message())
        .await
        .expect("a batch within five seconds")
        .expect("the stream")
        .expect("an open stream")
}

async fn watch(
    app: &TestApp,
    token: &str,
    after_revision: u64,
) -> tonic::Streaming<pb::WatchApprovalsResponse> {
    app.approvals()
        .watch_approvals(authed(token, pb::WatchApprovalsRequest { after_revision }))
        .await
        .unwrap()
        .into_inner()
}

async fn watch_streams_resume_without_missing_or_repeating(backend: Backend) {
    let app = workflow_app(backend).await;
    let rita = app.token("rita", &["risk-officers"], &[], None, Some("r"));
    let rob = app.token("rob", &["risk-officers"], &[], None, Some("r"));

    let mut ali_stream = watch(&app, &app.ali(), 0).await;
    let hello = next_batch(&mut ali_stream).await;
    assert!(hello.updates.is_empty());
    let mut fatma_stream = watch(&app, &app.fatma(), hello.revision).await;
    assert_eq!(next_batch(&mut fatma_stream).await.revision, hello.revision);

    // Fatma asks: Ali (her manager) is told it waits for him.
    let elevation = request_as(
        &app,
        &app.fatma(),
        ask("admin_approver", "Org:Procurement", 60),
    )
    .await;
    let waiting = next_batch(&mut ali_stream).await;
    assert_eq!(waiting.updates.len(), 1);
    assert_eq!(
        waiting.updates[0].kind,
        pb::ApprovalUpdateKind::AwaitingYou as i32
    );
    assert_eq!(
        waiting.updates[0].elevation.as_ref().unwrap().id,
        elevation.id
    );

    // Ali approves the first step: Fatma hears of it; Rita, watching since, is now awaited.
    let mut rita_stream = watch(&app, &rita, waiting.revision).await;
    next_batch(&mut rita_stream).await;
    vote(&app, &app.ali(), &elevation.id, true).await.unwrap();
    let decided = next_batch(&mut fatma_stream).await;
    assert_eq!(
        decided.updates[0].kind,
        pb::ApprovalUpdateKind::YourElevation as i32
    );
    assert_eq!(decided.updates[0].action, "approval.approved");
    let awaiting_rita = next_batch(&mut rita_stream).await;
    assert_eq!(
        awaiting_rita.updates[0].kind,
        pb::ApprovalUpdateKind::AwaitingYou as i32
    );

    // Fatma disconnects; the officers finish the chain meanwhile.
    let last_seen = decided.revision;
    drop(fatma_stream);
    vote(&app, &rita, &elevation.id, true).await.unwrap();
    vote(&app, &rob, &elevation.id, true).await.unwrap();

    // Reconnecting with the last revision she saw, she gets exactly what she missed, once.
    let mut resumed = watch(&app, &app.fatma(), last_seen).await;
    assert_eq!(next_batch(&mut resumed).await.revision, last_seen);
    let first = next_batch(&mut resumed).await;
    let second = next_batch(&mut resumed).await;
    assert!(first.revision > last_seen && second.revision > first.revision);
    assert_eq!(first.updates[0].action, "approval.approved");
    assert_eq!(second.updates[0].action, "grant.activated");
    assert_eq!(
        second.updates[0].elevation.as_ref().unwrap().state,
        pb::ElevationState::Active as i32
    );
    let quiet =
        tokio::time::timeout(std::time::Duration::from_millis(1500), resumed.message()).await;
    assert!(quiet.is_err(), "nothing is repeated: {quiet:?}");
}
on_both_backends!(
    watch_approvals,
    watch_streams_resume_without_missing_or_repeating
);
