//! The rule languages of the CDS engine.
//!
//! This crate holds the clinician-readable rule DSL (see `docs/rule-language.md`), one stage
//! per module, data flowing one way — text → AST → checked rules → graph → results:
//!
//! * [`parse()`] builds the syntax tree ([`ast`]), with all syntax errors of a file as
//!   [`ParseErrors`]; [`format()`] writes the canonical layout;
//! * [`check()`] finds meaning errors (names, types, units, codes, rules that never fire) as a
//!   [`CheckReport`];
//! * [`script`] compiles `score ... using rhai` in a sandbox;
//! * [`compile`] turns checked rulesets into one shared [`cds_core::graph::Graph`];
//! * [`explain`] says why each rule did or did not fire in an evaluation;
//! * [`testing`] runs a ruleset's test cases; [`draw`] pictures the compiled graph.
//!
//! FHIRPath, which rules use to reach into FHIR data, lives in [`cds_core::fhirpath`]
//! because the engine evaluates it.
//!
//! ```
//! let src = r#"ruleset hypertension version 1.2.0
//!   "Blood pressure in the stage 2 range (ACC/AHA 2017)"
//!   answers patient-view, appointment-book
//!
//! define systolic  = latest observation loinc 8480-6 within 90 days
//! define diastolic = latest observation loinc 8462-4 within 90 days
//!
//! rule stage-2
//!   when systolic >= 140 'mm[Hg]' or diastolic >= 90 'mm[Hg]'
//!   then warning "BP {systolic}/{diastolic} is in the stage 2 range"
//!        source "ACC/AHA 2017 Hypertension Guideline" link "https://..."
//! "#;
//! let ruleset = cds_rules::parse(src, "hypertension.rules")?;
//! assert_eq!(ruleset.header.answers.len(), 2);
//! assert_eq!(cds_rules::format(&ruleset), src);
//! # Ok::<(), cds_rules::ParseErrors>(())
//! ```

pub mod ast;
pub mod check;
pub mod compile;
pub mod draw;
pub mod engine;
pub mod explain;
pub mod fmt;
pub mod parse;
pub mod script;
mod spanless;
pub mod testing;

pub use cds_core::fhirpath;
pub use check::{check, CheckDiagnostic, CheckErrors, CheckKind, CheckReport};
pub use fmt::format;
pub use parse::{parse, ParseError, ParseErrorKind, ParseErrors};
