//! The loopback daemon in-process (its router called directly), enrolled through the reference
//! server's sign-in: probe, CORS and Private Network Access, FastPass answers sent to the server,
//! refusal of challenges the enrolled server did not sign or that are bound to another origin,
//! replays, and the inline biometric remediation over FastPass.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use gatehouse_api::device::{ChallengeKind, UserVerificationLevel};
use gatehouse_core::device::LifecycleAction;
use gatehouse_crypto::{SigningAlgorithm, SigningKey};
use gatehouse_verify::cli::{EnrollArgs, KeystoreKind, UvChoice};
use gatehouse_verify::commands::{EnrollInputs, enroll_with};
use gatehouse_verify::daemon::{self, Daemon};
use gatehouse_verify::flow::Prompter;
use gatehouse_verify::home::{EnrollmentRecord, Home};
use gatehouse_verify::uv::{TestProvider, TestResult};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::support::refserver::{ChallengeSpec, PASSWORD, RefServer, UvFlow};

/// A prompter for sign-ins that must not ask anything.
pub struct NoQuestions(pub Vec<String>);

impl Prompter for NoQuestions {
    fn ask(&mut self, question: &str) -> Option<String> {
        panic!("unexpected question: {question}");
    }

    fn say(&mut self, text: &str) {
        self.0.push(text.to_owned());
    }
}

pub fn enroll_args(server: &RefServer, biometric_capable: bool) -> EnrollArgs {
    EnrollArgs {
        server: server.base.clone(),
        login: "alice".to_owned(),
        password_stdin: false,
        keystore: KeystoreKind::Software,
        pkcs11_module: None,
        pkcs11_pin_stdin: false,
        pkcs11_token: None,
        biometric_capable,
        managed: false,
        uv: UvChoice::None,
    }
}

/// A device enrolled with the reference server through its sign-in.
pub async fn enrolled(
    server: &RefServer,
    biometric_capable: bool,
) -> (tempfile::TempDir, Home, EnrollmentRecord) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::open(Some(dir.path())).unwrap();
    let inputs = EnrollInputs {
        password: Some(PASSWORD.to_owned()),
        pkcs11_pin: None,
    };
    let record = enroll_with(
        &home,
        Some("test"),
        enroll_args(server, biometric_capable),
        inputs,
        &mut NoQuestions(Vec::new()),
    )
    .await
    .unwrap();
    (dir, home, record)
}

fn daemon_router(home: &Home, uv: TestResult) -> Router {
    let daemon = Daemon::new(home.clone(), None).with_verifier(Arc::new(TestProvider::scripted(uv)));
    daemon::router(Arc::new(daemon))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn call(
    router: &Router,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:8769");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    let response = router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn post_challenge(router: &Router, origin: Option<&str>, jws: &str) -> Reply {
    let headers: Vec<(&str, &str)> = origin.map(|o| vec![("origin", o)]).unwrap_or_default();
    call(
        router,
        "POST",
        "/challenge",
        &headers,
        Some(json!({"request": jws})),
    )
    .await
}

#[tokio::test]
async fn the_probe_answers_the_enrolled_origin_with_cors_and_private_network_access() {
    let server = RefServer::start().await;
    let (_dir, home, record) = enrolled(&server, false).await;
    assert_eq!(record.origin, server.origin());
    let router = daemon_router(&home, TestResult::Pass);

    let plain = call(&router, "GET", "/probe", &[], None).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.body, json!({"status": "ready"}));
    assert!(plain.headers.get("access-control-allow-origin").is_none());

    let origin = server.origin();
    let from_page = call(&router, "GET", "/probe", &[("origin", &origin)], None).await;
    assert_eq!(from_page.status, StatusCode::OK);
    assert_eq!(from_page.headers["access-control-allow-origin"], origin.as_str());
    assert_eq!(from_page.headers["vary"], "Origin");

    let preflight = call(
        &router,
        "OPTIONS",
        "/challenge",
        &[
            ("origin", &origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
            ("access-control-request-private-network", "true"),
        ],
        None,
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers["access-control-allow-origin"], origin.as_str());
    assert_eq!(preflight.headers["access-control-allow-private-network"], "true");
    assert!(
        preflight.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        preflight.headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("content-type")
    );

    // Only the enrolled server's origin: another site is refused and gets no CORS headers.
    for (method, path) in [("GET", "/probe"), ("OPTIONS", "/challenge")] {
        let evil = call(
            &router,
            method,
            path,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "POST"),
            ],
            None,
        )
        .await;
        assert_eq!(evil.status, StatusCode::FORBIDDEN);
        assert_eq!(evil.body["error"], "origin_not_allowed");
        assert!(evil.headers.get("access-control-allow-origin").is_none());
        assert!(evil.headers.get("access-control-allow-private-network").is_none());
        assert_eq!(evil.headers["vary"], "Origin", "refusals vary by origin too");
        assert_eq!(evil.headers["cache-control"], "no-store");
    }
    // A look-alike origin on another port is another origin.
    let other_port = origin.replace("localhost:", "localhost:1");
    let near = call(&router, "GET", "/probe", &[("origin", &other_port)], None).await;
    assert_eq!(near.status, StatusCode::FORBIDDEN);

    // DNS rebinding: a request addressed to another host name is refused.
    let request = Request::builder()
        .uri("/probe")
        .header("host", "attacker.example:8769")
        .body(Body::empty())
        .unwrap();
    let rebinding = router.clone().oneshot(request).await.unwrap();
    assert_eq!(rebinding.status(), StatusCode::FORBIDDEN);

    // Not enrolled: the probe says so (503, try the next port).
    let empty = tempfile::tempdir().unwrap();
    let unenrolled = daemon_router(&Home::open(Some(empty.path())).unwrap(), TestResult::Pass);
    let probe = call(&unenrolled, "GET", "/probe", &[], None).await;
    assert_eq!(probe.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(probe.body["error"], "not_enrolled");
}

