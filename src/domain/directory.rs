//! The directory: the subjects and resources the decision point knows. AuthZEN PEPs name a
//! subject or a resource by a type and an id, never by its roles, so the directory is where a
//! subject's standing roles, groups and properties come from, and where a resource's properties
//! and place (its scope) come from. An entity may be known by more than one id: the Todo
//! scenario names one user by an opaque PID and by e-mail.
//!
//! A [`Directory`] is a whole, validated snapshot: no two entities share a key or an alias.
//! Whichever source feeds it (a file beside the policy, or the store), the decision reads one.

use std::collections::{HashMap, HashSet};
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
///
/// A snapshot is never changed once built; [`Directory::with_changes`] builds the next one from
/// it by copying its indexes (no hashing, no allocation per entity) and patching the entities
/// written, rather than indexing every entity again.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    /// The entities in the order given, `None` where a change removed one since the snapshot
    /// was last built whole: the positions the indexes hold stay valid without renumbering.
    /// Rebuilt whole once the holes outnumber the entities.
    slots: Vec<Option<Arc<Entity>>>,
    /// How many slots hold an entity.
    live: usize,
    /// Type -> id or alias -> slot. Nested, so that a lookup by borrowed text allocates
    /// nothing (a plain Check looks its subject up on every call). Only live slots.
    by_key: HashMap<EntityType, HashMap<EntityId, usize>>,
    /// Type -> the slots of its entities, ascending (in the order given): a search lists the
    /// candidates of one type without walking the others (kept with the snapshot, never
    /// built per search). Only live slots.
    by_type: HashMap<EntityType, Vec<usize>>,
}

/// An entity's names within its type: its own id, then its aliases.
fn names(entity: &Entity) -> impl Iterator<Item = &EntityId> {
    std::iter::once(&entity.key.id).chain(&entity.aliases)
}

impl Directory {
    /// Builds a directory from `entities`, refusing the whole set when two entities share a
    /// key or an alias (naming every clash).
    pub fn new(entities: Vec<Entity>) -> Result<Directory, DirectoryProblems> {
        Directory::from_shared(entities.into_iter().map(Arc::new))
    }

    /// This directory with the entities whose canonical keys are `written` replaced by those
    /// of `current` (what the store holds under those keys now; a key without an entity there
    /// was deleted). Entities of `current` under other keys are ignored. Refused whole, like
    /// [`Directory::new`], when a name would end up naming two entities. The entities not
    /// written keep their order; those written come after them, as a whole rebuild of the
    /// same change would list them.
    pub fn with_changes(
        &self,
        written: &[EntityKey],
        current: Vec<Entity>,
    ) -> Result<Directory, DirectoryProblems> {
        let written: HashSet<&EntityKey> = written.iter().collect();
        let mut next = self.clone();
        for key in &written {
            next.remove(key);
        }
        let mut problems = Vec::new();
        let changed = (current.into_iter()).filter(|entity| written.contains(&entity.key));
        for entity in changed {
            next.add(Arc::new(entity), &mut problems);
        }
        if !problems.is_empty() {
            return Err(DirectoryProblems(problems));
        }
        if next.slots.len() - next.live > next.live {
            return Directory::from_shared(next.slots.into_iter().flatten());
        }
        Ok(next)
    }

    fn from_shared(
        entities: impl IntoIterator<Item = Arc<Entity>>,
    ) -> Result<Directory, DirectoryProblems> {
        let mut directory = Directory::default();
        let mut problems = Vec::new();
        for entity in entities {
            directory.add(entity, &mut problems);
        }
        if problems.is_empty() {
            Ok(directory)
        } else {
            Err(DirectoryProblems(problems))
        }
    }

    /// Appends `entity` and indexes its names; a name already taken stays with the entity
    /// that has it, and the clash goes into `problems` (the caller refuses the result).
    fn add(&mut self, entity: Arc<Entity>, problems: &mut Vec<String>) {
        let index = self.slots.len();
        let of_type = self
            .by_key
            .entry(entity.key.entity_type.clone())
            .or_default();
        for id in names(&entity) {
            if let Some(&other) = of_type.get(id) {
                let name = EntityKey {
                    entity_type: entity.key.entity_type.clone(),
                    id: id.clone(),
                };
                let holder = (self.slots[other].as_ref())
                    .map_or_else(String::new, |other| other.key.to_string());
                problems.push(format!("{name} names both {holder} and {}", entity.key));
                continue;
            }
            of_type.insert(id.clone(), index);
        }
        let slots_of_type = self.by_type.entry(entity.key.entity_type.clone());
        slots_of_type.or_default().push(index);
        self.slots.push(Some(entity));
        self.live += 1;
    }

