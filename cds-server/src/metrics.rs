//! Prometheus metrics: requests, errors and latency per service; cards by rule and indicator;
//! feedback outcomes by rule and reason; ruleset reloads. Labels never hold patient data:
//! services, rules, indicators, outcomes and override-reason codes only come from the loaded
//! rulesets or a fixed list, and anything else is counted as `other`.
//!
//! Requests, cards and feedback carry the caller's `tenant` (empty when authentication is
//! off); [`Metrics::render_for`] keeps one tenant's series, for a tenant's admin.

use std::sync::Mutex;

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The caller's tenant (empty when authentication is off or failed).
    pub tenant: String,
    /// The service id, or the route (`/cds-services`, `/metrics`, ...).
    pub service: String,
    /// The status code class: `2xx`, `4xx`, `5xx`.
    pub class: String,
}

/// Labels of a latency observation.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    /// The caller's tenant.
    pub tenant: String,
    /// The service id or route.
    pub service: String,
}

/// Labels of a card.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CardLabels {
    /// The caller's tenant.
    pub tenant: String,
    /// The service id.
    pub service: String,
    /// The ruleset.
    pub ruleset: String,
    /// The rule id.
    pub rule: String,
    /// `info`, `warning` or `critical`.
    pub indicator: String,
}

/// Labels of a feedback item.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FeedbackLabels {
    /// The caller's tenant.
    pub tenant: String,
    /// The service id.
    pub service: String,
    /// The ruleset (`unknown` when the card is not one this server answered recently).
    pub ruleset: String,
    /// The rule id (`unknown` likewise).
    pub rule: String,
    /// `accepted` or `overridden`.
    pub outcome: String,
    /// The override reason's code when it is one the card offered; `other` for another
    /// reason, empty when none was given.
    pub reason: String,
}

impl From<&crate::audit::FeedbackKey> for FeedbackLabels {
    /// The metrics labels of what a feedback item is counted under in the store.
    fn from(k: &crate::audit::FeedbackKey) -> Self {
        FeedbackLabels {
            tenant: k.tenant.clone(),
            service: k.service.clone(),
            ruleset: k.ruleset.clone(),
            rule: k.rule.clone(),
            outcome: k.outcome.clone(),
            reason: k.reason.clone(),
        }
    }
}

/// Labels of a reload.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `ok`, `partial` (some files kept their previous version) or `failed`.
    pub result: String,
}

/// Labels of a refused authentication.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeniedLabels {
    /// Why, as a short slug (`expired`, `audience`, `replayed`, ...).
    pub reason: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Requests by service and status class.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by service, in seconds.
    pub latency: Family<ServiceLabels, Histogram>,
    /// Cards answered, by rule and indicator.
    pub cards: Family<CardLabels, Counter>,
    /// Feedback by rule, outcome and reason.
    pub feedback: Family<FeedbackLabels, Counter>,
    /// Ruleset reloads by result.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Refused authentications by reason.
    pub auth_denied: Family<DeniedLabels, Counter>,
    /// Requests in flight.
    pub in_flight: Gauge,
    /// Patients with a device window.
    pub device_windows: Gauge,
    /// The audit store's counts (set from [`crate::audit::Audit::stats`] when rendered).
    pub audit: Family<AuditLabels, Gauge>,
}

/// Labels of the audit store's counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AuditLabels {
    /// `written`, `write_failures`, `rejected`, `lost`, or `failing` (1 while writes fail).
    pub count: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let m = Metrics {
            registry: Mutex::new(Registry::with_prefix("cds")),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            cards: Family::default(),
            feedback: Family::default(),
            reloads: Family::default(),
            auth_denied: Family::default(),
            in_flight: Gauge::default(),
            device_windows: Gauge::default(),
            audit: Family::default(),
        };
        {
            let mut r = m.registry.lock().expect("metrics registry");
            r.register(
                "requests",
                "HTTP requests by service and status class",
                m.requests.clone(),
            );
            r.register(
                "request_duration_seconds",
                "HTTP request latency by service",
                m.latency.clone(),
            );
            r.register(
                "cards",
                "Cards answered by rule and indicator",
                m.cards.clone(),
            );
            r.register(
                "feedback",
                "Card feedback by rule, outcome and override reason",
                m.feedback.clone(),
            );
            r.register(
                "ruleset_reloads",
                "Ruleset reloads by result",
                m.reloads.clone(),
            );
            r.register(
                "auth_denied",
                "Refused authentications by reason",
                m.auth_denied.clone(),
            );
            r.register(
                "requests_in_flight",
                "Requests being handled",
                m.in_flight.clone(),
            );
            r.register(
                "audit_store",
                "The audit store: operations written, failed writes (retried), rejected, lost, and whether writes are failing now",
                m.audit.clone(),
            );
            r.register(
                "device_windows",
                "Patients with an in-memory window of device readings",
                m.device_windows.clone(),
            );
        }
        m
    }
}

impl Metrics {
    /// Sets the audit store's gauges.
    pub fn set_audit(&self, stats: &crate::audit::AuditStats) {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        for (count, n) in [
            ("written", clamp(stats.written)),
            ("write_failures", clamp(stats.write_failures)),
            ("rejected", clamp(stats.rejected)),
            ("lost", clamp(stats.lost)),
            ("failing", i64::from(stats.failing)),
        ] {
            self.audit
                .get_or_create(&AuditLabels {
                    count: count.to_string(),
                })
                .set(n);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().expect("metrics registry");
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &r);
        out
    }

    /// The exposition with only `tenant`'s series among those labelled by tenant; series
    /// without a tenant label (in flight, reloads, ...) are kept.
    pub fn render_for(&self, tenant: &str) -> String {
        let own = format!("tenant=\"{tenant}\"");
        let mut out = String::new();
        for line in self.render().lines() {
            let labelled = !line.starts_with('#') && line.contains("tenant=\"");
            if !labelled || line.contains(&own) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_with_labels() {
        let m = Metrics::default();
        m.cards
            .get_or_create(&CardLabels {
                tenant: String::new(),
                service: "bp-patient-view".into(),
                ruleset: "bp".into(),
                rule: "high".into(),
                indicator: "warning".into(),
            })
            .inc();
        let text = m.render();
        assert!(text.contains(
            "cds_cards_total{tenant=\"\",service=\"bp-patient-view\",ruleset=\"bp\",rule=\"high\",indicator=\"warning\"} 1"
        ), "{text}");
    }

    #[test]
    fn a_tenant_sees_its_own_series() {
        let m = Metrics::default();
        for tenant in ["north", "south"] {
            m.requests
                .get_or_create(&RequestLabels {
                    tenant: tenant.into(),
                    service: "s".into(),
                    class: "2xx".into(),
                })
                .inc();
        }
        m.in_flight.inc();
        let text = m.render_for("north");
        assert!(text.contains("tenant=\"north\""), "{text}");
        assert!(!text.contains("south"), "{text}");
        assert!(text.contains("cds_requests_in_flight 1"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