#[tokio::test]
async fn a_fastpass_challenge_is_answered_to_the_server_once() {
    let server = RefServer::start().await;
    let (_dir, home, _record) = enrolled(&server, false).await;
    let router = daemon_router(&home, TestResult::Pass);
    let origin = server.origin();

    let (jws, id) = server.challenge(&ChallengeSpec::fastpass());
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body, json!({"status": "answered", "result": "approve"}));
    assert_eq!(reply.headers["access-control-allow-origin"], origin.as_str());
    let decided = server.wait_answer(&id).await;
    assert_eq!(decided.decision, Ok("verified:none".to_owned()));

    // Replayed to the daemon: refused locally; the server would refuse it too.
    let replay = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(replay.status, StatusCode::CONFLICT);
    assert_eq!(replay.body["error"], "challenge_already_answered");
    assert_eq!(server.answers().len(), 1);

    // A local client without `Origin` (curl, a test) is answered for the challenge's own origin.
    let (jws, id) = server.challenge(&ChallengeSpec::fastpass());
    let reply = post_challenge(&router, None, &jws).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("verified:none".to_owned())
    );
}

#[tokio::test]
async fn challenges_the_enrolled_server_did_not_sign_or_bound_elsewhere_are_refused() {
    let server = RefServer::start().await;
    let (_dir, home, record) = enrolled(&server, false).await;
    let router = daemon_router(&home, TestResult::Pass);
    let origin = server.origin();

    // Signed by a key that is not in the server's JWKS (an attacker's server).
    let claims = server.claims(&ChallengeSpec::fastpass());
    let rogue = SigningKey::generate(SigningAlgorithm::Es256)
        .unwrap()
        .sign_jwt_typed(gatehouse_api::device::jws_type::CHALLENGE, &claims)
        .unwrap();
    let reply = post_challenge(&router, Some(&origin), &rogue).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_challenge");

    // Tampered with: the user-verification level lowered after signing.
    let (jws, _) = server.challenge(&ChallengeSpec::fastpass().uv(UserVerificationLevel::Biometric));
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    let payload = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &parts[1]).unwrap(),
    )
    .unwrap()
    .replace("\"biometric\"", "\"none\"");
    parts[1] = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload);
    let reply = post_challenge(&router, Some(&origin), &parts.join(".")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // Signed by the server but bound to another origin (a phishing site's sign-in).
    let spec = ChallengeSpec {
        origin: Some("https://evil.example".to_owned()),
        ..ChallengeSpec::fastpass()
    };
    let (jws, _) = server.challenge(&spec);
    let reply = post_challenge(&router, None, &jws).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"], "origin_mismatch");

    // A genuine challenge relayed by a page on another origin.
    let (jws, _) = server.challenge(&ChallengeSpec::fastpass());
    let reply = post_challenge(&router, Some("https://evil.example"), &jws).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"], "origin_not_allowed");

    // A challenge for another enrollment, and a push through the loopback.
    let (jws, _) = server.challenge(&ChallengeSpec {
        enrollment: Some("enr_someone_else".to_owned()),
        ..ChallengeSpec::fastpass()
    });
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.body["error"], "wrong_enrollment");
    let (jws, _) = server.challenge(&ChallengeSpec::push(&record.enrollment_id));
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    // Not JSON of the right shape.
    let reply = call(
        &router,
        "POST",
        "/challenge",
        &[("origin", &origin)],
        Some(json!({"nope": 1})),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["error"], "invalid_request");

    assert!(
        server.answers().is_empty(),
        "nothing was signed for the server: {:?}",
        server.answers()
    );
}

