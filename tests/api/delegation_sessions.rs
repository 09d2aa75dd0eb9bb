//! Delegated grants and login sessions (issue 21, defect 1): a delegation allows nothing until
//! its delegatee takes it up in one of their sessions; from then on it counts only there and
//! ends with it. A policy entry may leave delegations unbound, and then the grant and Check
//! say so. Accepting is refused clearly, changing nothing, when it makes no sense.

use chrono::TimeDelta;
use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

/// Xen may hold `auditor` under Org:Procurement and Org:Finance (her manager approves); it may be delegated on
/// Org:Procurement bound to the delegatee's session (the default), twice along a chain, and on
/// Org:Finance unbound.
const AUDITOR_POLICY: &str = r#"
roles:
  auditor: { permissions: [audit.read] }
eligibility:
  - role: auditor
    scopes: ["Org:Procurement/**", "Org:Finance/**"]
    who: { users: [xen] }
    max_duration: 8h
    approval:
      - step: manager
        approvers: { manager_of_requester: true }
delegation:
  - role: auditor
    scopes: ["Org:Procurement/**"]
    max_depth: 2
  - role: auditor
    scopes: ["Org:Finance/**"]
    session_binding: none
"#;

async fn auditor_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(AUDITOR_POLICY.into()),
            ..Default::default()
        },
    )
    .await
}

fn hours(count: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: count * 3600,
        nanos: 0,
    })
}

/// Xen (session x1) holds `auditor` on `scope` for 8h, approved by her manager Ali.
async fn xen_holds_auditor(app: &TestApp, scope: &str) -> String {
    let xen = app.token("xen", &[], &[], Some("ali"), Some("x1"));
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &xen,
            pb::RequestElevationRequest {
                role: "auditor".into(),
                scope: scope.into(),
                duration: hours(8),
                reason: "annual audit".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    app.ali_approves(&elevation.id).await;
    xen
}

async fn delegate_auditor(
    app: &TestApp,
    token: &str,
    to: &str,
    scope: &str,
) -> Result<pb::Grant, tonic::Status> {
    app.elevations()
        .delegate(authed(
            token,
            pb::DelegateRequest {
                delegatee: to.into(),
                role: "auditor".into(),
                scope: scope.into(),
                duration: hours(5),
                reason: "cover while I am away".into(),
                ..Default::default()
            },
        ))
        .await
        .map(|response| response.into_inner().grant.expect("a delegated grant"))
}

pub(crate) async fn accept(
    app: &TestApp,
    token: &str,
    grant_id: &str,
) -> Result<pb::AcceptDelegationResponse, tonic::Status> {
    app.elevations()
        .accept_delegation(authed(
            token,
            pb::AcceptDelegationRequest {
                grant_id: grant_id.into(),
            },
        ))
        .await
        .map(|response| response.into_inner())
}

/// Delegates, and the delegatee (whose token is `delegatee_token`) takes the delegation up in
/// its session at once; returns the delegation with the revision of the acceptance.
pub(crate) async fn delegate_and_accept(
    app: &TestApp,
    token: &str,
    delegatee_token: &str,
    request: pb::DelegateRequest,
) -> Result<pb::DelegateResponse, tonic::Status> {
    let mut response = crate::delegation::delegate(app, token, request).await?;
    let grant = response.grant.as_ref().expect("an active delegation");
    let accepted = accept(app, delegatee_token, &grant.id).await?;
    response.grant = accepted.grant;
    response.revision = accepted.revision;
    Ok(response)
}

async fn yan_checks(app: &TestApp, session: &str, revision: u64) -> pb::CheckResponse {
    app.check(
        "yan",
        session,
        "audit.read",
        "Org:Procurement/PO:4711",
        revision,
    )
    .await
}

async fn a_delegated_grant_counts_only_in_the_session_that_took_it_up_and_ends_with_it(
    backend: Backend,
) {
    let app = auditor_app(backend).await;
    let xen = xen_holds_auditor(&app, "Org:Procurement").await;
    let grant = delegate_auditor(&app, &xen, "yan", "Org:Procurement")
        .await
        .unwrap();
    assert!(grant.session_id.is_empty());
    assert_eq!(
        grant.session_binding,
        pb::SessionBinding::AwaitingAcceptance as i32
    );

    // Not taken up: it allows nothing, in any session, even one that never existed.
    let revision = app.store.revision().await.unwrap();
    for session in ["y1", "a-new-one", ""] {
        let decision = yan_checks(&app, session, revision).await;
        assert!(!decision.allowed, "session {session:?}: {decision:?}");
        assert_eq!(
            reason(&decision),
            pb::DecisionReason::DelegationNotAccepted,
            "session {session:?}"
        );
    }

    // Yan takes it up in y1: it counts there, and nowhere else.
    let yan = app.token("yan", &[], &[], None, Some("y1"));
    let accepted = accept(&app, &yan, &grant.id).await.unwrap();
    let bound = accepted.grant.unwrap();
    assert_eq!(bound.session_id, "y1");
    assert_eq!(bound.session_binding, pb::SessionBinding::Bound as i32);
    let decision = yan_checks(&app, "y1", accepted.revision).await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.grant_id, grant.id);
    assert_eq!(
        decision.grant_session_binding,
        pb::SessionBinding::Bound as i32
    );
    for session in ["y2", ""] {
        let decision = yan_checks(&app, session, accepted.revision).await;
        assert!(!decision.allowed, "session {session:?}: {decision:?}");
    }
    assert_eq!(
        reason(&yan_checks(&app, "y2", accepted.revision).await),
        pb::DecisionReason::OtherSession
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"delegation.accepted".to_owned())
    );

    // Yan logs out of y1: the delegated grant ends with the session.
    let ended = app
        .elevations()
        .end_session(authed(&yan, pb::EndSessionRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.revoked_grant_ids, vec![grant.id.clone()]);
    let decision = yan_checks(&app, "y1", ended.revision).await;
    assert_eq!(reason(&decision), pb::DecisionReason::Revoked);
    // Xen's own grant is untouched by Yan's logout.
    let decision = app
        .check(
            "xen",
            "x1",
            "audit.read",
            "Org:Procurement/PO:4711",
            ended.revision,
        )
        .await;
    assert!(decision.allowed, "{decision:?}");
}
on_both_backends!(
    taken_up_in_a_session,
    a_delegated_grant_counts_only_in_the_session_that_took_it_up_and_ends_with_it
);

