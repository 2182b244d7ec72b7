//! A small OpenID provider for the cases that need control of the IdP: key rotation, a token
//! signed by a never-published key, clock skew, `access_denied`, a redirect-URI mismatch.
//! (The independent provider — Node's `oidc-provider` — runs in `e2e/suites/sso.sh`.)
//!
//! The user who "signs in" is named by the `x-test-user` header on the authorize request.
//! Test keys live in `tests/fixtures/*.pem` (generated for these tests only).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A signing key of the fixture.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
}

impl Key {
    /// Loads `tests/fixtures/{file}.pem` under key id `kid`.
    pub fn load(file: &str, kid: &str) -> Self {
        let pem = std::fs::read(format!("{FIXTURES}/{file}.pem")).expect("fixture key");
        let (alg, encoding) = if file.starts_with("rs") {
            (
                Algorithm::RS256,
                EncodingKey::from_rsa_pem(&pem).expect("RSA key"),
            )
        } else {
            (Algorithm::ES256, EncodingKey::from_ec_pem(&pem).expect("EC key"))
        };
        Self {
            kid: kid.into(),
            alg,
            encoding,
        }
    }

    fn jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).expect("public JWK");
        jwk.common.key_id = Some(self.kid.clone());
        jwk
    }
}

struct Grant {
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    user: String,
}

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: Mutex<String>,
    redirect_uris: Mutex<Vec<String>>,
    published: Mutex<Vec<Key>>,
    signing: Mutex<Key>,
    deny: Mutex<Option<(String, String)>>,
    codes: Mutex<HashMap<String, Grant>>,
    clock_offset: AtomicI64,
    token_ttl: AtomicI64,
    jwks_fetches: AtomicUsize,
    token_calls: AtomicUsize,
}

/// A running test IdP.
#[derive(Clone)]
pub struct TestIdp {
    inner: Arc<Inner>,
}

impl TestIdp {
    /// An IdP signing with `key`, knowing the client `sso-gateway` with the given redirect URIs.
    pub async fn start(key: Key, redirect_uris: Vec<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner {
            issuer,
            client_id: "sso-gateway".into(),
            client_secret: Mutex::new("idp-secret".into()),
            redirect_uris: Mutex::new(redirect_uris),
            published: Mutex::new(vec![key.clone()]),
            signing: Mutex::new(key),
            deny: Mutex::new(None),
            codes: Mutex::new(HashMap::new()),
            clock_offset: AtomicI64::new(0),
            token_ttl: AtomicI64::new(300),
            jwks_fetches: AtomicUsize::new(0),
            token_calls: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(inner.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { inner }
    }

    /// An ES256 IdP for a gateway at `base` (tenant `slug`).
    pub async fn es256(redirect_uris: Vec<String>) -> Self {
        Self::start(Key::load("es256-a", "key-a"), redirect_uris).await
    }

    pub fn issuer(&self) -> String {
        self.inner.issuer.clone()
    }
    pub fn client_id(&self) -> String {
        self.inner.client_id.clone()
    }
    pub fn client_secret(&self) -> String {
        self.inner.client_secret.lock().unwrap().clone()
    }
    pub fn set_client_secret(&self, secret: &str) {
        *self.inner.client_secret.lock().unwrap() = secret.into();
    }
    pub fn set_redirect_uris(&self, uris: Vec<String>) {
        *self.inner.redirect_uris.lock().unwrap() = uris;
    }
    /// Publishes exactly `keys`.
    pub fn publish(&self, keys: Vec<Key>) {
        *self.inner.published.lock().unwrap() = keys;
    }
    /// Signs new ID tokens with `key` (published or not).
    pub fn sign_with(&self, key: Key) {
        *self.inner.signing.lock().unwrap() = key;
    }
    /// Makes the next authorizations end with `error` (None: succeed again).
    pub fn deny(&self, error: Option<(&str, &str)>) {
        *self.inner.deny.lock().unwrap() = error.map(|(e, d)| (e.to_owned(), d.to_owned()));
    }
    /// Seconds the IdP's clock is ahead of real time (negative: behind).
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock_offset.store(secs, Ordering::SeqCst);
    }
    /// Lifetime of ID tokens (`exp - iat`).
    pub fn set_token_ttl(&self, secs: i64) {
        self.inner.token_ttl.store(secs, Ordering::SeqCst);
    }
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }
    pub fn token_calls(&self) -> usize {
        self.inner.token_calls.load(Ordering::SeqCst)
    }
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "HS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Arc<Inner>>) -> Json<JwkSet> {
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = s.published.lock().unwrap().iter().map(Key::jwk).collect();
    Json(JwkSet { keys })
}

async fn authorize(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    let known =
        q.get("client_id") == Some(&s.client_id) && s.redirect_uris.lock().unwrap().contains(&redirect_uri);
    if !known {
        // Like Okta: an unregistered redirect URI gets the IdP's own error page, no redirect.
        return (
            StatusCode::BAD_REQUEST,
            Html("<h1>400</h1><p>The 'redirect_uri' parameter must be a Login redirect URI in the client app settings</p>"),
        )
            .into_response();
    }
    let state = q.get("state").cloned().unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    if let Some((error, description)) = s.deny.lock().unwrap().clone() {
        let target = format!(
            "{redirect_uri}{sep}error={}&error_description={}&state={}",
            enc(&error),
            enc(&description),
            enc(&state)
        );
        return (StatusCode::FOUND, [("location", target)]).into_response();
    }
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    let code = gatehouse_crypto::random::token::<16>();
    let user = headers
        .get("x-test-user")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("alice")
        .to_owned();
    s.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            redirect_uri: redirect_uri.clone(),
            nonce: q.get("nonce").cloned(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            user,
        },
    );
    let target = format!("{redirect_uri}{sep}code={code}&state={}", enc(&state));
    (StatusCode::FOUND, [("location", target)]).into_response()
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

fn dec(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    s.token_calls.fetch_add(1, Ordering::SeqCst);
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|pair| pair.split_once(':').map(|(a, b)| (dec(a), dec(b))));
    let (id, secret) = basic.unwrap_or_else(|| {
        (
            f.get("client_id").cloned().unwrap_or_default(),
            f.get("client_secret").cloned().unwrap_or_default(),
        )
    });
    if id != s.client_id || secret != *s.client_secret.lock().unwrap() {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let Some(grant) = f.get("code").and_then(|c| s.codes.lock().unwrap().remove(c)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    let computed = URL_SAFE_NO_PAD.encode(gatehouse_crypto::digest::sha256(verifier.as_bytes()));
    if computed != grant.challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp() + s.clock_offset.load(Ordering::SeqCst);
    let key = s.signing.lock().unwrap().clone();
    let mut header = Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    let claims = json!({
        "iss": s.issuer,
        "sub": format!("sub-{}", grant.user),
        "aud": s.client_id,
        "iat": now,
        "exp": now + s.token_ttl.load(Ordering::SeqCst),
        "nonce": grant.nonce,
        "email": format!("{}@example.com", grant.user),
        "name": grant.user,
    });
    let id_token = jsonwebtoken::encode(&header, &claims, &key.encoding).expect("sign");
    Json(json!({
        "access_token": gatehouse_crypto::random::token::<16>(),
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
