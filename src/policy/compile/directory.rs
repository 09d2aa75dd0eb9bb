//! Compiling the sections about access questions: `resources` (where each resource type
//! lives) and `directory` (the subjects and resources the decision point knows), validated
//! entity by entity with the place of every problem, then as a whole (no two entities share a
//! name), and the conditions the roles' permissions carry.

use std::collections::HashMap;
use std::sync::Arc;

use super::Compiler;
use crate::domain::{
    Directory, Entity, EntityId, EntityKey, EntityType, GroupName, Properties, RoleName, Scope,
    StandingRole, Value, shown,
};
use crate::policy::access_model::{AccessModel, ScopeTemplate};
use crate::policy::document::{EntityDocument, PolicyDocument};

/// Deepest nesting of lists and maps in a property value.
const MAX_PROPERTY_DEPTH: usize = 16;

/// Whether an entity is a subject or a resource: each may say only what applies to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Subject,
    Resource,
}

impl Compiler<'_> {
    /// The access part of the policy; problems are reported, the sections left out.
    pub(super) fn access_model(&mut self, document: &PolicyDocument) -> AccessModel {
        let mut resource_scopes = HashMap::new();
        for (entity_type, entry) in &document.resources {
            let path = format!("resources.{entity_type}");
            if let Err(error) = EntityType::validate(entity_type) {
                self.problems.add(path, error.0);
                continue;
            }
            let template = ScopeTemplate {
                text: entry.scope.clone(),
            };
            // The template must give a valid scope for an id; the escaping keeps any id's
            // text within a segment name, so one sample id proves the shape.
            match template.scope_of("x") {
                Ok(_) => {
                    resource_scopes.insert(entity_type.clone(), template);
                }
                Err(error) => self.problems.add(
                    format!("{path}.scope"),
                    format!(
                        "{} (write a scope such as App:Todo or App:Todo/Todo:{{id}})",
                        error.0
                    ),
                ),
            }
        }
        let directory = self.directory(document);
        AccessModel {
            directory: Arc::new(directory),
            resource_scopes,
            conditions: std::mem::take(&mut self.conditions),
        }
    }

    /// The directory section, whole; empty when it has any problem (reported).
    fn directory(&mut self, document: &PolicyDocument) -> Directory {
        let problems_before = self.problems.count();
        let sides = [
            (
                "directory.subjects",
                Side::Subject,
                &document.directory.subjects,
            ),
            (
                "directory.resources",
                Side::Resource,
                &document.directory.resources,
            ),
        ];
        let mut entities = Vec::new();
        for (section, side, documents) in sides {
            for (index, entity) in documents.iter().enumerate() {
                let path = format!("{section}[{index}]");
                if let Some(entity) = self.entity(&path, side, entity) {
                    entities.push(entity);
                }
            }
        }
        if self.problems.count() > problems_before {
            return Directory::default();
        }
        match Directory::new(entities) {
            Ok(directory) => directory,
            Err(clashes) => {
                for clash in clashes.0 {
                    self.problems.add("directory", clash);
                }
                Directory::default()
            }
        }
    }

    /// One entity; `None` when it has any problem.
    fn entity(&mut self, path: &str, side: Side, entity: &EntityDocument) -> Option<Entity> {
        let problems_before = self.problems.count();
        let entity_type = self.problems.valid(
            format!("{path}.type"),
            EntityType::parse(&entity.entity_type),
        );
        let id = self
            .problems
            .valid(format!("{path}.id"), EntityId::parse(&entity.id));
        let aliases: Vec<EntityId> = entity
            .aliases
            .iter()
            .enumerate()
            .filter_map(|(index, alias)| {
                self.problems
                    .valid(format!("{path}.aliases[{index}]"), EntityId::parse(alias))
            })
            .collect();
        let properties = self.properties(&format!("{path}.properties"), &entity.properties);
        let roles = self.standing_roles(path, side, &entity.roles);
        let groups = self.groups(path, side, &entity.groups);
        let scope = match (&entity.scope, side) {
            (None, _) => None,
            (Some(_), Side::Subject) => {
                self.problems.add(
                    format!("{path}.scope"),
                    "a subject has no scope; give resources a scope",
                );
                None
            }
            (Some(text), Side::Resource) => self
                .problems
                .valid(format!("{path}.scope"), Scope::parse(text)),
        };
        if self.problems.count() > problems_before {
            return None;
        }
        Some(Entity {
            key: EntityKey {
                entity_type: entity_type?,
                id: id?,
            },
            aliases,
            properties,
            roles,
            groups,
            scope,
        })
    }

    /// A subject's standing roles: `role` (everywhere) or `role@Scope`, each a defined role.
    fn standing_roles(&mut self, path: &str, side: Side, entries: &[String]) -> Vec<StandingRole> {
        if side == Side::Resource && !entries.is_empty() {
            self.problems.add(
                format!("{path}.roles"),
                "a resource holds no roles; give roles to subjects",
            );
            return Vec::new();
        }
        let mut roles = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let at = format!("{path}.roles[{index}]");
            let (role_text, scope_text) = match entry.split_once('@') {
                Some((role, scope)) => (role, Some(scope)),
                None => (entry.as_str(), None),
            };
            let Some(role) = self.problems.valid(at.clone(), RoleName::parse(role_text)) else {
                continue;
            };
            if !self.roles.contains_key(&role) {
                self.problems.add(
                    at,
                    format!("role {} is not defined under roles", shown(role_text)),
                );
                continue;
            }
            let scope = match scope_text {
                None => None,
                Some(text) => match self.problems.valid(at, Scope::parse(text)) {
                    Some(scope) => Some(scope),
                    None => continue,
                },
            };
            roles.push(StandingRole { role, scope });
        }
        roles
    }

    /// A subject's groups.
    fn groups(&mut self, path: &str, side: Side, entries: &[String]) -> Vec<GroupName> {
        if side == Side::Resource && !entries.is_empty() {
            self.problems.add(
                format!("{path}.groups"),
                "a resource belongs to no groups; give groups to subjects",
            );
            return Vec::new();
        }
        entries
            .iter()
            .enumerate()
            .filter_map(|(index, group)| {
                self.problems
                    .valid(format!("{path}.groups[{index}]"), GroupName::parse(group))
            })
            .collect()
    }

    /// Properties as written in YAML, as attribute values.
    fn properties(
        &mut self,
        path: &str,
        entries: &std::collections::BTreeMap<String, serde_yaml::Value>,
    ) -> Properties {
        entries
            .iter()
            .filter_map(|(name, value)| {
                let at = format!("{path}.{name}");
                match attribute_value(value, 0) {
                    Ok(value) => Some((Arc::from(name.as_str()), value)),
                    Err(message) => {
                        self.problems.add(at, message);
                        None
                    }
                }
            })
            .collect()
    }
}

/// A YAML value as an attribute value: maps need string keys, and nesting is bounded.
fn attribute_value(value: &serde_yaml::Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_PROPERTY_DEPTH {
        return Err(format!(
            "values nest deeper than {MAX_PROPERTY_DEPTH} levels"
        ));
    }
    Ok(match value {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(*b),
        serde_yaml::Value::Number(number) => match number.as_i64() {
            Some(whole) => Value::Int(whole),
            None => Value::Double(number.as_f64().unwrap_or(f64::NAN)),
        },
        serde_yaml::Value::String(text) => Value::String(Arc::from(text.as_str())),
        serde_yaml::Value::Sequence(items) => Value::List(
            items
                .iter()
                .map(|item| attribute_value(item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?
                .into(),
        ),
        serde_yaml::Value::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (key, item) in map {
                let serde_yaml::Value::String(key) = key else {
                    return Err("map keys must be strings".into());
                };
                entries.push((Arc::from(key.as_str()), attribute_value(item, depth + 1)?));
            }
            Value::Map(entries.into_iter().collect())
        }
        serde_yaml::Value::Tagged(_) => return Err("tagged values (!tag) are not allowed".into()),
    })
}