async fn accepting_what_cannot_be_accepted_is_refused_clearly_and_changes_nothing(
    backend: Backend,
) {
    let app = auditor_app(backend).await;
    let xen = xen_holds_auditor(&app, "Org:Procurement").await;
    let grant = delegate_auditor(&app, &xen, "yan", "Org:Procurement")
        .await
        .unwrap();
    let yan = app.token("yan", &[], &[], None, Some("y1"));
    let zed = app.token("zed", &[], &[], None, Some("z1"));
    let yan_without_session = app.token("yan", &[], &[], None, None);
    let xen_grant = app
        .elevations()
        .list_grants(authed(&xen, pb::ListGrantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .grants
        .remove(0);

    let before = app.store.revision().await.unwrap();
    let refusals = [
        (&zed, grant.id.clone(), Code::NotFound, "NOT_FOUND"),
        (&xen, grant.id.clone(), Code::NotFound, "NOT_FOUND"),
        (
            &yan_without_session,
            grant.id.clone(),
            Code::FailedPrecondition,
            "SESSION_REQUIRED",
        ),
        (
            &xen,
            xen_grant.id.clone(),
            Code::FailedPrecondition,
            "NOT_A_DELEGATION",
        ),
        (
            &yan,
            "not-a-uuid".to_owned(),
            Code::InvalidArgument,
            "INVALID_ARGUMENT",
        ),
    ];
    for (token, id, code, expected) in refusals {
        let error = accept(&app, token, &id).await.unwrap_err();
        assert_eq!(error.code(), code, "{expected}: {error:?}");
        assert_eq!(error_reason(&error), expected);
    }
    assert_eq!(app.store.revision().await.unwrap(), before);

    // Twice: the second answer says it is already taken up, from this session or another.
    accept(&app, &yan, &grant.id).await.unwrap();
    let after_accepting = app.store.revision().await.unwrap();
    let yan_elsewhere = app.token("yan", &[], &[], None, Some("y2"));
    for token in [&yan, &yan_elsewhere] {
        let error = accept(&app, token, &grant.id).await.unwrap_err();
        assert_eq!(error.code(), Code::FailedPrecondition);
        assert_eq!(error_reason(&error), "ALREADY_ACCEPTED");
        assert!(error.message().contains("y1"), "{}", error.message());
    }
    assert_eq!(app.store.revision().await.unwrap(), after_accepting);

    // Revoked, or expired, before being taken up: too late.
    let revoked = delegate_auditor(&app, &xen, "yan", "Org:Procurement/Dept:A")
        .await
        .unwrap();
    app.elevations()
        .revoke_grant(authed(
            &xen,
            pb::RevokeGrantRequest {
                grant_id: xen_grant.id.clone(),
                reason: "audit done".into(),
            },
        ))
        .await
        .unwrap();
    let error = accept(&app, &yan, &revoked.id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&error), "DELEGATION_ENDED");

    let xen = xen_holds_auditor(&app, "Org:Procurement").await;
    let expiring = delegate_auditor(&app, &xen, "yan", "Org:Procurement")
        .await
        .unwrap();
    app.clock.advance(TimeDelta::hours(6));
    let error = accept(&app, &yan, &expiring.id).await.unwrap_err();
    assert_eq!(error_reason(&error), "DELEGATION_ENDED");
    assert!(error.message().contains("EXPIRED"), "{}", error.message());
}
on_both_backends!(
    refusals,
    accepting_what_cannot_be_accepted_is_refused_clearly_and_changes_nothing
);

async fn an_unbound_delegation_counts_in_every_session_and_says_so(backend: Backend) {
    let app = auditor_app(backend).await;
    let xen = xen_holds_auditor(&app, "Org:Finance").await;
    let grant = delegate_auditor(&app, &xen, "yan", "Org:Finance")
        .await
        .unwrap();
    assert!(grant.session_id.is_empty());
    assert_eq!(grant.session_binding, pb::SessionBinding::Unbound as i32);
    let revision = app.store.revision().await.unwrap();
    for session in ["y1", "y2", ""] {
        let decision = app
            .check(
                "yan",
                session,
                "audit.read",
                "Org:Finance/Ledger:1",
                revision,
            )
            .await;
        assert!(decision.allowed, "session {session:?}: {decision:?}");
        assert_eq!(
            decision.grant_session_binding,
            pb::SessionBinding::Unbound as i32
        );
    }
    let yan = app.token("yan", &[], &[], None, Some("y1"));
    let error = accept(&app, &yan, &grant.id).await.unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&error), "NOT_SESSION_BOUND");
}
on_both_backends!(
    unbound,
    an_unbound_delegation_counts_in_every_session_and_says_so
);

