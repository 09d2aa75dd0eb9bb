//! Read-only views of the AuthZEN access requests (issue 15) for the people who decide and
//! ask: which elevations came through the Access Request profile, submitted by which
//! enforcement point for which client, on whose behalf (the claimed actor chain) and under
//! which task. The actor chain is audit metadata the PEP asserted; it is shown as such, never
//! used to decide anything.

use std::collections::HashMap;

use serde_json::Value as Json;

use super::{Elevator, ServiceError};
use crate::domain::echo::bounded;
use crate::domain::{Elevation, ElevationId, Identity, Subject};

/// Longest text, in bytes, a view carries from the submitted `client` object (longer is cut,
/// marked with an ellipsis), so a page row stays a row whatever a PEP sent.
const MAX_SHOWN_CLIENT_TEXT: usize = 80;

/// Most actor links a view carries (the submission already bounds the chain; this keeps the
/// view bounded even for records written under an older, looser bound).
const MAX_SHOWN_ACTORS: usize = 8;

/// How an elevation came through the AuthZEN Access Request profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileOrigin {
    /// The profile's task id (`arq_…`).
    pub task_id: String,
    /// The enforcement point that submitted it (its verified subject).
    pub submitted_by: Subject,
    /// `client.id`, when the submission named one.
    pub client_id: Option<String>,
    /// `client.name`, when the submission named one.
    pub client_name: Option<String>,
    /// The claimed actor chain, outermost first: each link's id (or `sub`) with its type,
    /// as `gateway (service)`.
    pub actor_chain: Vec<String>,
}

impl Elevator {
    /// For those of `elevations` that came through the Access Request profile and that
    /// `caller` may see (their requester, an approver named in their chain, an admin), how they
    /// came. Elevations `caller` may not see are left out, as are those asked for otherwise.
    pub async fn access_request_origins(
        &self,
        caller: &Identity,
        elevations: &[Elevation],
    ) -> Result<HashMap<ElevationId, ProfileOrigin>, ServiceError> {
        let visible: Vec<ElevationId> = elevations
            .iter()
            .filter(|elevation| {
                elevation.requester == caller.subject
                    || self.is_admin(caller)
                    || elevation.is_approver(caller)
            })
            .map(|elevation| elevation.id)
            .collect();
        if visible.is_empty() {
            return Ok(HashMap::new());
        }
        let records = self.store.access_requests_for_elevations(&visible).await?;
        let mut origins = HashMap::new();
        for record in records {
            let origin = ProfileOrigin {
                task_id: record.task_id.clone(),
                submitted_by: record.submitted_by.clone(),
                client_id: client_text(&record.client, "id"),
                client_name: client_text(&record.client, "name"),
                actor_chain: actor_chain(&record.client),
            };
            for item in &record.items {
                if let Some(id) = item.elevation_id.filter(|id| visible.contains(id)) {
                    origins.insert(id, origin.clone());
                }
            }
        }
        Ok(origins)
    }
}

/// `client.<member>` as bounded text, when it is a non-empty string.
fn client_text(client: &Json, member: &str) -> Option<String> {
    client
        .get(member)
        .and_then(Json::as_str)
        .filter(|text| !text.is_empty())
        .map(shown)
}

/// The links of `client.actor` and its nested `act`s, outermost first.
fn actor_chain(client: &Json) -> Vec<String> {
    let mut chain = Vec::new();
    let mut link = client.get("actor");
    while let Some(actor) = link.filter(|actor| actor.is_object()) {
        if chain.len() == MAX_SHOWN_ACTORS {
            chain.push("…".to_owned());
            break;
        }
        let name = ["id", "sub"]
            .iter()
            .find_map(|member| actor.get(*member).and_then(Json::as_str))
            .unwrap_or("(unnamed)");
        chain.push(match actor.get("type").and_then(Json::as_str) {
            Some(kind) => format!("{} ({})", shown(name), shown(kind)),
            None => shown(name),
        });
        link = actor.get("act");
    }
    chain
}

/// `text` cut to [`MAX_SHOWN_CLIENT_TEXT`] bytes, marked with an ellipsis when cut.
fn shown(text: &str) -> String {
    bounded(text, MAX_SHOWN_CLIENT_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_actor_chain_reads_outermost_first_with_each_links_type() {
        let client = json!({"id": "todo-app", "actor": {"id": "gateway", "type": "service",
            "act": {"sub": "jerry@the-smiths.com", "iss": "https://idp.example"}}});
        assert_eq!(
            actor_chain(&client),
            vec!["gateway (service)", "jerry@the-smiths.com"]
        );
        assert_eq!(client_text(&client, "id").as_deref(), Some("todo-app"));
        assert_eq!(client_text(&client, "name"), None);
    }

    #[test]
    fn a_client_without_an_actor_has_an_empty_chain() {
        assert!(actor_chain(&json!({"id": "x"})).is_empty());
        assert!(actor_chain(&Json::Null).is_empty());
        assert!(actor_chain(&json!({"actor": "not an object"})).is_empty());
    }

    #[test]
    fn long_client_text_and_deep_chains_are_cut() {
        let long = "x".repeat(500);
        let cut = client_text(&json!({ "id": long }), "id").unwrap();
        assert!(cut.len() <= MAX_SHOWN_CLIENT_TEXT, "{cut}");
        assert!(cut.ends_with('…'));
        let mut actor = json!({"id": "innermost"});
        for depth in 0..20 {
            actor = json!({"id": format!("link-{depth}"), "act": actor});
        }
        let chain = actor_chain(&json!({ "actor": actor }));
        assert_eq!(chain.len(), MAX_SHOWN_ACTORS + 1);
        assert_eq!(chain.last().map(String::as_str), Some("…"));
    }
}
