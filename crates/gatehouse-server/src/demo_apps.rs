//! The demo organisation's applications as real relying parties, so that a person who ran
//! `serve --demo` can sign in to them in a browser (issue 4's "done when"). Each app of
//! DESIGN section 12 whose redirect URI is `http://127.0.0.1:{port}/callback` gets a tiny web
//! server on that port: `/` offers to sign in, `/login` sends the browser to the authorize
//! endpoint (authorization code, PKCE S256, `state`, `nonce`), `/callback` exchanges the code at
//! the token endpoint, verifies the ID token against the JWKS and shows who signed in and how
//! (`amr`, `acr`, `auth_time`).
//!
//! They talk to the provider over HTTP like any client; they are a convenience for trying the
//! demo, not part of the engine, and a port that is taken is skipped with a warning.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use gatehouse_crypto::{Audience, Jwks, JwtExpectations};
use serde::Deserialize;
use serde_json::Value;

use crate::dashboard::escape;
use crate::demo::{APPS, DemoApp};

/// How long a started sign-in may take before its `state` is forgotten.
const LOGIN_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Starts a relying party for every demo app with a loopback redirect URI. `issuer` is what the
/// browser is sent to; `provider` is where the apps reach the provider themselves (the listen
/// address, so `localhost` resolving to `::1` cannot get in the way).
pub async fn spawn_all(issuer: &str, provider: &str) -> Vec<(String, SocketAddr)> {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => {
            tracing::warn!(error = %e, "demo apps: no HTTP client; not started");
            return Vec::new();
        }
    };
    let mut started = Vec::new();
    for app in APPS {
        let Some(addr) = app.redirect_uri.and_then(loopback_callback) else {
            continue;
        };
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(app = app.client_id, %addr, error = %e, "demo app not started: port taken");
                continue;
            }
        };
        let rp = Rp {
            app,
            issuer: issuer.to_owned(),
            provider: provider.trim_end_matches('/').to_owned(),
            origin: format!("http://{addr}"),
            http: http.clone(),
            logins: Arc::new(Mutex::new(HashMap::new())),
        };
        let router = Router::new()
            .route("/", get(home))
            .route("/login", get(login))
            .route("/callback", get(callback))
            .route("/logged-out", get(home))
            .route("/style.css", get(style))
            .route("/favicon.ico", get(crate::flow::icon))
            .with_state(Arc::new(rp));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "demo app stopped");
            }
        });
        started.push((app.name.to_owned(), addr));
    }
    started
}

/// `127.0.0.1:{port}` for a redirect URI `http://127.0.0.1:{port}/callback`.
fn loopback_callback(uri: &str) -> Option<SocketAddr> {
    let rest = uri.strip_prefix("http://127.0.0.1:")?;
    let port = rest.strip_suffix("/callback")?;
    Some(SocketAddr::from(([127, 0, 0, 1], port.parse().ok()?)))
}

struct Rp {
    app: &'static DemoApp,
    issuer: String,
    provider: String,
    origin: String,
    http: reqwest::Client,
    logins: Arc<Mutex<HashMap<String, PendingLogin>>>,
}

/// A started sign-in, by its `state`: (PKCE verifier, nonce, started).
type PendingLogin = (String, String, Instant);

async fn style() -> Response {
    let mut response = crate::flow::STYLE.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
}

fn page(rp: &Rp, status: StatusCode, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{name} · Gatehouse demo app</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<main class="card">
<p class="brand">{name} — a demo application</p>
{body}
</main>
</body>
</html>"#,
        name = escape(rp.app.name),
    );
    let mut response = (status, Html(html)).into_response();
    crate::flow::secure_headers(&mut response);
    response
}

async fn home(State(rp): State<Arc<Rp>>) -> Response {
    let body = format!(
        r#"<h1>{name}</h1>
<p class="muted">This is the demo organisation's <code>{client}</code> application. It signs you in
with Gatehouse at <code>{issuer}</code> through OpenID Connect (authorization code with PKCE).</p>
<p><a class="button" href="/login">Sign in with Gatehouse</a></p>"#,
        name = escape(rp.app.name),
        client = escape(rp.app.client_id),
        issuer = escape(&rp.issuer),
    );
    page(&rp, StatusCode::OK, &body)
}

