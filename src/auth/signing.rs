//! The key ring elevator signs its own tokens with: asymmetric keys (Ed25519 as EdDSA, or
//! P-256 as ES256) read from PKCS#8 PEM files, or one made at start-up. The newest key (the
//! last one configured) signs; every key is published in the JWKS document and verifies, so a
//! rotation is: add the new key after the old one, wait longer than the longest token lives,
//! remove the old one. Each key's id is its RFC 7638 thumbprint, so replicas reading the same
//! files agree on it without configuring names.
//!
//! [`SigningKeyRing::sign`] makes a compact JWS of any serializable claims (setting `iss` and
//! `iat`, requiring `exp`); [`SigningKeyRing::verify`] accepts only a token one of the ring's
//! keys signed for the given audience, by this issuer, not expired by the injected clock.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::DateTime;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

use super::{AuthError, MAX_TOKEN_BYTES};
use crate::clock::SharedClock;

/// The PKCS#8 (RFC 8410) prefix of an Ed25519 private key: a 32-byte seed follows.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// One signing key: the private half, the public half that verifies, and its JWK.
struct RingKey {
    id: String,
    algorithm: Algorithm,
    private: EncodingKey,
    public: DecodingKey,
    jwk: Jwk,
}

/// The keys in force, oldest first, and the JWKS document publishing them.
struct KeySet {
    keys: Vec<RingKey>,
    jwks: Json,
}

/// elevator's own signing keys (see the module documentation).
pub struct SigningKeyRing {
    issuer: String,
    clock: SharedClock,
    current: ArcSwap<KeySet>,
}

