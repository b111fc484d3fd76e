//! FHIR R4 data in: loading resources from JSON, Bundles and NDJSON, and per-patient records.
