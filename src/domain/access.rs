//! The access question in AuthZEN's shape: a subject `{type, id, properties}` wants to do an
//! action `{name, properties}` on a resource `{type, id, properties}` in a context. It is
//! validated once, at the edge (the AuthZEN HTTP endpoints, and gRPC Check when it names a
//! resource type), and carried down as such: the decision maps it onto elevator's model
//! (`action.name` is the permission, the resource maps to a scope) and never checks it again.
//!
//! Also here: the default place of a resource, `{Type}:{id}` with the id escaped, for resource
//! types the policy does not map, and where a session comes from (`context.session_id`).

use std::fmt::Write;

use super::attributes::{Properties, Value};
use super::directory::{EntityId, EntityType};
use super::echo::shown;
use super::identity::Identity;
use super::names::{InvalidValue, Permission, SessionId};
use super::scope::Scope;

/// The key of the request context that names the subject's login session (AuthZEN has no
/// field of its own for it): `{"context": {"session_id": "…"}}`.
pub const SESSION_CONTEXT_KEY: &str = "session_id";

/// A subject or a resource as a question names it: a valid type and id, borrowed from the
/// request, and what the request says about it.
#[derive(Debug, Clone)]
pub struct AccessEntity<'a> {
    entity_type: &'a str,
    id: &'a str,
    /// What the request says about it; the directory's properties win over these.
    pub properties: Properties,
}

impl<'a> AccessEntity<'a> {
    /// Validates `entity_type` and `id` (as [`EntityType`] and [`EntityId`]), keeping borrows.
    pub fn parse(
        entity_type: &'a str,
        id: &'a str,
        properties: Properties,
    ) -> Result<Self, InvalidValue> {
        EntityType::validate(entity_type)?;
        EntityId::validate(id)?;
        Ok(AccessEntity {
            entity_type,
            id,
            properties,
        })
    }

    /// The type (valid).
    pub fn entity_type(&self) -> &'a str {
        self.entity_type
    }

    /// The id (valid).
    pub fn id(&self) -> &'a str {
        self.id
    }
}

/// What the subject wants to do: the permission asked for, and what the request says about it.
#[derive(Debug, Clone)]
pub struct AccessAction<'a> {
    name: &'a str,
    /// What the request says about the action.
    pub properties: Properties,
}

impl<'a> AccessAction<'a> {
    /// Validates `name` as a permission name (letters, digits and `_ . : -`).
    pub fn parse(name: &'a str, properties: Properties) -> Result<Self, InvalidValue> {
        Permission::validate(name)?;
        Ok(AccessAction { name, properties })
    }

    /// The permission asked for (valid).
    pub fn name(&self) -> &'a str {
        self.name
    }
}

/// One access question, validated.
#[derive(Debug, Clone)]
pub struct AccessQuery<'a> {
    /// Who acts. Its grants are those of its id, whatever its type; the directory entry of
    /// its type and id (or alias) adds standing roles, groups and properties.
    pub subject: AccessEntity<'a>,
    /// The permission asked for.
    pub action: AccessAction<'a>,
    /// What it acts on; its scope comes from the directory entry, else from the policy's
    /// mapping for its type, else [`default_resource_scope`].
    pub resource: AccessEntity<'a>,
    /// The request's context; rules read it as `context` (with `now` added).
    pub context: Properties,
    /// The subject's login session, when the PEP knows it: session-bound grants count only in
    /// their own session. See [`session_from_context`].
    pub session: Option<SessionId>,
    /// The subject's own verified token, when the PEP passed it: its standing roles count and
    /// rules read it. The use case checks that it belongs to the subject (and session).
    pub token: Option<&'a Identity>,
    /// The decision must reflect at least this revision.
    pub min_revision: u64,
}

/// The session a request context names under [`SESSION_CONTEXT_KEY`]: none when absent or
/// null; an error when it is not a valid session id (a string of 1 to 256 visible characters).
pub fn session_from_context(context: &Properties) -> Result<Option<SessionId>, InvalidValue> {
    match context.get(SESSION_CONTEXT_KEY) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => SessionId::parse(text).map(Some),
        Some(_) => Err(InvalidValue(format!(
            "context.{SESSION_CONTEXT_KEY} must be a string"
        ))),
    }
}

