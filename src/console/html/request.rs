//! The request page's HTML: the table of what policy lets the caller request, and the form
//! that asks (its preview is filled in by the script from `fragments::assessment`).

use std::fmt::Write as _;

use super::common::{csrf_field, esc, notice, table_head};
use super::fragments::approvers_text;
use crate::domain::{Subject, format_duration};
use crate::service::Eligibility;

/// The page body for a caller who may request `entries` and whose manager is `manager`.
pub(crate) fn page(
    entries: &[Eligibility],
    manager: Option<&Subject>,
    csrf: &str,
    notice_text: &str,
) -> String {
    let mut body = notice(notice_text);
    let Some(first) = entries.first() else {
        body.push_str("<p id=\"not-eligible\">Policy lets you request no role.</p>");
        return body;
    };
    body.push_str(&eligibility_table(entries, manager));
    body.push_str(&request_form(entries, first, csrf));
    body
}

fn eligibility_table(entries: &[Eligibility], manager: Option<&Subject>) -> String {
    let mut table = format!(
        "<h2>What you may request</h2>{}<tbody>",
        table_head(
            " id=\"eligibility\"",
            &["role", "scopes", "duration", "approval", "needs"]
        )
    );
    for entry in entries {
        let scopes: Vec<String> = entry
            .scopes
            .iter()
            .map(|pattern| format!("<code>{}</code>", esc(pattern.as_str())))
            .collect();
        let steps: Vec<String> = entry
            .steps
            .iter()
            .map(|step| approvers_text(step, manager))
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
            table,
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
    table.push_str("</tbody></table>");
    table
}

/// The form, its role choices from `entries` and its example scope from `first`'s.
fn request_form(entries: &[Eligibility], first: &Eligibility, csrf: &str) -> String {
    let mut roles: Vec<&str> = entries.iter().map(|entry| entry.role.as_str()).collect();
    roles.sort_unstable();
    roles.dedup();
    let options: String = roles
        .iter()
        .map(|role| format!("<option value=\"{0}\">{0}</option>", esc(role)))
        .collect();
    let example_scope = first
        .scopes
        .first()
        .map(|pattern| pattern.as_str().trim_end_matches("/**").to_owned())
        .unwrap_or_default();
    format!(
        "<h2>Ask for a role</h2><form method=\"post\" action=\"/console/request\" id=\"request-form\" class=\"card\">{csrf}\
         <div class=\"grid\"><div><label for=\"role\">Role</label><select id=\"role\" name=\"role\">{options}</select></div>\
         <div><label for=\"scope\">Scope</label><input type=\"text\" id=\"scope\" name=\"scope\" value=\"{scope}\" required></div>\
         <div><label for=\"duration\">Duration</label><input type=\"text\" id=\"duration\" name=\"duration\" value=\"1h\" required class=\"small\"></div>\
         <div><label for=\"start\">Start (optional: a time, or a duration from now)</label><input type=\"text\" id=\"start\" name=\"start\" class=\"small\"></div></div>\
         <label for=\"reason\">Reason</label><input type=\"text\" id=\"reason\" name=\"reason\">\
         <label for=\"ticket\">Ticket</label><input type=\"text\" id=\"ticket\" name=\"ticket\" class=\"small\">\
         <h2>Preview</h2><div id=\"preview\" class=\"muted\">What policy says appears here as you type.</div>\
         <button id=\"submit-request\">Request</button></form>",
        csrf = csrf_field(csrf),
        scope = esc(example_scope),
    )
}
