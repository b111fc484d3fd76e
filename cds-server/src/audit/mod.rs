//! Audit records and feedback counts in a durable store, being built.
