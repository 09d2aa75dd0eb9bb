//! Duration literals as people write them in policy and on the command line: `2h`, `30m`, `90s`,
//! `1h30m`, `7d`; and [`RequestedDuration`], the one validated form of a duration a caller asks
//! for (an access window, an extension, a delegation, a risk signal's time to live).

use chrono::TimeDelta;

use super::names::InvalidValue;

/// The longest duration a caller may ask for, whatever policy says: far above any sensible
/// access window, and far below where adding it to a timestamp could overflow.
pub(crate) const MAX_REQUESTED_DURATION: TimeDelta = TimeDelta::days(366);

/// A duration a caller asked for, validated once at the edge and carried down as is: whole
/// seconds (the store keeps milliseconds, people and policy think in seconds and up), at least
/// one second (a shorter window would be over before anyone could use it) and at most
/// [`MAX_REQUESTED_DURATION`]. Policy then applies its own, narrower bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequestedDuration(TimeDelta);

impl RequestedDuration {
    /// Validates a duration given as whole seconds and nanoseconds (the shape of
    /// `google.protobuf.Duration`).
    pub(crate) fn from_parts(seconds: i64, nanos: i32) -> Result<Self, InvalidValue> {
        if nanos != 0 {
            return Err(InvalidValue(
                "must be whole seconds (nanos 0), at least 1s; e.g. 3600s".into(),
            ));
        }
        if seconds < 1 {
            return Err(InvalidValue(format!(
                "must be at least 1s (it is {seconds}s); e.g. 3600s"
            )));
        }
        let maximum = MAX_REQUESTED_DURATION.num_seconds();
        if seconds > maximum {
            return Err(InvalidValue(format!(
                "must be at most {} ({maximum}s)",
                format_duration(MAX_REQUESTED_DURATION)
            )));
        }
        Ok(RequestedDuration(TimeDelta::seconds(seconds)))
    }

    /// Validates a duration literal such as `2h` (the console's and command line's form).
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let duration = parse_duration(text)?;
        Self::from_parts(duration.num_seconds(), duration.subsec_nanos())
    }

    /// The duration.
    pub fn get(self) -> TimeDelta {
        self.0
    }
}

/// Parses a duration literal: one or more `<digits><unit>` groups, units `d`, `h`, `m`, `s`,
/// `ms`, largest first.
pub(crate) fn parse_duration(text: &str) -> Result<TimeDelta, InvalidValue> {
    let refuse = || {
        InvalidValue(format!(
            "{} is not a duration; write it like 2h, 30m, 90s or 1h30m",
            super::shown(text)
        ))
    };
    if text.is_empty() {
        return Err(refuse());
    }
    let bytes = text.as_bytes();
    let mut total = TimeDelta::zero();
    let mut position = 0;
    let mut previous_unit_rank = usize::MAX;
    while position < bytes.len() {
        let digits_start = position;
        while position < bytes.len() && bytes[position].is_ascii_digit() {
            position += 1;
        }
        if position == digits_start || position - digits_start > 12 {
            return Err(refuse());
        }
        let amount: i64 = text[digits_start..position].parse().map_err(|_| refuse())?;
        let (unit_rank, unit_len, unit): (usize, usize, fn(i64) -> Option<TimeDelta>) =
            if text[position..].starts_with("ms") {
                (0, 2, TimeDelta::try_milliseconds)
            } else {
                match bytes.get(position) {
                    Some(b's') => (1, 1, TimeDelta::try_seconds),
                    Some(b'm') => (2, 1, TimeDelta::try_minutes),
                    Some(b'h') => (3, 1, TimeDelta::try_hours),
                    Some(b'd') => (4, 1, TimeDelta::try_days),
                    _ => return Err(refuse()),
                }
            };
        if unit_rank >= previous_unit_rank {
            return Err(refuse());
        }
        previous_unit_rank = unit_rank;
        position += unit_len;
        let part = unit(amount).ok_or_else(refuse)?;
        total = total.checked_add(&part).ok_or_else(refuse)?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it: `2h`, `1h30m`, `90s` is `1m30s`.
pub(crate) fn format_duration(duration: TimeDelta) -> String {
    if duration <= TimeDelta::zero() {
        return "0s".into();
    }
    let mut rest = duration.num_milliseconds();
    let mut text = String::new();
    for (unit_ms, unit) in [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ] {
        let amount = rest / unit_ms;
        if amount > 0 {
            text.push_str(&format!("{amount}{unit}"));
            rest -= amount * unit_ms;
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_parse() {
        assert_eq!(parse_duration("2h").unwrap(), TimeDelta::hours(2));
        assert_eq!(parse_duration("30m").unwrap(), TimeDelta::minutes(30));
        assert_eq!(parse_duration("90s").unwrap(), TimeDelta::seconds(90));
        assert_eq!(parse_duration("1h30m").unwrap(), TimeDelta::minutes(90));
        assert_eq!(parse_duration("7d").unwrap(), TimeDelta::days(7));
        assert_eq!(
            parse_duration("1s500ms").unwrap(),
            TimeDelta::milliseconds(1500)
        );
    }

    #[test]
    fn malformed_literals_are_refused() {
        for bad in [
            "",
            "2",
            "h",
            "2x",
            "30m1h",
            "2h2h",
            "-2h",
            "2 h",
            "99999999999999h",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn requested_durations_are_whole_seconds_from_one_second_to_the_ceiling() {
        assert_eq!(
            RequestedDuration::from_parts(3600, 0).unwrap().get(),
            TimeDelta::hours(1)
        );
        assert!(RequestedDuration::from_parts(1, 0).is_ok());
        let ceiling = MAX_REQUESTED_DURATION.num_seconds();
        assert!(RequestedDuration::from_parts(ceiling, 0).is_ok());
        for (seconds, nanos) in [
            (0, 1),
            (0, 999_999),
            (0, 0),
            (-1, 0),
            (1, 1),
            (1, -1),
            (1, 1_000_000_000),
            (ceiling + 1, 0),
            (i64::MAX, 0),
            (i64::MIN, 0),
        ] {
            assert!(
                RequestedDuration::from_parts(seconds, nanos).is_err(),
                "{seconds}s {nanos}ns"
            );
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["2h", "1h30m", "1m30s", "7d", "1s500ms"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }
}
