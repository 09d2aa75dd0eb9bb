//! The stored directory: put, delete, get, list and import the subjects and resources the
//! decision point knows (PostgreSQL mode; the memory store keeps them for dev mode). Writes
//! need the admin role and are audited with what they changed; reads need the admin or
//! auditor role, and `get` also the PEP role (an enforcement point may look up what it asks
//! about). A write commits through the unit of work, so the other replicas reload their
//! directory from the change feed; this replica reloads at once.

use serde_json::json;

use super::{Elevator, Page, ServiceError, page_size};
use crate::domain::{
    AuditAction, AuditEvent, Directory, Entity, EntityKey, EntityType, Identity, Revision,
    TransitionError,
};
use crate::store::{Change, DirectoryWrite, EntityFilter, entity_names};

/// The most entities one import may carry: an import is one transaction and one snapshot
/// reload on every replica, so it is bounded like any other write.
pub const MAX_IMPORT_ENTITIES: usize = 200_000;

/// What a put did.
#[derive(Debug, Clone)]
pub struct EntityPut {
    /// The entity as stored.
    pub entity: Entity,
    /// Whether it was new (not a replacement).
    pub created: bool,
    /// The committed revision.
    pub revision: Revision,
}

/// A short account of an entity for the audit log: its names, roles, groups, scope and the
/// names of its properties (their values may be personal data and are not copied).
fn summary(entity: &Entity) -> serde_json::Value {
    json!({
        "aliases": entity.aliases.iter().map(|alias| alias.as_str()).collect::<Vec<_>>(),
        "roles": entity.roles.iter().map(|role| match &role.scope {
            Some(scope) => format!("{}@{}", role.role, scope.as_str()),
            None => role.role.to_string(),
        }).collect::<Vec<_>>(),
        "groups": entity.groups.iter().map(|group| group.as_str()).collect::<Vec<_>>(),
        "scope": entity.scope.as_ref().map(|scope| scope.as_str()),
        "properties": entity.properties.iter().map(|(name, _)| name).collect::<Vec<_>>(),
    })
}

fn key_json(key: &EntityKey) -> serde_json::Value {
    json!({ "type": key.entity_type.as_str(), "id": key.id.as_str() })
}

