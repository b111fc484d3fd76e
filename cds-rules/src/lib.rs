//! The rule languages of the CDS engine.
//!
//! This crate will hold the clinician-readable rule DSL (parse → check → compile into the
//! `cds-core` evaluation graph) and sandboxed rhai calculations. FHIRPath, which rules use to
//! reach into FHIR data, lives in [`cds_core::fhirpath`] because the engine evaluates it.
//!
//! Nothing is exported yet: the DSL is the subject of the rule-language issue.

pub use cds_core::fhirpath;
