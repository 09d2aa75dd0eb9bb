//! The decision point of one replica: the policy in force, the caches and the freshness
//! bookkeeping, and the Check itself (cached grants and risk, then the pure evaluation).

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use moka::future::Cache;

use super::cache::{CacheOptions, CacheStats, SubjectGrants, SubjectRisk, build_cache};
use super::evaluate::{GrantTrace, QuestionFacts, evaluate, explain_grants};
use super::freshness::Freshness;
use crate::clock::SharedClock;
use crate::domain::decision::DecisionReason;
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{CheckQuery, Decision, Directory, DirectoryView, Entity, Properties, Subject};
use crate::policy::Policy;
use crate::policy::rules::AccessFacts;
use crate::store::{Store, StoreError};

/// The properties of what a plain Check does not describe (made once: an empty map is still
/// an allocation, and the Check path makes none it does not need).
static NO_PROPERTIES: std::sync::LazyLock<Properties> =
    std::sync::LazyLock::new(Properties::default);

/// The entity type a gRPC Check's subject has in the directory.
pub(super) const USER_TYPE: &str = "user";

/// The decision point of one replica: policy in force, caches, and freshness bookkeeping.
pub struct Decider {
    pub(super) policy: ArcSwap<Policy>,
    pub(super) store: Arc<dyn Store>,
    pub(super) clock: SharedClock,
    pub(super) options: CacheOptions,
    pub(super) grants: Cache<Subject, Arc<SubjectGrants>>,
    pub(super) grant_stats: CacheStats,
    pub(super) risk: Cache<Subject, Arc<SubjectRisk>>,
    pub(super) risk_stats: CacheStats,
    pub(super) freshness: Freshness,
    /// The directory the store feeds; the policy carries the file's.
    pub(super) stored_directory: ArcSwap<Directory>,
}

