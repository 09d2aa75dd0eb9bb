//! The directory page's entity form turned into a domain [`Entity`]: type and id, aliases,
//! groups and standing roles one per line (or comma-separated), a scope, and the properties as
//! one JSON object. Each error names the field to fix. The bounds are those the gRPC edge puts
//! on `DirectoryService` (`api/convert/directory.rs`), so an entity the console accepts is one
//! the API would accept, and one entity's share of every replica's memory stays bounded.

use std::sync::Arc;

use super::forms::Fields;
use super::input::{field, optional, required};
use crate::domain::{
    Entity, EntityId, EntityKey, EntityType, GroupName, InvalidValue, Properties, Scope,
    StandingRole, Value, shown,
};
use crate::service::{
    MAX_ENTITY_ALIASES, MAX_ENTITY_GROUPS, MAX_ENTITY_ROLES, PropertyBudget, ServiceError,
};

/// The entity named by the fields `type` and `id` (an id may be an alias).
pub(crate) fn entity_key(fields: &Fields) -> Result<EntityKey, ServiceError> {
    Ok(EntityKey {
        entity_type: required(fields, "type", EntityType::parse)?,
        id: required(fields, "id", EntityId::parse)?,
    })
}

/// The entity the form describes.
pub(crate) fn entity(form: &Fields) -> Result<Entity, ServiceError> {
    let aliases = list(form, "aliases", MAX_ENTITY_ALIASES, EntityId::parse)?;
    let groups = list(form, "groups", MAX_ENTITY_GROUPS, GroupName::parse)?;
    let roles = list(form, "roles", MAX_ENTITY_ROLES, |text| {
        StandingRole::parse(text).ok_or_else(|| {
            InvalidValue(format!(
                "{} is not a role, or role@scope (admin_approver@Org:Procurement)",
                shown(text)
            ))
        })
    })?;
    Ok(Entity {
        key: entity_key(form)?,
        aliases,
        properties: properties(form.get("properties"))?,
        roles,
        groups,
        scope: optional(form, "scope", Scope::parse)?,
    })
}

/// The items of the field `name`, one per line or separated by commas, each parsed.
fn list<T>(
    form: &Fields,
    name: &str,
    max: usize,
    parse: impl Fn(&str) -> Result<T, InvalidValue>,
) -> Result<Vec<T>, ServiceError> {
    let items: Vec<&str> = form
        .get(name)
        .split(['\n', ','])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .collect();
    if items.len() > max {
        return Err(ServiceError::invalid(
            name,
            format!("{} entries; at most {max} are allowed", items.len()),
        ));
    }
    items
        .into_iter()
        .map(|item| field(name, parse(item)))
        .collect()
}

/// The `properties` field: empty, or a JSON object within the bounds.
fn properties(text: &str) -> Result<Properties, ServiceError> {
    if text.is_empty() {
        return Ok(Properties::default());
    }
    let parsed: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        ServiceError::invalid(
            "properties",
            format!(
                "not JSON (line {}, column {})",
                error.line(),
                error.column()
            ),
        )
    })?;
    let serde_json::Value::Object(entries) = parsed else {
        return Err(ServiceError::invalid(
            "properties",
            "must be a JSON object, such as {\"department\": \"sales\"}",
        ));
    };
    object("properties", entries, 1, &mut PropertyBudget::default())
}

fn object(
    field: &str,
    entries: serde_json::Map<String, serde_json::Value>,
    depth: usize,
    budget: &mut PropertyBudget,
) -> Result<Properties, ServiceError> {
    entries
        .into_iter()
        .map(|(name, value)| {
            PropertyBudget::check_name(field, &name)?;
            let value = property(&format!("{field}.{}", shown(&name)), value, depth, budget)?;
            Ok((Arc::from(name.as_str()), value))
        })
        .collect()
}

