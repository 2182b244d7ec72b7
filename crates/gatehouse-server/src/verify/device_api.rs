//! The endpoints Gatehouse Verify calls (protocol 3, 4, 6, 8, 11): registration with a
//! `device.enroll` access token and a PoP-signed registration proof, the device's own status and
//! unenroll, the push long-poll, and the challenge answer — each authenticated as the protocol
//! says and decided by `gatehouse_core::device`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse_api::device::{
    self as wire, AnswerReceipt, ChallengeAnswer, ChallengeRequest, DeviceUser, EnrollmentRequest,
    EnrollmentResponse, EnrollmentState, RegistrationClaims, RequestProofClaims, TotpSeed, jws_type, paths,
};
use gatehouse_core::device::{
    AnswerOutcome, AnswerResult, ChallengeId, ChallengeKind, DeviceAnswer, DeviceStatus, EnrollmentId,
    ExpectedProof, KeyThumbprint, NewUserVerificationKey, Origin, ProofClaims, ProofTimes, Standing,
    UserVerification, UvKeyDecision, UvKeyFlowContext, VerifiedSignatures, check_answer, check_proof,
    check_user_verification_key,
};
use gatehouse_core::model::{
    Actor, AuthenticatorKey, Device, Enrollment, EnrollmentStatus, KeyStorage, Method, Outcome, User, UserId,
    UserStatus, sealing_context,
};
use gatehouse_crypto::{Audience, JwtExpectations, P256PublicKey, SigningAlgorithm, TotpSecret, digest};
use gatehouse_store::{StoredChallenge, Tx, new_id};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{MAX_PUSH_WAIT_SECONDS, PUSH_POLL_INTERVAL, event_type, refusal, uv_from_wire, uv_to_wire};
use crate::audit::Event;
use crate::{ApiError, AppState, ServerError};

/// The device API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::ENROLLMENTS, post(register))
        .route(paths::ENROLLMENT, get(status).delete(unenroll))
        .route(paths::PUSHES, get(pushes))
        .route("/api/v1/verify/challenges/{challenge_id}/answer", post(answer))
}

fn unix(state: &AppState) -> u64 {
    u64::try_from(state.now().as_second()).unwrap_or(0)
}

fn invalid_request(message: impl Into<String>) -> ApiError {
    refusal(400, "invalid_request", message)
}

fn invalid_registration(message: impl Into<String>) -> ApiError {
    refusal(400, "invalid_registration", message)
}

fn invalid_device_proof(message: impl Into<String>) -> ApiError {
    refusal(401, "invalid_device_proof", message)
}

fn device_deleted() -> ApiError {
    refusal(410, "device_deleted", "this device no longer exists")
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| invalid_request(format!("the body is not valid: {e}")))
}

/// The payload of a compact JWS, unverified (to find the key that must verify it).
fn unverified_payload(jws: &str) -> Option<Value> {
    let payload = jws.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

fn unverified_header(jws: &str) -> Option<Value> {
    let header = jws.split('.').next()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()
}

/// What an enrollment of the `device` authenticator keeps in its method data.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct DeviceEnrollmentData {
    pub pop_jwk: Value,
    pub pop_kid: String,
    pub pop_storage: wire::KeyStorage,
    #[serde(default)]
    pub uv_jwk: Option<Value>,
    #[serde(default)]
    pub uv_kid: Option<String>,
    #[serde(default)]
    pub uv_storage: Option<wire::KeyStorage>,
    /// The TOTP seed, sealed with the keyring (associated data: `sealing_context(id)`).
    pub totp_secret_sealed: String,
    pub installation_id: String,
}

impl DeviceEnrollmentData {
    pub fn of(enrollment: &Enrollment) -> Result<Self, ServerError> {
        serde_json::from_value(enrollment.data.clone()).map_err(|e| ServerError::Corrupt {
            what: format!("device enrollment {}", enrollment.id),
            reason: e.to_string(),
        })
    }

    pub fn pop_key(&self) -> Result<P256PublicKey, ServerError> {
        P256PublicKey::from_jwk(&self.pop_jwk).map_err(|e| ServerError::Corrupt {
            what: "a device's proof-of-possession key".into(),
            reason: e.to_string(),
        })
    }

    pub fn uv_key(&self) -> Option<P256PublicKey> {
        self.uv_jwk.as_ref().and_then(|j| P256PublicKey::from_jwk(j).ok())
    }
}

