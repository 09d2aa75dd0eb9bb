//! A JWKS fetched from the identity provider over HTTPS: one GET, certificate verified
//! against the system's roots (or a CA file), a deadline and a size limit. Plain HTTP is
//! refused: keys that arrive unauthenticated would let anyone on the path mint tokens.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How long one fetch may take, connection and TLS included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the keys come from.
#[derive(Clone)]
pub struct JwksSource {
    url: http::Uri,
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
        if uri.host().is_none() {
            return Err(format!("auth.jwks_url {url:?}: no host"));
        }
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
        let failed = |error: &dyn std::fmt::Display| format!("fetching {}: {error}", self.url);
        let request = http::Request::get(self.url.clone())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|error| failed(&error))?;
        let response = super::https_exchange::exchange_once(&self.tls, request, MAX_JWKS_BYTES)
            .await
            .map_err(|error| failed(&error))?;
        if !response.status().is_success() {
            return Err(failed(&format!("answered {}", response.status())));
        }
        String::from_utf8(response.into_body().to_vec()).map_err(|error| failed(&error))
    }
}
