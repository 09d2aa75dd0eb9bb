//! The PostgreSQL store's directory: entities in `directory_entities` (properties as jsonb),
//! every name in `directory_names` (unique per type, the database's own check on aliases), and
//! the bulk statements a directory write sends: one delete, one insert of entities, one of
//! names, whatever the number of entities.

use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::PostgresStore;
use super::queries;
use super::transaction::{apply, cached, in_transaction};
use crate::domain::{
    Entity, EntityId, EntityKey, EntityType, GroupName, Properties, Revision, Scope, StandingRole,
    Value,
};
use crate::store::{
    Committed, Decide, DirectoryEntries, DirectoryWrite, EntityFilter, Snapshot, StoreError,
    check_directory_names, decide_change, entity_names,
};

fn corrupt(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("directory entity {what}: {error}"))
}

fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|error| corrupt(row.columns()[index].name(), error))
}

/// Reads an entity from columns `offset..` in `entity_columns!()` order.
pub(super) fn entity(row: &Row, offset: usize) -> Result<Entity, StoreError> {
    let entity_type: &str = column(row, offset)?;
    let id: &str = column(row, offset + 1)?;
    let aliases: Vec<String> = column(row, offset + 2)?;
    let Json(properties): Json<serde_json::Value> = column(row, offset + 3)?;
    let roles: Vec<String> = column(row, offset + 4)?;
    let groups: Vec<String> = column(row, offset + 5)?;
    let scope: Option<&str> = column(row, offset + 6)?;
    Ok(Entity {
        key: EntityKey {
            entity_type: EntityType::parse(entity_type).map_err(|e| corrupt("type", e))?,
            id: EntityId::parse(id).map_err(|e| corrupt("id", e))?,
        },
        aliases: (aliases.iter())
            .map(|alias| EntityId::parse(alias).map_err(|e| corrupt("alias", e)))
            .collect::<Result<_, _>>()?,
        properties: match properties_from_json(properties) {
            Value::Map(properties) => properties,
            _ => return Err(corrupt("properties", "not an object")),
        },
        roles: (roles.iter())
            .map(|role| StandingRole::parse(role).ok_or_else(|| corrupt("roles", "not a role")))
            .collect::<Result<_, _>>()?,
        groups: (groups.iter())
            .map(|group| GroupName::parse(group).map_err(|e| corrupt("groups", e)))
            .collect::<Result<_, _>>()?,
        scope: scope
            .map(|scope| Scope::parse(scope).map_err(|e| corrupt("scope", e)))
            .transpose()?,
    })
}

/// A stored JSON value as an attribute value: a whole number that fits in 64 bits is an
/// integer, any other a double.
fn properties_from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(flag) => Value::Bool(flag),
        serde_json::Value::Number(number) => match number.as_i64() {
            Some(whole) => Value::Int(whole),
            None => Value::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => Value::String(Arc::from(text)),
        serde_json::Value::Array(items) => {
            Value::List(items.into_iter().map(properties_from_json).collect())
        }
        serde_json::Value::Object(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(name, value)| (Arc::from(name), properties_from_json(value)))
                .collect(),
        ),
    }
}

/// An attribute value as JSON. A double JSON cannot write (NaN, infinity) is refused: the edge
/// lets none through.
fn value_to_json(value: &Value) -> Result<serde_json::Value, StoreError> {
    Ok(match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(flag) => serde_json::Value::Bool(*flag),
        Value::Int(whole) => serde_json::Value::from(*whole),
        Value::Double(number) => serde_json::Number::from_f64(*number)
            .map(serde_json::Value::Number)
            .ok_or_else(|| StoreError::OutOfBounds("a property is not a finite number".into()))?,
        Value::String(text) => serde_json::Value::String(text.to_string()),
        Value::List(items) => {
            serde_json::Value::Array(items.iter().map(value_to_json).collect::<Result<_, _>>()?)
        }
        Value::Map(properties) => properties_to_json(properties)?,
    })
}

