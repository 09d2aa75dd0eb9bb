//! A resource search decided in one pass: the question is a subject, an action and a resource
//! type, and the candidates are the directory's entities of that type (its index by type, so
//! no other entity is walked). What is the same for every candidate is found once (the policy,
//! the subject's grants, directory entry and risk); each candidate then costs its scope and the
//! pure evaluation, the very one a single evaluation runs, so every result is what asking it
//! back would answer. The search stops at the page's limit and says where the next page starts.

use std::borrow::Cow;
use std::sync::Arc;

use super::decider::Decider;
use super::entries::SubjectGrants;
use super::evaluate::{QuestionFacts, evaluate};
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{AccessQuery, CheckQuery, Entity, EntityId, Properties, Scope};
use crate::policy::Policy;
use crate::policy::rules::AccessFacts;
use crate::store::StoreError;

/// Where a resource search starts and how much it returns.
#[derive(Debug, Clone, Copy)]
pub struct SearchWindow {
    /// The place in the candidates to start at (a page token's).
    pub offset: usize,
    /// Most results.
    pub limit: usize,
}

/// One page of a resource search.
#[derive(Debug, Clone, Default)]
pub struct ResourcePage {
    /// The resources the subject may act on, in the directory's order.
    pub found: Vec<EntityId>,
    /// The place of the first result of the next page; `None` on the last page.
    pub next_offset: Option<usize>,
    /// The revision the page was decided at.
    pub revision: u64,
}

/// Everything a candidate is decided against: found once per search.
struct Fixed<'s, 'q> {
    policy: &'s Policy,
    grants: &'s SubjectGrants,
    check: &'s CheckQuery<'q>,
    query: &'s AccessQuery<'q>,
    directory_roles: &'s [crate::domain::StandingRole],
    subject_properties: Option<&'s Properties>,
    risk: Option<&'s RiskPicture>,
    now: chrono::DateTime<chrono::Utc>,
}

impl Fixed<'_, '_> {
    /// Whether the subject may do the action on `resource`, as a single evaluation of the
    /// same question would answer. A resource that maps to no scope is no result.
    fn permits(&self, resource: &Entity) -> bool {
        let id = resource.key.id.as_str();
        let scope: Cow<'_, Scope> = match &resource.scope {
            Some(scope) => Cow::Borrowed(scope),
            None => match self
                .policy
                .access()
                .resource_scope(resource.key.entity_type.as_str(), id)
            {
                Ok(scope) => Cow::Owned(scope),
                Err(_) => return false,
            },
        };
        let check = CheckQuery {
            resource: scope.as_str(),
            ..*self.check
        };
        let merged = self
            .subject_properties
            .map(|_| resource.properties.over(&self.query.resource.properties));
        let facts = QuestionFacts {
            directory_roles: self.directory_roles,
            access: self.subject_properties.zip(merged.as_ref()).map(
                |(subject, resource_properties)| AccessFacts {
                    subject_type: self.query.subject.entity_type(),
                    subject_id: self.query.subject.id(),
                    subject_properties: subject,
                    resource_type: self.query.resource.entity_type(),
                    resource_id: id,
                    resource_properties,
                    action_name: self.query.action.name(),
                    action_properties: &self.query.action.properties,
                    context: &self.query.context,
                },
            ),
        };
        evaluate(
            self.policy,
            self.grants,
            &check,
            &facts,
            self.now,
            self.risk,
        )
        .allowed
    }

    /// Whether any candidate could be allowed: the subject holds (by grant, token or
    /// directory) some role that carries the permission. When none does, no candidate needs
    /// deciding.
    fn could_allow_any(&self) -> bool {
        let roles = self.policy.roles_with_permission(self.check.permission);
        let token_roles = self
            .check
            .token
            .map_or(&[][..], |token| token.standing_roles.as_slice());
        roles.iter().any(|role| {
            !self.grants.with_role(role.as_str()).is_empty()
                || token_roles
                    .iter()
                    .chain(self.directory_roles)
                    .any(|standing| &standing.role == role)
        })
    }
}

impl Decider {
    /// The resources of `query`'s resource type (the directory's, in its order) on which its
    /// subject may do its action, from `window.offset` on, at most `window.limit` of them.
    /// `check` is the question's Check form (subject, session, permission, token); its
    /// resource is each candidate's scope in turn, and `query`'s resource id is not read. Never
    /// fails: when the grants cannot be read, nothing is found (fail closed).
    pub async fn search_resources(
        &self,
        check: &CheckQuery<'_>,
        query: &AccessQuery<'_>,
        window: SearchWindow,
    ) -> ResourcePage {
        match self.try_search_resources(check, query, window).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(subject = check.subject.as_str(), %error, "resource search failed; nothing found");
                ResourcePage {
                    revision: self.freshness.known(),
                    ..ResourcePage::default()
                }
            }
        }
    }

    async fn try_search_resources(
        &self,
        check: &CheckQuery<'_>,
        query: &AccessQuery<'_>,
        window: SearchWindow,
    ) -> Result<ResourcePage, StoreError> {
        if !self.freshness.has_listened() {
            return Ok(ResourcePage::default());
        }
        let known_at_start = self.freshness.known();
        let grants = self.grants_of(check.subject, check.min_revision).await?;
        let now = self.clock.now();
        let policy = self.policy.load_full();
        let risk = if policy.permission_reads_risk(check.permission) {
            let risk = self.risk_of(check.subject, check.min_revision).await?;
            Some(risk_picture(&risk.signals, check.session, now))
        } else {
            None
        };
        let directory = self.directory();
        let subject: Option<&Arc<Entity>> =
            directory.find(query.subject.entity_type(), query.subject.id());
        let subject_properties = policy.access().has_conditions().then(|| match subject {
            Some(entity) => entity.properties.over(&query.subject.properties),
            None => query.subject.properties.clone(),
        });
        let fixed = Fixed {
            policy: &policy,
            grants: &grants,
            check,
            query,
            directory_roles: subject.map_or(&[][..], |entity| entity.roles.as_slice()),
            subject_properties: subject_properties.as_ref(),
            risk: risk.as_ref(),
            now,
        };
        let mut page = ResourcePage {
            revision: grants.revision().max(known_at_start),
            ..ResourcePage::default()
        };
        if !fixed.could_allow_any() {
            return Ok(page);
        }
        let candidates = directory
            .entities_of_type(query.resource.entity_type())
            .enumerate()
            .skip(window.offset);
        for (place, candidate) in candidates {
            if !fixed.permits(candidate) {
                continue;
            }
            if page.found.len() == window.limit {
                page.next_offset = Some(place);
                break;
            }
            page.found.push(candidate.key.id.clone());
        }
        Ok(page)
    }
}
