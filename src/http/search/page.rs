//! Paging of search results: a request's `page.limit` (default [`DEFAULT_LIMIT`], at most
//! [`MAX_LIMIT`]) and `page.token`, an opaque `next_token` from the previous answer. A token
//! holds the place to go on from and a fingerprint of the request it came from, so a request
//! that changed mid-way (another subject, another limit) is refused rather than answered with
//! a page of something else.

use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use super::super::json::{Object, as_object, member};
use crate::service::ServiceError;

/// Results per page when the request says nothing.
pub(super) const DEFAULT_LIMIT: usize = 100;
/// Most results per page.
pub(super) const MAX_LIMIT: usize = 1000;

/// Where a search starts and how much it returns.
#[derive(Debug)]
pub(super) struct PageRequest {
    /// The candidate to start at.
    pub(super) offset: usize,
    /// Most results.
    pub(super) limit: usize,
    /// Whether the request had a `page` object.
    pub(super) paging: bool,
    /// The request's fingerprint.
    fingerprint: String,
}

/// What a page says about the rest.
pub(super) struct Page {
    /// The candidate the next page starts at; `None` on the last page.
    pub(super) next_offset: Option<usize>,
    /// Results on this page.
    pub(super) count: usize,
}

impl Page {
    /// The `page` object of an answer.
    pub(super) fn document(&self, request: &PageRequest) -> Json {
        let next_token = self
            .next_offset
            .map(|offset| format!("{offset}.{}", request.fingerprint))
            .unwrap_or_default();
        json!({ "next_token": next_token, "count": self.count })
    }
}

impl PageRequest {
    /// Reads `page` from the request.
    pub(super) fn from_request(object: &Object) -> Result<PageRequest, ServiceError> {
        let page = member(object, "page")
            .map(|page| as_object(page, "page"))
            .transpose()?;
        let limit = match page.and_then(|page| member(page, "limit")) {
            None => DEFAULT_LIMIT,
            Some(value) => match value.as_u64() {
                Some(0) | None => {
                    return Err(ServiceError::invalid(
                        "page.limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    ));
                }
                Some(limit) => (limit as usize).min(MAX_LIMIT),
            },
        };
        let fingerprint = fingerprint(object, limit);
        let offset = match page.and_then(|page| member(page, "token")) {
            None => 0,
            Some(Json::String(token)) if token.is_empty() => 0,
            Some(Json::String(token)) => offset_of(token, &fingerprint)?,
            Some(_) => return Err(ServiceError::invalid("page.token", "must be a string")),
        };
        Ok(PageRequest {
            offset,
            limit,
            paging: page.is_some(),
            fingerprint,
        })
    }
}

/// The place a token holds, if it was given for this very request.
fn offset_of(token: &str, fingerprint: &str) -> Result<usize, ServiceError> {
    let refused = || {
        ServiceError::invalid(
            "page.token",
            "is not a next_token this decision point gave for this request: send the same \
             subject, action, resource, context and limit as the request that returned it",
        )
    };
    let (offset, from) = token.split_once('.').ok_or_else(refused)?;
    if from != fingerprint {
        return Err(refused());
    }
    offset.parse().map_err(|_| refused())
}

/// A digest of everything in the request but the page token, and the limit.
fn fingerprint(object: &Object, limit: usize) -> String {
    let mut without_page = object.clone();
    without_page.remove("page");
    let mut digest = Sha256::new();
    digest.update(Json::Object(without_page).to_string().as_bytes());
    digest.update(limit.to_le_bytes());
    digest.finalize()[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(text: &str) -> Object {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn a_token_only_continues_the_request_it_was_given_for() {
        let first = object(r#"{"subject": {"type": "user"}, "page": {"limit": 2}}"#);
        let request = PageRequest::from_request(&first).unwrap();
        let token = Page {
            next_offset: Some(5),
            count: 2,
        }
        .document(&request)["next_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let next = object(&format!(
            r#"{{"subject": {{"type": "user"}}, "page": {{"limit": 2, "token": "{token}"}}}}"#
        ));
        assert_eq!(PageRequest::from_request(&next).unwrap().offset, 5);
        let changed = object(&format!(
            r#"{{"subject": {{"type": "group"}}, "page": {{"limit": 2, "token": "{token}"}}}}"#
        ));
        assert!(PageRequest::from_request(&changed).is_err());
        let other_limit = object(&format!(
            r#"{{"subject": {{"type": "user"}}, "page": {{"token": "{token}"}}}}"#
        ));
        assert!(PageRequest::from_request(&other_limit).is_err());
        assert!(PageRequest::from_request(&object(r#"{"page": {"token": "7.x"}}"#)).is_err());
    }

    #[test]
    fn limits_are_whole_numbers_bounded_by_the_maximum() {
        let limit = |text: &str| PageRequest::from_request(&object(text)).map(|r| r.limit);
        assert_eq!(limit("{}").unwrap(), DEFAULT_LIMIT);
        assert_eq!(limit(r#"{"page": {"limit": 5000}}"#).unwrap(), MAX_LIMIT);
        assert!(limit(r#"{"page": {"limit": 0}}"#).is_err());
        assert!(limit(r#"{"page": {"limit": -1}}"#).is_err());
        assert!(limit(r#"{"page": {"limit": "2"}}"#).is_err());
    }
}
