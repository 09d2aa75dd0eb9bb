//! Directory entities between proto and domain. Properties arrive as a `google.protobuf.Struct`
//! and become [`Properties`] within bounds (values, depth, string and name lengths), so one
//! entity's share of every replica's memory is bounded; a whole number (a Struct number is a
//! double) within ±2^53 becomes an integer, as JSON's `1` would.

use std::sync::Arc;

use prost_types::value::Kind;

use super::requests::required;
use crate::domain::{
    Entity, EntityId, EntityKey, EntityType, GroupName, Properties, RoleName, Scope, StandingRole,
    Value,
};
use crate::proto::v1 as pb;
use crate::service::{
    MAX_ENTITY_ALIASES, MAX_ENTITY_GROUPS, MAX_ENTITY_ROLES, PropertyBudget, ServiceError,
};

/// Whole numbers up to this magnitude are exact in a double, so they are taken as integers.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// The entity named by `type` and `id` (fields named `{prefix}type`, `{prefix}id`).
pub(crate) fn entity_name(
    prefix: &str,
    entity_type: &str,
    id: &str,
) -> Result<EntityKey, ServiceError> {
    Ok(EntityKey {
        entity_type: required(&format!("{prefix}type"), entity_type, EntityType::parse)?,
        id: required(&format!("{prefix}id"), id, EntityId::parse)?,
    })
}

fn at_most<T>(field: &str, items: &[T], max: usize) -> Result<(), ServiceError> {
    if items.len() > max {
        return Err(ServiceError::invalid(
            field,
            format!("{} entries; at most {max} are allowed", items.len()),
        ));
    }
    Ok(())
}

/// A directory entity from its message; fields are named `{prefix}...` (`entity.` or
/// `entities[3].`).
pub(crate) fn entity(prefix: &str, message: &pb::DirectoryEntity) -> Result<Entity, ServiceError> {
    let key = entity_name(prefix, &message.r#type, &message.id)?;
    at_most(
        &format!("{prefix}aliases"),
        &message.aliases,
        MAX_ENTITY_ALIASES,
    )?;
    at_most(&format!("{prefix}roles"), &message.roles, MAX_ENTITY_ROLES)?;
    at_most(
        &format!("{prefix}groups"),
        &message.groups,
        MAX_ENTITY_GROUPS,
    )?;
    let aliases = (message.aliases.iter().enumerate())
        .map(|(at, alias)| required(&format!("{prefix}aliases[{at}]"), alias, EntityId::parse))
        .collect::<Result<Vec<_>, _>>()?;
    let roles = (message.roles.iter().enumerate())
        .map(|(at, role)| {
            Ok(StandingRole {
                role: required(
                    &format!("{prefix}roles[{at}].role"),
                    &role.role,
                    RoleName::parse,
                )?,
                scope: super::optional(
                    &format!("{prefix}roles[{at}].scope"),
                    &role.scope,
                    Scope::parse,
                )?,
            })
        })
        .collect::<Result<Vec<_>, ServiceError>>()?;
    let groups = (message.groups.iter().enumerate())
        .map(|(at, group)| required(&format!("{prefix}groups[{at}]"), group, GroupName::parse))
        .collect::<Result<Vec<_>, _>>()?;
    let properties = match &message.properties {
        Some(properties) => struct_properties(
            &format!("{prefix}properties"),
            properties,
            1,
            &mut PropertyBudget::default(),
        )?,
        None => Properties::default(),
    };
    Ok(Entity {
        key,
        aliases,
        properties,
        roles,
        groups,
        scope: super::optional(&format!("{prefix}scope"), &message.scope, Scope::parse)?,
    })
}

fn struct_properties(
    field: &str,
    message: &prost_types::Struct,
    depth: usize,
    budget: &mut PropertyBudget,
) -> Result<Properties, ServiceError> {
    message
        .fields
        .iter()
        .map(|(name, value)| {
            PropertyBudget::check_name(field, name)?;
            let value = property_value(
                &format!("{field}.{}", crate::domain::shown(name)),
                value,
                depth,
                budget,
            )?;
            Ok((Arc::from(name.as_str()), value))
        })
        .collect()
}

fn property_value(
    field: &str,
    value: &prost_types::Value,
    depth: usize,
    budget: &mut PropertyBudget,
) -> Result<Value, ServiceError> {
    budget.take_value(field, depth)?;
    Ok(match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(flag)) => Value::Bool(*flag),
        Some(Kind::NumberValue(number)) => number_value(field, *number)?,
        Some(Kind::StringValue(text)) => {
            PropertyBudget::check_string(field, text)?;
            Value::String(Arc::from(text.as_str()))
        }
        Some(Kind::ListValue(list)) => Value::List(
            (list.values.iter().enumerate())
                .map(|(at, item)| {
                    property_value(&format!("{field}[{at}]"), item, depth + 1, budget)
                })
                .collect::<Result<_, _>>()?,
        ),
        Some(Kind::StructValue(nested)) => {
            Value::Map(struct_properties(field, nested, depth + 1, budget)?)
        }
    })
}

fn number_value(field: &str, number: f64) -> Result<Value, ServiceError> {
    if !number.is_finite() {
        return Err(ServiceError::invalid(field, "numbers must be finite"));
    }
    if number.fract() == 0.0 && number.abs() <= EXACT_INTEGER_LIMIT {
        return Ok(Value::Int(number as i64));
    }
    Ok(Value::Double(number))
}

fn proto_value(value: &Value) -> prost_types::Value {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(flag) => Kind::BoolValue(*flag),
        Value::Int(whole) => Kind::NumberValue(*whole as f64),
        Value::Double(number) => Kind::NumberValue(*number),
        Value::String(text) => Kind::StringValue(text.to_string()),
        Value::List(items) => Kind::ListValue(prost_types::ListValue {
            values: items.iter().map(proto_value).collect(),
        }),
        Value::Map(properties) => Kind::StructValue(proto_struct(properties)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn proto_struct(properties: &Properties) -> prost_types::Struct {
    prost_types::Struct {
        fields: properties
            .iter()
            .map(|(name, value)| (name.to_owned(), proto_value(value)))
            .collect(),
    }
}

/// An entity as its message.
pub(crate) fn directory_entity(entity: &Entity) -> pb::DirectoryEntity {
    pb::DirectoryEntity {
        r#type: entity.key.entity_type.as_str().to_owned(),
        id: entity.key.id.as_str().to_owned(),
        aliases: (entity.aliases.iter())
            .map(|alias| alias.as_str().to_owned())
            .collect(),
        properties: Some(proto_struct(&entity.properties)),
        roles: (entity.roles.iter())
            .map(|role| pb::DirectoryRole {
                role: role.role.to_string(),
                scope: (role.scope.as_ref())
                    .map(|scope| scope.as_str().to_owned())
                    .unwrap_or_default(),
            })
            .collect(),
        groups: (entity.groups.iter())
            .map(|group| group.as_str().to_owned())
            .collect(),
        scope: (entity.scope.as_ref())
            .map(|scope| scope.as_str().to_owned())
            .unwrap_or_default(),
    }
}
