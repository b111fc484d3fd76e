//! The evaluation graph: rules compiled into a DAG of data queries, derived values,
//! predicates and cards (petgraph), evaluated for one patient record at one time.
//!
//! * [`op`] — what a node computes;
//! * [`build`] — [`GraphBuilder`] adds nodes bottom-up and shares identical ones (the same
//!   operation on the same inputs is one node, across all rules of all rulesets), and
//!   [`Graph`] keeps a [`Plan`] per hook: the nodes its rules need, in topological order;
//! * [`eval`] — [`Graph::evaluate`] visits a plan's nodes once each and raises the cards
//!   whose condition is true, with their [`Evidence`](crate::card::Evidence);
//! * [`needs`] — the FHIR data a plan reads (resource types, codes, windows), from which a
//!   server builds CDS Hooks prefetch templates;
//! * [`value`] — the values: absent, three-valued booleans, numbers, UCUM quantities, text,
//!   readings.
//!
//! Rule languages (the DSL in `cds-rules`) compile to this graph; it knows nothing of their
//! syntax.
//!
//! ```
//! use std::sync::Arc;
//! use cds_core::card::Indicator;
//! use cds_core::data::{PatientRecord, Resource};
//! use cds_core::graph::*;
//! use cds_core::temporal::DateTime;
//! use rust_decimal::Decimal;
//!
//! let mut b = GraphBuilder::new();
//! let k = b.node(Op::Observations {
//!     code: CodeFilter::Code { system: "http://loinc.org".into(), code: "2823-3".into() },
//!     window: Some(Period { amount: 12, unit: PeriodUnit::Hours }) }, &[]);
//! let latest = b.node(Op::Pick(Which::Latest), &[k]);
//! let limit = b.node(Op::Const(Literal::Quantity(Decimal::from(6), "mmol/L".into())), &[]);
//! let high = b.node(Op::Compare(Cmp::Ge), &[latest, limit]);
//! b.card(CardSpec {
//!     ruleset: "potassium".into(), version: "1.0.0".into(), rule: "critical-high".into(),
//!     hooks: vec![], condition: high, indicator: Indicator::Critical,
//!     summary: Template { parts: vec![TemplatePart::Text("Potassium ".into()), TemplatePart::Value(latest)] },
//!     detail: None, source: ("Lab critical values".into(), None, None), links: vec![],
//!     suggestions: vec![], override_reasons: vec![], system_actions: vec![],
//!     evidence: vec![("potassium".into(), latest)],
//! });
//! let graph = b.finish();
//!
//! let json = |v: serde_json::Value| Arc::new(Resource::from_json(v, cds_core::data::Source::memory(), None).unwrap());
//! let record = PatientRecord::build([
//!     json(serde_json::json!({"resourceType": "Patient", "id": "p"})),
//!     json(serde_json::json!({"resourceType": "Observation", "id": "k1", "status": "final",
//!         "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3"}]},
//!         "effectiveDateTime": "2024-01-01T08:00:00Z",
//!         "valueQuantity": {"value": 6.8, "system": "http://unitsofmeasure.org", "code": "mmol/L"}})),
//! ]).unwrap();
//! let at = DateTime::parse("2024-01-01T10:00:00Z").unwrap();
//! let result = graph.evaluate(&record, &at, None);
//! assert_eq!(result.cards()[0].card.summary, "Potassium 6.8 mmol/L");
//! assert_eq!(result.cards()[0].evidence.values[0].resources, ["Observation/k1"]);
//! ```

pub mod build;
pub mod eval;
pub mod needs;
pub mod op;
pub mod value;

pub use build::{
    ActionKind, ActionSpec, CardSpec, Graph, GraphBuilder, GraphStats, Node, NodeId, Plan,
    SuggestionSpec, Template, TemplatePart,
};
pub use eval::{Evaluation, FiredCard, Issue};
pub use needs::DataNeed;
pub use op::*;
pub use value::{Reading, Recorded, Value};
