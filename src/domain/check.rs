//! The Check question: who asks to do what on which resource, already validated at the edge.
//! It lives in the domain so that every layer, from the API edge down to the decision hot
//! path, can name it without reaching past the layer below.

use super::identity::Identity;
use super::names::{InvalidValue, Subject};

/// A subject name validated once, at the edge, and borrowed from the request it came in: the
/// hot path carries it without copying it and never validates it again. Only
/// [`SubjectRef::parse`] and a [`Subject`] make one, so its text is always a valid subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectRef<'a>(&'a str);

impl<'a> SubjectRef<'a> {
    /// Validates `text` as a subject, keeping a borrow of it (no allocation).
    pub fn parse(text: &'a str) -> Result<Self, InvalidValue> {
        Subject::validate(text)?;
        Ok(SubjectRef(text))
    }

    /// The validated text.
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// The subject, owned (a cache key): copied, not validated again.
    pub fn to_subject(self) -> Subject {
        Subject::from_checked(self)
    }
}

impl<'a> From<&'a Subject> for SubjectRef<'a> {
    fn from(subject: &'a Subject) -> Self {
        SubjectRef(subject.as_str())
    }
}

impl std::fmt::Display for SubjectRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// One Check question, validated.
#[derive(Debug, Clone, Copy)]
pub struct CheckQuery<'a> {
    /// The subject acting.
    pub subject: SubjectRef<'a>,
    /// Its session, when known (a valid session id).
    pub session: Option<&'a str>,
    /// The permission asked for (a valid permission name).
    pub permission: &'a str,
    /// The resource (a well-formed scope).
    pub resource: &'a str,
    /// The subject's own verified token, when the PEP passed it: its standing roles count,
    /// and rules read its groups. The use case checks that it belongs to `subject` (and
    /// `session`) before deciding.
    pub token: Option<&'a Identity>,
    /// The decision must reflect at least this revision.
    pub min_revision: u64,
}
