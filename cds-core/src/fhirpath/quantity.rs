//! FHIRPath quantities: a decimal value with a UCUM unit or a calendar duration keyword.
//!
//! Calendar durations (`1 year`, `3 days`) are kept apart from UCUM units: `1 'wk'` equals
//! `1 week`, but `1 'a'` (a UCUM year of 365.25 days) does not equal `1 year`. Comparison of
//! different UCUM units converts through [`crate::ucum`].

use super::ucum_bridge;
use crate::temporal::CalendarUnit;
use rust_decimal::Decimal;
use serde_json::Value as Json;
use std::cmp::Ordering;
use std::fmt;

/// A quantity value.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantity {
    /// The numeric value.
    pub value: Decimal,
    /// The unit: a UCUM code (`mg`, `'1'` is written `1`) or a calendar keyword (`week`).
    pub unit: Box<str>,
    /// The unit is a calendar duration keyword (written without quotes).
    pub calendar: Option<CalendarUnit>,
}

impl Quantity {
    /// A quantity with a UCUM unit (or a calendar keyword given as a quoted unit such as
    /// `'month'`, which FHIRPath reads as the calendar duration).
    pub fn ucum(value: Decimal, unit: &str) -> Quantity {
        Quantity {
            value,
            unit: unit.into(),
            calendar: CalendarUnit::from_keyword(unit),
        }
    }

    /// A calendar duration quantity such as `3 days`.
    pub fn calendar(value: Decimal, unit: CalendarUnit, word: &str) -> Quantity {
        Quantity {
            value,
            unit: word.into(),
            calendar: Some(unit),
        }
    }

    /// The calendar unit to use in date/time arithmetic: a calendar keyword, or a UCUM code
    /// of fixed length (`wk`, `d`, `h`, `min`, `s`, `ms`). UCUM `mo` and `a` are not calendar
    /// units and give `None`.
    pub fn arithmetic_unit(&self) -> Option<CalendarUnit> {
        if let Some(c) = self.calendar {
            return Some(c);
        }
        ucum_time_unit(&self.unit)
    }

    /// The quantity's parts, borrowed.
    pub(crate) fn parts(&self) -> QuantityRef<'_> {
        QuantityRef {
            value: self.value,
            unit: &self.unit,
            calendar: self.calendar,
        }
    }

    /// The unit as a UCUM code, for comparison: calendar units of fixed length map to their
    /// UCUM codes; `year` and `month` have none.
    fn ucum_code(&self) -> Option<&str> {
        self.parts().ucum_code()
    }

    /// Compare two quantities, converting units; `None` when the units are not comparable.
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        self.parts().compare(other.parts())
    }

    /// Equivalence: equal after conversion, at the precision of the less precise value.
    pub fn equivalent(&self, other: &Quantity) -> bool {
        if self.unit == other.unit {
            return super::eval::compare::decimal_equivalent(self.value, other.value);
        }
        let (Some(a), Some(b)) = (self.ucum_code(), other.ucum_code()) else {
            return false;
        };
        match ucum_bridge::convert(other.value, b, a) {
            Some(v) => super::eval::compare::decimal_equivalent(self.value, v),
            None => false,
        }
    }

    /// The quantity as JSON (`{"value": .., "unit": ..}`).
    pub fn to_json(&self) -> Json {
        let value = serde_json::from_str::<Json>(&self.value.to_string())
            .unwrap_or_else(|_| Json::String(self.value.to_string()));
        serde_json::json!({ "value": value, "unit": &*self.unit })
    }
}

/// A quantity's parts, borrowed (from a [`Quantity`] or from a FHIR `Quantity` in the data,
/// which is then compared without building a [`Quantity`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuantityRef<'q> {
    pub value: Decimal,
    pub unit: &'q str,
    pub calendar: Option<CalendarUnit>,
}

impl<'q> QuantityRef<'q> {
    /// A value with a UCUM unit (a calendar keyword as unit is read as the calendar unit).
    pub(crate) fn ucum(value: Decimal, unit: &'q str) -> Self {
        QuantityRef {
            value,
            unit,
            calendar: CalendarUnit::from_keyword(unit),
        }
    }

    fn ucum_code(&self) -> Option<&'q str> {
        match self.calendar {
            None => Some(self.unit),
            Some(c) => match c {
                CalendarUnit::Week => Some("wk"),
                CalendarUnit::Day => Some("d"),
                CalendarUnit::Hour => Some("h"),
                CalendarUnit::Minute => Some("min"),
                CalendarUnit::Second => Some("s"),
                CalendarUnit::Millisecond => Some("ms"),
                CalendarUnit::Year | CalendarUnit::Month => None,
            },
        }
    }

    /// See [`Quantity::compare`].
    pub(crate) fn compare(self, other: QuantityRef<'_>) -> Option<Ordering> {
        if self.unit == other.unit {
            return Some(self.value.cmp(&other.value));
        }
        match (self.calendar, other.calendar) {
            (Some(a), Some(b)) if is_year_month(a) || is_year_month(b) => {
                let (x, y) = (months(a)?, months(b)?);
                return Some((self.value * x).cmp(&(other.value * y)));
            }
            _ => {}
        }
        let (a, b) = (self.ucum_code()?, other.ucum_code()?);
        if a == b {
            return Some(self.value.cmp(&other.value));
        }
        let converted = ucum_bridge::convert(other.value, b, a)?;
        Some(self.value.cmp(&converted))
    }
}

fn is_year_month(c: CalendarUnit) -> bool {
    matches!(c, CalendarUnit::Year | CalendarUnit::Month)
}

fn months(c: CalendarUnit) -> Option<Decimal> {
    match c {
        CalendarUnit::Year => Some(Decimal::from(12)),
        CalendarUnit::Month => Some(Decimal::ONE),
        _ => None,
    }
}

/// The calendar unit of a UCUM time code of fixed length.
pub(crate) fn ucum_time_unit(code: &str) -> Option<CalendarUnit> {
    Some(match code {
        "wk" => CalendarUnit::Week,
        "d" => CalendarUnit::Day,
        "h" => CalendarUnit::Hour,
        "min" => CalendarUnit::Minute,
        "s" => CalendarUnit::Second,
        "ms" => CalendarUnit::Millisecond,
        _ => return None,
    })
}

impl fmt::Display for Quantity {
    /// `1 'wk'` for UCUM units, `1 week` for calendar keywords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.calendar.is_some() && !self.unit.is_empty() {
            write!(f, "{} {}", self.value, self.unit)
        } else {
            write!(f, "{} '{}'", self.value, self.unit)
        }
    }
}
