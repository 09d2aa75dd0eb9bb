//! One handler per console page or action, one file per page: read the form through
//! `console::input` (naming any bad field), call one use case with the caller's verified
//! identity, and hand what it returned to the page's renderer in `console::html` (or redirect
//! after a successful POST). Refusals come back as the use case's error; `refused` shows it
//! with its stable code and the HTTP status that matches it.

mod approvals;
mod audit;
mod break_glass;
mod directory;
mod elevations;
mod grants;
mod policy;
mod refused;
mod request;
mod reviews;
mod simulator;

pub(crate) use directory::entity_link;

use http::StatusCode;

use super::html::{Page, document, html};
use super::{Caller, Console};
use crate::service::ServiceError;

/// What a handler answers: a page, or the use case's refusal.
type Handled = Result<Page, ServiceError>;

impl Console {
    /// `body` in the page frame, titled `title`, with `current` marked in the navigation.
    fn page(&self, caller: &Caller, title: &str, current: &str, body: &str) -> Page {
        html(
            StatusCode::OK,
            document(title, current, Some(&caller.viewer()), body),
        )
    }
}
