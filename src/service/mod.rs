//! Use cases: request, extend, approve, deny, cancel, revoke, end a session, check, simulate,
//! report risk, read and replace policy, and the expiry sweep. Each takes the verified caller,
//! authorises it, decides through the pure domain functions, and writes through the store in one
//! transaction that carries its audit events. After a commit the local caches forget what
//! changed at once; other replicas learn it from the store's change feed.
//!
//! | module          | use cases |
//! | --------------- | --------- |
//! | [`assessment`]  | what policy says of a request, for a real request and the simulator |
//! | [`elevations`]  | request, extend, get, list, cancel |
//! | [`access_requests`] | AuthZEN access requests (tasks) as elevations: submit, read, cancel |
//! | [`access_request_binding`] | the bound question and binding token every edge's requestable denial carries |
//! | [`access_request_callbacks`] | a task's callback: checked at submission, posted through the outbox when the task ends |
//! | [`access_request_denials`] | requestable denials, approvals presented at re-evaluation |
//! | [`access_request_views`] | which elevations came through the profile, from which client and actors |
//! | [`audit`]       | list, stream and verify the audit log, signed heads, a grant's story |
//! | [`approvals`]   | the inbox, approve and deny, and what policy approves by itself |
//! | [`completion`]  | what completing a chain does: activation, extension, delegation, or denial |
//! | [`delegations`] | delegate a held role, list delegations |
//! | [`acceptance`]  | take up a delegation received, in the caller's session |
//! | [`grants`]      | revoke (with the cascade to delegated grants), list, end a session |
//! | [`checks`]      | Check, the Check simulator, risk signals |
//! | [`policies`]    | read, validate and replace the policy |
//! | [`directory`]   | put, delete, get, list and import directory entities |
//! | [`entity_bounds`] | the bounds a directory entity keeps, whichever edge it comes through |
//! | [`sweep`]       | what time alone moves on |
//! | [`reviews`]     | access review campaigns: start, list, decide, export signed evidence |
//! | [`watch`]       | streams of approval updates, tailing the audit log |
//! | [`break_glass`] | break glass: an emergency grant at once, under a policy entry |
//! | [`break_glass_review`] | list break-glass uses, their evidence, confirm or flag them |

mod acceptance;
mod access_request_binding;
mod access_request_callbacks;
mod access_request_denials;
mod access_request_views;
mod access_requests;
mod approvals;
mod assessment;
mod audit;
mod break_glass;
mod break_glass_review;
mod carried_grants;
mod checks;
mod completion;
pub mod context;
mod delegations;
mod directory;
mod elevations;
mod entitlements;
mod entity_bounds;
mod error;
mod grants;
mod login_sessions;
mod policies;
mod reviews;
mod reviews_build;
mod reviews_removal;
mod reviews_sweep;
mod search;
mod sweep;
mod vocabulary;
mod watch;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use crate::clock::SharedClock;
use crate::decision::Decider;
use crate::decision::log::DecisionLog;
use crate::domain::TransitionError;
use crate::domain::names::validate_free_text;
use crate::domain::{
    Elevation, ElevationId, Grant, GrantId, Identity, RequestedDuration, Revision, RoleName, Scope,
    SessionId, Subject,
};
use crate::store::{
    Change, Committed, Decide, ElevationContext, GrantContext, OutboxMessage, Store, StoreError,
};
use crate::telemetry::metrics::Metrics;

pub use access_request_binding::{
    ACCESS_REQUEST_OPT_IN, ACCESS_REQUEST_PATH, binding_audience, binding_token, bound_question,
};
pub use access_request_callbacks::{CALLBACK_EVENTS, MAX_CALLBACK_STATE_BYTES, SubmittedCallback};
pub use access_request_denials::{ApprovalStanding, DENIAL_LIFETIME, DenialOffer};
pub use access_request_views::ProfileOrigin;
pub(crate) use access_requests::profile_refusal;
pub use access_requests::{
    AccessRequestSubmission, AccessRequestTask, CLOCK_SKEW_TOLERANCE, DenialBinding,
    MAX_ACCESS_REQUEST_ITEMS, SubmittedItem, TaskItem, TaskStatus,
};
pub use assessment::{RequestAssessment, SimulatedRequester};
pub use audit::{AuditQuery, AuditSigner, ChainVerification, GrantTrail};
pub use break_glass::{BreakGlassOutcome, NewBreakGlass};
pub use break_glass_review::{BreakGlassEvidence, BreakGlassListing, BreakGlassView};
pub use checks::CheckSimulation;
pub use delegations::{DelegationView, NewDelegation};
pub use directory::{EntityPut, MAX_IMPORT_ENTITIES};
pub use entity_bounds::{MAX_ENTITY_ALIASES, MAX_ENTITY_GROUPS, MAX_ENTITY_ROLES, PropertyBudget};
pub use error::ServiceError;
// What a resource search takes and gives, named through the use cases for the edge.
pub use crate::decision::{ResourcePage, SearchWindow};
pub use carried_grants::MintedToken;
pub use reviews::{CampaignProgress, ItemSelection};
// What the edge needs of the policy, named through the use cases so that `api` and `console`
// never import `policy` (the architecture test in `src/architecture.rs` holds them to that).
pub use crate::policy::rules::RuleOutcome;
pub use crate::policy::{
    BreakGlassEntry, DelegationEntry, Eligibility, MAX_POLICY_BYTES, NotDelegable, PolicyProblems,
};
pub use watch::{ApprovalBatch, ApprovalUpdate, UpdateKind};

