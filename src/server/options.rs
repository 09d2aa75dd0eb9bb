//! What each part of the server takes, read from the configuration: the authenticator's keys,
//! the policy document, the decision caches, the service roles, the audit signing key, the
//! decision log, webhook delivery and the console. Secret files are read here, at start-up,
//! so a missing or bad one stops the server before it serves.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::TimeDelta;

use crate::auth::jwks::JwksSource;
use crate::auth::{AuthOptions, dev, read_jwks_file, read_secret_file};
use crate::config::Config;
use crate::console::ConsoleOptions;
use crate::decision::CacheOptions;
use crate::decision::log::DecisionLogOptions;
use crate::policy::{DEMO_POLICY, Policy};
use crate::service::{AuditSigner, ServiceRoles};
use crate::webhooks::WebhookOptions;

/// How often keys from `auth.jwks_url` are fetched again when the setting is 0.
const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);

/// The authenticator's keys and checks: configured secrets and key sets, and in dev mode the
/// dev secret (made on first use).
pub(super) fn auth_options(config: &Config) -> anyhow::Result<AuthOptions> {
    let mut secrets = Vec::new();
    if let Some(secret) = &config.auth.hs256_secret {
        secrets.push(secret.as_bytes().to_vec());
    }
    if let Some(path) = &config.auth.hs256_secret_file {
        secrets.push(read_secret(path, "auth.hs256_secret_file")?);
    }
    let mut jwks = Vec::new();
    if let Some(path) = &config.auth.jwks_file {
        jwks.push(read_jwks_file(path).map_err(anyhow::Error::msg)?);
    }
    if config.dev_mode() {
        let dir = config.state_dir.clone().unwrap_or_else(dev::state_dir);
        let secret = dev::load_or_create_secret(&dir)
            .with_context(|| format!("creating the dev secret in {}", dir.display()))?;
        secrets.push(secret);
        tracing::warn!(
            state_dir = %dir.display(),
            "DEV MODE: in-memory store, NOTHING IS PERSISTED; dev tokens (elevator dev-token) are accepted. Set a database URL for production."
        );
    }
    Ok(AuthOptions {
        hs256_secrets: secrets,
        jwks,
        jwks_url: jwks_url(config)?,
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        leeway: Duration::from_secs(config.auth.leeway_seconds),
        dev_mode: config.dev_mode(),
    })
}

/// The identity provider's key set URL, with the CA to trust for it and how often to fetch it.
fn jwks_url(config: &Config) -> anyhow::Result<Option<(JwksSource, Duration)>> {
    let Some(url) = &config.auth.jwks_url else {
        return Ok(None);
    };
    let ca_pem = match &config.auth.jwks_ca_file {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading auth.jwks_ca_file {}", path.display()))?,
        ),
        None => None,
    };
    let source = JwksSource::new(url, ca_pem.as_deref()).map_err(anyhow::Error::msg)?;
    let refresh = match config.auth.jwks_refresh_seconds {
        0 => DEFAULT_JWKS_REFRESH,
        seconds => Duration::from_secs(seconds),
    };
    Ok(Some((source, refresh)))
}

/// The secret in the file `setting` names, or an error naming both.
fn read_secret(path: &Path, setting: &str) -> anyhow::Result<Vec<u8>> {
    read_secret_file(path).with_context(|| format!("reading {setting} {}", path.display()))
}

/// The policy document named by the configuration, validated: the file, or in dev mode the
/// demo.
pub(super) fn configured_policy(config: &Config) -> anyhow::Result<Option<String>> {
    match &config.policy_file {
        Some(path) => {
            let source = std::fs::read_to_string(path)
                .with_context(|| format!("reading policy file {}", path.display()))?;
            Policy::parse(&source, 0).map_err(|problems| {
                anyhow::anyhow!("policy file {}: {problems}", path.display())
            })?;
            Ok(Some(source))
        }
        None if config.dev_mode() => Ok(Some(DEMO_POLICY.to_owned())),
        None => Ok(None),
    }
}

/// The decision caches' bounds and lifetimes.
pub(super) fn cache_options(config: &Config) -> CacheOptions {
    CacheOptions {
        ttl: Duration::from_secs(config.cache.ttl_seconds.max(1)),
        max_subjects: config.cache.max_subjects,
        ended_grant_lookback: TimeDelta::seconds(config.cache.ended_grant_lookback_seconds as i64),
        outage_grace: TimeDelta::milliseconds(
            config.cache.outage_grace_ms.min(i64::MAX as u64) as i64
        ),
    }
}

