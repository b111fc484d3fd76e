//! The rules benchmark's fixture, generated in code and deterministic: a ruleset of 50 rules
//! (10 observation codes × 5 rule shapes) and one patient with 2,000 observations of those codes
//! spread over the two years before the evaluation time.
#![allow(dead_code)]

use std::fmt::Write as _;

/// The evaluation time of the benchmark.
pub const AT: &str = "2024-06-01T12:00:00Z";

/// One observation code of the fixture and the thresholds its rules use.
pub struct Code {
    /// Short name, used in definition and rule names.
    pub name: &'static str,
    /// The LOINC code.
    pub loinc: &'static str,
    /// The UCUM unit.
    pub unit: &'static str,
    /// The range of the generated values (low, high).
    pub range: (f64, f64),
    /// A high threshold (the latest reading of the last day above it fires).
    pub high: &'static str,
    /// A middle threshold (the 90-day average at or above it fires).
    pub mid: &'static str,
    /// A low threshold (the 7-day minimum below it fires).
    pub low: &'static str,
    /// A rise within 48 hours that fires.
    pub rise: &'static str,
    /// Band table bounds: `<= b0 -> 0`, `b0 to b1 -> 1`, `b1 to b2 -> 2`, otherwise 3.
    pub bands: [&'static str; 3],
}

/// The 10 codes.
pub const CODES: [Code; 10] = [
    Code {
        name: "sbp",
        loinc: "8480-6",
        unit: "mm[Hg]",
        range: (95.0, 195.0),
        high: "180",
        mid: "140",
        low: "90",
        rise: "30",
        bands: ["120", "140", "160"],
    },
    Code {
        name: "dbp",
        loinc: "8462-4",
        unit: "mm[Hg]",
        range: (55.0, 125.0),
        high: "120",
        mid: "90",
        low: "60",
        rise: "20",
        bands: ["80", "90", "100"],
    },
    Code {
        name: "pulse",
        loinc: "8867-4",
        unit: "/min",
        range: (45.0, 140.0),
        high: "130",
        mid: "100",
        low: "50",
        rise: "30",
        bands: ["90", "110", "130"],
    },
    Code {
        name: "resp",
        loinc: "9279-1",
        unit: "/min",
        range: (8.0, 32.0),
        high: "25",
        mid: "21",
        low: "9",
        rise: "8",
        bands: ["20", "24", "28"],
    },
    Code {
        name: "spo2",
        loinc: "59408-5",
        unit: "%",
        range: (84.0, 100.0),
        high: "99",
        mid: "97",
        low: "92",
        rise: "5",
        bands: ["91", "93", "95"],
    },
    Code {
        name: "temp",
        loinc: "8310-5",
        unit: "Cel",
        range: (35.0, 40.5),
        high: "39.5",
        mid: "38",
        low: "35.5",
        rise: "1.5",
        bands: ["36", "38", "39"],
    },
    Code {
        name: "potassium",
        loinc: "2823-3",
        unit: "mmol/L",
        range: (2.6, 6.6),
        high: "6.2",
        mid: "5.5",
        low: "3",
        rise: "1",
        bands: ["3.5", "5", "5.5"],
    },
    Code {
        name: "creatinine",
        loinc: "2160-0",
        unit: "mg/dL",
        range: (0.5, 4.5),
        high: "4",
        mid: "1.5",
        low: "0.6",
        rise: "0.3",
        bands: ["1.2", "2", "3"],
    },
    Code {
        name: "hba1c",
        loinc: "4548-4",
        unit: "%",
        range: (4.8, 11.5),
        high: "10",
        mid: "7",
        low: "5",
        rise: "1",
        bands: ["5.7", "6.5", "9"],
    },
    Code {
        name: "weight",
        loinc: "29463-7",
        unit: "kg",
        range: (48.0, 125.0),
        high: "120",
        mid: "100",
        low: "50",
        rise: "3",
        bands: ["60", "90", "110"],
    },
];

/// The ruleset header.
pub fn header() -> String {
    "ruleset bench version 1.0.0\n  \"Generated benchmark ruleset: 10 codes x 5 rule shapes\"\n  answers patient-view\n\ndefine adult = age >= 18\n".to_string()
}

/// The definitions of one code (shared by its rules).
pub fn definitions(c: &Code) -> String {
    let (n, l, u) = (c.name, c.loinc, c.unit);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "define {n}-90d = all observations loinc {l} within 90 days"
    );
    let _ = writeln!(
        s,
        "define {n}-7d = all observations loinc {l} within 7 days"
    );
    let _ = writeln!(
        s,
        "define {n}-latest = latest observation loinc {l} within 1 day"
    );
    let _ = writeln!(s, "define {n}-average = average of {n}-90d");
    let _ = writeln!(s, "define {n}-count = count of {n}-90d");
    let _ = writeln!(s, "define {n}-rise = rise in {n}-7d within 48 hours");
    let _ = writeln!(s, "define {n}-max = max of {n}-7d");
    let _ = writeln!(s, "define {n}-min = min of {n}-7d");
    let [b0, b1, b2] = c.bands;
    let _ = writeln!(
        s,
        "define {n}-points = bands of (latest observation loinc {l} within 30 days)\n  <= {b0} '{u}' -> 0\n  {b0} '{u}' to {b1} '{u}' -> 1\n  {b1} '{u}' to {b2} '{u}' -> 2\n  otherwise -> 3\nend"
    );
    s
}

