//! The search endpoints: which subjects, resources or actions a question would permit. Each
//! candidate (the directory's entities of the type asked for, read from its index by type;
//! for actions, every permission the policy gives a role) is decided as an evaluation, in a
//! fixed order, so every result evaluates to true when asked back (as long as nothing changed
//! in between), and a failure is no result (fail closed). A search stops once its page is
//! full; its `next_token` holds the place to go on from. A search is one decision-log line,
//! not one per candidate. One file per endpoint; paging in `page.rs`. A resource search is
//! decided in one pass by the use case (`Elevator::search_resources`); subject and action
//! searches ask each candidate in turn.

mod action;
mod page;
mod resource;
mod subject;

use std::future::Future;

use serde_json::{Value as Json, json};

use super::json::{self, Object, member};
use crate::service::ServiceError;
use page::{Page, PageRequest};

/// The first `request.limit` candidates from `request`'s place on that `permitted` allows,
/// each written by `result`, and the place of the next page's first result, if any.
async fn search<C, F, Fut>(
    request: &PageRequest,
    candidates: impl Iterator<Item = C>,
    mut permitted: F,
    result: impl Fn(&C) -> Json,
) -> (Vec<Json>, Option<usize>)
where
    F: FnMut(&C) -> Fut,
    Fut: Future<Output = bool>,
{
    let mut results = Vec::new();
    for (index, candidate) in candidates.enumerate().skip(request.offset) {
        if !permitted(&candidate).await {
            continue;
        }
        if results.len() == request.limit {
            return (results, Some(index));
        }
        results.push(result(&candidate));
    }
    (results, None)
}

/// The answer of a search: its results, and the `page` object when the request had one or
/// more results follow.
fn answer(request: &PageRequest, results: Vec<Json>, next_offset: Option<usize>) -> Json {
    let page = Page {
        next_offset,
        count: results.len(),
    };
    let mut answer = json!({ "results": results });
    if request.paging || next_offset.is_some() {
        answer["page"] = page.document(request);
    }
    answer
}

/// The member `field`, required for a search.
fn required<'a>(object: &'a Object, field: &str) -> Result<&'a Json, ServiceError> {
    member(object, field).ok_or_else(|| ServiceError::invalid(field, "is required"))
}

/// The context of a search (none: empty).
fn context(object: &Object) -> Result<crate::domain::Properties, ServiceError> {
    Ok(json::context(object, "")?.unwrap_or_default())
}
