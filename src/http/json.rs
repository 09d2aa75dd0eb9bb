//! The JSON of an AuthZEN request, read once into edge values: subjects, resources and actions
//! with their properties as [`domain::Value`](crate::domain::Value)s, the context, and the
//! batch options. Every refusal names the field to fix (`evaluations[2].resource.type`);
//! unknown fields are ignored, as the specification requires; a property value nested deeper
//! than [`MAX_PROPERTY_DEPTH`] is refused (the body size bounds everything else).

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::problem::HttpError;
use crate::domain::{Properties, Value, shown};
use crate::service::ServiceError;

/// Deepest nesting of lists and maps inside one property or context value.
pub(super) const MAX_PROPERTY_DEPTH: usize = 16;

/// A JSON object, as the body's top level and every entity must be.
pub(super) type Object = Map<String, Json>;

/// A subject or a resource as the PEP named it. `id` is absent only where a search asks for
/// it.
#[derive(Debug, Clone)]
pub(super) struct EntityInput {
    /// Its type.
    pub(super) entity_type: String,
    /// Its id.
    pub(super) id: Option<String>,
    /// What the PEP says about it.
    pub(super) properties: Properties,
}

/// An action as the PEP named it.
#[derive(Debug, Clone)]
pub(super) struct ActionInput {
    /// Its name (the permission asked for).
    pub(super) name: String,
    /// What the PEP says about it.
    pub(super) properties: Properties,
}

/// One whole question: who does what on which resource, in which context.
#[derive(Debug, Clone)]
pub(super) struct Question {
    /// The subject.
    pub(super) subject: EntityInput,
    /// The action.
    pub(super) action: ActionInput,
    /// The resource.
    pub(super) resource: EntityInput,
    /// The request's context.
    pub(super) context: Properties,
}

/// The body as a JSON object: empty, malformed or not an object is a `400`.
pub(super) fn body_object(body: &[u8]) -> Result<Object, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(HttpError::invalid(
            "body",
            "the request body is empty: send a JSON object",
        ));
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(object)) => Ok(object),
        Ok(_) => Err(HttpError::invalid(
            "body",
            "the request body must be a JSON object",
        )),
        Err(error) => Err(HttpError::invalid(
            "body",
            format!(
                "the request body is not valid JSON ({} at line {}, column {})",
                error_kind(&error),
                error.line(),
                error.column()
            ),
        )),
    }
}

/// What kind of JSON error it is, without quoting the input.
fn error_kind(error: &serde_json::Error) -> &'static str {
    match error.classify() {
        serde_json::error::Category::Eof => "it ends early",
        serde_json::error::Category::Syntax => "a syntax error",
        serde_json::error::Category::Data => "a value out of range",
        serde_json::error::Category::Io => "unreadable",
    }
}

/// `field` of `object`, with JSON `null` read as absent (the specification asks PEPs to omit
/// null members, so a null means nothing was said).
pub(super) fn member<'a>(object: &'a Object, field: &str) -> Option<&'a Json> {
    object.get(field).filter(|value| !value.is_null())
}

/// `value` as an object, or a refusal naming `path`.
pub(super) fn as_object<'a>(value: &'a Json, path: &str) -> Result<&'a Object, ServiceError> {
    value.as_object().ok_or_else(|| {
        ServiceError::invalid(path, format!("must be an object, not {}", kind(value)))
    })
}

