//! The break-glass page's HTML: the form (entry, role, scope, incident, reason), the confirm
//! step that says what will happen before anything does, the caller's own uses, and the uses
//! waiting for the caller's review with confirm and flag buttons. Overdue reviews stand out.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::common::{csrf_field, esc, notice, table_head, when};
use crate::domain::{ReviewState, format_duration};
use crate::service::{BreakGlassEntry, BreakGlassView};

/// What the form asked, echoed into the confirm step.
pub(crate) struct Asked<'a> {
    /// The entry's name.
    pub(crate) entry: &'a BreakGlassEntry,
    /// The role.
    pub(crate) role: &'a str,
    /// The scope.
    pub(crate) scope: &'a str,
    /// The incident reference.
    pub(crate) incident: &'a str,
    /// Why.
    pub(crate) reason: &'a str,
}

/// The page: the form, the caller's uses, the reviews waiting for the caller.
pub(crate) fn page(
    entries: &[BreakGlassEntry],
    mine: &[BreakGlassView],
    to_review: &[BreakGlassView],
    csrf: &str,
    notice_text: &str,
) -> String {
    let mut options = String::new();
    for entry in entries {
        let _ = write!(
            options,
            "<option value=\"{name}\">{name}: {roles} on {scopes}, at most {window}</option>",
            name = esc(&entry.name),
            roles = esc(entry
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
            scopes = esc(entry
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")),
            window = esc(format_duration(entry.max_duration)),
        );
    }
    let overdue = mine
        .iter()
        .filter(|view| view.state == ReviewState::Overdue)
        .count();
    let warning = if overdue > 0 {
        format!(
            "<p class=\"error\" id=\"overdue\">{overdue} of your break-glass uses are overdue for review: you cannot break glass again until they are reviewed.</p>"
        )
    } else {
        String::new()
    };
    format!(
        "{notice}{warning}<h2>Break glass</h2>\
         <p class=\"muted\">For emergencies when nobody can approve: the role is yours at once, in this session only, and every use is reviewed afterwards.</p>\
         <form method=\"get\" action=\"/console/break-glass/confirm\" id=\"break-glass-form\">\
         <label>Entry <select name=\"entry\" id=\"entry\">{options}</select></label>\
         <label>Role <input name=\"role\" id=\"role\" required></label>\
         <label>Scope <input name=\"scope\" id=\"scope\" required></label>\
         <label>Incident <input name=\"incident\" id=\"incident\"></label>\
         <label>Reason <input name=\"reason\" id=\"reason\"></label>\
         <button id=\"continue\">Continue</button></form>\
         <h2>My break-glass uses</h2>{mine}\
         <h2>My break-glass reviews</h2>{reviews}",
        notice = notice(notice_text),
        mine = uses_table("mine", mine, None),
        reviews = uses_table("to-review", to_review, Some(csrf)),
    )
}

/// The confirm step: what will happen, and the form that makes it happen.
pub(crate) fn confirm(asked: &Asked<'_>, now: DateTime<Utc>, csrf: &str) -> String {
    let entry = asked.entry;
    let mut reviewers: Vec<String> = entry.reviewers.users.iter().map(esc).collect();
    reviewers.extend(
        entry
            .reviewers
            .groups
            .iter()
            .map(|g| format!("group {}", esc(g))),
    );
    let override_note = if entry.override_deny_rules {
        "<li>This entry overrides deny rules: if one refuses, you get the role anyway and the audit names the rule.</li>"
    } else {
        "<li>Deny rules and separation of duties still apply: if one refuses, nothing happens.</li>"
    };
    format!(
        "<div id=\"what-will-happen\"><p>If you continue:</p><ul>\
         <li>You get <code>{role}</code> on <code>{scope}</code> <b>at once</b>, without approval, for {window} (until {until}), in this login session only.</li>\
         <li>{reviewers} are told now, and must review this use by {due}. Every Check it allows and everything you change meanwhile is shown to them.</li>\
         <li>While a use of yours is unreviewed past its deadline, you cannot break glass again.</li>\
         {override_note}</ul></div>\
         <form method=\"post\" action=\"/console/break-glass\">{csrf}\
         <input type=\"hidden\" name=\"entry\" value=\"{entry_name}\">\
         <input type=\"hidden\" name=\"role\" value=\"{role}\">\
         <input type=\"hidden\" name=\"scope\" value=\"{scope}\">\
         <input type=\"hidden\" name=\"incident\" value=\"{incident}\">\
         <input type=\"hidden\" name=\"reason\" value=\"{reason}\">\
         <p>Incident <b>{incident}</b>: {reason}</p>\
         <button class=\"danger\" id=\"break-glass\">Break glass now</button> \
         <a href=\"/console/break-glass\" id=\"cancel\">Cancel</a></form>",
        role = esc(asked.role),
        scope = esc(asked.scope),
        window = esc(format_duration(entry.max_duration)),
        until = when(now + entry.max_duration),
        reviewers = reviewers.join(", "),
        due = when(now + entry.review_within),
        entry_name = esc(&entry.name),
        incident = esc(asked.incident),
        reason = esc(asked.reason),
        csrf = csrf_field(csrf),
    )
}

/// A table of uses; with a CSRF token, each unreviewed row gets confirm and flag buttons.
fn uses_table(id: &str, uses: &[BreakGlassView], review_with: Option<&str>) -> String {
    if uses.is_empty() {
        return format!("<p class=\"muted\" id=\"{id}-empty\">None.</p>");
    }
    let mut rows = String::new();
    for view in uses {
        let used = &view.used;
        let state = view.state.as_str();
        let class = if view.state == ReviewState::Overdue {
            " class=\"error\""
        } else {
            ""
        };
        let actions = match review_with {
            Some(csrf) => format!(
                "<form method=\"post\" action=\"/console/break-glass/{id}/review\">{csrf}\
                 <input type=\"text\" name=\"comment\" placeholder=\"comment\" class=\"small\" aria-label=\"comment\">\
                 <button name=\"verdict\" value=\"confirm\" id=\"confirm-{id}\">Confirm</button>\
                 <button class=\"danger\" name=\"verdict\" value=\"flag\" id=\"flag-{id}\">Flag</button></form>",
                id = used.id,
                csrf = csrf_field(csrf),
            ),
            None => used
                .review
                .as_ref()
                .map(|review| {
                    format!(
                        "{} by {}: {}",
                        review.verdict.as_str(),
                        esc(&review.by),
                        esc(&review.comment)
                    )
                })
                .unwrap_or_default(),
        };
        let _ = write!(
            rows,
            "<tr id=\"use-{uid}\"><td><b>{subject}</b><br><span class=\"muted\">{used_at}</span></td>\
             <td><code>{role}</code> on <code>{scope}</code></td><td>{incident}<br>{reason}</td>\
             <td{class}><span class=\"state\">{state}</span><br><span class=\"muted\">review by {due}</span></td><td>{actions}</td></tr>",
            uid = used.id,
            subject = esc(&used.subject),
            used_at = when(used.used_at),
            role = esc(&used.role),
            scope = esc(&used.scope),
            incident = esc(&used.incident),
            reason = esc(&used.reason),
            due = when(used.review_due_at),
        );
    }
    format!(
        "{}<tbody>{rows}</tbody></table>",
        table_head(
            &format!(" id=\"{id}\""),
            &["who", "what", "incident", "review", ""]
        )
    )
}
