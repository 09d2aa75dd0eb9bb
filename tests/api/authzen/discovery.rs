//! `GET /.well-known/authzen-configuration`: public, JSON, listing exactly the endpoints
//! served, under the configured decision point identifier (or the host asked for).

use serde_json::json;

use super::client::{Protocol, request, send};
use crate::harness::*;

#[tokio::test]
async fn metadata_lists_what_is_served_under_the_configured_identifier() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.authzen.policy_decision_point = Some("https://pdp.example.com".into());
            })),
            ..Default::default()
        },
    )
    .await;
    for protocol in [Protocol::Http1, Protocol::Http2] {
        let asked = request("GET", "/.well-known/authzen-configuration", None, &[], "");
        let reply = send(app.http_address, protocol, asked).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(
            reply.json(),
            json!({
                "policy_decision_point": "https://pdp.example.com",
                "access_evaluation_endpoint": "https://pdp.example.com/access/v1/evaluation",
                "access_evaluations_endpoint": "https://pdp.example.com/access/v1/evaluations",
                "search_subject_endpoint": "https://pdp.example.com/access/v1/search/subject",
                "search_resource_endpoint": "https://pdp.example.com/access/v1/search/resource",
                "search_action_endpoint": "https://pdp.example.com/access/v1/search/action",
                "access_request_endpoint": "https://pdp.example.com/access/v1/requests",
                "jwks_uri": "https://pdp.example.com/.well-known/jwks.json",
                "capabilities": ["urn:openid:authzen:capability:access-request"],
            })
        );
    }
}

#[tokio::test]
async fn without_configuration_the_identifier_is_the_host_asked_for() {
    let app = spawn_app(Backend::Memory).await;
    let asked = request("GET", "/.well-known/authzen-configuration", None, &[], "");
    let reply = send(app.http_address, Protocol::Http1, asked).await;
    let metadata = reply.json();
    assert_eq!(metadata["policy_decision_point"], "http://localhost");
    assert_eq!(
        metadata["access_evaluation_endpoint"],
        "http://localhost/access/v1/evaluation"
    );
    let posted = request("POST", "/.well-known/authzen-configuration", None, &[], "");
    assert_eq!(
        send(app.http_address, Protocol::Http1, posted).await.status,
        405
    );
}

#[tokio::test]
async fn an_identifier_that_is_not_an_https_url_stops_the_server_from_starting() {
    let mut config = elevator::config::Config::default();
    config.authzen.policy_decision_point = Some("http://pdp.example.com/".into());
    let error = elevator::server::Server::build(
        config,
        std::sync::Arc::new(elevator::clock::ManualClock::starting_now()),
    )
    .await
    .err()
    .expect("refused");
    assert!(
        error.to_string().contains("authzen.policy_decision_point"),
        "{error}"
    );
}
