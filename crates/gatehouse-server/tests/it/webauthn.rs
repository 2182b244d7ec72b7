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
    let flow = browser.start_app_enroll("webauthn").await;
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

/// The attestation fixtures: a root, and a batch certificate and key it signed
/// (`tests/fixtures/attestation`, made with `openssl`; valid for a century).
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/attestation")
        .join(name)
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

/// What a security key with packed attestation answers to `options` (creation options): a new
/// P-256 credential, attested by the fixture batch key, whose certificate goes in `x5c`.
fn attested_credential(options: &Value, origin: &str) -> Value {
    use ciborium::Value as C;
    use gatehouse_crypto::digest::sha256;
    use p256::ecdsa::signature::Signer as _;
    use p256::pkcs8::DecodePrivateKey as _;
    let rp_id = options["rp"]["id"].as_str().unwrap();
    let client_data = json!({
        "type": "webauthn.create",
        "challenge": options["challenge"].as_str().unwrap(),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string();
    let credential_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
    let point = credential_key.verifying_key().to_sec1_point(false);
    let (x, y) = (point.x().unwrap().to_vec(), point.y().unwrap().to_vec());
    let cose_key = cbor(&C::Map(vec![
        (C::Integer(1.into()), C::Integer(2.into())),
        (C::Integer(3.into()), C::Integer((-7).into())),
        (C::Integer((-1).into()), C::Integer(1.into())),
        (C::Integer((-2).into()), C::Bytes(x)),
        (C::Integer((-3).into()), C::Bytes(y)),
    ]));
    let credential_id = b"gatehouse-test-security-key-0001".to_vec();
    let mut auth_data = sha256(rp_id.as_bytes()).to_vec();
    auth_data.push(0x45); // user present, user verified, attested credential data
    auth_data.extend_from_slice(&0u32.to_be_bytes());
    auth_data.extend_from_slice(&[0x42; 16]); // AAGUID
    auth_data.extend_from_slice(&u16::try_from(credential_id.len()).unwrap().to_be_bytes());
    auth_data.extend_from_slice(&credential_id);
    auth_data.extend_from_slice(&cose_key);

    let batch_key =
        p256::ecdsa::SigningKey::from_pkcs8_pem(&std::fs::read_to_string(fixture("leaf.key.pem")).unwrap())
            .unwrap();
    let mut signed = auth_data.clone();
    signed.extend_from_slice(&sha256(client_data.as_bytes()));
    let signature: p256::ecdsa::Signature = batch_key.sign(&signed);
    let leaf_pem = std::fs::read_to_string(fixture("leaf.pem")).unwrap();
    let leaf_der = {
        use base64::Engine as _;
        let body: String = leaf_pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD.decode(body).unwrap()
    };
    let attestation_object = cbor(&C::Map(vec![
        (C::Text("fmt".into()), C::Text("packed".into())),
        (
            C::Text("attStmt".into()),
            C::Map(vec![
                (C::Text("alg".into()), C::Integer((-7).into())),
                (
                    C::Text("sig".into()),
                    C::Bytes(signature.to_der().as_bytes().to_vec()),
                ),
                (C::Text("x5c".into()), C::Array(vec![C::Bytes(leaf_der)])),
            ]),
        ),
        (C::Text("authData".into()), C::Bytes(auth_data)),
    ]));
    json!({
        "id": b64url(&credential_id),
        "rawId": b64url(&credential_id),
        "type": "public-key",
        "response": {
            "clientDataJSON": b64url(client_data.as_bytes()),
            "attestationObject": b64url(&attestation_object),
            "transports": ["usb"],
        },
        "clientExtensionResults": {},
    })
}

/// Alice adds a security key at `/app` on a server trusting `root`; returns the stored enrollment's
/// `hardware_protected`.
async fn enroll_attested_key(root: fn(&mut gatehouse_server::Config)) -> bool {
    let server = TestServer::start(crate::support::Options {
        configure: root,
        ..Default::default()
    })
    .await;
    let browser = signed_in(&server, "alice", "correct-horse-battery").await;
    let flow = browser.start_app_enroll("webauthn").await;
    let (_, state) = browser.state(&flow).await;
    let enroll = remediation(&state, "enroll-authenticator").unwrap_or_else(|| panic!("{state}"));
    let options = &enroll["options"];
    assert_eq!(
        options["attestation"], "direct",
        "attestation is asked for once roots are configured"
    );
    let credential = attested_credential(options, &server.base);
    let (_, state) = browser
        .post(&flow, "enroll-authenticator", json!({"credential": credential}))
        .await;
    assert_eq!(state["status"], "success", "{state:#}");
    let alice = server.user("alice").await;
    let enrollments = server
        .state
        .store()
        .enrollments()
        .of_user(alice.id)
        .await
        .unwrap();
    let key = enrollments
        .iter()
        .find(|e| e.authenticator == gatehouse_core::model::AuthenticatorKey::Webauthn)
        .expect("the security key is enrolled");
    let hardware = key.hardware_protected;
    server.stop().await;
    hardware
}

#[tokio::test]
async fn a_security_key_attested_by_a_trusted_root_is_hardware_protected() {
    assert!(
        enroll_attested_key(|c| c.webauthn_attestation_cas = vec![fixture("ca.pem")]).await,
        "the attestation chains to the configured root"
    );
}

#[tokio::test]
async fn a_security_key_attested_by_another_root_is_enrolled_but_not_hardware_protected() {
    assert!(
        !enroll_attested_key(|c| c.webauthn_attestation_cas = vec![fixture("untrusted-ca.pem")]).await,
        "an attestation no configured root vouches for proves nothing"
    );
}