#[tokio::test]
async fn the_inline_biometric_remediation_over_fastpass_adds_one_key_per_flow() {
    let server = RefServer::start().await;
    let (_dir, home, record) = enrolled(&server, true).await;
    let router = daemon_router(&home, TestResult::Pass);
    let origin = server.origin();
    let biometric = |kind| ChallengeSpec {
        kind,
        enrollment: Some(record.enrollment_id.clone()),
        flow: Some("flow_vault".to_owned()),
        ..ChallengeSpec::fastpass().uv(UserVerificationLevel::Biometric)
    };

    // 1. The rule wants biometrics; the device has no biometric key: it says so, signed.
    let (jws, id) = server.challenge(&biometric(ChallengeKind::Fastpass));
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(
        reply.body["result"], "user_verification_unavailable",
        "{}",
        reply.body
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationUnavailable { biometric_capable: true }".to_owned())
    );

    // 2. The flow asks for a biometric key: created after the local check, signed by the
    //    proof-of-possession key and by itself, bound to the flow's challenge.
    let (jws, id) = server.challenge(&biometric(ChallengeKind::EnrollUserVerification));
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(
        reply.body["result"], "register_user_verification_key",
        "{}",
        reply.body
    );
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("key_accepted:biometric".to_owned())
    );
    let local = home.enrollment().unwrap();
    let key = local.user_verification.clone().expect("the key is kept");
    assert_eq!(key.level, UserVerificationLevel::Biometric);
    assert_eq!(server.uv_flow("flow_vault").keys_added, 1);

    // 3. Challenged again: now satisfied with the biometric key.
    let (jws, id) = server.challenge(&biometric(ChallengeKind::Fastpass));
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.body["result"], "approve", "{}", reply.body);
    let decided = server.wait_answer(&id).await;
    assert_eq!(decided.decision, Ok("verified:biometric".to_owned()));

    // 4. A second key in the same flow is refused, and the device keeps the first one.
    let (jws, id) = server.challenge(&biometric(ChallengeKind::EnrollUserVerification));
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.body["error"], "user_verification_key_already_added");
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Err("user_verification_key_already_added".to_owned())
    );
    assert_eq!(home.enrollment().unwrap().user_verification, Some(key));

    // 5. Malware with the silent key, outside any flow that asked: refused.
    server.set_uv_flow(
        "flow_other",
        UvFlow {
            live: true,
            earlier_steps_passed: false,
            requested: None,
            keys_added: 0,
        },
    );
    let (jws, id) = server.challenge(&ChallengeSpec {
        flow: Some("flow_other".to_owned()),
        ..biometric(ChallengeKind::EnrollUserVerification)
    });
    server.set_uv_flow(
        "flow_other",
        UvFlow {
            live: true,
            earlier_steps_passed: false,
            requested: Some(id.clone()),
            keys_added: 0,
        },
    );
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.body["error"], "earlier_steps_not_passed");
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Err("earlier_steps_not_passed".to_owned())
    );
}

#[tokio::test]
async fn a_device_without_biometrics_declines_and_a_failed_check_is_reported() {
    let server = RefServer::start().await;
    let (_dir, home, record) = enrolled(&server, false).await;
    let origin = server.origin();
    let router = daemon_router(&home, TestResult::Pass);
    let (jws, id) = server.challenge(&ChallengeSpec {
        kind: ChallengeKind::EnrollUserVerification,
        enrollment: Some(record.enrollment_id.clone()),
        flow: Some("flow_1".to_owned()),
        ..ChallengeSpec::fastpass().uv(UserVerificationLevel::Biometric)
    });
    let reply = post_challenge(&router, Some(&origin), &jws).await;
    assert_eq!(reply.body["result"], "user_verification_unavailable");
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationUnavailable { biometric_capable: false }".to_owned())
    );
    assert!(home.enrollment().unwrap().user_verification.is_none());

    // FastPass asking for a confirmed prompt, and the check fails.
    let failing = daemon_router(&home, TestResult::Fail);
    let (jws, id) = server.challenge(&ChallengeSpec {
        user_presence: true,
        ..ChallengeSpec::fastpass()
    });
    let reply = post_challenge(&failing, Some(&origin), &jws).await;
    assert_eq!(reply.body["result"], "user_verification_failed");
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Ok("UserVerificationFailed".to_owned())
    );
}

#[tokio::test]
async fn a_deactivated_device_is_told_by_the_server() {
    let server = RefServer::start().await;
    let (_dir, home, record) = enrolled(&server, false).await;
    let router = daemon_router(&home, TestResult::Pass);
    server
        .lifecycle(&record.device_id, LifecycleAction::Deactivate)
        .unwrap();
    let (jws, id) = server.challenge(&ChallengeSpec::fastpass());
    let reply = post_challenge(&router, Some(&server.origin()), &jws).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert_eq!(reply.body["error"], "device_deactivated");
    assert_eq!(
        server.wait_answer(&id).await.decision,
        Err("device_deactivated".to_owned())
    );
    // Reactivated, the enrollment stays inactive until the user enrolls again.
    server
        .lifecycle(&record.device_id, LifecycleAction::Activate)
        .unwrap();
    let (jws, _) = server.challenge(&ChallengeSpec::fastpass());
    let reply = post_challenge(&router, Some(&server.origin()), &jws).await;
    assert_eq!(reply.body["error"], "enrollment_inactive");
    assert_eq!(
        server.lifecycle(&record.device_id, LifecycleAction::Delete),
        Err("device_not_deactivated".to_owned())
    );
}
