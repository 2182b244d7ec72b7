//! Gatehouse Verify's server side (DESIGN section 7, docs/verify-protocol.md) over real HTTP: a
//! device with real P-256 keys in Verify's own software keystore registers with a `device.enroll`
//! access token, authenticates its requests with PoP-signed proofs, receives pushes by long-poll
//! and answers challenges; an administrator drives the device lifecycle.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{self as wire, ChallengeClaims, jws_type, paths};
use gatehouse_core::device::{
    AnswerResult, ChallengeAudience, ChallengeKind, DeviceAnswer, EnrollmentId, Origin, UserVerification,
};
use gatehouse_core::model::{EndReason, Session, VerificationRecord};
use gatehouse_crypto::{SigningAlgorithm, random};
use gatehouse_server::verify::challenges::{self, ChallengeSpec};
use gatehouse_verify::home::Home;
use gatehouse_verify::keystore::software::SoftwareKeystore;
use gatehouse_verify::keystore::{GeneratedKey, Keystore, device_key, user_verification_key};
use gatehouse_verify::protocol::{access_token_hash, binding_of, registration_proof, sign_jws};
use reqwest::Method;
use serde_json::{Value, json};

use gatehouse_store::Dialect;

use crate::support::TestServer;

fn now(server: &TestServer) -> u64 {
    u64::try_from(server.state.now().as_second()).unwrap()
}

async fn user_id(server: &TestServer, login: &str) -> String {
    server
        .state
        .store()
        .users()
        .by_login(login)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// An access token of the built-in client with `device.enroll`, as the token endpoint issues it
/// (an `at+jwt` signed with the server's key).
async fn enroll_token(server: &TestServer, login: &str) -> String {
    let now = now(server);
    let claims = json!({
        "iss": server.base, "sub": user_id(server, login).await, "aud": server.base,
        "iat": now, "exp": now + 600, "jti": random::token::<16>(),
        "client_id": wire::VERIFY_CLIENT_ID, "scope": "openid device.enroll",
    });
    gatehouse_server::verify::keys(&server.state)
        .await
        .unwrap()
        .sign_typed(SigningAlgorithm::Es256, "at+jwt", &claims)
        .unwrap()
}

/// A device running Verify: its keystore, keys and enrollment.
struct Device {
    _dir: tempfile::TempDir,
    keys: SoftwareKeystore,
    pop: GeneratedKey,
    uv: Option<(GeneratedKey, wire::UserVerificationLevel)>,
    installation_id: String,
    biometric_capable: bool,
    enrollment_id: String,
    device_id: String,
}

impl Device {
    fn new(biometric_capable: bool, uv: Option<wire::UserVerificationLevel>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = SoftwareKeystore::new(Home::open(Some(dir.path())).unwrap());
        let pop = keys.generate().unwrap();
        let uv = uv.map(|level| (keys.generate().unwrap(), level));
        Self {
            _dir: dir,
            keys,
            pop,
            uv,
            installation_id: random::token::<16>(),
            biometric_capable,
            enrollment_id: String::new(),
            device_id: String::new(),
        }
    }

    fn registration(&self, server: &TestServer, token: &str) -> Value {
        let now = now(server);
        let claims = wire::RegistrationClaims {
            aud: server.base.clone(),
            iat: now,
            exp: now + 60,
            jti: random::token::<16>(),
            ath: access_token_hash(token),
            device: wire::DeviceFacts {
                platform: wire::Platform::Linux,
                os_version: "Debian GNU/Linux 12".into(),
                model: "ThinkPad X1".into(),
                display_name: "alice-laptop".into(),
                secure_hardware_present: true,
                managed: true,
                management_attestation: Some("self-reported:--managed".into()),
                biometric_capable: self.biometric_capable,
                installation_id: self.installation_id.clone(),
                verify_version: "0.1.0".into(),
            },
            proof_of_possession_key: device_key(&self.pop.public, wire::KeyStorage::Software),
            user_verification_key: self
                .uv
                .as_ref()
                .map(|(key, level)| user_verification_key(&key.public, wire::KeyStorage::Software, *level)),
        };
        let registration =
            registration_proof(&self.keys, &self.pop.key_ref, &self.pop.public, &claims).unwrap();
        let mut body = json!({ "registration": registration });
        if let Some((key, _)) = &self.uv {
            let sig = self.keys.sign(&key.key_ref, registration.as_bytes()).unwrap();
            body["user_verification_signature"] = json!(URL_SAFE_NO_PAD.encode(sig));
        }
        body
    }

    async fn register(&mut self, server: &TestServer, login: &str) -> reqwest::Response {
        let token = enroll_token(server, login).await;
        let body = self.registration(server, &token);
        let res = server
            .client()
            .post(server.url(paths::ENROLLMENTS))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        if res.status() == 201 {
            let v: Value = res.json().await.unwrap();
            self.enrollment_id = v["enrollment_id"].as_str().unwrap().to_owned();
            self.device_id = v["device_id"].as_str().unwrap().to_owned();
            // Give the caller the body back through a fresh response-like value.
            return fake_response(201, v);
        }
        res
    }

    fn request_proof(&self, server: &TestServer, method: &str, path: &str) -> String {
        let now = now(server);
        let header = json!({"alg": "ES256", "typ": jws_type::REQUEST, "kid": self.pop.public.thumbprint()});
        let claims = wire::RequestProofClaims {
            iss: self.enrollment_id.clone(),
            aud: server.base.clone(),
            iat: now,
            exp: now + 60,
            jti: random::token::<16>(),
            htm: method.to_owned(),
            htu: format!("{}{path}", server.base),
        };
        sign_jws(&self.keys, &self.pop.key_ref, &header, &claims).unwrap()
    }

    async fn device_request(
        &self,
        server: &TestServer,
        method: Method,
        path_and_query: &str,
    ) -> reqwest::Response {
        let path = path_and_query.split('?').next().unwrap();
        let proof = self.request_proof(server, method.as_str(), path);
        server
            .client()
            .request(method, server.url(path_and_query))
            .header("authorization", format!("Device {proof}"))
            .send()
            .await
            .unwrap()
    }

    /// Signs and posts an answer to a challenge JWS (after checking the server's signature).
    async fn answer(
        &self,
        server: &TestServer,
        request: &str,
        result: wire::AnswerResult,
        origin: Option<&str>,
        number: Option<u32>,
    ) -> reqwest::Response {
        let jwks = gatehouse_server::verify::keys(&server.state)
            .await
            .unwrap()
            .jwks()
            .clone();
        let verified =
            gatehouse_verify::protocol::verify_challenge(request, &jwks, &server.base, now(server)).unwrap();
        let claims: ChallengeClaims = verified.claims.clone();
        let binding = binding_of(&claims).unwrap();
        let origin = origin.unwrap_or(&claims.origin).to_owned();
        let use_uv = result == wire::AnswerResult::Approve
            && claims.user_verification != wire::UserVerificationLevel::None
            && self.uv.is_some();
        let uv_level = if use_uv {
            self.uv.as_ref().unwrap().1
        } else {
            wire::UserVerificationLevel::None
        };
        let core = DeviceAnswer {
            challenge_id: binding.id.clone(),
            enrollment_id: EnrollmentId::parse(&self.enrollment_id).unwrap(),
            result: match result {
                wire::AnswerResult::Approve => AnswerResult::Approve,
                wire::AnswerResult::Deny => AnswerResult::Deny,
                wire::AnswerResult::UserVerificationUnavailable => AnswerResult::UserVerificationUnavailable,
                wire::AnswerResult::UserVerificationFailed => AnswerResult::UserVerificationFailed,
                wire::AnswerResult::RegisterUserVerificationKey => AnswerResult::RegisterUserVerificationKey,
            },
            origin: Origin::parse(&origin).unwrap(),
            user_verification: gatehouse_verify::protocol::uv_to_core(uv_level),
            user_presence: true,
            number,
            biometric_capable: self.biometric_capable,
            new_key: None,
        };
        let message = core.signed_message(&binding);
        let pop_sig = self.keys.sign(&self.pop.key_ref, message.as_bytes()).unwrap();
        let uv_sig = use_uv.then(|| {
            let key = &self.uv.as_ref().unwrap().0;
            URL_SAFE_NO_PAD.encode(self.keys.sign(&key.key_ref, message.as_bytes()).unwrap())
        });
        let body = wire::ChallengeAnswer {
            challenge_id: claims.jti.clone(),
            enrollment_id: self.enrollment_id.clone(),
            result,
            origin,
            user_verification: uv_level,
            user_presence: true,
            number,
            biometric_capable: self.biometric_capable,
            new_key: None,
            signatures: wire::AnswerSignatures {
                proof_of_possession: URL_SAFE_NO_PAD.encode(pop_sig),
                user_verification: uv_sig,
                new_key: None,
            },
        };
        server
            .client()
            .post(server.url(&paths::answer(&claims.jti)))
            .json(&body)
            .send()
            .await
            .unwrap()
    }
}

/// A response built from a status and a JSON body (after the body was read).
fn fake_response(status: u16, body: Value) -> reqwest::Response {
    let response = axum::http::Response::builder()
        .status(status)
        .body(body.to_string())
        .unwrap();
    reqwest::Response::from(response)
}

/// Issues a push challenge for the device's enrollment and queues it, as the flow does.
async fn push(
    server: &TestServer,
    device: &Device,
    uv: UserVerification,
    number: bool,
) -> (String, Option<u32>) {
    let state = &server.state;
    let mut tx = state.store().begin().await.unwrap();
    let spec = ChallengeSpec {
        kind: ChallengeKind::Push,
        audience: ChallengeAudience::Enrollment(EnrollmentId::parse(&device.enrollment_id).unwrap()),
        user_verification: uv,
        user_presence: false,
        number_challenge: number,
        flow_id: None,
        sub: None,
        app: Some(("vault".into(), "Vault".into())),
        client_ip: Some("127.0.0.1".into()),
    };
    let issued = challenges::issue(state, &mut tx, &spec).await.unwrap();
    challenges::queue_push(&mut tx, &device.enrollment_id, &issued)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    state.verify().wake(&device.enrollment_id);
    (issued.request, issued.expected_number)
}

async fn error_code(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().unwrap_or_default().to_owned())
}

