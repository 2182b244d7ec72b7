//! The loopback daemon: FastPass over `http://127.0.0.1:8769` and the push channel.
//!
//! HTTP (axum), only on a loopback address:
//! - `GET /probe` → `200 {"status": "ready"}` when enrolled (`503 not_enrolled` otherwise).
//! - `POST /challenge {"request": <challenge JWS>}` → verifies the server's signature (JWKS of the
//!   enrolled server, refetched once for an unknown `kid`), checks the origin binding and that the
//!   challenge is for this enrollment and not already answered, answers (see
//!   [`crate::responder`]), sends the signed answer to the server itself and replies
//!   `200 {"status": "answered", "result": …}`.
//! - CORS and Private Network Access: a request whose `Origin` is not the enrolled server's
//!   origin is refused (403, no CORS headers); the enrolled origin gets
//!   `Access-Control-Allow-Origin` and, on preflights asking for it,
//!   `Access-Control-Allow-Private-Network: true`. A `Host` other than a loopback name is
//!   refused (DNS rebinding).
//!
//! The push channel: a task long-polls `GET /api/v1/verify/pushes` and keeps the latest push in
//! `pending-push.json` for `approve`/`deny`/`enroll-biometrics`, printing a notice.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_api::device::{
    ChallengeKind, ChallengeRequest, DeviceApiError, LoopbackReply, ProbeReply, paths,
};
use gatehouse_core::device::Origin;
use gatehouse_crypto::Jwks;
use tokio::net::TcpListener;

use crate::error::VerifyError;
use crate::home::{EnrollmentRecord, Home, PENDING_PUSH_FILE, PendingPush};
use crate::keystore::{Keystore, KeystoreConfig};
use crate::protocol::{ChallengeProblem, VerifiedChallenge, result_to_wire, unix_now, verify_challenge};
use crate::responder::{Intent, Responder, commit_new_key, discard_new_key};
use crate::server::ServerClient;
use crate::uv::{self, UserVerifier};

/// The largest challenge request body accepted.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// Seconds a push long-poll waits at the server.
pub const PUSH_WAIT_SECONDS: u64 = 25;

/// A shutdown signal shared by the HTTP server and the push loop (`true` = stop).
pub type Shutdown = tokio::sync::watch::Receiver<bool>;

/// The daemon's shared state.
#[derive(Debug)]
pub struct Daemon {
    home: Home,
    /// `--uv-provider`, else the one chosen at enrollment.
    provider: Option<String>,
    /// A provider given in code (tests), used instead of `provider`.
    verifier: Option<Arc<dyn UserVerifier>>,
    keystore: Mutex<Option<(KeystoreConfig, Arc<dyn Keystore>)>>,
    jwks: tokio::sync::Mutex<Option<(String, Jwks)>>,
    /// Challenge ids answered through this daemon, with their expiry.
    answered: Mutex<HashMap<String, u64>>,
}

type Shared = Arc<Daemon>;

impl Daemon {
    pub fn new(home: Home, provider: Option<String>) -> Self {
        Self {
            home,
            provider,
            verifier: None,
            keystore: Mutex::new(None),
            jwks: tokio::sync::Mutex::new(None),
            answered: Mutex::new(HashMap::new()),
        }
    }

    /// Uses `verifier` for every user-verification check (tests and embedding).
    pub fn with_verifier(mut self, verifier: Arc<dyn UserVerifier>) -> Self {
        self.verifier = Some(verifier);
        self
    }

    fn enrollment(&self) -> Result<EnrollmentRecord, VerifyError> {
        self.home.enrollment()
    }

    fn keystore(&self, record: &EnrollmentRecord) -> Result<Arc<dyn Keystore>, VerifyError> {
        let mut cache = self
            .keystore
            .lock()
            .map_err(|_| VerifyError::Pkcs11("keystore lock poisoned".into()))?;
        if let Some((config, keystore)) = cache.as_ref()
            && *config == record.keystore
        {
            return Ok(keystore.clone());
        }
        let keystore = record.keystore.open(&self.home)?;
        *cache = Some((record.keystore.clone(), keystore.clone()));
        Ok(keystore)
    }

    fn verifier(&self, record: &EnrollmentRecord) -> Result<Arc<dyn UserVerifier>, VerifyError> {
        if let Some(verifier) = &self.verifier {
            return Ok(verifier.clone());
        }
        let name = self.provider.as_deref().unwrap_or(&record.uv_provider);
        Ok(Arc::from(uv::provider(name, &self.home)?))
    }

