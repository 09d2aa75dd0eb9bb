//! Item 7, attacks not already covered elsewhere (`security.rs`: self-approval through
//! Approve, wrong approver, forged and expired tokens, bad request fields, SQL in a Check
//! resource; `workflows.rs`: approval replay and quorum; `delegation.rs`: every delegation
//! breach of scope, time and depth; `src/auth/mod.rs`: `alg: none`, HS256 with the RSA public
//! key, unknown `kid`, oversized tokens). Here: self-approval through the other RPCs, approval
//! after cancel or time-out, an elevated grant used to approve, eligibility removed between
//! approval and activation, identity taken from headers, not-yet-valid, wrong-audience,
//! wrong-issuer and truncated tokens over gRPC, and SQL metacharacters and invalid UTF-8 (raw
//! protobuf bytes) in every string field. Each is refused with its status and changes nothing.

use chrono::TimeDelta;
use elevator::auth::Claims;
use elevator::clock::Clock;
use elevator::proto::v1 as pb;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

use crate::harness::*;

/// What a refused attack must leave as it was: the audit log (every change appends to it),
/// and the revision.
async fn fingerprint(app: &TestApp) -> (usize, u64) {
    (
        app.audit_actions().await.len(),
        app.store.revision().await.unwrap(),
    )
}

fn approve_request(elevation_id: &str) -> pb::ApproveRequest {
    pb::ApproveRequest {
        elevation_id: elevation_id.into(),
        comment: "ok".into(),
        idempotency_key: String::new(),
    }
}