fn property(
    field: &str,
    value: serde_json::Value,
    depth: usize,
    budget: &mut PropertyBudget,
) -> Result<Value, ServiceError> {
    budget.take_value(field, depth)?;
    Ok(match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(whole) => Value::Int(whole),
            None => Value::Double(
                number
                    .as_f64()
                    .filter(|number| number.is_finite())
                    .ok_or_else(|| ServiceError::invalid(field, "numbers must be finite"))?,
            ),
        },
        serde_json::Value::String(text) => {
            PropertyBudget::check_string(field, &text)?;
            Value::String(Arc::from(text))
        }
        serde_json::Value::Array(items) => Value::List(
            (items.into_iter().enumerate())
                .map(|(at, item)| property(&format!("{field}[{at}]"), item, depth + 1, budget))
                .collect::<Result<_, _>>()?,
        ),
        serde_json::Value::Object(entries) => {
            Value::Map(object(field, entries, depth + 1, budget)?)
        }
    })
}

/// Properties as the JSON the form shows (pretty, so that editing is easy).
pub(crate) fn properties_json(properties: &Properties) -> String {
    if properties.is_empty() {
        return String::new();
    }
    serde_json::to_string_pretty(&object_json(properties)).unwrap_or_default()
}

fn object_json(properties: &Properties) -> serde_json::Value {
    serde_json::Value::Object(
        properties
            .iter()
            .map(|(name, value)| (name.to_owned(), value_json(value)))
            .collect(),
    )
}

fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Int(whole) => serde_json::Value::from(*whole),
        Value::Double(number) => serde_json::Number::from_f64(*number)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Value::String(text) => serde_json::Value::String(text.to_string()),
        Value::List(items) => serde_json::Value::Array(items.iter().map(value_json).collect()),
        Value::Map(properties) => object_json(properties),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        let encoded: Vec<String> = pairs
            .iter()
            .map(|(name, value)| {
                format!(
                    "{}={}",
                    super::super::forms::encode(name),
                    super::super::forms::encode(value)
                )
            })
            .collect();
        Fields::parse(&encoded.join("&")).unwrap()
    }

    #[test]
    fn a_filled_form_becomes_the_entity_it_describes() {
        let entity = entity(&form(&[
            ("type", "user"),
            ("id", "rick@the-citadel.com"),
            ("aliases", "CiRmZDA2\n rick "),
            ("groups", "scientists, council"),
            ("roles", "admin_approver@Org:Procurement\nviewer"),
            (
                "properties",
                r#"{"email": "rick@the-citadel.com", "level": 7, "tags": ["a"]}"#,
            ),
        ]))
        .unwrap();
        assert_eq!(entity.aliases.len(), 2);
        assert_eq!(entity.groups.len(), 2);
        assert_eq!(entity.roles.len(), 2);
        assert!(entity.roles[0].scope.is_some());
        assert_eq!(entity.properties.len(), 3);
        let shown_again = properties_json(&entity.properties);
        assert!(shown_again.contains("\"level\": 7"), "{shown_again}");
    }

    #[test]
    fn bad_fields_are_refused_naming_the_field() {
        let refused = |pairs: &[(&str, &str)]| {
            let mut all = vec![("type", "user"), ("id", "rick")];
            all.extend_from_slice(pairs);
            entity(&form(&all)).unwrap_err().to_string()
        };
        assert!(refused(&[("properties", "{not json")]).contains("properties"));
        assert!(refused(&[("properties", "[1, 2]")]).contains("JSON object"));
        assert!(refused(&[("roles", "no such@@")]).contains("roles"));
        let bad_type = entity(&form(&[("type", "1user"), ("id", "rick")])).unwrap_err();
        assert!(bad_type.to_string().contains("type"), "{bad_type}");
        let many: String = (0..33).map(|at| format!("a{at}\n")).collect();
        assert!(refused(&[("aliases", &many)]).contains("at most 32"));
        let deep = format!("{}1{}", "{\"a\": ".repeat(9), "}".repeat(9));
        assert!(refused(&[("properties", &deep)]).contains("nest"));
    }
}
