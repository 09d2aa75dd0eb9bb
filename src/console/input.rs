//! Form and query fields turned into domain values. Every error names the field it came from
//! (as the use cases' `InvalidArgument`), so a refused form says which box to fix.

use chrono::{DateTime, Utc};

use super::forms::Fields;
use crate::domain::risk::RiskPicture;
use crate::domain::{
    AuditAction, CheckQuery, GroupName, InvalidValue, Permission, RequestedDuration, RoleName,
    Scope, SessionId, Subject, Toward, parse_moment,
};
use crate::service::{AuditQuery, NewElevation, ServiceError, SimulatedRequester};

/// `result`, its error blamed on the field `name`.
pub(crate) fn field<T>(name: &str, result: Result<T, InvalidValue>) -> Result<T, ServiceError> {
    result.map_err(|error| ServiceError::invalid(name, error.0))
}

/// The field `name`, which must be given, parsed with `parse`.
pub(crate) fn required<T>(
    form: &Fields,
    name: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<T, ServiceError> {
    match form.optional(name) {
        None => Err(ServiceError::invalid(name, "is required")),
        Some(value) => field(name, parse(value)),
    }
}

/// The field `name`, when given, parsed with `parse`.
pub(crate) fn optional<T>(
    form: &Fields,
    name: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, ServiceError> {
    form.optional(name)
        .map(|value| field(name, parse(value)))
        .transpose()
}

/// A moment: an RFC 3339 time, a `datetime-local` value (UTC), or a duration from now.
pub(crate) fn moment(
    form: &Fields,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    optional_moment(form, name, now, Toward::Future)
}

/// A moment in the past: an RFC 3339 time, or a duration ago (`2h`).
pub(crate) fn since(
    form: &Fields,
    name: &str,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    optional_moment(form, name, now, Toward::Past)
}

/// The field `name`, if given, as a time or as a duration `toward` the future or the past.
fn optional_moment(
    form: &Fields,
    name: &str,
    now: DateTime<Utc>,
    toward: Toward,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    form.optional(name)
        .map(|text| moment_toward(name, text, now, toward))
        .transpose()
}

/// `text` as a time, or as a duration `toward` the future or the past from `now`; the error
/// is blamed on the field `name`.
fn moment_toward(
    name: &str,
    text: &str,
    now: DateTime<Utc>,
    toward: Toward,
) -> Result<DateTime<Utc>, ServiceError> {
    parse_moment(text, now, toward).map_err(|_| {
        ServiceError::invalid(
            name,
            format!(
                "{text:?} is neither a time (2025-03-01T09:00:00Z) nor a duration from now (3h)"
            ),
        )
    })
}

/// The risk signals to simulate with (`risk_score`, `risk_flags`); `None` when neither is given.
pub(crate) fn risk(form: &Fields) -> Result<Option<RiskPicture>, ServiceError> {
    let score = form.optional("risk_score");
    let flags = form.optional("risk_flags");
    if score.is_none() && flags.is_none() {
        return Ok(None);
    }
    let score = match score {
        None => 0,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|score| *score <= 100)
            .ok_or_else(|| ServiceError::invalid("risk_score", "a whole number from 0 to 100"))?,
    };
    let mut flags: Vec<String> = flags
        .unwrap_or("")
        .split([',', ' '])
        .filter(|flag| !flag.is_empty())
        .map(str::to_owned)
        .collect();
    flags.sort();
    flags.dedup();
    Ok(Some(RiskPicture { score, flags }))
}

/// A request for a role, from the request form (or the simulator's).
pub(crate) fn new_elevation(
    form: &Fields,
    now: DateTime<Utc>,
) -> Result<NewElevation, ServiceError> {
    Ok(NewElevation {
        role: required(form, "role", RoleName::parse)?,
        scope: required(form, "scope", Scope::parse)?,
        duration: required(form, "duration", RequestedDuration::parse)?,
        reason: form.get("reason").to_owned(),
        ticket: form.optional("ticket").map(str::to_owned),
        idempotency_key: None,
        not_before: moment(form, "start", now)?,
    })
}

/// Someone else to simulate a request for; `None` (the caller) when no subject is given.
pub(crate) fn simulated_requester(
    query: &Fields,
) -> Result<Option<SimulatedRequester>, ServiceError> {
    let Some(subject) = optional(query, "subject", Subject::parse)? else {
        return Ok(None);
    };
    Ok(Some(SimulatedRequester {
        subject,
        groups: query
            .get("groups")
            .split([',', ' '])
            .filter(|group| !group.is_empty())
            .map(|group| field("groups", GroupName::parse(group)))
            .collect::<Result<_, _>>()?,
        manager: optional(query, "manager", Subject::parse)?,
        session: optional(query, "session", SessionId::parse)?,
    }))
}

/// The Check the simulator asks, validated; [`CheckFields::query`] borrows it as a question.
pub(crate) struct CheckFields {
    subject: Subject,
    session: Option<SessionId>,
    permission: Permission,
    resource: Scope,
}

impl CheckFields {
    /// Reads `subject`, `session`, `permission` and `resource`.
    pub(crate) fn parse(query: &Fields) -> Result<CheckFields, ServiceError> {
        Ok(CheckFields {
            subject: required(query, "subject", Subject::parse)?,
            session: optional(query, "session", SessionId::parse)?,
            permission: required(query, "permission", Permission::parse)?,
            resource: required(query, "resource", Scope::parse)?,
        })
    }

    /// The question, as the decision path takes it.
    pub(crate) fn query(&self) -> CheckQuery<'_> {
        CheckQuery {
            subject: (&self.subject).into(),
            session: self.session.as_ref().map(SessionId::as_str),
            permission: self.permission.as_str(),
            resource: self.resource.as_str(),
            token: None,
            min_revision: 0,
        }
    }
}

/// An audit search from the audit page's form; `from` and `to` may be durations ago.
pub(crate) fn audit_search(query: &Fields, now: DateTime<Utc>) -> Result<AuditQuery, ServiceError> {
    Ok(AuditQuery {
        subject: optional(query, "subject", Subject::parse)?,
        actor: query.optional("actor").map(str::to_owned),
        action: match query.optional("action") {
            None => None,
            Some(text) => Some(AuditAction::parse(text).ok_or_else(|| {
                ServiceError::invalid("action", format!("{text:?} is not an audit action"))
            })?),
        },
        elevation: None,
        grant: None,
        from: since(query, "from", now)?,
        to: since(query, "to", now)?,
    })
}