async fn log_types(server: &TestServer) -> Vec<String> {
    let filter = gatehouse_store::LogFilter {
        type_prefix: Some("device".to_owned()),
        ..Default::default()
    };
    let page = server
        .state
        .store()
        .log()
        .query(&filter, &gatehouse_store::PageRequest::first(200))
        .await
        .unwrap();
    page.items.iter().map(|e| e.event_type.to_string()).collect()
}

#[tokio::test]
async fn the_builtin_client_exists_in_every_database() {
    let server = TestServer::start(crate::support::Options {
        demo: false,
        ..Default::default()
    })
    .await;
    let app = server
        .state
        .store()
        .apps()
        .by_client_id(wire::VERIFY_CLIENT_ID)
        .await
        .unwrap()
        .expect("the built-in client gatehouse-verify");
    assert_eq!(app.redirect_uris, vec![wire::VERIFY_REDIRECT_URI.to_owned()]);
    let rule = server
        .state
        .store()
        .access_rules()
        .by_name(gatehouse_server::verify::ACCESS_RULE_NAME)
        .await
        .unwrap()
        .expect("its access rule");
    assert_eq!(rule.body["scopes"], json!(["openid", "device.enroll"]));
    server.stop().await;
}

#[tokio::test]
async fn registration_creates_the_device_and_the_enrollment_and_refuses_replays() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, Some(wire::UserVerificationLevel::Biometric));
    let token = enroll_token(&server, "alice").await;
    let body = device.registration(&server, &token);
    let post = |token: String, body: Value| {
        let client = server.client();
        let url = server.url(paths::ENROLLMENTS);
        async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // No token, a token of the wrong type: 401 invalid_token.
    let res = server
        .client()
        .post(server.url(paths::ENROLLMENTS))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (401, "invalid_token".to_owned()));
    // A proof bound to another token: 401 invalid_device_proof.
    let other = enroll_token(&server, "alice").await;
    assert_eq!(
        error_code(post(other, body.clone()).await).await,
        (401, "invalid_device_proof".to_owned())
    );
    let res = post(token.clone(), body.clone()).await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["user"]["login"], "alice");
    assert_eq!(v["status"], "active");
    assert_eq!(v["device_status"], "active");
    assert_eq!(v["user_verification"], "biometric");
    assert_eq!(v["issuer"], server.base);
    assert!(
        v["totp"]["secret"].as_str().unwrap().len() >= 32,
        "160 bits of seed"
    );
    device.enrollment_id = v["enrollment_id"].as_str().unwrap().to_owned();
    // The same token (and proof) again: the token is accepted once.
    assert_eq!(
        error_code(post(token, body).await).await,
        (401, "invalid_token".to_owned())
    );
    // The device's own view.
    let res = device
        .device_request(&server, Method::GET, paths::ENROLLMENT)
        .await;
    assert_eq!(res.status(), 200);
    let state: Value = res.json().await.unwrap();
    assert_eq!(state["status"], "active");
    assert_eq!(state["user"]["login"], "alice");
    // The admin registry shows it with its facts.
    let res = server
        .admin(Method::GET, "/api/v1/devices?user=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    let devices = list["items"].as_array().unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0]["platform"], "linux");
    assert_eq!(devices[0]["managed"], true);
    assert_eq!(devices[0]["user_verification"], "biometric");
    assert!(
        log_types(&server)
            .await
            .contains(&"device.enrollment.create".to_owned())
    );
    // A biometric key from a device that says it cannot do biometrics is refused.
    let mut liar = Device::new(false, Some(wire::UserVerificationLevel::Biometric));
    let res = liar.register(&server, "alice").await;
    assert_eq!(error_code(res).await, (400, "invalid_registration".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn a_push_is_delivered_by_long_poll_and_answered_once() {
    a_push_is_delivered_by_long_poll_and_answered_once_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn a_push_is_delivered_by_long_poll_and_answered_once_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        a_push_is_delivered_by_long_poll_and_answered_once_on(Dialect::Postgres).await;
    }
}

async fn a_push_is_delivered_by_long_poll_and_answered_once_on(dialect: Dialect) {
    let server = TestServer::start(crate::support::Options {
        dialect,
        ..Default::default()
    })
    .await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    // Nothing queued: 204 after the wait.
    let res = device
        .device_request(&server, Method::GET, &format!("{}?wait=1", paths::PUSHES))
        .await;
    assert_eq!(res.status(), 204);
    // A waiting long-poll is woken by a push.
    let poll = {
        let proof = device.request_proof(&server, "GET", paths::PUSHES);
        let req = server
            .client()
            .get(server.url(&format!("{}?wait=20", paths::PUSHES)))
            .header("authorization", format!("Device {proof}"));
        tokio::spawn(async move { req.send().await.unwrap() })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let (request, number) = push(&server, &device, UserVerification::None, true).await;
    let res = poll.await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5), "woken, not timed out");
    let delivered: Value = res.json().await.unwrap();
    assert_eq!(delivered["request"], request.as_str());
    let number = number.expect("number matching");
    assert!((10..=99).contains(&number));
    // A replayed request proof is refused.
    let proof = device.request_proof(&server, "GET", paths::ENROLLMENT);
    for expected in [200, 401] {
        let res = server
            .client()
            .get(server.url(paths::ENROLLMENT))
            .header("authorization", format!("Device {proof}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected);
    }
    // Signed for another origin (a relaying phishing page): refused, and the challenge is used up.
    let res = device
        .answer(
            &server,
            &request,
            wire::AnswerResult::Approve,
            Some("https://evil.example"),
            Some(number),
        )
        .await;
    assert_eq!(error_code(res).await, (403, "origin_mismatch".to_owned()));
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, Some(number))
        .await;
    assert_eq!(
        error_code(res).await,
        (409, "challenge_already_answered".to_owned())
    );
    // A stranger's answer (another enrollment) does not burn the next push.
    let (request, number) = push(&server, &device, UserVerification::None, true).await;
    let number = number.unwrap();
    let mut stranger = Device::new(true, None);
    assert_eq!(stranger.register(&server, "bob").await.status(), 201);
    let res = stranger
        .answer(&server, &request, wire::AnswerResult::Approve, None, Some(number))
        .await;
    assert_eq!(error_code(res).await, (403, "wrong_enrollment".to_owned()));
    // A wrong number uses the push up.
    let res = device
        .answer(
            &server,
            &request,
            wire::AnswerResult::Approve,
            None,
            Some(if number == 99 { 10 } else { number + 1 }),
        )
        .await;
    assert_eq!(error_code(res).await, (403, "number_mismatch".to_owned()));
    let (request, number) = push(&server, &device, UserVerification::None, true).await;
    let number = number.unwrap();
    // The right answer is accepted, once.
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, Some(number))
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, Some(number))
        .await;
    assert_eq!(
        error_code(res).await,
        (409, "challenge_already_answered".to_owned())
    );
    assert!(
        log_types(&server)
            .await
            .contains(&"device.challenge.answer".to_owned())
    );
    server.stop().await;
}

