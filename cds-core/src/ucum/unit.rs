//! [`Unit`]: a parsed UCUM unit, cached by code.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock, RwLock};

use rust_decimal::Decimal;

use super::atoms;
use super::dimension::Dimension;
use super::error::UcumError;
use super::magnitude::Magnitude;
use super::parser;

/// Significant digits kept in converted values (Decimal carries 28; the last few absorb
/// rounding from factors such as 5/9).
pub(crate) const RESULT_DIGITS: u32 = 20;

/// How many distinct unit codes the global cache keeps before it stops adding.
const CACHE_LIMIT: usize = 4096;

/// A UCUM unit: its code as written, its size in base units and its [`Dimension`].
///
/// Two units are equal when their codes are equal; use [`Unit::is_commensurable`] to ask
/// whether they measure the same kind of quantity.
#[derive(Debug, Clone)]
pub struct Unit {
    code: Box<str>,
    magnitude: Magnitude,
    dimension: Dimension,
    offset: Option<Decimal>,
}

impl Unit {
    /// Parses a UCUM code (case-sensitive), returning a shared unit from a process-wide cache
    /// so that repeated codes are parsed once.
    ///
    /// ```
    /// use cds_core::ucum::Unit;
    /// let u = Unit::parse("mm[Hg]")?;
    /// assert!(u.is_commensurable(&*Unit::parse("kPa")?));
    /// assert!(!u.is_commensurable(&*Unit::parse("kg")?));
    /// # Ok::<(), cds_core::ucum::UcumError>(())
    /// ```
    pub fn parse(code: &str) -> Result<Arc<Unit>, UcumError> {
        static CACHE: OnceLock<RwLock<HashMap<Box<str>, Arc<Unit>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| RwLock::new(HashMap::new()));
        if let Ok(map) = cache.read() {
            if let Some(u) = map.get(code) {
                return Ok(Arc::clone(u));
            }
        }
        let unit = Arc::new(Unit::parse_uncached(code)?);
        if let Ok(mut map) = cache.write() {
            if map.len() < CACHE_LIMIT {
                map.insert(code.into(), Arc::clone(&unit));
            }
        }
        Ok(unit)
    }

    /// Parses a UCUM code without the cache.
    pub fn parse_uncached(code: &str) -> Result<Unit, UcumError> {
        let term = parser::parse_with(code, atoms::atoms())?;
        Ok(Unit {
            code: code.into(),
            magnitude: term.magnitude,
            dimension: term.dimension,
            offset: term.offset,
        })
    }

    /// The unity unit `1`.
    pub fn unity() -> Arc<Unit> {
        static ONE: OnceLock<Arc<Unit>> = OnceLock::new();
        Arc::clone(ONE.get_or_init(|| {
            Arc::new(Unit {
                code: "1".into(),
                magnitude: Magnitude::ONE,
                dimension: Dimension::NONE,
                offset: None,
            })
        }))
    }

    /// The code as written.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// What the unit measures.
    pub fn dimension(&self) -> &Dimension {
        &self.dimension
    }

    /// Whether values in the two units can be converted into each other.
    pub fn is_commensurable(&self, other: &Unit) -> bool {
        self.dimension == other.dimension
    }

    /// Whether this is an affine scale (`Cel`, `[degF]`, `[degRe]`) with an offset from zero.
    pub fn is_affine(&self) -> bool {
        self.offset.is_some()
    }

    /// Whether this unit is dimensionless (`1`, `%`, `{score}`, `10*3`).
    pub fn is_dimensionless(&self) -> bool {
        self.dimension.is_dimensionless()
    }

    /// Converts `value` from this unit into `target`, including the offset of affine
    /// temperature scales (37 Cel → 98.6 \[degF\]).
    pub fn convert_value(&self, value: Decimal, target: &Unit) -> Result<Decimal, UcumError> {
        self.convert(value, target, true)
    }

    /// Converts a difference (an interval) of `value` from this unit into `target`: affine
    /// offsets are ignored (a rise of 1 Cel is a rise of 1.8 \[degF\]).
    pub fn convert_difference(&self, value: Decimal, target: &Unit) -> Result<Decimal, UcumError> {
        self.convert(value, target, false)
    }

    fn convert(&self, value: Decimal, target: &Unit, affine: bool) -> Result<Decimal, UcumError> {
        if self.code == target.code {
            return Ok(value);
        }
        if self.dimension != target.dimension {
            return Err(UcumError::Incommensurable);
        }
        let ratio = self.magnitude.div(target.magnitude)?;
        let shifted = match (affine, self.offset) {
            (true, Some(off)) => value.checked_add(off).ok_or(UcumError::Overflow)?,
            _ => value,
        };
        let mut out = ratio.apply(shifted)?;
        if let (true, Some(off)) = (affine, target.offset) {
            out = out.checked_sub(off).ok_or(UcumError::Overflow)?;
        }
        Ok(tidy(out))
    }

    /// The unit `self . other` (code `a.b`, parenthesised where needed).
    pub fn multiply(&self, other: &Unit) -> Result<Arc<Unit>, UcumError> {
        if other.code() == "1" {
            return Ok(Arc::new(self.clone()));
        }
        if self.code() == "1" {
            return Ok(Arc::new(other.clone()));
        }
        self.combine(other, '.')
    }

    /// The unit `self / other` (code `a/b`, parenthesised where needed).
    pub fn divide(&self, other: &Unit) -> Result<Arc<Unit>, UcumError> {
        if other.code() == "1" {
            return Ok(Arc::new(self.clone()));
        }
        if self.code == other.code {
            return Ok(Unit::unity());
        }
        self.combine(other, '/')
    }

    fn combine(&self, other: &Unit, op: char) -> Result<Arc<Unit>, UcumError> {
        let code = format!("{}{op}{}", wrap(self.code()), wrap(other.code()));
        let inverse = op == '/';
        let magnitude = if inverse {
            self.magnitude.div(other.magnitude)?
        } else {
            self.magnitude.mul(other.magnitude)?
        };
        let other_dim = if inverse {
            other.dimension.powi(-1)?
        } else {
            other.dimension
        };
        Ok(Arc::new(Unit {
            code: code.into(),
            magnitude,
            dimension: self.dimension.mul(&other_dim)?,
            offset: None,
        }))
    }
}

/// Rounds a computed value to [`RESULT_DIGITS`] significant digits and drops trailing zeros.
pub(crate) fn tidy(d: Decimal) -> Decimal {
    d.round_sf(RESULT_DIGITS).unwrap_or(d).normalize()
}

/// Puts a code in parentheses when it holds an operator, so it can be an operand.
fn wrap(code: &str) -> String {
    let mut depth = 0i32;
    let mut needs = false;
    for c in code.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            '.' | '/' if depth == 0 => needs = true,
            _ => {}
        }
    }
    if needs {
        format!("({code})")
    } else {
        code.to_string()
    }
}

impl PartialEq for Unit {
    fn eq(&self, other: &Unit) -> bool {
        self.code == other.code
    }
}

impl Eq for Unit {}

impl Hash for Unit {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code.hash(state);
    }
}

impl fmt::Display for Unit {
    /// The code as written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}
