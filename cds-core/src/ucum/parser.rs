//! A recursive-descent parser for UCUM unit expressions (case-sensitive form):
//!
//! ```text
//! main      := '/' term | term
//! term      := component (('.' | '/') component)*      -- left to right, equal precedence
//! component := '(' main ')' annotation?
//!            | annotation                               -- unity, e.g. {score}
//!            | digits annotation?                       -- a factor, e.g. 1, 1000
//!            | symbol exponent? annotation?             -- prefix? atom, e.g. mm[Hg], cm3, 10*3
//! exponent  := ('+' | '-')? digits
//! ```

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::atoms::{Atom, PREFIXES};
use super::dimension::Dimension;
use super::error::{UcumError, UnitProblem};
use super::magnitude::Magnitude;

/// The meaning of a parsed expression.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Term {
    pub(crate) magnitude: Magnitude,
    pub(crate) dimension: Dimension,
    /// Set only when the whole expression is one unprefixed affine atom (`Cel`, `[degF]`).
    pub(crate) offset: Option<Decimal>,
}

impl Term {
    const UNITY: Term = Term {
        magnitude: Magnitude::ONE,
        dimension: Dimension::NONE,
        offset: None,
    };

    fn mul(self, other: Term) -> Result<Term, UcumError> {
        Ok(Term {
            magnitude: self.magnitude.mul(other.magnitude)?,
            dimension: self.dimension.mul(&other.dimension)?,
            offset: None,
        })
    }

    fn powi(self, exp: i16) -> Result<Term, UcumError> {
        Ok(Term {
            magnitude: self.magnitude.powi(i32::from(exp))?,
            dimension: self.dimension.powi(exp)?,
            offset: if exp == 1 { self.offset } else { None },
        })
    }

    fn inverse(self) -> Result<Term, UcumError> {
        self.powi(-1)
    }
}

/// Parses `text` against the given atom table.
pub(crate) fn parse_with(
    text: &str,
    atoms: &HashMap<&'static str, Atom>,
) -> Result<Term, UcumError> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        pos: 0,
        atoms,
    };
    if text.is_empty() {
        return Err(p.error(UnitProblem::Empty));
    }
    let term = p.main()?;
    if p.pos < p.bytes.len() {
        let problem = if p.peek() == Some(b')') {
            UnitProblem::UnbalancedParenthesis
        } else {
            UnitProblem::UnexpectedCharacter
        };
        return Err(p.error(problem));
    }
    Ok(term)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
    atoms: &'a HashMap<&'static str, Atom>,
}

impl<'a> Parser<'a> {
    fn error(&self, problem: UnitProblem) -> UcumError {
        self.error_at(self.pos, problem)
    }

