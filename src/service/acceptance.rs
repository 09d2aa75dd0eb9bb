//! Taking up a delegation: the delegatee binds a delegated grant to the login session it calls
//! from (the verified token's `sid`, never a request field). Until then the grant allows
//! nothing; from then on it counts only in that session and ends with it. The write goes through
//! the same unit of work as every other: one transaction with its audit event, the local caches
//! forgotten at once and the other replicas told through the change feed.

use serde_json::json;

use super::{Elevator, ServiceError};
use crate::domain::{
    AcceptRefusal, AuditAction, AuditEvent, Grant, GrantId, Identity, Revision, TransitionError,
};
use crate::store::{Change, GrantContext, StoreError};

impl Elevator {
    /// Binds the delegated grant `id`, received by the caller, to the caller's session.
    #[tracing::instrument(skip_all)]
    pub async fn accept_delegation(
        &self,
        caller: &Identity,
        id: GrantId,
    ) -> Result<(Grant, Revision), ServiceError> {
        let session = caller.session.clone().ok_or_else(|| {
            ServiceError::precondition(
                "SESSION_REQUIRED",
                "a delegation is taken up in a login session, and the token has no sid claim; sign in interactively",
            )
        })?;
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let decide = |context: GrantContext| -> Result<Change, TransitionError> {
            let accepted = context.grant.accepted(&caller.subject, &session, now)?;
            let event = AuditEvent::for_grant(
                AuditAction::DelegationAccepted,
                caller.subject.as_str(),
                &accepted,
                policy_version,
                now,
            )
            .with_details(json!({
                "session": session.as_str(),
                "delegator": accepted.delegated_by().map(|s| s.as_str()),
                "not_after": accepted.not_after,
            }));
            Ok(Change {
                grants: vec![accepted],
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self
            .commit_to_grant(id, &decide)
            .await
            .map_err(|error| hide_others_grants(error, id))?;
        super::grants::written_grant(committed, id, "the acceptance")
    }
}

/// Someone else's grant answers as if it did not exist, the same as a grant that does not: an
/// id must not reveal whether another subject holds something.
fn hide_others_grants(error: StoreError, id: GrantId) -> ServiceError {
    match error {
        StoreError::Rejected(TransitionError::NotAccepted(AcceptRefusal::NotDelegatee(_))) => {
            ServiceError::NotFound {
                what: "grant",
                id: id.to_string(),
            }
        }
        other => other.into(),
    }
}
