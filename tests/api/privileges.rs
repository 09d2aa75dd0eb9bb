//! The server runs as a PostgreSQL role that owns nothing: `elevator migrate` (as the owner)
//! grants it exactly what the server needs. The whole Fatma flow works as that role, and the
//! role can neither change the schema nor rewrite or remove audit rows.

use crate::harness::*;
use elevator::proto::v1 as pb;

/// `url` with its user replaced by `user`.
fn as_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host_and_more = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}@{host_and_more}")
}

#[tokio::test]
async fn the_runtime_role_does_everything_the_server_needs_and_nothing_more() {
    let owner_url = fresh_database().await;
    let role = format!(
        "elevator_app_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    sql(&owner_url, &format!("CREATE ROLE {role} LOGIN")).await;

    let mut config = elevator::config::Config {
        database_url: Some(owner_url.clone()),
        ..Default::default()
    };
    config.database.runtime_role = Some(role.clone());
    elevator::server::migrate_database(&config)
        .await
        .expect("migrate as the owner and grant the runtime role");

    let runtime_url = as_user(&owner_url, &role);
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: Some(runtime_url.clone()),
            policy: Some(crate::reviews::review_policy("")),
            configure: Some(Box::new(|config| config.database.migrate_on_start = false)),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let allowed = app.check_fatma("s1").await;
    assert!(allowed.allowed, "{allowed:?}");
    let revoked = app
        .elevations()
        .revoke_grant(authed(
            &app.admin(),
            pb::RevokeGrantRequest {
                grant_id: allowed.grant_id.clone(),
                reason: "done".into(),
            },
        ))
        .await;
    assert!(revoked.is_ok(), "{revoked:?}");
    let denied = app.check_fatma("s1").await;
    assert!(!denied.allowed, "{denied:?}");
    the_runtime_role_breaks_glass_and_reviews_access(&app).await;
    let events_before = app.audit_actions().await.len();
    // The access request profile's tables: denials kept and pruned, requests kept and read.
    let now = chrono::Utc::now();
    let denial = elevator::domain::RequestableDenial {
        evaluation_id: "eval_runtime".into(),
        pep: elevator::domain::Subject::parse("pep").unwrap(),
        bound: serde_json::json!({}),
        role: elevator::domain::RoleName::parse("admin_approver").unwrap(),
        scope: elevator::domain::Scope::parse("Org:Procurement").unwrap(),
        template: "eligibility/0/admin_approver".into(),
        evaluated_at: now,
        expires_at: now,
    };
    app.store
        .save_denial(&denial, now)
        .await
        .expect("keep a denial");
    assert!(
        app.store
            .get_denial("eval_runtime")
            .await
            .unwrap()
            .is_some()
    );
    assert!(app.store.access_requests_for_elevations(&[]).await.is_ok());

    let runtime = connect(&runtime_url).await;
    for (what, statement) in [
        (
            "rewrite an audit row",
            "UPDATE audit_events SET reason = 'nothing happened'",
        ),
        ("delete audit rows", "DELETE FROM audit_events"),
        ("truncate the audit log", "TRUNCATE audit_events"),
        (
            "rewrite a checkpoint",
            "UPDATE audit_checkpoints SET hash = hash",
        ),
        ("delete a grant", "DELETE FROM grants"),
        ("delete an access request", "DELETE FROM access_requests"),
        ("create a table", "CREATE TABLE smuggled (id int)"),
        ("drop a table", "DROP TABLE grants"),
        (
            "drop the append-only trigger",
            "ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only",
        ),
        (
            "forge a migration record",
            "INSERT INTO elevator_migrations (version, name) VALUES (999, 'x')",
        ),
    ] {
        let error = runtime
            .batch_execute(statement)
            .await
            .expect_err(&format!("the runtime role may not {what}"));
        let code = error.code().map(|code| code.code().to_owned());
        assert!(
            matches!(code.as_deref(), Some("42501")),
            "{what}: expected insufficient_privilege, got {error:?}"
        );
    }
    assert_eq!(app.audit_actions().await.len(), events_before);
}

/// Break-glass and access reviews write their own tables: a use, the Checks it allowed, its
/// review; a campaign, its items, a decision.
async fn the_runtime_role_breaks_glass_and_reviews_access(app: &TestApp) {
    let used = app
        .fatma_breaks_glass(&app.fatma_on_call("night"))
        .await
        .expect("break glass as the runtime role")
        .r#use
        .expect("the use");
    assert!(app.check_fatma("night").await.allowed);
    app.break_glass()
        .review_break_glass(authed(
            &app.ali(),
            crate::break_glass_review::review(&used.id, pb::BreakGlassVerdict::Confirm, "INC-7"),
        ))
        .await
        .expect("review a break-glass use as the runtime role");

    let campaign = crate::reviews::start(app, "quarterly-admin-approver").await;
    let items = crate::reviews::campaign_items(app, &campaign.id).await;
    let fatmas = crate::reviews::item(&items, "eligibility", "fatma");
    crate::reviews::decide(app, &app.ali(), &fatmas.id, "keep", "")
        .await
        .expect("decide a review item as the runtime role");
}