impl std::fmt::Debug for SigningKeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = self.current.load();
        f.debug_struct("SigningKeyRing")
            .field("issuer", &self.issuer)
            .field(
                "key_ids",
                &keys.keys.iter().map(|key| &key.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SigningKeyRing {
    /// A ring of the keys in `pems` (each a PKCS#8 PEM text with where it came from, for
    /// errors), oldest first: the last one signs. Issues tokens as `issuer`.
    pub fn from_pems(
        issuer: &str,
        pems: &[(String, Vec<u8>)],
        clock: SharedClock,
    ) -> Result<Self, String> {
        Ok(SigningKeyRing {
            issuer: valid_issuer(issuer)?,
            clock,
            current: ArcSwap::from_pointee(key_set(pems)?),
        })
    }

    /// A ring of one Ed25519 key made now: tokens it signs stop verifying when the process
    /// ends, and other replicas do not know it (dev mode, tests, a single replica).
    pub fn ephemeral(issuer: &str, clock: SharedClock) -> Result<Self, String> {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
        let mut der = ED25519_PKCS8_PREFIX.to_vec();
        der.extend_from_slice(&seed);
        let key = ring_key(EncodingKey::from_ed_der(&der), Algorithm::EdDSA)
            .map_err(|error| format!("making a signing key: {error}"))?;
        Ok(SigningKeyRing {
            issuer: valid_issuer(issuer)?,
            clock,
            current: ArcSwap::from_pointee(KeySet::of(vec![key])?),
        })
    }

    /// Replaces the keys with those in `pems` (as [`SigningKeyRing::from_pems`]); on an error
    /// the keys in force stay.
    pub fn reload(&self, pems: &[(String, Vec<u8>)]) -> Result<(), String> {
        self.current.store(Arc::new(key_set(pems)?));
        Ok(())
    }

    /// The issuer (`iss`) of the tokens this ring signs.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The id of the key that signs now.
    pub fn signing_key_id(&self) -> String {
        let keys = self.current.load();
        keys.signing().map(|key| key.id.clone()).unwrap_or_default()
    }

    /// The JWKS document (`{"keys": [...]}`) with every key's public half.
    pub fn jwks(&self) -> Json {
        self.current.load().jwks.clone()
    }

    /// `claims` (which must serialize to a JSON object with a numeric `exp`) as a compact JWS
    /// signed by the newest key, with `iss` set to this ring's issuer and `iat` to now unless
    /// given. `typ` is the JOSE header's type (`JWT`, or `at+jwt` for access tokens).
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, String> {
        let mut claims = serde_json::to_value(claims)
            .map_err(|error| format!("the claims do not serialize: {error}"))?;
        let Some(object) = claims.as_object_mut() else {
            return Err("the claims are not a JSON object".into());
        };
        if !object.get("exp").is_some_and(Json::is_i64) {
            return Err("the claims need a numeric exp".into());
        }
        object.insert("iss".into(), Json::from(self.issuer.clone()));
        object
            .entry("iat")
            .or_insert_with(|| Json::from(self.clock.now().timestamp()));
        let keys = self.current.load();
        let key = keys.signing().ok_or("the key ring holds no key")?;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.id.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, &claims, &key.private)
            .map_err(|error| format!("signing with key {}: {error}", key.id))
    }

    /// The claims of `jws` when one of the ring's keys signed it, its `iss` is this ring's,
    /// its `aud` is or contains `audience`, and `exp` (required) and `nbf` have not been
    /// passed by the injected clock (no leeway: elevator checks what elevator signed).
    pub fn verify<C: DeserializeOwned>(&self, jws: &str, audience: &str) -> Result<C, AuthError> {
        self.verify_for_any(jws, &[audience.to_owned()])
    }

    /// As [`SigningKeyRing::verify`], for a token whose `aud` is one of `audiences`.
    pub fn verify_for_any<C: DeserializeOwned>(
        &self,
        jws: &str,
        audiences: &[String],
    ) -> Result<C, AuthError> {
        if audiences.is_empty() {
            return Err(AuthError::Invalid("no audience is accepted".into()));
        }
        let claims = self.verify_signature(jws, audiences)?;
        let now = self.clock.now().timestamp();
        let time = |name: &str| claims.get(name).and_then(Json::as_i64);
        let expires =
            time("exp").ok_or_else(|| AuthError::Invalid("claim exp is missing".into()))?;
        if now >= expires {
            return Err(AuthError::Expired(
                DateTime::from_timestamp(expires, 0).unwrap_or_default(),
            ));
        }
        if let Some(not_before) = time("nbf")
            && now < not_before
        {
            return Err(AuthError::NotYetValid(
                DateTime::from_timestamp(not_before, 0).unwrap_or_default(),
            ));
        }
        serde_json::from_value(claims)
            .map_err(|error| AuthError::Invalid(format!("unexpected claims: {error}")))
    }

    /// Whether `jws` names one of the ring's keys in its header (it may still not verify):
    /// lets a verifier that trusts several issuers send elevator's own tokens here.
    pub fn names_own_key(&self, jws: &str) -> bool {
        let Ok(header) = jsonwebtoken::decode_header(jws) else {
            return false;
        };
        let keys = self.current.load();
        header
            .kid
            .is_some_and(|kid| keys.keys.iter().any(|key| key.id == kid))
    }

    fn verify_signature(&self, jws: &str, audiences: &[String]) -> Result<Json, AuthError> {
        if jws.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge(jws.len()));
        }
        let header = jsonwebtoken::decode_header(jws)
            .map_err(|error| AuthError::Invalid(format!("unreadable header: {error}")))?;
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("the header names no key (kid)".into()))?;
        let keys = self.current.load();
        let key = keys
            .keys
            .iter()
            .find(|key| key.id == kid)
            .ok_or(AuthError::UnknownKey(kid))?;
        if header.alg != key.algorithm {
            return Err(AuthError::Invalid(format!(
                "key {} signs with {:?}, not {:?}",
                key.id, key.algorithm, header.alg
            )));
        }
        let mut validation = Validation::new(key.algorithm);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        jsonwebtoken::decode::<Json>(jws, &key.public, &validation)
            .map(|data| data.claims)
            .map_err(|error| AuthError::Invalid(error.to_string()))
    }
}

impl KeySet {
    fn of(keys: Vec<RingKey>) -> Result<Self, String> {
        let set = JwkSet {
            keys: keys.iter().map(|key| key.jwk.clone()).collect(),
        };
        let jwks = serde_json::to_value(&set)
            .map_err(|error| format!("writing the JWKS document: {error}"))?;
        Ok(KeySet { keys, jwks })
    }

    /// The newest key: the one that signs.
    fn signing(&self) -> Option<&RingKey> {
        self.keys.last()
    }
}

/// The keys of `pems`, oldest first, each checked by signing and verifying a probe.
fn key_set(pems: &[(String, Vec<u8>)]) -> Result<KeySet, String> {
    if pems.is_empty() {
        return Err("no signing key is given".into());
    }
    let mut keys: Vec<RingKey> = Vec::with_capacity(pems.len());
    for (origin, pem) in pems {
        let key = pem_key(pem).map_err(|error| format!("{origin}: {error}"))?;
        if keys.iter().any(|known| known.id == key.id) {
            return Err(format!("{origin}: the same key is listed twice"));
        }
        keys.push(key);
    }
    KeySet::of(keys)
}

