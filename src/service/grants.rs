//! Grants: give one up or revoke it, list them, end a login session (which revokes every grant
//! bound to it, in one transaction).

use serde_json::json;

use super::{Elevator, MAX_REASON_BYTES, ServiceError, check_text};
use crate::domain::{
    AuditAction, AuditEvent, ElevationState, Grant, GrantId, Identity, Revision, Revocation,
    SessionId, Subject, TransitionError,
};
use crate::store::{Change, Committed, GrantContext};

impl Elevator {
    /// Ends a grant early: its holder gives it up, or an admin revokes it.
    #[tracing::instrument(skip_all)]
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
        let committed = self.commit_to_grant(id, &decide).await?;
        written_grant(committed, id, "the revocation")
    }

    /// A subject's grants: the caller's, or anyone's for an admin.
    #[tracing::instrument(skip_all)]
    pub async fn list_grants(
        &self,
        caller: &Identity,
        subject: Option<Subject>,
        include_ended: bool,
    ) -> Result<Vec<Grant>, ServiceError> {
        let subject = subject.unwrap_or_else(|| caller.subject.clone());
        self.may_act_for(caller, &subject, "listing another subject's grants")?;
        Ok(self
            .store
            .list_grants(&subject, include_ended, self.clock.now())
            .await?)
    }

    /// Revokes every live grant of a login session (logout, or back-channel logout).
    #[tracing::instrument(skip_all)]
    pub async fn end_session(
        &self,
        caller: &Identity,
        subject: Option<Subject>,
        session: Option<SessionId>,
        reason: &str,
    ) -> Result<(Vec<GrantId>, Revision), ServiceError> {
        check_text("reason", reason, MAX_REASON_BYTES)?;
        let subject = subject.unwrap_or_else(|| caller.subject.clone());
        self.may_act_for(caller, &subject, "ending another subject's session")?;
        let session = session_to_end(caller, &subject, session)?;
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
                // A grant already revoked as another's delegate in this change is done.
                if change
                    .grants
                    .iter()
                    .any(|revoked| revoked.id == context.grant.id)
                {
                    continue;
                }
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
            .update_session(
                &subject,
                &session,
                now,
                &self.ready_to_commit_when_decided(&decide),
            )
            .await?;
        self.after_commit(&committed).await;
        let revoked = committed
            .change
            .grants
            .iter()
            .filter(|grant| grant.session.as_ref() == Some(&session))
            .map(|grant| grant.id)
            .collect();
        Ok((revoked, committed.revision))
    }
}

/// The session `end_session` ends: the one named, or else the caller's own (from its token's
/// `sid`) when the caller ends its own session.
fn session_to_end(
    caller: &Identity,
    subject: &Subject,
    named: Option<SessionId>,
) -> Result<SessionId, ServiceError> {
    match named {
        Some(session) => Ok(session),
        None if *subject == caller.subject => caller.session.clone().ok_or_else(|| {
            ServiceError::invalid("session_id", "the token has no sid claim; name the session")
        }),
        None => Err(ServiceError::invalid(
            "session_id",
            "name the session to end",
        )),
    }
}

/// The change that revokes one grant, moves its elevation to REVOKED, and revokes every grant
/// delegated from it at any depth (the cascade: they stop counting at once, on every replica,
/// because every delegatee's cache is invalidated by the same commit).
pub(super) fn revocation(
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
            elevation.state(),
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
    for descendant in context
        .descendants
        .iter()
        .filter(|descendant| !descendant.has_ended(revocation.at))
    {
        let cascaded = Revocation {
            at: revocation.at,
            by: revocation.by.clone(),
            reason: format!(
                "delegated from revoked grant {}: {}",
                grant.id, revocation.reason
            ),
        };
        change.events.push(
            AuditEvent::for_grant(
                AuditAction::GrantRevoked,
                revocation.by.clone(),
                descendant,
                policy_version,
                revocation.at,
            )
            .with_reason(&cascaded.reason)
            .with_details(json!({ "cascade_from": grant.id.to_string() })),
        );
        change.grants.push(descendant.revoked(cascaded));
    }
    change.grants.push(grant.revoked(revocation));
    Ok(change)
}

/// The grant `id` as a committed one-grant change wrote it, with the revision it committed at.
/// A change that wrote no such grant is a bug in the decide step that made it (`what`).
pub(super) fn written_grant(
    committed: Committed,
    id: GrantId,
    what: &str,
) -> Result<(Grant, Revision), ServiceError> {
    let grant = committed
        .change
        .grants
        .into_iter()
        .find(|grant| grant.id == id)
        .ok_or_else(|| ServiceError::Internal(format!("{what} of {id} wrote no grant")))?;
    Ok((grant, committed.revision))
}
