//! The storage contract of the AuthZEN Access Request profile (issue 15), run against both
//! stores: requestable denials kept by evaluation id and removed a while after they expire;
//! access requests (tasks) kept whole, callback included, found by task id, idempotency key,
//! approval id, bound evaluation and elevation, the first kept for a repeated key; and an
//! outbox delivery (as a callback is) given up once its attempts run out.

use std::sync::Arc;

use crate::store_contract_cases;
use chrono::{DateTime, TimeDelta, Utc};
use elevator::clock::truncate_to_micros;
use elevator::domain::{
    AccessRequestItem, AccessRequestRecord, CALLBACK_EVENT, ElevationId, RequestableDenial,
    RoleName, Scope, Subject, TaskCallback,
};
use elevator::store::{
    Change, DENIAL_RETENTION_AFTER_EXPIRY, DeliveryOutcome, OutboxMessage, Store,
};
use serde_json::json;

store_contract_cases!(
    requestable_denials_are_kept_by_id_and_removed_a_while_after_they_expire,
    access_requests_are_kept_whole_and_found_by_each_of_their_handles,
    a_repeated_idempotency_key_of_one_submitter_returns_the_first_request,
    a_delivery_whose_attempts_ran_out_is_given_up,
);

fn now() -> DateTime<Utc> {
    truncate_to_micros(Utc::now())
}

fn denial(evaluation_id: &str, expires_at: DateTime<Utc>) -> RequestableDenial {
    RequestableDenial {
        evaluation_id: evaluation_id.into(),
        pep: Subject::parse("todo-pep").unwrap(),
        bound: json!({"subject": {"type": "user", "id": "jerry"},
            "resource": {"type": "todo", "id": "1"}, "action": {"name": "can_create_todo"},
            "context": {"tenant": "smiths"}}),
        role: RoleName::parse("editor").unwrap(),
        scope: Scope::parse("todo:1").unwrap(),
        template: "eligibility/0/editor".into(),
        evaluated_at: expires_at - TimeDelta::minutes(10),
        expires_at,
    }
}

fn record(task_id: &str, key: Option<&str>, elevation: ElevationId) -> AccessRequestRecord {
    AccessRequestRecord {
        task_id: task_id.into(),
        requester: Subject::parse("jerry").unwrap(),
        submitted_by: Subject::parse("todo-pep").unwrap(),
        idempotency_key: key.map(str::to_owned),
        body: json!({"subject": {"type": "user", "id": "jerry"}, "task": task_id}),
        client: json!({"id": "todo-app", "actor": {"id": "gateway", "act": {"sub": "jerry"}}}),
        bundled: false,
        items: vec![AccessRequestItem {
            approval_id: format!("apr_{task_id}"),
            elevation_id: Some(elevation),
            refusal: None,
            evaluation_id: Some(format!("eval_{task_id}")),
            bound: json!({"resource": {"type": "todo", "id": "1"}}),
        }],
        created_at: now(),
        callback: Some(TaskCallback {
            endpoint: "https://pep.example.com/callbacks".into(),
            state: Some("opaque".into()),
            events: vec!["approved".into()],
            status_endpoint: format!("https://pdp.example.com/access/v1/requests/{task_id}"),
        }),
    }
}

async fn requestable_denials_are_kept_by_id_and_removed_a_while_after_they_expire(
    store: Arc<dyn Store>,
) {
    let start = now();
    let fresh = denial("eval_fresh", start + TimeDelta::minutes(10));
    store.save_denial(&fresh, start).await.unwrap();
    assert_eq!(
        store.get_denial("eval_fresh").await.unwrap(),
        Some(fresh.clone())
    );
    assert_eq!(store.get_denial("eval_unknown").await.unwrap(), None);
    assert!(
        store.save_denial(&fresh, start).await.is_err(),
        "an evaluation id is kept once"
    );

    // Just expired: still kept (expired, not unknown) when the next denial is saved.
    let later = fresh.expires_at + TimeDelta::minutes(1);
    store
        .save_denial(
            &denial("eval_second", later + TimeDelta::minutes(10)),
            later,
        )
        .await
        .unwrap();
    assert!(store.get_denial("eval_fresh").await.unwrap().is_some());

    // Long expired: the next save removes it; the newer one stays.
    let much_later = fresh.expires_at + DENIAL_RETENTION_AFTER_EXPIRY + TimeDelta::minutes(1);
    store
        .save_denial(
            &denial("eval_third", much_later + TimeDelta::minutes(10)),
            much_later,
        )
        .await
        .unwrap();
    assert_eq!(store.get_denial("eval_fresh").await.unwrap(), None);
    assert!(store.get_denial("eval_third").await.unwrap().is_some());
}