/// A key from PKCS#8 PEM: Ed25519 (EdDSA) or P-256 (ES256).
fn pem_key(pem: &[u8]) -> Result<RingKey, String> {
    let refused = "not an Ed25519 or P-256 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`; \
                   make one with `openssl genpkey -algorithm ed25519`, or convert an EC key with \
                   `openssl pkcs8 -topk8 -nocrypt`)";
    if let Ok(private) = EncodingKey::from_ed_pem(pem) {
        return ring_key(private, Algorithm::EdDSA).map_err(|_| refused.to_owned());
    }
    if let Ok(private) = EncodingKey::from_ec_pem(pem) {
        return ring_key(private, Algorithm::ES256).map_err(|_| refused.to_owned());
    }
    Err(refused.to_owned())
}

/// A ring key from its private half: the public JWK, its thumbprint as id, and a probe
/// signed and verified, so a key of another curve is refused when read, not when used.
fn ring_key(private: EncodingKey, algorithm: Algorithm) -> Result<RingKey, String> {
    let mut jwk = Jwk::from_encoding_key(&private, algorithm).map_err(|error| error.to_string())?;
    let id = jwk
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|error| error.to_string())?;
    jwk.common.key_id = Some(id.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    let public = DecodingKey::from_jwk(&jwk).map_err(|error| error.to_string())?;
    let probe = jsonwebtoken::encode(&Header::new(algorithm), &serde_json::json!({}), &private)
        .map_err(|error| error.to_string())?;
    let mut validation = Validation::new(algorithm);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_aud = false;
    jsonwebtoken::decode::<Json>(&probe, &public, &validation)
        .map_err(|error| error.to_string())?;
    Ok(RingKey {
        id,
        algorithm,
        private,
        public,
        jwk,
    })
}

