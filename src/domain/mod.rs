//! Plain types and pure rules: validated names, scopes and durations, attribute values, the
//! directory of known subjects and resources, the elevation state machine, grants, risk
//! signals, decisions and audit events. Nothing here does I/O or knows about protobuf or SQL;
//! every other layer builds on these types.

mod access;
mod access_request;
mod attributes;
pub(crate) mod audit;
pub(crate) mod audit_log;
pub(crate) mod break_glass;
mod callback_target;
mod check;
pub(crate) mod decision;
mod directory;
mod directory_view;
mod duration;
pub(crate) mod echo;
pub(crate) mod elevation;
pub(crate) mod grant;
mod grant_terms;
mod identity;
mod ids;
mod moment;
pub(crate) mod names;
pub(crate) mod review;
pub(crate) mod review_evidence;
pub(crate) mod risk;
pub(crate) mod scope;

pub use access::{
    AccessAction, AccessEntity, AccessQuery, SESSION_CONTEXT_KEY, default_resource_scope,
    escape_scope_name, session_from_context,
};
pub use access_request::{AccessRequestItem, AccessRequestRecord, RequestableDenial, TaskCallback};
pub use attributes::{Properties, Value};
pub use audit::{AuditAction, AuditEvent};
pub use audit_log::{Checkpoint, StoredAuditEvent};
pub use break_glass::{
    BreakGlassCheck, BreakGlassId, BreakGlassReview, BreakGlassUse, BreakGlassVerdict,
    MAX_BREAK_GLASS_CHECKS, ReviewState, Reviewers,
};
pub use callback_target::{
    CALLBACK_EVENT, CallbackRules, CallbackTarget, MAX_CALLBACK_URL_BYTES, is_internal,
};
pub use check::{CheckQuery, SubjectRef};
pub use decision::{Decision, DecisionReason};
pub use directory::{Directory, DirectoryProblems, Entity, EntityId, EntityKey, EntityType};
pub use directory_view::DirectoryView;
pub use duration::RequestedDuration;
pub(crate) use duration::{format_duration, parse_duration};
pub use echo::shown;
pub use elevation::{
    ApprovalStep, ApproverSpec, DelegationTerms, Elevation, ElevationRequest, ElevationState,
    ElevationStatus, RequesterSnapshot, TransitionError, Verdict, Vote,
};
pub use grant::{
    AcceptRefusal, AttenuationBreach, Delegation, DelegationHop, Grant, GrantSource, GrantStatus,
    Revocation, SessionBinding,
};
pub use grant_terms::{GrantRef, GrantTerms};
pub use identity::{Identity, StandingRole};
pub use ids::{ElevationId, GrantId};
pub use moment::{NotAMoment, Toward, parse_moment};
pub use names::{GroupName, InvalidValue, Permission, RoleName, SessionId, Subject};
pub use review::{
    Campaign, CampaignId, DeadlineDefault, DeadlineRule, ReviewChoice, ReviewDecision, ReviewItem,
    ReviewItemId, ReviewKind, ReviewTarget, ReviewVerdict, Reviewer,
};
pub use review_evidence::{EvidenceCheck, ReviewEvidence};
pub use risk::RiskSignal;
pub use scope::{Scope, ScopePattern};

/// A number that grows with every committed write that can change a decision.
pub type Revision = u64;
