//! `POST /access/v1/search/action`: the actions (permissions the policy gives some role) the
//! subject may do on the resource. An `action` in the request, if sent, is ignored.

use serde_json::{Value as Json, json};

use super::super::evaluation::access_query;
use super::super::json::{self, ActionInput, Question};
use super::super::problem::HttpError;
use super::super::router::HttpEdge;
use super::page::PageRequest;
use super::{answer, context, required, search};
use crate::domain::{CheckQuery, Identity, Properties, SubjectRef};
use crate::service::ServiceError;

impl HttpEdge {
    /// Answers an action search.
    pub(in crate::http) async fn search_action(
        &self,
        caller: &Identity,
        body: &[u8],
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let subject = json::entity(required(&object, "subject")?, "subject", true)?;
        let resource = json::entity(required(&object, "resource")?, "resource", true)?;
        let context = context(&object)?;
        let request = PageRequest::from_request(&object)?;
        let candidates = self.app.known_permissions();
        let permitted = |name: &String| {
            let question = Question {
                subject: subject.clone(),
                action: ActionInput {
                    name: name.clone(),
                    properties: Properties::default(),
                },
                resource: resource.clone(),
                context: context.clone(),
            };
            async move {
                let Ok(query) = access_query(&question, "") else {
                    return false;
                };
                let decided = self.app.evaluate_search_candidate(caller, &query).await;
                decided.is_ok_and(|decision| decision.allowed)
            }
        };
        let result = |name: &String| json!({"name": name});
        let (results, next) = search(&request, candidates.into_iter(), permitted, result).await;
        let subject_id = subject.id.as_deref().unwrap_or_default();
        let check = CheckQuery {
            subject: SubjectRef::parse(subject_id)
                .map_err(|error| ServiceError::invalid("subject.id", error.0))?,
            session: None,
            permission: "*",
            resource: resource.id.as_deref().unwrap_or_default(),
            token: None,
            min_revision: 0,
        };
        self.app.record_search(&check, results.len());
        Ok(answer(&request, results, next))
    }
}
