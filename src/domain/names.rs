//! Validated names: subjects, sessions, groups, roles and permissions. Each newtype checks its
//! input once, on construction, so the rest of the code can trust it.

use std::fmt;
use std::sync::Arc;

/// Why a value was refused; the edge adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

const MAX_IDENTIFIER_BYTES: usize = 256;

/// Characters that change how text reads without being seen: the bidirectional embeddings,
/// overrides and isolates ("Trojan Source").
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that show as nothing (or as a space) yet make two names differ: zero-width
/// spaces and joiners, direction marks and controls, invisible operators, fillers, the byte
/// order mark, tags, variation selectors, and line and paragraph separators. With control
/// characters, identifiers refuse them, so that `fa\u{200B}tma` can never pass for `fatma`.
pub(crate) fn is_invisible(c: char) -> bool {
    is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// The first character of `value` that `refused` matches, as `U+200B at byte 2`.
fn first_refused(value: &str, refused: fn(char) -> bool) -> Option<String> {
    value
        .char_indices()
        .find(|(_, c)| refused(*c))
        .map(|(at, c)| format!("U+{:04X} at byte {at}", c as u32))
}
const MAX_NAME_BYTES: usize = 128;

/// Identifiers issued by identity providers (subjects, sessions, groups) are free-form text, but
/// never empty, never padded, never longer than 256 bytes and never with control characters.
fn validate_identifier(kind: &str, value: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue(format!("{kind} must not be empty")));
    }
    if value.len() > MAX_IDENTIFIER_BYTES {
        return Err(InvalidValue(format!(
            "{kind} is {} bytes long; at most {MAX_IDENTIFIER_BYTES} are allowed",
            value.len()
        )));
    }
    // ASCII text (nearly every identifier a Check carries) is judged byte by byte: every
    // invisible or direction-changing character lies outside ASCII, and ASCII's control
    // characters are the bytes below 0x20 and 0x7F.
    let ascii = value.is_ascii();
    let has_control = if ascii {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    };
    if has_control {
        return Err(InvalidValue(format!(
            "{kind} must not contain control characters"
        )));
    }
    if !ascii && let Some(found) = first_refused(value, is_invisible) {
        return Err(InvalidValue(format!(
            "{kind} must not contain invisible or direction-changing characters ({found})"
        )));
    }
    if value.trim() != value {
        return Err(InvalidValue(format!(
            "{kind} must not start or end with white space"
        )));
    }
    Ok(())
}

/// Names that policy defines (roles, permissions) are ASCII words: letters, digits and `_ . : -`,
/// starting with a letter or digit, at most 128 bytes.
fn validate_policy_name(kind: &str, value: &str) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue(format!("{kind} must not be empty")));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(InvalidValue(format!(
            "{kind} is {} bytes long; at most {MAX_NAME_BYTES} are allowed",
            value.len()
        )));
    }
    let first_is_alphanumeric = value.as_bytes()[0].is_ascii_alphanumeric();
    let all_allowed = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if !first_is_alphanumeric || !all_allowed {
        return Err(InvalidValue(format!(
            "{kind} {} may use only letters, digits and _ . : - and must start with a letter or digit",
            super::shown(value)
        )));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $validate:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates `value`.
            pub fn parse(value: &str) -> Result<Self, InvalidValue> {
                $validate($kind, value)?;
                Ok($name(Arc::from(value)))
            }

            /// Checks `value` without keeping it (no allocation, for the hot path).
            pub fn validate(value: &str) -> Result<(), InvalidValue> {
                $validate($kind, value)
            }

            /// The validated text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;
            fn try_from(value: String) -> Result<Self, InvalidValue> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0.to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:?}", &*self.0)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// A user id, from a verified token's `sub`.
    Subject,
    "subject",
    validate_identifier
);
impl Subject {
    /// The subject a [`SubjectRef`](super::check::SubjectRef) borrows, owned: its text was
    /// validated when the reference was made, so it is copied without checking again.
    pub(super) fn from_checked(subject: super::check::SubjectRef<'_>) -> Self {
        Subject(Arc::from(subject.as_str()))
    }
}

