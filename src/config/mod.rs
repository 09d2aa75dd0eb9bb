//! Configuration, in layers: built-in defaults, then a YAML file (`--config`, or
//! `ELEVATOR_CONFIG`), then `ELEVATOR_*` environment variables, then command-line flags. Every
//! setting has the same name in each layer: `auth.jwks_file` in the file is
//! `ELEVATOR_AUTH_JWKS_FILE` in the environment. [`SETTINGS`] lists them all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// All settings.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Admin HTTP listen address: `/metrics`, `/healthz`, `/readyz`.
    pub admin_listen: SocketAddr,
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
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            token_login: None,
            csrf_secret_file: None,
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
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            secret: None,
            secret_file: None,
            timeout_ms: 5000,
            max_attempts: 12,
            poll_interval_ms: 1000,
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

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:50051".parse().expect("valid default address"),
            admin_listen: "127.0.0.1:9090".parse().expect("valid default address"),
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

/// How an environment variable's text becomes a value.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Kept as text.
    Text,
    /// A whole number.
    Number,
    /// `true` or `false`.
    Flag,
    /// A number between 0 and 1.
    Fraction,
    /// Comma-separated items.
    List,
}

/// One setting: its path in the file, its environment variable, its kind, and what it does.
pub struct Setting {
    /// Path in the file, dot-separated.
    pub path: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// How the variable is read.
    pub kind: Kind,
    /// What it does (for `--help` and the README).
    pub help: &'static str,
    /// Whether the value is a secret (never logged).
    pub secret: bool,
}

macro_rules! settings {
    ($( $path:literal, $env:literal, $kind:ident, $secret:literal, $help:literal; )*) => {
        /// Every setting.
        pub const SETTINGS: &[Setting] = &[
            $( Setting { path: $path, env: $env, kind: Kind::$kind, help: $help, secret: $secret }, )*
        ];
    };
}

