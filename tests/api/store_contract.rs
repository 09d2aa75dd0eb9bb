//! The storage contract, run against both stores: what a write changes, what a refused or
//! empty decision leaves alone, snapshots with their revisions, the change feed, and writes
//! serialized under concurrency.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use elevator::clock::truncate_to_micros;
use elevator::domain::ElevationStatus;
use elevator::domain::{
    AcceptRefusal, ApprovalStep, ApproverSpec, AuditAction, AuditEvent, Delegation, Elevation,
    ElevationId, ElevationState, Grant, GroupName, RequesterSnapshot, Revocation, RiskSignal,
    RoleName, Scope, SessionBinding, SessionId, Subject, TransitionError, Verdict, Vote,
};
use elevator::store::memory::MemoryStore;
use elevator::store::postgres::{PostgresOptions, PostgresStore};
use elevator::store::{
    Change, Created, DelegationFilter, ElevationFilter, MAX_REVOKED_GRANTS_LOADED, PolicyVersion,
    Store, StoreError, StoreEvent,
};

use crate::harness::fresh_database;

pub(crate) async fn store(backend: crate::harness::Backend) -> Arc<dyn Store> {
    match backend {
        crate::harness::Backend::Memory => Arc::new(MemoryStore::new()),
        crate::harness::Backend::Postgres => {
            let options = PostgresOptions {
                url: fresh_database().await,
                max_connections: 24,
                connect_timeout: Duration::from_secs(5),
                listener_backoff: Duration::from_millis(100),
                listener_name: "elevator-listener-contract".into(),
            };
            PostgresStore::migrate(&options)
                .await
                .expect("migrate the test database");
            Arc::new(
                PostgresStore::connect(options)
                    .await
                    .expect("connect the PostgreSQL store"),
            )
        }
    }
}

/// Runs each named contract case (an `async fn(Arc<dyn Store>)` in the calling module) against
/// both stores; every store contract file uses it.
#[macro_export]
macro_rules! store_contract_cases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    let store = $crate::store_contract::store($crate::harness::Backend::Memory);
                    super::$name(store.await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let store = $crate::store_contract::store($crate::harness::Backend::Postgres);
                    super::$name(store.await).await;
                }
            }
        )*
    };
}

store_contract_cases!(
    writes_are_applied_whole_and_audited,
    refused_and_empty_decisions_change_nothing,
    idempotency_keys_return_the_first_elevation,
    grants_load_in_snapshots_with_their_revision,
    sessions_end_together,
    a_delegation_taken_up_is_bound_to_its_session_in_every_read,
    time_driven_work_is_found,
    policies_are_versioned,
    risk_signals_expire,
    listings_filter_and_page,
    the_change_feed_reports_each_write,
    concurrent_decisions_are_serialized,
    what_operators_watch_is_counted,
    only_the_most_recently_revoked_grants_load,
);

/// A backstop, on PostgreSQL only (the memory store has no constraints to break): a value the
/// edge should have refused and a database constraint refuses is `OutOfBounds`, named by its
/// constraint, and reaches the caller as FAILED_PRECONDITION `CONSTRAINT_VIOLATED`, never
/// as INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_past_a_database_constraint_is_out_of_bounds_not_internal() {
    let store = store(crate::harness::Backend::Postgres).await;
    let mut elevation = pending("fatma", now());
    elevation.duration = TimeDelta::microseconds(1);
    let change = Change {
        elevations: vec![elevation.clone()],
        events: vec![event(AuditAction::ElevationRequested, &elevation)],
        ..Default::default()
    };
    let revision = store.revision().await.unwrap();
    let error = store.create_elevation(change, None).await.unwrap_err();
    assert!(
        matches!(&error, StoreError::OutOfBounds(what) if what.contains("elevations_duration_ms_check")),
        "{error:?}"
    );
    assert_eq!(
        elevator::service::ServiceError::from(error).code(),
        "CONSTRAINT_VIOLATED"
    );
    assert_eq!(store.revision().await.unwrap(), revision);
}

fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

fn subject(name: &str) -> Subject {
    Subject::parse(name).unwrap()
}