/// The 5 rules of one code. Several share the code's definitions; the `latest ... within 1
/// day` query and the `> high` comparison are also written out again in two rules, as
/// identical expressions that the compiler merges.
pub fn rules(c: &Code) -> [String; 5] {
    let (n, l, u) = (c.name, c.loinc, c.unit);
    let (high, mid, low, rise) = (c.high, c.mid, c.low, c.rise);
    [
        format!(
            "rule {n}-high\n  when adult and {n}-latest > {high} '{u}'\n  then critical \"Latest {n} {{{n}-latest}} is above {high} {u}\"\n"
        ),
        format!(
            "rule {n}-average-high\n  when {n}-count >= 3 and {n}-average >= {mid} '{u}'\n  then warning \"Average {n} over 90 days {{{n}-average}} ({{{n}-count}} readings)\"\n"
        ),
        format!(
            "rule {n}-rising\n  when {n}-rise >= {rise} '{u}' and latest observation loinc {l} within 1 day is present\n  then warning \"{n} rose by {{{n}-rise}} within 48 hours\"\n"
        ),
        format!(
            "rule {n}-band\n  when {n}-points >= 2 and not (latest observation loinc {l} within 1 day > {high} '{u}')\n  then info \"{n} band {{{n}-points}}\"\n"
        ),
        format!(
            "rule {n}-out-of-range\n  when {n}-max > {high} '{u}' or {n}-min < {low} '{u}' or ({n}-count >= 10 and {n}-average between {low} '{u}' and {mid} '{u}')\n  then info \"{n} out of range in 7 days: {{{n}-min}} to {{{n}-max}}\"\n"
        ),
    ]
}

/// The whole 50-rule ruleset.
pub fn ruleset() -> String {
    let mut s = header();
    for c in &CODES {
        s.push_str(&definitions(c));
    }
    for c in &CODES {
        for r in rules(c) {
            s.push('\n');
            s.push_str(&r);
        }
    }
    s
}

/// One ruleset per rule, for the no-sharing baseline: each holds the rule and the definitions
/// of its own code (not those of the other 9 codes, which an engine may still evaluate).
pub fn one_ruleset_per_rule() -> Vec<String> {
    let mut out = Vec::new();
    for c in &CODES {
        let defs = definitions(c);
        for r in rules(c) {
            out.push(format!("{}{defs}\n{r}", header()));
        }
    }
    out
}

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `AT` as seconds since the epoch.
const AT_EPOCH: i64 = 1_717_243_200;

/// `YYYY-MM-DDTHH:MM:SSZ` of seconds since the epoch.
pub fn iso(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The patient and its 2,000 observations (200 per code) as FHIR JSON: 10% of each code's
/// readings fall in the last 3 days, the rest anywhere in the 2 years before `AT`.
pub fn patient_json(observations_per_code: usize) -> Vec<serde_json::Value> {
    let mut rng = Rng::new(2024);
    let mut out = vec![serde_json::json!({
        "resourceType": "Patient", "id": "bench-patient", "gender": "female",
        "birthDate": "1954-03-02"
    })];
    let recent = observations_per_code / 10;
    for c in &CODES {
        for k in 0..observations_per_code {
            let span = if k < recent { 3 * 86_400 } else { 730 * 86_400 };
            let t = AT_EPOCH - (rng.unit() * span as f64) as i64 - 60;
            let (lo, hi) = c.range;
            let v = lo + rng.unit() * (hi - lo);
            let v = (v * 10.0).round() / 10.0;
            out.push(serde_json::json!({
                "resourceType": "Observation",
                "id": format!("{}-{k}", c.name),
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": c.loinc}]},
                "subject": {"reference": "Patient/bench-patient"},
                "effectiveDateTime": iso(t),
                "valueQuantity": {"value": v, "unit": c.unit,
                    "system": "http://unitsofmeasure.org", "code": c.unit}
            }));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_of_at() {
        assert_eq!(super::iso(super::AT_EPOCH), super::AT);
    }
}
