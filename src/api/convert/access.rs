//! A gRPC Check in AuthZEN's form (a `resource_type` given) into the domain's access question:
//! the same validation as AuthZEN's edge, `google.protobuf.Struct` properties and context into
//! attribute values. A Check without a resource type stays a [`CheckQuery`](crate::domain::CheckQuery),
//! and may not carry the AuthZEN fields.

use std::sync::Arc;

use prost_types::value::Kind;

use super::requests::non_empty;
use crate::domain::{
    AccessAction, AccessEntity, AccessQuery, InvalidValue, Properties, SessionId, Value,
    session_from_context,
};
use crate::proto::v1 as pb;
use crate::service::ServiceError;

/// The subject type of a Check that names none.
const DEFAULT_SUBJECT_TYPE: &str = "user";

/// Whether the question is in AuthZEN's form (it names a resource type).
pub(crate) fn asks_in_access_form(request: &pb::CheckRequest) -> bool {
    !request.resource_type.is_empty()
}

/// Refuses the AuthZEN fields on a Check that names no resource type: they would be ignored.
pub(crate) fn no_access_fields(request: &pb::CheckRequest) -> Result<(), ServiceError> {
    let given = [
        ("subject_type", !request.subject_type.is_empty()),
        ("subject_properties", request.subject_properties.is_some()),
        ("resource_properties", request.resource_properties.is_some()),
        ("action_properties", request.action_properties.is_some()),
        ("context", request.context.is_some()),
        ("access_request_profile", request.access_request_profile),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(ServiceError::invalid(
            *name,
            "needs resource_type (the question's AuthZEN form); without it, resource is a scope",
        )),
        None => Ok(()),
    }
}

fn named<T>(name: &str, result: Result<T, InvalidValue>) -> Result<T, ServiceError> {
    result.map_err(|error| ServiceError::invalid(name, error.0))
}

impl<'a> TryFrom<&'a pb::CheckRequest> for AccessQuery<'a> {
    type Error = ServiceError;

    fn try_from(request: &'a pb::CheckRequest) -> Result<Self, ServiceError> {
        if request.subject.is_empty() {
            return Err(ServiceError::invalid("subject", "is required"));
        }
        if request.permission.is_empty() {
            return Err(ServiceError::invalid("permission", "is required"));
        }
        if request.resource.is_empty() {
            return Err(ServiceError::invalid(
                "resource",
                "is required (the resource's id, as resource_type is given)",
            ));
        }
        let subject_type = non_empty(request.subject_type.as_str()).unwrap_or(DEFAULT_SUBJECT_TYPE);
        let context = properties(request.context.as_ref());
        let session = match non_empty(request.session_id.as_str()) {
            Some(session) => Some(named("session_id", SessionId::parse(session))?),
            None => named("context.session_id", session_from_context(&context))?,
        };
        Ok(AccessQuery {
            subject: named(
                "subject",
                AccessEntity::parse(
                    subject_type,
                    &request.subject,
                    properties(request.subject_properties.as_ref()),
                ),
            )?,
            action: named(
                "permission",
                AccessAction::parse(
                    &request.permission,
                    properties(request.action_properties.as_ref()),
                ),
            )?,
            resource: named(
                "resource",
                AccessEntity::parse(
                    &request.resource_type,
                    &request.resource,
                    properties(request.resource_properties.as_ref()),
                ),
            )?,
            context,
            session,
            token: None,
            min_revision: request.min_revision,
        })
    }
}

/// A `Struct` as properties (none when absent).
fn properties(fields: Option<&prost_types::Struct>) -> Properties {
    fields.map_or_else(Properties::default, |fields| {
        fields
            .fields
            .iter()
            .map(|(name, value)| (Arc::from(name.as_str()), attribute(value)))
            .collect()
    })
}

/// A `google.protobuf.Value` as an attribute value. Struct numbers are doubles; a whole one
/// that fits in 64 bits becomes an integer, as in AuthZEN's JSON.
fn attribute(value: &prost_types::Value) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Value::Int(*n as i64)
            } else {
                Value::Double(*n)
            }
        }
        Some(Kind::StringValue(text)) => Value::String(Arc::from(text.as_str())),
        Some(Kind::ListValue(list)) => Value::List(list.values.iter().map(attribute).collect()),
        Some(Kind::StructValue(fields)) => Value::Map(properties(Some(fields))),
    }
}
