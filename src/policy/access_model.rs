//! What the policy says about AuthZEN-shaped questions: the directory the file carries, where
//! each resource type lives (its scope), and the conditions role permissions carry. Compiled
//! with the rest of the document, so a policy reload is a directory reload.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::CheckLookup;
use super::rules::Rule;
use crate::domain::{Directory, InvalidValue, Permission, RoleName, Scope, default_resource_scope};

/// The access part of a compiled policy.
#[derive(Debug, Default)]
pub struct AccessModel {
    pub(super) directory: Arc<Directory>,
    /// Resource type -> its scope template (`App:Todo`, `App:Todo/Todo:{id}`).
    pub(super) resource_scopes: HashMap<String, ScopeTemplate>,
    /// Role -> permission -> the condition under which the role carries it.
    pub(super) conditions: CheckLookup<RoleName, CheckLookup<Permission, Arc<Rule>>>,
}

/// Where the resources of one type live: a scope, in which `{id}` stands for the resource's
/// id, escaped as [`crate::domain::escape_scope_name`] does.
#[derive(Debug, Clone)]
pub struct ScopeTemplate {
    pub(super) text: String,
}

impl ScopeTemplate {
    /// The scope of the resource `id`.
    pub(super) fn scope_of(&self, id: &str) -> Result<Scope, InvalidValue> {
        if !self.text.contains("{id}") {
            return Scope::parse(&self.text);
        }
        let escaped = crate::domain::escape_scope_name(id);
        Scope::parse(&self.text.replace("{id}", &escaped))
    }
}

impl AccessModel {
    /// Whether any role's permission carries a condition.
    pub fn has_conditions(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// The condition under which `role` carries `permission`; `None` when it carries it
    /// always (or not at all).
    pub fn condition(&self, role: &str, permission: &str) -> Option<&Arc<Rule>> {
        if self.conditions.is_empty() {
            return None;
        }
        self.conditions.get(role)?.get(permission)
    }

    /// The directory the policy file carries.
    pub fn directory(&self) -> &Arc<Directory> {
        &self.directory
    }

    /// The scope of resource `id` of type `entity_type` that no directory entry places: the
    /// policy's template for the type, else `{type}:{escaped id}`.
    pub fn resource_scope(&self, entity_type: &str, id: &str) -> Result<Scope, InvalidValue> {
        match self.resource_scopes.get(entity_type) {
            Some(template) => template.scope_of(id),
            None => default_resource_scope(entity_type, id),
        }
    }
}
