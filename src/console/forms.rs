//! What the console reads from a request besides its path: `application/x-www-form-urlencoded`
//! bodies and query strings, and cookies. Hand-parsed (a few lines) rather than a crate, and
//! strict: a field given twice, or not UTF-8, is refused rather than guessed at.

use std::collections::HashMap;

/// Fields of a form or query string, by name.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(HashMap<String, String>);

/// Why a form could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadForm(pub(crate) String);

impl Fields {
    /// Parses `name=value&...` (percent-encoded, `+` for space).
    pub(crate) fn parse(encoded: &str) -> Result<Fields, BadForm> {
        let mut fields = HashMap::new();
        for pair in encoded.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            let value = decode(value)?;
            if fields.insert(name.clone(), value).is_some() {
                return Err(BadForm(format!("the field {name:?} is given twice")));
            }
        }
        Ok(Fields(fields))
    }

    /// A field, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.get(name).map(|value| value.trim()).unwrap_or("")
    }

    /// A field exactly as sent (for documents whose whitespace matters).
    pub(crate) fn raw(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }

    /// A field, `None` when absent or empty.
    pub(crate) fn optional(&self, name: &str) -> Option<&str> {
        Some(self.get(name)).filter(|value| !value.is_empty())
    }
}

fn decode(text: &str) -> Result<String, BadForm> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let hex = text
                    .get(index + 1..index + 3)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| BadForm("a malformed percent escape".into()))?;
                decoded.push(hex);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| BadForm("the form is not UTF-8".into()))
}

/// Percent-encodes `text` for a query string.
pub(crate) fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_refuse_what_is_ambiguous() {
        let fields =
            Fields::parse("role=admin_approver&scope=Org%3AProcurement&reason=Q4+close").unwrap();
        assert_eq!(fields.get("scope"), "Org:Procurement");
        assert_eq!(fields.get("reason"), "Q4 close");
        assert_eq!(fields.get("missing"), "");
        assert!(Fields::parse("a=1&a=2").is_err());
        assert!(Fields::parse("a=%zz").is_err());
        assert!(Fields::parse("a=%ff").is_err());
        assert_eq!(
            Fields::parse(&format!("x={}", encode("a b/&é")))
                .unwrap()
                .get("x"),
            "a b/&é"
        );
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "other=1; elevator_console=abc.def; elevator_console_login=n";
        assert_eq!(cookie(header, "elevator_console"), Some("abc.def"));
        assert_eq!(cookie(header, "elevator_console_login"), Some("n"));
        assert_eq!(cookie(header, "missing"), None);
    }
}