async fn approve_as(app: &TestApp, token: &str, elevation_id: &str) -> tonic::Status {
    app.approvals()
        .approve(authed(token, approve_request(elevation_id)))
        .await
        .expect_err("the approval must be refused")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_not_yet_valid_for_another_audience_or_issuer_or_truncated_are_refused() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.auth.issuer = Some("https://idp.example".into());
                config.auth.audience = Some("elevator".into());
            })),
            ..Default::default()
        },
    )
    .await;
    let ali = |change: &dyn Fn(&mut Claims)| {
        let mut claims = Claims {
            sub: "ali".into(),
            sid: Some("s9".into()),
            groups: vec!["managers".into()],
            iss: Some("https://idp.example".into()),
            aud: vec!["elevator".into()],
            ..Default::default()
        };
        change(&mut claims);
        token_signed(TEST_SECRET.as_bytes(), &app.clock, claims)
    };
    let fatma = token_signed(
        TEST_SECRET.as_bytes(),
        &app.clock,
        Claims {
            sub: "fatma".into(),
            sid: Some("s1".into()),
            groups: vec!["procurement-staff".into()],
            manager: Some("ali".into()),
            iss: Some("https://idp.example".into()),
            aud: vec!["elevator".into()],
            ..Default::default()
        },
    );
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &fatma,
            elevation_request("admin_approver", "Org:Procurement", 3600, "Q4"),
        ))
        .await
        .expect("a valid token works")
        .into_inner()
        .elevation
        .unwrap();
    let before = fingerprint(&app).await;
    let valid = ali(&|_| {});
    let not_yet_valid =
        ali(&|claims| claims.nbf = Some((app.clock.now() + TimeDelta::minutes(10)).timestamp()));
    let other_audience = ali(&|claims| claims.aud = vec!["another-service".into()]);
    let no_audience = ali(&|claims| claims.aud = Vec::new());
    let other_issuer = ali(&|claims| claims.iss = Some("https://evil.example".into()));
    let no_issuer = ali(&|claims| claims.iss = None);
    let truncated_signature = valid[..valid.len() - 6].to_owned();
    let without_signature = valid[..valid.rfind('.').unwrap()].to_owned();
    let cases = [
        ("not yet valid", not_yet_valid),
        ("another audience", other_audience),
        ("no audience", no_audience),
        ("another issuer", other_issuer),
        ("no issuer", no_issuer),
        ("a truncated signature", truncated_signature),
        ("no signature part", without_signature),
        ("an empty token", String::new()),
    ];
    for (what, token) in cases {
        eprintln!("token attack: {what}");
        let refused = approve_as(&app, &token, &elevation.id).await;
        assert_eq!(refused.code(), Code::Unauthenticated, "{what}: {refused:?}");
        assert_eq!(fingerprint(&app).await, before, "{what} changed something");
    }
    // The control: the same token, untampered, approves.
    app.approvals()
        .approve(authed(&valid, approve_request(&elevation.id)))
        .await
        .expect("the untampered token approves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_never_comes_from_a_header_or_a_request_field() {
    let app = spawn_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    let before = fingerprint(&app).await;
    for header in [
        "x-elevator-subject",
        "x-forwarded-user",
        "x-user",
        "x-remote-user",
        "x-auth-request-user",
    ] {
        let mut request = tonic::Request::new(approve_request(&elevation.id));
        request
            .metadata_mut()
            .insert(header, "ali".parse().unwrap());
        let refused = app.approvals().approve(request).await.unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{header}");
        // With fatma's token, the header does not make her ali: a self-approval.
        let mut request = authed(&app.fatma(), approve_request(&elevation.id));
        request
            .metadata_mut()
            .insert(header, "ali".parse().unwrap());
        let refused = app.approvals().approve(request).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied, "{header}");
        assert_eq!(error_reason(&refused), "SELF_APPROVAL", "{header}");
    }
    // A Check's subject field names whom the PEP asks about; it never makes a user a PEP.
    let refused = app
        .checks()
        .check(authed(
            &app.fatma(),
            pb::CheckRequest {
                subject: "gateway".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(fingerprint(&app).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_approval_through_extension_and_delegation_is_refused() {
    let app = spawn_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    // Fatma, even with a token that names her her own manager, cannot approve her extension.
    let extended = app
        .elevations()
        .extend_elevation(authed(
            &app.fatma(),
            pb::ExtendElevationRequest {
                id: elevation.id.clone(),
                extension: Some(prost_types::Duration {
                    seconds: 1800,
                    nanos: 0,
                }),
                reason: "more".into(),
                idempotency_key: String::new(),
            },
        ))
        .await;
    let after_extension_request = fingerprint(&app).await;
    if let Ok(response) = extended {
        let pending = response.into_inner().elevation.unwrap();
        if pending.id != elevation.id {
            let fatma_as_manager = app.token(
                "fatma",
                &["procurement-staff", "managers"],
                &[],
                Some("fatma"),
                Some("s1"),
            );
            let refused = approve_as(&app, &fatma_as_manager, &pending.id).await;
            assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
            assert_eq!(fingerprint(&app).await, after_extension_request);
        }
    }
    // Delegating her grant to herself (another session) is refused.
    let refused = app
        .elevations()
        .delegate(authed(
            &app.fatma(),
            pb::DelegateRequest {
                delegatee: "fatma".into(),
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                duration: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                reason: "me again".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_ne!(refused.code(), Code::Ok);
    assert!(
        matches!(
            refused.code(),
            Code::InvalidArgument | Code::PermissionDenied | Code::FailedPrecondition
        ),
        "{refused:?}"
    );
    assert_eq!(fingerprint(&app).await, after_extension_request);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_after_cancel_or_time_out_or_by_an_elevated_grant_are_refused() {
    let app = spawn_app(Backend::Memory).await;

    // Cancelled, then approved.
    let cancelled = app.request_fatma().await;
    app.elevations()
        .cancel_elevation(authed(
            &app.fatma(),
            pb::CancelElevationRequest {
                id: cancelled.id.clone(),
                reason: "never mind".into(),
            },
        ))
        .await
        .expect("fatma cancels");
    let before = fingerprint(&app).await;
    let refused = approve_as(&app, &app.ali(), &cancelled.id).await;
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(fingerprint(&app).await, before);

    // Timed out (its request TTL, 1h, passed; the sweep has not run), then approved.
    let stale = app.request_fatma().await;
    app.clock.advance(TimeDelta::minutes(61));
    let before = fingerprint(&app).await;
    let refused = approve_as(&app, &app.ali(), &stale.id).await;
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(fingerprint(&app).await, before);
    assert!(!app.check_fatma("s1").await.allowed);

    // Fatma holds admin_approver (an elevated grant): it does not make her an approver of
    // omar's request (approvers come from the chain: omar's manager).
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    assert!(app.check_fatma("s1").await.allowed);
    let omar = app.token("omar", &["procurement-staff"], &[], Some("ali"), Some("s5"));
    let omars = app
        .elevations()
        .request_elevation(authed(
            &omar,
            elevation_request("admin_approver", "Org:Procurement", 3600, "month end"),
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    let before = fingerprint(&app).await;
    let refused = approve_as(&app, &app.fatma(), &omars.id).await;
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert_eq!(error_reason(&refused), "NOT_AN_APPROVER");
    assert_eq!(fingerprint(&app).await, before);
}

/// Eligibility removed between approval and activation: a scheduled grant exists from the
/// approval on, so the policy change itself must withdraw it (revoked, audited) before it
/// starts; neither the sweep nor a Check may let it count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_whose_eligibility_was_removed_before_it_starts_never_allows() {
    let app = spawn_app(Backend::Memory).await;
    let start = app.clock.now() + TimeDelta::minutes(30);
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                duration: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                reason: "scheduled".into(),
                not_before: Some(prost_types::Timestamp {
                    seconds: start.timestamp(),
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .elevation
        .unwrap();
    app.ali_approves(&elevation.id).await;
    // The admin removes fatma's eligibility for the role before the grant starts.
    let without_eligibility = elevator::policy::DEMO_POLICY.replacen(
        "who: { groups: [procurement-staff] }",
        "who: { groups: [nobody-any-more] }",
        1,
    );
    app.policies()
        .put_policy(authed(
            &app.admin(),
            pb::PutPolicyRequest {
                source: without_eligibility,
                expected_version: 0,
            },
        ))
        .await
        .expect("the admin narrows the policy");
    app.clock.advance(TimeDelta::minutes(31));
    let _ = app.app.sweep().await;
    let decision = app.check_fatma("s1").await;
    assert!(
        !decision.allowed,
        "a grant whose eligibility was removed before it started allowed: {decision:?}"
    );
    assert_eq!(
        reason(&decision),
        pb::DecisionReason::Revoked,
        "{decision:?}"
    );
    let actions = app.audit_actions().await;
    assert_eq!(
        actions.last().map(String::as_str),
        Some("grant.revoked"),
        "the withdrawal is audited: {actions:?}"
    );
}

// ----- raw protobuf: invalid UTF-8 and SQL metacharacters in every string field ----------

/// Sends and receives raw protobuf bytes, so a string field can carry invalid UTF-8.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut bytes = vec![0; src.remaining()];
        src.copy_to_slice(&mut bytes);
        Ok(Some(bytes))
    }
}

/// A protobuf message of length-delimited fields (strings, bytes, sub-messages).
fn message(fields: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, value) in fields {
        push_varint(&mut out, u64::from(number << 3 | 2));
        push_varint(&mut out, value.len() as u64);
        out.extend_from_slice(value);
    }
    out
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

async fn raw_call(
    app: &TestApp,
    token: &str,
    path: &'static str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    client
        .unary(
            authed(token, body),
            http::uri::PathAndQuery::from_static(path),
            RawCodec,
        )
        .await
        .map(|response| response.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_and_sql_metacharacters_in_every_string_field_change_nothing() {
    let app = spawn_app(Backend::Postgres).await;
    let pending = app.request_fatma().await;
    // google.protobuf.Duration { seconds: 7200 }.
    let duration_2h = vec![0x08, 0xa0, 0x38];
    let invalid_utf8 = vec![b'x', 0xff, 0xfe, 0xc3, 0x28];
    let sql_in_identifier = b"Org:Procurement'; DROP TABLE grants; --".to_vec();
    let sql_in_text = b"it's \"fine\"; DELETE FROM grants; --".to_vec();
    let valid_request = |replace: Option<(u32, Vec<u8>)>| {
        let mut fields = vec![
            (1, b"admin_approver".to_vec()),
            (2, b"Org:Procurement".to_vec()),
            (3, duration_2h.clone()),
            (4, b"Q4 close".to_vec()),
            (5, b"T-1".to_vec()),
        ];
        if let Some((number, value)) = replace {
            fields.retain(|(n, _)| *n != number);
            fields.push((number, value));
        }
        message(&fields)
    };
    let before = fingerprint(&app).await;
    let mut refused = 0;
    // Every string field of the write RPCs: invalid UTF-8 is refused outright, and an
    // identifier with SQL in it is refused as malformed.
    let mut cases: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    for field in [1, 2, 4, 5, 6] {
        cases.push((
            "/elevator.v1.ElevationService/RequestElevation",
            app.fatma(),
            valid_request(Some((field, invalid_utf8.clone()))),
        ));
    }
    for field in [1, 2] {
        cases.push((
            "/elevator.v1.ElevationService/RequestElevation",
            app.fatma(),
            valid_request(Some((field, sql_in_identifier.clone()))),
        ));
    }
    for path in [
        "/elevator.v1.ApprovalService/Approve",
        "/elevator.v1.ApprovalService/Deny",
    ] {
        for field in [1, 2, 3] {
            let mut fields = vec![(1, pending.id.as_bytes().to_vec()), (2, b"ok".to_vec())];
            fields.retain(|(n, _)| *n != field);
            fields.push((field, invalid_utf8.clone()));
            cases.push((path, app.ali(), message(&fields)));
        }
        cases.push((path, app.ali(), message(&[(1, sql_in_identifier.clone())])));
    }
    for path in [
        "/elevator.v1.ElevationService/CancelElevation",
        "/elevator.v1.ElevationService/RevokeGrant",
    ] {
        for field in [1, 2] {
            let mut fields = vec![(1, pending.id.as_bytes().to_vec()), (2, b"done".to_vec())];
            fields.retain(|(n, _)| *n != field);
            fields.push((field, invalid_utf8.clone()));
            cases.push((path, app.fatma(), message(&fields)));
        }
        cases.push((
            path,
            app.fatma(),
            message(&[(1, sql_in_identifier.clone())]),
        ));
    }
    for field in [1, 2, 3, 4, 6] {
        let mut fields = vec![
            (1, b"fatma".to_vec()),
            (2, b"s1".to_vec()),
            (3, b"purchase_orders.approve".to_vec()),
            (4, b"Org:Procurement/PO:1".to_vec()),
        ];
        fields.retain(|(n, _)| *n != field);
        fields.push((field, invalid_utf8.clone()));
        cases.push((
            "/elevator.v1.CheckService/Check",
            app.pep(),
            message(&fields),
        ));
    }
    for (path, token, body) in cases {
        let outcome = raw_call(&app, &token, path, body).await;
        let status = outcome.expect_err(path);
        assert!(
            matches!(
                status.code(),
                Code::InvalidArgument | Code::Internal | Code::NotFound
            ),
            "{path}: {status:?}"
        );
        refused += 1;
        assert_eq!(fingerprint(&app).await, before, "{path} changed something");
    }
    // SQL in free text is no attack: it is stored verbatim, and the tables are intact.
    let reply = raw_call(
        &app,
        &app.fatma(),
        "/elevator.v1.ElevationService/RequestElevation",
        valid_request(Some((4, sql_in_text.clone()))),
    )
    .await
    .expect("SQL metacharacters in a reason are just text");
    let response: pb::RequestElevationResponse = prost::Message::decode(&reply[..]).unwrap();
    assert_eq!(
        response.elevation.unwrap().reason.as_bytes(),
        &sql_in_text[..]
    );
    let grants = sql(
        app.database_url.as_deref().unwrap(),
        "SELECT count(*) FROM grants",
    )
    .await;
    assert!(!grants.is_empty(), "the grants table is still there");
    eprintln!("attacks: {refused} malformed string fields refused, nothing changed");
}