    /// Verifies a challenge JWS with the enrolled server's JWKS, fetching it when missing and
    /// refetching it once when no key matches (key rotation).
    pub async fn verify(
        &self,
        record: &EnrollmentRecord,
        jws: &str,
    ) -> Result<VerifiedChallenge, VerifyError> {
        let client = ServerClient::new(&record.server_url)?;
        let mut cache = self.jwks.lock().await;
        for attempt in 0..2 {
            let cached = cache.as_ref().filter(|(issuer, _)| *issuer == record.issuer);
            let jwks = match (cached, attempt) {
                (Some((_, jwks)), 0) => jwks.clone(),
                _ => {
                    let discovery = client.discovery().await?;
                    let jwks = client
                        .jwks(&client.rebase(&discovery.jwks_uri, &discovery.issuer))
                        .await?;
                    *cache = Some((record.issuer.clone(), jwks.clone()));
                    jwks
                }
            };
            match verify_challenge(jws, &jwks, &record.issuer, unix_now()) {
                Ok(verified) => return Ok(verified),
                Err(ChallengeProblem::UnknownKey(_)) if attempt == 0 => continue,
                Err(problem) => return Err(VerifyError::BadChallenge(problem.to_string())),
            }
        }
        Err(VerifyError::BadChallenge(
            "no key of the server's JWKS signed it".to_owned(),
        ))
    }

    fn remember_answered(&self, id: &str, expires_at: u64) -> bool {
        let Ok(mut answered) = self.answered.lock() else {
            return false;
        };
        let now = unix_now();
        answered.retain(|_, exp| *exp + 300 > now);
        answered.insert(id.to_owned(), expires_at).is_none()
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(DeviceApiError {
            error: code.to_owned(),
            message: message.into(),
        }),
    )
        .into_response()
}

fn error_of(e: &VerifyError) -> Response {
    match e {
        VerifyError::NotEnrolled => error(StatusCode::SERVICE_UNAVAILABLE, "not_enrolled", e.to_string()),
        VerifyError::BadChallenge(_) => error(StatusCode::BAD_REQUEST, "invalid_challenge", e.to_string()),
        VerifyError::Unreachable { .. } | VerifyError::Protocol { .. } => {
            error(StatusCode::BAD_GATEWAY, "server_unreachable", e.to_string())
        }
        VerifyError::Refused { code, message, .. } => error(StatusCode::BAD_GATEWAY, code, message.clone()),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "device_error", e.to_string()),
    }
}

/// The daemon's HTTP routes with their CORS, PNA and host checks.
pub fn router(daemon: Shared) -> Router {
    Router::new()
        .route("/probe", get(probe))
        .route("/challenge", post(challenge))
        .layer(middleware::from_fn_with_state(daemon.clone(), guard))
        .with_state(daemon)
}

fn is_loopback_host(host: &str) -> bool {
    let name = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "::1"
    )
}

/// Host check, origin allow-list, CORS and Private Network Access.
async fn guard(State(daemon): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_loopback_host(host) {
        return uncached(error(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!("`{host}` is not a loopback host"),
        ));
    }
    let origin = match headers.get(header::ORIGIN) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("");
            let allowed = daemon
                .enrollment()
                .ok()
                .and_then(|r| Origin::parse(&r.origin).ok())
                .filter(|enrolled| Origin::parse(text).ok().as_ref() == Some(enrolled));
            match allowed {
                Some(origin) => Some(origin),
                None => {
                    return uncached(error(
                        StatusCode::FORBIDDEN,
                        "origin_not_allowed",
                        format!("`{text}` is not the origin of the server this device is enrolled with"),
                    ));
                }
            }
        }
    };
    let preflight =
        request.method() == Method::OPTIONS && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let wants_private_network = headers
        .get("access-control-request-private-network")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type"),
        );
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        if wants_private_network {
            h.insert(
                "access-control-allow-private-network",
                HeaderValue::from_static("true"),
            );
        }
        r
    } else {
        next.run(request).await
    };
    if let Some(origin) = origin
        && let Ok(value) = HeaderValue::from_str(origin.as_str())
    {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    uncached(response)
}

