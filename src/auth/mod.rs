//! Bearer-token verification. The caller's identity comes only from a verified token in the
//! `authorization` metadata: HS256 with configured secrets, or RS256/ES256 with keys from a
//! JWKS file or an HTTPS URL. Each key accepts exactly one algorithm, `exp` is required and
//! checked against the injected clock with a small leeway, and tokens issued by dev mode are
//! refused outside it.
//!
//! Keys from a URL are fetched at start-up, refreshed in the background, and again (at most
//! once per [`UNKNOWN_KEY_REFRESH_INTERVAL`]) when a token names a key id no key has; when
//! the set changes, every cached identity is dropped, so a key withdrawn by the identity
//! provider stops verifying at the next call.
//!
//! A verified token is cached by its text until its `exp`, so a policy enforcement point pays
//! for signature verification once, not on every Check. The cache is bounded by the bytes its
//! entries hold ([`TOKEN_CACHE_BYTES`]), not by their number.

mod claims;
pub mod dev;
mod error;
mod https_exchange;
pub mod jwks;
mod keys;
mod options;
mod secret_file;
mod signing;
mod weight;

pub use claims::Claims;
pub use error::AuthError;
pub(crate) use https_exchange::exchange_once;
pub use options::AuthOptions;
pub(crate) use options::read_jwks_file;
pub use secret_file::read_secret_file;
pub use signing::SigningKeyRing;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::SharedClock;
use crate::domain::{GroupName, Identity, SessionId, StandingRole, Subject};
use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
pub(crate) use keys::{VerificationKey, jwks_keys};

/// The issuer dev tokens carry; refused whenever dev mode is off.
pub const DEV_ISSUER: &str = "elevator-dev";

/// The most a token may be before it is even parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The most clock skew tolerated on `exp` and `nbf`.
pub(crate) const MAX_LEEWAY: Duration = Duration::from_secs(30);

/// The most the verified-token cache holds, in bytes as [`weight::cached_token_bytes`] counts
/// them: tens of thousands of ordinary tokens, however large each caller's tokens are. The
/// least recently or frequently used go first; a token pushed out is verified again.
pub(crate) const TOKEN_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Tokens naming unknown key ids cause at most one JWKS fetch per this long, so a stream of
/// forged `kid`s cannot turn elevator into a load generator against the identity provider.
pub(crate) const UNKNOWN_KEY_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

/// A verified token stays cached until its `exp` (and never longer than an hour); a read never
/// extends it. The key is the whole token, compared in full: hashing it with SHA-256 first
/// cost more than the rest of a cached Check's authentication.
struct UntilTokenExpiry {
    clock: SharedClock,
}

impl moka::Expiry<Box<str>, Arc<Identity>> for UntilTokenExpiry {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        identity: &Arc<Identity>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let until_expiry = (identity.expires_at - self.clock.now())
            .to_std()
            .unwrap_or_default();
        Some(until_expiry.min(Duration::from_secs(3600)))
    }
}

/// Keys fetched from a JWKS URL.
struct RemoteKeys {
    source: jwks::JwksSource,
    refresh_every: Duration,
    /// The document last fetched and its keys.
    current: arc_swap::ArcSwap<(String, Vec<VerificationKey>)>,
    /// Held while fetching, so callers that need the result wait for the fetch in flight;
    /// holds when a fetch was last made for an unknown key id.
    fetching: tokio::sync::Mutex<Option<std::time::Instant>>,
    /// Wakes the background refresher when a token names an unknown key.
    unknown_key_seen: tokio::sync::Notify,
}

/// Verifies tokens and caches the verified identities.
pub struct Authenticator {
    keys: Vec<VerificationKey>,
    remote: Option<RemoteKeys>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: TimeDelta,
    dev_mode: bool,
    clock: SharedClock,
    cache: moka::sync::Cache<Box<str>, Arc<Identity>, TokenHasher>,
    /// elevator's own key ring and the audiences its minted tokens are accepted for, once the
    /// HTTP port (which mints them) is built.
    own_tokens: std::sync::OnceLock<(Arc<SigningKeyRing>, Vec<String>)>,
}

