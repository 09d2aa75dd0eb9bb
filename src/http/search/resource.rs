//! `POST /access/v1/search/resource`: the resources of the type asked for (the directory's)
//! on which the subject may do the action. The resource's `id`, if sent, is ignored.

use serde_json::{Value as Json, json};

use super::super::evaluation::access_query;
use super::super::json::{self, EntityInput, Question};
use super::super::problem::HttpError;
use super::super::router::HttpEdge;
use super::page::PageRequest;
use super::{answer, context, required};
use crate::domain::Identity;
use crate::service::SearchWindow;

/// The resource id the question carries while its candidates are searched (a valid id that
/// nothing reads: each candidate's own id is decided).
const ANY_RESOURCE: &str = "*";

impl HttpEdge {
    /// Answers a resource search.
    pub(in crate::http) async fn search_resource(
        &self,
        caller: &Identity,
        body: &[u8],
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let subject = json::entity(required(&object, "subject")?, "subject", true)?;
        let action = json::action(required(&object, "action")?, "action")?;
        let resource = json::entity(required(&object, "resource")?, "resource", false)?;
        let context = context(&object)?;
        let request = PageRequest::from_request(&object)?;
        let question = Question {
            subject,
            action,
            resource: EntityInput {
                id: Some(ANY_RESOURCE.to_owned()),
                ..resource
            },
            context,
        };
        let query = access_query(&question, "")?;
        let window = SearchWindow {
            offset: request.offset,
            limit: request.limit,
        };
        let page = self.app.search_resources(caller, &query, window).await?;
        let entity_type = &question.resource.entity_type;
        let results = page
            .found
            .iter()
            .map(|id| json!({"type": entity_type, "id": id.as_str()}))
            .collect();
        Ok(answer(&request, results, page.next_offset))
    }
}
