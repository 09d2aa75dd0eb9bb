//! Pieces of HTML more than one console page renders: who may approve a step, a grant's
//! countdown and delegation trail, a rule's outcome, and the assessment of a request (the
//! request page's preview and the simulator show the same one).

use std::fmt::Write as _;

use chrono::{DateTime, TimeDelta, Utc};

use super::common::{esc, machine_time, when};
use crate::domain::{ApprovalStep, Grant, Subject, format_duration};
use crate::service::{RequestAssessment, RuleOutcome};

/// Who may approve `step`, and how many of them, for a requester whose manager is `manager`.
pub(crate) fn approvers_text(step: &ApprovalStep, manager: Option<&Subject>) -> String {
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

/// The time left until `not_after`, counted down live by the script.
pub(crate) fn countdown(not_after: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let left = (not_after - now).max(TimeDelta::zero());
    format!(
        "<span class=\"countdown\" data-expires=\"{}\">{} left</span>",
        machine_time(not_after),
        esc(format_duration(TimeDelta::seconds(left.num_seconds())))
    )
}

/// The delegations that led to `grant`, hop by hop; empty for a grant that was not delegated.
pub(crate) fn trail_text(grant: &Grant) -> String {
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

/// A rule and what came of it: `<code>rule</code>: held`, `did not hold`, or its error.
pub(crate) fn rule_outcome(outcome: &RuleOutcome) -> String {
    format!(
        "<code>{}</code>: {}",
        esc(&outcome.rule),
        match (&outcome.held, &outcome.error) {
            (_, Some(error)) => format!("error {}", esc(error)),
            (Some(true), _) => "held".into(),
            _ => "did not hold".into(),
        }
    )
}

/// What policy says of a request: eligible or refused, its steps, its window, its rules.
pub(crate) fn assessment(assessment: &RequestAssessment) -> String {
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
            let _ = write!(out, "<li>{}</li>", rule_outcome(rule));
        }
        out.push_str("</ul>");
    }
    if let Some(conflict) = &assessment.separation {
        let _ = write!(out, "<p class=\"error\">{}</p>", esc(conflict));
    }
    out
}