/// The verified-token cache's hasher: foldhash (seeded per process) instead of SipHash, which
/// spent more on a token's few hundred bytes than the rest of the cache lookup. Flooding a
/// hash table needs chosen keys, and only tokens whose signature verified enter this one;
/// a lookup still compares the whole token.
type TokenHasher = foldhash::fast::RandomState;

impl Authenticator {
    /// An authenticator for `options`.
    pub fn new(options: &AuthOptions, clock: SharedClock) -> Result<Self, String> {
        if options.leeway > MAX_LEEWAY {
            return Err(format!(
                "the token leeway may be at most {} seconds",
                MAX_LEEWAY.as_secs()
            ));
        }
        let mut keys: Vec<VerificationKey> = options
            .hs256_secrets
            .iter()
            .map(|secret| VerificationKey {
                id: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret),
            })
            .collect();
        for document in &options.jwks {
            keys.extend(jwks_keys(document)?);
        }
        if keys.is_empty() && options.jwks_url.is_none() {
            return Err(
                "no token verification key is configured: set auth.hs256_secret, auth.jwks_file or auth.jwks_url"
                    .into(),
            );
        }
        let remote = options
            .jwks_url
            .as_ref()
            .map(|(source, refresh_every)| RemoteKeys {
                source: source.clone(),
                refresh_every: *refresh_every,
                current: arc_swap::ArcSwap::from_pointee((String::new(), Vec::new())),
                fetching: tokio::sync::Mutex::new(None),
                unknown_key_seen: tokio::sync::Notify::new(),
            });
        Ok(Authenticator {
            keys,
            remote,
            issuer: options.issuer.clone(),
            audience: options.audience.clone(),
            leeway: TimeDelta::from_std(options.leeway).unwrap_or_default(),
            dev_mode: options.dev_mode,
            clock: clock.clone(),
            cache: moka::sync::Cache::<Box<str>, Arc<Identity>>::builder()
                .max_capacity(TOKEN_CACHE_BYTES)
                .weigher(|token, identity| weight::cached_token_bytes(token, identity))
                .expire_after(UntilTokenExpiry {
                    clock: clock.clone(),
                })
                .build_with_hasher(TokenHasher::default()),
            own_tokens: std::sync::OnceLock::new(),
        })
    }

    /// Accepts the tokens `ring` signs for one of `audiences` (elevator's own, minted by token
    /// exchange) as end-user tokens ([`Authenticator::verify_end_user`]), never as a caller's:
    /// a service that received one cannot call elevator's API as its user. They carry no
    /// roles: whatever they allow comes from the live grants a Check reads, so a revoked grant
    /// allows nothing at once. Set once; a second call changes nothing.
    pub fn trust_own_tokens(&self, ring: Arc<SigningKeyRing>, audiences: Vec<String>) {
        if self.own_tokens.set((ring, audiences)).is_err() {
            tracing::warn!("the key ring of minted tokens was already set; the first one stays");
        }
    }

    /// Verifies the bearer token in `authorization` metadata.
    pub(crate) async fn authenticate(
        &self,
        metadata: &tonic::metadata::MetadataMap,
    ) -> Result<Arc<Identity>, AuthError> {
        // By the standard header name, not a string to parse and hash on every call.
        let headers: &http::HeaderMap = metadata.as_ref();
        let header = headers
            .get(http::header::AUTHORIZATION)
            .ok_or(AuthError::Missing)?
            .to_str()
            .map_err(|_| AuthError::Invalid("the authorization header is not ASCII".into()))?;
        let token = bearer_token(header).ok_or(AuthError::Missing)?;
        self.verify_refreshing(token).await
    }

    /// Verifies `token`; when it names a key id no key has and keys come from a URL, fetches
    /// them again first (at most once per [`UNKNOWN_KEY_REFRESH_INTERVAL`], shared by every
    /// caller waiting) and tries once more.
    pub(crate) async fn verify_refreshing(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        match self.verify(token) {
            Err(AuthError::UnknownKey(kid)) if self.remote.is_some() => {
                if let Err(error) = self.refresh_keys(Some(UNKNOWN_KEY_REFRESH_INTERVAL)).await {
                    tracing::warn!(%error, %kid, "jwks: refresh for an unknown key id failed");
                }
                self.verify(token)
            }
            verified => verified,
        }
    }

    /// Fetches the JWKS URL's keys. With `for_unknown_key_within`, the fetch is for a token
    /// naming an unknown key id, and is skipped when such a fetch was made less than that
    /// long ago. Returns whether the key set changed; if it did, cached identities are dropped.
    pub(crate) async fn refresh_keys(
        &self,
        for_unknown_key_within: Option<Duration>,
    ) -> Result<bool, String> {
        let Some(remote) = &self.remote else {
            return Ok(false);
        };
        let mut last_unknown_key_fetch = remote.fetching.lock().await;
        if let Some(within) = for_unknown_key_within {
            if last_unknown_key_fetch.is_some_and(|last| last.elapsed() < within) {
                return Ok(false);
            }
            *last_unknown_key_fetch = Some(std::time::Instant::now());
        }
        let document = remote.source.fetch().await?;
        if remote.current.load().0 == document {
            return Ok(false);
        }
        let keys = jwks_keys(&document)?;
        tracing::info!(keys = keys.len(), "jwks: key set changed");
        remote.current.store(Arc::new((document, keys)));
        self.cache.invalidate_all();
        Ok(true)
    }

    /// Refreshes the URL's keys every `auth.jwks_refresh_seconds`, and soon after a token
    /// names an unknown key id. Nothing to do without a URL.
    pub(crate) fn spawn_key_refresher(self: &Arc<Self>) -> Option<tokio::task::JoinHandle<()>> {
        let refresh_every = self.remote.as_ref()?.refresh_every;
        let authenticator = self.clone();
        Some(tokio::spawn(async move {
            let Some(remote) = &authenticator.remote else {
                return;
            };
            loop {
                let unless_within = tokio::select! {
                    () = tokio::time::sleep(refresh_every) => None,
                    () = remote.unknown_key_seen.notified() => Some(UNKNOWN_KEY_REFRESH_INTERVAL),
                };
                if let Err(error) = authenticator.refresh_keys(unless_within).await {
                    tracing::warn!(%error, "jwks: refresh failed; the keys in force stay");
                }
            }
        }))
    }

    /// Verifies the end-user token a PEP passes along with a question (Check's
    /// `subject_token`, the request's bearer token in ext_authz): one elevator minted
    /// (verified by its key ring, uncached, so nothing minted ever sits in the cache callers
    /// are found in), else as [`Authenticator::verify_refreshing`].
    pub(crate) async fn verify_end_user(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        match self.verify_own(token) {
            Some(verified) => verified,
            None => self.verify_refreshing(token).await,
        }
    }

    /// As [`Authenticator::verify_end_user`], without fetching keys for an unknown key id.
    pub(crate) fn verify_end_user_now(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        self.verify_own(token).unwrap_or_else(|| self.verify(token))
    }

    /// `Some` verdict when `token` names one of elevator's own keys.
    fn verify_own(&self, token: &str) -> Option<Result<Arc<Identity>, AuthError>> {
        let (ring, audiences) = self.own_tokens.get()?;
        if !ring.names_own_key(token) {
            return None;
        }
        Some(
            ring.verify_for_any::<Claims>(token, audiences)
                .and_then(|mut claims| {
                    claims.roles.clear();
                    claims.groups.clear();
                    self.identity_from(claims, self.clock.now())
                })
                .map(Arc::new),
        )
    }

    /// Verifies `token`.
    pub fn verify(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge(token.len()));
        }
        let now = self.clock.now();
        if let Some(identity) = self.cache.get(token) {
            self.check_lifetime(identity.expires_at, None, now)?;
            return Ok(identity);
        }
        let identity = Arc::new(self.verify_uncached(token, now)?);
        self.cache.insert(token.into(), identity.clone());
        Ok(identity)
    }

    /// Accepts a payload another verifier already checked the signature of (Envoy's
    /// `jwt_authn` filter): everything else is checked as for a token here — issuer,
    /// audience, lifetime, dev tokens, well-formed claims.
    pub(crate) fn accept_verified_payload(
        &self,
        payload: serde_json::Value,
    ) -> Result<Arc<Identity>, AuthError> {
        let claims: Claims = serde_json::from_value(payload)
            .map_err(|error| AuthError::Invalid(format!("unreadable claims: {error}")))?;
        if let Some(issuer) = &self.issuer
            && claims.iss.as_ref() != Some(issuer)
        {
            return Err(AuthError::Invalid(format!("the issuer is not {issuer}")));
        }
        if let Some(audience) = &self.audience
            && !claims.aud.contains(audience)
        {
            return Err(AuthError::Invalid(format!(
                "the audience does not include {audience}"
            )));
        }
        self.identity_from(claims, self.clock.now()).map(Arc::new)
    }

    fn check_lifetime(
        &self,
        expires_at: DateTime<Utc>,
        not_before: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        if now >= expires_at + self.leeway {
            return Err(AuthError::Expired(expires_at));
        }
        if let Some(not_before) = not_before
            && now + self.leeway < not_before
        {
            return Err(AuthError::NotYetValid(not_before));
        }
        Ok(())
    }

    fn verify_uncached(&self, token: &str, now: DateTime<Utc>) -> Result<Identity, AuthError> {
        if let Some((ring, _)) = self.own_tokens.get()
            && ring.names_own_key(token)
        {
            return Err(AuthError::Invalid(
                "a token elevator minted speaks for its audience, not to elevator's API: send the user's own token".into(),
            ));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|error| AuthError::Invalid(format!("unreadable header: {error}")))?;
        let fetched = self
            .remote
            .as_ref()
            .map(|remote| remote.current.load_full());
        let all_keys = || {
            self.keys
                .iter()
                .chain(fetched.iter().flat_map(|fetched| fetched.1.iter()))
        };
        if let Some(kid) = &header.kid
            && header.alg != Algorithm::HS256
            && !all_keys().any(|key| key.id.as_ref() == Some(kid))
        {
            if let Some(remote) = &self.remote {
                remote.unknown_key_seen.notify_one();
            }
            return Err(AuthError::UnknownKey(kid.clone()));
        }
        let candidates: Vec<&VerificationKey> = all_keys()
            .filter(|key| key.algorithm == header.alg)
            .filter(|key| match (&header.kid, &key.id) {
                (Some(wanted), Some(id)) => wanted == id,
                (Some(_), None) => key.algorithm == Algorithm::HS256,
                (None, _) => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::Invalid(format!(
                "no key accepts algorithm {:?}{}",
                header.alg,
                header
                    .kid
                    .map(|kid| format!(" with key id {}", crate::domain::shown(&kid)))
                    .unwrap_or_default()
            )));
        }

        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        // A configured audience or issuer must be present, not merely right when present.
        let mut required = vec!["exp", "sub"];
        required.extend(self.audience.is_some().then_some("aud"));
        required.extend(self.issuer.is_some().then_some("iss"));
        validation.set_required_spec_claims(&required);
        validation.leeway = 0;
        match &self.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
        }

        let mut last_error = None;
        for key in candidates {
            match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
                Ok(data) => return self.identity_from(data.claims, now),
                Err(error) => last_error = Some(error),
            }
        }
        Err(AuthError::Invalid(last_error.map_or_else(
            || "no key verified it".into(),
            |e| e.to_string(),
        )))
    }

    fn identity_from(&self, claims: Claims, now: DateTime<Utc>) -> Result<Identity, AuthError> {
        let invalid = |what: &str, error: crate::domain::InvalidValue| {
            AuthError::Invalid(format!("claim {what}: {error}"))
        };
        if claims.iss.as_deref() == Some(DEV_ISSUER) && !self.dev_mode {
            return Err(AuthError::DevTokenRefused);
        }
        let expires_at = DateTime::from_timestamp(claims.exp, 0)
            .ok_or_else(|| AuthError::Invalid("claim exp is out of range".into()))?;
        let not_before = claims
            .nbf
            .map(|nbf| {
                DateTime::from_timestamp(nbf, 0)
                    .ok_or_else(|| AuthError::Invalid("claim nbf is out of range".into()))
            })
            .transpose()?;
        self.check_lifetime(expires_at, not_before, now)?;
        Ok(Identity {
            subject: Subject::parse(&claims.sub).map_err(|e| invalid("sub", e))?,
            session: claims
                .sid
                .as_deref()
                .map(SessionId::parse)
                .transpose()
                .map_err(|e| invalid("sid", e))?,
            groups: claims
                .groups
                .iter()
                .map(|group| GroupName::parse(group))
                .collect::<Result<_, _>>()
                .map_err(|e| invalid("groups", e))?,
            standing_roles: claims
                .roles
                .iter()
                .filter_map(|r| StandingRole::parse(r))
                .collect(),
            roles: claims.roles,
            manager: claims
                .manager
                .as_deref()
                .map(Subject::parse)
                .transpose()
                .map_err(|e| invalid("manager", e))?,
            amr: claims.amr,
            expires_at,
            issuer: claims.iss,
        })
    }
}

