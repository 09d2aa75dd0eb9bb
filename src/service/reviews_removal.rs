//! What "remove" does to each kind of access, always through the use case that owns it and so
//! audited as it is: a grant or a delegation is revoked (with its cascade) through the grant's
//! one door; a standing role is taken off the stored directory entity; eligibility is
//! withdrawn by listing the role in the subject's `withdrawn_eligibility` directory property,
//! which the request use case honours. Each acts on the version the campaign saw, or says why
//! not: a grant a newer approval extended, a role no longer held, are left alone.

use std::sync::Arc;

use serde_json::json;

use super::{Elevator, ServiceError};
use crate::domain::{
    AuditAction, AuditEvent, Entity, EntityId, EntityKey, EntityType, GrantId, Identity,
    Properties, ReviewItem, ReviewKind, Revocation, RoleName, StandingRole, Subject,
    TransitionError, Value,
};
use crate::store::{Change, DirectoryWrite, GrantContext};

/// The directory property listing roles whose eligibility a review withdrew.
pub(crate) const WITHDRAWN_ELIGIBILITY: &str = "withdrawn_eligibility";

fn subject_key(subject: &Subject) -> Option<EntityKey> {
    Some(EntityKey {
        entity_type: EntityType::parse("user").ok()?,
        id: EntityId::parse(subject.as_str()).ok()?,
    })
}

