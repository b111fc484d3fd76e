//! The checks on a verified token's claims: presence and form, audience, times, lifetime.

use serde_json::{Map, Value};

use super::Denied;

/// Longest accepted `jti`, in bytes (bounds the replay cache's memory).
pub(crate) const MAX_JTI_BYTES: usize = 512;

/// The time rules.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeRules {
    /// Allowed clock difference, in seconds.
    pub skew: i64,
    /// Largest `exp − iat`, in seconds.
    pub max_lifetime: i64,
}

/// What the verifier keeps from checked claims.
#[derive(Debug)]
pub(crate) struct Checked {
    pub exp: i64,
    pub jti: String,
    pub sub: Option<String>,
}

/// Checks the claims against the audience and the time `now` (Unix seconds).
pub(crate) fn check(
    claims: &Map<String, Value>,
    audience: &str,
    now: i64,
    rules: TimeRules,
) -> Result<Checked, Denied> {
    match claims.get("iss") {
        None => return Err(Denied::MissingClaim("iss")),
        Some(Value::String(_)) => {}
        Some(_) => return Err(Denied::InvalidClaim("iss")),
    }
    let aud = claims.get("aud").ok_or(Denied::MissingClaim("aud"))?;
    let exp = numeric_date(claims, "exp")?.ok_or(Denied::MissingClaim("exp"))?;
    let iat = numeric_date(claims, "iat")?.ok_or(Denied::MissingClaim("iat"))?;
    let nbf = numeric_date(claims, "nbf")?;
    let jti = match claims.get("jti") {
        None => return Err(Denied::MissingClaim("jti")),
        Some(Value::String(j)) if !j.is_empty() && j.len() <= MAX_JTI_BYTES => j.clone(),
        Some(_) => return Err(Denied::InvalidClaim("jti")),
    };
    let sub = match claims.get("sub") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Denied::InvalidClaim("sub")),
    };

    let audience_ok = match aud {
        Value::String(a) => a == audience,
        Value::Array(items) => {
            if !items.iter().all(Value::is_string) {
                return Err(Denied::InvalidClaim("aud"));
            }
            items.iter().any(|a| a.as_str() == Some(audience))
        }
        _ => return Err(Denied::InvalidClaim("aud")),
    };
    if !audience_ok {
        return Err(Denied::Audience);
    }
    if exp <= now.saturating_sub(rules.skew) {
        return Err(Denied::Expired);
    }
    if iat > now.saturating_add(rules.skew) {
        return Err(Denied::IssuedInFuture);
    }
    if exp < iat || exp.saturating_sub(iat) > rules.max_lifetime {
        return Err(Denied::Lifetime);
    }
    if nbf.is_some_and(|nbf| nbf > now.saturating_add(rules.skew)) {
        return Err(Denied::NotYetValid);
    }
    Ok(Checked { exp, jti, sub })
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional), truncated to whole seconds.
fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, Denied> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        })
        .ok_or(Denied::InvalidClaim(name))?;
    Ok(Some(seconds))
}

/// Whether the claims grant `role`: in the `roles` array of strings or the space-separated
/// `scope` string. An empty role is never granted.
pub(crate) fn has_role(claims: &Map<String, Value>, role: &str) -> bool {
    if role.is_empty() {
        return false;
    }
    let in_roles = claims
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)));
    let in_scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(|scope| scope.split_whitespace().any(|s| s == role));
    in_roles || in_scope
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_700_000_000;
    const RULES: TimeRules = TimeRules {
        skew: 60,
        max_lifetime: 300,
    };
    const AUD: &str = "https://cds.example.org/cds-services/s";

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn base() -> Value {
        json!({"iss": "i", "aud": AUD, "exp": NOW + 240, "iat": NOW, "jti": "j"})
    }

    fn with(f: impl FnOnce(&mut Map<String, Value>)) -> Result<Checked, Denied> {
        let mut c = claims(base());
        f(&mut c);
        check(&c, AUD, NOW, RULES)
    }

    #[test]
    fn valid_claims_pass() {
        let c = with(|_| {}).expect("valid");
        assert_eq!((c.exp, c.jti.as_str(), c.sub), (NOW + 240, "j", None));
        assert!(with(|c| {
            c.insert("sub".into(), "u".into());
        })
        .is_ok());
        // fractional NumericDates
        assert!(with(|c| {
            c.insert("iat".into(), json!(NOW as f64 + 0.5));
        })
        .is_ok());
    }

    #[test]
    fn each_required_claim_is_required() {
        for name in ["iss", "aud", "exp", "iat", "jti"] {
            let r = with(|c| {
                c.remove(name);
            });
            assert!(
                matches!(r, Err(Denied::MissingClaim(n)) if n == name),
                "{name}"
            );
        }
    }

    #[test]
    fn wrong_forms_are_refused() {
        for (name, v) in [
            ("iss", json!(1)),
            ("aud", json!(1)),
            ("aud", json!([AUD, 1])),
            ("exp", json!("soon")),
            ("iat", json!(null)),
            ("nbf", json!(true)),
            ("jti", json!("")),
            ("jti", json!(7)),
            ("jti", json!("x".repeat(MAX_JTI_BYTES + 1))),
            ("sub", json!({})),
        ] {
            let r = with(|c| {
                c.insert(name.into(), v);
            });
            assert!(
                matches!(r, Err(Denied::InvalidClaim(n)) if n == name),
                "{name}"
            );
        }
    }

    #[test]
    fn audience_is_exact_or_a_member() {
        assert!(matches!(
            with(|c| {
                c.insert("aud".into(), json!(format!("{AUD}/")));
            }),
            Err(Denied::Audience)
        ));
        assert!(with(|c| {
            c.insert("aud".into(), json!(["other", AUD]));
        })
        .is_ok());
        assert!(matches!(
            with(|c| {
                c.insert("aud".into(), json!(["other"]));
            }),
            Err(Denied::Audience)
        ));
    }

    #[test]
    fn time_rules_with_skew() {
        let at = |exp: i64, iat: i64| {
            with(|c| {
                c.insert("exp".into(), exp.into());
                c.insert("iat".into(), iat.into());
            })
        };
        assert!(at(NOW - 59, NOW - 100).is_ok());
        assert!(matches!(at(NOW - 60, NOW - 100), Err(Denied::Expired)));
        assert!(at(NOW + 200, NOW + 60).is_ok());
        assert!(matches!(
            at(NOW + 200, NOW + 61),
            Err(Denied::IssuedInFuture)
        ));
        assert!(at(NOW + 300, NOW).is_ok());
        assert!(matches!(at(NOW + 301, NOW), Err(Denied::Lifetime)));
        assert!(matches!(at(NOW + 10, NOW + 20), Err(Denied::Lifetime)));
        let nbf = |nbf: i64| {
            with(|c| {
                c.insert("nbf".into(), nbf.into());
            })
        };
        assert!(nbf(NOW + 60).is_ok());
        assert!(matches!(nbf(NOW + 61), Err(Denied::NotYetValid)));
    }

    #[test]
    fn roles_and_scope() {
        let c = claims(json!({"roles": ["x", "cds-admin"]}));
        assert!(has_role(&c, "cds-admin"));
        let c = claims(json!({"scope": "openid  cds-admin\tother"}));
        assert!(has_role(&c, "cds-admin"));
        let c = claims(json!({"scope": "cds-admins", "roles": "cds-admin"}));
        assert!(!has_role(&c, "cds-admin"));
        let c = claims(json!({"roles": [""], "scope": ""}));
        assert!(!has_role(&c, ""));
    }
}
