//! `POST /fhir/$cds-evaluate`: the Parameters read ([`super::params`]), the rulesets chosen,
//! the patient's Bundle built into a record ([`crate::record`]), each ruleset evaluated and
//! answered as a GuidanceResponse ([`super::guidance`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use cds_core::graph::Value as GraphValue;
use cds_core::temporal::DateTime;
use cds_rules::compile::CompiledRuleset;
use cds_rules::engine::{Engine, Evaluation};
use serde_json::Value;

use super::guidance::{self, RulesetResult, Subject};
use super::params::{self, EvaluateRequest};
use super::{fhir_json, needs};
use crate::access::Access;
use crate::body::JsonBody;
use crate::metrics::CardLabels;
use crate::observe::CallFacts;
use crate::outcome::{ApiError, Problem};
use crate::record::{self, Located};
use crate::state::AppState;

/// The `service` label of the cards this door raises, in the metrics.
pub const METRICS_SERVICE: &str = "fhir/$cds-evaluate";

/// `POST /fhir/$cds-evaluate`.
pub async fn evaluate(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let limit = Duration::from_millis(state.config.limits.max_evaluation_ms);
    let result = match body {
        Ok(JsonBody(b)) => {
            crate::limits::evaluation(limit, move || answer(&state, &access, b, &request_id)).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok((bundle, facts)) => {
            let mut res = fhir_json(StatusCode::OK, &bundle);
            res.extensions_mut().insert(facts);
            res
        }
        Err(e) => e.into_response(),
    }
}

/// The Bundle of GuidanceResponses, and what the audit records of the call.
fn answer(
    state: &AppState,
    access: &Access,
    body: Value,
    request_id: &str,
) -> Result<(Value, CallFacts), ApiError> {
    let req = params::parse(body)?;
    let rules = state.rules.load_full();
    let engine = &rules.engine;
    let chosen = choose(engine, access, &req)?;
    let at = match req.at {
        Some(t) => t,
        None => DateTime::now_utc().map_err(|_| ApiError::internal("the clock cannot be read"))?,
    };
    let mut located = Vec::new();
    record::unpack(req.patient, &req.patient_path, &mut located)?;
    let patient_id = patient_of(&located, &req.patient_path)?;
    let record = record::build(
        &patient_id,
        "the Bundle's Patient",
        located,
        state.config.limits.max_resources,
    )?;
    let mut facts = CallFacts {
        hook: req
            .hook
            .as_ref()
            .map(|h| h.value.clone())
            .filter(|h| crate::observe::is_opaque_id(h)),
        patient_id: Some(patient_id.clone()),
        ..CallFacts::default()
    };
    let patient = format!("Patient/{patient_id}");
    let at_text = at.to_string();
    let subject = Subject {
        patient: &patient,
        at: &at_text,
        request_id,
    };
    let hook = req.hook.as_ref().map(|h| h.value.as_str());
    let mut entries = Vec::with_capacity(chosen.len());
    for rs in chosen {
        let plan = engine.plan_of_ruleset(hook, &rs.name);
        let evaluation = engine.evaluate_plan(&record, &at, &plan);
        let cards = evaluation.cards();
        for fired in cards {
            *facts
                .cards_by_rule
                .entry(format!("{}/{}", fired.ruleset, fired.rule))
                .or_insert(0) += 1;
            state
                .metrics
                .cards
                .get_or_create(&CardLabels {
                    tenant: access.tenant.clone(),
                    service: METRICS_SERVICE.to_string(),
                    ruleset: fired.ruleset.clone(),
                    rule: fired.rule.clone(),
                    indicator: fired.card.indicator.as_str().to_string(),
                })
                .inc();
        }
        let mut issues: Vec<String> = Vec::new();
        for i in evaluation.issues() {
            if !issues.contains(&i.message) {
                issues.push(i.message.clone());
            }
        }
        let undecided = undecided(engine, &evaluation, &rs.name);
        let missing = if cards.is_empty() && !undecided.is_empty() {
            needs::lacking(engine, &plan, &record, &at)
        } else {
            Vec::new()
        };
        let result = RulesetResult {
            name: &rs.name,
            version: &rs.version,
            cards: cards.iter().collect(),
            issues,
            undecided,
            missing,
        };
        entries.push((
            full_url(request_id, &rs.name),
            guidance::guidance_response(&result, subject),
        ));
    }
    Ok((guidance::bundle(entries), facts))
}

/// The rulesets to evaluate, in the order asked for (deduplicated), or every loaded one
/// (answering the hook, when given). Unknown names and rulesets that do not answer the hook
/// are refused at their parameter's path.
fn choose<'e>(
    engine: &'e Engine,
    access: &Access,
    req: &EvaluateRequest,
) -> Result<Vec<&'e CompiledRuleset>, ApiError> {
    // Rulesets of other tenants do not exist, for this caller.
    let all: Vec<&CompiledRuleset> = engine
        .rulesets()
        .iter()
        .filter(|rs| access.sees(&rs.name))
        .collect();
    let hook = req.hook.as_ref();
    let answers = |rs: &CompiledRuleset| hook.is_none_or(|h| rs.hooks.contains(&h.value));
    let mut problems = Vec::new();
    let mut chosen: Vec<&CompiledRuleset> = Vec::new();
    if req.rulesets.is_empty() {
        chosen = all.iter().copied().filter(|rs| answers(rs)).collect();
        if let (Some(h), true) = (hook, chosen.is_empty()) {
            problems.push(Problem::at(
                &h.path,
                "no loaded ruleset answers this hook; GET /cds-services lists the hooks answered",
            ));
        }
    }
    for named in &req.rulesets {
        match all.iter().copied().find(|rs| rs.name == named.value) {
            None => problems.push(Problem::at(
                &named.path,
                "no loaded ruleset has this name; GET /cds-services lists the services, \
                 named {ruleset}-{hook}",
            )),
            Some(rs) if !answers(rs) => problems.push(Problem::at(
                &named.path,
                format!(
                    "this ruleset does not answer the hook asked for; it answers {}",
                    rs.hooks.join(", ")
                ),
            )),
            Some(rs) if chosen.iter().any(|c| c.name == rs.name) => {}
            Some(rs) => chosen.push(rs),
        }
    }
    if problems.is_empty() {
        Ok(chosen)
    } else {
        Err(ApiError::invalid(problems))
    }
}