fn properties_to_json(properties: &Properties) -> Result<serde_json::Value, StoreError> {
    Ok(serde_json::Value::Object(
        properties
            .iter()
            .map(|(name, value)| Ok((name.to_owned(), value_to_json(value)?)))
            .collect::<Result<_, StoreError>>()?,
    ))
}

fn standing_role_text(role: &StandingRole) -> String {
    match &role.scope {
        Some(scope) => format!("{}@{}", role.role, scope.as_str()),
        None => role.role.to_string(),
    }
}

fn text_array<'t>(items: impl Iterator<Item = &'t str>) -> serde_json::Value {
    serde_json::Value::Array(items.map(|item| item.to_owned().into()).collect())
}

/// The directory writes of a change, as the bulk statements' columns.
#[derive(Default)]
struct EntityColumns {
    types: Vec<String>,
    ids: Vec<String>,
    aliases: Vec<serde_json::Value>,
    properties: Vec<serde_json::Value>,
    roles: Vec<serde_json::Value>,
    groups: Vec<serde_json::Value>,
    scopes: Vec<Option<String>>,
}

impl EntityColumns {
    fn push(&mut self, entity: &Entity) -> Result<(), StoreError> {
        self.types.push(entity.key.entity_type.as_str().to_owned());
        self.ids.push(entity.key.id.as_str().to_owned());
        self.aliases
            .push(text_array(entity.aliases.iter().map(EntityId::as_str)));
        self.properties
            .push(properties_to_json(&entity.properties)?);
        let roles: Vec<String> = entity.roles.iter().map(standing_role_text).collect();
        self.roles
            .push(text_array(roles.iter().map(String::as_str)));
        self.groups
            .push(text_array(entity.groups.iter().map(GroupName::as_str)));
        self.scopes
            .push(entity.scope.as_ref().map(|scope| scope.as_str().to_owned()));
        Ok(())
    }
}

/// Writes the directory part of a change in `tx` at `revision`: deletes every entity written
/// (its names go with it), then inserts the entities put and their names.
pub(super) async fn write_directory(
    tx: &Transaction<'_>,
    writes: &[DirectoryWrite],
    revision: Revision,
) -> Result<(), StoreError> {
    if writes.is_empty() {
        return Ok(());
    }
    let gone_types: Vec<&str> = writes
        .iter()
        .map(|w| w.key().entity_type.as_str())
        .collect();
    let gone_ids: Vec<&str> = writes.iter().map(|w| w.key().id.as_str()).collect();
    tx.execute(
        &cached!(tx, queries::DELETE_ENTITIES),
        &[&gone_types, &gone_ids],
    )
    .await?;
    let mut columns = EntityColumns::default();
    let (mut name_types, mut names, mut name_owners) = (Vec::new(), Vec::new(), Vec::new());
    for write in writes {
        let DirectoryWrite::Put(entity) = write else {
            continue;
        };
        columns.push(entity)?;
        for name in entity_names(entity) {
            name_types.push(name.entity_type.as_str().to_owned());
            names.push(name.id.as_str().to_owned());
            name_owners.push(entity.key.id.as_str().to_owned());
        }
    }
    if columns.types.is_empty() {
        return Ok(());
    }
    let aliases: Vec<Json<&serde_json::Value>> = columns.aliases.iter().map(Json).collect();
    let properties: Vec<Json<&serde_json::Value>> = columns.properties.iter().map(Json).collect();
    let roles: Vec<Json<&serde_json::Value>> = columns.roles.iter().map(Json).collect();
    let groups: Vec<Json<&serde_json::Value>> = columns.groups.iter().map(Json).collect();
    let revision = revision as i64;
    tx.execute(
        &cached!(tx, queries::INSERT_ENTITIES),
        &[
            &columns.types,
            &columns.ids,
            &aliases,
            &properties,
            &roles,
            &groups,
            &columns.scopes,
            &revision,
        ],
    )
    .await?;
    tx.execute(
        &cached!(tx, queries::INSERT_NAMES),
        &[&name_types, &names, &name_owners],
    )
    .await?;
    Ok(())
}

