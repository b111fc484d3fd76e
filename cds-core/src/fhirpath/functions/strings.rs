//! String functions. Positions and lengths count characters, not bytes.

use super::{arg, arg_integer, arg_string, boolean, input_single, type_error};
use crate::fhirpath::ast::{Call, Func, Node};
use crate::fhirpath::error::{EvalError, EvalErrorKind};
use crate::fhirpath::eval::{Frame, Res};
use crate::fhirpath::value::{Collection, Item, Lit, Str};
use regex::Regex;

fn string<'a>(s: String) -> Res<'a> {
    Ok(Collection::single(Item::String(Str::from(s))))
}

pub(super) fn call<'a>(
    call: &'a Call,
    input: Collection<'a>,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
) -> Res<'a> {
    if call.func == Func::Join {
        let sep = arg_string(call, 0, focus, f)?;
        let sep = sep.as_ref().map_or("", Str::as_str);
        let mut parts = Vec::with_capacity(input.len());
        for item in input.iter() {
            match item.to_system() {
                Some(Item::String(s)) => parts.push(s.as_str().to_string()),
                _ => return Err(type_error(call, "String items", item)),
            }
        }
        return string(parts.join(sep));
    }
    let s = match input_single(call, &input)? {
        None => return Ok(Collection::empty()),
        Some(Item::String(s)) => s,
        Some(other) => return Err(type_error(call, "a String input", &other)),
    };
    let text = s.as_str();
    match call.func {
        Func::IndexOf => match arg_string(call, 0, focus, f)? {
            None => Ok(Collection::empty()),
            Some(sub) => {
                let idx = text
                    .find(sub.as_str())
                    .map_or(-1, |b| text[..b].chars().count() as i64);
                Ok(Collection::single(Item::Integer(idx)))
            }
        },
        Func::Substring => {
            let Some(start) = arg_integer(call, 0, focus, f)? else {
                return Ok(Collection::empty());
            };
            let len = if call.args.len() > 1 {
                match arg_integer(call, 1, focus, f)? {
                    Some(l) => Some(l),
                    None => return Ok(Collection::empty()),
                }
            } else {
                None
            };
            let count = text.chars().count() as i64;
            if start < 0 || start >= count {
                return Ok(Collection::empty());
            }
            let take = len.map_or(count - start, |l| l.max(0));
            let out: String = text
                .chars()
                .skip(start as usize)
                .take(usize::try_from(take).unwrap_or(0))
                .collect();
            string(out)
        }
        Func::StartsWith | Func::EndsWith | Func::Contains => {
            match arg_string(call, 0, focus, f)? {
                None => Ok(Collection::empty()),
                Some(p) => boolean(match call.func {
                    Func::StartsWith => text.starts_with(p.as_str()),
                    Func::EndsWith => text.ends_with(p.as_str()),
                    _ => text.contains(p.as_str()),
                }),
            }
        }
        Func::Upper => string(text.to_uppercase()),
        Func::Lower => string(text.to_lowercase()),
        Func::Replace => {
            let (Some(pat), Some(rep)) = (
                arg_string(call, 0, focus, f)?,
                arg_string(call, 1, focus, f)?,
            ) else {
                return Ok(Collection::empty());
            };
            string(text.replace(pat.as_str(), rep.as_str()))
        }
        Func::Matches | Func::MatchesFull => {
            let Some(re) = regex_arg(call, focus, f, call.func == Func::MatchesFull)? else {
                return Ok(Collection::empty());
            };
            boolean(re.is_match(text))
        }
        Func::ReplaceMatches => {
            let Some(rep) = arg_string(call, 1, focus, f)? else {
                return Ok(Collection::empty());
            };
            let Some(re) = regex_arg(call, focus, f, false)? else {
                return Ok(Collection::empty());
            };
            if re.as_str() == "(?s)" || re.as_str().is_empty() {
                return string(text.to_string());
            }
            string(re.replace_all(text, rep.as_str()).into_owned())
        }
        Func::Length => Ok(Collection::single(Item::Integer(
            text.chars().count() as i64
        ))),
        Func::ToChars => Ok(text
            .chars()
            .map(|c| Item::String(Str::from(c.to_string())))
            .collect()),
        Func::Trim => string(text.trim().to_string()),
        Func::Split => match arg_string(call, 0, focus, f)? {
            None => Ok(Collection::empty()),
            Some(sep) => Ok(text
                .split(sep.as_str())
                .map(|p| Item::String(Str::from(p.to_string())))
                .collect()),
        },
        Func::Encode | Func::Decode | Func::Escape | Func::Unescape => {
            let Some(kind) = arg_string(call, 0, focus, f)? else {
                return Ok(Collection::empty());
            };
            let out = match (call.func, kind.as_str()) {
                (Func::Encode, "base64") => Some(base64_encode(text.as_bytes(), false)),
                (Func::Encode, "urlbase64") => Some(base64_encode(text.as_bytes(), true)),
                (Func::Encode, "hex") => Some(text.bytes().map(|b| format!("{b:02x}")).collect()),
                (Func::Decode, "base64") => {
                    base64_decode(text, false).and_then(|b| String::from_utf8(b).ok())
                }
                (Func::Decode, "urlbase64") => {
                    base64_decode(text, true).and_then(|b| String::from_utf8(b).ok())
                }
                (Func::Decode, "hex") => hex_decode(text).and_then(|b| String::from_utf8(b).ok()),
                (Func::Escape, "html") => Some(crate::markup::escape(text)),
                (Func::Escape, "json") => Some(json_escape(text)),
                (Func::Unescape, "html") => Some(html_unescape(text)),
                (Func::Unescape, "json") => Some(crate::fhirpath::parse::unescape(text)),
                _ => {
                    return Err(EvalError::new(
                        EvalErrorKind::Argument,
                        call.span,
                        format!(
                            "`{}` does not know the format '{}'",
                            call.func.name(),
                            kind.as_str()
                        ),
                    ))
                }
            };
            Ok(out
                .map(|s| Collection::single(Item::String(Str::from(s))))
                .unwrap_or_default())
        }
        _ => Ok(Collection::empty()),
    }
}

