//! Listing, opening, checking, formatting and saving ruleset files.
//!
//! | route | |
//! | --- | --- |
//! | `GET /studio/api/rulesets` | the ruleset files: name, version, title, hooks, number of test cases |
//! | `GET /studio/api/ruleset?file=F` | a file's text, its test cases, its previous versions, its `etag` |
//! | `POST /studio/api/check` | `{file, text}` → every diagnostic (as `cds check`) |
//! | `POST /studio/api/format` | `{file, text}` → the canonical layout (as `cds fmt`) |
//! | `PUT /studio/api/ruleset` | `{file, text, etag?}` → saved when it checks clean with the other rulesets; previous version kept; rules reloaded |

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::diagnostics::{check as check_text, Diagnostic};
use super::workspace::{RulesFile, Workspace};
use super::{admin, blocking, respond, Refusal};
use crate::access::Access;
use crate::outcome::ApiError;
use crate::state::AppState;

/// The body of check, format and save.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edited {
    /// The ruleset file (`news2/news2.rules`).
    pub file: String,
    /// Its text as edited.
    pub text: String,
    /// For a save: the `etag` of the text the editor started from; the save is refused (409)
    /// when the file changed since.
    #[serde(default)]
    pub etag: Option<String>,
}

/// The longest ruleset text accepted (bytes).
pub const MAX_TEXT: usize = 1 << 20;

impl Edited {
    pub(crate) fn validate(&self) -> Result<(), ApiError> {
        if self.text.len() > MAX_TEXT {
            return Err(ApiError::invalid_at(
                "text",
                format!("a ruleset is at most {MAX_TEXT} bytes"),
            ));
        }
        Ok(())
    }
}

/// The workspace of the server's rulesets folder.
pub(crate) fn workspace(state: &AppState) -> Workspace {
    Workspace::new(&state.config.rulesets)
}

/// The ruleset name a text declares (`ruleset NAME ...`), without parsing the whole file.
pub(crate) fn declared_name(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("ruleset "))
        .and_then(|l| l.split_whitespace().nth(1))
}

/// 404 unless the caller's tenant sees the ruleset of this file (by the name it declares).
pub(crate) fn visible(access: &Access, file: &RulesFile, text: &str) -> Result<(), ApiError> {
    match declared_name(text) {
        Some(name) if !access.sees(name) => {
            Err(ApiError::not_found(format!("no ruleset file {}", file.id)))
        }
        _ => Ok(()),
    }
}

