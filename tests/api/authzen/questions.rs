//! Helpers shared by the AuthZEN tests: an in-process decision point over the in-memory store
//! with a given policy, and AuthZEN JSON turned into the domain's access question.

use std::sync::Arc;

use chrono::TimeDelta;
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, Decider};
use elevator::domain::{
    AccessAction, AccessEntity, AccessQuery, Identity, Properties, Subject, Value,
    session_from_context,
};
use elevator::policy::Policy;
use elevator::service::{AuditSigner, Elevator, ServiceRoles};
use elevator::store::memory::MemoryStore;
use elevator::store::{Snapshots, StoreEvent};
use elevator::telemetry::metrics::Metrics;

/// A decision point over an empty in-memory store with `policy`, its feed connected, and a
/// caller holding the PEP role.
pub(crate) struct Pdp {
    pub(crate) elevator: Elevator,
    pub(crate) pep: Identity,
}

impl Pdp {
    pub(crate) async fn with_policy(source: &str) -> Pdp {
        let clock = Arc::new(ManualClock::starting_now());
        let store = Arc::new(MemoryStore::new());
        let policy = Policy::parse(source, 1).expect("the policy is valid");
        let decider = Arc::new(Decider::new(
            policy,
            store.clone(),
            clock.clone(),
            CacheOptions::default(),
        ));
        let revision = store.revision().await.unwrap();
        decider.observe(&StoreEvent::Restored { revision }).await;
        let elevator = Elevator::new(
            store.clone(),
            decider.clone(),
            clock.clone(),
            ServiceRoles::default(),
            AuditSigner::from_seed([7; 32]),
            Metrics::new(),
        );
        let pep = Identity {
            subject: Subject::parse("todo-backend").unwrap(),
            session: None,
            groups: Vec::new(),
            roles: vec![ServiceRoles::default().pep],
            standing_roles: Vec::new(),
            manager: None,
            amr: Vec::new(),
            expires_at: clock.now() + TimeDelta::hours(1),
            issuer: None,
        };
        Pdp { elevator, pep }
    }

    /// The decision on an AuthZEN evaluation request (`subject`, `action`, `resource`,
    /// `context`), through `Elevator::evaluate_access`.
    pub(crate) async fn decide(&self, request: &serde_json::Value) -> bool {
        let context = properties(&request["context"]);
        let query = AccessQuery {
            subject: entity(&request["subject"]),
            action: AccessAction::parse(
                request["action"]["name"].as_str().unwrap(),
                properties(&request["action"]["properties"]),
            )
            .unwrap(),
            resource: entity(&request["resource"]),
            session: session_from_context(&context).unwrap(),
            context,
            token: None,
            min_revision: 0,
        };
        self.elevator
            .evaluate_access(&self.pep, &query)
            .await
            .unwrap()
            .allowed
    }
}

fn entity(json: &serde_json::Value) -> AccessEntity<'_> {
    AccessEntity::parse(
        json["type"].as_str().unwrap(),
        json["id"].as_str().unwrap(),
        properties(&json["properties"]),
    )
    .unwrap()
}

/// A JSON object as properties (anything else, `null` included, as none).
pub(crate) fn properties(json: &serde_json::Value) -> Properties {
    match json.as_object() {
        Some(object) => object
            .iter()
            .map(|(name, value)| (Arc::from(name.as_str()), value_of(value)))
            .collect(),
        None => Properties::default(),
    }
}

fn value_of(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(whole) => Value::Int(whole),
            None => Value::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(text) => Value::String(Arc::from(text.as_str())),
        serde_json::Value::Array(items) => Value::List(items.iter().map(value_of).collect()),
        serde_json::Value::Object(_) => Value::Map(properties(json)),
    }
}
