//! The console's pages and actions, one handler each: validate the form, convert it into domain
//! values (naming any bad field), call one use case with the caller's verified identity, and
//! render the result (or redirect after a successful POST). Refusals come back as the use
//! case's error, shown with its stable code and the HTTP status that matches it.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};
use http::{Method, StatusCode};

use super::forms::{Fields, encode};
use super::html::{Page, csrf_field, document, esc, html, machine_time, notice, see_other, when};
use super::{Caller, Console};
use crate::domain::CheckQuery;
use crate::domain::StoredAuditEvent;
use crate::domain::risk::RiskPicture;
use crate::domain::{
    ApprovalStep, AuditAction, Elevation, ElevationId, ElevationState, Grant, GrantId, GroupName,
    InvalidValue, RequestedDuration, RoleName, Scope, SessionBinding, SessionId, Subject, Toward,
    Verdict, format_duration, parse_moment,
};
use crate::service::{
    AuditQuery, NewDelegation, NewElevation, NotDelegable, PolicyProblems, RequestAssessment,
    ServiceError, SimulatedRequester,
};

type Handled = Result<Page, ServiceError>;

fn field<T>(name: &str, result: Result<T, InvalidValue>) -> Result<T, ServiceError> {
    result.map_err(|error| ServiceError::invalid(name, error.0))
}