/// Every loopback response, refusals too, varies by `Origin` and is never cached (protocol 7.3).
fn uncached(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn probe(State(daemon): State<Shared>) -> Response {
    match daemon.enrollment() {
        Ok(_) => axum::Json(ProbeReply {
            status: "ready".to_owned(),
        })
        .into_response(),
        Err(e) => error_of(&e),
    }
}

async fn challenge(State(daemon): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "the request body is too large",
        );
    };
    let Ok(request) = serde_json::from_slice::<ChallengeRequest>(&bytes) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be `{\"request\": <challenge JWS>}`",
        );
    };
    match answer_loopback(&daemon, &headers, &request.request).await {
        Ok(reply) => axum::Json(reply).into_response(),
        Err(response) => response,
    }
}

async fn answer_loopback(daemon: &Shared, headers: &HeaderMap, jws: &str) -> Result<LoopbackReply, Response> {
    let record = daemon.enrollment().map_err(|e| error_of(&e))?;
    let verified = daemon.verify(&record, jws).await.map_err(|e| error_of(&e))?;
    let enrolled_origin =
        Origin::parse(&record.origin).map_err(|e| error_of(&VerifyError::corrupt("enrollment.json", e)))?;
    if verified.binding.origin != enrolled_origin {
        return Err(error(
            StatusCode::FORBIDDEN,
            "origin_mismatch",
            format!(
                "the challenge is bound to `{}`, not to `{enrolled_origin}`",
                verified.binding.origin
            ),
        ));
    }
    // The guard let only the enrolled origin through; a request without `Origin` comes from a
    // local non-browser client and stands for the challenge's own origin.
    let observed = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(text) => Origin::parse(text).unwrap_or_else(|_| enrolled_origin.clone()),
        None => verified.binding.origin.clone(),
    };
    if !matches!(
        verified.claims.kind,
        ChallengeKind::Fastpass | ChallengeKind::EnrollUserVerification
    ) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_challenge",
            "push challenges arrive over the push channel, not through the loopback",
        ));
    }
    check_addressee(&record, &verified).map_err(|e| error(StatusCode::FORBIDDEN, "wrong_enrollment", e))?;
    if !daemon.remember_answered(verified.id(), verified.binding.expires_at) {
        return Err(error(
            StatusCode::CONFLICT,
            "challenge_already_answered",
            "this device already answered that challenge",
        ));
    }
    let keystore = daemon.keystore(&record).map_err(|e| error_of(&e))?;
    let verifier = daemon.verifier(&record).map_err(|e| error_of(&e))?;
    let (record, prepared) = {
        let verified = verified.clone();
        tokio::task::spawn_blocking(move || {
            let responder = Responder {
                record: &record,
                keystore: keystore.as_ref(),
                verifier: verifier.as_ref(),
            };
            let prepared = responder.respond(&verified, Intent::Approve { number: None }, &observed);
            (record, prepared.map(|p| (p, keystore)))
        })
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "device_error", e.to_string()))?
    };
    let (prepared, keystore) = prepared.map_err(|e| error_of(&e))?;
    let result = prepared.result;
    send_answer(&daemon.home, record, keystore.as_ref(), prepared)
        .await
        .map_err(|e| error_of(&e))?;
    Ok(LoopbackReply {
        status: "answered".to_owned(),
        result: result_to_wire(result),
    })
}

/// Whether a verified challenge is addressed to this enrollment (when it names one).
pub fn check_addressee(record: &EnrollmentRecord, challenge: &VerifiedChallenge) -> Result<(), String> {
    if let Some(enrollment) = &challenge.claims.enrollment_id
        && *enrollment != record.enrollment_id
    {
        return Err("the challenge is for another Verify enrollment".to_owned());
    }
    if let Some(sub) = &challenge.claims.sub
        && *sub != record.user_id
    {
        return Err("the challenge is for another user".to_owned());
    }
    Ok(())
}

/// Sends a prepared answer to the server; keeps or discards a new user-verification key by the
/// server's decision.
pub async fn send_answer(
    home: &Home,
    mut record: EnrollmentRecord,
    keystore: &dyn Keystore,
    prepared: crate::responder::PreparedAnswer,
) -> Result<gatehouse_api::device::AnswerReceipt, VerifyError> {
    let client = ServerClient::new(&record.server_url)?;
    match client.answer(&prepared.answer).await {
        Ok(receipt) => {
            if let Some(key) = prepared.new_key {
                commit_new_key(&mut record, keystore, key)?;
                home.write_json(crate::home::ENROLLMENT_FILE, &record)?;
            }
            Ok(receipt)
        }
        Err(e) => {
            if let Some(key) = &prepared.new_key {
                discard_new_key(keystore, key);
            }
            Err(e)
        }
    }
}

