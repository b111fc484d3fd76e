//! `report.html`: a self-contained page of a [`Summary`].
//!
//! One HTML5 file with its style inline and its charts drawn as inline SVG: nothing is fetched
//! (no script, font, style sheet or image), so a clinician opens it from disk without a server,
//! and it prints. The same summary always renders to the same bytes: no clock, no random ids,
//! numbers with fixed decimals.

use std::fmt::Write as _;

use crate::summary::{Quantiles, RuleSummary, Skipped, Summary};

/// Spans of more than this many calendar months are charted per calendar year instead.
pub const MAX_MONTHS: usize = 120;

/// The buckets of [`RuleSummary::fire_counts`], in order.
const FIRE_BUCKETS: [&str; 7] = ["1", "2", "3-5", "6-10", "11-20", "21-50", "51+"];

/// Shown for a figure that does not apply.
const NONE: &str = "—";

/// Writes to a `String` (which cannot fail).
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// The page of a replay: `summary`'s figures, and the `skipped` lines given (the caller passes
/// the first ones; their total is `summary.input.skipped`).
pub fn render(summary: &Summary, skipped: &[Skipped]) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str(HEAD);
    out.push_str("<body>\n<main>\n<h1>Replay report</h1>\n");
    facts(&mut out, summary);
    rules_table(&mut out, summary);
    alerts_per_month(&mut out, summary);
    alerts_per_patient(&mut out, summary);
    skipped_lines(&mut out, summary.input.skipped, skipped);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