fn required<T>(
    form: &Fields,
    name: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<T, ServiceError> {
    match form.optional(name) {
        None => Err(ServiceError::invalid(name, "is required")),
        Some(value) => field(name, parse(value)),
    }
}

fn optional<T>(
    form: &Fields,
    name: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, ServiceError> {
    form.optional(name)
        .map(|value| field(name, parse(value)))
        .transpose()
}

/// A moment: an RFC 3339 time, a `datetime-local` value (UTC), or a duration from now.
fn moment(
    form: &Fields,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let Some(text) = form.optional(name) else {
        return Ok(None);
    };
    moment_toward(name, text, now, Toward::Future).map(Some)
}

/// A moment in the past: an RFC 3339 time, or a duration ago (`2h`).
fn since(
    form: &Fields,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    let Some(text) = form.optional(name) else {
        return Ok(None);
    };
    moment_toward(name, text, now, Toward::Past).map(Some)
}

fn moment_toward(
    name: &str,
    text: &str,
    now: DateTime<Utc>,
    toward: Toward,
) -> Result<DateTime<Utc>, ServiceError> {
    parse_moment(text, now, toward).map_err(|_| {
        ServiceError::invalid(
            name,
            format!(
                "{text:?} is neither a time (2025-03-01T09:00:00Z) nor a duration from now (3h)"
            ),
        )
    })
}

fn risk(form: &Fields) -> Result<Option<RiskPicture>, ServiceError> {
    let score = form.optional("risk_score");
    let flags = form.optional("risk_flags");
    if score.is_none() && flags.is_none() {
        return Ok(None);
    }
    let score = match score {
        None => 0,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|score| *score <= 100)
            .ok_or_else(|| ServiceError::invalid("risk_score", "a whole number from 0 to 100"))?,
    };
    let mut flags: Vec<String> = flags
        .unwrap_or("")
        .split([',', ' '])
        .filter(|flag| !flag.is_empty())
        .map(str::to_owned)
        .collect();
    flags.sort();
    flags.dedup();
    Ok(Some(RiskPicture { score, flags }))
}

fn new_elevation(form: &Fields, now: DateTime<Utc>) -> Result<NewElevation, ServiceError> {
    Ok(NewElevation {
        role: required(form, "role", RoleName::parse)?,
        scope: required(form, "scope", Scope::parse)?,
        duration: required(form, "duration", RequestedDuration::parse)?,
        reason: form.get("reason").to_owned(),
        ticket: form.optional("ticket").map(str::to_owned),
        idempotency_key: None,
        not_before: moment(form, "start", now)?,
    })
}

fn state_badge(state: ElevationState) -> String {
    format!("<span class=\"state state-{0}\">{0}</span>", state.as_str())
}

fn approvers_text(step: &ApprovalStep, manager: Option<&Subject>) -> String {
    let spec = &step.approvers;
    let mut who = Vec::new();
    if spec.manager_of_requester {
        who.push(match manager {
            Some(manager) => format!("the requester's manager ({})", esc(manager)),
            None => "the requester's manager (none known: nobody can approve)".to_owned(),
        });
    }
    let list = |items: Vec<String>| items.join(", ");
    if !spec.groups.is_empty() {
        who.push(format!(
            "group {}",
            esc(list(spec.groups.iter().map(ToString::to_string).collect()))
        ));
    }
    if !spec.users.is_empty() {
        who.push(esc(list(
            spec.users.iter().map(ToString::to_string).collect(),
        )));
    }
    if !spec.roles.is_empty() {
        who.push(format!(
            "holders of {}",
            esc(list(spec.roles.iter().map(ToString::to_string).collect()))
        ));
    }
    let automatic = step
        .auto_approve
        .as_ref()
        .map(|rule| format!("; met by policy if <code>{}</code>", esc(rule)))
        .unwrap_or_default();
    format!(
        "<b>{}</b>: {} of {}{automatic}",
        esc(&step.name),
        step.quorum,
        if who.is_empty() {
            "nobody".to_owned()
        } else {
            who.join(" or ")
        }
    )
}

fn countdown(not_after: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = (not_after - now).max(TimeDelta::zero());
    format!(
        "<span class=\"countdown\" data-expires=\"{}\">{} left</span>",
        machine_time(not_after),
        esc(format_duration(TimeDelta::seconds(left.num_seconds())))
    )
}

/// How a grant relates to sessions, for the grants page: its session; for a delegation not
/// yet taken up, the button that takes it up in this session; or that policy leaves it unbound.
fn session_cell(grant: &Grant, csrf: &str) -> String {
    match grant.binding() {
        SessionBinding::Bound => grant
            .session
            .as_ref()
            .map(|session| format!(" <span class=\"muted\">session {}</span>", esc(session)))
            .unwrap_or_default(),
        SessionBinding::AwaitingAcceptance => format!(
            " <span class=\"state state-PENDING\" id=\"not-accepted-{id}\">not accepted: allows nothing until you take it up</span>\
             <form method=\"post\" action=\"/console/grants/{id}/accept\" class=\"accept\">{csrf}\
             <button id=\"accept-{id}\">Accept in this session</button></form>",
            id = grant.id,
            csrf = csrf_field(csrf),
        ),
        SessionBinding::Unbound => format!(
            " <span class=\"muted\" id=\"unbound-{}\">not session-bound (policy): counts in all your sessions</span>",
            grant.id
        ),
    }
}

fn trail_text(grant: &Grant) -> String {
    if grant.delegation_trail.is_empty() {
        return String::new();
    }
    let hops: Vec<String> = grant
        .delegation_trail
        .iter()
        .map(|hop| {
            format!(
                "{} → {} on {} ({})",
                esc(&hop.delegator),
                esc(&hop.delegatee),
                esc(&hop.scope),
                esc(&hop.reason)
            )
        })
        .collect();
    format!("<div class=\"muted\">delegated: {}</div>", hops.join("; "))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Routes a signed-in request (the CSRF token of a POST is already checked).
pub async fn dispatch(
    console: &Console,
    caller: &Caller,
    method: &Method,
    path: &str,
    query: &Fields,
    form: &Fields,
) -> Page {
    let segments: Vec<&str> = path
        .trim_start_matches("/console/")
        .split('/')
        .filter(|segment| !segment.is_empty())
        .collect();
    let post = *method == Method::POST;
    let handled = match (post, segments.as_slice()) {
        (false, ["request"]) => console.request_page(caller, query).await,
        (false, ["request", "preview"]) => console.request_preview(caller, query).await,
        (true, ["request"]) => console.submit_request(caller, form).await,
        (false, ["elevations"]) => console.elevations_page(caller, query).await,
        (true, ["elevations", id, "cancel"]) => console.cancel(caller, id, form).await,
        (true, ["elevations", id, "extend"]) => console.extend(caller, id, form).await,
        (false, ["approvals"]) => console.approvals_page(caller, query).await,
        (false, ["approvals", "rows"]) => console.approval_rows_fragment(caller).await,
        (true, ["approvals", id, "approve"]) => {
            console.decide(caller, id, Verdict::Approve, form).await
        }
        (true, ["approvals", id, "deny"]) => console.decide(caller, id, Verdict::Deny, form).await,
        (false, ["grants"]) => console.grants_page(caller, query).await,
        (true, ["grants", id, "revoke"]) => console.revoke(caller, id, form).await,
        (true, ["grants", id, "delegate"]) => console.delegate(caller, id, form).await,
        (true, ["grants", id, "accept"]) => console.accept(caller, id).await,
        (false, ["audit"]) => console.audit_page(caller, query).await,
        (false, ["simulator"]) => console.simulator_page(caller, query).await,
        (false, ["policy"]) => console.policy_page(caller, query).await,
        (true, ["policy", "validate"]) => console.validate_policy(caller, form).await,
        (true, ["policy", "put"]) => console.put_policy(caller, form).await,
        _ => Ok(console.refusal(
            caller,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "no such console page",
        )),
    };
    handled.unwrap_or_else(|error| {
        tracing::info!(subject = %caller.identity.subject, path, code = error.code(), "console action refused");
        console.refused(caller, error)
    })
}

impl Console {
    fn page(&self, caller: &Caller, title: &str, current: &str, body: &str) -> Page {
        html(
            StatusCode::OK,
            document(title, current, Some(&caller.viewer()), body),
        )
    }

    // ----- request ---------------------------------------------------------------------

    async fn request_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let entries = self.app.requestable_roles(identity);
        let mut body = notice(query.get("notice"));
        if entries.is_empty() {
            body.push_str("<p id=\"not-eligible\">Policy lets you request no role.</p>");
            return Ok(self.page(caller, "Request a role", "/console/request", &body));
        }
        body.push_str("<h2>What you may request</h2><table id=\"eligibility\"><thead><tr><th>role</th><th>scopes</th><th>duration</th><th>approval</th><th>needs</th></tr></thead><tbody>");
        for entry in &entries {
            let scopes: Vec<String> = entry
                .scopes
                .iter()
                .map(|pattern| format!("<code>{}</code>", esc(pattern.as_str())))
                .collect();
            let steps: Vec<String> = entry
                .steps
                .iter()
                .map(|step| approvers_text(step, identity.manager.as_ref()))
                .collect();
            let mut needs = Vec::new();
            if entry.require_reason {
                needs.push("reason");
            }
            if entry.require_ticket {
                needs.push("ticket");
            }
            if entry.session_bound {
                needs.push("bound to this session");
            }
            let _ = write!(
                body,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}at most {}</td><td>{}</td><td>{}</td></tr>",
                esc(&entry.role),
                scopes.join(" "),
                entry
                    .min_duration
                    .map(|min| format!("at least {}, ", esc(format_duration(min))))
                    .unwrap_or_default(),
                esc(format_duration(entry.max_duration)),
                if steps.is_empty() {
                    "none".to_owned()
                } else {
                    steps.join("<br>")
                },
                needs.join(", ")
            );
        }
        body.push_str("</tbody></table>");
        let mut roles: Vec<&str> = entries.iter().map(|entry| entry.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        let options: String = roles
            .iter()
            .map(|role| format!("<option value=\"{0}\">{0}</option>", esc(role)))
            .collect();
        let example_scope = entries[0]
            .scopes
            .first()
            .map(|pattern| pattern.as_str().trim_end_matches("/**").to_owned())
            .unwrap_or_default();
        let _ = write!(
            body,
            "<h2>Ask for a role</h2><form method=\"post\" action=\"/console/request\" id=\"request-form\" class=\"card\">{csrf}\
             <div class=\"grid\"><div><label for=\"role\">Role</label><select id=\"role\" name=\"role\">{options}</select></div>\
             <div><label for=\"scope\">Scope</label><input type=\"text\" id=\"scope\" name=\"scope\" value=\"{scope}\" required></div>\
             <div><label for=\"duration\">Duration</label><input type=\"text\" id=\"duration\" name=\"duration\" value=\"1h\" required class=\"small\"></div>\
             <div><label for=\"start\">Start (optional: a time, or a duration from now)</label><input type=\"text\" id=\"start\" name=\"start\" class=\"small\"></div></div>\
             <label for=\"reason\">Reason</label><input type=\"text\" id=\"reason\" name=\"reason\">\
             <label for=\"ticket\">Ticket</label><input type=\"text\" id=\"ticket\" name=\"ticket\" class=\"small\">\
             <h2>Preview</h2><div id=\"preview\" class=\"muted\">What policy says appears here as you type.</div>\
             <button id=\"submit-request\">Request</button></form>",
            csrf = csrf_field(&caller.csrf),
            scope = esc(example_scope),
        );
        Ok(self.page(caller, "Request a role", "/console/request", &body))
    }

    async fn request_preview(&self, caller: &Caller, query: &Fields) -> Handled {
        let fragment = match new_elevation(query, self.clock.now()) {
            Err(error) => format!("<p class=\"error\">{}</p>", esc(error.to_string())),
            Ok(request) => {
                let assessment = self
                    .app
                    .simulate_elevation(&caller.identity, None, request, None, None)
                    .await?;
                render_assessment(&assessment)
            }
        };
        Ok(html(StatusCode::OK, fragment))
    }

    async fn submit_request(&self, caller: &Caller, form: &Fields) -> Handled {
        let request = new_elevation(form, self.clock.now())?;
        let outcome = self
            .app
            .request_elevation(&caller.identity, request)
            .await?;
        tracing::info!(subject = %caller.identity.subject, elevation = %outcome.elevation.id, "console: elevation requested");
        Ok(see_other(&format!(
            "/console/elevations?notice={}#e-{}",
            encode(&format!(
                "Requested: elevation {} is {}",
                outcome.elevation.id, outcome.elevation.state
            )),
            outcome.elevation.id
        )))
    }

    // ----- my elevations ---------------------------------------------------------------

    async fn elevations_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let now = self.clock.now();
        let page = self
            .app
            .list_elevations(
                identity,
                Some(identity.subject.clone()),
                None,
                None,
                100,
                "",
            )
            .await?;
        let grants: HashMap<GrantId, Grant> = self
            .app
            .list_grants(identity, None, true)
            .await?
            .into_iter()
            .map(|grant| (grant.id, grant))
            .collect();
        let mut body = notice(query.get("notice"));
        if page.items.is_empty() {
            body.push_str("<p id=\"no-elevations\">You have asked for nothing yet. <a href=\"/console/request\">Request a role</a>.</p>");
        }
        body.push_str("<table id=\"elevations\"><thead><tr><th>role and scope</th><th>state</th><th>timeline</th><th></th></tr></thead><tbody>");
        for elevation in &page.items {
            let grant = elevation.grant_id.and_then(|id| grants.get(&id));
            let _ = write!(
                body,
                "<tr id=\"e-{id}\" data-id=\"{id}\"><td><code>{role}</code> on <code>{scope}</code><br><span class=\"muted\">for {duration} · {id}</span></td>\
                 <td>{state}<div class=\"muted\">{state_reason}</div></td><td>{timeline}</td><td>{actions}</td></tr>",
                id = elevation.id,
                role = esc(&elevation.role),
                scope = esc(&elevation.scope),
                duration = esc(format_duration(elevation.duration)),
                state = state_badge(elevation.state),
                state_reason = esc(&elevation.state_reason),
                timeline = timeline(elevation, grant, now),
                actions = self.elevation_actions(caller, elevation),
            );
        }
        body.push_str("</tbody></table>");
        Ok(self.page(caller, "My elevations", "/console/elevations", &body))
    }

    fn elevation_actions(&self, caller: &Caller, elevation: &Elevation) -> String {
        let id = elevation.id;
        match elevation.state {
            ElevationState::Pending | ElevationState::Scheduled => format!(
                "<form method=\"post\" action=\"/console/elevations/{id}/cancel\">{}\
                 <input type=\"text\" name=\"reason\" placeholder=\"why (optional)\" class=\"small\">\
                 <button class=\"secondary\" id=\"cancel-{id}\">Cancel</button></form>",
                csrf_field(&caller.csrf)
            ),
            ElevationState::Active
                if elevation.extends_grant.is_none() && elevation.delegation.is_none() =>
            {
                format!(
                    "<form method=\"post\" action=\"/console/elevations/{id}/extend\">{}\
                 <input type=\"text\" name=\"by\" placeholder=\"30m\" class=\"small\" aria-label=\"extend by\">\
                 <input type=\"text\" name=\"reason\" placeholder=\"why\" class=\"small\" aria-label=\"reason\">\
                 <button class=\"secondary\" id=\"extend-{id}\">Ask to extend</button></form>",
                    csrf_field(&caller.csrf)
                )
            }
            _ => String::new(),
        }
    }

    async fn cancel(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let reason = form
            .optional("reason")
            .unwrap_or("cancelled in the console");
        let outcome = self
            .app
            .cancel_elevation(&caller.identity, id, reason)
            .await?;
        Ok(see_other(&format!(
            "/console/elevations?notice={}",
            encode(&format!("Elevation {} is {}", id, outcome.elevation.state))
        )))
    }

    async fn extend(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let by = required(form, "by", RequestedDuration::parse)?;
        let outcome = self
            .app
            .extend_elevation(
                &caller.identity,
                id,
                by,
                form.get("reason").to_owned(),
                None,
            )
            .await?;
        Ok(see_other(&format!(
            "/console/elevations?notice={}",
            encode(&format!(
                "Extension requested: elevation {} is {}",
                outcome.elevation.id, outcome.elevation.state
            ))
        )))
    }

    // ----- approvals inbox -------------------------------------------------------------

    async fn inbox_rows(&self, caller: &Caller) -> Result<String, ServiceError> {
        let page = self
            .app
            .list_pending_approvals(&caller.identity, 100, "")
            .await?;
        if page.items.is_empty() {
            return Ok("<tr id=\"inbox-empty\"><td colspan=\"7\" class=\"muted\">Nothing waits for you.</td></tr>".into());
        }
        let mut rows = String::new();
        for elevation in &page.items {
            let risk = match self.app.requester_risk(elevation).await {
                Ok(picture) => {
                    if picture.score == 0 && picture.flags.is_empty() {
                        "none reported".to_owned()
                    } else {
                        format!("{} {}", picture.score, esc(picture.flags.join(", ")))
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "console: cannot read risk for the inbox");
                    "unknown".to_owned()
                }
            };
            let step = elevation
                .current_step()
                .map(|index| {
                    format!(
                        "{} ({}/{})",
                        esc(&elevation.steps[index].name),
                        elevation.approvals_at(index),
                        elevation.steps[index].quorum
                    )
                })
                .unwrap_or_default();
            let kind = if elevation.delegation.is_some() {
                " (delegation)"
            } else if elevation.extends_grant.is_some() {
                " (extension)"
            } else {
                ""
            };
            let _ = write!(
                rows,
                "<tr data-id=\"{id}\" id=\"pending-{id}\"><td><b>{requester}</b>{session}<br><span class=\"muted\">{asked}</span></td>\
                 <td><code>{role}</code>{kind} on <code>{scope}</code></td><td>{duration}</td>\
                 <td>{reason}{ticket}</td><td>{risk}</td><td>{step}<br><span class=\"muted\">answer by {expires}</span></td>\
                 <td><form method=\"post\" action=\"/console/approvals/{id}/approve\">{csrf}\
                 <input type=\"text\" name=\"comment\" placeholder=\"comment\" class=\"small\" aria-label=\"comment\">\
                 <button id=\"approve-{id}\">Approve</button>\
                 <button class=\"danger\" id=\"deny-{id}\" formaction=\"/console/approvals/{id}/deny\">Deny</button></form></td></tr>",
                id = elevation.id,
                requester = esc(&elevation.requester),
                session = elevation
                    .session
                    .as_ref()
                    .map(|session| format!(
                        " <span class=\"muted\">session {}</span>",
                        esc(session)
                    ))
                    .unwrap_or_default(),
                asked = when(elevation.created_at),
                role = esc(&elevation.role),
                scope = esc(&elevation.scope),
                duration = esc(format_duration(elevation.duration)),
                reason = esc(&elevation.reason),
                ticket = elevation
                    .ticket
                    .as_ref()
                    .map(|ticket| format!(
                        "<br><span class=\"muted\">ticket {}</span>",
                        esc(ticket)
                    ))
                    .unwrap_or_default(),
                expires = when(elevation.request_expires_at),
                csrf = csrf_field(&caller.csrf),
            );
        }
        Ok(rows)
    }

    async fn approvals_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let rows = self.inbox_rows(caller).await?;
        let body = format!(
            "{}<p class=\"muted\">Elevations whose current step you may decide. This list refreshes by itself <span id=\"inbox-updated\"></span>.</p>\
             <table><thead><tr><th>requester</th><th>asks for</th><th>for</th><th>reason</th><th>risk</th><th>step</th><th>decide</th></tr></thead>\
             <tbody id=\"inbox\" data-poll=\"/console/approvals/rows\">{rows}</tbody></table>",
            notice(query.get("notice"))
        );
        Ok(self.page(caller, "Approvals inbox", "/console/approvals", &body))
    }

    async fn approval_rows_fragment(&self, caller: &Caller) -> Handled {
        Ok(html(StatusCode::OK, self.inbox_rows(caller).await?))
    }

    async fn decide(&self, caller: &Caller, id: &str, verdict: Verdict, form: &Fields) -> Handled {
        let id = field("id", ElevationId::parse(id))?;
        let outcome = self
            .app
            .decide(&caller.identity, id, verdict, form.get("comment"), None)
            .await?;
        tracing::info!(approver = %caller.identity.subject, elevation = %id, verdict = verdict.as_str(), "console: verdict recorded");
        Ok(see_other(&format!(
            "/console/approvals?notice={}",
            encode(&format!(
                "{} {}: elevation of {} is now {}",
                match verdict {
                    Verdict::Approve => "Approved",
                    Verdict::Deny => "Denied",
                },
                id,
                outcome.elevation.requester,
                outcome.elevation.state
            ))
        )))
    }

    // ----- grants ----------------------------------------------------------------------

    async fn grants_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let now = self.clock.now();
        let grants = self.app.list_grants(&caller.identity, None, false).await?;
        let mut body = notice(query.get("notice"));
        if grants.is_empty() {
            body.push_str("<p id=\"no-grants\">You hold no active grant.</p>");
        }
        body.push_str("<table id=\"grants\"><thead><tr><th>grant</th><th>window</th><th>give up</th><th>delegate</th></tr></thead><tbody>");
        for grant in &grants {
            let id = grant.id;
            let held = format!(
                "scope within <code>{}</code>; ends by {}",
                esc(&grant.scope),
                when(grant.not_after)
            );
            let limits = match self.app.delegation_limits(&grant.role, &grant.scope) {
                Ok(entry) => format!(
                    "{held}{}; depth {} of {}",
                    entry
                        .max_duration
                        .map(|max| format!(", at most {}", esc(format_duration(max))))
                        .unwrap_or_default(),
                    grant.delegation_trail.len() + 1,
                    entry.max_depth
                ),
                Err(NotDelegable::Scope { allowed }) => format!(
                    "{held}; policy lets it be delegated on {}",
                    allowed
                        .iter()
                        .map(|pattern| format!("<code>{}</code>", esc(pattern)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(NotDelegable::Role) => String::new(),
            };
            let delegate = if grant.awaiting_acceptance {
                "<span class=\"muted\">accept it before delegating it further</span>".to_owned()
            } else if limits.is_empty() {
                "<span class=\"muted\">policy does not let this role be delegated here</span>"
                    .to_owned()
            } else {
                format!(
                    "<form method=\"post\" action=\"/console/grants/{id}/delegate\" class=\"delegate\">{csrf}\
                     <p class=\"muted limits\">{limits}</p>\
                     <input type=\"text\" name=\"delegatee\" placeholder=\"to whom\" class=\"small\" aria-label=\"delegatee\">\
                     <input type=\"text\" name=\"scope\" value=\"{scope}\" class=\"small\" aria-label=\"scope\">\
                     <input type=\"text\" name=\"duration\" value=\"30m\" class=\"small\" aria-label=\"duration\">\
                     <input type=\"text\" name=\"reason\" placeholder=\"why\" class=\"small\" aria-label=\"reason\">\
                     <button class=\"secondary\" id=\"delegate-{id}\">Delegate</button></form>",
                    csrf = csrf_field(&caller.csrf),
                    scope = esc(&grant.scope),
                )
            };
            let _ = write!(
                body,
                "<tr id=\"g-{id}\" data-id=\"{id}\"><td><code>{role}</code> on <code>{scope}</code>{session}<br>\
                 <a class=\"muted mono\" href=\"/console/audit?grant={id}\">{id}</a>{trail}</td>\
                 <td>{from} to {until}<br>{countdown}</td>\
                 <td><form method=\"post\" action=\"/console/grants/{id}/revoke\" class=\"give-up\">{csrf}\
                 <input type=\"text\" name=\"reason\" value=\"done\" class=\"small\" aria-label=\"reason\">\
                 <button class=\"danger\" id=\"revoke-{id}\">Give up</button></form></td><td>{delegate}</td></tr>",
                role = esc(&grant.role),
                scope = esc(&grant.scope),
                session = session_cell(grant, &caller.csrf),
                trail = trail_text(grant),
                from = when(grant.not_before),
                until = when(grant.not_after),
                countdown = countdown(grant.not_after, now),
                csrf = csrf_field(&caller.csrf),
            );
        }
        body.push_str("</tbody></table>");
        Ok(self.page(caller, "Grants", "/console/grants", &body))
    }

    async fn accept(&self, caller: &Caller, id: &str) -> Handled {
        let id = field("id", GrantId::parse(id))?;
        let (grant, _) = self.app.accept_delegation(&caller.identity, id).await?;
        tracing::info!(subject = %caller.identity.subject, grant = %id, "console: delegation accepted");
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Accepted {} on {} in this session ({})",
                grant.role, grant.scope, grant.id
            ))
        )))
    }

    async fn revoke(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let id = field("id", GrantId::parse(id))?;
        let (grant, _) = self
            .app
            .revoke_grant(&caller.identity, id, form.get("reason"))
            .await?;
        tracing::info!(subject = %caller.identity.subject, grant = %id, "console: grant revoked");
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Revoked {} on {} ({})",
                grant.role, grant.scope, grant.id
            ))
        )))
    }

    async fn delegate(&self, caller: &Caller, id: &str, form: &Fields) -> Handled {
        let source = field("id", GrantId::parse(id))?;
        let grants = self.app.list_grants(&caller.identity, None, false).await?;
        let role = grants
            .iter()
            .find(|grant| grant.id == source)
            .map(|grant| grant.role.clone())
            .ok_or_else(|| ServiceError::NotFound {
                what: "grant",
                id: source.to_string(),
            })?;
        let delegation = NewDelegation {
            delegatee: required(form, "delegatee", Subject::parse)?,
            role,
            scope: required(form, "scope", Scope::parse)?,
            duration: required(form, "duration", RequestedDuration::parse)?,
            reason: form.get("reason").to_owned(),
            source_grant: Some(source),
            idempotency_key: None,
        };
        let outcome = self.app.delegate(&caller.identity, delegation).await?;
        Ok(see_other(&format!(
            "/console/grants?notice={}",
            encode(&format!(
                "Delegated to {}: {}",
                outcome
                    .elevation
                    .delegation
                    .as_ref()
                    .map(|terms| terms.delegatee.to_string())
                    .unwrap_or_default(),
                outcome.elevation.state
            ))
        )))
    }

    // ----- audit -----------------------------------------------------------------------

    async fn audit_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let identity = &caller.identity;
        let now = self.clock.now();
        let roles = self.app.roles();
        let auditor = identity.has_role(&roles.auditor) || identity.has_role(&roles.admin);
        let mut body = format!(
            "<form method=\"get\" action=\"/console/audit\" class=\"card\" id=\"audit-search\"><div class=\"grid\">\
             <div><label for=\"subject\">Subject</label><input type=\"text\" id=\"subject\" name=\"subject\" value=\"{}\"></div>\
             <div><label for=\"actor\">Actor</label><input type=\"text\" id=\"actor\" name=\"actor\" value=\"{}\"></div>\
             <div><label for=\"action\">Action</label><select id=\"action\" name=\"action\"><option value=\"\">any</option>{}</select></div>\
             <div><label for=\"from\">From (a time, or 2h ago)</label><input type=\"text\" id=\"from\" name=\"from\" value=\"{}\"></div>\
             <div><label for=\"to\">To</label><input type=\"text\" id=\"to\" name=\"to\" value=\"{}\"></div>\
             <div><label for=\"grant\">Grant (its whole trail)</label><input type=\"text\" id=\"grant\" name=\"grant\" value=\"{}\"></div>\
             </div><button id=\"search\">Search</button></form>",
            esc(query.get("subject")),
            esc(query.get("actor")),
            AuditAction::ALL
                .iter()
                .map(|action| format!(
                    "<option{}>{}</option>",
                    if query.get("action") == action.as_str() {
                        " selected"
                    } else {
                        ""
                    },
                    action.as_str()
                ))
                .collect::<String>(),
            esc(query.get("from")),
            esc(query.get("to")),
            esc(query.get("grant")),
        );
        if let Some(grant) = optional(query, "grant", GrantId::parse)? {
            let trail = self.app.grant_trail(identity, grant).await?;
            body.push_str(
                "<h2>Trail of the grant</h2><ol id=\"delegation-chain\" class=\"timeline\">",
            );
            for link in &trail.grants {
                let ended = match (&link.revocation, link.status(now)) {
                    (Some(revocation), _) => format!(
                        "revoked by {} at {}: {}",
                        esc(&revocation.by),
                        when(revocation.at),
                        esc(&revocation.reason)
                    ),
                    (None, status) => format!("{status:?}").to_lowercase(),
                };
                let _ = write!(
                    body,
                    "<li><b>{}</b> held <code>{}</code> on <code>{}</code>, {} to {} <span class=\"muted mono\">{}</span> — {}{}</li>",
                    esc(&link.subject),
                    esc(&link.role),
                    esc(&link.scope),
                    when(link.not_before),
                    when(link.not_after),
                    link.id,
                    ended,
                    trail_text(link)
                );
            }
            body.push_str("</ol>");
            body.push_str(&events_table("trail", &trail.events));
        } else {
            let search = AuditQuery {
                subject: optional(query, "subject", Subject::parse)?,
                actor: query.optional("actor").map(str::to_owned),
                action: match query.optional("action") {
                    None => None,
                    Some(text) => Some(AuditAction::parse(text).ok_or_else(|| {
                        ServiceError::invalid("action", format!("{text:?} is not an audit action"))
                    })?),
                },
                elevation: None,
                grant: None,
                from: since(query, "from", now)?,
                to: since(query, "to", now)?,
            };
            let page = self
                .app
                .list_audit_events(identity, search, 200, "")
                .await?;
            if !auditor {
                body.push_str(
                    "<p class=\"muted\">You see the events by or about you; auditors see all.</p>",
                );
            }
            body.push_str(&events_table("events", &page.items));
        }
        body.push_str("<h2>Chain verification</h2>");
        if auditor {
            let verification = self.app.verify_audit_chain(identity, None).await?;
            let head = self.app.signed_audit_head(identity).await?;
            let _ = write!(
                body,
                "<section class=\"card\" id=\"chain\"><p id=\"chain-status\" class=\"{}\">{}</p>\
                 <p>verified through event {} ({} events checked), hash <code>{}</code></p>\
                 <p>signed head: event {} at revision {}, signed {} <br>hash <code>{}</code><br>key <code>{}</code><br>signature <code id=\"head-signature\">{}</code></p></section>",
                if verification.intact {
                    "allowed"
                } else {
                    "denied"
                },
                if verification.intact {
                    "intact".to_owned()
                } else {
                    format!(
                        "BROKEN at event {}: {}",
                        verification.broken_seq.unwrap_or_default(),
                        esc(&verification.problem)
                    )
                },
                verification.verified_seq,
                verification.events_checked,
                hex(&verification.verified_hash),
                head.seq,
                head.revision,
                when(head.signed_at),
                hex(&head.hash),
                hex(&head.public_key),
                hex(&head.signature),
            );
        } else {
            let _ = write!(
                body,
                "<p class=\"muted\" id=\"chain-status\">Verifying the chain needs the {} role.</p>",
                esc(&roles.auditor)
            );
        }
        Ok(self.page(caller, "Audit", "/console/audit", &body))
    }

    // ----- simulator -------------------------------------------------------------------

    async fn simulator_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let now = self.clock.now();
        let value = |name: &str| esc(query.get(name));
        let mut body = format!(
            "<p class=\"muted\">Ask what would happen, changing nothing. Simulating someone else's request, or a Check, needs the admin or PEP role, as over gRPC.</p>\
             <form method=\"get\" action=\"/console/simulator\" class=\"card\" id=\"simulate-request\"><input type=\"hidden\" name=\"kind\" value=\"request\">\
             <h2>A request</h2><div class=\"grid\">\
             <div><label>Subject (empty: you)</label><input type=\"text\" name=\"subject\" value=\"{subject}\"></div>\
             <div><label>Groups</label><input type=\"text\" name=\"groups\" value=\"{groups}\"></div>\
             <div><label>Manager</label><input type=\"text\" name=\"manager\" value=\"{manager}\"></div>\
             <div><label>Session</label><input type=\"text\" name=\"session\" value=\"{session}\"></div>\
             <div><label>Role</label><input type=\"text\" name=\"role\" value=\"{role}\"></div>\
             <div><label>Scope</label><input type=\"text\" name=\"scope\" value=\"{scope}\"></div>\
             <div><label>Duration</label><input type=\"text\" name=\"duration\" value=\"{duration}\"></div>\
             <div><label>Reason</label><input type=\"text\" name=\"reason\" value=\"{reason}\"></div>\
             <div><label>At (a time, or a duration from now)</label><input type=\"text\" name=\"at\" value=\"{at}\"></div>\
             <div><label>Risk score</label><input type=\"text\" name=\"risk_score\" value=\"{risk_score}\"></div>\
             <div><label>Risk flags</label><input type=\"text\" name=\"risk_flags\" value=\"{risk_flags}\"></div>\
             </div><button>Simulate the request</button></form>\
             <form method=\"get\" action=\"/console/simulator\" class=\"card\" id=\"simulate-check\"><input type=\"hidden\" name=\"kind\" value=\"check\">\
             <h2>A Check</h2><div class=\"grid\">\
             <div><label>Subject</label><input type=\"text\" name=\"subject\" value=\"{subject}\"></div>\
             <div><label>Session</label><input type=\"text\" name=\"session\" value=\"{session}\"></div>\
             <div><label>Permission</label><input type=\"text\" name=\"permission\" value=\"{permission}\"></div>\
             <div><label>Resource</label><input type=\"text\" name=\"resource\" value=\"{resource}\"></div>\
             <div><label>At</label><input type=\"text\" name=\"at\" value=\"{at}\"></div>\
             <div><label>Risk score</label><input type=\"text\" name=\"risk_score\" value=\"{risk_score}\"></div>\
             <div><label>Risk flags</label><input type=\"text\" name=\"risk_flags\" value=\"{risk_flags}\"></div>\
             </div><button>Simulate the Check</button></form>",
            subject = value("subject"),
            groups = value("groups"),
            manager = value("manager"),
            session = value("session"),
            role = value("role"),
            scope = value("scope"),
            duration = value("duration"),
            reason = value("reason"),
            at = value("at"),
            risk_score = value("risk_score"),
            risk_flags = value("risk_flags"),
            permission = value("permission"),
            resource = value("resource"),
        );
        let at = moment(query, "at", now)?;
        let risk = risk(query)?;
        match query.get("kind") {
            "request" => {
                let requester = match optional(query, "subject", Subject::parse)? {
                    None => None,
                    Some(subject) => Some(SimulatedRequester {
                        subject,
                        groups: query
                            .get("groups")
                            .split([',', ' '])
                            .filter(|group| !group.is_empty())
                            .map(|group| field("groups", GroupName::parse(group)))
                            .collect::<Result<_, _>>()?,
                        manager: optional(query, "manager", Subject::parse)?,
                        session: optional(query, "session", SessionId::parse)?,
                    }),
                };
                let request = new_elevation(query, now)?;
                let assessment = self
                    .app
                    .simulate_elevation(&caller.identity, requester, request, at, risk)
                    .await?;
                body.push_str("<h2>Result</h2><section class=\"card\" id=\"simulation\">");
                body.push_str(&render_assessment(&assessment));
                body.push_str("</section>");
            }
            "check" => {
                let subject = required(query, "subject", Subject::parse)?;
                let session = optional(query, "session", SessionId::parse)?;
                let permission = required(query, "permission", crate::domain::Permission::parse)?;
                let resource = required(query, "resource", Scope::parse)?;
                let check = CheckQuery {
                    subject: subject.as_str(),
                    session: session.as_ref().map(SessionId::as_str),
                    permission: permission.as_str(),
                    resource: resource.as_str(),
                    token: None,
                    min_revision: 0,
                };
                let simulation = self
                    .app
                    .simulate_check(&caller.identity, &check, at, risk)
                    .await?;
                let decision = &simulation.decision;
                let _ = write!(
                    body,
                    "<h2>Result</h2><section class=\"card\" id=\"simulation\"><p><span class=\"{}\">{}</span> reason <code id=\"decision-reason\">{}</code>{}</p>\
                     <table><thead><tr><th>grant</th><th>carries the permission</th><th>verdict</th><th>rules</th></tr></thead><tbody>",
                    if decision.allowed {
                        "allowed"
                    } else {
                        "denied"
                    },
                    if decision.allowed {
                        "ALLOWED"
                    } else {
                        "DENIED"
                    },
                    esc(decision.reason.as_str()),
                    decision
                        .rule
                        .as_ref()
                        .map(|rule| format!(" by <code>{}</code>", esc(rule)))
                        .unwrap_or_default()
                );
                for trace in &simulation.grants {
                    let rules: Vec<String> = trace
                        .rules
                        .iter()
                        .map(|outcome| {
                            format!(
                                "<code>{}</code>: {}",
                                esc(&outcome.rule),
                                match (&outcome.held, &outcome.error) {
                                    (_, Some(error)) => format!("error {}", esc(error)),
                                    (Some(true), _) => "held".into(),
                                    _ => "did not hold".into(),
                                }
                            )
                        })
                        .collect();
                    let _ = write!(
                        body,
                        "<tr><td><code>{}</code> on <code>{}</code><br><span class=\"muted mono\">{}</span></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        esc(&trace.grant.role),
                        esc(&trace.grant.scope),
                        trace.grant.id,
                        if trace.carries_permission {
                            "yes"
                        } else {
                            "no"
                        },
                        esc(trace.reason.as_str()),
                        rules.join("<br>")
                    );
                }
                if simulation.grants.is_empty() {
                    body.push_str("<tr><td colspan=\"4\" class=\"muted\">the subject holds no grant</td></tr>");
                }
                body.push_str("</tbody></table></section>");
            }
            _ => {}
        }
        Ok(self.page(caller, "Simulator", "/console/simulator", &body))
    }

    // ----- policy ----------------------------------------------------------------------

    async fn policy_page(&self, caller: &Caller, query: &Fields) -> Handled {
        let (policy, stored) = self.app.get_policy().await?;
        let origin = stored
            .map(|stored| {
                format!(
                    ", put by {} at {}",
                    esc(&stored.created_by),
                    when(stored.created_at)
                )
            })
            .unwrap_or_default();
        let body = format!(
            "{}<p id=\"policy-version\">Version <b>{}</b> in force{origin}.</p>{}",
            notice(query.get("notice")),
            policy.version(),
            self.policy_form(caller, policy.source(), policy.version(), None)
        );
        Ok(self.page(caller, "Policy", "/console/policy", &body))
    }

    fn policy_form(
        &self,
        caller: &Caller,
        source: &str,
        version: u64,
        problems: Option<&PolicyProblems>,
    ) -> String {
        let admin = caller.identity.has_role(&self.app.roles().admin);
        let verdict = match problems {
            None => String::new(),
            Some(problems) if problems.0.is_empty() => {
                "<p class=\"notice\" id=\"policy-valid\">The document is valid.</p>".to_owned()
            }
            Some(problems) => annotated_source(source, problems),
        };
        format!(
            "{verdict}<form method=\"post\" action=\"/console/policy/validate\" class=\"card\">{csrf}\
             <input type=\"hidden\" name=\"expected_version\" value=\"{version}\">\
             <label for=\"source\">Policy document (YAML)</label>\
             <textarea id=\"source\" name=\"source\" rows=\"28\" spellcheck=\"false\">{source}</textarea>\
             <button id=\"validate\">Validate</button>{put}</form>",
            csrf = csrf_field(&caller.csrf),
            source = esc(source),
            put = if admin {
                "<button class=\"danger\" id=\"put-policy\" formaction=\"/console/policy/put\">Put in force</button>"
            } else {
                "<span class=\"muted\"> Putting a policy in force needs the admin role.</span>"
            },
        )
    }

    async fn validate_policy(&self, caller: &Caller, form: &Fields) -> Handled {
        let source = form.raw("source").replace("\r\n", "\n");
        let version = form.get("expected_version").parse().unwrap_or(0);
        let problems = match self.app.validate_policy(&source) {
            Ok(()) => PolicyProblems(Vec::new()),
            Err(problems) => problems,
        };
        let status = if problems.0.is_empty() {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        let body = self.policy_form(caller, &source, version, Some(&problems));
        Ok(html(
            status,
            document("Policy", "/console/policy", Some(&caller.viewer()), &body),
        ))
    }

    async fn put_policy(&self, caller: &Caller, form: &Fields) -> Handled {
        let source = form.raw("source").replace("\r\n", "\n");
        let expected = form.get("expected_version").parse::<u64>().ok();
        match self
            .app
            .put_policy(&caller.identity, &source, expected)
            .await
        {
            Ok((version, _)) => Ok(see_other(&format!(
                "/console/policy?notice={}",
                encode(&format!("Version {version} is in force"))
            ))),
            Err(ServiceError::InvalidPolicy(problems)) => {
                let body =
                    self.policy_form(caller, &source, expected.unwrap_or(0), Some(&problems));
                Ok(html(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    document("Policy", "/console/policy", Some(&caller.viewer()), &body),
                ))
            }
            Err(other) => Err(other),
        }
    }
}

