//! The policy: read it, validate a document, replace it (admins). A document with any problem
//! changes nothing. Eligibility is re-checked until a grant starts: when a new policy no
//! longer lets a scheduled elevation's requester have its role on its scope, the grant is
//! revoked before it ever counts.

use std::sync::Arc;

use serde_json::json;

use super::MAX_PAGE_SIZE;
use super::grants::revocation;
use super::{Elevator, ServiceError};
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::{
    AuditAction, AuditEvent, ElevationState, Identity, Revision, Revocation, TransitionError,
};
use crate::policy::{Policy, PolicyProblems};
use crate::store::{Change, ElevationFilter, GrantContext, PolicyVersion};

impl Elevator {
    /// The policy in force.
    #[tracing::instrument(skip_all)]
    pub async fn get_policy(&self) -> Result<(Arc<Policy>, Option<PolicyVersion>), ServiceError> {
        let policy = self.decider.policy();
        let stored = self.store.latest_policy().await?;
        Ok((policy, stored))
    }

    /// Validates a document, changing nothing.
    pub fn validate_policy(&self, source: &str) -> Result<(), PolicyProblems> {
        Policy::parse(source, 0).map(|_| ())
    }

    /// Replaces the policy (admins). With `expected_version`, only if it is still in force.
    #[tracing::instrument(skip_all)]
    pub async fn put_policy(
        &self,
        caller: &Identity,
        source: &str,
        expected_version: Option<u64>,
    ) -> Result<(u64, Revision), ServiceError> {
        self.require_role(caller, &self.roles.admin, "PutPolicy")?;
        let (version, revision) = self
            .put_policy_as(caller.subject.as_str(), source, expected_version)
            .await?;
        // Rare and consequential: worth a line in the operator's log, beside the audit event.
        tracing::info!(
            version,
            by = caller.subject.as_str(),
            "policy put through the API"
        );
        Ok((version, revision))
    }

    /// Stores `source` as the next policy version, recorded as put by `actor`.
    #[tracing::instrument(skip_all)]
    pub async fn put_policy_as(
        &self,
        actor: &str,
        source: &str,
        expected_version: Option<u64>,
    ) -> Result<(u64, Revision), ServiceError> {
        // Compiled once: to validate now, and put in force as it is after the commit.
        let compiled = Policy::parse(source, 0)?;
        let now = self.clock.now();
        let decide = |current: Option<PolicyVersion>| -> Result<Change, TransitionError> {
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
                policy: Some(PolicyVersion {
                    version,
                    source: source.to_owned(),
                    created_by: actor.to_owned(),
                    created_at: now,
                }),
                events: vec![event],
                ..Default::default()
            })
        };
        let committed = self
            .store
            .update_policy(&self.ready_to_commit_when_decided(&decide))
            .await?;
        self.after_commit(&committed).await;
        let version = committed.change.policy.as_ref().map_or(0, |p| p.version);
        if committed.change.policy.is_some() {
            self.decider
                .set_policy(Arc::new(compiled.stored_as(version)));
        }
        // The new policy is in force now (or a newer one that arrived meanwhile).
        let policy = self.decider.policy();
        let revision = self
            .withdraw_scheduled_grants_no_longer_eligible(&policy)
            .await?
            .unwrap_or(committed.revision);
        Ok((version, revision))
    }

    /// Revokes the grants of scheduled elevations whose requester `policy` no longer makes
    /// eligible for the role on the scope (judged on the claims recorded at request time, as
    /// at approval). Returns the revision of the last revocation, if any.
    async fn withdraw_scheduled_grants_no_longer_eligible(
        &self,
        policy: &Policy,
    ) -> Result<Option<Revision>, ServiceError> {
        let now = self.clock.now();
        let mut last_revision = None;
        let mut filter = ElevationFilter {
            state: Some(ElevationState::Scheduled),
            limit: MAX_PAGE_SIZE,
            ..Default::default()
        };
        loop {
            let page = self.store.list_elevations(&filter).await?;
            for elevation in &page {
                // A delegation is bounded by the delegator's grant and the delegation policy
                // (as at its approval), not by the delegatee's eligibility.
                let still_eligible = elevation.delegation.is_some()
                    || policy
                        .recorded_eligibility(
                            &elevation.requester,
                            &elevation.requester_claims.groups,
                            &elevation.role,
                            &elevation.scope,
                        )
                        .is_some();
                let Some(grant_id) = elevation.grant_id.filter(|_| !still_eligible) else {
                    continue;
                };
                let reason = format!(
                    "no longer eligible under policy version {} before the grant started",
                    policy.version()
                );
                let decide = |context: GrantContext| -> Result<Change, TransitionError> {
                    revocation(
                        &context,
                        Revocation {
                            at: now,
                            by: SYSTEM_ACTOR.to_owned(),
                            reason: reason.clone(),
                        },
                        policy.version(),
                    )
                };
                match self.commit_to_grant(grant_id, &decide).await {
                    Ok(committed) => {
                        last_revision = Some(committed.revision);
                        tracing::info!(elevation = %elevation.id, grant = %grant_id, "scheduled grant withdrawn: no longer eligible");
                    }
                    // Revoked meanwhile by someone else: nothing left to withdraw.
                    Err(crate::store::StoreError::Rejected(_)) => {}
                    Err(error) => return Err(error.into()),
                }
            }
            if page.len() < filter.limit {
                return Ok(last_revision);
            }
            filter.before = page.last().map(|elevation| elevation.id);
        }
    }
}
