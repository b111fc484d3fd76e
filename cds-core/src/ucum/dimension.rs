//! [`Dimension`]: the exponents of the UCUM base units (plus mol, eq and each arbitrary unit)
//! that a unit is made of.

use std::fmt;

use super::error::UcumError;

/// Number of exponent slots: 9 base dimensions and up to 23 arbitrary units.
pub(crate) const SLOTS: usize = 32;

/// The names of the 9 base slots (UCUM base units, plus `mol` and `eq` kept as their own
/// dimensions).
pub(crate) const BASE_NAMES: [&str; 9] = ["m", "g", "s", "rad", "K", "C", "cd", "mol", "eq"];

/// The kind of quantity a unit measures, as exponents of base units.
///
/// Two units are commensurable (convertible) exactly when their dimensions are equal.
/// `mol` and `eq` are separate dimensions (UCUM defines mol via Avogadro's number and eq as
/// mol, but converting mmol/L to mg/dL needs a molar mass and mmol to meq a valence), and
/// every arbitrary unit such as `[IU]` is a dimension of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dimension(pub(crate) [i16; SLOTS]);

impl Dimension {
    /// The dimensionless dimension (unity, `%`, `{score}`).
    pub const NONE: Dimension = Dimension([0; SLOTS]);

    pub(crate) fn base(slot: usize) -> Dimension {
        let mut d = [0; SLOTS];
        if let Some(s) = d.get_mut(slot) {
            *s = 1;
        }
        Dimension(d)
    }

    /// Whether this is dimensionless.
    pub fn is_dimensionless(&self) -> bool {
        *self == Dimension::NONE
    }

    pub(crate) fn mul(&self, other: &Dimension) -> Result<Dimension, UcumError> {
        let mut out = [0i16; SLOTS];
        for (o, (a, b)) in out.iter_mut().zip(self.0.iter().zip(other.0.iter())) {
            *o = a.checked_add(*b).ok_or(UcumError::Overflow)?;
        }
        Ok(Dimension(out))
    }

    pub(crate) fn powi(&self, exp: i16) -> Result<Dimension, UcumError> {
        let mut out = [0i16; SLOTS];
        for (o, a) in out.iter_mut().zip(self.0.iter()) {
            *o = a.checked_mul(exp).ok_or(UcumError::Overflow)?;
        }
        Ok(Dimension(out))
    }
}

impl fmt::Display for Dimension {
    /// Base-unit form such as `g.m-1.s-2`; arbitrary units show as `arb#n`; `1` when
    /// dimensionless.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (i, e) in self.0.iter().enumerate() {
            if *e == 0 {
                continue;
            }
            if !first {
                f.write_str(".")?;
            }
            first = false;
            match BASE_NAMES.get(i) {
                Some(name) => f.write_str(name)?,
                None => write!(f, "arb#{}", i - BASE_NAMES.len())?,
            }
            if *e != 1 {
                write!(f, "{e}")?;
            }
        }
        if first {
            f.write_str("1")?;
        }
        Ok(())
    }
}
