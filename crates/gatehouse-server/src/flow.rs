//! Sign-in flows (DESIGN sections 4.2–4.4, 5 and 6, issue 4): the interaction API
//! (`/api/v1/flows/{id}`), the sign-in page (`/signin/{id}`) and one-time code delivery.
//!
//! Its contract with `oidc`: the authorize endpoint calls [`start`] with the validated request;
//! the flow evaluates the app's policy at once (a live session may already satisfy it) and
//! answers with a flow to interact with, a completed sign-in's redirect, or a denial's redirect.
//!
//! Layout:
//! - `data`: the flow's stored state.
//! - `engine`: the policy evaluation of a flow and the choice of the next remediation.
//! - `steps`: each remediation's answer checked; what to write collected as `Work`.
//! - `commit`: one transaction per step (effects, session, code, the flow under its version).
//! - `view`: the JSON state clients see.
//! - `delivery`: email and SMS (outbox, SMTP, webhook).
//! - `webauthn`: WebAuthn ceremonies (passkey sign-in, challenges, enrollment).
//! - `page`: the sign-in page and its script.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::model::{Application, FlowId};
use gatehouse_oidc::AuthorizationRequest;
use gatehouse_policy::KeepSignedIn;
use serde_json::Value;

use crate::session::LiveSession;
use crate::{ApiError, AppState, Config, ServerError};

pub mod commit;
pub mod data;
pub mod delivery;
pub mod device;
pub mod engine;
mod page;
pub use page::{STYLE, icon, secure_headers};
pub mod steps;
pub mod view;
pub mod webauthn;

use data::{FlowApp, FlowData, Identity, Pending, Purpose, Status};

/// The flows' state: delivery channels.
#[derive(Debug)]
pub struct FlowState {
    delivery: delivery::Delivery,
    limits: crate::limits::RateLimits,
    /// Recent failed attempts per address, for the risk scorer.
    pub failures: crate::risk::FailureWindow,
    /// The trusted WebAuthn attestation roots, when any are configured.
    pub attestation_cas: Option<webauthn_rs_core::proto::AttestationCaList>,
    /// The state of flows in progress as this server last committed them, by version, so that
    /// the next step reads the flow's version instead of parsing its state again.
    parsed: Mutex<HashMap<FlowId, (i64, Arc<FlowData>)>>,
}

/// At most this many flows' states are kept parsed (each a few KiB); past it the memory is
/// emptied and refilled by the flows that go on.
const PARSED_FLOWS: usize = 1024;

impl FlowState {
    pub fn new(config: &Config) -> Result<Self, ServerError> {
        Ok(Self {
            delivery: delivery::Delivery::new(&config.delivery)?,
            limits: crate::limits::RateLimits::new(config.rate_limits),
            failures: crate::risk::FailureWindow::default(),
            attestation_cas: webauthn::attestation_roots(&config.webauthn_attestation_cas)?,
            parsed: Mutex::default(),
        })
    }

    pub fn delivery(&self) -> &delivery::Delivery {
        &self.delivery
    }

    /// Remembers `data` as flow `id`'s state at `version`, just committed; a flow that ended is
    /// forgotten (nothing steps it on).
    pub fn remember(&self, id: FlowId, version: i64, data: &FlowData) {
        let kept = (data.status == Status::InProgress).then(|| Arc::new(data.clone()));
        let mut parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
        match kept {
            Some(data) => {
                if parsed.len() >= PARSED_FLOWS {
                    parsed.clear();
                }
                parsed.insert(id, (version, data));
            }
            None => {
                parsed.remove(&id);
            }
        }
    }

    /// The state this server last committed for flow `id`, with its version.
    fn remembered(&self, id: FlowId) -> Option<(i64, Arc<FlowData>)> {
        self.parsed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }
}

/// What the authorize endpoint hands to a new sign-in.
#[derive(Debug, Clone)]
pub struct FlowStart {
    /// The validated authorization request (kept in the flow until the code is issued).
    pub request: AuthorizationRequest,
    pub app: Application,
    /// `acr_values` and `max_age` as the policy engine's step-up (they only add requirements).
    pub step_up: gatehouse_policy::StepUp,
    /// `prompt=login`: records of the current session do not count; the user signs in again.
    pub force_login: bool,
    /// `prompt=none`: no interaction may happen; answer at once.
    pub interaction_allowed: bool,
    pub client_ip: IpAddr,
    pub user_agent: Option<String>,
    /// The browser (digest of its `gh_device` cookie), for the risk scorer.
    pub browser: Option<String>,
}

