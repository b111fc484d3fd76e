//! The CDS services, generated from the loaded rulesets: one service per ruleset and hook it
//! answers, with prefetch templates derived from what the compiled rules read — a ruleset
//! author never writes prefetch by hand.

use std::collections::BTreeMap;
use std::sync::Arc;

use cds_core::graph::{CodeFilter, DataNeed, Plan};
use cds_rules::engine::Engine;
use serde_json::{json, Value};

/// One CDS service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its id (`{ruleset}-{hook}`), the last path segment of its URL.
    pub id: String,
    /// The hook it answers.
    pub hook: String,
    /// The ruleset.
    pub ruleset: String,
    /// The ruleset's version.
    pub version: String,
    /// A human-friendly title.
    pub title: String,
    /// What it does.
    pub description: String,
    /// Prefetch templates by key.
    pub prefetch: BTreeMap<String, String>,
    /// What its rules read.
    pub needs: Vec<DataNeed>,
    /// The graph nodes it evaluates.
    pub plan: Arc<Plan>,
}

/// The services of an engine, in ruleset then hook order.
pub fn services(engine: &Engine) -> Vec<Service> {
    let mut out = Vec::new();
    for (file, rs) in engine.files().iter().zip(engine.rulesets()) {
        let description = file
            .ast
            .header
            .description
            .as_ref()
            .map(|t| t.value.clone())
            .unwrap_or_else(|| format!("The {} rules", rs.name));
        for hook in &rs.hooks {
            let plan = engine.plan_of_ruleset(Some(hook), &rs.name);
            let needs = engine.data_needs_of_plan(&plan);
            out.push(Service {
                id: format!("{}-{}", rs.name, hook),
                hook: hook.clone(),
                ruleset: rs.name.clone(),
                version: rs.version.clone(),
                title: format!("{} {} ({hook})", rs.name, rs.version),
                description: description.clone(),
                prefetch: prefetch_templates(&needs, engine),
                needs,
                plan,
            });
        }
    }
    out
}

/// The discovery document (`GET /cds-services`).
pub fn discovery(services: &[Service]) -> Value {
    let list: Vec<Value> = services
        .iter()
        .map(|s| {
            let mut v = json!({
                "hook": s.hook,
                "title": s.title,
                "description": s.description,
                "id": s.id,
            });
            if !s.prefetch.is_empty() {
                v["prefetch"] = json!(s.prefetch);
            }
            v
        })
        .collect();
    json!({ "services": list })
}

/// The prefetch key for a resource type.
pub fn prefetch_key(resource_type: &str) -> String {
    match resource_type {
        "Patient" => "patient".to_string(),
        "Observation" => "observations".to_string(),
        "Condition" => "conditions".to_string(),
        "MedicationRequest" => "medications".to_string(),
        other => {
            let mut k = other[..1].to_ascii_lowercase();
            k.push_str(&other[1..]);
            k.push('s');
            k
        }
    }
}

/// The resource types whose search parameter for the patient is `patient` (the rest: `subject`).
const PATIENT_PARAM: &[&str] = &[
    "Observation",
    "Condition",
    "MedicationRequest",
    "Encounter",
    "Appointment",
    "AllergyIntolerance",
    "Procedure",
    "Immunization",
    "DiagnosticReport",
    "Device",
    "ServiceRequest",
    "MedicationStatement",
    "CarePlan",
];

/// Prefetch templates (CDS Hooks 2.0.1 tokens only) for data needs.
pub fn prefetch_templates(needs: &[DataNeed], engine: &Engine) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for need in needs.iter().filter(|n| n.from_record) {
        let t = need.resource_type.as_str();
        let template = if t == "Patient" {
            "Patient/{{context.patientId}}".to_string()
        } else {
            let param = if PATIENT_PARAM.contains(&t) {
                "patient"
            } else {
                "subject"
            };
            let mut q = format!("{t}?{param}={{{{context.patientId}}}}");
            if let Some(codes) = code_list(&need.codes, engine) {
                // Observations: `combo-code` matches Observation.code or a component's code
                // (a blood pressure panel's systolic is a component), where `code` would miss
                // the panels.
                q.push_str(if t == "Observation" {
                    "&combo-code="
                } else {
                    "&code="
                });
                q.push_str(&codes.join(","));
            }
            if need.active_only {
                match t {
                    "Condition" => q.push_str("&clinical-status=active"),
                    "MedicationRequest" => q.push_str("&status=active"),
                    _ => {}
                }
            }
            q
        };
        out.insert(prefetch_key(t), template);
    }
    out
}

/// `system|code` tokens for the code filters, or `None` when some filter cannot be listed
/// (then the query fetches every resource of the type and the engine filters).
fn code_list(codes: &[CodeFilter], engine: &Engine) -> Option<Vec<String>> {
    if codes.is_empty() {
        return None;
    }
    let mut out = Vec::new();
    for c in codes {
        match c {
            CodeFilter::Code { system, code } => out.push(format!("{system}|{code}")),
            CodeFilter::ValueSet(url) => {
                let vs = engine.graph().valuesets().get(url)?;
                for (system, code) in vs.codes()? {
                    out.push(format!("{system}|{code}"));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_list_the_codes_rules_read() {
        let engine = Engine::from_source(
            "bp.rules",
            "ruleset bp version 1.0.0\n  \"Blood pressure\"\n  answers patient-view, appointment-book\n\n\
             define systolic = latest observation loinc 8480-6 within 90 days\n\
             define diastolic = latest observation loinc 8462-4 within 90 days\n\n\
             rule high\n  when systolic >= 140 'mm[Hg]' or diastolic >= 90 'mm[Hg]'\n  then warning \"High\"\n",
        )
        .unwrap();
        let s = services(&engine);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].id, "bp-patient-view");
        assert_eq!(s[1].id, "bp-appointment-book");
        assert_eq!(s[0].description, "Blood pressure");
        assert_eq!(
            s[0].prefetch["observations"],
            "Observation?patient={{context.patientId}}&combo-code=http://loinc.org|8462-4,http://loinc.org|8480-6"
        );
        assert_eq!(s[0].prefetch["patient"], "Patient/{{context.patientId}}");
    }
}
