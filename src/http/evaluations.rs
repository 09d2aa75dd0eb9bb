//! `POST /access/v1/evaluations`: many questions in one request. The top-level `subject`,
//! `action`, `resource` and `context` are defaults each evaluation may replace (whole, never
//! merged). `options.evaluations_semantic` says how far to go: `execute_all` (the default)
//! answers every question; `deny_on_first_deny` stops after the first deny and
//! `permit_on_first_permit` after the first permit, so the answer is as long as the questions
//! asked. A question that cannot be decided (a missing field, an invalid id) is a deny with
//! the error in its `context`, and counts as a deny; what is wrong with the request as a whole
//! (malformed JSON, invalid defaults or options, too many questions) is an HTTP error. Without
//! an `evaluations` array (or with an empty one) the request is one evaluation.

use std::future::Future;

use serde_json::{Value as Json, json};

use super::MAX_EVALUATIONS;
use super::answer::{self, Detail};
use super::json::{self, ActionInput, EntityInput, Object, Question, member};
use super::problem::HttpError;
use super::router::HttpEdge;
use crate::domain::{Identity, Properties};
use crate::service::ServiceError;

/// How far a batch goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) enum Semantic {
    /// Every question is answered.
    #[default]
    ExecuteAll,
    /// Stop after the first deny (or failure): `&&`.
    DenyOnFirstDeny,
    /// Stop after the first permit: `||`.
    PermitOnFirstPermit,
}

impl Semantic {
    /// `options.evaluations_semantic`, if given; one of the three names.
    fn from_request(object: &Object) -> Result<Semantic, ServiceError> {
        let Some(options) = member(object, "options") else {
            return Ok(Semantic::default());
        };
        let field = "options.evaluations_semantic";
        match member(json::as_object(options, "options")?, "evaluations_semantic") {
            None => Ok(Semantic::default()),
            Some(Json::String(name)) => match name.as_str() {
                "execute_all" => Ok(Semantic::ExecuteAll),
                "deny_on_first_deny" => Ok(Semantic::DenyOnFirstDeny),
                "permit_on_first_permit" => Ok(Semantic::PermitOnFirstPermit),
                _ => Err(ServiceError::invalid(
                    field,
                    "must be execute_all, deny_on_first_deny or permit_on_first_permit",
                )),
            },
            Some(_) => Err(ServiceError::invalid(field, "must be a string")),
        }
    }

    /// Whether the batch ends after a question decided `allowed`.
    fn stops_after(self, allowed: bool) -> bool {
        match self {
            Semantic::ExecuteAll => false,
            Semantic::DenyOnFirstDeny => !allowed,
            Semantic::PermitOnFirstPermit => allowed,
        }
    }
}

/// The top-level values each evaluation starts from.
#[derive(Debug, Default)]
struct Defaults {
    subject: Option<EntityInput>,
    action: Option<ActionInput>,
    resource: Option<EntityInput>,
    context: Option<Properties>,
}

impl Defaults {
    /// The top level's subject, action, resource and context, each optional but valid when
    /// given.
    fn from_request(object: &Object) -> Result<Defaults, ServiceError> {
        Ok(Defaults {
            subject: member(object, "subject")
                .map(|value| json::entity(value, "subject", true))
                .transpose()?,
            action: member(object, "action")
                .map(|value| json::action(value, "action"))
                .transpose()?,
            resource: member(object, "resource")
                .map(|value| json::entity(value, "resource", true))
                .transpose()?,
            context: json::context(object, "")?,
        })
    }

    /// The `index`th evaluation, completed from the defaults.
    fn question(&self, item: &Json, index: usize) -> Result<Question, ServiceError> {
        let path = format!("evaluations[{index}]");
        let item = json::as_object(item, &path)?;
        let missing = |field: &str| {
            ServiceError::invalid(
                format!("{path}.{field}"),
                "is required: neither this evaluation nor the request's top level has one",
            )
        };
        let entity = |field: &str, default: &Option<EntityInput>| match member(item, field) {
            Some(value) => json::entity(value, &format!("{path}.{field}"), true),
            None => default.clone().ok_or_else(|| missing(field)),
        };
        Ok(Question {
            subject: entity("subject", &self.subject)?,
            action: match member(item, "action") {
                Some(value) => json::action(value, &format!("{path}.action"))?,
                None => self.action.clone().ok_or_else(|| missing("action"))?,
            },
            resource: entity("resource", &self.resource)?,
            context: match json::context(item, &format!("{path}."))? {
                Some(context) => context,
                None => self.context.clone().unwrap_or_default(),
            },
        })
    }
}