fn pending(requester: &str, created_at: DateTime<Utc>) -> Elevation {
    Elevation {
        id: ElevationId::generate(),
        requester: subject(requester),
        session: Some(SessionId::parse("s1").unwrap()),
        role: RoleName::parse("admin_approver").unwrap(),
        scope: Scope::parse("Org:Procurement").unwrap(),
        duration: TimeDelta::hours(2),
        reason: "Q4 close".into(),
        ticket: Some("CHG-1".into()),
        status: ElevationStatus::restored(ElevationState::Pending, "waiting".into()),
        created_at,
        updated_at: created_at,
        request_expires_at: created_at + TimeDelta::hours(1),
        not_before: None,
        steps: vec![ApprovalStep {
            name: "approvers".into(),
            approvers: ApproverSpec {
                groups: vec![GroupName::parse("approvers").unwrap()],
                ..Default::default()
            },
            quorum: 1000,
            deny_threshold: 1000,
            auto_approve: None,
        }],
        votes: vec![],
        requester_claims: RequesterSnapshot {
            groups: vec![GroupName::parse("staff").unwrap()],
            manager: Some(subject("ali")),
            roles: vec!["elevator:check".into()],
        },
        policy_version: 1,
        grant_id: None,
        idempotency_key: None,
        extends_grant: None,
        delegation: None,
        excluded_approvers: vec![],
    }
}

fn event(action: AuditAction, elevation: &Elevation) -> AuditEvent {
    AuditEvent::for_elevation(action, "tester", elevation, 1, elevation.updated_at)
}

async fn create(store: &Arc<dyn Store>, elevation: &Elevation) -> u64 {
    let change = Change {
        elevations: vec![elevation.clone()],
        events: vec![event(AuditAction::ElevationRequested, elevation)],
        ..Default::default()
    };
    match store.create_elevation(change, None).await.unwrap() {
        Created::New(committed) => committed.revision,
        Created::Existing(_) => panic!("a new elevation was expected"),
    }
}

/// An approved-and-activated change for `elevation` at `at`.
fn activate(elevation: &Elevation, at: DateTime<Utc>) -> Change {
    let mut approved = elevation.clone();
    approved.status = ElevationStatus::restored(ElevationState::Approved, String::new());
    let (active, grant) = approved.activate(at).unwrap();
    Change {
        events: vec![AuditEvent::for_grant(
            AuditAction::GrantActivated,
            "tester",
            &grant,
            1,
            at,
        )],
        elevations: vec![active],
        grants: vec![grant],
        ..Default::default()
    }
}

async fn writes_are_applied_whole_and_audited(store: Arc<dyn Store>) {
    let t = now();
    let elevation = pending("fatma", t);
    let first = create(&store, &elevation).await;
    assert_eq!(
        store.get_elevation(elevation.id).await.unwrap(),
        Some(elevation.clone())
    );
    assert_eq!(store.revision().await.unwrap(), first);

    let committed = store
        .update_elevation(elevation.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap();
    assert_eq!(committed.revision, first + 1);
    let grant = committed.change.grants[0].clone();
    let stored = store.get_elevation(elevation.id).await.unwrap().unwrap();
    assert_eq!(stored.state(), ElevationState::Active);
    assert_eq!(stored.grant_id, Some(grant.id));
    assert_eq!(
        store.get_grant(grant.id).await.unwrap(),
        Some(grant.clone())
    );

    let events = store.audit_events(0, 100).await.unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].seq, 1);
    assert_eq!(events[1].seq, 2);
    assert_eq!(events[0].revision, first);
    assert_eq!(events[1].revision, first + 1);
    assert_eq!(events[1].event.action, AuditAction::GrantActivated);
    assert_eq!(events[0].event.ticket.as_deref(), Some("CHG-1"));
    assert_eq!(store.audit_events(1, 100).await.unwrap().len(), 1);

    // The context holds the elevation's grant and the requester's live grants.
    store
        .update_elevation(elevation.id, t, &|context| {
            assert_eq!(context.grant.as_ref().map(|g| g.id), Some(grant.id));
            assert!(
                context.requester_grants.is_empty(),
                "the own grant is not among the others"
            );
            Ok(Change::default())
        })
        .await
        .unwrap();
}

