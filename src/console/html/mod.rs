//! The console's HTML, apart from the handlers that decide what to show: `common` holds what
//! every page shares (escaping, the frame, table heads, the CSRF field, responses),
//! `fragments` the pieces several pages render, and one file per page renders that page's body
//! from values its handler in `console::pages` loaded.

mod common;
mod fragments;
mod profile_origin;

pub(crate) mod approvals;
pub(crate) mod audit;
pub(crate) mod break_glass;
pub(crate) mod directory;
pub(crate) mod elevations;
pub(crate) mod grants;
pub(crate) mod login;
pub(crate) mod policy;
pub(crate) mod refusal;
pub(crate) mod request;
pub(crate) mod reviews;
pub(crate) mod simulator;

pub use common::Page;
pub(crate) use common::{
    SCRIPT, STYLESHEET, Viewer, document, esc, html, notice, plain, respond, see_other, when,
};
pub(crate) use fragments::assessment;
