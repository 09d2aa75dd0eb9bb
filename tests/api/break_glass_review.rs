//! The review a break-glass use owes, as an attacker would try it: reviewing your own use (even
//! as a member of a reviewing group), a stranger reading or reviewing it, a flag without a
//! reason, flagging (an alert on the reviewers' watch streams and to the entry's security
//! contacts, signed), two concurrent reviews (one wins), and the evidence a reviewer sees.

use elevator::proto::v1 as pb;
use tonic::Code;

use crate::break_glass::incident_request;
use crate::harness::*;
use crate::http::start_recorder;
use crate::on_both_backends;

pub(crate) fn review(
    id: &str,
    verdict: pb::BreakGlassVerdict,
    comment: &str,
) -> pb::ReviewBreakGlassRequest {
    pb::ReviewBreakGlassRequest {
        id: id.into(),
        verdict: verdict as i32,
        comment: comment.into(),
    }
}

async fn nobody_reviews_their_own_break_glass_and_strangers_learn_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    // Fatma is on call and in the security group that reviews the entry's uses.
    let fatma_in_security = app.token(
        "fatma",
        &["procurement-staff", "procurement-oncall", "security"],
        &[],
        Some("ali"),
        Some("night"),
    );
    let used = app
        .fatma_breaks_glass(&fatma_in_security)
        .await
        .unwrap()
        .r#use
        .unwrap();
    let refused = app
        .break_glass()
        .review_break_glass(authed(
            &fatma_in_security,
            review(&used.id, pb::BreakGlassVerdict::Confirm, "all fine"),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "SELF_REVIEW");

    // Mallory is neither its user nor a reviewer: the use does not exist for her.
    let mallory = app.token("mallory", &["sales"], &[], None, Some("m"));
    let hidden = app
        .break_glass()
        .review_break_glass(authed(
            &mallory,
            review(&used.id, pb::BreakGlassVerdict::Confirm, "fine"),
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let hidden = app
        .break_glass()
        .get_break_glass_evidence(authed(
            &mallory,
            pb::GetBreakGlassEvidenceRequest {
                id: used.id.clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let listed_all = app
        .break_glass()
        .list_break_glass(authed(
            &mallory,
            pb::ListBreakGlassRequest {
                listing: pb::BreakGlassListing::All as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(listed_all.code(), Code::PermissionDenied);

    // Still pending: nothing was changed by any of it.
    let mine = app
        .break_glass()
        .list_break_glass(authed(&app.fatma(), pb::ListBreakGlassRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .uses;
    assert_eq!(
        mine[0].review_state,
        pb::BreakGlassReviewState::Pending as i32
    );
    assert!(
        !app.audit_actions()
            .await
            .iter()
            .any(|a| a.starts_with("break_glass.c"))
    );
}
on_both_backends!(
    break_glass_self_review,
    nobody_reviews_their_own_break_glass_and_strangers_learn_nothing
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

async fn flagging_raises_an_alert_on_watch_streams_and_to_security_contacts(backend: Backend) {
    let receiver = start_recorder().await;
    let policy = elevator::policy::DEMO_POLICY.replace(
        "    review_within: 24h\n",
        &format!(
            "    review_within: 24h\n    notify: [\"{}\"]\n",
            receiver.url
        ),
    );
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(policy),
            ..Default::default()
        },
    )
    .await;
    let sam = app.token("sam", &["security"], &[], None, Some("sam-s"));
    let mut ali_stream = app
        .approvals()
        .watch_approvals(authed(&app.ali(), pb::WatchApprovalsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let hello = next_batch(&mut ali_stream).await;
    let mut sam_stream = app
        .approvals()
        .watch_approvals(authed(
            &sam,
            pb::WatchApprovalsRequest {
                after_revision: hello.revision,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    next_batch(&mut sam_stream).await;

    let used = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .unwrap()
        .r#use
        .unwrap();
    // Ali (who approves admin_approver for her) and Sam (a reviewer) are told at once.
    for stream in [&mut ali_stream, &mut sam_stream] {
        let told = next_batch(stream).await;
        assert_eq!(told.updates.len(), 1, "{told:?}");
        assert_eq!(
            told.updates[0].kind,
            pb::ApprovalUpdateKind::BreakGlassUsed as i32
        );
        assert_eq!(
            told.updates[0].elevation.as_ref().unwrap().id,
            used.elevation_id
        );
    }

    // A flag needs a reason; with one, it is an alert.
    let unexplained = app
        .break_glass()
        .review_break_glass(authed(
            &sam,
            review(&used.id, pb::BreakGlassVerdict::Flag, ""),
        ))
        .await
        .unwrap_err();
    assert_eq!(unexplained.code(), Code::InvalidArgument);
    let flagged = app
        .break_glass()
        .review_break_glass(authed(
            &sam,
            review(
                &used.id,
                pb::BreakGlassVerdict::Flag,
                "no incident INC-7 on record",
            ),
        ))
        .await
        .unwrap()
        .into_inner()
        .r#use
        .unwrap();
    assert_eq!(
        flagged.review_state,
        pb::BreakGlassReviewState::Flagged as i32
    );
    assert_eq!(flagged.reviewed_by, "sam");
    let alert = next_batch(&mut ali_stream).await;
    assert_eq!(
        alert.updates[0].kind,
        pb::ApprovalUpdateKind::BreakGlassFlagged as i32
    );

    // The security contact got the use and the flag, signed.
    let posts = receiver.wait_for(2, None).await;
    let kinds: Vec<&str> = posts
        .iter()
        .map(|post| post.header("x-elevator-event"))
        .collect();
    assert_eq!(kinds, ["break_glass.used", "break_glass.flagged"]);
    for post in &posts {
        let timestamp: i64 = post.header("x-elevator-timestamp").parse().unwrap();
        assert_eq!(
            post.header("x-elevator-signature"),
            elevator::webhooks::signature(TEST_WEBHOOK_SECRET.as_bytes(), timestamp, &post.body)
        );
    }
    assert_eq!(posts[1].json()["reason"], "no incident INC-7 on record");
    assert_eq!(posts[1].json()["actor"], "sam");
}
on_both_backends!(
    break_glass_flag,
    flagging_raises_an_alert_on_watch_streams_and_to_security_contacts
);

async fn of_two_concurrent_reviews_exactly_one_wins(backend: Backend) {
    let app = spawn_app(backend).await;
    let sam = app.token("sam", &["security"], &[], None, Some("sam-s"));
    for round in 0..5 {
        let used = app
            .fatma_breaks_glass(&app.fatma_on_call(&format!("night-{round}")))
            .await
            .unwrap()
            .r#use
            .unwrap();
        let mut ali_client = app.break_glass();
        let mut sam_client = app.break_glass();
        let (ali_said, sam_said) = tokio::join!(
            ali_client.review_break_glass(authed(
                &app.ali(),
                review(&used.id, pb::BreakGlassVerdict::Confirm, "ok"),
            )),
            sam_client.review_break_glass(authed(
                &sam,
                review(&used.id, pb::BreakGlassVerdict::Flag, "suspicious"),
            )),
        );
        let outcomes = [ali_said, sam_said];
        let won: Vec<_> = outcomes.iter().filter(|outcome| outcome.is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {outcomes:?}");
        let lost = outcomes
            .iter()
            .find_map(|outcome| outcome.as_ref().err())
            .unwrap();
        assert_eq!(lost.code(), Code::FailedPrecondition);
        assert_eq!(error_reason(lost), "WRONG_STATE");
    }
    let reviews = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|action| action == "break_glass.confirmed" || action == "break_glass.flagged")
        .count();
    assert_eq!(reviews, 5);
}
on_both_backends!(
    break_glass_concurrent_reviews,
    of_two_concurrent_reviews_exactly_one_wins
);

async fn the_evidence_lists_every_check_the_grant_allowed_and_every_write_meanwhile(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let on_call = app.fatma_on_call("night");
    let used = app.fatma_breaks_glass(&on_call).await.unwrap();
    for po in ["PO:1", "PO:2"] {
        let allowed = app
            .check(
                "fatma",
                "night",
                "purchase_orders.approve",
                &format!("Org:Procurement/{po}"),
                used.revision,
            )
            .await;
        assert!(allowed.allowed);
    }
    // A denied Check is not evidence of use.
    assert!(
        !app.check(
            "fatma",
            "night",
            "purchase_orders.create",
            "Org:Procurement",
            0
        )
        .await
        .allowed
    );
    // A write she makes while the grant is active.
    app.elevations()
        .request_elevation(authed(
            &on_call,
            elevation_request(
                "admin_approver",
                "Org:Procurement",
                600,
                "daytime follow-up",
            ),
        ))
        .await
        .unwrap();
    let record = used.r#use.unwrap();
    let evidence = app
        .break_glass()
        .get_break_glass_evidence(authed(
            &app.ali(),
            pb::GetBreakGlassEvidenceRequest {
                id: record.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let resources: Vec<&str> = evidence
        .checks
        .iter()
        .map(|c| c.resource.as_str())
        .collect();
    assert_eq!(resources, ["Org:Procurement/PO:1", "Org:Procurement/PO:2"]);
    assert!(evidence.checks.iter().all(|c| c.session_id == "night"));
    assert!(!evidence.checks_capped);
    let writes: Vec<&str> = evidence.writes.iter().map(|w| w.action.as_str()).collect();
    assert!(writes.contains(&"elevation.requested"), "{writes:?}");
    assert!(writes.contains(&"break_glass.used"), "{writes:?}");
    let use_view = evidence.r#use.unwrap();
    assert_eq!(use_view.incident, "INC-7");
    assert_eq!(use_view.reason, incident_request().reason);

    // Ali sees it among his reviews to do; Fatma does not.
    let to_review = |token: String| {
        let app = &app;
        async move {
            app.break_glass()
                .list_break_glass(authed(
                    &token,
                    pb::ListBreakGlassRequest {
                        listing: pb::BreakGlassListing::ToReview as i32,
                        ..Default::default()
                    },
                ))
                .await
                .unwrap()
                .into_inner()
                .uses
        }
    };
    assert_eq!(to_review(app.ali()).await.len(), 1);
    assert!(to_review(app.fatma()).await.is_empty());
}
on_both_backends!(
    break_glass_evidence,
    the_evidence_lists_every_check_the_grant_allowed_and_every_write_meanwhile
);
