//! A moment as people type it on the command line and in the console: an RFC 3339 time, a
//! `datetime-local` value (taken as UTC), or a duration literal counted from now, ahead or ago.

use chrono::{DateTime, NaiveDateTime, Utc};

use super::duration::parse_duration;

/// Which way a bare duration points from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// `2h` means two hours from now (a start, a time to assess at).
    Future,
    /// `2h` means two hours ago (the start of a search).
    Past,
}

/// The text is neither a time nor a duration; each caller words its own message, naming its
/// flag or field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAMoment;

/// The `datetime-local` forms a browser sends (no zone: read as UTC).
const LOCAL_FORMATS: [&str; 2] = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"];

/// Reads `text` as an RFC 3339 time, a `datetime-local` value in UTC, or a duration from
/// `now` in the direction `toward`.
pub fn parse_moment(
    text: &str,
    now: DateTime<Utc>,
    toward: Toward,
) -> Result<DateTime<Utc>, NotAMoment> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in LOCAL_FORMATS {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.and_utc());
        }
    }
    let offset = parse_duration(text).map_err(|_| NotAMoment)?;
    Ok(match toward {
        Toward::Future => now + offset,
        Toward::Past => now - offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn an_rfc3339_time_is_taken_as_written_whichever_way() {
        for toward in [Toward::Future, Toward::Past] {
            assert_eq!(
                parse_moment("2026-03-02T09:30:00+01:00", now(), toward),
                Ok(at("2026-03-02T08:30:00Z"))
            );
        }
    }

    #[test]
    fn a_datetime_local_value_is_read_as_utc_with_or_without_seconds() {
        assert_eq!(
            parse_moment("2026-03-02T09:30", now(), Toward::Future),
            Ok(at("2026-03-02T09:30:00Z"))
        );
        assert_eq!(
            parse_moment("2026-03-02T09:30:15", now(), Toward::Past),
            Ok(at("2026-03-02T09:30:15Z"))
        );
    }

    #[test]
    fn a_duration_counts_from_now_ahead_or_ago() {
        assert_eq!(
            parse_moment("2h", now(), Toward::Future),
            Ok(now() + TimeDelta::hours(2))
        );
        assert_eq!(
            parse_moment("1h30m", now(), Toward::Past),
            Ok(now() - TimeDelta::minutes(90))
        );
    }

    #[test]
    fn anything_else_is_not_a_moment() {
        for text in ["", "tomorrow", "2026-03-02", "2h later", "09:30"] {
            assert_eq!(parse_moment(text, now(), Toward::Future), Err(NotAMoment));
        }
    }
}
