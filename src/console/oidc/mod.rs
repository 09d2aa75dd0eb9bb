//! OpenID Connect sign-in for the console: the authorization code flow with PKCE, `state` and
//! `nonce` (the OAuth 2.0 side through the `oauth2` crate), the provider found by discovery
//! from its issuer URL, its ID tokens checked against its published keys, the person mapped
//! to an identity by configured claim names, and the login session ended by the console's
//! sign-out (RP-initiated logout) and by the provider's back-channel logout, both of which run
//! elevator's EndSession so every grant bound to the session ends with it.
//!
//! Nothing is kept on the server between the steps of a sign-in, so the provider's answer may
//! land on any replica: the browser keeps a random seed (with its time) in a short-lived
//! cookie, and `state`, `nonce` and the PKCE verifier are derived from it under the console's
//! key, which replicas share. The verifier never leaves the server.
//!
//! | module     | what lives there |
//! | ---------- | ---------------- |
//! | `fetch`    | the HTTPS client for the discovery document and the token endpoint |
//! | `provider` | discovery and the provider's keys |
//! | `tokens`   | checking ID tokens and logout tokens |
//! | `claims`   | claims to identity; the sealed session cookie |
//! | `pages`    | sign-in, the provider's answer, sign-out, back-channel logout |

mod claims;
mod fetch;
mod pages;
mod provider;
mod tokens;

pub use claims::ClaimNames;
pub(crate) use claims::SEALED_PREFIX;

use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::ClientConfig;

use fetch::ProviderClient;
use provider::Provider;

/// The console's OpenID Connect settings, as the server read them.
#[derive(Clone)]
pub struct OidcOptions {
    /// The provider's issuer URL, exactly as its tokens name it.
    pub issuer: String,
    /// elevator's client id at the provider.
    pub client_id: String,
    /// The client secret, when elevator is a confidential client.
    pub client_secret: Option<String>,
    /// The console's callback URL as the browser reaches it.
    pub redirect_url: String,
    /// Where the provider sends the browser after signing out.
    pub post_logout_redirect_url: Option<String>,
    /// TLS for reaching the provider (its roots: a CA file or the system's).
    pub tls: Arc<ClientConfig>,
    /// The CA file's certificates, when one is configured (for the JWKS client).
    pub ca_pem: Option<Vec<u8>>,
    /// Scopes asked for (`openid` is added when missing).
    pub scopes: Vec<String>,
    /// Which claims say who the person is.
    pub claims: ClaimNames,
    /// Clock-skew tolerance for the provider's tokens.
    pub leeway: Duration,
}

impl std::fmt::Debug for OidcOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcOptions")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("redirect_url", &self.redirect_url)
            .field("scopes", &self.scopes)
            .field("claims", &self.claims)
            .finish()
    }
}

/// The provider, discovered on first use (and again after a failed try), so elevator starts
/// while the provider is down and signs people in once it is back.
pub(crate) struct Oidc {
    options: OidcOptions,
    client: ProviderClient,
    provider: tokio::sync::OnceCell<Arc<Provider>>,
}

impl Oidc {
    /// Sign-in through the provider `options` name.
    pub(crate) fn new(options: OidcOptions) -> Oidc {
        Oidc {
            client: ProviderClient::new(options.tls.clone()),
            options,
            provider: tokio::sync::OnceCell::new(),
        }
    }

    /// The provider, discovering it when not yet done.
    async fn provider(&self) -> Result<Arc<Provider>, String> {
        self.provider
            .get_or_try_init(|| async {
                let provider = Provider::discover(
                    &self.options.issuer,
                    &self.client,
                    self.options.ca_pem.as_deref(),
                )
                .await
                .map_err(|error| {
                    tracing::error!(%error, "console oidc: discovering the provider failed");
                    error
                })?;
                tracing::info!(issuer = %provider.issuer, "console oidc: provider discovered");
                Ok(Arc::new(provider))
            })
            .await
            .cloned()
    }
}
