//! The search endpoints against a directory of several hundred entities: users with standing
//! roles on departments (some with none), purchase orders placed in departments. Every
//! search is checked against a brute-force oracle: each candidate asked one by one through
//! `/access/v1/evaluation` over HTTP. Results are exactly the candidates that evaluate to true;
//! pages put together are the whole answer; a changed request with an old token is refused.

use std::collections::BTreeSet;

use serde_json::{Value as Json, json};

use super::client::post;
use crate::harness::*;
use elevator::domain::{
    Directory, Entity, EntityId, EntityKey, EntityType, Properties, RoleName, Scope, StandingRole,
};

const USERS: usize = 300;
const ORDERS: usize = 120;
const DEPARTMENTS: usize = 5;

fn entity(kind: &str, id: &str) -> Entity {
    Entity {
        key: EntityKey {
            entity_type: EntityType::parse(kind).unwrap(),
            id: EntityId::parse(id).unwrap(),
        },
        aliases: Vec::new(),
        properties: Properties::default(),
        roles: Vec::new(),
        groups: Vec::new(),
        scope: None,
    }
}

/// User `i` approves in department `i % 5` when `i % 3 == 0`, and holds nothing otherwise;
/// order `j` lives in department `j % 5`.
fn directory() -> Directory {
    let mut entities = Vec::new();
    for i in 0..USERS {
        let mut user = entity("user", &format!("user-{i}"));
        if i % 3 == 0 {
            user.roles.push(StandingRole {
                role: RoleName::parse("admin_approver").unwrap(),
                scope: Some(Scope::parse(&format!("Org:Dept{}", i % DEPARTMENTS)).unwrap()),
            });
        }
        entities.push(user);
    }
    for j in 0..ORDERS {
        let mut order = entity("po", &format!("po-{j}"));
        order.scope = Some(Scope::parse(&format!("Org:Dept{}/PO:{j}", j % DEPARTMENTS)).unwrap());
        entities.push(order);
    }
    Directory::new(entities).unwrap()
}

async fn app_with_directory() -> TestApp {
    let app = spawn_app(Backend::Memory).await;
    app.app.decider().replace_stored_directory(directory());
    app
}

/// Whether the evaluation endpoint permits `question`.
async fn permitted(app: &TestApp, question: Json) -> bool {
    let reply = post(app, "/access/v1/evaluation", &question).await;
    assert_eq!(reply.status, 200);
    reply.json()["decision"].as_bool().unwrap()
}

/// Every result of a search, page by page with `limit`, checking each page's shape.
async fn all_pages(app: &TestApp, path: &str, mut body: Json, limit: u64) -> Vec<Json> {
    let mut results = Vec::new();
    let mut token = String::new();
    loop {
        body["page"] = json!({"limit": limit, "token": token});
        let reply = post(app, path, &body).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let answer = reply.json();
        let page = answer["results"].as_array().unwrap();
        assert!(page.len() as u64 <= limit);
        assert_eq!(answer["page"]["count"], page.len());
        results.extend(page.iter().cloned());
        token = answer["page"]["next_token"].as_str().unwrap().to_owned();
        if token.is_empty() {
            return results;
        }
    }
}

