//! Checking what the provider signs: the ID token of a sign-in (OpenID Connect Core 1.0,
//! 3.1.3.7) and the logout token of a back-channel logout (OpenID Connect Back-Channel Logout
//! 1.0, 2.6). The signature is checked by `jsonwebtoken` with the provider's keys, each pinned
//! to the one algorithm its JWK names (RS256 or ES256), so `alg: none`, an HMAC "signed" with
//! a public key, or a key the provider does not publish are refused; then the issuer, the
//! audience (and `azp`), the lifetime against the injected clock, and the claims each kind of
//! token must (or must not) carry.

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use crate::auth::VerificationKey;
use crate::domain::shown;

/// Largest token read (an ID token with many groups is larger than an access token).
pub(crate) const MAX_PROVIDER_TOKEN_BYTES: usize = 16 * 1024;
/// A logout token issued longer ago than this is refused (it is sent at once; an old one is
/// a replay).
const MAX_LOGOUT_TOKEN_AGE: TimeDelta = TimeDelta::minutes(5);
/// The event a back-channel logout token carries.
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a token from the provider was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TokenRefused {
    /// It names a key id the provider's key set lacks (the keys may have rotated).
    #[error("the token names key {0}, which the provider's key set lacks")]
    UnknownKey(String),
    /// Anything else, said.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> TokenRefused {
    TokenRefused::Invalid(message.into())
}

/// Who must have issued a token, for whom, and when it is being checked.
pub(crate) struct Expected<'a> {
    /// The provider's issuer, exactly.
    pub(crate) issuer: &'a str,
    /// elevator's client id: the audience.
    pub(crate) client_id: &'a str,
    /// Now, by the injected clock.
    pub(crate) now: DateTime<Utc>,
    /// Clock-skew tolerance.
    pub(crate) leeway: TimeDelta,
}

/// The claims of a verified ID token, after checking it answers the sign-in that sent
/// `nonce`.
pub(crate) fn verify_id_token(
    token: &str,
    keys: &[VerificationKey],
    expected: &Expected<'_>,
    nonce: &str,
) -> Result<Map<String, Value>, TokenRefused> {
    let claims = verify_signed(token, keys, expected)?;
    let lifetime_end =
        timestamp(&claims, "exp")?.ok_or_else(|| invalid("the ID token has no exp"))?;
    if expected.now >= lifetime_end + expected.leeway {
        return Err(invalid(format!("the ID token expired at {lifetime_end}")));
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(sent)
            if crate::console::session::constant_time_equal(sent.as_bytes(), nonce.as_bytes()) => {}
        Some(_) => return Err(invalid("the ID token's nonce is not this sign-in's")),
        None => return Err(invalid("the ID token has no nonce")),
    }
    let audiences = audiences(&claims);
    let azp = claims.get("azp").and_then(Value::as_str);
    if audiences.len() > 1 && azp.is_none() {
        return Err(invalid("the ID token has several audiences and no azp"));
    }
    if azp.is_some_and(|azp| azp != expected.client_id) {
        return Err(invalid("the ID token's azp is another client"));
    }
    Ok(claims)
}

/// The subject and session a verified logout token ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoggedOut {
    /// `sub`, when the token carries it.
    pub(crate) subject: Option<String>,
    /// `sid`, when the token carries it.
    pub(crate) session: Option<String>,
}

/// What a verified logout token ends.
pub(crate) fn verify_logout_token(
    token: &str,
    keys: &[VerificationKey],
    expected: &Expected<'_>,
) -> Result<LoggedOut, TokenRefused> {
    let claims = verify_signed(token, keys, expected)?;
    if let Some(lifetime_end) = timestamp(&claims, "exp")?
        && expected.now >= lifetime_end + expected.leeway
    {
        return Err(invalid(format!(
            "the logout token expired at {lifetime_end}"
        )));
    }
    let issued_at = timestamp(&claims, "iat")?.ok_or_else(|| invalid("no iat"))?;
    if issued_at + MAX_LOGOUT_TOKEN_AGE + expected.leeway < expected.now {
        return Err(invalid("the logout token was issued over 5 minutes ago"));
    }
    let is_logout_event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT))
        .is_some_and(Value::is_object);
    if !is_logout_event {
        return Err(invalid(format!(
            "the token's events claim lacks {BACKCHANNEL_LOGOUT_EVENT}"
        )));
    }
    if claims.contains_key("nonce") {
        return Err(invalid("a logout token must not carry a nonce"));
    }
    if !claims.get("jti").is_some_and(Value::is_string) {
        return Err(invalid("the logout token has no jti"));
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let logged_out = LoggedOut {
        subject: text("sub"),
        session: text("sid"),
    };
    if logged_out.subject.is_none() && logged_out.session.is_none() {
        return Err(invalid("the logout token names neither sub nor sid"));
    }
    Ok(logged_out)
}

/// The claims of `token` once its signature, issuer, audience and `iat` are checked.
fn verify_signed(
    token: &str,
    keys: &[VerificationKey],
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, TokenRefused> {
    if token.len() > MAX_PROVIDER_TOKEN_BYTES {
        return Err(invalid(format!(
            "the token is {} bytes; at most {MAX_PROVIDER_TOKEN_BYTES} are read",
            token.len()
        )));
    }
    let header = jsonwebtoken::decode_header(token)
        .map_err(|error| invalid(format!("unreadable token header: {error}")))?;
    if let Some(kid) = &header.kid
        && !keys.iter().any(|key| key.id.as_ref() == Some(kid))
    {
        return Err(TokenRefused::UnknownKey(shown(kid)));
    }
    let candidates = keys.iter().filter(|key| {
        key.algorithm == header.alg
            && (header.kid.is_none() || key.id.as_ref() == header.kid.as_ref())
    });
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["iss", "aud", "iat"]);
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    let mut refusal = invalid(format!(
        "no key of the provider verifies algorithm {:?}",
        header.alg
    ));
    for key in candidates {
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
            Ok(data) => {
                let claims = data.claims;
                let issued_at = timestamp(&claims, "iat")?.ok_or_else(|| invalid("no iat"))?;
                if issued_at > expected.now + expected.leeway {
                    return Err(invalid("the token was issued in the future"));
                }
                return Ok(claims);
            }
            Err(error) => refusal = invalid(error.to_string()),
        }
    }
    Err(refusal)
}

/// A numeric date claim, when present.
fn timestamp(
    claims: &Map<String, Value>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, TokenRefused> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .map(Some)
            .ok_or_else(|| invalid(format!("claim {name} is not a date in seconds"))),
    }
}

/// `aud`, a string or a list of strings.
fn audiences(claims: &Map<String, Value>) -> Vec<&str> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}
