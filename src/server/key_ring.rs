//! The signing key ring of the HTTP port: the configured PEM files, or a key made at start-up;
//! its issuer is `tokens.issuer`, else `authzen.policy_decision_point`, else the port's own URL.

use std::net::SocketAddr;

use anyhow::Context;

use crate::auth::SigningKeyRing;
use crate::clock::SharedClock;
use crate::config::Config;

/// The key ring tokens are signed with, for the HTTP port bound at `bound`.
pub(super) fn key_ring(
    config: &Config,
    bound: SocketAddr,
    clock: SharedClock,
) -> anyhow::Result<SigningKeyRing> {
    let issuer = issuer(config, bound);
    if config.tokens.signing_key_files.is_empty() {
        let ring = SigningKeyRing::ephemeral(&issuer, clock).map_err(anyhow::Error::msg)?;
        if !config.dev_mode() {
            tracing::warn!(
                kid = %ring.signing_key_id(),
                "no tokens.signing_key_files: signing tokens with a key made at start-up; \
                 other replicas and the next start will not know it"
            );
        }
        return Ok(ring);
    }
    let pems = read_key_files(config)?;
    SigningKeyRing::from_pems(&issuer, &pems, clock)
        .map_err(|error| anyhow::anyhow!("tokens.signing_key_files: {error}"))
}

/// Each configured key file's text, named by its path.
pub(super) fn read_key_files(config: &Config) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    config
        .tokens
        .signing_key_files
        .iter()
        .map(|path| {
            let text = std::fs::read(path)
                .with_context(|| format!("reading tokens.signing_key_files {}", path.display()))?;
            Ok((path.display().to_string(), text))
        })
        .collect()
}

/// The issuer: configured, else the AuthZEN identifier, else the port's URL.
fn issuer(config: &Config, bound: SocketAddr) -> String {
    if let Some(issuer) = config
        .tokens
        .issuer
        .as_ref()
        .or(config.authzen.policy_decision_point.as_ref())
    {
        return issuer.clone();
    }
    let scheme = if config.tls.cert_file.is_some() {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{bound}")
}
