//! How tokens are verified: the keys, the required issuer and audience, the leeway, dev mode;
//! and reading a JWKS file for them. Secrets never show in its `Debug` output.

use std::path::Path;
use std::time::Duration;

#[cfg(doc)]
use super::MAX_LEEWAY;
use super::jwks;

/// How tokens are verified.
#[derive(Clone, Default)]
pub struct AuthOptions {
    /// HS256 secrets.
    pub hs256_secrets: Vec<Vec<u8>>,
    /// JWKS documents (JSON), each key pinned to its algorithm.
    pub jwks: Vec<String>,
    /// A JWKS fetched over HTTPS, and how often it is refreshed.
    pub jwks_url: Option<(jwks::JwksSource, Duration)>,
    /// Required issuer, if any.
    pub issuer: Option<String>,
    /// Required audience, if any.
    pub audience: Option<String>,
    /// Clock-skew tolerance, at most [`MAX_LEEWAY`].
    pub leeway: Duration,
    /// Accept tokens from `elevator dev-token`.
    pub dev_mode: bool,
}

impl std::fmt::Debug for AuthOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthOptions")
            .field(
                "hs256_secrets",
                &format_args!("[{} redacted]", self.hs256_secrets.len()),
            )
            .field("jwks", &self.jwks.len())
            .field("jwks_url", &self.jwks_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("dev_mode", &self.dev_mode)
            .finish()
    }
}

/// Reads a JWKS file.
pub(crate) fn read_jwks_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|error| format!("reading JWKS file {}: {error}", path.display()))
}
