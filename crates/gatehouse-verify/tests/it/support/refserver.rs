//! A reference implementation of the server side of `docs/verify-protocol.md`, small enough to
//! read: discovery and JWKS, the enrollment sign-in (authorize → flow JSON API → token, for the
//! public client `gatehouse-verify`), device registration, device-proof authentication, the push
//! long-poll and the answer endpoint — every decision taken by `gatehouse_core::device` and every
//! signature checked by `gatehouse_crypto`, as the real server must. Tests drive it through
//! helper methods (issue a challenge, queue a push, change a device's lifecycle, open a flow that
//! asks for a user-verification key) and read what it decided.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{
    self as wire, AnswerReceipt, ChallengeAnswer, ChallengeClaims, ChallengeRequest, DeviceApiError,
    DeviceUser, EnrollmentRequest, EnrollmentResponse, EnrollmentState, RegistrationClaims,
    RequestProofClaims, TotpSeed, jws_type, paths,
};
use gatehouse_core::device::{
    AnswerOutcome, ChallengeAudience, ChallengeBinding, ChallengeId, ChallengeKind, DeviceAnswer,
    DeviceStatus, EnrollmentId, EnrollmentStatus, ExpectedProof, IssuedChallenge, KeyThumbprint,
    LifecycleAction, LifecycleDecision, NewUserVerificationKey, Nonce, Origin, ProofClaims, ProofTimes,
    Standing, UserVerification, UvKeyDecision, UvKeyFlowContext, VerifiedSignatures, check_answer,
    check_proof, check_user_verification_key, transition,
};
use gatehouse_crypto::{KeySet, KeyStatus, P256PublicKey, SigningAlgorithm, SigningKey};
use gatehouse_verify::protocol::{access_token_hash, kind_to_core, result_to_core, uv_to_core, uv_to_wire};
use serde::Deserialize;
use serde_json::{Value, json};

pub const LOGIN: &str = "alice";
pub const USER_ID: &str = "usr_alice";
pub const PASSWORD: &str = "correct-horse-battery";
/// The demo TOTP secret of DESIGN.md section 12, reused as the enrollment's seed.
pub const TOTP_SECRET: &str = "GATEHOUSEDEMOALICETOTPSECRET2345";
const CLIENT_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

pub fn now() -> u64 {
    gatehouse_verify::protocol::unix_now()
}

/// What the server decided on one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerRecord {
    pub challenge_id: String,
    pub result: wire::AnswerResult,
    /// `Ok(outcome)` or `Err(refusal code)`.
    pub decision: Result<String, String>,
    pub user_verification: Option<UserVerification>,
}

#[derive(Debug, Clone)]
struct Flow {
    login: Option<String>,
    stage: Stage,
    client_state: String,
    code_challenge: String,
    message: Option<String>,
    redirect: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Identify,
    Password,
    Totp,
    Done,
}

#[derive(Debug, Clone)]
pub struct Enrollment {
    pub user_id: String,
    pub login: String,
    pub device_id: String,
    pub pop: P256PublicKey,
    pub uv: Option<(P256PublicKey, UserVerification)>,
    pub status: EnrollmentStatus,
    pub facts: wire::DeviceFacts,
    pub pop_storage: wire::KeyStorage,
}

#[derive(Debug, Clone)]
struct Device {
    status: DeviceStatus,
    installation_id: String,
    user_id: String,
}

/// A sign-in flow as far as the user-verification key guards care.
#[derive(Debug, Clone)]
pub struct UvFlow {
    pub live: bool,
    pub earlier_steps_passed: bool,
    pub requested: Option<String>,
    pub keys_added: u32,
}

#[derive(Debug, Clone)]
struct Issued {
    challenge: IssuedChallenge,
    flow: Option<String>,
}

#[derive(Default)]
struct RefState {
    flows: HashMap<String, Flow>,
    codes: HashMap<String, (String, String)>,
    tokens: HashMap<String, String>,
    enrollments: HashMap<String, Enrollment>,
    devices: HashMap<String, Device>,
    challenges: HashMap<String, Issued>,
    pushes: HashMap<String, VecDeque<String>>,
    seen_jti: HashSet<String>,
    answers: Vec<AnswerRecord>,
    uv_flows: HashMap<String, UvFlow>,
    require_totp: bool,
    counter: u64,
}

impl RefState {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }
}

