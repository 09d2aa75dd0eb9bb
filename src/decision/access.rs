//! Access questions in AuthZEN's shape, mapped onto elevator's model: the subject's entry in
//! the directory (stored first, then the policy file's) adds standing roles and properties, the
//! resource maps to a scope (its directory entry's, else the policy's template for its type,
//! else `{type}:{escaped id}`), and the question is then decided as a Check is: grants of the
//! subject id, standing roles from the token and the directory, rules and conditions.

use std::sync::Arc;

use super::decider::Decider;
use super::evaluate::{QuestionFacts, evaluate};
use crate::domain::decision::DecisionReason;
use crate::domain::risk::risk_picture;
use crate::domain::{AccessQuery, CheckQuery, Decision, Entity, InvalidValue, Properties, Scope};
use crate::policy::Policy;
use crate::policy::rules::AccessFacts;
use crate::store::StoreError;

/// An access question with its place found: the policy it was resolved under, the directory
/// entries of its subject and resource, and the resource's scope.
#[derive(Debug, Clone)]
pub struct ResolvedAccess {
    policy: Arc<Policy>,
    subject: Option<Arc<Entity>>,
    resource: Option<Arc<Entity>>,
    scope: Scope,
}

impl ResolvedAccess {
    /// The scope the resource maps to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The subject's directory entry, when the directory knows it.
    pub fn subject_entity(&self) -> Option<&Arc<Entity>> {
        self.subject.as_ref()
    }

    /// The resource's directory entry, when the directory knows it.
    pub fn resource_entity(&self) -> Option<&Arc<Entity>> {
        self.resource.as_ref()
    }
}

impl Decider {
    /// Finds the subject and the resource of `query` in the directory and the resource's
    /// scope. Fails only when the resource maps to no valid scope (an id too long to escape
    /// into one, or a template that gives none for it).
    pub fn resolve_access(&self, query: &AccessQuery<'_>) -> Result<ResolvedAccess, InvalidValue> {
        let policy = self.policy.load_full();
        let directory = self.directory();
        let subject = directory
            .find(query.subject.entity_type(), query.subject.id())
            .cloned();
        let resource = directory
            .find(query.resource.entity_type(), query.resource.id())
            .cloned();
        let scope = match resource.as_ref().and_then(|entity| entity.scope.clone()) {
            Some(scope) => scope,
            None => policy
                .access()
                .resource_scope(query.resource.entity_type(), query.resource.id())?,
        };
        Ok(ResolvedAccess {
            policy,
            subject,
            resource,
            scope,
        })
    }

    /// Decides an access question, `check` being its Check form (subject id, session,
    /// permission, the resolved scope, token). Never fails: an error is a deny.
    pub async fn check_access(
        &self,
        check: &CheckQuery<'_>,
        query: &AccessQuery<'_>,
        resolved: &ResolvedAccess,
    ) -> Decision {
        match self.try_check_access(check, query, resolved).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(subject = check.subject.as_str(), %error, "access check failed; denying");
                Decision::deny(DecisionReason::InternalError, self.freshness.known())
            }
        }
    }

    async fn try_check_access(
        &self,
        check: &CheckQuery<'_>,
        query: &AccessQuery<'_>,
        resolved: &ResolvedAccess,
    ) -> Result<Decision, StoreError> {
        if !self.freshness.has_listened() {
            return Ok(Decision::deny(DecisionReason::InternalError, 0));
        }
        let known_at_start = self.freshness.known();
        let grants = self.grants_of(check.subject, check.min_revision).await?;
        let now = self.clock.now();
        let policy = &resolved.policy;
        let risk = if policy.permission_reads_risk(check.permission) {
            let risk = self.risk_of(check.subject, check.min_revision).await?;
            Some(risk_picture(&risk.signals, check.session, now))
        } else {
            None
        };
        let merged = policy
            .access()
            .has_conditions()
            .then(|| MergedProperties::of(query, resolved));
        let facts = QuestionFacts {
            directory_roles: resolved
                .subject
                .as_ref()
                .map_or(&[][..], |entity| entity.roles.as_slice()),
            access: merged.as_ref().map(|merged| AccessFacts {
                subject_type: query.subject.entity_type(),
                subject_id: query.subject.id(),
                subject_properties: &merged.subject,
                resource_type: query.resource.entity_type(),
                resource_id: query.resource.id(),
                resource_properties: &merged.resource,
                action_name: query.action.name(),
                action_properties: &query.action.properties,
                context: &query.context,
            }),
        };
        let mut decision = evaluate(policy, &grants, check, &facts, now, risk.as_ref());
        decision.revision = grants.revision().max(known_at_start);
        Ok(decision)
    }
}

/// The subject's and the resource's properties as conditions read them: the directory's laid
/// over the request's (the directory wins).
struct MergedProperties {
    subject: Properties,
    resource: Properties,
}

impl MergedProperties {
    fn of(query: &AccessQuery<'_>, resolved: &ResolvedAccess) -> Self {
        let merge = |entity: Option<&Arc<Entity>>, asked: &Properties| match entity {
            Some(entity) => entity.properties.over(asked),
            None => asked.clone(),
        };
        MergedProperties {
            subject: merge(resolved.subject.as_ref(), &query.subject.properties),
            resource: merge(resolved.resource.as_ref(), &query.resource.properties),
        }
    }
}