/// The issuer as configured: an absolute URL without query or fragment.
fn valid_issuer(issuer: &str) -> Result<String, String> {
    let plausible = (issuer.starts_with("https://") || issuer.starts_with("http://"))
        && issuer.len() <= 512
        && !issuer.contains(['?', '#'])
        && !issuer.chars().any(|c| c.is_control() || c.is_whitespace());
    if !plausible {
        return Err(format!(
            "tokens.issuer {} must be an http(s) URL without query or fragment",
            crate::domain::shown(issuer)
        ));
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use chrono::TimeDelta;
    use serde_json::json;

    const ISSUER: &str = "https://elevator.example.com";

    /// Ed25519, made by `openssl genpkey -algorithm ed25519`.
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJgVoUPcUeOmTsc+osMSfyjGrCsiceDjgqP6MSa8Q14O
-----END PRIVATE KEY-----
";

    /// P-256, made by `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`.
    const P256_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgPmCIdanqlJQ913rb
s4cEmsL05kiq4oXa/GRkJ1viz7OhRANCAATHpqGesvW9TomQttHVUjG+khPwwEKy
KdqlPJYTvZ0oorOVcxe/5PkcuikwjgvxHHl1QNzqNKd5PEUTmCWcxIGy
-----END PRIVATE KEY-----
";

    fn pems(texts: &[&str]) -> Vec<(String, Vec<u8>)> {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| (format!("key {i}"), text.as_bytes().to_vec()))
            .collect()
    }

    fn claims(clock: &ManualClock, audience: &str) -> Json {
        json!({ "sub": "fatma", "aud": audience, "exp": (clock.now() + TimeDelta::minutes(5)).timestamp() })
    }

    #[test]
    fn a_signed_token_verifies_for_its_audience_only() {
        let clock = Arc::new(ManualClock::starting_now());
        let ring = SigningKeyRing::ephemeral(ISSUER, clock.clone()).unwrap();
        let token = ring.sign("JWT", &claims(&clock, "orders")).unwrap();
        let verified: Json = ring.verify(&token, "orders").unwrap();
        assert_eq!(verified["sub"], "fatma");
        assert_eq!(verified["iss"], ISSUER);
        assert!(ring.verify::<Json>(&token, "billing").is_err());
        assert!(ring.names_own_key(&token));
    }

    #[test]
    fn an_expired_token_is_refused_by_the_clock() {
        let clock = Arc::new(ManualClock::starting_now());
        let ring = SigningKeyRing::ephemeral(ISSUER, clock.clone()).unwrap();
        let token = ring.sign("JWT", &claims(&clock, "orders")).unwrap();
        clock.advance(TimeDelta::minutes(5));
        assert!(matches!(
            ring.verify::<Json>(&token, "orders"),
            Err(AuthError::Expired(_))
        ));
    }

    #[test]
    fn another_rings_token_is_refused_even_with_the_same_issuer() {
        let clock = Arc::new(ManualClock::starting_now());
        let ours = SigningKeyRing::ephemeral(ISSUER, clock.clone()).unwrap();
        let theirs = SigningKeyRing::ephemeral(ISSUER, clock.clone()).unwrap();
        let token = theirs.sign("JWT", &claims(&clock, "orders")).unwrap();
        assert!(matches!(
            ours.verify::<Json>(&token, "orders"),
            Err(AuthError::UnknownKey(_))
        ));
        assert!(!ours.names_own_key(&token));
    }

    #[test]
    fn the_newest_key_signs_and_every_key_is_published_and_verifies() {
        let clock = Arc::new(ManualClock::starting_now());
        let old = SigningKeyRing::from_pems(ISSUER, &pems(&[ED25519_PEM]), clock.clone()).unwrap();
        let old_token = old.sign("JWT", &claims(&clock, "orders")).unwrap();
        let rotated =
            SigningKeyRing::from_pems(ISSUER, &pems(&[ED25519_PEM, P256_PEM]), clock.clone())
                .unwrap();
        let jwks = rotated.jwks();
        let published = jwks["keys"].as_array().unwrap();
        assert_eq!(published.len(), 2);
        assert_eq!(published[0]["kty"], "OKP");
        assert_eq!(published[1]["kty"], "EC");
        assert!(published.iter().all(|key| key["use"] == "sig"));
        assert!(published.iter().all(|key| key.get("d").is_none()));
        let new_token = rotated.sign("JWT", &claims(&clock, "orders")).unwrap();
        let header = jsonwebtoken::decode_header(&new_token).unwrap();
        assert_eq!(header.alg, Algorithm::ES256);
        assert_eq!(header.kid.unwrap(), rotated.signing_key_id());
        assert!(rotated.verify::<Json>(&old_token, "orders").is_ok());
        assert!(rotated.verify::<Json>(&new_token, "orders").is_ok());
        rotated.reload(&pems(&[P256_PEM])).unwrap();
        assert!(rotated.verify::<Json>(&old_token, "orders").is_err());
    }

    #[test]
    fn key_ids_are_thumbprints_so_replicas_agree() {
        let clock = Arc::new(ManualClock::starting_now());
        let one = SigningKeyRing::from_pems(ISSUER, &pems(&[ED25519_PEM]), clock.clone()).unwrap();
        let two = SigningKeyRing::from_pems(ISSUER, &pems(&[ED25519_PEM]), clock).unwrap();
        assert_eq!(one.signing_key_id(), two.signing_key_id());
        assert_eq!(one.signing_key_id().len(), 43);
    }

    #[test]
    fn bad_keys_and_issuers_say_what_to_fix() {
        let clock = Arc::new(ManualClock::starting_now());
        let error =
            SigningKeyRing::from_pems(ISSUER, &pems(&["not a key"]), clock.clone()).unwrap_err();
        assert!(
            error.contains("key 0") && error.contains("PKCS#8"),
            "{error}"
        );
        let error =
            SigningKeyRing::from_pems(ISSUER, &pems(&[ED25519_PEM, ED25519_PEM]), clock.clone())
                .unwrap_err();
        assert!(error.contains("twice"), "{error}");
        assert!(SigningKeyRing::from_pems(ISSUER, &[], clock.clone()).is_err());
        assert!(SigningKeyRing::ephemeral("elevator", clock.clone()).is_err());
        assert!(SigningKeyRing::ephemeral("https://x.example/?q", clock).is_err());
    }

    #[test]
    fn claims_without_exp_are_not_signed() {
        let clock = Arc::new(ManualClock::starting_now());
        let ring = SigningKeyRing::ephemeral(ISSUER, clock).unwrap();
        assert!(ring.sign("JWT", &json!({ "sub": "fatma" })).is_err());
        assert!(ring.sign("JWT", &json!(["exp"])).is_err());
    }

    #[test]
    fn a_token_with_its_algorithm_swapped_is_refused() {
        let clock = Arc::new(ManualClock::starting_now());
        let ring = SigningKeyRing::ephemeral(ISSUER, clock.clone()).unwrap();
        let token = ring.sign("JWT", &claims(&clock, "orders")).unwrap();
        let mut parts = token.split('.');
        let header = parts.next().unwrap();
        let rest: Vec<&str> = parts.collect();
        let forged_header = jsonwebtoken::decode_header(&token).map(|mut h| {
            h.alg = Algorithm::HS256;
            h
        });
        let forged_header = serde_json::to_vec(&forged_header.unwrap()).unwrap();
        let forged = format!("{}.{}", base64_url(&forged_header), rest.join("."));
        assert_ne!(forged.split('.').next(), Some(header));
        assert!(ring.verify::<Json>(&forged, "orders").is_err());
    }

    fn base64_url(bytes: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
        }
        out
    }
}
