//! Break-glass, as an attacker would try it: the use itself (a session-bound grant at once,
//! named as break-glass by Check, ended with its session), someone the entry's condition
//! excludes, missing incident or reason, deny rules and separation of duties honoured (and an
//! explicit override the audit names), and a second use while a review is overdue. The review
//! itself is in `break_glass_review.rs`.

use chrono::TimeDelta;
use elevator::proto::v1 as pb;
use elevator::proto::v1::break_glass_service_client::BreakGlassServiceClient;
use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;

impl TestApp {
    /// BreakGlassService client.
    pub(crate) fn break_glass(&self) -> BreakGlassServiceClient<tonic::transport::Channel> {
        BreakGlassServiceClient::new(self.channel())
    }

    /// Fatma while on call for procurement, in session `sid`.
    pub(crate) fn fatma_on_call(&self, sid: &str) -> String {
        self.token(
            "fatma",
            &["procurement-staff", "procurement-oncall"],
            &[],
            Some("ali"),
            Some(sid),
        )
    }

    /// Fatma breaks glass on Org:Procurement under the demo policy's entry, as `token`.
    pub(crate) async fn fatma_breaks_glass(
        &self,
        token: &str,
    ) -> Result<pb::BreakGlassResponse, tonic::Status> {
        self.break_glass()
            .break_glass(authed(token, incident_request()))
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The demo entry, admin_approver on Org:Procurement, for the incident INC-7.
pub(crate) fn incident_request() -> pb::BreakGlassRequest {
    pb::BreakGlassRequest {
        entry: "procurement-incident".into(),
        role: "admin_approver".into(),
        scope: "Org:Procurement".into(),
        duration: None,
        reason: "supplier payment run stuck at 02:10".into(),
        incident: "INC-7".into(),
    }
}

async fn grants_of_fatma(app: &TestApp) -> Vec<pb::Grant> {
    app.elevations()
        .list_grants(authed(
            &app.fatma(),
            pb::ListGrantsRequest {
                include_ended: true,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .grants
}

async fn breaking_glass_activates_a_session_bound_grant_at_once_that_check_names(backend: Backend) {
    let app = spawn_app(backend).await;
    let used = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .expect("fatma breaks glass");
    let record = used.r#use.expect("the use");
    let grant = record.grant.clone().expect("its grant");
    assert_eq!(grant.source, pb::GrantSource::BreakGlass as i32);
    assert_eq!(grant.session_id, "night");
    assert_eq!(grant.status, pb::GrantStatus::Active as i32);
    // The entry's window, one hour, is the default and the most.
    assert_eq!(
        grant.not_after.unwrap().seconds - grant.not_before.unwrap().seconds,
        3600
    );
    assert_eq!(
        record.review_state,
        pb::BreakGlassReviewState::Pending as i32
    );
    assert_eq!(record.reviewer_users, ["ali"]);

    // Allowed at once, in that session only, and Check says it is break-glass.
    let allowed = app
        .check(
            "fatma",
            "night",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            used.revision,
        )
        .await;
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(allowed.grant_id, grant.id);
    assert_eq!(allowed.grant_source, pb::GrantSource::BreakGlass as i32);
    let elsewhere = app.check_fatma("s1").await;
    assert!(!elsewhere.allowed);
    assert_eq!(reason(&elsewhere), pb::DecisionReason::OtherSession);

    // The audit says it happened, and how.
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"break_glass.used".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"grant.activated".to_owned()),
        "{actions:?}"
    );

    // Ending the session ends the grant.
    app.elevations()
        .end_session(authed(
            &app.fatma_on_call("night"),
            pb::EndSessionRequest {
                reason: "logout".into(),
                ..Default::default()
            },
        ))
        .await
        .expect("end the session");
    let after = app
        .check(
            "fatma",
            "night",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            0,
        )
        .await;
    assert!(!after.allowed);
    assert_eq!(reason(&after), pb::DecisionReason::Revoked);
}
on_both_backends!(
    break_glass_grant,
    breaking_glass_activates_a_session_bound_grant_at_once_that_check_names
);

async fn someone_the_condition_excludes_cannot_break_glass_and_nothing_is_written(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let before = app.audit_actions().await.len();
    // Fatma off call: the entry's condition does not hold.
    let refused = app.fatma_breaks_glass(&app.fatma()).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "BREAK_GLASS_NOT_ALLOWED");
    assert!(
        refused.message().contains("procurement-oncall"),
        "{refused:?}"
    );
    // A role the entry does not name, and a scope outside it.
    let on_call = app.fatma_on_call("night");
    for (role, scope) in [
        ("po_creator", "Org:Procurement"),
        ("admin_approver", "Org:Finance"),
    ] {
        let mut request = incident_request();
        request.role = role.into();
        request.scope = scope.into();
        let refused = app
            .break_glass()
            .break_glass(authed(&on_call, request))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{role} on {scope}");
        assert_eq!(error_reason(&refused), "NOT_ELIGIBLE");
    }
    // An entry that does not exist, and no session to bind to.
    let mut unknown = incident_request();
    unknown.entry = "everything".into();
    let refused = app
        .break_glass()
        .break_glass(authed(&on_call, unknown))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let sessionless = app.token("fatma", &["procurement-oncall"], &[], None, None);
    let refused = app.fatma_breaks_glass(&sessionless).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused), "SESSION_REQUIRED");
    assert_eq!(app.audit_actions().await.len(), before);
    assert!(grants_of_fatma(&app).await.is_empty());
}
on_both_backends!(
    break_glass_condition,
    someone_the_condition_excludes_cannot_break_glass_and_nothing_is_written
);

