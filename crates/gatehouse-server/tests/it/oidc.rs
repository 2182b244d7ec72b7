//! The OpenID Connect provider (DESIGN section 8) over real HTTP: the sign-in driven through the
//! flow API, the tokens verified against the published JWKS.

use std::time::Duration;

use gatehouse_crypto::{Audience, Jwks, JwtExpectations, SigningAlgorithm};
use gatehouse_store::Dialect;
use serde_json::{Value, json};

use crate::flows::{Browser, remediation, totp_code};
use crate::support::{Options, TestServer};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const POLICY_FAILED: &str = "Policy evaluation failed for this request.";

#[derive(Clone, Copy)]
pub struct App {
    id: &'static str,
    secret: Option<&'static str>,
    redirect: &'static str,
}

pub const DASHBOARD: App = App {
    id: "dashboard",
    secret: Some("demo-dashboard-secret"),
    redirect: "http://127.0.0.1:9000/callback",
};
const FINANCE: App = App {
    id: "finance",
    secret: Some("demo-finance-secret"),
    redirect: "http://127.0.0.1:9001/callback",
};
const CLI: App = App {
    id: "cli",
    secret: None,
    redirect: "http://127.0.0.1:9002/callback",
};
const BLOCKED: App = App {
    id: "blocked-app",
    secret: Some("demo-blocked-secret"),
    redirect: "http://127.0.0.1:9003/callback",
};