/// Longest reason or comment, in bytes.
pub(crate) const MAX_REASON_BYTES: usize = 1024;
/// Longest ticket reference, in bytes.
pub(crate) const MAX_TICKET_BYTES: usize = 256;
/// Longest idempotency key, in bytes.
pub(crate) const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;
/// Largest page of a listing.
pub(crate) const MAX_PAGE_SIZE: usize = 500;
/// Page size when none is asked for.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 50;
/// How far ahead a scheduled start may lie.
pub(crate) const MAX_SCHEDULE_AHEAD: TimeDelta = TimeDelta::days(30);
/// How far in the past a requested start may lie and still be taken as "now": clocks of
/// clients drift and a request spends time in flight. Further back, it is refused.
pub(crate) const PAST_START_TOLERANCE: TimeDelta = TimeDelta::seconds(60);
/// Longest time a risk signal may hold.
pub(crate) const MAX_RISK_TTL: TimeDelta = TimeDelta::days(7);

/// The roles that unlock service operations, from configuration.
#[derive(Debug, Clone)]
pub struct ServiceRoles {
    /// Policy enforcement points (Check).
    pub pep: String,
    /// Administrators (any elevation, any grant, policy).
    pub admin: String,
    /// Risk engines (ReportRiskSignal).
    pub risk_reporter: String,
    /// Auditors (the whole audit log).
    pub auditor: String,
}

impl Default for ServiceRoles {
    fn default() -> Self {
        ServiceRoles {
            pep: "elevator:check".into(),
            admin: "elevator:admin".into(),
            risk_reporter: "elevator:risk".into(),
            auditor: "elevator:auditor".into(),
        }
    }
}

/// A request for a role, as the caller sent it (already well-formed).
#[derive(Debug, Clone)]
pub struct NewElevation {
    /// The role.
    pub role: RoleName,
    /// The scope.
    pub scope: Scope,
    /// The access window's length.
    pub duration: RequestedDuration,
    /// Why.
    pub reason: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// Makes a repeated request return the first elevation.
    pub idempotency_key: Option<String>,
    /// A planned start.
    pub not_before: Option<DateTime<Utc>>,
}

/// A risk signal, as the risk engine sent it.
#[derive(Debug, Clone)]
pub struct NewRiskSignal {
    /// Whom it is about.
    pub subject: Subject,
    /// Which session; `None` for all.
    pub session: Option<SessionId>,
    /// 0 to 100.
    pub score: u32,
    /// Flags.
    pub flags: Vec<String>,
    /// Reporting engine; defaults to the caller.
    pub source: String,
    /// How long it holds.
    pub ttl: RequestedDuration,
}

/// The result of a write that concerns an elevation.
#[derive(Debug, Clone)]
pub struct ElevationOutcome {
    /// The elevation after the write.
    pub elevation: Elevation,
    /// The grant the write created, if any.
    pub grant: Option<Grant>,
    /// The committed revision.
    pub revision: Revision,
}

/// A page of results.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Token for the next page; `None` on the last.
    pub next_page_token: Option<String>,
}

/// The use cases, over one store and one decider.
pub struct Elevator {
    store: Arc<dyn Store>,
    decider: Arc<Decider>,
    clock: SharedClock,
    roles: ServiceRoles,
    signer: AuditSigner,
    decision_log: Option<Arc<DecisionLog>>,
    metrics: Arc<Metrics>,
    callback_rules: crate::domain::CallbackRules,
}

fn check_text(field: &str, value: &str, max_bytes: usize) -> Result<(), ServiceError> {
    validate_free_text(field, value, max_bytes)
        .map_err(|error| ServiceError::invalid(field, error.0))
}

fn page_size(requested: u32) -> usize {
    match requested as usize {
        0 => DEFAULT_PAGE_SIZE,
        size => size.min(MAX_PAGE_SIZE),
    }
}

fn page_token(token: &str) -> Result<Option<ElevationId>, ServiceError> {
    if token.is_empty() {
        return Ok(None);
    }
    ElevationId::parse(token)
        .map(Some)
        .map_err(|_| ServiceError::invalid("page_token", "not a token returned by this listing"))
}

impl Elevator {
    /// The use cases over `store` and `decider`.
    pub fn new(
        store: Arc<dyn Store>,
        decider: Arc<Decider>,
        clock: SharedClock,
        roles: ServiceRoles,
        signer: AuditSigner,
        metrics: Arc<Metrics>,
    ) -> Self {
        Elevator {
            store,
            decider,
            clock,
            roles,
            signer,
            metrics,
            decision_log: None,
            callback_rules: crate::domain::CallbackRules::default(),
        }
    }

