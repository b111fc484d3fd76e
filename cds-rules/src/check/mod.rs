//! Syntax tree → checked ruleset: the second stage of the rule language.
//!
//! [`check`] looks at the meaning of a parsed ruleset and reports every problem of the file
//! at once, each with its position, the offending text underlined, a label and a help that
//! says how to fix it:
//!
//! * names: unknown names (with "did you mean"), duplicate definitions, scores and rule ids,
//!   definition cycles, unused definitions (warning);
//! * types: each expression has a [`Type`]; conditions must be true/false, arithmetic needs
//!   numbers, aggregates need lists of readings, `is CODE` needs a reading, ...;
//! * units: UCUM units (with hints such as `mmHg` → `mm[Hg]`), comparisons and arithmetic of
//!   incommensurable units, including the usual unit of common LOINC codes;
//! * codes: code systems are URIs, LOINC codes have a correct check digit, value sets are
//!   absolute URLs;
//! * rules that can never fire: constant false conditions, contradictory ranges, comparisons
//!   with absent values, band results compared with values no row gives; empty and
//!   unreachable band rows (warnings);
//! * cards: summary length, CDS Hooks, action resources and references.
//!
//! ```
//! let src = "ruleset bp version 1.0.0\n  answers patient-view\n\n\
//!            define sbp = latest observation loinc 8480-6 within 90 days\n\n\
//!            rule high\n  when sbp >= 140 'kg'\n  then warning \"BP {sbp} is high\"\n";
//! let ruleset = cds_rules::parse(src, "bp.rules").unwrap();
//! let report = cds_rules::check(&ruleset, src, "bp.rules");
//! assert!(report.has_errors());
//! let d = &report.diagnostics()[0];
//! assert_eq!(d.kind, cds_rules::check::CheckKind::UnitMismatch);
//! assert_eq!((d.line, d.column), (7, 20));
//! assert_eq!(
//!     report.type_of("sbp"),
//!     Some(&cds_rules::check::Type::Reading(Some("mm[Hg]".into())))
//! );
//! let errors = report.into_result().unwrap_err();
//! assert_eq!(errors.to_string(), "bp.rules: 1 error");
//! ```

mod card;
mod codes;
mod diagnostic;
mod names;
mod never;
mod suggest;
mod types;
mod units;

pub use diagnostic::{CheckDiagnostic, CheckErrors, CheckKind, Severity};
pub use types::Type;

use crate::ast::{Item, Ruleset};
use diagnostic::Sink;
use std::collections::{HashMap, HashSet};

/// How deep the checker descends into an expression (the parser allows far less).
pub(crate) const MAX_DEPTH: usize = 100;

/// Checks a parsed ruleset. `source` is the text it was parsed from (for positions and
/// messages) and `file_name` is used in messages only. Never fails: problems are in the
/// report.
pub fn check(ruleset: &Ruleset, source: &str, file_name: &str) -> CheckReport {
    let mut cx = Checker::new(ruleset, source, file_name);
    cx.run();
    let types = cx.named_types();
    let (file, diagnostics) = cx.sink.finish();
    CheckReport {
        file,
        diagnostics,
        types,
    }
}

/// Everything the checker found in one file, and the type of each definition and score.
#[derive(Debug, Clone)]
pub struct CheckReport {
    file: String,
    diagnostics: Vec<CheckDiagnostic>,
    types: HashMap<String, Type>,
}

impl CheckReport {
    /// All diagnostics of the file, errors and warnings, in source order.
    pub fn diagnostics(&self) -> &[CheckDiagnostic] {
        &self.diagnostics
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(CheckDiagnostic::is_error)
    }

    /// The errors, in source order.
    pub fn errors(&self) -> impl Iterator<Item = &CheckDiagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// The warnings, in source order.
    pub fn warnings(&self) -> impl Iterator<Item = &CheckDiagnostic> {
        self.diagnostics.iter().filter(|d| !d.is_error())
    }

    /// The file name given to [`check`].
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The inferred type of a definition or score (of its first definition when the name is
    /// defined twice), for the compiler and for tools.
    pub fn type_of(&self, name: &str) -> Option<&Type> {
        self.types.get(name)
    }

    /// `Ok` with the warnings when there is no error; otherwise [`CheckErrors`] with all
    /// diagnostics (errors and warnings), which renders with [`miette`] like
    /// [`crate::ParseErrors`].
    pub fn into_result(self) -> Result<Vec<CheckDiagnostic>, CheckErrors> {
        if self.has_errors() {
            Err(CheckErrors {
                file: self.file,
                diagnostics: self.diagnostics,
            })
        } else {
            Ok(self.diagnostics)
        }
    }
}

/// The state of one check.
pub(crate) struct Checker<'a> {
    pub(crate) rs: &'a Ruleset,
    pub(crate) source: &'a str,
    pub(crate) sink: Sink,
    /// Definition and score names → index of the first item defining it.
    pub(crate) names: HashMap<&'a str, usize>,
    /// Rule ids → index of the first rule with it.
    pub(crate) rule_ids: HashMap<&'a str, usize>,
    /// Names used anywhere (expressions, card texts, scripts).
    pub(crate) used: HashSet<String>,
    /// The type of each item (definitions and scores), once known.
    pub(crate) item_types: Vec<Option<Type>>,
    /// For each score item: the names its script reads.
    pub(crate) score_inputs: HashMap<usize, Vec<String>>,
}

impl<'a> Checker<'a> {
    fn new(rs: &'a Ruleset, source: &'a str, file_name: &str) -> Checker<'a> {
        Checker {
            rs,
            source,
            sink: Sink::new(file_name, source),
            names: HashMap::new(),
            rule_ids: HashMap::new(),
            used: HashSet::new(),
            item_types: vec![None; rs.items.len()],
            score_inputs: HashMap::new(),
        }
    }

    fn run(&mut self) {
        self.collect_names();
        self.check_header();
        self.check_scores();
        let order = self.definition_order();
        for &i in &order {
            self.check_item(i);
        }
        for i in 0..self.rs.items.len() {
            if self.item_types[i].is_none() {
                self.check_item(i);
            }
        }
        self.check_never_fire();
        self.report_unused();
    }

    /// Type-checks one item (definitions get their type recorded).
    fn check_item(&mut self, i: usize) {
        let rs = self.rs;
        match &rs.items[i] {
            Item::Define(d) => {
                let t = self.expr(&d.value, 0);
                self.item_types[i] = Some(t);
            }
            Item::Score(_) => self.item_types[i] = Some(Type::Number),
            Item::Rule(r) => {
                self.condition(&r.when, "`when`", 0);
                self.check_card(r);
                self.item_types[i] = Some(Type::Bool);
            }
        }
    }

    fn named_types(&self) -> HashMap<String, Type> {
        self.names
            .iter()
            .map(|(n, &i)| {
                let t = self.item_types.get(i).cloned().flatten();
                (n.to_string(), t.unwrap_or(Type::Any))
            })
            .collect()
    }

    /// The source text of a span, if the span lies in the source.
    pub(crate) fn text(&self, span: crate::ast::Span) -> Option<&'a str> {
        self.source
            .get(span.start..span.end)
            .filter(|t| !t.is_empty())
    }
}
