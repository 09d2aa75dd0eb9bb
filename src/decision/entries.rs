//! What the decider's caches hold for one subject, and when and at which revision it was
//! loaded. A million subjects are cached at once, so an entry is small: a subject's grants are
//! one shared slice of their terms (`GrantTerms`: interned role and scope, no revocation text),
//! held by value in the cache (cloning it counts one reference), and the entry's life is a
//! deadline it carries rather than a timer moka would keep beside it.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::intern;
use crate::domain::{Grant, GrantRef, GrantTerms, RiskSignal};
use crate::store::Snapshot;

/// A subject's grants as loaded, sorted by role (stably, so each role's grants keep the
/// store's order). A sorted slice rather than a map: a million cached subjects hold one or
/// two grants each, and a hash map's table cost more than the grants.
#[derive(Debug, Clone)]
pub struct SubjectGrants {
    by_role: Arc<[GrantTerms]>,
    stamp: LoadStamp,
}

impl SubjectGrants {
    /// Indexes a loaded snapshot, sharing role and scope names with other cached grants. The
    /// entry lives until the earliest boundary (start or end) of its grants, or `ttl`.
    pub fn new(snapshot: Snapshot<Vec<Grant>>, now: DateTime<Utc>, ttl: Duration) -> Self {
        let mut lifetime = ttl;
        for grant in &snapshot.value {
            for boundary in [grant.not_before, grant.not_after] {
                if boundary > now {
                    let until = (boundary - now).to_std().unwrap_or_default();
                    lifetime = lifetime.min(until + Duration::from_millis(1));
                }
            }
        }
        let mut by_role: Vec<GrantTerms> = snapshot.value.into_iter().map(Into::into).collect();
        intern::share_names(
            by_role
                .iter_mut()
                .map(|terms| (&mut terms.role, &mut terms.scope)),
        );
        by_role.sort_by(|a, b| a.role.cmp(&b.role));
        SubjectGrants {
            by_role: Arc::from(by_role),
            stamp: LoadStamp::new(snapshot.revision, now, lifetime),
        }
    }

    /// The revision the entry reflects.
    pub(super) fn revision(&self) -> u64 {
        self.stamp.revision
    }

    /// The grants of `role`, in the store's order. When `role` is the policy's own copy of the
    /// name (as the permission index gives it) the grants share it, and the search compares
    /// pointers before text.
    pub(super) fn with_role(&self, role: &str) -> &[GrantTerms] {
        &self.by_role[self.role_range(role)]
    }

    /// Every grant but those of `role`, in role order: what could conflict with a grant of
    /// `role`, found without comparing the role's own grants one by one.
    pub(super) fn other_roles_than(&self, role: &str) -> impl Iterator<Item = &GrantTerms> {
        let range = self.role_range(role);
        (self.by_role[..range.start].iter()).chain(self.by_role[range.end..].iter())
    }

    /// Where the grants of `role` are in the role-sorted slice (by binary search).
    fn role_range(&self, role: &str) -> std::ops::Range<usize> {
        let is_role = |grant: &GrantTerms| {
            let held = grant.role.as_str();
            std::ptr::eq(held, role) || held == role
        };
        let start = self
            .by_role
            .partition_point(|grant| !is_role(grant) && grant.role.as_str() < role);
        let end = start + self.by_role[start..].partition_point(is_role);
        start..end
    }

    /// Every grant loaded.
    pub(super) fn all(&self) -> impl Iterator<Item = &GrantTerms> {
        self.by_role.iter()
    }

    /// `grant` (one of this entry's grants, as [`SubjectGrants::with_role`] or
    /// [`SubjectGrants::all`] lent it), shared for a decision to carry.
    pub(super) fn shared(&self, grant: &GrantTerms) -> Option<GrantRef> {
        let offset = (grant as *const GrantTerms as usize)
            .wrapping_sub(self.by_role.as_ptr() as usize)
            / size_of::<GrantTerms>().max(1);
        let index = if self
            .by_role
            .get(offset)
            .is_some_and(|found| std::ptr::eq(found, grant))
        {
            offset
        } else {
            self.by_role
                .iter()
                .position(|found| std::ptr::eq(found, grant))?
        };
        GrantRef::new(self.by_role.clone(), index)
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
    pub(super) fn new(
        snapshot: Snapshot<Vec<RiskSignal>>,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Self {
        let lifetime = snapshot
            .value
            .iter()
            .map(|signal| (signal.expires_at - now).to_std().unwrap_or_default())
            .fold(ttl, Duration::min);
        SubjectRisk {
            signals: snapshot.value,
            stamp: LoadStamp::new(snapshot.revision, now, lifetime),
        }
    }
}

/// The instant the process's entry deadlines count from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Nanoseconds since [`EPOCH`] (a u64 lasts 584 years).
fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX)
}