/// The JSON type of `value`, for messages.
fn kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The string member `field` of `object` (at `path`), if present.
fn string_member(object: &Object, field: &str, path: &str) -> Result<Option<String>, ServiceError> {
    match member(object, field) {
        None => Ok(None),
        Some(Json::String(text)) if text.is_empty() => Err(ServiceError::invalid(
            format!("{path}.{field}"),
            "must not be empty",
        )),
        Some(Json::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(ServiceError::invalid(
            format!("{path}.{field}"),
            format!("must be a string, not {}", kind(other)),
        )),
    }
}

/// A required string member.
fn required_string(object: &Object, field: &str, path: &str) -> Result<String, ServiceError> {
    string_member(object, field, path)?
        .ok_or_else(|| ServiceError::invalid(format!("{path}.{field}"), "is required"))
}

/// A subject or resource at `path`; `id_required` is false where a search asks for the id.
pub(super) fn entity(
    value: &Json,
    path: &str,
    id_required: bool,
) -> Result<EntityInput, ServiceError> {
    let object = as_object(value, path)?;
    let entity_type = required_string(object, "type", path)?;
    let id = if id_required {
        Some(required_string(object, "id", path)?)
    } else {
        string_member(object, "id", path)?
    };
    Ok(EntityInput {
        entity_type,
        id,
        properties: properties_member(object, path)?,
    })
}

/// An action at `path`.
pub(super) fn action(value: &Json, path: &str) -> Result<ActionInput, ServiceError> {
    let object = as_object(value, path)?;
    Ok(ActionInput {
        name: required_string(object, "name", path)?,
        properties: properties_member(object, path)?,
    })
}

/// The `properties` member of the entity at `path` (none when absent).
fn properties_member(object: &Object, path: &str) -> Result<Properties, ServiceError> {
    match member(object, "properties") {
        None => Ok(Properties::default()),
        Some(value) => properties(value, &format!("{path}.properties")),
    }
}

/// A JSON object at `path` as properties.
pub(super) fn properties(value: &Json, path: &str) -> Result<Properties, ServiceError> {
    let object = as_object(value, path)?;
    object
        .iter()
        .map(|(name, value)| {
            Ok((
                Arc::from(name.as_str()),
                attribute(value, 1, &|| format!("{path}.{}", field_name(name)))?,
            ))
        })
        .collect()
}

/// A member name for a field path, bounded (names come from the caller).
fn field_name(name: &str) -> String {
    if name.len() <= 64 && name.chars().all(|c| c.is_ascii_graphic()) {
        name.to_owned()
    } else {
        shown(name)
    }
}

/// A JSON value as an attribute value, `depth` levels down; `path` names it in a refusal.
fn attribute(value: &Json, depth: usize, path: &dyn Fn() -> String) -> Result<Value, ServiceError> {
    if depth > MAX_PROPERTY_DEPTH && (value.is_array() || value.is_object()) {
        return Err(ServiceError::invalid(
            path(),
            format!("is nested deeper than {MAX_PROPERTY_DEPTH} levels"),
        ));
    }
    Ok(match value {
        Json::Null => Value::Null,
        Json::Bool(flag) => Value::Bool(*flag),
        Json::Number(number) => match number.as_i64() {
            Some(whole) => Value::Int(whole),
            None => Value::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => Value::String(Arc::from(text.as_str())),
        Json::Array(items) => Value::List(
            items
                .iter()
                .map(|item| attribute(item, depth + 1, path))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
        Json::Object(object) => Value::Map(
            object
                .iter()
                .map(|(name, item)| {
                    Ok((Arc::from(name.as_str()), attribute(item, depth + 1, path)?))
                })
                .collect::<Result<Properties, ServiceError>>()?,
        ),
    })
}

/// The optional `context` member of `object` at `path`.
pub(super) fn context(object: &Object, path: &str) -> Result<Option<Properties>, ServiceError> {
    member(object, "context")
        .map(|value| properties(value, &format!("{path}context")))
        .transpose()
}

/// The whole question at the top level of a body (the single evaluation).
pub(super) fn question(object: &Object) -> Result<Question, ServiceError> {
    let required = |field: &str| {
        member(object, field).ok_or_else(|| ServiceError::invalid(field, "is required"))
    };
    Ok(Question {
        subject: entity(required("subject")?, "subject", true)?,
        action: action(required("action")?, "action")?,
        resource: entity(required("resource")?, "resource", true)?,
        context: context(object, "")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Question, ServiceError> {
        question(
            &body_object(text.as_bytes()).map_err(|e| ServiceError::invalid("body", e.detail))?,
        )
    }

    fn field_of(result: Result<Question, ServiceError>) -> String {
        match result {
            Err(ServiceError::InvalidArgument { field, .. }) => field,
            other => panic!("expected an invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn a_whole_question_is_read_with_its_properties_and_unknown_fields_are_ignored() {
        let question = parsed(
            r#"{"subject": {"type": "user", "id": "alice", "properties": {"role": "admin", "n": 3, "x": 1.5}},
                "action": {"name": "delete", "properties": {"soft": true}},
                "resource": {"type": "record", "id": "record-1", "properties": null},
                "context": {"ip": ["10.0.0.1"]}, "futureField": {"nested": true}}"#,
        )
        .unwrap();
        assert_eq!(question.subject.id.as_deref(), Some("alice"));
        assert_eq!(question.subject.properties.get("n"), Some(&Value::Int(3)));
        assert_eq!(
            question.subject.properties.get("x"),
            Some(&Value::Double(1.5))
        );
        assert_eq!(
            question.action.properties.get("soft"),
            Some(&Value::Bool(true))
        );
        assert!(question.resource.properties.is_empty());
        assert_eq!(question.context.len(), 1);
    }

    #[test]
    fn each_missing_or_mistyped_field_is_named() {
        let base = |subject: &str, action: &str, resource: &str| {
            format!(r#"{{"subject": {subject}, "action": {action}, "resource": {resource}}}"#)
        };
        let user = r#"{"type": "user", "id": "alice"}"#;
        let read = r#"{"name": "read"}"#;
        let record = r#"{"type": "record", "id": "record-1"}"#;
        let cases = [
            (
                r#"{"action": {"name": "read"}, "resource": {"type": "r", "id": "1"}}"#.to_owned(),
                "subject",
            ),
            (base(r#"{"id": "alice"}"#, read, record), "subject.type"),
            (base(r#"{"type": "user"}"#, read, record), "subject.id"),
            (base(user, "{}", record), "action.name"),
            (base(user, read, r#"{"id": "record-1"}"#), "resource.type"),
            (base(user, read, r#"{"type": "record"}"#), "resource.id"),
            (base(r#""alice""#, read, record), "subject"),
            (base(user, r#"{"name": 123}"#, record), "action.name"),
            (
                base(user, read, r#"{"type": "record", "id": ""}"#),
                "resource.id",
            ),
            (
                base(
                    user,
                    read,
                    r#"{"type": "record", "id": "1", "properties": [1]}"#,
                ),
                "resource.properties",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(parsed(&body)), field, "{body}");
        }
    }

    #[test]
    fn empty_malformed_and_non_object_bodies_are_refused_without_echoing_them() {
        for body in ["", "  ", "{\"subject\": ", "[1, 2]", "not json at all"] {
            let refused = body_object(body.as_bytes()).unwrap_err();
            assert_eq!(refused.status.as_u16(), 400);
            assert!(!refused.detail.contains("not json at all"));
        }
    }

    #[test]
    fn properties_nested_too_deep_are_refused_but_the_limit_itself_is_fine() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let body = |depth: usize| {
            format!(
                r#"{{"subject": {{"type": "u", "id": "a"}}, "action": {{"name": "r"}},
                    "resource": {{"type": "r", "id": "1"}}, "context": {{"deep": {}}}}}"#,
                nested(depth)
            )
        };
        assert!(parsed(&body(MAX_PROPERTY_DEPTH)).is_ok());
        assert_eq!(
            field_of(parsed(&body(MAX_PROPERTY_DEPTH + 1))),
            "context.deep"
        );
    }
}
