//! `POST /access/v1/requests`: an access request, read once into the use case's submission
//! (every refusal names the member to fix), submitted, and answered with its task: `201` when
//! policy completed it at once, `202` while it awaits approval, `Location` its status endpoint.
//!
//! The actor chain (`client.actor`, nested `act`) is audit metadata, never authorization input:
//! an enforcement point (the PEP role) is trusted to assert it, as it is trusted to name the
//! subject of every evaluation; a subject submitting for itself may claim no actor but itself.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Map, Value as Json};

use super::super::json::{self, Object, member};
use super::super::problem::HttpError;
use super::super::router::{HttpEdge, json_content_type, read_body};
use super::denial::question_json;
use super::{REQUESTS_PATH, signed, task};
use crate::domain::{Identity, session_from_context};
use crate::service::{
    AccessRequestSubmission, CALLBACK_EVENTS, DenialBinding, MAX_ACCESS_REQUEST_ITEMS,
    MAX_CALLBACK_STATE_BYTES, ServiceError, SubmittedCallback, SubmittedItem,
};

/// Longest `Idempotency-Key`, in bytes.
const MAX_IDEMPOTENCY_KEY_BYTES: usize = 128;

/// Deepest actor chain (`client.actor` and its nested `act`s).
const MAX_ACTOR_CHAIN: usize = 8;

impl HttpEdge {
    /// Submits an access request.
    pub(super) async fn submit(
        &self,
        caller: &Identity,
        request: Request<Incoming>,
        base: &str,
    ) -> Result<Response<Full<Bytes>>, HttpError> {
        json_content_type(request.headers())?;
        let idempotency_key = idempotency_key(request.headers())?;
        let body = read_body(request).await?;
        let object = json::body_object(&body)?;
        let mut submission = read_submission(&object, idempotency_key)?;
        for (index, item) in submission.items.iter_mut().enumerate() {
            if let Some(binding) = item.denial.as_mut() {
                signed::resolve_binding(
                    &self.key_ring,
                    binding,
                    &format!("items[{index}].denial"),
                )?;
            }
        }
        verify_actor_chain(caller, &submission.client, self.app.roles().pep.as_str())?;
        if let Some(callback) = submission.callback.as_mut() {
            callback.tasks_url = format!("{base}{REQUESTS_PATH}");
        }
        let task = self
            .app
            .submit_access_request(caller, submission)
            .await
            .map_err(submission_field)?;
        let status = if task.status == crate::service::TaskStatus::Pending {
            StatusCode::ACCEPTED
        } else {
            StatusCode::CREATED
        };
        Ok(task::answer(status, &task, base, &self.key_ring, true))
    }
}

/// A refusal of the elevation request, naming the submission's member instead.
fn submission_field(error: ServiceError) -> ServiceError {
    match error {
        ServiceError::InvalidArgument { field, message } => {
            let field = match field.as_str() {
                "reason" => "context.business_justification".to_owned(),
                "ticket" => "context.ticket".to_owned(),
                "duration" => "requested_access.requested_until".to_owned(),
                _ => field,
            };
            ServiceError::InvalidArgument { field, message }
        }
        other => other,
    }
}

/// The `Idempotency-Key` header (a structured-field string, quotes optional): printable ASCII
/// of at most [`MAX_IDEMPOTENCY_KEY_BYTES`].
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, HttpError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("");
    let text = text
        .strip_prefix('"')
        .and_then(|inner| inner.strip_suffix('"'))
        .unwrap_or(text);
    let acceptable = !text.is_empty()
        && text.len() <= MAX_IDEMPOTENCY_KEY_BYTES
        && text.bytes().all(|b| b.is_ascii_graphic());
    if !acceptable {
        return Err(HttpError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} printable ASCII characters"),
        ));
    }
    Ok(Some(text.to_owned()))
}

