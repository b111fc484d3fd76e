//! CDS Hooks: discovery (`GET /cds-services`) and service calls (`POST /cds-services/{id}`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cds_core::graph::FiredCard;
use cds_core::temporal::DateTime;
use cds_rules::engine::Evaluation;
use serde_json::{json, Map, Value};

use crate::access::Access;
use crate::adapters;
use crate::body::JsonBody;
use crate::metrics::CardLabels;
use crate::observe::CallFacts;
use crate::outcome::{ApiError, Problem};
use crate::prefetch::{self, FhirAccess};
use crate::record;
use crate::services::discovery;
use crate::services::Service;
use crate::state::{AppState, CardRef, Rules};

/// The request extension that pins the evaluation time (replays, tests, demos).
pub const EVALUATION_TIME_EXTENSION: &str = "cds-evaluation-time";

/// Which service a response belongs to (read by the metrics middleware).
#[derive(Debug, Clone)]
pub struct ServiceLabel(pub String);

/// `GET /cds-services`: the services of the rulesets the caller's tenant sees.
pub async fn discover(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Json<Value> {
    let rules = state.rules.load();
    let visible: Vec<Service> = rules
        .services
        .iter()
        .filter(|s| access.sees(&s.ruleset))
        .cloned()
        .collect();
    Json(discovery(&visible))
}

/// The service `id`, if the caller's tenant sees it (else it does not exist, for them).
pub(crate) fn visible_service<'r>(
    rules: &'r Rules,
    access: &Access,
    id: &str,
) -> Result<&'r Service, ApiError> {
    rules
        .service(id)
        .filter(|s| access.sees(&s.ruleset))
        .ok_or_else(|| {
            ApiError::not_found("no CDS service with this id; GET /cds-services lists them")
        })
}

/// `POST /cds-services/{id}`.
pub async fn call(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let rules = state.rules.load_full();
    let service = match visible_service(&rules, &access, &id) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let label = ServiceLabel(service.id.clone());
    let mut facts = CallFacts::default();
    let result = match body {
        Ok(JsonBody(body)) => {
            facts = CallFacts::of_request(&body);
            answer(&state, &access, &rules, service, body).await
        }
        Err(e) => Err(e),
    };
    facts.hook = Some(service.hook.clone());
    let mut res = match result {
        Ok(answered) => {
            facts.cards_by_rule = answered.cards_by_rule;
            Json(answered.body).into_response()
        }
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(label);
    res.extensions_mut().insert(facts);
    res
}

/// A CDS Hooks request's envelope, checked the same way for every hook.
pub struct Envelope {
    /// `hook`.
    pub hook: String,
    /// `context`.
    pub context: Map<String, Value>,
    /// `prefetch`, when sent.
    pub prefetch: Option<Map<String, Value>>,
    /// `fhirServer`, when sent.
    pub fhir_server: Option<String>,
    /// `fhirAuthorization.access_token`, when sent.
    pub token: Option<String>,
    /// The pinned evaluation time (request extension `cds-evaluation-time`).
    pub at: Option<DateTime>,
}

/// Checks a request body's envelope; every problem is named by its JSON path.
pub fn envelope(body: Value) -> Result<Envelope, ApiError> {
    let Value::Object(mut body) = body else {
        return Err(ApiError::invalid_at(
            "",
            "the body must be a JSON object (a CDS Hooks request)",
        ));
    };
    let mut problems = Vec::new();
    let mut string = |body: &Map<String, Value>, key: &str, required: bool| -> Option<String> {
        match body.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            None | Some(Value::Null) if !required => None,
            None => {
                problems.push(Problem::at(key, "is required"));
                None
            }
            Some(_) => {
                problems.push(Problem::at(key, "must be a non-empty string"));
                None
            }
        }
    };
    let hook = string(&body, "hook", true);
    string(&body, "hookInstance", true);
    let fhir_server = string(&body, "fhirServer", false);
    let mut token = None;
    match body.get("fhirAuthorization") {
        None | Some(Value::Null) => {}
        Some(Value::Object(a)) => match a.get("access_token") {
            Some(Value::String(t)) => token = Some(t.clone()),
            _ => problems.push(Problem::at(
                "fhirAuthorization.access_token",
                "is required, as a string",
            )),
        },
        Some(_) => problems.push(Problem::at("fhirAuthorization", "must be an object")),
    }
    let mut at = None;
    if let Some(t) = body
        .get("extension")
        .and_then(|e| e.get(EVALUATION_TIME_EXTENSION))
    {
        match t.as_str().and_then(|s| DateTime::parse(s).ok()) {
            Some(t) => at = Some(t),
            None => problems.push(Problem::at(
                format!("extension.{EVALUATION_TIME_EXTENSION}"),
                "must be a FHIR dateTime",
            )),
        }
    }
    let context = match body.remove("context") {
        Some(Value::Object(c)) => Some(c),
        None => {
            problems.push(Problem::at("context", "is required"));
            None
        }
        Some(_) => {
            problems.push(Problem::at("context", "must be an object"));
            None
        }
    };
    let prefetch = match body.remove("prefetch") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            problems.push(Problem::at("prefetch", "must be an object"));
            None
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    Ok(Envelope {
        hook: hook.unwrap_or_default(),
        context: context.unwrap_or_default(),
        prefetch,
        fhir_server,
        token,
        at,
    })
}