    fn error_at(&self, offset: usize, problem: UnitProblem) -> UcumError {
        UcumError::Syntax { offset, problem }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn main(&mut self) -> Result<Term, UcumError> {
        if self.eat(b'/') {
            self.term()?.inverse()
        } else {
            self.term()
        }
    }

    fn term(&mut self) -> Result<Term, UcumError> {
        let mut acc = self.component()?;
        loop {
            if self.eat(b'.') {
                acc = acc.mul(self.component()?)?;
            } else if self.eat(b'/') {
                acc = acc.mul(self.component()?.inverse()?)?;
            } else {
                return Ok(acc);
            }
        }
    }

    fn component(&mut self) -> Result<Term, UcumError> {
        let start = self.pos;
        let term = match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let inner = self.main()?;
                if !self.eat(b')') {
                    return Err(self.error_at(start, UnitProblem::UnbalancedParenthesis));
                }
                inner
            }
            Some(b'{') => {
                self.annotation()?;
                return Ok(Term::UNITY);
            }
            Some(b'0'..=b'9') => self.number_or_ten_power()?,
            Some(b')') => return Err(self.error(UnitProblem::UnbalancedParenthesis)),
            None | Some(b'.' | b'/') => return Err(self.error(UnitProblem::ExpectedUnit)),
            Some(_) => self.symbol_with_exponent()?,
        };
        if self.peek() == Some(b'{') {
            self.annotation()?;
        }
        Ok(term)
    }

    /// `{...}`: printable ASCII other than braces; ignored for the unit's meaning.
    fn annotation(&mut self) -> Result<(), UcumError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None => return Err(self.error_at(start, UnitProblem::UnclosedAnnotation)),
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'{') => return Err(self.error(UnitProblem::UnexpectedCharacter)),
                Some(0x20..=0x7e) => self.pos += 1,
                Some(_) => return Err(self.error(UnitProblem::UnexpectedCharacter)),
            }
        }
    }

    fn digits(&mut self) -> &'a [u8] {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let bytes: &'a [u8] = self.bytes;
        bytes.get(start..self.pos).unwrap_or_default()
    }

    /// A factor (`1`, `1000`) or the atoms `10*` / `10^` with their exponent (`10*3`).
    fn number_or_ten_power(&mut self) -> Result<Term, UcumError> {
        let start = self.pos;
        let digits = self.digits();
        if digits == b"10" && matches!(self.peek(), Some(b'*' | b'^')) {
            self.pos += 1;
            let atom_end = self.pos;
            let symbol = std::str::from_utf8(self.bytes.get(start..atom_end).unwrap_or_default())
                .unwrap_or_default();
            let atom = self.lookup(symbol, start)?;
            let exp = self.exponent()?.unwrap_or(1);
            return atom.powi(exp);
        }
        let mut value = Decimal::ZERO;
        for d in digits {
            value = value
                .checked_mul(Decimal::TEN)
                .and_then(|v| v.checked_add(Decimal::from(d - b'0')))
                .ok_or(self.error_at(start, UnitProblem::FactorTooLarge))?;
        }
        Ok(Term {
            magnitude: Magnitude::from_decimal(value),
            dimension: Dimension::NONE,
            offset: None,
        })
    }

    fn symbol_with_exponent(&mut self) -> Result<Term, UcumError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b'[' => {
                    let open = self.pos;
                    loop {
                        self.pos += 1;
                        match self.peek() {
                            None => return Err(self.error_at(open, UnitProblem::UnclosedBracket)),
                            Some(b']') => {
                                self.pos += 1;
                                break;
                            }
                            Some(0x21..=0x7e) => {}
                            Some(_) => return Err(self.error(UnitProblem::UnexpectedCharacter)),
                        }
                    }
                }
                b'.' | b'/' | b'(' | b')' | b'{' | b'}' | b'+' | b'-' | b'0'..=b'9' => break,
                b']' => return Err(self.error(UnitProblem::UnexpectedCharacter)),
                0x21..=0x7e => self.pos += 1,
                _ => return Err(self.error(UnitProblem::UnexpectedCharacter)),
            }
        }
        if self.pos == start {
            return Err(self.error(UnitProblem::ExpectedUnit));
        }
        let symbol = std::str::from_utf8(self.bytes.get(start..self.pos).unwrap_or_default())
            .unwrap_or_default();
        let atom = self.lookup(symbol, start)?;
        let exp = self.exponent()?.unwrap_or(1);
        atom.powi(exp)
    }

    /// Resolves `prefix? atom`, preferring an exact atom match.
    fn lookup(&self, symbol: &str, offset: usize) -> Result<Term, UcumError> {
        if let Some(atom) = self.atoms.get(symbol) {
            return Ok(Term {
                magnitude: atom.magnitude,
                dimension: atom.dimension,
                offset: atom.offset,
            });
        }
        let mut problem = UnitProblem::UnknownAtom;
        for (prefix, exp10) in PREFIXES {
            let Some(rest) = symbol.strip_prefix(prefix) else {
                continue;
            };
            let Some(atom) = self.atoms.get(rest) else {
                continue;
            };
            if !atom.metric {
                problem = UnitProblem::PrefixNotAllowed;
                continue;
            }
            return Ok(Term {
                magnitude: Magnitude::power_of_ten(*exp10).mul(atom.magnitude)?,
                dimension: atom.dimension,
                offset: None,
            });
        }
        Err(self.error_at(offset, problem))
    }

    /// An optional signed integer exponent, |e| ≤ 99.
    fn exponent(&mut self) -> Result<Option<i16>, UcumError> {
        let start = self.pos;
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            Some(b'0'..=b'9') => false,
            _ => return Ok(None),
        };
        let digits = self.digits();
        if digits.is_empty() {
            return Err(self.error_at(start, UnitProblem::BadExponent));
        }
        if digits.len() > 2 {
            return Err(self.error_at(start, UnitProblem::ExponentTooLarge));
        }
        let mut value: i16 = 0;
        for d in digits {
            value = value * 10 + i16::from(d - b'0');
        }
        Ok(Some(if negative { -value } else { value }))
    }
}
