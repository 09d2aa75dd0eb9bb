//! A decision as AuthZEN JSON. By default exactly `{"decision": true}` or
//! `{"decision": false}`: the interop runners compare batch answers as exact JSON, and a PEP
//! that does not understand a `context` may reject the decision. A PEP that asks for reasons
//! (`"options": {"include_reasons": true}` in the request) gets them in `context`: the same
//! machine-readable reason as gRPC Check, a sentence for people, the revision decided at, and
//! the grant, role or rule that decided.

use serde_json::{Map, Value as Json, json};

use super::json::{Object, member};
use super::problem::HttpError;
use crate::domain::{Decision, DecisionReason};
use crate::service::ServiceError;

/// How a decision is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Detail {
    /// Whether `context` carries the reasons.
    pub(super) include_reasons: bool,
}

impl Detail {
    /// Read from the request's `options` object: `include_reasons` must be a boolean.
    pub(super) fn from_request(object: &Object) -> Result<Detail, ServiceError> {
        let Some(options) = member(object, "options") else {
            return Ok(Detail::default());
        };
        let options = super::json::as_object(options, "options")?;
        let include_reasons = match member(options, "include_reasons") {
            None => false,
            Some(Json::Bool(flag)) => *flag,
            Some(_) => {
                return Err(ServiceError::invalid(
                    "options.include_reasons",
                    "must be true or false",
                ));
            }
        };
        Ok(Detail { include_reasons })
    }
}

/// The sentence for people beside a reason code.
fn explanation(reason: DecisionReason) -> &'static str {
    match reason {
        DecisionReason::Allowed => "a grant or standing role allows it",
        DecisionReason::NoGrant => "nothing the subject holds carries this permission",
        DecisionReason::ScopeMismatch => {
            "a grant carries the permission, but its scope does not cover this resource"
        }
        DecisionReason::Expired => "the grant that would allow it has expired",
        DecisionReason::Revoked => "the grant that would allow it was revoked",
        DecisionReason::NotYetActive => "the grant that would allow it has not started yet",
        DecisionReason::OtherSession => "the grant that would allow it belongs to another session",
        DecisionReason::DelegationNotAccepted => {
            "the delegation that would allow it has not been taken up in a session"
        }
        DecisionReason::SodConflict => "a separation-of-duties set forbids it",
        DecisionReason::RuleDenied => "a policy rule denies it",
        DecisionReason::RiskSuspended => "a risk signal suspends the grant that would allow it",
        DecisionReason::InternalError => "the decision failed, so it is a deny",
    }
}

/// `decision` as an AuthZEN decision object.
pub(super) fn decision(decision: &Decision, detail: Detail) -> Json {
    if !detail.include_reasons {
        return json!({ "decision": decision.allowed });
    }
    let mut context = Map::new();
    context.insert("reason".into(), json!(decision.reason.as_str()));
    context.insert("message".into(), json!(explanation(decision.reason)));
    context.insert("revision".into(), json!(decision.revision));
    if let Some(grant) = &decision.grant {
        context.insert("grant".into(), json!(grant.id.to_string()));
    }
    if let Some(role) = decision.role() {
        context.insert("role".into(), json!(role));
    }
    if let Some(rule) = &decision.rule {
        context.insert("rule".into(), json!(rule));
    }
    json!({ "decision": decision.allowed, "context": context })
}

/// A question of a batch that could not be decided: a deny, with the error in `context`
/// (always: a PEP must be able to tell a failure from a deny).
pub(super) fn failed(error: &HttpError) -> Json {
    json!({ "decision": false, "context": { "error": error.item_error() } })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_exactly_its_verdict_unless_reasons_are_asked_for() {
        let denied = Decision::deny(DecisionReason::NoGrant, 7);
        assert_eq!(
            decision(&denied, Detail::default()),
            json!({"decision": false})
        );
        let explained = decision(
            &denied,
            Detail {
                include_reasons: true,
            },
        );
        assert_eq!(explained["decision"], false);
        assert_eq!(explained["context"]["reason"], "no_grant");
        assert_eq!(explained["context"]["revision"], 7);
        assert!(explained["context"]["message"].as_str().is_some());
    }

    #[test]
    fn reasons_are_asked_for_with_a_boolean_option() {
        let object = |text: &str| serde_json::from_str::<Object>(text).unwrap();
        assert!(!Detail::from_request(&object("{}")).unwrap().include_reasons);
        assert!(
            Detail::from_request(&object(r#"{"options": {"include_reasons": true}}"#))
                .unwrap()
                .include_reasons
        );
        assert!(
            Detail::from_request(&object(r#"{"options": {"include_reasons": "yes"}}"#)).is_err()
        );
        assert!(Detail::from_request(&object(r#"{"options": 3}"#)).is_err());
    }
}
