//! The hot path. A Check reads the subject's grants from a moka cache (loaded from the store on
//! a miss, one load per key however many calls wait), evaluates them against the compiled
//! policy, and answers with a reason, the deciding grant and the revision. `now < not_after`,
//! the session, the scope and revocation are checked on every call, whatever the cache holds;
//! entries live by time-to-live and their grants' own boundaries, never by time-to-idle, so a
//! read never extends a life. Any error is a deny.
//!
//! A replica allows nothing until its change feed has connected once (and the policy was
//! reloaded with it). While the feed is down Checks read through; when the store cannot answer
//! either, an entry loaded less than [`CacheOptions::outage_grace`] ago (by the injected clock)
//! may still answer, and after that the Check fails closed. The grace is zero by default: the
//! caches are dropped the moment the feed is lost.

mod freshness;
pub mod log;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use chrono::{DateTime, TimeDelta, Utc};
use moka::Expiry;
use moka::future::Cache;

use crate::clock::SharedClock;
use crate::domain::decision::DecisionReason;
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::scope::scope_covers;
use crate::domain::{Decision, Grant, RiskSignal, Subject};
use crate::policy::rules::{self, GrantFacts, RuleInput, RuleOutcome, TokenFacts};
use crate::policy::{Holding, Policy};
use crate::store::{Snapshot, Store, StoreError, StoreEvent};

pub use crate::domain::CheckQuery;
pub use freshness::Freshness;

/// Cache settings.
#[derive(Debug, Clone)]
pub struct CacheOptions {
    /// Longest life of an entry.
    pub ttl: Duration,
    /// Most subjects cached.
    pub max_subjects: u64,
    /// How long ended grants stay loaded, so a decision can say `expired` or `revoked`.
    pub ended_grant_lookback: TimeDelta,
    /// While the store is unreachable, how long after it was loaded an entry may still answer
    /// (zero: the caches are dropped when the feed is lost and every Check fails closed until
    /// the store answers). A grant revoked through another replica during the outage can be
    /// allowed for up to this long: it trades staleness for availability.
    pub outage_grace: TimeDelta,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            ttl: Duration::from_secs(300),
            max_subjects: 1_000_000,
            ended_grant_lookback: TimeDelta::hours(1),
            outage_grace: TimeDelta::zero(),
        }
    }
}

/// A subject's grants as loaded, sorted by role (stably, so each role's grants keep the
/// store's order). A sorted slice rather than a map: a million cached subjects hold one or
/// two grants each, and a hash map's table cost more than the grants.
#[derive(Debug)]
pub struct SubjectGrants {
    by_role: Box<[Arc<Grant>]>,
    revision: u64,
    lifetime: Duration,
    loaded_at: DateTime<Utc>,
}

impl SubjectGrants {
    /// Indexes a loaded snapshot. The entry lives until the earliest boundary (start or end)
    /// of its grants, or `ttl`.
    pub fn new(snapshot: Snapshot<Vec<Grant>>, now: DateTime<Utc>, ttl: Duration) -> Self {
        let mut by_role: Vec<Arc<Grant>> = Vec::with_capacity(snapshot.value.len());
        let mut lifetime = ttl;
        for grant in snapshot.value {
            for boundary in [grant.not_before, grant.not_after] {
                if boundary > now {
                    let until = (boundary - now).to_std().unwrap_or_default();
                    lifetime = lifetime.min(until + Duration::from_millis(1));
                }
            }
            by_role.push(Arc::new(grant));
        }
        by_role.sort_by(|a, b| a.role.cmp(&b.role));
        SubjectGrants {
            by_role: by_role.into_boxed_slice(),
            revision: snapshot.revision,
            lifetime,
            loaded_at: now,
        }
    }

    /// The revision the entry reflects.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    fn with_role(&self, role: &str) -> &[Arc<Grant>] {
        let start = self
            .by_role
            .partition_point(|grant| grant.role.as_str() < role);
        let end =
            start + self.by_role[start..].partition_point(|grant| grant.role.as_str() == role);
        &self.by_role[start..end]
    }

    /// Every grant loaded.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Grant>> {
        self.by_role.iter()
    }
}

