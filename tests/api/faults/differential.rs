//! Item 6, differential: the same random Checks decided with the cache and without it give the
//! same decisions, so the cache key (the subject) covers every input that matters -- session,
//! permission, resource, the subject token, time, risk and writes in between. In process,
//! against the decision code over the memory store, so 100,000 Checks are cheap.
//!
//! "Without the cache" is a second [`Decider`] over the same store whose every Check demands a
//! revision no replica has seen, which forces a read-through on every call; the cached one is
//! told of each write the way a replica is (`forget`, as after a local commit).

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::SubjectRef;
use elevator::domain::{
    Decision, DelegationHop, Grant, GrantId, GroupName, Identity, Revocation, RiskSignal, RoleName,
    Scope, SessionId, StandingRole, Subject,
};
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::scaled;

/// Roles with overlapping permissions, a separation-of-duties set, a rule on risk and one on
/// delegation and time: every input a Check reads matters to some decision.
const DIFFERENTIAL_POLICY: &str = r#"
roles:
  admin_approver: { permissions: [purchase_orders.approve, purchase_orders.read] }
  po_creator: { permissions: [purchase_orders.create, purchase_orders.read] }
  auditor: { permissions: [audit.read] }
eligibility:
  - role: admin_approver
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 4h
    approval:
      - step: manager
        approvers: { manager_of_requester: true }
    grant_rules: ["deny if risk.flags.exists(f, f == \"impossible_travel\") || risk.score > 90"]
  - role: po_creator
    scopes: ["Org:Procurement/**"]
    who: { groups: [procurement-staff] }
    max_duration: 8h
  - role: auditor
    scopes: ["Org:*"]
    who: { groups: [procurement-staff] }
    max_duration: 8h
    grant_rules: ["allow if token.delegatedBy != null && context.time < 2h"]
separation_of_duties:
  - { name: po-maker-checker, roles: [po_creator, admin_approver], mode: dynamic }
"#;

const SUBJECTS: [&str; 12] = [
    "u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10", "u11",
];
const SESSIONS: [&str; 3] = ["s1", "s2", "s3"];
const ROLES: [&str; 3] = ["admin_approver", "po_creator", "auditor"];
const PERMISSIONS: [&str; 5] = [
    "purchase_orders.approve",
    "purchase_orders.read",
    "purchase_orders.create",
    "audit.read",
    "nothing.at_all",
];
const SCOPES: [&str; 5] = [
    "Org:Procurement",
    "Org:Procurement/PO:4711",
    "Org:Sales",
    "Org:Procurement/PO:1",
    "Org:Sales/Deal:9",
];

fn pick<'a, T: ?Sized>(rng: &mut StdRng, items: &[&'a T]) -> &'a T {
    items[rng.random_range(0..items.len())]
}

fn random_grant(rng: &mut StdRng, now: DateTime<Utc>) -> Grant {
    let subject = pick(rng, &SUBJECTS);
    let start = now + TimeDelta::minutes(rng.random_range(-180..30));
    let delegated = rng.random_bool(0.3);
    let id = GrantId::generate();
    Grant {
        id,
        subject: Subject::parse(subject).unwrap(),
        session: rng
            .random_bool(0.7)
            .then(|| SessionId::parse(pick(rng, &SESSIONS)).unwrap()),
        role: RoleName::parse(pick(rng, &ROLES)).unwrap(),
        scope: Scope::parse(pick(rng, &SCOPES[..3])).unwrap(),
        not_before: start,
        not_after: start + TimeDelta::minutes(rng.random_range(1..300)),
        elevation_id: None,
        parent_grant_id: None,
        delegation_trail: if delegated {
            vec![DelegationHop {
                delegator: Subject::parse("boss").unwrap(),
                delegatee: Subject::parse(subject).unwrap(),
                scope: Scope::parse("Org:Procurement").unwrap(),
                reason: "cover".into(),
                approvers: Vec::new(),
                at: start,
                grant_id: id,
            }]
        } else {
            Vec::new()
        },
        revocation: None,
        awaiting_acceptance: false,
        break_glass: false,
    }
}

fn random_risk(rng: &mut StdRng, now: DateTime<Utc>) -> RiskSignal {
    RiskSignal {
        id: uuid::Uuid::now_v7(),
        subject: Subject::parse(pick(rng, &SUBJECTS)).unwrap(),
        session: rng
            .random_bool(0.5)
            .then(|| SessionId::parse(pick(rng, &SESSIONS)).unwrap()),
        score: rng.random_range(0..=100),
        flags: if rng.random_bool(0.3) {
            vec!["impossible_travel".into()]
        } else {
            Vec::new()
        },
        source: "differential".into(),
        reported_at: now,
        expires_at: now + TimeDelta::minutes(rng.random_range(1..60)),
    }
}

