//! A refusal from the server as one readable line: code, reason, message, field violations,
//! and a hint where the message alone could be misread.

use tonic_types::StatusExt;

/// What to do about a refusal whose message alone could be misread.
fn hint(reason: &str) -> Option<&'static str> {
    match reason {
        "ALREADY_APPROVED" | "ALREADY_DENIED" => Some(
            "your earlier vote stands and this one was not counted; `elevator show <id>` shows the step the elevation waits at",
        ),
        _ => None,
    }
}

/// A status as one line: code, reason code, message, and any field violations.
pub(crate) fn describe_status(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let mut text = format!("{:?}", status.code());
    if let Some(info) = details.error_info() {
        text.push_str(&format!(" ({})", info.reason));
    }
    text.push_str(&format!(": {}", status.message()));
    if let Some(hint) = details.error_info().and_then(|info| hint(&info.reason)) {
        text.push_str(&format!("\n  {hint}"));
    }
    if let Some(bad_request) = details.bad_request() {
        for violation in &bad_request.field_violations {
            text.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn a_repeated_approval_is_described_with_what_it_did_not_do() {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "ALREADY_APPROVED",
            "elevator",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "ali already voted approve on step \"manager\" of this elevation at 2026-01-01T00:00:00Z; this call counted nothing. The elevation is PENDING at step \"risk_officer\"",
            details,
        );
        let text = describe_status(&status);
        assert!(
            text.starts_with("FailedPrecondition (ALREADY_APPROVED): ali already voted approve"),
            "{text}"
        );
        assert!(text.contains("was not counted"), "{text}");
    }
}
