//! A Check in AuthZEN's form as the AuthZEN Access Request profile binds it (issue 15): the
//! question in AuthZEN's JSON (subject, resource and action as a PEP would send them, the
//! session as `context.session_id`), shaped by the same [`bound_question`] the HTTP edge uses,
//! and a requestable denial as the response's [`pb::AccessRequestHint`].

use prost_types::value::Kind;
use serde_json::{Map, Value as Json, json};

use super::requests::non_empty;
use super::responses::timestamp;
use crate::auth::SigningKeyRing;
use crate::domain::SESSION_CONTEXT_KEY;
use crate::proto::v1 as pb;
use crate::service::{ACCESS_REQUEST_PATH, DenialOffer, binding_token, bound_question};

/// The subject type of a Check that names none (as in `access.rs`).
const DEFAULT_SUBJECT_TYPE: &str = "user";

/// The bound question of `request` (a Check in AuthZEN's form), as the HTTP edge would bind
/// the same question sent as JSON.
pub(crate) fn bound_check(request: &pb::CheckRequest) -> Json {
    let entity = |entity_type: &str, id: &str, properties: Option<&prost_types::Struct>| {
        let mut entity = json!({"type": entity_type, "id": id});
        if let Some(properties) = properties {
            entity["properties"] = object(properties);
        }
        entity
    };
    let subject_type = non_empty(request.subject_type.as_str()).unwrap_or(DEFAULT_SUBJECT_TYPE);
    let subject = entity(
        subject_type,
        &request.subject,
        request.subject_properties.as_ref(),
    );
    let resource = entity(
        &request.resource_type,
        &request.resource,
        request.resource_properties.as_ref(),
    );
    let mut action = json!({"name": request.permission});
    if let Some(properties) = &request.action_properties {
        action["properties"] = object(properties);
    }
    let mut context = request.context.as_ref().map_or_else(|| json!({}), object);
    if let (Some(session), Some(members)) = (
        non_empty(request.session_id.as_str()),
        context.as_object_mut(),
    ) {
        members
            .entry(SESSION_CONTEXT_KEY)
            .or_insert_with(|| json!(session));
    }
    bound_question(&subject, &resource, &action, &context)
}

/// The hint for a requestable denial: how to ask, at the HTTP port `ring` signs for.
pub(crate) fn access_request_hint(
    offer: &DenialOffer,
    ring: &SigningKeyRing,
) -> pb::AccessRequestHint {
    let denial = &offer.denial;
    let base = ring.issuer();
    pb::AccessRequestHint {
        evaluation_id: denial.evaluation_id.clone(),
        expires_at: Some(timestamp(denial.expires_at)),
        binding_token: binding_token(ring, denial).unwrap_or_default(),
        endpoint: format!("{base}{ACCESS_REQUEST_PATH}"),
        template: denial.template.clone(),
        role: denial.role.to_string(),
        scope: denial.scope.to_string(),
        request_schema_url: format!("{base}{ACCESS_REQUEST_PATH}/schemas/{}", offer.entry.index),
    }
}

/// A `Struct` as a JSON object. Struct numbers are doubles; a whole one becomes an integer, as
/// a PEP writes it in JSON.
fn object(fields: &prost_types::Struct) -> Json {
    Json::Object(
        fields
            .fields
            .iter()
            .map(|(name, value)| (name.clone(), json_value(value)))
            .collect::<Map<String, Json>>(),
    )
}

fn json_value(value: &prost_types::Value) -> Json {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => json!(b),
        Some(Kind::NumberValue(n)) if n.fract() == 0.0 && n.abs() < 9.0e15 => json!(*n as i64),
        Some(Kind::NumberValue(n)) => json!(n),
        Some(Kind::StringValue(text)) => json!(text),
        Some(Kind::ListValue(list)) => Json::Array(list.values.iter().map(json_value).collect()),
        Some(Kind::StructValue(fields)) => object(fields),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_binds_as_the_same_question_sent_as_authzen_json() {
        let request = pb::CheckRequest {
            subject: "jerry".into(),
            session_id: "laptop".into(),
            permission: "can_create_todo".into(),
            resource: "todo-1".into(),
            resource_type: "todo".into(),
            context: Some(prost_types::Struct {
                fields: [
                    ("tenant".to_owned(), prost_types::Value::from("smiths")),
                    ("count".to_owned(), prost_types::Value::from(3.0)),
                    (
                        "access_request_profile".to_owned(),
                        prost_types::Value::from(true),
                    ),
                ]
                .into_iter()
                .collect(),
            }),
            ..Default::default()
        };
        assert_eq!(
            bound_check(&request),
            bound_question(
                &json!({"type": "user", "id": "jerry"}),
                &json!({"type": "todo", "id": "todo-1"}),
                &json!({"name": "can_create_todo"}),
                &json!({"tenant": "smiths", "count": 3, "session_id": "laptop"}),
            )
        );
    }
}