/// The regular expression argument, compiled once per call site when it is a literal.
fn regex_arg<'a>(
    call: &'a Call,
    focus: &Collection<'a>,
    f: &Frame<'a, '_>,
    full: bool,
) -> Result<Option<Regex>, EvalError> {
    let compile = |pattern: &str| -> Result<Regex, EvalError> {
        let src = if full {
            format!("(?s)^(?:{pattern})$")
        } else {
            format!("(?s){pattern}")
        };
        Regex::new(&src).map_err(|_| {
            EvalError::new(
                EvalErrorKind::Argument,
                call.span,
                format!("`{}`: invalid regular expression", call.func.name()),
            )
        })
    };
    if let Some(Node::Lit(Lit::String(p))) = call.args.first() {
        let cached = call.regex.get_or_init(|| compile(p).ok());
        return match cached {
            Some(re) => Ok(Some(re.clone())),
            None => compile(p).map(Some),
        };
    }
    let pattern = arg(call, 0, focus, f)?;
    match super::super::eval::singleton(&pattern, call.span, call.func.name())? {
        None => Ok(None),
        Some(Item::String(p)) => compile(p.as_str()).map(Some),
        Some(other) => Err(type_error(call, "a String pattern", &other)),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8], url: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let c = B64[((n >> (18 - 6 * i)) & 63) as usize];
                out.push(match (url, c) {
                    (true, b'+') => '-',
                    (true, b'/') => '_',
                    _ => c as char,
                });
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str, url: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        let c = match (url, c) {
            (true, b'-') => b'+',
            (true, b'_') => b'/',
            _ => c,
        };
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

fn html_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64_encode(b"test", false), "dGVzdA==");
        assert_eq!(base64_encode(b"subjects?_d", true), "c3ViamVjdHM_X2Q=");
        assert_eq!(
            base64_decode("c3ViamVjdHM/X2Q=", false).unwrap(),
            b"subjects?_d"
        );
        assert_eq!(hex_decode("74657374").unwrap(), b"test");
    }
}
