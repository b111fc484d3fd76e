//! [`Quantity`]: a decimal value with a UCUM unit or a FHIRPath calendar duration.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::error::UcumError;
use super::unit::{tidy, Unit};
use crate::temporal::CalendarUnit;

/// The unit of a [`Quantity`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QuantityUnit {
    /// A UCUM unit (`'mg/dL'`, `'d'`, `'1'`), keeping its code for display.
    Ucum(Arc<Unit>),
    /// A FHIRPath calendar duration keyword (`year`, `months`, `days`, …).
    Calendar(CalendarUnit),
}

impl QuantityUnit {
    /// Parses a UCUM code (cached).
    pub fn ucum(code: &str) -> Result<QuantityUnit, UcumError> {
        Ok(QuantityUnit::Ucum(Unit::parse(code)?))
    }

    /// Reads a FHIRPath calendar keyword, singular or plural (`day`, `days`).
    pub fn from_keyword(word: &str) -> Option<QuantityUnit> {
        CalendarUnit::from_keyword(word).map(QuantityUnit::Calendar)
    }

    /// The UCUM code, or the singular calendar keyword.
    pub fn code(&self) -> &str {
        match self {
            QuantityUnit::Ucum(u) => u.code(),
            QuantityUnit::Calendar(c) => c.singular(),
        }
    }

    /// The UCUM unit with the same fixed length: `week` is `wk`, `day` is `d`, … `millisecond`
    /// is `ms`. Calendar years and months have no fixed length and give
    /// [`UcumError::CalendarNotDefinite`].
    pub fn to_ucum(&self) -> Result<Arc<Unit>, UcumError> {
        match self {
            QuantityUnit::Ucum(u) => Ok(Arc::clone(u)),
            QuantityUnit::Calendar(c) => match definite_code(*c) {
                Some(code) => Unit::parse(code),
                None => Err(UcumError::CalendarNotDefinite),
            },
        }
    }

    /// The calendar unit to use when this quantity is added to a date or time: the calendar
    /// keyword itself, or the UCUM time codes `a`, `mo`, `wk`, `d`, `h`, `min`, `s`, `ms`
    /// written exactly so (the caller decides whether to accept `a`/`mo`, which UCUM defines as
    /// mean Julian lengths). `None` for any other unit.
    pub fn as_calendar_unit(&self) -> Option<CalendarUnit> {
        match self {
            QuantityUnit::Calendar(c) => Some(*c),
            QuantityUnit::Ucum(u) => match u.code() {
                "a" => Some(CalendarUnit::Year),
                "mo" => Some(CalendarUnit::Month),
                "wk" => Some(CalendarUnit::Week),
                "d" => Some(CalendarUnit::Day),
                "h" => Some(CalendarUnit::Hour),
                "min" => Some(CalendarUnit::Minute),
                "s" => Some(CalendarUnit::Second),
                "ms" => Some(CalendarUnit::Millisecond),
                _ => None,
            },
        }
    }

    /// For equivalence only: calendar `year`/`month` read as UCUM `a`/`mo`.
    fn to_ucum_loose(&self) -> Result<Arc<Unit>, UcumError> {
        match self {
            QuantityUnit::Calendar(CalendarUnit::Year) => Unit::parse("a"),
            QuantityUnit::Calendar(CalendarUnit::Month) => Unit::parse("mo"),
            other => other.to_ucum(),
        }
    }

    fn same_as(&self, other: &QuantityUnit) -> bool {
        match (self, other) {
            (QuantityUnit::Ucum(a), QuantityUnit::Ucum(b)) => {
                Arc::ptr_eq(a, b) || a.code() == b.code()
            }
            (QuantityUnit::Calendar(a), QuantityUnit::Calendar(b)) => a == b,
            _ => false,
        }
    }

    /// Months in one of this unit, for calendar years and months.
    fn calendar_months(&self) -> Option<i64> {
        match self {
            QuantityUnit::Calendar(CalendarUnit::Year) => Some(12),
            QuantityUnit::Calendar(CalendarUnit::Month) => Some(1),
            _ => None,
        }
    }
}

fn definite_code(c: CalendarUnit) -> Option<&'static str> {
    match c {
        CalendarUnit::Year | CalendarUnit::Month => None,
        CalendarUnit::Week => Some("wk"),
        CalendarUnit::Day => Some("d"),
        CalendarUnit::Hour => Some("h"),
        CalendarUnit::Minute => Some("min"),
        CalendarUnit::Second => Some("s"),
        CalendarUnit::Millisecond => Some("ms"),
    }
}