fn ids(results: &[Json], field: &str) -> BTreeSet<String> {
    results
        .iter()
        .map(|result| result[field].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_subject_search_finds_exactly_whom_the_evaluations_permit() {
    let app = app_with_directory().await;
    for order in ["po-7", "po-10"] {
        let body = json!({
            "subject": {"type": "user"},
            "action": {"name": "purchase_orders.approve"},
            "resource": {"type": "po", "id": order},
        });
        let answer = post(&app, "/access/v1/search/subject", &body).await.json();
        let found = ids(answer["results"].as_array().unwrap(), "id");
        let mut oracle = BTreeSet::new();
        for i in 0..USERS {
            let mut question = body.clone();
            question["subject"]["id"] = json!(format!("user-{i}"));
            if permitted(&app, question).await {
                oracle.insert(format!("user-{i}"));
            }
        }
        assert!(!oracle.is_empty());
        assert_eq!(found, oracle, "{order}");
        assert!(
            answer["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["type"] == "user")
        );
        assert_eq!(
            ids(
                &all_pages(&app, "/access/v1/search/subject", body, 7).await,
                "id"
            ),
            oracle
        );
    }
}

#[tokio::test]
async fn a_resource_search_finds_exactly_what_the_evaluations_permit_page_by_page() {
    let app = app_with_directory().await;
    for user in ["user-3", "user-1"] {
        let body = json!({
            "subject": {"type": "user", "id": user},
            "action": {"name": "purchase_orders.read"},
            "resource": {"type": "po"},
        });
        let mut oracle = BTreeSet::new();
        for j in 0..ORDERS {
            let mut question = body.clone();
            question["resource"]["id"] = json!(format!("po-{j}"));
            if permitted(&app, question).await {
                oracle.insert(format!("po-{j}"));
            }
        }
        let paged = all_pages(&app, "/access/v1/search/resource", body.clone(), 5).await;
        assert_eq!(paged.len(), oracle.len(), "no result twice");
        assert_eq!(ids(&paged, "id"), oracle, "{user}");
        let whole = post(&app, "/access/v1/search/resource", &body).await.json();
        assert_eq!(ids(whole["results"].as_array().unwrap(), "id"), oracle);
    }
}

#[tokio::test]
async fn an_action_search_finds_exactly_the_permitted_actions() {
    let app = app_with_directory().await;
    let body = json!({
        "subject": {"type": "user", "id": "user-3"},
        "resource": {"type": "po", "id": "po-8"},
    });
    let answer = post(&app, "/access/v1/search/action", &body).await.json();
    let found = ids(answer["results"].as_array().unwrap(), "name");
    assert_eq!(
        found,
        BTreeSet::from([
            "purchase_orders.approve".to_owned(),
            "purchase_orders.read".to_owned()
        ])
    );
    for name in [
        "purchase_orders.approve",
        "purchase_orders.read",
        "purchase_orders.create",
    ] {
        let mut question = body.clone();
        question["action"] = json!({"name": name});
        assert_eq!(
            permitted(&app, question).await,
            found.contains(name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn unknown_types_find_nothing_and_missing_inputs_are_400s() {
    let app = app_with_directory().await;
    let body = json!({
        "subject": {"type": "spaceship"},
        "action": {"name": "purchase_orders.read"},
        "resource": {"type": "po", "id": "po-1"},
    });
    let reply = post(&app, "/access/v1/search/subject", &body).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"results": []}));
    let cases = [
        (
            "/access/v1/search/subject",
            json!({"subject": {"type": "user"}, "resource": {"type": "po", "id": "po-1"}}),
            "action",
        ),
        (
            "/access/v1/search/resource",
            json!({"action": {"name": "read"}, "resource": {"type": "po"}}),
            "subject",
        ),
        (
            "/access/v1/search/action",
            json!({"subject": {"type": "user", "id": "user-3"}}),
            "resource",
        ),
        (
            "/access/v1/search/subject",
            json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "po"}}),
            "resource.id",
        ),
        (
            "/access/v1/search/resource",
            json!({"subject": {"type": "user"}, "action": {"name": "read"}, "resource": {"type": "po"}}),
            "subject.id",
        ),
        (
            "/access/v1/search/action",
            json!({"subject": {"type": "user"}, "resource": {"type": "po", "id": "po-1"}}),
            "subject.id",
        ),
    ];
    for (path, body, field) in cases {
        let reply = post(&app, path, &body).await;
        assert_eq!(reply.status, 400, "{path} {body}");
        assert_eq!(reply.json()["field"], field);
    }
}

#[tokio::test]
async fn a_token_is_refused_for_a_changed_request() {
    let app = app_with_directory().await;
    let mut body = json!({
        "subject": {"type": "user", "id": "user-0"},
        "action": {"name": "purchase_orders.read"},
        "resource": {"type": "po"},
        "page": {"limit": 2},
    });
    let first = post(&app, "/access/v1/search/resource", &body).await.json();
    let token = first["page"]["next_token"].as_str().unwrap().to_owned();
    assert!(!token.is_empty());
    body["subject"]["id"] = json!("user-3");
    body["page"] = json!({"limit": 2, "token": token});
    let reply = post(&app, "/access/v1/search/resource", &body).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["field"], "page.token");
}