/// The token in an `Authorization` header value: what follows `Bearer ` (or `bearer `),
/// trimmed; `None` when the value is not a bearer credential. The one parser for gRPC
/// metadata, Envoy's forwarded headers and the console's HTTP requests.
pub fn bearer_token(header_value: &str) -> Option<&str> {
    header_value
        .strip_prefix("Bearer ")
        .or_else(|| header_value.strip_prefix("bearer "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn authenticator(dev_mode: bool, clock: Arc<ManualClock>) -> Authenticator {
        Authenticator::new(
            &AuthOptions {
                hs256_secrets: vec![b"test-secret".to_vec()],
                leeway: Duration::from_secs(5),
                dev_mode,
                ..Default::default()
            },
            clock,
        )
        .unwrap()
    }

    fn token(secret: &[u8], claims: &Claims) -> String {
        dev::sign_hs256(secret, claims)
    }

    fn claims(clock: &ManualClock, ttl: TimeDelta) -> Claims {
        Claims {
            sub: "fatma".into(),
            sid: Some("s1".into()),
            groups: vec!["procurement-staff".into()],
            roles: vec!["po_creator@Org:Procurement".into(), "elevator:check".into()],
            manager: Some("ali".into()),
            exp: (clock.now() + ttl).timestamp(),
            ..Default::default()
        }
    }

    #[test]
    fn a_valid_token_gives_its_identity() {
        let clock = Arc::new(ManualClock::starting_now());
        let auth = authenticator(false, clock.clone());
        let identity = auth
            .verify(&token(b"test-secret", &claims(&clock, TimeDelta::hours(1))))
            .unwrap();
        assert_eq!(identity.subject.as_str(), "fatma");
        assert_eq!(identity.session.as_ref().unwrap().as_str(), "s1");
        assert_eq!(identity.manager.as_ref().unwrap().as_str(), "ali");
        assert!(identity.has_role("elevator:check"));
        assert_eq!(identity.standing_roles.len(), 2);
    }

    #[test]
    fn forged_expired_and_oversized_tokens_are_refused() {
        let clock = Arc::new(ManualClock::starting_now());
        let auth = authenticator(false, clock.clone());
        let forged = token(b"other-secret", &claims(&clock, TimeDelta::hours(1)));
        assert!(matches!(auth.verify(&forged), Err(AuthError::Invalid(_))));
        let expired = token(b"test-secret", &claims(&clock, TimeDelta::seconds(-10)));
        assert!(matches!(auth.verify(&expired), Err(AuthError::Expired(_))));
        assert_eq!(
            auth.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)),
            Err(AuthError::TooLarge(MAX_TOKEN_BYTES + 1))
        );
        assert!(matches!(
            auth.verify("not.a.jwt"),
            Err(AuthError::Invalid(_))
        ));
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmYXRtYSIsImV4cCI6OTk5OTk5OTk5OX0.";
        assert!(matches!(auth.verify(unsigned), Err(AuthError::Invalid(_))));
    }

    #[test]
    fn a_cached_token_still_expires_with_the_clock() {
        let clock = Arc::new(ManualClock::starting_now());
        let auth = authenticator(false, clock.clone());
        let valid = token(b"test-secret", &claims(&clock, TimeDelta::minutes(10)));
        assert!(auth.verify(&valid).is_ok());
        clock.advance(TimeDelta::minutes(11));
        assert!(matches!(auth.verify(&valid), Err(AuthError::Expired(_))));
    }

    const JWKS: &str = include_str!("../../tests/fixtures/jwks.json");
    const ES256_KEY: &[u8] = include_bytes!("../../tests/fixtures/es256-private.pem");
    const RS256_KEY: &[u8] = include_bytes!("../../tests/fixtures/rs256-private.pem");

    fn signed(
        algorithm: Algorithm,
        kid: Option<&str>,
        key: &jsonwebtoken::EncodingKey,
        claims: &Claims,
    ) -> String {
        let mut header = jsonwebtoken::Header::new(algorithm);
        header.kid = kid.map(Into::into);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    #[test]
    fn jwks_keys_verify_their_own_algorithm_only() {
        let clock = Arc::new(ManualClock::starting_now());
        let auth = Authenticator::new(
            &AuthOptions {
                jwks: vec![JWKS.into()],
                leeway: Duration::from_secs(5),
                ..Default::default()
            },
            clock.clone(),
        )
        .unwrap();
        let claims = claims(&clock, TimeDelta::hours(1));
        let es_key = jsonwebtoken::EncodingKey::from_ec_pem(ES256_KEY).unwrap();
        let rs_key = jsonwebtoken::EncodingKey::from_rsa_pem(RS256_KEY).unwrap();

        assert!(
            auth.verify(&signed(Algorithm::ES256, Some("ec-1"), &es_key, &claims))
                .is_ok()
        );
        assert!(
            auth.verify(&signed(Algorithm::RS256, Some("rsa-1"), &rs_key, &claims))
                .is_ok()
        );
        assert!(
            auth.verify(&signed(Algorithm::ES256, None, &es_key, &claims))
                .is_ok()
        );

        // A key is pinned to its algorithm; an unknown kid finds no key.
        let wrong_kid = signed(Algorithm::RS256, Some("ec-1"), &rs_key, &claims);
        assert!(matches!(
            auth.verify(&wrong_kid),
            Err(AuthError::Invalid(_))
        ));
        let unknown_kid = signed(Algorithm::ES256, Some("ec-9"), &es_key, &claims);
        assert!(matches!(
            auth.verify(&unknown_kid),
            Err(AuthError::UnknownKey(kid)) if kid == "ec-9"
        ));

        // HS256 "signed" with the RSA public key (algorithm confusion) is refused: no HS256 key.
        let public_pem = rs_public_pem();
        let confused = signed(
            Algorithm::HS256,
            Some("rsa-1"),
            &jsonwebtoken::EncodingKey::from_secret(public_pem.as_bytes()),
            &claims,
        );
        assert!(matches!(auth.verify(&confused), Err(AuthError::Invalid(_))));
    }

    fn rs_public_pem() -> String {
        // The JWKS modulus, as a stand-in for "the public key an attacker knows".
        JWKS.split("\"n\": \"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn dev_tokens_only_in_dev_mode() {
        let clock = Arc::new(ManualClock::starting_now());
        let mut dev_claims = claims(&clock, TimeDelta::hours(1));
        dev_claims.iss = Some(DEV_ISSUER.into());
        let dev_token = token(b"test-secret", &dev_claims);
        assert_eq!(
            authenticator(false, clock.clone()).verify(&dev_token),
            Err(AuthError::DevTokenRefused)
        );
        assert!(authenticator(true, clock).verify(&dev_token).is_ok());
    }
}
