//! When each patient is evaluated: once as of a time, every step along a timeline, or at the end
//! of each of their encounters — only while they are alive.

use cds_core::data::time::parse_date_time;
use cds_core::data::Resource;
use serde_json::Value;

use crate::error::ReplayError;
use crate::summary::Mode;

const DAY_MS: i64 = 86_400_000;

/// A time given on the command line: a FHIR date or dateTime; a date means its first instant
/// (UTC), a dateTime without offset is read as UTC.
pub fn parse_time(what: &str, text: &str) -> Result<i64, ReplayError> {
    parse_date_time(text.trim())
        .map(|t| t.lower_bound_millis(0))
        .ok_or_else(|| {
            ReplayError::Usage(format!(
                "--{what} `{text}` is not a date or time: write e.g. 2024-01-01 or 2024-01-01T08:00:00Z"
            ))
        })
}

/// An instant as RFC 3339 in UTC (`2024-01-01T00:00:00Z`, milliseconds only when not zero).
pub fn format_time(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// A step: `30m`, `12h`, `1d`, `2w`.
pub fn parse_step(text: &str) -> Result<i64, ReplayError> {
    let bad = || {
        ReplayError::Usage(format!(
            "--every `{text}` is not a step: write a number and m, h, d or w (e.g. 1d, 12h, 1w), or `encounter`"
        ))
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        "w" => 7 * DAY_MS,
        _ => return Err(bad()),
    };
    if n <= 0 {
        return Err(bad());
    }
    Ok(n * unit_ms)
}

/// The evaluation times of a run.
#[derive(Debug, Clone)]
pub(crate) enum Schedule {
    At(i64),
    Every { from: i64, to: i64, step: i64 },
    Encounters { from: Option<i64>, to: Option<i64> },
}

/// At most this many evaluation times per patient (a typo like `--every 1m` over 10 years).
pub(crate) const MAX_TIMES: i64 = 1_000_000;

impl Schedule {
    /// The schedule of a mode.
    pub(crate) fn of(mode: &Mode) -> Result<Schedule, ReplayError> {
        Ok(match mode {
            Mode::At { at } => Schedule::At(parse_time("at", at)?),
            Mode::Every { from, to, every } => {
                let (from, to, step) = (
                    parse_time("from", from)?,
                    parse_time("to", to)?,
                    parse_step(every)?,
                );
                if to < from {
                    return Err(ReplayError::Usage("--to is before --from".into()));
                }
                if (to - from) / step >= MAX_TIMES {
                    return Err(ReplayError::Usage(format!(
                        "--every {every} from --from to --to makes more than {MAX_TIMES} evaluation times per patient: take a longer step"
                    )));
                }
                Schedule::Every { from, to, step }
            }
            Mode::Encounters { from, to } => Schedule::Encounters {
                from: from.as_deref().map(|t| parse_time("from", t)).transpose()?,
                to: to.as_deref().map(|t| parse_time("to", t)).transpose()?,
            },
        })
    }

    /// A patient's evaluation times, in order, before removing those when they were not alive.
    pub(crate) fn times(&self, resources: &[std::sync::Arc<Resource>]) -> Vec<i64> {
        match self {
            Schedule::At(t) => vec![*t],
            Schedule::Every { from, to, step } => {
                let mut out = Vec::with_capacity(((to - from) / step + 1) as usize);
                let mut t = *from;
                while t <= *to {
                    out.push(t);
                    t += step;
                }
                out
            }
            Schedule::Encounters { from, to } => {
                let mut out: Vec<i64> = resources
                    .iter()
                    .filter(|r| r.resource_type() == "Encounter")
                    .filter_map(|r| encounter_end(r.json()))
                    .filter(|t| from.is_none_or(|f| *t >= f) && to.is_none_or(|e| *t <= e))
                    .collect();
                out.sort_unstable();
                out.dedup();
                out
            }
        }
    }
}

/// When an encounter ended (its period's end, else its start): its readings are in by then.
fn encounter_end(json: &Value) -> Option<i64> {
    let period = json.get("period")?;
    let read = |k: &str| {
        period
            .get(k)
            .and_then(Value::as_str)
            .and_then(parse_date_time)
            .map(|t| t.lower_bound_millis(0))
    };
    read("end").or_else(|| read("start"))
}

/// Days between two instants.
pub(crate) fn days(from: i64, to: i64) -> f64 {
    (to - from) as f64 / DAY_MS as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use cds_core::data::Source;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn times_and_steps() {
        assert_eq!(
            format_time(parse_time("at", "2024-01-01").unwrap()),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            format_time(parse_time("at", "2024-01-01T08:30:00.250+02:00").unwrap()),
            "2024-01-01T06:30:00.250Z"
        );
        assert!(parse_time("at", "01/01/2024").is_err());
        assert_eq!(parse_step("1d").unwrap(), DAY_MS);
        assert_eq!(parse_step("12h").unwrap(), DAY_MS / 2);
        for bad in ["d", "0d", "1y", "", "1.5d"] {
            assert!(parse_step(bad).is_err(), "{bad}");
        }
        let s = Schedule::of(&Mode::Every {
            from: "2024-01-01".into(),
            to: "2024-01-03T12:00:00Z".into(),
            every: "1d".into(),
        })
        .unwrap();
        assert_eq!(s.times(&[]).len(), 3);
        assert!(Schedule::of(&Mode::Every {
            from: "2000-01-01".into(),
            to: "2030-01-01".into(),
            every: "1m".into(),
        })
        .is_err());
    }

    #[test]
    fn encounter_ends() {
        let r = |v| Arc::new(Resource::from_json(v, Source::memory(), None).unwrap());
        let rs = vec![
            r(
                json!({"resourceType": "Encounter", "period": {"start": "2024-01-02T08:00:00Z", "end": "2024-01-02T09:00:00Z"}}),
            ),
            r(json!({"resourceType": "Encounter", "period": {"start": "2023-01-02T08:00:00Z"}})),
            r(json!({"resourceType": "Observation"})),
        ];
        let s = Schedule::Encounters {
            from: None,
            to: None,
        };
        assert_eq!(
            s.times(&rs)
                .into_iter()
                .map(format_time)
                .collect::<Vec<_>>(),
            ["2023-01-02T08:00:00Z", "2024-01-02T09:00:00Z"]
        );
    }
}