    /// Takes the entity whose canonical key is `key` out of the snapshot and its indexes, if
    /// there is one (a key that is only another entity's alias removes nothing).
    fn remove(&mut self, key: &EntityKey) {
        let Some(of_type) = self.by_key.get_mut(key.entity_type.as_str()) else {
            return;
        };
        let Some(&index) = of_type.get(key.id.as_str()) else {
            return;
        };
        let Some(entity) = self.slots[index].take_if(|entity| entity.key == *key) else {
            return;
        };
        for id in names(&entity) {
            if of_type.get(id) == Some(&index) {
                of_type.remove(id);
            }
        }
        if let Some(of_type) = self.by_type.get_mut(key.entity_type.as_str())
            && let Ok(place) = of_type.binary_search(&index)
        {
            of_type.remove(place);
        }
        self.live -= 1;
    }

    /// The entity of type `entity_type` named `id` (its own id or an alias).
    pub fn find(&self, entity_type: &str, id: &str) -> Option<&Arc<Entity>> {
        // Looked up by borrowed text: only valid keys were stored, so an invalid one finds
        // nothing, without being validated here.
        let index = *self.by_key.get(entity_type)?.get(id)?;
        self.slots[index].as_ref()
    }

    /// Every entity, in the order given.
    pub fn entities(&self) -> impl Iterator<Item = &Arc<Entity>> {
        self.slots.iter().flatten()
    }

    /// Every entity of type `entity_type`, in the order given.
    pub fn of_type(&self, entity_type: &str) -> impl Iterator<Item = &Arc<Entity>> {
        (self
            .by_type
            .get(entity_type)
            .map_or(&[][..], Vec::as_slice)
            .iter())
        .filter_map(|&index| self.slots[index].as_ref())
    }

    /// How many entities there are.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.live == 0
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

    /// What a snapshot answers: every entity in order with the slot-free view of its names,
    /// each type's listing, and every name's entity.
    fn answers(directory: &Directory, names: &[String]) -> Vec<String> {
        let mut said: Vec<String> = directory
            .entities()
            .map(|entity| format!("{} {:?}", entity.key, entity.aliases))
            .collect();
        for kind in ["user", "todo"] {
            let listed: Vec<String> = directory.of_type(kind).map(|e| e.key.to_string()).collect();
            said.push(format!("{kind}: {listed:?}"));
        }
        for kind in ["user", "todo"] {
            for name in names {
                let found = directory.find(kind, name).map(|e| e.key.to_string());
                said.push(format!("{kind}/{name} -> {found:?}"));
            }
        }
        said.push(format!("{} entities", directory.len()));
        said
    }

    #[test]
    fn a_snapshot_patched_write_by_write_answers_as_one_built_whole() {
        // A fixed pseudo-random walk of puts (new aliases, sometimes clashing) and deletes,
        // enough to leave holes and to compact them more than once.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let names: Vec<String> = (0..24).map(|n| format!("n{n}")).collect();
        let entity = |kind: &str, id: &str, aliases: Vec<&str>| {
            let mut made = user(id, &aliases);
            made.key.entity_type = EntityType::parse(kind).unwrap();
            made
        };
        let mut held: Vec<Entity> = Vec::new();
        let mut patched = Directory::default();
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..2_000 {
            let kind = if next(4) == 0 { "todo" } else { "user" };
            let id = names[next(12) as usize].clone();
            let key = entity(kind, &id, vec![]).key;
            let current = if next(3) == 0 {
                Vec::new()
            } else {
                let aliases: Vec<&str> = (0..next(3))
                    .map(|_| names[12 + next(12) as usize].as_str())
                    .filter(|alias| *alias != id)
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                vec![entity(kind, &id, aliases)]
            };
            let mut expected: Vec<Entity> = held.iter().filter(|e| e.key != key).cloned().collect();
            expected.extend(current.iter().cloned());
            let whole = Directory::new(expected.clone());
            match patched.with_changes(std::slice::from_ref(&key), current) {
                Ok(changed) => {
                    let whole = whole.expect("built whole as well");
                    assert_eq!(answers(&changed, &names), answers(&whole, &names));
                    patched = changed;
                    held = expected;
                    accepted += 1;
                }
                Err(problems) => {
                    assert!(whole.is_err(), "refused patched only: {problems:?}");
                    refused += 1;
                }
            }
        }
        assert!(
            accepted > 1_000 && refused > 50,
            "{accepted} accepted, {refused} refused"
        );
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