/// The token roles that unlock service operations.
pub(super) fn service_roles(config: &Config) -> ServiceRoles {
    ServiceRoles {
        pep: config.roles.pep.clone(),
        admin: config.roles.admin.clone(),
        risk_reporter: config.roles.risk_reporter.clone(),
        auditor: config.roles.auditor.clone(),
    }
}

/// Webhook delivery's secret and pace.
pub(super) fn webhook_options(config: &Config) -> anyhow::Result<WebhookOptions> {
    let settings = &config.webhooks;
    let secret = match (&settings.secret, &settings.secret_file) {
        (Some(secret), _) => Some(secret.as_bytes().to_vec()),
        (None, Some(path)) => Some(read_secret(path, "webhooks.secret_file")?),
        (None, None) => None,
    };
    Ok(WebhookOptions {
        secret,
        timeout: Duration::from_millis(settings.timeout_ms.max(1)),
        max_attempts: settings.max_attempts.max(1),
        poll_interval: Duration::from_millis(settings.poll_interval_ms.max(10)),
        callback_rules: callback_rules(config),
    })
}

/// Which access request callback targets the deployment allows (`webhooks.callback_*`).
pub(super) fn callback_rules(config: &Config) -> crate::domain::CallbackRules {
    crate::domain::CallbackRules {
        allow: config
            .webhooks
            .callback_allow
            .iter()
            .map(|entry| entry.trim().to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .collect(),
        allow_http: config.webhooks.callback_allow_http,
    }
}

/// The console's options: whether its login page takes tokens, and its CSRF key (the
/// configured file, or one made now, which only this replica knows).
pub(super) fn console_options(config: &Config) -> anyhow::Result<ConsoleOptions> {
    let csrf_key = match &config.console.csrf_secret_file {
        Some(path) => {
            let key = read_secret(path, "console.csrf_secret_file")?;
            if key.len() < 16 {
                bail!(
                    "console.csrf_secret_file {}: the key needs at least 16 characters",
                    path.display()
                );
            }
            key
        }
        None => {
            let mut key = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            key
        }
    };
    let token_login = config.console_token_login();
    if token_login {
        tracing::info!(
            "console: the login page takes pasted tokens (console.token_login; off behind a proxy)"
        );
    }
    Ok(ConsoleOptions {
        token_login,
        csrf_key,
        oidc: super::console_oidc::oidc_options(config)?,
    })
}

/// The decision log's options, when it is enabled.
pub(super) fn decision_log_options(config: &Config) -> Option<DecisionLogOptions> {
    let settings = &config.decision_log;
    settings.enabled.then(|| DecisionLogOptions {
        path: settings
            .path
            .as_deref()
            .filter(|path| *path != "-")
            .map(std::path::PathBuf::from),
        sample_allows: settings.sample_allows,
        queue_size: settings.queue_size,
    })
}

/// The key that signs audit chain heads: the configured file, dev mode's own, or one made now.
pub(super) fn audit_signer(config: &Config) -> anyhow::Result<AuditSigner> {
    if let Some(path) = &config.audit.signing_key_file {
        let hex = read_secret(path, "audit.signing_key_file")?;
        return Ok(AuditSigner::from_seed(seed_from_hex(
            &hex,
            "audit.signing_key_file",
        )?));
    }
    if config.dev_mode() {
        let dir = config.state_dir.clone().unwrap_or_else(dev::state_dir);
        let hex = dev::load_or_create_secret_file(&dir, "audit-signing-key")
            .with_context(|| format!("creating the audit signing key in {}", dir.display()))?;
        return Ok(AuditSigner::from_seed(seed_from_hex(
            &hex,
            "the dev audit key",
        )?));
    }
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    let signer = AuditSigner::from_seed(seed);
    tracing::warn!(
        public_key = %signer.public_key().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "no audit.signing_key_file: signing audit chain heads with a key made at start-up"
    );
    Ok(signer)
}

/// An Ed25519 seed written as 64 hex digits; `origin` names where it came from in errors.
fn seed_from_hex(hex: &[u8], origin: &str) -> anyhow::Result<[u8; 32]> {
    let bytes: Vec<u8> = hex
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair)
                .ok()
                .filter(|pair| pair.len() == 2)?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow::anyhow!("{origin}: not hex"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{origin}: an Ed25519 seed is 32 bytes (64 hex digits)"))
}
