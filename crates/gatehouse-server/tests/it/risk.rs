//! Risk-based sign-in and continuous evaluation (issue 8, DESIGN section 9, docs/risk.md), over
//! real HTTP. The server trusts 127.0.0.1 as a proxy, so each request's `X-Forwarded-For` is the
//! address it comes from — how a test moves a person between networks.

use std::time::Duration;

use gatehouse_core::model::event_types;
use gatehouse_store::LogFilter;
use reqwest::Method;
use serde_json::{Value, json};

use crate::flows::{remediation, totp_code};
use crate::oidc::{DASHBOARD, VERIFIER, authorize_url, code_of, exchange, location};
use crate::support::{Options, TestServer};

const HOME: &str = "203.0.113.7";
const CAFE: &str = "198.51.100.20";

async fn server(configure: fn(&mut gatehouse_server::Config)) -> TestServer {
    TestServer::start(Options {
        configure,
        ..Options::default()
    })
    .await
}

fn behind_proxy(config: &mut gatehouse_server::Config) {
    config.trusted_proxies = vec![gatehouse_policy::Cidr::parse("127.0.0.1/32").unwrap()];
}

/// A browser (its own cookies, so its own `gh_device`) at `ip`.
#[derive(Clone)]
struct Browser {
    client: reqwest::Client,
    base: String,
    ip: String,
}

impl Browser {
    fn at(server: &TestServer, ip: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            ip: ip.to_owned(),
        }
    }

    /// The same browser (same cookies) on another network.
    fn moved_to(&self, ip: &str) -> Self {
        Self {
            ip: ip.to_owned(),
            ..self.clone()
        }
    }

    async fn post(&self, flow: &str, name: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v1/flows/{flow}/{name}", self.base))
            .header("x-forwarded-for", &self.ip)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Starts a dashboard sign-in (`prompt=login`: a sign-in even with a session); returns the flow id.
    async fn start(&self, server: &TestServer) -> String {
        let res = self
            .client
            .get(authorize_url(server, DASHBOARD, &[("prompt", "login")]))
            .header("x-forwarded-for", &self.ip)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        location(&res)
            .strip_prefix("/signin/")
            .expect("to the sign-in page")
            .to_owned()
    }
}

async fn admin(server: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    let res = server.admin(method, path).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Adds a rule above the dashboard policy's catch-all.
async fn add_dashboard_rule(server: &TestServer, rule: Value) {
    let (_, list) = admin(server, Method::GET, "/api/v1/policies", json!(null)).await;
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "dashboard")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = admin(
        server,
        Method::POST,
        &format!("/api/v1/policies/{id}/rules"),
        rule,
    )
    .await;
    assert_eq!(status, 201, "{body}");
}

/// A medium or high risk sign-in to the dashboard needs a second factor.
async fn step_up_when_risky(server: &TestServer) {
    add_dashboard_rule(
        server,
        json!({"name": "risky", "when": {"risk": ["medium", "high"]}, "access": "allow",
               "require": {"assurance": {"factors": 2}}}),
    )
    .await;
}

/// Signs alice in with her password and, when asked, her TOTP; returns the final state and the
/// authenticators asked for.
async fn sign_in(server: &TestServer, browser: &Browser) -> (Value, Vec<String>) {
    let flow = browser.start(server).await;
    let (_, mut state) = browser.post(&flow, "identify", json!({"login": "alice"})).await;
    let mut asked = Vec::new();
    for _ in 0..4 {
        if state["status"] != "in_progress" {
            break;
        }
        let challenge = remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state}"));
        let key = challenge["authenticator"]["key"].as_str().unwrap().to_owned();
        let body = match key.as_str() {
            "password" => json!({"password": "correct-horse-battery"}),
            "totp" => {
                server.clock.advance(Duration::from_secs(30));
                json!({"code": totp_code(gatehouse_server::demo::ALICE_TOTP_SECRET, server)})
            }
            other => panic!("unexpected {other}: {state}"),
        };
        asked.push(key);
        state = browser.post(&flow, "challenge-authenticator", body).await.1;
    }
    (state, asked)
}

/// The newest `policy.evaluate` event's details.
async fn last_decision(server: &TestServer) -> Value {
    let filter = LogFilter {
        type_prefix: Some(event_types::POLICY_EVALUATE.as_str().to_owned()),
        ..LogFilter::default()
    };
    let page = server
        .state
        .store()
        .log()
        .query(&filter, &gatehouse_store::PageRequest::first(1))
        .await
        .unwrap();
    page.items[0].details.clone()
}