struct Inner {
    issuer: String,
    keys: KeySet,
    state: Mutex<RefState>,
    pushed: tokio::sync::Notify,
}

/// The server, bound on 127.0.0.1:0 with issuer `http://localhost:{port}`.
pub struct RefServer {
    /// The URL to dial (`http://127.0.0.1:{port}`).
    pub base: String,
    /// The issuer (`http://localhost:{port}`): its origin is the sign-in page's.
    pub issuer: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RefServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to issue a challenge.
#[derive(Debug, Clone)]
pub struct ChallengeSpec {
    pub kind: wire::ChallengeKind,
    pub user_verification: wire::UserVerificationLevel,
    pub user_presence: bool,
    pub number: Option<u32>,
    /// The enrollment it is for; `None` = any enrollment (passwordless FastPass).
    pub enrollment: Option<String>,
    /// Another origin to bind (a phishing site relaying the challenge).
    pub origin: Option<String>,
    /// The user-verification flow it belongs to.
    pub flow: Option<String>,
}

impl ChallengeSpec {
    pub fn fastpass() -> Self {
        Self {
            kind: wire::ChallengeKind::Fastpass,
            user_verification: wire::UserVerificationLevel::None,
            user_presence: false,
            number: None,
            enrollment: None,
            origin: None,
            flow: None,
        }
    }

    pub fn push(enrollment: &str) -> Self {
        Self {
            kind: wire::ChallengeKind::Push,
            enrollment: Some(enrollment.to_owned()),
            ..Self::fastpass()
        }
    }