string_newtype!(
    /// A login session id, from a verified token's `sid`.
    SessionId,
    "session id",
    validate_identifier
);
string_newtype!(
    /// A group name, from a verified token's `groups`.
    GroupName,
    "group",
    validate_identifier
);
string_newtype!(
    /// A role name, defined in policy.
    RoleName,
    "role",
    validate_policy_name
);
string_newtype!(
    /// A permission name (e.g. `purchase_orders.approve`), carried by roles.
    Permission,
    "permission",
    validate_policy_name
);

/// Free text a person types (reasons, comments, tickets): at most `max_bytes`, no control
/// characters except line breaks and tabs, and no bidirectional overrides (which make text
/// read differently from what it says, in the CLI and the console alike). Direction marks
/// and other invisible characters are allowed: right-to-left text needs them, and free text
/// names nobody.
pub(crate) fn validate_free_text(
    kind: &str,
    value: &str,
    max_bytes: usize,
) -> Result<(), InvalidValue> {
    if value.len() > max_bytes {
        return Err(InvalidValue(format!(
            "{kind} is {} bytes long; at most {max_bytes} are allowed",
            value.len()
        )));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(InvalidValue(format!(
            "{kind} must not contain control characters"
        )));
    }
    if let Some(found) = first_refused(value, is_bidi_control) {
        return Err(InvalidValue(format!(
            "{kind} must not contain bidirectional override characters ({found})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_judged_alike_by_bytes_and_by_characters() {
        for b in 0u8..=127 {
            let c = char::from(b);
            assert_eq!(b.is_ascii_control(), c.is_control(), "byte {b:#04x}");
            assert!(
                !is_invisible(c),
                "no ASCII character is invisible: {b:#04x}"
            );
            let value = format!("fa{c}tma");
            assert_eq!(
                validate_identifier("subject", &value).is_ok(),
                !c.is_control(),
                "byte {b:#04x}"
            );
        }
        assert!(validate_identifier("subject", "fa\u{200B}tma").is_err());
        assert!(
            validate_identifier("subject", "fa\u{0085}tma").is_err(),
            "a control past ASCII"
        );
    }

    #[test]
    fn subjects_are_trimmed_printable_and_bounded() {
        assert!(Subject::parse("fatma").is_ok());
        assert!(Subject::parse("fatma@example.com").is_ok());
        assert!(Subject::parse("").is_err());
        assert!(Subject::parse(" fatma").is_err());
        assert!(Subject::parse("fat\u{0}ma").is_err());
        assert!(Subject::parse(&"x".repeat(257)).is_err());
    }

    #[test]
    fn identifiers_refuse_invisible_and_direction_changing_characters() {
        for sneaky in [
            "fa\u{200B}tma",
            "fatma\u{202E}",
            "\u{FEFF}fatma",
            "fa\u{2066}tma",
            "fa\u{00AD}tma",
            "fa\u{2060}tma",
        ] {
            let refused = Subject::parse(sneaky).unwrap_err();
            assert!(refused.0.contains("invisible"), "{sneaky:?}: {refused}");
            assert!(GroupName::parse(sneaky).is_err(), "{sneaky:?}");
            assert!(SessionId::parse(sneaky).is_err(), "{sneaky:?}");
        }
        assert!(
            Subject::parse("fa\u{200B}tma")
                .unwrap_err()
                .0
                .contains("U+200B at byte 2")
        );
        assert!(Subject::parse("Zoë Øster-Çelik").is_ok());
        assert!(Subject::parse("فاطمة").is_ok());
    }

    #[test]
    fn free_text_refuses_bidirectional_overrides_but_not_direction_marks() {
        assert!(validate_free_text("reason", "see \u{202E}txt.exe", 100).is_err());
        assert!(validate_free_text("reason", "see \u{2067}x", 100).is_err());
        assert!(validate_free_text("reason", "فاطمة\u{200F} PO 4711", 100).is_ok());
    }

    #[test]
    fn role_names_are_ascii_words() {
        assert!(RoleName::parse("admin_approver").is_ok());
        assert!(RoleName::parse("elevator:check").is_ok());
        assert!(RoleName::parse("_hidden").is_err());
        assert!(RoleName::parse("drop table;").is_err());
        assert!(Permission::parse("purchase_orders.approve").is_ok());
    }

    #[test]
    fn free_text_allows_line_breaks_but_not_other_controls() {
        assert!(validate_free_text("reason", "Q4 close\nsee ticket", 100).is_ok());
        assert!(validate_free_text("reason", "bell\u{7}", 100).is_err());
        assert!(validate_free_text("reason", "long", 3).is_err());
    }
}