/// The stored entities `names` name, read in `tx`.
async fn entities_named(
    tx: &Transaction<'_>,
    names: &[EntityKey],
) -> Result<Vec<Entity>, StoreError> {
    let types: Vec<&str> = names.iter().map(|n| n.entity_type.as_str()).collect();
    let ids: Vec<&str> = names.iter().map(|n| n.id.as_str()).collect();
    tx.query(&cached!(tx, queries::ENTITIES_NAMED), &[&types, &ids])
        .await?
        .iter()
        .map(|row| entity(row, 0))
        .collect()
}

#[async_trait]
impl DirectoryEntries for PostgresStore {
    #[tracing::instrument(name = "postgres.update_directory", skip_all, fields(db.system = "postgresql"))]
    async fn update_directory(
        &self,
        names: &[EntityKey],
        decide: Decide<'_, Vec<Entity>>,
    ) -> Result<Committed, StoreError> {
        in_transaction!(self, |tx| {
            tx.execute(&cached!(tx, queries::LOCK_DIRECTORY), &[])
                .await?;
            let change = decide_change(decide, entities_named(&tx, names).await?)?;
            let written: Vec<EntityKey> = (change.directory.iter())
                .flat_map(|write| match write {
                    DirectoryWrite::Put(entity) => entity_names(entity).collect(),
                    DirectoryWrite::Delete(key) => vec![key.clone()],
                })
                .collect();
            check_directory_names(&entities_named(&tx, &written).await?, &change.directory)?;
            apply(&tx, change).await
        })
    }

    #[tracing::instrument(name = "postgres.get_entity", skip_all, fields(db.system = "postgresql"))]
    async fn get_entity(&self, name: &EntityKey) -> Result<Option<Entity>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &cached!(client, queries::ENTITY_NAMED),
                &[&name.entity_type.as_str(), &name.id.as_str()],
            )
            .await?
            .map(|row| entity(&row, 0))
            .transpose()
    }

    #[tracing::instrument(name = "postgres.entities_with_keys", skip_all, fields(db.system = "postgresql"))]
    async fn entities_with_keys(&self, keys: &[EntityKey]) -> Result<Vec<Entity>, StoreError> {
        let client = self.client().await?;
        let types: Vec<&str> = keys.iter().map(|k| k.entity_type.as_str()).collect();
        let ids: Vec<&str> = keys.iter().map(|k| k.id.as_str()).collect();
        client
            .query(
                &cached!(client, queries::ENTITIES_WITH_KEYS),
                &[&types, &ids],
            )
            .await?
            .iter()
            .map(|row| entity(row, 0))
            .collect()
    }

    #[tracing::instrument(name = "postgres.list_entities", skip_all, fields(db.system = "postgresql"))]
    async fn list_entities(&self, filter: &EntityFilter) -> Result<Vec<Entity>, StoreError> {
        let client = self.client().await?;
        let entity_type = filter.entity_type.as_ref().map(EntityType::as_str);
        let (after_type, after_id) = filter.after.as_ref().map_or(("", ""), |after| {
            (after.entity_type.as_str(), after.id.as_str())
        });
        let limit = filter.limit as i64;
        client
            .query(
                &cached!(client, queries::LIST_ENTITIES),
                &[&entity_type, &after_type, &after_id, &limit],
            )
            .await?
            .iter()
            .map(|row| entity(row, 0))
            .collect()
    }

    #[tracing::instrument(name = "postgres.load_directory", skip_all, fields(db.system = "postgresql"))]
    async fn load_directory(&self) -> Result<Snapshot<Vec<Entity>>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&cached!(client, queries::LOAD_DIRECTORY), &[])
            .await?;
        let revision: i64 = rows
            .first()
            .map(|row| row.get(0))
            .ok_or_else(|| StoreError::Corrupt("the head row is missing".into()))?;
        let entities = (rows.iter())
            .filter(|row| row.get::<_, Option<&str>>(1).is_some())
            .map(|row| entity(row, 1))
            .collect::<Result<_, _>>()?;
        Ok(Snapshot {
            value: entities,
            revision: revision as u64,
        })
    }
}
