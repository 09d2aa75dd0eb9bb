//! The simulator page's HTML: the two forms (a request, a Check), each filled in with what was
//! asked, and the result of a simulated Check with every grant's trace.

use std::fmt::Write as _;

use super::common::{esc, table_head};
use super::fragments::{assessment, rule_outcome};
use crate::console::forms::Fields;
use crate::service::{CheckSimulation, RequestAssessment};

/// Both forms, filled in with what `query` asked.
pub(crate) fn forms(query: &Fields) -> String {
    let value = |name: &str| esc(query.get(name));
    format!(
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
    )
}

/// The result of a simulated request.
pub(crate) fn request_result(result: &RequestAssessment) -> String {
    format!(
        "<h2>Result</h2><section class=\"card\" id=\"simulation\">{}</section>",
        assessment(result)
    )
}

/// The result of a simulated Check: the decision, then why each grant did or did not count.
pub(crate) fn check_result(simulation: &CheckSimulation) -> String {
    let decision = &simulation.decision;
    let mut out = format!(
        "<h2>Result</h2><section class=\"card\" id=\"simulation\"><p><span class=\"{}\">{}</span> reason <code id=\"decision-reason\">{}</code>{}</p>{}<tbody>",
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
            .unwrap_or_default(),
        table_head("", &["grant", "carries the permission", "verdict", "rules"]),
    );
    for trace in &simulation.grants {
        let rules: Vec<String> = trace.rules.iter().map(rule_outcome).collect();
        let _ = write!(
            out,
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
        out.push_str("<tr><td colspan=\"4\" class=\"muted\">the subject holds no grant</td></tr>");
    }
    out.push_str("</tbody></table></section>");
    out
}