/// The real-time reading entry deadlines are compared with, taken once per lookup.
#[derive(Debug, Clone, Copy)]
pub(super) struct Moment(u64);

impl Moment {
    pub(super) fn now() -> Self {
        Moment(nanos_since_epoch(Instant::now()))
    }
}

/// When and at which revision a cache entry was loaded, and until when it may be used: what
/// both caches need of an entry to expire it and to judge whether it can be trusted.
#[derive(Debug, Clone, Copy)]
pub(super) struct LoadStamp {
    revision: u64,
    /// The end of the entry's life, by the real clock (like moka's own expiry: a frozen
    /// injected clock does not keep an entry alive), in nanoseconds since [`EPOCH`].
    expires_at: u64,
    /// By the injected clock.
    loaded_at: DateTime<Utc>,
}

impl LoadStamp {
    fn new(revision: u64, loaded_at: DateTime<Utc>, lifetime: Duration) -> Self {
        LoadStamp {
            revision,
            expires_at: nanos_since_epoch(Instant::now())
                .saturating_add(u64::try_from(lifetime.as_nanos()).unwrap_or(u64::MAX)),
            loaded_at,
        }
    }
}

/// What the cache needs of an entry, whichever it is.
pub(super) trait Loaded: Clone + Send + Sync + 'static {
    fn stamp(&self) -> &LoadStamp;

    fn revision(&self) -> u64 {
        self.stamp().revision
    }
    /// Whether its life has not ended at `now`; reading it never extends it.
    fn is_live(&self, now: Moment) -> bool {
        now.0 < self.stamp().expires_at
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

impl Loaded for Arc<SubjectRisk> {
    fn stamp(&self) -> &LoadStamp {
        &self.stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{GrantId, RoleName, Scope, Subject};

    fn grant(role: &str, scope: &str, now: DateTime<Utc>) -> Grant {
        Grant {
            id: GrantId::generate(),
            subject: Subject::parse("fatma").unwrap(),
            session: None,
            role: RoleName::parse(role).unwrap(),
            scope: Scope::parse(scope).unwrap(),
            not_before: now - chrono::TimeDelta::minutes(1),
            not_after: now + chrono::TimeDelta::hours(1),
            elevation_id: None,
            parent_grant_id: None,
            delegation_trail: Vec::new(),
            revocation: None,
            awaiting_acceptance: false,
            break_glass: false,
        }
    }

    #[test]
    fn grants_are_found_by_role_and_shared_by_position() {
        let now = Utc::now();
        let loaded = vec![
            grant("po_creator", "Org:A", now),
            grant("admin_approver", "Org:B", now),
            grant("admin_approver", "Org:C", now),
        ];
        let ids: Vec<GrantId> = loaded.iter().map(|g| g.id).collect();
        let grants = SubjectGrants::new(
            Snapshot {
                value: loaded,
                revision: 7,
            },
            now,
            Duration::from_secs(300),
        );
        let approvers = grants.with_role("admin_approver");
        assert_eq!(approvers.iter().map(|g| g.id).collect::<Vec<_>>(), ids[1..]);
        assert!(grants.with_role("auditor").is_empty());
        let others: Vec<GrantId> = (grants.other_roles_than("admin_approver"))
            .map(|g| g.id)
            .collect();
        assert_eq!(others, ids[..1]);
        assert_eq!(grants.other_roles_than("auditor").count(), 3);
        assert_eq!(grants.other_roles_than("po_creator").count(), 2);
        for grant in grants.all() {
            let shared = grants.shared(grant).expect("one of the entry's grants");
            assert_eq!(shared.id, grant.id);
        }
        let elsewhere = GrantTerms::from(grant("admin_approver", "Org:B", now));
        assert!(grants.shared(&elsewhere).is_none());
        assert_eq!(grants.revision(), 7);
    }

    #[test]
    fn an_entry_lives_until_its_first_grant_boundary_by_the_real_clock() {
        let now = Utc::now();
        let entry = |until: chrono::TimeDelta| {
            let mut ending = grant("admin_approver", "Org:B", now);
            ending.not_after = now + until;
            SubjectGrants::new(
                Snapshot {
                    value: vec![ending],
                    revision: 1,
                },
                now,
                Duration::from_secs(300),
            )
        };
        let lasting = entry(chrono::TimeDelta::hours(1));
        let brief = entry(chrono::TimeDelta::milliseconds(1));
        std::thread::sleep(Duration::from_millis(5));
        let later = Moment::now();
        assert!(lasting.is_live(later), "alive for its 300 s time-to-live");
        assert!(!brief.is_live(later), "ended with its grant");
    }
}
