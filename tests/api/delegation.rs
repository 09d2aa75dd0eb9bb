//! Delegation: chains that narrow at every hop, the cascade when a root ends (on every
//! replica), every attenuation breach refused with its reason, approval of delegations, and a
//! property test over random delegation graphs.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use proptest::prelude::*;
use tonic::Code;

use crate::delegation_sessions::{accept, delegate_and_accept};
use crate::harness::*;
use crate::on_both_backends;
use crate::workflows::{WORKFLOW_POLICY, workflow_app};
use elevator::proto::v1 as pb;

fn minutes(count: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: count * 60,
        nanos: 0,
    })
}

pub(crate) fn delegation(to: &str, scope: &str, for_minutes: i64) -> pb::DelegateRequest {
    pb::DelegateRequest {
        delegatee: to.into(),
        role: "admin_approver".into(),
        scope: scope.into(),
        duration: minutes(for_minutes),
        reason: format!("cover {scope}"),
        ..Default::default()
    }
}

pub(crate) async fn delegate(
    app: &TestApp,
    token: &str,
    request: pb::DelegateRequest,
) -> Result<pb::DelegateResponse, tonic::Status> {
    app.elevations()
        .delegate(authed(token, request))
        .await
        .map(|r| r.into_inner())
}

/// Fatma holds admin_approver on Org:Procurement for 2h (approved by Ali and two officers).
pub(crate) async fn fatma_holds_the_root(app: &TestApp) -> pb::Grant {
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                duration: minutes(120),
                reason: "quarter close".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    app.ali_approves(&elevation.id).await;
    for officer in ["rita", "rob"] {
        let token = app.token(officer, &["risk-officers"], &[], None, Some("r"));
        app.approvals()
            .approve(authed(
                &token,
                pb::ApproveRequest {
                    elevation_id: elevation.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }
    app.elevations()
        .list_grants(authed(&app.fatma(), pb::ListGrantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .grants
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_narrowing_chain_of_three_ends_at_once_on_every_replica_when_its_root_is_revoked() {
    let a = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(WORKFLOW_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let b = spawn_replica(&a, Some(WORKFLOW_POLICY.into())).await;
    let root = fatma_holds_the_root(&a).await;

    let bob = a.token("bob", &[], &[], None, Some("b1"));
    let carol = a.token("carol", &[], &[], None, Some("c1"));
    let dave = a.token("dave", &[], &[], None, Some("d1"));
    let to_bob = delegate_and_accept(
        &a,
        &a.fatma(),
        &bob,
        delegation("bob", "Org:Procurement/Dept:A", 90),
    )
    .await
    .unwrap();
    let to_carol = delegate_and_accept(
        &a,
        &bob,
        &carol,
        delegation("carol", "Org:Procurement/Dept:A/Team:1", 60),
    )
    .await
    .unwrap();
    let to_dave = delegate_and_accept(
        &a,
        &carol,
        &dave,
        delegation("dave", "Org:Procurement/Dept:A/Team:1/PO:9", 30),
    )
    .await
    .unwrap();
    let dave_grant = to_dave.grant.unwrap();
    assert_eq!(dave_grant.delegation_trail.len(), 3);
    let delegators: Vec<&str> = dave_grant
        .delegation_trail
        .iter()
        .map(|hop| hop.delegator.as_str())
        .collect();
    assert_eq!(delegators, ["fatma", "bob", "carol"]);

    let resource = "Org:Procurement/Dept:A/Team:1/PO:9";
    let holders = [
        ("bob", "b1", to_bob.revision),
        ("carol", "c1", to_carol.revision),
        ("dave", "d1", to_dave.revision),
    ];
    for (holder, session, revision) in holders {
        let decision = b
            .check(
                holder,
                session,
                "purchase_orders.approve",
                resource,
                revision,
            )
            .await;
        assert!(decision.allowed, "{holder}: {decision:?}");
        assert!(!decision.delegation_trail.is_empty());
    }
    // Dave's Check carries the whole trail, root first.
    let decision = b
        .check("dave", "d1", "purchase_orders.approve", resource, 0)
        .await;
    assert_eq!(decision.delegation_trail.len(), 3);
    assert_eq!(decision.delegation_trail[2].delegatee, "dave");

    // Revoke the root through A: every delegate is denied on B at once (within a second).
    a.elevations()
        .revoke_grant(authed(
            &a.fatma(),
            pb::RevokeGrantRequest {
                grant_id: root.id.clone(),
                reason: "done".into(),
            },
        ))
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let mut allowed = Vec::new();
        for (holder, session, _) in holders {
            if b.check(holder, session, "purchase_orders.approve", resource, 0)
                .await
                .allowed
            {
                allowed.push(holder);
            }
        }
        if allowed.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still allowed on B: {allowed:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for (holder, session, _) in holders {
        let decision = b
            .check(holder, session, "purchase_orders.approve", resource, 0)
            .await;
        assert_eq!(reason(&decision), pb::DecisionReason::Revoked, "{holder}");
    }
    let revoked = a
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "grant.revoked")
        .count();
    assert_eq!(
        revoked, 4,
        "the root and its three delegates, in one transaction"
    );
}

async fn every_attenuation_breach_is_refused_with_its_reason(backend: Backend) {
    let app = workflow_app(backend).await;
    fatma_holds_the_root(&app).await;
    let before = app.store.revision().await.unwrap();
    let cases = [
        (
            delegation("bob", "Org:Finance", 30),
            Code::PermissionDenied,
            "SCOPE_NOT_DELEGABLE",
        ),
        (
            delegation("bob", "Org:Procurement/Dept:A", 180),
            Code::PermissionDenied,
            "OUTLASTS_DELEGATOR",
        ),
        (
            pb::DelegateRequest {
                role: "payments_admin".into(),
                ..delegation("bob", "Org:Payments", 30)
            },
            Code::PermissionDenied,
            "NOT_DELEGABLE",
        ),
        (
            delegation("fatma", "Org:Procurement", 30),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
        (
            pb::DelegateRequest {
                reason: String::new(),
                ..delegation("bob", "Org:Procurement", 30)
            },
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
    ];
    for (request, code, expected) in cases {
        let description = format!("{request:?}");
        let error = delegate(&app, &app.fatma(), request).await.unwrap_err();
        assert_eq!(error.code(), code, "{description}: {error:?}");
        assert_eq!(error_reason(&error), expected, "{description}");
    }
    // Someone who holds nothing has nothing to delegate; a wider scope than held is refused.
    let bob = app.token("bob", &[], &[], None, Some("b1"));
    let error = delegate(&app, &bob, delegation("carol", "Org:Procurement", 30))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "NOT_HELD");
    delegate_and_accept(
        &app,
        &app.fatma(),
        &bob,
        delegation("bob", "Org:Procurement/Dept:A", 60),
    )
    .await
    .unwrap();
    let error = delegate(
        &app,
        &bob,
        delegation("carol", "Org:Procurement/Dept:B", 30),
    )
    .await
    .unwrap_err();
    assert_eq!(error_reason(&error), "NOT_HELD", "Bob holds Dept:A only");
    let bobs = app
        .elevations()
        .list_grants(authed(&bob, pb::ListGrantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .grants;
    let explicit = pb::DelegateRequest {
        source_grant_id: bobs[0].id.clone(),
        ..delegation("carol", "Org:Procurement", 30)
    };
    let error = delegate(&app, &bob, explicit).await.unwrap_err();
    assert_eq!(error_reason(&error), "SCOPE_EXCEEDS_DELEGATOR");
    // Depth: the policy allows three delegations along one chain, not four.
    let carol = app.token("carol", &[], &[], None, Some("c1"));
    let dave = app.token("dave", &[], &[], None, Some("d1"));
    delegate_and_accept(
        &app,
        &bob,
        &carol,
        delegation("carol", "Org:Procurement/Dept:A", 50),
    )
    .await
    .unwrap();
    delegate_and_accept(
        &app,
        &carol,
        &dave,
        delegation("dave", "Org:Procurement/Dept:A", 40),
    )
    .await
    .unwrap();
    let error = delegate(
        &app,
        &dave,
        delegation("erin", "Org:Procurement/Dept:A", 30),
    )
    .await
    .unwrap_err();
    assert_eq!(error_reason(&error), "DEPTH_EXCEEDED");
    // Refusals wrote nothing: three delegations since the root, and no more.
    let delegated = app
        .audit_actions()
        .await
        .iter()
        .filter(|a| *a == "grant.delegated")
        .count();
    assert_eq!(delegated, 3);
    assert!(app.store.revision().await.unwrap() > before);
}
on_both_backends!(
    attenuation,
    every_attenuation_breach_is_refused_with_its_reason
);

async fn delegations_are_listed_and_end_with_their_delegators_session(backend: Backend) {
    let app = workflow_app(backend).await;
    let root = fatma_holds_the_root(&app).await;
    let bob = app.token("bob", &[], &[], None, Some("b1"));
    let carol = app.token("carol", &[], &[], None, Some("c1"));
    delegate_and_accept(
        &app,
        &app.fatma(),
        &bob,
        delegation("bob", "Org:Procurement/Dept:A", 60),
    )
    .await
    .unwrap();
    delegate_and_accept(
        &app,
        &bob,
        &carol,
        delegation("carol", "Org:Procurement/Dept:A/Team:1", 30),
    )
    .await
    .unwrap();

    let list = |token: String, view: pb::DelegationView, grant_id: String| {
        let app = &app;
        async move {
            app.elevations()
                .list_delegations(authed(
                    &token,
                    pb::ListDelegationsRequest {
                        view: view as i32,
                        grant_id,
                        subject: String::new(),
                        include_ended: false,
                    },
                ))
                .await
                .unwrap()
                .into_inner()
                .grants
        }
    };
    let given = list(app.fatma(), pb::DelegationView::Given, String::new()).await;
    assert_eq!(given.len(), 1);
    assert_eq!(given[0].subject, "bob");
    let received = list(bob.clone(), pb::DelegationView::Received, String::new()).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].delegation_trail[0].delegator, "fatma");
    let from_root = list(app.fatma(), pb::DelegationView::FromGrant, root.id.clone()).await;
    assert_eq!(from_root.len(), 2, "bob's and carol's");

    // Fatma logs out: her session's grant ends, and everything delegated from it.
    let ended = app
        .elevations()
        .end_session(authed(&app.fatma(), pb::EndSessionRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.revoked_grant_ids, vec![root.id.clone()]);
    for (holder, session) in [("bob", "b1"), ("carol", "c1")] {
        let decision = app
            .check(
                holder,
                session,
                "purchase_orders.approve",
                "Org:Procurement/Dept:A/Team:1",
                ended.revision,
            )
            .await;
        assert_eq!(reason(&decision), pb::DecisionReason::Revoked, "{holder}");
    }
    assert!(
        list(app.fatma(), pb::DelegationView::FromGrant, root.id)
            .await
            .is_empty()
    );
}
on_both_backends!(
    listing_and_sessions,
    delegations_are_listed_and_end_with_their_delegators_session
);

const APPROVED_DELEGATION_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve] }
eligibility: []
delegation:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    max_duration: 1h
    approval:
      - step: security
        approvers: { groups: [security] }
"#;

async fn a_delegation_can_need_approval_and_never_outlasts_its_delegator(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(APPROVED_DELEGATION_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let ali = app.token(
        "ali",
        &[],
        &["admin_approver@Org:Procurement"],
        None,
        Some("s9"),
    );
    let pending = delegate(
        &app,
        &ali,
        delegation("fatma", "Org:Procurement/Dept:A", 45),
    )
    .await
    .unwrap();
    let elevation = pending.elevation.unwrap();
    assert_eq!(elevation.state, pb::ElevationState::Pending as i32);
    assert!(pending.grant.is_none());
    assert!(
        !app.check(
            "fatma",
            "",
            "purchase_orders.approve",
            "Org:Procurement/Dept:A",
            pending.revision
        )
        .await
        .allowed
    );

    // Neither the delegator nor the delegatee may approve it.
    for interested in [
        ali.clone(),
        app.token("fatma", &["security"], &[], None, Some("s1")),
    ] {
        let error = app
            .approvals()
            .approve(authed(
                &interested,
                pb::ApproveRequest {
                    elevation_id: elevation.id.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied);
    }
    let sam = app.token("sam", &["security"], &[], None, Some("x"));
    app.clock.advance(TimeDelta::minutes(10));
    let approved = app
        .approvals()
        .approve(authed(
            &sam,
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let grant = approved.grant.expect("the delegated grant");
    assert_eq!(grant.subject, "fatma");
    assert_eq!(grant.delegation_trail[0].approvers, vec!["sam".to_owned()]);
    assert_eq!(
        grant.not_after.unwrap().seconds - grant.not_before.unwrap().seconds,
        45 * 60
    );
    let accepted = accept(&app, &app.fatma(), &grant.id).await.unwrap();
    assert!(
        app.check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/Dept:A",
            accepted.revision
        )
        .await
        .allowed
    );
    let over = delegate(&app, &ali, delegation("bob", "Org:Procurement", 90))
        .await
        .unwrap_err();
    assert_eq!(
        over.code(),
        Code::InvalidArgument,
        "capped at the entry's max_duration"
    );
}
on_both_backends!(
    approved_delegation,
    a_delegation_can_need_approval_and_never_outlasts_its_delegator
);

/// One step of a random delegation story.
#[derive(Debug, Clone)]
enum Step {
    Delegate {
        from: usize,
        to: usize,
        depth: usize,
        minutes: i64,
    },
    Revoke {
        holder: usize,
    },
    Advance {
        minutes: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0usize..5, 0usize..5, 0usize..4, 1i64..200).prop_map(|(from, to, depth, minutes)| Step::Delegate { from, to, depth, minutes }),
        1 => (0usize..5).prop_map(|holder| Step::Revoke { holder }),
        1 => (1i64..60).prop_map(|minutes| Step::Advance { minutes }),
    ]
}

const PEOPLE: [&str; 5] = ["fatma", "bob", "carol", "dave", "erin"];
const SCOPES: [&str; 4] = [
    "Org:Procurement",
    "Org:Procurement/Dept:A",
    "Org:Procurement/Dept:A/Team:1",
    "Org:Procurement/Dept:A/Team:1/PO:9",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever is attempted, no delegated grant ever holds more scope or time than its
    /// delegator's, and none outlives its delegator's grant.
    #[test]
    fn no_delegatee_ever_holds_more_than_its_delegator(steps in prop::collection::vec(step(), 1..25)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let app = workflow_app(Backend::Memory).await;
            fatma_holds_the_root(&app).await;
            let token = |who: usize| app.token(PEOPLE[who], &[], &[], Some("ali"), Some("s1"));
            for step in steps {
                match step {
                    Step::Delegate { from, to, depth, minutes } => {
                        // Refusals are expected; only what is granted must hold the invariant.
                        // What is granted is taken up at once, so chains can grow.
                        if let Ok(pb::DelegateResponse { grant: Some(grant), .. }) = delegate(&app, &token(from), delegation(PEOPLE[to], SCOPES[depth], minutes)).await {
                            accept(&app, &token(to), &grant.id).await.expect("the delegatee takes it up");
                        }
                    }
                    Step::Revoke { holder } => {
                        let grants = app.store.list_grants(&elevator::domain::Subject::parse(PEOPLE[holder]).unwrap(), false, elevator::clock::Clock::now(&*app.clock)).await.unwrap();
                        if let Some(grant) = grants.first() {
                            let _ = app.app.revoke_grant(&admin_identity(&app), grant.id, "random revoke").await;
                        }
                    }
                    Step::Advance { minutes } => app.clock.advance(TimeDelta::minutes(minutes)),
                }
                let now = elevator::clock::Clock::now(&*app.clock);
                for person in PEOPLE {
                    let subject = elevator::domain::Subject::parse(person).unwrap();
                    for grant in app.store.list_grants(&subject, true, now).await.unwrap() {
                        let Some(parent_id) = grant.parent_grant_id else { continue };
                        let parent = app.store.get_grant(parent_id).await.unwrap().expect("the parent exists");
                        assert!(parent.scope.contains(&grant.scope), "{grant:?} is wider than {parent:?}");
                        assert!(grant.not_after <= parent.not_after, "{grant:?} outlasts {parent:?}");
                        assert_eq!(grant.role, parent.role);
                        if let Some(revocation) = &parent.revocation {
                            assert!(
                                grant.revocation.is_some() || grant.not_after <= revocation.at,
                                "{grant:?} outlived the revocation of {parent:?}"
                            );
                        }
                        if !grant.has_ended(now) {
                            assert!(!parent.has_ended(now), "{grant:?} counts after {parent:?} ended");
                        }
                    }
                }
            }
        });
    }
}

fn admin_identity(app: &TestApp) -> elevator::domain::Identity {
    let auth = elevator::auth::Authenticator::new(
        &elevator::auth::AuthOptions {
            hs256_secrets: vec![TEST_SECRET.as_bytes().to_vec()],
            leeway: Duration::from_secs(5),
            ..Default::default()
        },
        app.clock.clone(),
    )
    .unwrap();
    (*auth.verify(&app.admin()).unwrap()).clone()
}