/// How a new sign-in begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// The user must interact: send the browser to `/signin/{id}`.
    Interaction(FlowId),
    /// The session already satisfies the policy: redirect to the client with the code.
    Complete { redirect: String },
    /// The policy denies the sign-in: redirect to the client with `access_denied`.
    Denied { redirect: String },
    /// `prompt=none` but the user must interact (`login_required` when there is no session,
    /// else `interaction_required`).
    InteractionRequired { login_required: bool },
}

/// Starts a sign-in for an authorization request.
pub async fn start(
    state: &AppState,
    session: Option<LiveSession>,
    start: FlowStart,
) -> Result<Started, ApiError> {
    let session = session.filter(|_| !start.force_login);
    let app = FlowApp {
        id: Some(start.app.id),
        client_id: start.app.client_id.as_str().to_owned(),
        name: start.app.name.as_str().to_owned(),
    };
    let purpose = Purpose::Authorize {
        request: start.request,
    };
    let data = FlowData {
        step_up: start.step_up,
        user_agent: start.user_agent,
        session_id: session.as_ref().map(|s| s.session.id),
        identity: session
            .as_ref()
            .map(|s| Identity::of(&s.user, s.session.keep_signed_in)),
        browser: start.browser,
        ..FlowData::new(purpose, app, start.client_ip.to_canonical().to_string())
    };
    begin(state, data, start.interaction_allowed).await
}

/// Starts a sign-in to Gatehouse's own pages, returning to `return_to` (a local path).
pub async fn start_dashboard(
    state: &AppState,
    return_to: &str,
    client_ip: IpAddr,
    user_agent: Option<String>,
    browser: Option<String>,
) -> Result<Started, ApiError> {
    let purpose = Purpose::Dashboard {
        return_to: return_to.to_owned(),
    };
    let data = FlowData {
        user_agent,
        browser,
        ..FlowData::new(
            purpose,
            FlowApp::own_pages(),
            client_ip.to_canonical().to_string(),
        )
    };
    begin(state, data, true).await
}

