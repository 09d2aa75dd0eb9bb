//! Why a transition of an elevation was refused.

use chrono::{DateTime, Utc};

use super::Elevation;
use crate::domain::grant::AcceptRefusal;
use crate::domain::names::Subject;

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The elevation (or grant) is not in a state that allows the action.
    #[error("cannot {action}: {what} is {state}")]
    WrongState {
        /// What was attempted.
        action: &'static str,
        /// What it was attempted on.
        what: String,
        /// The state it is in.
        state: String,
    },
    /// The requester tried to approve their own elevation.
    #[error("the requester of an elevation can never approve it")]
    SelfApproval,
    /// The caller is not an approver of the current step.
    #[error("{subject} is not an approver of step {step:?} of this elevation")]
    NotAnApprover {
        /// The caller.
        subject: Subject,
        /// The step's name.
        step: String,
    },
    /// The caller already voted the other way; a vote cannot be changed.
    #[error("{subject} already voted {verdict} on this elevation; a vote cannot be changed")]
    AlreadyVoted {
        /// The caller.
        subject: Subject,
        /// The earlier verdict.
        verdict: &'static str,
    },
    /// The caller already gave this verdict (without the same idempotency key): the repeat
    /// counts nothing, and says so, so that nobody believes they decided a later step.
    #[error(
        "{subject} already voted {verdict} on step {step:?} of this elevation at {at}; this call counted nothing. The elevation is {now_at}"
    )]
    AlreadyCounted {
        /// The caller.
        subject: Subject,
        /// The verdict, repeated.
        verdict: &'static str,
        /// The step the earlier vote counted for.
        step: String,
        /// When the earlier vote was given (RFC 3339).
        at: String,
        /// Where the elevation stands now, e.g. `PENDING at step "security"`.
        now_at: String,
    },
    /// The caller delegated the role along this chain, or receives it: not independent.
    #[error("{subject} delegated the role along this chain or receives it, and may not approve it")]
    NotIndependent {
        /// The caller.
        subject: Subject,
    },
    /// The caller may not act on this object.
    #[error("{0}")]
    NotAllowed(String),
    /// The user who broke glass tried to review that use.
    #[error("whoever broke glass can never review that use; one of its other reviewers must")]
    SelfReview,
    /// A delegated grant cannot be taken up.
    #[error(transparent)]
    NotAccepted(#[from] AcceptRefusal),
}

/// An instant as people read it in a state reason, to the second.
pub(super) fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The refusal of `action` on `elevation` in the state it is in.
pub(super) fn wrong_state(action: &'static str, elevation: &Elevation) -> TransitionError {
    TransitionError::WrongState {
        action,
        what: format!("elevation {}", elevation.id),
        state: elevation.state().to_string(),
    }
}