#[tokio::test]
async fn a_new_browser_on_a_new_network_is_medium_and_gets_the_step_up_its_rule_demands() {
    let server = server(behind_proxy).await;
    step_up_when_risky(&server).await;

    // Alice's first sign-in: a browser and a network she never used.
    let laptop = Browser::at(&server, HOME);
    let (state, asked) = sign_in(&server, &laptop).await;
    assert_eq!(state["status"], "success", "{state}");
    assert_eq!(asked, ["password", "totp"], "medium risk: the second factor");
    let decision = last_decision(&server).await;
    assert_eq!(decision["risk"], "medium", "{decision}");
    assert_eq!(decision["risk_signals"], "new_device,new_network");

    // The same browser on the same network again: low, the password is enough.
    let (state, asked) = sign_in(&server, &laptop).await;
    assert_eq!(
        (state["status"].as_str(), asked),
        (Some("success"), vec!["password".to_owned()])
    );
    assert_eq!(last_decision(&server).await["risk"], "low");

    // A new browser on a known network: one signal, still low.
    let phone = Browser::at(&server, HOME);
    let (_, asked) = sign_in(&server, &phone).await;
    assert_eq!(asked, ["password"]);
    assert_eq!(last_decision(&server).await["risk_signals"], "new_device");

    // A new browser on a new network: medium again.
    let kiosk = Browser::at(&server, CAFE);
    let (state, asked) = sign_in(&server, &kiosk).await;
    assert_eq!(state["status"], "success", "{state}");
    assert_eq!(asked, ["password", "totp"]);
    server.stop().await;
}

#[tokio::test]
async fn a_burst_of_failures_raises_risk_and_trips_the_limiter() {
    let server = server(|config| {
        behind_proxy(config);
        config.lockout.max_failures = 1000;
        config.rate_limits.per_login_per_minute = 40;
    })
    .await;
    step_up_when_risky(&server).await;
    // A known browser on a known network first, so only the failures count.
    let laptop = Browser::at(&server, HOME);
    sign_in(&server, &laptop).await;

    for _ in 0..5 {
        let flow = laptop.start(&server).await;
        laptop.post(&flow, "identify", json!({"login": "alice"})).await;
        let (_, state) = laptop
            .post(
                &flow,
                "challenge-authenticator",
                json!({"password": "not-her-password"}),
            )
            .await;
        assert_eq!(state["messages"][0]["code"], "invalid_credentials", "{state}");
    }
    let (state, asked) = sign_in(&server, &laptop).await;
    assert_eq!(state["status"], "success", "{state}");
    assert_eq!(asked, ["password", "totp"], "five recent failures: medium");
    let decision = last_decision(&server).await;
    assert_eq!(decision["risk"], "medium", "{decision}");
    assert_eq!(decision["risk_signals"], "user_failure_velocity");

    // Keep guessing: the per-login limit answers 429 with Retry-After, and the flow is unchanged.
    let flow = laptop.start(&server).await;
    let mut limited = None;
    for _ in 0..40 {
        let res = laptop
            .client
            .post(format!("{}/api/v1/flows/{flow}/identify", server.base))
            .json(&json!({"login": "alice"}))
            .send()
            .await
            .unwrap();
        if res.status() == 429 {
            limited = Some(res);
            break;
        }
    }
    let res = limited.expect("the limiter trips");
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "too_many_requests");
    server.stop().await;
}

