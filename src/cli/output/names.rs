//! How one protocol value is written for people: times, durations, enum names, bytes as hex,
//! a rule's outcome.

use crate::proto::v1 as pb;

pub(super) fn time(value: Option<&prost_types::Timestamp>) -> String {
    value
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub(super) fn span(value: Option<&prost_types::Duration>) -> String {
    value
        .and_then(|d| chrono::TimeDelta::try_seconds(d.seconds))
        .map(crate::domain::format_duration)
        .unwrap_or_default()
}

pub(super) fn state_name(state: i32) -> String {
    pb::ElevationState::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("ELEVATION_STATE_")
                .to_owned()
        })
        .unwrap_or_else(|_| state.to_string())
}

pub(super) fn grant_status_name(status: i32) -> String {
    pb::GrantStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("GRANT_STATUS_")
                .to_owned()
        })
        .unwrap_or_else(|_| status.to_string())
}

/// `bound`, `awaiting_acceptance`, `unbound` (empty when unspecified).
pub(super) fn binding_name(binding: i32) -> String {
    pb::SessionBinding::try_from(binding)
        .ok()
        .filter(|b| *b != pb::SessionBinding::Unspecified)
        .map(|b| {
            b.as_str_name()
                .trim_start_matches("SESSION_BINDING_")
                .to_lowercase()
        })
        .unwrap_or_default()
}

pub(super) fn reason_name(reason: i32) -> String {
    pb::DecisionReason::try_from(reason)
        .map(|r| {
            r.as_str_name()
                .trim_start_matches("DECISION_REASON_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| reason.to_string())
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

pub(super) fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

pub(super) fn rule_verdict(rule: &pb::RuleResult) -> String {
    if rule.error.is_empty() {
        rule.held.to_string()
    } else {
        format!("error: {}", rule.error)
    }
}
