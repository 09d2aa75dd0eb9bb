//! Printing results as text for people or JSON for scripts.

mod break_glass;
mod directory;
mod json;
mod names;
mod printer;
mod reviews;
mod status;

pub(super) use json::{audit_event_json, signed_head_from_json, signed_head_json};
pub(super) use printer::Printer;
pub(super) use status::describe_status;
