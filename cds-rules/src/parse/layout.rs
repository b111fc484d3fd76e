//! The file's layout before parsing: where comments are and where each item (define,
//! score, rule) starts, so that items can be parsed one by one and errors recovered.

use crate::ast::{Comment, Span};
use std::ops::Range;

/// Comments and item chunks of a ruleset file.
pub(crate) struct Layout {
    /// All line comments, in order.
    pub comments: Vec<Comment>,
    /// The header part: from the start to the first item chunk.
    pub header: Range<usize>,
    /// One chunk per item: the comment lines just before its keyword, the keyword line and
    /// everything up to the next chunk.
    pub items: Vec<Range<usize>>,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    Code,
    Str,
    Triple,
    Unit,
}

struct Line {
    start: usize,
    /// The line starts outside any string.
    in_code: bool,
    /// Only whitespace or a comment.
    blank_or_comment: bool,
    /// Starts (after indentation) with `define`, `rule` or `score` followed by a space.
    item_start: bool,
}

const ITEM_KEYWORDS: [&str; 3] = ["define", "rule", "score"];

pub(crate) fn scan(src: &str) -> Layout {
    let bytes = src.as_bytes();
    let mut comments = Vec::new();
    let mut lines = Vec::new();
    let mut state = State::Code;
    let mut i = 0;
    let mut line_start = true;
    while i <= bytes.len() {
        if line_start {
            lines.push(classify_line(src, i, state == State::Code));
            line_start = false;
        }
        let Some(&b) = bytes.get(i) else { break };
        match state {
            State::Code => {
                if b == b'#' || (b == b'/' && bytes.get(i + 1) == Some(&b'/')) {
                    let end = src[i..].find('\n').map_or(src.len(), |n| i + n);
                    let text = src[i..end].trim_end().to_string();
                    comments.push(Comment {
                        span: Span::new(i, i + text.len()),
                        text,
                    });
                    i = end;
                    continue;
                } else if bytes[i..].starts_with(b"\"\"\"") {
                    state = State::Triple;
                    i += 3;
                    continue;
                } else if b == b'"' {
                    state = State::Str;
                } else if b == b'\'' {
                    state = State::Unit;
                }
            }
            State::Str => {
                if b == b'\\' && bytes.get(i + 1).is_some_and(|&c| c != b'\n') {
                    i += 2;
                    continue;
                }
                if b == b'"' || b == b'\n' {
                    state = State::Code;
                }
            }
            State::Unit => {
                if b == b'\'' || b == b'\n' {
                    state = State::Code;
                }
            }
            State::Triple => {
                if bytes[i..].starts_with(b"\"\"\"") {
                    state = State::Code;
                    i += 3;
                    continue;
                }
            }
        }
        if b == b'\n' {
            line_start = true;
        }
        i += 1;
    }

    let mut starts = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        if line.in_code && line.item_start {
            let mut first = n;
            while first > 0 {
                let prev = &lines[first - 1];
                if prev.in_code && prev.blank_or_comment {
                    first -= 1;
                } else {
                    break;
                }
            }
            // Leading blank lines do not belong to the item.
            while first < n
                && lines[first].in_code
                && src[line_range(&lines, first, src)].trim().is_empty()
            {
                first += 1;
            }
            starts.push(lines[first].start);
        }
    }
    let header_end = starts.first().copied().unwrap_or(src.len());
    let mut items = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let e = starts.get(k + 1).copied().unwrap_or(src.len());
        items.push(s..e);
    }
    Layout {
        comments,
        header: 0..header_end,
        items,
    }
}

fn line_range(lines: &[Line], n: usize, src: &str) -> Range<usize> {
    let start = lines[n].start;
    let end = lines.get(n + 1).map_or(src.len(), |l| l.start);
    start..end
}

fn classify_line(src: &str, start: usize, in_code: bool) -> Line {
    let end = src[start..].find('\n').map_or(src.len(), |n| start + n);
    let text = src[start..end].trim_start();
    let blank_or_comment =
        text.trim().is_empty() || text.starts_with('#') || text.starts_with("//");
    let item_start = ITEM_KEYWORDS.iter().any(|k| {
        text.strip_prefix(k)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\r']))
    });
    Line {
        start,
        in_code,
        blank_or_comment,
        item_start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_items_with_their_leading_comments() {
        let src = "ruleset a version 1.0.0\n\n# about x\ndefine x = 1 # one\n\nrule r\n  when x > 0\n  then info \"hi # not a comment\"\n";
        let l = scan(src);
        assert_eq!(l.items.len(), 2);
        assert!(src[l.items[0].clone()].starts_with("# about x"));
        assert!(src[l.items[1].clone()].starts_with("rule r"));
        let texts: Vec<_> = l.comments.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["# about x", "# one"]);
    }

    #[test]
    fn keywords_inside_triple_strings_do_not_split() {
        let src = "ruleset a version 1.0.0\nscore s using rhai \"\"\"\nrule x\n\"\"\"\nrule r when 1 then info \"x\"";
        let l = scan(src);
        assert_eq!(l.items.len(), 2);
    }
}