async fn answer(
    state: &Arc<AppState>,
    access: &Access,
    rules: &Arc<Rules>,
    service: &Service,
    body: Value,
) -> Result<Answered, ApiError> {
    if let Some(hook) = body.get("hook").and_then(Value::as_str) {
        if hook != service.hook {
            return Err(ApiError::invalid_at(
                "hook",
                format!("this service answers the {} hook", service.hook),
            ));
        }
    }
    state.schemas.request(&body).map_err(ApiError::invalid)?;
    let env = envelope(body)?;
    if env.hook != service.hook {
        return Err(ApiError::invalid_at(
            "hook",
            format!("this service answers the {} hook", service.hook),
        ));
    }
    let now = match env.at {
        Some(t) => t,
        None => DateTime::now_utc().map_err(|_| ApiError::internal("the clock cannot be read"))?,
    };
    let mut input = adapters::prepare(&env.hook, &env.context, now)?;
    if let Some(pinned) = env.at {
        // An explicit evaluation time wins over the hook's own (appointment-book's start).
        input.at = pinned;
    }
    let mut located = input.resources;
    located.extend(
        prefetch::resolve(
            service,
            env.prefetch,
            &env.context,
            FhirAccess {
                server: env.fhir_server.as_deref(),
                token: env.token.as_deref(),
            },
            &state.fetcher,
        )
        .await?,
    );
    let record = record::build(
        &input.patient_id,
        "context.patientId",
        located,
        state.config.limits.max_resources,
    )?;
    let (state, rules, access) = (state.clone(), rules.clone(), access.clone());
    let (plan, id, at) = (service.plan.clone(), service.id.clone(), input.at);
    let limit = Duration::from_millis(state.config.limits.max_evaluation_ms);
    crate::limits::evaluation(limit, move || {
        let evaluation = rules.engine.evaluate_plan(&record, &at, &plan);
        answer_cards(&state, &access, &evaluation, |_| id.clone())
    })
    .await
}

/// A CDS Hooks answer, and the cards in it by `ruleset/rule` (for the audit).
#[derive(Debug, Default)]
pub struct Answered {
    /// `{"cards": [...]}`, with `systemActions` when there are any.
    pub body: Value,
    /// Cards by `ruleset/rule`.
    pub cards_by_rule: BTreeMap<String, u32>,
}

impl Answered {
    /// Adds another answer's cards and system actions to this one.
    pub fn merge(&mut self, other: Answered) {
        for key in ["cards", "systemActions"] {
            if let Some(Value::Array(more)) = other.body.get(key) {
                if !self.body.is_object() {
                    self.body = json!({ "cards": [] });
                }
                let list = self.body[key].as_array_mut();
                match list {
                    Some(list) => list.extend(more.iter().cloned()),
                    None => self.body[key] = Value::Array(more.clone()),
                }
            }
        }
        for (rule, n) in other.cards_by_rule {
            *self.cards_by_rule.entry(rule).or_insert(0) += n;
        }
    }
}

/// The CDS Hooks answer of an evaluation — the cards of the rulesets the caller sees — with each
/// card counted in the metrics and remembered for feedback under the service `service_of`
/// gives for it.
pub(crate) fn answer_cards(
    state: &AppState,
    access: &Access,
    evaluation: &Evaluation<'_, '_>,
    service_of: impl Fn(&FiredCard) -> String,
) -> Result<Answered, ApiError> {
    let mut cards = Vec::new();
    let mut cards_by_rule = BTreeMap::new();
    for fired in evaluation.cards() {
        if !access.sees(&fired.ruleset) {
            continue;
        }
        *cards_by_rule
            .entry(format!("{}/{}", fired.ruleset, fired.rule))
            .or_insert(0) += 1;
        let service = service_of(fired);
        state
            .metrics
            .cards
            .get_or_create(&CardLabels {
                tenant: access.tenant.clone(),
                service: service.clone(),
                ruleset: fired.ruleset.clone(),
                rule: fired.rule.clone(),
                indicator: fired.card.indicator.as_str().to_string(),
            })
            .inc();
        state.cards.insert(
            fired.card.uuid.clone(),
            Arc::new(CardRef {
                tenant: access.tenant.clone(),
                service,
                ruleset: fired.ruleset.clone(),
                rule: fired.rule.clone(),
                reasons: fired
                    .card
                    .override_reasons
                    .iter()
                    .map(|c| c.code.clone())
                    .collect(),
            }),
        );
        cards.push(serde_json::to_value(&fired.card).map_err(|_| ApiError::internal("card"))?);
    }
    let mut out = json!({ "cards": cards });
    // Evaluations are of plans the caller sees (one ruleset's service, or the tenant's device
    // services), so their system actions are the caller's; cards are filtered again above.
    let actions = evaluation.system_actions();
    if !actions.is_empty() {
        out["systemActions"] =
            serde_json::to_value(actions).map_err(|_| ApiError::internal("systemActions"))?;
    }
    Ok(Answered {
        body: out,
        cards_by_rule,
    })
}
