//! One step of a flow: the answer to a remediation is checked (slow checks such as argon2id run
//! here, before any transaction), the policy is evaluated again, and what must be written is
//! collected as [`Work`] for `commit`.

use gatehouse_core::model::{
    Actor, AuthenticatorKey, Enrollment, EnrollmentId, EnrollmentStatus, FlowId, LifecycleAction, Method,
    Outcome, PasswordData, TotpData, User, UserStatus, UserVerification, event_types, method_data,
    sealing_context,
};
use gatehouse_crypto::{Totp, TotpParams, TotpSecret, constant_time_eq, digest};
use gatehouse_policy::{PolicySet, SignInFlow, StepOption, VerificationFacts, prove};
use gatehouse_store::new_id;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::data::{Current, FlowData, FlowRecord, Identity, Message, Pending, SentCode, Status, messages};
use super::delivery::{Outgoing, mask};
use super::engine::{self, Next, Subject};
use super::view::default_method;
use crate::audit::Event;
use crate::{AppState, ServerError};

/// How long an email or SMS code lives, and how many wrong tries it takes.
const CODE_LIFETIME_SECONDS: i64 = 300;
const CODE_MAX_ATTEMPTS: u32 = 5;

/// A write the step asks for.
#[derive(Debug)]
pub enum Effect {
    /// Record a successful use of an enrollment; with a counter, only if it is newer than the
    /// stored one (TOTP step): otherwise the code was used concurrently, and the step fails.
    RecordUse {
        enrollment: EnrollmentId,
        counter: Option<i64>,
    },
    /// A wrong answer for a real user: count it (and lock out at the limit).
    Failure {
        user: User,
    },
    /// A right answer: forget earlier failures.
    Success {
        user: User,
    },
    /// An expired lock-out ends when the user next identifies.
    Unlock {
        user: User,
    },
    CreateEnrollment(Enrollment),
    Log(Event),
}

/// Everything a step decided, to be written and sent.
#[derive(Debug, Default)]
pub struct Work {
    pub effects: Vec<Effect>,
    pub outgoing: Vec<Outgoing>,
    /// The policy allowed the sign-in: finish with these records.
    pub allow: Option<Vec<usize>>,
    /// The subject after the step (the user may have been identified by it).
    pub subject: Subject,
}

/// A refusal of the request itself (not a wrong answer, which is a message).
#[derive(Debug)]
pub enum StepError {
    BadJson(String),
    Server(ServerError),
}

impl From<ServerError> for StepError {
    fn from(e: ServerError) -> Self {
        Self::Server(e)
    }
}

