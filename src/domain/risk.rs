//! Risk signals: a score and flags for a subject (or one of its sessions), reported by a risk
//! engine, holding until they expire by themselves.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::names::{SessionId, Subject};

/// One reported signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskSignal {
    /// Identifier.
    pub id: Uuid,
    /// Whom it is about.
    pub subject: Subject,
    /// The session it is about; `None` means every session of the subject.
    pub session: Option<SessionId>,
    /// 0 (no risk) to 100.
    pub score: u32,
    /// Flags such as `vpn`, `new_device`, `impossible_travel`.
    pub flags: Vec<String>,
    /// The reporting engine.
    pub source: String,
    /// When it was reported.
    pub reported_at: DateTime<Utc>,
    /// When it stops holding.
    pub expires_at: DateTime<Utc>,
}

/// The risk that holds for one session at one moment: the highest score and every flag of the
/// signals that apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RiskPicture {
    /// Highest score among the signals that hold.
    pub score: u32,
    /// Union of their flags, sorted.
    pub flags: Vec<String>,
}

impl RiskSignal {
    /// Whether the signal applies to `session` at `now`.
    pub(crate) fn holds_for(&self, session: Option<&str>, now: DateTime<Utc>) -> bool {
        now < self.expires_at
            && match &self.session {
                None => true,
                Some(bound) => session == Some(bound.as_str()),
            }
    }
}

/// Combines the signals that hold for `session` at `now`. A source's latest report for a
/// subject (or session) replaces its earlier ones, so risk can drop as well as rise; across
/// sources the highest score counts and the flags add up.
pub(crate) fn risk_picture(
    signals: &[RiskSignal],
    session: Option<&str>,
    now: DateTime<Utc>,
) -> RiskPicture {
    let mut picture = RiskPicture::default();
    let superseded = |signal: &RiskSignal| {
        signals.iter().any(|later| {
            later.source == signal.source
                && later.session == signal.session
                && (later.reported_at, later.id) > (signal.reported_at, signal.id)
        })
    };
    for signal in signals
        .iter()
        .filter(|signal| signal.holds_for(session, now) && !superseded(signal))
    {
        picture.score = picture.score.max(signal.score);
        for flag in &signal.flags {
            if !picture.flags.contains(flag) {
                picture.flags.push(flag.clone());
            }
        }
    }
    picture.flags.sort();
    picture
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn signal(session: Option<&str>, score: u32, flags: &[&str], ttl_minutes: i64) -> RiskSignal {
        let now = Utc::now();
        RiskSignal {
            id: Uuid::now_v7(),
            subject: Subject::parse("fatma").unwrap(),
            session: session.map(|s| SessionId::parse(s).unwrap()),
            score,
            flags: flags.iter().map(|f| f.to_string()).collect(),
            source: "test".into(),
            reported_at: now,
            expires_at: now + TimeDelta::minutes(ttl_minutes),
        }
    }

    #[test]
    fn a_sources_latest_report_replaces_its_earlier_one() {
        let now = Utc::now();
        let high = signal(Some("s1"), 90, &["vpn"], 10);
        let mut lower = signal(Some("s1"), 10, &[], 10);
        lower.reported_at = high.reported_at + TimeDelta::seconds(1);
        let mut other_source = signal(Some("s1"), 40, &["new_device"], 10);
        other_source.source = "device-engine".into();
        let picture = risk_picture(&[high, lower, other_source], Some("s1"), now);
        assert_eq!(picture.score, 40);
        assert_eq!(picture.flags, vec!["new_device"]);
    }

    #[test]
    fn signals_combine_per_session_and_expire() {
        let now = Utc::now();
        let mut signals = vec![
            signal(None, 20, &["new_device"], 10),
            signal(Some("s1"), 80, &["vpn"], 10),
            signal(Some("s2"), 90, &["impossible_travel"], 10),
        ];
        for (index, signal) in signals.iter_mut().enumerate() {
            signal.source = format!("engine-{index}");
        }
        let s1 = risk_picture(&signals, Some("s1"), now);
        assert_eq!(s1.score, 80);
        assert_eq!(s1.flags, vec!["new_device", "vpn"]);
        let later = risk_picture(&signals, Some("s1"), now + TimeDelta::minutes(11));
        assert_eq!(later, RiskPicture::default());
    }
}
