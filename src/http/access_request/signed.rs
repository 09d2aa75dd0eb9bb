//! The profile's signed values, made and checked with the port's signing key ring (the keys
//! `/.well-known/jwks.json` publishes, `jwks_uri` in discovery):
//!
//! - `binding_token` in a requestable denial: a JWS whose audience is the access request
//!   endpoint, carrying the evaluation id (also its `jti`), `denial_expires_at`, the inline
//!   question and `binding_context_members`. A submission that carries one has it verified
//!   (signature, issuer, audience, expiry) before the evaluation id it names is resolved.
//! - `approval.state` in an approved task's result: a JWS whose audience is this decision
//!   point, naming the approval, the task and the subject, expiring with the approval. A
//!   re-evaluation that presents one has it verified and matched to `approval.id`.

use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::auth::{AuthError, SigningKeyRing};
pub(super) use crate::service::binding_token;
use crate::service::{DenialBinding, ServiceError, binding_audience, profile_refusal};

/// Verifies `binding`'s token when it carries one, and makes the evaluation id it names the
/// one resolved (an evaluation id beside it must be the same).
pub(super) fn resolve_binding(
    ring: &SigningKeyRing,
    binding: &mut DenialBinding,
    path: &str,
) -> Result<(), ServiceError> {
    let Some(token) = &binding.binding_token else {
        return Ok(());
    };
    let claims: Json = ring.verify(token, &binding_audience(ring)).map_err(
        |error| match error {
            AuthError::Expired(_) => profile_refusal(
                "EXPIRED_DENIAL",
                format!("{path}.binding_token has expired; evaluate again"),
            ),
            _ => profile_refusal(
                "INVALID_DENIAL_BINDING",
                format!(
                    "{path}.binding_token is not one this decision point signed and still accepts"
                ),
            ),
        },
    )?;
    let named = claims.get("evaluation_id").and_then(Json::as_str);
    match (named, &binding.evaluation_id) {
        (Some(named), Some(given)) if named != given => Err(profile_refusal(
            "INVALID_DENIAL_BINDING",
            format!("{path}.evaluation_id is not the evaluation its binding_token names"),
        )),
        (Some(named), _) => {
            binding.evaluation_id = Some(named.to_owned());
            Ok(())
        }
        (None, _) => Err(profile_refusal(
            "INVALID_DENIAL_BINDING",
            format!("{path}.binding_token names no evaluation"),
        )),
    }
}

/// The `approval.state` of an approval, or `None` when the ring cannot sign.
pub(super) fn approval_state(
    ring: &SigningKeyRing,
    approval_id: &str,
    task_id: &str,
    subject: &str,
    approved_until: DateTime<Utc>,
) -> Option<String> {
    let claims = json!({
        "aud": ring.issuer(),
        "exp": approved_until.timestamp(),
        "approval_id": approval_id,
        "task_id": task_id,
        "sub": subject,
    });
    match ring.sign("JWT", &claims) {
        Ok(state) => Some(state),
        Err(error) => {
            tracing::warn!(%error, "an approval state could not be signed");
            None
        }
    }
}

/// Whether `state` is an approval state this decision point signed for `approval_id`. One
/// past its expiry (its signature verified first) is left to the server-side record, which
/// answers `approval_expired` for it.
pub(super) fn approval_state_holds(ring: &SigningKeyRing, state: &str, approval_id: &str) -> bool {
    match ring.verify::<Json>(state, ring.issuer()) {
        Ok(claims) => claims.get("approval_id").and_then(Json::as_str) == Some(approval_id),
        Err(AuthError::Expired(_)) => true,
        Err(_) => false,
    }
}
