//! Invisible and direction-changing characters: identifiers (subjects, groups, sessions,
//! scopes) refuse them wherever they come from (a request, a token, a policy), so that
//! `fa\u{200B}tma` never passes for `fatma`; free text (reasons, tickets, comments) refuses
//! bidirectional overrides. Each refusal names the field and the character, and changes
//! nothing.

use tonic::Code;

use crate::harness::*;
use crate::on_both_backends;
use elevator::proto::v1 as pb;

const ZERO_WIDTH_FATMA: &str = "fa\u{200B}tma";

async fn invisible_characters_are_refused_at_every_entry_point(backend: Backend) {
    let app = spawn_app(backend).await;
    let revision = app.store.revision().await.unwrap();

    // A request: a scope with a zero-width space, a reason with a right-to-left override.
    for (request, field) in [
        (
            elevation_request("admin_approver", "Org:Procure\u{200B}ment", 3600, "close"),
            "scope",
        ),
        (
            elevation_request(
                "admin_approver",
                "Org:Procurement",
                3600,
                "see \u{202E}fdp.exe",
            ),
            "reason",
        ),
    ] {
        let refused = app
            .elevations()
            .request_elevation(authed(&app.fatma(), request))
            .await
            .expect_err(field);
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{field}: {refused:?}"
        );
        assert!(
            refused.message().starts_with(field),
            "{}",
            refused.message()
        );
        // The character is named (U+202E) or shown escaped (\u{200b}), never hidden.
        let message = refused.message();
        assert!(
            message.contains("U+20") || message.contains("\\u{20"),
            "{message}"
        );
    }

    // A token whose subject, or session, hides a character.
    for token in [
        app.token(
            ZERO_WIDTH_FATMA,
            &["procurement-staff"],
            &[],
            Some("ali"),
            Some("s1"),
        ),
        app.token(
            "fatma",
            &["procurement-staff"],
            &[],
            Some("ali"),
            Some("s\u{2066}1"),
        ),
    ] {
        let refused = app
            .elevations()
            .request_elevation(authed(
                &token,
                elevation_request("admin_approver", "Org:Procurement", 3600, "close"),
            ))
            .await
            .expect_err("a token with an invisible character");
        assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    }

    // A Check about such a subject, and a policy naming one.
    let refused = app
        .checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                subject: ZERO_WIDTH_FATMA.into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:4711".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a subject with a zero-width space");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    let policy = elevator::policy::DEMO_POLICY.replace(
        "who: { groups: [procurement-staff] }",
        &format!("who: {{ users: [\"{ZERO_WIDTH_FATMA}\"] }}"),
    );
    let refused = app
        .policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: policy,
                expected_version: 0,
            },
        ))
        .await
        .expect_err("a policy naming a subject with a zero-width space");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(error_reason(&refused), "INVALID_POLICY");
    assert_eq!(app.store.revision().await.unwrap(), revision);

    // Right-to-left text with its direction marks is still welcome in free text.
    app.elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request(
                "admin_approver",
                "Org:Procurement",
                3600,
                "إغلاق الربع\u{200F} Q4",
            ),
        ))
        .await
        .expect("right-to-left text");
}
on_both_backends!(
    invisible_characters_are_refused_alike_on_both_stores,
    invisible_characters_are_refused_at_every_entry_point
);
