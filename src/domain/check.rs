//! The Check question: who asks to do what on which resource, already validated at the edge.
//! It lives in the domain so that every layer, from the API edge down to the decision hot
//! path, can name it without reaching past the layer below.

use super::identity::Identity;

/// One Check question, validated.
#[derive(Debug, Clone, Copy)]
pub struct CheckQuery<'a> {
    /// The subject acting.
    pub subject: &'a str,
    /// Its session, when known.
    pub session: Option<&'a str>,
    /// The permission asked for.
    pub permission: &'a str,
    /// The resource (a well-formed scope).
    pub resource: &'a str,
    /// The subject's own verified token, when the PEP passed it: its standing roles count,
    /// and rules read its groups.
    pub token: Option<&'a Identity>,
    /// The decision must reflect at least this revision.
    pub min_revision: u64,
}