/// The answer to a visit of one of Gatehouse's own pages (`/app`, `/admin`) without a session:
/// a sign-in flow for it, from the visitor's address, with the browser cookie set on first visit.
pub async fn sign_in_to_page(
    state: &AppState,
    return_to: &str,
    peer: IpAddr,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (browser, cookie) = crate::risk::browser_of(state, headers);
    let ip = crate::risk::client_ip(state, peer, headers);
    let started = start_dashboard(state, return_to, ip, user_agent, Some(browser)).await?;
    let mut response = match started {
        Started::Interaction(id) => axum::response::Redirect::to(&format!("/signin/{id}")).into_response(),
        Started::Complete { redirect } | Started::Denied { redirect } => {
            axum::response::Redirect::to(&redirect).into_response()
        }
        Started::InteractionRequired { .. } => StatusCode::UNAUTHORIZED.into_response(),
    };
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Starts setting up `authenticator` for a signed-in user (self-service at `/app`); the flow
/// shows `enroll-authenticator` at once and returns to `return_to`.
pub async fn start_enroll(
    state: &AppState,
    live: &LiveSession,
    authenticator: gatehouse_policy::AuthenticatorKey,
    return_to: &str,
) -> Result<FlowId, ApiError> {
    let id = new_flow_id();
    let purpose = Purpose::Enroll {
        return_to: return_to.to_owned(),
    };
    let client_ip = live.session.client_ip.clone().unwrap_or_default();
    let mut data = FlowData {
        user_agent: live.session.user_agent.clone(),
        session_id: Some(live.session.id),
        identity: Some(Identity::of(&live.user, live.session.keep_signed_in)),
        pending: Pending::Enroll {
            options: vec![gatehouse_policy::EnrollOption {
                authenticator,
                constraints: gatehouse_policy::MethodConstraints::default(),
                kind: gatehouse_policy::EnrollKind::NewAuthenticator,
                enrollment_id: None,
            }],
        },
        ..FlowData::new(purpose, FlowApp::own_pages(), client_ip)
    };
    let mut work = steps::Work {
        subject: engine::Subject::load(&mut state.store().read()?, state, &data).await?,
        ..steps::Work::default()
    };
    steps::select_enroll(state, id, &mut data, &mut work, authenticator, true, state.now())?;
    webauthn::ensure(
        state,
        &mut data,
        work.subject.user.as_ref(),
        &work.subject.enrollments,
    )
    .await?;
    commit::insert(state, id, &data, Vec::new()).await?;
    deliver(state, &work.outgoing).await;
    Ok(id)
}

/// Starts a re-verification for a signed-in user at `/app` (before removing an authenticator):
/// a sign-in to Gatehouse's own pages inside the live session in which only verifications made
/// in this flow count, so the person proves again whatever the policy asks of a sign-in. Its
/// records join the session, and the flow returns to `return_to`.
pub async fn start_reverify(
    state: &AppState,
    live: &LiveSession,
    return_to: &str,
) -> Result<Started, ApiError> {
    let purpose = Purpose::Dashboard {
        return_to: return_to.to_owned(),
    };
    let client_ip = live.session.client_ip.clone().unwrap_or_default();
    let data = FlowData {
        step_up: gatehouse_policy::StepUp {
            in_flow_only: true,
            ..gatehouse_policy::StepUp::default()
        },
        user_agent: live.session.user_agent.clone(),
        session_id: Some(live.session.id),
        identity: Some(Identity::of(&live.user, live.session.keep_signed_in)),
        ..FlowData::new(purpose, FlowApp::own_pages(), client_ip)
    };
    begin(state, data, true).await
}

/// The client id Gatehouse's own pages sign in as: its sign-ins use the policy that lists it,
/// or else the `dashboard` app's policy.
pub const DASHBOARD_CLIENT: &str = "gatehouse";

/// A new flow's id, a UUIDv7: time-ordered, so that a new flow's index entry goes beside the
/// last one's instead of on a random page of the index (one more page written per commit, and
/// read again by every reader after it). It is the flow's bearer handle, with 74 random bits,
/// for a flow that ends ten idle minutes after its last step.
fn new_flow_id() -> FlowId {
    gatehouse_store::new_id()
}

async fn begin(state: &AppState, mut data: FlowData, interaction_allowed: bool) -> Result<Started, ApiError> {
    let id = new_flow_id();
    let policies = state.policies().await?;
    if data.identity.is_some() {
        let mut snapshot = state.store().read()?;
        let mut work = steps::Work {
            subject: engine::Subject::load(&mut snapshot, state, &data).await?,
            ..steps::Work::default()
        };
        engine::score_risk(&mut snapshot, state, &mut data, work.subject.user.as_ref()).await?;
        drop(snapshot);
        steps::decide(state, id, &mut data, &policies, &mut work, state.now())?;
        if let Some(satisfied_by) = work.allow.take() {
            let now = state.now();
            let mut tx = state.store().begin().await?;
            for effect in std::mem::take(&mut work.effects) {
                if let steps::Effect::Log(event) = effect {
                    event.append(&mut tx, now).await?;
                }
            }
            match commit::finish(state, &mut tx, &mut data, &work, &policies, &satisfied_by, now).await {
                Ok(_) => {}
                Err(commit::CommitError::Server(e)) => return Err(e.into()),
                Err(commit::CommitError::Conflict) => {
                    return Err(ApiError::conflict("conflict", "the sign-in changed; try again"));
                }
            }
            tx.commit().await?;
            return Ok(Started::Complete {
                redirect: data.redirect.unwrap_or_default(),
            });
        }
        if data.status == Status::Denied {
            commit::insert(state, id, &data, work.effects).await?;
            return Ok(Started::Denied {
                redirect: data.redirect.unwrap_or_default(),
            });
        }
        if !interaction_allowed {
            return Ok(Started::InteractionRequired {
                login_required: false,
            });
        }
        webauthn::ensure(
            state,
            &mut data,
            work.subject.user.as_ref(),
            &work.subject.enrollments,
        )
        .await?;
        commit::insert(state, id, &data, work.effects).await?;
        deliver(state, &work.outgoing).await;
        return Ok(Started::Interaction(id));
    }
    if !interaction_allowed {
        return Ok(Started::InteractionRequired { login_required: true });
    }
    device::offer_passwordless(state, id, &mut data).await?;
    webauthn::ensure(state, &mut data, None, &[]).await?;
    commit::insert(state, id, &data, Vec::new()).await?;
    Ok(Started::Interaction(id))
}

async fn deliver(state: &AppState, outgoing: &[delivery::Outgoing]) {
    for message in outgoing {
        if let Err(e) = state.flow().delivery().send(message, state.clock()).await {
            tracing::error!(error = %e, "delivering a one-time code failed");
        }
    }
}

/// The flows' routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/flows/{flow_id}", get(get_flow))
        .route("/api/v1/flows/{flow_id}/{remediation}", post(post_step))
        .merge(page::router())
        // Browser-facing: refuse cross-site POSTs (Fetch Metadata / Origin checks).
        .layer(tower_http::csrf::CsrfLayer::new())
}

