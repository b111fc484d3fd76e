//! The rule studio: a web page, served at `/studio/`, where clinicians open a ruleset, edit it
//! with the checker's diagnostics as they type, try it on sample patients, run its test cases,
//! backtest it over a sample cohort, see its compiled graph, and save it.
//!
//! Everything the page shows comes from the server's own stages — parser, checker, formatter,
//! engine, explanation, test runner, replay and graph drawing — through a small JSON API under
//! `/studio/api/` (see [`routes`]); the page holds no rule logic. The page loads nothing from
//! elsewhere (its Content-Security-Policy forbids it).
//!
//! * [`assets`]: the page itself, embedded in the binary;
//! * [`workspace`]: which ruleset files may be opened and saved, and the backups kept;
//! * [`diagnostics`]: parse and check problems as positions in the editor's text;
//! * [`edit`]: listing, opening, checking, formatting and saving rulesets;
//! * [`samples`]: the sample patients and cohorts offered;
//! * [`trial`]: one patient evaluated, with every rule's explanation;
//! * [`cases`]: the ruleset's test cases run, and a tried patient saved as one;
//! * [`backtest`]: a replay of the edited rules over a sample cohort;
//! * [`picture`]: the compiled evaluation graph drawn.
//!
//! With authentication on, the page is public (it holds no data) and every API call needs a
//! token with the admin role whose audience is `<audience base>/studio`: one token for the
//! whole studio, valid for all its calls until it expires (a session's, see
//! [`crate::auth::Verifier::verify_session`] and [`crate::access`]). A tenant's admin sees only
//! its tenant's rulesets.

pub mod assets;
pub mod backtest;
pub mod cases;
pub mod diagnostics;
pub mod edit;
pub mod picture;
pub mod samples;
pub mod trial;
pub mod workspace;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::access::Access;
use crate::body::JsonBody;
use crate::outcome::ApiError;
use crate::state::AppState;

/// The studio's settings (`[studio]`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StudioConfig {
    /// Serve the studio (page and API).
    pub enabled: bool,
    /// Folders of sample data: FHIR JSON files (one patient each: a Bundle or resources) are
    /// offered as patients, folders of NDJSON as cohorts. Missing folders are skipped. The
    /// rulesets' own test cases are always offered.
    pub samples: Vec<std::path::PathBuf>,
    /// Previous versions kept per ruleset file when saving (in `.history/` beside it).
    pub keep_versions: usize,
}

impl Default for StudioConfig {
    fn default() -> Self {
        StudioConfig {
            enabled: true,
            samples: vec!["examples/data".into(), "../shared/data".into()],
            keep_versions: 20,
        }
    }
}

/// The studio's routes (none when disabled).
pub fn routes(enabled: bool) -> Router<Arc<AppState>> {
    if !enabled {
        return Router::new();
    }
    Router::new()
        .route("/studio", get(assets::redirect))
        .route("/studio/", get(assets::index))
        .route("/studio/studio.js", get(assets::script))
        .route("/studio/studio.css", get(assets::style))
        .route("/studio/api/rulesets", get(edit::list))
        .route(
            "/studio/api/ruleset",
            get(edit::open).put(endpoint(
                OK,
                "not saved: the ruleset has errors",
                edit::save,
            )),
        )
        .route("/studio/api/check", post(endpoint(OK, "", edit::check)))
        .route(
            "/studio/api/format",
            post(endpoint(
                OK,
                "the text does not parse; fix the syntax errors to format it",
                edit::format,
            )),
        )
        .route("/studio/api/samples", get(samples::list))
        .route(
            "/studio/api/try",
            post(endpoint(
                OK,
                "the ruleset has errors; fix them to try it",
                trial::run,
            )),
        )
        .route(
            "/studio/api/tests",
            post(endpoint(
                OK,
                "the ruleset has errors; fix them to run its tests",
                cases::run,
            )),
        )
        .route(
            "/studio/api/tests/save",
            post(endpoint(
                StatusCode::CREATED,
                "the ruleset has errors; fix them to save a test case",
                cases::save,
            )),
        )
        .route(
            "/studio/api/backtest",
            post(endpoint(
                OK,
                "the ruleset has errors; fix them to backtest it",
                backtest::run,
            )),
        )
        .route(
            "/studio/api/graph",
            post(endpoint(
                OK,
                "the ruleset has errors; fix them to see its graph",
                picture::draw,
            )),
        )
}

