//! What binds an access request to the denial it came from (AuthZEN Access Request profile,
//! issue 15), shared by every edge that hands out requestable denials (the AuthZEN evaluation
//! endpoints and gRPC Check): the bound question in AuthZEN's JSON form, and the
//! `binding_token` signed over it with the signing key ring.

use chrono::SecondsFormat;
use serde_json::{Map, Value as Json, json};

use crate::auth::SigningKeyRing;
use crate::domain::RequestableDenial;

/// Where access requests are submitted on the HTTP port; tasks live below it.
pub const ACCESS_REQUEST_PATH: &str = "/access/v1/requests";

/// The request context member by which a PEP opts in to requestable denials.
pub const ACCESS_REQUEST_OPT_IN: &str = "access_request_profile";

/// Context members that are the profile's machinery or submission-time input, never part of
/// the authorization-relevant context bound to a denial or an approval. `time` is volatile.
const NOT_AUTHORIZATION_RELEVANT: [&str; 9] = [
    "access_request",
    ACCESS_REQUEST_OPT_IN,
    "evaluation_id",
    "evaluated_at",
    "reason",
    "approval",
    "time",
    "business_justification",
    "ticket",
];

/// The question as bound to a denial or an approval: subject (without `properties.act`),
/// resource and action as sent, and the authorization-relevant context members.
pub fn bound_question(subject: &Json, resource: &Json, action: &Json, context: &Json) -> Json {
    let mut subject = subject.clone();
    if let Some(properties) = subject.get_mut("properties").and_then(Json::as_object_mut) {
        properties.remove("act");
    }
    let relevant: Map<String, Json> = context
        .as_object()
        .map(|members| {
            members
                .iter()
                .filter(|(name, value)| {
                    !NOT_AUTHORIZATION_RELEVANT.contains(&name.as_str()) && !value.is_null()
                })
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    json!({"subject": subject, "resource": resource, "action": action, "context": relevant})
}

/// The audience of binding tokens: the access request endpoint of this decision point.
pub fn binding_audience(ring: &SigningKeyRing) -> String {
    format!("{}{ACCESS_REQUEST_PATH}", ring.issuer())
}

/// A binding token for `denial`: a JWS whose audience is the access request endpoint,
/// carrying the evaluation id (also its `jti`), `denial_expires_at`, the inline question and
/// `binding_context_members`; `None` when the ring cannot sign (the evaluation id still binds).
pub fn binding_token(ring: &SigningKeyRing, denial: &RequestableDenial) -> Option<String> {
    let members: Vec<&String> = denial
        .bound
        .get("context")
        .and_then(Json::as_object)
        .map(|context| context.keys().collect())
        .unwrap_or_default();
    let claims = json!({
        "aud": binding_audience(ring),
        "exp": denial.expires_at.timestamp(),
        "jti": denial.evaluation_id,
        "evaluation_id": denial.evaluation_id,
        "denial_expires_at": denial.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "binding_context_members": members,
        "subject": denial.bound["subject"],
        "resource": denial.bound["resource"],
        "action": denial.bound["action"],
        "context": denial.bound["context"],
    });
    match ring.sign("JWT", &claims) {
        Ok(token) => Some(token),
        Err(error) => {
            tracing::warn!(%error, "a binding token could not be signed");
            None
        }
    }
}
