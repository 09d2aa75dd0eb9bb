//! The evaluation side of the profile: a requestable denial (`context.access_request` with
//! its `evaluation_id`, `expires_at`, template, endpoint, display and request schema) for a PEP
//! that opts in, and the answer to a re-evaluation presenting `context.approval`: allowed for
//! exactly the approval's window and question, or denied with `next_action` and the profile's
//! reason. Also the request schema of an eligibility entry.

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value as Json, json};

use super::super::answer::{self, Detail};
use super::super::evaluation::access_query;
use super::super::json::{Object, Question, member};
use super::super::problem::HttpError;
use super::super::router::{HttpEdge, json_response};
use super::{REQUESTS_PATH, signed};
use crate::auth::SigningKeyRing;
use crate::domain::{Decision, Identity, format_duration};
use crate::service::{ApprovalStanding, DenialOffer, Eligibility, ServiceError};

/// The request context member by which a PEP opts in to requestable denials.
pub(in crate::http) const OPT_IN_MEMBER: &str = crate::service::ACCESS_REQUEST_OPT_IN;

/// An evaluation as asked and decided.
struct Asked<'a> {
    caller: &'a Identity,
    question: &'a Question,
    decision: &'a Decision,
}

/// Longest `context.approval.id`, in bytes.
const MAX_APPROVAL_ID_BYTES: usize = 128;

pub(super) use crate::service::bound_question as question_json;

/// An RFC 3339 timestamp, in seconds, UTC.
pub(super) fn rfc3339(moment: DateTime<Utc>) -> String {
    moment.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl HttpEdge {
    /// The profile's answer to an evaluation, when the PEP opted in or presented an approval;
    /// `None` leaves the plain answer.
    pub(in crate::http) async fn access_request_answer(
        &self,
        caller: &Identity,
        object: &Object,
        question: &Question,
        decision: &Decision,
        detail: Detail,
        base: Option<&str>,
    ) -> Result<Option<Json>, HttpError> {
        let context = member(object, "context").and_then(Json::as_object);
        let approval = context.and_then(|members| member(members, "approval"));
        let opted_in =
            context.and_then(|members| members.get(OPT_IN_MEMBER)) == Some(&Json::Bool(true));
        if approval.is_none() && !opted_in {
            return Ok(None);
        }
        let bound = question_json(
            member(object, "subject").unwrap_or(&Json::Null),
            member(object, "resource").unwrap_or(&Json::Null),
            member(object, "action").unwrap_or(&Json::Null),
            member(object, "context").unwrap_or(&Json::Null),
        );
        let mut answer = answer::decision(decision, detail);
        let mut profile = Map::new();
        if let Some(approval) = approval {
            let id = approval_id(approval)?;
            let state = approval.get("state").filter(|state| !state.is_null());
            let signed_state_holds = match state {
                None => true,
                Some(Json::String(state)) => {
                    signed::approval_state_holds(&self.key_ring, state, id)
                }
                Some(_) => false,
            };
            let standing = if signed_state_holds {
                self.app.approval_standing(id, &bound).await?
            } else {
                ApprovalStanding::Unverifiable
            };
            if decision.allowed {
                if let ApprovalStanding::Valid { approved_until } = standing {
                    profile.insert(
                        "approval".into(),
                        json!({"id": id, "approved_until": rfc3339(approved_until)}),
                    );
                }
            } else {
                let asked = Asked {
                    caller,
                    question,
                    decision,
                };
                profile = self.next_action(&asked, bound, &standing, base).await?;
            }
        } else if !decision.allowed {
            let Some(offer) = self.offer(caller, question, decision, bound).await? else {
                return Ok(None);
            };
            requestable(&offer, base, &self.key_ring, &mut profile);
        }
        if profile.is_empty() {
            return Ok(Some(answer));
        }
        let context = answer
            .as_object_mut()
            .map(|answer| answer.entry("context").or_insert_with(|| json!({})));
        if let Some(Json::Object(context)) = context {
            context.extend(profile);
        }
        Ok(Some(answer))
    }

    /// What a PEP does after a denied re-evaluation with `standing`: request again (with a
    /// fresh requestable denial, when there is one), retry later, or nothing.
    async fn next_action(
        &self,
        asked: &Asked<'_>,
        bound: Json,
        standing: &ApprovalStanding,
        base: Option<&str>,
    ) -> Result<Map<String, Json>, HttpError> {
        let mut profile = Map::new();
        profile.insert("reason".into(), json!(standing.denial_reason()));
        let next = match standing {
            ApprovalStanding::Expired | ApprovalStanding::OutOfScope => {
                match self
                    .offer(asked.caller, asked.question, asked.decision, bound)
                    .await?
                {
                    Some(offer) => {
                        let reason = standing.denial_reason();
                        requestable(&offer, base, &self.key_ring, &mut profile);
                        profile.insert("reason".into(), json!(reason));
                        "request"
                    }
                    None => "none",
                }
            }
            ApprovalStanding::GrantPending { retry_after } => {
                profile.insert("retry_after".into(), json!(retry_after));
                "retry"
            }
            ApprovalStanding::Valid { .. } | ApprovalStanding::Unverifiable => "none",
        };
        profile.insert("next_action".into(), json!(next));
        Ok(profile)
    }

    /// The requestable denial of `question`, when policy makes it one.
    async fn offer(
        &self,
        caller: &Identity,
        question: &Question,
        decision: &Decision,
        bound: Json,
    ) -> Result<Option<DenialOffer>, ServiceError> {
        let query = access_query(question, "")?;
        self.app
            .requestable_denial(caller, &query, decision, bound)
            .await
    }

    /// `GET /access/v1/requests/schemas/{entry}`: what a request under eligibility entry
    /// `entry` must carry, as a JSON Schema of the submission's `context` and
    /// `requested_access`.
    pub(super) fn request_schema(&self, entry: &str) -> Result<Response<Full<Bytes>>, HttpError> {
        let unknown = || {
            HttpError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such request schema: use the request_schema_url of a requestable denial",
            )
        };
        let index: usize = entry.parse().map_err(|_| unknown())?;
        let entry = self.app.eligibility_entry(index).ok_or_else(unknown)?;
        Ok(json_response(StatusCode::OK, &schema(&entry)))
    }
}

