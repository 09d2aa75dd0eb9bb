//! Real consumers of the tokens elevator mints, knowing nothing of elevator but its JWKS URL:
//! Envoy's `jwt_authn` filter (remote JWKS) in front of an upstream, and a Python client
//! verifying with PyJWT. Both take a token for their audience and refuse one for another
//! audience and an expired one.
//!
//! Two servers share one key file and issuer: `now` mints live tokens; `past`, whose clock
//! runs three hours behind, mints tokens that expired long ago by the consumers' clocks.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use elevator::clock::ManualClock;

use crate::envoy::start_envoy;
use crate::harness::*;
use crate::http::{send, start_recorder};

const ISSUER: &str = "https://elevator.test";
const SCOPE: &str = "admin_approver@Org:Procurement/PO:4711";

/// An Ed25519 key, made by `openssl genpkey -algorithm ed25519` for these tests only.
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIMBxSrfCXyuBui/fURWg9d04fa6K+bcyddQjcx/Qeubv
-----END PRIVATE KEY-----
";

/// The two servers, and where the shared key lives.
struct Minters {
    now: TestApp,
    past: TestApp,
    _key_dir: tempdir::Scratch,
}

mod tempdir {
    /// A directory removed on drop.
    pub(super) struct Scratch(pub(super) std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn minter(key: PathBuf, clock: Arc<ManualClock>) -> TestApp {
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            clock: Some(clock),
            configure: Some(Box::new(move |config| {
                config.tokens.issuer = Some(ISSUER.into());
                config.tokens.signing_key_files = vec![key];
                config.tokens.audiences = vec!["orders".into(), "billing".into()];
            })),
            ..Default::default()
        },
    )
    .await
}

async fn minters() -> Minters {
    let dir = std::env::temp_dir().join(format!(
        "elevator-token-key-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("signing.pem");
    std::fs::write(&key, KEY_PEM).unwrap();
    let now = minter(key.clone(), Arc::new(ManualClock::starting_now())).await;
    let past = minter(
        key,
        Arc::new(ManualClock::new(Utc::now() - TimeDelta::hours(3))),
    )
    .await;
    Minters {
        now,
        past,
        _key_dir: tempdir::Scratch(dir),
    }
}

/// Fatma's token exchanged on `app` for a token for `audience`.
async fn minted(app: &TestApp, audience: &str) -> String {
    let fatma = app.fatma();
    let answer = crate::tokens::post_form(
        app,
        "/oauth2/token",
        Some(&app.pep()),
        &[
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:token-exchange",
            ),
            ("subject_token", &fatma),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("scope", SCOPE),
            ("audience", audience),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

/// Fatma holds admin_approver on Org:Procurement on `app`.
async fn fatma_elevated(app: &TestApp) {
    let elevation = app.request_fatma().await;
    app.ali_approves(&elevation.id).await;
}

/// Envoy's `jwt_authn` filter with elevator's JWKS as remote JWKS, requiring the `orders`
/// audience, in front of `upstream_port`.
fn jwt_authn_config(elevator: std::net::SocketAddr, upstream_port: u16) -> String {
    format!(
        r#"
admin:
  address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
static_resources:
  listeners:
  - name: ingress
    address: {{ socket_address: {{ address: 127.0.0.1, port_value: 0 }} }}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts:
            - name: orders
              domains: ["*"]
              routes:
              - match: {{ prefix: "/" }}
                route: {{ cluster: upstream }}
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
                elevator:
                  issuer: {ISSUER}
                  audiences: [orders]
                  remote_jwks:
                    http_uri:
                      uri: http://{elevator}/.well-known/jwks.json
                      cluster: elevator_http
                      timeout: 5s
                    cache_duration: 300s
              rules:
              - match: {{ prefix: "/" }}
                requires: {{ provider_name: elevator }}
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    type: STATIC
    load_assignment:
      cluster_name: upstream
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {upstream_port} }} }} }}
  - name: elevator_http
    type: STATIC
    load_assignment:
      cluster_name: elevator_http
      endpoints:
      - lb_endpoints:
        - endpoint: {{ address: {{ socket_address: {{ address: 127.0.0.1, port_value: {elevator_port} }} }} }}