/// A subject's risk signals as loaded.
#[derive(Debug)]
pub struct SubjectRisk {
    /// The signals.
    pub signals: Vec<RiskSignal>,
    revision: u64,
    lifetime: Duration,
    loaded_at: DateTime<Utc>,
}

impl SubjectRisk {
    fn new(snapshot: Snapshot<Vec<RiskSignal>>, now: DateTime<Utc>, ttl: Duration) -> Self {
        let lifetime = snapshot
            .value
            .iter()
            .map(|signal| (signal.expires_at - now).to_std().unwrap_or_default())
            .fold(ttl, Duration::min);
        SubjectRisk {
            signals: snapshot.value,
            revision: snapshot.revision,
            lifetime,
            loaded_at: now,
        }
    }
}

trait Loaded: Send + Sync + 'static {
    fn revision(&self) -> u64;
    fn lifetime(&self) -> Duration;
    /// When it was loaded, by the injected clock.
    fn loaded_at(&self) -> DateTime<Utc>;
}

impl Loaded for SubjectGrants {
    fn revision(&self) -> u64 {
        self.revision
    }
    fn lifetime(&self) -> Duration {
        self.lifetime
    }
    fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }
}

impl Loaded for SubjectRisk {
    fn revision(&self) -> u64 {
        self.revision
    }
    fn lifetime(&self) -> Duration {
        self.lifetime
    }
    fn loaded_at(&self) -> DateTime<Utc> {
        self.loaded_at
    }
}

/// Entries expire by their own lifetime, set when created; reads and updates never extend it.
struct LifetimeExpiry;

impl<V: Loaded> Expiry<Subject, Arc<V>> for LifetimeExpiry {
    fn expire_after_create(
        &self,
        _key: &Subject,
        value: &Arc<V>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.lifetime())
    }

    fn expire_after_update(
        &self,
        _key: &Subject,
        value: &Arc<V>,
        _updated_at: std::time::Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.lifetime())
    }
}

fn build_cache<V: Loaded>(options: &CacheOptions) -> Cache<Subject, Arc<V>> {
    Cache::builder()
        .max_capacity(options.max_subjects)
        .expire_after(LifetimeExpiry)
        .build()
}

/// What one cache did, for the metrics. Relaxed counters: cheap on the hot path.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Answered from the cache.
    pub hits: AtomicU64,
    /// Not cached (or stale), so loaded into the cache.
    pub misses: AtomicU64,
    /// Loads from the store (concurrent misses of one subject share one load).
    pub loads: AtomicU64,
    /// Reads past the cache because it could not be trusted (feed lost, newer revision asked).
    pub read_throughs: AtomicU64,
    /// Answered from an entry within the outage grace because the store could not answer.
    pub outage_answers: AtomicU64,
}

impl CacheStats {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One cache as the metrics see it.
pub struct CacheReport<'a> {
    /// `grants` or `risk`.
    pub name: &'static str,
    /// Subjects cached now.
    pub entries: u64,
    /// Its counters.
    pub stats: &'a CacheStats,
}

