//! The "my elevations" page's HTML: each elevation with its state, its timeline (votes, the
//! grant's window, how it ended) and what the requester may still do with it.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::common::{csrf_field, esc, notice, table_head, when};
use super::fragments::countdown;
use crate::domain::{
    Elevation, ElevationId, ElevationState, Grant, GrantId, Verdict, format_duration,
};
use crate::service::ProfileOrigin;

/// The page body: `elevations`, each beside the grant it produced (found in `grants`) and,
/// when it came through the Access Request profile, how (found in `origins`).
pub(crate) fn page(
    elevations: &[Elevation],
    grants: &HashMap<GrantId, Grant>,
    origins: &HashMap<ElevationId, ProfileOrigin>,
    csrf: &str,
    now: DateTime<Utc>,
    notice_text: &str,
) -> String {
    let mut body = notice(notice_text);
    if elevations.is_empty() {
        body.push_str("<p id=\"no-elevations\">You have asked for nothing yet. <a href=\"/console/request\">Request a role</a>.</p>");
    }
    body.push_str(&table_head(
        " id=\"elevations\"",
        &["role and scope", "state", "timeline", ""],
    ));
    body.push_str("<tbody>");
    for elevation in elevations {
        let grant = elevation.grant_id.and_then(|id| grants.get(&id));
        let _ = write!(
            body,
            "<tr id=\"e-{id}\" data-id=\"{id}\"><td><code>{role}</code> on <code>{scope}</code><br><span class=\"muted\">for {duration} · {id}</span>{via}</td>\
             <td>{state}<div class=\"muted\">{state_reason}</div></td><td>{timeline}</td><td>{actions}</td></tr>",
            id = elevation.id,
            role = esc(&elevation.role),
            scope = esc(&elevation.scope),
            duration = esc(format_duration(elevation.duration)),
            via = origins
                .get(&elevation.id)
                .map(|origin| super::profile_origin::line(elevation.id, origin))
                .unwrap_or_default(),
            state = state_badge(elevation.state()),
            state_reason = esc(elevation.state_reason()),
            timeline = timeline(elevation, grant, now),
            actions = actions(elevation, csrf),
        );
    }
    body.push_str("</tbody></table>");
    body
}

fn state_badge(state: ElevationState) -> String {
    format!("<span class=\"state state-{0}\">{0}</span>", state.as_str())
}

/// What the requester may do: cancel what has not started, ask to extend a plain active grant.
fn actions(elevation: &Elevation, csrf: &str) -> String {
    let id = elevation.id;
    match elevation.state() {
        ElevationState::Pending | ElevationState::Scheduled => format!(
            "<form method=\"post\" action=\"/console/elevations/{id}/cancel\">{}\
             <input type=\"text\" name=\"reason\" placeholder=\"why (optional)\" class=\"small\">\
             <button class=\"secondary\" id=\"cancel-{id}\">Cancel</button></form>",
            csrf_field(csrf)
        ),
        ElevationState::Active
            if elevation.extends_grant.is_none() && elevation.delegation.is_none() =>
        {
            format!(
                "<form method=\"post\" action=\"/console/elevations/{id}/extend\">{}\
                 <input type=\"text\" name=\"by\" placeholder=\"30m\" class=\"small\" aria-label=\"extend by\">\
                 <input type=\"text\" name=\"reason\" placeholder=\"why\" class=\"small\" aria-label=\"reason\">\
                 <button class=\"secondary\" id=\"extend-{id}\">Ask to extend</button></form>",
                csrf_field(csrf)
            )
        }
        _ => String::new(),
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
    items.extend(votes(elevation));
    if let Some(grant) = grant {
        items.push(format!("active from {}", when(grant.not_before)));
        items.push(grant_end(grant, now));
    } else if elevation.state().is_final() {
        items.push(format!(
            "ended {}: {}",
            when(elevation.updated_at),
            esc(elevation.state().as_str().to_lowercase())
        ));
    } else if elevation.state() == ElevationState::Pending {
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

/// One line per vote: who (or policy) decided which step, when, and with what comment.
fn votes(elevation: &Elevation) -> impl Iterator<Item = String> + '_ {
    elevation.votes.iter().map(|vote| {
        let step = elevation
            .steps
            .get(vote.step as usize)
            .map(|step| step.name.as_str())
            .unwrap_or("?");
        format!(
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
        )
    })
}

/// How the grant ended, or when it will.
fn grant_end(grant: &Grant, now: DateTime<Utc>) -> String {
    match &grant.revocation {
        Some(revocation) => format!(
            "ended {}: revoked by {}: {}",
            when(revocation.at),
            esc(&revocation.by),
            esc(&revocation.reason)
        ),
        None if grant.not_after <= now => format!("ended {}: expired", when(grant.not_after)),
        None => format!(
            "expires {} ({})",
            when(grant.not_after),
            countdown(grant.not_after, now)
        ),
    }
}