/// The body as the use case's submission.
fn read_submission(
    object: &Object,
    idempotency_key: Option<String>,
) -> Result<AccessRequestSubmission, ServiceError> {
    let required = |field: &str| {
        member(object, field).ok_or_else(|| ServiceError::invalid(field, "is required"))
    };
    let subject_json = required("subject")?;
    let subject = json::entity(subject_json, "subject", true)?;
    let context = json::context(object, "")?.unwrap_or_default();
    let session = session_from_context(&context)
        .map_err(|error| ServiceError::invalid("context.session_id", error.0))?;
    let context_json = member(object, "context").cloned().unwrap_or(Json::Null);
    let top_denial = member(object, "denial")
        .map(|value| denial(value, "denial"))
        .transpose()?;
    let top_access = member(object, "requested_access")
        .map(|value| json::as_object(value, "requested_access"))
        .transpose()?;
    let top_until = requested_until(top_access, "requested_access")?;
    let bundled = member(object, "items").is_some();
    let items = match member(object, "items") {
        Some(listed) => listed_items(
            object,
            listed,
            subject_json,
            &context_json,
            &top_denial,
            top_until,
        )?,
        None => vec![SubmittedItem {
            question: item_question(object, subject_json, &context_json, "")?,
            denial: top_denial,
            requested_until: top_until,
        }],
    };
    let context_object = context_json.as_object();
    let text = |name: &str| -> Result<Option<String>, ServiceError> {
        match context_object.and_then(|context| context.get(name)) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(ServiceError::invalid(
                format!("context.{name}"),
                "must be a string",
            )),
        }
    };
    let client = member(object, "client").cloned().unwrap_or(Json::Null);
    if !client.is_null() {
        json::as_object(&client, "client")?;
    }
    Ok(AccessRequestSubmission {
        subject_type: subject.entity_type,
        subject_id: subject.id.unwrap_or_default(),
        session,
        items,
        bundled,
        reason: text("business_justification")?.unwrap_or_default(),
        ticket: text("ticket")?,
        idempotency_key,
        body: Json::Object(object.clone()),
        client,
        callback: member(object, "callback").map(callback).transpose()?,
    })
}

/// The items of a bundled submission, each with its own denial or the top-level one.
fn listed_items(
    object: &Object,
    listed: &Json,
    subject_json: &Json,
    context_json: &Json,
    top_denial: &Option<DenialBinding>,
    top_until: Option<DateTime<Utc>>,
) -> Result<Vec<SubmittedItem>, ServiceError> {
    let mut items = Vec::new();
    for field in ["resource", "action"] {
        if member(object, field).is_some() {
            return Err(ServiceError::invalid(
                field,
                "must be omitted when items is present: put it in each item",
            ));
        }
    }
    let listed = listed
        .as_array()
        .ok_or_else(|| ServiceError::invalid("items", "must be an array"))?;
    if listed.is_empty() || listed.len() > MAX_ACCESS_REQUEST_ITEMS {
        return Err(ServiceError::invalid(
            "items",
            format!("must hold 1 to {MAX_ACCESS_REQUEST_ITEMS} items"),
        ));
    }
    for (index, entry) in listed.iter().enumerate() {
        let path = format!("items[{index}]");
        let entry = json::as_object(entry, &path)?;
        let own_denial = member(entry, "denial")
            .map(|value| denial(value, &format!("{path}.denial")))
            .transpose()?;
        let access = member(entry, "requested_access")
            .map(|value| json::as_object(value, &format!("{path}.requested_access")))
            .transpose()?;
        let until = requested_until(access, &format!("{path}.requested_access"))?;
        items.push(SubmittedItem {
            question: item_question(entry, subject_json, context_json, &path)?,
            denial: own_denial.or_else(|| top_denial.clone()),
            requested_until: until.or(top_until),
        });
    }
    Ok(items)
}