impl Decider {
    /// A decider over `store`, starting with `policy`.
    pub fn new(
        policy: Policy,
        store: Arc<dyn Store>,
        clock: SharedClock,
        options: CacheOptions,
    ) -> Self {
        Decider {
            policy: ArcSwap::from_pointee(policy),
            grants: build_cache(&options),
            grant_stats: CacheStats::default(),
            risk: build_cache(&options),
            risk_stats: CacheStats::default(),
            store,
            clock,
            options,
            freshness: Freshness::default(),
            stored_directory: ArcSwap::from_pointee(Directory::default()),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.load_full()
    }

    /// Puts `policy` in force (if it is newer than the one in force). Cached grants do not
    /// depend on policy, so nothing is dropped.
    pub fn set_policy(&self, policy: Arc<Policy>) {
        let previous = self.policy.rcu(|current| {
            if policy.version() > current.version() {
                policy.clone()
            } else {
                current.clone()
            }
        });
        if policy.version() > previous.version() {
            tracing::info!(version = policy.version(), "policy in force");
        }
    }

    /// Puts the directory the store feeds in force, whole (the file's comes with the policy).
    /// Decisions consult it before the file's.
    pub fn replace_stored_directory(&self, directory: Directory) {
        self.stored_directory.store(Arc::new(directory));
    }

    /// The directory as decisions read it: the stored snapshot over the policy file's.
    pub fn directory(&self) -> DirectoryView {
        DirectoryView::new(
            self.stored_directory.load_full(),
            self.policy.load().access().directory().clone(),
        )
    }

    /// Freshness bookkeeping (for readiness and tests).
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// Decides one question. Never fails: an error is a deny with `internal_error`.
    pub async fn check(&self, query: &CheckQuery<'_>) -> Decision {
        match self.try_check(query).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(subject = query.subject.as_str(), %error, "check failed; denying");
                Decision::deny(DecisionReason::InternalError, self.freshness.known())
            }
        }
    }

    async fn try_check(&self, query: &CheckQuery<'_>) -> Result<Decision, StoreError> {
        if !self.freshness.has_listened() {
            // Starting: not yet proved to see other replicas' writes. Fail closed.
            return Ok(Decision::deny(DecisionReason::InternalError, 0));
        }
        let known_at_start = self.freshness.known();
        let grants = self.grants_of(query.subject, query.min_revision).await?;
        let now = self.clock.now();
        let risk = self.risk_if_needed(query, now).await?;
        let policy = self.policy.load();
        let directory_entity = self.directory_user(&policy, query);
        let facts = plain_facts(&policy, directory_entity.as_deref(), query);
        let mut decision = evaluate(&policy, &grants, query, &facts, now, risk.as_ref());
        decision.revision = grants.revision().max(known_at_start);
        Ok(decision)
    }

    /// The directory's entry for a Check's subject (type `user`), when there is a directory.
    fn directory_user(
        &self,
        policy: &Policy,
        query: &CheckQuery<'_>,
    ) -> Option<Arc<crate::domain::Entity>> {
        let stored = self.stored_directory.load();
        let file = policy.access().directory();
        if stored.is_empty() && file.is_empty() {
            return None;
        }
        stored
            .find(USER_TYPE, query.subject.as_str())
            .or_else(|| file.find(USER_TYPE, query.subject.as_str()))
            .cloned()
    }

    /// The subject's risk picture for the session, when a rule that could decide the question
    /// reads it (loading it costs a cache lookup; most Checks need none).
    async fn risk_if_needed(
        &self,
        query: &CheckQuery<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<RiskPicture>, StoreError> {
        if !self.policy.load().permission_reads_risk(query.permission) {
            return Ok(None);
        }
        let risk = self.risk_of(query.subject, query.min_revision).await?;
        Ok(Some(risk_picture(&risk.signals, query.session, now)))
    }

    /// Decides `query` as if at `at` and, when given, under `risk` instead of the stored
    /// signals, and explains every grant the subject holds. Changes nothing.
    pub async fn explain(
        &self,
        query: &CheckQuery<'_>,
        at: DateTime<Utc>,
        risk: Option<RiskPicture>,
    ) -> Result<(Decision, Vec<GrantTrace>), StoreError> {
        let grants = self.grants_of(query.subject, query.min_revision).await?;
        let policy = self.policy.load_full();
        let risk = match risk {
            Some(risk) => risk,
            None => {
                let stored = self.risk_of(query.subject, query.min_revision).await?;
                risk_picture(&stored.signals, query.session, at)
            }
        };
        let directory_entity = self.directory_user(&policy, query);
        let facts = plain_facts(&policy, directory_entity.as_deref(), query);
        let mut decision = evaluate(&policy, &grants, query, &facts, at, Some(&risk));
        decision.revision = grants.revision().max(self.freshness.known());
        let traces = explain_grants(&policy, &grants, query, at, &risk);
        Ok((decision, traces))
    }
}

/// What a plain Check (a scope, no resource type) brings beyond its fields: the subject's
/// standing roles from the directory (as a `user`) and, when the policy has conditions, the
/// facts they read: `subject` is `{type: "user", id, properties: the directory's}`, `resource`
/// is `{type: "", id: the scope}`, `action.name` the permission, `context` empty.
fn plain_facts<'q>(
    policy: &Policy,
    entity: Option<&'q Entity>,
    query: &CheckQuery<'q>,
) -> QuestionFacts<'q> {
    let no_properties: &'static Properties = &NO_PROPERTIES;
    let access = policy.access().has_conditions().then(|| AccessFacts {
        subject_type: USER_TYPE,
        subject_id: query.subject.as_str(),
        subject_properties: entity.map_or(no_properties, |entity| &entity.properties),
        resource_type: "",
        resource_id: query.resource,
        resource_properties: no_properties,
        action_name: query.permission,
        action_properties: no_properties,
        context: no_properties,
    });
    QuestionFacts {
        directory_roles: entity.map_or(&[][..], |entity| entity.roles.as_slice()),
        access,
    }
}
