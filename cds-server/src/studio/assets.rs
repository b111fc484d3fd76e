//! The studio page, embedded in the binary: one HTML file, its script and its style. The page
//! loads nothing else; its Content-Security-Policy makes the browser refuse anything from
//! elsewhere (scripts, styles, fonts, images, connections, frames).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};

/// The page's Content-Security-Policy: its own script and style only; inline styles for the
/// backtest report's frame (self-contained HTML with SVG charts, shown without scripts).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/studio.js");
const STYLE: &str = include_str!("web/studio.css");

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    res
}

/// `GET /studio`: to the page.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/studio/")
}

/// `GET /studio/`: the page.
pub async fn index() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

/// `GET /studio/studio.js`.
pub async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /studio/studio.css`.
pub async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing in the page points elsewhere: no URL with a scheme or a protocol-relative one,
    /// in the HTML, the script or the style.
    #[test]
    fn the_page_refers_to_nothing_outside_the_server() {
        for (name, text) in [
            ("index.html", INDEX),
            ("studio.js", SCRIPT),
            ("studio.css", STYLE),
        ] {
            for bad in [
                "http://",
                "https://",
                "\"//",
                "'//",
                "url(//",
                "@import",
                "@font-face",
            ] {
                assert!(!text.contains(bad), "{name} contains {bad}");
            }
        }
        assert!(
            !INDEX.contains("<script>"),
            "inline scripts are refused by the CSP"
        );
        assert!(CSP.contains("default-src 'none'") && CSP.contains("script-src 'self'"));
    }
}