async fn refresh_from(server: &TestServer, ip: &str, refresh_token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(server.url("/oauth2/token"))
        .header("x-forwarded-for", ip)
        .basic_auth("dashboard", Some("demo-dashboard-secret"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Alice signs in to the dashboard from home, exchanges the code and refreshes once from home
/// (asserting each answer is 200): the rotated refresh token.
async fn refreshed_at_home(server: &TestServer) -> String {
    let laptop = Browser::at(server, HOME);
    let (state, _) = sign_in(server, &laptop).await;
    let code = code_of(state["redirect"].as_str().unwrap(), DASHBOARD, server);
    let (status, tokens) = exchange(server, DASHBOARD, &code, VERIFIER).await;
    assert_eq!(status, 200, "{tokens}");
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, tokens) = refresh_from(server, HOME, &refresh).await;
    assert_eq!(status, 200, "{tokens}");
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn moving_to_a_blocked_zone_mid_session_ends_the_session_at_the_next_refresh() {
    let server = server(behind_proxy).await;
    let (status, zone) = admin(
        &server,
        Method::POST,
        "/api/v1/zones",
        json!({"name": "cafes", "cidrs": ["198.51.0.0/16"], "blocked_cidrs": ["198.51.100.0/24"]}),
    )
    .await;
    assert_eq!(status, 201, "{zone}");
    add_dashboard_rule(
        &server,
        json!({"name": "block-high-risk", "when": {"risk": ["high"]}, "access": "deny"}),
    )
    .await;

    // From home, the session still satisfies the policy.
    let refresh = refreshed_at_home(&server).await;

    // The laptop moves to a blocked network: high risk, the rule denies, the session ends.
    let (status, body) = refresh_from(&server, CAFE, &refresh).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("session has ended"),
        "{body}"
    );
    let decision = last_decision(&server).await;
    assert_eq!(decision["trigger"], "refresh", "{decision}");
    assert_eq!(decision["rule"], "block-high-risk");
    assert!(
        decision["risk_signals"]
            .as_str()
            .unwrap()
            .contains("blocked_zone")
    );
    let alice = server
        .state
        .store()
        .users()
        .by_login("alice")
        .await
        .unwrap()
        .unwrap();
    let open = server
        .state
        .store()
        .sessions()
        .open_of_user(alice.id)
        .await
        .unwrap();
    assert!(open.is_empty(), "the session ended: {open:?}");

    // Back home, the token is dead too: its session ended.
    let (status, body) = refresh_from(&server, HOME, &refresh).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    server.stop().await;
}

/// A policy that never matches on risk is evaluated at a refresh without scoring it, but the
/// refusal's event still carries the level and signals of that moment.
#[tokio::test]
async fn a_refresh_refused_by_a_rule_without_risk_still_logs_the_risk() {
    let server = server(behind_proxy).await;
    let (status, zone) = admin(
        &server,
        Method::POST,
        "/api/v1/zones",
        json!({"name": "cafes", "cidrs": ["198.51.0.0/16"]}),
    )
    .await;
    assert_eq!(status, 201, "{zone}");
    add_dashboard_rule(
        &server,
        json!({"name": "no-cafes", "when": {"network": {"include": ["cafes"]}}, "access": "deny"}),
    )
    .await;

    // From home, the session still satisfies the policy.
    let refresh = refreshed_at_home(&server).await;

    let (status, body) = refresh_from(&server, CAFE, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let decision = last_decision(&server).await;
    assert_eq!(decision["trigger"], "refresh", "{decision}");
    assert_eq!(decision["rule"], "no-cafes", "{decision}");
    assert_eq!(decision["risk"], "low", "{decision}");
    assert_eq!(decision["risk_signals"], "new_network", "{decision}");
    server.stop().await;
}

#[tokio::test]
async fn an_admin_verdict_decides_the_level_until_it_is_cleared() {
    let server = server(behind_proxy).await;
    step_up_when_risky(&server).await;
    let laptop = Browser::at(&server, HOME);
    sign_in(&server, &laptop).await;
    let alice = server
        .state
        .store()
        .users()
        .by_login("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let path = format!("/api/v1/users/{alice}/risk");

    let (status, bad) = admin(
        &server,
        Method::PUT,
        &path,
        json!({"level": "severe", "reason": "x"}),
    )
    .await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("level")), "{bad}");
    let (status, verdict) = admin(
        &server,
        Method::PUT,
        &path,
        json!({"level": "high", "reason": "password seen in a breach", "duration": "PT1H"}),
    )
    .await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["level"], "high");

    let (_, asked) = sign_in(&server, &laptop).await;
    assert_eq!(asked, ["password", "totp"], "the verdict raises a known browser");
    assert_eq!(last_decision(&server).await["risk_signals"], "admin_verdict");

    // It expires by itself…
    server.clock.advance(Duration::from_secs(3700));
    let (_, asked) = sign_in(&server, &laptop).await;
    assert_eq!(asked, ["password"]);
    // …or an administrator clears it.
    admin(
        &server,
        Method::PUT,
        &path,
        json!({"level": "medium", "reason": "again"}),
    )
    .await;
    let (status, _) = admin(&server, Method::DELETE, &path, json!(null)).await;
    assert_eq!(status, 204);
    let (_, now) = admin(&server, Method::GET, &path, json!(null)).await;
    assert_eq!(now["level"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn universal_logout_revokes_refresh_tokens_and_tells_the_app_by_back_channel() {
    use crate::oidc::{jwks, now, verify_id_token};
    use gatehouse_crypto::{Audience, JwtExpectations};

    let server = TestServer::demo().await;
    // The app's back-channel logout endpoint: hands over every `logout_token` it is sent.
    let (sent, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let endpoint = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(
            move |axum::Form(form): axum::Form<std::collections::HashMap<String, String>>| {
                let sent = sent.clone();
                async move {
                    sent.send(form.get("logout_token").cloned().unwrap_or_default())
                        .ok();
                    axum::http::StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, endpoint).await.ok() });

    let (_, apps) = admin(&server, Method::GET, "/api/v1/apps?limit=100", json!(null)).await;
    let dashboard = apps["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["client_id"] == "dashboard")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, bad) = admin(
        &server,
        Method::PATCH,
        &format!("/api/v1/apps/{dashboard}"),
        json!({"backchannel_logout_uri": "ftp://example.com/x"}),
    )
    .await;
    assert_eq!(
        (status, bad["field"].as_str()),
        (400, Some("backchannel_logout_uri"))
    );
    let (status, app) = admin(
        &server,
        Method::PATCH,
        &format!("/api/v1/apps/{dashboard}"),
        json!({"backchannel_logout_uri": uri}),
    )
    .await;
    assert_eq!(status, 200, "{app}");
    assert_eq!(app["backchannel_logout_uri"], uri.as_str());

    let tokens = crate::oidc::dashboard_tokens_for_alice(&server).await;
    let id_token = verify_id_token(&server, DASHBOARD, tokens["id_token"].as_str().unwrap()).await;
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // Universal logout: one admin call ends every session and token of alice.
    let alice = id_token["sub"].as_str().unwrap().to_owned();
    let (status, ended) = admin(
        &server,
        Method::DELETE,
        &format!("/api/v1/users/{alice}/sessions"),
        json!(null),
    )
    .await;
    assert_eq!((status, ended["ended"].as_u64()), (200, Some(1)));
    let (status, body) = refresh_from(&server, "127.0.0.1", &refresh).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));

    // The app hears of it on its back channel, with a logout token it can verify.
    let token = tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a logout token within 10 s")
        .unwrap();
    let aud = ["dashboard"];
    let expect =
        JwtExpectations::new(&server.base, Audience::OneOf(&aud), now(&server)).with_type("logout+jwt");
    let claims = jwks(&server).await.verify(&token, &expect).unwrap().claims;
    assert_eq!(claims["sub"], alice.as_str());
    assert_eq!(claims["sid"], id_token["sid"], "the session the ID token named");
    assert!(
        claims["events"]
            .as_object()
            .unwrap()
            .contains_key("http://schemas.openid.net/event/backchannel-logout")
    );
    assert!(!claims.contains_key("nonce"));
    server.stop().await;
}

#[tokio::test]
async fn signing_in_from_a_zone_too_far_to_have_travelled_to_is_impossible_travel() {
    let server = server(behind_proxy).await;
    step_up_when_risky(&server).await;
    let (status, bad) = admin(
        &server,
        Method::POST,
        "/api/v1/zones",
        json!({"name": "nowhere", "cidrs": ["192.0.2.0/24"], "location": {"latitude": 95.0, "longitude": 0.0}}),
    )
    .await;
    assert_eq!((status, bad["field"].as_str()), (400, Some("location")), "{bad}");
    for (name, cidr, lat, lon) in [
        ("paris-office", "203.0.113.0/24", 48.8566, 2.3522),
        ("sydney-office", "198.51.100.0/24", -33.8688, 151.2093),
    ] {
        let (status, zone) = admin(
            &server,
            Method::POST,
            "/api/v1/zones",
            json!({"name": name, "cidrs": [cidr], "location": {"latitude": lat, "longitude": lon}}),
        )
        .await;
        assert_eq!(status, 201, "{zone}");
        assert_eq!(zone["location"]["latitude"], lat);
    }

    let laptop = Browser::at(&server, HOME);
    sign_in(&server, &laptop).await;
    // An hour later the same laptop signs in from Sydney, 16,960 km away.
    server.clock.advance(Duration::from_secs(3600));
    let (state, asked) = sign_in(&server, &laptop.moved_to(CAFE)).await;
    assert_eq!(state["status"], "success", "{state}");
    assert_eq!(asked, ["password", "totp"]);
    let decision = last_decision(&server).await;
    assert_eq!(decision["risk"], "high", "{decision}");
    assert_eq!(decision["risk_signals"], "new_network,impossible_travel");
    server.stop().await;
}
