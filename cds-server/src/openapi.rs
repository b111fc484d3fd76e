//! The OpenAPI 3.1 document of the whole HTTP surface (`cds-server/openapi.json`, compiled in),
//! served at `GET /openapi.json`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The document, as shipped in `cds-server/openapi.json`.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// `GET /openapi.json`.
pub async fn document() -> Response {
    let mut res = DOCUMENT.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::Value;

    use super::*;

    /// Every route the server registers, as (method, path).
    ///
    /// Adding a route to the router (`app.rs`, or a module's `routes()`) means adding it here
    /// AND describing it in `cds-server/openapi.json`: the tests below fail until both are done.
    const ROUTES: &[(&str, &str)] = &[
        ("get", "/cds-services"),
        ("post", "/cds-services/{id}"),
        ("post", "/cds-services/{id}/feedback"),
        ("post", "/devices"),
        ("get", "/devices/{id}"),
        ("delete", "/devices/{id}"),
        ("post", "/devices/{id}/observations"),
        ("get", "/fhir/metadata"),
        ("get", "/fhir/OperationDefinition/cds-evaluate"),
        ("post", "/fhir/$cds-evaluate"),
        ("get", "/openapi.json"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/admin/rulesets"),
        ("post", "/admin/reload"),
        ("get", "/admin/feedback"),
        ("get", "/admin/audit"),
        ("get", "/studio"),
        ("get", "/studio/"),
        ("get", "/studio/studio.js"),
        ("get", "/studio/studio.css"),
        ("get", "/studio/api/rulesets"),
        ("get", "/studio/api/ruleset"),
        ("put", "/studio/api/ruleset"),
        ("post", "/studio/api/check"),
        ("post", "/studio/api/format"),
        ("get", "/studio/api/samples"),
        ("post", "/studio/api/try"),
        ("post", "/studio/api/tests"),
        ("post", "/studio/api/tests/save"),
        ("post", "/studio/api/backtest"),
        ("post", "/studio/api/graph"),
    ];

    /// The statuses a route may answer with, as the document may list them.
    const STATUSES: &[&str] = &[
        "200", "201", "204", "308", "400", "401", "403", "404", "409", "412", "413", "415", "422",
        "503",
    ];

    fn doc() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    #[test]
    fn the_document_is_openapi_3_1_of_this_version() {
        let d = doc();
        assert!(d["openapi"].as_str().unwrap().starts_with("3.1."));
        assert_eq!(d["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(d["info"]["title"].is_string());
    }

    #[test]
    fn every_route_is_described_with_its_statuses() {
        let d = doc();
        for (method, path) in ROUTES {
            let op = &d["paths"][path][method];
            assert!(op.is_object(), "{method} {path} is not in openapi.json");
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            for status in responses.keys() {
                assert!(
                    STATUSES.contains(&status.as_str()),
                    "{method} {path}: {status}"
                );
            }
            assert!(
                responses.contains_key("503"),
                "{method} {path}: every route may shed load (503)"
            );
        }
        // Nothing described that the server does not serve.
        for (path, ops) in d["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                assert!(
                    ROUTES.contains(&(method.as_str(), path.as_str())),
                    "{method} {path} is described but not in ROUTES"
                );
            }
        }
    }

    /// Every `.route("...", ...)` in the server's sources is in [`ROUTES`].
    #[test]
    fn every_registered_route_is_listed() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found = Vec::new();
        let mut stack = vec![src];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "rs")
                    // Test servers (JWKS, listen) register routes of their own.
                    && p.file_name().is_some_and(|n| n != "tests.rs")
                {
                    // Code only: doc examples register routes of their own.
                    let code: String = std::fs::read_to_string(&p)
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim_start().starts_with("//"))
                        .map(|l| format!("{l}\n"))
                        .collect();
                    found.extend(routes_in(&code));
                }
            }
        }
        assert!(
            found.len() >= 9,
            "the route scan found too little: {found:?}"
        );
        for (method, path) in &found {
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is registered but neither in ROUTES nor (so) in openapi.json"
            );
        }
    }

    /// The (method, path) pairs of the `.route(path, method(..).method(..))` calls in a source.
    fn routes_in(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let needle = ".route(";
        let mut rest = text;
        while let Some(i) = rest.find(needle) {
            rest = &rest[i + needle.len()..];
            // The call's arguments, up to the matching parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(rest.len(), |(j, _)| j);
            let args = rest[..end].trim_start();
            let Some(quoted) = args.strip_prefix('"') else {
                continue;
            };
            let Some(close) = quoted.find('"') else {
                continue;
            };
            let path = &quoted[..close];
            if !path.starts_with('/') || path.contains(char::is_whitespace) {
                continue;
            }
            let handlers = &quoted[close..];
            for method in ["get", "post", "put", "patch", "delete"] {
                let call = format!("{method}(");
                let mut h = handlers;
                while let Some(k) = h.find(&call) {
                    let before = h[..k].chars().last();
                    if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        out.push((method.to_string(), path.to_string()));
                        break;
                    }
                    h = &h[k + call.len()..];
                }
            }
        }
        out
    }

    #[test]
    fn the_route_scan_reads_chained_and_wrapped_calls() {
        let text = "Router::new()\n    .route(\"/a\", get(x))\n    .route(\n        \"/b/{id}\",\n        \
                    get(show).delete(forget),\n    )\n    .route(\"/c\", post(budget(1)))";
        assert_eq!(
            routes_in(text),
            [
                ("get".to_string(), "/a".to_string()),
                ("get".to_string(), "/b/{id}".to_string()),
                ("delete".to_string(), "/b/{id}".to_string()),
                ("post".to_string(), "/c".to_string()),
            ]
        );
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        out.push(r);
                    }
                    o.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let d = doc();
        let mut all = Vec::new();
        refs(&d, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.strip_prefix('#').expect("only local references");
            assert!(d.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }
}
