//! Plain types and pure rules: validated names, scopes and durations, the elevation state
//! machine, grants, risk signals, decisions and audit events. Nothing here does I/O or knows
//! about protobuf or SQL; every other layer builds on these types.

pub mod audit;
pub mod audit_log;
pub mod check;
pub mod decision;
pub mod duration;
pub mod echo;
pub mod elevation;
pub mod grant;
pub mod identity;
pub mod ids;
mod moment;
pub mod names;
pub mod risk;
pub mod scope;

pub use audit::{AuditAction, AuditEvent};
pub use audit_log::{Checkpoint, StoredAuditEvent};
pub use check::CheckQuery;
pub use decision::{Decision, DecisionReason};
pub use duration::{RequestedDuration, format_duration, parse_duration};
pub use echo::shown;
pub use elevation::{
    ApprovalStep, ApproverSpec, DelegationTerms, Elevation, ElevationState, RequesterSnapshot,
    TransitionError, Verdict, Vote,
};
pub use grant::{
    AcceptRefusal, AttenuationBreach, Delegation, DelegationHop, Grant, GrantStatus, Revocation,
    SessionBinding,
};
pub use identity::{Identity, StandingRole};
pub use ids::{ElevationId, GrantId};
pub use moment::{NotAMoment, Toward, parse_moment};
pub use names::{GroupName, InvalidValue, Permission, RoleName, SessionId, Subject};
pub use risk::RiskSignal;
pub use scope::{Scope, ScopePattern};

/// A number that grows with every committed write that can change a decision.
pub type Revision = u64;
