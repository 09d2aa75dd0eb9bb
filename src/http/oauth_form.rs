//! What the OAuth endpoints read and write: `application/x-www-form-urlencoded` request
//! bodies (strict: a parameter given twice, or not UTF-8, is refused, as RFC 6749 §3.2 asks)
//! and the RFC 6749 §5.2 error answer (`{"error": ..., "error_description": ...}`), which is
//! what OAuth clients read instead of a problem document.

use std::collections::HashMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;

use crate::domain::echo::bounded;

/// Longest `error_description`, in bytes.
const MAX_DESCRIPTION_BYTES: usize = 512;

/// Most parameters in one form.
const MAX_PARAMETERS: usize = 32;

/// An OAuth error answer: its code and what to fix.
#[derive(Debug, Clone)]
pub(super) struct OAuthError {
    /// `invalid_request`, `invalid_client`, `invalid_target`, `invalid_scope`, ...
    pub(super) code: &'static str,
    /// What is wrong, never echoing unbounded input.
    pub(super) description: String,
}

impl OAuthError {
    /// An error with `code`.
    pub(super) fn new(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
        }
    }

    /// `invalid_request`.
    pub(super) fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new("invalid_request", description)
    }

    /// The answer: `401` with a challenge for `invalid_client`, `500` for `server_error`,
    /// `400` for the rest.
    pub(super) fn response(&self) -> Response<Full<Bytes>> {
        let status = match self.code {
            "invalid_client" => StatusCode::UNAUTHORIZED,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = json!({
            "error": self.code,
            "error_description": bounded(&self.description, MAX_DESCRIPTION_BYTES),
        });
        let mut answer = no_store_json(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            answer.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"elevator\""),
            );
        }
        answer
    }
}

/// `body` as JSON with `status`, marked never to be cached (RFC 6749 §5.1).
pub(super) fn no_store_json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() = status;
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    answer
}

/// Refuses a body not declared `application/x-www-form-urlencoded`.
pub(super) fn form_content_type(headers: &HeaderMap) -> Result<(), OAuthError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = declared.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Ok(());
    }
    Err(OAuthError::invalid_request(
        "send the parameters form-encoded, with Content-Type: application/x-www-form-urlencoded",
    ))
}

/// The parameters of a form body, by name.
#[derive(Debug, Default)]
pub(super) struct Form(HashMap<String, String>);

impl Form {
    /// Parses `name=value&...` (percent-encoded, `+` for space).
    pub(super) fn parse(body: &[u8]) -> Result<Form, OAuthError> {
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the form is not UTF-8"))?;
        let mut parameters = HashMap::new();
        for pair in text.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = decode(name)?;
            if parameters.len() == MAX_PARAMETERS {
                return Err(OAuthError::invalid_request(format!(
                    "at most {MAX_PARAMETERS} parameters"
                )));
            }
            if parameters.insert(name.clone(), decode(value)?).is_some() {
                return Err(OAuthError::invalid_request(format!(
                    "the parameter {} is given twice",
                    crate::domain::shown(&name)
                )));
            }
        }
        Ok(Form(parameters))
    }

    /// A parameter, `None` when absent or empty (RFC 6749 §3.2: empty means omitted).
    pub(super) fn optional(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    /// A parameter that must be given.
    pub(super) fn required(&self, name: &str) -> Result<&str, OAuthError> {
        self.optional(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is required")))
    }
}

fn decode(text: &str) -> Result<String, OAuthError> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => decoded.push(b' '),
            b'%' => {
                let byte = text
                    .get(index + 1..index + 3)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| OAuthError::invalid_request("a malformed percent escape"))?;
                decoded.push(byte);
                index += 2;
            }
            byte => decoded.push(byte),
        }
        index += 1;
    }
    String::from_utf8(decoded).map_err(|_| OAuthError::invalid_request("the form is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_refuse_what_is_ambiguous() {
        let form = Form::parse(b"scope=a%40Org%3AX&audience=orders+api&empty=").unwrap();
        assert_eq!(form.optional("scope"), Some("a@Org:X"));
        assert_eq!(form.optional("audience"), Some("orders api"));
        assert_eq!(form.optional("empty"), None);
        assert!(form.required("empty").is_err());
        assert!(Form::parse(b"a=1&a=2").is_err());
        assert!(Form::parse(b"a=%zz").is_err());
        assert!(Form::parse(b"a=%ff").is_err());
        let many: String = (0..40).map(|i| format!("p{i}=1&")).collect();
        assert!(Form::parse(many.as_bytes()).is_err());
    }
}
