//! The directory as the decision reads it: two snapshots, the one the store feeds (managed
//! through the API) and the one the policy file carries. The stored one is consulted first: an
//! entity the store knows under a name hides the file's entity of that name, so an operator can
//! correct the file's entry without editing the file.

use std::sync::Arc;

use super::directory::{Directory, Entity};

/// The stored and the file's directory, read as one.
#[derive(Debug, Clone, Default)]
pub struct DirectoryView {
    stored: Arc<Directory>,
    file: Arc<Directory>,
}

impl DirectoryView {
    /// A view of `stored` over `file`.
    pub fn new(stored: Arc<Directory>, file: Arc<Directory>) -> Self {
        DirectoryView { stored, file }
    }

    /// The entity of type `entity_type` named `id` (its own id or an alias): the stored
    /// directory's, else the file's.
    pub fn find(&self, entity_type: &str, id: &str) -> Option<&Arc<Entity>> {
        if !self.stored.is_empty()
            && let Some(entity) = self.stored.find(entity_type, id)
        {
            return Some(entity);
        }
        if self.file.is_empty() {
            return None;
        }
        self.file.find(entity_type, id)
    }

    /// Every entity the view answers for: the stored ones, then the file's that no stored
    /// entity hides (one whose own type and id finds a stored entity is hidden).
    pub fn entities(&self) -> impl Iterator<Item = &Arc<Entity>> {
        let stored = &self.stored;
        self.stored
            .entities()
            .chain(self.file.entities().filter(move |entity| {
                stored
                    .find(entity.key.entity_type.as_str(), entity.key.id.as_str())
                    .is_none()
            }))
    }

    /// The entities of type `entity_type` the view answers for, in the order of
    /// [`DirectoryView::entities`] (so a search's place in the list stays valid from page to
    /// page), read from each snapshot's index by type.
    pub fn entities_of_type<'v>(
        &'v self,
        entity_type: &'v str,
    ) -> impl Iterator<Item = &'v Arc<Entity>> + 'v {
        let stored = &self.stored;
        self.stored
            .of_type(entity_type)
            .chain(self.file.of_type(entity_type).filter(move |entity| {
                stored.is_empty() || stored.find(entity_type, entity.key.id.as_str()).is_none()
            }))
    }

    /// Whether neither snapshot holds an entity.
    pub fn is_empty(&self) -> bool {
        self.stored.is_empty() && self.file.is_empty()
    }

    /// The snapshot the store feeds.
    pub fn stored(&self) -> &Arc<Directory> {
        &self.stored
    }

    /// The snapshot the policy file carries.
    pub fn file(&self) -> &Arc<Directory> {
        &self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EntityId, EntityKey, EntityType, Properties, Value};

    fn user(id: &str, aliases: &[&str], name: &str) -> Entity {
        Entity {
            key: EntityKey {
                entity_type: EntityType::parse("user").unwrap(),
                id: EntityId::parse(id).unwrap(),
            },
            aliases: aliases
                .iter()
                .map(|a| EntityId::parse(a).unwrap())
                .collect(),
            properties: std::iter::once((Arc::from("name"), Value::String(name.into())))
                .collect::<Properties>(),
            roles: vec![],
            groups: vec![],
            scope: None,
        }
    }

    #[test]
    fn the_stored_entity_hides_the_files_entity_of_the_same_name() {
        let stored = Directory::new(vec![user("rick", &[], "stored")]).unwrap();
        let file = Directory::new(vec![
            user("rick", &["pid-r"], "file"),
            user("morty", &[], "file"),
        ])
        .unwrap();
        let view = DirectoryView::new(Arc::new(stored), Arc::new(file));
        let name = |id: &str| {
            view.find("user", id)
                .map(|e| e.properties.get("name").cloned())
        };
        assert_eq!(name("rick"), Some(Some(Value::String("stored".into()))));
        assert_eq!(name("pid-r"), Some(Some(Value::String("file".into()))));
        assert_eq!(name("morty"), Some(Some(Value::String("file".into()))));
        assert_eq!(name("summer"), None);
        let listed: Vec<&str> = view.entities().map(|e| e.key.id.as_str()).collect();
        assert_eq!(listed, ["rick", "morty"]);
        let of_type: Vec<&str> = view
            .entities_of_type("user")
            .map(|e| e.key.id.as_str())
            .collect();
        assert_eq!(of_type, listed);
        assert_eq!(view.entities_of_type("todo").count(), 0);
    }
}