async fn a_use_must_name_its_incident_and_reason_and_stay_within_the_window(backend: Backend) {
    let app = spawn_app(backend).await;
    let on_call = app.fatma_on_call("night");
    let cases = [
        ("incident", {
            let mut request = incident_request();
            request.incident.clear();
            request
        }),
        ("reason", {
            let mut request = incident_request();
            request.reason = "  ".into();
            request
        }),
        ("duration", {
            let mut request = incident_request();
            request.duration = Some(prost_types::Duration {
                seconds: 7200,
                nanos: 0,
            });
            request
        }),
    ];
    for (field, request) in cases {
        let refused = app
            .break_glass()
            .break_glass(authed(&on_call, request))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{field}");
        assert!(refused.message().starts_with(field), "{refused:?}");
    }
    assert!(grants_of_fatma(&app).await.is_empty());
}
on_both_backends!(
    break_glass_fields,
    a_use_must_name_its_incident_and_reason_and_stay_within_the_window
);

/// Reports a VPN signal for fatma, which the demo's request rule for admin_approver denies.
async fn fatma_on_a_vpn(app: &TestApp) {
    let engine = app.token("engine", &[], &["elevator:risk"], None, None);
    app.checks()
        .report_risk_signal(authed(
            &engine,
            pb::ReportRiskSignalRequest {
                subject: "fatma".into(),
                score: 20,
                flags: vec!["vpn".into()],
                source: "engine".into(),
                ttl: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("report risk");
}

async fn deny_rules_hold_unless_the_entry_overrides_them_and_then_the_audit_says_so(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    fatma_on_a_vpn(&app).await;
    let refused = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "RISK_DENIED");
    assert!(
        refused.message().contains("override_deny_rules"),
        "{refused:?}"
    );
    assert!(grants_of_fatma(&app).await.is_empty());

    // The same policy, with the entry's explicit opt-in.
    let overriding = elevator::policy::DEMO_POLICY.replace(
        "    review_within: 24h\n",
        "    review_within: 24h\n    override_deny_rules: true\n",
    );
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(overriding),
            ..Default::default()
        },
    )
    .await;
    fatma_on_a_vpn(&app).await;
    let used = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .expect("the entry overrides deny rules")
        .r#use
        .unwrap();
    assert_eq!(
        used.overridden_rules,
        ["deny if risk.score > 70 || 'vpn' in risk.flags"]
    );
    let events = app.store.audit_events(0, 100).await.unwrap();
    let announced = events
        .iter()
        .find(|stored| stored.event.action.as_str() == "break_glass.used")
        .expect("the use is audited");
    assert_eq!(announced.event.details["overrode_deny_rules"], true);
    assert_eq!(
        announced.event.details["overridden_rules"][0],
        "deny if risk.score > 70 || 'vpn' in risk.flags"
    );
}
on_both_backends!(
    break_glass_deny_rules,
    deny_rules_hold_unless_the_entry_overrides_them_and_then_the_audit_says_so
);