/// The device enrollment with this id, if it is one.
async fn device_enrollment(tx: &mut Tx, id: &str) -> Result<Option<Enrollment>, ServerError> {
    let Ok(id) = gatehouse_core::model::EnrollmentId::parse(id) else {
        return Ok(None);
    };
    Ok(tx
        .enrollments()
        .get(id)
        .await?
        .filter(|e| e.authenticator == AuthenticatorKey::Device && e.device_id.is_some()))
}

fn core_enrollment_status(status: EnrollmentStatus) -> gatehouse_core::device::EnrollmentStatus {
    match status {
        EnrollmentStatus::Active => gatehouse_core::device::EnrollmentStatus::Active,
        EnrollmentStatus::Inactive => gatehouse_core::device::EnrollmentStatus::Inactive,
    }
}

fn wire_device_status(status: DeviceStatus) -> wire::DeviceStatus {
    match status {
        DeviceStatus::Active => wire::DeviceStatus::Active,
        DeviceStatus::Suspended => wire::DeviceStatus::Suspended,
        DeviceStatus::Deactivated => wire::DeviceStatus::Deactivated,
    }
}

fn wire_enrollment_status(status: EnrollmentStatus) -> wire::EnrollmentStatus {
    match status {
        EnrollmentStatus::Active => wire::EnrollmentStatus::Active,
        EnrollmentStatus::Inactive => wire::EnrollmentStatus::Inactive,
    }
}

/// Records a device proof's `jti` (scoped) until its expiry; false when it was seen before.
async fn record_jti(tx: &mut Tx, scoped: &str, exp: u64, now: u64) -> Result<bool, ServerError> {
    Ok(tx.device_proof_jtis().record(scoped, exp.max(now), now).await?)
}

// ---------------------------------------------------------------------------------------------
// Registration (protocol 3.3)

/// The user a `device.enroll` access token was issued to, checked as protocol 3.2 asks.
async fn check_enroll_token(state: &AppState, token: &str) -> Result<(String, String, u64), ApiError> {
    let bad = || {
        refusal(
            401,
            "invalid_token",
            "the access token is not valid for device enrollment",
        )
    };
    let issuer = state.issuer().as_str();
    let audiences = [issuer];
    let expect = JwtExpectations::new(issuer, Audience::OneOf(&audiences), unix(state))
        .with_algorithms(&[SigningAlgorithm::Es256])
        .with_type("at+jwt");
    let verified = super::keys(state)
        .await?
        .verify_any(token, &expect)
        .map_err(|_| bad())?;
    let scope_ok = verified
        .str_claim("scope")
        .is_some_and(|s| s.split(' ').any(|t| t == wire::DEVICE_ENROLL_SCOPE));
    let client_ok = verified.str_claim("client_id") == Some(wire::VERIFY_CLIENT_ID);
    let iat = verified.claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    let exp = verified.claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let lifetime_ok = exp > iat && exp - iat <= 600;
    let (Some(sub), Some(jti)) = (verified.str_claim("sub"), verified.str_claim("jti")) else {
        return Err(bad());
    };
    if !(scope_ok && client_ok && lifetime_ok) {
        return Err(bad());
    }
    Ok((sub.to_owned(), jti.to_owned(), exp))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn storage_of(storage: wire::KeyStorage) -> KeyStorage {
    match storage {
        wire::KeyStorage::Hardware => KeyStorage::Pkcs11,
        wire::KeyStorage::Software => KeyStorage::Software,
    }
}

fn platform_name(platform: wire::Platform) -> String {
    serde_json::to_value(platform)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "other".to_owned())
}

