//! The in-memory store's directory: entities by canonical key, and every name (canonical id
//! and alias) to the canonical key it names, so a name is unique per type as the database's
//! primary key makes it there.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;

use super::MemoryStore;
use super::state::State;
use crate::domain::{Entity, EntityKey};
use crate::store::{
    Committed, Decide, DirectoryEntries, DirectoryWrite, EntityFilter, Snapshot, StoreError,
    check_directory_names, decide_change, entity_names,
};

/// The stored directory.
#[derive(Default)]
pub(super) struct StoredDirectory {
    entities: BTreeMap<EntityKey, Entity>,
    names: HashMap<EntityKey, EntityKey>,
}

impl StoredDirectory {
    /// The entity `name` names.
    fn named(&self, name: &EntityKey) -> Option<&Entity> {
        self.names.get(name).and_then(|key| self.entities.get(key))
    }

    /// Applies one write (already checked against every name).
    pub(super) fn apply(&mut self, write: &DirectoryWrite) {
        if let Some(previous) = self.entities.remove(write.key()) {
            for name in entity_names(&previous) {
                self.names.remove(&name);
            }
        }
        if let DirectoryWrite::Put(entity) = write {
            for name in entity_names(entity) {
                self.names.insert(name, entity.key.clone());
            }
            self.entities.insert(entity.key.clone(), entity.clone());
        }
    }
}

impl State {
    /// The stored entities that `names` name, each once.
    fn entities_named(&self, names: &[EntityKey]) -> Vec<Entity> {
        let mut found: BTreeMap<&EntityKey, &Entity> = BTreeMap::new();
        for name in names {
            if let Some(entity) = self.directory.named(name) {
                found.insert(&entity.key, entity);
            }
        }
        found.into_values().cloned().collect()
    }
}

#[async_trait]
impl DirectoryEntries for MemoryStore {
    async fn update_directory(
        &self,
        names: &[EntityKey],
        decide: Decide<'_, Vec<Entity>>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let change = decide_change(decide, state.entities_named(names))?;
            // Checked against what is stored now under every name the writes use, not only
            // the names the caller announced.
            let written: Vec<EntityKey> = (change.directory.iter())
                .flat_map(|write| match write {
                    DirectoryWrite::Put(entity) => entity_names(entity).collect(),
                    DirectoryWrite::Delete(key) => vec![key.clone()],
                })
                .collect();
            check_directory_names(&state.entities_named(&written), &change.directory)?;
            Ok(state.apply(change))
        })
    }

    async fn get_entity(&self, name: &EntityKey) -> Result<Option<Entity>, StoreError> {
        Ok(self.lock().directory.named(name).cloned())
    }

    async fn entities_with_keys(&self, keys: &[EntityKey]) -> Result<Vec<Entity>, StoreError> {
        let state = self.lock();
        Ok((keys.iter())
            .filter_map(|key| state.directory.entities.get(key).cloned())
            .collect())
    }

    async fn list_entities(&self, filter: &EntityFilter) -> Result<Vec<Entity>, StoreError> {
        let state = self.lock();
        let lower = match &filter.after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state
            .directory
            .entities
            .range((lower, std::ops::Bound::Unbounded))
            .map(|(_, entity)| entity)
            .filter(|entity| {
                (filter.entity_type.as_ref()).is_none_or(|wanted| &entity.key.entity_type == wanted)
            })
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn load_directory(&self) -> Result<Snapshot<Vec<Entity>>, StoreError> {
        let state = self.lock();
        let entities = state.directory.entities.values().cloned().collect();
        Ok(state.snapshot(entities))
    }
}