/// The studio's paths that anyone may load: the page and its script and style (no data).
pub fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/studio" | "/studio/" | "/studio/studio.js" | "/studio/studio.css"
    )
}

/// Whether a path belongs to the studio's API (one token audience for all of it).
pub fn is_api(path: &str) -> bool {
    path.starts_with("/studio/api/")
}

/// The JSON body of a studio call, read into `T`; a wrong field is a 400 naming its JSON path.
fn body<T: DeserializeOwned>(JsonBody(v): JsonBody) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid_at(
            if path == "." { String::new() } else { path },
            e.inner().to_string(),
        )
    })
}

/// A handler's answer: JSON, or an error with an OperationOutcome.
pub(crate) fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Why a studio call did not do its work: the text has errors (422 with the diagnostics, shown
/// in the editor), or anything else (an API error).
pub enum Refusal {
    /// The ruleset text has errors.
    Diagnostics(Vec<diagnostics::Diagnostic>),
    /// Another error.
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Api(e)
    }
}

const OK: StatusCode = StatusCode::OK;

/// The work of one studio call: the caller's request read into `T`, its JSON answer.
pub type Work<T> = fn(&AppState, &Access, T) -> Result<Value, Refusal>;

/// The handler of a studio call with a JSON body doing `work` (see [`call`]).
fn endpoint<T: DeserializeOwned + Send + 'static>(
    status: StatusCode,
    when_errors: &'static str,
    work: Work<T>,
) -> impl Fn(State<Arc<AppState>>, Extension<Access>, JsonBody) -> BoxFuture<'static, Response>
       + Clone
       + Send
       + Sync
       + 'static {
    move |State(state), Extension(access), json| {
        Box::pin(call(state, access, json, status, when_errors, work))
    }
}

/// One studio API call: the admin role, the JSON body read into `T`, the work done off the
/// async threads, and its answer — `status` with JSON, 422 with the diagnostics (`when_errors`
/// says what could not be done), or the error.
async fn call<T: DeserializeOwned + Send + 'static>(
    state: Arc<AppState>,
    access: Access,
    json: JsonBody,
    status: StatusCode,
    when_errors: &'static str,
    work: Work<T>,
) -> Response {
    let req: T = match admin(&access).and_then(|()| body(json)) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    match blocking(move || Ok(work(&state, &access, req))).await {
        Ok(Ok(v)) => (status, Json(v)).into_response(),
        Ok(Err(Refusal::Diagnostics(d))) => unprocessable(when_errors, &d),
        Ok(Err(Refusal::Api(e))) | Err(e) => e.into_response(),
    }
}

/// 422 with the diagnostics: the text has errors. An OperationOutcome with one issue per
/// error (its `expression` is `line:column`) and the diagnostics in the editor's shape.
pub(crate) fn unprocessable(what: &str, diagnostics: &[diagnostics::Diagnostic]) -> Response {
    let issues: Vec<Value> = diagnostics
        .iter()
        .filter(|d| d.severity == "error")
        .map(|d| {
            json!({
                "severity": "error",
                "code": "invalid",
                "diagnostics": format!("{}:{}: {}", d.line, d.column, d.message),
                "expression": [format!("{}:{}", d.line, d.column)],
            })
        })
        .collect();
    let mut body = edit::diagnostics_json(diagnostics);
    body["resourceType"] = json!("OperationOutcome");
    body["issue"] = json!(if issues.is_empty() {
        vec![json!({"severity": "error", "code": "invalid", "diagnostics": what})]
    } else {
        issues
    });
    body["message"] = json!(what);
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

/// Runs blocking work (evaluation, tests, replay, files) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ApiError::internal("the studio's work stopped unexpectedly")))
}

/// 403 unless the caller has the admin role.
pub(crate) fn admin(access: &Access) -> Result<(), ApiError> {
    access.require_admin()
}