impl From<gatehouse_store::StoreError> for StepError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::Server(e.into())
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Value) -> Result<T, StepError> {
    serde_path_to_error::deserialize(body.clone()).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            StepError::BadJson(e.into_inner().to_string())
        } else {
            StepError::BadJson(format!("{path}: {}", e.into_inner()))
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentifyBody {
    login: String,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    keep_signed_in: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    phone_number: Option<String>,
    /// WebAuthn: the `PublicKeyCredential` in its JSON form.
    #[serde(default)]
    credential: Option<Value>,
    /// Passkey sign-in from the identify screen.
    #[serde(default)]
    keep_signed_in: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectBody {
    authenticator: AuthenticatorKey,
    #[serde(default)]
    method: Option<Method>,
    #[serde(default)]
    id: Option<String>,
}

/// Applies the remediation `name` with `body` to the flow, re-evaluating when the step moved
/// the sign-in on.
pub async fn apply(
    state: &AppState,
    mut snapshot: gatehouse_store::Read,
    id: FlowId,
    data: &mut FlowData,
    policies: &PolicySet,
    name: &str,
    body: &Value,
) -> Result<Work, StepError> {
    let now = state.now();
    let mut work = Work {
        subject: Subject::load(&mut snapshot, state, data).await?,
        ..Work::default()
    };
    // `identify` reads the user it finds in the same snapshot; every other step is done
    // reading (and must not hold a connection while it waits, for a hash say).
    let mut snapshot = matches!(name, "identify" | "identify-password").then_some(snapshot);
    data.messages.clear();
    let rule = engine::session_rule(policies, data, &work.subject);
    let advanced = match (name, &data.pending) {
        ("identify", Pending::Identify) if rule.flow == SignInFlow::IdentifierFirst => {
            let body: IdentifyBody = parse(body)?;
            identify(state, snapshot.take(), id, data, &mut work, &body, now).await?
        }
        ("identify-password", Pending::Identify) if rule.flow == SignInFlow::PasswordFirst => {
            let body: IdentifyBody = parse(body)?;
            let advanced = identify(state, snapshot.take(), id, data, &mut work, &body, now).await?;
            if advanced {
                let password = body.password.unwrap_or_default();
                verify_password(state, id, data, &mut work, password, now).await?
            } else {
                false
            }
        }
        ("challenge-authenticator", Pending::Identify) if data.identity.is_none() => {
            let body: AnswerBody = parse(body)?;
            passkey_sign_in(state, id, data, &mut work, body, now).await?
        }
        ("challenge-authenticator", Pending::Verify { .. }) => {
            let body: AnswerBody = parse(body)?;
            challenge(state, id, data, &mut work, body, now).await?
        }
        ("poll", Pending::Identify | Pending::Verify { .. } | Pending::Enroll { .. }) => {
            parse::<serde_json::Map<String, Value>>(body)?;
            match super::device::poll(state, id, data, &mut work).await? {
                super::device::Polled::Advanced => true,
                super::device::Polled::Waiting => false,
                super::device::Polled::Deny { code, message } => {
                    deny(state, data, &mut work, code, &message, now);
                    return Ok(work);
                }
            }
        }
        ("select-authenticator", Pending::Verify { options }) => {
            let body: SelectBody = parse(body)?;
            let options = options.clone();
            select(data, &work, &options, &body);
            false
        }
        ("select-enroll", Pending::Enroll { options }) => {
            let body: SelectBody = parse(body)?;
            let offered = options.iter().any(|o| o.authenticator == body.authenticator);
            select_enroll(state, id, data, &mut work, body.authenticator, offered, now)?;
            false
        }
        ("enroll-authenticator", Pending::Enroll { .. }) => {
            let body: AnswerBody = parse(body)?;
            enroll(state, id, data, &mut work, body, now).await?
        }
        ("back", _) if data.status == Status::InProgress => {
            parse::<serde_json::Map<String, Value>>(body)?;
            data.identity = None;
            data.records.clear();
            data.current = None;
            data.session_id = None;
            data.pending = Pending::Identify;
            work.subject = Subject::default();
            false
        }
        ("cancel", _) => {
            parse::<serde_json::Map<String, Value>>(body)?;
            cancel(state, data, &mut work, now);
            return Ok(work);
        }
        ("skip", _) => {
            data.messages.push(Message::error(
                "nothing_to_skip",
                "There is no optional step to skip here.",
            ));
            false
        }
        (other, _) => {
            data.messages.push(Message::error(
                "remediation_unavailable",
                format!(
                    "`{}` is not one of the steps this sign-in offers now.",
                    short(other)
                ),
            ));
            false
        }
    };
    if advanced {
        decide(state, id, data, policies, &mut work, now)?;
    } else {
        ensure_code_sent(state, id, data, &mut work, now)?;
    }
    super::device::ensure_challenge(state, id, data).await?;
    super::webauthn::ensure(state, data, work.subject.user.as_ref(), &work.subject.enrollments).await?;
    Ok(work)
}

fn short(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Re-evaluates the policy and sets the next remediation, or finishes the flow.
pub fn decide(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    policies: &PolicySet,
    work: &mut Work,
    now: Timestamp,
) -> Result<(), ServerError> {
    if let super::data::Purpose::Enroll { return_to } = &data.purpose {
        // Self-service: setting the authenticator up was the whole point.
        data.status = Status::Success;
        data.pending = Pending::Done;
        data.current = None;
        data.redirect = Some(return_to.clone());
        return Ok(());
    }
    let subject = &work.subject;
    let Some(identity) = data.identity.clone() else {
        data.pending = Pending::Identify;
        return Ok(());
    };
    let rule = engine::session_rule(policies, data, subject);
    let Some(policy) = engine::app_policy(policies, data) else {
        let message = format!(
            "No sign-in policy is assigned to {}; ask your administrator.",
            data.app.name
        );
        deny(state, data, work, "no_policy", &message, now);
        return Ok(());
    };
    if subject.user.is_none() && !rule.user_enumeration_prevention {
        data.identity = None;
        data.pending = Pending::Identify;
        let (code, text) = messages::INVALID_CREDENTIALS;
        data.messages.push(Message::error(code, text));
        return Ok(());
    }
    let decision = engine::evaluate(policy, data, subject, now);
    state
        .metrics()
        .policy_decision(policy.name(), &decision.rule, decision.kind());
    let next = engine::next(data, subject, &decision, &rule, now);
    let mut event = Event::new(
        event_types::POLICY_EVALUATE,
        actor(subject),
        match &next {
            Next::Allow { .. } => Outcome::Allow,
            Next::Deny { .. } => Outcome::Deny,
            Next::Ask => Outcome::Challenge,
        },
    )
    .detail("flow_id", id.to_string())
    .detail("policy", policy.name())
    .detail("rule", decision.rule.to_string())
    .detail("decision", decision.kind())
    .detail("login", identity.login.clone())
    .client_ip(data.client_ip.clone());
    if let Some(risk) = &data.risk {
        event = event
            .detail("risk", risk.level.as_str())
            .detail("risk_score", i64::from(risk.score))
            .detail("risk_signals", risk.signals.join(","));
    }
    if let Some(user) = &subject.user {
        event = event.user(user.id);
    }
    if let Some(app) = data.app.id {
        event = event.app(app);
    }
    match next {
        Next::Allow { satisfied_by } => {
            work.effects.push(Effect::Log(event));
            work.allow = Some(satisfied_by);
        }
        Next::Deny { code, message } => {
            // Name what the app requires when the only thing missing is biometrics on a device
            // that cannot do them (DESIGN 7: an explanation, not a generic failure).
            let no_biometrics = code == "unsatisfiable"
                && message.contains("biometric")
                && subject.has_active(AuthenticatorKey::Device)
                && !subject.devices.iter().any(|d| d.biometric_capable);
            let message = if no_biometrics {
                super::device::BIOMETRIC_UNAVAILABLE.to_owned()
            } else {
                message
            };
            work.effects
                .push(Effect::Log(event.detail("message", message.clone())));
            deny(state, data, work, code, &message, now);
        }
        Next::Ask => {
            let event = match &data.pending {
                Pending::Verify { options } => event.detail(
                    "options",
                    options
                        .iter()
                        .map(|o| format!("{}:{}", o.authenticator, o.method))
                        .collect::<Vec<_>>(),
                ),
                Pending::Enroll { options } => event.detail(
                    "enroll",
                    options
                        .iter()
                        .map(|o| o.authenticator.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => event,
            };
            work.effects.push(Effect::Log(event));
            ensure_code_sent(state, id, data, work, now)?;
        }
    }
    Ok(())
}

fn actor(subject: &Subject) -> Actor {
    subject
        .user
        .as_ref()
        .map_or(Actor::Anonymous, |u| Actor::User(u.id))
}

/// Ends the flow as denied, with the reason for the person and for the client.
fn deny(state: &AppState, data: &mut FlowData, _work: &mut Work, code: &str, message: &str, _now: Timestamp) {
    data.status = Status::Denied;
    data.pending = Pending::Done;
    data.current = None;
    data.messages.push(Message::error(code, message));
    data.redirect = Some(match &data.purpose {
        super::data::Purpose::Authorize { request } => crate::oidc::deny_redirect(state, request, message),
        super::data::Purpose::Dashboard { .. } => "/app?error=access_denied".to_owned(),
        super::data::Purpose::Enroll { return_to } => return_to.clone(),
    });
}

fn cancel(state: &AppState, data: &mut FlowData, work: &mut Work, now: Timestamp) {
    let mut event = Event::new(
        event_types::USER_AUTH_CANCEL,
        actor(&work.subject),
        Outcome::Failure,
    )
    .client_ip(data.client_ip.clone());
    if let Some(user) = &work.subject.user {
        event = event.user(user.id);
    }
    work.effects.push(Effect::Log(event));
    deny(state, data, work, "cancelled", "The sign-in was cancelled.", now);
}

async fn identify(
    state: &AppState,
    snapshot: Option<gatehouse_store::Read>,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    body: &IdentifyBody,
    now: Timestamp,
) -> Result<bool, StepError> {
    let login = body.login.trim();
    if login.is_empty() || login.chars().count() > 256 {
        data.messages
            .push(Message::error("invalid_login", "Enter your username."));
        return Ok(false);
    }
    // One snapshot for the user, their subject and their risk (the step's, when it has one).
    let mut snapshot = match snapshot {
        Some(snapshot) => snapshot,
        None => state.store().read()?,
    };
    let found = snapshot.users().by_login(login).await?;
    let read = found.clone();
    let usable = match found {
        Some(user) if user.status.can_sign_in() => Some(user),
        Some(user) if user.status == UserStatus::LockedOut && lockout_expired(state, &user, now) => {
            work.effects.push(Effect::Unlock { user: user.clone() });
            let mut unlocked = user;
            unlocked.status = UserStatus::Active;
            Some(unlocked)
        }
        _ => None,
    };
    let mut event = Event::new(
        event_types::USER_AUTH_IDENTIFY,
        usable.as_ref().map_or(Actor::Anonymous, |u| Actor::User(u.id)),
        if usable.is_some() {
            Outcome::Success
        } else {
            Outcome::Failure
        },
    )
    .detail("flow_id", id.to_string())
    .detail("login", login.to_owned())
    .client_ip(data.client_ip.clone());
    if let Some(user) = &usable {
        event = event.user(user.id);
    }
    work.effects.push(Effect::Log(event));
    data.identity = Some(Identity {
        login: login.to_owned(),
        user_id: usable.as_ref().map(|u| u.id),
        keep_signed_in: body.keep_signed_in,
    });
    work.subject = Subject::load_with(&mut snapshot, state, data, read).await?;
    if let (Some(user), Some(subject_user)) = (&usable, &mut work.subject.user) {
        // An expired lock-out is lifted in this step's transaction; read the user as unlocked.
        subject_user.status = user.status;
    }
    engine::score_risk(&mut snapshot, state, data, usable.as_ref()).await?;
    Ok(true)
}

fn lockout_expired(state: &AppState, user: &User, now: Timestamp) -> bool {
    let lasts = i64::try_from(state.config().lockout.duration.as_secs()).unwrap_or(i64::MAX);
    now.as_second().saturating_sub(user.status_changed_at.as_second()) >= lasts
}

/// The answer to `challenge-authenticator`.
async fn challenge(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    body: AnswerBody,
    now: Timestamp,
) -> Result<bool, StepError> {
    let Some(Current::Challenge {
        authenticator,
        method,
        ..
    }) = data.current.clone()
    else {
        data.messages
            .push(Message::error("select_first", "Choose how to verify first."));
        return Ok(false);
    };
    match authenticator {
        AuthenticatorKey::Password => {
            let Some(password) = body.password else {
                data.messages
                    .push(Message::error("missing_field", "Enter your password."));
                return Ok(false);
            };
            verify_password(state, id, data, work, password, now).await
        }
        AuthenticatorKey::Totp => {
            let Some(code) = body.code else {
                data.messages
                    .push(Message::error("missing_field", "Enter the code."));
                return Ok(false);
            };
            verify_totp(state, id, data, work, &code, now)
        }
        AuthenticatorKey::Email | AuthenticatorKey::Phone => {
            let Some(code) = body.code else {
                data.messages
                    .push(Message::error("missing_field", "Enter the code."));
                return Ok(false);
            };
            verify_sent_code(state, id, data, work, authenticator, method, &code, now)
        }
        AuthenticatorKey::Device if method == Method::Otp => {
            let Some(code) = body.code else {
                data.messages
                    .push(Message::error("missing_field", "Enter the code."));
                return Ok(false);
            };
            verify_device_otp(state, id, data, work, &code, now).await
        }
        AuthenticatorKey::Webauthn => verify_webauthn(state, id, data, work, body, now),
        other => {
            data.messages.push(Message::error(
                "unsupported_authenticator",
                format!("Verifying with `{other}` is not available here; choose another way."),
            ));
            Ok(false)
        }
    }
}

/// Checks a password. For a login that does not exist the same work is done and the same
/// answer given as for a wrong password.
pub async fn verify_password(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    password: String,
    now: Timestamp,
) -> Result<bool, StepError> {
    let enrollment = work
        .subject
        .active_enrollment(AuthenticatorKey::Password, Method::Password, None)
        .cloned();
    let hash = enrollment
        .as_ref()
        .and_then(|e| method_data::<PasswordData>(&e.data).ok())
        .map(|d| d.hash);
    let ok = match (&work.subject.user, hash) {
        (Some(_), Some(hash)) if password.len() <= 1024 => state.passwords().verify(password, hash).await?,
        _ => {
            let _ = state.passwords().verify_unknown(password).await?;
            false
        }
    };
    let result = record_result(
        data,
        work,
        id,
        enrollment.as_ref(),
        AuthenticatorKey::Password,
        Method::Password,
        ok,
        None,
        now,
    );
    if !ok {
        let (code, text) = messages::INVALID_CREDENTIALS;
        data.messages.push(Message::error(code, text));
    }
    Ok(result)
}

fn verify_totp(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    code: &str,
    now: Timestamp,
) -> Result<bool, StepError> {
    let wanted = match &data.current {
        Some(Current::Challenge { enrollment_id, .. }) => *enrollment_id,
        _ => None,
    };
    let enrollment = work
        .subject
        .active_enrollment(AuthenticatorKey::Totp, Method::Otp, wanted)
        .cloned();
    let matched = enrollment
        .as_ref()
        .map(|e| check_totp(state, e, code, now))
        .transpose()?
        .flatten();
    let ok = matched.is_some();
    let counter = matched.and_then(|step| i64::try_from(step).ok());
    let result = record_result(
        data,
        work,
        id,
        enrollment.as_ref(),
        AuthenticatorKey::Totp,
        Method::Otp,
        ok,
        counter,
        now,
    );
    if !ok {
        let (code, text) = messages::INVALID_CODE;
        data.messages.push(Message::error(code, text));
    }
    Ok(result)
}

/// Checks a Gatehouse Verify TOTP code (protocol 10) against the enrollment's sealed seed, only
/// for an active enrollment on an active device.
async fn verify_device_otp(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    code: &str,
    now: Timestamp,
) -> Result<bool, StepError> {
    let wanted = match &data.current {
        Some(Current::Challenge { enrollment_id, .. }) => *enrollment_id,
        _ => None,
    };
    let mut enrollment = work
        .subject
        .active_enrollment(AuthenticatorKey::Device, Method::Otp, wanted)
        .cloned();
    if let Some(device_id) = enrollment.as_ref().and_then(|e| e.device_id) {
        let active = state
            .store()
            .devices()
            .get(device_id)
            .await?
            .is_some_and(|d| d.status == gatehouse_core::device::DeviceStatus::Active);
        if !active {
            enrollment = None;
        }
    }
    let matched = match &enrollment {
        Some(e) => {
            let data = crate::verify::device_api::DeviceEnrollmentData::of(e)?;
            let opened = state
                .keyring()
                .open(&data.totp_secret_sealed, sealing_context(e.id).as_bytes())
                .map_err(|e| ServerError::Corrupt {
                    what: "a device TOTP seed".into(),
                    reason: e.to_string(),
                })?;
            let secret = TotpSecret::from_bytes(&opened.plaintext).map_err(ServerError::Crypto)?;
            let totp = Totp::new(
                &secret,
                TotpParams {
                    algorithm: gatehouse_crypto::TotpAlgorithm::Sha1,
                    digits: gatehouse_crypto::TotpDigits::from_count(6).map_err(ServerError::Crypto)?,
                },
            )
            .map_err(ServerError::Crypto)?;
            let last = e.counter.and_then(|c| u64::try_from(c).ok());
            totp.verify(code, u64::try_from(now.as_second()).unwrap_or(0), last)
        }
        None => None,
    };
    let ok = matched.is_some();
    let counter = matched.and_then(|step| i64::try_from(step).ok());
    let result = record_result(
        data,
        work,
        id,
        enrollment.as_ref(),
        AuthenticatorKey::Device,
        Method::Otp,
        ok,
        counter,
        now,
    );
    if !ok {
        let (code, text) = messages::INVALID_CODE;
        data.messages.push(Message::error(code, text));
    }
    Ok(result)
}

/// The step a TOTP code matches on this enrollment (never one at or before its last accepted).
fn check_totp(
    state: &AppState,
    enrollment: &Enrollment,
    code: &str,
    now: Timestamp,
) -> Result<Option<u64>, ServerError> {
    let totp = totp_of(state, enrollment)?;
    let last = enrollment.counter.and_then(|c| u64::try_from(c).ok());
    let unix = u64::try_from(now.as_second()).unwrap_or(0);
    Ok(totp.verify(code, unix, last))
}

fn totp_of(state: &AppState, enrollment: &Enrollment) -> Result<Totp, ServerError> {
    let corrupt = |reason: String| ServerError::Corrupt {
        what: format!("totp enrollment {}", enrollment.id),
        reason,
    };
    let data: TotpData = method_data(&enrollment.data).map_err(|e| corrupt(e.to_string()))?;
    let opened = state
        .keyring()
        .open(&data.secret_sealed, sealing_context(enrollment.id).as_bytes())
        .map_err(|e| corrupt(e.to_string()))?;
    let secret = TotpSecret::from_bytes(&opened.plaintext).map_err(|e| corrupt(e.to_string()))?;
    let params = TotpParams {
        algorithm: data
            .algorithm
            .parse()
            .map_err(|e: gatehouse_crypto::CryptoError| corrupt(e.to_string()))?,
        digits: gatehouse_crypto::TotpDigits::from_count(data.digits).map_err(|e| corrupt(e.to_string()))?,
    };
    Totp::new(&secret, params).map_err(|e| corrupt(e.to_string()))
}

#[expect(
    clippy::too_many_arguments,
    reason = "one check with its flow, answer and time"
)]
fn verify_sent_code(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    authenticator: AuthenticatorKey,
    method: Method,
    code: &str,
    now: Timestamp,
) -> Result<bool, StepError> {
    let (enrollment_id, sent) = match &mut data.current {
        Some(Current::Challenge {
            enrollment_id, otp, ..
        }) => (*enrollment_id, otp),
        _ => return Ok(false),
    };
    let verdict = check_sent_code(id, sent.as_mut(), code, now);
    let enrollment = work
        .subject
        .active_enrollment(authenticator, method, enrollment_id)
        .cloned();
    match verdict {
        CodeVerdict::Right => Ok(record_result(
            data,
            work,
            id,
            enrollment.as_ref(),
            authenticator,
            method,
            true,
            None,
            now,
        )),
        CodeVerdict::Wrong => {
            record_result(
                data,
                work,
                id,
                enrollment.as_ref(),
                authenticator,
                method,
                false,
                None,
                now,
            );
            let (code, text) = messages::INVALID_CODE;
            data.messages.push(Message::error(code, text));
            Ok(false)
        }
        CodeVerdict::Exhausted { expired } => {
            record_result(
                data,
                work,
                id,
                enrollment.as_ref(),
                authenticator,
                method,
                false,
                None,
                now,
            );
            let (code, text) = if expired {
                messages::CODE_EXPIRED
            } else {
                messages::TOO_MANY_ATTEMPTS
            };
            data.messages.push(Message::error(code, text));
            if let Some(Current::Challenge { otp, .. }) = &mut data.current {
                *otp = None;
            }
            ensure_code_sent(state, id, data, work, now)?;
            Ok(false)
        }
    }
}

enum CodeVerdict {
    Right,
    Wrong,
    /// Expired or out of attempts: a new code must be sent.
    Exhausted {
        expired: bool,
    },
}

fn check_sent_code(id: FlowId, sent: Option<&mut SentCode>, code: &str, now: Timestamp) -> CodeVerdict {
    let Some(sent) = sent else {
        return CodeVerdict::Exhausted { expired: true };
    };
    if now >= sent.expires_at {
        return CodeVerdict::Exhausted { expired: true };
    }
    sent.attempts += 1;
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let presented = digest::sha256_hex(format!("{id}:{code}").as_bytes());
    if constant_time_eq(presented.as_bytes(), sent.digest.as_bytes()) {
        CodeVerdict::Right
    } else if sent.attempts >= CODE_MAX_ATTEMPTS {
        CodeVerdict::Exhausted { expired: false }
    } else {
        CodeVerdict::Wrong
    }
}

/// Records a verification's result: a flow record and a use on success, a failure (counted for
/// lock-out) otherwise, and the log event either way. Returns whether it succeeded.
#[expect(clippy::too_many_arguments, reason = "one verification's facts")]
fn record_result(
    data: &mut FlowData,
    work: &mut Work,
    id: FlowId,
    enrollment: Option<&Enrollment>,
    authenticator: AuthenticatorKey,
    method: Method,
    ok: bool,
    counter: Option<i64>,
    now: Timestamp,
) -> bool {
    let facts = VerificationFacts {
        hardware_protected: enrollment.is_some_and(|e| e.hardware_protected),
        user_verification: UserVerification::None,
        user_confirmed: false,
        idp_factor: None,
    };
    record_result_with(
        data,
        work,
        id,
        enrollment,
        (authenticator, method),
        ok.then_some(&facts),
        counter,
        now,
    )
}

/// [`record_result`] with the facts the verification established (`None`: it failed).
#[expect(clippy::too_many_arguments, reason = "one verification's facts")]
fn record_result_with(
    data: &mut FlowData,
    work: &mut Work,
    id: FlowId,
    enrollment: Option<&Enrollment>,
    (authenticator, method): (AuthenticatorKey, Method),
    facts: Option<&VerificationFacts>,
    counter: Option<i64>,
    now: Timestamp,
) -> bool {
    let ok = facts.is_some();
    let mut event = Event::new(
        event_types::USER_AUTH_VERIFY,
        actor(&work.subject),
        if ok { Outcome::Success } else { Outcome::Failure },
    )
    .detail("flow_id", id.to_string())
    .detail("authenticator", authenticator.as_str())
    .detail("method", method.as_str())
    .client_ip(data.client_ip.clone());
    if let Some(user) = &work.subject.user {
        event = event.user(user.id);
    }
    work.effects.push(Effect::Log(event));
    let Some(user) = work.subject.user.clone() else {
        return false;
    };
    let Some(facts) = facts else {
        work.effects.push(Effect::Failure { user });
        return false;
    };
    let Some(proof) = prove(authenticator, method, facts) else {
        return false;
    };
    if let Some(enrollment) = enrollment {
        work.effects.push(Effect::RecordUse {
            enrollment: enrollment.id,
            counter,
        });
    }
    work.effects.push(Effect::Success { user });
    data.records.push(FlowRecord {
        id: new_id(),
        authenticator,
        method,
        enrollment_id: enrollment.map(|e| e.id),
        device_id: enrollment.and_then(|e| e.device_id),
        verified_at: now,
        proof,
    });
    data.current = None;
    true
}

/// Whether the current step's `webauthn` option accepts a verification with these facts (DESIGN
/// 3: UV `any` only with the assertion's UV flag); the refusal for the person otherwise.
fn webauthn_accepted(data: &FlowData, facts: &VerificationFacts, now: Timestamp) -> Result<(), Message> {
    let Pending::Verify { options } = &data.pending else {
        return Ok(());
    };
    let Some(option) = options
        .iter()
        .find(|o| o.authenticator == AuthenticatorKey::Webauthn && o.method == Method::Webauthn)
    else {
        return Ok(());
    };
    let Some(proof) = prove(AuthenticatorKey::Webauthn, Method::Webauthn, facts) else {
        return Ok(());
    };
    let record = gatehouse_policy::VerificationRecord {
        authenticator: AuthenticatorKey::Webauthn,
        method: Method::Webauthn,
        proof,
        at: now,
        in_flow: true,
        enrollment_id: None,
    };
    option
        .accepts(&record)
        .map_err(|refusal| match refusal.constraint {
            Some(gatehouse_policy::Constraint::UserVerification) => {
                let (code, text) = super::webauthn::UV_REQUIRED;
                Message::error(code, text)
            }
            _ => Message::error("constraint_not_met", capitalise(&refusal.message)),
        })
}

/// Logs a refused WebAuthn answer (not counted for lock-out: the person held a real key, or the
/// browser sent something that is no credential at all).
fn log_webauthn_refusal(data: &FlowData, work: &mut Work, id: FlowId, reason: &str) {
    let mut event = Event::new(
        event_types::USER_AUTH_VERIFY,
        actor(&work.subject),
        Outcome::Failure,
    )
    .detail("flow_id", id.to_string())
    .detail("authenticator", AuthenticatorKey::Webauthn.as_str())
    .detail("method", Method::Webauthn.as_str())
    .detail("reason", reason.to_owned())
    .client_ip(data.client_ip.clone());
    if let Some(user) = &work.subject.user {
        event = event.user(user.id);
    }
    work.effects.push(Effect::Log(event));
}

/// The `credential` of a WebAuthn answer and the flow's ceremony of `kind`, or a message.
fn webauthn_answer(
    data: &mut FlowData,
    body: AnswerBody,
    kind: super::webauthn::CeremonyKind,
) -> Option<(Value, super::webauthn::Ceremony)> {
    let Some(answer) = body.credential else {
        data.messages.push(Message::error(
            "missing_field",
            "Use your security key or passkey when your browser asks.",
        ));
        return None;
    };
    let Some(ceremony) = super::webauthn::take(data, kind) else {
        data.messages.push(Message::error(
            "ceremony_expired",
            "That security key request has been used or has expired; try again.",
        ));
        return None;
    };
    Some((answer, ceremony))
}

/// Checks a WebAuthn assertion for the current `webauthn` challenge. The assertion proves user
/// verification `any` only with its UV flag set; a step whose rule demands it refuses one
/// without, saying why (DESIGN 3).
fn verify_webauthn(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    body: AnswerBody,
    now: Timestamp,
) -> Result<bool, StepError> {
    use super::webauthn::{self as wa, CeremonyKind};
    let Some((answer, ceremony)) = webauthn_answer(data, body, CeremonyKind::Authenticate) else {
        return Ok(false);
    };
    if ceremony.user_id != work.subject.user.as_ref().map(|u| u.id) {
        data.messages.push(Message::error(
            "ceremony_expired",
            "That security key request has been used or has expired; try again.",
        ));
        return Ok(false);
    }
    let checked = match wa::parse_assertion(&answer) {
        Ok(assertion) => wa::finish_assertion(state, &ceremony, &assertion, &work.subject.enrollments)?,
        Err(refusal) => Err(refusal),
    };
    let asserted = match checked {
        Ok(asserted) => asserted,
        Err(refusal) => {
            if refusal.code == "invalid_credential" || refusal.code == "unknown_credential" {
                // A signature that does not verify counts like a wrong code.
                record_result_with(
                    data,
                    work,
                    id,
                    None,
                    (AuthenticatorKey::Webauthn, Method::Webauthn),
                    None,
                    None,
                    now,
                );
            } else {
                log_webauthn_refusal(data, work, id, refusal.code);
            }
            data.messages.push(Message::error(refusal.code, refusal.text));
            return Ok(false);
        }
    };
    let facts = asserted.facts();
    if let Err(message) = webauthn_accepted(data, &facts, now) {
        log_webauthn_refusal(data, work, id, &message.code);
        data.messages.push(message);
        return Ok(false);
    }
    Ok(record_result_with(
        data,
        work,
        id,
        Some(&asserted.enrollment),
        (AuthenticatorKey::Webauthn, Method::Webauthn),
        Some(&facts),
        asserted.counter,
        now,
    ))
}

/// Passwordless sign-in from the identify screen: a discoverable-credential assertion whose
/// `userHandle` names the user and whose signature proves it (DESIGN 5). It reveals nothing
/// about other accounts, so user enumeration prevention does not apply (DESIGN 4.4).
async fn passkey_sign_in(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    body: AnswerBody,
    now: Timestamp,
) -> Result<bool, StepError> {
    use super::webauthn::{self as wa, CeremonyKind};
    let keep_signed_in = body.keep_signed_in;
    let Some((answer, ceremony)) = webauthn_answer(data, body, CeremonyKind::Discover) else {
        return Ok(false);
    };
    let assertion = match wa::parse_assertion(&answer) {
        Ok(a) => a,
        Err(refusal) => {
            data.messages.push(Message::error(refusal.code, refusal.text));
            return Ok(false);
        }
    };
    let user = match wa::user_handle(&assertion) {
        Some(user_id) => state.store().users().get(user_id).await?,
        None => None,
    }
    .filter(|u| u.status.can_sign_in());
    let enrollments = match &user {
        Some(u) => state.store().enrollments().of_user(u.id).await?,
        None => Vec::new(),
    };
    let checked = match &user {
        Some(_) => wa::finish_assertion(state, &ceremony, &assertion, &enrollments)?,
        None => Err(wa::Refusal {
            code: "unknown_credential",
            text: "That passkey is not set up for an account here.".to_owned(),
        }),
    };
    let (Some(user), Ok(asserted)) = (user, checked.clone()) else {
        let reason = checked.err().map_or("unknown_credential", |r| r.code);
        log_webauthn_refusal(data, work, id, reason);
        let text = match reason {
            "unknown_credential" => "That passkey is not set up for an account here.",
            "possible_clone" => {
                "This passkey's signature counter went backwards, which happens when a key has been copied. It was refused; ask your administrator."
            }
            _ => "The passkey could not be verified. Try again, or sign in with your username.",
        };
        data.messages.push(Message::error(reason, text));
        return Ok(false);
    };
    work.effects.push(Effect::Log(
        Event::new(
            event_types::USER_AUTH_IDENTIFY,
            Actor::User(user.id),
            Outcome::Success,
        )
        .user(user.id)
        .detail("flow_id", id.to_string())
        .detail("login", user.login.as_str().to_owned())
        .detail("method", "passkey")
        .client_ip(data.client_ip.clone()),
    ));
    data.identity = Some(Identity::of(&user, keep_signed_in));
    let mut snapshot = state.store().read()?;
    work.subject = Subject::load_with(&mut snapshot, state, data, Some(user)).await?;
    engine::score_risk(&mut snapshot, state, data, work.subject.user.as_ref()).await?;
    drop(snapshot);
    let facts = asserted.facts();
    Ok(record_result_with(
        data,
        work,
        id,
        Some(&asserted.enrollment),
        (AuthenticatorKey::Webauthn, Method::Webauthn),
        Some(&facts),
        asserted.counter,
        now,
    ))
}

fn select(data: &mut FlowData, work: &Work, options: &[StepOption], body: &SelectBody) {
    let chosen = options.iter().find(|o| {
        o.authenticator == body.authenticator
            && body.method.is_none_or(|m| m == o.method)
            && body
                .id
                .as_ref()
                .is_none_or(|id| o.enrollment_ids.is_empty() || o.enrollment_ids.contains(id))
    });
    let Some(option) = chosen else {
        data.messages.push(Message::error(
            "option_unavailable",
            "That way of verifying is not offered for this sign-in; choose one of the options.",
        ));
        return;
    };
    let wanted = body
        .id
        .as_deref()
        .and_then(|id| EnrollmentId::parse(id).ok())
        .or_else(|| engine::first_enrollment_id(option));
    let enrollment_id = work
        .subject
        .active_enrollment(option.authenticator, option.method, wanted)
        .map(|e| e.id);
    data.current = Some(Current::Challenge {
        authenticator: option.authenticator,
        method: option.method,
        enrollment_id,
        otp: None,
        device: None,
    });
}

/// Sends a code for the current email or SMS challenge (or enrollment) when none is pending.
fn ensure_code_sent(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    now: Timestamp,
) -> Result<(), ServerError> {
    let destination = |authenticator: AuthenticatorKey, enrollment: Option<&Enrollment>| -> Option<String> {
        match authenticator {
            AuthenticatorKey::Email => enrollment
                .and_then(|e| e.data.get("email").and_then(Value::as_str).map(str::to_owned))
                .or_else(|| work.subject.user.as_ref().map(|u| u.email.as_str().to_owned())),
            AuthenticatorKey::Phone => {
                enrollment.and_then(|e| e.data.get("phone").and_then(Value::as_str).map(str::to_owned))
            }
            _ => None,
        }
    };
    let (authenticator, to, otp) = match &mut data.current {
        Some(Current::Challenge {
            authenticator,
            method,
            enrollment_id,
            otp,
            ..
        }) if otp.is_none() && matches!(authenticator, AuthenticatorKey::Email | AuthenticatorKey::Phone) => {
            let enrollment = work
                .subject
                .active_enrollment(*authenticator, *method, *enrollment_id);
            (*authenticator, destination(*authenticator, enrollment), otp)
        }
        Some(Current::Enroll {
            authenticator: AuthenticatorKey::Email,
            otp,
            ..
        }) if otp.is_none() => (
            AuthenticatorKey::Email,
            destination(AuthenticatorKey::Email, None),
            otp,
        ),
        Some(Current::Enroll {
            authenticator: AuthenticatorKey::Phone,
            phone: Some(phone),
            otp,
            ..
        }) if otp.is_none() => (AuthenticatorKey::Phone, Some(phone.clone()), otp),
        _ => return Ok(()),
    };
    let Some(to) = to else {
        return Ok(());
    };
    let code = format!(
        "{:06}",
        u32::from_le_bytes(gatehouse_crypto::random::bytes::<4>()) % 1_000_000
    );
    *otp = Some(SentCode {
        digest: digest::sha256_hex(format!("{id}:{code}").as_bytes()),
        expires_at: now
            .checked_add(jiff::SignedDuration::from_secs(CODE_LIFETIME_SECONDS))
            .unwrap_or(now),
        attempts: 0,
        sent_to: mask(&to),
    });
    let app = &data.app.name;
    work.outgoing.push(match authenticator {
        AuthenticatorKey::Phone => Outgoing::Sms {
            to,
            text: format!("{code} is your Gatehouse code for {app}. It expires in 5 minutes."),
        },
        _ => Outgoing::Email {
            to,
            subject: format!("Your Gatehouse code: {code}"),
            text: format!(
                "Your code to sign in to {app} is {code}.\nIt expires in 5 minutes. If you did not ask for it, ignore this email."
            ),
        },
    });
    let _ = state;
    Ok(())
}

/// The authenticators this flow can enroll inline (devices enroll through Gatehouse Verify).
pub fn enrollable(authenticator: AuthenticatorKey) -> bool {
    matches!(
        authenticator,
        AuthenticatorKey::Password
            | AuthenticatorKey::Totp
            | AuthenticatorKey::Email
            | AuthenticatorKey::Phone
            | AuthenticatorKey::Webauthn
    )
}

pub fn select_enroll(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    authenticator: AuthenticatorKey,
    offered: bool,
    now: Timestamp,
) -> Result<(), ServerError> {
    if !offered {
        data.messages.push(Message::error(
            "option_unavailable",
            "That authenticator is not one you can set up for this sign-in.",
        ));
        return Ok(());
    }
    if !enrollable(authenticator) {
        data.messages.push(Message::error(
            "unsupported_authenticator",
            format!("Setting up `{authenticator}` is not available here; choose another option."),
        ));
        return Ok(());
    }
    let totp_secret_sealed = (authenticator == AuthenticatorKey::Totp).then(|| {
        let secret = TotpSecret::generate();
        state
            .keyring()
            .seal(secret.as_bytes(), flow_sealing_context(id).as_bytes())
    });
    data.current = Some(Current::Enroll {
        authenticator,
        method: default_method(authenticator),
        totp_secret_sealed,
        phone: None,
        otp: None,
    });
    ensure_code_sent(state, id, data, work, now)
}

/// Associated data of secrets sealed into a flow's state.
pub fn flow_sealing_context(id: FlowId) -> String {
    format!("flows:{id}")
}

/// The TOTP seed being enrolled in a flow.
pub fn enrolling_totp(state: &AppState, id: FlowId, sealed: &str) -> Result<TotpSecret, ServerError> {
    let opened = state
        .keyring()
        .open(sealed, flow_sealing_context(id).as_bytes())
        .map_err(|e| ServerError::Corrupt {
            what: format!("flow {id}"),
            reason: e.to_string(),
        })?;
    TotpSecret::from_bytes(&opened.plaintext).map_err(ServerError::Crypto)
}

async fn enroll(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut Work,
    body: AnswerBody,
    now: Timestamp,
) -> Result<bool, StepError> {
    let Some(Current::Enroll {
        authenticator,
        method,
        totp_secret_sealed,
        phone,
        otp,
    }) = data.current.clone()
    else {
        data.messages
            .push(Message::error("select_first", "Choose what to set up first."));
        return Ok(false);
    };
    let Some(user) = work.subject.user.clone() else {
        return Ok(false);
    };
    let mut enrolled_uv = UserVerification::None;
    let mut new = Enrollment {
        id: new_id(),
        user_id: user.id,
        authenticator,
        methods: vec![method],
        status: EnrollmentStatus::Active,
        name: None,
        data: json!({}),
        hardware_protected: false,
        user_verification: UserVerification::None,
        device_id: None,
        counter: None,
        created_at: now,
        updated_at: now,
        last_used_at: Some(now),
    };
    match authenticator {
        AuthenticatorKey::Password => {
            let Some(password) = body.password else {
                data.messages
                    .push(Message::error("missing_field", "Choose a password."));
                return Ok(false);
            };
            if let Err(reason) = crate::passwords::Passwords::check_policy(&password) {
                data.messages
                    .push(Message::error("weak_password", capitalise(&reason)));
                return Ok(false);
            }
            let hash = state.passwords().hash(password).await?;
            new.data = serde_json::to_value(PasswordData { hash }).map_err(|e| bad_state(&e))?;
        }
        AuthenticatorKey::Totp => {
            let (Some(sealed), Some(code)) = (totp_secret_sealed, body.code) else {
                data.messages
                    .push(Message::error("missing_field", "Enter the code your app shows."));
                return Ok(false);
            };
            let secret = enrolling_totp(state, id, &sealed)?;
            let totp = Totp::new(&secret, TotpParams::default()).map_err(ServerError::Crypto)?;
            let unix = u64::try_from(now.as_second()).unwrap_or(0);
            let Some(step) = totp.verify(&code, unix, None) else {
                let (code, text) = messages::INVALID_CODE;
                data.messages.push(Message::error(code, text));
                return Ok(false);
            };
            let params = TotpParams::default();
            new.counter = i64::try_from(step).ok();
            new.name = Some("Authenticator app".to_owned());
            new.data = serde_json::to_value(TotpData {
                secret_sealed: state
                    .keyring()
                    .seal(secret.as_bytes(), sealing_context(new.id).as_bytes()),
                algorithm: params.algorithm.as_str().to_owned(),
                digits: params.digits.count(),
                period: 30,
            })
            .map_err(|e| bad_state(&e))?;
        }
        AuthenticatorKey::Email | AuthenticatorKey::Phone => {
            if authenticator == AuthenticatorKey::Phone && phone.is_none() {
                let Some(number) = body.phone_number.as_deref().map(normalise_phone) else {
                    data.messages
                        .push(Message::error("missing_field", "Enter your mobile number."));
                    return Ok(false);
                };
                let Some(number) = number else {
                    data.messages.push(Message::error(
                        "invalid_phone_number",
                        "Enter the number in international form, such as +15551234567.",
                    ));
                    return Ok(false);
                };
                if let Some(Current::Enroll { phone, .. }) = &mut data.current {
                    *phone = Some(number);
                }
                ensure_code_sent(state, id, data, work, now)?;
                return Ok(false);
            }
            let Some(code) = body.code else {
                data.messages
                    .push(Message::error("missing_field", "Enter the code."));
                return Ok(false);
            };
            let mut sent = otp;
            match check_sent_code(id, sent.as_mut(), &code, now) {
                CodeVerdict::Right => {}
                verdict => {
                    let exhausted = matches!(verdict, CodeVerdict::Exhausted { .. });
                    if let Some(Current::Enroll { otp, .. }) = &mut data.current {
                        *otp = if exhausted { None } else { sent };
                    }
                    let (code, text) = messages::INVALID_CODE;
                    data.messages.push(Message::error(code, text));
                    ensure_code_sent(state, id, data, work, now)?;
                    return Ok(false);
                }
            }
            new.data = if authenticator == AuthenticatorKey::Email {
                json!({"email": user.email.as_str()})
            } else {
                json!({"phone": phone})
            };
        }
        AuthenticatorKey::Webauthn => {
            let Some(answer) = body.credential else {
                data.messages.push(Message::error(
                    "missing_field",
                    "Use your security key or passkey when your browser asks.",
                ));
                return Ok(false);
            };
            let Some(ceremony) = super::webauthn::take(data, super::webauthn::CeremonyKind::Register) else {
                data.messages.push(Message::error(
                    "ceremony_expired",
                    "That request has been used or has expired; try again.",
                ));
                return Ok(false);
            };
            match super::webauthn::finish_registration(state, &ceremony, &answer)? {
                Ok(registered) => {
                    // Tells several passkeys apart on `/app` and in the admin API.
                    new.name = Some(format!("Passkey added {}", now.strftime("%Y-%m-%d %H:%M UTC")));
                    new.hardware_protected = registered.hardware_protected;
                    // The credential may verify its user: each assertion's UV flag says whether
                    // it did (DESIGN 3), so the enrollment offers `any` and the step checks.
                    new.user_verification = UserVerification::Any;
                    new.counter = (registered.counter > 0).then_some(i64::from(registered.counter));
                    enrolled_uv = if registered.user_verified {
                        UserVerification::Any
                    } else {
                        UserVerification::None
                    };
                    new.data = serde_json::to_value(&registered.data).map_err(|e| bad_state(&e))?;
                }
                Err(refusal) => {
                    data.messages.push(Message::error(refusal.code, refusal.text));
                    return Ok(false);
                }
            }
        }
        other => {
            data.messages.push(Message::error(
                "unsupported_authenticator",
                format!("Setting up `{other}` is not available here."),
            ));
            return Ok(false);
        }
    }
    work.effects.push(Effect::Log(
        Event::new(
            event_types::USER_ENROLLMENT_CREATE,
            Actor::User(user.id),
            Outcome::Success,
        )
        .user(user.id)
        .detail("enrollment_id", new.id.to_string())
        .detail("authenticator", authenticator.as_str())
        .detail("flow_id", id.to_string())
        .client_ip(data.client_ip.clone()),
    ));
    work.effects.push(Effect::CreateEnrollment(new.clone()));
    work.subject.enrollments.push(new.clone());
    // Setting it up proved possession of it: it counts as a verification in this flow.
    let facts = VerificationFacts {
        hardware_protected: new.hardware_protected,
        user_verification: enrolled_uv,
        ..VerificationFacts::default()
    };
    if let Some(proof) = prove(authenticator, method, &facts) {
        data.records.push(FlowRecord {
            id: new_id(),
            authenticator,
            method,
            enrollment_id: Some(new.id),
            device_id: None,
            verified_at: now,
            proof,
        });
    }
    data.current = None;
    Ok(true)
}

fn bad_state(e: &serde_json::Error) -> ServerError {
    ServerError::Corrupt {
        what: "enrollment data".to_owned(),
        reason: e.to_string(),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// `+15551234567` from `+1 (555) 123-4567`; `None` unless it is `+` and 8 to 15 digits.
fn normalise_phone(input: &str) -> Option<String> {
    let trimmed = input.trim();
    let rest = trimmed.strip_prefix('+')?;
    let digits: String = rest
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    (digits.len() >= 8 && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit()))
        .then(|| format!("+{digits}"))
}

/// The lock-out transition for a user who reached the failure limit.
pub fn lock_out(user: &mut User, now: Timestamp) -> bool {
    user.transition(LifecycleAction::LockOut, now).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_normalised_or_refused() {
        assert_eq!(
            normalise_phone("+1 (555) 123-4567").as_deref(),
            Some("+15551234567")
        );
        assert_eq!(normalise_phone("5551234567"), None);
        assert_eq!(normalise_phone("+12"), None);
    }

    #[test]
    fn a_sent_code_is_right_once_wrong_counts_and_expires() {
        let id = FlowId::from_uuid(uuid::Uuid::from_u128(7));
        let now = Timestamp::from_second(1_000).unwrap();
        let mut sent = SentCode {
            digest: digest::sha256_hex(format!("{id}:123456").as_bytes()),
            expires_at: Timestamp::from_second(1_300).unwrap(),
            attempts: 0,
            sent_to: String::new(),
        };
        assert!(matches!(
            check_sent_code(id, Some(&mut sent), "000000", now),
            CodeVerdict::Wrong
        ));
        assert!(matches!(
            check_sent_code(id, Some(&mut sent), "123 456", now),
            CodeVerdict::Right
        ));
        let later = Timestamp::from_second(1_300).unwrap();
        assert!(matches!(
            check_sent_code(id, Some(&mut sent), "123456", later),
            CodeVerdict::Exhausted { expired: true }
        ));
        sent.attempts = CODE_MAX_ATTEMPTS - 1;
        assert!(matches!(
            check_sent_code(id, Some(&mut sent), "999999", now),
            CodeVerdict::Exhausted { expired: false }
        ));
    }
}