async fn access_requests_are_kept_whole_and_found_by_each_of_their_handles(store: Arc<dyn Store>) {
    let elevation = ElevationId::generate();
    let other_elevation = ElevationId::generate();
    let first = record("arq_one", Some("key-1"), elevation);
    let second = record("arq_two", None, other_elevation);
    assert_eq!(store.create_access_request(&first).await.unwrap(), first);
    assert_eq!(store.create_access_request(&second).await.unwrap(), second);

    assert_eq!(
        store.get_access_request("arq_one").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .access_request_by_key("todo-pep", "key-1")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .access_request_by_key("other-pep", "key-1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .access_request_by_approval("apr_arq_two")
            .await
            .unwrap(),
        Some(second.clone())
    );
    assert_eq!(
        store
            .access_request_by_evaluation("eval_arq_one")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        store
            .access_requests_for_elevations(&[other_elevation])
            .await
            .unwrap(),
        vec![second.clone()]
    );
    let both = store
        .access_requests_for_elevations(&[elevation, other_elevation])
        .await
        .unwrap();
    assert_eq!(both.len(), 2);
    assert!(both.contains(&first) && both.contains(&second));
    for unknown in [
        store.get_access_request("arq_none").await.unwrap(),
        store.access_request_by_approval("apr_none").await.unwrap(),
        store
            .access_request_by_evaluation("eval_none")
            .await
            .unwrap(),
    ] {
        assert_eq!(unknown, None);
    }
    assert!(
        store
            .access_requests_for_elevations(&[ElevationId::generate()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_repeated_idempotency_key_of_one_submitter_returns_the_first_request(
    store: Arc<dyn Store>,
) {
    let first = record("arq_first", Some("same-key"), ElevationId::generate());
    store.create_access_request(&first).await.unwrap();
    let retry = record("arq_retry", Some("same-key"), ElevationId::generate());
    assert_eq!(
        store.create_access_request(&retry).await.unwrap(),
        first,
        "the first request is returned unchanged"
    );
    assert_eq!(store.get_access_request("arq_retry").await.unwrap(), None);

    let mut from_another = record("arq_other", Some("same-key"), ElevationId::generate());
    from_another.submitted_by = Subject::parse("another-pep").unwrap();
    assert_eq!(
        store.create_access_request(&from_another).await.unwrap(),
        from_another,
        "keys are per submitter"
    );
    assert!(
        store
            .create_access_request(&record("arq_first", None, ElevationId::generate()))
            .await
            .is_err(),
        "a task id is kept once"
    );
}

async fn a_delivery_whose_attempts_ran_out_is_given_up(store: Arc<dyn Store>) {
    let at = now();
    let change = Change {
        outbox: vec![OutboxMessage {
            url: "https://pep.example.com/callbacks".into(),
            event_kind: CALLBACK_EVENT.into(),
            payload: json!({"task": {"id": "arq_1", "status": "approved"}}),
            created_at: at,
        }],
        ..Default::default()
    };
    store.append(change).await.unwrap();
    assert_eq!(store.pending_deliveries().await.unwrap(), 1);
    let claimed = store
        .claim_deliveries(at, TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].event_kind, CALLBACK_EVENT);
    let failed = DeliveryOutcome::Failed {
        error: "its host resolves to an internal address".into(),
        retry_at: None,
    };
    store
        .finish_delivery(claimed[0].id, failed, at)
        .await
        .unwrap();
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    let later = at + TimeDelta::hours(2);
    assert!(
        store
            .claim_deliveries(later, TimeDelta::seconds(60), 10)
            .await
            .unwrap()
            .is_empty(),
        "a given-up delivery is never claimed again"
    );
}
