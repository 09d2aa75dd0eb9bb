//! The directory: the subjects and resources the decision point knows. AuthZEN PEPs name a
//! subject or a resource by a type and an id, never by its roles, so the directory is where a
//! subject's standing roles, groups and properties come from, and where a resource's properties
//! and place (its scope) come from. An entity may be known by more than one id: the Todo
//! scenario names one user by an opaque PID and by e-mail.
//!
//! A [`Directory`] is a whole, validated snapshot: no two entities share a key or an alias.
//! Whichever source feeds it (a file beside the policy, or the store), the decision reads one.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::attributes::Properties;
use super::echo::shown;
use super::identity::StandingRole;
use super::names::{GroupName, InvalidValue};
use super::scope::Scope;

const MAX_ENTITY_TYPE_BYTES: usize = 64;
const MAX_ENTITY_ID_BYTES: usize = 512;

/// The type of an entity (`user`, `todo`, `route`): letters, digits and `_ . -`, starting with a
/// letter, at most 64 bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityType(Arc<str>);

impl EntityType {
    /// Validates `value`.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::validate(value)?;
        Ok(EntityType(Arc::from(value)))
    }

    /// Checks `value` without keeping it.
    pub fn validate(value: &str) -> Result<(), InvalidValue> {
        if value.is_empty() {
            return Err(InvalidValue("entity type must not be empty".into()));
        }
        if value.len() > MAX_ENTITY_TYPE_BYTES {
            return Err(InvalidValue(format!(
                "entity type is {} bytes long; at most {MAX_ENTITY_TYPE_BYTES} are allowed",
                value.len()
            )));
        }
        let mut bytes = value.bytes();
        let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_alphabetic());
        if !starts_with_letter
            || !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(InvalidValue(format!(
                "entity type {} must start with a letter and use only letters, digits and _ . -",
                shown(value)
            )));
        }
        Ok(())
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The id of an entity within its type: any text of 1 to 512 bytes without control characters
/// (ids are e-mail addresses, opaque PIDs, URL templates such as `/users/{userId}`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(Arc<str>);

impl EntityId {
    /// Validates `value`.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::validate(value)?;
        Ok(EntityId(Arc::from(value)))
    }

    /// Checks `value` without keeping it.
    pub fn validate(value: &str) -> Result<(), InvalidValue> {
        if value.is_empty() {
            return Err(InvalidValue("entity id must not be empty".into()));
        }
        if value.len() > MAX_ENTITY_ID_BYTES {
            return Err(InvalidValue(format!(
                "entity id is {} bytes long; at most {MAX_ENTITY_ID_BYTES} are allowed",
                value.len()
            )));
        }
        if value.chars().any(char::is_control) {
            return Err(InvalidValue(
                "entity id must not contain control characters".into(),
            ));
        }
        Ok(())
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! text_traits {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}
text_traits!(EntityType);
text_traits!(EntityId);

/// Names one entity: its type and one of its ids (its own or an alias).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityKey {
    /// The type.
    pub entity_type: EntityType,
    /// The id.
    pub id: EntityId,
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.entity_type, shown(self.id.as_str()))
    }
}

/// One subject or resource the decision point knows.
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    /// Its type and canonical id.
    pub key: EntityKey,
    /// Other ids of the same type that name it.
    pub aliases: Vec<EntityId>,
    /// What the directory knows about it; these win over what a request says.
    pub properties: Properties,
    /// For subjects: the roles it holds permanently, each everywhere or on a scope.
    pub roles: Vec<StandingRole>,
    /// For subjects: the groups it belongs to.
    pub groups: Vec<GroupName>,
    /// For resources: the scope it lives at, so that a grant on that scope or above covers it.
    /// `None` leaves the place to the policy's mapping for its type.
    pub scope: Option<Scope>,
}

/// Why a set of entities is not a directory: every clash, each with the keys involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryProblems(pub Vec<String>);

