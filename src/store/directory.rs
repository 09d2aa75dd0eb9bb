//! What a directory write is and what a directory read asks for: entities put or deleted by
//! canonical key, the listing filter, and the rule both stores apply before a directory change
//! commits (no name, canonical id or alias, may end up naming two entities of one type).

use std::collections::HashMap;

use super::StoreError;
use crate::domain::{Entity, EntityKey, EntityType};

/// One write to the directory, by canonical key.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectoryWrite {
    /// Creates the entity, or replaces the one with the same canonical key whole.
    Put(Entity),
    /// Deletes the entity with this canonical key.
    Delete(EntityKey),
}

impl DirectoryWrite {
    /// The canonical key written.
    pub fn key(&self) -> &EntityKey {
        match self {
            DirectoryWrite::Put(entity) => &entity.key,
            DirectoryWrite::Delete(key) => key,
        }
    }
}

/// Which entities to list; results are ordered by type, then canonical id (bytewise).
#[derive(Debug, Clone, Default)]
pub struct EntityFilter {
    /// Only entities of this type.
    pub entity_type: Option<EntityType>,
    /// Only entities after this canonical key (the page token).
    pub after: Option<EntityKey>,
    /// At most this many.
    pub limit: usize,
}

/// Every name (canonical id and aliases) of `entity`, as keys of its type.
pub fn entity_names(entity: &Entity) -> impl Iterator<Item = EntityKey> + '_ {
    std::iter::once(entity.key.id.clone())
        .chain(entity.aliases.iter().cloned())
        .map(|id| EntityKey {
            entity_type: entity.key.entity_type.clone(),
            id,
        })
}

/// Checks that `writes`, applied over the stored entities `named` (every stored entity that a
/// written name or key names, read under the directory's lock), leave no name naming two
/// entities: each problem names the name and both entities. An entity a write replaces or
/// deletes gives up its names; the writes must also agree among themselves.
pub(crate) fn check_directory_names(
    named: &[Entity],
    writes: &[DirectoryWrite],
) -> Result<(), StoreError> {
    let written: std::collections::HashSet<&EntityKey> =
        writes.iter().map(DirectoryWrite::key).collect();
    let mut owners: HashMap<EntityKey, &EntityKey> = HashMap::new();
    let mut problems = Vec::new();
    let kept = named.iter().filter(|entity| !written.contains(&entity.key));
    let put = writes.iter().filter_map(|write| match write {
        DirectoryWrite::Put(entity) => Some(entity),
        DirectoryWrite::Delete(_) => None,
    });
    for entity in kept.chain(put) {
        for name in entity_names(entity) {
            match owners.get(&name) {
                Some(owner) if **owner != entity.key => {
                    problems.push(format!("{name} would name both {owner} and {}", entity.key))
                }
                _ => {
                    owners.insert(name, &entity.key);
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let count = problems.len();
    problems.truncate(10);
    Err(StoreError::Conflict(format!(
        "{count} directory name clash(es): {}",
        problems.join("; ")
    )))
}