pub fn authorize_url(server: &TestServer, app: App, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/oauth2/authorize")).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", app.id)
            .append_pair("redirect_uri", app.redirect)
            .append_pair("scope", "openid profile email")
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456");
        if !extra.iter().any(|(k, _)| *k == "code_challenge") {
            q.append_pair("code_challenge", CHALLENGE)
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in extra {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
    }
    url.to_string()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("a redirect, got {}", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query(uri: &str) -> Vec<(String, String)> {
    url::Url::parse(uri).unwrap().query_pairs().into_owned().collect()
}

pub fn param(uri: &str, name: &str) -> Option<String> {
    query(uri).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

async fn get(browser: &Browser, url: &str) -> reqwest::Response {
    browser.client.get(url).send().await.unwrap()
}

/// Runs the sign-in of alice from the authorize redirect to the client's redirect; returns it.
pub async fn sign_in_alice(server: &TestServer, browser: &Browser, authorize: &str) -> String {
    let res = get(browser, authorize).await;
    assert_eq!(res.status(), 302);
    let loc = location(&res);
    let flow = loc
        .strip_prefix("/signin/")
        .unwrap_or_else(|| panic!("to the sign-in page: {loc}"));
    let (_, state) = browser.post(flow, "identify", json!({"login": "alice"})).await;
    assert!(
        remediation(&state, "challenge-authenticator").is_some(),
        "{state}"
    );
    let (_, mut state) = browser
        .post(
            flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    if state["status"] != "success" {
        let challenge = remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state}"));
        assert_eq!(challenge["authenticator"]["key"], "totp", "{state}");
        let code = totp_code(gatehouse_server::demo::ALICE_TOTP_SECRET, server);
        state = browser
            .post(flow, "challenge-authenticator", json!({"code": code}))
            .await
            .1;
    }
    assert_eq!(state["status"], "success", "{state}");
    state["redirect"].as_str().unwrap().to_owned()
}

pub fn code_of(redirect: &str, app: App, server: &TestServer) -> String {
    assert!(redirect.starts_with(app.redirect), "{redirect}");
    assert_eq!(param(redirect, "state").as_deref(), Some("st-123"));
    assert_eq!(param(redirect, "iss").as_deref(), Some(server.base.as_str()));
    param(redirect, "code").unwrap_or_else(|| panic!("a code: {redirect}"))
}

pub async fn token(server: &TestServer, app: App, form: &[(&str, &str)]) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut req = client.post(server.url("/oauth2/token"));
    let mut form: Vec<(&str, &str)> = form.to_vec();
    match app.secret {
        Some(secret) => req = req.basic_auth(app.id, Some(secret)),
        None => form.push(("client_id", app.id)),
    }
    let res = req.form(&form).send().await.unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

pub async fn exchange(server: &TestServer, app: App, code: &str, verifier: &str) -> (u16, Value) {
    token(
        server,
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", app.redirect),
            ("code_verifier", verifier),
        ],
    )
    .await
}

/// Alice signs in to the dashboard (code + PKCE) and the code is exchanged: the token response.
pub async fn dashboard_tokens_for_alice(server: &TestServer) -> Value {
    let browser = Browser::new(server);
    let redirect = sign_in_alice(server, &browser, &authorize_url(server, DASHBOARD, &[])).await;
    let (status, tokens) = exchange(
        server,
        DASHBOARD,
        &code_of(&redirect, DASHBOARD, server),
        VERIFIER,
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    tokens
}

/// Revokes `token` as the dashboard (RFC 7009): the status.
async fn revoke(server: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .post(server.url("/oauth2/revoke"))
        .basic_auth(DASHBOARD.id, DASHBOARD.secret)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

pub async fn jwks(server: &TestServer) -> Jwks {
    let text = reqwest::get(server.url("/oauth2/jwks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    Jwks::from_json(&text).unwrap()
}

pub fn now(server: &TestServer) -> u64 {
    u64::try_from(server.clock.now().as_second()).unwrap()
}

pub async fn verify_id_token(
    server: &TestServer,
    app: App,
    id_token: &str,
) -> serde_json::Map<String, Value> {
    let jwks = jwks(server).await;
    let aud = [app.id];
    let expect = JwtExpectations::new(&server.base, Audience::OneOf(&aud), now(server))
        .with_algorithms(&[SigningAlgorithm::Es256]);
    let verified = jwks.verify(id_token, &expect).unwrap();
    assert_eq!(verified.algorithm, SigningAlgorithm::Es256);
    verified.claims
}

async fn userinfo(server: &TestServer, access_token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn introspect(server: &TestServer, app: App, token: &str) -> Value {
    reqwest::Client::new()
        .post(server.url("/oauth2/introspect"))
        .basic_auth(app.id, app.secret)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn code_flow_for_alice_on_the_dashboard(dialect: Dialect) {
    let server = TestServer::start(Options {
        dialect,
        ..Options::default()
    })
    .await;
    let browser = Browser::new(&server);
    let redirect = sign_in_alice(&server, &browser, &authorize_url(&server, DASHBOARD, &[])).await;
    let code = code_of(&redirect, DASHBOARD, &server);

    let (status, tokens) = exchange(&server, DASHBOARD, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = verify_id_token(&server, DASHBOARD, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(
        claims["sid"].is_string() && claims["auth_time"].is_i64(),
        "{claims:?}"
    );
    assert_eq!(claims["preferred_username"], "alice");
    let sub = claims["sub"].as_str().unwrap().to_owned();

    // The access token is an RFC 9068 JWT that verifies offline.
    let access = tokens["access_token"].as_str().unwrap();
    let issuer = [server.base.as_str()];
    let at = jwks(&server)
        .await
        .verify(
            access,
            &JwtExpectations::new(&server.base, Audience::OneOf(&issuer), now(&server)).with_type("at+jwt"),
        )
        .unwrap();
    assert_eq!(at.str_claim("client_id"), Some("dashboard"));
    assert_eq!(at.str_claim("sub"), Some(sub.as_str()));

    let (status, info) = userinfo(&server, access).await;
    assert_eq!(status, 200);
    assert_eq!(info["sub"], sub.as_str());
    assert_eq!(info["email"], "alice@example.com");
    let res = reqwest::Client::new()
        .post(server.url("/oauth2/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the token may come in the form (RFC 6750 section 2.2)"
    );

    // A token that is none of ours is refused and harms nothing: the family lives on.
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let other_family = format!("{}{}", "0".repeat(32), &first[32..]);
    for junk in ["", "not-a-refresh-token", &first[..32], &other_family] {
        let (status, body) = token(
            &server,
            DASHBOARD,
            &[("grant_type", "refresh_token"), ("refresh_token", junk)],
        )
        .await;
        assert_eq!(status, 400, "{junk}: {body}");
        assert!(
            matches!(body["error"].as_str(), Some("invalid_grant" | "invalid_request")),
            "{junk}: {body}"
        );
    }

    // Refresh rotates; the rotated-out token revokes the whole family.
    let (status, rotated) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert!(rotated["id_token"].is_string());
    let (status, reuse) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await;
    assert_eq!((status, reuse["error"].as_str()), (400, Some("invalid_grant")));
    let (status, after) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", &second)],
    )
    .await;
    assert_eq!(
        (status, after["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse revoked the family"
    );

    // Introspection and revocation of the access token.
    let info = introspect(&server, DASHBOARD, access).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], "alice");
    assert_eq!(introspect(&server, DASHBOARD, &second).await["active"], false);
    assert_eq!(revoke(&server, access).await, 200);
    assert_eq!(introspect(&server, DASHBOARD, access).await["active"], false);
    assert_eq!(userinfo(&server, access).await.0, 401);

    // A code is used once.
    let (status, again) = exchange(&server, DASHBOARD, &code, VERIFIER).await;
    assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

#[tokio::test]
async fn alice_gets_verified_tokens_for_the_dashboard_with_code_and_pkce() {
    code_flow_for_alice_on_the_dashboard(Dialect::Sqlite).await;
}

#[tokio::test]
async fn alice_gets_verified_tokens_for_the_dashboard_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_err() {
        return;
    }
    code_flow_for_alice_on_the_dashboard(Dialect::Postgres).await;
}

#[tokio::test]
async fn finance_asks_alice_for_totp_and_the_id_token_says_so() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let redirect = sign_in_alice(&server, &browser, &authorize_url(&server, FINANCE, &[])).await;
    let code = code_of(&redirect, FINANCE, &server);
    let (status, tokens) = exchange(&server, FINANCE, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let claims = verify_id_token(&server, FINANCE, tokens["id_token"].as_str().unwrap()).await;
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        amr.contains(&"pwd") && amr.contains(&"otp") && amr.contains(&"mfa"),
        "{amr:?}"
    );
    assert_eq!(claims["acr"], "urn:gatehouse:loa:2fa:any");
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, rotated) = token(
        &server,
        FINANCE,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 200);
    // Replaying the code revokes what it earned.
    let (status, _) = exchange(&server, FINANCE, &code, VERIFIER).await;
    assert_eq!(status, 400);
    let next = rotated["refresh_token"].as_str().unwrap();
    let (status, body) = token(
        &server,
        FINANCE,
        &[("grant_type", "refresh_token"), ("refresh_token", next)],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

#[tokio::test]
async fn a_forged_token_of_a_real_family_revokes_the_family() {
    let server = TestServer::demo().await;
    let tokens = dashboard_tokens_for_alice(&server).await;
    let genuine = tokens["refresh_token"].as_str().unwrap();
    // The family's id (the token's first 32 characters) with a secret it never had: whoever
    // holds a token of the family without its current secret is treated as a thief.
    let forged = format!("{}{}", &genuine[..32], "A".repeat(43));
    let (status, body) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", &forged)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    assert_eq!(introspect(&server, DASHBOARD, &forged).await["active"], false);
    let (status, body) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", genuine)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the family was revoked: {body}"
    );
    assert_eq!(introspect(&server, DASHBOARD, genuine).await["active"], false);
    server.stop().await;
}

#[tokio::test]
async fn bad_protocol_requests_are_refused() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);

    // Redirect mismatch: an error page, never a redirect.
    let mut bad = url::Url::parse(&authorize_url(&server, DASHBOARD, &[])).unwrap();
    let pairs: Vec<(String, String)> = bad
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "http://127.0.0.1:9000/callback/".to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    bad.query_pairs_mut().clear().extend_pairs(&pairs);
    let res = get(&browser, bad.as_str()).await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());
    assert!(res.text().await.unwrap().contains("is not registered"));
    let res = get(
        &browser,
        &authorize_url(
            &server,
            App {
                id: "nobody",
                ..DASHBOARD
            },
            &[],
        ),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("location").is_none());

    // Missing PKCE on the public client goes back to it with invalid_request.
    let res = get(&browser, &authorize_url(&server, CLI, &[("code_challenge", "")])).await;
    let loc = location(&res);
    assert!(loc.starts_with(CLI.redirect), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("invalid_request"));

    // No access rule for blocked-app.
    let res = get(&browser, &authorize_url(&server, BLOCKED, &[])).await;
    let loc = location(&res);
    assert!(loc.starts_with(BLOCKED.redirect), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "error_description").as_deref(), Some(POLICY_FAILED));

    // prompt=none without a session.
    let res = get(
        &browser,
        &authorize_url(&server, DASHBOARD, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(param(&location(&res), "error").as_deref(), Some("login_required"));

    // Wrong PKCE verifier, then a wrong client secret.
    let redirect = sign_in_alice(&server, &browser, &authorize_url(&server, DASHBOARD, &[])).await;
    let code = code_of(&redirect, DASHBOARD, &server);
    let (status, body) = exchange(
        &server,
        DASHBOARD,
        &code,
        "wrong-verifier-wrong-verifier-wrong-verifier",
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let wrong = App {
        secret: Some("not-the-secret"),
        ..DASHBOARD
    };
    let (status, body) = exchange(&server, wrong, &code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));

    // A code is bound to its client; unknown grants and missing bearer tokens are refused.
    let (status, body) = exchange(&server, FINANCE, &code, VERIFIER).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let (status, body) = token(&server, DASHBOARD, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let res = reqwest::get(server.url("/oauth2/userinfo")).await.unwrap();
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    assert_eq!(userinfo(&server, "not-a-token").await.0, 401);

    // The session now exists: prompt=none answers at once, prompt=login and max_age=0 ask again.
    let res = get(
        &browser,
        &authorize_url(&server, DASHBOARD, &[("prompt", "none")]),
    )
    .await;
    assert!(param(&location(&res), "code").is_some());
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let res = get(&browser, &authorize_url(&server, DASHBOARD, &[extra])).await;
        assert!(
            location(&res).starts_with("/signin/"),
            "{extra:?} forces a new sign-in"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_service_gets_a_jwt_with_client_credentials() {
    let server = TestServer::demo().await;
    let reports = App {
        id: "reports-service",
        secret: Some("demo-reports-secret"),
        redirect: "",
    };
    let (status, body) = token(&server, reports, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none());
    let issuer = [server.base.as_str()];
    let at = jwks(&server)
        .await
        .verify(
            body["access_token"].as_str().unwrap(),
            &JwtExpectations::new(&server.base, Audience::OneOf(&issuer), now(&server)).with_type("at+jwt"),
        )
        .unwrap();
    assert_eq!(at.str_claim("sub"), Some("reports-service"));
    let (status, body) = token(
        &server,
        reports,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));
    server.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_and_its_refresh_tokens() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let redirect = sign_in_alice(&server, &browser, &authorize_url(&server, DASHBOARD, &[])).await;
    let (_, tokens) = exchange(
        &server,
        DASHBOARD,
        &code_of(&redirect, DASHBOARD, &server),
        VERIFIER,
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap();

    let mut url = url::Url::parse(&server.url("/oauth2/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://evil.example/logged-out");
    assert_eq!(
        get(&browser, url.as_str()).await.status(),
        400,
        "unregistered URI: an error page"
    );

    let mut url = url::Url::parse(&server.url("/oauth2/logout")).unwrap();
    url.query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", "http://127.0.0.1:9000/logged-out")
        .append_pair("state", "bye");
    let res = get(&browser, url.as_str()).await;
    assert_eq!(location(&res), "http://127.0.0.1:9000/logged-out?state=bye");

    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, body) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    let res = get(
        &browser,
        &authorize_url(&server, DASHBOARD, &[("prompt", "none")]),
    )
    .await;
    assert_eq!(param(&location(&res), "error").as_deref(), Some("login_required"));
    server.stop().await;
}

#[tokio::test]
async fn key_rotation_keeps_the_old_key_in_the_jwks() {
    let server = TestServer::demo().await;
    let before: Vec<String> = jwks(&server)
        .await
        .kids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(before.len(), 2, "one ES256 and one RS256 key");
    let state = &server.state;
    let fresh = gatehouse_server::oidc::keys::rotate(state.store(), state.keyring(), state.now())
        .await
        .unwrap();
    state.oidc().keys_changed();
    let after: Vec<String> = jwks(&server)
        .await
        .kids()
        .into_iter()
        .map(str::to_owned)
        .collect();
    for kid in before.iter().chain(&fresh) {
        assert!(after.contains(kid), "{kid} in {after:?}");
    }
    let reports = App {
        id: "reports-service",
        secret: Some("demo-reports-secret"),
        redirect: "",
    };
    let (_, body) = token(&server, reports, &[("grant_type", "client_credentials")]).await;
    let issuer = [server.base.as_str()];
    let at = jwks(&server)
        .await
        .verify(
            body["access_token"].as_str().unwrap(),
            &JwtExpectations::new(&server.base, Audience::OneOf(&issuer), now(&server)),
        )
        .unwrap();
    assert!(
        fresh.contains(&at.kid.unwrap()),
        "new tokens are signed with the new key"
    );
    server.clock.advance(Duration::from_secs(3 * 24 * 3600));
    server.state.oidc().keys_changed();
    let later = jwks(&server).await;
    assert!(
        !later.kids().iter().any(|k| before.iter().any(|b| b == k)),
        "retired keys leave after they expire"
    );
    server.stop().await;
}

#[tokio::test]
async fn refresh_rechecks_the_access_policy_and_refusals_are_logged() {
    let server = TestServer::demo().await;
    let tokens = dashboard_tokens_for_alice(&server).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The rule that allowed the dashboard goes away: the token endpoint refuses with the policy error.
    let store = server.state.store();
    let rule = store
        .access_rules()
        .by_name("dashboard-any-scope")
        .await
        .unwrap()
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.access_rules().delete(rule.id).await.unwrap();
    tx.commit().await.unwrap();
    server.state.oidc().clients_changed();
    let (status, body) = token(
        &server,
        DASHBOARD,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(body["error_description"], POLICY_FAILED);
    let log = store
        .log()
        .query(
            &gatehouse_store::LogFilter::default(),
            &gatehouse_store::PageRequest::first(50),
        )
        .await
        .unwrap();
    assert!(
        log.items.iter().any(
            |e| e.event_type.as_str() == "app.oauth2.token.deny" && e.details["error"] == "access_denied"
        ),
        "the refusal is in the system log"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_rule_can_ask_for_opaque_access_tokens_that_only_gatehouse_reads() {
    let server = TestServer::demo().await;
    let (_, rules) = crate::admin::send(
        &server,
        reqwest::Method::GET,
        "/api/v1/authorization-server/rules",
        None,
    )
    .await;
    let mut rule = rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "dashboard-any-scope")
        .unwrap()
        .clone();
    let id = rule.as_object_mut().unwrap().remove("id").unwrap();
    rule["access_token_format"] = json!("opaque");
    let path = format!("/api/v1/authorization-server/rules/{}", id.as_str().unwrap());
    let (status, stored) = crate::admin::send(&server, reqwest::Method::PUT, &path, Some(rule)).await;
    assert_eq!(
        (status.as_u16(), &stored["access_token_format"]),
        (200, &json!("opaque"))
    );

    let tokens = dashboard_tokens_for_alice(&server).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("ghat."), "{access}");
    let issuer = [server.base.as_str()];
    let expect =
        JwtExpectations::new(&server.base, Audience::OneOf(&issuer), now(&server)).with_type("at+jwt");
    assert!(
        jwks(&server).await.verify(&access, &expect).is_err(),
        "an opaque token is no JWT"
    );
    let claims = verify_id_token(&server, DASHBOARD, tokens["id_token"].as_str().unwrap()).await;
    let sub = claims["sub"].as_str().unwrap().to_owned();

    // Gatehouse reads it back: userinfo and introspection.
    let (status, info) = userinfo(&server, &access).await;
    assert_eq!((status, info["sub"].as_str()), (200, Some(sub.as_str())));
    let about = introspect(&server, DASHBOARD, &access).await;
    assert_eq!(about["active"], true, "{about}");
    assert_eq!(about["client_id"], "dashboard");
    assert_eq!(about["username"], "alice");
    assert_eq!(about["sub"], sub.as_str());

    // A refresh keeps the rule's format; a tampered token is nobody's; revocation ends it.
    let (status, rotated) = refresh(&server, &tokens, None).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["access_token"].as_str().unwrap();
    assert!(second.starts_with("ghat.") && second != access);
    let mut tampered = access.clone().into_bytes();
    let at = tampered.len() - 5;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(userinfo(&server, &tampered).await.0, 401);
    assert_eq!(introspect(&server, DASHBOARD, &tampered).await["active"], false);
    assert_eq!(revoke(&server, &access).await, 200);
    assert_eq!(introspect(&server, DASHBOARD, &access).await["active"], false);
    assert_eq!(userinfo(&server, &access).await.0, 401);
    assert_eq!(
        userinfo(&server, second).await.0,
        200,
        "revoking one token leaves the other"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_narrowed_refresh_keeps_the_scope_the_family_was_granted() {
    let server = TestServer::demo().await;
    let tokens = dashboard_tokens_for_alice(&server).await;
    let (status, narrow) = refresh(&server, &tokens, Some("openid")).await;
    assert_eq!(
        (status, narrow["scope"].as_str()),
        (200, Some("openid")),
        "{narrow}"
    );
    let (_, info) = userinfo(&server, narrow["access_token"].as_str().unwrap()).await;
    assert!(
        info.get("email").is_none(),
        "the narrowed token reads no email: {info}"
    );

    // The next refresh may ask for all of the granted scope again, but never for more.
    let (status, wide) = refresh(&server, &narrow, None).await;
    assert_eq!(status, 200, "{wide}");
    let granted: std::collections::BTreeSet<&str> = wide["scope"].as_str().unwrap().split(' ').collect();
    assert_eq!(granted, ["email", "openid", "profile"].into_iter().collect());
    let (_, info) = userinfo(&server, wide["access_token"].as_str().unwrap()).await;
    assert_eq!(info["email"], "alice@example.com");
    let (status, wider) = refresh(&server, &wide, Some("openid groups")).await;
    assert_eq!(
        (status, wider["error"].as_str()),
        (400, Some("invalid_scope")),
        "{wider}"
    );
    server.stop().await;
}

/// Refreshes the dashboard's `tokens`, asking for `scope` when given.
async fn refresh(server: &TestServer, tokens: &Value, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(server, DASHBOARD, &form).await
}
