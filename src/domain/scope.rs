//! Scopes and scope patterns. A scope is a resource path of `Type:Name` segments joined by `/`
//! (`Org:Procurement/PO:4711`); a grant on a scope covers the scope and everything below it.
//! Patterns, used by eligibility entries, add `Type:*` (any name of that type), `*` (any one
//! segment) and a trailing `**` (this level and everything below).

use std::fmt;
use std::sync::Arc;

use super::echo::shown;
use super::names::InvalidValue;

const MAX_SCOPE_BYTES: usize = 1024;
const MAX_SCOPE_SEGMENTS: usize = 32;

/// A validated, canonical scope.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Scope(Arc<str>);

fn segment_type_is_valid(segment_type: &str) -> bool {
    let mut bytes = segment_type.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn segment_name_is_valid(name: &str) -> bool {
    if name.is_ascii() {
        // Judged byte by byte: the resource of every Check passes here.
        return !name.is_empty() && name.bytes().all(ascii_segment_name_byte_allowed);
    }
    name.chars().all(segment_name_char_allowed)
}

fn segment_name_char_allowed(c: char) -> bool {
    !c.is_control() && !c.is_whitespace() && !super::names::is_invisible(c) && c != '/' && c != '*'
}

/// [`segment_name_char_allowed`] for ASCII: of ASCII only the printable characters are
/// neither control, white space nor invisible.
fn ascii_segment_name_byte_allowed(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'/' && b != b'*'
}

fn check_segment(segment: &str) -> Result<(), String> {
    let Some((segment_type, name)) = segment.split_once(':') else {
        return Err(format!(
            "segment {} is not of the form Type:Name",
            shown(segment)
        ));
    };
    if !segment_type_is_valid(segment_type) {
        return Err(format!(
            "segment {}: the type must start with a letter and use letters, digits, _ or -",
            shown(segment)
        ));
    }
    if !segment_name_is_valid(name) {
        return Err(format!(
            "segment {}: the name must be non-empty, without spaces, invisible characters, '/' or '*'",
            shown(segment)
        ));
    }
    Ok(())
}

fn check_length(value: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue(
            "scope must not be empty; use Type:Name segments joined by '/', e.g. Org:Procurement"
                .into(),
        ));
    }
    if value.len() > MAX_SCOPE_BYTES {
        return Err(InvalidValue(format!(
            "scope is {} bytes long; at most {MAX_SCOPE_BYTES} are allowed",
            value.len()
        )));
    }
    if value.split('/').count() > MAX_SCOPE_SEGMENTS {
        return Err(InvalidValue(format!(
            "scope has more than {MAX_SCOPE_SEGMENTS} segments"
        )));
    }
    Ok(())
}

impl Scope {
    /// Validates `value` as a scope.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        Self::validate(value)?;
        Ok(Scope(Arc::from(value)))
    }

    /// Checks that `value` is a well-formed scope without allocating (the hot path checks every
    /// resource it is asked about).
    pub fn validate(value: &str) -> Result<(), InvalidValue> {
        check_length(value)?;
        for segment in value.split('/') {
            check_segment(segment)
                .map_err(|problem| InvalidValue(format!("scope {}: {problem}", shown(value))))?;
        }
        Ok(())
    }

    /// The scope's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many scopes share this one's text (an interner drops a text only it still holds).
    pub(crate) fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }

    /// Whether this scope covers `resource` (a well-formed scope): the same path, or one below it.
    /// `Org:Procurement` covers `Org:Procurement/PO:1` but not `Org:Procurement2`.
    pub fn covers(&self, resource: &str) -> bool {
        scope_covers(&self.0, resource)
    }

    /// Whether `other` lies within this scope.
    pub fn contains(&self, other: &Scope) -> bool {
        self.covers(other.as_str())
    }
}

/// Whether `scope` covers `resource`, both well-formed: compared segment by segment, which for
/// canonical paths is a prefix match that ends at a `/`.
pub(crate) fn scope_covers(scope: &str, resource: &str) -> bool {
    match resource.as_bytes().get(scope.len()) {
        None => resource == scope,
        Some(b'/') => resource.starts_with(scope),
        Some(_) => false,
    }
}

impl TryFrom<String> for Scope {
    type Error = InvalidValue;
    fn try_from(value: String) -> Result<Self, InvalidValue> {
        Self::parse(&value)
    }
}

impl From<Scope> for String {
    fn from(value: Scope) -> String {
        value.0.to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Exact(String),
    AnyNameOfType(String),
    AnySegment,
}

/// A pattern over scopes, as written in eligibility entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePattern {
    text: String,
    segments: Vec<PatternSegment>,
    subtree: bool,
}