    pub fn uv(mut self, level: wire::UserVerificationLevel) -> Self {
        self.user_verification = level;
        self
    }
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(DeviceApiError {
            error: code.to_owned(),
            message: message.into(),
        }),
    )
        .into_response()
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

impl RefServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://localhost:{port}");
        let key = SigningKey::generate(SigningAlgorithm::Es256).unwrap();
        let inner = Arc::new(Inner {
            issuer: issuer.clone(),
            keys: KeySet::new(vec![(key, KeyStatus::Active)]).unwrap(),
            state: Mutex::new(RefState::default()),
            pushed: tokio::sync::Notify::new(),
        });
        let app = router(inner.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            base: format!("http://127.0.0.1:{port}"),
            issuer,
            inner,
            task,
        }
    }

    /// The origin of the sign-in page.
    pub fn origin(&self) -> String {
        self.issuer.clone()
    }

    /// Makes the sign-in ask for a TOTP code after the password.
    pub fn require_totp(&self) {
        self.inner.state.lock().unwrap().require_totp = true;
    }

    /// Issues a challenge signed with the server's key; returns the JWS and the challenge id.
    pub fn challenge(&self, spec: &ChallengeSpec) -> (String, String) {
        let claims = self.claims(spec);
        let jws = self
            .inner
            .keys
            .sign_typed(SigningAlgorithm::Es256, jws_type::CHALLENGE, &claims)
            .unwrap();
        self.store_challenge(spec, &claims);
        (jws, claims.jti)
    }

    /// The claims a challenge would have (not stored, not signed).
    pub fn claims(&self, spec: &ChallengeSpec) -> ChallengeClaims {
        let mut state = self.inner.state.lock().unwrap();
        let id = state.next_id("ch");
        let now = now();
        let sub = spec
            .enrollment
            .as_ref()
            .and_then(|e| state.enrollments.get(e))
            .map(|e| e.user_id.clone());
        ChallengeClaims {
            iss: self.issuer.clone(),
            aud: wire::CHALLENGE_AUDIENCE.to_owned(),
            iat: now,
            exp: now + 120,
            jti: id,
            nonce: gatehouse_crypto::random::token::<16>(),
            kind: spec.kind,
            origin: spec.origin.clone().unwrap_or_else(|| self.origin()),
            user_verification: spec.user_verification,
            user_presence: spec.user_presence,
            number_challenge: spec.number.is_some(),
            sub,
            enrollment_id: spec.enrollment.clone(),
            app: Some(wire::ChallengeApp {
                client_id: "vault".to_owned(),
                name: "Vault".to_owned(),
            }),
            client_ip: Some("127.0.0.1".to_owned()),
        }
    }

    fn store_challenge(&self, spec: &ChallengeSpec, claims: &ChallengeClaims) {
        let binding = ChallengeBinding {
            id: ChallengeId::parse(&claims.jti).unwrap(),
            kind: kind_to_core(claims.kind),
            nonce: Nonce::parse(&claims.nonce).unwrap(),
            // The server stores the origin of its own sign-in page, whatever it signed.
            origin: Origin::parse(&self.origin()).unwrap(),
            expires_at: claims.exp,
            user_verification: uv_to_core(claims.user_verification),
            user_presence: claims.user_presence,
            number_challenge: claims.number_challenge,
        };
        let audience = match &spec.enrollment {
            Some(e) => ChallengeAudience::Enrollment(EnrollmentId::parse(e).unwrap()),
            None => ChallengeAudience::AnyEnrollment,
        };
        let mut state = self.inner.state.lock().unwrap();
        if let Some(flow) = &spec.flow {
            state.uv_flows.entry(flow.clone()).or_insert(UvFlow {
                live: true,
                earlier_steps_passed: true,
                requested: None,
                keys_added: 0,
            });
            if spec.kind == wire::ChallengeKind::EnrollUserVerification
                && let Some(f) = state.uv_flows.get_mut(flow)
            {
                f.requested = Some(claims.jti.clone());
            }
        }
        state.challenges.insert(
            claims.jti.clone(),
            Issued {
                challenge: IssuedChallenge {
                    binding,
                    audience,
                    expected_number: spec.number,
                    answered: false,
                },
                flow: spec.flow.clone(),
            },
        );
    }

    /// Queues a push JWS for an enrollment's long-poll.
    pub fn queue_push(&self, enrollment: &str, jws: &str) {
        self.inner
            .state
            .lock()
            .unwrap()
            .pushes
            .entry(enrollment.to_owned())
            .or_default()
            .push_back(jws.to_owned());
        self.inner.pushed.notify_waiters();
    }

    pub fn answers(&self) -> Vec<AnswerRecord> {
        self.inner.state.lock().unwrap().answers.clone()
    }

    /// Waits (up to 20 s) for the server's decision on a challenge.
    pub async fn wait_answer(&self, challenge_id: &str) -> AnswerRecord {
        for _ in 0..400 {
            if let Some(a) = self
                .answers()
                .into_iter()
                .find(|a| a.challenge_id == challenge_id)
            {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no answer to challenge {challenge_id}");
    }

    pub fn enrollment(&self, id: &str) -> Enrollment {
        self.inner
            .state
            .lock()
            .unwrap()
            .enrollments
            .get(id)
            .cloned()
            .unwrap()
    }

    pub fn enrollment_count(&self) -> usize {
        self.inner.state.lock().unwrap().enrollments.len()
    }

    pub fn uv_flow(&self, id: &str) -> UvFlow {
        self.inner
            .state
            .lock()
            .unwrap()
            .uv_flows
            .get(id)
            .cloned()
            .unwrap()
    }

    pub fn set_uv_flow(&self, id: &str, flow: UvFlow) {
        self.inner
            .state
            .lock()
            .unwrap()
            .uv_flows
            .insert(id.to_owned(), flow);
    }

    /// Applies an administrator's lifecycle action to a device, with its effects.
    pub fn lifecycle(&self, device_id: &str, action: LifecycleAction) -> Result<(), String> {
        let mut state = self.inner.state.lock().unwrap();
        let status = state
            .devices
            .get(device_id)
            .map(|d| d.status)
            .ok_or("no such device")?;
        let transition = match transition(status, action) {
            LifecycleDecision::Transition(t) => t,
            LifecycleDecision::Refused(r) => return Err(r.code().to_owned()),
        };
        let enrollment_ids: Vec<String> = state
            .enrollments
            .iter()
            .filter(|(_, e)| e.device_id == device_id)
            .map(|(id, _)| id.clone())
            .collect();
        for effect in &transition.effects {
            use gatehouse_core::device::DeviceEffect::*;
            match effect {
                CancelPendingChallenges => {
                    for id in &enrollment_ids {
                        state.pushes.remove(id);
                    }
                }
                DeactivateEnrollments => {
                    for id in &enrollment_ids {
                        if let Some(e) = state.enrollments.get_mut(id) {
                            e.status = EnrollmentStatus::Inactive;
                        }
                    }
                }
                DeleteEnrollments => {
                    for id in &enrollment_ids {
                        state.enrollments.remove(id);
                    }
                }
                DeleteDevice => {
                    state.devices.remove(device_id);
                }
                EndVerifySessions | RevokeCertificates => {}
            }
        }
        if let (Some(to), Some(device)) = (transition.to, state.devices.get_mut(device_id)) {
            device.status = to;
        }
        Ok(())
    }
}

fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(jwks))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", post(token))
        .route("/api/v1/flows/{id}", get(flow_state))
        .route("/api/v1/flows/{id}/{remediation}", post(flow_step))
        .route(paths::ENROLLMENTS, post(register))
        .route(paths::ENROLLMENT, get(enrollment_state).delete(unenroll))
        .route(paths::PUSHES, get(pushes))
        .route("/api/v1/verify/challenges/{id}/answer", post(answer))
        .with_state(inner)
}

