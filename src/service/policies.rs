//! The policy: read it, validate a document, replace it (admins). A document with any problem
//! changes nothing.

use std::sync::Arc;

use serde_json::json;

use super::{Elevator, ServiceError};
use crate::domain::{AuditAction, AuditEvent, Identity, Revision, TransitionError};
use crate::policy::{Policy, PolicyProblems};
use crate::store::{Change, NewPolicy, StoredPolicy};

impl Elevator {
    /// The policy in force.
    #[tracing::instrument(skip_all)]
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
    #[tracing::instrument(skip_all)]
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
    #[tracing::instrument(skip_all)]
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
        let committed = self.store.update_policy(&self.announced(&decide)).await?;
        self.after_commit(&committed).await;
        let version = committed.change.policy.as_ref().map_or(0, |p| p.version);
        Ok((version, committed.revision))
    }
}
