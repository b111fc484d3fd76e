//! CDS Hooks: discovery (`GET /cds-services`) and service calls (`POST /cds-services/{id}`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cds_core::graph::FiredCard;
use cds_core::temporal::DateTime;
use cds_rules::engine::Evaluation;
use serde_json::{json, Map, Value};

use crate::adapters;
use crate::body::JsonBody;
use crate::metrics::CardLabels;
use crate::outcome::{ApiError, Problem};
use crate::prefetch::{self, FhirAccess};
use crate::record;
use crate::services::discovery;
use crate::state::{AppState, CardRef};

/// The request extension that pins the evaluation time (replays, tests, demos).
pub const EVALUATION_TIME_EXTENSION: &str = "cds-evaluation-time";

/// Which service a response belongs to (read by the metrics middleware).
#[derive(Debug, Clone)]
pub struct ServiceLabel(pub String);

/// `GET /cds-services`.
pub async fn discover(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(discovery(&state.rules.load().services))
}

/// `POST /cds-services/{id}`.
pub async fn call(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let rules = state.rules.load_full();
    let Some(service) = rules.service(&id) else {
        return ApiError::not_found("no CDS service with this id; GET /cds-services lists them")
            .into_response();
    };
    let label = ServiceLabel(service.id.clone());
    let result = match body {
        Ok(JsonBody(body)) => answer(&state, &rules, service, body).await,
        Err(e) => Err(e),
    };
    let mut res = match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(label);
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
    rules: &Arc<crate::state::Rules>,
    service: &crate::services::Service,
    body: Value,
) -> Result<Value, ApiError> {
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
    let (state, rules) = (state.clone(), rules.clone());
    let (plan, id, at) = (service.plan.clone(), service.id.clone(), input.at);
    let limit = Duration::from_millis(state.config.limits.max_evaluation_ms);
    crate::limits::evaluation(limit, move || {
        let evaluation = rules.engine.evaluate_plan(&record, &at, &plan);
        answer_cards(&state, &evaluation, |_| id.clone())
    })
    .await
}

/// The CDS Hooks answer of an evaluation — `{"cards": [...]}` and `systemActions` when there
/// are any — with each card counted in the metrics and remembered for feedback under the
/// service `service_of` gives for it.
pub(crate) fn answer_cards(
    state: &AppState,
    evaluation: &Evaluation<'_, '_>,
    service_of: impl Fn(&FiredCard) -> String,
) -> Result<Value, ApiError> {
    let mut cards = Vec::new();
    for fired in evaluation.cards() {
        let service = service_of(fired);
        state
            .metrics
            .cards
            .get_or_create(&CardLabels {
                tenant: String::new(),
                service: service.clone(),
                ruleset: fired.ruleset.clone(),
                rule: fired.rule.clone(),
                indicator: fired.card.indicator.as_str().to_string(),
            })
            .inc();
        state.cards.insert(
            fired.card.uuid.clone(),
            Arc::new(CardRef {
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
    let actions = evaluation.system_actions();
    if !actions.is_empty() {
        out["systemActions"] =
            serde_json::to_value(actions).map_err(|_| ApiError::internal("systemActions"))?;
    }
    Ok(out)
}
