//! Decisions: Check for policy enforcement points, the Check simulator, and risk signals.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Elevator, MAX_RISK_TTL, NewRiskSignal, ServiceError, check_text};
use crate::decision::{CheckQuery, GrantTrace};
use crate::domain::risk::RiskPicture;
use crate::domain::{
    AccessQuery, AuditAction, AuditEvent, Decision, DirectoryView, Identity, Revision, RiskSignal,
    SubjectRef, format_duration,
};
use crate::store::Change;

/// A simulated Check: the decision, and how every grant the subject holds fared.
#[derive(Debug, Clone)]
pub struct CheckSimulation {
    /// The decision.
    pub decision: Decision,
    /// Every grant, with why it did or did not count.
    pub grants: Vec<GrantTrace>,
}

impl Elevator {
    /// Decides a Check for a policy enforcement point. An end-user token passed with the
    /// question must belong to the subject (and session) asked about.
    #[tracing::instrument(
        name = "check",
        skip_all,
        fields(
            subject = query.subject.as_str(),
            session = query.session,
            permission = query.permission,
            resource = query.resource,
            allowed = tracing::field::Empty,
            reason = tracing::field::Empty,
            grant = tracing::field::Empty,
            revision = tracing::field::Empty,
        )
    )]
    pub async fn check(
        &self,
        caller: &Identity,
        query: &CheckQuery<'_>,
    ) -> Result<Decision, ServiceError> {
        subject_token_matches(query)?;
        self.require_role(caller, &self.roles.pep, "Check")?;
        let started = std::time::Instant::now();
        let decision = self.decider.check(query).await;
        let decision = self.witness(query, decision).await;
        self.record_decision(query, &decision, started);
        Ok(decision)
    }

    /// Decides an access question in AuthZEN's shape for a policy enforcement point (the PEP
    /// role, as for Check). The subject id must be a valid subject (its grants are that id's);
    /// an end-user token passed with it must belong to that subject (and session). A question
    /// whose resource maps to no scope is refused as invalid; every other failure is a deny.
    #[tracing::instrument(
        name = "evaluate_access",
        skip_all,
        fields(
            subject = query.subject.id(),
            permission = query.action.name(),
            resource_type = query.resource.entity_type(),
            allowed = tracing::field::Empty,
            reason = tracing::field::Empty,
            grant = tracing::field::Empty,
            revision = tracing::field::Empty,
        )
    )]
    pub async fn evaluate_access(
        &self,
        caller: &Identity,
        query: &AccessQuery<'_>,
    ) -> Result<Decision, ServiceError> {
        self.decide_access(caller, query, true).await
    }

    /// [`Elevator::evaluate_access`]'s steps; the decision is counted and logged when
    /// `record` says so (a search records one line for all its candidates instead).
    pub(super) async fn decide_access(
        &self,
        caller: &Identity,
        query: &AccessQuery<'_>,
        record: bool,
    ) -> Result<Decision, ServiceError> {
        self.require_role(caller, &self.roles.pep, "Evaluate")?;
        let subject = SubjectRef::parse(query.subject.id())
            .map_err(|error| ServiceError::invalid("subject.id", error.0))?;
        // The directory a write at `min_revision` left, as the grants are read at it.
        self.decider
            .stored_directory_at_least(query.min_revision)
            .await;
        let resolved = self
            .decider
            .resolve_access(query)
            .map_err(|error| ServiceError::invalid("resource.id", error.0))?;
        let check = CheckQuery {
            subject,
            session: query.session.as_ref().map(|session| session.as_str()),
            permission: query.action.name(),
            resource: resolved.scope().as_str(),
            token: query.token,
            min_revision: query.min_revision,
        };
        subject_token_matches(&check)?;
        let started = std::time::Instant::now();
        let decision = self.decider.check_access(&check, query, &resolved).await;
        // A search decides candidates without recording them; only a recorded Check is
        // witnessed for a break-glass grant's evidence.
        if !record {
            return Ok(decision);
        }
        let decision = self.witness(&check, decision).await;
        self.record_decision(&check, &decision, started);
        Ok(decision)
    }

    /// The directory as decisions read it (the stored snapshot over the policy file's), for
    /// searches and listings.
    pub fn directory(&self) -> DirectoryView {
        self.decider.directory()
    }

    /// Counts a decision, writes it to the decision log and onto the call's span.
    pub(super) fn record_decision(
        &self,
        query: &CheckQuery<'_>,
        decision: &Decision,
        started: std::time::Instant,
    ) {
        self.metrics.record_check(decision, started.elapsed());
        if let Some(log) = &self.decision_log {
            log.record(query, decision, self.clock.now(), || {
                super::context::current().map(|request| request.request_id)
            });
        }
        let span = tracing::Span::current();
        if !span.is_disabled() {
            span.record("allowed", decision.allowed);
            span.record("reason", decision.reason.as_str());
            span.record("revision", decision.revision);
            if let Some(grant) = &decision.grant {
                span.record("grant", tracing::field::display(grant.id));
            }
        }
    }

    /// Stores a risk signal for a risk engine.
    #[tracing::instrument(skip_all)]
    pub async fn report_risk(
        &self,
        caller: &Identity,
        signal: NewRiskSignal,
    ) -> Result<(RiskSignal, Revision), ServiceError> {
        self.require_role(caller, &self.roles.risk_reporter, "ReportRiskSignal")?;
        if signal.score > 100 {
            return Err(ServiceError::invalid("score", "must be between 0 and 100"));
        }
        if signal.ttl.get() > MAX_RISK_TTL {
            return Err(ServiceError::invalid(
                "ttl",
                format!("must be at most {}", format_duration(MAX_RISK_TTL)),
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
            expires_at: now + signal.ttl.get(),
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
        let committed = self.store.append(self.ready_to_commit(change)).await?;
        self.after_commit(&committed).await;
        Ok((stored, committed.revision))
    }

    /// Evaluates a Check at a hypothetical time and risk, changing nothing, and explains every
    /// grant considered ("why denied"). For policy enforcement points and admins.
    #[tracing::instrument(skip_all)]
    pub async fn simulate_check(
        &self,
        caller: &Identity,
        query: &CheckQuery<'_>,
        at: Option<DateTime<Utc>>,
        risk: Option<RiskPicture>,
    ) -> Result<CheckSimulation, ServiceError> {
        subject_token_matches(query)?;
        if !caller.has_role(&self.roles.pep) {
            self.require_role(caller, &self.roles.admin, "SimulateCheck")?;
        }
        let at = at.unwrap_or_else(|| self.clock.now());
        let (decision, grants) = self.decider.explain(query, at, risk).await?;
        Ok(CheckSimulation { decision, grants })
    }
}

/// Checks that the end-user token a PEP passed along with the question belongs to the subject
/// (and session) asked about; only then do its standing roles and groups count.
pub(super) fn subject_token_matches(query: &CheckQuery<'_>) -> Result<(), ServiceError> {
    let Some(token) = query.token else {
        return Ok(());
    };
    if token.subject.as_str() != query.subject.as_str() {
        return Err(ServiceError::invalid(
            "subject_token",
            "the token belongs to another subject",
        ));
    }
    if let (Some(asked), Some(own)) = (query.session, &token.session)
        && own.as_str() != asked
    {
        return Err(ServiceError::invalid(
            "subject_token",
            "the token belongs to another session",
        ));
    }
    Ok(())
}
