//! Who is calling, and what they may see: every request but health, readiness and the OpenAPI
//! document passes [`authenticate`], which checks the CDS Hooks client JWT ([`crate::auth`]) for
//! the exact URL called and puts the caller's [`Access`] — tenant, client, admin role, enabled
//! rulesets — into the request for the handlers. Any failure is a bare 401; the reason goes to
//! the log and the `cds_auth_denied_total` metric as a short slug, never the token.
//!
//! Without trusted clients (loopback quick start, or `--insecure-no-auth`) every caller gets
//! [`Access::open`]: no tenant, every ruleset, admin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::listen::PeerInfo;
use crate::metrics::DeniedLabels;
use crate::outcome::ApiError;
use crate::state::AppState;
use crate::tenants::Rulesets;

/// The caller of a request, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Access {
    /// The caller's tenant; empty when authentication is off.
    pub tenant: String,
    /// The caller's issuer (`iss`); empty when authentication is off.
    pub client: String,
    /// Whether the token carries the admin role (always, when authentication is off).
    pub admin: bool,
    /// The rulesets the tenant sees.
    pub rulesets: Rulesets,
}

impl Access {
    /// Full access: authentication is off.
    pub fn open() -> Access {
        Access {
            tenant: String::new(),
            client: String::new(),
            admin: true,
            rulesets: Rulesets::All,
        }
    }

    /// Whether the caller sees the ruleset named `name`.
    pub fn sees(&self, ruleset: &str) -> bool {
        self.rulesets.contains(ruleset)
    }

    /// The key of `id` in a map shared by all tenants (devices, windows): tenants never meet.
    pub fn scoped(&self, id: &str) -> String {
        if self.tenant.is_empty() {
            id.to_string()
        } else {
            format!("{}\u{1f}{id}", self.tenant)
        }
    }

    /// 403 unless the caller has the admin role.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "this needs a token with the admin role for your tenant",
            ))
        }
    }
}

/// Routes anyone may call: liveness, readiness, the OpenAPI document, and the studio's page
/// (no data; its API needs a token).
pub fn is_public(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/openapi.json") || crate::studio::is_public(path)
}

/// The middleware: checks the caller's token and puts its [`Access`] into the request (and the
/// response, for the request log and the audit record).
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    if is_public(req.uri().path()) {
        return next.run(req).await;
    }
    let access = if state.verifier.enabled() {
        let audience = audience(state.config.auth.audience_base.as_deref(), &req);
        let authorization = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // The studio's page holds one token for its session of calls; every other call
        // spends its token.
        let checked = if crate::studio::is_api(req.uri().path()) {
            state
                .verifier
                .verify_session(authorization, &audience)
                .await
        } else {
            state.verifier.verify(authorization, &audience).await
        };
        let caller = match checked {
            Ok(c) => c,
            Err(denied) => return refused(&state, denied.reason()),
        };
        let Some(rulesets) = state.tenants.rulesets(&caller.tenant) else {
            return refused(&state, "unknown-tenant");
        };
        Access {
            rulesets: rulesets.clone(),
            tenant: caller.tenant,
            client: caller.iss,
            admin: caller.admin,
        }
    } else {
        Access::open()
    };
    req.extensions_mut().insert(access.clone());
    let mut res = next.run(req).await;
    res.extensions_mut().insert(access);
    res
}

/// The exact URL called, as the token's `aud` must name it: `auth.audience_base` and the path,
/// else the scheme and `Host` the request came with and the path. The studio's API is one
/// audience, `<base>/studio`: the page holds one token for all its calls.
fn audience(base: Option<&str>, req: &Request) -> String {
    let path = req.uri().path();
    let path = if crate::studio::is_api(path) {
        "/studio"
    } else {
        path
    };
    if let Some(base) = base {
        return format!("{}{path}", base.trim_end_matches('/'));
    }
    let tls = req.extensions().get::<PeerInfo>().is_some_and(|p| p.tls);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default();
    format!("{}://{host}{path}", if tls { "https" } else { "http" })
}

/// The bare 401.
fn refused(state: &AppState, reason: &'static str) -> Response {
    state
        .metrics
        .auth_denied
        .get_or_create(&DeniedLabels {
            reason: reason.to_string(),
        })
        .inc();
    tracing::info!(reason, "authentication refused");
    let mut res = StatusCode::UNAUTHORIZED.into_response();
    res.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(uri: &str, host: &str, tls: bool) -> Request {
        let mut r = axum::http::Request::builder()
            .uri(uri)
            .header(header::HOST, host)
            .body(Body::empty())
            .unwrap();
        r.extensions_mut().insert(PeerInfo {
            tls,
            client_cert_sha256: None,
        });
        r
    }

    #[test]
    fn the_audience_is_the_exact_url_called_without_the_query() {
        let r = req("/cds-services/a-patient-view?x=1", "cds.local:8443", true);
        assert_eq!(
            audience(None, &r),
            "https://cds.local:8443/cds-services/a-patient-view"
        );
        assert_eq!(
            audience(Some("https://cds.example.org/"), &r),
            "https://cds.example.org/cds-services/a-patient-view"
        );
        let r = req("/cds-services", "127.0.0.1:8080", false);
        assert_eq!(audience(None, &r), "http://127.0.0.1:8080/cds-services");
        let r = req("/studio/api/try", "127.0.0.1:8080", false);
        assert_eq!(audience(None, &r), "http://127.0.0.1:8080/studio");
    }

    #[test]
    fn tenants_get_their_own_keys_and_admin_is_checked() {
        let open = Access::open();
        assert_eq!(open.scoped("w1"), "w1");
        assert!(open.sees("anything") && open.require_admin().is_ok());
        let north = Access {
            tenant: "north".into(),
            client: "https://ehr".into(),
            admin: false,
            rulesets: Rulesets::Only(Arc::new(["news2".to_string()].into())),
        };
        assert_ne!(north.scoped("w1"), open.scoped("w1"));
        assert!(north.sees("news2") && !north.sees("aki"));
        assert_eq!(north.require_admin().unwrap_err().status.as_u16(), 403);
        assert!(is_public("/healthz") && !is_public("/metrics") && !is_public("/admin/audit"));
        assert!(is_public("/studio/") && !is_public("/studio/api/rulesets"));
    }
}
