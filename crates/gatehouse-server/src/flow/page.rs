//! The sign-in page `/signin/{flow_id}`: a small server-rendered shell whose script drives the
//! flow API like any other client. Strict CSP (scripts and styles from this origin only, no
//! inline code), no third-party assets, usable without a mouse and on a phone-width screen.
//! `fastpass.js` relays FastPass challenges to Gatehouse Verify's loopback daemon: only the
//! sign-in page may connect to the configured loopback ports (`Config::fastpass_ports`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;

const SCRIPT: &str = include_str!("../../assets/signin.js");
const FASTPASS_SCRIPT: &str = include_str!("../../assets/fastpass.js");
/// The stylesheet of every page (also served by the demo apps).
pub const STYLE: &str = include_str!("../../assets/gatehouse.css");
/// The icon of every page (also served by the demo apps).
pub const ICON: &str = include_str!("../../assets/favicon.svg");

/// The Content-Security-Policy of every page Gatehouse serves (the sign-in page adds the
/// FastPass loopback ports to `connect-src`, see [`signin_csp`]).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The sign-in page's CSP: [`CSP`] with `http://127.0.0.1:{port}` in `connect-src` for each
/// FastPass port, and nothing else.
pub fn signin_csp(ports: &[u16]) -> String {
    let loopback: String = ports
        .iter()
        .map(|port| format!(" http://127.0.0.1:{port}"))
        .collect();
    CSP.replacen("connect-src 'self'", &format!("connect-src 'self'{loopback}"), 1)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/signin/{flow_id}", get(page))
        .route("/assets/signin.js", get(script))
        .route("/assets/fastpass.js", get(fastpass_script))
        .route("/assets/gatehouse.css", get(style))
        .route("/favicon.ico", get(icon))
        .route("/assets/favicon.svg", get(icon))
}

/// Headers every HTML page carries.
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

async fn page(State(state): State<AppState>, Path(flow_id): Path<String>) -> Response {
    // The id goes into an attribute: keep only what a flow id can contain.
    let id: String = flow_id
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .take(36)
        .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · Gatehouse</title>
<link rel="stylesheet" href="/assets/gatehouse.css">
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<script src="/assets/fastpass.js" defer></script>
<script src="/assets/signin.js" defer></script>
</head>
<body data-flow-id="{id}">
<main class="card" aria-labelledby="title">
  <p class="brand">Gatehouse</p>
  <h1 id="title">Sign in</h1>
  <p id="app" class="muted"></p>
  <div id="messages" role="alert" aria-live="assertive"></div>
  <div id="content"><p class="muted">Loading…</p></div>
  <noscript><p>This page needs JavaScript to sign you in.</p></noscript>
</main>
</body>
</html>
"#
    );
    let mut response = Html(html).into_response();
    secure_headers(&mut response);
    if let Ok(csp) = HeaderValue::from_str(&signin_csp(&state.config().fastpass_ports)) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    response
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn fastpass_script() -> Response {
    asset(FASTPASS_SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

/// Browsers ask for `/favicon.ico` whatever the page says; both paths serve the SVG icon.
pub async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signin_csp_allows_exactly_the_fastpass_ports() {
        let csp = signin_csp(&[8769, 40001]);
        assert!(csp.contains("connect-src 'self' http://127.0.0.1:8769 http://127.0.0.1:40001;"));
        assert!(csp.starts_with("default-src 'none'; script-src 'self';"));
        assert!(!CSP.contains("127.0.0.1"), "other pages reach no loopback port");
        assert_eq!(signin_csp(&[]), CSP);
    }
}
