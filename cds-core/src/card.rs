//! CDS Hooks 2.0 cards: the shape the engine answers in, and the evidence it attaches.
//!
//! [`Card`] serializes to the JSON of the CDS Hooks 2.0 specification (`uuid`, `summary` of
//! at most 140 characters, `detail`, `indicator`, `source`, `suggestions`,
//! `selectionBehavior`, `overrideReasons`, `links`). The evidence — which rule fired, the
//! values it used and the resources they came from — travels in the card's `extension`
//! under `"cds-evidence"`, and as [`Evidence`] for Rust callers.
//!
//! ```
//! use cds_core::card::{Card, Indicator, Source};
//! let card = Card::new("Potassium 6.8 mmol/L is critically high", Indicator::Critical,
//!     Source { label: "Lab critical values".into(), url: None, icon: None });
//! let json = serde_json::to_value(&card).unwrap();
//! assert_eq!(json["indicator"], "critical");
//! assert!(json.get("suggestions").is_none());
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The longest summary CDS Hooks allows, in characters.
pub const MAX_SUMMARY_CHARS: usize = 140;

/// How urgent a card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Indicator {
    /// `info`
    Info,
    /// `warning`
    Warning,
    /// `critical`
    Critical,
}

impl Indicator {
    /// The CDS Hooks word.
    pub fn as_str(self) -> &'static str {
        match self {
            Indicator::Info => "info",
            Indicator::Warning => "warning",
            Indicator::Critical => "critical",
        }
    }
}

/// A CDS Hooks 2.0 card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Card {
    /// Identifies the card (for feedback).
    pub uuid: String,
    /// One line, at most 140 characters.
    pub summary: String,
    /// Markdown detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `info`, `warning` or `critical`.
    pub indicator: Indicator,
    /// Where the advice comes from.
    pub source: Source,
    /// Suggested actions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// `any` or `at-most-one`; required when there are suggestions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_behavior: Option<String>,
    /// Reasons a clinician may give for overriding the card.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub override_reasons: Vec<Coding>,
    /// Links to more information.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Extensions; the engine puts the evidence under `"cds-evidence"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Json>,
}

impl Card {
    /// A card with a summary (cut to 140 characters), an indicator and a source; a uuid of
    /// zeros until the engine assigns one.
    pub fn new(summary: &str, indicator: Indicator, source: Source) -> Card {
        Card {
            uuid: "00000000-0000-0000-0000-000000000000".into(),
            summary: truncate_summary(summary),
            detail: None,
            indicator,
            source,
            suggestions: Vec::new(),
            selection_behavior: None,
            override_reasons: Vec::new(),
            links: Vec::new(),
            extension: None,
        }
    }
}

/// Cuts a summary to [`MAX_SUMMARY_CHARS`] characters, ending with `…` when cut.
pub fn truncate_summary(s: &str) -> String {
    if s.chars().count() <= MAX_SUMMARY_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    out.push('…');
    out
}

/// The source of a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// A short label (the guideline or publisher).
    pub label: String,
    /// A link to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// An icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// A link on a card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    /// Its label.
    pub label: String,
    /// The URL.
    pub url: String,
    /// `absolute` (a plain link) or `smart` (a SMART app launch).
    #[serde(rename = "type")]
    pub kind: String,
}

/// A suggestion: actions taken together when the clinician accepts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// Shown to the clinician.
    pub label: String,
    /// Identifies the suggestion (for feedback).
    pub uuid: String,
    /// The actions.
    pub actions: Vec<Action>,
}

/// One action of a suggestion or a system action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// `create`, `update` or `delete`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What it does.
    pub description: String,
    /// The resource to create or update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<Json>,
    /// The resource to delete, `Type/id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// A FHIR Coding (override reasons).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coding {
    /// The code system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The code.
    pub code: String,
    /// Its display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// Why a card was raised: the rule and the values it used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The ruleset's name.
    pub ruleset: String,
    /// The ruleset's version.
    pub version: String,
    /// The rule id.
    pub rule: String,
    /// The evaluation time.
    pub at: String,
    /// The definitions the rule used, in the order it names them.
    pub values: Vec<EvidenceValue>,
}

/// One definition a fired rule used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceValue {
    /// The definition's name.
    pub name: String,
    /// Its value as shown in card texts.
    pub shown: String,
    /// Its value as JSON (`null` when absent).
    pub value: Json,
    /// The resources it came from (`Type/id`).
    pub resources: Vec<String>,
}
