//! Feedback (`POST /cds-services/{id}/feedback`): which cards were accepted or overridden, with
//! which reasons and suggestions — counted per tenant, rule, outcome and reason in the metrics
//! and in the audit store (the basis for measuring alert fatigue per rule; `GET
//! /admin/feedback`). Nothing else is kept: no patient data, no user comments.
//!
//! Lenient, as clients differ: `{"feedback": [...]}`, a bare array, or a single item.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use crate::access::Access;
use crate::audit::FeedbackKey;
use crate::body::JsonBody;
use crate::hooks::{visible_service, ServiceLabel};
use crate::metrics::FeedbackLabels;
use crate::outcome::{ApiError, Problem};
use crate::state::AppState;

/// One feedback item, as counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The card's uuid.
    pub card: String,
    /// `accepted` or `overridden`.
    pub outcome: String,
    /// The override reason's code, if any.
    pub reason: Option<String>,
}

/// Reads the feedback items of a body, with the JSON path of every problem.
pub fn items(body: &Value) -> Result<Vec<Item>, ApiError> {
    let (list, base): (Vec<&Value>, &str) =
        match body {
            Value::Object(o) if o.contains_key("feedback") => match &o["feedback"] {
                Value::Array(a) => (a.iter().collect(), "feedback"),
                _ => return Err(ApiError::invalid_at("feedback", "must be an array")),
            },
            Value::Object(_) => (vec![body], ""),
            Value::Array(a) => (a.iter().collect(), ""),
            _ => return Err(ApiError::invalid_at(
                "",
                "the body must be a feedback object, an array of them, or {\"feedback\": [...]}",
            )),
        };
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in list.into_iter().enumerate() {
        let at = if base.is_empty() && !body.is_array() {
            String::new()
        } else {
            format!("{base}[{i}]")
        };
        let field = |f: &str| {
            if at.is_empty() {
                f.to_string()
            } else {
                format!("{at}.{f}")
            }
        };
        let card = match item.get("card") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => {
                problems.push(Problem::at(
                    field("card"),
                    "must be the card's uuid, a string",
                ));
                None
            }
            None => {
                problems.push(Problem::at(field("card"), "is required"));
                None
            }
        };
        let outcome = match item.get("outcome").and_then(Value::as_str) {
            Some(o @ ("accepted" | "overridden")) => Some(o.to_string()),
            Some(_) => {
                problems.push(Problem::at(
                    field("outcome"),
                    "must be one of: accepted, overridden",
                ));
                None
            }
            None => {
                problems.push(Problem::at(
                    field("outcome"),
                    "is required (accepted or overridden)",
                ));
                None
            }
        };
        let reason = item
            .get("overrideReason")
            .and_then(|r| r.get("reason"))
            .and_then(|r| r.get("code"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if outcome.as_deref() == Some("accepted") && item.get("overrideReason").is_some() {
            problems.push(Problem::at(
                field("overrideReason"),
                "is only for overridden cards",
            ));
        }
        if let Some(s) = item.get("acceptedSuggestions") {
            if !s
                .as_array()
                .is_some_and(|a| a.iter().all(|x| x.get("id").is_some_and(Value::is_string)))
            {
                problems.push(Problem::at(
                    field("acceptedSuggestions"),
                    "must be an array of {\"id\": suggestion uuid}",
                ));
            }
        }
        if let (Some(card), Some(outcome)) = (card, outcome) {
            out.push(Item {
                card,
                outcome,
                reason,
            });
        }
    }
    if !problems.is_empty() {
        problems.truncate(20);
        return Err(ApiError::invalid(problems));
    }
    Ok(out)
}

/// `POST /cds-services/{id}/feedback`.
pub async fn feedback(
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
    let result = body.and_then(|JsonBody(b)| {
        state.schemas.feedback(&b).map_err(ApiError::invalid)?;
        items(&b)
    });
    let mut res = match result {
        Ok(list) => {
            for item in &list {
                let key = count_key(&state, &access, &service.id, item);
                state
                    .metrics
                    .feedback
                    .get_or_create(&FeedbackLabels::from(&key))
                    .inc();
                state.audit.feedback(key, 1).await;
            }
            StatusCode::OK.into_response()
        }
        Err(e) => e.into_response(),
    };
    res.extensions_mut().insert(label);
    res
}

/// What one feedback item is counted under: the card's rule when this server answered it
/// recently, to this tenant, from this service; `unknown` otherwise. The reason is the code
/// when the card offered it, `other` for any other, empty when none.
fn count_key(state: &AppState, access: &Access, service: &str, item: &Item) -> FeedbackKey {
    let known = state
        .cards
        .get(&item.card)
        .filter(|c| c.service == service && c.tenant == access.tenant);
    let (ruleset, rule, reason) = match &known {
        Some(c) => (
            c.ruleset.clone(),
            c.rule.clone(),
            match &item.reason {
                None => String::new(),
                Some(r) if c.reasons.contains(r) => r.clone(),
                Some(_) => "other".to_string(),
            },
        ),
        None => (
            "unknown".to_string(),
            "unknown".to_string(),
            if item.reason.is_some() {
                "other".into()
            } else {
                String::new()
            },
        ),
    };
    FeedbackKey {
        tenant: access.tenant.clone(),
        service: service.to_string(),
        ruleset,
        rule,
        outcome: item.outcome.clone(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wrapped_bare_and_single_items_are_read() {
        let item = json!({"card": "c1", "outcome": "overridden",
            "overrideReason": {"reason": {"code": "pt-declined"}, "userComment": "free text"},
            "outcomeTimestamp": "2024-01-01T00:00:00Z"});
        let expect = vec![Item {
            card: "c1".into(),
            outcome: "overridden".into(),
            reason: Some("pt-declined".into()),
        }];
        assert_eq!(items(&json!({"feedback": [item.clone()]})).unwrap(), expect);
        assert_eq!(items(&json!([item.clone()])).unwrap(), expect);
        assert_eq!(items(&item).unwrap(), expect);
    }

    #[test]
    fn problems_are_named_by_path() {
        let e = items(
            &json!({"feedback": [{"card": "c1", "outcome": "maybe"}, {"outcome": "accepted"}]}),
        )
        .unwrap_err();
        let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["feedback[0].outcome", "feedback[1].card"]);
    }
}
