//! Use cases: request, approve, deny, cancel, revoke, end a session, check, report risk, read
//! and replace policy, and the expiry sweep. Each takes the verified caller, authorises it,
//! decides through the pure domain functions, and writes through the store in one transaction
//! that carries its audit events. After a commit the local caches forget what changed at once;
//! other replicas learn it from the store's change feed.

mod error;

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::clock::SharedClock;
use crate::decision::{CheckQuery, Decider};
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::names::validate_free_text;
use crate::domain::{
    AuditAction, AuditEvent, Decision, Elevation, ElevationId, ElevationState, Grant, GrantId,
    Identity, RequesterSnapshot, Revision, Revocation, RiskSignal, RoleName, Scope, SessionId,
    StandingRole, Subject, TransitionError, Verdict, format_duration,
};
use crate::policy::{Ineligible, Policy, PolicyProblems};
use crate::store::{
    Change, Committed, Created, ElevationContext, ElevationFilter, GrantContext, NewPolicy, Store,
    StoredPolicy,
};

pub use error::ServiceError;

/// Longest reason or comment, in bytes.
pub const MAX_REASON_BYTES: usize = 1024;
/// Longest ticket reference, in bytes.
pub const MAX_TICKET_BYTES: usize = 256;
/// Longest idempotency key, in bytes.
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;
/// Largest page of a listing.
pub const MAX_PAGE_SIZE: usize = 500;
/// Page size when none is asked for.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// How far ahead a scheduled start may lie.
pub const MAX_SCHEDULE_AHEAD: TimeDelta = TimeDelta::days(30);
/// Longest time a risk signal may hold.
pub const MAX_RISK_TTL: TimeDelta = TimeDelta::days(7);

/// The roles that unlock service operations, from configuration.
#[derive(Debug, Clone)]
pub struct ServiceRoles {
    /// Policy enforcement points (Check).
    pub pep: String,
    /// Administrators (any elevation, any grant, policy).
    pub admin: String,
    /// Risk engines (ReportRiskSignal).
    pub risk_reporter: String,
}