async fn login(State(rp): State<Arc<Rp>>) -> Response {
    let state = gatehouse_crypto::random::token::<16>();
    let nonce = gatehouse_crypto::random::token::<16>();
    let verifier = gatehouse_crypto::random::token::<32>();
    let challenge = gatehouse_crypto::pkce::s256_challenge(&verifier);
    {
        let Ok(mut logins) = rp.logins.lock() else {
            return page(&rp, StatusCode::INTERNAL_SERVER_ERROR, "<p>Try again.</p>");
        };
        logins.retain(|_, (_, _, at)| at.elapsed() < LOGIN_LIFETIME);
        logins.insert(state.clone(), (verifier, nonce.clone(), Instant::now()));
    }
    let redirect_uri = format!("{}/callback", rp.origin);
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", rp.app.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid profile email offline_access")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    Redirect::to(&format!("{}/oauth2/authorize?{query}", rp.issuer)).into_response()
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(State(rp): State<Arc<Rp>>, Query(query): Query<CallbackQuery>) -> Response {
    if let Some(error) = &query.error {
        let body = format!(
            r#"<h1>Not signed in</h1>
<p class="error">Gatehouse answered <code>{}</code>: {}</p>
<p><a href="/">Back</a></p>"#,
            escape(error),
            escape(query.error_description.as_deref().unwrap_or("")),
        );
        return page(&rp, StatusCode::OK, &body);
    }
    let login = query.state.as_deref().and_then(|state| {
        rp.logins
            .lock()
            .ok()
            .and_then(|mut logins| logins.remove(state))
            .filter(|(_, _, at)| at.elapsed() < LOGIN_LIFETIME)
    });
    let (Some(code), Some((verifier, nonce, _))) = (query.code.as_deref(), login) else {
        return page(
            &rp,
            StatusCode::BAD_REQUEST,
            r#"<h1>Not signed in</h1><p class="error">This sign-in was not started here, or it was already used or is too old.</p><p><a href="/login">Sign in again</a></p>"#,
        );
    };
    match exchange(&rp, code, &verifier, &nonce).await {
        Ok((claims, id_token)) => signed_in(&rp, &claims, &id_token),
        Err(problem) => page(
            &rp,
            StatusCode::BAD_GATEWAY,
            &format!(
                r#"<h1>Not signed in</h1><p class="error">{}</p><p><a href="/login">Try again</a></p>"#,
                escape(&problem)
            ),
        ),
    }
}

/// Redeems the code and verifies the ID token; returns its claims and the token.
async fn exchange(
    rp: &Rp,
    code: &str,
    verifier: &str,
    nonce: &str,
) -> Result<(serde_json::Map<String, Value>, String), String> {
    let redirect_uri = format!("{}/callback", rp.origin);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier),
    ];
    let mut request = rp.http.post(format!("{}/oauth2/token", rp.provider));
    match rp.app.secret {
        Some(secret) => request = request.basic_auth(rp.app.client_id, Some(secret)),
        None => form.push(("client_id", rp.app.client_id)),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("the token endpoint did not answer: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("the token endpoint's answer is not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "the token endpoint answered {status}: {} {}",
            text(&body, "error"),
            text(&body, "error_description")
        ));
    }
    let id_token = body
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or("the token response has no ID token")?
        .to_owned();
    let jwks = rp
        .http
        .get(format!("{}/oauth2/jwks", rp.provider))
        .send()
        .await
        .map_err(|e| format!("the JWKS did not answer: {e}"))?
        .text()
        .await
        .map_err(|e| format!("the JWKS could not be read: {e}"))?;
    let jwks = Jwks::from_json(&jwks).map_err(|e| format!("the JWKS is not valid: {e}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let audience = [rp.app.client_id];
    let verified = jwks
        .verify(
            &id_token,
            &JwtExpectations::new(&rp.issuer, Audience::OneOf(&audience), now).with_leeway(60),
        )
        .map_err(|e| format!("the ID token did not verify: {e}"))?;
    if verified.str_claim("nonce") != Some(nonce) {
        return Err("the ID token's nonce is not the one this sign-in sent".to_owned());
    }
    Ok((verified.claims, id_token))
}

fn text<'a>(body: &'a Value, name: &str) -> &'a str {
    body.get(name).and_then(Value::as_str).unwrap_or("")
}

fn signed_in(rp: &Rp, claims: &serde_json::Map<String, Value>, id_token: &str) -> Response {
    let who = ["preferred_username", "name", "sub"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .unwrap_or("someone");
    let mut rows = String::new();
    for (name, value) in claims {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(
            rows,
            "<tr><th scope=\"row\"><code>{}</code></th><td><code>{}</code></td></tr>",
            escape(name),
            escape(&text)
        );
    }
    let logout = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", id_token)
        .append_pair("client_id", rp.app.client_id)
        .append_pair("post_logout_redirect_uri", &format!("{}/logged-out", rp.origin))
        .finish();
    let body = format!(
        r#"<h1 id="signed-in">Signed in as {who}</h1>
<p class="muted">The ID token Gatehouse issued, verified against its JWKS:</p>
<table id="claims">{rows}</table>
<p><a href="/login">Sign in again</a> · <a href="{issuer}/oauth2/logout?{logout}">Sign out of Gatehouse</a></p>"#,
        who = escape(who),
        issuer = escape(&rp.issuer),
        logout = escape(&logout),
    );
    page(rp, StatusCode::OK, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_callbacks_get_an_app() {
        assert_eq!(
            loopback_callback("http://127.0.0.1:9001/callback"),
            Some(SocketAddr::from(([127, 0, 0, 1], 9001)))
        );
        assert_eq!(
            loopback_callback("http://127.0.0.1:8090/okta-login/acme-corp"),
            None
        );
        assert_eq!(loopback_callback("https://app.example/callback"), None);
    }
}
