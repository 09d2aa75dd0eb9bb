//! Carrying an elevation in a token: token exchange (RFC 8693) mints a token only over a live
//! grant, verifiable with the published JWKS; introspection (RFC 7662) and Check stop honouring
//! it the moment its grant is revoked; bad requests get the RFC's errors and mint nothing.

use bytes::Bytes;
use chrono::TimeDelta;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value as Json;
use tokio::net::TcpStream;

use crate::envoy::{APPROVE_ROUTE, ask, denied_reason, envoy_request, outcome};
use crate::harness::*;
use crate::on_both_backends;
use elevator::auth::Claims;
use elevator::proto::v1 as pb;

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const SCOPE: &str = "admin_approver@Org:Procurement/PO:4711";

/// A server whose tokens are minted for `orders` and `billing`.
async fn token_app(backend: Backend) -> TestApp {
    spawn_app_with(
        backend,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.tokens.audiences = vec!["orders".into(), "billing".into()];
            })),
            ..Default::default()
        },
    )
    .await
}

/// An answer: status, content type and the body as JSON.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) cache_control: String,
    pub(crate) body: Json,
}

async fn send(app: &TestApp, request: Request<Full<Bytes>>) -> Answer {
    let stream = TcpStream::connect(app.http_address).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP/1.1 handshake");
    tokio::spawn(connection);
    let response = sender.send_request(request).await.expect("a response");
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&body)));
    Answer {
        status,
        cache_control,
        body,
    }
}

async fn get(app: &TestApp, path: &str) -> Answer {
    let request = Request::get(format!("http://localhost{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(app, request).await
}

fn form_encoded(parameters: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        text.bytes()
            .map(|byte| match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (byte as char).to_string()
                }
                _ => format!("%{byte:02X}"),
            })
            .collect::<String>()
    };
    parameters
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to `path` as `client` (a bearer token), when given.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    client: Option<&str>,
    parameters: &[(&str, &str)],
) -> Answer {
    let mut builder = Request::post(format!("http://localhost{path}"))
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some(client) = client {
        builder = builder.header("authorization", format!("Bearer {client}"));
    }
    let request = builder
        .body(Full::new(Bytes::from(form_encoded(parameters))))
        .unwrap();
    send(app, request).await
}

/// Exchanges fatma's token for `scope` and `audience`, as the PEP.
async fn exchange(app: &TestApp, scope: &str, audience: &str) -> Answer {
    let fatma = app.fatma();
    post_form(
        app,
        "/oauth2/token",
        Some(&app.pep()),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &fatma),
            ("subject_token_type", JWT),
            ("scope", scope),
            ("audience", audience),
        ],
    )
    .await
}

/// The `token.minted` audit events so far.
async fn minted_token_events(app: &TestApp) -> Vec<elevator::domain::AuditEvent> {
    app.store
        .audit_events(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|stored| stored.event.action.as_str() == "token.minted")
        .map(|stored| stored.event)
        .collect()
}