/// `context.approval.id`, required and bounded.
fn approval_id(approval: &Json) -> Result<&str, HttpError> {
    let id = approval
        .as_object()
        .and_then(|approval| approval.get("id"))
        .and_then(Json::as_str)
        .filter(|id| !id.is_empty() && id.len() <= MAX_APPROVAL_ID_BYTES);
    id.ok_or_else(|| {
        HttpError::invalid(
            "context.approval.id",
            "is required: pass the approval object of the task's result unchanged",
        )
    })
}

/// Adds a requestable denial's members to the decision context.
fn requestable(
    offer: &DenialOffer,
    base: Option<&str>,
    ring: &SigningKeyRing,
    profile: &mut Map<String, Json>,
) {
    let denial = &offer.denial;
    let mut access_request = json!({
        "template": denial.template,
        "expires_at": rfc3339(denial.expires_at),
        "display": display(&offer.entry),
    });
    if let Some(token) = signed::binding_token(ring, denial) {
        access_request["binding_token"] = json!(token);
    }
    if let Some(base) = base {
        access_request["endpoint"] = json!(format!("{base}{REQUESTS_PATH}"));
        access_request["request_schema_url"] = json!(format!(
            "{base}{REQUESTS_PATH}/schemas/{}",
            offer.entry.index
        ));
    }
    profile.insert("evaluation_id".into(), json!(denial.evaluation_id));
    profile.insert("evaluated_at".into(), json!(rfc3339(denial.evaluated_at)));
    profile.insert("reason".into(), json!("approval_required"));
    profile.insert("access_request".into(), access_request);
}

/// What a person is shown: the role to ask for, what the request needs, who approves.
fn display(entry: &Eligibility) -> Json {
    let mut needs = Vec::new();
    if entry.require_reason {
        needs.push("a business justification");
    }
    if entry.require_ticket {
        needs.push("a ticket");
    }
    let steps: Vec<&str> = entry.steps.iter().map(|step| step.name.as_str()).collect();
    let approval = if steps.is_empty() {
        "granted by policy without an approver".to_owned()
    } else {
        format!("approved in {} step(s): {}", steps.len(), steps.join(", "))
    };
    let needs = if needs.is_empty() {
        String::new()
    } else {
        format!("; the request needs {}", needs.join(" and "))
    };
    json!({
        "title": format!("Request the {} role", entry.role),
        "description": format!(
            "The {} role would allow this for up to {}, {approval}{needs}.",
            entry.role,
            format_duration(entry.max_duration)
        ),
    })
}

/// The JSON Schema of what a submission under `entry` adds.
fn schema(entry: &Eligibility) -> Json {
    let mut context_required = Vec::new();
    if entry.require_reason {
        context_required.push("business_justification");
    }
    if entry.require_ticket {
        context_required.push("ticket");
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": format!("An access request for the {} role", entry.role),
        "type": "object",
        "properties": {
            "context": {
                "type": "object",
                "properties": {
                    "business_justification": {
                        "type": "string", "minLength": 1, "maxLength": 1024,
                        "description": "why the access is needed, for the approvers and the audit log"
                    },
                    "ticket": {"type": "string", "minLength": 1, "maxLength": 256}
                },
                "required": context_required
            },
            "requested_access": {
                "type": "object",
                "properties": {
                    "requested_until": {
                        "type": "string", "format": "date-time",
                        "description": format!(
                            "when access should end: at most {} after approval (longer is cut to it)",
                            format_duration(entry.max_duration)
                        )
                    },
                    "emergency": {"type": "boolean", "description": "a signal for the audit log, not an override"}
                }
            }
        },
        "required": if context_required.is_empty() { json!([]) } else { json!(["context"]) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_question_leaves_out_the_actor_and_the_profiles_own_members() {
        let bound = question_json(
            &json!({"type": "user", "id": "jerry", "properties": {"act": {"sub": "agent"}, "x": 1}}),
            &json!({"type": "todo", "id": "1"}),
            &json!({"name": "can_create_todo"}),
            &json!({"access_request_profile": true, "tenant": "smiths", "time": "now",
                    "approval": {"id": "apr_1"}, "business_justification": "why"}),
        );
        assert_eq!(
            bound["subject"],
            json!({"type": "user", "id": "jerry", "properties": {"x": 1}})
        );
        assert_eq!(bound["context"], json!({"tenant": "smiths"}));
    }
}
