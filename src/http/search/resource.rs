//! `POST /access/v1/search/resource`: the resources of the type asked for (the directory's)
//! on which the subject may do the action. The resource's `id`, if sent, is ignored.

use serde_json::{Value as Json, json};

use super::super::json::{self, EntityInput, Question};
use super::super::problem::HttpError;
use super::super::router::HttpEdge;
use super::{context, required, search};
use crate::domain::Identity;

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
        let directory = self.app.directory();
        let candidates: Vec<String> = directory
            .entities()
            .filter(|entity| entity.key.entity_type.as_str() == resource.entity_type)
            .map(|entity| entity.key.id.as_str().to_owned())
            .collect();
        let permitted = |id: &String| {
            let question = Question {
                subject: subject.clone(),
                action: action.clone(),
                resource: EntityInput {
                    id: Some(id.clone()),
                    ..resource.clone()
                },
                context: context.clone(),
            };
            async move {
                let decided = self.decide(caller, &question, "").await;
                decided.is_ok_and(|decision| decision.allowed)
            }
        };
        let result = |id: &String| json!({"type": resource.entity_type, "id": id});
        Ok(search(&object, candidates, permitted, result).await?)
    }
}
