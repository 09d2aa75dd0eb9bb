//! Access review campaigns, tested as an attacker would: reviewing your own access, deciding
//! an item twice or after its deadline, removing through a review what a newer approval
//! granted, concurrent decisions, the deadline's default, escalation and schedules, and signed
//! evidence that verifies while a tampered copy does not.

use std::time::{Duration, Instant};

use chrono::TimeDelta;
use elevator::domain::ReviewEvidence;
use elevator::proto::v1 as pb;
use elevator::proto::v1::review_service_client::ReviewServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::harness::*;
use crate::on_both_backends;

/// The demo policy (the Fatma example) with a directory and a quarterly campaign over
/// `admin_approver`: Fatma is eligible through her group, Eve holds the role standing.
pub(crate) fn review_policy(extra_campaign: &str) -> String {
    format!(
        "{}\n{}{extra_campaign}",
        elevator::policy::DEMO_POLICY,
        r#"
directory:
  subjects:
    - { type: user, id: fatma, groups: [procurement-staff], properties: { manager: ali } }
    - { type: user, id: eve, groups: [security], roles: [admin_approver], properties: { manager: ali } }
reviews:
  role_owners: { admin_approver: [dana] }
  campaigns:
    - name: quarterly-admin-approver
      covers: [eligibility, standing_role, delegation, grant]
      roles: [admin_approver]
      reviewers: { manager_of_subject: true, groups: [security] }
      deadline: 14d
      on_deadline: remove
      history: 90d
"#
    )
}

async fn spawn(backend: Backend, extra_campaign: &str) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            policy: Some(review_policy(extra_campaign)),
            ..Default::default()
        },
    )
    .await
}

fn reviews(app: &TestApp) -> ReviewServiceClient<Channel> {
    ReviewServiceClient::new(
        Channel::from_shared(format!("http://{}", app.address))
            .unwrap()
            .connect_lazy(),
    )
}

fn sam(app: &TestApp) -> String {
    app.token("sam", &["security"], &[], None, Some("s5"))
}

fn eve(app: &TestApp) -> String {
    app.token("eve", &["security"], &[], None, Some("s6"))
}

pub(crate) async fn start(app: &TestApp, name: &str) -> pb::AccessReviewCampaign {
    reviews(app)
        .start_campaign(authed(
            &app.admin(),
            pb::StartCampaignRequest { name: name.into() },
        ))
        .await
        .expect("start a campaign")
        .into_inner()
        .campaign
        .unwrap()
}

pub(crate) async fn campaign_items(app: &TestApp, campaign: &str) -> Vec<pb::AccessReviewItem> {
    reviews(app)
        .list_review_items(authed(
            &app.admin(),
            pb::ListReviewItemsRequest {
                campaign_id: campaign.into(),
            },
        ))
        .await
        .expect("list a campaign's items")
        .into_inner()
        .items
}

pub(crate) fn item<'i>(
    items: &'i [pb::AccessReviewItem],
    kind: &str,
    subject: &str,
) -> &'i pb::AccessReviewItem {
    items
        .iter()
        .find(|item| item.kind == kind && item.subject == subject)
        .unwrap_or_else(|| panic!("no {kind} item for {subject} in {items:#?}"))
}

pub(crate) async fn decide(
    app: &TestApp,
    token: &str,
    item_id: &str,
    verdict: &str,
    comment: &str,
) -> Result<pb::AccessReviewItem, tonic::Status> {
    reviews(app)
        .decide_review_item(authed(
            token,
            pb::DecideReviewItemRequest {
                item_id: item_id.into(),
                verdict: verdict.into(),
                comment: comment.into(),
            },
        ))
        .await
        .map(|response| response.into_inner().item.unwrap())
}

async fn fatma_requests(app: &TestApp, seconds: i64) -> pb::Elevation {
    app.elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                duration: Some(prost_types::Duration { seconds, nanos: 0 }),
                reason: "Q4 close".into(),
                ..Default::default()
            },
        ))
        .await
        .map(|response| response.into_inner().elevation.unwrap())
        .expect("fatma's request")
}

