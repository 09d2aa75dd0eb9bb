//! `POST /access/v1/evaluation`: one question, one decision. The body is read once into a
//! [`Question`], which becomes the domain's access question, decided by the same use case as
//! gRPC Check. A deny is `200 {"decision": false}`, never an HTTP error.

use serde_json::Value as Json;

use super::answer::{self, Detail};
use super::json::{self, EntityInput, Question};
use super::problem::HttpError;
use super::router::HttpEdge;
use crate::domain::{
    AccessAction, AccessEntity, AccessQuery, Decision, EntityId, EntityType, Identity,
    InvalidValue, SESSION_CONTEXT_KEY, session_from_context,
};
use crate::service::ServiceError;

impl HttpEdge {
    /// Answers one evaluation.
    pub(super) async fn evaluation(
        &self,
        caller: &Identity,
        body: &[u8],
        base: Option<&str>,
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let detail = Detail::from_request(&object)?;
        let question = json::question(&object)?;
        let decision = self.decide(caller, &question, "").await?;
        if let Some(profiled) = self
            .access_request_answer(caller, &object, &question, &decision, detail, base)
            .await?
        {
            return Ok(profiled);
        }
        Ok(answer::decision(&decision, detail))
    }

    /// Decides `question` for `caller`: it becomes the domain's access question
    /// ([`access_query`]), which the same use case as gRPC Check decides.
    pub(super) async fn decide(
        &self,
        caller: &Identity,
        question: &Question,
        path: &str,
    ) -> Result<Decision, ServiceError> {
        let query = access_query(question, path)?;
        self.app.evaluate_access(caller, &query).await
    }
}

/// `question` as the domain's access question, validated here, once; a refused field is named
/// under `path`, the prefix of a batch item such as `evaluations[2].`. The session is the
/// context's `session_id`, when the PEP knows it.
pub(super) fn access_query<'q>(
    question: &'q Question,
    path: &str,
) -> Result<AccessQuery<'q>, ServiceError> {
    let invalid = |field: &str| {
        let field = format!("{path}{field}");
        move |error: InvalidValue| ServiceError::invalid(field, error.0)
    };
    for (entity, name) in [
        (&question.subject, "subject"),
        (&question.resource, "resource"),
    ] {
        EntityType::validate(&entity.entity_type).map_err(invalid(&format!("{name}.type")))?;
        EntityId::validate(entity.id.as_deref().unwrap_or_default())
            .map_err(invalid(&format!("{name}.id")))?;
    }
    Ok(AccessQuery {
        subject: access_entity(&question.subject).map_err(invalid("subject"))?,
        action: AccessAction::parse(&question.action.name, question.action.properties.clone())
            .map_err(invalid("action.name"))?,
        resource: access_entity(&question.resource).map_err(invalid("resource"))?,
        context: question.context.clone(),
        session: session_from_context(&question.context)
            .map_err(invalid(&format!("context.{SESSION_CONTEXT_KEY}")))?,
        token: None,
        min_revision: 0,
    })
}

/// A subject or resource as the domain's access entity (type and id validated).
fn access_entity(input: &EntityInput) -> Result<AccessEntity<'_>, InvalidValue> {
    let id = input.id.as_deref().unwrap_or_default();
    AccessEntity::parse(&input.entity_type, id, input.properties.clone())
}