/// A whole, validated directory snapshot: entities by key, every alias resolved.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    entities: Vec<Arc<Entity>>,
    /// Type -> id or alias -> entity. Nested, so that a lookup by borrowed text allocates
    /// nothing (a plain Check looks its subject up on every call).
    by_key: HashMap<EntityType, HashMap<EntityId, usize>>,
    /// Type -> its entities, in the order given: a search lists the candidates of one type
    /// without walking the others (built with the snapshot, never per search).
    by_type: HashMap<EntityType, Vec<usize>>,
}

impl Directory {
    /// Builds a directory from `entities`, refusing the whole set when two entities share a
    /// key or an alias (naming every clash).
    pub fn new(entities: Vec<Entity>) -> Result<Directory, DirectoryProblems> {
        Directory::from_shared(entities.into_iter().map(Arc::new).collect())
    }

    /// This directory with the entities whose canonical keys are `written` replaced by those
    /// of `current` (what the store holds under those keys now; a key without an entity there
    /// was deleted). Entities of `current` under other keys are ignored. Refused whole, like
    /// [`Directory::new`], when a name would end up naming two entities.
    pub fn with_changes(
        &self,
        written: &[EntityKey],
        current: Vec<Entity>,
    ) -> Result<Directory, DirectoryProblems> {
        let written: std::collections::HashSet<&EntityKey> = written.iter().collect();
        let kept = (self.entities.iter()).filter(|entity| !written.contains(&entity.key));
        let changed = (current.into_iter())
            .filter(|entity| written.contains(&entity.key))
            .map(Arc::new);
        Directory::from_shared(kept.cloned().chain(changed).collect())
    }

    fn from_shared(entities: Vec<Arc<Entity>>) -> Result<Directory, DirectoryProblems> {
        let mut directory = Directory::default();
        let mut problems = Vec::new();
        for entity in entities {
            let index = directory.entities.len();
            let names = std::iter::once(entity.key.id.clone()).chain(entity.aliases.clone());
            for id in names {
                let key = EntityKey {
                    entity_type: entity.key.entity_type.clone(),
                    id,
                };
                let of_type = directory.by_key.entry(key.entity_type.clone()).or_default();
                if let Some(&other) = of_type.get(&key.id) {
                    problems.push(format!(
                        "{key} names both {} and {}",
                        directory.entities[other].key, entity.key
                    ));
                    continue;
                }
                of_type.insert(key.id, index);
            }
            directory
                .by_type
                .entry(entity.key.entity_type.clone())
                .or_default()
                .push(index);
            directory.entities.push(entity);
        }
        if problems.is_empty() {
            Ok(directory)
        } else {
            Err(DirectoryProblems(problems))
        }
    }

    /// The entity of type `entity_type` named `id` (its own id or an alias).
    pub fn find(&self, entity_type: &str, id: &str) -> Option<&Arc<Entity>> {
        // Looked up by borrowed text: only valid keys were stored, so an invalid one finds
        // nothing, without being validated here.
        let index = *self.by_key.get(entity_type)?.get(id)?;
        Some(&self.entities[index])
    }

    /// Every entity, in the order given.
    pub fn entities(&self) -> &[Arc<Entity>] {
        &self.entities
    }