settings! {
    "listen", "ELEVATOR_LISTEN", Text, false, "gRPC listen address (127.0.0.1:50051)";
    "admin_listen", "ELEVATOR_ADMIN_LISTEN", Text, false, "admin HTTP address for /metrics, /healthz, /readyz (127.0.0.1:9090)";
    "shutdown_grace_ms", "ELEVATOR_SHUTDOWN_GRACE_MS", Number, false, "how long in-flight calls may finish after SIGTERM (20000)";
    "database.migrate_on_start", "ELEVATOR_DATABASE_MIGRATE_ON_START", Flag, false, "apply pending migrations at start-up (true; serve --no-migrate turns it off)";
    "database_url", "ELEVATOR_DATABASE_URL", Text, true, "PostgreSQL URL; unset means dev mode (in-memory)";
    "policy_file", "ELEVATOR_POLICY_FILE", Text, false, "policy document (YAML)";
    "state_dir", "ELEVATOR_STATE_DIR", Text, false, "dev mode's state directory (~/.local/state/elevator)";
    "auth.hs256_secret", "ELEVATOR_AUTH_HS256_SECRET", Text, true, "HS256 token secret";
    "auth.hs256_secret_file", "ELEVATOR_AUTH_HS256_SECRET_FILE", Text, false, "file holding the HS256 secret";
    "auth.jwks_file", "ELEVATOR_AUTH_JWKS_FILE", Text, false, "JWKS file with RS256/ES256 keys";
    "auth.jwks_url", "ELEVATOR_AUTH_JWKS_URL", Text, false, "HTTPS URL of the identity provider's JWKS, refreshed in the background";
    "auth.jwks_ca_file", "ELEVATOR_AUTH_JWKS_CA_FILE", Text, false, "CA certificates to trust for the JWKS URL (the system's otherwise)";
    "auth.jwks_refresh_seconds", "ELEVATOR_AUTH_JWKS_REFRESH_SECONDS", Number, false, "how often the JWKS URL is fetched again (300)";
    "auth.issuer", "ELEVATOR_AUTH_ISSUER", Text, false, "required token issuer";
    "auth.audience", "ELEVATOR_AUTH_AUDIENCE", Text, false, "required token audience";
    "auth.leeway_seconds", "ELEVATOR_AUTH_LEEWAY_SECONDS", Number, false, "clock-skew tolerance, at most 30 (5)";
    "roles.pep", "ELEVATOR_ROLES_PEP", Text, false, "role that may call Check (elevator:check)";
    "roles.admin", "ELEVATOR_ROLES_ADMIN", Text, false, "administrator role (elevator:admin)";
    "roles.risk_reporter", "ELEVATOR_ROLES_RISK_REPORTER", Text, false, "role that may report risk (elevator:risk)";
    "roles.auditor", "ELEVATOR_ROLES_AUDITOR", Text, false, "role that may read and verify the whole audit log (elevator:auditor)";
    "cache.ttl_seconds", "ELEVATOR_CACHE_TTL_SECONDS", Number, false, "longest life of a cached subject (300)";
    "cache.max_subjects", "ELEVATOR_CACHE_MAX_SUBJECTS", Number, false, "most cached subjects (1000000)";
    "cache.ended_grant_lookback_seconds", "ELEVATOR_CACHE_ENDED_GRANT_LOOKBACK_SECONDS", Number, false, "how long ended grants stay loaded to explain denials (3600)";
    "cache.outage_grace_ms", "ELEVATOR_CACHE_OUTAGE_GRACE_MS", Number, false, "while PostgreSQL is unreachable, how long a cached subject may still answer; 0 fails closed at once (0)";
    "database.max_connections", "ELEVATOR_DATABASE_MAX_CONNECTIONS", Number, false, "PostgreSQL pool size (16)";
    "database.connect_timeout_ms", "ELEVATOR_DATABASE_CONNECT_TIMEOUT_MS", Number, false, "wait for a connection (5000)";
    "database.runtime_role", "ELEVATOR_DATABASE_RUNTIME_ROLE", Text, false, "role the server runs as; migrating grants it only what it needs";
    "database.listener_backoff_ms", "ELEVATOR_DATABASE_LISTENER_BACKOFF_MS", Number, false, "first wait before reopening a broken change feed (100)";
    "sweep_interval_ms", "ELEVATOR_SWEEP_INTERVAL_MS", Number, false, "how often time-driven transitions run (1000)";
    "webhooks.secret", "ELEVATOR_WEBHOOKS_SECRET", Text, true, "HMAC-SHA256 key that signs webhook posts";
    "webhooks.secret_file", "ELEVATOR_WEBHOOKS_SECRET_FILE", Text, false, "file holding the webhook secret";
    "webhooks.timeout_ms", "ELEVATOR_WEBHOOKS_TIMEOUT_MS", Number, false, "how long one webhook post may take (5000)";
    "webhooks.max_attempts", "ELEVATOR_WEBHOOKS_MAX_ATTEMPTS", Number, false, "attempts before a webhook delivery is given up (12)";
    "audit.signing_key_file", "ELEVATOR_AUDIT_SIGNING_KEY_FILE", Text, false, "Ed25519 seed (hex) that signs audit chain heads";
    "audit.checkpoint_interval_seconds", "ELEVATOR_AUDIT_CHECKPOINT_INTERVAL_SECONDS", Number, false, "how often the audit chain head is signed (600)";
    "decision_log.enabled", "ELEVATOR_DECISION_LOG_ENABLED", Flag, false, "log Check decisions (false)";
    "decision_log.path", "ELEVATOR_DECISION_LOG_PATH", Text, false, "JSON-lines file for the decision log (standard output)";
    "decision_log.sample_allows", "ELEVATOR_DECISION_LOG_SAMPLE_ALLOWS", Fraction, false, "share of allows logged, 0 to 1 (0); denies are always logged";
    "decision_log.queue_size", "ELEVATOR_DECISION_LOG_QUEUE_SIZE", Number, false, "decisions queued before new ones are dropped (10000)";
    "webhooks.poll_interval_ms", "ELEVATOR_WEBHOOKS_POLL_INTERVAL_MS", Number, false, "how often the webhook outbox is read (1000)";
    "tls.cert_file", "ELEVATOR_TLS_CERT_FILE", Text, false, "server certificate chain (PEM); unset means plaintext";
    "tls.key_file", "ELEVATOR_TLS_KEY_FILE", Text, false, "its private key (PEM)";
    "tls.client_ca_file", "ELEVATOR_TLS_CLIENT_CA_FILE", Text, false, "CA certificates client certificates must chain to";
    "tls.pep_client_names", "ELEVATOR_TLS_PEP_CLIENT_NAMES", List, false, "client certificate DNS names that act as policy enforcement points (comma-separated)";
    "tls.reload_interval_seconds", "ELEVATOR_TLS_RELOAD_INTERVAL_SECONDS", Number, false, "how often certificate files are re-read (30)";
    "limits.max_concurrent_calls", "ELEVATOR_LIMITS_MAX_CONCURRENT_CALLS", Number, false, "calls worked on at once before new ones are refused with RESOURCE_EXHAUSTED (10000)";
    "limits.writes_per_minute_per_caller", "ELEVATOR_LIMITS_WRITES_PER_MINUTE_PER_CALLER", Number, false, "sustained write calls one caller may make per minute (600)";
    "limits.write_burst_per_caller", "ELEVATOR_LIMITS_WRITE_BURST_PER_CALLER", Number, false, "write calls one caller may make in a burst (60)";
    "console.enabled", "ELEVATOR_CONSOLE_ENABLED", Flag, false, "serve the web console under /console on the admin port (true)";
    "console.token_login", "ELEVATOR_CONSOLE_TOKEN_LOGIN", Flag, false, "let the console's login page take a pasted token (dev mode only unless set)";
    "console.csrf_secret_file", "ELEVATOR_CONSOLE_CSRF_SECRET_FILE", Text, false, "file holding the key console CSRF tokens are derived with (a key made at start-up)";
    "log.format", "ELEVATOR_LOG_FORMAT", Text, false, "log lines: text (coloured only on a terminal) or json (one object per line) (text)";
    "ext_authz.jwt_authn_payload_key", "ELEVATOR_EXT_AUTHZ_JWT_AUTHN_PAYLOAD_KEY", Text, false, "trust the payload Envoy's jwt_authn filter verified under this metadata key (unset: verify the authorization header)";
}