async fn separation_of_duties_still_applies_to_break_glass(backend: Backend) {
    let app = spawn_app(backend).await;
    // Fatma creates purchase orders tonight (approved by Ali, her manager).
    let created = app
        .elevations()
        .request_elevation(authed(
            &app.fatma_on_call("night"),
            elevation_request("po_creator", "Org:Procurement", 3600, "month end"),
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    app.ali_approves(&created.id).await;
    let refused = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "SOD_CONFLICT");
}
on_both_backends!(
    break_glass_separation,
    separation_of_duties_still_applies_to_break_glass
);

async fn a_second_use_with_an_overdue_review_is_refused_until_someone_reviews_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .unwrap()
        .r#use
        .unwrap();
    // Within the review deadline, another incident may be handled the same way.
    app.clock.advance(TimeDelta::hours(2));
    app.fatma_breaks_glass(&app.fatma_on_call("night-2"))
        .await
        .expect("within the deadline");

    // A day after the first use, it is overdue: no more breaking glass.
    app.clock.advance(TimeDelta::hours(23));
    let refused = app
        .fatma_breaks_glass(&app.fatma_on_call("night-3"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&refused), "REVIEW_OVERDUE");
    assert!(refused.message().contains(&first.id), "{refused:?}");
    let mine = app
        .break_glass()
        .list_break_glass(authed(&app.fatma(), pb::ListBreakGlassRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .uses;
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[1].id, first.id);
    assert_eq!(
        mine[1].review_state,
        pb::BreakGlassReviewState::Overdue as i32
    );

    // The metrics show it.
    let started = std::time::Instant::now();
    loop {
        let metrics = crate::http::send(app.admin_address.port(), "GET", "/metrics", &[]).await;
        if metrics
            .body
            .contains("elevator_break_glass_overdue_reviews 1\n")
        {
            assert!(metrics.body.contains("elevator_break_glass_uses_total 2\n"));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{}",
            metrics.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Ali confirms it the next morning; the second use is not overdue yet, so she may again.
    app.break_glass()
        .review_break_glass(authed(
            &app.ali(),
            pb::ReviewBreakGlassRequest {
                id: first.id.clone(),
                verdict: pb::BreakGlassVerdict::Confirm as i32,
                comment: "payment run needed it".into(),
            },
        ))
        .await
        .expect("ali reviews");
    app.fatma_breaks_glass(&app.fatma_on_call("night-3"))
        .await
        .expect("nothing overdue any more");
}
on_both_backends!(
    break_glass_overdue,
    a_second_use_with_an_overdue_review_is_refused_until_someone_reviews_it
);

async fn an_overdue_use_behind_many_newer_unreviewed_ones_still_refuses(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .unwrap()
        .r#use
        .unwrap();
    // More unreviewed uses than one page of them, all newer than the first and due later.
    app.clock.advance(TimeDelta::hours(2));
    for night in 0..120 {
        app.fatma_breaks_glass(&app.fatma_on_call(&format!("night-{night}")))
            .await
            .expect("within the deadline");
    }
    // Only the oldest is overdue: it is found however many newer ones there are.
    app.clock.advance(TimeDelta::hours(23));
    let refused = app
        .fatma_breaks_glass(&app.fatma_on_call("later"))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&refused), "REVIEW_OVERDUE");
    assert!(refused.message().contains(&first.id), "{refused:?}");
}
on_both_backends!(
    break_glass_overdue_behind_newer,
    an_overdue_use_behind_many_newer_unreviewed_ones_still_refuses
);
