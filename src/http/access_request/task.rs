//! Tasks: `GET /access/v1/requests/{task}` (status, progress of the approval chain, links,
//! expiry, and once approved the `reevaluate` result with its approval) and
//! `POST`/`DELETE /access/v1/requests/{task}/cancel`. A task is readable by the enforcement
//! point that submitted it, its subject and admins; to anyone else it is unknown.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::{Value as Json, json};

use super::super::json::{self, member};
use super::super::problem::HttpError;
use super::super::router::{HttpEdge, json_response, read_body};
use super::REQUESTS_PATH;
use super::denial::rfc3339;
use super::signed;
use crate::auth::SigningKeyRing;
use crate::domain::{Elevation, Identity};
use crate::service::{AccessRequestTask, TaskItem, TaskStatus};

impl HttpEdge {
    /// A task's status.
    pub(super) async fn task_status(
        &self,
        caller: &Identity,
        task_id: &str,
        base: &str,
    ) -> Result<Response<Full<Bytes>>, HttpError> {
        let task = self.app.access_request_task(caller, task_id).await?;
        Ok(answer(StatusCode::OK, &task, base, &self.key_ring, false))
    }

    /// Cancels a task's pending items; the body (optional) may say `reason` and `comment`.
    pub(super) async fn cancel(
        &self,
        caller: &Identity,
        request: Request<Incoming>,
        task_id: &str,
        base: &str,
    ) -> Result<Response<Full<Bytes>>, HttpError> {
        let body = read_body(request).await?;
        let mut why = String::new();
        if !body.iter().all(u8::is_ascii_whitespace) {
            let object = json::body_object(&body)?;
            for name in ["reason", "comment"] {
                match member(&object, name) {
                    None => {}
                    Some(Json::String(text)) => {
                        if !why.is_empty() {
                            why.push_str(": ");
                        }
                        why.push_str(text);
                    }
                    Some(_) => return Err(HttpError::invalid(name, "must be a string")),
                }
            }
        }
        let task = self
            .app
            .cancel_access_request(caller, task_id, &why)
            .await?;
        Ok(answer(StatusCode::OK, &task, base, &self.key_ring, false))
    }
}

/// The answer carrying `task` with `status`, its `Location` when `located`.
pub(super) fn answer(
    status: StatusCode,
    task: &AccessRequestTask,
    base: &str,
    ring: &SigningKeyRing,
    located: bool,
) -> Response<Full<Bytes>> {
    let status_endpoint = format!("{base}{REQUESTS_PATH}/{}", task.record.task_id);
    let mut response = json_response(status, &document(task, &status_endpoint, ring));
    if located && let Ok(value) = HeaderValue::from_str(&status_endpoint) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The profile's `{"task": …, "result": …}` for `task`.
fn document(task: &AccessRequestTask, status_endpoint: &str, ring: &SigningKeyRing) -> Json {
    let mut handle = json!({
        "id": task.record.task_id,
        "status": task.status.as_str(),
        "status_endpoint": status_endpoint,
        "expires_at": rfc3339(task.expires_at),
    });
    if task.status == TaskStatus::Pending {
        handle["links"] = json!({ "cancel": format!("{status_endpoint}/cancel") });
        let waiting = task
            .items
            .iter()
            .find(|item| item.status == TaskStatus::Pending)
            .and_then(|item| item.elevation.as_ref());
        if let Some(progress) = waiting.and_then(progress) {
            handle["progress"] = progress;
        }
        handle["display"] = json!({
            "title": "Access request submitted",
            "description": "The request waits for its approvers; evaluate again once it is approved.",
        });
    }
    let mut answer = json!({});
    if task.record.bundled {
        handle["items"] = Json::Array(
            task.items
                .iter()
                .map(|entry| item(task, entry, ring))
                .collect(),
        );
    } else if let Some(result) = task
        .items
        .first()
        .and_then(|first| result(task, first, ring))
    {
        answer["result"] = result;
    }
    answer["task"] = handle;
    answer
}

/// One item of a bundled task.
fn item(task: &AccessRequestTask, item: &TaskItem, ring: &SigningKeyRing) -> Json {
    let mut entry = json!({
        "resource": item.item.bound["resource"],
        "action": item.item.bound["action"],
        "status": item.status.as_str(),
    });
    if let Some(result) = result(task, item, ring) {
        entry["result"] = result;
    }
    if let Some(refusal) = &item.item.refusal {
        entry["error"] = json!(crate::domain::echo::bounded(refusal, 512));
    }
    entry
}

/// An approved item's `reevaluate` result: the approval a PEP presents at `context.approval`.
fn result(task: &AccessRequestTask, item: &TaskItem, ring: &SigningKeyRing) -> Option<Json> {
    let approved_until = item.approved_until()?;
    let state = signed::approval_state(
        ring,
        &item.item.approval_id,
        &task.record.task_id,
        task.record.requester.as_str(),
        approved_until,
    );
    let mut approval = json!({
        "id": item.item.approval_id,
        "approved_until": rfc3339(approved_until),
    });
    if let Some(approved_at) = item.approved_at() {
        approval["approved_at"] = json!(rfc3339(approved_at));
    }
    if let Some(state) = state {
        approval["state"] = json!(state);
    }
    Some(json!({ "mode": "reevaluate", "approval": approval }))
}

/// Where a pending elevation's chain stands: the step, how many there are, and who may act.
fn progress(elevation: &Elevation) -> Option<Json> {
    let current = elevation.current_step()?;
    let step = elevation.steps.get(current)?;
    let mut awaiting: Vec<String> = step
        .approvers
        .users
        .iter()
        .map(|user| user.to_string())
        .collect();
    if step.approvers.manager_of_requester
        && let Some(manager) = &elevation.requester_claims.manager
    {
        awaiting.push(manager.to_string());
    }
    awaiting.extend(
        step.approvers
            .groups
            .iter()
            .map(|group| format!("group:{group}")),
    );
    awaiting.extend(
        step.approvers
            .roles
            .iter()
            .map(|role| format!("role:{role}")),
    );
    awaiting.retain(|who| {
        !elevation
            .excluded_approvers
            .iter()
            .any(|x| x.as_str() == who)
    });
    Some(json!({
        "current_step": current + 1,
        "total_steps": elevation.steps.len(),
        "step_name": step.name,
        "awaiting": awaiting,
    }))
}