/// The id of the record's patient: the one Patient of the Bundle, which must have an id.
fn patient_of(located: &[Located], bundle_path: &str) -> Result<String, ApiError> {
    let patient = located
        .iter()
        .find(|l| l.json.get("resourceType").and_then(Value::as_str) == Some("Patient"));
    match patient {
        None => Err(ApiError::invalid_at(
            bundle_path,
            "holds no Patient resource: the record must hold the patient's Patient, with an id",
        )),
        Some(l) => match l.json.get("id") {
            Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
            _ => Err(ApiError::invalid_at(
                format!("{}.id", l.path),
                "is required: the guidance names the patient by it",
            )),
        },
    }
}

/// `urn:uuid:` of a GuidanceResponse: stable for a request id and ruleset.
fn full_url(request_id: &str, ruleset: &str) -> String {
    let name = format!("cds:guidance/{request_id}/{ruleset}");
    format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// The rules of a ruleset that were evaluated and whose condition is unknown (data missing).
fn undecided(engine: &Engine, evaluation: &Evaluation, ruleset: &str) -> Vec<String> {
    let values = evaluation.graph_evaluation();
    engine
        .graph()
        .cards()
        .iter()
        .filter(|spec| spec.ruleset == ruleset)
        .filter(|spec| matches!(values.value(spec.condition), Some(GraphValue::Absent)))
        .map(|spec| spec.rule.clone())
        .collect()
}
