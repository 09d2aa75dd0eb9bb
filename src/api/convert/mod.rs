//! Proto <-> domain conversion, only here at the edge: requests become domain values
//! ([`requests`]: `TryFrom`, validating every field and naming it when it is wrong); domain
//! values become proto messages ([`responses`]: plain functions). Directory entities go both
//! ways in [`directory`].

mod access;
mod access_request;
mod directory;
mod requests;
mod responses;

pub(crate) use access::asks_in_access_form;
pub(crate) use access_request::{access_request_hint, bound_check};
pub(crate) use directory::{directory_entity, entity, entity_name};
pub(crate) use requests::{
    audit_query, checkpoint, delegation_view, elevation_id, grant_id, non_empty, optional,
    optional_timestamp, required, required_duration, risk_override, simulated_requester,
    state_filter,
};
pub(crate) use responses::{
    approval_batch, audit_event, check_response, check_simulation, elevation, elevation_reply,
    grant, page, signed_head, simulation,
};
pub use responses::{duration, timestamp};
