//! Decoding string literals and `{name}` templates, keeping where each decoded byte came
//! from so that errors inside a string (an embedded FHIRPath, a template) point at the file.

use crate::ast::{Ident, Span, TemplatePart};

/// A problem inside a string literal: the byte span in the file and a message.
pub(crate) struct StringError {
    pub span: Span,
    pub message: String,
    pub help: String,
}

fn escape_char(c: char) -> Option<char> {
    Some(match c {
        '"' => '"',
        '\\' => '\\',
        'n' => '\n',
        't' => '\t',
        '{' => '{',
        '}' => '}',
        _ => return None,
    })
}

fn bad_escape(at: usize, c: char) -> StringError {
    StringError {
        span: Span::new(at, at + 1 + c.len_utf8()),
        message: "unknown escape in text".into(),
        help: "inside double quotes write \\\" for a quote, \\\\ for a backslash, \\n for a new line and \\{ for a brace".into(),
    }
}

/// Decodes the inside of a `"..."` literal that starts at file offset `start`.
/// Returns the text and, for each decoded byte, its file offset.
pub(crate) fn decode(raw: &str, start: usize) -> Result<(String, Vec<usize>), StringError> {
    let mut out = String::with_capacity(raw.len());
    let mut map = Vec::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        let (ch, at) = if c == '\\' {
            match chars.next() {
                Some((_, e)) => (
                    escape_char(e).ok_or_else(|| bad_escape(start + i, e))?,
                    start + i,
                ),
                None => return Err(bad_escape(start + i, ' ')),
            }
        } else {
            (c, start + i)
        };
        for _ in 0..ch.len_utf8() {
            map.push(at);
        }
        out.push(ch);
    }
    Ok((out, map))
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Parses the inside of a card text (`"..."` or `"""..."""`) into literal pieces and
/// `{name}` interpolations. `escapes` is false for triple-quoted text (taken verbatim,
/// except that `{` always starts a name there too).
pub(crate) fn template(
    raw: &str,
    start: usize,
    escapes: bool,
) -> Result<Vec<TemplatePart>, StringError> {
    let mut parts = Vec::new();
    let mut text = String::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if escapes => match chars.next() {
                Some((_, e)) => text.push(escape_char(e).ok_or_else(|| bad_escape(start + i, e))?),
                None => return Err(bad_escape(start + i, ' ')),
            },
            '{' => {
                let rest = &raw[i + 1..];
                let close = rest.find('}');
                let name = close.map(|n| &rest[..n]);
                match name {
                    Some(name) if is_name(name.trim()) => {
                        if !text.is_empty() {
                            parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                        }
                        let lead = name.len() - name.trim_start().len();
                        let s = start + i + 1 + lead;
                        parts.push(TemplatePart::Name(Ident {
                            name: name.trim().to_string(),
                            span: Span::new(s, s + name.trim().len()),
                        }));
                        let skip = name.chars().count() + 1;
                        for _ in 0..skip {
                            chars.next();
                        }
                    }
                    _ => {
                        let end = close.map_or(raw.len(), |n| i + 1 + n + 1);
                        return Err(StringError {
                            span: Span::new(start + i, start + end),
                            message: "a `{` in a card text must hold the name of a definition".into(),
                            help: "write `{systolic}` to show the value of the definition `systolic`; write \\{ for a brace itself".into(),
                        });
                    }
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        parts.push(TemplatePart::Text(text));
    }
    Ok(parts)
}

/// Writes `s` as a `"..."` literal body (escapes quotes, backslashes, new lines, tabs and,
/// when `braces`, `{` and `}`).
pub(crate) fn escape(s: &str, braces: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '{' if braces => out.push_str("\\{"),
            '}' if braces => out.push_str("\\}"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_maps_offsets() {
        let (s, map) = decode(r#"a\"b"#, 10).ok().unwrap_or_default();
        assert_eq!(s, "a\"b");
        assert_eq!(map, [10, 11, 13]);
    }

    #[test]
    fn template_splits_names() {
        let parts = template("BP {sbp}/{dbp}!", 0, true)
            .ok()
            .unwrap_or_default();
        assert_eq!(parts.len(), 5);
        assert!(
            matches!(&parts[1], TemplatePart::Name(n) if n.name == "sbp" && n.span == Span::new(4, 7))
        );
        assert!(template("BP {sbp", 0, true).is_err());
        assert!(template("BP {1x}", 0, true).is_err());
    }
}
