//! Time: the access window ends by itself. The injected clock moves; nothing sleeps.

use chrono::TimeDelta;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

async fn a_grant_expires_with_the_clock(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();
    assert!(app.check_fatma("s1").await.allowed);

    // One second before the end it still counts (and is now cached)...
    app.clock
        .advance(TimeDelta::hours(2) - TimeDelta::seconds(1));
    assert!(app.check_fatma("s1").await.allowed);

    // ...and at the end it does not, whatever the cache holds.
    app.clock.advance(TimeDelta::seconds(1));
    let expired = app.check_fatma("s1").await;
    assert!(!expired.allowed);
    assert_eq!(reason(&expired), pb::DecisionReason::Expired);
    assert_eq!(expired.grant_id, grant.id);

    // The sweep records the expiry on the elevation and in the audit log, once.
    assert_eq!(app.app.sweep().await.unwrap(), 1);
    assert_eq!(app.app.sweep().await.unwrap(), 0);
    let shown = app
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
    assert_eq!(shown.state, pb::ElevationState::Expired as i32);
    assert_eq!(app.audit_actions().await.last().unwrap(), "grant.expired");

    // An expired grant cannot be revoked any more.
    let late = app
        .elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant.id,
                reason: "too late".into(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
}
on_both_backends!(grant_expiry, a_grant_expires_with_the_clock);

async fn pending_elevations_time_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let elevation = app.request_fatma().await;
    app.clock.advance(TimeDelta::minutes(59));
    assert_eq!(app.app.sweep().await.unwrap(), 0);
    app.clock.advance(TimeDelta::minutes(1));
    assert_eq!(app.app.sweep().await.unwrap(), 1);
    let late = app
        .approvals()
        .approve(authed(
            &app.ali(),
            pb::ApproveRequest {
                elevation_id: elevation.id.clone(),
                comment: String::new(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition);
    assert!(late.message().contains("TIMED_OUT"), "{}", late.message());
    assert!(!app.check_fatma("s1").await.allowed);
}
on_both_backends!(approval_window, pending_elevations_time_out);

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app(Backend::Memory).await;
    let token = app.fatma();
    app.clock.advance(TimeDelta::hours(49));
    let refused = app
        .elevations()
        .list_grants(authed(&token, pb::ListGrantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert!(refused.message().contains("expired"));
}
