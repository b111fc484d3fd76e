//! Hand-written readers for the FHIR and FHIRPath lexical forms of dates and times.

use super::error::{Field, Problem, Target, TemporalError};
use super::{days_in_month, MAX_YEAR, MIN_YEAR};

/// The date part as read: year, month, day.
pub(crate) type DateParts = (i32, Option<u8>, Option<u8>);
/// The time part as read: hour, minute, second, millisecond.
pub(crate) type TimeParts = (u8, Option<u8>, Option<u8>, Option<u16>);

/// A position in the bytes of the string being read.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    target: Target,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str, target: Target) -> Result<Self, TemporalError> {
        let c = Cursor {
            bytes: text.as_bytes(),
            pos: 0,
            target,
        };
        if text.is_empty() {
            return Err(c.error(Problem::Empty));
        }
        Ok(c)
    }

    pub(crate) fn error(&self, problem: Problem) -> TemporalError {
        self.error_at(self.pos, problem)
    }

    fn error_at(&self, offset: usize, problem: Problem) -> TemporalError {
        TemporalError::Parse {
            target: self.target,
            offset,
            problem,
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Consumes `b` if it is next.
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn expect(&mut self, b: u8) -> Result<(), TemporalError> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.error(Problem::ExpectedSeparator(char::from(b))))
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), TemporalError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.error(Problem::TrailingCharacters))
        }
    }

    /// Reads exactly `n` ASCII digits as a number, checking it lies in `min..=max`.
    fn number(&mut self, n: usize, field: Field, min: u32, max: u32) -> Result<u32, TemporalError> {
        let start = self.pos;
        let mut value: u32 = 0;
        for _ in 0..n {
            match self.peek() {
                Some(d @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(d - b'0');
                    self.pos += 1;
                }
                _ => return Err(self.error(Problem::ExpectedDigit(field))),
            }
        }
        if value < min || value > max {
            return Err(self.error_at(start, Problem::OutOfRange(field)));
        }
        Ok(value)
    }

    /// Reads `YYYY`, `YYYY-MM` or `YYYY-MM-DD`, stopping before anything else.
    pub(crate) fn date(&mut self) -> Result<DateParts, TemporalError> {
        // 4 digits fit in u32 and MIN_YEAR/MAX_YEAR are positive.
        let year = self.number(4, Field::Year, MIN_YEAR as u32, MAX_YEAR as u32)? as i32;
        if !self.eat(b'-') {
            return Ok((year, None, None));
        }
        let month = self.number(2, Field::Month, 1, 12)? as u8;
        if !self.eat(b'-') {
            return Ok((year, Some(month), None));
        }
        let day_start = self.pos;
        let day = self.number(2, Field::Day, 1, 31)? as u8;
        if day > days_in_month(year, month) {
            return Err(self.error_at(day_start, Problem::OutOfRange(Field::Day)));
        }
        Ok((year, Some(month), Some(day)))
    }

    /// Reads `hh`, `hh:mm`, `hh:mm:ss` or `hh:mm:ss.f…` (any number of fraction digits; the
    /// first three are kept as milliseconds, the rest are truncated).
    pub(crate) fn time(&mut self) -> Result<TimeParts, TemporalError> {
        let hour = self.number(2, Field::Hour, 0, 23)? as u8;
        if !self.eat(b':') {
            return Ok((hour, None, None, None));
        }
        let minute = self.number(2, Field::Minute, 0, 59)? as u8;
        if !self.eat(b':') {
            return Ok((hour, Some(minute), None, None));
        }
        let second = self.number(2, Field::Second, 0, 59)? as u8;
        if !self.eat(b'.') {
            return Ok((hour, Some(minute), Some(second), None));
        }
        let mut millis: u16 = 0;
        let mut digits = 0usize;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            if digits < 3 {
                millis = millis * 10 + u16::from(d - b'0');
            }
            digits += 1;
            self.pos += 1;
        }
        if digits == 0 {
            return Err(self.error(Problem::ExpectedDigit(Field::Millisecond)));
        }
        for _ in digits..3 {
            millis *= 10;
        }
        Ok((hour, Some(minute), Some(second), Some(millis)))
    }

    /// Reads a timezone offset `Z`, `+hh:mm` or `-hh:mm` (within ±14:00) as minutes east of UTC.
    pub(crate) fn offset(&mut self) -> Result<i16, TemporalError> {
        if self.eat(b'Z') {
            return Ok(0);
        }
        let start = self.pos;
        let sign: i16 = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return Err(self.error(Problem::ExpectedOffset));
        };
        let hours = self.number(2, Field::Offset, 0, 14)? as i16;
        self.expect(b':')?;
        let minutes = self.number(2, Field::Offset, 0, 59)? as i16;
        let total = hours * 60 + minutes;
        if total > 14 * 60 {
            return Err(self.error_at(start, Problem::OutOfRange(Field::Offset)));
        }
        Ok(sign * total)
    }
}
