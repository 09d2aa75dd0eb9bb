//! The directory pages' HTML: the listing with its type and text filters, one entity with its
//! names, properties, standing roles, groups and scope, the form that creates or edits one
//! (properties as JSON), and the confirm step before a delete.

use std::fmt::Write as _;

use super::common::{csrf_field, esc, notice, table_head};
use crate::console::entity_input::properties_json;
use crate::console::forms::{Fields, encode};
use crate::domain::{Entity, EntityKey, StandingRole};

/// What the listing shows: a page of entities, or a search's matches.
pub(crate) struct Listing {
    /// The entities, by type then id.
    pub(crate) entities: Vec<Entity>,
    /// Where the listing (or search) goes on, if there is more.
    pub(crate) next: Option<String>,
    /// For a search: how many entities it read.
    pub(crate) scanned: Option<usize>,
}

/// The form's fields as text, as shown in the form.
#[derive(Default)]
pub(crate) struct EntityFields {
    entity_type: String,
    id: String,
    aliases: String,
    roles: String,
    groups: String,
    scope: String,
    properties: String,
}

fn link(path: &str, key: &EntityKey) -> String {
    crate::console::pages::entity_link(path, key)
}

fn role_text(role: &StandingRole) -> String {
    match &role.scope {
        Some(scope) => format!("{}@{}", role.role, scope.as_str()),
        None => role.role.to_string(),
    }
}

/// The listing page: the filters, the entities, the link to the next page.
pub(crate) fn list_page(
    entity_type: &str,
    text: &str,
    listing: &Listing,
    admin: bool,
    notice_text: &str,
) -> String {
    let mut body = notice(notice_text);
    let _ = write!(
        body,
        "<form method=\"get\" action=\"/console/directory\" class=\"card filters\" id=\"directory-filter\">\
         <label>type <input type=\"text\" name=\"type\" id=\"filter-type\" value=\"{entity_type}\" placeholder=\"user\" class=\"small\"></label>\
         <label>text <input type=\"text\" name=\"q\" id=\"filter-text\" value=\"{text}\" placeholder=\"id, alias, group, role or property\"></label>\
         <button id=\"filter\">Find</button></form>{new}",
        entity_type = esc(entity_type),
        text = esc(text),
        new = if admin {
            "<p><a href=\"/console/directory/edit\" id=\"new-entity\">New entity</a></p>"
        } else {
            "<p class=\"muted\">Changing the directory needs the admin role.</p>"
        },
    );
    if let Some(scanned) = listing.scanned {
        let _ = write!(
            body,
            "<p class=\"muted\" id=\"search-summary\">{} match{} among {scanned} entities read{}.</p>",
            listing.entities.len(),
            if listing.entities.len() == 1 {
                ""
            } else {
                "es"
            },
            if listing.next.is_some() {
                "; more remain"
            } else {
                ""
            },
        );
    }
    if listing.entities.is_empty() {
        body.push_str("<p id=\"no-entities\">No entity to show.</p>");
    }
    body.push_str(&table_head(
        " id=\"entities\"",
        &["type", "id", "aliases", "roles", "groups", "scope"],
    ));
    body.push_str("<tbody>");
    for entity in &listing.entities {
        let _ = write!(
            body,
            "<tr data-id=\"{id}\"><td>{entity_type}</td><td><a href=\"{href}\">{id}</a></td><td>{aliases}</td>\
             <td>{roles}</td><td>{groups}</td><td>{scope}</td></tr>",
            entity_type = esc(&entity.key.entity_type),
            id = esc(entity.key.id.as_str()),
            href = esc(link("entity", &entity.key)),
            aliases = esc(joined(entity.aliases.iter().map(|a| a.as_str().to_owned()))),
            roles = esc(joined(entity.roles.iter().map(role_text))),
            groups = esc(joined(entity.groups.iter().map(|g| g.as_str().to_owned()))),
            scope = esc(entity.scope.as_ref().map_or("", |s| s.as_str())),
        );
    }
    body.push_str("</tbody></table>");
    if let Some(next) = &listing.next {
        let _ = write!(
            body,
            "<p><a id=\"next-page\" href=\"/console/directory?type={}&q={}&after={}\">{}</a></p>",
            encode(entity_type),
            encode(text),
            encode(next),
            if listing.scanned.is_some() {
                "Search on"
            } else {
                "Next page"
            }
        );
    }
    body
}

