//! Whether a login session has ended: the console keeps a person signed in by a sealed cookie
//! that any replica can read, and asks here, on each page, whether the session it names was
//! ended since sign-in (a logout, the provider's back-channel logout, or an administrator's
//! EndSession on any replica). The answer comes from the audit log, which every replica shares,
//! so no replica needs to have seen the logout itself.

use chrono::{DateTime, Utc};

use super::{Elevator, ServiceError};
use crate::domain::{AuditAction, SessionId, Subject};
use crate::store::AuditFilter;

/// The most session-ended events of one subject read per question: a subject whose sessions
/// ended more often than this since one sign-in is taken as ended (fail closed).
const MAX_SESSION_ENDINGS_READ: usize = 200;

impl Elevator {
    /// Whether `session` of `subject` was ended at or after `since`.
    pub async fn session_ended_since(
        &self,
        subject: &Subject,
        session: &SessionId,
        since: DateTime<Utc>,
    ) -> Result<bool, ServiceError> {
        let endings = self
            .store
            .list_audit(&AuditFilter {
                subject: Some(subject.clone()),
                action: Some(AuditAction::SessionEnded),
                from: Some(since),
                limit: MAX_SESSION_ENDINGS_READ,
                ..Default::default()
            })
            .await?;
        if endings.len() >= MAX_SESSION_ENDINGS_READ {
            return Ok(true);
        }
        Ok(endings
            .iter()
            .any(|ending| ending.event.details["session"].as_str() == Some(session.as_str())))
    }
}