async fn register(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    match register_inner(&state, &headers, &body).await {
        Ok(response) => (StatusCode::CREATED, Json(response)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[allow(clippy::too_many_lines)]
async fn register_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<EnrollmentResponse, ApiError> {
    let now_ts = state.now();
    let now = unix(state);
    // 1. The bearer token.
    let token = bearer(headers)
        .ok_or_else(|| refusal(401, "invalid_token", "a `device.enroll` access token is required"))?;
    let (sub, token_jti, token_exp) = check_enroll_token(state, token).await?;
    let token_key = format!("access_token:{token_jti}");
    if state.store().device_proof_jtis().seen(&token_key).await? {
        return Err(refusal(
            401,
            "invalid_token",
            "this access token was already used to register",
        ));
    }
    let request: EnrollmentRequest = parse_body(body)?;
    // 2. The registration proof's signature, by the key in its header.
    let header = unverified_header(&request.registration)
        .ok_or_else(|| invalid_device_proof("the registration proof is not a compact JWS"))?;
    let jwk = header
        .get("jwk")
        .ok_or_else(|| invalid_registration("the registration proof's header has no `jwk`"))?;
    let pop = P256PublicKey::from_jwk(jwk)
        .map_err(|_| invalid_registration("the registration proof's `jwk` is not a P-256 public key"))?;
    let verified =
        gatehouse_crypto::verify_es256_jws(&request.registration, &pop, Some(jws_type::REGISTRATION))
            .map_err(|_| invalid_device_proof("the registration proof's signature does not verify"))?;
    let claims: RegistrationClaims = serde_json::from_slice(&verified.payload)
        .map_err(|e| invalid_registration(format!("the registration claims are not valid: {e}")))?;
    let thumbprint = pop.thumbprint();
    let header_kid = header.get("kid").and_then(Value::as_str).unwrap_or_default();
    let claimed_pop = serde_json::to_value(&claims.proof_of_possession_key.jwk)
        .ok()
        .and_then(|v| P256PublicKey::from_jwk(&v).ok());
    if header_kid != thumbprint
        || claims.proof_of_possession_key.kid != thumbprint
        || claimed_pop.as_ref() != Some(&pop)
    {
        return Err(invalid_registration(
            "the proof-of-possession key, its `kid` and the header's key must be the same",
        ));
    }
    // 3. The proof's claims.
    let jti_key = format!("registration:{}", claims.jti);
    let jti_seen = state.store().device_proof_jtis().seen(&jti_key).await?;
    let ath = URL_SAFE_NO_PAD.encode(digest::sha256(token.as_bytes()));
    let proof = ProofClaims {
        aud: &claims.aud,
        times: ProofTimes {
            iat: claims.iat,
            exp: claims.exp,
        },
        jti_seen,
        htm: None,
        htu: None,
        ath: Some(&claims.ath),
    };
    let expected = ExpectedProof {
        issuer: state.issuer().as_str(),
        method: None,
        url: None,
        access_token_hash: Some(&ath),
    };
    check_proof(&proof, &expected, now).map_err(|r| refusal(r.http_status(), r.code(), r.to_string()))?;
    // 4. The user-verification key.
    let uv = match (
        &claims.user_verification_key,
        &request.user_verification_signature,
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return Err(invalid_registration(
                "`user_verification_signature` without a user-verification key",
            ));
        }
        (Some(_), None) => {
            return Err(invalid_registration(
                "the user-verification key did not sign the registration",
            ));
        }
        (Some(key), Some(signature)) => {
            let level = uv_from_wire(key.user_verification);
            if level == UserVerification::None {
                return Err(invalid_registration(
                    "a user-verification key must be registered at level `any` or `biometric`",
                ));
            }
            if level == UserVerification::Biometric && !claims.device.biometric_capable {
                return Err(invalid_registration(
                    "a biometric key on a device that reports no biometric capability",
                ));
            }
            let jwk = serde_json::to_value(&key.jwk).map_err(|e| invalid_registration(e.to_string()))?;
            let public = P256PublicKey::from_jwk(&jwk)
                .map_err(|_| invalid_registration("the user-verification key is not a P-256 public key"))?;
            if public.thumbprint() != key.kid {
                return Err(invalid_registration(
                    "the user-verification key's `kid` is not its thumbprint",
                ));
            }
            let sig = URL_SAFE_NO_PAD
                .decode(signature)
                .map_err(|_| invalid_device_proof("the user-verification signature is not base64url"))?;
            gatehouse_crypto::verify_p256_signature(&public, request.registration.as_bytes(), &sig)
                .map_err(|_| invalid_device_proof("the user-verification signature does not verify"))?;
            Some((jwk, key.kid.clone(), level, key.storage))
        }
    };
    if claims.device.installation_id.trim().is_empty() {
        return Err(invalid_registration("`device.installation_id` must not be empty"));
    }
    let user_id = UserId::parse(&sub).map_err(|_| refusal(401, "invalid_token", "unknown user"))?;
    let mut tx = state.store().begin().await?;
    let user: User = tx
        .users()
        .get(user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| refusal(401, "invalid_token", "the token's user cannot enroll a device"))?;
    // The access token is accepted once.
    if !record_jti(&mut tx, &token_key, token_exp, now).await? {
        return Err(refusal(
            401,
            "invalid_token",
            "this access token was already used to register",
        ));
    }
    if !record_jti(&mut tx, &jti_key, claims.exp, now).await? {
        return Err(invalid_device_proof("the registration proof was already used"));
    }
    // 5. The device record.
    let facts = &claims.device;
    let existing = tx
        .devices()
        .by_installation(user.id, &facts.installation_id)
        .await?;
    let pop_jwk_text = pop.to_jwk().to_string();
    let uv_level = uv.as_ref().map(|(_, _, l, _)| *l);
    let device = match existing {
        Some(device) => {
            if let Some(r) = Standing::account_change_refusal(device.status) {
                return Err(refusal(r.http_status(), r.code(), r.to_string()));
            }
            let updated = Device {
                display_name: facts.display_name.clone(),
                platform: platform_name(facts.platform),
                os_version: facts.os_version.clone(),
                model: facts.model.clone(),
                secure_hardware: facts.secure_hardware_present,
                managed: facts.managed,
                biometric_capable: facts.biometric_capable,
                key_storage: storage_of(claims.proof_of_possession_key.storage),
                pop_public_key: pop_jwk_text.clone(),
                uv_public_key: uv.as_ref().map(|(j, ..)| j.to_string()),
                uv_level,
                updated_at: now_ts,
                last_seen_at: Some(now_ts),
                ..device
            };
            tx.devices().update(&updated).await?;
            updated
        }
        None => {
            let device = Device {
                id: new_id(),
                user_id: user.id,
                status: DeviceStatus::Active,
                display_name: facts.display_name.clone(),
                platform: platform_name(facts.platform),
                os_version: facts.os_version.clone(),
                model: facts.model.clone(),
                secure_hardware: facts.secure_hardware_present,
                managed: facts.managed,
                biometric_capable: facts.biometric_capable,
                key_storage: storage_of(claims.proof_of_possession_key.storage),
                pop_public_key: pop_jwk_text,
                uv_public_key: uv.as_ref().map(|(j, ..)| j.to_string()),
                uv_level,
                created_at: now_ts,
                updated_at: now_ts,
                last_seen_at: Some(now_ts),
            };
            tx.devices().insert(&device).await?;
            tx.devices()
                .set_installation_id(device.id, &facts.installation_id)
                .await?;
            device
        }
    };
    // 6. The enrollment: an older active one of this user on this device becomes inactive.
    for older in tx.enrollments().of_device(device.id).await? {
        if older.user_id == user.id && older.status == EnrollmentStatus::Active {
            tx.enrollments()
                .set_status(older.id, EnrollmentStatus::Inactive, now_ts)
                .await?;
        }
    }
    let enrollment_id: gatehouse_core::model::EnrollmentId = new_id();
    let seed = TotpSecret::generate();
    let sealed = state
        .keyring()
        .seal(seed.as_bytes(), sealing_context(enrollment_id).as_bytes());
    let data = DeviceEnrollmentData {
        pop_jwk: pop.to_jwk(),
        pop_kid: thumbprint.clone(),
        pop_storage: claims.proof_of_possession_key.storage,
        uv_jwk: uv.as_ref().map(|(j, ..)| j.clone()),
        uv_kid: uv.as_ref().map(|(_, k, ..)| k.clone()),
        uv_storage: uv.as_ref().map(|(.., s)| *s),
        totp_secret_sealed: sealed,
        installation_id: facts.installation_id.clone(),
    };
    let enrollment = Enrollment {
        id: enrollment_id,
        user_id: user.id,
        authenticator: AuthenticatorKey::Device,
        methods: vec![Method::Push, Method::Otp, Method::Fastpass],
        status: EnrollmentStatus::Active,
        name: Some(facts.display_name.clone()),
        data: serde_json::to_value(&data).map_err(|e| ApiError::internal(&e))?,
        hardware_protected: claims.proof_of_possession_key.storage == wire::KeyStorage::Hardware,
        user_verification: uv_level.unwrap_or(UserVerification::None),
        device_id: Some(device.id),
        counter: None,
        created_at: now_ts,
        updated_at: now_ts,
        last_used_at: None,
    };
    tx.enrollments().insert(&enrollment).await?;
    Event::new(
        event_type("device.enrollment.create")?,
        Actor::User(user.id),
        Outcome::Success,
    )
    .user(user.id)
    .device(device.id)
    .detail("enrollment_id", enrollment.id.to_string())
    .detail("platform", device.platform.clone())
    .detail("managed", device.managed)
    .detail("secure_hardware", device.secure_hardware)
    .detail("key_storage", device.key_storage.as_str())
    .detail("user_verification", enrollment.user_verification.as_str())
    .detail("management_attestation", facts.management_attestation.clone())
    .detail("verify_version", facts.verify_version.clone())
    .append(&mut tx, now_ts)
    .await?;
    tx.commit().await?;
    Ok(EnrollmentResponse {
        enrollment_id: enrollment.id.to_string(),
        device_id: device.id.to_string(),
        issuer: state.issuer().as_str().to_owned(),
        user: DeviceUser {
            id: user.id.to_string(),
            login: user.login.as_str().to_owned(),
        },
        status: wire::EnrollmentStatus::Active,
        device_status: wire_device_status(device.status),
        user_verification: uv_to_wire(enrollment.user_verification),
        totp: TotpSeed {
            secret: seed.to_base32(),
            algorithm: "SHA1".to_owned(),
            digits: 6,
            period: 30,
        },
    })
}

// ---------------------------------------------------------------------------------------------
// Device request proofs (protocol 4)

/// An authenticated device request.
struct DeviceCaller {
    enrollment: Enrollment,
    device: Device,
    user: User,
}

impl DeviceCaller {
    fn standing(&self) -> Standing {
        Standing {
            device: self.device.status,
            enrollment: core_enrollment_status(self.enrollment.status),
        }
    }
}

async fn authenticate_device(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<DeviceCaller, ApiError> {
    let now = unix(state);
    let jws = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(wire::DEVICE_AUTH_SCHEME))
        .and_then(|v| v.strip_prefix(' '))
        .map(str::trim)
        .ok_or_else(|| invalid_device_proof("an `Authorization: Device <proof>` header is required"))?;
    let iss = unverified_payload(jws)
        .and_then(|p| p.get("iss").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(|| invalid_device_proof("the request proof has no `iss`"))?;
    let mut tx = state.store().begin().await?;
    let enrollment = device_enrollment(&mut tx, &iss)
        .await?
        .ok_or_else(device_deleted)?;
    let data = DeviceEnrollmentData::of(&enrollment)?;
    let pop = data.pop_key()?;
    let verified = gatehouse_crypto::verify_es256_jws(jws, &pop, Some(jws_type::REQUEST))
        .map_err(|_| invalid_device_proof("the request proof's signature does not verify"))?;
    let claims: RequestProofClaims = serde_json::from_slice(&verified.payload)
        .map_err(|_| invalid_device_proof("the request proof's claims are not valid"))?;
    let jti_key = format!("{iss}:{}", claims.jti);
    let jti_seen = tx.device_proof_jtis().seen(&jti_key).await?;
    let url = format!("{}{path}", state.issuer().as_str().trim_end_matches('/'));
    let proof = ProofClaims {
        aud: &claims.aud,
        times: ProofTimes {
            iat: claims.iat,
            exp: claims.exp,
        },
        jti_seen,
        htm: Some(&claims.htm),
        htu: Some(&claims.htu),
        ath: None,
    };
    let expected = ExpectedProof {
        issuer: state.issuer().as_str(),
        method: Some(method),
        url: Some(&url),
        access_token_hash: None,
    };
    check_proof(&proof, &expected, now).map_err(|r| refusal(r.http_status(), r.code(), r.to_string()))?;
    if !record_jti(&mut tx, &jti_key, claims.exp, now).await? {
        return Err(invalid_device_proof("the request proof was already used"));
    }
    let device_id = enrollment.device_id.ok_or_else(device_deleted)?;
    let device = tx.devices().get(device_id).await?.ok_or_else(device_deleted)?;
    let user = tx
        .users()
        .get(enrollment.user_id)
        .await?
        .ok_or_else(device_deleted)?;
    tx.commit().await?;
    Ok(DeviceCaller {
        enrollment,
        device,
        user,
    })
}

fn enrollment_state(caller: &DeviceCaller) -> EnrollmentState {
    EnrollmentState {
        enrollment_id: caller.enrollment.id.to_string(),
        device_id: caller.device.id.to_string(),
        user: DeviceUser {
            id: caller.user.id.to_string(),
            login: caller.user.login.as_str().to_owned(),
        },
        status: wire_enrollment_status(caller.enrollment.status),
        device_status: wire_device_status(caller.device.status),
        user_verification: uv_to_wire(caller.enrollment.user_verification),
    }
}

async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<EnrollmentState>, ApiError> {
    let caller = authenticate_device(&state, &headers, "GET", paths::ENROLLMENT).await?;
    Ok(Json(enrollment_state(&caller)))
}

async fn unenroll(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let caller = authenticate_device(&state, &headers, "DELETE", paths::ENROLLMENT).await?;
    if let Some(r) = Standing::account_change_refusal(caller.device.status) {
        return Err(refusal(r.http_status(), r.code(), r.to_string()));
    }
    let now = state.now();
    let mut tx = state.store().begin().await?;
    tx.device_challenges()
        .cancel_for_enrollments(&[caller.enrollment.id.to_string()])
        .await?;
    if !tx.enrollments().delete(caller.enrollment.id).await? {
        return Err(device_deleted());
    }
    Event::new(
        event_type("device.enrollment.delete")?,
        Actor::User(caller.user.id),
        Outcome::Success,
    )
    .user(caller.user.id)
    .device(caller.device.id)
    .detail("enrollment_id", caller.enrollment.id.to_string())
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Push long-poll (protocol 8)

#[derive(Debug, Deserialize)]
struct Wait {
    wait: Option<String>,
}

async fn pushes(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<Wait>) -> Response {
    match pushes_inner(&state, &headers, q).await {
        Ok(Some(request)) => Json(ChallengeRequest { request }).into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn pushes_inner(state: &AppState, headers: &HeaderMap, q: Wait) -> Result<Option<String>, ApiError> {
    let wait = match q.wait.as_deref() {
        None => 25,
        Some(text) => text
            .parse::<u64>()
            .map_err(|_| ApiError::invalid("wait", "`wait` must be a number of seconds"))?,
    }
    .min(MAX_PUSH_WAIT_SECONDS);
    let caller = authenticate_device(state, headers, "GET", paths::PUSHES).await?;
    if let Some(r) = caller.standing().authentication_refusal() {
        return Err(refusal(r.http_status(), r.code(), r.to_string()));
    }
    let enrollment = caller.enrollment.id.to_string();
    let notify = state.verify().waiter(&enrollment);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    let result = loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Some(request) = take_push(state, &enrollment).await? {
            break Some(request);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline || state.verify().is_shutting_down() {
            break None;
        }
        let tick = (now + PUSH_POLL_INTERVAL).min(deadline);
        let _ = tokio::time::timeout_at(tick, notified).await;
    };
    drop(notify);
    state.verify().release(&enrollment);
    Ok(result)
}

/// Takes the oldest unexpired push of an enrollment (still addressed to it: the enrollment and
/// device are re-read so a lifecycle change in between is honoured).
async fn take_push(state: &AppState, enrollment: &str) -> Result<Option<String>, ServerError> {
    let now = unix(state);
    loop {
        let mut tx = state.store().begin().await?;
        let Some((seq, request)) = tx.device_challenges().next_push(enrollment, now).await? else {
            return Ok(None);
        };
        if tx.device_challenges().take_push(seq).await? {
            tx.commit().await?;
            return Ok(Some(request));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Answers (protocol 6, 9)

fn result_from_wire(result: wire::AnswerResult) -> AnswerResult {
    match result {
        wire::AnswerResult::Approve => AnswerResult::Approve,
        wire::AnswerResult::Deny => AnswerResult::Deny,
        wire::AnswerResult::UserVerificationUnavailable => AnswerResult::UserVerificationUnavailable,
        wire::AnswerResult::UserVerificationFailed => AnswerResult::UserVerificationFailed,
        wire::AnswerResult::RegisterUserVerificationKey => AnswerResult::RegisterUserVerificationKey,
    }
}

fn parse_answer(dto: &ChallengeAnswer) -> Result<DeviceAnswer, ApiError> {
    let bad = |what: &str| invalid_request(format!("the answer's `{what}` is not valid"));
    Ok(DeviceAnswer {
        challenge_id: ChallengeId::parse(&dto.challenge_id).map_err(|_| bad("challenge_id"))?,
        enrollment_id: EnrollmentId::parse(&dto.enrollment_id).map_err(|_| bad("enrollment_id"))?,
        result: result_from_wire(dto.result),
        origin: Origin::parse(&dto.origin).map_err(|_| bad("origin"))?,
        user_verification: uv_from_wire(dto.user_verification),
        user_presence: dto.user_presence,
        number: dto.number,
        biometric_capable: dto.biometric_capable,
        new_key: match &dto.new_key {
            Some(k) => Some(NewUserVerificationKey {
                thumbprint: KeyThumbprint::parse(&k.kid).map_err(|_| bad("new_key.kid"))?,
                level: uv_from_wire(k.user_verification),
            }),
            None => None,
        },
    })
}

/// What the flow learns from an accepted answer, stored on the challenge (`outcome`) for the
/// flow to apply at its next step.
pub fn outcome_json(outcome: &AnswerOutcome, enrollment: &Enrollment, pop_hardware: bool) -> Value {
    let mut v = serde_json::Map::new();
    v.insert("enrollment_id".into(), json!(enrollment.id.to_string()));
    v.insert(
        "device_id".into(),
        json!(enrollment.device_id.map(|d| d.to_string())),
    );
    v.insert("user_id".into(), json!(enrollment.user_id.to_string()));
    v.insert("hardware_protected".into(), json!(pop_hardware));
    match outcome {
        AnswerOutcome::Verified {
            kind,
            user_verification,
            user_presence,
            phishing_resistant,
        } => {
            v.insert("result".into(), json!("verified"));
            v.insert("kind".into(), json!(kind.as_str()));
            v.insert("user_verification".into(), json!(user_verification.as_str()));
            v.insert("user_presence".into(), json!(user_presence));
            v.insert("phishing_resistant".into(), json!(phishing_resistant));
        }
        AnswerOutcome::Denied => {
            v.insert("result".into(), json!("denied"));
        }
        AnswerOutcome::UserVerificationUnavailable { biometric_capable } => {
            v.insert("result".into(), json!("user_verification_unavailable"));
            v.insert("biometric_capable".into(), json!(biometric_capable));
        }
        AnswerOutcome::UserVerificationFailed => {
            v.insert("result".into(), json!("user_verification_failed"));
        }
        AnswerOutcome::UserVerificationKeyOffered(key) => {
            v.insert("result".into(), json!("user_verification_key_added"));
            v.insert("user_verification".into(), json!(key.level.as_str()));
        }
    }
    Value::Object(v)
}

async fn answer(
    State(state): State<AppState>,
    Path(challenge_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<AnswerReceipt>, ApiError> {
    let dto: ChallengeAnswer = parse_body(&body)?;
    let result = dto.result;
    answer_inner(&state, &challenge_id, &dto).await?;
    Ok(Json(AnswerReceipt {
        status: "accepted".to_owned(),
        result,
    }))
}

#[allow(clippy::too_many_lines)]
async fn answer_inner(state: &AppState, challenge_id: &str, dto: &ChallengeAnswer) -> Result<(), ApiError> {
    let now_ts = state.now();
    let now = unix(state);
    let mut tx = state.store().begin().await?;
    // 1. The challenge and the enrollment.
    let stored: StoredChallenge = tx
        .device_challenges()
        .get(challenge_id)
        .await?
        .ok_or_else(|| refusal(404, "challenge_not_found", "no such challenge"))?;
    let enrollment = device_enrollment(&mut tx, &dto.enrollment_id)
        .await?
        .ok_or_else(|| {
            refusal(
                401,
                "invalid_signature",
                "the answer is not signed by an enrolled device",
            )
        })?;
    let core_answer = parse_answer(dto)?;
    let data = DeviceEnrollmentData::of(&enrollment)?;
    let pop = data.pop_key()?;
    // 2. The signatures over the message rebuilt from the stored binding.
    let message = core_answer.signed_message(&stored.issued.binding);
    let verifies = |key: &P256PublicKey, sig: Option<&String>| {
        sig.and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .is_some_and(|s| gatehouse_crypto::verify_p256_signature(key, message.as_bytes(), &s).is_ok())
    };
    let new_key = dto.new_key.as_ref().and_then(|k| {
        let jwk = serde_json::to_value(&k.jwk).ok()?;
        let public = P256PublicKey::from_jwk(&jwk).ok()?;
        (public.thumbprint() == k.kid).then_some((public, jwk, k.storage))
    });
    let signatures = VerifiedSignatures {
        proof_of_possession: verifies(&pop, Some(&dto.signatures.proof_of_possession)),
        user_verification: data
            .uv_key()
            .filter(|key| verifies(key, dto.signatures.user_verification.as_ref()))
            .map(|_| enrollment.user_verification)
            .filter(|l| *l != UserVerification::None),
        new_key: new_key
            .as_ref()
            .is_some_and(|(key, ..)| verifies(key, dto.signatures.new_key.as_ref())),
    };
    let device_id = enrollment.device_id.ok_or_else(device_deleted)?;
    let device = tx.devices().get(device_id).await?.ok_or_else(device_deleted)?;
    let standing = Standing {
        device: device.status,
        enrollment: core_enrollment_status(enrollment.status),
    };
    // 3. The decision.
    let kind = stored.issued.binding.kind;
    let (verdict, consumes): (Result<AnswerOutcome, ApiError>, bool) =
        if kind == ChallengeKind::EnrollUserVerification {
            let context = crate::flow::device::uv_key_context(state, &mut tx, &stored).await?;
            let requested = context
                .requested
                .as_ref()
                .and_then(|r| ChallengeId::parse(r).ok());
            let flow_context = UvKeyFlowContext {
                flow_live: context.flow_live,
                requested_challenge: requested.as_ref(),
                earlier_steps_passed: context.earlier_steps_passed,
                keys_added_in_flow: context.keys_added,
            };
            let decision = check_user_verification_key(
                &flow_context,
                &stored.issued,
                &core_answer,
                &signatures,
                standing,
                now,
            );
            let consumes = decision.consumes_challenge();
            let verdict = match decision {
                UvKeyDecision::Accept(key) => Ok(AnswerOutcome::UserVerificationKeyOffered(key)),
                UvKeyDecision::Declined(outcome) => Ok(outcome),
                UvKeyDecision::Refused(r) => Err(refusal(r.http_status(), r.code(), r.to_string())),
            };
            (verdict, consumes)
        } else {
            let decision = check_answer(&stored.issued, &core_answer, &signatures, standing, now);
            let consumes = decision.consumes_challenge();
            let verdict = decision
                .verdict
                .map_err(|r| refusal(r.http_status(), r.code(), r.to_string()));
            (verdict, consumes)
        };
    // 4. Single use.
    if consumes && !tx.device_challenges().mark_answered(challenge_id).await? {
        return Err(refusal(
            409,
            "challenge_already_answered",
            "this challenge was already answered",
        ));
    }
    let decision_text = match &verdict {
        Ok(outcome) => outcome_json(outcome, &enrollment, false)
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        Err(e) => e.code.to_owned(),
    };
    // 5. The outcome for the flow.
    if let Ok(outcome) = &verdict {
        if let AnswerOutcome::UserVerificationKeyOffered(key) = outcome
            && let Some((_, jwk, storage)) = &new_key
        {
            add_user_verification_key(
                state,
                &mut tx,
                &enrollment,
                &device,
                &stored,
                key.level,
                jwk,
                *storage,
            )
            .await?;
        }
        let value = outcome_json(
            outcome,
            &enrollment,
            data.pop_storage == wire::KeyStorage::Hardware,
        );
        tx.device_challenges().set_outcome(challenge_id, &value).await?;
        if matches!(outcome, AnswerOutcome::Verified { .. }) {
            tx.enrollments().record_use(enrollment.id, now_ts, None).await?;
        }
    }
    Event::new(
        event_type("device.challenge.answer")?,
        Actor::User(enrollment.user_id),
        if verdict.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    )
    .user(enrollment.user_id)
    .device(device.id)
    .detail("challenge_id", challenge_id)
    .detail("kind", kind.as_str())
    .detail("enrollment_id", enrollment.id.to_string())
    .detail("result", result_from_wire(dto.result).as_str())
    .detail("decision", decision_text)
    .detail("flow_id", stored.flow_id.clone())
    .append(&mut tx, now_ts)
    .await?;
    tx.commit().await?;
    verdict.map(|_| ())
}

/// Stores an accepted user-verification key on the enrollment and the device record, logs it and
/// notifies the user (protocol 9, `UvKeyDecision::Accept`).
#[allow(clippy::too_many_arguments)]
async fn add_user_verification_key(
    state: &AppState,
    tx: &mut Tx,
    enrollment: &Enrollment,
    device: &Device,
    stored: &StoredChallenge,
    level: UserVerification,
    jwk: &Value,
    storage: wire::KeyStorage,
) -> Result<(), ServerError> {
    let now = state.now();
    let mut data = DeviceEnrollmentData::of(enrollment)?;
    data.uv_jwk = Some(jwk.clone());
    data.uv_kid = P256PublicKey::from_jwk(jwk).ok().map(|k| k.thumbprint());
    data.uv_storage = Some(storage);
    let updated = Enrollment {
        data: serde_json::to_value(&data).map_err(|e| ServerError::Corrupt {
            what: "device enrollment data".into(),
            reason: e.to_string(),
        })?,
        user_verification: level,
        updated_at: now,
        ..enrollment.clone()
    };
    tx.enrollments().update(&updated).await?;
    let device_record = Device {
        uv_public_key: Some(jwk.to_string()),
        uv_level: Some(level),
        updated_at: now,
        ..device.clone()
    };
    tx.devices().update(&device_record).await?;
    let notice =
        crate::flow::device::user_verification_key_added(state, tx, enrollment, device, stored, level)
            .await?;
    Event::new(
        event_type("device.user_verification_key.add")?,
        Actor::User(enrollment.user_id),
        Outcome::Success,
    )
    .user(enrollment.user_id)
    .device(device.id)
    .detail("enrollment_id", enrollment.id.to_string())
    .detail("user_verification", level.as_str())
    .detail("challenge_id", stored.issued.binding.id.as_str())
    .detail("flow_id", stored.flow_id.clone())
    .detail("notified", notice)
    .append(tx, now)
    .await?;
    Ok(())
}
