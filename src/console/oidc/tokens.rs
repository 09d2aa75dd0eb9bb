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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwks_keys;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::json;

    const JWKS: &str = include_str!("../../../tests/fixtures/jwks.json");
    const ES256_KEY: &[u8] = include_bytes!("../../../tests/fixtures/es256-private.pem");
    const RS256_KEY: &[u8] = include_bytes!("../../../tests/fixtures/rs256-private.pem");
    const ISSUER: &str = "https://login.example.com";

    fn expected(now: DateTime<Utc>) -> Expected<'static> {
        Expected {
            issuer: ISSUER,
            client_id: "elevator",
            now,
            leeway: TimeDelta::seconds(5),
        }
    }

    fn id_claims(now: DateTime<Utc>) -> Value {
        json!({
            "iss": ISSUER, "aud": "elevator", "sub": "fatma", "sid": "s-1",
            "nonce": "n-1", "iat": now.timestamp(), "exp": (now + TimeDelta::minutes(10)).timestamp(),
            "groups": ["procurement-staff"], "manager": "ali",
        })
    }

    fn signed(
        algorithm: Algorithm,
        kid: Option<&str>,
        key: &EncodingKey,
        claims: &Value,
    ) -> String {
        let mut header = Header::new(algorithm);
        header.kid = kid.map(Into::into);
        jsonwebtoken::encode(&header, claims, key).unwrap()
    }

    fn es256(claims: &Value) -> String {
        signed(
            Algorithm::ES256,
            Some("ec-1"),
            &EncodingKey::from_ec_pem(ES256_KEY).unwrap(),
            claims,
        )
    }

    fn refused(result: Result<impl std::fmt::Debug, TokenRefused>, needle: &str) {
        match result {
            Err(TokenRefused::Invalid(message)) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("expected a refusal saying {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_genuine_id_token_gives_its_claims_with_either_key() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        let claims =
            verify_id_token(&es256(&id_claims(now)), &keys, &expected(now), "n-1").unwrap();
        assert_eq!(claims["sub"], "fatma");
        let rsa = signed(
            Algorithm::RS256,
            Some("rsa-1"),
            &EncodingKey::from_rsa_pem(RS256_KEY).unwrap(),
            &id_claims(now),
        );
        assert!(verify_id_token(&rsa, &keys, &expected(now), "n-1").is_ok());
    }

    #[test]
    fn an_id_token_of_another_sign_in_issuer_or_audience_is_refused() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        let token = es256(&id_claims(now));
        refused(
            verify_id_token(&token, &keys, &expected(now), "n-2"),
            "nonce",
        );
        let mut claims = id_claims(now);
        claims.as_object_mut().unwrap().remove("nonce");
        refused(
            verify_id_token(&es256(&claims), &keys, &expected(now), "n-1"),
            "nonce",
        );
        let mut claims = id_claims(now);
        claims["iss"] = json!("https://evil.example.com");
        refused(
            verify_id_token(&es256(&claims), &keys, &expected(now), "n-1"),
            "Issuer",
        );
        let mut claims = id_claims(now);
        claims["aud"] = json!("another-client");
        refused(
            verify_id_token(&es256(&claims), &keys, &expected(now), "n-1"),
            "Audience",
        );
        let mut claims = id_claims(now);
        claims["aud"] = json!(["elevator", "another-client"]);
        refused(
            verify_id_token(&es256(&claims), &keys, &expected(now), "n-1"),
            "azp",
        );
        claims["azp"] = json!("another-client");
        refused(
            verify_id_token(&es256(&claims), &keys, &expected(now), "n-1"),
            "azp",
        );
    }

    #[test]
    fn an_expired_or_future_id_token_is_refused() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        let token = es256(&id_claims(now));
        let later = now + TimeDelta::minutes(11);
        refused(
            verify_id_token(&token, &keys, &expected(later), "n-1"),
            "expired",
        );
        let earlier = now - TimeDelta::minutes(1);
        refused(
            verify_id_token(&token, &keys, &expected(earlier), "n-1"),
            "future",
        );
    }

    #[test]
    fn algorithm_confusion_and_unsigned_tokens_are_refused() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        // HS256 "signed" with the provider's public key, as an attacker who knows it would.
        let public = JWKS.to_owned();
        let confused = signed(
            Algorithm::HS256,
            Some("rsa-1"),
            &EncodingKey::from_secret(public.as_bytes()),
            &id_claims(now),
        );
        refused(
            verify_id_token(&confused, &keys, &expected(now), "n-1"),
            "no key",
        );
        let confused_without_kid = signed(
            Algorithm::HS256,
            None,
            &EncodingKey::from_secret(public.as_bytes()),
            &id_claims(now),
        );
        refused(
            verify_id_token(&confused_without_kid, &keys, &expected(now), "n-1"),
            "no key",
        );
        let body = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_claims(now).to_string(),
        );
        let unsigned = format!("eyJhbGciOiJub25lIn0.{body}.");
        refused(
            verify_id_token(&unsigned, &keys, &expected(now), "n-1"),
            "header",
        );
        // A key the provider does not publish.
        let unknown = signed(
            Algorithm::ES256,
            Some("ec-9"),
            &EncodingKey::from_ec_pem(ES256_KEY).unwrap(),
            &id_claims(now),
        );
        assert!(matches!(
            verify_id_token(&unknown, &keys, &expected(now), "n-1"),
            Err(TokenRefused::UnknownKey(_))
        ));
    }

    fn logout_claims(now: DateTime<Utc>) -> Value {
        json!({
            "iss": ISSUER, "aud": "elevator", "sub": "fatma", "sid": "s-1", "jti": "j-1",
            "iat": now.timestamp(), "exp": (now + TimeDelta::minutes(2)).timestamp(),
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
        })
    }

    #[test]
    fn a_genuine_logout_token_names_the_session_it_ends() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        let logged_out =
            verify_logout_token(&es256(&logout_claims(now)), &keys, &expected(now)).unwrap();
        assert_eq!(
            logged_out,
            LoggedOut {
                subject: Some("fatma".into()),
                session: Some("s-1".into())
            }
        );
    }

    #[test]
    fn logout_tokens_that_break_the_rules_are_refused() {
        let keys = jwks_keys(JWKS).unwrap();
        let now = Utc::now();
        let check = |claims: &Value| verify_logout_token(&es256(claims), &keys, &expected(now));
        let mut claims = logout_claims(now);
        claims["nonce"] = json!("n-1");
        refused(check(&claims), "nonce");
        let mut claims = logout_claims(now);
        claims.as_object_mut().unwrap().remove("events");
        refused(check(&claims), "events");
        let mut claims = logout_claims(now);
        claims.as_object_mut().unwrap().remove("jti");
        refused(check(&claims), "jti");
        let mut claims = logout_claims(now);
        claims.as_object_mut().unwrap().remove("sub");
        claims.as_object_mut().unwrap().remove("sid");
        refused(check(&claims), "neither");
        let mut claims = logout_claims(now - TimeDelta::minutes(10));
        claims["exp"] = json!((now + TimeDelta::minutes(1)).timestamp());
        refused(check(&claims), "5 minutes");
        let mut claims = logout_claims(now);
        claims["aud"] = json!("another-client");
        refused(check(&claims), "Audience");
        // An ID token is not a logout token.
        refused(check(&id_claims(now)), "events");
    }
}