/// Whether a resource type can stand as a scope segment's type as it is (letters, digits,
/// `_` and `-`, starting with a letter): every type but those with a `.`.
fn is_scope_type(entity_type: &str) -> bool {
    let mut bytes = entity_type.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `id` made fit for a scope segment's name: `%`, `/`, `*`, `:`, white space, control and
/// invisible characters are written `%XX` (their UTF-8 bytes), everything else is kept. No two
/// ids give the same text, and the text never contains a segment separator.
pub fn escape_scope_name(id: &str) -> String {
    let mut escaped = String::with_capacity(id.len());
    for c in id.chars() {
        let refused = matches!(c, '%' | '/' | '*' | ':')
            || c.is_whitespace()
            || c.is_control()
            || super::names::is_invisible(c);
        if refused {
            let mut bytes = [0u8; 4];
            for byte in c.encode_utf8(&mut bytes).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(escaped, "%{byte:02X}");
            }
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// The scope of a resource no directory entry places and no policy mapping covers:
/// `{type}:{escaped id}` (`todo` `7240d0db` → `todo:7240d0db`, `route` `/todos` →
/// `route:%2Ftodos`). A type with a `.`, which a scope segment's type may not hold, becomes
/// `Resource:{type}:{escaped id}` (the escaped id has no `:`, so this is unambiguous).
pub fn default_resource_scope(entity_type: &str, id: &str) -> Result<Scope, InvalidValue> {
    let name = escape_scope_name(id);
    let text = if is_scope_type(entity_type) {
        format!("{entity_type}:{name}")
    } else {
        format!("Resource:{entity_type}:{name}")
    };
    Scope::parse(&text).map_err(|error| {
        InvalidValue(format!(
            "resource {} of type {entity_type} has no scope: {error}",
            shown(id)
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_resource_maps_to_its_type_and_escaped_id() {
        assert_eq!(
            default_resource_scope("todo", "7240d0db").unwrap().as_str(),
            "todo:7240d0db"
        );
        assert_eq!(
            default_resource_scope("route", "/todos/{todoId}")
                .unwrap()
                .as_str(),
            "route:%2Ftodos%2F{todoId}"
        );
        assert_eq!(
            default_resource_scope("app.todo", "a:b").unwrap().as_str(),
            "Resource:app.todo:a%3Ab"
        );
    }

    #[test]
    fn escaping_keeps_distinct_ids_distinct_and_leaves_no_separator() {
        let ids = ["a/b", "a%2Fb", "a b", "a*", "x:y", "é"];
        let escaped: Vec<String> = ids.iter().map(|id| escape_scope_name(id)).collect();
        for (i, one) in escaped.iter().enumerate() {
            assert!(!one.contains(['/', '*', ':', ' ']), "{one}");
            for other in &escaped[i + 1..] {
                assert_ne!(one, other);
            }
        }
        assert_eq!(escape_scope_name("é"), "é");
    }

    #[test]
    fn the_session_comes_from_the_context_and_must_be_a_string() {
        let context = |value: Value| -> Properties {
            std::iter::once((Arc::from(SESSION_CONTEXT_KEY), value)).collect()
        };
        assert_eq!(
            session_from_context(&context(Value::String("s1".into()))).unwrap(),
            Some(SessionId::parse("s1").unwrap())
        );
        assert_eq!(session_from_context(&Properties::default()).unwrap(), None);
        assert_eq!(session_from_context(&context(Value::Null)).unwrap(), None);
        assert!(session_from_context(&context(Value::Int(3))).is_err());
        assert!(session_from_context(&context(Value::String("".into()))).is_err());
    }

    #[test]
    fn entities_and_actions_are_validated_on_construction() {
        assert!(AccessEntity::parse("user", "rick", Properties::default()).is_ok());
        assert!(AccessEntity::parse("", "rick", Properties::default()).is_err());
        assert!(AccessEntity::parse("user", "", Properties::default()).is_err());
        assert!(AccessAction::parse("can_read_todos", Properties::default()).is_ok());
        assert!(AccessAction::parse("GET", Properties::default()).is_ok());
        assert!(AccessAction::parse("read todos", Properties::default()).is_err());
    }
}