fn set_path(root: &mut serde_yaml::Value, path: &str, value: serde_yaml::Value) {
    let mut node = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        if !node.is_mapping() {
            *node = serde_yaml::Value::Mapping(Default::default());
        }
        let map = node.as_mapping_mut().expect("just made a mapping");
        let key = serde_yaml::Value::String((*part).to_owned());
        if index == parts.len() - 1 {
            map.insert(key, value);
            return;
        }
        node = map
            .entry(key)
            .or_insert_with(|| serde_yaml::Value::Mapping(Default::default()));
    }
}

/// Secrets (see [`Setting::secret`]) print as `<redacted>`, so a configuration logged or put
/// in an error message never carries them.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = serde_yaml::to_value(self).map_err(|_| std::fmt::Error)?;
        for setting in SETTINGS.iter().filter(|setting| setting.secret) {
            let path: Vec<&str> = setting.path.split('.').collect();
            redact(&mut shown, &path);
        }
        write!(f, "Config {shown:?}")
    }
}

fn redact(node: &mut serde_yaml::Value, path: &[&str]) {
    match path.split_first() {
        None if !node.is_null() => *node = serde_yaml::Value::String("<redacted>".into()),
        None => {}
        Some((first, rest)) => {
            if let Some(child) = node.get_mut(*first) {
                redact(child, rest);
            }
        }
    }
}