fn random_token(rng: &mut StdRng, subject: &str, now: DateTime<Utc>) -> Option<Identity> {
    if rng.random_bool(0.6) {
        return None;
    }
    let standing = [
        "po_creator",
        "admin_approver@Org:Procurement",
        "auditor@Org:Sales",
    ];
    Some(Identity {
        subject: Subject::parse(subject).unwrap(),
        session: None,
        groups: vec![GroupName::parse("procurement-staff").unwrap()],
        roles: Vec::new(),
        standing_roles: if rng.random_bool(0.5) {
            vec![StandingRole::parse(pick(rng, &standing)).unwrap()]
        } else {
            Vec::new()
        },
        manager: None,
        amr: Vec::new(),
        expires_at: now + TimeDelta::hours(1),
        issuer: None,
    })
}

/// What must agree between the two ways of deciding (the revision legitimately differs).
fn essence(decision: &Decision) -> (bool, String, Option<GrantId>, Option<String>) {
    (
        decision.allowed,
        decision.reason.as_str().to_owned(),
        decision.grant.as_ref().map(|grant| grant.id),
        decision.standing_role.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_random_checks_decide_alike_with_and_without_the_cache() {
    let checks = scaled(20_000, 100_000);
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    // A long lookback, so a grant that ended long ago (by the moved clock) is still loaded by a
    // fresh read and the two answers can be compared reason for reason.
    let options = CacheOptions {
        ended_grant_lookback: TimeDelta::days(3650),
        ..CacheOptions::default()
    };
    let policy = || Policy::parse(DIFFERENTIAL_POLICY, 1).expect("the differential policy");
    let decider = Decider::new(policy(), store.clone(), clock.clone(), options.clone());
    let reading_through = Decider::new(policy(), store.clone(), clock.clone(), options);
    let mut rng = StdRng::seed_from_u64(0x0e1e_fa70);
    let initial = (0..60)
        .map(|_| random_grant(&mut rng, clock.now()))
        .collect::<Vec<_>>();
    let mut held: Vec<Grant> = initial.clone();
    store
        .append(Change {
            grants: initial,
            ..Default::default()
        })
        .await
        .unwrap();
    let revision = store.revision().await.unwrap();
    decider.observe(&StoreEvent::Restored { revision }).await;
    reading_through
        .observe(&StoreEvent::Restored { revision })
        .await;

    let mut allowed = 0usize;
    let mut writes = 0usize;
    let mut mismatches = Vec::new();
    for index in 0..checks {
        if index % 97 == 0 {
            let now = clock.now();
            let change = match rng.random_range(0..3) {
                0 => Change {
                    grants: vec![random_grant(&mut rng, now)],
                    ..Default::default()
                },
                1 => Change {
                    risk_signals: vec![random_risk(&mut rng, now)],
                    ..Default::default()
                },
                _ => {
                    let victim = rng.random_range(0..held.len());
                    let mut revoked = held[victim].clone();
                    revoked.revocation = Some(Revocation {
                        at: now,
                        by: "differential".into(),
                        reason: "test".into(),
                    });
                    Change {
                        grants: vec![revoked],
                        ..Default::default()
                    }
                }
            };
            held.extend(
                change
                    .grants
                    .iter()
                    .filter(|g| g.revocation.is_none())
                    .cloned(),
            );
            let subjects = change.affected_subjects();
            let committed = store.append(change).await.unwrap();
            decider.forget(&subjects, committed.revision).await;
            reading_through.forget(&subjects, committed.revision).await;
            writes += 1;
        }
        if index % 211 == 0 {
            clock.advance(TimeDelta::seconds(rng.random_range(0..900)));
        }
        let subject = pick(&mut rng, &SUBJECTS);
        let token = random_token(&mut rng, subject, clock.now());
        let session = rng.random_bool(0.8).then(|| pick(&mut rng, &SESSIONS));
        let query = CheckQuery {
            subject: SubjectRef::parse(subject).expect("a valid subject"),
            session,
            permission: pick(&mut rng, &PERMISSIONS),
            resource: pick(&mut rng, &SCOPES),
            token: token.as_ref(),
            min_revision: 0,
        };
        let cached = decider.check(&query).await;
        let uncached = reading_through
            .check(&CheckQuery {
                min_revision: u64::MAX,
                ..query
            })
            .await;
        allowed += usize::from(cached.allowed);
        if essence(&cached) != essence(&uncached) {
            mismatches.push(format!(
                "{query:?}: cached {cached:?} vs uncached {uncached:?}"
            ));
        }
    }
    let hits = decider.cache_reports()[0]
        .stats
        .hits
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "differential: {checks} checks ({allowed} allowed), {writes} writes between them, {hits} cache hits, {} mismatches",
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} of {checks} decisions differ with the cache, first: {}",
        mismatches.len(),
        mismatches[0]
    );
    assert!(allowed > checks / 50, "the random checks allow something");
    assert!(
        hits as usize > checks / 2,
        "most cached checks hit the cache"
    );
}
