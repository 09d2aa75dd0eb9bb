//! The HTTP port over TLS, as the gRPC port: h2 and HTTP/1.1 by ALPN, bearer tokens, and a
//! PEP known by its client certificate (mutual TLS) without a token; a certificate no PEP
//! name is valid for is no identity.

use std::path::{Path, PathBuf};

use serde_json::json;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::client::{request, send_tls};
use crate::harness::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// A client trusting the test CA, offering `alpn`, presenting `certificate` when given.
fn client(alpn: &[&[u8]], certificate: Option<&str>) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(fixture("ca.pem")).unwrap())
        .unwrap();
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let mut config = match certificate {
        None => builder.with_no_client_auth(),
        Some(name) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_file(fixture(&format!("{name}.pem"))).unwrap()],
                PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap(),
            )
            .unwrap(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

#[tokio::test]
async fn over_tls_both_http_versions_answer_and_a_pep_certificate_stands_for_a_token() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.tls.cert_file = Some(fixture("server.pem"));
                config.tls.key_file = Some(fixture("server.key"));
                config.tls.client_ca_file = Some(fixture("ca.pem"));
                config.tls.pep_client_names = vec!["gateway.pep".into()];
            })),
            ..Default::default()
        },
    )
    .await;
    let question = json!({
        "subject": {"type": "user", "id": "nobody"},
        "action": {"name": "purchase_orders.approve"},
        "resource": {"type": "Org", "id": "Procurement"}
    })
    .to_string();
    let json_header = [("content-type", "application/json")];
    let ask = |token: Option<&str>| {
        request(
            "POST",
            "/access/v1/evaluation",
            token,
            &json_header,
            question.clone(),
        )
    };
    for (alpn, version) in [
        (&b"h2"[..], http::Version::HTTP_2),
        (&b"http/1.1"[..], http::Version::HTTP_11),
    ] {
        let reply = send_tls(
            app.http_address,
            client(&[alpn], None),
            ask(Some(&app.pep())),
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.version, version);
        assert_eq!(reply.json(), json!({"decision": false}));
        // Without a token or certificate: 401.
        let reply = send_tls(app.http_address, client(&[alpn], None), ask(None)).await;
        assert_eq!(reply.status, 401);
        // The PEP's certificate stands for the token.
        let reply = send_tls(
            app.http_address,
            client(&[alpn], Some("gateway")),
            ask(None),
        )
        .await;
        assert_eq!(reply.status, 200);
        // A certificate from the CA for a name that is no PEP is no identity.
        let reply = send_tls(
            app.http_address,
            client(&[alpn], Some("stranger")),
            ask(None),
        )
        .await;
        assert_eq!(reply.status, 401);
    }
    // Discovery over TLS names an https identifier.
    let metadata = send_tls(
        app.http_address,
        client(&[b"h2"], None),
        request("GET", "/.well-known/authzen-configuration", None, &[], ""),
    )
    .await
    .json();
    assert_eq!(metadata["policy_decision_point"], "https://localhost");
}
