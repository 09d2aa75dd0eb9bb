//! Verification keys, each pinned to one algorithm, and reading them from a JWKS document.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A key and the one algorithm it verifies.
pub(crate) struct VerificationKey {
    pub(crate) id: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

/// The keys of a JWKS document, each pinned to the one algorithm it verifies; only RS256
/// and ES256 keys are accepted.
pub(crate) fn jwks_keys(document: &str) -> Result<Vec<VerificationKey>, String> {
    let set: JwkSet = serde_json::from_str(document)
        .map_err(|error| format!("the JWKS is not valid: {error}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let implied = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Some(Algorithm::ES256)
            }
            _ => None,
        };
        let algorithm = match jwk.common.key_algorithm {
            Some(declared) => Algorithm::try_from(declared).ok(),
            None => implied,
        };
        let Some(algorithm) =
            algorithm.filter(|a| matches!(a, Algorithm::RS256 | Algorithm::ES256))
        else {
            return Err(format!(
                "JWKS key {:?}: only RS256 (RSA) and ES256 (P-256) keys are supported",
                jwk.common.key_id
            ));
        };
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|error| format!("JWKS key {:?}: {error}", jwk.common.key_id))?;
        keys.push(VerificationKey {
            id: jwk.common.key_id.clone(),
            algorithm,
            key,
        });
    }
    Ok(keys)
}
