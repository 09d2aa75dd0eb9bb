//! A JWKS fetched from the identity provider over HTTPS: one GET, certificate verified
//! against the system's roots (or a CA file), a deadline and a size limit. Plain HTTP is
//! refused: keys that arrive unauthenticated would let anyone on the path mint tokens.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one fetch may take, connection and TLS included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the keys come from.
#[derive(Clone)]
pub struct JwksSource {
    url: http::Uri,
    host: String,
    port: u16,
    tls: TlsConnector,
}

impl std::fmt::Debug for JwksSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksSource")
            .field("url", &self.url)
            .finish()
    }
}

impl JwksSource {
    /// A source for `url` (https only), trusting the certificates in `ca_pem` when given,
    /// otherwise the system's roots.
    pub fn new(url: &str, ca_pem: Option<&[u8]>) -> Result<JwksSource, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|error| format!("auth.jwks_url {url:?}: {error}"))?;
        if uri.scheme_str() != Some("https") {
            return Err(format!(
                "auth.jwks_url {url:?}: must be https (keys fetched in the clear could be replaced on the way)"
            ));
        }
        let host = uri
            .host()
            .ok_or_else(|| format!("auth.jwks_url {url:?}: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(443);
        let roots = match ca_pem {
            Some(pem) => crate::tls::root_store(pem, "auth.jwks_ca_file")?,
            None => {
                let mut roots = RootCertStore::empty();
                for certificate in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(certificate);
                }
                if roots.is_empty() {
                    return Err(
                        "auth.jwks_url: no system CA certificates were found; set auth.jwks_ca_file"
                            .into(),
                    );
                }
                roots
            }
        };
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(JwksSource {
            url: uri,
            host,
            port,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The document, or why it could not be had.
    pub async fn fetch(&self) -> Result<String, String> {
        tokio::time::timeout(FETCH_TIMEOUT, self.fetch_unbounded())
            .await
            .map_err(|_| format!("fetching {} took over {FETCH_TIMEOUT:?}", self.url))?
    }

    async fn fetch_unbounded(&self) -> Result<String, String> {
        let failed = |what: &str, error: &dyn std::fmt::Display| {
            format!("fetching {}: {what}: {error}", self.url)
        };
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|error| failed("connect", &error))?;
        let server_name =
            ServerName::try_from(self.host.clone()).map_err(|error| failed("host", &error))?;
        let tls = self
            .tls
            .connect(server_name, tcp)
            .await
            .map_err(|error| failed("tls", &error))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|error| failed("http", &error))?;
        tokio::spawn(connection);
        let authority = self
            .url
            .authority()
            .map(|authority| authority.as_str().to_owned())
            .unwrap_or_default();
        let request = http::Request::get(self.url.path_and_query().map_or("/", |p| p.as_str()))
            .header(http::header::HOST, authority)
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|error| failed("request", &error))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| failed("http", &error))?;
        if !response.status().is_success() {
            return Err(format!(
                "fetching {}: answered {}",
                self.url,
                response.status()
            ));
        }
        let body = Limited::new(response.into_body(), MAX_JWKS_BYTES)
            .collect()
            .await
            .map_err(|error| failed("body", &error))?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|error| failed("body", &error))
    }
}
