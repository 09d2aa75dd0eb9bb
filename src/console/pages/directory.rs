//! The directory pages: the stored subjects and resources listed (filtered by type and by
//! text), one shown, created or edited through a form, and deleted after a confirm step.
//! Reading needs the admin or auditor role, writing the admin role: the use cases
//! (`service/directory.rs`) check, exactly as for `DirectoryService`, and audit every write.

use super::Handled;
use crate::console::entity_input::{entity, entity_key};
use crate::console::forms::{Fields, encode};
use crate::console::html::{self, directory::Listing, document, see_other};
use crate::console::input::optional;
use crate::console::{Caller, Console};
use crate::domain::{Entity, EntityKey, EntityType};
use crate::service::ServiceError;

/// How many entities one text search reads at most before it offers to go on: a search
/// filters pages of the listing, so its cost is bounded whatever the directory's size.
const SEARCH_SCAN_LIMIT: usize = 5_000;
/// How many matches one page of a search shows.
const SEARCH_MATCHES: usize = 50;
/// The listing's page size.
const PAGE_SIZE: u32 = 50;
/// What one read of a search asks for (the listing's largest page).
const SEARCH_PAGE_SIZE: u32 = 500;

/// The link to the page showing `key`.
pub(crate) fn entity_link(path: &str, key: &EntityKey) -> String {
    format!(
        "/console/directory/{path}?type={}&id={}",
        encode(key.entity_type.as_str()),
        encode(key.id.as_str())
    )
}