/// Adds a session for alice with a verification record (the sessions a flow would create).
async fn session_with(server: &TestServer, device: Option<&Device>) -> String {
    let state = &server.state;
    let user = gatehouse_core::model::UserId::parse(&user_id(server, "alice").await).unwrap();
    let now = state.now();
    let session = Session {
        id: gatehouse_store::new_id(),
        token_digest: random::token::<16>(),
        user_id: user,
        device_id: device.map(|d| gatehouse_core::model::DeviceId::parse(&d.device_id).unwrap()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + jiff::SignedDuration::from_hours(8),
        max_idle: Duration::from_secs(3600),
        keep_signed_in: false,
        client_ip: None,
        user_agent: None,
        ended_at: None,
        end_reason: None,
    };
    let (authenticator, method) = if device.is_some() {
        (
            gatehouse_policy::AuthenticatorKey::Device,
            gatehouse_policy::Method::Push,
        )
    } else {
        (
            gatehouse_policy::AuthenticatorKey::Password,
            gatehouse_policy::Method::Password,
        )
    };
    let record = VerificationRecord {
        id: gatehouse_store::new_id(),
        session_id: session.id,
        flow_id: None,
        authenticator,
        method,
        enrollment_id: None,
        device_id: device.map(|d| gatehouse_core::model::DeviceId::parse(&d.device_id).unwrap()),
        verified_at: now,
        proof: gatehouse_policy::Proof::default(),
    };
    let mut tx = state.store().begin().await.unwrap();
    tx.sessions().insert(&session).await.unwrap();
    tx.sessions().add_record(&record).await.unwrap();
    tx.commit().await.unwrap();
    session.id.to_string()
}

async fn lifecycle(server: &TestServer, device: &Device, action: &str) -> reqwest::Response {
    server
        .admin(
            Method::POST,
            &format!("/api/v1/devices/{}/lifecycle/{action}", device.device_id),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deactivation_ends_verify_sessions_only_and_makes_the_device_unusable() {
    deactivation_ends_verify_sessions_only_and_makes_the_device_unusable_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn deactivation_ends_verify_sessions_only_and_makes_the_device_unusable_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        deactivation_ends_verify_sessions_only_and_makes_the_device_unusable_on(Dialect::Postgres).await;
    }
}

async fn deactivation_ends_verify_sessions_only_and_makes_the_device_unusable_on(dialect: Dialect) {
    let server = TestServer::start(crate::support::Options {
        dialect,
        ..Default::default()
    })
    .await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let verify_session = session_with(&server, Some(&device)).await;
    let password_session = session_with(&server, None).await;
    let (request, _) = push(&server, &device, UserVerification::None, false).await;
    let res = lifecycle(&server, &device, "deactivate").await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "deactivated");
    assert_eq!(v["enrollments"][0]["status"], "inactive");
    let session = |id: String| {
        let store = server.state.store().clone();
        async move {
            let id = gatehouse_core::model::SessionId::parse(&id).unwrap();
            store.sessions().get(id).await.unwrap().unwrap()
        }
    };
    let ended = session(verify_session).await;
    assert_eq!(ended.end_reason, Some(EndReason::DeviceDeactivated));
    assert!(
        session(password_session).await.ended_at.is_none(),
        "password session untouched"
    );
    // The pending push was cancelled; pushes and answers are refused; the device can read its state.
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(error_code(res).await.0, 403);
    let res = device
        .device_request(&server, Method::GET, &format!("{}?wait=0", paths::PUSHES))
        .await;
    assert_eq!(error_code(res).await, (403, "device_deactivated".to_owned()));
    let res = device
        .device_request(&server, Method::GET, paths::ENROLLMENT)
        .await;
    let state: Value = res.json().await.unwrap();
    assert_eq!(state["device_status"], "deactivated");
    assert_eq!(state["status"], "inactive");
    // No new enrollment and no unenroll while deactivated.
    let mut again = Device::new(true, None);
    again.installation_id = device.installation_id.clone();
    assert_eq!(
        error_code(again.register(&server, "alice").await).await,
        (403, "device_deactivated".to_owned())
    );
    let res = device
        .device_request(&server, Method::DELETE, paths::ENROLLMENT)
        .await;
    assert_eq!(error_code(res).await, (403, "device_deactivated".to_owned()));
    // Reactivation: the old enrollment stays inactive; re-enrolling lands on the same device.
    assert_eq!(lifecycle(&server, &device, "activate").await.status(), 200);
    let res = device
        .device_request(&server, Method::GET, &format!("{}?wait=0", paths::PUSHES))
        .await;
    assert_eq!(error_code(res).await, (403, "enrollment_inactive".to_owned()));
    let res = again.register(&server, "alice").await;
    assert_eq!(res.status(), 201);
    assert_eq!(again.device_id, device.device_id, "the same device record");
    let types = log_types(&server).await;
    for t in ["device.lifecycle.deactivate", "device.lifecycle.activate"] {
        assert!(types.contains(&t.to_owned()), "{t} logged");
    }
    server.stop().await;
}

#[tokio::test]
async fn suspension_and_deletion_follow_the_lifecycle_rules() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    // Delete of an active device: 409.
    let res = server
        .admin(Method::DELETE, &format!("/api/v1/devices/{}", device.device_id))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, (409, "device_not_deactivated".to_owned()));
    // Suspend: pushes refused, enrollment kept; unsuspend: usable again.
    assert_eq!(lifecycle(&server, &device, "suspend").await.status(), 200);
    let res = device
        .device_request(&server, Method::GET, &format!("{}?wait=0", paths::PUSHES))
        .await;
    assert_eq!(error_code(res).await, (403, "device_suspended".to_owned()));
    let res = lifecycle(&server, &device, "activate").await;
    assert_eq!(
        error_code(res).await,
        (409, "invalid_lifecycle_transition".to_owned())
    );
    assert_eq!(lifecycle(&server, &device, "unsuspend").await.status(), 200);
    let res = device
        .device_request(&server, Method::GET, &format!("{}?wait=0", paths::PUSHES))
        .await;
    assert_eq!(res.status(), 204);
    // Deactivate, then delete: the device is gone for the admin and for the device.
    assert_eq!(lifecycle(&server, &device, "deactivate").await.status(), 200);
    let res = server
        .admin(Method::DELETE, &format!("/api/v1/devices/{}", device.device_id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = server
        .admin(Method::GET, &format!("/api/v1/devices/{}", device.device_id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = device
        .device_request(&server, Method::GET, paths::ENROLLMENT)
        .await;
    assert_eq!(error_code(res).await, (410, "device_deleted".to_owned()));
    // Unknown actions and missing admin tokens are clear 4xx.
    assert_eq!(lifecycle(&server, &device, "explode").await.status(), 400);
    let res = server
        .client()
        .get(server.url("/api/v1/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let types = log_types(&server).await;
    for t in [
        "device.lifecycle.suspend",
        "device.lifecycle.unsuspend",
        "device.lifecycle.delete",
    ] {
        assert!(types.contains(&t.to_owned()), "{t} logged");
    }
    server.stop().await;
}

/// Starts a sign-in to the demo `vault` app (DESIGN 12) through `/oauth2/authorize`.
async fn start_vault_with(browser: &crate::flows::Browser, verifier: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(gatehouse_crypto::digest::sha256(verifier.as_bytes()));
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id=vault&redirect_uri=http%3A%2F%2F127.0.0.1%3A9004%2Fcallback&scope=openid&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256",
        browser.base
    );
    let res = browser.client.get(url).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    location.rsplit('/').next().unwrap().to_owned()
}

/// The pending push of a device, read through its long-poll.
async fn next_push(server: &TestServer, device: &Device) -> String {
    let res = device
        .device_request(server, Method::GET, &format!("{}?wait=5", paths::PUSHES))
        .await;
    assert_eq!(res.status(), 200, "a push was queued");
    let v: Value = res.json().await.unwrap();
    v["request"].as_str().unwrap().to_owned()
}

impl Device {
    /// Answers an `enroll_user_verification` challenge with a new biometric key (after the local
    /// check, which the test provider passes), as `gatehouse-verify enroll-biometrics` does.
    async fn register_biometric_key(&mut self, server: &TestServer, request: &str) -> reqwest::Response {
        let jwks = gatehouse_server::verify::keys(&server.state)
            .await
            .unwrap()
            .jwks()
            .clone();
        let verified =
            gatehouse_verify::protocol::verify_challenge(request, &jwks, &server.base, now(server)).unwrap();
        let claims = verified.claims.clone();
        assert_eq!(claims.kind, wire::ChallengeKind::EnrollUserVerification);
        let binding = binding_of(&claims).unwrap();
        let new_key = self.keys.generate().unwrap();
        let core = DeviceAnswer {
            challenge_id: binding.id.clone(),
            enrollment_id: EnrollmentId::parse(&self.enrollment_id).unwrap(),
            result: AnswerResult::RegisterUserVerificationKey,
            origin: Origin::parse(&claims.origin).unwrap(),
            user_verification: UserVerification::None,
            user_presence: true,
            number: None,
            biometric_capable: self.biometric_capable,
            new_key: Some(gatehouse_core::device::NewUserVerificationKey {
                thumbprint: gatehouse_core::device::KeyThumbprint::parse(&new_key.public.thumbprint())
                    .unwrap(),
                level: UserVerification::Biometric,
            }),
        };
        let message = core.signed_message(&binding);
        let pop_sig = self.keys.sign(&self.pop.key_ref, message.as_bytes()).unwrap();
        let new_sig = self.keys.sign(&new_key.key_ref, message.as_bytes()).unwrap();
        let body = wire::ChallengeAnswer {
            challenge_id: claims.jti.clone(),
            enrollment_id: self.enrollment_id.clone(),
            result: wire::AnswerResult::RegisterUserVerificationKey,
            origin: claims.origin.clone(),
            user_verification: wire::UserVerificationLevel::None,
            user_presence: true,
            number: None,
            biometric_capable: self.biometric_capable,
            new_key: Some(user_verification_key(
                &new_key.public,
                wire::KeyStorage::Software,
                wire::UserVerificationLevel::Biometric,
            )),
            signatures: wire::AnswerSignatures {
                proof_of_possession: URL_SAFE_NO_PAD.encode(pop_sig),
                user_verification: None,
                new_key: Some(URL_SAFE_NO_PAD.encode(new_sig)),
            },
        };
        let res = server
            .client()
            .post(server.url(&paths::answer(&claims.jti)))
            .json(&body)
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            self.uv = Some((new_key, wire::UserVerificationLevel::Biometric));
        }
        res
    }
}

/// Signs alice in to `vault` up to the device step (identify, password).
async fn vault_until_device_step(server: &TestServer) -> (crate::flows::Browser, String, Value) {
    let browser = crate::flows::Browser::new(server);
    let flow = start_vault_with(&browser, VERIFIER).await;
    browser.post(&flow, "identify", json!({"login": "alice"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    (browser, flow, state)
}

const VERIFIER: &str = "a-test-pkce-verifier-of-enough-length-0123456789";

/// Redeems the code of a successful vault sign-in; returns the ID token's claims.
async fn id_token_claims(server: &TestServer, state: &Value) -> Value {
    let redirect = url::Url::parse(state["redirect"].as_str().unwrap()).unwrap();
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let res = server
        .client()
        .post(server.url("/oauth2/token"))
        .basic_auth("vault", Some("demo-vault-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9004/callback"),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: Value = res.json().await.unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let payload = id_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn assert_signed_in_to_vault(state: &Value) {
    assert_eq!(state["status"], "success", "{state:#}");
    let redirect = state["redirect"].as_str().unwrap();
    assert!(
        redirect.starts_with("http://127.0.0.1:9004/callback?code="),
        "{redirect}"
    );
}

#[tokio::test]
async fn a_biometric_push_signs_alice_in_to_vault() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, Some(wire::UserVerificationLevel::Biometric));
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (browser, flow, state) = vault_until_device_step(&server).await;
    let poll = crate::flows::remediation(&state, "poll").expect("a push is pending");
    assert_eq!(poll["authenticator"]["method"], "push");
    assert!(
        poll.get("number").is_none(),
        "no number matching unless a rule asks: {poll:#}"
    );
    let request = next_push(&server, &device).await;
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    server.stop().await;
}

#[tokio::test]
async fn a_denied_push_says_so_and_offers_the_options_again() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, Some(wire::UserVerificationLevel::Biometric));
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (browser, flow, _) = vault_until_device_step(&server).await;
    let request = next_push(&server, &device).await;
    let res = device
        .answer(&server, &request, wire::AnswerResult::Deny, None, None)
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_eq!(state["status"], "in_progress");
    assert_eq!(state["messages"][0]["code"], "push_denied");
    assert_eq!(
        state["messages"][0]["text"],
        "You denied the sign-in on your device."
    );
    assert!(
        crate::flows::remediation(&state, "select-authenticator").is_some(),
        "{state:#}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_seed_journey_adds_a_biometric_key_inline_and_signs_in_within_one_flow() {
    the_seed_journey_adds_a_biometric_key_inline_and_signs_in_within_one_flow_on(Dialect::Sqlite).await;
}

#[tokio::test]
async fn the_seed_journey_adds_a_biometric_key_inline_and_signs_in_within_one_flow_on_postgres() {
    if std::env::var("GATEHOUSE_TEST_POSTGRES_URL").is_ok() {
        the_seed_journey_adds_a_biometric_key_inline_and_signs_in_within_one_flow_on(Dialect::Postgres).await;
    }
}

async fn the_seed_journey_adds_a_biometric_key_inline_and_signs_in_within_one_flow_on(dialect: Dialect) {
    let server = TestServer::start(crate::support::Options {
        dialect,
        ..Default::default()
    })
    .await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    // 1. The rule wants biometrics; the registry knows the device has no biometric key but can
    //    make one: the flow remediates inline right after the password.
    let (browser, flow, state) = vault_until_device_step(&server).await;
    assert_eq!(state["flow_id"], flow.as_str());
    let remediation = crate::flows::remediation(&state, "enroll-user-verification")
        .unwrap_or_else(|| panic!("enroll-user-verification offered: {state:#}"));
    assert_eq!(remediation["user_verification"], "biometric");
    assert_eq!(remediation["challenge"]["ports"], json!([8769]));
    // 2. The same challenge reaches the device by push; it registers a biometric key.
    let request = next_push(&server, &device).await;
    assert_eq!(remediation["challenge"]["request"], request.as_str());
    let res = device.register_biometric_key(&server, &request).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    // At most once per flow: a second key for the same challenge is refused.
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    let poll = crate::flows::remediation(&state, "poll").unwrap_or_else(|| panic!("{state:#}"));
    assert_eq!(poll["authenticator"]["method"], "push");
    // 3. A new push, satisfied with the new biometric key.
    let request = next_push(&server, &device).await;
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    assert_eq!(state["flow_id"], flow.as_str(), "one flow id");
    // The ID token's `amr` reflects the device key unlocked with biometrics (two factor types).
    let claims = id_token_claims(&server, &state).await;
    let amr: Vec<&str> = claims["amr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(amr, vec!["swk", "user", "mfa"]);
    // The user was told, and the system log shows every step.
    let outbox = std::fs::read_dir(server.outbox.path()).unwrap().count();
    assert!(outbox >= 1, "the user is notified of the new key");
    let types = log_types(&server).await;
    for t in ["device.challenge.answer", "device.user_verification_key.add"] {
        assert!(types.contains(&t.to_owned()), "{t} logged");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_device_that_cannot_do_biometrics_gets_the_explanatory_denial() {
    let server = TestServer::demo().await;
    let mut device = Device::new(false, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (_browser, _flow, state) = vault_until_device_step(&server).await;
    assert_eq!(state["status"], "denied", "{state:#}");
    let texts: Vec<&str> = state["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(
        texts.contains(&gatehouse_server::flow::device::BIOMETRIC_UNAVAILABLE),
        "{state:#}"
    );
    server.stop().await;
}

#[tokio::test]
async fn fastpass_through_the_flow_signs_in_with_the_challenge_of_the_state() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, Some(wire::UserVerificationLevel::Biometric));
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (browser, flow, _) = vault_until_device_step(&server).await;
    let (_, state) = browser
        .post(
            &flow,
            "select-authenticator",
            json!({"authenticator": "device", "method": "fastpass"}),
        )
        .await;
    let challenge =
        crate::flows::remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state:#}"));
    assert_eq!(challenge["authenticator"]["method"], "fastpass");
    assert_eq!(challenge["challenge"]["ports"], json!([8769]));
    assert!(crate::flows::remediation(&state, "poll").is_some());
    let request = challenge["challenge"]["request"].as_str().unwrap().to_owned();
    // Signed for another origin (a phishing page relaying it): refused.
    let res = device
        .answer(
            &server,
            &request,
            wire::AnswerResult::Approve,
            Some("https://evil.example"),
            None,
        )
        .await;
    assert_eq!(error_code(res).await, (403, "origin_mismatch".to_owned()));
    // The used-up challenge is replaced by a new one at the next step.
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    let request2 =
        crate::flows::remediation(&state, "challenge-authenticator").unwrap()["challenge"]["request"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_ne!(request, request2, "never reuse a challenge");
    // Replaying the old one is refused.
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(
        error_code(res).await,
        (409, "challenge_already_answered".to_owned())
    );
    let res = device
        .answer(&server, &request2, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    server.stop().await;
}

/// Replaces the demo policies with `yaml` (as `gatehouse policy apply` does).
async fn apply_policies(server: &TestServer, yaml: &str) {
    let document = gatehouse_policy::parse_document(yaml, gatehouse_policy::Format::Yaml).unwrap();
    let mut tx = server.state.store().begin().await.unwrap();
    gatehouse_server::directory::apply(
        &mut tx,
        &document,
        &gatehouse_core::model::Actor::System,
        server.state.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    server.state.policies_changed().await;
}

/// Starts a sign-in to `finance` and passes the password.
async fn finance_after_password(server: &TestServer) -> (crate::flows::Browser, String, Value) {
    let browser = crate::flows::Browser::new(server);
    let url = format!(
        "{}/oauth2/authorize?response_type=code&client_id=finance&redirect_uri={}&scope=openid&state=s1&nonce=n1&code_challenge={}&code_challenge_method=S256",
        server.base,
        "http%3A%2F%2F127.0.0.1%3A9001%2Fcallback",
        URL_SAFE_NO_PAD.encode(gatehouse_crypto::digest::sha256(VERIFIER.as_bytes()))
    );
    let res = browser.client.get(url).send().await.unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    let flow = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    browser.post(&flow, "identify", json!({"login": "alice"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    (browser, flow, state)
}

#[tokio::test]
async fn a_verify_totp_code_is_a_second_factor_until_the_device_is_deactivated() {
    let server = TestServer::demo().await;
    let finance_redirect = server
        .state
        .store()
        .apps()
        .by_client_id("finance")
        .await
        .unwrap()
        .unwrap()
        .redirect_uris[0]
        .clone();
    assert_eq!(finance_redirect, "http://127.0.0.1:9001/callback");
    apply_policies(
        &server,
        &gatehouse_server::demo::POLICIES.replace(
            "{authenticator: device, method: push}",
            "{authenticator: device, method: otp}",
        ),
    )
    .await;
    let mut device = Device::new(false, None);
    let token = enroll_token(&server, "alice").await;
    let body = device.registration(&server, &token);
    let res = server
        .client()
        .post(server.url(paths::ENROLLMENTS))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    device.device_id = registered["device_id"].as_str().unwrap().to_owned();
    let seed = registered["totp"]["secret"].as_str().unwrap().to_owned();
    let (browser, flow, _) = finance_after_password(&server).await;
    let (_, state) = browser
        .post(
            &flow,
            "select-authenticator",
            json!({"authenticator": "device", "method": "otp"}),
        )
        .await;
    let challenge =
        crate::flows::remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state:#}"));
    assert_eq!(challenge["authenticator"]["key"], "device");
    // A wrong code is refused; the device's code is accepted.
    let (_, state) = browser
        .post(&flow, "challenge-authenticator", json!({"code": "000000"}))
        .await;
    assert_eq!(state["messages"][0]["code"], "invalid_code", "{state:#}");
    let code = crate::flows::totp_code(&seed, &server);
    let (_, state) = browser
        .post(&flow, "challenge-authenticator", json!({"code": code}))
        .await;
    assert_eq!(state["status"], "success", "{state:#}");
    // After deactivation the device's factor is not offered any more.
    assert_eq!(lifecycle(&server, &device, "deactivate").await.status(), 200);
    let (_, _, state) = finance_after_password(&server).await;
    let offered = state.to_string();
    assert!(!offered.contains("\"device\""), "no device option: {state:#}");
    server.stop().await;
}

#[tokio::test]
async fn a_biometric_key_is_refused_outside_the_live_flow_that_asked_for_it() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (browser, flow, state) = vault_until_device_step(&server).await;
    assert!(
        crate::flows::remediation(&state, "enroll-user-verification").is_some(),
        "{state:#}"
    );
    let request = next_push(&server, &device).await;
    // The person cancels the sign-in; malware holding the PoP key tries to add its key anyway.
    let (_, state) = browser.post(&flow, "cancel", json!({})).await;
    assert_ne!(state["status"], "in_progress");
    let res = device.register_biometric_key(&server, &request).await;
    assert_eq!(error_code(res).await, (403, "flow_not_live".to_owned()));
    assert!(device.uv.is_none(), "the device keeps no key the server refused");
    server.stop().await;
}

/// The `gatehouse-verify` binary of this workspace (built on demand).
fn verify_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let bin = dir.join("gatehouse-verify");
    if !bin.exists() {
        let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "-p", "gatehouse-verify", "--bin", "gatehouse-verify"])
            .status()
            .unwrap();
        assert!(status.success(), "building gatehouse-verify");
    }
    bin
}

fn verify_command(home: &std::path::Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(verify_binary());
    command
        .arg("--home")
        .arg(home)
        .arg("--uv-provider")
        .arg("test")
        .env("GATEHOUSE_VERIFY_TEST_UV", "pass")
        .kill_on_drop(true);
    command
}

/// Enrolls alice with the real `gatehouse-verify` (biometric key) and starts its daemon on a free
/// loopback port; returns the daemon and its port.
async fn real_verify(server: &TestServer, home: &std::path::Path) -> (tokio::process::Child, u16) {
    real_verify_with(server, home, true).await
}

async fn real_verify_with(
    server: &TestServer,
    home: &std::path::Path,
    fastpass_only: bool,
) -> (tokio::process::Child, u16) {
    use tokio::io::AsyncWriteExt as _;
    let mut enroll = verify_command(home)
        .args([
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
        ])
        .args(["--biometric-capable", "--uv", "biometric"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = enroll.stdin.take().unwrap();
    stdin.write_all(b"correct-horse-battery\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), enroll.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "enroll failed:\n{text}");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut daemon = verify_command(home);
    daemon.args(["daemon", "--listen", &format!("127.0.0.1:{port}")]);
    if fastpass_only {
        daemon.arg("--no-push");
    }
    let daemon = daemon
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let loopback = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(res) = loopback
            .get(format!("http://127.0.0.1:{port}/probe"))
            .send()
            .await
            && res.status() == 200
        {
            return (daemon, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the daemon does not answer its probe");
}

#[tokio::test]
async fn passwordless_fastpass_through_the_daemon_signs_alice_in_to_the_dashboard() {
    let server = TestServer::demo().await;
    let home = tempfile::tempdir().unwrap();
    let (_daemon, port) = real_verify(&server, home.path()).await;
    let browser = crate::flows::Browser::new(&server);
    let flow = browser.start_dashboard().await;
    let (_, state) = browser.state(&flow).await;
    // Before anyone typed a login, the state carries a FastPass challenge beside `identify`.
    assert!(
        crate::flows::remediation(&state, "identify").is_some(),
        "{state:#}"
    );
    let challenge =
        crate::flows::remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state:#}"));
    assert_eq!(challenge["authenticator"]["method"], "fastpass");
    let request = challenge["challenge"]["request"].as_str().unwrap().to_owned();
    let res = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/challenge"))
        .header("origin", server.base.as_str())
        .json(&json!({"request": request}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_eq!(state["status"], "success", "{state:#}");
    assert_eq!(state["user"]["login"], "alice", "{state:#}");
    server.stop().await;
}

#[tokio::test]
async fn the_real_verify_enrolls_and_its_daemon_answers_fastpass() {
    use tokio::io::AsyncWriteExt as _;
    let server = TestServer::demo().await;
    let home = tempfile::tempdir().unwrap();
    // Enrollment through the built-in client: a normal sign-in flow, then registration.
    let mut enroll = verify_command(home.path())
        .args([
            "enroll",
            "--server",
            &server.base,
            "--login",
            "alice",
            "--password-stdin",
        ])
        .args(["--biometric-capable", "--uv", "biometric"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = enroll.stdin.take().unwrap();
    stdin.write_all(b"correct-horse-battery\n").await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), enroll.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "enroll failed:\n{text}");
    let devices = server
        .admin(Method::GET, "/api/v1/devices?user=alice")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        devices["items"][0]["user_verification"], "biometric",
        "{devices:#}"
    );
    // The daemon on a free loopback port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let _daemon = verify_command(home.path())
        .args(["daemon", "--listen", &format!("127.0.0.1:{port}"), "--no-push"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let loopback = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if let Ok(res) = loopback
            .get(format!("http://127.0.0.1:{port}/probe"))
            .send()
            .await
            && res.status() == 200
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the daemon answers its probe");
    // Sign in to vault: password, then FastPass relayed to the daemon.
    let (browser, flow, _) = vault_until_device_step(&server).await;
    let (_, state) = browser
        .post(
            &flow,
            "select-authenticator",
            json!({"authenticator": "device", "method": "fastpass"}),
        )
        .await;
    let challenge =
        crate::flows::remediation(&state, "challenge-authenticator").unwrap_or_else(|| panic!("{state:#}"));
    let request = challenge["challenge"]["request"].as_str().unwrap().to_owned();
    // A phishing page's origin is refused by the daemon itself.
    let res = loopback
        .post(format!("http://127.0.0.1:{port}/challenge"))
        .header("origin", "https://evil.example")
        .json(&json!({"request": request}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = loopback
        .post(format!("http://127.0.0.1:{port}/challenge"))
        .header("origin", server.base.as_str())
        .json(&json!({"request": request}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    // The same challenge replayed through the daemon is refused.
    let res = loopback
        .post(format!("http://127.0.0.1:{port}/challenge"))
        .json(&json!({"request": request}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    server.stop().await;
}

#[tokio::test]
async fn a_policy_that_requires_a_registered_device_denies_a_deactivated_one() {
    let server = TestServer::demo().await;
    let dashboard_rule = "      - name: catch-all
        access: allow
        require:
          assurance: { factors: 1 }
          reauthenticate: no_session
";
    assert!(gatehouse_server::demo::POLICIES.contains(dashboard_rule));
    apply_policies(
        &server,
        &gatehouse_server::demo::POLICIES.replacen(
            dashboard_rule,
            "      - name: registered-devices
        when: { device: { registered: true } }
        access: allow
        require:
          assurance: { factors: 1 }
          reauthenticate: no_session
      - name: catch-all
        access: deny
",
            1,
        ),
    )
    .await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    // Active: the device proves itself with passwordless FastPass, and the rule matches.
    let browser = crate::flows::Browser::new(&server);
    let flow = browser.start_dashboard().await;
    let (_, state) = browser.state(&flow).await;
    let request = crate::flows::remediation(&state, "challenge-authenticator")
        .unwrap_or_else(|| panic!("{state:#}"))["challenge"]["request"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = device
        .answer(&server, &request, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_eq!(state["status"], "success", "{state:#}");
    let redirect = state["redirect"].as_str().unwrap().to_owned();
    let app = |browser: &crate::flows::Browser| {
        let req = browser.client.get(server.url("/app"));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let _ = browser.client.get(server.url(&redirect)).send().await.unwrap();
    assert_eq!(app(&browser).await, 200, "signed in with the device");
    // Deactivated: the session made with the device ends at once; it can no longer prove itself,
    // and whatever else alice has, she is denied.
    assert_eq!(lifecycle(&server, &device, "deactivate").await.status(), 200);
    assert_eq!(app(&browser).await, 303, "the Verify session was ended");
    let browser = crate::flows::Browser::new(&server);
    let flow = browser.start_dashboard().await;
    let (_, state) = browser.state(&flow).await;
    assert!(
        crate::flows::remediation(&state, "challenge-authenticator").is_none(),
        "{state:#}"
    );
    browser.post(&flow, "identify", json!({"login": "alice"})).await;
    let (_, state) = browser
        .post(
            &flow,
            "challenge-authenticator",
            json!({"password": "correct-horse-battery"}),
        )
        .await;
    assert_eq!(state["status"], "denied", "{state:#}");
    server.stop().await;
}

#[tokio::test]
async fn the_real_daemon_receives_the_push_by_long_poll_and_approve_answers_it() {
    let server = TestServer::demo().await;
    let home = tempfile::tempdir().unwrap();
    let (_daemon, _port) = real_verify_with(&server, home.path(), false).await;
    let (browser, flow, state) = vault_until_device_step(&server).await;
    assert!(crate::flows::remediation(&state, "poll").is_some(), "{state:#}");
    // The daemon's long-poll receives the push; `approve` answers it (after the local check).
    let mut approved = false;
    for _ in 0..60 {
        let out = verify_command(home.path()).arg("approve").output().await.unwrap();
        if out.status.success() {
            approved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(approved, "the push reached the device and was approved");
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    server.stop().await;
}

#[tokio::test]
async fn unenroll_removes_the_enrollment_and_keeps_the_device_record() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let res = device
        .device_request(&server, Method::DELETE, paths::ENROLLMENT)
        .await;
    assert_eq!(res.status(), 204);
    // The enrollment (keys, seed) is gone: the device's proofs no longer authenticate.
    let res = device
        .device_request(&server, Method::GET, paths::ENROLLMENT)
        .await;
    assert_eq!(error_code(res).await, (410, "device_deleted".to_owned()));
    let res = server
        .admin(Method::GET, &format!("/api/v1/devices/{}", device.device_id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the device record stays");
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["enrollments"], json!([]));
    assert!(
        log_types(&server)
            .await
            .contains(&"device.enrollment.delete".to_owned())
    );
    // Enrolling again from the same installation lands on the same device.
    let mut again = Device::new(true, None);
    again.installation_id = device.installation_id.clone();
    assert_eq!(again.register(&server, "alice").await.status(), 201);
    assert_eq!(again.device_id, device.device_id);
    server.stop().await;
}

#[tokio::test]
async fn a_failed_local_check_is_reported_and_a_new_push_is_sent() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, Some(wire::UserVerificationLevel::Biometric));
    assert_eq!(device.register(&server, "alice").await.status(), 201);
    let (browser, flow, _) = vault_until_device_step(&server).await;
    let first = next_push(&server, &device).await;
    let res = device
        .answer(
            &server,
            &first,
            wire::AnswerResult::UserVerificationFailed,
            None,
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_eq!(state["status"], "in_progress");
    assert_eq!(
        state["messages"][0]["code"], "user_verification_failed",
        "{state:#}"
    );
    // A new challenge went out; approving it signs in.
    let second = next_push(&server, &device).await;
    assert_ne!(first, second);
    let res = device
        .answer(&server, &second, wire::AnswerResult::Approve, None, None)
        .await;
    assert_eq!(res.status(), 200);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    server.stop().await;
}

/// Runs `gatehouse-verify approve [--number N]` until the daemon has a push pending; returns the
/// last run's success and output.
async fn approve_with(home: &std::path::Path, number: Option<u32>) -> (bool, String) {
    let mut last = (false, String::new());
    for _ in 0..60 {
        let mut command = verify_command(home);
        command.arg("approve");
        if let Some(n) = number {
            command.args(["--number", &n.to_string()]);
        }
        let out = command.output().await.unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return (true, text);
        }
        // No push has reached the daemon yet: wait for it; any other refusal is the answer.
        if !text.contains("no push is waiting") {
            return (false, text);
        }
        last = (false, text);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    last
}

#[tokio::test]
async fn a_rule_demanding_number_matching_needs_the_number_shown_on_the_page() {
    let server = TestServer::demo().await;
    let policy = gatehouse_server::demo::POLICIES.replace(
        "possession: { user_verification: biometric }",
        "possession: { user_verification: biometric, number_matching: true }",
    );
    assert_ne!(
        policy,
        gatehouse_server::demo::POLICIES,
        "the vault rule was changed"
    );
    apply_policies(&server, &policy).await;
    let home = tempfile::tempdir().unwrap();
    let (_daemon, _port) = real_verify_with(&server, home.path(), false).await;
    let (browser, flow, state) = vault_until_device_step(&server).await;
    let poll = crate::flows::remediation(&state, "poll").unwrap_or_else(|| panic!("{state:#}"));
    assert_eq!(poll["authenticator"]["method"], "push");
    let shown = u32::try_from(poll["number"].as_u64().expect("the state shows the number")).unwrap();
    assert!((10..=99).contains(&shown), "{shown}");
    let select = crate::flows::remediation(&state, "select-authenticator");
    if let Some(select) = select {
        let push = select["options"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["authenticator"]["method"] == "push")
            .unwrap();
        assert_eq!(push["constraints"]["number_matching"], true, "{push:#}");
    }

    // Without a number, Verify refuses to approve and the push stays usable.
    let (ok, text) = approve_with(home.path(), None).await;
    assert!(!ok, "approved without a number: {text}");
    assert!(text.contains("--number"), "{text}");
    // A wrong number is refused by the server and uses the push up.
    let wrong = if shown == 10 { 11 } else { 10 };
    let (ok, text) = approve_with(home.path(), Some(wrong)).await;
    assert!(!ok, "approved with a wrong number: {text}");
    assert!(text.contains("`number_mismatch`"), "{text}");
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_eq!(state["status"], "in_progress", "{state:#}");
    let poll = crate::flows::remediation(&state, "poll").unwrap_or_else(|| panic!("{state:#}"));
    let next = u32::try_from(poll["number"].as_u64().expect("a new push with a number")).unwrap();

    // The number shown for the new push signs alice in.
    let mut signed_in = false;
    for _ in 0..40 {
        let (ok, _) = approve_with(home.path(), Some(next)).await;
        if ok {
            signed_in = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(signed_in, "the right number approved the push");
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert_signed_in_to_vault(&state);
    let log = log_types(&server).await;
    assert!(log.iter().any(|t| t == "device.challenge.answer"), "{log:?}");
    server.stop().await;
}

/// The user-verification key and level stored on a device's enrollment.
async fn stored_uv_key(server: &TestServer, device: &Device) -> (Option<Value>, String) {
    let id = gatehouse_core::model::EnrollmentId::parse(&device.enrollment_id).unwrap();
    let enrollment = server.state.store().enrollments().get(id).await.unwrap().unwrap();
    let data = gatehouse_server::verify::device_api::DeviceEnrollmentData::of(&enrollment).unwrap();
    (data.uv_jwk, enrollment.user_verification.as_str().to_owned())
}

/// Asserts that a user-verification key registration was refused with `code`, that nothing was
/// stored, and that the system log holds the refused answer.
async fn assert_key_refused(server: &TestServer, device: &Device, res: reqwest::Response, code: &str) {
    assert_eq!(error_code(res).await, (403, code.to_owned()));
    assert!(device.uv.is_none(), "the device keeps no key the server refused");
    let (jwk, level) = stored_uv_key(server, device).await;
    assert!(jwk.is_none(), "no key stored after `{code}`");
    assert_eq!(level, "none");
    let filter = gatehouse_store::LogFilter {
        type_prefix: Some("device.challenge.answer".to_owned()),
        ..Default::default()
    };
    let page = server
        .state
        .store()
        .log()
        .query(&filter, &gatehouse_store::PageRequest::first(200))
        .await
        .unwrap();
    let logged = page.items.iter().any(|e| {
        e.outcome == gatehouse_core::model::Outcome::Failure
            && e.details["decision"] == code
            && e.details["result"] == "register_user_verification_key"
    });
    assert!(logged, "`{code}` is in the system log");
}

/// Removes the user-verification key from the device's enrollment, as an administrator's reset
/// would: the policy then asks for one again.
async fn strip_uv_key(server: &TestServer, device: &Device) {
    let id = gatehouse_core::model::EnrollmentId::parse(&device.enrollment_id).unwrap();
    let mut enrollment = server.state.store().enrollments().get(id).await.unwrap().unwrap();
    for key in ["uv_jwk", "uv_kid", "uv_storage"] {
        if let Some(map) = enrollment.data.as_object_mut() {
            map.remove(key);
        }
    }
    enrollment.user_verification = UserVerification::None;
    // (The manual clock stands still; a person takes a moment before the next step.)
    server.clock.advance(Duration::from_secs(2));
    let mut tx = server.state.store().begin().await.unwrap();
    tx.enrollments().update(&enrollment).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn user_verification_key_registrations_the_flow_did_not_ask_for_are_refused_and_logged() {
    let server = TestServer::demo().await;
    let mut device = Device::new(true, None);
    assert_eq!(device.register(&server, "alice").await.status(), 201);

    // Outside any flow: an enrollment challenge that belongs to no sign-in.
    let spec = ChallengeSpec {
        kind: ChallengeKind::EnrollUserVerification,
        audience: ChallengeAudience::Enrollment(EnrollmentId::parse(&device.enrollment_id).unwrap()),
        user_verification: UserVerification::Biometric,
        user_presence: false,
        number_challenge: false,
        flow_id: None,
        sub: None,
        app: None,
        client_ip: None,
    };
    let mut tx = server.state.store().begin().await.unwrap();
    let orphan = challenges::issue(&server.state, &mut tx, &spec).await.unwrap();
    tx.commit().await.unwrap();
    let res = device.register_biometric_key(&server, &orphan.request).await;
    assert_key_refused(&server, &device, res, "flow_not_live").await;

    // Before the earlier steps passed: the flow asked, then the person went back to the start.
    let (browser, flow, state) = vault_until_device_step(&server).await;
    assert!(
        crate::flows::remediation(&state, "enroll-user-verification").is_some(),
        "{state:#}"
    );
    let request = next_push(&server, &device).await;
    let (_, state) = browser.post(&flow, "back", json!({})).await;
    assert!(
        crate::flows::remediation(&state, "identify").is_some(),
        "{state:#}"
    );
    let res = device.register_biometric_key(&server, &request).await;
    assert_key_refused(&server, &device, res, "earlier_steps_not_passed").await;

    // Not bound to the flow's challenge: a challenge the flow replaced (it neared expiry) is not
    // the one the flow asks for now.
    let (browser, flow, _) = vault_until_device_step(&server).await;
    let stale = next_push(&server, &device).await;
    server.clock.advance(Duration::from_secs(116));
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    let current = crate::flows::remediation(&state, "enroll-user-verification")
        .unwrap_or_else(|| panic!("{state:#}"))["challenge"]["request"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(current, stale, "the flow issued a new challenge");
    let res = device.register_biometric_key(&server, &stale).await;
    assert_key_refused(&server, &device, res, "user_verification_key_not_requested").await;

    // The flow's own challenge is accepted, once: a second key in the same flow is refused.
    let fresh = next_push(&server, &device).await;
    assert_eq!(fresh, current);
    let res = device.register_biometric_key(&server, &fresh).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    assert!(stored_uv_key(&server, &device).await.0.is_some());
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert!(crate::flows::remediation(&state, "poll").is_some(), "{state:#}");
    // The key is lost (an administrator's reset); the device then claims it has no key, so the
    // flow asks for one again — but this flow already added one.
    strip_uv_key(&server, &device).await;
    device.uv = None;
    let push = next_push(&server, &device).await;
    let res = device
        .answer(
            &server,
            &push,
            wire::AnswerResult::UserVerificationUnavailable,
            None,
            None,
        )
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let (_, state) = browser.post(&flow, "poll", json!({})).await;
    assert!(
        crate::flows::remediation(&state, "enroll-user-verification").is_some(),
        "{state:#}"
    );
    let second = next_push(&server, &device).await;
    let res = device.register_biometric_key(&server, &second).await;
    assert_key_refused(&server, &device, res, "user_verification_key_already_added").await;
    let added = log_types(&server)
        .await
        .iter()
        .filter(|t| *t == "device.user_verification_key.add")
        .count();
    assert_eq!(added, 1, "only the accepted key was logged as added");
    server.stop().await;
}