/// An answer of the flow API: the state, with the status DESIGN section 5 gives.
fn answer(status: StatusCode, body: Value, cookie: Option<HeaderValue>) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

fn parse_flow_id(text: &str) -> Result<FlowId, ApiError> {
    FlowId::parse(text).map_err(|_| ApiError::not_found("flow"))
}

/// Loads a flow: 404 when unknown, 410 (with the expired state) when expired.
/// Reads flow `id` in `snapshot`: its row and state, or the `410` of an expired flow.
async fn load(
    state: &AppState,
    snapshot: &mut gatehouse_store::Read,
    id: FlowId,
) -> Result<Result<(gatehouse_core::model::Flow, FlowData), Response>, ApiError> {
    let remembered = state.flow().remembered(id);
    let known = remembered.as_ref().map_or(-1, |(version, _)| *version);
    let Some(flow) = snapshot.flows().get_since(id, known).await? else {
        return Err(ApiError::not_found("flow"));
    };
    if flow.is_expired(state.now()) {
        return Ok(Err(answer(StatusCode::GONE, view::expired(id), None)));
    }
    if let Some((version, data)) = remembered
        && version == flow.version
    {
        return Ok(Ok((flow, FlowData::clone(&data))));
    }
    let data: FlowData = serde_json::from_str(&flow.state).map_err(|e| {
        ApiError::from(ServerError::Corrupt {
            what: format!("flow {id}"),
            reason: e.to_string(),
        })
    })?;
    Ok(Ok((flow, data)))
}

/// The state as the client sees it.
pub async fn render(state: &AppState, id: FlowId, data: &FlowData) -> Result<Value, ApiError> {
    let policies = state.policies().await?;
    let subject = engine::Subject {
        user: None,
        ..engine::Subject::default()
    };
    let rule = engine::session_rule(&policies, data, &subject);
    let totp_setup = match &data.current {
        Some(data::Current::Enroll {
            totp_secret_sealed: Some(sealed),
            ..
        }) => {
            let secret = steps::enrolling_totp(state, id, sealed)?;
            let totp = gatehouse_crypto::Totp::new(&secret, gatehouse_crypto::TotpParams::default())
                .map_err(ServerError::Crypto)?;
            let account = data
                .identity
                .as_ref()
                .map(|i| i.login.replace(':', "_"))
                .unwrap_or_else(|| "user".to_owned());
            let uri = totp
                .otpauth_uri("Gatehouse", &account)
                .map_err(ServerError::Crypto)?;
            Some((secret.to_base32(), uri))
        }
        _ => None,
    };
    Ok(view::render(
        id,
        data,
        &view::ViewOptions {
            flow: rule.flow,
            keep_signed_in_allowed: rule.keep_signed_in == KeepSignedIn::Allowed,
            totp_setup: totp_setup.as_ref().map(|(s, u)| (s.as_str(), u.as_str())),
            fastpass_ports: &state.config().fastpass_ports,
        },
    ))
}

/// `/metrics`: a flow that ended with this step, and a wrong answer of a real user.
fn count_sign_in(state: &AppState, data: &FlowData, failed_attempt: bool) {
    use crate::metrics::SignIn;
    match data.status {
        Status::Success => state.metrics().sign_in(SignIn::Success),
        Status::Denied => state.metrics().sign_in(SignIn::Denied),
        Status::InProgress => {}
    }
    if failed_attempt {
        state.metrics().sign_in(SignIn::FailedAttempt);
    }
    // Every refused answer counts for the address's failure velocity, known login or not.
    let refused = failed_attempt
        || data
            .messages
            .iter()
            .any(|m| m.level == "error" && m.code.starts_with("invalid_"));
    if refused && let Ok(ip) = data.client_ip.parse::<IpAddr>() {
        let window = state.config().risk.velocity_window;
        state
            .flow()
            .failures
            .record(ip.to_canonical(), state.now(), window);
    }
}