/// Answers `questions` in order as `semantic` says, answering each with `decide`: a question
/// that could not be read or decided is a deny carrying its error.
pub(super) async fn run_batch<F, Fut>(
    questions: Vec<Result<Question, ServiceError>>,
    semantic: Semantic,
    mut decide: F,
) -> Vec<Json>
where
    F: FnMut(Question, usize) -> Fut,
    Fut: Future<Output = Result<Json, HttpError>>,
{
    let mut answers = Vec::with_capacity(questions.len());
    for (index, question) in questions.into_iter().enumerate() {
        let answered = match question {
            Ok(question) => decide(question, index).await,
            Err(error) => Err(HttpError::from(error)),
        };
        let answer = answered.unwrap_or_else(|error| answer::failed(&error));
        let allowed = answer["decision"] == Json::Bool(true);
        answers.push(answer);
        if semantic.stops_after(allowed) {
            break;
        }
    }
    answers
}

impl HttpEdge {
    /// Answers a batch (or, without questions in it, one evaluation).
    pub(super) async fn evaluations(
        &self,
        caller: &Identity,
        body: &[u8],
        base: Option<&str>,
    ) -> Result<Json, HttpError> {
        let object = json::body_object(body)?;
        let items = match member(&object, "evaluations") {
            None => &[][..],
            Some(Json::Array(items)) => items.as_slice(),
            Some(_) => {
                return Err(HttpError::invalid(
                    "evaluations",
                    "must be an array of evaluations",
                ));
            }
        };
        if items.is_empty() {
            return self.evaluation(caller, body, base).await;
        }
        if items.len() > MAX_EVALUATIONS {
            return Err(HttpError::invalid(
                "evaluations",
                format!(
                    "holds {} evaluations; at most {MAX_EVALUATIONS} are allowed in one request",
                    items.len()
                ),
            ));
        }
        let detail = Detail::from_request(&object)?;
        let semantic = Semantic::from_request(&object)?;
        let defaults = Defaults::from_request(&object)?;
        let questions = items
            .iter()
            .enumerate()
            .map(|(index, item)| defaults.question(item, index))
            .collect();
        let answers = run_batch(questions, semantic, |question, index| {
            let asked = as_asked(&object, &items[index]);
            async move {
                let decision = self
                    .decide(caller, &question, &format!("evaluations[{index}]."))
                    .await?;
                let profiled = self
                    .access_request_answer(caller, &asked, &question, &decision, detail, base)
                    .await?;
                Ok(profiled.unwrap_or_else(|| answer::decision(&decision, detail)))
            }
        })
        .await;
        Ok(json!({ "evaluations": answers }))
    }
}