fn joined(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// One entity, with the links to edit or delete it (admins).
pub(crate) fn entity_page(entity: &Entity, admin: bool, notice_text: &str) -> String {
    let fields = fields_of(entity);
    let mut body = notice(notice_text);
    let rows = [
        ("type", "entity-type", &fields.entity_type),
        ("id", "entity-id", &fields.id),
        ("aliases", "entity-aliases", &fields.aliases),
        ("standing roles", "entity-roles", &fields.roles),
        ("groups", "entity-groups", &fields.groups),
        ("scope", "entity-scope", &fields.scope),
    ];
    body.push_str("<table class=\"card\" id=\"entity\"><tbody>");
    for (label, id, value) in rows {
        let _ = write!(
            body,
            "<tr><th>{label}</th><td id=\"{id}\">{}</td></tr>",
            esc(value.replace('\n', ", "))
        );
    }
    let _ = write!(
        body,
        "<tr><th>properties</th><td><pre id=\"entity-properties\">{}</pre></td></tr></tbody></table>",
        esc(&fields.properties)
    );
    if admin {
        let _ = write!(
            body,
            "<p><a href=\"{}\" id=\"edit-entity\">Edit</a> · <a href=\"{}\" id=\"delete-entity\" class=\"danger\">Delete</a></p>",
            esc(link("edit", &entity.key)),
            esc(link("delete", &entity.key)),
        );
    }
    body.push_str("<p><a href=\"/console/directory\">Back to the directory</a></p>");
    body
}

/// The form's fields for `entity`.
pub(crate) fn fields_of(entity: &Entity) -> EntityFields {
    let lines = |items: Vec<String>| items.join("\n");
    EntityFields {
        entity_type: entity.key.entity_type.to_string(),
        id: entity.key.id.to_string(),
        aliases: lines(entity.aliases.iter().map(|a| a.to_string()).collect()),
        roles: lines(entity.roles.iter().map(role_text).collect()),
        groups: lines(
            entity
                .groups
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
        ),
        scope: (entity.scope.as_ref()).map_or(String::new(), |s| s.as_str().to_owned()),
        properties: properties_json(&entity.properties),
    }
}

/// The form's fields as they were sent.
pub(crate) fn fields_from(form: &Fields) -> EntityFields {
    EntityFields {
        entity_type: form.get("type").to_owned(),
        id: form.get("id").to_owned(),
        aliases: form.get("aliases").to_owned(),
        roles: form.get("roles").to_owned(),
        groups: form.get("groups").to_owned(),
        scope: form.get("scope").to_owned(),
        properties: form.get("properties").to_owned(),
    }
}

/// The create-or-edit form, with the error of the last attempt when there was one.
pub(crate) fn form(
    csrf: &str,
    fields: &EntityFields,
    editing: bool,
    error: Option<&str>,
) -> String {
    let error = error
        .map(|error| {
            format!(
                "<p class=\"error\" id=\"entity-error\">{}; nothing was changed.</p>",
                esc(error)
            )
        })
        .unwrap_or_default();
    let key_note = if editing {
        "<p class=\"muted\">Saving replaces the entity with this type and id whole; a changed id creates another entity.</p>"
    } else {
        ""
    };
    format!(
        "{error}{key_note}<form method=\"post\" action=\"/console/directory/put\" class=\"card\" id=\"entity-form\">{csrf}\
         <input type=\"hidden\" name=\"editing\" value=\"{editing}\">\
         <label for=\"type\">Type</label><input type=\"text\" id=\"type\" name=\"type\" value=\"{entity_type}\" placeholder=\"user\">\
         <label for=\"id\">Id</label><input type=\"text\" id=\"id\" name=\"id\" value=\"{id}\">\
         <label for=\"aliases\">Aliases (one per line)</label><textarea id=\"aliases\" name=\"aliases\" rows=\"2\">{aliases}</textarea>\
         <label for=\"roles\">Standing roles (one per line: role or role@scope)</label><textarea id=\"roles\" name=\"roles\" rows=\"2\">{roles}</textarea>\
         <label for=\"groups\">Groups (one per line)</label><textarea id=\"groups\" name=\"groups\" rows=\"2\">{groups}</textarea>\
         <label for=\"scope\">Scope (resources: where it lives)</label><input type=\"text\" id=\"scope\" name=\"scope\" value=\"{scope}\">\
         <label for=\"properties\">Properties (a JSON object)</label><textarea id=\"properties\" name=\"properties\" rows=\"8\" spellcheck=\"false\">{properties}</textarea>\
         <button id=\"save-entity\">Save</button></form>",
        csrf = csrf_field(csrf),
        editing = u8::from(editing),
        entity_type = esc(&fields.entity_type),
        id = esc(&fields.id),
        aliases = esc(&fields.aliases),
        roles = esc(&fields.roles),
        groups = esc(&fields.groups),
        scope = esc(&fields.scope),
        properties = esc(&fields.properties),
    )
}

/// The confirm step of a delete: the entity, and the button that deletes it.
pub(crate) fn delete_confirm(csrf: &str, entity: &Entity) -> String {
    format!(
        "<section class=\"card\"><p id=\"delete-question\">Delete <code>{entity_type}</code> <code>{id}</code>{aliases}? \
         Decisions stop seeing its roles, groups and properties at once.</p>\
         <form method=\"post\" action=\"/console/directory/delete\">{csrf}\
         <input type=\"hidden\" name=\"type\" value=\"{entity_type}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
         <button class=\"danger\" id=\"confirm-delete\">Delete it</button> \
         <a href=\"{back}\" id=\"cancel-delete\">Keep it</a></form></section>",
        csrf = csrf_field(csrf),
        entity_type = esc(&entity.key.entity_type),
        id = esc(entity.key.id.as_str()),
        aliases = if entity.aliases.is_empty() {
            String::new()
        } else {
            format!(
                " (also named {})",
                esc(joined(entity.aliases.iter().map(|a| a.to_string())))
            )
        },
        back = esc(link("entity", &entity.key)),
    )
}