/// The question of one item: the subject, the item's resource and action (validated), and the
/// context, as [`question_json`] shapes them for comparison with the denial.
fn item_question(
    item: &Object,
    subject: &Json,
    context: &Json,
    path: &str,
) -> Result<Json, ServiceError> {
    let at = |field: &str| {
        if path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    let resource = member(item, "resource")
        .ok_or_else(|| ServiceError::invalid(at("resource"), "is required"))?;
    json::entity(resource, &at("resource"), true)?;
    let action =
        member(item, "action").ok_or_else(|| ServiceError::invalid(at("action"), "is required"))?;
    json::action(action, &at("action"))?;
    Ok(question_json(subject, resource, action, context))
}

/// The `callback` object: `endpoint` (checked by the use case), `state`, `events`.
fn callback(value: &Json) -> Result<SubmittedCallback, ServiceError> {
    let object = json::as_object(value, "callback")?;
    let endpoint = match member(object, "endpoint") {
        Some(Json::String(text)) if !text.is_empty() => text.clone(),
        _ => {
            return Err(ServiceError::invalid(
                "callback.endpoint",
                "is required: the https URL to post the task's end to",
            ));
        }
    };
    let state = match member(object, "state") {
        None | Some(Json::Null) => None,
        Some(Json::String(text)) if text.len() <= MAX_CALLBACK_STATE_BYTES => Some(text.clone()),
        Some(_) => {
            return Err(ServiceError::invalid(
                "callback.state",
                format!("must be a string of at most {MAX_CALLBACK_STATE_BYTES} bytes"),
            ));
        }
    };
    let mut events = Vec::new();
    match member(object, "events") {
        None | Some(Json::Null) => {}
        Some(Json::Array(listed)) if listed.len() <= CALLBACK_EVENTS.len() => {
            for event in listed {
                match event.as_str() {
                    Some(name) if CALLBACK_EVENTS.contains(&name) => events.push(name.to_owned()),
                    _ => {
                        return Err(ServiceError::invalid(
                            "callback.events",
                            format!("may only name {}", CALLBACK_EVENTS.join(", ")),
                        ));
                    }
                }
            }
        }
        Some(_) => {
            return Err(ServiceError::invalid(
                "callback.events",
                format!(
                    "must be an array naming some of {}",
                    CALLBACK_EVENTS.join(", ")
                ),
            ));
        }
    }
    Ok(SubmittedCallback {
        endpoint,
        state,
        events,
        tasks_url: String::new(),
    })
}

/// A `denial` object at `path`: the binding material and the echoed expiry.
fn denial(value: &Json, path: &str) -> Result<DenialBinding, ServiceError> {
    let object = json::as_object(value, path)?;
    let string = |name: &str| -> Result<Option<String>, ServiceError> {
        match member(object, name) {
            None => Ok(None),
            Some(Json::String(text)) if !text.is_empty() && text.len() <= 4096 => {
                Ok(Some(text.clone()))
            }
            Some(_) => Err(ServiceError::invalid(
                format!("{path}.{name}"),
                "must be a non-empty string of at most 4096 bytes",
            )),
        }
    };
    let evaluation_id = string("evaluation_id")?;
    let binding_token = string("binding_token")?;
    match string("expires_at")? {
        Some(text) => {
            timestamp(&text, &format!("{path}.expires_at"))?;
        }
        None => {
            return Err(ServiceError::invalid(
                format!("{path}.expires_at"),
                "is required: echo context.access_request.expires_at of the denial",
            ));
        }
    }
    if evaluation_id.is_none() && binding_token.is_none() {
        return Err(crate::service::profile_refusal(
            "INVALID_DENIAL_BINDING",
            format!("{path} needs evaluation_id (or binding_token) from the denied evaluation"),
        ));
    }
    Ok(DenialBinding {
        evaluation_id,
        binding_token,
    })
}

/// `requested_until` of a `requested_access` object at `path`.
fn requested_until(
    access: Option<&Object>,
    path: &str,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let Some(access) = access else {
        return Ok(None);
    };
    if let Some(emergency) = member(access, "emergency")
        && !emergency.is_boolean()
    {
        return Err(ServiceError::invalid(
            format!("{path}.emergency"),
            "must be true or false",
        ));
    }
    match member(access, "requested_until") {
        None => Ok(None),
        Some(Json::String(text)) => timestamp(text, &format!("{path}.requested_until")).map(Some),
        Some(_) => Err(ServiceError::invalid(
            format!("{path}.requested_until"),
            "must be an RFC 3339 timestamp string",
        )),
    }
}

/// An RFC 3339 timestamp at `path`.
fn timestamp(text: &str, path: &str) -> Result<DateTime<Utc>, ServiceError> {
    DateTime::parse_from_rfc3339(text)
        .map(|moment| moment.with_timezone(&Utc))
        .map_err(|_| {
            ServiceError::invalid(
                path,
                "must be an RFC 3339 timestamp such as 2026-05-01T00:15:00Z",
            )
        })
}

/// Checks the claimed actor chain: well formed and bounded; asserted by an enforcement point
/// (the PEP role), or by the subject naming only itself.
fn verify_actor_chain(
    caller: &Identity,
    client: &Json,
    pep_role: &str,
) -> Result<(), ServiceError> {
    let Some(actor) = client.get("actor").filter(|actor| !actor.is_null()) else {
        return Ok(());
    };
    let mut link: &Json = actor;
    let mut path = "client.actor".to_owned();
    for depth in 0..=MAX_ACTOR_CHAIN {
        if depth == MAX_ACTOR_CHAIN {
            return Err(ServiceError::invalid(
                path,
                format!("the actor chain is longer than {MAX_ACTOR_CHAIN} links"),
            ));
        }
        let object: &Map<String, Json> = json::as_object(link, &path)?;
        let id_name = if depth == 0 { "id" } else { "sub" };
        match object.get(id_name) {
            Some(Json::String(id)) if !id.is_empty() && id.len() <= 256 => {}
            _ => {
                return Err(ServiceError::invalid(
                    format!("{path}.{id_name}"),
                    "is required: a string of 1 to 256 bytes",
                ));
            }
        }
        match object.get("act").filter(|act| !act.is_null()) {
            Some(next) => {
                link = next;
                path.push_str(".act");
            }
            None => break,
        }
    }
    let only_itself = actor.get("id").and_then(Json::as_str) == Some(caller.subject.as_str())
        && actor.get("act").is_none_or(Json::is_null);
    if caller.has_role(pep_role) || only_itself {
        return Ok(());
    }
    Err(ServiceError::denied(
        "ACTOR_NOT_VERIFIED",
        format!(
            "client.actor names someone other than the caller: only an enforcement point with the {pep_role:?} role may assert an actor chain"
        ),
    ))
}