impl Default for ServiceRoles {
    fn default() -> Self {
        ServiceRoles {
            pep: "elevator:check".into(),
            admin: "elevator:admin".into(),
            risk_reporter: "elevator:risk".into(),
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
    pub duration: TimeDelta,
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
    pub ttl: TimeDelta,
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
    ) -> Self {
        Elevator {
            store,
            decider,
            clock,
            roles,
        }
    }

    /// The decider (hot path).
    pub fn decider(&self) -> &Arc<Decider> {
        &self.decider
    }

    /// The configured service roles.
    pub fn roles(&self) -> &ServiceRoles {
        &self.roles
    }

    fn is_admin(&self, caller: &Identity) -> bool {
        caller.has_role(&self.roles.admin)
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

    /// Makes a commit visible locally at once.
    async fn after_commit(&self, committed: &Committed) {
        if committed.change.is_empty() {
            return;
        }
        self.decider
            .forget(&committed.change.affected_subjects(), committed.revision)
            .await;
        if let Some(policy) = &committed.change.policy
            && let Ok(compiled) = Policy::parse(&policy.source, policy.version)
        {
            self.decider.set_policy(Arc::new(compiled));
        }
    }

    // ----- elevations ---------------------------------------------------------------------

    /// Asks for a role on a scope for a time.
    pub async fn request_elevation(
        &self,
        caller: &Identity,
        request: NewElevation,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("reason", &request.reason, MAX_REASON_BYTES)?;
        if let Some(ticket) = &request.ticket {
            check_text("ticket", ticket, MAX_TICKET_BYTES)?;
        }
        if let Some(key) = &request.idempotency_key {
            check_text("idempotency_key", key, MAX_IDEMPOTENCY_KEY_BYTES)?;
        }
        let now = self.clock.now();
        let policy = self.decider.policy();
        let entry = policy
            .eligibility_for(caller, &request.role, &request.scope)
            .map_err(|ineligible| {
                ineligible_error(&policy, &request.role, &request.scope, ineligible)
            })?;

        if request.duration <= TimeDelta::zero() {
            return Err(ServiceError::invalid(
                "duration",
                "must be longer than zero",
            ));
        }
        if request.duration > entry.max_duration {
            return Err(ServiceError::invalid(
                "duration",
                format!(
                    "{} exceeds the maximum of {} for {} on this scope",
                    format_duration(request.duration),
                    format_duration(entry.max_duration),
                    request.role
                ),
            ));
        }
        if entry.require_reason && request.reason.trim().is_empty() {
            return Err(ServiceError::invalid(
                "reason",
                "policy requires a reason for this role",
            ));
        }
        if entry.require_ticket
            && request
                .ticket
                .as_deref()
                .is_none_or(|t| t.trim().is_empty())
        {
            return Err(ServiceError::invalid(
                "ticket",
                "policy requires a ticket for this role",
            ));
        }
        let session = if entry.session_bound {
            Some(caller.session.clone().ok_or_else(|| {
                ServiceError::precondition(
                    "SESSION_REQUIRED",
                    "this role is bound to a login session, but the token has no sid claim",
                )
            })?)
        } else {
            None
        };
        let not_before = match request.not_before {
            Some(start) if start > now + MAX_SCHEDULE_AHEAD => {
                return Err(ServiceError::invalid(
                    "not_before",
                    format!(
                        "may lie at most {} ahead",
                        format_duration(MAX_SCHEDULE_AHEAD)
                    ),
                ));
            }
            Some(start) if start > now => Some(start),
            _ => None,
        };

        let elevation = Elevation {
            id: ElevationId::generate(),
            requester: caller.subject.clone(),
            session,
            role: request.role.clone(),
            scope: request.scope.clone(),
            duration: request.duration,
            reason: request.reason.clone(),
            ticket: request.ticket.clone().filter(|t| !t.is_empty()),
            state: ElevationState::Pending,
            state_reason: "waiting for approval".into(),
            created_at: now,
            updated_at: now,
            request_expires_at: now + entry.request_ttl,
            not_before,
            steps: entry.steps.clone(),
            votes: Vec::new(),
            requester_claims: RequesterSnapshot {
                groups: caller.groups.clone(),
                manager: caller.manager.clone(),
            },
            policy_version: policy.version(),
            grant_id: None,
            idempotency_key: request.idempotency_key.clone(),
        };
        let mut change = Change::default();
        change.events.push(
            AuditEvent::for_elevation(
                AuditAction::ElevationRequested,
                caller.subject.as_str(),
                &elevation,
                policy.version(),
                now,
            )
            .with_reason(&elevation.reason)
            .with_details(json!({
                "duration": format_duration(elevation.duration),
                "eligibility": entry.index,
                "steps": elevation.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            })),
        );
        if elevation.steps.is_empty() {
            let mut approved = elevation;
            approved.state = ElevationState::Approved;
            approved.state_reason = "no approval required by policy".into();
            change.events.push(AuditEvent::for_elevation(
                AuditAction::ElevationApproved,
                SYSTEM_ACTOR,
                &approved,
                policy.version(),
                now,
            ));
            change.merge(activation(&approved, &policy, now)?);
        } else {
            change.elevations.push(elevation);
        }

        let idempotency = request
            .idempotency_key
            .clone()
            .map(|key| (caller.subject.clone(), key));
        match self.store.create_elevation(change, idempotency).await? {
            Created::New(committed) => {
                self.after_commit(&committed).await;
                let elevation = committed.change.elevations[0].clone();
                let grant = committed.change.grants.first().cloned();
                Ok(ElevationOutcome {
                    elevation,
                    grant,
                    revision: committed.revision,
                })
            }
            Created::Existing(existing) => {
                if existing.role != request.role
                    || existing.scope != request.scope
                    || existing.duration != request.duration
                {
                    return Err(ServiceError::precondition(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this idempotency key was used for a different request",
                    ));
                }
                let grant = match existing.grant_id {
                    Some(id) => self.store.get_grant(id).await?,
                    None => None,
                };
                Ok(ElevationOutcome {
                    elevation: *existing,
                    grant,
                    revision: self.decider.freshness().known(),
                })
            }
        }
    }

    /// One elevation, for its requester, an approver in its chain, or an admin.
    pub async fn get_elevation(
        &self,
        caller: &Identity,
        id: ElevationId,
    ) -> Result<Elevation, ServiceError> {
        let elevation =
            self.store
                .get_elevation(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
        if elevation.requester == caller.subject
            || self.is_admin(caller)
            || elevation.is_approver(caller)
        {
            return Ok(elevation);
        }
        // Do not confirm that someone else's elevation exists.
        Err(ServiceError::NotFound {
            what: "elevation",
            id: id.to_string(),
        })
    }

    /// Elevations, newest first: the caller's own, or anyone's for an admin.
    pub async fn list_elevations(
        &self,
        caller: &Identity,
        requester: Option<Subject>,
        state: Option<ElevationState>,
        role: Option<RoleName>,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<Elevation>, ServiceError> {
        let requester = match requester {
            Some(requester) if requester != caller.subject && !self.is_admin(caller) => {
                return Err(ServiceError::denied(
                    "ROLE_REQUIRED",
                    format!(
                        "listing another subject's elevations needs the {:?} role",
                        self.roles.admin
                    ),
                ));
            }
            Some(requester) => Some(requester),
            None if self.is_admin(caller) => None,
            None => Some(caller.subject.clone()),
        };
        let limit = page_size(page_size_requested);
        let items = self
            .store
            .list_elevations(&ElevationFilter {
                requester,
                state,
                role,
                before: page_token(token)?,
                limit,
            })
            .await?;
        let next_page_token = (items.len() == limit)
            .then(|| items.last().map(|e| e.id.to_string()))
            .flatten();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Withdraws an elevation that is not active yet (its requester, or an admin).
    pub async fn cancel_elevation(
        &self,
        caller: &Identity,
        id: ElevationId,
        reason: &str,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("reason", reason, MAX_REASON_BYTES)?;
        let now = self.clock.now();
        let admin = self.is_admin(caller);
        let policy_version = self.decider.policy().version();
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let elevation = &context.elevation;
            if elevation.requester != caller.subject && !admin {
                return Err(TransitionError::NotAllowed(
                    "only the requester or an admin may cancel an elevation".into(),
                ));
            }
            let cancelled = elevation.cancel(reason, now)?;
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    AuditAction::ElevationCancelled,
                    caller.subject.as_str(),
                    &cancelled,
                    policy_version,
                    now,
                )
                .with_reason(reason),
            );
            // A scheduled elevation already has its (not yet started) grant: end it too.
            if let Some(grant) = context.grant.filter(|g| g.revocation.is_none()) {
                change.grants.push(grant.revoked(Revocation {
                    at: now,
                    by: caller.subject.to_string(),
                    reason: format!("elevation cancelled: {reason}"),
                }));
            }
            change.elevations.push(cancelled);
            Ok(change)
        };
        let committed = self.store.update_elevation(id, now, &decide).await?;
        self.after_commit(&committed).await;
        Ok(ElevationOutcome {
            elevation: committed.change.elevations[0].clone(),
            grant: None,
            revision: committed.revision,
        })
    }

    // ----- approvals ----------------------------------------------------------------------

    /// Elevations whose current step the caller may decide, newest first.
    pub async fn list_pending_approvals(
        &self,
        caller: &Identity,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<Elevation>, ServiceError> {
        let limit = page_size(page_size_requested);
        let mut before = page_token(token)?;
        let mut items = Vec::new();
        // Scan pending elevations in batches until the page is full or none are left.
        for _ in 0..20 {
            let batch = self
                .store
                .list_elevations(&ElevationFilter {
                    state: Some(ElevationState::Pending),
                    before,
                    limit: MAX_PAGE_SIZE,
                    ..Default::default()
                })
                .await?;
            let exhausted = batch.len() < MAX_PAGE_SIZE;
            before = batch.last().map(|e| e.id);
            for elevation in batch {
                if elevation.awaits(caller) {
                    items.push(elevation);
                    if items.len() == limit {
                        let next_page_token = items.last().map(|e| e.id.to_string());
                        return Ok(Page {
                            items,
                            next_page_token,
                        });
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(Page {
            items,
            next_page_token: None,
        })
    }

    /// Records the caller's verdict on the current step; the final approval creates the grant.
    pub async fn decide(
        &self,
        caller: &Identity,
        id: ElevationId,
        verdict: Verdict,
        comment: &str,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("comment", comment, MAX_REASON_BYTES)?;
        let now = self.clock.now();
        let policy = self.decider.policy();
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let before = &context.elevation;
            let step = before.current_step();
            let Some(voted) = before.vote(caller, verdict, comment, now)? else {
                return Ok(Change::default());
            };
            let step_name = step
                .map(|s| before.steps[s].name.clone())
                .unwrap_or_default();
            let vote_action = match verdict {
                Verdict::Approve => AuditAction::ApprovalApproved,
                Verdict::Deny => AuditAction::ApprovalDenied,
            };
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    vote_action,
                    caller.subject.as_str(),
                    &voted,
                    policy.version(),
                    now,
                )
                .with_reason(comment)
                .with_details(json!({ "step": step_name })),
            );
            match voted.state {
                ElevationState::Denied => {
                    change.events.push(
                        AuditEvent::for_elevation(
                            AuditAction::ElevationDenied,
                            caller.subject.as_str(),
                            &voted,
                            policy.version(),
                            now,
                        )
                        .with_reason(&voted.state_reason),
                    );
                    change.elevations.push(voted);
                }
                ElevationState::Approved => {
                    change.events.push(
                        AuditEvent::for_elevation(
                            AuditAction::ElevationApproved,
                            caller.subject.as_str(),
                            &voted,
                            policy.version(),
                            now,
                        )
                        .with_details(json!({ "approvers": voted.approvers() })),
                    );
                    change.merge(activation(&voted, &policy, now)?);
                }
                _ => change.elevations.push(voted),
            }
            Ok(change)
        };
        let committed = self.store.update_elevation(id, now, &decide).await?;
        self.after_commit(&committed).await;
        let elevation = match committed.change.elevations.first() {
            Some(elevation) => elevation.clone(),
            // A replay changed nothing: answer with the elevation as it stands.
            None => self.get_elevation(caller, id).await?,
        };
        Ok(ElevationOutcome {
            elevation,
            grant: committed.change.grants.first().cloned(),
            revision: committed.revision,
        })
    }

    // ----- grants -------------------------------------------------------------------------

    /// Ends a grant early: its holder gives it up, or an admin revokes it.
    pub async fn revoke_grant(
        &self,
        caller: &Identity,
        id: GrantId,
        reason: &str,
    ) -> Result<(Grant, Revision), ServiceError> {
        check_text("reason", reason, MAX_REASON_BYTES)?;
        if reason.trim().is_empty() {
            return Err(ServiceError::invalid(
                "reason",
                "say why the grant is revoked",
            ));
        }
        let now = self.clock.now();
        let admin = self.is_admin(caller);
        let policy_version = self.decider.policy().version();
        let decide = |context: GrantContext| -> Result<Change, TransitionError> {
            if context.grant.subject != caller.subject && !admin {
                return Err(TransitionError::NotAllowed(
                    "only the grant's holder or an admin may revoke it".into(),
                ));
            }
            revocation(
                &context,
                Revocation {
                    at: now,
                    by: caller.subject.to_string(),
                    reason: reason.to_owned(),
                },
                policy_version,
            )
        };
        let committed = self.store.update_grant(id, &decide).await?;
        self.after_commit(&committed).await;
        Ok((committed.change.grants[0].clone(), committed.revision))
    }

    /// A subject's grants: the caller's, or anyone's for an admin.
    pub async fn list_grants(
        &self,
        caller: &Identity,
        subject: Option<Subject>,
        include_ended: bool,
    ) -> Result<Vec<Grant>, ServiceError> {
        let subject = subject.unwrap_or_else(|| caller.subject.clone());
        if subject != caller.subject && !self.is_admin(caller) {
            return Err(ServiceError::denied(
                "ROLE_REQUIRED",
                format!(
                    "listing another subject's grants needs the {:?} role",
                    self.roles.admin
                ),
            ));
        }
        Ok(self
            .store
            .list_grants(&subject, include_ended, self.clock.now())
            .await?)
    }

    /// Revokes every live grant of a login session (logout, or back-channel logout).
    pub async fn end_session(
        &self,
        caller: &Identity,
        subject: Option<Subject>,
        session: Option<SessionId>,
        reason: &str,
    ) -> Result<(Vec<GrantId>, Revision), ServiceError> {
        check_text("reason", reason, MAX_REASON_BYTES)?;
        let subject = subject.unwrap_or_else(|| caller.subject.clone());
        if subject != caller.subject && !self.is_admin(caller) {
            return Err(ServiceError::denied(
                "ROLE_REQUIRED",
                format!(
                    "ending another subject's session needs the {:?} role",
                    self.roles.admin
                ),
            ));
        }
        let session = match session {
            Some(session) => session,
            None if subject == caller.subject => caller.session.clone().ok_or_else(|| {
                ServiceError::invalid("session_id", "the token has no sid claim; name the session")
            })?,
            None => {
                return Err(ServiceError::invalid(
                    "session_id",
                    "name the session to end",
                ));
            }
        };
        let reason = if reason.is_empty() {
            "session ended"
        } else {
            reason
        };
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let decide = |contexts: Vec<GrantContext>| -> Result<Change, TransitionError> {
            let mut change = Change::default();
            let mut ended = Vec::new();
            for context in &contexts {
                ended.push(context.grant.id.to_string());
                change.merge(revocation(
                    context,
                    Revocation {
                        at: now,
                        by: caller.subject.to_string(),
                        reason: format!("session {session} ended: {reason}"),
                    },
                    policy_version,
                )?);
            }
            let mut event = AuditEvent::new(
                AuditAction::SessionEnded,
                caller.subject.as_str(),
                policy_version,
                now,
            )
            .with_reason(reason)
            .with_details(json!({ "session": session.as_str(), "revoked_grants": ended }));
            event.subject = Some(subject.clone());
            change.events.push(event);
            Ok(change)
        };
        let committed = self
            .store
            .update_session(&subject, &session, now, &decide)
            .await?;
        self.after_commit(&committed).await;
        let revoked = committed.change.grants.iter().map(|g| g.id).collect();
        Ok((revoked, committed.revision))
    }

    // ----- decisions ----------------------------------------------------------------------

    /// Decides a Check for a policy enforcement point.
    pub async fn check(
        &self,
        caller: &Identity,
        query: &CheckQuery<'_>,
    ) -> Result<Decision, ServiceError> {
        self.require_role(caller, &self.roles.pep, "Check")?;
        Ok(self.decider.check(query).await)
    }

    /// The standing roles of an end-user token a PEP passed along, after checking it belongs to
    /// the subject (and session) asked about.
    pub fn standing_roles_of(
        &self,
        subject_identity: &Identity,
        subject: &str,
        session: Option<&str>,
    ) -> Result<Vec<StandingRole>, ServiceError> {
        if subject_identity.subject.as_str() != subject {
            return Err(ServiceError::invalid(
                "subject_token",
                "the token belongs to another subject",
            ));
        }
        if let (Some(asked), Some(own)) = (session, &subject_identity.session)
            && own.as_str() != asked
        {
            return Err(ServiceError::invalid(
                "subject_token",
                "the token belongs to another session",
            ));
        }
        Ok(subject_identity.standing_roles.clone())
    }

    /// Stores a risk signal for a risk engine.
    pub async fn report_risk(
        &self,
        caller: &Identity,
        signal: NewRiskSignal,
    ) -> Result<(RiskSignal, Revision), ServiceError> {
        self.require_role(caller, &self.roles.risk_reporter, "ReportRiskSignal")?;
        if signal.score > 100 {
            return Err(ServiceError::invalid("score", "must be between 0 and 100"));
        }
        if signal.ttl <= TimeDelta::zero() || signal.ttl > MAX_RISK_TTL {
            return Err(ServiceError::invalid(
                "ttl",
                format!(
                    "must be longer than zero and at most {}",
                    format_duration(MAX_RISK_TTL)
                ),
            ));
        }
        for (index, flag) in signal.flags.iter().enumerate() {
            if flag.is_empty()
                || flag.len() > 64
                || !flag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(ServiceError::invalid(
                    format!("flags[{index}]"),
                    "flags are words of letters, digits, _ and - (at most 64)",
                ));
            }
        }
        check_text("source", &signal.source, 128)?;
        let now = self.clock.now();
        let stored = RiskSignal {
            id: uuid::Uuid::now_v7(),
            subject: signal.subject,
            session: signal.session,
            score: signal.score,
            flags: signal.flags,
            source: if signal.source.is_empty() {
                caller.subject.to_string()
            } else {
                signal.source
            },
            reported_at: now,
            expires_at: now + signal.ttl,
        };
        let mut event = AuditEvent::new(
            AuditAction::RiskReported,
            caller.subject.as_str(),
            self.decider.policy().version(),
            now,
        )
        .with_details(json!({
            "signal": stored.id,
            "session": stored.session.as_ref().map(|s| s.as_str()),
            "score": stored.score,
            "flags": stored.flags,
            "source": stored.source,
            "expires_at": stored.expires_at,
        }));
        event.subject = Some(stored.subject.clone());
        let change = Change {
            risk_signals: vec![stored.clone()],
            events: vec![event],
            ..Default::default()
        };
        let committed = self.store.append(change).await?;
        self.after_commit(&committed).await;
        Ok((stored, committed.revision))
    }

    // ----- policy -------------------------------------------------------------------------

    /// The policy in force.
    pub async fn get_policy(&self) -> Result<(Arc<Policy>, Option<StoredPolicy>), ServiceError> {
        let policy = self.decider.policy();
        let stored = self.store.latest_policy().await?;
        Ok((policy, stored))
    }

    /// Validates a document, changing nothing.
    pub fn validate_policy(&self, source: &str) -> Result<(), PolicyProblems> {
        Policy::parse(source, 0).map(|_| ())
    }

    /// Replaces the policy (admins). With `expected_version`, only if it is still in force.
    pub async fn put_policy(
        &self,
        caller: &Identity,
        source: &str,
        expected_version: Option<u64>,
    ) -> Result<(u64, Revision), ServiceError> {
        self.require_role(caller, &self.roles.admin, "PutPolicy")?;
        self.put_policy_as(caller.subject.as_str(), source, expected_version)
            .await
    }

    /// Stores `source` as the next policy version, recorded as put by `actor`.
    pub async fn put_policy_as(
        &self,
        actor: &str,
        source: &str,
        expected_version: Option<u64>,
    ) -> Result<(u64, Revision), ServiceError> {
        Policy::parse(source, 0)?;
        let now = self.clock.now();
        let decide = |current: Option<StoredPolicy>| -> Result<Change, TransitionError> {
            let current_version = current.as_ref().map_or(0, |p| p.version);
            if let Some(expected) = expected_version
                && expected != current_version
            {
                return Err(TransitionError::WrongState {
                    action: "put the policy",
                    what: format!("expected version {expected}, but the policy in force"),
                    state: format!("version {current_version}"),
                });
            }
            let version = current_version + 1;
            let event = AuditEvent::new(AuditAction::PolicyChanged, actor, version, now)
                .with_details(json!({ "version": version, "previous_version": current_version }));
            Ok(Change {
                policy: Some(NewPolicy {
                    version,
                    source: source.to_owned(),
                    created_by: actor.to_owned(),
                    created_at: now,
                }),
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self.store.update_policy(&decide).await?;
        self.after_commit(&committed).await;
        let version = committed.change.policy.as_ref().map_or(0, |p| p.version);
        Ok((version, committed.revision))
    }

    // ----- time ---------------------------------------------------------------------------

    /// Moves on what time has moved: pending elevations past their approval window time out,
    /// scheduled ones whose start came become active, active ones whose grant ended expire.
    /// Safe to run on every replica at once: each elevation is decided under its lock, and a
    /// second sweep of the same elevation finds nothing to do. Returns how many moved.
    pub async fn sweep(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let due = self.store.due_elevations(now, 500).await?;
        let mut moved = 0;
        for id in due {
            let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
                Ok(time_passes(&context, now, policy_version))
            };
            match self.store.update_elevation(id, now, &decide).await {
                Ok(committed) => {
                    if !committed.change.is_empty() {
                        moved += 1;
                        self.after_commit(&committed).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(elevation = %id, %error, "sweep could not move an elevation")
                }
            }
        }
        Ok(moved)
    }
}

/// The change that activates an approved elevation: its grant, its new state, and the event.
/// The requester must still be eligible under the policy in force; if not, the elevation is
/// denied instead (policy may have changed while approvals were pending).
fn activation(
    approved: &Elevation,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Change, TransitionError> {
    let mut change = Change::default();
    let still_eligible = policy.eligibility().iter().find(|entry| {
        entry.role == approved.role
            && (entry.users.contains(&approved.requester)
                || entry
                    .groups
                    .iter()
                    .any(|g| approved.requester_claims.groups.contains(g)))
            && entry.covers(&approved.scope)
    });
    let within_limits = still_eligible.is_some_and(|entry| approved.duration <= entry.max_duration);
    if !within_limits {
        let mut denied = approved.clone();
        denied.state = ElevationState::Denied;
        denied.state_reason = format!(
            "no longer eligible under policy version {} when approved",
            policy.version()
        );
        denied.updated_at = now;
        change.events.push(
            AuditEvent::for_elevation(
                AuditAction::ElevationDenied,
                SYSTEM_ACTOR,
                &denied,
                policy.version(),
                now,
            )
            .with_reason(&denied.state_reason),
        );
        change.elevations.push(denied);
        return Ok(change);
    }
    let (activated, grant) = approved.activate(now)?;
    let action = if activated.state == ElevationState::Scheduled {
        AuditAction::GrantScheduled
    } else {
        AuditAction::GrantActivated
    };
    change.events.push(
        AuditEvent::for_grant(action, SYSTEM_ACTOR, &grant, policy.version(), now).with_details(
            json!({
                "not_before": grant.not_before,
                "not_after": grant.not_after,
                "session": grant.session.as_ref().map(|s| s.as_str()),
                "approvers": activated.approvers(),
            }),
        ),
    );
    change.elevations.push(activated);
    change.grants.push(grant);
    Ok(change)
}

/// The change that revokes one grant (and moves its elevation to REVOKED).
fn revocation(
    context: &GrantContext,
    revocation: Revocation,
    policy_version: u64,
) -> Result<Change, TransitionError> {
    let grant = &context.grant;
    if grant.revocation.is_some() {
        return Err(TransitionError::WrongState {
            action: "revoke",
            what: format!("grant {}", grant.id),
            state: "REVOKED".into(),
        });
    }
    if revocation.at >= grant.not_after {
        return Err(TransitionError::WrongState {
            action: "revoke",
            what: format!("grant {}", grant.id),
            state: "EXPIRED".into(),
        });
    }
    let mut change = Change::default();
    if let Some(elevation) = &context.elevation
        && matches!(
            elevation.state,
            ElevationState::Active | ElevationState::Scheduled
        )
    {
        change
            .elevations
            .push(elevation.revoke(&revocation.reason, revocation.at)?);
    }
    change.events.push(
        AuditEvent::for_grant(
            AuditAction::GrantRevoked,
            revocation.by.clone(),
            grant,
            policy_version,
            revocation.at,
        )
        .with_reason(&revocation.reason),
    );
    change.grants.push(grant.revoked(revocation));
    Ok(change)
}

/// What time alone does to an elevation at `now`.
fn time_passes(context: &ElevationContext, now: DateTime<Utc>, policy_version: u64) -> Change {
    let elevation = &context.elevation;
    let mut change = Change::default();
    if let Some(timed_out) = elevation.time_out(now) {
        change.events.push(AuditEvent::for_elevation(
            AuditAction::ElevationTimedOut,
            SYSTEM_ACTOR,
            &timed_out,
            policy_version,
            now,
        ));
        change.elevations.push(timed_out);
        return change;
    }
    let Some(grant) = &context.grant else {
        return change;
    };
    if let Some(expired) = elevation.expire(grant, now) {
        change.events.push(AuditEvent::for_grant(
            AuditAction::GrantExpired,
            SYSTEM_ACTOR,
            grant,
            policy_version,
            now,
        ));
        change.elevations.push(expired);
    } else if let Some(started) = elevation.start_scheduled(grant, now) {
        change.events.push(AuditEvent::for_grant(
            AuditAction::GrantActivated,
            SYSTEM_ACTOR,
            grant,
            policy_version,
            now,
        ));
        change.elevations.push(started);
    }
    change
}

fn ineligible_error(
    policy: &Policy,
    role: &RoleName,
    scope: &Scope,
    ineligible: Ineligible,
) -> ServiceError {
    match ineligible {
        Ineligible::UnknownRole => {
            let mut known: Vec<&str> = policy.roles().map(|r| r.name.as_str()).collect();
            known.sort();
            ServiceError::invalid(
                "role",
                format!(
                    "role {role:?} is not defined in policy; defined roles: {}",
                    known.join(", ")
                ),
            )
        }
        Ineligible::NotEligible => ServiceError::denied(
            "NOT_ELIGIBLE",
            format!("no eligibility entry lets you request {role}"),
        ),
        Ineligible::ScopeNotEligible { allowed } => ServiceError::denied(
            "SCOPE_NOT_ELIGIBLE",
            format!(
                "you may request {role} only on {}; {scope} is outside them",
                allowed.join(", ")
            ),
        ),
    }
}
