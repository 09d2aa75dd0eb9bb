//! The console's HTTPS client for the OpenID provider: the discovery document and the token
//! endpoint (the JWKS comes through [`crate::auth::jwks::JwksSource`], the client every JWKS
//! goes through). One request per connection, the certificate verified against the system's
//! roots or a configured CA file, a deadline and a size limit; plain HTTP is refused, since a
//! provider reached in the clear could be impersonated by anyone on the path.

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::ClientConfig;

/// Largest answer read from the provider (a discovery document or a token response).
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// How long one exchange with the provider may take, connection and TLS included.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why an exchange with the provider failed (for `oauth2`, which wants an `Error`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct FetchError(pub(crate) String);

/// An HTTPS client trusting the configured roots.
#[derive(Clone)]
pub(crate) struct ProviderClient {
    tls: TlsConnector,
}

impl ProviderClient {
    /// A client verifying the provider's certificate with `tls` (its roots: the configured CA
    /// file or the system's, chosen where the server is wired).
    pub(crate) fn new(tls: Arc<ClientConfig>) -> ProviderClient {
        ProviderClient {
            tls: TlsConnector::from(tls),
        }
    }

    /// `GET url`, expecting a successful answer; its body.
    pub(crate) async fn get(&self, url: &str) -> Result<Vec<u8>, FetchError> {
        let request = http::Request::get(url)
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|error| FetchError(format!("GET {url}: {error}")))?;
        let response = self.exchange(request).await?;
        if !response.status().is_success() {
            return Err(FetchError(format!(
                "GET {url}: answered {}",
                response.status()
            )));
        }
        Ok(response.into_body())
    }

    /// One request and its answer, whatever its status (the token endpoint's errors are JSON
    /// for `oauth2` to read).
    pub(crate) async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, FetchError> {
        let url = request.uri().to_string();
        tokio::time::timeout(EXCHANGE_TIMEOUT, self.exchange_unbounded(request))
            .await
            .map_err(|_| FetchError(format!("{url}: no answer within {EXCHANGE_TIMEOUT:?}")))?
    }

    async fn exchange_unbounded(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, FetchError> {
        let uri = request.uri().clone();
        let answer = crate::auth::exchange_once(&self.tls, request, MAX_ANSWER_BYTES)
            .await
            .map_err(|error| FetchError(format!("{uri}: {error}")))?;
        Ok(answer.map(|body| body.to_vec()))
    }
}

/// The provider client as `oauth2`'s HTTP client (its futures are `Send`, so a sign-in can be
/// served on any worker thread).
pub(crate) struct OauthHttp<'a>(pub(crate) &'a ProviderClient);

/// One exchange with the provider, boxed.
type Exchange<'c> = std::pin::Pin<
    Box<dyn Future<Output = Result<http::Response<Vec<u8>>, FetchError>> + Send + 'c>,
>;

impl<'c> oauth2::AsyncHttpClient<'c> for OauthHttp<'_> {
    type Error = FetchError;
    type Future = Exchange<'c>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(self.0.exchange(request))
    }
}