impl Config {
    /// Defaults, then `file` (if any), then the environment as read by `env`.
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, String> {
        let mut layered = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("reading config file {}: {error}", path.display()))?;
                serde_yaml::from_str(&text)
                    .map_err(|error| format!("config file {}: {error}", path.display()))?
            }
            None => serde_yaml::Value::Mapping(Default::default()),
        };
        if layered.is_null() {
            layered = serde_yaml::Value::Mapping(Default::default());
        }
        for setting in SETTINGS {
            let Some(text) = env(setting.env) else {
                continue;
            };
            let value = match setting.kind {
                Kind::Text => serde_yaml::Value::String(text),
                Kind::Number => serde_yaml::Value::Number(
                    text.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{}: {text:?} is not a whole number", setting.env))?
                        .into(),
                ),
                Kind::Flag => serde_yaml::Value::Bool(match text.trim() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(format!("{}: {text:?} is not true or false", setting.env)),
                }),
                Kind::List => serde_yaml::Value::Sequence(
                    text.split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(|item| serde_yaml::Value::String(item.to_owned()))
                        .collect(),
                ),
                Kind::Fraction => {
                    let fraction: f64 = text
                        .trim()
                        .parse()
                        .ok()
                        .filter(|f: &f64| (0.0..=1.0).contains(f))
                        .ok_or_else(|| {
                            format!("{}: {text:?} is not a number from 0 to 1", setting.env)
                        })?;
                    serde_yaml::Value::Number(fraction.into())
                }
            };
            // Check the variable alone first, so an error names the variable, not the layers.
            let mut alone = serde_yaml::Value::Mapping(Default::default());
            set_path(&mut alone, setting.path, value.clone());
            serde_yaml::from_value::<Config>(alone)
                .map_err(|error| format!("{}: {error}", setting.env))?;
            set_path(&mut layered, setting.path, value);
        }
        let origin = file.map_or_else(
            || "configuration".to_owned(),
            |path| format!("config file {}", path.display()),
        );
        serde_yaml::from_value(layered).map_err(|error| format!("{origin}: {error}"))
    }

    /// Defaults, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        Self::load_with(file, |name| std::env::var(name).ok())
    }

    /// Whether the console's login page takes a pasted token.
    pub fn console_token_login(&self) -> bool {
        self.console.token_login.unwrap_or_else(|| self.dev_mode())
    }

    /// Dev mode: no database, in-memory store, demo policy, dev tokens accepted.
    pub fn dev_mode(&self) -> bool {
        self.database_url.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("elevator-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("config.yaml");
        std::fs::write(
            &file,
            "listen: 0.0.0.0:6000\nauth: { leeway_seconds: 10, issuer: corp }\n",
        )
        .unwrap();
        let config = Config::load_with(Some(&file), |name| match name {
            "ELEVATOR_AUTH_LEEWAY_SECONDS" => Some("20".into()),
            "ELEVATOR_CACHE_TTL_SECONDS" => Some("7".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.auth.issuer.as_deref(), Some("corp"));
        assert_eq!(config.auth.leeway_seconds, 20);
        assert_eq!(config.cache.ttl_seconds, 7);
        assert_eq!(config.cache.max_subjects, 1_000_000);
        assert!(config.dev_mode());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_values_say_what_to_fix() {
        let error = Config::load_with(None, |name| {
            (name == "ELEVATOR_SWEEP_INTERVAL_MS").then(|| "soon".into())
        })
        .unwrap_err();
        assert!(error.contains("ELEVATOR_SWEEP_INTERVAL_MS"));
        let error = Config::load_with(None, |name| {
            (name == "ELEVATOR_LISTEN").then(|| "nowhere".into())
        })
        .unwrap_err();
        assert!(error.contains("ELEVATOR_LISTEN"), "{error}");
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut config = Config {
            database_url: Some("postgres://elevator:hunter2@db/elevator".into()),
            ..Default::default()
        };
        config.auth.hs256_secret = Some("s3cret-signing-key".into());
        config.webhooks.secret = Some("webhook-k3y".into());
        let shown = format!("{config:?}");
        for secret in ["hunter2", "s3cret-signing-key", "webhook-k3y"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("127.0.0.1:50051"), "{shown}");
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../README.md");
        for setting in SETTINGS {
            let row = format!("| `{}` | `{}` |", setting.path, setting.env);
            assert!(
                readme.contains(&row),
                "README.md's configuration table lacks {row}"
            );
        }
    }

    #[test]
    fn every_setting_has_a_distinct_variable() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.env).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SETTINGS.len());
        for setting in SETTINGS {
            assert_eq!(
                setting.env,
                format!("ELEVATOR_{}", setting.path.replace('.', "_").to_uppercase())
            );
        }
    }
}