    /// Logs Check decisions to `log` (every deny, a sample of allows), off the hot path.
    pub fn with_decision_log(mut self, log: Arc<DecisionLog>) -> Self {
        self.decision_log = Some(log);
        self
    }

    /// The decider (hot path).
    pub fn decider(&self) -> &Arc<Decider> {
        &self.decider
    }

    /// The version of the policy deciding now (0 until one is loaded), for readiness.
    pub fn policy_version(&self) -> u64 {
        self.decider.policy().version()
    }

    /// Whether the change feed is listening (decisions follow other replicas' writes), for
    /// readiness.
    pub fn change_feed_listening(&self) -> bool {
        self.decider.freshness().is_listening()
    }

    /// The configured service roles.
    pub fn roles(&self) -> &ServiceRoles {
        &self.roles
    }

    fn is_admin(&self, caller: &Identity) -> bool {
        caller.has_role(&self.roles.admin)
    }

    /// Acting for another subject than the caller needs the admin role; `what` names the act
    /// in the refusal.
    fn may_act_for(
        &self,
        caller: &Identity,
        subject: &Subject,
        what: &str,
    ) -> Result<(), ServiceError> {
        if *subject == caller.subject || self.is_admin(caller) {
            return Ok(());
        }
        Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!("{what} needs the {:?} role", self.roles.admin),
        ))
    }

    fn require_role(&self, caller: &Identity, role: &str, what: &str) -> Result<(), ServiceError> {
        if caller.has_role(role) {
            return Ok(());
        }
        Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!("{what} needs the {role:?} role in the caller's token"),
        ))
    }

    /// `change` made ready to commit: its audit events stamped with the request being served,
    /// and a webhook delivery for each event the policy's webhooks announce, so the deliveries
    /// commit (or not) with the change.
    fn ready_to_commit(&self, mut change: Change) -> Change {
        if let Some(request) = context::current() {
            for event in &mut change.events {
                event.request_id = Some(request.request_id.clone());
                event.trace_id = request.trace_id.clone();
            }
        }
        let policy = self.decider.policy();
        for event in &change.events {
            let kind = event.action.as_str();
            for webhook in policy.webhooks().iter().filter(|hook| hook.announces(kind)) {
                change.outbox.push(OutboxMessage {
                    url: webhook.url.clone(),
                    event_kind: kind.to_owned(),
                    payload: serde_json::to_value(event).unwrap_or_default(),
                    created_at: event.at,
                });
            }
        }
        change
    }

    /// A decision that also announces what it decides (see [`Elevator::ready_to_commit`]).
    fn ready_to_commit_when_decided<'a, C>(
        &'a self,
        decide: Decide<'a, C>,
    ) -> impl Fn(C) -> Result<Change, TransitionError> + Send + Sync + 'a {
        move |context| decide(context).map(|change| self.ready_to_commit(change))
    }

    /// Decides and commits a change to elevation `id` under its lock, announced and made
    /// visible locally: every service write to one elevation goes through here.
    async fn commit_to_elevation(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
        decide: Decide<'_, ElevationContext>,
    ) -> Result<Committed, StoreError> {
        let watches = self.callback_watches(id).await?;
        let decide = access_request_callbacks::announcing_task_ends(&watches, id, now, decide);
        let committed = self
            .store
            .update_elevation(id, now, &self.ready_to_commit_when_decided(&decide))
            .await?;
        self.after_commit(&committed).await;
        Ok(committed)
    }

    /// Decides and commits a change to grant `id` under its lock, announced and made visible
    /// locally: every service write to one grant goes through here.
    async fn commit_to_grant(
        &self,
        id: GrantId,
        decide: Decide<'_, GrantContext>,
    ) -> Result<Committed, StoreError> {
        let committed = self
            .store
            .update_grant(id, &self.ready_to_commit_when_decided(decide))
            .await?;
        self.after_commit(&committed).await;
        Ok(committed)
    }

    /// Makes a commit visible locally at once. (A new policy the commit stored is put in force
    /// by its writer, [`Elevator::put_policy_as`], which compiled it before the commit.)
    async fn after_commit(&self, committed: &Committed) {
        if committed.change.is_empty() {
            return;
        }
        self.decider
            .forget(&committed.change.affected_subjects(), committed.revision)
            .await;
        if !committed.change.directory.is_empty() {
            // A refresh reads the store (the whole directory when this replica's snapshot is
            // behind): the write's caller does not wait for it. A Check demanding this
            // revision does (the feed advances the known revision only after the refresh its
            // announcement starts).
            let decider = self.decider.clone();
            let revision = committed.revision;
            let keys = committed.change.directory_keys();
            tokio::spawn(async move { decider.refresh_stored_directory(revision, &keys).await });
        }
    }
}