/// The decision point of one replica: policy in force, caches, and freshness bookkeeping.
pub struct Decider {
    policy: ArcSwap<Policy>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    options: CacheOptions,
    grants: Cache<Subject, Arc<SubjectGrants>>,
    grant_stats: CacheStats,
    risk: Cache<Subject, Arc<SubjectRisk>>,
    risk_stats: CacheStats,
    freshness: Freshness,
    change_feed_ignored_for_tests: AtomicBool,
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
            change_feed_ignored_for_tests: AtomicBool::new(false),
        }
    }

    /// **For tests only**: while set, this replica ignores the changes its feed announces (it
    /// still notices the feed breaking and coming back) -- the bug of a replica that misses
    /// invalidations. The fault suite's control run sets it to prove the suite catches that
    /// bug. Nothing in the server calls it.
    pub fn ignore_change_feed_for_tests(&self, ignore: bool) {
        self.change_feed_ignored_for_tests
            .store(ignore, Ordering::Release);
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

    /// Freshness bookkeeping (for readiness and tests).
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }

    /// How many subjects have cached grants.
    pub fn cached_subjects(&self) -> u64 {
        self.grants.entry_count()
    }

    /// Both caches, for the metrics.
    pub fn cache_reports(&self) -> [CacheReport<'_>; 2] {
        [
            CacheReport {
                name: "grants",
                entries: self.grants.entry_count(),
                stats: &self.grant_stats,
            },
            CacheReport {
                name: "risk",
                entries: self.risk.entry_count(),
                stats: &self.risk_stats,
            },
        ]
    }

    /// Decides one question. Never fails: an error is a deny with `internal_error`.
    pub async fn check(&self, query: &CheckQuery<'_>) -> Decision {
        match self.try_check(query).await {
            Ok(decision) => decision,
            Err(error) => {
                tracing::warn!(subject = query.subject, %error, "check failed; denying");
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
        let grants = self
            .subject_grants(query.subject, query.min_revision)
            .await?;
        let now = self.clock.now();
        let risk = self.risk_if_needed(query, now).await?;
        let mut decision = evaluate(&self.policy.load(), &grants, query, now, risk.as_ref());
        decision.revision = grants.revision().max(known_at_start);
        Ok(decision)
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
        let risk = self.subject_risk(query.subject, query.min_revision).await?;
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
        let grants = self
            .subject_grants(query.subject, query.min_revision)
            .await?;
        let policy = self.policy.load_full();
        let risk = match risk {
            Some(risk) => risk,
            None => {
                let stored = self.subject_risk(query.subject, query.min_revision).await?;
                risk_picture(&stored.signals, query.session, at)
            }
        };
        let mut decision = evaluate(&policy, &grants, query, at, Some(&risk));
        decision.revision = grants.revision().max(self.freshness.known());
        let mut traces: Vec<GrantTrace> = grants
            .all()
            .map(|grant| {
                let carries_permission = policy
                    .roles_with_permission(query.permission)
                    .contains(&grant.role);
                let mut rules = Vec::new();
                let (reason, rule) = if carries_permission {
                    judge_grant(
                        &policy,
                        &grants,
                        grant,
                        query,
                        at,
                        Some(&risk),
                        Some(&mut rules),
                    )
                } else {
                    (DecisionReason::NoGrant, None)
                };
                GrantTrace {
                    grant: grant.clone(),
                    carries_permission,
                    reason,
                    rule,
                    rules,
                }
            })
            .collect();
        traces.sort_by_key(|trace| trace.grant.id);
        Ok((decision, traces))
    }

    /// The subject's grants: from the cache when it can be trusted for `min_revision`,
    /// otherwise read through from the store.
    pub async fn subject_grants(
        &self,
        subject: &str,
        min_revision: u64,
    ) -> Result<Arc<SubjectGrants>, StoreError> {
        let ttl = self.options.ttl;
        let lookback = self.options.ended_grant_lookback;
        self.cached_or_loaded(
            &self.grants,
            &self.grant_stats,
            subject,
            min_revision,
            || async move {
                let now = self.clock.now();
                let snapshot = self.store.load_grants(subject, now - lookback).await?;
                Ok(Arc::new(SubjectGrants::new(snapshot, now, ttl)))
            },
        )
        .await
    }

    /// The subject's risk signals, on the same terms as [`Decider::subject_grants`].
    pub async fn subject_risk(
        &self,
        subject: &str,
        min_revision: u64,
    ) -> Result<Arc<SubjectRisk>, StoreError> {
        let ttl = self.options.ttl;
        self.cached_or_loaded(
            &self.risk,
            &self.risk_stats,
            subject,
            min_revision,
            || async move {
                let now = self.clock.now();
                let snapshot = self.store.load_risk(subject, now).await?;
                Ok(Arc::new(SubjectRisk::new(snapshot, now, ttl)))
            },
        )
        .await
    }

    async fn cached_or_loaded<V, F, Fut>(
        &self,
        cache: &Cache<Subject, Arc<V>>,
        stats: &CacheStats,
        subject: &str,
        min_revision: u64,
        load: F,
    ) -> Result<Arc<V>, StoreError>
    where
        V: Loaded,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Arc<V>, StoreError>>,
    {
        // Counted when run: moka drops the future of a caller that waits on another's load.
        let load = || {
            let loading = load();
            async move {
                CacheStats::count(&stats.loads);
                loading.await
            }
        };
        let cache_usable = self.freshness.is_listening() && min_revision <= self.freshness.known();
        if cache_usable {
            if let Some(entry) = cache.get(subject).await {
                if self.freshness.is_fresh(subject, entry.revision()) {
                    CacheStats::count(&stats.hits);
                    return Ok(entry);
                }
                cache.invalidate(subject).await;
            }
            CacheStats::count(&stats.misses);
            let key = Subject::parse(subject)
                .map_err(|error| StoreError::Internal(format!("cache key: {error}")))?;
            let entry = cache
                .try_get_with(key, load())
                .await
                .map_err(|error| (*error).clone())?;
            if self.freshness.is_fresh(subject, entry.revision()) {
                return Ok(entry);
            }
        }
        // Read through: the cache is not trusted (feed lost, a newer revision was demanded, or
        // a change raced with the load). Keep the fresh value only while the feed is up.
        CacheStats::count(&stats.read_throughs);
        let entry = match load().await {
            Ok(entry) => entry,
            Err(error) => {
                return self
                    .answer_within_outage_grace(cache, stats, subject, min_revision, error)
                    .await;
            }
        };
        if self.freshness.is_listening()
            && self.freshness.is_fresh(subject, entry.revision())
            && let Ok(key) = Subject::parse(subject)
        {
            cache.insert(key, entry.clone()).await;
        }
        Ok(entry)
    }

    /// When the store cannot answer, the cached entry if it was loaded within the outage grace,
    /// can prove `min_revision`, and nothing marked it stale; otherwise `error` (a deny).
    async fn answer_within_outage_grace<V: Loaded>(
        &self,
        cache: &Cache<Subject, Arc<V>>,
        stats: &CacheStats,
        subject: &str,
        min_revision: u64,
        error: StoreError,
    ) -> Result<Arc<V>, StoreError> {
        let grace = self.options.outage_grace;
        if grace <= TimeDelta::zero() || !matches!(error, StoreError::Unavailable(_)) {
            return Err(error);
        }
        let Some(entry) = cache.get(subject).await else {
            return Err(error);
        };
        let age = self.clock.now() - entry.loaded_at();
        let usable = age >= TimeDelta::zero()
            && age < grace
            && entry.revision() >= min_revision
            && self.freshness.is_fresh(subject, entry.revision());
        if !usable {
            return Err(error);
        }
        CacheStats::count(&stats.outage_answers);
        Ok(entry)
    }

    /// Applies what the store says changed: drops stale entries, then advances the known
    /// revision (in that order, so a Check that demands the revision sees the change).
    pub async fn observe(&self, event: &StoreEvent) {
        if matches!(event, StoreEvent::Changed { .. })
            && self.change_feed_ignored_for_tests.load(Ordering::Acquire)
        {
            return;
        }
        match event {
            StoreEvent::Changed {
                revision,
                subjects,
                everyone,
                policy_changed,
                ..
            } => {
                if *policy_changed {
                    self.reload_policy().await;
                }
                if *everyone {
                    self.freshness.mark_everything_changed(*revision);
                    self.grants.invalidate_all();
                    self.risk.invalidate_all();
                }
                for subject in subjects {
                    self.forget_subject(subject, *revision).await;
                }
                self.freshness.advance_known(*revision);
            }
            StoreEvent::Lost => {
                self.freshness.lose_feed();
                if self.options.outage_grace <= TimeDelta::zero() {
                    self.grants.invalidate_all();
                    self.risk.invalidate_all();
                    tracing::warn!("change feed lost: caches dropped, checks read through");
                } else {
                    tracing::warn!(
                        "change feed lost: checks read through; cached entries answer only while the store cannot, within the outage grace"
                    );
                }
            }
            StoreEvent::Restored { revision } => {
                self.reload_policy().await;
                self.grants.invalidate_all();
                self.risk.invalidate_all();
                self.freshness.restore_feed(*revision);
                tracing::info!(revision, "change feed restored: caching again");
            }
        }
    }

    /// Drops what this replica cached about the subjects a local write changed, at once (the
    /// change feed tells the other replicas).
    pub async fn forget(&self, subjects: &[Subject], revision: u64) {
        for subject in subjects {
            self.forget_subject(subject, revision).await;
        }
    }

    async fn forget_subject(&self, subject: &Subject, revision: u64) {
        self.freshness.mark_changed(subject.as_str(), revision);
        self.grants.invalidate(subject.as_str()).await;
        self.risk.invalidate(subject.as_str()).await;
    }

    /// Loads the latest stored policy and puts it in force when it is newer.
    pub async fn reload_policy(&self) {
        match self.store.latest_policy().await {
            Ok(Some(stored)) => match Policy::parse(&stored.source, stored.version) {
                Ok(policy) => self.set_policy(Arc::new(policy)),
                Err(problems) => {
                    tracing::error!(version = stored.version, %problems, "stored policy is invalid; keeping the one in force");
                }
            },
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "could not reload the policy"),
        }
    }
}

