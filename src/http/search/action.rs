//! `POST /access/v1/search/action`: the actions (permissions the policy gives some role) the
//! subject may do on the resource. An `action` in the request, if sent, is ignored.

use serde_json::{Value as Json, json};

use super::super::json::{self, ActionInput, Question};
use super::super::problem::HttpError;
use super::super::router::HttpEdge;
use super::{context, required, search};
use crate::domain::{Identity, Properties};

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
                let decided = self.decide(caller, &question, "").await;
                decided.is_ok_and(|decision| decision.allowed)
            }
        };
        let result = |name: &String| json!({"name": name});
        Ok(search(&object, candidates, permitted, result).await?)
    }
}
