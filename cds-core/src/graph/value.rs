//! The values nodes compute.
//!
//! A value is [`Value::Absent`] when the data to compute it is missing: absence is never
//! read as zero or as false. Booleans are three-valued: a comparison with an absent value is
//! absent (unknown), and a rule fires only when its condition is `true`.

use std::fmt;
use std::sync::Arc;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value as Json};

use crate::data::record::{Decoded, ObservationEntry};
use crate::ucum::{Quantity, QuantityUnit};

/// The value of one node for one patient, borrowing the record it was computed from.
#[derive(Debug, Clone, Default)]
pub enum Value<'r> {
    /// Not known: the data is missing (or could not be used).
    #[default]
    Absent,
    /// True or false.
    Bool(bool),
    /// A number without a unit.
    Number(Decimal),
    /// A number with a UCUM unit.
    Quantity(Quantity),
    /// Text.
    Text(Arc<str>),
    /// One observation reading.
    Reading(Reading<'r>),
    /// Observation readings in time order (possibly none).
    Readings(Arc<[Reading<'r>]>),
    /// Several values (a FHIRPath result with more than one item).
    List(Arc<[Value<'r>]>),
}

/// What an observation (or a component) recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded<'r> {
    /// A quantity with a UCUM unit (decoded when the record was built).
    Quantity(&'r Quantity),
    /// A number without a usable unit.
    Number(Decimal),
    /// A coded value (`valueCodeableConcept` / `valueCoding`).
    Code(&'r Json),
    /// Text.
    Text(&'r str),
    /// A boolean.
    Bool(bool),
}

/// One reading: an observation entry and its decoded value.
#[derive(Debug, Clone)]
pub struct Reading<'r> {
    /// The observation (or component) entry in the record.
    pub entry: &'r ObservationEntry,
    /// The recorded value.
    pub value: Recorded<'r>,
}

impl<'r> Reading<'r> {
    /// The reading of an entry, or `None` when it cannot be used: entered in error or
    /// cancelled, a data-absent reason, a comparator, or no value of a usable type (see
    /// [`Decoded`], decoded once when the record was built).
    pub fn of(entry: &'r ObservationEntry) -> Option<Reading<'r>> {
        let value = match entry.decoded() {
            Decoded::Unusable => return None,
            Decoded::Quantity(q) => Recorded::Quantity(q),
            Decoded::Number(n) => Recorded::Number(*n),
            Decoded::Bool(b) => Recorded::Bool(*b),
            Decoded::Text => Recorded::Text(entry.element().get("valueString")?.as_str()?),
            Decoded::Code => {
                let json = entry.element();
                Recorded::Code(
                    json.get("valueCodeableConcept")
                        .or_else(|| json.get("valueCoding"))?,
                )
            }
        };
        Some(Reading { entry, value })
    }

    /// `Type/id` of the observation, when it has an id.
    pub fn reference(&self) -> Option<String> {
        let o = self.entry.observation();
        o.id().map(|id| format!("{}/{id}", o.resource_type()))
    }

    /// The codings of a coded value: `(system, code)` pairs.
    pub fn codings(&self) -> Vec<(&'r str, &'r str)> {
        let Recorded::Code(json) = self.value else {
            return Vec::new();
        };
        let one = |c: &'r Json| {
            Some((
                c.get("system").and_then(Json::as_str).unwrap_or(""),
                c.get("code").and_then(Json::as_str)?,
            ))
        };
        match json.get("coding").and_then(Json::as_array) {
            Some(list) => list.iter().filter_map(one).collect(),
            None => one(json).into_iter().collect(),
        }
    }

    /// The value as a plain [`Value`] (quantity, number, text or boolean).
    pub fn scalar(&self) -> Value<'r> {
        match &self.value {
            Recorded::Quantity(q) => Value::Quantity((*q).clone()),
            Recorded::Number(n) => Value::Number(*n),
            Recorded::Text(t) => Value::Text(Arc::from(*t)),
            Recorded::Bool(b) => Value::Bool(*b),
            Recorded::Code(_) => Value::Reading(self.clone()),
        }
    }
}

impl<'r> Value<'r> {
    /// True for [`Value::Absent`] and for an empty list of readings or values.
    pub fn is_absent(&self) -> bool {
        match self {
            Value::Absent => true,
            Value::Readings(r) => r.is_empty(),
            Value::List(l) => l.is_empty(),
            _ => false,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Reading(r) => match r.value {
                Recorded::Bool(b) => Some(b),
                _ => None,
            },
            _ => None,
        }
    }

    /// The number: a plain number, a dimensionless quantity, or a reading's number as
    /// recorded. Quantities with units give `None`; use [`Value::as_quantity`].
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self.scalar_ref() {
            Value::Number(n) => Some(n),
            Value::Quantity(q) if is_unity(&q) => Some(q.value),
            _ => None,
        }
    }

    /// The quantity (of a quantity or a reading of one).
    pub fn as_quantity(&self) -> Option<Quantity> {
        match self.scalar_ref() {
            Value::Quantity(q) => Some(q),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            Value::Reading(Reading {
                value: Recorded::Text(t),
                ..
            }) => Some(t),
            _ => None,
        }
    }

    /// A reading becomes its recorded value; other values stay as they are.
    pub(crate) fn scalar_ref(&self) -> Value<'r> {
        match self {
            Value::Reading(r) => r.scalar(),
            other => other.clone(),
        }
    }

    /// The value for a machine (evidence, test expectations): numbers as JSON numbers,
    /// quantities as `{"value", "unit"}`, readings as their value with the observation
    /// reference, absent as `null`.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Absent => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => decimal_json(*n),
            Value::Quantity(q) => json!({ "value": decimal_json(q.value), "unit": q.unit.code() }),
            Value::Text(t) => Json::String(t.to_string()),
            Value::Reading(r) => {
                let mut v = match &r.value {
                    Recorded::Code(c) => json!({ "code": c }),
                    _ => match r.scalar().to_json() {
                        Json::Object(m) => Json::Object(m),
                        other => json!({ "value": other }),
                    },
                };
                if let (Some(reference), Json::Object(m)) = (r.reference(), &mut v) {
                    m.insert("observation".into(), Json::String(reference));
                }
                if let (Some(t), Json::Object(m)) = (r.entry.time(), &mut v) {
                    m.insert("time".into(), Json::String(t.at.to_string()));
                }
                v
            }
            Value::Readings(rs) => json!({ "readings": rs.len() }),
            Value::List(l) => Json::Array(l.iter().map(Value::to_json).collect()),
        }
    }
}