fn timeline(elevation: &Elevation, grant: Option<&Grant>, now: DateTime<Utc>) -> String {
    let mut items = vec![format!(
        "requested {}: {}{}",
        when(elevation.created_at),
        esc(&elevation.reason),
        elevation
            .ticket
            .as_ref()
            .map(|ticket| format!(" (ticket {})", esc(ticket)))
            .unwrap_or_default()
    )];
    for vote in &elevation.votes {
        let step = elevation
            .steps
            .get(vote.step as usize)
            .map(|step| step.name.as_str())
            .unwrap_or("?");
        items.push(format!(
            "{} {} step {} {}{}",
            if vote.automatic {
                "policy".to_owned()
            } else {
                esc(&vote.approver)
            },
            match vote.verdict {
                Verdict::Approve => "approved",
                Verdict::Deny => "denied",
            },
            esc(step),
            when(vote.at),
            if vote.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", esc(&vote.comment))
            }
        ));
    }
    if let Some(grant) = grant {
        items.push(format!("active from {}", when(grant.not_before)));
        match &grant.revocation {
            Some(revocation) => items.push(format!(
                "ended {}: revoked by {}: {}",
                when(revocation.at),
                esc(&revocation.by),
                esc(&revocation.reason)
            )),
            None if grant.not_after <= now => {
                items.push(format!("ended {}: expired", when(grant.not_after)))
            }
            None => items.push(format!(
                "expires {} ({})",
                when(grant.not_after),
                countdown(grant.not_after, now)
            )),
        }
    } else if elevation.state.is_final() {
        items.push(format!(
            "ended {}: {}",
            when(elevation.updated_at),
            esc(elevation.state.as_str().to_lowercase())
        ));
    } else if elevation.state == ElevationState::Pending {
        items.push(format!(
            "waiting for approval until {}",
            when(elevation.request_expires_at)
        ));
    }
    let items: String = items
        .into_iter()
        .map(|item| format!("<li>{item}</li>"))
        .collect();
    format!("<ol class=\"timeline\">{items}</ol>")
}