"#,
        elevator_port = elevator.port(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoys_jwt_filter_honours_a_minted_token_only_for_its_audience_and_lifetime() {
    let minters = minters().await;
    fatma_elevated(&minters.now).await;
    fatma_elevated(&minters.past).await;
    let live = minted(&minters.now, "orders").await;
    let other_audience = minted(&minters.now, "billing").await;
    let expired = minted(&minters.past, "orders").await;

    let upstream = start_recorder().await;
    let envoy = start_envoy(&jwt_authn_config(minters.now.http_address, upstream.port)).await;
    let bearer = |token: &str| format!("Bearer {token}");

    let passed = send(
        envoy.port,
        "GET",
        "/orders/7",
        &[("authorization", &bearer(&live))],
    )
    .await;
    assert_eq!(passed.status, 200, "{passed:?}\n{}", envoy.log());
    assert_eq!(upstream.all().len(), 1);

    let wrong = send(
        envoy.port,
        "GET",
        "/orders/7",
        &[("authorization", &bearer(&other_audience))],
    )
    .await;
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert!(wrong.body.contains("udience"), "{wrong:?}");
    let late = send(
        envoy.port,
        "GET",
        "/orders/7",
        &[("authorization", &bearer(&expired))],
    )
    .await;
    assert_eq!(late.status, 401, "{late:?}");
    assert!(late.body.contains("xpired"), "{late:?}");
    let none = send(envoy.port, "GET", "/orders/7", &[]).await;
    assert_eq!(none.status, 401, "{none:?}");
    assert_eq!(
        upstream.all().len(),
        1,
        "nothing refused reached the upstream"
    );
}

/// The interpreter `.ci/test` installs (with PyJWT and cryptography).
fn python() -> PathBuf {
    crate::tools::tool("python3", "PYTHON", "Python with PyJWT and cryptography")
}

/// Verifies `token` as a Python service would: PyJWT fetching the JWKS, then checking
/// signature, issuer, audience and expiry. Prints `valid <sub> <grant_id>`, `expired` or
/// `wrong-audience`.
const PYJWT_CONSUMER: &str = r#"
import sys
import jwt

token, jwks_url, issuer, audience = sys.argv[1:5]
key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
try:
    claims = jwt.decode(token, key.key, algorithms=["EdDSA", "ES256"],
                        audience=audience, issuer=issuer)
    print("valid", claims["sub"], claims["grant_id"])
except jwt.ExpiredSignatureError:
    print("expired")
except jwt.InvalidAudienceError:
    print("wrong-audience")
"#;

fn pyjwt_verdict(app: &TestApp, token: &str) -> String {
    let output = Command::new(python())
        .args(["-c", PYJWT_CONSUMER, token])
        .arg(format!("http://{}/.well-known/jwks.json", app.http_address))
        .args([ISSUER, "orders"])
        .output()
        .expect("start python");
    assert!(
        output.status.success(),
        "the PyJWT consumer failed (`bash .ci/test` installs PyJWT and cryptography from \
         .ci/requirements.txt):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_service_verifies_a_minted_token_with_pyjwt() {
    let minters = minters().await;
    fatma_elevated(&minters.now).await;
    fatma_elevated(&minters.past).await;
    let live = minted(&minters.now, "orders").await;
    let other_audience = minted(&minters.now, "billing").await;
    let expired = minted(&minters.past, "orders").await;

    let verdict = tokio::task::block_in_place(|| pyjwt_verdict(&minters.now, &live));
    assert!(verdict.starts_with("valid fatma "), "{verdict}");
    let verdict = tokio::task::block_in_place(|| pyjwt_verdict(&minters.now, &other_audience));
    assert_eq!(verdict, "wrong-audience");
    let verdict = tokio::task::block_in_place(|| pyjwt_verdict(&minters.now, &expired));
    assert_eq!(verdict, "expired");
}