/// The roles `properties` lists as withdrawn.
fn withdrawn_roles(properties: &Properties) -> Vec<Arc<str>> {
    match properties.get(WITHDRAWN_ELIGIBILITY) {
        Some(Value::List(roles)) => roles
            .iter()
            .filter_map(|role| match role {
                Value::String(role) => Some(role.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `properties` with `role` added to the withdrawn list.
fn with_withdrawn(properties: &Properties, role: &RoleName) -> Properties {
    let mut roles = withdrawn_roles(properties);
    if !roles.iter().any(|known| &**known == role.as_str()) {
        roles.push(Arc::from(role.as_str()));
    }
    let list = Value::List(roles.into_iter().map(Value::String).collect());
    properties
        .iter()
        .filter(|(name, _)| *name != WITHDRAWN_ELIGIBILITY)
        .map(|(name, value)| (Arc::from(name), value.clone()))
        .chain([(Arc::from(WITHDRAWN_ELIGIBILITY), list)])
        .collect()
}

impl Elevator {
    /// Whether a review withdrew `subject`'s eligibility for `role` (the request use case
    /// refuses such a request).
    pub(super) fn eligibility_withdrawn(&self, subject: &Subject, role: &RoleName) -> bool {
        self.decider
            .directory()
            .find("user", subject.as_str())
            .is_some_and(|entity| {
                withdrawn_roles(&entity.properties)
                    .iter()
                    .any(|withdrawn| &**withdrawn == role.as_str())
            })
    }

    /// Carries out the removal `item` decided, by `by`; says what it did or why it did not.
    pub(super) async fn carry_out_removal(&self, item: &ReviewItem, by: &str) -> String {
        let reason = format!(
            "access review {} item {}: removed by {by}",
            item.campaign_id, item.id
        );
        let outcome = match (item.target.kind, item.target.grant_id) {
            (ReviewKind::Grant | ReviewKind::Delegation, Some(grant)) => {
                self.revoke_reviewed_grant(item, grant, by, &reason).await
            }
            (ReviewKind::StandingRole | ReviewKind::Eligibility, _) => {
                self.change_reviewed_entity(item, by, &reason).await
            }
            (_, None) => Err(ServiceError::Internal(
                "a grant item without a grant".into(),
            )),
        };
        match outcome {
            Ok(done) => done,
            Err(error) => format!("not removed: {error}"),
        }
    }

    /// Revokes the grant `item` saw, unless it changed since (extended by a newer approval).
    async fn revoke_reviewed_grant(
        &self,
        item: &ReviewItem,
        id: GrantId,
        by: &str,
        reason: &str,
    ) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let seen = item.target.seen_not_after;
        let decide = |context: GrantContext| -> Result<Change, TransitionError> {
            if Some(context.grant.not_after) != seen {
                return Err(TransitionError::NotAllowed(format!(
                    "grant {id} changed after the review saw it (a newer approval moved its end \
                     to {}); the review acts only on the version it saw, so review it again",
                    context.grant.not_after.to_rfc3339()
                )));
            }
            super::grants::revocation(
                &context,
                Revocation {
                    at: now,
                    by: by.to_owned(),
                    reason: reason.to_owned(),
                },
                policy_version,
            )
        };
        self.commit_to_grant(id, &decide).await?;
        Ok(format!("grant {id} revoked"))
    }

    /// Takes the standing role off, or withdraws the eligibility, on the subject's stored
    /// directory entity (creating it from the policy file's entity of that name, which it then
    /// hides, when only the file has one).
    async fn change_reviewed_entity(
        &self,
        item: &ReviewItem,
        by: &str,
        reason: &str,
    ) -> Result<String, ServiceError> {
        let target = &item.target;
        let key = subject_key(&target.subject).ok_or_else(|| {
            ServiceError::invalid("subject", "the subject is not a directory user id")
        })?;
        let file_entity = (self.decider.directory().file())
            .find("user", target.subject.as_str())
            .map(|entity| (**entity).clone());
        let (now, policy_version) = (self.clock.now(), self.decider.policy().version());
        let standing = StandingRole {
            role: target.role.clone(),
            scope: target.scope.clone(),
        };
        let decide = |named: Vec<Entity>| -> Result<Change, TransitionError> {
            let stored = named.into_iter().find(|entity| entity.key == key);
            let mut entity = stored.or_else(|| file_entity.clone()).unwrap_or(Entity {
                key: key.clone(),
                aliases: Vec::new(),
                properties: Properties::default(),
                roles: Vec::new(),
                groups: Vec::new(),
                scope: None,
            });
            if target.kind == ReviewKind::StandingRole {
                let before = entity.roles.len();
                entity.roles.retain(|held| *held != standing);
                if entity.roles.len() == before {
                    return Err(TransitionError::NotAllowed(format!(
                        "{} no longer holds {} as the review saw it; nothing to remove",
                        target.subject, target.role
                    )));
                }
            } else {
                entity.properties = with_withdrawn(&entity.properties, &target.role);
            }
            let event = AuditEvent::new(AuditAction::DirectoryEntityPut, by, policy_version, now)
                .with_reason(reason)
                .with_details(json!({
                    "entity": { "type": "user", "id": target.subject.as_str() },
                    "review_item": item.id.to_string(),
                    "removed": target.describe(),
                }));
            Ok(Change {
                directory: vec![DirectoryWrite::Put(entity)],
                events: vec![event],
                ..Change::default()
            })
        };
        let names = [key.clone()];
        let committed = self
            .store
            .update_directory(&names, &self.ready_to_commit_when_decided(&decide))
            .await?;
        self.after_commit(&committed).await;
        // A removal is in force on this replica when the reviewer is told it is done: the next
        // request or Check here must not be judged by the snapshot from before it (other
        // replicas follow through the change feed).
        (self.decider)
            .refresh_stored_directory(committed.revision, &names)
            .await;
        Ok(match target.kind {
            ReviewKind::StandingRole => {
                format!("standing role {} taken off the directory", target.role)
            }
            _ => format!(
                "eligibility for {} withdrawn ({WITHDRAWN_ELIGIBILITY} in the directory)",
                target.role
            ),
        })
    }
}

/// The refusal of a request for a role whose eligibility a review withdrew.
pub(super) fn refuse_withdrawn(caller: &Identity, role: &RoleName) -> ServiceError {
    ServiceError::denied(
        "ELIGIBILITY_WITHDRAWN",
        format!(
            "an access review withdrew {}'s eligibility for {role}; an admin restores it by \
             removing the role from the directory property {WITHDRAWN_ELIGIBILITY}",
            caller.subject
        ),
    )
}
