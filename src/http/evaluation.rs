//! `POST /access/v1/evaluation`: one question, one decision. The body is read once into a
//! [`Question`], which becomes the domain's access question, decided by the same use case as
//! gRPC Check. A deny is `200 {"decision": false}`, never an HTTP error.

use serde_json::Value as Json;

use super::answer::{self, Detail};
use super::json::{self, Question};
use super::problem::HttpError;
use super::router::HttpEdge;
use crate::domain::{CheckQuery, Decision, Identity, SubjectRef};
use crate::service::ServiceError;

impl HttpEdge {
    /// Answers one evaluation.
    pub(super) async fn evaluation(
        &self,
        caller: &Identity,
        body: &[u8],
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let detail = Detail::from_request(&object)?;
        let question = json::question(&object)?;
        let decision = self.decide(caller, &question, "").await?;
        Ok(answer::decision(&decision, detail))
    }

    /// Decides `question` for `caller`; a refused field is named under `path` (the prefix of
    /// a batch item, `evaluations[2].`).
    pub(super) async fn decide(
        &self,
        caller: &Identity,
        question: &Question,
        path: &str,
    ) -> Result<Decision, ServiceError> {
        let invalid = |field: &str| {
            let field = format!("{path}{field}");
            move |error: crate::domain::InvalidValue| ServiceError::invalid(field, error.0)
        };
        let subject_id = question.subject.id.as_deref().unwrap_or_default();
        let resource_id = question.resource.id.as_deref().unwrap_or_default();
        let subject = SubjectRef::parse(subject_id).map_err(invalid("subject.id"))?;
        let resource = format!("{}:{resource_id}", question.resource.entity_type);
        let query = CheckQuery {
            subject,
            session: None,
            permission: &question.action.name,
            resource: &resource,
            token: None,
            min_revision: 0,
        };
        self.app.check(caller, &query).await
    }
}
