//! Cohort replay: how often would these rules have fired?
//!
//! Evaluates rulesets over a cohort of FHIR R4 data read from Bulk Data NDJSON files and folders
//! of Bundles, offline, as of one time or along a timeline, without look-ahead.

pub mod report;
pub mod summary;