async fn refused_and_empty_decisions_change_nothing(store: Arc<dyn Store>) {
    let t = now();
    let elevation = pending("fatma", t);
    let revision = create(&store, &elevation).await;

    let refused = store
        .update_elevation(elevation.id, t, &|_| Err(TransitionError::SelfApproval))
        .await
        .unwrap_err();
    assert!(matches!(
        refused,
        StoreError::Rejected(TransitionError::SelfApproval)
    ));

    let empty = store
        .update_elevation(elevation.id, t, &|_| Ok(Change::default()))
        .await
        .unwrap();
    assert_eq!(empty.revision, revision);

    // A transition the state machine does not allow is refused by the store as well.
    let illegal = store
        .update_elevation(elevation.id, t, &|context| {
            let mut skipped = context.elevation.clone();
            skipped.status = ElevationStatus::restored(ElevationState::Expired, String::new());
            Ok(Change {
                elevations: vec![skipped],
                ..Default::default()
            })
        })
        .await
        .unwrap_err();
    assert!(matches!(illegal, StoreError::Internal(_)), "{illegal:?}");

    let missing = store
        .update_elevation(ElevationId::generate(), t, &|_| Ok(Change::default()))
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound {
            what: "elevation",
            ..
        }
    ));
    let missing = store
        .update_grant(elevator::domain::GrantId::generate(), &|_| {
            Ok(Change::default())
        })
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        StoreError::NotFound { what: "grant", .. }
    ));

    assert_eq!(store.revision().await.unwrap(), revision);
    assert_eq!(store.audit_events(0, 100).await.unwrap().len(), 1);
    assert_eq!(
        store.get_elevation(elevation.id).await.unwrap(),
        Some(elevation)
    );
}

async fn idempotency_keys_return_the_first_elevation(store: Arc<dyn Store>) {
    let t = now();
    let mut first = pending("fatma", t);
    first.idempotency_key = Some("key-1".into());
    let change = |elevation: &Elevation| Change {
        elevations: vec![elevation.clone()],
        events: vec![event(AuditAction::ElevationRequested, elevation)],
        ..Default::default()
    };
    let key = Some((subject("fatma"), "key-1".to_owned()));
    assert!(matches!(
        store
            .create_elevation(change(&first), key.clone())
            .await
            .unwrap(),
        Created::New(_)
    ));
    let mut second = pending("fatma", t);
    second.idempotency_key = Some("key-1".into());
    match store.create_elevation(change(&second), key).await.unwrap() {
        Created::Existing(existing) => assert_eq!(existing.id, first.id),
        Created::New(_) => panic!("the key was used before"),
    }
    // The same key from someone else is their own.
    let mut other = pending("ali", t);
    other.idempotency_key = Some("key-1".into());
    assert!(matches!(
        store
            .create_elevation(change(&other), Some((subject("ali"), "key-1".into())))
            .await
            .unwrap(),
        Created::New(_)
    ));
    assert_eq!(store.audit_events(0, 100).await.unwrap().len(), 2);
}

async fn grants_load_in_snapshots_with_their_revision(store: Arc<dyn Store>) {
    let t = now();
    let elevation = pending("fatma", t);
    create(&store, &elevation).await;
    let committed = store
        .update_elevation(elevation.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap();
    let grant = committed.change.grants[0].clone();

    let loaded = store.load_grants("fatma", t).await.unwrap();
    assert_eq!(loaded.revision, committed.revision);
    assert_eq!(loaded.value, vec![grant.clone()]);
    assert!(store.load_grants("ali", t).await.unwrap().value.is_empty());
    assert_eq!(
        store.load_grants("ali", t).await.unwrap().revision,
        committed.revision
    );

    let revoked = store
        .update_grant(grant.id, &|context| {
            assert_eq!(context.elevation.as_ref().map(|e| e.id), Some(elevation.id));
            let revocation = Revocation {
                at: t,
                by: "fatma".into(),
                reason: "done".into(),
            };
            Ok(Change {
                elevations: vec![context.elevation.unwrap().revoke("done", t).unwrap()],
                grants: vec![context.grant.revoked(revocation)],
                ..Default::default()
            })
        })
        .await
        .unwrap();
    // Revoked grants still load (a decision can say why it denies) until their window ends.
    let reloaded = store.load_grants("fatma", t).await.unwrap();
    assert_eq!(reloaded.revision, revoked.revision);
    assert!(reloaded.value[0].revocation.is_some());
    assert!(
        store
            .load_grants("fatma", grant.not_after)
            .await
            .unwrap()
            .value
            .is_empty()
    );

    assert!(
        store
            .list_grants(&subject("fatma"), false, t)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .list_grants(&subject("fatma"), true, t)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .get_elevation(elevation.id)
            .await
            .unwrap()
            .unwrap()
            .state(),
        ElevationState::Revoked
    );
}

async fn sessions_end_together(store: Arc<dyn Store>) {
    let t = now();
    let mut grants = Vec::new();
    for session in ["s1", "s1", "s2"] {
        let mut elevation = pending("fatma", t);
        elevation.session = Some(SessionId::parse(session).unwrap());
        create(&store, &elevation).await;
        let committed = store
            .update_elevation(elevation.id, t, &|context| {
                Ok(activate(&context.elevation, t))
            })
            .await
            .unwrap();
        grants.push(committed.change.grants[0].clone());
    }
    let committed = store
        .update_session(
            &subject("fatma"),
            &SessionId::parse("s1").unwrap(),
            t,
            &|contexts| {
                assert_eq!(contexts.len(), 2);
                let mut change = Change::default();
                for context in contexts {
                    let revocation = Revocation {
                        at: t,
                        by: "fatma".into(),
                        reason: "logout".into(),
                    };
                    change
                        .elevations
                        .push(context.elevation.unwrap().revoke("logout", t).unwrap());
                    change.grants.push(context.grant.revoked(revocation));
                }
                Ok(change)
            },
        )
        .await
        .unwrap();
    assert_eq!(committed.change.grants.len(), 2);
    let live = store
        .list_grants(&subject("fatma"), false, t)
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, grants[2].id);
}

