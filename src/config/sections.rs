//! The sections of [`Config`](super::Config), one per part of the server they configure, with
//! their defaults. (The API's limits and ext_authz settings and TLS are typed where they are
//! used, in `api` and `tls`.)

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Log settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (coloured on a terminal) or `json` (one object per line).
    pub format: crate::telemetry::LogFormat,
}

/// Web console settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the console under `/console` on the admin port.
    pub enabled: bool,
    /// Let the login page take a pasted token; unset means on in dev mode only (behind an
    /// authenticating proxy the forwarded `Authorization` header is used instead).
    pub token_login: Option<bool>,
    /// A file holding the key CSRF tokens are derived with; replicas behind one address must
    /// share it. Unset: a key made at start-up.
    pub csrf_secret_file: Option<PathBuf>,
    /// OpenID Connect sign-in (on when `console.oidc.issuer` is set).
    pub oidc: super::OidcConfig,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            token_login: None,
            csrf_secret_file: None,
            oidc: super::OidcConfig::default(),
        }
    }
}

/// Decision log settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionLogConfig {
    /// Log Check decisions.
    pub enabled: bool,
    /// The JSON-lines file to append to; unset or `-` for standard output.
    pub path: Option<String>,
    /// The share of allows logged, 0 to 1 (denies are always logged).
    pub sample_allows: f64,
    /// Decisions waiting to be written before new ones are dropped (and counted).
    pub queue_size: usize,
}

impl Default for DecisionLogConfig {
    fn default() -> Self {
        DecisionLogConfig {
            enabled: false,
            path: None,
            sample_allows: 0.0,
            queue_size: 10_000,
        }
    }
}

/// Audit log settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// A file holding the Ed25519 key (a 32-byte seed, hex) that signs chain heads. Dev mode
    /// keeps one in its state directory; otherwise a key made at start-up is used (and said so).
    pub signing_key_file: Option<PathBuf>,
    /// How often the chain head is signed and kept, in seconds.
    pub checkpoint_interval_seconds: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            signing_key_file: None,
            checkpoint_interval_seconds: 600,
        }
    }
}

/// Webhook delivery settings (the URLs and events are in policy).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// The HMAC-SHA256 signing secret.
    pub secret: Option<String>,
    /// A file holding it.
    pub secret_file: Option<PathBuf>,
    /// How long one post may take, in ms.
    pub timeout_ms: u64,
    /// Attempts before a delivery is given up.
    pub max_attempts: u32,
    /// How often the outbox is read, in ms.
    pub poll_interval_ms: u64,
    /// `host` or `host:port` access request callback targets that may be internal addresses
    /// (loopback, private, link-local ...), which are refused otherwise.
    pub callback_allow: Vec<String>,
    /// Whether access request callbacks may be plain `http://` URLs (https only otherwise).
    pub callback_allow_http: bool,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            secret: None,
            secret_file: None,
            timeout_ms: 5000,
            max_attempts: 12,
            poll_interval_ms: 1000,
            callback_allow: Vec::new(),
            callback_allow_http: false,
        }
    }
}

/// Token verification settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// An HS256 secret.
    pub hs256_secret: Option<String>,
    /// A file holding an HS256 secret.
    pub hs256_secret_file: Option<PathBuf>,
    /// A JWKS file with RS256 / ES256 public keys.
    pub jwks_file: Option<PathBuf>,
    /// An HTTPS URL serving the identity provider's JWKS.
    pub jwks_url: Option<String>,
    /// CA certificates (PEM) to trust for `jwks_url` instead of the system's.
    pub jwks_ca_file: Option<PathBuf>,
    /// How often `jwks_url` is fetched again, in seconds (0: the default, 300).
    pub jwks_refresh_seconds: u64,
    /// Required `iss`, if set.
    pub issuer: Option<String>,
    /// Required `aud`, if set.
    pub audience: Option<String>,
    /// Clock-skew tolerance in seconds (at most 30).
    pub leeway_seconds: u64,
}

/// Which token roles unlock service operations.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolesConfig {
    /// Policy enforcement points: may call Check.
    pub pep: String,
    /// Administrators: any elevation or grant, and policy.
    pub admin: String,
    /// Risk engines: may report risk signals.
    pub risk_reporter: String,
    /// Auditors: may read, stream and verify the whole audit log.
    pub auditor: String,
}

/// Decision cache settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Longest life of a cached subject, in seconds.
    pub ttl_seconds: u64,
    /// Most subjects cached.
    pub max_subjects: u64,
    /// How long ended grants stay loaded (so a Check can answer `expired` or `revoked`), in
    /// seconds.
    pub ended_grant_lookback_seconds: u64,
    /// While PostgreSQL cannot be reached, how long (ms) after loading a cached subject may
    /// still answer Checks; 0 (the default) fails closed at once. See
    /// [`crate::decision::CacheOptions::outage_grace`].
    pub outage_grace_ms: u64,
}

/// PostgreSQL pool settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Pool size.
    pub max_connections: usize,
    /// How long to wait for a connection, in ms.
    pub connect_timeout_ms: u64,
    /// First wait before reopening a broken change-feed connection, in ms.
    pub listener_backoff_ms: u64,
    /// Apply pending migrations at start-up (`serve --no-migrate` turns it off, for a
    /// deployment that runs `elevator migrate` as a job).
    pub migrate_on_start: bool,
    /// The role the server runs as, when it is not the one that migrates: migrating grants
    /// it exactly what the server needs (no schema changes, audit rows insert-only).
    pub runtime_role: Option<String>,
}

impl Default for RolesConfig {
    fn default() -> Self {
        let roles = crate::service::ServiceRoles::default();
        RolesConfig {
            pep: roles.pep,
            admin: roles.admin,
            risk_reporter: roles.risk_reporter,
            auditor: roles.auditor,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl_seconds: 300,
            max_subjects: 1_000_000,
            ended_grant_lookback_seconds: 3600,
            outage_grace_ms: 0,
        }
    }
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            max_connections: 16,
            connect_timeout_ms: 5000,
            listener_backoff_ms: 100,
            migrate_on_start: true,
            runtime_role: None,
        }
    }
}