    /// Every entity of type `entity_type`, in the order given.
    pub fn of_type(&self, entity_type: &str) -> impl Iterator<Item = &Arc<Entity>> {
        self.by_type
            .get(entity_type)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|&index| &self.entities[index])
    }

    /// How many entities there are.
    pub fn len(&self) -> usize {
        self.entities.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, aliases: &[&str]) -> Entity {
        Entity {
            key: EntityKey {
                entity_type: EntityType::parse("user").unwrap(),
                id: EntityId::parse(id).unwrap(),
            },
            aliases: aliases
                .iter()
                .map(|a| EntityId::parse(a).unwrap())
                .collect(),
            properties: Properties::default(),
            roles: vec![],
            groups: vec![],
            scope: None,
        }
    }

    #[test]
    fn an_entity_is_found_by_its_id_and_by_each_alias_and_not_under_another_type() {
        let directory = Directory::new(vec![user("rick@the-citadel.com", &["CiRmZDA2"])]).unwrap();
        assert!(directory.find("user", "rick@the-citadel.com").is_some());
        assert_eq!(
            directory.find("user", "CiRmZDA2").unwrap().key.id.as_str(),
            "rick@the-citadel.com"
        );
        assert!(directory.find("todo", "CiRmZDA2").is_none());
        assert!(directory.find("user", "morty@the-citadel.com").is_none());
    }

    #[test]
    fn the_entities_of_one_type_are_listed_in_the_order_given() {
        let mut todo = user("t1", &[]);
        todo.key.entity_type = EntityType::parse("todo").unwrap();
        let directory =
            Directory::new(vec![user("rick", &[]), todo, user("morty", &["pid-m"])]).unwrap();
        let ids = |kind: &str| -> Vec<&str> {
            directory.of_type(kind).map(|e| e.key.id.as_str()).collect()
        };
        assert_eq!(ids("user"), ["rick", "morty"]);
        assert_eq!(ids("todo"), ["t1"]);
        assert!(ids("route").is_empty());
    }

    #[test]
    fn two_entities_sharing_an_alias_are_refused_with_both_named() {
        let problems =
            Directory::new(vec![user("rick", &["pid-1"]), user("morty", &["pid-1"])]).unwrap_err();
        assert_eq!(problems.0.len(), 1);
        assert!(problems.0[0].contains("rick") && problems.0[0].contains("morty"));
    }

    #[test]
    fn changes_replace_put_entities_drop_deleted_ones_and_keep_the_rest() {
        let directory = Directory::new(vec![
            user("rick", &["pid-1"]),
            user("morty", &[]),
            user("summer", &[]),
        ])
        .unwrap();
        let written = [
            user("rick", &[]).key,
            user("morty", &[]).key,
            user("beth", &[]).key,
        ];
        let changed = directory
            .with_changes(
                &written,
                vec![
                    user("rick", &["pid-2"]),
                    user("beth", &[]),
                    user("jerry", &["not-written"]),
                ],
            )
            .unwrap();
        assert_eq!(
            changed.find("user", "pid-2").unwrap().key.id.as_str(),
            "rick"
        );
        assert!(
            changed.find("user", "pid-1").is_none(),
            "rick's old alias is gone"
        );
        assert!(changed.find("user", "morty").is_none(), "morty was deleted");
        assert!(
            changed.find("user", "summer").is_some(),
            "summer was not written"
        );
        assert!(changed.find("user", "beth").is_some());
        assert!(
            changed.find("user", "jerry").is_none(),
            "jerry's key was not written"
        );
        assert_eq!(
            directory.len(),
            3,
            "the directory changed from is left alone"
        );
    }

    #[test]
    fn a_change_that_would_make_a_name_name_two_entities_is_refused() {
        let directory = Directory::new(vec![user("rick", &["pid-1"])]).unwrap();
        let problems = directory
            .with_changes(&[user("morty", &[]).key], vec![user("morty", &["pid-1"])])
            .unwrap_err();
        assert_eq!(problems.0.len(), 1);
    }

    #[test]
    fn entity_types_and_ids_are_validated_on_construction() {
        assert!(EntityType::parse("todo").is_ok());
        assert!(EntityType::parse("1todo").is_err());
        assert!(EntityType::parse("to do").is_err());
        assert!(EntityId::parse("/users/{userId}").is_ok());
        assert!(EntityId::parse("").is_err());
        assert!(EntityId::parse("a\nb").is_err());
        assert!(EntityId::parse(&"x".repeat(513)).is_err());
    }
}
