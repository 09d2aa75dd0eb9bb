//! The directory subcommands: `directory put FILE`, `delete TYPE ID`, `get TYPE ID`, `list`,
//! `import FILE`. Files are YAML or JSON (JSON is YAML); an entity is written as
//! `{type, id, aliases, properties, roles, groups, scope}`, a role as `role` or `role@scope`.
//! The server validates every field; the command only gives each entry's place when the file
//! itself cannot be read.

use std::path::Path;
use std::process::ExitCode;

use prost::Message;
use serde::Deserialize;

use super::super::args::DirectoryCommand;
use super::super::client::{Client, Failure};
use super::super::output::Printer;
use crate::proto::v1 as pb;

/// An import is streamed in messages of about this many bytes, well under the server's
/// per-message limit.
const IMPORT_MESSAGE_BYTES: usize = 48 * 1024;

/// A standing role as a file writes it.
#[derive(Deserialize)]
#[serde(untagged)]
enum RoleEntry {
    /// `role` or `role@scope`.
    Text(String),
    /// `{role, scope}`.
    Scoped {
        role: String,
        #[serde(default)]
        scope: Option<String>,
    },
}

/// An entity as a file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntityEntry {
    #[serde(rename = "type")]
    entity_type: String,
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    properties: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    roles: Vec<RoleEntry>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn proto_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(flag) => Kind::BoolValue(flag),
        serde_json::Value::Number(number) => Kind::NumberValue(number.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(text) => Kind::StringValue(text),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(proto_value).collect(),
        }),
        serde_json::Value::Object(fields) => Kind::StructValue(proto_struct(fields)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn proto_struct(fields: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: (fields.into_iter())
            .map(|(name, value)| (name, proto_value(value)))
            .collect(),
    }
}

impl From<EntityEntry> for pb::DirectoryEntity {
    fn from(entry: EntityEntry) -> Self {
        pb::DirectoryEntity {
            r#type: entry.entity_type,
            id: entry.id,
            aliases: entry.aliases,
            properties: Some(proto_struct(entry.properties)),
            roles: (entry.roles.into_iter())
                .map(|role| match role {
                    RoleEntry::Text(text) => match text.split_once('@') {
                        Some((role, scope)) => pb::DirectoryRole {
                            role: role.to_owned(),
                            scope: scope.to_owned(),
                        },
                        None => pb::DirectoryRole {
                            role: text,
                            scope: String::new(),
                        },
                    },
                    RoleEntry::Scoped { role, scope } => pb::DirectoryRole {
                        role,
                        scope: scope.unwrap_or_default(),
                    },
                })
                .collect(),
            groups: entry.groups,
            scope: entry.scope.unwrap_or_default(),
        }
    }
}

fn read_document(file: &Path) -> Result<serde_json::Value, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|error| Failure::Usage(format!("reading {}: {error}", file.display())))?;
    serde_yaml::from_str(&text)
        .map_err(|error| Failure::Usage(format!("{}: not YAML or JSON: {error}", file.display())))
}

fn entry(
    file: &Path,
    place: &str,
    value: serde_json::Value,
) -> Result<pb::DirectoryEntity, Failure> {
    serde_json::from_value::<EntityEntry>(value)
        .map(Into::into)
        .map_err(|error| Failure::Usage(format!("{}: {place}: {error}", file.display())))
}

