//! Transport security with the fixtures in `tests/fixtures/tls` (regenerate with its
//! `make.sh`): TLS on both ports, a PEP known by its client certificate (and only for
//! Check), certificates from an unknown CA refused, and a rotated certificate served without
//! a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use crate::harness::*;
use elevator::proto::v1 as pb;
use elevator::proto::v1::approval_service_client::ApprovalServiceClient;
use elevator::proto::v1::check_service_client::CheckServiceClient;
use elevator::proto::v1::elevation_service_client::ElevationServiceClient;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

/// A server with TLS from copies of the fixtures in `dir` (so a test may rotate them),
/// trusting the test CA for client certificates and knowing `gateway.pep` as a PEP.
async fn spawn_tls_app(dir: &Path) -> TestApp {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["server.pem", "server.key", "ca.pem"] {
        std::fs::copy(fixture(name), dir.join(name)).unwrap();
    }
    let dir = dir.to_owned();
    spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(move |config| {
                config.tls.cert_file = Some(dir.join("server.pem"));
                config.tls.key_file = Some(dir.join("server.key"));
                config.tls.client_ca_file = Some(dir.join("ca.pem"));
                config.tls.pep_client_names = vec!["gateway.pep".into()];
                config.tls.reload_interval_seconds = 1;
            })),
            ..Default::default()
        },
    )
    .await
}

/// A TLS channel trusting the test CA, presenting `client` (a fixture name) if given.
async fn tls_channel(
    app: &TestApp,
    client: Option<&str>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read("ca.pem")))
        .domain_name("localhost");
    if let Some(client) = client {
        tls = tls.identity(Identity::from_pem(
            read(&format!("{client}.pem")),
            read(&format!("{client}.key")),
        ));
    }
    Channel::from_shared(format!("https://{}", app.address))
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
}

fn fatma_question() -> pb::CheckRequest {
    pb::CheckRequest {
        subject: "fatma".into(),
        session_id: "s1".into(),
        permission: "purchase_orders.approve".into(),
        resource: "Org:Procurement/PO:4711".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_pep_is_known_by_its_client_certificate_and_may_only_ask() {
    let scratch = std::env::temp_dir().join(format!("elevator-tls-{}", uuid::Uuid::new_v4()));
    let app = spawn_tls_app(&scratch).await;

    // Bearer tokens work over TLS as over plaintext: fatma asks, ali approves.
    let channel = tls_channel(&app, None).await.expect("a TLS connection");
    let elevation = ElevationServiceClient::new(channel.clone())
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 3600, "Q4 close"),
        ))
        .await
        .expect("a request over TLS")
        .into_inner()
        .elevation
        .unwrap();
    ApprovalServiceClient::new(channel)
        .approve(authed(
            &app.ali(),
            pb::ApproveRequest {
                elevation_id: elevation.id,
                comment: "ok".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("an approval over TLS");

    // Plaintext is not spoken.
    let plaintext = Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect()
        .await;
    // (The connection may open; the first call on it fails, how depends on timing.)
    if let Ok(plaintext) = plaintext {
        CheckServiceClient::new(plaintext)
            .check(authed(&app.pep(), fatma_question()))
            .await
            .expect_err("plaintext on a TLS port");
    }

    // The gateway's certificate is enough for Check, without a token.
    let gateway = tls_channel(&app, Some("gateway"))
        .await
        .expect("mutual TLS");
    let answer = CheckServiceClient::new(gateway.clone())
        .check(tonic::Request::new(fatma_question()))
        .await
        .expect("a Check by certificate")
        .into_inner();
    assert!(answer.allowed, "{answer:?}");

    // The command line speaks TLS too, trusting the CA it is given.
    let server = format!("https://localhost:{}", app.address.port());
    let pep = app.pep();
    let cli = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_elevator"))
            .args(["check", "--subject", "fatma", "--session", "s1"])
            .args(["--permission", "purchase_orders.approve"])
            .args(["--resource", "Org:Procurement/PO:4711"])
            .arg("--server")
            .arg(server)
            .arg("--ca-file")
            .arg(fixture("ca.pem"))
            .env("ELEVATOR_TOKEN", pep)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );

    // ... and for nothing else.
    let refused = ElevationServiceClient::new(gateway)
        .list_elevations(tonic::Request::new(pb::ListElevationsRequest::default()))
        .await
        .expect_err("a certificate is not a caller for other services");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // A certificate from the right CA for a name that is not a PEP is no identity.
    let stranger = tls_channel(&app, Some("stranger"))
        .await
        .expect("mutual TLS");
    let refused = CheckServiceClient::new(stranger)
        .check(tonic::Request::new(fatma_question()))
        .await
        .expect_err("not a PEP name");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused:?}");

    // A look-alike gateway.pep certificate from an unknown CA fails the handshake.
    if let Ok(rogue) = tls_channel(&app, Some("rogue-gateway")).await {
        CheckServiceClient::new(rogue)
            .check(tonic::Request::new(fatma_question()))
            .await
            .expect_err("a client certificate from an unknown CA");
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The leaf certificate `address` presents, through a bare TLS handshake with `alpn`.
async fn presented_certificate(address: std::net::SocketAddr, alpn: &[u8]) -> Vec<u8> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let mut config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("a handshake with the test CA");
    let (_, session) = stream.get_ref();
    session.peer_certificates().unwrap()[0].to_vec()
}

fn leaf_der(name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(fixture(name))
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_restart_and_a_broken_one_is_not() {
    let scratch = std::env::temp_dir().join(format!("elevator-tls-{}", uuid::Uuid::new_v4()));
    let app = spawn_tls_app(&scratch).await;
    assert_eq!(
        presented_certificate(app.address, b"h2").await,
        leaf_der("server.pem")
    );

    // A half-done rotation (new certificate, old key) is refused; the old pair stays.
    std::fs::copy(fixture("server-rotated.pem"), scratch.join("server.pem")).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        presented_certificate(app.address, b"h2").await,
        leaf_der("server.pem")
    );

    std::fs::copy(fixture("server-rotated.key"), scratch.join("server.key")).unwrap();
    let mut rotated = false;
    for _ in 0..50 {
        if presented_certificate(app.address, b"h2").await == leaf_der("server-rotated.pem") {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        rotated,
        "the rotated certificate was not served within 10 s"
    );
    // The admin port follows the same files.
    assert_eq!(
        presented_certificate(app.admin_address, b"http/1.1").await,
        leaf_der("server-rotated.pem")
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[tokio::test]
async fn the_admin_port_speaks_tls_too() {
    let scratch = std::env::temp_dir().join(format!("elevator-tls-{}", uuid::Uuid::new_v4()));
    let app = spawn_tls_app(&scratch).await;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(app.admin_address)
        .await
        .unwrap();
    let mut stream = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let _ = std::fs::remove_dir_all(&scratch);
}