/// Evaluation `item` of a batch as if asked alone, for the access request profile: its own
/// subject, action, resource and context, else the top level's (each whole). A top-level
/// `context.access_request_profile: true` opts in every item.
fn as_asked(object: &Object, item: &Json) -> Object {
    let mut asked = Object::new();
    for field in ["subject", "action", "resource", "context"] {
        let value = item
            .get(field)
            .filter(|value| !value.is_null())
            .or_else(|| member(object, field));
        if let Some(value) = value {
            asked.insert(field.into(), value.clone());
        }
    }
    let opt_in = super::access_request::OPT_IN_MEMBER;
    let batch_wide = member(object, "context")
        .and_then(|context| context.get(opt_in))
        .is_some_and(|flag| *flag == Json::Bool(true));
    if batch_wide {
        let context = asked.entry("context").or_insert_with(|| json!({}));
        if let Some(context) = context.as_object_mut() {
            context.insert(opt_in.into(), Json::Bool(true));
        }
    }
    asked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, DecisionReason};

    fn question(allowed: bool) -> Result<Question, ServiceError> {
        let entity = |id: &str| EntityInput {
            entity_type: "record".into(),
            id: Some(id.into()),
            properties: Properties::default(),
        };
        Ok(Question {
            subject: entity(if allowed { "yes" } else { "no" }),
            action: ActionInput {
                name: "read".into(),
                properties: Properties::default(),
            },
            resource: entity("r"),
            context: Properties::default(),
        })
    }

    /// Decides by the subject's id: `yes` is allowed, anything else denied.
    async fn decide_by_id(question: Question, _index: usize) -> Result<Json, HttpError> {
        let allowed = question.subject.id.as_deref() == Some("yes");
        let mut decision = Decision::deny(DecisionReason::NoGrant, 1);
        decision.allowed = allowed;
        Ok(answer::decision(&decision, Detail::default()))
    }

    fn verdicts(answers: &[Json]) -> Vec<bool> {
        answers
            .iter()
            .map(|a| a["decision"].as_bool().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn each_semantic_stops_where_it_says() {
        let batch = || vec![question(true), question(false), question(true)];
        let run = |semantic| run_batch(batch(), semantic, decide_by_id);
        assert_eq!(
            verdicts(&run(Semantic::ExecuteAll).await),
            [true, false, true]
        );
        assert_eq!(
            verdicts(&run(Semantic::DenyOnFirstDeny).await),
            [true, false]
        );
        assert_eq!(verdicts(&run(Semantic::PermitOnFirstPermit).await), [true]);
        let denials = vec![question(false), question(false), question(true)];
        let answers = run_batch(denials, Semantic::PermitOnFirstPermit, decide_by_id).await;
        assert_eq!(verdicts(&answers), [false, false, true]);
    }

    #[tokio::test]
    async fn a_failed_question_is_a_deny_with_its_error_and_ends_a_deny_on_first_deny_batch() {
        let failing = Err(ServiceError::invalid(
            "evaluations[1].resource",
            "is required",
        ));
        let batch = vec![question(true), failing, question(true)];
        let answers = run_batch(batch, Semantic::DenyOnFirstDeny, decide_by_id).await;
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0], json!({"decision": true}));
        assert_eq!(answers[1]["decision"], false);
        assert_eq!(answers[1]["context"]["error"]["status"], 400);
    }

    #[test]
    fn evaluations_take_each_default_whole_unless_they_name_their_own() {
        let object: Object = serde_json::from_str(
            r#"{"subject": {"type": "user", "id": "alice"}, "action": {"name": "write"},
                "resource": {"type": "record", "id": "record-1", "properties": {"status": "active"}},
                "context": {"time": "t0"}}"#,
        )
        .unwrap();
        let defaults = Defaults::from_request(&object).unwrap();
        let inherited = defaults.question(&json!({}), 0).unwrap();
        assert_eq!(inherited.resource.id.as_deref(), Some("record-1"));
        assert_eq!(inherited.resource.properties.len(), 1);
        assert_eq!(inherited.context.len(), 1);
        let replaced = defaults
            .question(
                &json!({"resource": {"type": "record", "id": "record-2"}, "context": {}}),
                1,
            )
            .unwrap();
        assert_eq!(replaced.resource.id.as_deref(), Some("record-2"));
        assert!(replaced.resource.properties.is_empty());
        assert!(replaced.context.is_empty());
        let none = Defaults::default().question(&json!({}), 3).unwrap_err();
        assert!(
            matches!(none, ServiceError::InvalidArgument { field, .. } if field == "evaluations[3].subject")
        );
    }

    #[test]
    fn semantics_are_read_by_name_and_a_wrong_one_is_refused() {
        let read = |text: &str| Semantic::from_request(&serde_json::from_str(text).unwrap());
        assert_eq!(read("{}").unwrap(), Semantic::ExecuteAll);
        assert_eq!(
            read(r#"{"options": {"evaluations_semantic": "deny_on_first_deny"}}"#).unwrap(),
            Semantic::DenyOnFirstDeny
        );
        assert!(read(r#"{"options": {"evaluations_semantic": "first"}}"#).is_err());
        assert!(read(r#"{"options": {"evaluations_semantic": 1}}"#).is_err());
    }
}
