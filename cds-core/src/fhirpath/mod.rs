//! FHIRPath (normative R4 release): parse once, evaluate many times.