/// Counts a typed answer against the per-IP and per-login limits. The login is the one typed in
/// this step, else the flow's (as typed at identify, known or not).
/// `Some(response)` is the `429` to answer.
fn check_limits(state: &AppState, peer: IpAddr, body: &Value, data: &FlowData) -> Option<Response> {
    let typed = body.get("login").and_then(Value::as_str);
    let login = typed.or_else(|| data.identity.as_ref().map(|i| i.login.as_str()));
    state.flow().limits.check(peer, login).err().map(|limited| {
        let seconds = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            format!("Too many attempts. Wait {seconds} seconds and try again."),
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        response
    })
}

async fn get_flow(State(state): State<AppState>, Path(flow_id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_flow_id(&flow_id)?;
    let (_, data) = match load(&state, &mut state.store().read()?, id).await? {
        Ok(loaded) => loaded,
        Err(expired) => return Ok(expired),
    };
    let body = render(&state, id, &data).await?;
    Ok(answer(StatusCode::OK, body, None))
}

/// The steps that check something a person typed, and so count against the rate limits.
const LIMITED_STEPS: [&str; 4] = [
    "identify",
    "identify-password",
    "challenge-authenticator",
    "enroll-authenticator",
];

async fn post_step(
    State(state): State<AppState>,
    Path((flow_id, remediation)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = parse_flow_id(&flow_id)?;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(serde_json::Map::new())
    } else {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the answer as JSON with `Content-Type: application/json`",
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_json(format!("the body is not JSON: {e}")))?
    };
    if !body.is_object() {
        return Err(ApiError::invalid_json("the body must be a JSON object"));
    }
    // Each attempt reads the flow and what the step needs in one snapshot.
    let mut snapshot = state.store().read()?;
    let mut loaded = Some((load(&state, &mut snapshot, id).await?, snapshot));
    for attempt in 0..3 {
        let (current, snapshot) = match loaded.take() {
            Some(first) => first,
            None => {
                let mut snapshot = state.store().read()?;
                (load(&state, &mut snapshot, id).await?, snapshot)
            }
        };
        let (flow, mut data) = match current {
            Ok(current) => current,
            Err(expired) => return Ok(expired),
        };
        if attempt == 0
            && LIMITED_STEPS.contains(&remediation.as_str())
            && let Some(refused) = check_limits(
                &state,
                crate::risk::client_ip(&state, peer.ip(), &headers),
                &body,
                &data,
            )
        {
            return Ok(refused);
        }
        if data.status != Status::InProgress {
            let body = render(&state, id, &data).await?;
            return Ok(answer(StatusCode::OK, body, None));
        }
        let policies = state.policies().await?;
        let mut work =
            match steps::apply(&state, snapshot, id, &mut data, &policies, &remediation, &body).await {
                Ok(work) => work,
                Err(steps::StepError::BadJson(message)) => return Err(ApiError::invalid_json(message)),
                Err(steps::StepError::Server(e)) => return Err(e.into()),
            };
        let failed_attempt = work
            .effects
            .iter()
            .any(|e| matches!(e, steps::Effect::Failure { .. }));
        match commit::commit(&state, &flow, &mut data, &mut work, &policies).await {
            Ok(cookie) => {
                count_sign_in(&state, &data, failed_attempt);
                deliver(&state, &work.outgoing).await;
                let body = render(&state, id, &data).await?;
                return Ok(answer(StatusCode::OK, body, cookie));
            }
            Err(commit::CommitError::Conflict) if attempt < 2 => continue,
            Err(commit::CommitError::Conflict) => {
                return Err(ApiError::conflict(
                    "conflict",
                    "this sign-in was changed by another request; reload it",
                ));
            }
            Err(commit::CommitError::Server(e)) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(
        "conflict",
        "this sign-in was changed by another request; reload it",
    ))
}

/// What continuous evaluation found for a live session (DESIGN section 9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuous {
    /// The app's policy still allows the session.
    Holds,
    /// The matching rule now asks for more than the session proved: the user must sign in again
    /// (step up); the session itself lives on.
    StepUp { rule: String },
    /// The matching rule denies: the session ends.
    Ends { rule: String, message: String },
}

