//! Sign-in flows through the flow API (DESIGN section 5), driven over HTTP against a real server,
//! starting from the dashboard `/app` (which needs no OIDC client).

use std::time::Duration;

use gatehouse_core::model::{Actor, UserStatus};
use gatehouse_crypto::{Totp, TotpParams, TotpSecret};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Options, TestServer};

/// A browser: cookies kept, redirects not followed.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        Self {
            client: server.client(),
            base: server.base.clone(),
        }
    }

    /// Opens `/app` and returns the flow id it redirects to.
    pub async fn start_dashboard(&self) -> String {
        let res = self
            .client
            .get(format!("{}/app", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            303,
            "GET /app without a session redirects to the sign-in page"
        );
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        location
            .strip_prefix("/signin/")
            .expect("redirect to /signin/{id}")
            .to_owned()
    }

    /// `/app`'s "add" button for `authenticator` (signed in): returns the enrollment flow's id.
    pub async fn start_app_enroll(&self, authenticator: &str) -> String {
        let res = self
            .client
            .post(format!("{}/app/enroll/{authenticator}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        res.headers()["location"]
            .to_str()
            .unwrap()
            .trim_start_matches("/signin/")
            .to_owned()
    }

    pub async fn state(&self, flow: &str) -> (u16, Value) {
        let res = self
            .client
            .get(format!("{}/api/v1/flows/{flow}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }

    pub async fn post(&self, flow: &str, name: &str, body: Value) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}/api/v1/flows/{flow}/{name}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap())
    }
}

pub fn remediation<'a>(state: &'a Value, name: &str) -> Option<&'a Value> {
    state["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
}

fn message_codes(state: &Value) -> Vec<String> {
    state["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap().to_owned())
        .collect()
}

pub fn totp_code(secret_base32: &str, server: &TestServer) -> String {
    let secret = TotpSecret::from_base32(secret_base32).unwrap();
    let totp = Totp::new(&secret, TotpParams::default()).unwrap();
    totp.generate(u64::try_from(server.clock.now().as_second()).unwrap())
}

#[tokio::test]
async fn alice_signs_in_to_the_dashboard_with_her_password() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;

    let (status, state) = browser.state(&flow).await;
    assert_eq!(status, 200);
    assert_eq!(state["status"], "in_progress");
    let identify = remediation(&state, "identify").expect("identifier-first starts with identify");
    let fields: Vec<&str> = identify["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["login", "keep_signed_in"]);

    let (_, state) = browser.post(&flow, "identify", json!({"login": "Alice"})).await;
    assert_eq!(state["user"]["login"], "Alice");
    let challenge = remediation(&state, "challenge-authenticator").unwrap();
    assert_eq!(challenge["authenticator"]["key"], "password");

    let (status, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "wrong-password"}),
        )
        .await;
    assert_eq!(status, 200, "a wrong answer is a message, not an HTTP error");
    assert_eq!(message_codes(&state), ["invalid_credentials"]);
    assert_eq!(state["status"], "in_progress");

    let res = browser
        .client
        .post(format!(
            "{}/api/v1/flows/{flow}/challenge-authenticator",
            browser.base
        ))
        .json(&json!({"password": "correct-horse-battery"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("gh_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Max-Age"),
        "not persistent without keep-signed-in: {cookie}"
    );
    let state: Value = res.json().await.unwrap();
    assert_eq!(state["status"], "success");
    assert_eq!(state["redirect"], "/app");

    let page = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Signed in as alice"));

    // A finished flow keeps answering with its final state.
    let (_, again) = browser.state(&flow).await;
    assert_eq!(again["status"], "success");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_login_sees_the_same_screens_and_the_same_failure() {
    let server = TestServer::demo().await;
    let mut seen = Vec::new();
    for login in ["alice", "nobody-here"] {
        let browser = Browser::new(&server);
        let flow = browser.start_dashboard().await;
        let (_, identified) = browser.post(&flow, "identify", json!({"login": login})).await;
        let (_, failed) = browser
            .post(
                &flow,
                "challenge-authenticator",
                json!({"password": "not-the-password"}),
            )
            .await;
        let strip = |mut v: Value| {
            v["flow_id"] = Value::Null;
            v["user"] = Value::Null;
            v
        };
        seen.push((strip(identified), strip(failed)));
    }
    assert_eq!(
        seen[0], seen[1],
        "known and unknown logins must be indistinguishable"
    );
    assert_eq!(message_codes(&seen[1].1), ["invalid_credentials"]);
    server.stop().await;
}

#[tokio::test]
async fn repeated_failures_lock_the_user_out_until_the_lockout_ends() {
    let server = TestServer::start(Options {
        configure: |c| c.lockout.max_failures = 3,
        ..Options::default()
    })
    .await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": "bob"})).await;
    for _ in 0..3 {
        browser
            .post(&flow, "challenge-authenticator", json!({"password": "guess"}))
            .await;
    }
    let bob = server
        .state
        .store()
        .users()
        .by_login("bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.status, UserStatus::LockedOut);

    // Locked out: even the right password fails, with the same message as a wrong one.
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": "bob"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "bob-password-123"}),
        )
        .await;
    assert_eq!(message_codes(&state), ["invalid_credentials"]);

    server.clock.advance(Duration::from_secs(15 * 60 + 1));
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": "bob"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "bob-password-123"}),
        )
        .await;
    assert_eq!(state["status"], "success", "{state}");
    let bob = server
        .state
        .store()
        .users()
        .by_login("bob")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob.status, UserStatus::Active);
    server.stop().await;
}

#[tokio::test]
async fn flows_expire_after_ten_idle_minutes_and_refuse_bad_requests() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;

    let res = browser
        .client
        .post(format!("{}/api/v1/flows/{flow}/identify", server.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_json");

    let (status, body) = browser
        .post(&flow, "identify", json!({"login": "alice", "surprise": 1}))
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, _) = browser.state("0190b4a2-0000-7000-8000-000000000000").await;
    assert_eq!(status, 404);
    let (status, _) = browser.state("not-a-flow").await;
    assert_eq!(status, 404);

    server.clock.advance(Duration::from_secs(9 * 60));
    let (status, _) = browser.post(&flow, "identify", json!({"login": "alice"})).await;
    assert_eq!(status, 200, "a step restarts the idle timer");
    server.clock.advance(Duration::from_secs(9 * 60));
    let (status, _) = browser.state(&flow).await;
    assert_eq!(status, 200);
    server.clock.advance(Duration::from_secs(60));
    let (status, state) = browser.state(&flow).await;
    assert_eq!(status, 410);
    assert_eq!(state["status"], "expired");
    let (status, _) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    assert_eq!(status, 410);
    server.stop().await;
}

#[tokio::test]
async fn a_missing_authenticator_is_enrolled_inline_and_the_sign_in_completes() {
    let server = TestServer::demo().await;
    // The dashboard now wants a password and then an authenticator app; bob has no TOTP.
    let doc = gatehouse_policy::parse_document(
        r"
version: 1
authentication_policies:
  - name: dashboard
    apps: [dashboard]
    rules:
      - name: password-then-app
        access: allow
        require:
          chains:
            - steps:
                - [ {authenticator: password} ]
                - [ {authenticator: totp} ]
              reauthenticate: every_sign_in
",
        gatehouse_policy::Format::Yaml,
    )
    .unwrap();
    let mut tx = server.state.store().begin().await.unwrap();
    gatehouse_server::directory::apply(&mut tx, &doc, &Actor::System, server.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    server.state.policies_changed().await;

    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": "bob"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "bob-password-123"}),
        )
        .await;
    let select = remediation(&state, "select-enroll").unwrap_or_else(|| panic!("{state}"));
    assert_eq!(select["options"][0]["authenticator"]["key"], "totp");

    let (_, state) = browser
        .post(&flow, "select-enroll", json!({"authenticator": "totp"}))
        .await;
    let enroll = remediation(&state, "enroll-authenticator").unwrap_or_else(|| panic!("{state}"));
    let secret = enroll["totp"]["secret"].as_str().unwrap().to_owned();
    assert!(
        enroll["totp"]["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let qr = enroll["totp"]["qr_code"]
        .as_str()
        .unwrap_or_else(|| panic!("{enroll}"));
    let svg = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        qr.strip_prefix("data:image/svg+xml;base64,")
            .expect("an SVG data URI"),
    )
    .unwrap();
    assert!(
        String::from_utf8(svg).unwrap().contains("<svg"),
        "a scannable QR code"
    );

    let (_, state) = browser
        .post(&flow, "enroll-authenticator", json!({"code": "000000"}))
        .await;
    assert_eq!(message_codes(&state), ["invalid_code"]);
    let code = totp_code(&secret, &server);
    let (_, state) = browser
        .post(&flow, "enroll-authenticator", json!({"code": code}))
        .await;
    assert_eq!(state["status"], "success", "{state}");

    let bob = server
        .state
        .store()
        .users()
        .by_login("bob")
        .await
        .unwrap()
        .unwrap();
    let enrollments = server.state.store().enrollments().of_user(bob.id).await.unwrap();
    assert!(
        enrollments
            .iter()
            .any(|e| e.authenticator.as_str() == "totp" && e.is_active())
    );
    server.stop().await;
}

#[tokio::test]
async fn every_step_and_decision_is_in_the_system_log() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": "alice"})).await;
    browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    let res = server.admin(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let page = server
        .state
        .store()
        .log()
        .query(
            &gatehouse_store::LogFilter::default(),
            &gatehouse_store::PageRequest::first(100),
        )
        .await
        .unwrap();
    let types: Vec<String> = page
        .items
        .iter()
        .map(|e| e.event_type.as_str().to_owned())
        .collect();
    for expected in [
        "user.authentication.identify",
        "user.authentication.verify",
        "policy.evaluate",
        "user.session.start",
        "user.authentication.sign_in",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "{expected} missing from {types:?}"
        );
    }
    let decision = page
        .items
        .iter()
        .find(|e| e.event_type.as_str() == "policy.evaluate")
        .unwrap();
    assert_eq!(decision.details["rule"], "catch-all");
    server.stop().await;
}

/// Signs `login` in to the dashboard with a password; returns the browser holding the session.
pub async fn signed_in(server: &TestServer, login: &str, password: &str) -> Browser {
    let browser = Browser::new(server);
    let flow = browser.start_dashboard().await;
    browser.post(&flow, "identify", json!({"login": login})).await;
    let (_, state) = browser
        .post(&flow, "challenge-authenticator", json!({"password": password}))
        .await;
    assert_eq!(state["status"], "success", "{state}");
    browser
}

/// The text of the newest outbox message sent to `to`.
pub fn last_message_to(server: &TestServer, to: &str) -> Value {
    let mut files: Vec<_> = std::fs::read_dir(server.outbox.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .rev()
        .map(|p| serde_json::from_str::<Value>(&std::fs::read_to_string(p).unwrap()).unwrap())
        .find(|m| m["to"] == to)
        .unwrap_or_else(|| panic!("no message to {to}"))
}

pub fn code_in(message: &Value) -> String {
    let text = message["text"].as_str().unwrap();
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_signed_in_user_adds_and_removes_an_email_authenticator_at_app() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;

    let flow = browser.start_app_enroll("email").await;
    let (_, state) = browser.state(&flow).await;
    let enroll = remediation(&state, "enroll-authenticator").unwrap_or_else(|| panic!("{state}"));
    assert_eq!(enroll["authenticator"]["key"], "email");
    assert_eq!(enroll["sent_to"], "a•••@example.com");

    let code = code_in(&last_message_to(&server, "alice@example.com"));
    let (_, state) = browser
        .post(&flow, "enroll-authenticator", json!({"code": code}))
        .await;
    assert_eq!(state["status"], "success", "{state}");
    assert_eq!(state["redirect"], "/app");

    let page = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"data-authenticator="email""#), "{page}");

    let alice = server
        .state
        .store()
        .users()
        .by_login("alice")
        .await
        .unwrap()
        .unwrap();
    let email = server
        .state
        .store()
        .enrollments()
        .of_user(alice.id)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.authenticator.as_str() == "email")
        .unwrap();
    // A cross-site form post is refused.
    let res = browser
        .client
        .post(format!("{}/app/enrollments/{}/remove", server.base, email.id))
        .header("origin", "http://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = browser
        .client
        .post(format!("{}/app/enrollments/{}/remove", server.base, email.id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(r#"data-authenticator="email""#));
    server.stop().await;
}

#[tokio::test]
async fn keep_me_signed_in_makes_the_session_cookie_persistent() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    browser
        .post(
            &flow,
            "identify",
            json!({"login": "alice", "keep_signed_in": true}),
        )
        .await;
    let res = browser
        .client
        .post(format!(
            "{}/api/v1/flows/{flow}/challenge-authenticator",
            server.base
        ))
        .json(&json!({"password": "correct-horse-battery"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Max-Age=86400"), "P1D lifetime: {cookie}");

    // Logging out ends the session and clears the cookie.
    let res = browser
        .client
        .post(format!("{}/app/logout", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let res = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed out: back to sign-in");
    server.stop().await;
}

/// Whether `/app` shows the dashboard to this browser (a live session) or sends it to sign in.
async fn has_live_session(server: &TestServer, browser: &Browser) -> bool {
    let res = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap();
    res.status() == 200
}

#[tokio::test]
async fn a_session_ends_after_two_idle_hours_and_activity_keeps_it_alive() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "bob", "bob-password-123").await;
    assert!(has_live_session(&server, &browser).await);

    // Activity inside the idle window (PT2H) keeps the session alive.
    for _ in 0..3 {
        server.clock.advance(Duration::from_secs(100 * 60));
        assert!(has_live_session(&server, &browser).await, "used within two hours");
    }

    // Two idle hours and a minute: the global session policy's max_idle ends it.
    server.clock.advance(Duration::from_secs(121 * 60));
    assert!(
        !has_live_session(&server, &browser).await,
        "idle for more than PT2H"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_active() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "bob", "bob-password-123").await;
    // Used every hour, it still ends when max_lifetime (P1D) is over.
    for hour in 1..=23 {
        server.clock.advance(Duration::from_secs(3600));
        assert!(has_live_session(&server, &browser).await, "alive at hour {hour}");
    }
    server.clock.advance(Duration::from_secs(3600 + 60));
    assert!(!has_live_session(&server, &browser).await, "over P1D");
    server.stop().await;
}

fn res_refused(statuses: &[u16]) -> bool {
    statuses.last() == Some(&429)
}

/// The statuses of `attempts` password sign-ins of `login` (identify, then a wrong password), and
/// the `Retry-After` of the first refusal.
async fn attempt_statuses(server: &TestServer, login: &str, attempts: usize) -> (Vec<u16>, Option<String>) {
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..attempts {
        let browser = Browser::new(server);
        let flow = browser.start_dashboard().await;
        for (step, body) in [
            ("identify", json!({"login": login})),
            ("challenge-authenticator", json!({"password": "wrong-password-1"})),
        ] {
            let res = browser
                .client
                .post(format!("{}/api/v1/flows/{flow}/{step}", server.base))
                .json(&body)
                .send()
                .await
                .unwrap();
            statuses.push(res.status().as_u16());
            if res.status() == 429 && retry_after.is_none() {
                retry_after = Some(res.headers()["retry-after"].to_str().unwrap().to_owned());
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["error"], "too_many_requests");
                assert!(!body["message"].as_str().unwrap().contains(login));
            }
            if res_refused(&statuses) {
                break;
            }
        }
    }
    (statuses, retry_after)
}

#[tokio::test]
async fn a_burst_of_attempts_on_one_login_is_refused_with_429_alike_for_unknown_logins() {
    let server = TestServer::start(Options {
        configure: |c| {
            c.rate_limits.per_login_per_minute = 8; // a burst of 4, then one every 7.5 s
            c.lockout.max_failures = 100;
        },
        ..Options::default()
    })
    .await;
    let (known, retry) = attempt_statuses(&server, "bob", 3).await;
    assert_eq!(
        known,
        [200, 200, 200, 200, 429],
        "the fifth step is over the limit"
    );
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=8).contains(&retry), "Retry-After {retry}");
    let (unknown, _) = attempt_statuses(&server, "nobody-at-all", 3).await;
    assert_eq!(
        unknown, known,
        "an unknown login is limited exactly like a known one"
    );
    // Another login is not held back by bob's limit.
    let (other, _) = attempt_statuses(&server, "alice", 1).await;
    assert_eq!(other, [200, 200]);
    server.stop().await;
}

#[tokio::test]
async fn a_burst_from_one_address_is_refused_whatever_the_logins() {
    let server = TestServer::start(Options {
        configure: |c| c.rate_limits.per_ip_per_minute = 6, // a burst of 3
        ..Options::default()
    })
    .await;
    let mut statuses = Vec::new();
    for login in ["a1", "a2", "a3", "a4"] {
        let (s, _) = attempt_statuses(&server, login, 1).await;
        statuses.extend(s);
    }
    assert_eq!(statuses[..3], [200, 200, 200]);
    assert!(statuses[3..].iter().all(|s| *s == 429), "{statuses:?}");
    server.stop().await;
}

#[tokio::test]
async fn housekeeping_deletes_flows_a_day_after_expiry_and_places_past_the_look_back() {
    let server = TestServer::demo().await;
    let _alice = signed_in(&server, "alice", "correct-horse-battery").await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    let alice = server.user("alice").await;
    let places = |server: &TestServer| {
        let store = server.state.store().clone();
        async move {
            store
                .sign_in_contexts()
                .recent(alice.id, gatehouse_store::ContextKind::Network, 20)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(places(&server).await, 1, "alice's sign-in remembered her network");

    // Expired, but within the day of grace: a visit still hears "expired".
    server.clock.advance(Duration::from_secs(11 * 60));
    let swept = gatehouse_server::housekeeping::sweep(&server.state)
        .await
        .unwrap();
    assert_eq!(swept.flows, 0);
    assert_eq!(browser.state(&flow).await.0, 410);

    // A day later the flow is gone: "unknown flow".
    server.clock.advance(Duration::from_secs(24 * 3600));
    let swept = gatehouse_server::housekeeping::sweep(&server.state)
        .await
        .unwrap();
    assert!(swept.flows >= 2, "both flows, the finished one too: {swept:?}");
    assert_eq!(browser.state(&flow).await.0, 404);
    assert_eq!(places(&server).await, 1, "a day-old place still counts");

    // Past the 90-day look-back, the places are forgotten too.
    server.clock.advance(Duration::from_secs(90 * 24 * 3600));
    let swept = gatehouse_server::housekeeping::sweep(&server.state)
        .await
        .unwrap();
    assert!(swept.sign_in_places >= 2, "network and browser: {swept:?}");
    assert_eq!(places(&server).await, 0);
    server.stop().await;
}

/// A server keeps the state of the flows it stepped, by version, so as not to parse them again.
/// A flow that another server (or anything else) changed since must be read as it is now.
#[tokio::test]
async fn a_flow_changed_elsewhere_is_read_as_it_is_now_not_as_this_server_left_it() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    let flow = browser.start_dashboard().await;
    let id = gatehouse_core::model::FlowId::parse(&flow).unwrap();
    let read = |server: &TestServer| {
        let store = server.state.store().clone();
        async move {
            let mut snapshot = store.read().unwrap();
            snapshot.flows().get(id).await.unwrap().unwrap()
        }
    };
    let before_identify = read(&server).await;

    let (_, state) = browser.post(&flow, "identify", json!({"login": "alice"})).await;
    assert!(remediation(&state, "challenge-authenticator").is_some());
    // This server now holds the state after identify. Another node puts the flow back to
    // where it was before identify (a new version, as every write makes).
    let now = read(&server).await;
    let mut tx = server.state.store().begin().await.unwrap();
    tx.flows()
        .update(&gatehouse_core::model::Flow {
            state: before_identify.state.clone(),
            ..now
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (status, state) = browser.state(&flow).await;
    assert_eq!(status, 200);
    assert!(
        remediation(&state, "identify").is_some() && remediation(&state, "challenge-authenticator").is_none(),
        "the flow as the other node left it: {state}"
    );
    // And a step answers that state: the password is not what it asks for now.
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    assert_ne!(state["status"], "success", "{state}");
    // From there, identify and password sign alice in as usual.
    let (_, state) = browser.post(&flow, "identify", json!({"login": "alice"})).await;
    assert!(
        remediation(&state, "challenge-authenticator").is_some(),
        "{state}"
    );
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    assert_eq!(state["status"], "success", "{state}");
}
