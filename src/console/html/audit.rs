//! The audit page's HTML: the search form, a grant's trail (its delegation chain and events),
//! a table of events, and the chain verification with the signed head.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::common::{esc, table_head, when};
use super::fragments::trail_text;
use crate::console::forms::Fields;
use crate::domain::{AuditAction, Checkpoint, StoredAuditEvent};
use crate::service::{ChainVerification, GrantTrail};

/// The search form, filled in with what `query` asked.
pub(crate) fn search_form(query: &Fields) -> String {
    format!(
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
        action_options(query.get("action")),
        esc(query.get("from")),
        esc(query.get("to")),
        esc(query.get("grant")),
    )
}

/// One option per audit action, `chosen` selected.
fn action_options(chosen: &str) -> String {
    AuditAction::ALL
        .iter()
        .map(|action| {
            format!(
                "<option{}>{}</option>",
                if chosen == action.as_str() {
                    " selected"
                } else {
                    ""
                },
                action.as_str()
            )
        })
        .collect()
}

/// A grant's trail: who held what along the delegation chain, then every event about it.
pub(crate) fn trail(trail: &GrantTrail, now: DateTime<Utc>) -> String {
    let mut out =
        "<h2>Trail of the grant</h2><ol id=\"delegation-chain\" class=\"timeline\">".to_owned();
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
            out,
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
    out.push_str("</ol>");
    out.push_str(&events_table("trail", &trail.events));
    out
}

/// A search's events; `auditor` callers see every event, others are told they see their own.
pub(crate) fn search_results(events: &[StoredAuditEvent], auditor: bool) -> String {
    let mut out = String::new();
    if !auditor {
        out.push_str(
            "<p class=\"muted\">You see the events by or about you; auditors see all.</p>",
        );
    }
    out.push_str(&events_table("events", events));
    out
}

fn events_table(id: &str, events: &[StoredAuditEvent]) -> String {
    let mut out = table_head(
        &format!(" id=\"{id}\""),
        &[
            "#",
            "when",
            "actor",
            "action",
            "subject",
            "role and scope",
            "reason",
            "hash",
        ],
    );
    out.push_str("<tbody>");
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

/// The chain verification and the signed head, for an auditor.
pub(crate) fn chain(verification: &ChainVerification, head: &Checkpoint) -> String {
    format!(
        "<h2>Chain verification</h2><section class=\"card\" id=\"chain\"><p id=\"chain-status\" class=\"{}\">{}</p>\
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
    )
}

/// In place of the chain verification: which role it needs.
pub(crate) fn chain_needs_role(auditor_role: &str) -> String {
    format!(
        "<h2>Chain verification</h2><p class=\"muted\" id=\"chain-status\">Verifying the chain needs the {} role.</p>",
        esc(auditor_role)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
