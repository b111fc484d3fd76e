//! Text → syntax tree.
//!
//! The file is first split into its header and one chunk per item (see `layout`), each
//! chunk is parsed with the pest grammar (`grammar.pest`) and turned into [`crate::ast`]
//! nodes. A broken item gives its error(s) and parsing goes on with the next item, so all
//! syntax errors of a file are reported at once.
//!
//! ```
//! let src = "ruleset bp version 1.0.0\n  answers patient-view\n\n\
//!            define sbp = latest observation loinc 8480-6 within 90 days\n\n\
//!            rule high\n  when sbp >= 140 'mm[Hg]'\n  then warning \"BP {sbp} is high\"\n";
//! let rs = cds_rules::parse(src, "bp.rules").unwrap();
//! assert_eq!(rs.items.len(), 2);
//!
//! let err = cds_rules::parse("ruleset bp version 1.0\n", "bp.rules").unwrap_err();
//! assert_eq!(err.errors.len(), 1);
//! assert_eq!(err.errors[0].line, 1);
//! ```

mod build;
mod error;
mod hint;
mod layout;
mod strings;

pub use error::{ParseError, ParseErrorKind, ParseErrors};
pub(crate) use strings::escape as strings_escape;

use crate::ast::{Comment, Header, Ruleset, Span};
use error::ErrorSink;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "parse/grammar.pest"]
pub(crate) struct Grammar;

/// Parses a ruleset file. `file_name` is used in error messages only.
///
/// Returns every syntax error found (not only the first) when the text is not a valid
/// ruleset.
pub fn parse(source: &str, file_name: &str) -> Result<Ruleset, ParseErrors> {
    let layout = layout::scan(source);
    let mut sink = ErrorSink::new(file_name, source);
    let comments_in = |r: &std::ops::Range<usize>| -> Vec<Comment> {
        layout
            .comments
            .iter()
            .filter(|c| r.contains(&c.span.start))
            .cloned()
            .collect()
    };

    let mut trailing_comments = Vec::new();
    let header = parse_header(source, &layout, &mut sink).map(|mut h| {
        let all = comments_in(&layout.header);
        if layout.items.is_empty() {
            // Comments after the header of a file without items trail the file.
            let (after, inside): (Vec<_>, Vec<_>) =
                all.into_iter().partition(|c| after_line(source, h.span, c));
            trailing_comments = after;
            h.comments = inside;
        } else {
            h.comments = all;
        }
        h
    });

    let mut items = Vec::new();
    let last = layout.items.len().saturating_sub(1);
    for (n, chunk) in layout.items.iter().enumerate() {
        let text = &source[chunk.clone()];
        match Grammar::parse(Rule::item_file, text) {
            Ok(mut pairs) => {
                let mut b = build::Builder::new(chunk.start, &mut sink);
                if let Some(item) = pairs.next().and_then(|file| b.item_file(file)) {
                    let item_span = item.span();
                    let mut all = comments_in(chunk);
                    if n == last {
                        let (after, inside): (Vec<_>, Vec<_>) = all
                            .into_iter()
                            .partition(|c| after_line(source, item_span, c));
                        trailing_comments = after;
                        all = inside;
                    }
                    items.push(with_comments(item, all));
                }
            }
            Err(e) => hint::push_pest_error(&mut sink, source, chunk.start, &e, false),
        }
    }

    match header {
        Some(header) if sink.errors.is_empty() => Ok(Ruleset {
            header,
            items,
            trailing_comments,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Where the `index`-th byte of a decoded string literal's value is in the file.
///
/// Later stages use it to point at the exact place inside an embedded `fhirpath "..."`
/// expression. `source` is the text that was parsed; `text` a [`crate::ast::Text`] from
/// its tree. Returns `None` if the span does not hold a string literal of `source`.
///
/// ```
/// use cds_rules::ast::{ExprKind, Item};
/// let src = "ruleset x version 1.0.0\ndefine f = fhirpath \"a =\\t'b' and c\"\n";
/// let rs = cds_rules::parse(src, "x.rules").unwrap();
/// let Item::Define(d) = &rs.items[0] else { panic!() };
/// let ExprKind::FhirPath(text) = &d.value.kind else { panic!() };
/// let at = cds_rules::parse::text_offset(src, text, text.value.find('c').unwrap()).unwrap();
/// assert_eq!(&src[at..at + 1], "c");
/// ```
pub fn text_offset(source: &str, text: &crate::ast::Text, index: usize) -> Option<usize> {
    let raw = source.get(text.span.start..text.span.end)?;
    if let Some(inner) = raw
        .strip_prefix("\"\"\"")
        .and_then(|r| r.strip_suffix("\"\"\""))
    {
        return (index <= inner.len()).then_some(text.span.start + 3 + index);
    }
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let (value, map) = strings::decode(inner, text.span.start + 1).ok()?;
    if index == value.len() {
        return Some(text.span.end - 1);
    }
    map.get(index).copied()
}

/// The comment is on a line after the end of `span`.
fn after_line(source: &str, span: Span, c: &Comment) -> bool {
    source
        .get(span.end..c.span.start)
        .is_some_and(|gap| gap.contains('\n'))
}

fn with_comments(item: crate::ast::Item, comments: Vec<Comment>) -> crate::ast::Item {
    use crate::ast::Item;
    match item {
        Item::Define(mut d) => {
            d.comments = comments;
            Item::Define(d)
        }
        Item::Score(mut s) => {
            s.comments = comments;
            Item::Score(s)
        }
        Item::Rule(mut r) => {
            r.comments = comments;
            Item::Rule(r)
        }
    }
}

fn parse_header(source: &str, layout: &layout::Layout, sink: &mut ErrorSink) -> Option<Header> {
    let text = &source[layout.header.clone()];
    let only_comments = layout
        .comments
        .iter()
        .filter(|c| layout.header.contains(&c.span.start))
        .fold(text.to_string(), |t, c| t.replacen(&c.text, "", 1));
    if only_comments.trim().is_empty() {
        // No header at all: point at the first line of the file.
        let first = source
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map_or(0, |(i, _)| i);
        let end = source[first..]
            .find('\n')
            .map_or(source.len(), |n| first + n);
        sink.push(
            ParseErrorKind::Syntax,
            Span::new(first, end),
            "the file has no ruleset header",
            "expected `ruleset NAME version X.Y.Z` before this",
            Some(hint::HEADER_HELP.to_string()),
        );
        return None;
    }
    match Grammar::parse(Rule::header_file, text) {
        Ok(mut pairs) => {
            let mut b = build::Builder::new(0, sink);
            pairs.next().and_then(|p| b.header_file(p))
        }
        Err(e) => {
            hint::push_pest_error(sink, source, 0, &e, true);
            None
        }
    }
}
