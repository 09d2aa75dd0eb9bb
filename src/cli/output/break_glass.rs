//! Printing break-glass uses, their evidence and reviews.

use serde_json::{Value, json};

use super::json::grant_json;
use super::names::time;
use super::printer::Printer;
use crate::cli::args::OutputFormat;
use crate::proto::v1 as pb;

/// The review state as a word: `pending`, `overdue`, `confirmed`, `flagged`.
fn review_state(state: i32) -> String {
    pb::BreakGlassReviewState::try_from(state)
        .map(|state| {
            state
                .as_str_name()
                .trim_start_matches("BREAK_GLASS_REVIEW_STATE_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| state.to_string())
}

fn use_json(used: &pb::BreakGlassUse) -> Value {
    json!({
        "id": used.id,
        "entry": used.entry,
        "subject": used.subject,
        "session_id": used.session_id,
        "role": used.role,
        "scope": used.scope,
        "reason": used.reason,
        "incident": used.incident,
        "used_at": time(used.used_at.as_ref()),
        "ends_at": time(used.ends_at.as_ref()),
        "elevation_id": used.elevation_id,
        "grant": used.grant.as_ref().map(grant_json),
        "reviewers": {"users": used.reviewer_users, "groups": used.reviewer_groups},
        "review_due_at": time(used.review_due_at.as_ref()),
        "overridden_rules": used.overridden_rules,
        "review_state": review_state(used.review_state),
        "reviewed_by": used.reviewed_by,
        "reviewed_at": time(used.reviewed_at.as_ref()),
        "review_comment": used.review_comment,
    })
}

fn use_text(used: &pb::BreakGlassUse) {
    println!(
        "break-glass {}  {}  {} on {} by {} (session {})",
        used.id,
        review_state(used.review_state).to_uppercase(),
        used.role,
        used.scope,
        used.subject,
        used.session_id
    );
    println!("  incident   {}  \"{}\"", used.incident, used.reason);
    println!(
        "  active     {} .. {}",
        time(used.used_at.as_ref()),
        time(used.ends_at.as_ref())
    );
    let mut reviewers: Vec<String> = used.reviewer_users.clone();
    reviewers.extend(used.reviewer_groups.iter().map(|g| format!("group {g}")));
    println!(
        "  review by  {} before {}",
        reviewers.join(", "),
        time(used.review_due_at.as_ref())
    );
    for rule in &used.overridden_rules {
        println!("  overrode   `{rule}`");
    }
    if !used.reviewed_by.is_empty() {
        println!(
            "  reviewed   by {} at {}: {}",
            used.reviewed_by,
            time(used.reviewed_at.as_ref()),
            used.review_comment
        );
    }
}

impl Printer {
    /// One use (after breaking glass or reviewing it), with the revision of the write.
    pub(crate) fn break_glass_use(&self, used: Option<&pb::BreakGlassUse>, revision: u64) {
        let Some(used) = used else {
            return;
        };
        match self.format {
            OutputFormat::Json => self.json(json!({"use": use_json(used), "revision": revision})),
            OutputFormat::Text => {
                use_text(used);
                println!("  revision   {revision}");
            }
        }
    }

    /// A page of uses.
    pub(crate) fn break_glass_uses(&self, uses: &[pb::BreakGlassUse]) {
        match self.format {
            OutputFormat::Json => self.json(Value::Array(uses.iter().map(use_json).collect())),
            OutputFormat::Text if uses.is_empty() => println!("no break-glass uses"),
            OutputFormat::Text => {
                for used in uses {
                    println!(
                        "{}  {:<9} {} {} on {}  incident {}  used {}  review by {}",
                        used.id,
                        review_state(used.review_state),
                        used.subject,
                        used.role,
                        used.scope,
                        used.incident,
                        time(used.used_at.as_ref()),
                        time(used.review_due_at.as_ref()),
                    );
                }
            }
        }
    }

    /// A use with its evidence.
    pub(crate) fn break_glass_evidence(&self, evidence: &pb::GetBreakGlassEvidenceResponse) {
        let checks = || {
            evidence.checks.iter().map(|check| {
                json!({
                    "at": time(check.at.as_ref()),
                    "session_id": check.session_id,
                    "permission": check.permission,
                    "resource": check.resource,
                    "request_id": check.request_id,
                })
            })
        };
        match self.format {
            OutputFormat::Json => self.json(json!({
                "use": evidence.r#use.as_ref().map(use_json),
                "checks": checks().collect::<Vec<_>>(),
                "checks_capped": evidence.checks_capped,
                "writes": evidence.writes.iter().map(|event| {
                    serde_json::from_str::<Value>(&super::audit_event_json(event))
                        .unwrap_or(Value::Null)
                }).collect::<Vec<_>>(),
            })),
            OutputFormat::Text => {
                if let Some(used) = &evidence.r#use {
                    use_text(used);
                }
                println!("checks the grant allowed ({}):", evidence.checks.len());
                for check in &evidence.checks {
                    println!(
                        "  {}  {} on {}",
                        time(check.at.as_ref()),
                        check.permission,
                        check.resource
                    );
                }
                if evidence.checks_capped {
                    println!("  (the first 1000 only)");
                }
                println!("writes while it was active ({}):", evidence.writes.len());
                for event in &evidence.writes {
                    println!(
                        "  {}  {}  {} {}",
                        time(event.at.as_ref()),
                        event.action,
                        event.role,
                        event.scope
                    );
                }
            }
        }
    }
}
