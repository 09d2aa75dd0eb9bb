//! Delegating a standing role (one the delegator's token carries, with no end of its own):
//! only the policy's `max_duration` can bound it, so without one the delegation is refused
//! rather than capped by a default nobody wrote; and a scope wider than the standing role's is
//! refused as exceeding the delegator, not as not held.

use tonic::Code;

use crate::delegation::{delegate, delegation};
use crate::harness::*;

const UNBOUNDED_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve] }
eligibility: []
delegation:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
"#;

const BOUNDED_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve] }
eligibility: []
delegation:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    max_duration: 2h
"#;

async fn app_with(policy: &str) -> TestApp {
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            policy: Some(policy.into()),
            ..Default::default()
        },
    )
    .await
}

fn ali_with_standing_role(app: &TestApp) -> String {
    app.token(
        "ali",
        &[],
        &["admin_approver@Org:Procurement/Dept:A"],
        None,
        Some("s9"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standing_role_is_not_delegated_when_policy_sets_no_max_duration() {
    let app = app_with(UNBOUNDED_POLICY).await;
    let ali = ali_with_standing_role(&app);
    let before = app.store.revision().await.unwrap();
    for minutes in [30, 60 * 23] {
        let error = delegate(
            &app,
            &ali,
            delegation("bob", "Org:Procurement/Dept:A", minutes),
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");
        assert_eq!(error_reason(&error), "MAX_DURATION_REQUIRED");
        assert!(
            error.message().contains("delegation[0]") && error.message().contains("max_duration"),
            "the message names the setting to add: {}",
            error.message()
        );
    }
    assert_eq!(app.store.revision().await.unwrap(), before);

    // With the setting, the same delegation goes through, within it.
    let app = app_with(BOUNDED_POLICY).await;
    let ali = ali_with_standing_role(&app);
    let done = delegate(&app, &ali, delegation("bob", "Org:Procurement/Dept:A", 90))
        .await
        .unwrap();
    let grant = done.grant.unwrap();
    assert_eq!(
        grant.not_after.unwrap().seconds - grant.not_before.unwrap().seconds,
        90 * 60
    );
    let error = delegate(&app, &ali, delegation("bob", "Org:Procurement/Dept:A", 150))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delegating_beyond_a_standing_roles_scope_exceeds_the_delegator() {
    let app = app_with(BOUNDED_POLICY).await;
    let ali = ali_with_standing_role(&app);
    let before = app.store.revision().await.unwrap();
    let error = delegate(&app, &ali, delegation("bob", "Org:Procurement", 30))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    assert_eq!(error_reason(&error), "SCOPE_EXCEEDS_DELEGATOR");
    assert!(
        error.message().contains("Org:Procurement/Dept:A"),
        "the message names the scope held: {}",
        error.message()
    );
    // A scope beside the one held is simply not held.
    let error = delegate(&app, &ali, delegation("bob", "Org:Procurement/Dept:B", 30))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "NOT_HELD");
    // Without the role at all, nothing is held.
    let bob = app.token("bob", &[], &[], None, Some("b1"));
    let error = delegate(&app, &bob, delegation("carol", "Org:Procurement", 30))
        .await
        .unwrap_err();
    assert_eq!(error_reason(&error), "NOT_HELD");
    assert_eq!(app.store.revision().await.unwrap(), before);
}
