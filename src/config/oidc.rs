//! The console's OpenID Connect sign-in settings (`console.oidc`): which provider, which
//! client elevator is at that provider, where the provider sends the browser back, and which
//! claims of the ID token say who the person is.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// OpenID Connect sign-in for the console; on when `issuer` is set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL (https); its discovery document is read from
    /// `{issuer}/.well-known/openid-configuration`. Unset: no OpenID Connect sign-in.
    pub issuer: Option<String>,
    /// The client id elevator is registered under at the provider.
    pub client_id: String,
    /// A file holding the client secret (unset: a public client, PKCE only).
    pub client_secret_file: Option<PathBuf>,
    /// The console's callback as the browser reaches it, registered at the provider:
    /// `https://elevator.example.com/console/oidc/callback`.
    pub redirect_url: Option<String>,
    /// Where the provider sends the browser after signing out (registered at the provider);
    /// unset: the provider's own page.
    pub post_logout_redirect_url: Option<String>,
    /// CA certificates (PEM) to trust for the provider instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// The scopes asked for (`openid` is always asked for).
    pub scopes: Vec<String>,
    /// The ID token claim naming the person (elevator's subject).
    pub subject_claim: String,
    /// The ID token claim listing the person's groups (a list of strings).
    pub groups_claim: String,
    /// The ID token claim naming the person's manager (a subject).
    pub manager_claim: String,
    /// The ID token claim listing standing and service roles (a list of strings).
    pub roles_claim: String,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: None,
            client_id: "elevator".into(),
            client_secret_file: None,
            redirect_url: None,
            post_logout_redirect_url: None,
            ca_file: None,
            scopes: vec!["openid".into(), "profile".into()],
            subject_claim: "sub".into(),
            groups_claim: "groups".into(),
            manager_claim: "manager".into(),
            roles_claim: "roles".into(),
        }
    }
}