/// A FHIRPath `Quantity` (and FHIR `Quantity` with a UCUM code): a decimal value and a unit.
///
/// Comparison rules (FHIRPath R4 / N1, "Quantity" and "Date/Time Arithmetic"):
/// * quantities in the same unit compare by value without any unit lookup (fast path);
/// * UCUM units compare after converting the right operand into the left's unit; units of
///   different dimension are not comparable (`None`);
/// * calendar `week` and finer have fixed lengths and compare with each other and with the UCUM
///   codes `wk`, `d`, `h`, `min`, `s`, `ms` (`1 week = 7 days`, `1 'wk' = 1 week`);
/// * calendar `year` and `month` compare with each other (a year is 12 months) but not with
///   UCUM `a`/`mo` nor with days: `1 year = 1 'a'` is empty (`None`), while
///   `1 year ~ 1 'a'` is true ([`Quantity::equivalent`] reads year as `a`, month as `mo`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// The value.
    pub value: Decimal,
    /// The unit.
    pub unit: QuantityUnit,
}

impl Quantity {
    /// A quantity with the given unit.
    pub fn new(value: Decimal, unit: QuantityUnit) -> Quantity {
        Quantity { value, unit }
    }

    /// A quantity with a UCUM unit code (parsed through the cache).
    pub fn ucum(value: Decimal, code: &str) -> Result<Quantity, UcumError> {
        Ok(Quantity::new(value, QuantityUnit::ucum(code)?))
    }

    /// A calendar duration (`3 days`).
    pub fn calendar(value: Decimal, unit: CalendarUnit) -> Quantity {
        Quantity::new(value, QuantityUnit::Calendar(unit))
    }

    /// A dimensionless quantity in unit `'1'` (FHIRPath's default when no unit is given).
    pub fn unity(value: Decimal) -> Quantity {
        Quantity::new(value, QuantityUnit::Ucum(Unit::unity()))
    }

    /// The value expressed in `target` (affine temperatures included).
    pub fn value_in(&self, target: &Unit) -> Result<Decimal, UcumError> {
        if let QuantityUnit::Ucum(u) = &self.unit {
            if u.code() == target.code() {
                return Ok(self.value);
            }
        }
        self.unit.to_ucum()?.convert_value(self.value, target)
    }

    /// This quantity converted into `target` (`98.6 '[degF]'` → `37 'Cel'`).
    pub fn convert_to(&self, target: &Arc<Unit>) -> Result<Quantity, UcumError> {
        Ok(Quantity::new(
            self.value_in(target)?,
            QuantityUnit::Ucum(Arc::clone(target)),
        ))
    }

    /// This quantity converted into the unit with UCUM code `code`.
    pub fn convert_to_code(&self, code: &str) -> Result<Quantity, UcumError> {
        self.convert_to(&Unit::parse(code)?)
    }

    /// `other`'s value expressed in this quantity's unit, for comparison and addition.
    /// `difference` ignores affine offsets (for adding temperature intervals).
    fn other_in_my_unit(&self, other: &Quantity, difference: bool) -> Result<Decimal, UcumError> {
        if self.unit.same_as(&other.unit) {
            return Ok(other.value);
        }
        match (self.unit.calendar_months(), other.unit.calendar_months()) {
            (Some(mine), Some(theirs)) => {
                let months = other
                    .value
                    .checked_mul(Decimal::from(theirs))
                    .ok_or(UcumError::Overflow)?;
                return months
                    .checked_div(Decimal::from(mine))
                    .map(tidy)
                    .ok_or(UcumError::Overflow);
            }
            (None, None) => {}
            _ => return Err(UcumError::Incommensurable),
        }
        let mine = self
            .unit
            .to_ucum()
            .map_err(|_| UcumError::Incommensurable)?;
        let theirs = other
            .unit
            .to_ucum()
            .map_err(|_| UcumError::Incommensurable)?;
        if difference {
            theirs.convert_difference(other.value, &mine)
        } else {
            theirs.convert_value(other.value, &mine)
        }
    }