async fn a_delegation_taken_up_is_bound_to_its_session_in_every_read(store: Arc<dyn Store>) {
    let t = now();
    let mut elevation = pending("fatma", t);
    elevation.session = Some(SessionId::parse("s1").unwrap());
    create(&store, &elevation).await;
    let root = store
        .update_elevation(elevation.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap()
        .change
        .grants[0]
        .clone();
    let delegated = Grant::delegated(Delegation {
        parent: Some(&root),
        delegator: &subject("fatma"),
        delegatee: &subject("bob"),
        role: &root.role,
        scope: &root.scope,
        not_before: t,
        not_after: t + TimeDelta::minutes(30),
        reason: "cover",
        approvers: Vec::new(),
        elevation_id: None,
        session_bound: true,
    });
    store
        .append(Change {
            events: vec![AuditEvent::for_grant(
                AuditAction::GrantDelegated,
                "fatma",
                &delegated,
                1,
                t,
            )],
            grants: vec![delegated.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    let read = store.get_grant(delegated.id).await.unwrap().unwrap();
    assert_eq!(read.binding(), SessionBinding::AwaitingAcceptance);
    let loaded = store.load_grants("bob", t).await.unwrap().value;
    assert_eq!(loaded[0].binding(), SessionBinding::AwaitingAcceptance);

    let b1 = SessionId::parse("b1").unwrap();
    let accept = |context: elevator::store::GrantContext| {
        let accepted = context.grant.accepted(&subject("bob"), &b1, t)?;
        Ok(Change {
            events: vec![AuditEvent::for_grant(
                AuditAction::DelegationAccepted,
                "bob",
                &accepted,
                1,
                t,
            )],
            grants: vec![accepted],
            ..Default::default()
        })
    };
    store.update_grant(delegated.id, &accept).await.unwrap();
    let revision = store.revision().await.unwrap();
    let expected = Grant {
        session: Some(b1.clone()),
        awaiting_acceptance: false,
        break_glass: false,
        ..delegated.clone()
    };
    assert_eq!(
        store.get_grant(delegated.id).await.unwrap().unwrap(),
        expected
    );
    let loaded = store.load_grants("bob", t).await.unwrap().value;
    assert_eq!(loaded, vec![expected.clone()]);
    let received = store
        .list_delegations(&DelegationFilter::GivenTo(subject("bob")), false, t)
        .await
        .unwrap();
    assert_eq!(received, vec![expected.clone()]);

    // A second acceptance is refused and writes nothing.
    let error = store.update_grant(delegated.id, &accept).await.unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Rejected(TransitionError::NotAccepted(
                AcceptRefusal::AlreadyAccepted { .. }
            ))
        ),
        "{error:?}"
    );
    assert_eq!(store.revision().await.unwrap(), revision);

    // The session it was taken up in now reaches it.
    store
        .update_session(&subject("bob"), &b1, t, &|contexts| {
            assert_eq!(contexts.len(), 1);
            assert_eq!(contexts[0].grant.id, delegated.id);
            Ok(Change::default())
        })
        .await
        .unwrap();
}

async fn time_driven_work_is_found(store: Arc<dyn Store>) {
    let t = now();
    let waiting = pending("fatma", t);
    create(&store, &waiting).await;
    let active = pending("ali", t);
    create(&store, &active).await;
    store
        .update_elevation(active.id, t, &|context| Ok(activate(&context.elevation, t)))
        .await
        .unwrap();

    assert!(store.due_elevations(t, 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .due_elevations(t + TimeDelta::hours(1), 10)
            .await
            .unwrap(),
        vec![waiting.id]
    );
    let mut both = store
        .due_elevations(t + TimeDelta::hours(2), 10)
        .await
        .unwrap();
    both.sort();
    let mut expected = vec![waiting.id, active.id];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(
        store
            .due_elevations(t + TimeDelta::hours(2), 1)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn what_operators_watch_is_counted(store: Arc<dyn Store>) {
    assert!(store.missing_migrations().await.unwrap().is_empty());
    assert_eq!(store.pending_elevations().await.unwrap(), 0);
    let t = now();
    let waiting = pending("fatma", t);
    create(&store, &waiting).await;
    let approved = pending("ali", t);
    create(&store, &approved).await;
    assert_eq!(store.pending_elevations().await.unwrap(), 2);
    store
        .update_elevation(approved.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap();
    assert_eq!(store.pending_elevations().await.unwrap(), 1);
    if let Some(pool) = store.pool_status() {
        assert!(pool.open >= 1 && pool.open <= pool.max, "{pool:?}");
        assert!(pool.idle <= pool.open, "{pool:?}");
    }
}

async fn policies_are_versioned(store: Arc<dyn Store>) {
    assert_eq!(store.latest_policy().await.unwrap(), None);
    let t = now();
    for version in 1..=2u64 {
        store
            .update_policy(&|current| {
                assert_eq!(current.map_or(0, |p| p.version), version - 1);
                Ok(Change {
                    policy: Some(PolicyVersion {
                        version,
                        source: format!("# version {version}"),
                        created_by: "root".into(),
                        created_at: t,
                    }),
                    ..Default::default()
                })
            })
            .await
            .unwrap();
    }
    let latest = store.latest_policy().await.unwrap().unwrap();
    assert_eq!(latest.version, 2);
    assert_eq!(latest.source, "# version 2");
}

async fn risk_signals_expire(store: Arc<dyn Store>) {
    let t = now();
    let signal = |session: Option<&str>, minutes: i64| RiskSignal {
        id: uuid::Uuid::now_v7(),
        subject: subject("fatma"),
        session: session.map(|s| SessionId::parse(s).unwrap()),
        score: 80,
        flags: vec!["vpn".into()],
        source: "engine".into(),
        reported_at: t,
        expires_at: t + TimeDelta::minutes(minutes),
    };
    let committed = store
        .append(Change {
            risk_signals: vec![signal(None, 10), signal(Some("s1"), 30)],
            ..Default::default()
        })
        .await
        .unwrap();
    let loaded = store.load_risk("fatma", t).await.unwrap();
    assert_eq!(loaded.revision, committed.revision);
    assert_eq!(loaded.value.len(), 2);
    assert_eq!(
        store
            .load_risk("fatma", t + TimeDelta::minutes(20))
            .await
            .unwrap()
            .value
            .len(),
        1
    );
    assert!(
        store
            .load_risk("fatma", t + TimeDelta::minutes(30))
            .await
            .unwrap()
            .value
            .is_empty()
    );
}

async fn listings_filter_and_page(store: Arc<dyn Store>) {
    let t = now();
    let mut created = Vec::new();
    for index in 0..5 {
        let elevation = pending(if index % 2 == 0 { "fatma" } else { "ali" }, t);
        create(&store, &elevation).await;
        created.push(elevation.id);
    }
    let all = store
        .list_elevations(&ElevationFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let ids: Vec<ElevationId> = all.iter().map(|e| e.id).collect();
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids, newest_first);

    let fatmas = store
        .list_elevations(&ElevationFilter {
            requester: Some(subject("fatma")),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fatmas.len(), 3);
    let first_page = store
        .list_elevations(&ElevationFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let second_page = store
        .list_elevations(&ElevationFilter {
            limit: 2,
            before: Some(first_page[1].id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(second_page[0].id, newest_first[2]);
    let active = store
        .list_elevations(&ElevationFilter {
            state: Some(ElevationState::Active),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(active.is_empty());
}

async fn the_change_feed_reports_each_write(store: Arc<dyn Store>) {
    let mut feed = store.subscribe();
    // Wait until the feed is connected (PostgreSQL listens on its own connection).
    for _ in 0..200 {
        if store.is_listening() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(store.is_listening());
    let t = now();
    let elevation = pending("fatma", t);
    create(&store, &elevation).await;
    let committed = store
        .update_elevation(elevation.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .expect("a change event")
            .unwrap()
        {
            StoreEvent::Changed {
                revision,
                subjects,
                committed_at,
                ..
            } => {
                let committed_at = committed_at.expect("the commit time, for the lag metric");
                let age = chrono::Utc::now() - committed_at;
                assert!(age.num_seconds().abs() < 60, "committed {age} ago");
                seen.push((revision, subjects));
            }
            StoreEvent::Restored { .. } | StoreEvent::Lost => {}
        }
    }
    assert_eq!(seen[1].0, committed.revision);
    assert_eq!(seen[0].0, committed.revision - 1);
    assert!(
        seen[0].1.is_empty(),
        "a new pending elevation changes no decision"
    );
    assert_eq!(seen[1].1, vec![subject("fatma")]);
}

async fn concurrent_decisions_are_serialized(store: Arc<dyn Store>) {
    let t = now();
    let elevation = pending("fatma", t);
    let start = create(&store, &elevation).await;
    let mut tasks = Vec::new();
    for index in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .update_elevation(elevation.id, t, &|context| {
                    let mut next = context.elevation.clone();
                    next.votes.push(Vote {
                        approver: subject(&format!("approver-{index}")),
                        step: 0,
                        verdict: Verdict::Approve,
                        comment: String::new(),
                        at: t,
                        automatic: false,
                        idempotency_key: None,
                    });
                    Ok(Change {
                        events: vec![event(AuditAction::ApprovalApproved, &next)],
                        elevations: vec![next],
                        ..Default::default()
                    })
                })
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let stored = store.get_elevation(elevation.id).await.unwrap().unwrap();
    assert_eq!(stored.votes.len(), 20, "no vote was lost to a race");
    assert_eq!(store.revision().await.unwrap(), start + 20);
    let seqs: Vec<u64> = store
        .audit_events(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=21).collect::<Vec<u64>>());
}

/// A subject whose grants are made and revoked again and again: its cache load holds its
/// active grant and only the most recently revoked ones, however many were revoked, so a cached
/// subject cannot grow with its history (issue 20).
async fn only_the_most_recently_revoked_grants_load(store: Arc<dyn Store>) {
    let t = now();
    let mut revoked_ids = Vec::new();
    for round in 0..MAX_REVOKED_GRANTS_LOADED + 4 {
        let at = t + TimeDelta::seconds(round as i64);
        let elevation = pending("fatma", at);
        create(&store, &elevation).await;
        let committed = store
            .update_elevation(elevation.id, at, &|context| {
                Ok(activate(&context.elevation, at))
            })
            .await
            .unwrap();
        let grant = committed.change.grants[0].clone();
        store
            .update_grant(grant.id, &|context| {
                let revocation = Revocation {
                    at,
                    by: "fatma".into(),
                    reason: "done".into(),
                };
                Ok(Change {
                    elevations: vec![context.elevation.unwrap().revoke("done", at).unwrap()],
                    grants: vec![context.grant.revoked(revocation)],
                    ..Default::default()
                })
            })
            .await
            .unwrap();
        revoked_ids.push(grant.id);
    }
    let elevation = pending("fatma", t);
    create(&store, &elevation).await;
    let active = store
        .update_elevation(elevation.id, t, &|context| {
            Ok(activate(&context.elevation, t))
        })
        .await
        .unwrap()
        .change
        .grants[0]
        .clone();

    let loaded = store.load_grants("fatma", t).await.unwrap().value;
    let mut loaded_ids: Vec<_> = loaded.iter().map(|grant| grant.id).collect();
    loaded_ids.sort();
    let mut expected: Vec<_> =
        revoked_ids[revoked_ids.len() - MAX_REVOKED_GRANTS_LOADED..].to_vec();
    expected.push(active.id);
    expected.sort();
    assert_eq!(loaded_ids, expected);
}
