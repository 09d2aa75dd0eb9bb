//! Configuration, in layers: built-in defaults, then a YAML file (`--config`, or
//! `ELEVATOR_CONFIG`), then `ELEVATOR_*` environment variables, then command-line flags. Every
//! setting has the same name in each layer: `auth.jwks_file` in the file is
//! `ELEVATOR_AUTH_JWKS_FILE` in the environment; `settings.rs` lists them all.
//!
//! [`Config`] and its defaults are here; the sections it is made of in `sections.rs`; the
//! table of settings and their variables in `settings.rs`; reading the layers in `load.rs`;
//! keeping secrets out of its `Debug` output in `redact.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod load;
mod oidc;
mod redact;
mod sections;
mod settings;

pub use oidc::OidcConfig;
pub use sections::{
    AuditConfig, AuthConfig, CacheConfig, ConsoleConfig, DatabaseConfig, DecisionLogConfig,
    LogConfig, RolesConfig, WebhooksConfig,
};
pub use settings::{SETTINGS, Setting, VariableKind};

/// All settings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Admin HTTP listen address: `/metrics`, `/healthz`, `/readyz`.
    pub admin_listen: SocketAddr,
    /// The PEP-facing HTTP listen address (AuthZEN); unset: no HTTP port.
    pub http_listen: Option<SocketAddr>,
    /// AuthZEN on the HTTP port.
    pub authzen: crate::http::AuthzenConfig,
    /// Tokens elevator mints (token exchange) and the keys it signs them with.
    pub tokens: crate::http::TokenConfig,
    /// After a shutdown signal, how long in-flight calls may take before the server stops
    /// anyway, in ms.
    pub shutdown_grace_ms: u64,
    /// PostgreSQL URL; without it the server runs in dev mode on the in-memory store.
    pub database_url: Option<String>,
    /// The policy document (YAML). Dev mode falls back to the built-in demo policy.
    pub policy_file: Option<PathBuf>,
    /// Where dev mode keeps its signing secret.
    pub state_dir: Option<PathBuf>,
    /// Token verification.
    pub auth: AuthConfig,
    /// Service roles.
    pub roles: RolesConfig,
    /// The decision caches.
    pub cache: CacheConfig,
    /// The PostgreSQL pool.
    pub database: DatabaseConfig,
    /// How often pending, scheduled and active elevations are moved on by time, in ms.
    pub sweep_interval_ms: u64,
    /// Webhook delivery.
    pub webhooks: WebhooksConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// The decision log.
    pub decision_log: DecisionLogConfig,
    /// Envoy external authorization.
    pub ext_authz: crate::api::ext_authz::ExtAuthzConfig,
    /// Admission: calls in flight, write rates.
    pub limits: crate::api::limits::LimitsConfig,
    /// TLS on the gRPC and admin ports.
    pub tls: crate::tls::TlsConfig,
    /// The web console on the admin port.
    pub console: ConsoleConfig,
    /// Logs.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50051".parse().expect("valid default address"),
            admin_listen: "127.0.0.1:9090".parse().expect("valid default address"),
            http_listen: None,
            authzen: Default::default(),
            tokens: Default::default(),
            shutdown_grace_ms: 20_000,
            database_url: None,
            policy_file: None,
            state_dir: None,
            auth: AuthConfig {
                leeway_seconds: 5,
                ..Default::default()
            },
            roles: RolesConfig::default(),
            cache: CacheConfig::default(),
            database: DatabaseConfig::default(),
            sweep_interval_ms: 1000,
            webhooks: WebhooksConfig::default(),
            audit: AuditConfig::default(),
            decision_log: DecisionLogConfig::default(),
            ext_authz: Default::default(),
            limits: Default::default(),
            tls: Default::default(),
            console: ConsoleConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Config {
    /// Whether the console's login page takes a pasted token.
    pub(crate) fn console_token_login(&self) -> bool {
        self.console.token_login.unwrap_or_else(|| self.dev_mode())
    }

    /// Dev mode: no database, in-memory store, demo policy, dev tokens accepted.
    pub(crate) fn dev_mode(&self) -> bool {
        self.database_url.is_none()
    }
}