/// Waits (up to 10s) until Eve's standing role no longer counts: a directory write reaches
/// the decisions through a reload of the stored directory that the write does not wait for.
async fn until_eve_may_not_approve(app: &TestApp) {
    let started = Instant::now();
    while eve_may_approve(app).await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the removed standing role still counts"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn eve_may_approve(app: &TestApp) -> bool {
    app.check(
        "eve",
        "s6",
        "purchase_orders.approve",
        "Org:Procurement/PO:1",
        0,
    )
    .await
    .allowed
}

async fn items_carry_reviewers_and_evidence_and_nobody_reviews_their_own(backend: Backend) {
    let app = spawn(backend, "").await;
    let refused = reviews(&app)
        .start_campaign(authed(
            &app.fatma(),
            pb::StartCampaignRequest {
                name: "quarterly-admin-approver".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let unknown = reviews(&app)
        .start_campaign(authed(
            &app.admin(),
            pb::StartCampaignRequest {
                name: "monthly".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown.message().contains("reviews.campaigns"),
        "{unknown:?}"
    );

    let elevation = fatma_requests(&app, 3600).await;
    let approved = app.ali_approves(&elevation.id).await;
    let campaign = start(&app, "quarterly-admin-approver").await;
    assert_eq!(campaign.items, 3, "{campaign:#?}");
    let items = campaign_items(&app, &campaign.id).await;
    let eligibility = item(&items, "eligibility", "fatma");
    assert_eq!(eligibility.reviewers, ["user:ali", "group:security"]);
    assert_eq!(eligibility.patterns, ["Org:Procurement/**"]);
    assert!(
        eligibility
            .evidence
            .contains("elevated 1 times in the last 90 days"),
        "{}",
        eligibility.evidence
    );
    let standing = item(&items, "standing_role", "eve");
    assert!(
        standing.evidence.contains("standing role")
            && standing.evidence.contains("no recorded write"),
        "{}",
        standing.evidence
    );
    let grant = item(&items, "grant", "fatma");
    assert_eq!(grant.grant_id, approved.grant.unwrap().id);
    assert!(
        grant.evidence.starts_with("granted on"),
        "{}",
        grant.evidence
    );

    // Eve is in the reviewing group, and still may not keep her own standing role.
    let own = decide(&app, &eve(&app), &standing.id, "keep", "I need it")
        .await
        .unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&own), "NOT_ALLOWED");
    assert!(own.message().contains("own access"), "{own:?}");
    // Fatma reviews nothing, and certainly not her own access.
    let fatma_items = reviews(&app)
        .list_review_items(authed(&app.fatma(), pb::ListReviewItemsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(fatma_items.is_empty(), "{fatma_items:#?}");
    let not_a_reviewer = decide(&app, &app.fatma(), &eligibility.id, "keep", "")
        .await
        .unwrap_err();
    assert_eq!(not_a_reviewer.code(), Code::PermissionDenied);
    // Sam (security) sees all three as his; Eve sees Fatma's two but not her own.
    let mine = |token: String| {
        let app = &app;
        async move {
            reviews(app)
                .list_review_items(authed(&token, pb::ListReviewItemsRequest::default()))
                .await
                .unwrap()
                .into_inner()
                .items
                .len()
        }
    };
    assert_eq!(mine(sam(&app)).await, 3);
    assert_eq!(mine(eve(&app)).await, 2);
    let untouched = campaign_items(&app, &campaign.id).await;
    assert!(untouched.iter().all(|item| item.verdict.is_empty()));
    assert!(
        app.audit_actions()
            .await
            .contains(&"review.campaign_started".to_owned())
    );
}
on_both_backends!(
    items_carry_reviewers_and_usage_evidence_and_nobody_reviews_their_own_access,
    items_carry_reviewers_and_evidence_and_nobody_reviews_their_own
);

async fn once_before_the_deadline_then_the_default(backend: Backend) {
    let app = spawn(backend, "").await;
    let campaign = start(&app, "quarterly-admin-approver").await;
    let items = campaign_items(&app, &campaign.id).await;
    let eligibility = item(&items, "eligibility", "fatma");
    let standing = item(&items, "standing_role", "eve");

    let kept = decide(
        &app,
        &app.ali(),
        &eligibility.id,
        "keep",
        "still closes the books",
    )
    .await
    .unwrap();
    assert_eq!(
        (kept.verdict.as_str(), kept.decided_by.as_str()),
        ("keep", "ali")
    );
    let again = decide(
        &app,
        &sam(&app),
        &eligibility.id,
        "remove",
        "changed my mind",
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(error_reason(&again), "WRONG_STATE");
    assert!(
        again.message().contains("already decided keep by ali"),
        "{again:?}"
    );
    let no_reason = decide(&app, &app.ali(), &standing.id, "remove", "  ")
        .await
        .unwrap_err();
    assert_eq!(no_reason.code(), Code::InvalidArgument);
    let bad_verdict = decide(&app, &app.ali(), &standing.id, "delete", "x")
        .await
        .unwrap_err();
    assert_eq!(bad_verdict.code(), Code::InvalidArgument);

    assert!(eve_may_approve(&app).await, "the standing role counts");
    app.clock.advance(TimeDelta::days(15));
    let late = decide(&app, &app.ali(), &standing.id, "keep", "sorry, late")
        .await
        .unwrap_err();
    assert_eq!(late.code(), Code::FailedPrecondition);
    assert!(late.message().contains("past its deadline"), "{late:?}");

    app.app.sweep().await.unwrap();
    let after = campaign_items(&app, &campaign.id).await;
    let defaulted = item(&after, "standing_role", "eve");
    assert_eq!(defaulted.verdict, "remove");
    assert!(defaulted.by_default);
    assert_eq!(defaulted.decided_by, "system:review-deadline");
    assert!(
        defaulted.outcome.contains("taken off the directory"),
        "{}",
        defaulted.outcome
    );
    assert_eq!(
        item(&after, "eligibility", "fatma").verdict,
        "keep",
        "a decision stays"
    );
    until_eve_may_not_approve(&app).await;
    let actions = app.audit_actions().await;
    assert!(actions.contains(&"review.item_decided".to_owned()));
    assert!(actions.contains(&"directory.entity_put".to_owned()));
    // A second sweep finds nothing left to do.
    app.app.sweep().await.unwrap();
    assert_eq!(campaign_items(&app, &campaign.id).await, after);
}
on_both_backends!(
    an_item_is_decided_once_before_its_deadline_and_the_default_applies_after,
    once_before_the_deadline_then_the_default
);

async fn removal_acts_on_the_version_seen(backend: Backend) {
    let app = spawn(backend, "").await;
    let elevation = fatma_requests(&app, 3600).await;
    app.ali_approves(&elevation.id).await;
    let first = start(&app, "quarterly-admin-approver").await;
    let seen = item(&campaign_items(&app, &first.id).await, "grant", "fatma").clone();

    // A newer approval extends the grant after the campaign saw it.
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
    app.ali_approves(&extension.id).await;
    let stale = decide(&app, &app.ali(), &seen.id, "remove", "no longer needed")
        .await
        .unwrap();
    assert_eq!(stale.verdict, "remove");
    assert!(
        stale.outcome.starts_with("not removed")
            && stale.outcome.contains("changed after the review saw it"),
        "{}",
        stale.outcome
    );
    assert!(
        app.check_fatma("s1").await.allowed,
        "the extended grant stands"
    );

    // A campaign that saw the extended grant removes it, through the normal revocation.
    let second = start(&app, "quarterly-admin-approver").await;
    let items = campaign_items(&app, &second.id).await;
    let current = item(&items, "grant", "fatma");
    let removed = decide(&app, &sam(&app), &current.id, "remove", "Q4 is closed")
        .await
        .unwrap();
    assert!(removed.outcome.contains("revoked"), "{}", removed.outcome);
    assert!(!app.check_fatma("s1").await.allowed, "the grant is revoked");
    assert!(
        app.audit_actions()
            .await
            .contains(&"grant.revoked".to_owned())
    );

    // Removing eligibility withdraws it: her next request is refused.
    let eligibility = item(&items, "eligibility", "fatma");
    let withdrawn = decide(
        &app,
        &app.ali(),
        &eligibility.id,
        "remove",
        "moved to sales",
    )
    .await
    .unwrap();
    assert!(
        withdrawn.outcome.contains("withdrawn"),
        "{}",
        withdrawn.outcome
    );
    let refused = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                duration: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                reason: "again".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&refused), "ELIGIBILITY_WITHDRAWN");
}
on_both_backends!(
    a_removal_acts_on_the_version_the_review_saw_or_says_why_not,
    removal_acts_on_the_version_seen
);

async fn concurrent_decisions(backend: Backend) {
    let app = spawn(backend, "").await;
    let campaign = start(&app, "quarterly-admin-approver").await;
    let items = campaign_items(&app, &campaign.id).await;
    let target = item(&items, "eligibility", "fatma").id.clone();
    let (ali_token, sam_token) = (app.ali(), sam(&app));
    for _ in 0..3 {
        let (ali, sam) = tokio::join!(
            decide(&app, &ali_token, &target, "keep", "fine"),
            decide(&app, &sam_token, &target, "remove", "not fine"),
        );
        let outcomes = [ali.is_ok(), sam.is_ok()];
        assert!(
            outcomes.iter().filter(|ok| **ok).count() <= 1,
            "{outcomes:?}"
        );
    }
    let decided = item(
        &campaign_items(&app, &campaign.id).await,
        "eligibility",
        "fatma",
    )
    .clone();
    assert!(!decided.verdict.is_empty());
    let decisions = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|action| action == "review.item_decided")
        .count();
    assert_eq!(decisions, 1, "exactly one decision was recorded");
}
on_both_backends!(
    of_concurrent_decisions_on_one_item_exactly_one_wins,
    concurrent_decisions
);

const ESCALATING: &str = r#"    - name: monthly-escalating
      covers: [standing_role]
      roles: [admin_approver]
      reviewers: { role_owner: true }
      deadline: 7d
      on_deadline: escalate
      escalate_to: { users: [zoe] }
      escalation_window: 3d
      every: 30d
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_campaign_starts_by_itself_and_an_item_missed_twice_is_removed() {
    let app = spawn(Backend::Memory, ESCALATING).await;
    app.app.sweep().await.unwrap();
    app.app.sweep().await.unwrap();
    let campaigns = reviews(&app)
        .list_campaigns(authed(&app.admin(), pb::ListCampaignsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .campaigns;
    assert_eq!(campaigns.len(), 1, "one start per period: {campaigns:#?}");
    assert_eq!(campaigns[0].started_by, "system:review-schedule");
    let items = campaign_items(&app, &campaigns[0].id).await;
    let standing = item(&items, "standing_role", "eve");
    assert_eq!(standing.reviewers, ["user:dana"]);

    app.clock.advance(TimeDelta::days(8));
    app.app.sweep().await.unwrap();
    let escalated = item(
        &campaign_items(&app, &campaigns[0].id).await,
        "standing_role",
        "eve",
    )
    .clone();
    assert!(
        escalated.escalated && escalated.verdict.is_empty(),
        "{escalated:#?}"
    );
    assert_eq!(escalated.reviewers, ["user:zoe"]);
    let dana = app.token("dana", &[], &[], None, Some("s7"));
    let too_late = decide(&app, &dana, &escalated.id, "keep", "mine")
        .await
        .unwrap_err();
    assert_eq!(
        too_late.code(),
        Code::PermissionDenied,
        "dana is no longer its reviewer"
    );

    app.clock.advance(TimeDelta::days(4));
    app.app.sweep().await.unwrap();
    let removed = item(
        &campaign_items(&app, &campaigns[0].id).await,
        "standing_role",
        "eve",
    )
    .clone();
    assert_eq!(
        (removed.verdict.as_str(), removed.by_default),
        ("remove", true)
    );
    until_eve_may_not_approve(&app).await;
    assert!(
        app.audit_actions()
            .await
            .contains(&"review.item_escalated".to_owned())
    );
}

async fn export(app: &TestApp, campaign: &str) -> pb::ExportCampaignResponse {
    reviews(app)
        .export_campaign(authed(
            &app.admin(),
            pb::ExportCampaignRequest {
                campaign_id: campaign.into(),
            },
        ))
        .await
        .expect("export")
        .into_inner()
}

async fn verify_with_cli(app: &TestApp, json: &str, csv: &str) -> Option<i32> {
    let scratch = std::env::temp_dir().join(format!(
        "elevator-evidence-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&scratch).unwrap();
    let (json_path, csv_path) = (scratch.join("evidence.json"), scratch.join("evidence.csv"));
    std::fs::write(&json_path, json).unwrap();
    std::fs::write(&csv_path, csv).unwrap();
    let server = format!("http://{}", app.address);
    let token = app.admin();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_elevator"))
            .args(["audit", "verify", "--evidence"])
            .arg(&json_path)
            .arg("--csv")
            .arg(&csv_path)
            .env("ELEVATOR_SERVER", server)
            .env("ELEVATOR_TOKEN", token)
            .env_remove("ELEVATOR_CONFIG")
            .output()
            .expect("run elevator")
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&scratch);
    status.status.code()
}

async fn evidence_verifies(backend: Backend) {
    let app = spawn(backend, "").await;
    let campaign = start(&app, "quarterly-admin-approver").await;
    let items = campaign_items(&app, &campaign.id).await;
    decide(
        &app,
        &app.ali(),
        &item(&items, "eligibility", "fatma").id,
        "keep",
        "ok",
    )
    .await
    .unwrap();
    let evidence = export(&app, &campaign.id).await;
    let checked = ReviewEvidence::verify(&evidence.json, Some(&evidence.csv)).expect("verifies");
    assert_eq!(
        (checked.campaign_id.as_str(), checked.items),
        (campaign.id.as_str(), 2)
    );
    assert!(
        evidence.csv.lines().count() == 3 && evidence.csv.contains(",keep,ali,"),
        "{}",
        evidence.csv
    );
    assert_eq!(
        verify_with_cli(&app, &evidence.json, &evidence.csv).await,
        Some(0)
    );

    // A verdict changed in the JSON, or in the CSV, no longer verifies.
    let tampered = evidence.json.replacen("\"keep\"", "\"remove\"", 1);
    assert_ne!(tampered, evidence.json);
    let problem = ReviewEvidence::verify(&tampered, None).unwrap_err();
    assert!(problem.contains("was changed"), "{problem}");
    assert_eq!(
        verify_with_cli(&app, &tampered, &evidence.csv).await,
        Some(1)
    );
    let tampered_csv = evidence.csv.replacen(",keep,", ",remove,", 1);
    assert!(ReviewEvidence::verify(&evidence.json, Some(&tampered_csv)).is_err());
    assert_eq!(
        verify_with_cli(&app, &evidence.json, &tampered_csv).await,
        Some(1)
    );
    // Later writes do not spoil it: the chain still passes through its head.
    app.clock.advance(TimeDelta::days(15));
    app.app.sweep().await.unwrap();
    assert_eq!(
        verify_with_cli(&app, &evidence.json, &evidence.csv).await,
        Some(0)
    );
    assert!(
        app.audit_actions()
            .await
            .contains(&"review.evidence_exported".to_owned())
    );
}
on_both_backends!(
    the_exported_evidence_verifies_and_a_tampered_copy_does_not,
    evidence_verifies
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_open_and_overdue_review_items() {
    let app = spawn(Backend::Memory, "").await;
    start(&app, "quarterly-admin-approver").await;
    app.clock.advance(TimeDelta::days(15));
    let started = Instant::now();
    loop {
        let metrics = crate::http::send(app.admin_address.port(), "GET", "/metrics", &[]).await;
        if metrics.body.contains("elevator_review_items_open 2\n")
            && metrics.body.contains("elevator_review_items_overdue 2\n")
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{}",
            metrics.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