/// An opaque page token for the listing after `key`: its type and id, hex-encoded.
fn entity_page_token(key: &EntityKey) -> String {
    format!("{}\n{}", key.entity_type, key.id.as_str())
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn parse_entity_page_token(token: &str) -> Result<Option<EntityKey>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    let refused = || ServiceError::invalid("page_token", "not a token returned by this listing");
    if !token.len().is_multiple_of(2) || token.len() > 2 * 1024 {
        return Err(refused());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(token.get(at..at + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (entity_type, id) = text.split_once('\n').ok_or_else(refused)?;
    Ok(Some(EntityKey {
        entity_type: EntityType::parse(entity_type).map_err(|_| refused())?,
        id: crate::domain::EntityId::parse(id).map_err(|_| refused())?,
    }))
}

impl Elevator {
    /// Refuses a caller without the admin role before it streams an import.
    pub fn may_manage_directory(&self, caller: &Identity, what: &str) -> Result<(), ServiceError> {
        self.require_role(caller, &self.roles.admin, what)
    }

    fn require_directory_reader(
        &self,
        caller: &Identity,
        pep_too: bool,
        what: &str,
    ) -> Result<(), ServiceError> {
        let roles = &self.roles;
        if caller.has_role(&roles.admin)
            || caller.has_role(&roles.auditor)
            || (pep_too && caller.has_role(&roles.pep))
        {
            return Ok(());
        }
        let needed = if pep_too {
            format!("{:?}, {:?} or {:?}", roles.admin, roles.auditor, roles.pep)
        } else {
            format!("{:?} or {:?}", roles.admin, roles.auditor)
        };
        Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!("{what} needs the {needed} role in the caller's token"),
        ))
    }

    /// Creates `entity`, or replaces the stored entity with its canonical key (admins).
    /// Refused, changing nothing, when one of its names already names another entity.
    #[tracing::instrument(skip_all)]
    pub async fn put_entity(
        &self,
        caller: &Identity,
        entity: Entity,
    ) -> Result<EntityPut, ServiceError> {
        self.require_role(caller, &self.roles.admin, "PutEntity")?;
        let names: Vec<EntityKey> = entity_names(&entity).collect();
        let (actor, now) = (caller.subject.as_str(), self.clock.now());
        let policy_version = self.decider.policy().version();
        let decide = |named: Vec<Entity>| -> Result<Change, TransitionError> {
            // A name that names another stored entity is refused by the store's check
            // under the same lock (CONFLICT, naming both).
            let before = named.iter().find(|stored| stored.key == entity.key);
            let event =
                AuditEvent::new(AuditAction::DirectoryEntityPut, actor, policy_version, now)
                    .with_details(json!({
                        "entity": key_json(&entity.key),
                        "created": before.is_none(),
                        "before": before.map(summary),
                        "after": summary(&entity),
                    }));
            Ok(Change {
                directory: vec![DirectoryWrite::Put(entity.clone())],
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self
            .store
            .update_directory(&names, &self.ready_to_commit_when_decided(&decide))
            .await?;
        self.after_commit(&committed).await;
        let created = (committed.change.events.first())
            .is_some_and(|event| event.details["created"] == json!(true));
        Ok(EntityPut {
            entity,
            created,
            revision: committed.revision,
        })
    }

    /// Deletes the entity `name` names (its canonical id or an alias; admins).
    #[tracing::instrument(skip_all)]
    pub async fn delete_entity(
        &self,
        caller: &Identity,
        name: EntityKey,
    ) -> Result<Revision, ServiceError> {
        self.require_role(caller, &self.roles.admin, "DeleteEntity")?;
        let (actor, now) = (caller.subject.as_str(), self.clock.now());
        let policy_version = self.decider.policy().version();
        let decide = |named: Vec<Entity>| -> Result<Change, TransitionError> {
            let Some(stored) = named.first() else {
                return Ok(Change::default());
            };
            let event = AuditEvent::new(
                AuditAction::DirectoryEntityDeleted,
                actor,
                policy_version,
                now,
            )
            .with_details(json!({
                "entity": key_json(&stored.key),
                "before": summary(stored),
            }));
            Ok(Change {
                directory: vec![DirectoryWrite::Delete(stored.key.clone())],
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self
            .store
            .update_directory(
                std::slice::from_ref(&name),
                &self.ready_to_commit_when_decided(&decide),
            )
            .await?;
        if committed.change.is_empty() {
            return Err(ServiceError::NotFound {
                what: "directory entity",
                id: name.to_string(),
            });
        }
        self.after_commit(&committed).await;
        Ok(committed.revision)
    }

    /// The entity `name` names (admins, auditors and enforcement points).
    #[tracing::instrument(skip_all)]
    pub async fn get_entity(
        &self,
        caller: &Identity,
        name: &EntityKey,
    ) -> Result<Entity, ServiceError> {
        self.require_directory_reader(caller, true, "GetEntity")?;
        self.store
            .get_entity(name)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "directory entity",
                id: name.to_string(),
            })
    }

    /// A page of entities, of one type or all, by type then canonical id (admins, auditors).
    #[tracing::instrument(skip_all)]
    pub async fn list_entities(
        &self,
        caller: &Identity,
        entity_type: Option<EntityType>,
        requested_page_size: u32,
        token: &str,
    ) -> Result<Page<Entity>, ServiceError> {
        self.require_directory_reader(caller, false, "ListEntities")?;
        let limit = page_size(requested_page_size);
        let filter = EntityFilter {
            entity_type,
            after: parse_entity_page_token(token)?,
            limit,
        };
        let items = self.store.list_entities(&filter).await?;
        let next_page_token = (items.len() == limit)
            .then(|| items.last().map(|entity| entity_page_token(&entity.key)))
            .flatten();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Puts every entity of `entities` at once, all or nothing (admins): refused whole when
    /// two of them share a name, or one of their names names a stored entity they do not
    /// replace. One audit event records the import.
    #[tracing::instrument(skip_all)]
    pub async fn import_entities(
        &self,
        caller: &Identity,
        entities: Vec<Entity>,
    ) -> Result<(usize, Revision), ServiceError> {
        self.require_role(caller, &self.roles.admin, "ImportEntities")?;
        if entities.len() > MAX_IMPORT_ENTITIES {
            return Err(ServiceError::invalid(
                "entities",
                format!(
                    "{} entities in one import; at most {MAX_IMPORT_ENTITIES} are allowed: split the file",
                    entities.len()
                ),
            ));
        }
        let checked = Directory::new(entities).map_err(|problems| {
            let count = problems.0.len();
            let shown: Vec<String> = problems.0.into_iter().take(10).collect();
            ServiceError::invalid(
                "entities",
                format!(
                    "{count} name clash(es) among the entities: {}",
                    shown.join("; ")
                ),
            )
        })?;
        let entities: Vec<Entity> = checked
            .entities()
            .map(|entity| Entity::clone(entity))
            .collect();
        let names: Vec<EntityKey> = entities.iter().flat_map(entity_names).collect();
        let (actor, now) = (caller.subject.as_str(), self.clock.now());
        let policy_version = self.decider.policy().version();
        let decide = |named: Vec<Entity>| -> Result<Change, TransitionError> {
            let keys: std::collections::HashSet<&EntityKey> =
                entities.iter().map(|entity| &entity.key).collect();
            let replaced = named
                .iter()
                .filter(|stored| keys.contains(&stored.key))
                .count();
            let event = AuditEvent::new(AuditAction::DirectoryImported, actor, policy_version, now)
                .with_details(json!({
                    "entities": entities.len(),
                    "replaced": replaced,
                }));
            Ok(Change {
                directory: entities.iter().cloned().map(DirectoryWrite::Put).collect(),
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self
            .store
            .update_directory(&names, &self.ready_to_commit_when_decided(&decide))
            .await?;
        self.after_commit(&committed).await;
        Ok((committed.change.directory.len(), committed.revision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_names_the_key_it_was_made_from_and_anything_else_is_refused() {
        let key = EntityKey {
            entity_type: EntityType::parse("user").unwrap(),
            id: crate::domain::EntityId::parse("rick@the-citadel.com").unwrap(),
        };
        let token = entity_page_token(&key);
        assert_eq!(parse_entity_page_token(&token).unwrap(), Some(key));
        assert_eq!(parse_entity_page_token("").unwrap(), None);
        for bad in ["zz", "abc", "00", &"61".repeat(2000)] {
            assert!(parse_entity_page_token(bad).is_err(), "{bad:?}");
        }
    }
}