/// The entity tag of a text (its SHA-256, hex).
pub fn etag(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /studio/api/rulesets`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
) -> Response {
    respond(list_inner(state, access).await)
}

async fn list_inner(state: Arc<AppState>, access: Access) -> Result<Value, ApiError> {
    admin(&access)?;
    blocking(move || {
        let ws = workspace(&state);
        let mut out = Vec::new();
        for f in ws.files()? {
            let Ok(text) = std::fs::read_to_string(&f.path) else {
                continue;
            };
            let name = declared_name(&text).unwrap_or_default().to_string();
            if !name.is_empty() && !access.sees(&name) {
                continue;
            }
            let tests = cds_rules::engine::files_with_extension(&f.dir().join("tests"), "json")
                .map(|v| v.len())
                .unwrap_or(0);
            let (version, title, hooks, ok) = match cds_rules::parse(&text, &f.id) {
                Ok(ast) => (
                    {
                        let v = &ast.header.version;
                        format!("{}.{}.{}", v.major, v.minor, v.patch)
                    },
                    ast.header.description.as_ref().map(|t| t.value.clone()),
                    ast.header
                        .answers
                        .iter()
                        .map(|h| h.name.clone())
                        .collect::<Vec<_>>(),
                    true,
                ),
                Err(_) => (String::new(), None, Vec::new(), false),
            };
            out.push(json!({
                "file": f.id,
                "name": name,
                "version": version,
                "title": title,
                "hooks": hooks,
                "tests": tests,
                "parses": ok,
            }));
        }
        Ok(json!({ "rulesets": out }))
    })
    .await
}

/// The query of `GET /studio/api/ruleset`.
#[derive(Debug, Deserialize)]
pub struct FileQuery {
    /// The ruleset file.
    pub file: String,
}

/// `GET /studio/api/ruleset?file=F`.
pub async fn open(
    State(state): State<Arc<AppState>>,
    Extension(access): Extension<Access>,
    query: Result<Query<FileQuery>, QueryRejection>,
) -> Response {
    let result = async {
        admin(&access)?;
        let Query(q) =
            query.map_err(|_| ApiError::invalid_at("file", "give ?file=FOLDER/NAME.rules"))?;
        blocking(move || {
            let ws = workspace(&state);
            let f = ws.file(&q.file, true)?;
            let text = std::fs::read_to_string(&f.path)
                .map_err(|_| ApiError::not_found(format!("no ruleset file {}", f.id)))?;
            visible(&access, &f, &text)?;
            let tests: Vec<Value> =
                cds_rules::engine::files_with_extension(&f.dir().join("tests"), "json")
                    .unwrap_or_default()
                    .iter()
                    .map(|p| {
                        let description = cds_rules::testing::TestCase::read(p)
                            .map(|c| c.description)
                            .unwrap_or_default();
                        let id = p
                            .strip_prefix(ws.root())
                            .map(|r| r.to_string_lossy().replace('\\', "/"))
                            .unwrap_or_default();
                        json!({"file": id, "description": description})
                    })
                    .collect();
            Ok(json!({
                "file": f.id,
                "name": declared_name(&text),
                "etag": etag(&text),
                "history": ws.history(&f),
                "tests": tests,
                "text": text,
            }))
        })
        .await
    }
    .await;
    respond(result)
}

/// The answer of a check: every diagnostic and the counts.
pub(crate) fn diagnostics_json(diagnostics: &[Diagnostic]) -> Value {
    let errors = diagnostics.iter().filter(|d| d.severity == "error").count();
    json!({
        "ok": errors == 0,
        "errors": errors,
        "warnings": diagnostics.len() - errors,
        "diagnostics": diagnostics,
    })
}

/// `POST /studio/api/check` `{file, text}`.
pub fn check(_: &AppState, _: &Access, e: Edited) -> Result<Value, Refusal> {
    e.validate()?;
    Ok(diagnostics_json(&check_text(&e.text, &e.file).diagnostics))
}

/// `POST /studio/api/format` `{file, text}`: 422 with the syntax errors when it does not parse.
pub fn format(_: &AppState, _: &Access, e: Edited) -> Result<Value, Refusal> {
    e.validate()?;
    match cds_rules::parse(&e.text, &e.file) {
        Ok(ast) => Ok(json!({ "text": cds_rules::format(&ast) })),
        Err(_) => Err(Refusal::Diagnostics(
            check_text(&e.text, &e.file).diagnostics,
        )),
    }
}

/// One save at a time (the check, the backup and the write belong together).
static SAVING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `PUT /studio/api/ruleset` `{file, text, etag?}`.
pub fn save(state: &AppState, access: &Access, e: Edited) -> Result<Value, Refusal> {
    e.validate()?;
    let _one = SAVING.lock().unwrap_or_else(|p| p.into_inner());
    let ws = workspace(state);
    let f = ws.file(&e.file, false)?;
    let old = std::fs::read_to_string(&f.path).ok();
    if let Some(old) = &old {
        visible(access, &f, old)?;
        if let Some(tag) = &e.etag {
            if *tag != etag(old) {
                return Err(ApiError {
                    status: StatusCode::CONFLICT,
                    code: "conflict",
                    problems: vec![crate::outcome::Problem::at(
                        "etag",
                        "the file changed on disk since it was opened; reopen it (your text is still in the editor) and apply your changes again",
                    )],
                    retry_after: None,
                }
                .into());
            }
        }
    }
    visible(access, &f, &e.text)?;
    let checked = check_text(&e.text, &e.file);
    if checked.errors() > 0 {
        return Err(Refusal::Diagnostics(checked.diagnostics));
    }
    // Clean alone; it must also load with the other rulesets (a ruleset name used twice).
    if let Err(err) =
        cds_rules::engine::Engine::load_with(ws.root(), &[(f.path.clone(), e.text.clone())])
    {
        let message = match &err {
            cds_rules::engine::EngineError::Compile(c) => c.to_string(),
            other => other.to_string(),
        };
        return Err(ApiError::invalid_at("text", format!("not saved: {message}")).into());
    }
    let backup = ws
        .save(&f, &e.text, state.config.studio.keep_versions)
        .map_err(|err| {
            tracing::warn!(error = %err, "studio: a ruleset could not be written");
            ApiError::internal("the ruleset could not be written; see the server log")
        })?;
    tracing::info!(file = %f.id, "studio: ruleset saved");
    let problems = state.reload();
    Ok(json!({
        "file": f.id,
        "saved": true,
        "etag": etag(&e.text),
        "backup": backup,
        "reloaded": problems.is_empty(),
        "reloadProblems": problems,
        "warnings": checked.diagnostics.iter().filter(|d| d.severity == "warning").count(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_name_is_read_from_the_header() {
        assert_eq!(
            declared_name("// c\nruleset news2 version 1.0.0\n"),
            Some("news2")
        );
        assert_eq!(declared_name("rule x\n"), None);
    }

    #[test]
    fn etags_change_with_the_text() {
        assert_eq!(etag("a"), etag("a"));
        assert_ne!(etag("a"), etag("b"));
        assert_eq!(etag("").len(), 64);
    }
}
