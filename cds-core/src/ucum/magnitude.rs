//! [`Magnitude`]: a positive scale factor as a 28-digit decimal mantissa times a power of ten,
//! so that unit factors from yocto to yotta (and their powers) stay exact where decimal allows.

use rust_decimal::Decimal;

use super::error::UcumError;

/// `mantissa × 10^exp10`, with the mantissa normalised to `[1, 10)` (or zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Magnitude {
    mantissa: Decimal,
    exp10: i32,
}

/// The largest power of ten a single Decimal step handles.
const MAX_STEP: u32 = 28;

fn pow10(k: u32) -> Decimal {
    let mut v = Decimal::ONE;
    for _ in 0..k.min(MAX_STEP) {
        v *= Decimal::TEN;
    }
    v
}

impl Magnitude {
    /// One.
    pub(crate) const ONE: Magnitude = Magnitude {
        mantissa: Decimal::ONE,
        exp10: 0,
    };

    /// `10^exp10`.
    pub(crate) fn power_of_ten(exp10: i32) -> Magnitude {
        Magnitude {
            mantissa: Decimal::ONE,
            exp10,
        }
    }

    /// A magnitude equal to `d` (normalised).
    pub(crate) fn from_decimal(d: Decimal) -> Magnitude {
        Magnitude {
            mantissa: d,
            exp10: 0,
        }
        .normalised()
    }

    fn normalised(self) -> Magnitude {
        let m = self.mantissa.mantissa();
        if m == 0 {
            return Magnitude {
                mantissa: Decimal::ZERO,
                exp10: 0,
            };
        }
        let digits = m.unsigned_abs().checked_ilog10().unwrap_or(0);
        let scale = self.mantissa.scale();
        match Decimal::try_from_i128_with_scale(m, digits) {
            Ok(mantissa) => Magnitude {
                mantissa,
                exp10: self
                    .exp10
                    .saturating_add(digits as i32)
                    .saturating_sub(scale as i32),
            },
            Err(_) => self,
        }
    }

    #[cfg(test)]
    pub(crate) fn is_zero(&self) -> bool {
        self.mantissa.is_zero()
    }

    pub(crate) fn mul(self, other: Magnitude) -> Result<Magnitude, UcumError> {
        let mantissa = self
            .mantissa
            .checked_mul(other.mantissa)
            .ok_or(UcumError::Overflow)?;
        let exp10 = self
            .exp10
            .checked_add(other.exp10)
            .ok_or(UcumError::Overflow)?;
        Ok(Magnitude { mantissa, exp10 }.normalised())
    }

    pub(crate) fn div(self, other: Magnitude) -> Result<Magnitude, UcumError> {
        let mantissa = self
            .mantissa
            .checked_div(other.mantissa)
            .ok_or(UcumError::DivisionByZero)?;
        let exp10 = self
            .exp10
            .checked_sub(other.exp10)
            .ok_or(UcumError::Overflow)?;
        Ok(Magnitude { mantissa, exp10 }.normalised())
    }

    /// `self^exp` for a small integer exponent.
    pub(crate) fn powi(self, exp: i32) -> Result<Magnitude, UcumError> {
        let mut acc = Magnitude::ONE;
        for _ in 0..exp.unsigned_abs() {
            acc = acc.mul(self)?;
        }
        if exp < 0 {
            Magnitude::ONE.div(acc)
        } else {
            Ok(acc)
        }
    }

    /// `value × self` as a Decimal (rounded to Decimal's 28 significant digits).
    pub(crate) fn apply(self, value: Decimal) -> Result<Decimal, UcumError> {
        let mut v = value
            .checked_mul(self.mantissa)
            .ok_or(UcumError::Overflow)?;
        let mut e = self.exp10;
        while e > 0 {
            let step = e.unsigned_abs().min(MAX_STEP);
            v = v.checked_mul(pow10(step)).ok_or(UcumError::Overflow)?;
            e -= step as i32;
        }
        while e < 0 {
            let step = e.unsigned_abs().min(MAX_STEP);
            let mut shifted = v;
            if shifted.scale() + step <= MAX_STEP
                && shifted.set_scale(shifted.scale() + step).is_ok()
            {
                v = shifted;
            } else {
                v = v.checked_div(pow10(step)).ok_or(UcumError::Overflow)?;
            }
            e += step as i32;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn normalises_and_applies() {
        let m = Magnitude::from_decimal(dec("133.322"));
        assert_eq!(m.apply(dec("120")), Ok(dec("15998.640")));
        let tiny = Magnitude::power_of_ten(-24).mul(Magnitude::power_of_ten(-3));
        assert_eq!(tiny.and_then(|t| t.apply(dec("5"))), Ok(dec("5e-27")));
        let ratio = Magnitude::from_decimal(dec("5")).div(Magnitude::from_decimal(dec("9")));
        let back = ratio.and_then(|r| r.apply(dec("9")));
        assert_eq!(back.map(|b| b.round_dp(20)), Ok(dec("5")));
        assert_eq!(
            Magnitude::from_decimal(dec("2"))
                .powi(-2)
                .and_then(|m| m.apply(dec("1"))),
            Ok(dec("0.25"))
        );
        assert_eq!(
            Magnitude::from_decimal(Decimal::ZERO)
                .div(Magnitude::ONE)
                .map(|m| m.is_zero()),
            Ok(true)
        );
        assert_eq!(
            Magnitude::ONE.div(Magnitude::from_decimal(Decimal::ZERO)),
            Err(UcumError::DivisionByZero)
        );
    }
}