/// How one grant fared in an explained decision.
#[derive(Debug, Clone)]
pub struct GrantTrace {
    /// The grant.
    pub grant: Arc<Grant>,
    /// Whether its role carries the permission asked for.
    pub carries_permission: bool,
    /// Why it allows, or why not.
    pub reason: DecisionReason,
    /// The rule that decided, when a rule did.
    pub rule: Option<String>,
    /// Every rule evaluated for it.
    pub rules: Vec<RuleOutcome>,
}

/// The checks every grant gets on every call, whatever the cache holds: scope, revocation,
/// window and session. Cheap and allocation-free; most grants stop here.
#[inline(always)]
fn base_verdict(grant: &Grant, query: &CheckQuery<'_>, now: DateTime<Utc>) -> DecisionReason {
    if !scope_covers(grant.scope.as_str(), query.resource) {
        return DecisionReason::ScopeMismatch;
    }
    if grant.revocation.is_some() {
        return DecisionReason::Revoked;
    }
    if now >= grant.not_after {
        return DecisionReason::Expired;
    }
    if now < grant.not_before {
        return DecisionReason::NotYetActive;
    }
    if let Some(bound) = &grant.session
        && query.session != Some(bound.as_str())
    {
        return DecisionReason::OtherSession;
    }
    // A delegation not yet taken up in a session is bound to none and counts in none.
    if grant.awaiting_acceptance {
        return DecisionReason::DelegationNotAccepted;
    }
    DecisionReason::Allowed
}

