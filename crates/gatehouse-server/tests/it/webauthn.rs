//! WebAuthn in the flow API (DESIGN 5, `docs/webauthn.md`): the ceremonies' options in their JSON
//! form, single use, and refusals of answers that are no credential. Full ceremonies run in
//! Chromium's virtual authenticator (`e2e/browser/webauthn.test.mjs`).

use serde_json::{Value, json};

use crate::flows::{Browser, remediation, signed_in};
use crate::support::TestServer;

fn webauthn_challenge(state: &Value) -> Option<&Value> {
    state["remediation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "challenge-authenticator" && r["authenticator"]["key"] == "webauthn")
}

/// Stores a `webauthn` enrollment for bob (its key is never used: only that one exists matters).
async fn give_bob_a_passkey(server: &TestServer) {
    use gatehouse_core::model::{
        AuthenticatorKey, Enrollment, EnrollmentId, EnrollmentStatus, Method, UserVerification,
    };
    let bob = server
        .state
        .store()
        .users()
        .by_login("bob")
        .await
        .unwrap()
        .unwrap();
    let now = server.clock.now();
    let enrollment = Enrollment {
        id: EnrollmentId::from_uuid(uuid::Uuid::new_v4()),
        user_id: bob.id,
        authenticator: AuthenticatorKey::Webauthn,
        methods: vec![Method::Webauthn],
        status: EnrollmentStatus::Active,
        name: None,
        data: json!({"credential_id": "AA", "credential": {}}),
        hardware_protected: false,
        user_verification: UserVerification::Any,
        device_id: None,
        counter: None,
        created_at: now,
        updated_at: now,
        last_used_at: None,
    };
    let mut tx = server.state.store().begin().await.unwrap();
    tx.enrollments().insert(&enrollment).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn webauthn_identify_offers_a_discoverable_passkey_challenge_used_once() {
    let server = TestServer::demo().await;
    let browser = Browser::new(&server);
    // Nobody has a passkey yet: the identify step is offered alone.
    let flow = browser.start_dashboard().await;
    let (_, state) = browser.state(&flow).await;
    assert!(webauthn_challenge(&state).is_none(), "{state}");
    give_bob_a_passkey(&server).await;

    let flow = browser.start_dashboard().await;
    let (_, state) = browser.state(&flow).await;
    assert!(remediation(&state, "identify").is_some(), "{state}");
    let passkey = webauthn_challenge(&state).unwrap_or_else(|| panic!("{state}"));
    assert_eq!(passkey["authenticator"]["method"], "webauthn");
    assert_eq!(passkey["fields"], json!([]));
    let options = &passkey["options"];
    assert_eq!(options["allowCredentials"], json!([]), "{options}");
    assert_eq!(options["userVerification"], "preferred");
    assert_eq!(options["rpId"], "127.0.0.1", "the issuer's host");
    let challenge = options["challenge"].as_str().unwrap().to_owned();
    assert!(challenge.len() >= 43, "at least 32 random bytes, base64url");

    // An answer that is no credential is refused with a message, and the challenge is spent.
    let (status, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"credential": {"id": "x", "rawId": "eA", "type": "public-key", "response": {}}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(state["messages"][0]["code"], "invalid_credential", "{state}");
    assert_eq!(state["status"], "in_progress");
    let again = webauthn_challenge(&state).unwrap_or_else(|| panic!("{state}"));
    assert_ne!(
        again["options"]["challenge"], challenge,
        "a fresh challenge after any answer"
    );
    server.stop().await;
}

#[tokio::test]
async fn webauthn_enrollment_at_app_offers_creation_options_for_a_resident_key() {
    let server = TestServer::demo().await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;
    let page = browser
        .client
        .get(format!("{}/app", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("/app/enroll/webauthn"), "{page}");
    let res = browser
        .client
        .post(format!("{}/app/enroll/webauthn", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let flow = res.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/signin/")
        .to_owned();
    let (_, state) = browser.state(&flow).await;
    let enroll = remediation(&state, "enroll-authenticator").unwrap_or_else(|| panic!("{state}"));
    assert_eq!(enroll["authenticator"]["key"], "webauthn");
    assert_eq!(enroll["fields"], json!([]));
    let options = &enroll["options"];
    assert_eq!(options["user"]["name"], "alice", "{options}");
    assert_eq!(options["rp"]["id"], "127.0.0.1");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "preferred");
    assert_eq!(options["attestation"], "none");

    // No credential: a message, and the enrollment goes on.
    let (_, state) = browser.post(&flow, "enroll-authenticator", json!({})).await;
    assert_eq!(state["messages"][0]["code"], "missing_field", "{state}");
    assert!(remediation(&state, "enroll-authenticator").unwrap()["options"]["challenge"].is_string());
    server.stop().await;
}

#[tokio::test]
async fn webauthn_a_rule_wanting_a_passkey_offers_its_inline_enrollment() {
    let server = TestServer::demo().await;
    let doc = gatehouse_policy::parse_document(
        r"
version: 1
authentication_policies:
  - name: dashboard
    apps: [dashboard]
    rules:
      - name: password-then-passkey
        access: allow
        require:
          chains:
            - steps:
                - [ {authenticator: password} ]
                - [ {authenticator: webauthn, user_verification: any} ]
              reauthenticate: every_sign_in
",
        gatehouse_policy::Format::Yaml,
    )
    .unwrap();
    let mut tx = server.state.store().begin().await.unwrap();
    gatehouse_server::directory::apply(
        &mut tx,
        &doc,
        &gatehouse_core::model::Actor::System,
        server.clock.now(),
    )
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
    assert_eq!(select["options"][0]["authenticator"]["key"], "webauthn");
    let (_, state) = browser
        .post(&flow, "select-enroll", json!({"authenticator": "webauthn"}))
        .await;
    let enroll = remediation(&state, "enroll-authenticator").unwrap_or_else(|| panic!("{state}"));
    assert_eq!(enroll["authenticator"]["key"], "webauthn");
    assert_eq!(enroll["options"]["user"]["name"], "bob", "{enroll}");
    assert_eq!(enroll["options"]["excludeCredentials"], json!([]));
    assert!(
        webauthn_challenge(&state).is_none(),
        "no passkey sign-in once identified"
    );
    server.stop().await;
}
