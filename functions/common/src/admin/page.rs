//! The Integrations page (SPEC §14): one HTML document, one ES module and one stylesheet,
//! embedded in the binary and served by the admin router itself (`ucc serve` and the
//! `admin-api` function answer `/` alike), plus the security headers every answer of the
//! router carries. The page talks only to `/api/…` on its own origin.

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;

use super::errors::ApiError;

/// Scripts, styles, images and API calls from this origin only; no inline script or style,
/// no framing, no plugins, no form posts elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const APP_CSS: &str = include_str!("../../web/app.css");
const ICON_SVG: &str = include_str!("../../web/icon.svg");

/// The embedded assets under `/assets/`: name, content type, body.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", "text/javascript; charset=utf-8", APP_JS),
    ("app.css", "text/css; charset=utf-8", APP_CSS),
    ("icon.svg", "image/svg+xml", ICON_SVG),
];

fn asset(content_type: &'static str, body: &'static str) -> Response<Body> {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            // Assets change with the binary; revalidating is cheap and never stale.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub async fn index() -> Response<Body> {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /assets/{file}`: one embedded asset, else the JSON 404.
pub async fn assets(path: Result<Path<String>, PathRejection>) -> Response<Body> {
    let name = path.map(|Path(n)| n).unwrap_or_default();
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => asset(ct, body),
        None => ApiError::not_found("no such asset").into_response(),
    }
}

/// Every answer of the admin router (page, assets and JSON alike) gets these unless the
/// handler set its own.
pub async fn security_headers(mut res: Response<Body>) -> Response<Body> {
    let h: &mut HeaderMap = res.headers_mut();
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    // API answers hold tenant data: never kept by a browser or proxy cache.
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}
