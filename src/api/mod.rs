//! The gRPC edge: tonic services for `elevator.v1`, plus health and reflection. Handlers are
//! thin: authenticate the caller, convert the request into domain values (naming any bad
//! field), call one use case, convert the result back; errors become statuses through
//! `From<ServiceError> for Status` ([`status`]), so handlers use `?`. One file per service;
//! Envoy's `ext_authz` protocol is served from [`ext_authz`] on the same decision path.

mod approval_service;
mod audit_service;
mod break_glass_service;
mod check_service;
pub mod context;
pub mod convert;
mod directory_service;
mod elevation_service;
pub mod ext_authz;
mod handlers;
pub mod limits;
mod policy_service;
mod review_service;
mod status;
pub(crate) mod too_large;

pub use handlers::{Api, Services};
