//! The approvals inbox's HTML: the page, and its rows (also served alone for the script's
//! poll), one per elevation waiting for the caller's decision.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::common::{csrf_field, esc, notice, table_head, when};
use crate::domain::risk::RiskPicture;
use crate::domain::{Elevation, ElevationId, format_duration};
use crate::service::ProfileOrigin;

/// The page body around the rows.
pub(crate) fn page(rows: &str, notice_text: &str) -> String {
    format!(
        "{}<p class=\"muted\">Elevations whose current step you may decide. This list refreshes by itself <span id=\"inbox-updated\"></span>.</p>\
         {}\
         <tbody id=\"inbox\" data-poll=\"/console/approvals/rows\">{rows}</tbody></table>",
        notice(notice_text),
        table_head(
            "",
            &[
                "requester",
                "asks for",
                "for",
                "reason",
                "risk",
                "step",
                "decide"
            ]
        ),
    )
}

/// One row per waiting elevation, beside its requester's risk (`None`: it could not be read)
/// and, for those that came through the Access Request profile, how they came (`origins`).
pub(crate) fn rows(
    pending: &[(Elevation, Option<RiskPicture>)],
    origins: &HashMap<ElevationId, ProfileOrigin>,
    csrf: &str,
) -> String {
    if pending.is_empty() {
        return "<tr id=\"inbox-empty\"><td colspan=\"7\" class=\"muted\">Nothing waits for you.</td></tr>".into();
    }
    let mut rows = String::new();
    for (elevation, risk) in pending {
        let _ = write!(
            rows,
            "<tr data-id=\"{id}\" id=\"pending-{id}\"><td><b>{requester}</b>{session}<br><span class=\"muted\">{asked}</span>{via}</td>\
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
                .map(|session| format!(" <span class=\"muted\">session {}</span>", esc(session)))
                .unwrap_or_default(),
            asked = when(elevation.created_at),
            via = origins
                .get(&elevation.id)
                .map(|origin| super::profile_origin::line(elevation.id, origin))
                .unwrap_or_default(),
            role = esc(&elevation.role),
            kind = kind(elevation),
            scope = esc(&elevation.scope),
            duration = esc(format_duration(elevation.duration)),
            reason = esc(&elevation.reason),
            ticket = elevation
                .ticket
                .as_ref()
                .map(|ticket| format!("<br><span class=\"muted\">ticket {}</span>", esc(ticket)))
                .unwrap_or_default(),
            risk = risk_text(risk.as_ref()),
            step = current_step(elevation),
            expires = when(elevation.request_expires_at),
            csrf = csrf_field(csrf),
        );
    }
    rows
}

fn risk_text(risk: Option<&RiskPicture>) -> String {
    match risk {
        None => "unknown".to_owned(),
        Some(picture) if picture.score == 0 && picture.flags.is_empty() => {
            "none reported".to_owned()
        }
        Some(picture) => format!("{} {}", picture.score, esc(picture.flags.join(", "))),
    }
}

/// The step waiting for a decision, with its approvals so far against its quorum.
fn current_step(elevation: &Elevation) -> String {
    elevation
        .current_step()
        .map(|index| {
            format!(
                "{} ({}/{})",
                esc(&elevation.steps[index].name),
                elevation.approvals_at(index),
                elevation.steps[index].quorum
            )
        })
        .unwrap_or_default()
}

/// What is asked beyond a plain elevation.
fn kind(elevation: &Elevation) -> &'static str {
    if elevation.delegation.is_some() {
        " (delegation)"
    } else if elevation.extends_grant.is_some() {
        " (extension)"
    } else {
        ""
    }
}