    /// FHIRPath ordering; `None` when the units are not comparable.
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        if self.unit.same_as(&other.unit) {
            return Some(self.value.cmp(&other.value));
        }
        let theirs = self.other_in_my_unit(other, false).ok()?;
        Some(self.value.cmp(&theirs))
    }

    /// FHIRPath `=`: `None` when the units are not comparable (including `1 year = 1 'a'`).
    pub fn equals(&self, other: &Quantity) -> Option<bool> {
        self.compare(other).map(|o| o == Ordering::Equal)
    }

    /// FHIRPath `~`: comparable and equal after rounding both values to the fewer decimal
    /// places of the two operands as written; calendar year/month are read as `a`/`mo`.
    pub fn equivalent(&self, other: &Quantity) -> bool {
        let theirs = match self.other_in_my_unit(other, false) {
            Ok(v) => v,
            Err(_) => {
                let loose = self.unit.to_ucum_loose().and_then(|mine| {
                    other
                        .unit
                        .to_ucum_loose()
                        .and_then(|u| u.convert_value(other.value, &mine))
                });
                match loose {
                    Ok(v) => v,
                    Err(_) => return false,
                }
            }
        };
        let dp = self.value.scale().min(other.value.scale());
        self.value.round_dp(dp) == theirs.round_dp(dp)
    }

    /// `self + other`, in this quantity's unit. Affine temperatures add as intervals
    /// (`37 'Cel' + 1 'K'` is `38 'Cel'`).
    pub fn add(&self, other: &Quantity) -> Result<Quantity, UcumError> {
        let theirs = self.other_in_my_unit(other, true)?;
        let value = self.value.checked_add(theirs).ok_or(UcumError::Overflow)?;
        Ok(Quantity::new(value, self.unit.clone()))
    }

    /// `self - other`, in this quantity's unit.
    pub fn sub(&self, other: &Quantity) -> Result<Quantity, UcumError> {
        let theirs = self.other_in_my_unit(other, true)?;
        let value = self.value.checked_sub(theirs).ok_or(UcumError::Overflow)?;
        Ok(Quantity::new(value, self.unit.clone()))
    }

    /// `self * other` with unit algebra (`2 'kg' * 3 'm'` is `6 'kg.m'`). Calendar durations
    /// of week and finer take their UCUM unit; years and months are refused.
    pub fn mul(&self, other: &Quantity) -> Result<Quantity, UcumError> {
        let a = self.unit.to_ucum()?;
        let b = other.unit.to_ucum()?;
        let value = self
            .value
            .checked_mul(other.value)
            .ok_or(UcumError::Overflow)?;
        Ok(Quantity::new(value, QuantityUnit::Ucum(a.multiply(&b)?)))
    }

    /// `self / other` with unit algebra (`2 'kg' / 4 'm2'` is `0.5 'kg/m2'`); commensurable
    /// units cancel to `'1'` after conversion (`1 'g' / 500 'mg'` is `2 '1'`).
    pub fn div(&self, other: &Quantity) -> Result<Quantity, UcumError> {
        if other.value.is_zero() {
            return Err(UcumError::DivisionByZero);
        }
        let a = self.unit.to_ucum()?;
        let b = other.unit.to_ucum()?;
        if a.is_commensurable(&b) && !a.is_affine() && !b.is_affine() {
            let theirs = b.convert_value(other.value, &a)?;
            if theirs.is_zero() {
                return Err(UcumError::DivisionByZero);
            }
            let value = self.value.checked_div(theirs).ok_or(UcumError::Overflow)?;
            return Ok(Quantity::unity(tidy(value)));
        }
        let value = self
            .value
            .checked_div(other.value)
            .ok_or(UcumError::Overflow)?;
        Ok(Quantity::new(
            tidy(value),
            QuantityUnit::Ucum(a.divide(&b)?),
        ))
    }

    /// A number times this quantity, keeping the unit.
    pub fn scale(&self, factor: Decimal) -> Result<Quantity, UcumError> {
        let value = self.value.checked_mul(factor).ok_or(UcumError::Overflow)?;
        Ok(Quantity::new(value, self.unit.clone()))
    }
}

impl fmt::Display for Quantity {
    /// FHIRPath form: `5.5 'mg/dL'`, `1 day`, `3 days`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.unit {
            QuantityUnit::Ucum(u) => {
                write!(f, "{} '", self.value)?;
                for c in u.code().chars() {
                    match c {
                        '\'' => f.write_str("\\'")?,
                        '\\' => f.write_str("\\\\")?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("'")
            }
            QuantityUnit::Calendar(c) => {
                let word = if self.value == Decimal::ONE {
                    c.singular()
                } else {
                    c.plural()
                };
                write!(f, "{} {word}", self.value)
            }
        }
    }
}
