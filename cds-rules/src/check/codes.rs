//! Codes and URLs: code systems must be URIs, LOINC codes must have the `NNNNN-N` shape
//! with a correct mod-10 check digit, value sets and card links must be absolute URLs.

use super::diagnostic::{CheckKind, Sink};
use crate::ast::{CodeSpec, CodeSpecKind, KnownSystem};

/// What is wrong with a LOINC code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoincProblem {
    /// Not digits, a dash and one check digit.
    Shape,
    /// The check digit is wrong; the right one is given.
    CheckDigit(char),
}

/// The mod-10 (Luhn) check digit of LOINC's numeric part.
pub(crate) fn check_digit(digits: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 {
            let x = d * 2;
            x / 10 + x % 10
        } else {
            d
        };
    }
    char::from_digit((10 - sum % 10) % 10, 10)
}

/// What is wrong with a LOINC code, if anything. Answer and part codes (`LA6576-8`,
/// `LP...`) are accepted by shape.
pub(crate) fn loinc_problem(code: &str) -> Option<LoincProblem> {
    let Some((body, check)) = code.rsplit_once('-') else {
        return Some(LoincProblem::Shape);
    };
    let prefixed = body.len() > 2
        && body.starts_with('L')
        && body.as_bytes()[1].is_ascii_uppercase()
        && body[2..].bytes().all(|b| b.is_ascii_digit());
    if prefixed && check.len() == 1 && check.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    if body.is_empty()
        || body.len() > 7
        || !body.bytes().all(|b| b.is_ascii_digit())
        || check.len() != 1
        || !check.as_bytes()[0].is_ascii_digit()
    {
        return Some(LoincProblem::Shape);
    }
    let right = check_digit(body)?;
    (!check.starts_with(right)).then_some(LoincProblem::CheckDigit(right))
}

/// Whether `s` is an absolute URI: a scheme, `:`, and no spaces.
pub(crate) fn is_absolute_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sc = scheme.chars();
    sc.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sc.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

/// The keyword of a well-known system written by name instead of URI (`"LOINC"`).
fn system_by_name(system: &str) -> Option<KnownSystem> {
    let s: String = system
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    match s.as_str() {
        "loinc" | "loincorg" | "httploincorg" => Some(KnownSystem::Loinc),
        "snomed" | "snomedct" | "sct" | "snomedinfosct" => Some(KnownSystem::Snomed),
        "rxnorm" => Some(KnownSystem::RxNorm),
        "icd10" | "icd10cm" => Some(KnownSystem::Icd10),
        _ => None,
    }
}

/// Checks one code or value set.
pub(crate) fn check_code(spec: &CodeSpec, sink: &mut Sink) {
    match &spec.kind {
        CodeSpecKind::Known {
            system: KnownSystem::Loinc,
            code,
        } => loinc(code, spec, "loinc ", sink),
        CodeSpecKind::Known { .. } => {}
        CodeSpecKind::Explicit { system, code } => {
            if system == KnownSystem::Loinc.uri() {
                loinc(code, spec, "code \"http://loinc.org\" ", sink);
            }
            if !is_absolute_uri(system) {
                let help = match system_by_name(system) {
                    Some(k) => format!("write `{} {code}`", k.keyword()),
                    None if system.trim().is_empty() => {
                        "a code needs its system: `code \"http://example.org/codes\" \"X1\"`, \
                         or `loinc`, `snomed`, `rxnorm`, `icd10` for those systems"
                            .to_string()
                    }
                    None => "a code system is a URI such as `http://example.org/codes` \
                             (or use `loinc`, `snomed`, `rxnorm`, `icd10`)"
                        .to_string(),
                };
                let message = if system.trim().is_empty() {
                    "the code system is empty".to_string()
                } else {
                    "the code system is not a URI".to_string()
                };
                sink.error(CheckKind::BadCodeSystem, spec.span, message, "not a URI")
                    .help(help);
            }
            if code.trim().is_empty() {
                sink.error(
                    CheckKind::BadCodeSystem,
                    spec.span,
                    "the code is empty",
                    "empty code",
                )
                .help(
                    "write the code after its system: `code \"http://example.org/codes\" \"X1\"`",
                );
            }
        }
        CodeSpecKind::ValueSet(url) => {
            if !is_absolute_uri(url) {
                sink.error(
                    CheckKind::RelativeUrl,
                    spec.span,
                    "a value set is named by its absolute canonical URL",
                    "not an absolute URL",
                )
                .help(
                    "write the full URL: `in valueset \"http://example.org/fhir/ValueSet/name\"`",
                );
            }
        }
    }
}