async fn discovery(State(inner): State<Arc<Inner>>) -> axum::Json<Value> {
    let i = &inner.issuer;
    axum::Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth2/authorize"),
        "token_endpoint": format!("{i}/oauth2/token"),
        "jwks_uri": format!("{i}/oauth2/jwks"),
    }))
}

async fn jwks(State(inner): State<Arc<Inner>>) -> axum::Json<Value> {
    axum::Json(inner.keys.jwks().to_json())
}

async fn authorize(State(inner): State<Arc<Inner>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != wire::VERIFY_CLIENT_ID || get("redirect_uri") != wire::VERIFY_REDIRECT_URI {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect URI").into_response();
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return (StatusCode::BAD_REQUEST, "PKCE S256 required").into_response();
    }
    if !get("scope").split(' ').any(|s| s == wire::DEVICE_ENROLL_SCOPE) {
        return (StatusCode::BAD_REQUEST, "scope").into_response();
    }
    let mut state = inner.state.lock().unwrap();
    let id = state.next_id("flow");
    state.flows.insert(
        id.clone(),
        Flow {
            login: None,
            stage: Stage::Identify,
            client_state: get("state"),
            code_challenge: get("code_challenge"),
            message: None,
            redirect: None,
        },
    );
    (StatusCode::FOUND, [(header::LOCATION, format!("/signin/{id}"))]).into_response()
}

fn render(id: &str, flow: &Flow) -> Value {
    let messages: Vec<Value> = flow
        .message
        .iter()
        .map(|m| json!({"level": "error", "code": "invalid_credentials", "text": m}))
        .collect();
    let remediation = match flow.stage {
        Stage::Identify => {
            json!([{"name": "identify", "fields": [{"name": "login", "type": "string", "required": true}]}])
        }
        Stage::Password => json!([
            {"name": "challenge-authenticator", "authenticator": {"key": "password", "method": "password"},
             "fields": [{"name": "password", "type": "string", "required": true}]},
            {"name": "select-authenticator", "options": [{"authenticator": {"key": "password", "method": "password"}}]}
        ]),
        Stage::Totp => json!([
            {"name": "challenge-authenticator", "authenticator": {"key": "totp", "method": "otp"},
             "fields": [{"name": "code", "type": "string", "required": true}]}
        ]),
        Stage::Done => json!([]),
    };
    let mut state = json!({
        "flow_id": id,
        "status": if flow.stage == Stage::Done { "success" } else { "in_progress" },
        "app": {"client_id": wire::VERIFY_CLIENT_ID, "name": "Gatehouse Verify"},
        "remediation": remediation,
        "messages": messages,
    });
    if let Some(login) = &flow.login {
        state["user"] = json!({"login": login});
    }
    if let Some(redirect) = &flow.redirect {
        state["redirect"] = json!(redirect);
    }
    state
}