impl Console {
    /// `GET /console/directory`: a page of the listing, or the matches of a text search.
    pub(crate) async fn directory_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let entity_type = optional(query, "type", EntityType::parse)?;
        let text = query.get("q");
        let after = query.get("after");
        let listing = if text.is_empty() {
            let page = (self.app)
                .list_entities(&caller.identity, entity_type.clone(), PAGE_SIZE, after)
                .await?;
            Listing {
                entities: page.items,
                next: page.next_page_token,
                scanned: None,
            }
        } else {
            self.search(caller, entity_type.clone(), text, after)
                .await?
        };
        let admin = caller.identity.has_role(&self.app.roles().admin);
        let body = html::directory::list_page(
            entity_type.as_ref().map_or("", EntityType::as_str),
            text,
            &listing,
            admin,
            query.get("notice"),
        );
        Ok(self.page(caller, "Directory", "/console/directory", &body))
    }

    /// The entities matching `text` (any name, group, role or string property containing
    /// it, ignoring case), read page by page from `after` until enough match or
    /// [`SEARCH_SCAN_LIMIT`] were read. An entity some name of which is `text` exactly comes
    /// first, also when it lies beyond the part read.
    async fn search(
        &self,
        caller: &Caller,
        entity_type: Option<EntityType>,
        text: &str,
        after: &str,
    ) -> Result<Listing, ServiceError> {
        let needle = text.to_lowercase();
        let mut entities: Vec<Entity> = Vec::new();
        let exact = (entity_type.as_ref())
            .filter(|_| after.is_empty())
            .zip(crate::domain::EntityId::parse(text).ok());
        if let Some((entity_type, id)) = exact {
            let key = EntityKey {
                entity_type: entity_type.clone(),
                id,
            };
            match self.app.get_entity(&caller.identity, &key).await {
                Ok(found) => entities.push(found),
                Err(ServiceError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let (mut scanned, mut token) = (0, after.to_owned());
        loop {
            let page = (self.app)
                .list_entities(
                    &caller.identity,
                    entity_type.clone(),
                    SEARCH_PAGE_SIZE,
                    &token,
                )
                .await?;
            scanned += page.items.len();
            for found in page.items {
                if matches(&found, &needle) && !entities.iter().any(|e| e.key == found.key) {
                    entities.push(found);
                }
            }
            match page.next_page_token {
                Some(next) if scanned < SEARCH_SCAN_LIMIT && entities.len() < SEARCH_MATCHES => {
                    token = next
                }
                next => {
                    return Ok(Listing {
                        entities,
                        next,
                        scanned: Some(scanned),
                    });
                }
            }
        }
    }

    /// `GET /console/directory/entity?type=…&id=…` (an alias finds the entity too).
    pub(crate) async fn entity_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let key = entity_key(query)?;
        let found = self.app.get_entity(&caller.identity, &key).await?;
        let admin = caller.identity.has_role(&self.app.roles().admin);
        let body = html::directory::entity_page(&found, admin, query.get("notice"));
        Ok(self.page(caller, "Directory entity", "/console/directory", &body))
    }

    /// `GET /console/directory/edit`: an empty form, or (with `type` and `id`) the entity's.
    pub(crate) async fn entity_form(&self, caller: &Caller, query: &Fields) -> Handled {
        self.app
            .may_manage_directory(&caller.identity, "Editing the directory")?;
        let found = match query.optional("id") {
            None => None,
            Some(_) => Some(
                self.app
                    .get_entity(&caller.identity, &entity_key(query)?)
                    .await?,
            ),
        };
        let fields = found
            .as_ref()
            .map(html::directory::fields_of)
            .unwrap_or_default();
        let body = html::directory::form(&caller.csrf, &fields, found.is_some(), None);
        Ok(self.page(caller, "Edit directory entity", "/console/directory", &body))
    }

    /// `POST /console/directory/put`: creates or replaces the entity; a refusal shows the
    /// form again, as filled, with what to fix (nothing was changed).
    pub(crate) async fn put_entity_form(&self, caller: &Caller, form: &Fields) -> Handled {
        let outcome = match entity(form) {
            Ok(parsed) => self.app.put_entity(&caller.identity, parsed).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(put) => {
                tracing::info!(subject = %caller.identity.subject, entity = %put.entity.key, "console: directory entity put");
                let verb = if put.created { "Created" } else { "Replaced" };
                Ok(see_other(&format!(
                    "{}&notice={}",
                    entity_link("entity", &put.entity.key),
                    encode(&format!("{verb} at revision {}", put.revision))
                )))
            }
            Err(error @ ServiceError::PermissionDenied { .. }) => Err(error),
            Err(error) => {
                let fields = html::directory::fields_from(form);
                let status = super::refused::http_status(&error);
                let body = html::directory::form(
                    &caller.csrf,
                    &fields,
                    form.get("editing") == "1",
                    Some(&error.to_string()),
                );
                let viewer = caller.viewer();
                Ok(html::html(
                    status,
                    document(
                        "Edit directory entity",
                        "/console/directory",
                        Some(&viewer),
                        &body,
                    ),
                ))
            }
        }
    }

    /// `GET /console/directory/delete?type=…&id=…`: what would be deleted, and the button.
    pub(crate) async fn delete_confirm(&self, caller: &Caller, query: &Fields) -> Handled {
        self.app
            .may_manage_directory(&caller.identity, "Deleting from the directory")?;
        let found = (self.app)
            .get_entity(&caller.identity, &entity_key(query)?)
            .await?;
        let body = html::directory::delete_confirm(&caller.csrf, &found);
        Ok(self.page(
            caller,
            "Delete directory entity",
            "/console/directory",
            &body,
        ))
    }

    /// `POST /console/directory/delete`.
    pub(crate) async fn delete_entity_form(&self, caller: &Caller, form: &Fields) -> Handled {
        let key = entity_key(form)?;
        let revision = self
            .app
            .delete_entity(&caller.identity, key.clone())
            .await?;
        tracing::info!(subject = %caller.identity.subject, entity = %key, "console: directory entity deleted");
        Ok(see_other(&format!(
            "/console/directory?notice={}",
            encode(&format!("Deleted {key} at revision {revision}"))
        )))
    }
}

/// Whether some name, group, role or string property of `entity` contains `needle`
/// (lowercase).
fn matches(entity: &Entity, needle: &str) -> bool {
    let contains = |text: &str| text.to_lowercase().contains(needle);
    contains(entity.key.id.as_str())
        || entity.aliases.iter().any(|alias| contains(alias.as_str()))
        || entity.groups.iter().any(|group| contains(group.as_str()))
        || entity.roles.iter().any(|role| contains(role.role.as_str()))
        || entity.properties.iter().any(|(name, value)| {
            contains(name) || matches!(value, crate::domain::Value::String(text) if contains(text))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_matches_names_groups_roles_and_string_properties_ignoring_case() {
        let form = Fields::parse(
            "type=user&id=rick%40citadel&aliases=CiRmZDA2&groups=scientists\
             &roles=admin_approver&properties=%7B%22department%22%3A%22Sales%22%7D",
        )
        .unwrap();
        let rick = entity(&form).unwrap();
        for needle in ["rick", "cirm", "scien", "approver", "sales", "department"] {
            assert!(matches(&rick, needle), "{needle}");
        }
        assert!(!matches(&rick, "morty"));
    }
}