fn loinc(code: &str, spec: &CodeSpec, written: &str, sink: &mut Sink) {
    match loinc_problem(code) {
        None => {}
        Some(LoincProblem::Shape) => {
            let help = loinc_shape_hint(code)
                .map(|good| format!("did you mean `{written}{good}`?"))
                .unwrap_or_else(|| {
                    "LOINC codes are digits, a dash and a check digit: `8480-6`, `2160-0`"
                        .to_string()
                });
            sink.error(
                CheckKind::BadLoincCode,
                spec.span,
                "this is not a LOINC code",
                "not of the form NNNNN-N",
            )
            .help(help);
        }
        Some(LoincProblem::CheckDigit(right)) => {
            let body = code.rsplit_once('-').map_or(code, |(b, _)| b);
            sink.error(
                CheckKind::BadLoincCode,
                spec.span,
                "the LOINC check digit is wrong",
                "wrong check digit",
            )
            .help(format!(
                "the check digit of {body} is {right}: `{written}{body}-{right}`; \
                 check the code for a typo"
            ));
        }
    }
}

/// A LOINC code written without its dash (`84806` → `8480-6`), if the last digit is then a
/// correct check digit.
fn loinc_shape_hint(code: &str) -> Option<String> {
    if code.len() < 2 || code.len() > 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (body, check) = code.split_at(code.len() - 1);
    (check_digit(body)? == check.chars().next()?).then(|| format!("{body}-{check}"))
}

/// Checks that a card URL is absolute.
pub(crate) fn check_url(url: &crate::ast::Text, what: &str, sink: &mut Sink) {
    if !is_absolute_uri(&url.value) {
        sink.error(
            CheckKind::RelativeUrl,
            url.span,
            format!("{what} must be an absolute URL"),
            "not an absolute URL",
        )
        .help("write the full URL with its scheme: `https://example.org/page`");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loinc_check_digits() {
        assert_eq!(check_digit("8480"), Some('6'));
        assert_eq!(check_digit("2160"), Some('0'));
        assert_eq!(check_digit("59408"), Some('5'));
        assert_eq!(loinc_problem("8480-6"), None);
        assert_eq!(loinc_problem("8480-5"), Some(LoincProblem::CheckDigit('6')));
        assert_eq!(loinc_problem("84-80-6"), Some(LoincProblem::Shape));
        assert_eq!(loinc_problem("A480-6"), Some(LoincProblem::Shape));
        assert_eq!(loinc_problem("8480-66"), Some(LoincProblem::Shape));
        assert_eq!(loinc_problem("LA6576-8"), None);
        assert_eq!(loinc_problem("84806"), Some(LoincProblem::Shape));
        assert_eq!(loinc_shape_hint("84806").as_deref(), Some("8480-6"));
        assert_eq!(loinc_shape_hint("84805"), None);
    }

    #[test]
    fn uris() {
        assert!(is_absolute_uri("http://loinc.org"));
        assert!(is_absolute_uri("urn:oid:2.16.840.1.113883.6.1"));
        assert!(!is_absolute_uri(""));
        assert!(!is_absolute_uri("LOINC"));
        assert!(!is_absolute_uri("ValueSet/x"));
        assert!(!is_absolute_uri("http ://x"));
        assert!(!is_absolute_uri("1http:x"));
        assert_eq!(system_by_name("LOINC"), Some(KnownSystem::Loinc));
        assert_eq!(system_by_name("SNOMED CT"), Some(KnownSystem::Snomed));
    }
}
