//! Races: many concurrent approve, deny and cancel calls on one elevation end in exactly one
//! final state and at most one grant, on every store.

use std::collections::HashMap;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

const GROUP_APPROVAL_POLICY: &str = r#"
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
        quorum: 1
"#;

async fn racing_calls_leave_one_final_state(backend: Backend) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(GROUP_APPROVAL_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;

    let mut calls = Vec::new();
    for index in 0..50 {
        let elevations = app.elevations();
        let approvals = app.approvals();
        let id = elevation.id.clone();
        let approver = app.token(
            &format!("approver-{index}"),
            &["approvers"],
            &[],
            None,
            Some("s"),
        );
        let fatma = app.fatma();
        calls.push(tokio::spawn(async move {
            let outcome = match index % 3 {
                0 => approvals
                    .clone()
                    .approve(authed(
                        &approver,
                        pb::ApproveRequest {
                            elevation_id: id,
                            comment: String::new(),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await
                    .map(|_| "approve"),
                1 => approvals
                    .clone()
                    .deny(authed(
                        &approver,
                        pb::DenyRequest {
                            elevation_id: id,
                            comment: String::new(),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await
                    .map(|_| "deny"),
                _ => elevations
                    .clone()
                    .cancel_elevation(authed(
                        &fatma,
                        pb::CancelElevationRequest {
                            id,
                            reason: "race".into(),
                        },
                    ))
                    .await
                    .map(|_| "cancel"),
            };
            outcome.map_err(|status| (status.code(), error_reason(&status)))
        }));
    }
    let mut successes = 0;
    let mut refusals: HashMap<String, usize> = HashMap::new();
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => successes += 1,
            Err((code, reason)) => {
                assert_eq!(code, tonic::Code::FailedPrecondition, "{reason}");
                *refusals.entry(reason).or_default() += 1;
            }
        }
    }
    // Exactly one call moved the elevation; every other one was told it lost.
    assert_eq!(successes, 1, "refusals: {refusals:?}");
    assert_eq!(refusals.values().sum::<usize>(), 49);

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
    let state = pb::ElevationState::try_from(final_state.state).unwrap();
    assert!(
        matches!(
            state,
            pb::ElevationState::Active | pb::ElevationState::Denied | pb::ElevationState::Cancelled
        ),
        "{state:?}"
    );
    assert_eq!(
        final_state.votes.len(),
        usize::from(state != pb::ElevationState::Cancelled)
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
    assert_eq!(
        grants.len(),
        usize::from(state == pb::ElevationState::Active)
    );

    let finals = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|action| {
            matches!(
                action.as_str(),
                "grant.activated" | "elevation.denied" | "elevation.cancelled"
            )
        })
        .count();
    assert_eq!(finals, 1);
}
on_both_backends!(fifty_racing_calls, racing_calls_leave_one_final_state);
