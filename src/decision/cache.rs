//! The decider's two caches (a subject's grants, a subject's risk signals): how they are
//! bounded and expired, the read-through when the cache cannot be trusted, and the outage grace
//! when the store cannot answer either. What an entry holds is `entries`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use moka::future::Cache;
use moka::ops::compute::Op;

use super::Decider;
use super::entries::{Loaded, Moment, SubjectGrants, SubjectRisk};
use crate::domain::{Subject, SubjectRef};
use crate::store::StoreError;

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

/// The cache: bounded by `max_subjects` (moka's size-bounded TinyLFU), and nothing else. An
/// entry's life (`ttl`, or its grants' first boundary) is the deadline it carries, checked on
/// every read (`Loaded::is_live`); moka's per-entry expiry would keep a timer-wheel node per
/// entry (40 bytes) and its time-to-live a write-order node (24 bytes) for the same effect
/// (BENCHMARKS.md, "Memory for a million cached subjects"). An entry past its deadline that
/// nobody asks about again stays until the size bound evicts it.
pub(super) fn build_cache<V: Loaded>(options: &CacheOptions) -> SubjectCache<V> {
    Cache::builder()
        .max_capacity(options.max_subjects)
        .build_with_hasher(foldhash::fast::RandomState::default())
}

/// A cache keyed by subject. Its keys are hashed with foldhash, seeded per process: a
/// subject is hashed on every Check, and SipHash cost a tenth of a cached decision (profile in
/// BENCHMARKS.md); the keys come from authenticated enforcement points.
pub(super) type SubjectCache<V> = Cache<Subject, V, foldhash::fast::RandomState>;

/// Drops `subject`'s entry if it was loaded before `revision`, the revision of a change to the
/// subject. An entry loaded at or after it already holds the change and stays: a write's
/// notification can arrive after this replica read the subject back (its own write, on a busy
/// machine), and dropping that entry would cost a reload and, were the store to go down next,
/// leave the outage grace nothing to answer from. Correctness does not rest on this: the
/// freshness mark set for the change keeps any older entry from answering.
pub(super) async fn drop_if_loaded_before<V: Loaded>(
    cache: &SubjectCache<V>,
    subject: &Subject,
    revision: u64,
) {
    cache
        .entry(subject.clone())
        .and_compute_with(|cached| {
            let loaded_before = cached.is_some_and(|entry| entry.value().revision() < revision);
            std::future::ready(if loaded_before { Op::Remove } else { Op::Nop })
        })
        .await;
}

/// Why a Check could not answer from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    /// The feed is lost, or the question demands a revision the replica has not seen.
    CacheNotTrusted,
    /// Nothing cached for the subject.
    NotCached,
    /// Cached, but past its deadline or older than a change to the subject.
    Stale,
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
    ) -> Result<SubjectGrants, StoreError> {
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
                Ok(SubjectGrants::new(snapshot, now, ttl))
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

    /// The entry for `subject`: a live, fresh cached one when the cache can be trusted for
    /// `min_revision` (the hot path: one lookup), otherwise [`Decider::load_past_a_miss`].
    async fn cached_or_loaded<V, F, Fut>(
        &self,
        cache: &SubjectCache<V>,
        stats: &CacheStats,
        subject: SubjectRef<'_>,
        min_revision: u64,
        load: F,
    ) -> Result<V, StoreError>
    where
        V: Loaded,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        let cache_usable = self.freshness.is_listening() && min_revision <= self.freshness.known();
        let miss = if !cache_usable {
            Miss::CacheNotTrusted
        } else if let Some(entry) = cache.get(subject.as_str()).await {
            if entry.is_live(Moment::now())
                && self.freshness.is_fresh(subject.as_str(), entry.revision())
            {
                CacheStats::count(&stats.hits);
                return Ok(entry);
            }
            Miss::Stale
        } else {
            Miss::NotCached
        };
        // Boxed: a miss is the rare path, and its futures (moka's shared load, the store's
        // read) would otherwise be carried, and moved, in every Check's future.
        let loaded =
            Box::pin(self.load_past_a_miss(cache, stats, subject, min_revision, miss, load));
        loaded.await
    }

    /// A miss: loaded into the cache (one load per subject however many ask at once) when the
    /// cache can be trusted, otherwise read through from the store.
    async fn load_past_a_miss<V, F, Fut>(
        &self,
        cache: &SubjectCache<V>,
        stats: &CacheStats,
        subject: SubjectRef<'_>,
        min_revision: u64,
        miss: Miss,
        load: F,
    ) -> Result<V, StoreError>
    where
        V: Loaded,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<V, StoreError>>,
    {
        // Counted when run: moka drops the future of a caller that waits on another's load.
        let load = || {
            let loading = load();
            async move {
                CacheStats::count(&stats.loads);
                loading.await
            }
        };
        if miss != Miss::CacheNotTrusted {
            if miss == Miss::Stale {
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
        cache: &SubjectCache<V>,
        stats: &CacheStats,
        subject: SubjectRef<'_>,
        min_revision: u64,
        error: StoreError,
    ) -> Result<V, StoreError> {
        let grace = self.options.outage_grace;
        if grace <= TimeDelta::zero() || !matches!(error, StoreError::Unavailable(_)) {
            return Err(error);
        }
        let Some(entry) = cache.get(subject.as_str()).await else {
            return Err(error);
        };
        let age = self.clock.now() - entry.loaded_at();
        let usable = entry.is_live(Moment::now())
            && age >= TimeDelta::zero()
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
