//! The unverified reading of a bearer token: the `Authorization` header's scheme, the JWT's three
//! parts, its JOSE header and its payload as JSON. Nothing read here is trusted until the
//! signature has been checked; it only chooses the client and the key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::Denied;

/// Longest `Authorization` header value read at all (a CDS Hooks JWT is well under 2 KiB).
pub(crate) const MAX_HEADER_BYTES: usize = 8 * 1024;

/// The JOSE header fields this verifier reads; others (`x5u`, `jwk`, ...) are ignored and never
/// used as key material.
#[derive(Debug, Deserialize)]
pub(crate) struct RawHeader {
    /// Algorithm name, kept as a string so that `none` and unknown names are refused by us
    /// (with a precise reason) rather than failing to parse.
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    #[serde(default)]
    pub jku: Option<String>,
    /// RFC 7515 §4.1.11: critical extensions must be understood; this verifier knows none.
    #[serde(default)]
    pub crit: Option<Value>,
}

/// A token split into its parts, with its header and payload decoded but not verified.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    /// The compact JWT (`header.payload.signature`), to hand to the signature check.
    pub compact: &'a str,
    pub header: RawHeader,
    pub payload: Map<String, Value>,
}

/// The JWT in a raw `Authorization` header value: `Bearer <jwt>`, the scheme case-insensitive.
pub(crate) fn bearer(authorization: Option<&str>) -> Result<&str, Denied> {
    let value = authorization.ok_or(Denied::Missing)?.trim();
    if value.is_empty() {
        return Err(Denied::Missing);
    }
    if value.len() > MAX_HEADER_BYTES {
        return Err(Denied::Malformed);
    }
    let (scheme, rest) = value.split_once([' ', '\t']).ok_or(Denied::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Denied::Malformed);
    }
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() || token.contains(|c: char| c.is_whitespace()) {
        return Err(Denied::Malformed);
    }
    Ok(token)
}

/// Splits a compact JWS into its three parts and decodes the header and the payload.
pub(crate) fn parse(compact: &str) -> Result<Unverified<'_>, Denied> {
    let mut parts = compact.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Denied::Malformed);
    };
    if header.is_empty() || payload.is_empty() {
        return Err(Denied::Malformed);
    }
    // The signature is only checked for its alphabet here (it may be empty, as in `alg: none`
    // tokens, which are refused for their algorithm); the verifier decodes it.
    if !signature
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Denied::Malformed);
    }
    let header: RawHeader = json_part(header)?;
    let payload: Map<String, Value> = json_part(payload)?;
    Ok(Unverified {
        compact,
        header,
        payload,
    })
}

fn json_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, Denied> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Denied::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| Denied::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer(Some("Bearer a.b.c")).ok(), Some("a.b.c"));
        assert_eq!(bearer(Some("bearer  a.b.c ")).ok(), Some("a.b.c"));
        assert_eq!(bearer(Some("BEARER\ta.b.c")).ok(), Some("a.b.c"));
        assert!(matches!(bearer(None), Err(Denied::Missing)));
        assert!(matches!(bearer(Some("  ")), Err(Denied::Missing)));
        assert!(matches!(
            bearer(Some("Basic a.b.c")),
            Err(Denied::Malformed)
        ));
        assert!(matches!(bearer(Some("Bearer")), Err(Denied::Malformed)));
        assert!(matches!(bearer(Some("Bearer ")), Err(Denied::Malformed)));
        assert!(matches!(bearer(Some("Bearer a b")), Err(Denied::Malformed)));
        assert!(matches!(bearer(Some("a.b.c")), Err(Denied::Malformed)));
        let long = format!("Bearer {}", "a".repeat(MAX_HEADER_BYTES));
        assert!(matches!(bearer(Some(&long)), Err(Denied::Malformed)));
    }

    #[test]
    fn parse_needs_three_base64url_json_parts() {
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"ES384","kid":"k"}"#);
        let p = URL_SAFE_NO_PAD.encode(br#"{"iss":"x"}"#);
        let ok = format!("{h}.{p}.c2ln");
        let parsed = parse(&ok).expect("parses");
        assert_eq!(parsed.header.alg, "ES384");
        assert_eq!(parsed.header.kid.as_deref(), Some("k"));
        assert_eq!(parsed.payload.get("iss"), Some(&Value::from("x")));
        assert!(parse(&format!("{h}.{p}.")).is_ok());
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            &format!("{h}..c2ln"),
            &format!("{h}.{p}.c2ln=="),
            &format!("{h}.bm90anNvbg.c2ln"),
            &format!("{h}.WzFd.c2ln"), // `[1]`: JSON but not an object
            &format!("e30.{p}.c2ln"),  // `{}`: no alg
        ] {
            assert!(matches!(parse(bad), Err(Denied::Malformed)), "{bad}");
        }
    }
}
