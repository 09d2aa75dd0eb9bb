//! A vote given twice: a retry with the same idempotency key gets the first answer; any other
//! repeat is refused with FAILED_PRECONDITION `ALREADY_APPROVED`, saying where the elevation
//! stands, so that an approver never believes they approved a later step. Neither counts.

use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use crate::workflows::workflow_app;
use elevator::proto::v1 as pb;

fn approval(id: &str, key: &str) -> pb::ApproveRequest {
    pb::ApproveRequest {
        elevation_id: id.into(),
        comment: "ok".into(),
        idempotency_key: key.into(),
    }
}

async fn a_repeated_approval_is_refused_and_a_retry_with_its_key_answers_as_before(
    backend: Backend,
) {
    // The workflow policy: admin_approver needs the manager, then two risk officers.
    let app = workflow_app(backend).await;
    let elevation = app.request_fatma().await;
    let first = app
        .approvals()
        .approve(authed(&app.ali(), approval(&elevation.id, "ali-1")))
        .await
        .expect("ali's approval")
        .into_inner();
    let revision = app.store.revision().await.unwrap();

    let retried = app
        .approvals()
        .approve(authed(&app.ali(), approval(&elevation.id, "ali-1")))
        .await
        .expect("a retry with the same key")
        .into_inner();
    assert_eq!(retried.elevation, first.elevation);
    assert_eq!(app.store.revision().await.unwrap(), revision);

    for key in ["", "ali-2"] {
        let repeated = app
            .approvals()
            .approve(authed(&app.ali(), approval(&elevation.id, key)))
            .await
            .expect_err("a second approval");
        assert_eq!(repeated.code(), Code::FailedPrecondition, "{repeated:?}");
        assert_eq!(error_reason(&repeated), "ALREADY_APPROVED");
        let message = repeated.message();
        assert!(message.contains("counted nothing"), "{message}");
        assert!(message.contains("step \"manager\""), "{message}");
        assert!(
            message.contains("PENDING at step \"risk_officer\""),
            "{message}"
        );
    }
    assert_eq!(app.store.revision().await.unwrap(), revision);
    let now = app
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
    assert_eq!(now.votes.len(), 1);
}
on_both_backends!(
    approving_twice_says_it_counted_nothing,
    a_repeated_approval_is_refused_and_a_retry_with_its_key_answers_as_before
);