fn render_assessment(assessment: &RequestAssessment) -> String {
    let mut out = match &assessment.refusal {
        None => "<p><span class=\"allowed\" id=\"preview-verdict\">ELIGIBLE</span> the request would be accepted</p>".to_owned(),
        Some(refusal) => format!(
            "<p><span class=\"denied\" id=\"preview-verdict\">REFUSED</span> <code>{}</code>: {}</p>",
            esc(refusal.code()),
            esc(refusal.to_string())
        ),
    };
    if !assessment.steps.is_empty() {
        out.push_str("<p>Approval steps:</p><ol>");
        for step in &assessment.steps {
            let _ = write!(
                out,
                "<li>{}</li>",
                approvers_text(step, assessment.manager.as_ref())
            );
        }
        out.push_str("</ol>");
    } else if assessment.refusal.is_none() {
        out.push_str("<p>No approval needed.</p>");
    }
    if assessment.refusal.is_none() {
        let _ = write!(
            out,
            "<p class=\"muted\">If approved now: active {} to {}{}; approvals must come by {}.</p>",
            when(assessment.not_before),
            when(assessment.not_after),
            assessment
                .session
                .as_ref()
                .map(|session| format!(", bound to session {}", esc(session)))
                .unwrap_or_default(),
            when(assessment.request_expires_at)
        );
    }
    if !assessment.rules.is_empty() {
        out.push_str("<p>Rules:</p><ul>");
        for rule in &assessment.rules {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                esc(&rule.rule),
                match (&rule.held, &rule.error) {
                    (_, Some(error)) => format!("error {}", esc(error)),
                    (Some(true), _) => "held".into(),
                    _ => "did not hold".into(),
                }
            );
        }
        out.push_str("</ul>");
    }
    if let Some(conflict) = &assessment.separation {
        let _ = write!(out, "<p class=\"error\">{}</p>", esc(conflict));
    }
    out
}