/// The entities of an import file: a list, or a document whose `directory` (or `entities`) is
/// one, or whose `directory` has `subjects` and `resources` lists, as a policy file's has (so
/// a policy file's directory can be imported as it is).
fn read_entities(file: &Path) -> Result<Vec<pb::DirectoryEntity>, Failure> {
    let unusable = || {
        Failure::Usage(format!(
            "{}: expected a list of entities, or a `directory:` list (or `subjects:` and `resources:` lists under it)",
            file.display()
        ))
    };
    let entries: Vec<(String, serde_json::Value)> = match read_document(file)? {
        serde_json::Value::Array(list) => numbered("entry", list),
        serde_json::Value::Object(mut document) => {
            match document
                .remove("directory")
                .or_else(|| document.remove("entities"))
            {
                Some(serde_json::Value::Array(list)) => numbered("entry", list),
                Some(serde_json::Value::Object(mut sections)) => {
                    let mut entries = Vec::new();
                    for section in ["subjects", "resources"] {
                        match sections.remove(section) {
                            Some(serde_json::Value::Array(list)) => {
                                entries.extend(numbered(&format!("directory.{section}"), list));
                            }
                            None => {}
                            Some(_) => return Err(unusable()),
                        }
                    }
                    entries
                }
                _ => return Err(unusable()),
            }
        }
        _ => return Err(unusable()),
    };
    (entries.into_iter())
        .map(|(place, value)| entry(file, &place, value))
        .collect()
}

/// Each item of `list` with its place, `{what} {index}`.
fn numbered(what: &str, list: Vec<serde_json::Value>) -> Vec<(String, serde_json::Value)> {
    (list.into_iter().enumerate())
        .map(|(at, value)| (format!("{what} {at}"), value))
        .collect()
}

/// The entities in messages of about [`IMPORT_MESSAGE_BYTES`] each.
fn import_messages(entities: Vec<pb::DirectoryEntity>) -> Vec<pb::ImportEntitiesRequest> {
    let mut messages = Vec::new();
    let mut current = pb::ImportEntitiesRequest::default();
    for entity in entities {
        if !current.entities.is_empty()
            && current.encoded_len() + entity.encoded_len() + 8 > IMPORT_MESSAGE_BYTES
        {
            messages.push(std::mem::take(&mut current));
        }
        current.entities.push(entity);
    }
    if !current.entities.is_empty() || messages.is_empty() {
        messages.push(current);
    }
    messages
}

/// Runs one directory subcommand.
pub(super) async fn run(
    client: &Client,
    printer: &Printer,
    command: DirectoryCommand,
) -> Result<ExitCode, Failure> {
    let mut directory = client.directory();
    match command {
        DirectoryCommand::Put { file } => {
            let entity = entry(&file, "the entity", read_document(&file)?)?;
            let response = directory
                .put_entity(client.request(pb::PutEntityRequest {
                    entity: Some(entity),
                }))
                .await?
                .into_inner();
            printer.entity_put(&response);
        }
        DirectoryCommand::Delete { entity_type, id } => {
            let response = directory
                .delete_entity(client.request(pb::DeleteEntityRequest {
                    r#type: entity_type.clone(),
                    id: id.clone(),
                }))
                .await?
                .into_inner();
            printer.entity_deleted(&entity_type, &id, response.revision);
        }
        DirectoryCommand::Get { entity_type, id } => {
            let response = directory
                .get_entity(client.request(pb::GetEntityRequest {
                    r#type: entity_type,
                    id,
                }))
                .await?
                .into_inner();
            printer.entity(&response.entity.unwrap_or_default());
        }
        DirectoryCommand::List {
            entity_type,
            page_size,
            all,
        } => {
            let mut entities = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = directory
                    .list_entities(client.request(pb::ListEntitiesRequest {
                        r#type: entity_type.clone().unwrap_or_default(),
                        page_size,
                        page_token,
                    }))
                    .await?
                    .into_inner();
                entities.extend(page.entities);
                page_token = page.next_page_token;
                if !all || page_token.is_empty() {
                    break;
                }
            }
            printer.entities(&entities, &page_token);
        }
        DirectoryCommand::Import { file } => {
            let messages = import_messages(read_entities(&file)?);
            let response = directory
                .import_entities(client.request(tokio_stream::iter(messages)))
                .await?
                .into_inner();
            printer.entities_imported(&response);
        }
    }
    Ok(ExitCode::SUCCESS)
}