/// Why one grant (whose role carries the permission) does or does not allow the question:
/// the base checks first, then separation of duties, then its rules. Returns the reason and,
/// when a rule (or a separation set) decided, its text.
fn judge_grant(
    policy: &Policy,
    grants: &SubjectGrants,
    grant: &Arc<Grant>,
    query: &CheckQuery<'_>,
    now: DateTime<Utc>,
    risk: Option<&RiskPicture>,
    trace: Option<&mut Vec<RuleOutcome>>,
) -> (DecisionReason, Option<String>) {
    let base = base_verdict(grant, query, now);
    if base != DecisionReason::Allowed {
        return (base, None);
    }
    judge_allowed_grant(policy, grants, grant, query, now, risk, trace)
}

/// The checks for a grant that passed the base checks: separation of duties and rules.
fn judge_allowed_grant(
    policy: &Policy,
    grants: &SubjectGrants,
    grant: &Arc<Grant>,
    query: &CheckQuery<'_>,
    now: DateTime<Utc>,
    risk: Option<&RiskPicture>,
    trace: Option<&mut Vec<RuleOutcome>>,
) -> (DecisionReason, Option<String>) {
    if !policy.separations().is_empty()
        && let Some(conflict) = separation_conflict(policy, grants, grant, query, now)
    {
        return (DecisionReason::SodConflict, Some(conflict));
    }
    if !policy.has_grant_rules(grant.role.as_str()) {
        return (DecisionReason::Allowed, None);
    }
    let no_risk = RiskPicture::default();
    let delegated_by = grant.delegated_by().map(|s| s.as_str());
    let input = RuleInput {
        token: TokenFacts {
            sub: query.subject,
            sid: query.session,
            groups: query
                .token
                .map(|token| token.groups.iter().map(|g| g.as_str()).collect())
                .unwrap_or_default(),
            delegated_by,
            amr: query
                .token
                .map(|token| token.amr.iter().map(String::as_str).collect())
                .unwrap_or_default(),
        },
        request: None,
        grant: Some(GrantFacts {
            role: grant.role.as_str(),
            scope: grant.scope.as_str(),
            activated_at: grant.not_before,
            expires_at: grant.not_after,
            delegated_by,
        }),
        risk: risk.unwrap_or(&no_risk),
        now,
        time: now - grant.not_before,
    };
    match rules::judge(
        policy.grant_rules_for(
            &grant.role,
            &grant.scope,
            grant.parent_grant_id.is_some() || !grant.delegation_trail.is_empty(),
        ),
        &input,
        trace,
    ) {
        rules::RuleVerdict::Allowed => (DecisionReason::Allowed, None),
        rules::RuleVerdict::Refused { rule, by_risk, .. } => {
            let reason = if by_risk {
                DecisionReason::RiskSuspended
            } else {
                DecisionReason::RuleDenied
            };
            (reason, Some(rule))
        }
    }
}