async fn a_delegatee_delegates_further_only_what_it_took_up_and_its_logout_ends_the_chain(
    backend: Backend,
) {
    let app = auditor_app(backend).await;
    let xen = xen_holds_auditor(&app, "Org:Procurement").await;
    let to_yan = delegate_auditor(&app, &xen, "yan", "Org:Procurement")
        .await
        .unwrap();
    let yan = app.token("yan", &[], &[], None, Some("y1"));
    let zed = app.token("zed", &[], &[], None, Some("z1"));

    // Not taken up yet: nothing to pass on, and the answer says why.
    let error = delegate_auditor(&app, &yan, "zed", "Org:Procurement/Dept:A")
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "NOT_HELD");
    let error = app
        .elevations()
        .delegate(authed(
            &yan,
            pb::DelegateRequest {
                delegatee: "zed".into(),
                role: "auditor".into(),
                scope: "Org:Procurement/Dept:A".into(),
                duration: hours(1),
                reason: "cover".into(),
                source_grant_id: to_yan.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "DELEGATION_NOT_ACCEPTED");

    accept(&app, &yan, &to_yan.id).await.unwrap();
    let to_zed = delegate_auditor(&app, &yan, "zed", "Org:Procurement/Dept:A")
        .await
        .unwrap();
    let delegators: Vec<&str> = to_zed
        .delegation_trail
        .iter()
        .map(|hop| hop.delegator.as_str())
        .collect();
    assert_eq!(delegators, ["xen", "yan"]);
    assert_eq!(
        to_zed.session_binding,
        pb::SessionBinding::AwaitingAcceptance as i32
    );
    let accepted = accept(&app, &zed, &to_zed.id).await.unwrap();
    let resource = "Org:Procurement/Dept:A/PO:1";
    let decision = app
        .check("zed", "z1", "audit.read", resource, accepted.revision)
        .await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(decision.delegation_trail.len(), 2);

    // Yan logs out: Yan's delegated grant ends, and Zed's, taken from it, with it.
    let ended = app
        .elevations()
        .end_session(authed(&yan, pb::EndSessionRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ended.revoked_grant_ids, vec![to_yan.id.clone()]);
    let decision = app
        .check("zed", "z1", "audit.read", resource, ended.revision)
        .await;
    assert_eq!(reason(&decision), pb::DecisionReason::Revoked);
}
on_both_backends!(
    re_delegation,
    a_delegatee_delegates_further_only_what_it_took_up_and_its_logout_ends_the_chain
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepting_on_one_replica_is_seen_by_another_that_had_cached_the_waiting_grant() {
    let a = auditor_app(Backend::Postgres).await;
    let b = spawn_replica(&a, Some(AUDITOR_POLICY.into())).await;
    let xen = xen_holds_auditor(&a, "Org:Procurement").await;
    let grant = delegate_auditor(&a, &xen, "yan", "Org:Procurement")
        .await
        .unwrap();
    // B caches Yan's grants while the delegation waits.
    let revision = a.store.revision().await.unwrap();
    let waiting = yan_checks(&b, "y1", revision).await;
    assert_eq!(reason(&waiting), pb::DecisionReason::DelegationNotAccepted);

    let yan = a.token("yan", &[], &[], None, Some("y1"));
    let accepted = accept(&a, &yan, &grant.id).await.unwrap();
    let started = std::time::Instant::now();
    while !yan_checks(&b, "y1", 0).await.allowed {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "B still answers from the waiting grant"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let decision = yan_checks(&b, "y1", accepted.revision).await;
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(
        reason(&yan_checks(&b, "y2", accepted.revision).await),
        pb::DecisionReason::OtherSession
    );
}

/// Delegated grants written before migration 0005 counted in every session of their delegatee;
/// the migration puts the live ones back to waiting for acceptance (fail closed) and leaves
/// ended ones and ordinary grants alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_0005_makes_older_live_delegations_wait_to_be_taken_up() {
    let url = fresh_database().await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    // The schema as migrations 1-4 left it, recorded as applied.
    client
        .batch_execute(
            "CREATE TABLE elevator_migrations (version integer PRIMARY KEY, name text NOT NULL, \
             applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
    let earlier = [
        (
            1,
            "0001_initial",
            include_str!("../../migrations/0001_initial.sql"),
        ),
        (
            2,
            "0002_extensions",
            include_str!("../../migrations/0002_extensions.sql"),
        ),
        (
            3,
            "0003_delegation_and_outbox",
            include_str!("../../migrations/0003_delegation_and_outbox.sql"),
        ),
        (
            4,
            "0004_audit_chain",
            include_str!("../../migrations/0004_audit_chain.sql"),
        ),
    ];
    for (version, name, sql) in earlier {
        client.batch_execute(sql).await.unwrap();
        client
            .execute(
                "INSERT INTO elevator_migrations (version, name) VALUES ($1, $2)",
                &[&version, &name],
            )
            .await
            .unwrap();
    }
    let insert = |id: &str, session: Option<&str>, delegated_by: Option<&str>, revoked: bool| {
        format!(
            "INSERT INTO grants (id, subject, session_id, role, scope, not_before, not_after, \
             delegation_trail, revoked_at, revoked_by, revision, delegated_by) VALUES \
             ('{id}', 'yan', {}, 'auditor', 'Org:Procurement', now(), now() + interval '1 hour', \
             '[]', {}, {}, 1, {})",
            session.map_or("NULL".into(), |s| format!("'{s}'")),
            if revoked { "now()" } else { "NULL" },
            if revoked { "'xen'" } else { "NULL" },
            delegated_by.map_or("NULL".into(), |s| format!("'{s}'")),
        )
    };
    let live = "00000000-0000-7000-8000-000000000001";
    let ended = "00000000-0000-7000-8000-000000000002";
    let ordinary = "00000000-0000-7000-8000-000000000003";
    for statement in [
        insert(live, None, Some("xen"), false),
        insert(ended, None, Some("xen"), true),
        insert(ordinary, Some("y1"), None, false),
    ] {
        client.batch_execute(&statement).await.unwrap();
    }

    elevator::store::postgres::PostgresStore::migrate(
        &elevator::store::postgres::PostgresOptions {
            url: url.clone(),
            max_connections: 2,
            connect_timeout: std::time::Duration::from_secs(5),
            listener_backoff: std::time::Duration::from_millis(100),
            listener_name: "elevator-migration-0005".into(),
        },
    )
    .await
    .unwrap();
    let waiting = |id: &'static str| {
        let client = &client;
        async move {
            let row = client
                .query_one(
                    &format!("SELECT awaiting_acceptance FROM grants WHERE id = '{id}'"),
                    &[],
                )
                .await
                .unwrap();
            row.get::<_, bool>(0)
        }
    };
    assert!(waiting(live).await, "a live delegation now waits");
    assert!(!waiting(ended).await, "an ended one is left alone");
    assert!(
        !waiting(ordinary).await,
        "a session-bound elevation grant is left alone"
    );
}