fn is_unity(q: &Quantity) -> bool {
    match &q.unit {
        QuantityUnit::Ucum(u) => u.is_dimensionless() && u.code() == "1",
        _ => false,
    }
}

/// A decimal as a JSON number when it fits exactly, else as a string.
pub(crate) fn decimal_json(n: Decimal) -> Json {
    let n = n.normalize();
    if n.scale() == 0 {
        if let Ok(i) = i64::try_from(n) {
            return Json::from(i);
        }
    }
    n.to_string()
        .parse::<serde_json::Number>()
        .map(Json::Number)
        .unwrap_or_else(|_| Json::String(n.to_string()))
}

/// Rounds half away from zero.
pub(crate) fn round(n: Decimal, places: u32) -> Decimal {
    n.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

/// A quantity's unit as a reader writes it: `mm[Hg]`, `%`, `/min`.
pub(crate) fn unit_text(q: &Quantity) -> String {
    q.unit.code().to_string()
}

impl fmt::Display for Value<'_> {
    /// As shown in card texts: `152 mm[Hg]`, `36.8 Cel`, `7`, `high`, `not recorded`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Absent => f.write_str("not recorded"),
            Value::Bool(b) => write!(f, "{}", if *b { "yes" } else { "no" }),
            Value::Number(n) => write!(f, "{}", n.normalize()),
            Value::Quantity(q) if is_unity(q) => write!(f, "{}", q.value.normalize()),
            Value::Quantity(q) => write!(f, "{} {}", q.value.normalize(), unit_text(q)),
            Value::Text(t) => f.write_str(t),
            Value::Reading(r) => match &r.value {
                Recorded::Code(c) => {
                    let text = c
                        .get("text")
                        .and_then(Json::as_str)
                        .or_else(|| {
                            c.get("coding")
                                .and_then(|l| l.get(0))
                                .or(Some(c))
                                .and_then(|x| x.get("display").or_else(|| x.get("code")))
                                .and_then(Json::as_str)
                        })
                        .unwrap_or("coded value");
                    f.write_str(text)
                }
                _ => write!(f, "{}", r.scalar()),
            },
            Value::Readings(rs) if rs.len() == 1 => f.write_str("1 reading"),
            Value::Readings(rs) => write!(f, "{} readings", rs.len()),
            Value::List(l) => {
                let parts: Vec<String> = l.iter().map(|v| v.to_string()).collect();
                f.write_str(&parts.join(", "))
            }
        }
    }
}
