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

/// The name of enum value `number` without the `prefix` all the enum's names share; `None`
/// when this build does not know the number.
fn unprefixed<E: TryFrom<i32>>(
    number: i32,
    name: fn(&E) -> &'static str,
    prefix: &str,
) -> Option<&'static str> {
    E::try_from(number)
        .ok()
        .map(|value| name(&value).trim_start_matches(prefix))
}

pub(super) fn state_name(state: i32) -> String {
    unprefixed(state, pb::ElevationState::as_str_name, "ELEVATION_STATE_")
        .map_or_else(|| state.to_string(), str::to_owned)
}

pub(super) fn grant_status_name(status: i32) -> String {
    unprefixed(status, pb::GrantStatus::as_str_name, "GRANT_STATUS_")
        .map_or_else(|| status.to_string(), str::to_owned)
}

/// `bound`, `awaiting_acceptance`, `unbound` (empty when unspecified).
pub(super) fn binding_name(binding: i32) -> String {
    unprefixed(binding, pb::SessionBinding::as_str_name, "SESSION_BINDING_")
        .filter(|name| *name != "UNSPECIFIED")
        .map(str::to_lowercase)
        .unwrap_or_default()
}

pub(super) fn reason_name(reason: i32) -> String {
    unprefixed(reason, pb::DecisionReason::as_str_name, "DECISION_REASON_")
        .map_or_else(|| reason.to_string(), str::to_lowercase)
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