impl ScopePattern {
    /// Parses a pattern: `Org:Procurement`, `Org:Procurement/**`, `Org:*`, `Org:*/PO:*`, `**`.
    pub fn parse(value: &str) -> Result<Self, InvalidValue> {
        check_length(value)?;
        let mut parts: Vec<&str> = value.split('/').collect();
        let subtree = parts.last() == Some(&"**");
        if subtree {
            parts.pop();
        }
        let mut segments = Vec::with_capacity(parts.len());
        for part in parts {
            let segment = if part == "**" {
                return Err(InvalidValue(format!(
                    "scope pattern {}: '**' may only be the last segment",
                    shown(value)
                )));
            } else if part == "*" {
                PatternSegment::AnySegment
            } else if let Some(segment_type) = part.strip_suffix(":*") {
                if !segment_type_is_valid(segment_type) {
                    return Err(InvalidValue(format!(
                        "scope pattern {}: segment {} has an invalid type",
                        shown(value),
                        shown(part)
                    )));
                }
                PatternSegment::AnyNameOfType(segment_type.to_owned())
            } else {
                check_segment(part).map_err(|problem| {
                    InvalidValue(format!("scope pattern {}: {problem}", shown(value)))
                })?;
                PatternSegment::Exact(part.to_owned())
            };
            segments.push(segment);
        }
        Ok(ScopePattern {
            text: value.to_owned(),
            segments,
            subtree,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `scope` matches the pattern (without allocating: the hot path asks it).
    pub fn matches(&self, scope: &Scope) -> bool {
        let mut segments = scope.as_str().split('/');
        for pattern in &self.segments {
            let Some(segment) = segments.next() else {
                return false;
            };
            let segment_matches = match pattern {
                PatternSegment::Exact(exact) => exact == segment,
                PatternSegment::AnySegment => true,
                PatternSegment::AnyNameOfType(segment_type) => segment
                    .split_once(':')
                    .is_some_and(|(actual_type, _)| actual_type == segment_type),
            };
            if !segment_matches {
                return false;
            }
        }
        self.subtree || segments.next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_judgement_of_a_scope_name_agrees_with_the_general_one_on_every_ascii_byte() {
        for b in 0u8..=127 {
            assert_eq!(
                ascii_segment_name_byte_allowed(b),
                segment_name_char_allowed(char::from(b)),
                "byte {b:#04x}"
            );
        }
    }

    fn scope(text: &str) -> Scope {
        Scope::parse(text).unwrap()
    }

    #[test]
    fn well_formed_scopes_parse() {
        assert!(Scope::parse("Org:Procurement").is_ok());
        assert!(Scope::parse("Org:Procurement/PO:4711").is_ok());
        assert!(Scope::parse("Org:Procurement/PO:abc-é").is_ok());
    }

    #[test]
    fn malformed_scopes_are_refused_with_a_reason() {
        for bad in [
            "",
            "Procurement",
            "Org:",
            ":Name",
            "Org:Procurement/",
            "Org:Procurement//PO:1",
            "Org:Pro curement",
            "Org:*",
            "1Org:Procurement",
            "Org:Procurement/PO",
        ] {
            let error = Scope::parse(bad).expect_err(bad);
            assert!(!error.0.is_empty());
        }
    }

    #[test]
    fn a_scope_covers_itself_and_what_lies_below_it() {
        let procurement = scope("Org:Procurement");
        assert!(procurement.covers("Org:Procurement"));
        assert!(procurement.covers("Org:Procurement/PO:4711"));
        assert!(procurement.covers("Org:Procurement/PO:4711/Line:1"));
        assert!(!procurement.covers("Org:Procurement2"));
        assert!(!procurement.covers("Org:Procurement2/PO:4711"));
        assert!(!procurement.covers("Org:Finance"));
        assert!(!procurement.covers("Org:Procuremen"));
        assert!(!scope("Org:Procurement/PO:4711").covers("Org:Procurement"));
    }

    #[test]
    fn patterns_match_exact_subtree_and_one_level() {
        let subtree = ScopePattern::parse("Org:Procurement/**").unwrap();
        assert!(subtree.matches(&scope("Org:Procurement")));
        assert!(subtree.matches(&scope("Org:Procurement/PO:1")));
        assert!(!subtree.matches(&scope("Org:Procurement2")));
        assert!(!subtree.matches(&scope("Org:Finance")));

        let exact = ScopePattern::parse("Org:Procurement").unwrap();
        assert!(exact.matches(&scope("Org:Procurement")));
        assert!(!exact.matches(&scope("Org:Procurement/PO:1")));

        let one_level = ScopePattern::parse("Org:*").unwrap();
        assert!(one_level.matches(&scope("Org:Finance")));
        assert!(!one_level.matches(&scope("Org:Finance/PO:1")));
        assert!(!one_level.matches(&scope("Team:Finance")));

        let any = ScopePattern::parse("*/PO:*").unwrap();
        assert!(any.matches(&scope("Org:Finance/PO:1")));
        assert!(!any.matches(&scope("Org:Finance/Invoice:1")));

        let everything = ScopePattern::parse("**").unwrap();
        assert!(everything.matches(&scope("Org:Finance/PO:1")));

        assert!(ScopePattern::parse("Org:Procurement/**/PO:1").is_err());
        assert!(ScopePattern::parse("Org").is_err());
    }
}