async fn introspect(app: &TestApp, token: &str) -> Json {
    let answer = post_form(
        app,
        "/oauth2/introspect",
        Some(&app.pep()),
        &[("token", token)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// A Check for fatma's approval of PO 4711 with `token` as her token.
async fn check_with_token(app: &TestApp, token: &str) -> pb::CheckResponse {
    try_check_with_token(app, token).await.expect("check")
}

async fn try_check_with_token(
    app: &TestApp,
    token: &str,
) -> Result<pb::CheckResponse, tonic::Status> {
    app.checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:4711".into(),
                subject_token: token.into(),
                ..Default::default()
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// The claims of `token` verified with the published JWKS, for `audience`, as a consumer
/// that knows nothing of elevator but its metadata would.
async fn verified_by_jwks(app: &TestApp, token: &str, audience: &str) -> Result<Json, String> {
    let metadata = get(app, "/.well-known/oauth-authorization-server")
        .await
        .body;
    let issuer = metadata["issuer"].as_str().unwrap().to_owned();
    let jwks_path = metadata["jwks_uri"]
        .as_str()
        .unwrap()
        .strip_prefix(&issuer)
        .unwrap()
        .to_owned();
    let set: JwkSet = serde_json::from_value(get(app, &jwks_path).await.body).unwrap();
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let jwk = set
        .find(header.kid.as_deref().unwrap_or(""))
        .ok_or("no published key has the token's kid")?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.leeway = 0;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    jsonwebtoken::decode::<Json>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

async fn a_token_carries_a_live_grant_and_dies_with_it(backend: Backend) {
    let app = token_app(backend).await;
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();

    let minted = exchange(&app, SCOPE, "orders").await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    assert_eq!(minted.cache_control, "no-store");
    assert_eq!(minted.body["token_type"], "Bearer");
    assert_eq!(minted.body["scope"], SCOPE);
    assert_eq!(minted.body["expires_in"], 15 * 60);
    let token = minted.body["access_token"].as_str().unwrap().to_owned();

    let claims = verified_by_jwks(&app, &token, "orders").await.unwrap();
    assert_eq!(claims["sub"], "fatma");
    assert_eq!(claims["sid"], "s1");
    assert_eq!(claims["aud"], "orders");
    assert_eq!(claims["grant_id"], grant.id.as_str());
    assert_eq!(claims["role"], "admin_approver");
    assert_eq!(claims["scope"], SCOPE);
    assert_eq!(claims["client_id"], "gateway");
    assert!(claims["jti"].as_str().is_some_and(|jti| !jti.is_empty()));
    assert!(claims.get("roles").is_none() && claims.get("act").is_none());
    assert!(verified_by_jwks(&app, &token, "billing").await.is_err());

    // The token left elevator only after the audit log recorded it, by its jti.
    let minted_events = minted_token_events(&app).await;
    assert_eq!(minted_events.len(), 1, "{minted_events:?}");
    let event = &minted_events[0];
    assert_eq!(event.actor, "gateway");
    assert_eq!(event.subject.as_ref().map(|s| s.as_str()), Some("fatma"));
    assert_eq!(
        event.grant_id.map(|id| id.to_string()),
        Some(grant.id.clone())
    );
    assert_eq!(event.details["jti"], claims["jti"]);
    assert_eq!(event.details["audience"], "orders");

    let active = introspect(&app, &token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["sub"], "fatma");
    assert_eq!(active["grant_id"], grant.id.as_str());
    assert!(check_with_token(&app, &token).await.allowed);
    let through_envoy = || {
        envoy_request(
            "POST",
            "/purchase-orders/4711/approve",
            &[("authorization", &format!("Bearer {token}"))],
            APPROVE_ROUTE,
            None,
        )
    };
    let pep = app.pep();
    assert_eq!(outcome(&ask(&app, &pep, through_envoy()).await).0, 200);
    // It speaks for fatma to its audience, never to elevator's own API, nor in a new exchange.
    let as_caller = app
        .elevations()
        .list_grants(authed(&token, pb::ListGrantsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(as_caller.code(), tonic::Code::Unauthenticated);
    assert!(as_caller.message().contains("send the user's own token"));
    let re_exchanged = post_form(
        &app,
        "/oauth2/token",
        Some(&pep),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &token),
            ("subject_token_type", JWT),
            ("scope", SCOPE),
            ("audience", "orders"),
        ],
    )
    .await;
    assert_eq!(re_exchanged.body["error"], "invalid_request");

    app.elevations()
        .revoke_grant(authed(
            &app.admin(),
            pb::RevokeGrantRequest {
                grant_id: grant.id.clone(),
                reason: "incident closed".into(),
            },
        ))
        .await
        .expect("the revocation");
    assert_eq!(
        introspect(&app, &token).await,
        serde_json::json!({"active": false})
    );
    let denied = check_with_token(&app, &token).await;
    assert!(!denied.allowed);
    assert_eq!(reason(&denied), pb::DecisionReason::Revoked);
    let refused = ask(&app, &pep, through_envoy()).await;
    assert_eq!(outcome(&refused).0, 403);
    assert_eq!(denied_reason(&refused), "revoked");
    let again = exchange(&app, SCOPE, "orders").await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["error"], "invalid_scope");
}
on_both_backends!(
    token_over_a_grant,
    a_token_carries_a_live_grant_and_dies_with_it
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_never_outlives_its_grant_and_expires_for_everyone() {
    let app = token_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    app.clock
        .advance(TimeDelta::hours(2) - TimeDelta::minutes(5));

    let minted = exchange(&app, SCOPE, "orders").await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    assert_eq!(minted.body["expires_in"], 5 * 60);
    let token = minted.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &token).await["active"], true);

    app.clock.advance(TimeDelta::minutes(5));
    assert_eq!(introspect(&app, &token).await["active"], false);
    // Check refuses the expired token itself, as it does any expired end-user token.
    let refused = try_check_with_token(&app, &token).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("expired"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_exchanges_get_the_rfc_errors_and_mint_nothing() {
    let app = token_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let fatma = app.fatma();
    let pep = app.pep();
    let good = [
        ("grant_type", EXCHANGE),
        ("subject_token", fatma.as_str()),
        ("subject_token_type", JWT),
        ("scope", SCOPE),
        ("audience", "orders"),
    ];
    let with = |name: &'static str, value: &'static str| {
        let mut parameters: Vec<(&str, &str)> = good
            .iter()
            .filter(|(key, _)| *key != name)
            .copied()
            .collect();
        if !value.is_empty() {
            parameters.push((name, value));
        }
        parameters
    };
    let foreign = token_signed(
        b"another-identity-provider-secret",
        &app.clock,
        Claims {
            sub: "fatma".into(),
            sid: Some("s1".into()),
            ..Default::default()
        },
    );
    let mut untrusted: Vec<(&str, &str)> = with("subject_token", "");
    untrusted.push(("subject_token", &foreign));
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            with("grant_type", "authorization_code"),
            "unsupported_grant_type",
        ),
        (with("grant_type", ""), "invalid_request"),
        (with("audience", "payroll"), "invalid_target"),
        (with("audience", ""), "invalid_request"),
        (
            with("resource", "https://orders.example.com"),
            "invalid_target",
        ),
        (with("scope", "admin_approver@Org:Sales"), "invalid_scope"),
        (with("scope", "po_creator@Org:Procurement"), "invalid_scope"),
        (with("scope", "admin_approver"), "invalid_scope"),
        (
            with(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:saml2",
            ),
            "unsupported_token_type",
        ),
        (with("subject_token", "not-a-token"), "invalid_request"),
        (untrusted, "invalid_request"),
        (with("actor_token_type", JWT), "invalid_request"),
    ];
    for (parameters, error) in cases {
        let answer = post_form(&app, "/oauth2/token", Some(&pep), &parameters).await;
        assert_eq!(answer.status, 400, "{parameters:?}: {}", answer.body);
        assert_eq!(
            answer.body["error"], error,
            "{parameters:?}: {}",
            answer.body
        );
        assert!(answer.body.get("access_token").is_none());
        let description = answer.body["error_description"].as_str().unwrap();
        assert!(description.len() <= 512 && !description.contains(&fatma));
    }

    let anonymous = post_form(&app, "/oauth2/token", None, &good).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.body["error"], "invalid_client");
    let not_a_pep = post_form(&app, "/oauth2/token", Some(&fatma), &good).await;
    assert_eq!(not_a_pep.status, 401);
    assert_eq!(not_a_pep.body["error"], "invalid_client");
    let twice = format!("{}&audience=billing", form_encoded(&good));
    let request = Request::post("http://localhost/oauth2/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Bearer {pep}"))
        .body(Full::new(Bytes::from(twice)))
        .unwrap();
    assert_eq!(send(&app, request).await.body["error"], "invalid_request");
    let json = Request::post("http://localhost/oauth2/token")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {pep}"))
        .body(Full::new(Bytes::from("{}")))
        .unwrap();
    assert_eq!(send(&app, json).await.body["error"], "invalid_request");

    assert!(
        minted_token_events(&app).await.is_empty(),
        "a refused exchange mints nothing, so nothing is recorded as minted"
    );

    // A token another issuer signed is not ours to introspect.
    assert_eq!(
        introspect(&app, &foreign).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        introspect(&app, "garbage").await,
        serde_json::json!({"active": false})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_publishes_its_metadata_and_public_keys() {
    let app = token_app(Backend::Memory).await;
    let metadata = get(&app, "/.well-known/oauth-authorization-server").await;
    assert_eq!(metadata.status, 200);
    let issuer = format!("http://{}", app.http_address);
    assert_eq!(metadata.body["issuer"], issuer.as_str());
    assert_eq!(
        metadata.body["token_endpoint"],
        format!("{issuer}/oauth2/token")
    );
    assert_eq!(
        metadata.body["introspection_endpoint"],
        format!("{issuer}/oauth2/introspect")
    );
    assert_eq!(metadata.body["grant_types_supported"][0], EXCHANGE);
    let jwks = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.cache_control.contains("max-age=300"));
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(keys[0].get("d").is_none(), "no private half is published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_grant_puts_its_chain_in_act_and_delegated_by() {
    let app = token_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    // fatma passes her grant to bob; bob takes it up in his session s7.
    let bob = app.token("bob", &["procurement-staff"], &[], Some("ali"), Some("s7"));
    let delegated = app
        .elevations()
        .delegate(authed(
            &app.fatma(),
            pb::DelegateRequest {
                delegatee: "bob".into(),
                role: "admin_approver".into(),
                scope: "Org:Procurement".into(),
                reason: "holiday cover".into(),
                duration: Some(prost_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
                ..Default::default()
            },
        ))
        .await
        .expect("the delegation")
        .into_inner()
        .grant
        .unwrap();
    app.elevations()
        .accept_delegation(authed(
            &bob,
            pb::AcceptDelegationRequest {
                grant_id: delegated.id.clone(),
            },
        ))
        .await
        .expect("bob takes the delegation up");
    let service = app.token("batch-service", &[], &[], None, None);
    let minted = post_form(
        &app,
        "/oauth2/token",
        Some(&app.pep()),
        &[
            ("grant_type", EXCHANGE),
            ("subject_token", &bob),
            ("subject_token_type", JWT),
            ("actor_token", &service),
            ("actor_token_type", JWT),
            ("scope", SCOPE),
            ("audience", "orders"),
        ],
    )
    .await;
    assert_eq!(minted.status, 200, "{}", minted.body);
    let token = minted.body["access_token"].as_str().unwrap();
    let claims = verified_by_jwks(&app, token, "orders").await.unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["grant_id"], delegated.id.as_str());
    assert_eq!(claims["delegatedBy"], "fatma");
    assert_eq!(
        claims["act"],
        serde_json::json!({"sub": "batch-service", "act": {"sub": "fatma"}})
    );
}
