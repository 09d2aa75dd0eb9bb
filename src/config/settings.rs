//! Every setting: its path in the file, its environment variable, how the variable's text is
//! read, whether it is a secret, and what it does. The README's configuration table and the
//! environment layer are both checked against this one table.

/// How an environment variable's text becomes a value.
#[derive(Debug, Clone, Copy)]
pub enum VariableKind {
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
    pub kind: VariableKind,
    /// What it does (for `--help` and the README).
    pub help: &'static str,
    /// Whether the value is a secret (never logged).
    pub secret: bool,
}

macro_rules! settings {
    ($( $path:literal, $env:literal, $kind:ident, $secret:literal, $help:literal; )*) => {
        /// Every setting, by its path in the file and its environment variable.
        pub const SETTINGS: &[Setting] = &[
            $( Setting { path: $path, env: $env, kind: VariableKind::$kind, help: $help, secret: $secret }, )*
        ];
    };
}

settings! {
    "listen", "ELEVATOR_LISTEN", Text, false, "gRPC listen address (127.0.0.1:50051)";
    "admin_listen", "ELEVATOR_ADMIN_LISTEN", Text, false, "admin HTTP address for /metrics, /healthz, /readyz (127.0.0.1:9090)";
    "http_listen", "ELEVATOR_HTTP_LISTEN", Text, false, "PEP-facing HTTP address for AuthZEN, HTTP/1.1 and h2 (unset: no HTTP port)";
    "authzen.policy_decision_point", "ELEVATOR_AUTHZEN_POLICY_DECISION_POINT", Text, false, "the https URL published as policy_decision_point in AuthZEN metadata (unset: the port's scheme and the Host asked for)";
    "tokens.issuer", "ELEVATOR_TOKENS_ISSUER", Text, false, "issuer (iss) of minted tokens, an http(s) URL (authzen.policy_decision_point, else the HTTP port's URL)";
    "tokens.signing_key_files", "ELEVATOR_TOKENS_SIGNING_KEY_FILES", List, false, "PKCS#8 PEM files with Ed25519 or P-256 keys, oldest first: the last signs, all are published (a key made at start-up)";
    "tokens.audiences", "ELEVATOR_TOKENS_AUDIENCES", List, false, "audiences a token may be minted for (comma-separated)";
    "tokens.max_lifetime_minutes", "ELEVATOR_TOKENS_MAX_LIFETIME_MINUTES", Number, false, "longest life of a minted token, never past its grant (15)";
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
    "webhooks.callback_allow", "ELEVATOR_WEBHOOKS_CALLBACK_ALLOW", List, false, "host or host:port access request callback targets allowed although internal (comma-separated)";
    "webhooks.callback_allow_http", "ELEVATOR_WEBHOOKS_CALLBACK_ALLOW_HTTP", Flag, false, "take http:// access request callbacks, not only https (false)";
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
    "console.oidc.issuer", "ELEVATOR_CONSOLE_OIDC_ISSUER", Text, false, "OpenID provider (https issuer URL) the console signs people in with (unset: no OpenID Connect sign-in)";
    "console.oidc.client_id", "ELEVATOR_CONSOLE_OIDC_CLIENT_ID", Text, false, "the console's client id at the OpenID provider (elevator)";
    "console.oidc.client_secret_file", "ELEVATOR_CONSOLE_OIDC_CLIENT_SECRET_FILE", Text, false, "file holding the console's client secret (unset: a public client, PKCE only)";
    "console.oidc.redirect_url", "ELEVATOR_CONSOLE_OIDC_REDIRECT_URL", Text, false, "the console's callback URL as browsers reach it, ending in /console/oidc/callback";
    "console.oidc.post_logout_redirect_url", "ELEVATOR_CONSOLE_OIDC_POST_LOGOUT_REDIRECT_URL", Text, false, "where the provider sends the browser after sign-out (unset: the provider's page)";
    "console.oidc.ca_file", "ELEVATOR_CONSOLE_OIDC_CA_FILE", Text, false, "CA certificates to trust for the OpenID provider (the system's otherwise)";
    "console.oidc.scopes", "ELEVATOR_CONSOLE_OIDC_SCOPES", List, false, "scopes asked for at sign-in, comma-separated (openid,profile)";
    "console.oidc.subject_claim", "ELEVATOR_CONSOLE_OIDC_SUBJECT_CLAIM", Text, false, "ID token claim that is the subject (sub)";
    "console.oidc.groups_claim", "ELEVATOR_CONSOLE_OIDC_GROUPS_CLAIM", Text, false, "ID token claim listing groups (groups)";
    "console.oidc.manager_claim", "ELEVATOR_CONSOLE_OIDC_MANAGER_CLAIM", Text, false, "ID token claim naming the manager (manager)";
    "console.oidc.roles_claim", "ELEVATOR_CONSOLE_OIDC_ROLES_CLAIM", Text, false, "ID token claim listing standing and service roles (roles)";
    "log.format", "ELEVATOR_LOG_FORMAT", Text, false, "log lines: text (coloured only on a terminal) or json (one object per line) (text)";
    "ext_authz.jwt_authn_payload_key", "ELEVATOR_EXT_AUTHZ_JWT_AUTHN_PAYLOAD_KEY", Text, false, "trust the payload Envoy's jwt_authn filter verified under this metadata key (unset: verify the authorization header)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
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