/// A conflict between the grant's role and another role the subject has active now (a grant,
/// or a standing role from its token), under a separation-of-duties set.
fn separation_conflict(
    policy: &Policy,
    grants: &SubjectGrants,
    grant: &Arc<Grant>,
    query: &CheckQuery<'_>,
    now: DateTime<Utc>,
) -> Option<String> {
    let active_grants = grants
        .all()
        .filter(|other| other.id != grant.id && other.revocation.is_none())
        .filter(|other| other.not_before <= now && now < other.not_after)
        .map(|other| Holding::Grant(other.id, &other.role));
    let standing = query
        .token
        .into_iter()
        .flat_map(|token| token.standing_roles.iter())
        .map(|standing| Holding::Standing(&standing.role));
    policy
        .separation_conflict(&grant.role, active_grants.chain(standing))
        .map(|conflict| conflict.to_string())
}

/// The decision itself, pure: which grant (or standing role) carries the permission on the
/// resource now, or the closest reason why none does.
pub fn evaluate(
    policy: &Policy,
    grants: &SubjectGrants,
    query: &CheckQuery<'_>,
    now: DateTime<Utc>,
    risk: Option<&RiskPicture>,
) -> Decision {
    let roles = policy.roles_with_permission(query.permission);
    let mut closest: Option<(DecisionReason, &Arc<Grant>, Option<String>)> = None;
    for role in roles {
        for grant in grants.with_role(role.as_str()) {
            let base = base_verdict(grant, query, now);
            let (reason, rule) = if base == DecisionReason::Allowed {
                judge_allowed_grant(policy, grants, grant, query, now, risk, None)
            } else {
                (base, None)
            };
            if reason == DecisionReason::Allowed {
                return Decision {
                    allowed: true,
                    reason,
                    grant: Some(grant.clone()),
                    standing_role: None,
                    rule: None,
                    revision: grants.revision,
                };
            }
            if closest
                .as_ref()
                .is_none_or(|(best, _, _)| reason.closeness() > best.closeness())
            {
                closest = Some((reason, grant, rule));
            }
        }
    }
    let standing_roles = query
        .token
        .map_or(&[][..], |token| token.standing_roles.as_slice());
    if let Some(standing) = standing_roles
        .iter()
        .find(|standing| roles.contains(&standing.role) && standing.covers(query.resource))
    {
        return Decision {
            allowed: true,
            reason: DecisionReason::Allowed,
            grant: None,
            standing_role: Some(standing.role.to_string()),
            rule: None,
            revision: grants.revision,
        };
    }
    match closest {
        Some((reason, grant, rule)) => Decision {
            allowed: false,
            reason,
            grant: Some(grant.clone()),
            standing_role: None,
            rule,
            revision: grants.revision,
        },
        None => Decision::deny(DecisionReason::NoGrant, grants.revision),
    }
}
