//! Printing directory entities and what directory writes did.

use serde_json::{Value, json};

use super::printer::Printer;
use crate::cli::args::OutputFormat;
use crate::proto::v1 as pb;

fn proto_value_json(value: &prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(flag)) => Value::Bool(*flag),
        Some(Kind::NumberValue(number)) => {
            if number.fract() == 0.0 && number.abs() < 9.0e15 {
                json!(*number as i64)
            } else {
                json!(number)
            }
        }
        Some(Kind::StringValue(text)) => Value::String(text.clone()),
        Some(Kind::ListValue(list)) => list.values.iter().map(proto_value_json).collect(),
        Some(Kind::StructValue(fields)) => struct_json(fields),
    }
}

fn struct_json(fields: &prost_types::Struct) -> Value {
    Value::Object(
        (fields.fields.iter())
            .map(|(name, value)| (name.clone(), proto_value_json(value)))
            .collect(),
    )
}

/// An entity as JSON, in the shape `elevator directory put` and `import` read.
pub(crate) fn entity_json(entity: &pb::DirectoryEntity) -> Value {
    json!({
        "type": entity.r#type,
        "id": entity.id,
        "aliases": entity.aliases,
        "properties": entity.properties.as_ref().map_or(json!({}), struct_json),
        "roles": entity.roles.iter().map(|role| if role.scope.is_empty() {
            role.role.clone()
        } else {
            format!("{}@{}", role.role, role.scope)
        }).collect::<Vec<_>>(),
        "groups": entity.groups,
        "scope": (!entity.scope.is_empty()).then_some(&entity.scope),
    })
}

fn entity_line(entity: &pb::DirectoryEntity) -> String {
    let mut line = format!("{}/{}", entity.r#type, entity.id);
    if !entity.aliases.is_empty() {
        line.push_str(&format!("  aka {}", entity.aliases.join(", ")));
    }
    if !entity.roles.is_empty() {
        let roles: Vec<String> = (entity.roles.iter())
            .map(|role| match role.scope.as_str() {
                "" => role.role.clone(),
                scope => format!("{}@{scope}", role.role),
            })
            .collect();
        line.push_str(&format!("  roles {}", roles.join(", ")));
    }
    if !entity.groups.is_empty() {
        line.push_str(&format!("  groups {}", entity.groups.join(", ")));
    }
    if !entity.scope.is_empty() {
        line.push_str(&format!("  at {}", entity.scope));
    }
    line
}

impl Printer {
    /// One entity, whole.
    pub(crate) fn entity(&self, entity: &pb::DirectoryEntity) {
        match self.format {
            OutputFormat::Json => self.json(entity_json(entity)),
            OutputFormat::Text => {
                println!("{}", entity_line(entity));
                let properties = entity.properties.as_ref().map_or(json!({}), struct_json);
                if let Value::Object(fields) = properties {
                    for (name, value) in fields {
                        println!("  {name}: {value}");
                    }
                }
            }
        }
    }

    /// A page of entities (or every page).
    pub(crate) fn entities(&self, entities: &[pb::DirectoryEntity], next_page_token: &str) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "entities": entities.iter().map(entity_json).collect::<Vec<_>>(),
                "next_page_token": next_page_token,
            })),
            OutputFormat::Text => {
                for entity in entities {
                    println!("{}", entity_line(entity));
                }
                if !next_page_token.is_empty() {
                    println!("(more: --all lists every page)");
                }
            }
        }
    }

    /// A put entity.
    pub(crate) fn entity_put(&self, response: &pb::PutEntityResponse) {
        let entity = response.entity.clone().unwrap_or_default();
        match self.format {
            OutputFormat::Json => self.json(json!({
                "entity": entity_json(&entity),
                "created": response.created,
                "revision": response.revision,
            })),
            OutputFormat::Text => println!(
                "{} {}/{} (revision {})",
                if response.created {
                    "created"
                } else {
                    "replaced"
                },
                entity.r#type,
                entity.id,
                response.revision
            ),
        }
    }

    /// A deleted entity.
    pub(crate) fn entity_deleted(&self, entity_type: &str, id: &str, revision: u64) {
        match self.format {
            OutputFormat::Json => self.json(json!({ "deleted": true, "revision": revision })),
            OutputFormat::Text => println!("deleted {entity_type}/{id} (revision {revision})"),
        }
    }

    /// An import.
    pub(crate) fn entities_imported(&self, response: &pb::ImportEntitiesResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "imported": response.imported,
                "revision": response.revision,
            })),
            OutputFormat::Text => println!(
                "imported {} entities (revision {})",
                response.imported, response.revision
            ),
        }
    }
}
