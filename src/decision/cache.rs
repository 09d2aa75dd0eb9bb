//! The decider's two caches (a subject's grants, a subject's risk signals): what an entry
//! holds and how long it lives, the read-through when the cache cannot be trusted, and the
//! outage grace when the store cannot answer either.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use moka::Expiry;
use moka::future::Cache;

use super::Decider;
use crate::domain::{Grant, RiskSignal, Subject, SubjectRef};
use crate::store::{Snapshot, StoreError};

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
    stamp: LoadStamp,
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
            stamp: LoadStamp {
                revision: snapshot.revision,
                lifetime,
                loaded_at: now,
            },
        }
    }

    /// The revision the entry reflects.
    pub(super) fn revision(&self) -> u64 {
        self.stamp.revision
    }

    /// The grants of `role`, in the store's order.
    pub(super) fn with_role(&self, role: &str) -> &[Arc<Grant>] {
        let start = self
            .by_role
            .partition_point(|grant| grant.role.as_str() < role);
        let end =
            start + self.by_role[start..].partition_point(|grant| grant.role.as_str() == role);
        &self.by_role[start..end]
    }

    /// Every grant loaded.
    pub(super) fn all(&self) -> impl Iterator<Item = &Arc<Grant>> {
        self.by_role.iter()
    }
}

/// A subject's risk signals as loaded.
#[derive(Debug)]
pub struct SubjectRisk {
    /// The signals.
    pub signals: Vec<RiskSignal>,
    stamp: LoadStamp,
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
            stamp: LoadStamp {
                revision: snapshot.revision,
                lifetime,
                loaded_at: now,
            },
        }
    }
}

/// When and at which revision a cache entry was loaded, and how long it may live: what both
/// caches need of an entry to expire it and to judge whether it can be trusted.
#[derive(Debug, Clone, Copy)]
pub(super) struct LoadStamp {
    revision: u64,
    lifetime: Duration,
    /// By the injected clock.
    loaded_at: DateTime<Utc>,
}

pub(super) trait Loaded: Send + Sync + 'static {
    fn stamp(&self) -> &LoadStamp;

    fn revision(&self) -> u64 {
        self.stamp().revision
    }
    fn lifetime(&self) -> Duration {
        self.stamp().lifetime
    }
    /// When it was loaded, by the injected clock.
    fn loaded_at(&self) -> DateTime<Utc> {
        self.stamp().loaded_at
    }
}

impl Loaded for SubjectGrants {
    fn stamp(&self) -> &LoadStamp {
        &self.stamp
    }
}

impl Loaded for SubjectRisk {
    fn stamp(&self) -> &LoadStamp {
        &self.stamp
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

pub(super) fn build_cache<V: Loaded>(options: &CacheOptions) -> Cache<Subject, Arc<V>> {
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

impl Decider {
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

    /// The subject's grants: from the cache when it can be trusted for `min_revision`,
    /// otherwise read through from the store.
    pub(super) async fn grants_of(
        &self,
        subject: SubjectRef<'_>,
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
                let snapshot = self
                    .store
                    .load_grants(subject.as_str(), now - lookback)
                    .await?;
                Ok(Arc::new(SubjectGrants::new(snapshot, now, ttl)))
            },
        )
        .await
    }

    /// The subject's risk signals, on the same terms as its grants: for the use cases that
    /// assess a request or an approval by risk (`subject` is validated here; a Check's was at
    /// the edge).
    pub async fn subject_risk(
        &self,
        subject: &str,
        min_revision: u64,
    ) -> Result<Arc<SubjectRisk>, StoreError> {
        let subject = SubjectRef::parse(subject)
            .map_err(|error| StoreError::Internal(format!("subject: {error}")))?;
        self.risk_of(subject, min_revision).await
    }

    /// The subject's risk signals, on the same terms as [`Decider::grants_of`].
    pub(super) async fn risk_of(
        &self,
        subject: SubjectRef<'_>,
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
                let snapshot = self.store.load_risk(subject.as_str(), now).await?;
                Ok(Arc::new(SubjectRisk::new(snapshot, now, ttl)))
            },
        )
        .await
    }

    async fn cached_or_loaded<V, F, Fut>(
        &self,
        cache: &Cache<Subject, Arc<V>>,
        stats: &CacheStats,
        subject: SubjectRef<'_>,
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
            if let Some(entry) = cache.get(subject.as_str()).await {
                if self.freshness.is_fresh(subject.as_str(), entry.revision()) {
                    CacheStats::count(&stats.hits);
                    return Ok(entry);
                }
                cache.invalidate(subject.as_str()).await;
            }
            CacheStats::count(&stats.misses);
            let entry = cache
                .try_get_with(subject.to_subject(), load())
                .await
                .map_err(|error| (*error).clone())?;
            if self.freshness.is_fresh(subject.as_str(), entry.revision()) {
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
            && self.freshness.is_fresh(subject.as_str(), entry.revision())
        {
            cache.insert(subject.to_subject(), entry.clone()).await;
        }
        Ok(entry)
    }

    /// When the store cannot answer, the cached entry if it was loaded within the outage grace,
    /// can prove `min_revision`, and nothing marked it stale; otherwise `error` (a deny).
    async fn answer_within_outage_grace<V: Loaded>(
        &self,
        cache: &Cache<Subject, Arc<V>>,
        stats: &CacheStats,
        subject: SubjectRef<'_>,
        min_revision: u64,
        error: StoreError,
    ) -> Result<Arc<V>, StoreError> {
        let grace = self.options.outage_grace;
        if grace <= TimeDelta::zero() || !matches!(error, StoreError::Unavailable(_)) {
            return Err(error);
        }
        let Some(entry) = cache.get(subject.as_str()).await else {
            return Err(error);
        };
        let age = self.clock.now() - entry.loaded_at();
        let usable = age >= TimeDelta::zero()
            && age < grace
            && entry.revision() >= min_revision
            && self.freshness.is_fresh(subject.as_str(), entry.revision());
        if !usable {
            return Err(error);
        }
        CacheStats::count(&stats.outage_answers);
        Ok(entry)
    }
}
