//! Where a script sits in its ruleset file: rhai positions (line and column inside the
//! script) mapped back to byte offsets of the file.

use crate::ast::{Span, Text};

/// The length of the `"""` that opens and closes a script.
const QUOTES: usize = 3;

/// A script's text and where it is in the ruleset file.
#[derive(Debug, Clone)]
pub(crate) struct ScriptText {
    /// The verbatim script, as rhai sees it.
    pub(crate) text: String,
    /// The whole literal in the file, quotes included.
    pub(crate) literal: Span,
    /// The file offset of the script's first byte (just after the opening quotes).
    start: usize,
}

impl ScriptText {
    pub(crate) fn new(script: &Text) -> ScriptText {
        ScriptText {
            text: script.value.clone(),
            literal: script.span,
            start: script.span.start.saturating_add(QUOTES),
        }
    }

    /// The span of the token at a rhai position (1-based line; 1-based column in
    /// characters, `None` at the beginning of a line), or the whole literal when rhai gives
    /// no position.
    pub(crate) fn span_at(&self, pos: rhai::Position) -> Span {
        match pos.line() {
            Some(line) => {
                let offset = self.offset_of(line, pos.position().unwrap_or(1));
                self.token_span(offset)
            }
            None => self.literal,
        }
    }

    /// The span of `len` bytes at a rhai position (for a name whose length is known).
    pub(crate) fn span_of_len(&self, pos: rhai::Position, len: usize) -> Span {
        match pos.line() {
            Some(line) => {
                let offset = self.offset_of(line, pos.position().unwrap_or(1));
                let end = (offset + len).min(self.text.len());
                if self.text.is_char_boundary(end) && end > offset {
                    Span::new(self.start + offset, self.start + end)
                } else {
                    self.token_span(offset)
                }
            }
            None => self.literal,
        }
    }

    /// The byte offset inside the script of a 1-based line and column (in characters).
    /// Lines end at `\n`; positions past a line's end stop at it, past the text at its end.
    fn offset_of(&self, line: usize, column: usize) -> usize {
        let mut line_start = 0;
        for _ in 1..line {
            match self.text[line_start..].find('\n') {
                Some(i) => line_start += i + 1,
                None => return self.text.len(),
            }
        }
        let rest = &self.text[line_start..];
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let line_text = &rest[..line_end];
        let within = line_text
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(line_text.len(), |(i, _)| i);
        line_start + within
    }

    /// The span in the file of the token starting at a script offset: a run of identifier
    /// characters, otherwise one character; at the very end, the closing quotes.
    fn token_span(&self, offset: usize) -> Span {
        let rest = &self.text[offset..];
        let Some(first) = rest.chars().next() else {
            let at = self.start + self.text.len();
            return Span::new(at, (at + QUOTES).min(self.literal.end.max(at)));
        };
        let len = if is_ident_char(first) {
            rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len())
        } else if is_operator_char(first) {
            rest.find(|c: char| !is_operator_char(c))
                .unwrap_or(rest.len())
        } else {
            first.len_utf8()
        };
        Span::new(self.start + offset, self.start + offset + len)
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_operator_char(c: char) -> bool {
    matches!(
        c,
        '+' | '-' | '*' | '/' | '%' | '=' | '<' | '>' | '!' | '&' | '|' | '^'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(text: &str, start: usize) -> ScriptText {
        ScriptText::new(&Text {
            value: text.to_string(),
            span: Span::new(start, start + text.len() + 6),
        })
    }

    #[test]
    fn first_line_starts_after_the_quotes() {
        let s = script("let x = 1;", 10);
        assert_eq!(s.span_at(rhai::Position::new(1, 5)), Span::new(17, 18));
    }

    #[test]
    fn later_lines_count_characters() {
        let s = script("\nlet é = 1;\n  foo + 1", 0);
        // line 3, column 3 is `foo`
        assert_eq!(
            s.span_at(rhai::Position::new(3, 3)),
            Span::new(3 + 15, 3 + 18)
        );
        // line 2, column 7 is `=` after the two-byte `é`
        assert_eq!(
            s.span_at(rhai::Position::new(2, 7)),
            Span::new(3 + 8, 3 + 9)
        );
    }

    #[test]
    fn past_the_end_points_at_the_closing_quotes() {
        let s = script("1 +", 0);
        assert_eq!(s.span_at(rhai::Position::new(9, 9)), Span::new(6, 9));
        assert_eq!(s.span_at(rhai::Position::NONE), Span::new(0, 9));
    }

    #[test]
    fn column_past_the_line_end_stops_at_the_newline() {
        let s = script("ab\ncd", 0);
        assert_eq!(s.span_at(rhai::Position::new(1, 40)), Span::new(5, 6));
    }

    #[test]
    fn operators_are_underlined_whole() {
        let s = script("s += 1", 0);
        assert_eq!(s.span_at(rhai::Position::new(1, 3)), Span::new(5, 7));
    }

    #[test]
    fn known_length() {
        let s = script("x + rr_points", 0);
        assert_eq!(
            s.span_of_len(rhai::Position::new(1, 5), 9),
            Span::new(7, 16)
        );
    }
}