/// A live session as the caller read it: the session, its verifications, its user and the
/// names of their groups.
#[derive(Debug, Clone, Copy)]
pub struct SessionNow<'a> {
    pub session: &'a gatehouse_core::model::Session,
    pub records: &'a [gatehouse_core::model::VerificationRecord],
    pub user: &'a gatehouse_core::model::User,
    pub groups: &'a [String],
}

/// Re-evaluates `client_id`'s policy for a live session against the current context — the
/// address of this request, the session's device as it is now, the risk now — as a token
/// refresh does (docs/risk.md). The session's verifications (`records`, as the caller read them
/// with the session) count as those of one sign-in: a rule's reauthentication window still
/// bounds their age. Reads in the caller's snapshot `store`. The risk is scored when a rule of
/// the policy matches on it, or when the verdict acts (for its log); the returned risk is `None`
/// otherwise.
pub async fn reevaluate(
    store: &mut gatehouse_store::Read,
    state: &AppState,
    live: &SessionNow<'_>,
    client_id: &str,
    ip: IpAddr,
) -> Result<(Continuous, Option<data::FlowRisk>), ServerError> {
    let SessionNow {
        session,
        records,
        user,
        groups,
    } = *live;
    let now = state.now();
    let policies = state.policies().await?;
    let purpose = Purpose::Dashboard {
        return_to: String::new(),
    };
    let app = FlowApp {
        id: None,
        client_id: client_id.to_owned(),
        name: client_id.to_owned(),
    };
    let mut data = FlowData {
        identity: Some(Identity::of(user, session.keep_signed_in)),
        records: records
            .iter()
            .map(|r| data::FlowRecord {
                id: r.id,
                authenticator: r.authenticator,
                method: r.method,
                enrollment_id: r.enrollment_id,
                device_id: r.device_id,
                verified_at: r.verified_at,
                proof: r.proof,
            })
            .collect(),
        ..FlowData::new(purpose, app, ip.to_canonical().to_string())
    };
    let Some(policy) = engine::app_policy(&policies, &data) else {
        return Ok((Continuous::Holds, None));
    };
    // The risk is scored when a rule matches on it; otherwise only for the log of a verdict
    // that acts (below): a level no rule reads cannot change the decision.
    if policy.reads_risk() {
        engine::score_risk(store, state, &mut data, Some(user)).await?;
    }
    // An allow rests on the request's context and the records alone: the enrollments only say
    // how a requirement the records do not meet could still be met (gatehouse_policy's
    // `evaluate`). Without a device of the session, whose enrollment would shape the context,
    // the session is first judged without reading them; anything but an allow is decided again
    // with everything the user has.
    if session.device_id.is_none() {
        let known = engine::Subject {
            user: Some(user.clone()),
            groups: groups.to_vec(),
            ..engine::Subject::default()
        };
        if engine::evaluate(policy, &data, &known, now).is_allow() {
            return Ok((Continuous::Holds, data.risk));
        }
    }
    let subject =
        engine::Subject::load_known(store, state, &data, Some(user.clone()), Some(groups.to_vec())).await?;
    if let Some(device_id) = session.device_id
        && let Some(device) = subject
            .devices
            .iter()
            .find(|d| d.id == device_id && d.status == gatehouse_core::device::DeviceStatus::Active)
        && let Some(enrollment) = subject
            .enrollments
            .iter()
            .find(|e| e.device_id == Some(device_id) && e.is_active())
    {
        data.device = Some(data::ProvenDevice {
            device_id,
            enrollment_id: enrollment.id,
            managed: device.managed,
            platform: device.platform.clone(),
            secure_hardware: device.secure_hardware,
            biometric_capable: device.biometric_capable,
            pop_hardware: enrollment.hardware_protected,
        });
    }
    let decision = engine::evaluate(policy, &data, &subject, now);
    let rule = decision.rule.to_string();
    let verdict = match decision.kind() {
        "allow" => Continuous::Holds,
        "deny" => Continuous::Ends {
            message: format!("the sign-in policy's rule `{rule}` now denies this session"),
            rule,
        },
        _ => Continuous::StepUp { rule },
    };
    if verdict != Continuous::Holds && data.risk.is_none() {
        engine::score_risk(store, state, &mut data, Some(user)).await?;
    }
    Ok((verdict, data.risk))
}
