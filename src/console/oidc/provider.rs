//! The OpenID provider as discovered from its issuer URL (OpenID Connect Discovery 1.0): its
//! endpoints, read once from `{issuer}/.well-known/openid-configuration` and checked to name
//! the configured issuer exactly and to be https; and its signing keys, fetched from its
//! `jwks_uri` through the JWKS client every key set goes through, and fetched again (at most
//! once per [`KEY_REFRESH_INTERVAL`]) when a token names a key id the set lacks, so a key
//! rotation at the provider needs no restart and forged key ids cannot make elevator hammer it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::fetch::{FetchError, ProviderClient};
use crate::auth::jwks::JwksSource;
use crate::auth::{VerificationKey, jwks_keys};

/// Tokens naming unknown key ids cause at most one JWKS fetch per this long.
const KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// The fields of the discovery document elevator uses.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// The provider's endpoints and keys.
pub(crate) struct Provider {
    /// The issuer, as the provider's tokens must name it.
    pub(crate) issuer: String,
    /// Where the browser is sent to sign in.
    pub(crate) authorization_endpoint: String,
    /// Where the code is exchanged.
    pub(crate) token_endpoint: String,
    /// Where the browser is sent to sign out (RP-initiated logout), if the provider has one.
    pub(crate) end_session_endpoint: Option<String>,
    jwks: JwksSource,
    keys: arc_swap::ArcSwap<Vec<VerificationKey>>,
    /// When the keys were last fetched because a token named an unknown key id.
    last_refresh: tokio::sync::Mutex<Option<Instant>>,
}

impl Provider {
    /// Reads the discovery document of `issuer` and the keys it points to.
    pub(crate) async fn discover(
        issuer: &str,
        client: &ProviderClient,
        ca_pem: Option<&[u8]>,
    ) -> Result<Provider, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = client.get(&url).await.map_err(|FetchError(error)| error)?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|error| format!("{url}: not a discovery document: {error}"))?;
        if discovery.issuer != issuer {
            return Err(format!(
                "{url} names issuer {}, not console.oidc.issuer {issuer:?}; set the issuer exactly as the provider names it",
                crate::domain::shown(&discovery.issuer)
            ));
        }
        for (name, endpoint) in [
            (
                "authorization_endpoint",
                Some(&discovery.authorization_endpoint),
            ),
            ("token_endpoint", Some(&discovery.token_endpoint)),
            (
                "end_session_endpoint",
                discovery.end_session_endpoint.as_ref(),
            ),
        ] {
            if endpoint.is_some_and(|endpoint| !endpoint.starts_with("https://")) {
                return Err(format!("{url}: {name} is not an https URL"));
            }
        }
        if discovery
            .code_challenge_methods_supported
            .as_ref()
            .is_some_and(|methods| !methods.iter().any(|method| method == "S256"))
        {
            return Err(format!(
                "{url}: the provider does not support PKCE with S256"
            ));
        }
        let jwks = JwksSource::new(&discovery.jwks_uri, ca_pem)
            .map_err(|error| format!("the provider's jwks_uri: {error}"))?;
        let keys = jwks_keys(&jwks.fetch().await?)?;
        Ok(Provider {
            issuer: discovery.issuer,
            authorization_endpoint: discovery.authorization_endpoint,
            token_endpoint: discovery.token_endpoint,
            end_session_endpoint: discovery.end_session_endpoint,
            jwks,
            keys: arc_swap::ArcSwap::from_pointee(keys),
            last_refresh: tokio::sync::Mutex::new(None),
        })
    }

    /// The keys in force.
    pub(crate) fn keys(&self) -> Arc<Vec<VerificationKey>> {
        self.keys.load_full()
    }

    /// Fetches the keys again, unless that was done less than [`KEY_REFRESH_INTERVAL`] ago;
    /// whether they were fetched.
    pub(crate) async fn refresh_keys(&self) -> Result<bool, String> {
        let mut last = self.last_refresh.lock().await;
        if last.is_some_and(|last| last.elapsed() < KEY_REFRESH_INTERVAL) {
            return Ok(false);
        }
        *last = Some(Instant::now());
        let keys = jwks_keys(&self.jwks.fetch().await?)?;
        tracing::info!(
            keys = keys.len(),
            "console oidc: the provider's keys were fetched again"
        );
        self.keys.store(Arc::new(keys));
        Ok(true)
    }
}
