//! The search endpoints: which subjects, resources or actions a question would permit. Each
//! candidate (the directory's entities of the type asked for; for actions, every permission
//! the policy gives a role) is asked as an evaluation, in a fixed order, so every result
//! evaluates to true when asked back (as long as nothing changed in between), and a failure
//! is no result (fail closed). One file per endpoint; paging in `page.rs`.

mod action;
mod page;
mod resource;
mod subject;

use std::future::Future;

use serde_json::{Value as Json, json};

use super::json::{self, Object, member};
use crate::service::ServiceError;
use page::{Page, PageRequest};

/// The first `limit` candidates from `request`'s place on that `permitted` allows, each
/// written by `result`, with the page that follows.
async fn search<C, F, Fut>(
    object: &Object,
    candidates: Vec<C>,
    mut permitted: F,
    result: impl Fn(&C) -> Json,
) -> Result<Json, ServiceError>
where
    F: FnMut(&C) -> Fut,
    Fut: Future<Output = bool>,
{
    let request = PageRequest::from_request(object)?;
    let mut results = Vec::new();
    let mut next = None;
    for (index, candidate) in candidates.iter().enumerate().skip(request.offset) {
        if !permitted(candidate).await {
            continue;
        }
        if results.len() == request.limit {
            next = Some(index);
            break;
        }
        results.push(result(candidate));
    }
    let page = Page {
        next_offset: next,
        count: results.len(),
    };
    let mut answer = json!({ "results": results });
    if request.paging || next.is_some() {
        answer["page"] = page.document(&request);
    }
    Ok(answer)
}

/// The member `field`, required for a search.
fn required<'a>(object: &'a Object, field: &str) -> Result<&'a Json, ServiceError> {
    member(object, field).ok_or_else(|| ServiceError::invalid(field, "is required"))
}

/// The context of a search (none: empty).
fn context(object: &Object) -> Result<crate::domain::Properties, ServiceError> {
    Ok(json::context(object, "")?.unwrap_or_default())
}