async fn flow_state(State(inner): State<Arc<Inner>>, Path(id): Path<String>) -> Response {
    let state = inner.state.lock().unwrap();
    match state.flows.get(&id) {
        Some(flow) => axum::Json(render(&id, flow)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn flow_step(
    State(inner): State<Arc<Inner>>,
    Path((id, remediation)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut state = inner.state.lock().unwrap();
    let require_totp = state.require_totp;
    let Some(mut flow) = state.flows.get(&id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let field = |n: &str| body.get(n).and_then(Value::as_str).unwrap_or_default().to_owned();
    flow.message = None;
    match (flow.stage, remediation.as_str()) {
        (Stage::Identify, "identify") => {
            flow.login = Some(field("login"));
            flow.stage = Stage::Password;
        }
        (Stage::Password, "select-authenticator") => {}
        (Stage::Password, "challenge-authenticator") => {
            if flow.login.as_deref() == Some(LOGIN) && field("password") == PASSWORD {
                flow.stage = if require_totp { Stage::Totp } else { Stage::Done };
            } else {
                flow.message = Some("That password is not valid.".to_owned());
            }
        }
        (Stage::Totp, "challenge-authenticator") => {
            let totp = gatehouse_crypto::Totp::new(
                &gatehouse_crypto::TotpSecret::from_base32(CLIENT_TOTP_SECRET).unwrap(),
                gatehouse_crypto::TotpParams {
                    algorithm: gatehouse_crypto::TotpAlgorithm::Sha1,
                    digits: gatehouse_crypto::TotpDigits::from_count(6).unwrap(),
                },
            )
            .unwrap();
            if totp.verify(&field("code"), now(), None).is_some() {
                flow.stage = Stage::Done;
            } else {
                flow.message = Some("That code is not valid.".to_owned());
            }
        }
        _ => return (StatusCode::BAD_REQUEST, "unexpected remediation").into_response(),
    }
    if flow.stage == Stage::Done && flow.redirect.is_none() {
        let code = gatehouse_crypto::random::token::<16>();
        state.codes.insert(
            code.clone(),
            (
                flow.code_challenge.clone(),
                flow.login.clone().unwrap_or_default(),
            ),
        );
        flow.redirect = Some(format!(
            "{}?code={code}&state={}&iss={}",
            wire::VERIFY_REDIRECT_URI,
            flow.client_state,
            inner.issuer
        ));
    }
    let rendered = render(&id, &flow);
    state.flows.insert(id, flow);
    axum::Json(rendered).into_response()
}

/// The TOTP code the enrollment sign-in wants when [`RefServer::require_totp`] is on.
pub fn sign_in_totp_code() -> String {
    gatehouse_crypto::Totp::new(
        &gatehouse_crypto::TotpSecret::from_base32(CLIENT_TOTP_SECRET).unwrap(),
        gatehouse_crypto::TotpParams {
            algorithm: gatehouse_crypto::TotpAlgorithm::Sha1,
            digits: gatehouse_crypto::TotpDigits::from_count(6).unwrap(),
        },
    )
    .unwrap()
    .generate(now())
}

async fn token(
    State(inner): State<Arc<Inner>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let mut state = inner.state.lock().unwrap();
    let Some((challenge, login)) = state.codes.remove(&get("code")) else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    if gatehouse_crypto::pkce::s256_challenge(&get("code_verifier")) != challenge
        || get("redirect_uri") != wire::VERIFY_REDIRECT_URI
        || get("client_id") != wire::VERIFY_CLIENT_ID
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    let access_token = gatehouse_crypto::random::token::<32>();
    state.tokens.insert(access_token.clone(), login);
    axum::Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": format!("openid {}", wire::DEVICE_ENROLL_SCOPE),
    }))
    .into_response()
}

fn jws_part(jws: &str, index: usize) -> Option<Value> {
    let part = jws.split('.').nth(index)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

async fn register(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    axum::Json(request): axum::Json<EnrollmentRequest>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let mut state = inner.state.lock().unwrap();
    let Some(login) = state.tokens.remove(&bearer) else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is not valid",
        );
    };
    let invalid = |m: &str| refuse(StatusCode::BAD_REQUEST, "invalid_registration", m);
    let Some(header_jwk) = jws_part(&request.registration, 0).and_then(|h| h.get("jwk").cloned()) else {
        return invalid("no `jwk` in the header");
    };
    let Ok(pop) = P256PublicKey::from_jwk(&header_jwk) else {
        return invalid("bad jwk");
    };
    let Ok(verified) =
        gatehouse_crypto::verify_es256_jws(&request.registration, &pop, Some(jws_type::REGISTRATION))
    else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_device_proof",
            "bad registration signature",
        );
    };
    let Ok(claims) = serde_json::from_slice::<RegistrationClaims>(&verified.payload) else {
        return invalid("bad claims");
    };
    let kid = verified
        .header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kid != pop.thumbprint() || claims.proof_of_possession_key.kid != kid {
        return invalid("kid is not the key's thumbprint");
    }
    let ath = access_token_hash(&bearer);
    let proof = ProofClaims {
        aud: &claims.aud,
        times: ProofTimes {
            iat: claims.iat,
            exp: claims.exp,
        },
        jti_seen: state.seen_jti.contains(&claims.jti),
        htm: None,
        htu: None,
        ath: Some(&claims.ath),
    };
    let expected = ExpectedProof {
        issuer: &inner.issuer,
        method: None,
        url: None,
        access_token_hash: Some(&ath),
    };
    if let Err(refusal) = check_proof(&proof, &expected, now()) {
        return refuse(
            status_of(refusal.http_status()),
            refusal.code(),
            refusal.to_string(),
        );
    }
    state.seen_jti.insert(claims.jti.clone());
    let uv = match (
        &claims.user_verification_key,
        &request.user_verification_signature,
    ) {
        (None, _) => None,
        (Some(key), Some(signature)) => {
            let jwk = serde_json::to_value(&key.jwk).unwrap();
            let Ok(public) = P256PublicKey::from_jwk(&jwk) else {
                return invalid("bad uv key");
            };
            let sig = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
            if gatehouse_crypto::verify_p256_signature(&public, request.registration.as_bytes(), &sig)
                .is_err()
            {
                return refuse(
                    StatusCode::UNAUTHORIZED,
                    "invalid_device_proof",
                    "bad uv signature",
                );
            }
            Some((public, uv_to_core(key.user_verification)))
        }
        (Some(_), None) => return invalid("the user-verification key did not sign"),
    };
    let existing = state
        .devices
        .iter()
        .find(|(_, d)| d.installation_id == claims.device.installation_id && d.user_id == USER_ID)
        .map(|(id, d)| (id.clone(), d.status));
    let device_id = match existing {
        Some((_, status)) if Standing::account_change_refusal(status).is_some() => {
            let refusal = Standing::account_change_refusal(status).unwrap();
            return refuse(
                status_of(refusal.http_status()),
                refusal.code(),
                refusal.to_string(),
            );
        }
        Some((id, _)) => id,
        None => {
            let id = state.next_id("dev");
            state.devices.insert(
                id.clone(),
                Device {
                    status: DeviceStatus::Active,
                    installation_id: claims.device.installation_id.clone(),
                    user_id: USER_ID.to_owned(),
                },
            );
            id
        }
    };
    let enrollment_id = state.next_id("enr");
    let level = uv.as_ref().map_or(UserVerification::None, |(_, l)| *l);
    state.enrollments.insert(
        enrollment_id.clone(),
        Enrollment {
            user_id: USER_ID.to_owned(),
            login: login.clone(),
            device_id: device_id.clone(),
            pop,
            uv,
            status: EnrollmentStatus::Active,
            facts: claims.device.clone(),
            pop_storage: claims.proof_of_possession_key.storage,
        },
    );
    (
        StatusCode::CREATED,
        axum::Json(EnrollmentResponse {
            enrollment_id,
            device_id,
            issuer: inner.issuer.clone(),
            user: DeviceUser {
                id: USER_ID.to_owned(),
                login,
            },
            status: wire::EnrollmentStatus::Active,
            device_status: wire::DeviceStatus::Active,
            user_verification: uv_to_wire(level),
            totp: TotpSeed {
                secret: TOTP_SECRET.to_owned(),
                algorithm: "SHA1".to_owned(),
                digits: 6,
                period: 30,
            },
        }),
    )
        .into_response()
}

