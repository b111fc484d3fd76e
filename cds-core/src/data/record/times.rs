//! When a clinical fact happened: the time of an observation, a condition, a request, an
//! encounter — and windows of time to query them in.

use std::time::Duration;

use serde_json::Value;

use crate::data::time::{parse_date_time, TimeBounds};
use crate::data::value::choice;
use crate::temporal::DateTime;

/// Which element a time was taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeSource {
    /// `effectiveDateTime`.
    EffectiveDateTime,
    /// `effectivePeriod` (its start, or its end when it has no start).
    EffectivePeriod,
    /// `effectiveInstant`.
    EffectiveInstant,
    /// `effectiveTiming` (its earliest event).
    EffectiveTiming,
    /// `issued` (no effective time given).
    Issued,
    /// `onsetDateTime` / `onsetPeriod` of a Condition.
    Onset,
    /// `recordedDate` of a Condition (no onset date given).
    RecordedDate,
    /// `authoredOn` of a MedicationRequest.
    AuthoredOn,
    /// `period` of an Encounter.
    Period,
    /// `start` of an Appointment.
    Start,
}

/// The time of a fact: the instant it is ordered by (`at`, the start of its effective time) and
/// the whole span it covers (partial precision and periods widen it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FactTime {
    /// The start, as written.
    pub at: DateTime,
    /// From the earliest instant of the start to the latest instant of the end.
    pub span: TimeBounds,
    /// Where it was read from.
    pub source: TimeSource,
}

impl FactTime {
    /// The sort key: the earliest instant `at` can mean (UTC epoch milliseconds).
    pub fn start_ms(&self) -> i64 {
        self.span.lower_ms
    }

    fn point(at: DateTime, source: TimeSource) -> Self {
        FactTime {
            at,
            span: TimeBounds::of(&at),
            source,
        }
    }

    fn period(period: &Value, source: TimeSource) -> Option<Self> {
        let start = period
            .get("start")
            .and_then(Value::as_str)
            .and_then(parse_date_time);
        let end = period
            .get("end")
            .and_then(Value::as_str)
            .and_then(parse_date_time);
        let at = start.or(end)?;
        let span = match end {
            Some(end) => TimeBounds::span(TimeBounds::of(&at), TimeBounds::of(&end)),
            None => TimeBounds::of(&at),
        };
        Some(FactTime { at, span, source })
    }
}

/// The time of an Observation: effective[x], falling back to `issued`.
pub(crate) fn observation_time(obs: &Value) -> Option<FactTime> {
    let effective = obs.as_object().and_then(|o| choice(o, "effective"));
    let from_effective = match effective {
        Some(("DateTime", v)) => v
            .as_str()
            .and_then(parse_date_time)
            .map(|t| FactTime::point(t, TimeSource::EffectiveDateTime)),
        Some(("Instant", v)) => v
            .as_str()
            .and_then(parse_date_time)
            .map(|t| FactTime::point(t, TimeSource::EffectiveInstant)),
        Some(("Period", v)) => FactTime::period(v, TimeSource::EffectivePeriod),
        Some(("Timing", v)) => v
            .get("event")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().and_then(parse_date_time))
            .map(|t| FactTime::point(t, TimeSource::EffectiveTiming))
            .min_by_key(FactTime::start_ms),
        _ => None,
    };
    from_effective.or_else(|| date_time_at(obs, "issued", TimeSource::Issued))
}

/// The time of a Condition: onset (dateTime or Period), falling back to `recordedDate`.
pub(crate) fn condition_time(cond: &Value) -> Option<FactTime> {
    let onset = match cond.as_object().and_then(|o| choice(o, "onset")) {
        Some(("DateTime", v)) => v
            .as_str()
            .and_then(parse_date_time)
            .map(|t| FactTime::point(t, TimeSource::Onset)),
        Some(("Period", v)) => FactTime::period(v, TimeSource::Onset),
        _ => None,
    };
    onset.or_else(|| date_time_at(cond, "recordedDate", TimeSource::RecordedDate))
}

/// A dateTime element of a resource as a time.
pub(crate) fn date_time_at(json: &Value, element: &str, source: TimeSource) -> Option<FactTime> {
    json.get(element)
        .and_then(Value::as_str)
        .and_then(parse_date_time)
        .map(|t| FactTime::point(t, source))
}

/// A Period element of a resource as a time.
pub(crate) fn period_at(json: &Value, element: &str, source: TimeSource) -> Option<FactTime> {
    json.get(element).and_then(|p| FactTime::period(p, source))
}

