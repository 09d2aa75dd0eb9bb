//! `POST /access/v1/search/subject`: the subjects of the type asked for (the directory's)
//! that may do the action on the resource. The subject's `id`, if sent, is ignored.

use serde_json::{Value as Json, json};

use super::super::evaluation::access_query;
use super::super::json::{self, EntityInput, Question};
use super::super::problem::HttpError;
use super::super::router::HttpEdge;
use super::page::PageRequest;
use super::{answer, context, required, search};
use crate::domain::{CheckQuery, Identity, SubjectRef};
use crate::service::ServiceError;

impl HttpEdge {
    /// Answers a subject search.
    pub(in crate::http) async fn search_subject(
        &self,
        caller: &Identity,
        body: &[u8],
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let subject = json::entity(required(&object, "subject")?, "subject", false)?;
        let action = json::action(required(&object, "action")?, "action")?;
        let resource = json::entity(required(&object, "resource")?, "resource", true)?;
        let context = context(&object)?;
        let request = PageRequest::from_request(&object)?;
        let directory = self.app.directory();
        let candidates = directory
            .entities_of_type(&subject.entity_type)
            .map(|entity| entity.key.id.as_str());
        let permitted = |id: &&str| {
            let question = Question {
                subject: EntityInput {
                    id: Some((*id).to_owned()),
                    ..subject.clone()
                },
                action: action.clone(),
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
        let result = |id: &&str| json!({"type": subject.entity_type, "id": id});
        let (results, next) = search(&request, candidates, permitted, result).await;
        let searched = format!("{}:*", subject.entity_type);
        let resource_id = resource.id.as_deref().unwrap_or_default();
        let check = CheckQuery {
            subject: SubjectRef::parse(&searched)
                .map_err(|error| ServiceError::invalid("subject.type", error.0))?,
            session: None,
            permission: &action.name,
            resource: resource_id,
            token: None,
            min_revision: 0,
        };
        self.app.record_search(&check, results.len());
        Ok(answer(&request, results, next))
    }
}