/// Checks `Authorization: Device <jws>`; the enrollment id and its standing.
fn device_auth(
    inner: &Inner,
    state: &mut RefState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<(String, Standing), Response> {
    let unauthorized = |m: &str| refuse(StatusCode::UNAUTHORIZED, "invalid_device_proof", m);
    let jws = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Device "))
        .ok_or_else(|| unauthorized("no device proof"))?;
    let iss = jws_part(jws, 1)
        .and_then(|p| p.get("iss").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| unauthorized("no iss"))?;
    let Some(enrollment) = state.enrollments.get(&iss).cloned() else {
        return Err(refuse(
            StatusCode::GONE,
            "device_deleted",
            "this device no longer exists",
        ));
    };
    let verified = gatehouse_crypto::verify_es256_jws(jws, &enrollment.pop, Some(jws_type::REQUEST))
        .map_err(|_| unauthorized("bad signature"))?;
    let claims: RequestProofClaims =
        serde_json::from_slice(&verified.payload).map_err(|_| unauthorized("bad claims"))?;
    let url = format!("{}{path}", inner.issuer);
    let proof = ProofClaims {
        aud: &claims.aud,
        times: ProofTimes {
            iat: claims.iat,
            exp: claims.exp,
        },
        jti_seen: state.seen_jti.contains(&claims.jti),
        htm: Some(&claims.htm),
        htu: Some(&claims.htu),
        ath: None,
    };
    let expected = ExpectedProof {
        issuer: &inner.issuer,
        method: Some(method),
        url: Some(&url),
        access_token_hash: None,
    };
    check_proof(&proof, &expected, now()).map_err(|r| unauthorized(&r.to_string()))?;
    state.seen_jti.insert(claims.jti);
    let device = state
        .devices
        .get(&enrollment.device_id)
        .map(|d| d.status)
        .ok_or_else(|| refuse(StatusCode::GONE, "device_deleted", "this device no longer exists"))?;
    Ok((
        iss,
        Standing {
            device,
            enrollment: enrollment.status,
        },
    ))
}

fn wire_device_status(status: DeviceStatus) -> wire::DeviceStatus {
    match status {
        DeviceStatus::Active => wire::DeviceStatus::Active,
        DeviceStatus::Suspended => wire::DeviceStatus::Suspended,
        DeviceStatus::Deactivated => wire::DeviceStatus::Deactivated,
    }
}

async fn enrollment_state(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let mut state = inner.state.lock().unwrap();
    let (id, standing) = match device_auth(&inner, &mut state, &headers, "GET", paths::ENROLLMENT) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let e = state.enrollments.get(&id).cloned().unwrap();
    axum::Json(EnrollmentState {
        enrollment_id: id,
        device_id: e.device_id,
        user: DeviceUser {
            id: e.user_id,
            login: e.login,
        },
        status: match standing.enrollment {
            EnrollmentStatus::Active => wire::EnrollmentStatus::Active,
            EnrollmentStatus::Inactive => wire::EnrollmentStatus::Inactive,
        },
        device_status: wire_device_status(standing.device),
        user_verification: uv_to_wire(e.uv.map_or(UserVerification::None, |(_, l)| l)),
    })
    .into_response()
}

async fn unenroll(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let mut state = inner.state.lock().unwrap();
    let (id, standing) = match device_auth(&inner, &mut state, &headers, "DELETE", paths::ENROLLMENT) {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(refusal) = Standing::account_change_refusal(standing.device) {
        return refuse(
            status_of(refusal.http_status()),
            refusal.code(),
            refusal.to_string(),
        );
    }
    state.enrollments.remove(&id);
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct Wait {
    wait: Option<u64>,
}

async fn pushes(State(inner): State<Arc<Inner>>, headers: HeaderMap, Query(q): Query<Wait>) -> Response {
    let id = {
        let mut state = inner.state.lock().unwrap();
        let (id, standing) = match device_auth(&inner, &mut state, &headers, "GET", paths::PUSHES) {
            Ok(x) => x,
            Err(r) => return r,
        };
        if let Some(refusal) = standing.authentication_refusal() {
            return refuse(
                status_of(refusal.http_status()),
                refusal.code(),
                refusal.to_string(),
            );
        }
        id
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(q.wait.unwrap_or(25).min(30));
    loop {
        let notified = inner.pushed.notified();
        if let Some(jws) = inner
            .state
            .lock()
            .unwrap()
            .pushes
            .get_mut(&id)
            .and_then(VecDeque::pop_front)
        {
            return axum::Json(ChallengeRequest { request: jws }).into_response();
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
}

async fn answer(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    axum::Json(dto): axum::Json<ChallengeAnswer>,
) -> Response {
    let mut state = inner.state.lock().unwrap();
    let Some(issued) = state.challenges.get(&id).cloned() else {
        return refuse(StatusCode::NOT_FOUND, "challenge_not_found", "no such challenge");
    };
    let Some(enrollment) = state.enrollments.get(&dto.enrollment_id).cloned() else {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            "unknown enrollment",
        );
    };
    let parsed = (|| {
        Some(DeviceAnswer {
            challenge_id: ChallengeId::parse(&dto.challenge_id).ok()?,
            enrollment_id: EnrollmentId::parse(&dto.enrollment_id).ok()?,
            result: result_to_core(dto.result),
            origin: Origin::parse(&dto.origin).ok()?,
            user_verification: uv_to_core(dto.user_verification),
            user_presence: dto.user_presence,
            number: dto.number,
            biometric_capable: dto.biometric_capable,
            new_key: match &dto.new_key {
                Some(k) => Some(NewUserVerificationKey {
                    thumbprint: KeyThumbprint::parse(&k.kid).ok()?,
                    level: uv_to_core(k.user_verification),
                }),
                None => None,
            },
        })
    })();
    let Some(core_answer) = parsed else {
        return refuse(StatusCode::BAD_REQUEST, "invalid_request", "malformed answer");
    };
    let message = core_answer.signed_message(&issued.challenge.binding);
    let verifies = |key: &P256PublicKey, sig: Option<&String>| {
        sig.and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .is_some_and(|s| gatehouse_crypto::verify_p256_signature(key, message.as_bytes(), &s).is_ok())
    };
    let new_key_public = dto
        .new_key
        .as_ref()
        .and_then(|k| P256PublicKey::from_jwk(&serde_json::to_value(&k.jwk).unwrap()).ok())
        .filter(|p| dto.new_key.as_ref().is_some_and(|k| k.kid == p.thumbprint()));
    let signatures = VerifiedSignatures {
        proof_of_possession: verifies(&enrollment.pop, Some(&dto.signatures.proof_of_possession)),
        user_verification: enrollment
            .uv
            .as_ref()
            .filter(|(key, _)| verifies(key, dto.signatures.user_verification.as_ref()))
            .map(|(_, level)| *level),
        new_key: new_key_public
            .as_ref()
            .is_some_and(|key| verifies(key, dto.signatures.new_key.as_ref())),
    };
    let device = state
        .devices
        .get(&enrollment.device_id)
        .map_or(DeviceStatus::Deactivated, |d| d.status);
    let standing = Standing {
        device,
        enrollment: enrollment.status,
    };
    let (decision, consumes): (Result<String, (u16, String, String)>, bool) =
        if issued.challenge.binding.kind == ChallengeKind::EnrollUserVerification {
            let flow = issued.flow.as_ref().and_then(|f| state.uv_flows.get(f)).cloned();
            let requested = flow
                .as_ref()
                .and_then(|f| f.requested.as_ref())
                .and_then(|r| ChallengeId::parse(r).ok());
            let context = UvKeyFlowContext {
                flow_live: flow.as_ref().is_some_and(|f| f.live),
                requested_challenge: requested.as_ref(),
                earlier_steps_passed: flow.as_ref().is_some_and(|f| f.earlier_steps_passed),
                keys_added_in_flow: flow.as_ref().map_or(0, |f| f.keys_added),
            };
            let decision = check_user_verification_key(
                &context,
                &issued.challenge,
                &core_answer,
                &signatures,
                standing,
                now(),
            );
            let consumes = decision.consumes_challenge();
            let verdict = match decision {
                UvKeyDecision::Accept(key) => {
                    if let (Some(public), Some(e)) =
                        (new_key_public, state.enrollments.get_mut(&dto.enrollment_id))
                    {
                        e.uv = Some((public, key.level));
                    }
                    if let Some(f) = issued.flow.as_ref().and_then(|f| state.uv_flows.get_mut(f)) {
                        f.keys_added += 1;
                    }
                    Ok(format!("key_accepted:{}", key.level))
                }
                UvKeyDecision::Declined(outcome) => Ok(format!("{outcome:?}")),
                UvKeyDecision::Refused(r) => Err((r.http_status(), r.code().to_owned(), r.to_string())),
            };
            (verdict, consumes)
        } else {
            let decision = check_answer(&issued.challenge, &core_answer, &signatures, standing, now());
            let consumes = decision.consumes_challenge();
            let verdict = match decision.verdict {
                Ok(AnswerOutcome::Verified {
                    user_verification, ..
                }) => Ok(format!("verified:{user_verification}")),
                Ok(outcome) => Ok(format!("{outcome:?}")),
                Err(r) => Err((r.http_status(), r.code().to_owned(), r.to_string())),
            };
            (verdict, consumes)
        };
    if consumes && let Some(c) = state.challenges.get_mut(&id) {
        c.challenge.answered = true;
    }
    state.answers.push(AnswerRecord {
        challenge_id: id,
        result: dto.result,
        decision: decision.clone().map_err(|(_, code, _)| code),
        user_verification: signatures.user_verification,
    });
    match decision {
        Ok(_) => axum::Json(AnswerReceipt {
            status: "accepted".to_owned(),
            result: dto.result,
        })
        .into_response(),
        Err((status, code, message)) => refuse(status_of(status), &code, message),
    }
}
