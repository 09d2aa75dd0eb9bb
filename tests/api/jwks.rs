//! Keys from the identity provider's JWKS URL, served here over HTTPS with the test CA: the
//! first fetch at start-up, a fetch when a token names a key id no key has (at most one per
//! interval, however many forged ids arrive), and a withdrawn key refused at the next call,
//! even for a token verified (and cached) before.

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use elevator::auth::Claims;
use elevator::clock::Clock;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::Code;

use crate::harness::*;
use elevator::proto::v1 as pb;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The fixture JWKS with only the keys whose ids are in `ids`.
fn jwks_with(ids: &[&str]) -> String {
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("jwks.json")).unwrap()).unwrap();
    let keys: Vec<_> = full["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|key| ids.contains(&key["kid"].as_str().unwrap()))
        .cloned()
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// An identity provider's JWKS endpoint: serves `document`, counts fetches.
struct JwksServer {
    url: String,
    document: Arc<Mutex<String>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    async fn start(document: String) -> JwksServer {
        let chain = CertificateDer::pem_file_iter(fixture("tls/server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("tls/server.key")).unwrap();
        let config = ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://localhost:{}/.well-known/jwks.json",
            listener.local_addr().unwrap().port()
        );
        let document = Arc::new(Mutex::new(document));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (document.clone(), fetches.clone());
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let (acceptor, served, counted) =
                    (acceptor.clone(), served.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |_request| {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let body = served.lock().unwrap().clone();
                        async move {
                            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(body))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        JwksServer {
            url,
            document,
            fetches,
        }
    }

    fn serve(&self, document: String) {
        *self.document.lock().unwrap() = document;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

async fn spawn_with_jwks(jwks: &JwksServer, refresh_seconds: u64) -> TestApp {
    let url = jwks.url.clone();
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(move |config| {
                config.auth.jwks_url = Some(url);
                config.auth.jwks_ca_file = Some(fixture("tls/ca.pem"));
                config.auth.jwks_refresh_seconds = refresh_seconds;
            })),
            ..Default::default()
        },
    )
    .await
}

/// A PEP token signed by the fixture key `kid` names (or `kid` claimed over the EC key).
fn pep_token(app: &TestApp, algorithm: Algorithm, kid: &str) -> String {
    let key = match algorithm {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(&std::fs::read(fixture("rs256-private.pem")).unwrap())
        }
        _ => EncodingKey::from_ec_pem(&std::fs::read(fixture("es256-private.pem")).unwrap()),
    }
    .unwrap();
    let mut header = Header::new(algorithm);
    header.kid = Some(kid.into());
    let claims = Claims {
        sub: "gateway".into(),
        roles: vec!["elevator:check".into()],
        exp: (app.clock.now() + TimeDelta::hours(1)).timestamp(),
        ..Default::default()
    };
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn check_with(app: &TestApp, token: &str) -> Result<pb::CheckResponse, tonic::Status> {
    app.checks()
        .check(authed(
            token,
            pb::CheckRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:4711".into(),
                ..Default::default()
            },
        ))
        .await
        .map(|response| response.into_inner())
}

#[tokio::test]
async fn a_new_key_id_is_fetched_once_and_forged_ids_cannot_make_it_fetch_more() {
    let jwks = JwksServer::start(jwks_with(&["ec-1"])).await;
    let app = spawn_with_jwks(&jwks, 3600).await;
    assert_eq!(jwks.fetches(), 1, "the keys are fetched at start-up");
    check_with(&app, &pep_token(&app, Algorithm::ES256, "ec-1"))
        .await
        .expect("a token signed by a fetched key");

    // The identity provider adds a key; the first token signed by it gets through.
    jwks.serve(jwks_with(&["ec-1", "rsa-1"]));
    check_with(&app, &pep_token(&app, Algorithm::RS256, "rsa-1"))
        .await
        .expect("an unknown key id fetches the keys again");
    assert_eq!(jwks.fetches(), 2);

    // Forged key ids are refused, and within the interval cause no further fetch.
    for attempt in 0..20 {
        let error = check_with(
            &app,
            &pep_token(&app, Algorithm::ES256, &format!("forged-{attempt}")),
        )
        .await
        .expect_err("a key id nobody has");
        assert_eq!(error.code(), Code::Unauthenticated, "{error:?}");
        assert!(
            error.message().contains("no key has id"),
            "{}",
            error.message()
        );
    }
    assert_eq!(jwks.fetches(), 2, "forged key ids are rate limited");
}

#[tokio::test]
async fn a_withdrawn_key_stops_verifying_even_cached_tokens() {
    let jwks = JwksServer::start(jwks_with(&["ec-1", "rsa-1"])).await;
    let app = spawn_with_jwks(&jwks, 1).await;
    let token = pep_token(&app, Algorithm::ES256, "ec-1");
    check_with(&app, &token).await.expect("verified and cached");

    jwks.serve(jwks_with(&["rsa-1"]));
    let mut refused = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Err(error) = check_with(&app, &token).await {
            refused = Some(error);
            break;
        }
    }
    let refused = refused.expect("the withdrawn key still verified after 5 s");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");
    check_with(&app, &pep_token(&app, Algorithm::RS256, "rsa-1"))
        .await
        .expect("the remaining key still verifies");
}

#[tokio::test]
async fn a_jwks_url_must_be_https() {
    let error = elevator::auth::jwks::JwksSource::new("http://idp.example/jwks.json", None)
        .expect_err("plain http");
    assert!(error.contains("must be https"), "{error}");
}
