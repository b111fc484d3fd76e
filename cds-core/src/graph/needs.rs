//! The FHIR data a graph's rules read: for each resource type, which codes and how far back.
//! A CDS Hooks server turns these into prefetch templates; a replay tool into the NDJSON
//! files it must load.

use std::collections::BTreeMap;

use super::build::{Graph, Plan};
use super::op::{ActiveKind, CodeFilter, Op, Period};

/// What the rules answering a hook read of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataNeed {
    /// The resource type (`Patient`, `Observation`, `Condition`, `MedicationRequest`, ...).
    pub resource_type: String,
    /// The codes read (empty: the resources are read without a code filter, e.g. by FHIRPath).
    pub codes: Vec<CodeFilter>,
    /// How far back before the evaluation time; `None` when some rule reads all history.
    pub lookback: Option<Period>,
    /// Whether only active resources are read (conditions, medications). Medications being
    /// ordered (see `draft_orders`) do not clear it: they are not read from the stored record.
    pub active_only: bool,
    /// Whether the rules read medications being ordered (MedicationRequests with status
    /// `draft`): the `draftOrders` of `order-select` and `order-sign`, which come with the
    /// hook's context rather than from a prefetch or a search.
    pub draft_orders: bool,
    /// Whether the rules read resources of this type from the stored record (prefetch or a
    /// search); `false` when they only read the draft orders of the hook's context.
    pub from_record: bool,
}

impl Graph {
    /// The data the rules answering `hook` read (every rule for `None`), one entry per
    /// resource type, sorted by type. The Patient is always read.
    pub fn data_needs(&self, hook: Option<&str>) -> Vec<DataNeed> {
        self.data_needs_of_plan(&self.plan(hook))
    }

    /// The data the nodes of a plan read (see [`Graph::plan_of_ruleset`]).
    pub fn data_needs_of_plan(&self, plan: &Plan) -> Vec<DataNeed> {
        let mut by_type: BTreeMap<String, DataNeed> = BTreeMap::new();
        let mut add =
            |t: &str, code: Option<&CodeFilter>, window: Option<Option<Period>>, read: Read| {
                let need = by_type.entry(t.to_string()).or_insert_with(|| DataNeed {
                    resource_type: t.to_string(),
                    codes: Vec::new(),
                    lookback: window.flatten(),
                    active_only: read != Read::All,
                    draft_orders: false,
                    from_record: false,
                });
                if read == Read::Drafts {
                    // Draft orders come with the hook's context: no codes to search for.
                    need.draft_orders = true;
                    return;
                }
                need.from_record = true;
                match code {
                    Some(c) if !need.codes.contains(c) => need.codes.push(c.clone()),
                    Some(_) => {}
                    // Read without a filter: every resource of the type.
                    None => need.codes.clear(),
                }
                need.active_only &= read != Read::All;
                if let Some(w) = window {
                    need.lookback = match (need.lookback, w) {
                        (Some(a), Some(b)) => Some(longer(a, b)),
                        _ => None,
                    };
                }
            };
        add("Patient", None, None, Read::All);
        let mut unfiltered: Vec<String> = Vec::new();
        for id in &plan.nodes {
            match &self.graph[*id].op {
                Op::Observations { code, window } => {
                    add("Observation", Some(code), Some(*window), Read::All)
                }
                Op::Active { kind, code } => {
                    let (t, read) = match kind {
                        ActiveKind::Condition => ("Condition", Read::Active),
                        ActiveKind::Medication => ("MedicationRequest", Read::Active),
                        ActiveKind::OrderedMedication => ("MedicationRequest", Read::Drafts),
                    };
                    add(t, Some(code), None, read)
                }
                Op::FhirPath(f) => {
                    if let Some(t) = f.lead_type() {
                        if t != "Patient" {
                            unfiltered.push(t.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        for t in unfiltered {
            add(&t, None, Some(None), Read::All);
        }
        by_type.into_values().collect()
    }
}

impl Graph {
    /// The resource types that evaluating the rules answering `hook` (all for `None`) can read,
    /// or `None` when that cannot be bounded: a FHIRPath expression that does not start from a
    /// resource type, or that follows references (`resolve()`), may read anything. Besides the
    /// types of [`Graph::data_needs`], a Medication can be read through a MedicationRequest.
    /// A replay reads only these types from its input.
    pub fn resource_types_read(
        &self,
        hook: Option<&str>,
    ) -> Option<std::collections::BTreeSet<&'static str>> {
        let plan = self.plan(hook);
        for id in &plan.nodes {
            if let Op::FhirPath(f) = &self.graph[*id].op {
                if f.lead_type().is_none() || f.expr.source().contains("resolve") {
                    return None;
                }
            }
        }
        let mut types: std::collections::BTreeSet<&'static str> = self
            .data_needs_of_plan(&plan)
            .iter()
            .filter_map(|n| crate::data::intern_resource_type(&n.resource_type))
            .collect();
        if types.contains("MedicationRequest") {
            types.insert("Medication");
        }
        Some(types)
    }
}

/// Which resources of a type a node reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// Every one (with the code).
    All,
    /// The active ones.
    Active,
    /// The drafts being ordered, which come with the hook's context.
    Drafts,
}

fn longer(a: Period, b: Period) -> Period {
    let approx = |p: Period| {
        use super::op::PeriodUnit::*;
        let minutes: u64 = match p.unit {
            Minutes => 1,
            Hours => 60,
            Days => 1440,
            Weeks => 10080,
            Months => 44640,
            Years => 527040,
        };
        minutes * u64::from(p.amount)
    };
    if approx(a) >= approx(b) {
        a
    } else {
        b
    }
}
