//! The audit log: one event per change with the verified actor and the request's ids, a hash
//! chain that reports exactly the row changed or deleted by hand, one linear chain under
//! concurrent writers, fail-closed writes, signed heads, listings, streams, a three-hop
//! delegation's story, and the decision log.

use std::time::Duration;

use chrono::TimeDelta;
use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use crate::workflows::WORKFLOW_POLICY;
use elevator::proto::v1 as pb;
use elevator::proto::v1::audit_service_client::AuditServiceClient;

fn audit(app: &TestApp) -> AuditServiceClient<tonic::transport::Channel> {
    AuditServiceClient::new(
        tonic::transport::Channel::from_shared(format!("http://{}", app.address))
            .unwrap()
            .connect_lazy(),
    )
}

fn auditor(app: &TestApp) -> String {
    app.token("audrey", &[], &["elevator:auditor"], None, None)
}

async fn verify(
    app: &TestApp,
    expected_head: Option<pb::SignedAuditHead>,
) -> pb::VerifyAuditChainResponse {
    audit(app)
        .verify_audit_chain(authed(
            &auditor(app),
            pb::VerifyAuditChainRequest { expected_head },
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn all_events(app: &TestApp) -> Vec<pb::AuditEvent> {
    audit(app)
        .list_audit_events(authed(
            &auditor(app),
            pb::ListAuditEventsRequest {
                page_size: 500,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .events
}

async fn every_change_appends_its_event_with_the_verified_actor(backend: Backend) {
    let app = spawn_app(backend).await;
    // The request carries a request id and a W3C trace; both are kept with its event.
    let mut request = authed(
        &app.fatma(),
        elevation_request("admin_approver", "Org:Procurement", 3600, "Q4 close"),
    );
    request
        .metadata_mut()
        .insert("x-request-id", "req-42".parse().unwrap());
    request.metadata_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let response = app.elevations().request_elevation(request).await.unwrap();
    assert_eq!(response.metadata().get("x-request-id").unwrap(), "req-42");
    let first = response.into_inner().elevation.unwrap();
    let approved = app.ali_approves(&first.id).await;
    let grant = approved.grant.unwrap();
    app.elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant.id.clone(),
                reason: "done".into(),
            },
        ))
        .await
        .unwrap();
    let second = app.request_fatma().await;
    app.elevations()
        .cancel_elevation(authed(
            &app.fatma(),
            pb::CancelElevationRequest {
                id: second.id.clone(),
                reason: "changed my mind".into(),
            },
        ))
        .await
        .unwrap();
    let third = app.request_fatma().await;
    app.approvals()
        .deny(authed(
            &app.ali(),
            pb::DenyRequest {
                elevation_id: third.id.clone(),
                comment: "no".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    app.request_fatma().await;
    app.clock.advance(TimeDelta::hours(1));
    app.app.sweep().await.unwrap();
    let engine = app.token("engine", &[], &["elevator:risk"], None, None);
    app.checks()
        .report_risk_signal(authed(
            &engine,
            pb::ReportRiskSignalRequest {
                subject: "fatma".into(),
                score: 10,
                source: "engine".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let fifth = app.request_fatma().await;
    app.ali_approves(&fifth.id).await;
    app.elevations()
        .end_session(authed(&app.fatma(), pb::EndSessionRequest::default()))
        .await
        .unwrap();

    let events = all_events(&app).await;
    let seen: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("policy.changed", "system:policy-file"),
            ("elevation.requested", "fatma"),
            ("approval.approved", "ali"),
            ("elevation.approved", "ali"),
            ("grant.activated", "system"),
            ("grant.revoked", "fatma"),
            ("elevation.requested", "fatma"),
            ("elevation.cancelled", "fatma"),
            ("elevation.requested", "fatma"),
            ("approval.denied", "ali"),
            ("elevation.denied", "ali"),
            ("elevation.requested", "fatma"),
            ("elevation.timed_out", "system"),
            ("risk.reported", "engine"),
            ("elevation.requested", "fatma"),
            ("approval.approved", "ali"),
            ("elevation.approved", "ali"),
            ("grant.activated", "system"),
            ("grant.revoked", "fatma"),
            ("session.ended", "fatma"),
        ]
    );
    let requested = &events[1];
    assert_eq!(requested.request_id, "req-42");
    assert_eq!(requested.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(requested.subject, "fatma");
    assert_eq!(requested.role, "admin_approver");
    assert_eq!(requested.scope, "Org:Procurement");
    assert_eq!(requested.elevation_id, first.id);
    assert_eq!(requested.reason, "Q4 close");
    assert_eq!(requested.policy_version, 1);
    let activated: serde_json::Value = serde_json::from_str(&events[4].details_json).unwrap();
    assert_eq!(activated["approvers"], serde_json::json!(["ali"]));
    assert!(
        events
            .iter()
            .skip(1)
            .all(|e| !e.request_id.is_empty() || e.actor == "system")
    );
    let verdict = verify(&app, None).await;
    assert!(verdict.intact, "{verdict:?}");
    assert_eq!(verdict.events_checked, events.len() as u64);
}
on_both_backends!(
    every_change,
    every_change_appends_its_event_with_the_verified_actor
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_changed_or_deleted_by_hand_is_reported_exactly() {
    let app = spawn_app(Backend::Postgres).await;
    for _ in 0..3 {
        let elevation = app.request_fatma().await;
        app.ali_approves(&elevation.id).await;
    }
    let head = audit(&app)
        .get_signed_audit_head(authed(&auditor(&app), pb::GetSignedAuditHeadRequest {}))
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap();
    assert!(verify(&app, Some(head.clone())).await.intact);
    let url = app.database_url.clone().unwrap();

    // The database itself refuses an ordinary change.
    let client = connect(&url).await;
    let refused = client
        .batch_execute("UPDATE audit_events SET reason = 'forged' WHERE seq = 3")
        .await
        .unwrap_err();
    assert!(
        refused
            .as_db_error()
            .unwrap()
            .message()
            .contains("append-only"),
        "{refused}"
    );
    let refused = client
        .execute("DELETE FROM audit_events WHERE seq = 3", &[])
        .await;
    assert!(refused.is_err(), "the trigger refuses deletes");

    // A superuser who goes around the trigger is caught: the changed row, exactly.
    let bypass = |statement: &str| {
        format!("BEGIN; SET LOCAL session_replication_role = replica; {statement}; COMMIT;")
    };
    let original: String = client
        .query_one("SELECT reason FROM audit_events WHERE seq = 3", &[])
        .await
        .unwrap()
        .get(0);
    client
        .batch_execute(&bypass(
            "UPDATE audit_events SET reason = 'forged' WHERE seq = 3",
        ))
        .await
        .unwrap();
    let verdict = verify(&app, None).await;
    assert!(!verdict.intact);
    assert_eq!(verdict.broken_seq, 3);
    assert!(verdict.problem.contains("changed"), "{}", verdict.problem);
    assert_eq!(verdict.verified_seq, 2);

    // Put back, it verifies again; a deleted row is reported as missing.
    client
        .batch_execute(&bypass(&format!(
            "UPDATE audit_events SET reason = '{original}' WHERE seq = 3"
        )))
        .await
        .unwrap();
    assert!(verify(&app, None).await.intact);
    client
        .batch_execute(&bypass("DELETE FROM audit_events WHERE seq = 5"))
        .await
        .unwrap();
    let verdict = verify(&app, None).await;
    assert_eq!(verdict.broken_seq, 5);
    assert!(verdict.problem.contains("missing"), "{}", verdict.problem);

    // Removing the tail (and rewinding the head) is caught by a signed head kept elsewhere.
    let fresh = spawn_app(Backend::Postgres).await;
    for _ in 0..2 {
        fresh.request_fatma().await;
    }
    let kept = audit(&fresh)
        .get_signed_audit_head(authed(&auditor(&fresh), pb::GetSignedAuditHeadRequest {}))
        .await
        .unwrap()
        .into_inner()
        .head
        .unwrap();
    let fresh_client = connect(fresh.database_url.as_deref().unwrap()).await;
    fresh_client
        .batch_execute(&bypass(&format!(
            "DELETE FROM audit_events WHERE seq = {last}; \
             UPDATE elevator_head SET audit_seq = {previous}, audit_hash = (SELECT hash FROM audit_events WHERE seq = {previous})",
            last = kept.seq,
            previous = kept.seq - 1
        )))
        .await
        .unwrap();
    assert!(
        verify(&fresh, None).await.intact,
        "without the kept head the truncation looks whole"
    );
    let verdict = verify(&fresh, Some(kept.clone())).await;
    assert!(!verdict.intact);
    assert_eq!(verdict.broken_seq, kept.seq);
    // A forged head (its signature no longer matching) is refused.
    let mut forged = kept;
    forged.seq -= 1;
    assert!(
        verify(&fresh, Some(forged))
            .await
            .problem
            .contains("signature")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_writers_produce_one_chain_that_verifies() {
    let app = spawn_app(Backend::Postgres).await;
    let mut writers = Vec::new();
    for writer in 0..8 {
        let elevations = app.elevations();
        let token = app.token(
            &format!("writer-{writer}"),
            &["procurement-staff"],
            &[],
            Some("ali"),
            Some("s"),
        );
        writers.push(tokio::spawn(async move {
            for _ in 0..5 {
                let mut elevations = elevations.clone();
                elevations
                    .request_elevation(authed(
                        &token,
                        elevation_request("admin_approver", "Org:Procurement", 600, "load"),
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let verdict = verify(&app, None).await;
    assert!(verdict.intact, "{verdict:?}");
    assert_eq!(
        verdict.events_checked, 41,
        "the policy change and forty requests"
    );
    let events = all_events(&app).await;
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "one linear chain");
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_audit_insert_rolls_the_change_back() {
    let app = spawn_app(Backend::Postgres).await;
    let client = connect(app.database_url.as_deref().unwrap()).await;
    client
        .batch_execute(
            "ALTER TABLE audit_events ADD CONSTRAINT refuse_poison CHECK (reason <> 'poison')",
        )
        .await
        .unwrap();
    let before = app.store.revision().await.unwrap();
    let error = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 600, "poison"),
        ))
        .await
        .unwrap_err();
    // The constraint refused a value of the request: said as such, not as INTERNAL.
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");
    assert_eq!(error_reason(&error), "CONSTRAINT_VIOLATED");
    assert_eq!(app.store.revision().await.unwrap(), before);
    let listed = app
        .elevations()
        .list_elevations(authed(&app.fatma(), pb::ListElevationsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.elevations.is_empty(),
        "no elevation without its audit event"
    );
    assert!(verify(&app, None).await.intact);
}

async fn listings_filter_page_and_show_others_only_their_own(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    app.request_fatma().await;

    let list = |token: String, request: pb::ListAuditEventsRequest| {
        let app = &app;
        async move {
            audit(app)
                .list_audit_events(authed(&token, request))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let by_ali = list(
        auditor(&app),
        pb::ListAuditEventsRequest {
            actor: "ali".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(by_ali.events.len(), 2);
    let requests = list(
        auditor(&app),
        pb::ListAuditEventsRequest {
            action: "elevation.requested".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(requests.events.len(), 2);
    let about_one = list(
        auditor(&app),
        pb::ListAuditEventsRequest {
            elevation_id: elevation.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(about_one.events.len(), 4);
    let first_page = list(
        auditor(&app),
        pb::ListAuditEventsRequest {
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let second_page = list(
        auditor(&app),
        pb::ListAuditEventsRequest {
            page_size: 2,
            page_token: first_page.next_page_token.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(second_page.events[0].seq, first_page.events[1].seq + 1);

    // Bob, neither auditor nor involved, sees nothing; Fatma sees what concerns her.
    let bob = app.token("bob", &[], &[], None, Some("b"));
    assert!(
        list(bob, pb::ListAuditEventsRequest::default())
            .await
            .events
            .is_empty()
    );
    let own = list(app.fatma(), pb::ListAuditEventsRequest::default()).await;
    assert!(!own.events.is_empty());
    assert!(
        own.events
            .iter()
            .all(|e| e.subject == "fatma" || e.actor == "fatma")
    );
    let error = audit(&app)
        .verify_audit_chain(authed(&app.fatma(), pb::VerifyAuditChainRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}
on_both_backends!(
    listings,
    listings_filter_page_and_show_others_only_their_own
);

async fn next(stream: &mut tonic::Streaming<pb::WatchAuditEventsResponse>) -> pb::AuditEvent {
    tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("an event within five seconds")
        .unwrap()
        .unwrap()
        .event
        .unwrap()
}

async fn the_audit_stream_resumes_from_a_sequence(backend: Backend) {
    let app = spawn_app(backend).await;
    app.request_fatma().await;
    let mut stream = audit(&app)
        .watch_audit_events(authed(
            &auditor(&app),
            pb::WatchAuditEventsRequest { after_seq: 0 },
        ))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(next(&mut stream).await.seq, 1);
    assert_eq!(next(&mut stream).await.seq, 2);
    let elevation = app.request_fatma().await;
    assert_eq!(next(&mut stream).await.action, "elevation.requested");
    drop(stream);
    app.ali_approves(&elevation.id).await;
    let mut resumed = audit(&app)
        .watch_audit_events(authed(
            &auditor(&app),
            pb::WatchAuditEventsRequest { after_seq: 3 },
        ))
        .await
        .unwrap()
        .into_inner();
    let actions: Vec<String> = vec![
        next(&mut resumed).await.action,
        next(&mut resumed).await.action,
        next(&mut resumed).await.action,
    ];
    assert_eq!(
        actions,
        ["approval.approved", "elevation.approved", "grant.activated"]
    );
}
on_both_backends!(audit_stream, the_audit_stream_resumes_from_a_sequence);

async fn a_three_hop_delegation_tells_its_whole_story(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(WORKFLOW_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 7200, "quarter close"),
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
                    comment: format!("ok from {officer}"),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
    }
    let hops = [
        ("fatma", "bob", "Org:Procurement/Dept:A", 90),
        ("bob", "carol", "Org:Procurement/Dept:A/Team:1", 60),
        ("carol", "dave", "Org:Procurement/Dept:A/Team:1/PO:9", 30),
    ];
    let mut last = None;
    for (from, to, scope, minutes) in hops {
        let token = if from == "fatma" {
            app.fatma()
        } else {
            app.token(from, &[], &[], None, Some("x"))
        };
        let response = app
            .elevations()
            .delegate(authed(
                &token,
                pb::DelegateRequest {
                    delegatee: to.into(),
                    role: "admin_approver".into(),
                    scope: scope.into(),
                    duration: Some(prost_types::Duration {
                        seconds: minutes * 60,
                        nanos: 0,
                    }),
                    reason: format!("{from} covers for {to}"),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        // The delegatee takes it up in its session (and may then pass it on).
        let delegatee = app.token(to, &[], &[], None, Some("x"));
        let grant = response.grant.unwrap();
        crate::delegation_sessions::accept(&app, &delegatee, &grant.id)
            .await
            .unwrap();
        last = Some(grant);
    }
    let dave = last.unwrap();
    app.elevations()
        .end_session(authed(
            &app.fatma(),
            pb::EndSessionRequest {
                reason: "logout".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();

    let trail = audit(&app)
        .get_grant_trail(authed(
            &app.token("dave", &[], &[], None, None),
            pb::GetGrantTrailRequest {
                grant_id: dave.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let holders: Vec<&str> = trail.grants.iter().map(|g| g.subject.as_str()).collect();
    assert_eq!(holders, ["fatma", "bob", "carol", "dave"]);
    let story: Vec<(&str, &str, &str)> = trail
        .events
        .iter()
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.subject.as_str()))
        .collect();
    assert_eq!(
        story,
        [
            ("elevation.requested", "fatma", "fatma"),
            ("approval.approved", "ali", "fatma"),
            ("approval.approved", "rita", "fatma"),
            ("approval.approved", "rob", "fatma"),
            ("elevation.approved", "rob", "fatma"),
            ("grant.activated", "system", "fatma"),
            ("elevation.requested", "fatma", "fatma"),
            ("elevation.approved", "system", "fatma"),
            ("grant.delegated", "fatma", "bob"),
            ("delegation.accepted", "bob", "bob"),
            ("elevation.requested", "bob", "bob"),
            ("elevation.approved", "system", "bob"),
            ("grant.delegated", "bob", "carol"),
            ("delegation.accepted", "carol", "carol"),
            ("elevation.requested", "carol", "carol"),
            ("elevation.approved", "system", "carol"),
            ("grant.delegated", "carol", "dave"),
            ("delegation.accepted", "dave", "dave"),
            ("grant.revoked", "fatma", "fatma"),
            ("grant.revoked", "fatma", "bob"),
            ("grant.revoked", "fatma", "carol"),
            ("grant.revoked", "fatma", "dave"),
        ],
        "the whole story, in order"
    );
    let approvals: Vec<&str> = trail.events[1..4]
        .iter()
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(approvals[1], "ok from rita");
    let step: serde_json::Value = serde_json::from_str(&trail.events[2].details_json).unwrap();
    assert_eq!(step["step"], "risk_officer");
    let delegated: serde_json::Value =
        serde_json::from_str(&trail.events[16].details_json).unwrap();
    assert_eq!(delegated["trail"].as_array().unwrap().len(), 3);
    assert!(trail.events.last().unwrap().reason.contains("logout"));
    // Someone outside the chain may not read it.
    let error = audit(&app)
        .get_grant_trail(authed(
            &app.token("eve", &[], &[], None, None),
            pb::GetGrantTrailRequest { grant_id: dave.id },
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
}
on_both_backends!(
    delegation_trail,
    a_three_hop_delegation_tells_its_whole_story
);

#[tokio::test]
async fn the_decision_log_keeps_denies_off_the_hot_path() {
    let path = std::env::temp_dir().join(format!(
        "elevator-decisions-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let log_path = path.clone();
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(move |config| {
                config.decision_log.enabled = true;
                config.decision_log.path = Some(log_path.display().to_string());
                config.decision_log.sample_allows = 1.0;
            })),
            ..Default::default()
        },
    )
    .await;
    let denied = app.check_fatma("s1").await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let allowed = app.check_fatma("s1").await;
    assert!(!denied.allowed && allowed.allowed);
    let started = std::time::Instant::now();
    let lines = loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 2 {
            break lines;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the decisions were not written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(lines[0]["allowed"], false);
    assert_eq!(lines[0]["reason"], "no_grant");
    assert_eq!(lines[1]["allowed"], true);
    assert_eq!(lines[1]["grant_id"], allowed.grant_id);
    assert_eq!(lines[1]["revision"], allowed.revision);
    assert!(!lines[1]["request_id"].as_str().unwrap().is_empty());
    let _ = std::fs::remove_file(path);
}