pub use cds_core::markup::escape;

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Replay report</title>
<style>
:root{color-scheme:light}
body{margin:0;background:#fff;color:#1f2328;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:76rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.7rem;margin:0 0 1rem}
h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-bottom:.2rem;border-bottom:1px solid #d0d7de}
h3{font-size:1rem;margin:0 0 .4rem}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.note{color:#59636e;margin:.2rem 0 .8rem}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(20rem,100%),1fr));gap:1rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.7rem .9rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.15rem 1rem;margin:0}
dt{color:#59636e}
dd{margin:0;font-variant-numeric:tabular-nums}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.3rem .55rem;border-bottom:1px solid #d8dee4;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.num{text-align:right;white-space:nowrap}
tr.quiet td{color:#6e7781}
.badge{display:inline-block;padding:0 .5rem;border:1px solid;border-radius:1em;font-size:.8rem;font-weight:600}
.info{background:#ddf4ff;color:#0550ae;border-color:#54aeff}
.warning{background:#fff8c5;color:#7d4e00;border-color:#d4a72c}
.critical{background:#ffebe9;color:#a40e26;border-color:#ff8182}
.other{background:#f6f8fa;color:#59636e;border-color:#d0d7de}
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(28rem,100%),1fr));gap:1rem}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:.5rem .7rem}
figcaption{font-size:.9rem;margin-bottom:.3rem}
svg.chart{display:block;width:100%;height:auto}
.chart rect{fill:#0969da}
.chart .axis{stroke:#59636e;stroke-width:1}
.chart .grid{stroke:#d0d7de;stroke-width:1;stroke-dasharray:3 3}
.chart text{font-size:11px;fill:#59636e}
@media print{
body{font-size:10.5pt}
main{max-width:none;padding:0}
.scroll{overflow:visible}
figure,tr,.card{break-inside:avoid}
h2{break-after:avoid}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
</style>
</head>
"#;

/// What was replayed, what was read, who was evaluated.
fn facts(out: &mut String, s: &Summary) {
    out.push_str("<h2>What was replayed</h2>\n<div class=\"facts\">\n");

    out.push_str("<div class=\"card\">\n<h3>Evaluation</h3>\n<dl>\n");
    put!(
        out,
        "<dt>When</dt><dd>{}</dd>\n",
        escape(&s.mode.describe())
    );
    match &s.hook {
        Some(hook) => put!(
            out,
            "<dt>Rules</dt><dd>hook <code>{}</code></dd>\n",
            escape(hook)
        ),
        None => out.push_str("<dt>Rules</dt><dd>all rules</dd>\n"),
    }
    out.push_str("<dt>Rulesets</dt><dd>");
    if s.rulesets.is_empty() {
        out.push_str(NONE);
    }
    for (i, rs) in s.rulesets.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        put!(
            out,
            "<code>{}</code> {}",
            escape(&rs.name),
            escape(&rs.version)
        );
    }
    out.push_str("</dd>\n");
    put!(
        out,
        "<dt>Patient ids pseudonymised</dt><dd>{}</dd>\n",
        if s.pseudonymised { "yes" } else { "no" }
    );
    out.push_str("</dl>\n</div>\n");

    out.push_str("<div class=\"card\">\n<h3>Input</h3>\n<dl>\n");
    put!(
        out,
        "<dt>Files read</dt><dd>{}</dd>\n",
        count(s.input.files)
    );
    put!(
        out,
        "<dt>Resources kept</dt><dd>{}</dd>\n",
        count(s.input.resources)
    );
    put!(
        out,
        "<dt>Malformed lines or entries skipped</dt><dd>{}</dd>\n",
        count(s.input.skipped)
    );
    put!(
        out,
        "<dt>Resources of no patient found</dt><dd>{}</dd>\n",
        count(s.input.unlinked)
    );
    if !s.input.types_not_read.is_empty() {
        let types: Vec<String> = s.input.types_not_read.iter().map(|t| escape(t)).collect();
        put!(
            out,
            "<dt>Types no rule reads (not read)</dt><dd>{}</dd>\n",
            types.join(", ")
        );
    }
    out.push_str("</dl>\n</div>\n");

    out.push_str("<div class=\"card\">\n<h3>Patients</h3>\n<dl>\n");
    put!(out, "<dt>Evaluated</dt><dd>{}</dd>\n", count(s.patients));
    put!(
        out,
        "<dt>Not evaluated</dt><dd>{}</dd>\n",
        count(s.patients_not_evaluated)
    );
    put!(
        out,
        "<dt>Evaluations</dt><dd>{}</dd>\n",
        count(s.evaluations)
    );
    if s.mode.is_timeline() {
        put!(
            out,
            "<dt>Patient-months of follow-up</dt><dd>{:.1}</dd>\n",
            s.patient_months
        );
    }
    out.push_str("</dl>\n</div>\n");

    out.push_str("</div>\n");
}

/// One row per rule, fired or not.
fn rules_table(out: &mut String, s: &Summary) {
    out.push_str("<h2>Rules</h2>\n");
    if s.rules.is_empty() {
        out.push_str("<p>The rulesets have no rule to evaluate.</p>\n");
        return;
    }
    out.push_str(
        "<p class=\"note\">Patients fired: patients for whom the rule fired at least once. \
         Alerts: one per evaluation time at which it fired. Episodes: runs of consecutive \
         evaluation times at which it fired. Days are medians [25th–75th percentile].</p>\n",
    );
    out.push_str(
        "<div class=\"scroll\">\n<table class=\"rules\">\n<thead><tr>\
         <th>Ruleset</th><th>Rule</th><th>Indicator</th>\
         <th class=\"num\">Patients fired</th><th class=\"num\">% of evaluated</th>\
         <th class=\"num\">Alerts</th><th class=\"num\">Episodes</th>\
         <th class=\"num\">Alerts per 100 patient-months</th>\
         <th class=\"num\">Days to first fire</th><th class=\"num\">Episode days</th>\
         </tr></thead>\n<tbody>\n",
    );
    for r in &s.rules {
        let class = if r.alerts == 0 {
            " class=\"quiet\""
        } else {
            ""
        };
        put!(
            out,
            "<tr{class}><td>{}</td><td><code>{}</code></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            escape(&r.rule.ruleset),
            escape(&r.rule.rule),
            badge(&r.rule.indicator),
            count(r.patients),
            percent(r.patients, s.patients),
            count(r.alerts),
            count(r.episodes),
            r.alerts_per_100_patient_months
                .map_or_else(|| NONE.to_string(), |x| format!("{x:.2}")),
            r.first_fire_days
                .as_ref()
                .map_or_else(|| NONE.to_string(), spread),
            r.episode_days
                .as_ref()
                .map_or_else(|| NONE.to_string(), |q| format!("{:.1}", q.median)),
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// Chart 1: alerts per calendar month (or year), one small chart per rule that fired.
fn alerts_per_month(out: &mut String, s: &Summary) {
    out.push_str("<h2>Alerts per month</h2>\n");
    let Some(axis) = Timeline::of(&s.rules) else {
        out.push_str("<p>No rule raised an alert.</p>\n");
        quiet_rules(out, &s.rules);
        return;
    };
    let (first, last) = (
        axis.labels.first().map_or("", String::as_str),
        axis.labels.last().map_or("", String::as_str),
    );
    if axis.by_year {
        put!(
            out,
            "<p class=\"note\">The alerts span {} calendar months (more than {MAX_MONTHS}), so \
             they are summed per calendar year, from {} to {}; years without alerts show as 0. \
             Each chart has its own scale; its top value is written at the top left.</p>\n",
            axis.span_months,
            escape(first),
            escape(last)
        );
    } else {
        put!(
            out,
            "<p class=\"note\">Calendar months from {} to {}; months without alerts show as 0. \
             Each chart has its own scale; its top value is written at the top left.</p>\n",
            escape(first),
            escape(last)
        );
    }
    out.push_str("<div class=\"multiples\">\n");
    for r in s.rules.iter().filter(|r| r.alerts > 0) {
        let (values, unplaced) = axis.series(r);
        put!(
            out,
            "<figure>\n<figcaption>{} {} · {} {}",
            badge(&r.rule.indicator),
            rule_name(r),
            count(r.alerts),
            if r.alerts == 1 { "alert" } else { "alerts" }
        );
        if unplaced > 0 {
            put!(
                out,
                " ({} in months that could not be read, not charted)",
                count(unplaced)
            );
        }
        out.push_str("</figcaption>\n");
        let unit = if axis.by_year { "year" } else { "month" };
        bars(
            out,
            &Chart {
                labels: &axis.labels,
                values: &values,
                label_every_bar: false,
                aria: format!("Alerts per {unit} of {}", plain_name(r)),
            },
        );
        out.push_str("</figure>\n");
    }
    out.push_str("</div>\n");
    quiet_rules(out, &s.rules);
}

/// Chart 2: how many patients had how many alerts, one small chart per rule that fired.
fn alerts_per_patient(out: &mut String, s: &Summary) {
    out.push_str("<h2>Distribution of alerts per patient</h2>\n");
    if s.rules.iter().all(|r| r.alerts == 0) {
        out.push_str("<p>No rule raised an alert.</p>\n");
        quiet_rules(out, &s.rules);
        return;
    }
    out.push_str(
        "<p class=\"note\">Patients for whom the rule fired, by the number of alerts they had \
         (x axis: alerts per patient; y axis: patients).</p>\n<div class=\"multiples\">\n",
    );
    for r in s.rules.iter().filter(|r| r.alerts > 0) {
        let (labels, values) = fire_buckets(&r.fire_counts);
        put!(
            out,
            "<figure>\n<figcaption>{} {} · {} {}</figcaption>\n",
            badge(&r.rule.indicator),
            rule_name(r),
            count(r.patients),
            if r.patients == 1 {
                "patient"
            } else {
                "patients"
            }
        );
        bars(
            out,
            &Chart {
                labels: &labels,
                values: &values,
                label_every_bar: true,
                aria: format!("Patients by alerts per patient of {}", plain_name(r)),
            },
        );
        out.push_str("</figure>\n");
    }
    out.push_str("</div>\n");
    quiet_rules(out, &s.rules);
}

/// The skipped lines given, and how many there were in all.
fn skipped_lines(out: &mut String, total: u64, listed: &[Skipped]) {
    out.push_str("<h2>Skipped lines</h2>\n");
    if total == 0 && listed.is_empty() {
        out.push_str("<p>No line or entry was skipped.</p>\n");
        return;
    }
    let what = if total == 1 {
        "line or entry was"
    } else {
        "lines or entries were"
    };
    if listed.is_empty() {
        put!(
            out,
            "<p>{} {what} skipped as malformed; none is listed here.</p>\n",
            count(total)
        );
        return;
    }
    if (listed.len() as u64) < total {
        put!(
            out,
            "<p>{} {what} skipped as malformed; the first {} are listed.</p>\n",
            count(total),
            count(listed.len() as u64)
        );
    } else {
        put!(
            out,
            "<p>{} {what} skipped as malformed:</p>\n",
            count(total)
        );
    }
    out.push_str(
        "<div class=\"scroll\">\n<table class=\"skipped\">\n\
         <thead><tr><th>Where (file:line:column)</th><th>Reason</th></tr></thead>\n<tbody>\n",
    );
    for s in listed {
        let at = match s.column {
            Some(c) => format!("{}:{}:{c}", s.file, s.line),
            None => format!("{}:{}", s.file, s.line),
        };
        put!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td></tr>\n",
            escape(&at),
            escape(&s.reason)
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// The rules that never fired, named after a chart section.
fn quiet_rules(out: &mut String, rules: &[RuleSummary]) {
    let quiet: Vec<String> = rules
        .iter()
        .filter(|r| r.alerts == 0)
        .map(rule_name)
        .collect();
    if !quiet.is_empty() {
        put!(
            out,
            "<p class=\"note\">No alerts: {}.</p>\n",
            quiet.join(", ")
        );
    }
}

/// `ruleset / rule`, escaped.
fn rule_name(r: &RuleSummary) -> String {
    format!(
        "{} / <code>{}</code>",
        escape(&r.rule.ruleset),
        escape(&r.rule.rule)
    )
}

/// `ruleset / rule`, escaped, without markup (for attributes).
fn plain_name(r: &RuleSummary) -> String {
    escape(&format!("{} / {}", r.rule.ruleset, r.rule.rule))
}

/// The coloured badge of a card indicator.
fn badge(indicator: &str) -> String {
    let class = match indicator {
        "info" => "info",
        "warning" => "warning",
        "critical" => "critical",
        _ => "other",
    };
    format!("<span class=\"badge {class}\">{}</span>", escape(indicator))
}

/// A count with thousands separated by commas (`12,345`).
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `part` as a percentage of `whole`, or a dash when `whole` is 0.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        NONE.to_string()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// `median [p25–p75]`.
fn spread(q: &Quantiles) -> String {
    format!("{:.1} [{:.1}–{:.1}]", q.median, q.p25, q.p75)
}

/// The month index (`year * 12 + month - 1`) of `YYYY-MM`.
fn parse_month(s: &str) -> Option<u32> {
    let (y, m) = s.split_once('-')?;
    if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m): (u32, u32) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some(y * 12 + m - 1)
}

/// The x axis shared by the monthly charts: every calendar month (or year) from the first with
/// alerts of any rule to the last.
#[derive(Debug)]
struct Timeline {
    /// The first month index, or the first year when `by_year`.
    first: u32,
    /// One label per bar (`YYYY-MM`, or `YYYY` when `by_year`).
    labels: Vec<String>,
    /// True when the span is longer than [`MAX_MONTHS`].
    by_year: bool,
    /// Calendar months from the first to the last with alerts, both included.
    span_months: u32,
}

impl Timeline {
    /// The axis of `rules`' alerts, or `None` when no month with alerts can be read.
    fn of(rules: &[RuleSummary]) -> Option<Timeline> {
        let months = rules
            .iter()
            .flat_map(|r| &r.alerts_by_month)
            .filter(|(_, n)| *n > 0)
            .filter_map(|(m, _)| parse_month(m));
        let (lo, hi) = months.fold(None, |acc: Option<(u32, u32)>, m| match acc {
            None => Some((m, m)),
            Some((lo, hi)) => Some((lo.min(m), hi.max(m))),
        })?;
        let span_months = hi - lo + 1;
        if span_months as usize > MAX_MONTHS {
            let (first, last) = (lo / 12, hi / 12);
            Some(Timeline {
                first,
                labels: (first..=last).map(|y| format!("{y:04}")).collect(),
                by_year: true,
                span_months,
            })
        } else {
            Some(Timeline {
                first: lo,
                labels: (lo..=hi)
                    .map(|m| format!("{:04}-{:02}", m / 12, m % 12 + 1))
                    .collect(),
                by_year: false,
                span_months,
            })
        }
    }

    /// `rule`'s alerts per bar of the axis, and its alerts in months that could not be read.
    fn series(&self, rule: &RuleSummary) -> (Vec<u64>, u64) {
        let mut values = vec![0u64; self.labels.len()];
        let mut unplaced = 0u64;
        for (month, n) in &rule.alerts_by_month {
            let slot = parse_month(month)
                .map(|m| if self.by_year { m / 12 } else { m })
                .and_then(|k| k.checked_sub(self.first))
                .and_then(|k| values.get_mut(k as usize));
            match slot {
                Some(v) => *v = v.saturating_add(*n),
                None => unplaced = unplaced.saturating_add(*n),
            }
        }
        (values, unplaced)
    }
}

/// The bars of `fire_counts`: every usual bucket in order (0 when absent), or the buckets as
/// given when some are unusual.
fn fire_buckets(fire_counts: &[(String, u64)]) -> (Vec<String>, Vec<u64>) {
    if fire_counts
        .iter()
        .all(|(b, _)| FIRE_BUCKETS.contains(&b.as_str()))
    {
        let values = FIRE_BUCKETS
            .iter()
            .map(|b| {
                fire_counts
                    .iter()
                    .filter(|(l, _)| l == b)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .collect();
        (FIRE_BUCKETS.iter().map(|b| b.to_string()).collect(), values)
    } else {
        fire_counts.iter().cloned().unzip()
    }
}

/// A bar chart.
struct Chart<'a> {
    /// One label per bar (raw; escaped when written).
    labels: &'a [String],
    /// One value per bar.
    values: &'a [u64],
    /// Label every bar and write its value above it (categories); otherwise label only the
    /// first and last bars (time).
    label_every_bar: bool,
    /// What the chart shows, for screen readers (already escaped).
    aria: String,
}

/// Draws `chart` as inline SVG.
fn bars(out: &mut String, chart: &Chart) {
    const W: f64 = 480.0;
    const H: f64 = 150.0;
    const LEFT: f64 = 44.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 22.0;
    let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let base = TOP + plot_h;
    let n = chart.values.len().max(1);
    let max = chart.values.iter().copied().max().unwrap_or(0);
    let scale = if max == 0 { 0.0 } else { plot_h / max as f64 };
    let slot = plot_w / n as f64;
    let bar_w = (slot * 0.8).max(1.0);

    put!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" \
         aria-label=\"{}\">\n",
        chart.aria
    );
    put!(
        out,
        "<line class=\"grid\" x1=\"{LEFT:.1}\" y1=\"{TOP:.1}\" x2=\"{:.1}\" y2=\"{TOP:.1}\"/>\n",
        W - RIGHT
    );
    put!(
        out,
        "<line class=\"axis\" x1=\"{LEFT:.1}\" y1=\"{base:.1}\" x2=\"{:.1}\" y2=\"{base:.1}\"/>\n",
        W - RIGHT
    );
    put!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
        LEFT - 5.0,
        TOP + 4.0,
        count(max)
    );
    put!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">0</text>\n",
        LEFT - 5.0,
        base + 4.0
    );
    for (i, (label, &v)) in chart.labels.iter().zip(chart.values).enumerate() {
        let x = LEFT + slot * i as f64;
        let h = v as f64 * scale;
        if v > 0 {
            put!(
                out,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\">\
                 <title>{}: {}</title></rect>\n",
                x + (slot - bar_w) / 2.0,
                base - h,
                escape(label),
                count(v)
            );
        }
        if chart.label_every_bar {
            let mid = x + slot / 2.0;
            put!(
                out,
                "<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                base + 15.0,
                escape(label)
            );
            if v > 0 {
                put!(
                    out,
                    "<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
                    base - h - 3.0,
                    count(v)
                );
            }
        }
    }
    if !chart.label_every_bar {
        if let Some(first) = chart.labels.first() {
            put!(
                out,
                "<text x=\"{LEFT:.1}\" y=\"{:.1}\" text-anchor=\"start\">{}</text>\n",
                base + 15.0,
                escape(first)
            );
        }
        if let (Some(last), true) = (chart.labels.last(), chart.labels.len() > 1) {
            put!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
                W - RIGHT,
                base + 15.0,
                escape(last)
            );
        }
    }
    out.push_str("</svg>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{InputCounts, Mode, RuleId, RulesetInfo};

    fn rule(ruleset: &str, id: &str, indicator: &str) -> RuleSummary {
        RuleSummary {
            rule: RuleId {
                ruleset: ruleset.into(),
                rule: id.into(),
                indicator: indicator.into(),
            },
            patients: 0,
            alerts: 0,
            episodes: 0,
            alerts_per_100_patient_months: Some(0.0),
            first_fire_days: None,
            episode_days: None,
            alerts_by_month: vec![],
            fire_counts: vec![],
        }
    }

    fn months(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(m, n)| (m.to_string(), *n)).collect()
    }

    fn sample() -> Summary {
        let mut hyperkalaemia = rule("renal", "hyperkalaemia-acei", "critical");
        hyperkalaemia.patients = 17;
        hyperkalaemia.alerts = 62;
        hyperkalaemia.episodes = 21;
        hyperkalaemia.alerts_per_100_patient_months = Some(4.8123);
        hyperkalaemia.first_fire_days = Some(Quantiles {
            min: 0.0,
            p25: 3.0,
            median: 11.5,
            p75: 40.25,
            max: 120.0,
        });
        hyperkalaemia.episode_days = Some(Quantiles {
            min: 1.0,
            p25: 2.0,
            median: 3.0,
            p75: 7.0,
            max: 30.0,
        });
        // April is missing: the chart shows it as 0.
        hyperkalaemia.alerts_by_month = months(&[
            ("2024-01", 5),
            ("2024-02", 12),
            ("2024-03", 20),
            ("2024-05", 15),
            ("2024-06", 10),
        ]);
        hyperkalaemia.fire_counts = months(&[("1", 6), ("2", 4), ("3-5", 5), ("6-10", 2)]);

        let egfr = rule("renal", "egfr-metformin", "warning");

        let mut screening = rule("diabetes <&> \"screening\"", "hba1c-due", "info");
        screening.patients = 1;
        screening.alerts = 3;
        screening.episodes = 1;
        screening.alerts_per_100_patient_months = Some(0.2333);
        screening.first_fire_days = Some(Quantiles {
            min: 30.0,
            p25: 30.0,
            median: 30.0,
            p75: 30.0,
            max: 30.0,
        });
        screening.episode_days = Some(Quantiles {
            min: 61.0,
            p25: 61.0,
            median: 61.0,
            p75: 61.0,
            max: 61.0,
        });
        screening.alerts_by_month = months(&[("2024-02", 1), ("2024-08", 2)]);
        screening.fire_counts = months(&[("3-5", 1)]);

        Summary {
            mode: Mode::Every {
                from: "2024-01-01T00:00:00Z".into(),
                to: "2024-08-31T00:00:00Z".into(),
                every: "1d".into(),
            },
            hook: Some("patient-view".into()),
            rulesets: vec![
                RulesetInfo {
                    name: "renal".into(),
                    version: "1.4.0".into(),
                },
                RulesetInfo {
                    name: "diabetes <&> \"screening\"".into(),
                    version: "0.9".into(),
                },
            ],
            pseudonymised: true,
            input: InputCounts {
                files: 12,
                resources: 1_234_567,
                skipped: 7,
                unlinked: 3,
                types_not_read: vec!["Claim".into(), "DocumentReference".into()],
            },
            patients: 1_000,
            patients_not_evaluated: 4,
            evaluations: 243_000,
            patient_months: 1288.4567,
            rules: vec![hyperkalaemia, egfr, screening],
        }
    }

    fn skipped() -> Vec<Skipped> {
        vec![
            Skipped {
                file: "export/<&>Observation.ndjson".into(),
                line: 14,
                column: Some(23),
                reason: "expected `,` or `}` at line 1 column 23".into(),
            },
            Skipped {
                file: "bundles/b<1>.json".into(),
                line: 2,
                column: None,
                reason: "entry 3: not a resource (no \"resourceType\")".into(),
            },
        ]
    }

    #[test]
    fn escape_replaces_html_specials() {
        assert_eq!(escape(""), "");
        assert_eq!(escape("plain text é"), "plain text é");
        assert_eq!(
            escape(r#"<a href="x">Tom & 'Jerry'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("&amp;"), "&amp;amp;");
    }

    #[test]
    fn renders_a_timeline_replay() {
        insta::assert_snapshot!(render(&sample(), &skipped()));
    }

    #[test]
    fn renders_the_same_bytes_twice() {
        let (s, k) = (sample(), skipped());
        assert_eq!(render(&s, &k), render(&s, &k));
    }

    #[test]
    fn fetches_nothing() {
        let html = render(&sample(), &skipped()).to_ascii_lowercase();
        for attr in ["src=", "href="] {
            for quote in ["\"", "'", ""] {
                for scheme in ["http:", "https:", "//"] {
                    let needle = format!("{attr}{quote}{scheme}");
                    assert!(!html.contains(&needle), "found {needle}");
                }
            }
        }
        assert!(!html.contains("<script src"));
        assert!(!html.contains("<link"));
        assert!(!html.contains("@import"));
        assert!(!html.contains("url("));
    }

    #[test]
    fn text_from_the_summary_is_escaped() {
        let html = render(&sample(), &skipped());
        assert!(!html.contains("<&>"));
        assert!(html.contains("export/&lt;&amp;&gt;Observation.ndjson:14:23"));
        assert!(html.contains("bundles/b&lt;1&gt;.json:2<"));
        assert!(html.contains("diabetes &lt;&amp;&gt; &quot;screening&quot;"));
    }

    #[test]
    fn months_without_alerts_between_are_zero() {
        let s = sample();
        let axis = Timeline::of(&s.rules).unwrap();
        assert!(!axis.by_year);
        assert_eq!(
            axis.labels,
            [
                "2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06", "2024-07",
                "2024-08"
            ]
        );
        assert_eq!(
            axis.series(&s.rules[0]),
            (vec![5, 12, 20, 0, 15, 10, 0, 0], 0)
        );
        assert_eq!(axis.series(&s.rules[2]), (vec![0, 1, 0, 0, 0, 0, 0, 2], 0));
    }

    #[test]
    fn long_spans_are_charted_per_year() {
        let mut s = sample();
        // 2014-11 to 2024-12: 122 months.
        s.rules[2].alerts_by_month = months(&[("2014-11", 4), ("2014-12", 1), ("2024-12", 2)]);
        let axis = Timeline::of(&s.rules).unwrap();
        assert!(axis.by_year);
        assert_eq!(axis.span_months, 122);
        assert_eq!(axis.labels.first().unwrap(), "2014");
        assert_eq!(axis.labels.last().unwrap(), "2024");
        assert_eq!(axis.labels.len(), 11);
        assert_eq!(
            axis.series(&s.rules[2]),
            (vec![5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], 0)
        );
        assert_eq!(
            axis.series(&s.rules[0]),
            (vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 62], 0)
        );
        let html = render(&s, &[]);
        assert!(html.contains("summed per calendar year, from 2014 to 2024"));
        assert!(html.contains("Alerts per year of renal / hyperkalaemia-acei"));

        // 120 months exactly stays monthly.
        s.rules[2].alerts_by_month = months(&[("2015-01", 4), ("2024-12", 2)]);
        let axis = Timeline::of(&s.rules).unwrap();
        assert!(!axis.by_year);
        assert_eq!(axis.labels.len(), MAX_MONTHS);
    }

    #[test]
    fn unreadable_months_are_counted_apart() {
        let mut s = sample();
        s.rules[2].alerts_by_month = months(&[("2024-02", 1), ("someday", 2), ("2024-13", 1)]);
        let axis = Timeline::of(&s.rules).unwrap();
        assert_eq!(axis.series(&s.rules[2]).1, 3);
        assert!(render(&s, &[]).contains("(3 in months that could not be read, not charted)"));
    }

    #[test]
    fn a_replay_without_alerts_has_no_charts() {
        let mut s = sample();
        s.mode = Mode::At {
            at: "2024-01-01T00:00:00Z".into(),
        };
        s.hook = None;
        s.input.skipped = 0;
        s.rules = vec![rule("renal", "egfr-metformin", "warning")];
        let html = render(&s, &[]);
        assert!(!html.contains("<svg"));
        assert!(html.contains("No alerts: renal / <code>egfr-metformin</code>."));
        assert!(html.contains("<dd>all rules</dd>"));
        assert!(html.contains("No line or entry was skipped."));
        assert!(!html.contains("Patient-months"));
    }

    #[test]
    fn counts_and_percentages() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(0, 0), NONE);
        assert_eq!(parse_month("2024-02"), Some(2024 * 12 + 1));
        assert_eq!(parse_month("2024-00"), None);
        assert_eq!(parse_month("24-02"), None);
        assert_eq!(parse_month("+024-02"), None);
    }
}