/// A closed window of time, in UTC epoch milliseconds, to look for facts in. A fact is in the
/// window when its start ([`FactTime::start_ms`]) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// The first millisecond in the window.
    pub from_ms: i64,
    /// The last millisecond in the window.
    pub to_ms: i64,
}

impl Window {
    /// Everything up to and including `at` (the latest instant `at` can mean).
    pub fn up_to(at: &DateTime) -> Window {
        Window {
            from_ms: i64::MIN,
            to_ms: at.upper_bound_millis(0),
        }
    }

    /// `[at - length, at]`.
    pub fn ending_at(at: &DateTime, length: Duration) -> Window {
        let to_ms = at.upper_bound_millis(0);
        let length_ms = i64::try_from(length.as_millis()).unwrap_or(i64::MAX);
        Window {
            from_ms: to_ms.saturating_sub(length_ms),
            to_ms,
        }
    }

    /// From the earliest instant of `from` to the latest instant of `to`.
    pub fn between(from: &DateTime, to: &DateTime) -> Window {
        Window {
            from_ms: from.lower_bound_millis(0),
            to_ms: to.upper_bound_millis(0),
        }
    }

    /// True when `ms` is in the window.
    pub fn contains(&self, ms: i64) -> bool {
        self.from_ms <= ms && ms <= self.to_ms
    }
}

/// The part of `entries` (untimed ones first, then sorted by start) whose time is in `window`.
pub(crate) fn slice_in<T>(
    entries: &[T],
    window: Window,
    time: impl Fn(&T) -> Option<FactTime>,
) -> &[T] {
    let start_ms = |e: &T| time(e).map_or(i64::MIN, |t| t.start_ms());
    let timed = entries.partition_point(|e| time(e).is_none());
    let lo = timed
        + entries.get(timed..).map_or(0, |rest| {
            rest.partition_point(|e| start_ms(e) < window.from_ms)
        });
    let hi = timed
        + entries.get(timed..).map_or(0, |rest| {
            rest.partition_point(|e| start_ms(e) <= window.to_ms)
        });
    entries.get(lo..hi.max(lo)).unwrap_or(&[])
}

/// Sorts entries: untimed first (in load order), then by start (ties in load order).
pub(crate) fn sort_by_time<T>(entries: &mut [T], time: impl Fn(&T) -> Option<FactTime>) {
    entries.sort_by_key(|e| time(e).map(|t| t.start_ms()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn observation_time_forms() {
        let t = |v: Value| observation_time(&v).map(|t| (t.source, t.start_ms()));
        assert_eq!(
            t(json!({"effectiveDateTime": "1970-01-02"})),
            Some((TimeSource::EffectiveDateTime, 86_400_000))
        );
        assert_eq!(
            t(json!({"effectivePeriod": {"end": "1970-01-02"}})),
            Some((TimeSource::EffectivePeriod, 86_400_000))
        );
        assert_eq!(
            t(json!({"effectiveTiming": {"event": ["1970-01-03", "1970-01-02"]}})),
            Some((TimeSource::EffectiveTiming, 86_400_000))
        );
        assert_eq!(
            t(json!({"effectiveInstant": "1970-01-01T00:00:01Z"})),
            Some((TimeSource::EffectiveInstant, 1000))
        );
        assert_eq!(
            t(json!({"issued": "1970-01-01T00:00:02Z"})),
            Some((TimeSource::Issued, 2000))
        );
        assert_eq!(t(json!({"effectiveDateTime": "bad"})), None);
        let p = observation_time(
            &json!({"effectivePeriod": {"start": "1970-01-01", "end": "1970-01-02"}}),
        )
        .unwrap();
        assert_eq!(p.span.upper_ms, 2 * 86_400_000 - 1);
    }

    #[test]
    fn windows_slice_sorted_entries() {
        let times = [None, Some(10i64), Some(20), Some(20), Some(30)];
        let fact = |ms: i64| FactTime {
            at: DateTime::from_epoch_millis(ms, 0).unwrap(),
            span: TimeBounds {
                lower_ms: ms,
                upper_ms: ms,
            },
            source: TimeSource::Issued,
        };
        let entries: Vec<Option<FactTime>> = times.iter().map(|t| t.map(fact)).collect();
        let w = |from_ms, to_ms| slice_in(&entries, Window { from_ms, to_ms }, |e| *e).len();
        assert_eq!(w(i64::MIN, i64::MAX), 4);
        assert_eq!(w(20, 20), 2);
        assert_eq!(w(11, 19), 0);
        assert_eq!(w(0, 10), 1);
        assert_eq!(w(31, 40), 0);
        assert_eq!(w(40, 0), 0);
    }
}