fn events_table(id: &str, events: &[StoredAuditEvent]) -> String {
    let mut out = format!(
        "<table id=\"{id}\"><thead><tr><th>#</th><th>when</th><th>actor</th><th>action</th><th>subject</th><th>role and scope</th><th>reason</th><th>hash</th></tr></thead><tbody>"
    );
    if events.is_empty() {
        out.push_str("<tr><td colspan=\"8\" class=\"muted\">no events</td></tr>");
    }
    for stored in events {
        let event = &stored.event;
        let _ = write!(
            out,
            "<tr data-action=\"{action}\"><td>{seq}</td><td>{at}</td><td>{actor}</td><td><code>{action}</code></td><td>{subject}</td><td>{role}{scope}</td><td>{reason}</td><td class=\"mono\">{hash}…</td></tr>",
            seq = stored.seq,
            at = when(event.at),
            actor = esc(&event.actor),
            action = event.action.as_str(),
            subject = event.subject.as_ref().map(esc).unwrap_or_default(),
            role = event
                .role
                .as_ref()
                .map(|role| format!("<code>{}</code>", esc(role)))
                .unwrap_or_default(),
            scope = event
                .scope
                .as_ref()
                .map(|scope| format!(" on <code>{}</code>", esc(scope)))
                .unwrap_or_default(),
            reason = esc(&event.reason),
            hash = &hex(&stored.hash)[..16],
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The document with every problem shown under its line (those without a line first).
fn annotated_source(source: &str, problems: &PolicyProblems) -> String {
    let mut out = format!(
        "<section class=\"card\" id=\"policy-problems\"><p class=\"error\">{} problem{} found; nothing was changed.</p><ul>",
        problems.0.len(),
        if problems.0.len() == 1 { "" } else { "s" }
    );
    for problem in &problems.0 {
        let place = if problem.line > 0 {
            format!(" (line {}, column {})", problem.line, problem.column)
        } else {
            String::new()
        };
        let _ = write!(
            out,
            "<li class=\"problem\"><code>{}</code>{}: {}</li>",
            esc(&problem.path),
            place,
            esc(&problem.message)
        );
    }
    out.push_str("</ul><pre>");
    for (index, line) in source.lines().enumerate() {
        let number = index as u32 + 1;
        let _ = writeln!(
            out,
            "<span class=\"source-line\">{number:>4} {}</span>",
            esc(line)
        );
        for problem in problems.0.iter().filter(|problem| problem.line == number) {
            // A block of its own: no newline after it, or the listing gains a blank line.
            let _ = write!(
                out,
                "<span class=\"problem\">     {}^ {}: {}</span>",
                " ".repeat(problem.column.saturating_sub(1) as usize),
                esc(&problem.path),
                esc(&problem.message)
            );
        }
    }
    out.push_str("</pre></section>");
    out
}
