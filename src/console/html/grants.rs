//! The grants page's HTML: each grant the caller holds, with its window and countdown, how it
//! relates to sessions, the form to give it up, and the form to delegate it within the limits
//! policy sets.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::common::{csrf_field, esc, notice, table_head, when};
use super::fragments::{countdown, trail_text};
use crate::domain::{Grant, SessionBinding, format_duration};
use crate::service::{DelegationEntry, NotDelegable};

/// What policy says about delegating a grant further.
pub(crate) type DelegationLimits = Result<DelegationEntry, NotDelegable>;

/// The page body: each grant beside its delegation limits.
pub(crate) fn page(
    grants: &[(Grant, DelegationLimits)],
    csrf: &str,
    now: DateTime<Utc>,
    notice_text: &str,
) -> String {
    let mut body = notice(notice_text);
    if grants.is_empty() {
        body.push_str("<p id=\"no-grants\">You hold no active grant.</p>");
    }
    body.push_str(&table_head(
        " id=\"grants\"",
        &["grant", "window", "give up", "delegate"],
    ));
    body.push_str("<tbody>");
    for (grant, limits) in grants {
        let _ = write!(
            body,
            "<tr id=\"g-{id}\" data-id=\"{id}\"><td><code>{role}</code> on <code>{scope}</code>{session}<br>\
             <a class=\"muted mono\" href=\"/console/audit?grant={id}\">{id}</a>{trail}</td>\
             <td>{from} to {until}<br>{countdown}</td>\
             <td><form method=\"post\" action=\"/console/grants/{id}/revoke\" class=\"give-up\">{csrf}\
             <input type=\"text\" name=\"reason\" value=\"done\" class=\"small\" aria-label=\"reason\">\
             <button class=\"danger\" id=\"revoke-{id}\">Give up</button></form></td><td>{delegate}</td></tr>",
            id = grant.id,
            role = esc(&grant.role),
            scope = esc(&grant.scope),
            session = session_cell(grant, csrf),
            trail = trail_text(grant),
            from = when(grant.not_before),
            until = when(grant.not_after),
            countdown = countdown(grant.not_after, now),
            csrf = csrf_field(csrf),
            delegate = delegate_cell(grant, limits, csrf),
        );
    }
    body.push_str("</tbody></table>");
    body
}

/// How a grant relates to sessions: its session; for a delegation not yet taken up, the
/// button that takes it up in this session; or that policy leaves it unbound.
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

/// The limits policy sets on delegating `grant`; empty when the role may not be delegated.
fn limits_text(grant: &Grant, limits: &DelegationLimits) -> String {
    let held = format!(
        "scope within <code>{}</code>; ends by {}",
        esc(&grant.scope),
        when(grant.not_after)
    );
    match limits {
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
    }
}

/// The delegate form, or why there is none.
fn delegate_cell(grant: &Grant, limits: &DelegationLimits, csrf: &str) -> String {
    let limits = limits_text(grant, limits);
    if grant.awaiting_acceptance {
        "<span class=\"muted\">accept it before delegating it further</span>".to_owned()
    } else if limits.is_empty() {
        "<span class=\"muted\">policy does not let this role be delegated here</span>".to_owned()
    } else {
        format!(
            "<form method=\"post\" action=\"/console/grants/{id}/delegate\" class=\"delegate\">{csrf}\
             <p class=\"muted limits\">{limits}</p>\
             <input type=\"text\" name=\"delegatee\" placeholder=\"to whom\" class=\"small\" aria-label=\"delegatee\">\
             <input type=\"text\" name=\"scope\" value=\"{scope}\" class=\"small\" aria-label=\"scope\">\
             <input type=\"text\" name=\"duration\" value=\"30m\" class=\"small\" aria-label=\"duration\">\
             <input type=\"text\" name=\"reason\" placeholder=\"why\" class=\"small\" aria-label=\"reason\">\
             <button class=\"secondary\" id=\"delegate-{id}\">Delegate</button></form>",
            id = grant.id,
            csrf = csrf_field(csrf),
            scope = esc(&grant.scope),
        )
    }
}