/// Binds `addr` (a loopback address only).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, VerifyError> {
    if !addr.ip().is_loopback() {
        return Err(VerifyError::Usage(format!(
            "`--listen {addr}`: the daemon listens on a loopback address only"
        )));
    }
    TcpListener::bind(addr)
        .await
        .map_err(|e| VerifyError::Usage(format!("cannot listen on `{addr}`: {e}")))
}

/// Serves the loopback API on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, daemon: Shared, mut shutdown: Shutdown) -> Result<(), VerifyError> {
    axum::serve(listener, router(daemon))
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .map_err(|e| VerifyError::Usage(format!("the loopback server stopped: {e}")))
}

/// Long-polls the server for pushes and keeps the latest in `pending-push.json`, until
/// `shutdown` turns true or the server says the device is gone.
pub async fn push_loop(daemon: Shared, mut shutdown: Shutdown, mut notify: impl FnMut(&str) + Send) {
    let mut backoff = 1u64;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let outcome = tokio::select! {
            outcome = poll_once(&daemon) => outcome,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        let pause = match outcome {
            Ok(Some(notice)) => {
                notify(&notice);
                backoff = 1;
                0
            }
            Ok(None) => {
                backoff = 1;
                0
            }
            Err(VerifyError::NotEnrolled) => 5,
            Err(e) => {
                let code = e.refusal_code().unwrap_or("").to_owned();
                notify(&format!("push channel: {e}"));
                match code.as_str() {
                    "device_deleted" | "enrollment_inactive" => {
                        notify("push channel stopped: enroll the device again");
                        return;
                    }
                    "device_suspended" | "device_deactivated" => 30,
                    _ => {
                        backoff = (backoff * 2).min(30);
                        backoff
                    }
                }
            }
        };
        if pause > 0 {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(pause)) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// One long-poll; the notice to print when a push arrived.
async fn poll_once(daemon: &Shared) -> Result<Option<String>, VerifyError> {
    let record = daemon.enrollment()?;
    let keystore = daemon.keystore(&record)?;
    let proof = {
        let record = record.clone();
        let keystore = keystore.clone();
        tokio::task::spawn_blocking(move || {
            crate::protocol::request_proof(keystore.as_ref(), &record, "GET", paths::PUSHES, unix_now())
        })
        .await
        .map_err(|e| VerifyError::Usage(e.to_string()))??
    };
    let client = ServerClient::new(&record.server_url)?;
    let Some(push) = client.next_push(&proof, PUSH_WAIT_SECONDS).await? else {
        return Ok(None);
    };
    let verified = daemon.verify(&record, &push.request).await?;
    if !matches!(
        verified.claims.kind,
        ChallengeKind::Push | ChallengeKind::EnrollUserVerification
    ) {
        return Err(VerifyError::BadChallenge(
            "a FastPass challenge came over the push channel".to_owned(),
        ));
    }
    check_addressee(&record, &verified).map_err(VerifyError::BadChallenge)?;
    if verified.binding.origin.as_str() != record.origin {
        return Err(VerifyError::BadChallenge(
            "the push is bound to another origin".to_owned(),
        ));
    }
    daemon.home.write_json(
        PENDING_PUSH_FILE,
        &PendingPush {
            request: push.request.clone(),
            received_at: unix_now(),
        },
    )?;
    Ok(Some(push_notice(&verified)))
}

/// The line printed when a push waits for the user.
pub fn push_notice(challenge: &VerifiedChallenge) -> String {
    let claims = &challenge.claims;
    if claims.kind == ChallengeKind::EnrollUserVerification {
        return "a sign-in asks to add biometric verification to this device: run `gatehouse-verify enroll-biometrics` (or `deny`)".to_owned();
    }
    let app = claims.app.as_ref().map_or("an application", |a| a.name.as_str());
    let from = claims
        .client_ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    let number = if claims.number_challenge {
        " --number N (the number shown on the sign-in page)"
    } else {
        ""
    };
    format!("push: sign-in to {app}{from}; run `gatehouse-verify approve{number}` or `gatehouse-verify deny`")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_host_names_pass() {
        for ok in [
            "127.0.0.1:8769",
            "localhost:8769",
            "[::1]:8769",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in ["evil.example:8769", "127.0.0.1.evil.example", "", "[::2]:8769"] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
