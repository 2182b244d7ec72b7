//! What the sign-in flow knows about device challenges (DESIGN 7, protocol 9): the context of the
//! user-verification key guards, and the notice sent when a key was added during a sign-in.

use gatehouse_core::device::{ChallengeAudience, ChallengeKind, EnrollmentId as CoreEnrollmentId};
use gatehouse_core::model::{Actor, Device, Enrollment, EnrollmentId, FlowId, Outcome, event_types};
use gatehouse_policy::{AuthenticatorKey, EnrollKind, Method, UserVerification, VerificationFacts, prove};
use gatehouse_store::{StoredChallenge, Tx, new_id};

use super::data::{Current, DeviceChallenge, FlowData, FlowRecord, Message, Pending, ProvenDevice, Status};
use super::delivery::Outgoing;
use super::steps::Effect;
use crate::audit::Event;
use crate::verify::challenges::{self, ChallengeSpec};
use crate::{AppState, ServerError};

/// The flow facts [`gatehouse_core::device::UvKeyFlowContext`] is built from.
#[derive(Debug, Clone, Default)]
pub struct UvKeyContext {
    pub flow_live: bool,
    /// The challenge id of the flow's current `enroll-user-verification` remediation.
    pub requested: Option<String>,
    pub earlier_steps_passed: bool,
    pub keys_added: u32,
}

async fn flow_data(
    state: &AppState,
    tx: &mut Tx,
    flow_id: &str,
) -> Result<Option<(FlowData, bool)>, ServerError> {
    let Ok(id) = FlowId::parse(flow_id) else {
        return Ok(None);
    };
    let Some(flow) = tx.flows().get(id).await? else {
        return Ok(None);
    };
    let expired = flow.is_expired(state.now());
    let data: FlowData = serde_json::from_str(&flow.state).map_err(|e| ServerError::Corrupt {
        what: format!("flow {flow_id}"),
        reason: e.to_string(),
    })?;
    Ok(Some((data, !expired)))
}

/// The guards' view of the flow an `enroll_user_verification` challenge belongs to.
pub async fn uv_key_context(
    state: &AppState,
    tx: &mut Tx,
    challenge: &StoredChallenge,
) -> Result<UvKeyContext, ServerError> {
    let Some(flow_id) = challenge.flow_id.as_deref() else {
        return Ok(UvKeyContext::default());
    };
    let Some((data, unexpired)) = flow_data(state, tx, flow_id).await? else {
        return Ok(UvKeyContext::default());
    };
    let challenges = tx.device_challenges().of_flow(flow_id).await?;
    // The newest enrollment challenge of the flow is the one its remediation shows.
    let requested = challenges
        .iter()
        .find(|c| c.issued.binding.kind == ChallengeKind::EnrollUserVerification)
        .map(|c| c.issued.binding.id.as_str().to_owned());
    let keys_added = challenges
        .iter()
        .filter(|c| {
            c.outcome
                .as_ref()
                .and_then(|o| o.get("result"))
                .and_then(serde_json::Value::as_str)
                == Some("user_verification_key_added")
        })
        .count()
        .max(usize::try_from(data.uv_keys_added).unwrap_or(usize::MAX));
    // The earlier steps passed when the user is identified, something was verified in this flow,
    // and the policy's decision is a remediation that this user-verification key alone completes
    // (one of its options is this key on the challenged enrollment).
    let audience = match &challenge.issued.audience {
        ChallengeAudience::Enrollment(e) => Some(e.as_str().to_owned()),
        _ => None,
    };
    let only_device_left = match &data.pending {
        Pending::Enroll { options } => options.iter().any(|o| {
            o.authenticator == AuthenticatorKey::Device
                && o.kind == EnrollKind::UserVerificationKey
                && o.enrollment_id.is_some()
                && o.enrollment_id == audience
        }),
        _ => false,
    };
    let earlier_steps_passed = data.identity.as_ref().is_some_and(|i| i.user_id.is_some())
        && !data.records.is_empty()
        && only_device_left;
    Ok(UvKeyContext {
        flow_live: unexpired && data.status == Status::InProgress,
        requested,
        earlier_steps_passed,
        keys_added: u32::try_from(keys_added).unwrap_or(u32::MAX),
    })
}

/// Notifies the user that a user-verification key was added to their Verify enrollment during a
/// sign-in (email outbox); returns whether a notice was sent.
pub async fn user_verification_key_added(
    state: &AppState,
    tx: &mut Tx,
    enrollment: &Enrollment,
    device: &Device,
    challenge: &StoredChallenge,
    level: UserVerification,
) -> Result<bool, ServerError> {
    let Some(user) = tx.users().get(enrollment.user_id).await? else {
        return Ok(false);
    };
    let (app, ip) = match challenge.flow_id.as_deref() {
        Some(flow_id) => match flow_data(state, tx, flow_id).await? {
            Some((data, _)) => (data.app.name, data.client_ip),
            None => ("an app".to_owned(), "an unknown address".to_owned()),
        },
        None => ("an app".to_owned(), "an unknown address".to_owned()),
    };
    let kind = if level == UserVerification::Biometric {
        "A biometric key"
    } else {
        "A user-verification key"
    };
    let text = format!(
        "{kind} was added to Gatehouse Verify on {} during a sign-in to {app} from {ip}. If this was not \
         you, contact your administrator and have the device deactivated.\n",
        device.display_name
    );
    let message = Outgoing::Email {
        to: user.email.as_str().to_owned(),
        subject: "A key was added to Gatehouse Verify".to_owned(),
        text,
    };
    match state.flow().delivery().send(&message, state.clock()).await {
        Ok(()) => Ok(true),
        Err(e) => {
            tracing::warn!(error = %e, "could not notify the user of a new user-verification key");
            Ok(false)
        }
    }
}

/// The device step the flow is on, if any: `(method, enrollment, challenge, uv level wanted)`.
fn device_step(data: &FlowData) -> Option<DeviceStep> {
    match (&data.pending, &data.current) {
        (
            Pending::Identify,
            Some(Current::Challenge {
                authenticator: AuthenticatorKey::Device,
                method: Method::Fastpass,
                device,
                ..
            }),
        ) => Some(DeviceStep {
            method: Method::Fastpass,
            enrollment_id: None,
            challenge: device.clone(),
            level: UserVerification::None,
            number_matching: false,
            enroll_user_verification: false,
        }),
        (
            Pending::Verify { options },
            Some(Current::Challenge {
                authenticator: AuthenticatorKey::Device,
                method: method @ (Method::Push | Method::Fastpass),
                enrollment_id,
                device,
                ..
            }),
        ) => {
            let constraints = options
                .iter()
                .find(|o| o.authenticator == AuthenticatorKey::Device && o.method == *method)
                .map(|o| o.constraints)
                .unwrap_or_default();
            Some(DeviceStep {
                method: *method,
                enrollment_id: *enrollment_id,
                challenge: device.clone(),
                level: constraints.user_verification,
                // The policy's `number_matching` (kept on push options only).
                number_matching: constraints.number_matching && *method == Method::Push,
                enroll_user_verification: false,
            })
        }
        (Pending::Enroll { options }, current) => {
            let option = options.iter().find(|o| {
                o.authenticator == AuthenticatorKey::Device && o.kind == EnrollKind::UserVerificationKey
            })?;
            let enrollment_id = option
                .enrollment_id
                .as_deref()
                .and_then(|id| EnrollmentId::parse(id).ok());
            let challenge = match current {
                Some(Current::Challenge { device, .. }) => device.clone(),
                _ => None,
            };
            Some(DeviceStep {
                method: Method::Push,
                enrollment_id,
                challenge,
                level: if option.constraints.user_verification == UserVerification::None {
                    UserVerification::Biometric
                } else {
                    option.constraints.user_verification
                },
                number_matching: false,
                enroll_user_verification: true,
            })
        }
        _ => None,
    }
}

struct DeviceStep {
    method: Method,
    enrollment_id: Option<EnrollmentId>,
    challenge: Option<DeviceChallenge>,
    level: UserVerification,
    /// A push shows a number the person types on the device.
    number_matching: bool,
    enroll_user_verification: bool,
}

fn unix(state: &AppState) -> u64 {
    u64::try_from(state.now().as_second()).unwrap_or(0)
}

/// Issues a challenge for the flow's device step when it has none that can still be answered
/// (never reusing one: protocol 7.1), queueing pushes for the device's long-poll.
pub async fn ensure_challenge(state: &AppState, id: FlowId, data: &mut FlowData) -> Result<(), ServerError> {
    if data.status != Status::InProgress {
        return Ok(());
    }
    let Some(step) = device_step(data) else {
        return Ok(());
    };
    if let Some(existing) = &step.challenge {
        let stored = state
            .store()
            .device_challenges()
            .get(&existing.challenge_id)
            .await?;
        let usable = stored.is_some_and(|c| !c.issued.answered || c.outcome.is_some());
        if usable && existing.expires_at > unix(state) + 5 {
            return Ok(());
        }
    }
    // FastPass before the user chose (or has) an enrollment: any enrollment may answer.
    let Some(enrollment_id) = step.enrollment_id else {
        if step.method == Method::Fastpass {
            return issue(state, id, data, &step, ChallengeAudience::AnyEnrollment, None).await;
        }
        return Ok(());
    };
    let audience_id =
        CoreEnrollmentId::parse(&enrollment_id.to_string()).map_err(|e| ServerError::Corrupt {
            what: "an enrollment id".into(),
            reason: e.to_string(),
        })?;
    issue(
        state,
        id,
        data,
        &step,
        ChallengeAudience::Enrollment(audience_id),
        Some(enrollment_id.to_string()),
    )
    .await
}

async fn issue(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    step: &DeviceStep,
    audience: ChallengeAudience,
    enrollment: Option<String>,
) -> Result<(), ServerError> {
    let kind = if step.enroll_user_verification {
        ChallengeKind::EnrollUserVerification
    } else if step.method == Method::Fastpass {
        ChallengeKind::Fastpass
    } else {
        ChallengeKind::Push
    };
    let spec = ChallengeSpec {
        kind,
        audience,
        user_verification: step.level,
        user_presence: false,
        number_challenge: step.number_matching && kind == ChallengeKind::Push,
        flow_id: Some(id.to_string()),
        sub: data
            .identity
            .as_ref()
            .and_then(|i| i.user_id)
            .map(|u| u.to_string()),
        app: Some((data.app.client_id.clone(), data.app.name.clone())),
        client_ip: Some(data.client_ip.clone()),
    };
    let mut tx = state.store().begin().await?;
    let issued = challenges::issue(state, &mut tx, &spec).await?;
    let queued = kind != ChallengeKind::Fastpass;
    if queued && let Some(enrollment) = &enrollment {
        challenges::queue_push(&mut tx, enrollment, &issued).await?;
    }
    tx.commit().await?;
    if queued && let Some(enrollment) = &enrollment {
        crate::verify::wake_everywhere(state, enrollment).await;
    }
    let challenge = DeviceChallenge {
        challenge_id: issued.id,
        request: issued.request,
        number: issued.expected_number,
        expires_at: issued.expires_at,
        enroll_user_verification: step.enroll_user_verification,
    };
    match &mut data.current {
        Some(Current::Challenge { device, .. }) => *device = Some(challenge),
        _ => {
            data.current = Some(Current::Challenge {
                authenticator: AuthenticatorKey::Device,
                method: step.method,
                enrollment_id: step.enrollment_id,
                otp: None,
                device: Some(challenge),
            });
        }
    }
    Ok(())
}

/// Offers passwordless FastPass on a new, unidentified sign-in (protocol 7.1): a challenge any
/// enrollment may answer, the answering enrollment identifying the user. Only when some device
/// is registered, so organisations without Verify see the plain identify step.
pub async fn offer_passwordless(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
) -> Result<(), ServerError> {
    if !matches!(data.pending, Pending::Identify) || !state.store().devices().any_active().await? {
        return Ok(());
    }
    data.current = Some(Current::Challenge {
        authenticator: AuthenticatorKey::Device,
        method: Method::Fastpass,
        enrollment_id: None,
        otp: None,
        device: None,
    });
    ensure_challenge(state, id, data).await
}

/// What a `poll` found.
#[derive(Debug, Clone)]
pub enum Polled {
    /// Nothing yet (or a new challenge was needed).
    Waiting,
    /// The device verified: a record was added (or a key was added); re-evaluate.
    Advanced,
    /// The sign-in must end with this message.
    Deny { code: &'static str, message: String },
}

/// The explanatory denial for a device that cannot verify biometrics (DESIGN 7, issue 6).
pub const BIOMETRIC_UNAVAILABLE: &str = "This app requires biometric verification with Gatehouse Verify, and this device cannot verify biometrics.";

/// Applies the answer a device gave to the flow's current challenge, if any.
#[allow(clippy::too_many_lines)]
pub async fn poll(
    state: &AppState,
    id: FlowId,
    data: &mut FlowData,
    work: &mut super::steps::Work,
) -> Result<Polled, ServerError> {
    let now = state.now();
    let Some(step) = device_step(data) else {
        data.messages.push(Message::error(
            "nothing_to_poll",
            "This sign-in is not waiting for Gatehouse Verify.",
        ));
        return Ok(Polled::Waiting);
    };
    let Some(challenge) = &step.challenge else {
        return Ok(Polled::Waiting);
    };
    let Some(stored) = state
        .store()
        .device_challenges()
        .get(&challenge.challenge_id)
        .await?
    else {
        clear_challenge(data);
        return Ok(Polled::Waiting);
    };
    let Some(outcome) = stored.outcome.clone() else {
        if stored.issued.answered || stored.issued.binding.expires_at <= unix(state) {
            clear_challenge(data);
        }
        return Ok(Polled::Waiting);
    };
    let text = |key: &str| {
        outcome
            .get(key)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let flag = |key: &str| {
        outcome
            .get(key)
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    let enrollment_id = EnrollmentId::parse(&text("enrollment_id")).ok();
    let enrollment = match enrollment_id {
        Some(e) => state.store().enrollments().get(e).await?,
        None => None,
    };
    let device = match enrollment.as_ref().and_then(|e| e.device_id) {
        Some(d) => state.store().devices().get(d).await?,
        None => None,
    };
    let (Some(enrollment), Some(device)) = (enrollment, device) else {
        clear_challenge(data);
        return Ok(Polled::Waiting);
    };
    // The answer belongs to the identified user (a passwordless FastPass identifies them).
    if let Some(user) = data.identity.as_ref().and_then(|i| i.user_id)
        && user != enrollment.user_id
    {
        clear_challenge(data);
        return Ok(Polled::Waiting);
    }
    if data.identity.is_none() {
        let user = state
            .store()
            .users()
            .get(enrollment.user_id)
            .await?
            .filter(|u| u.status == gatehouse_core::model::UserStatus::Active);
        let Some(user) = user else {
            clear_challenge(data);
            return Ok(Polled::Waiting);
        };
        data.identity = Some(super::data::Identity {
            login: user.login.as_str().to_owned(),
            user_id: Some(user.id),
            keep_signed_in: false,
        });
        work.subject = super::engine::Subject::load(&mut state.store().read()?, state, data).await?;
    }
    let proven = ProvenDevice {
        device_id: device.id,
        enrollment_id: enrollment.id,
        managed: device.managed,
        platform: device.platform.clone(),
        secure_hardware: device.secure_hardware,
        biometric_capable: device.biometric_capable,
        pop_hardware: flag("hardware_protected"),
    };
    let mut event = Event::new(
        event_types::USER_AUTH_VERIFY,
        Actor::User(enrollment.user_id),
        Outcome::Success,
    )
    .user(enrollment.user_id)
    .device(device.id)
    .detail("flow_id", id.to_string())
    .detail("authenticator", "device")
    .detail("method", step.method.as_str())
    .detail("challenge_id", challenge.challenge_id.clone())
    .detail("result", text("result"))
    .client_ip(data.client_ip.clone());
    let result = match text("result").as_str() {
        "verified" => {
            let level: UserVerification = text("user_verification").parse().unwrap_or_default();
            let facts = VerificationFacts {
                hardware_protected: flag("hardware_protected"),
                user_verification: level,
                user_confirmed: flag("user_presence"),
                idp_factor: None,
            };
            let method = if text("kind") == "fastpass" {
                Method::Fastpass
            } else {
                Method::Push
            };
            let Some(proof) = prove(AuthenticatorKey::Device, method, &facts) else {
                clear_challenge(data);
                return Ok(Polled::Waiting);
            };
            data.records.push(FlowRecord {
                id: new_id(),
                authenticator: AuthenticatorKey::Device,
                method,
                enrollment_id: Some(enrollment.id),
                device_id: Some(device.id),
                verified_at: now,
                proof,
            });
            data.device = Some(proven);
            event = event.detail("user_verification", level.as_str());
            if let Some(user) = state.store().users().get(enrollment.user_id).await? {
                work.effects.push(Effect::Success { user });
            }
            data.current = None;
            Polled::Advanced
        }
        "denied" => {
            event = Event::new(
                event_types::USER_AUTH_VERIFY,
                Actor::User(enrollment.user_id),
                Outcome::Failure,
            )
            .user(enrollment.user_id)
            .device(device.id)
            .detail("flow_id", id.to_string())
            .detail("authenticator", "device")
            .detail("method", step.method.as_str())
            .detail("result", "denied")
            .client_ip(data.client_ip.clone());
            data.messages.push(Message::error(
                "push_denied",
                "You denied the sign-in on your device.",
            ));
            data.current = None;
            Polled::Waiting
        }
        "user_verification_unavailable" => {
            if flag("biometric_capable") && device.biometric_capable && !step.enroll_user_verification {
                // The device proved itself and can add a biometric key: re-evaluate, and the
                // policy remediates with a user-verification key on this enrollment.
                data.device = Some(proven);
                data.current = None;
                Polled::Advanced
            } else {
                Polled::Deny {
                    code: "biometric_unavailable",
                    message: BIOMETRIC_UNAVAILABLE.to_owned(),
                }
            }
        }
        "user_verification_failed" => {
            data.messages.push(Message::error(
                "user_verification_failed",
                "Gatehouse Verify could not verify you on the device; try again.",
            ));
            if let Some(user) = state.store().users().get(enrollment.user_id).await? {
                work.effects.push(Effect::Failure { user });
            }
            clear_challenge(data);
            Polled::Waiting
        }
        "user_verification_key_added" => {
            data.uv_keys_added += 1;
            data.device = Some(proven);
            data.current = None;
            Polled::Advanced
        }
        _ => Polled::Waiting,
    };
    work.effects.push(Effect::Log(event));
    Ok(result)
}

fn clear_challenge(data: &mut FlowData) {
    if let Some(Current::Challenge { device, .. }) = &mut data.current {
        *device = None;
    }
}

/// The policy's device facts for the flow: known once the device proved itself.
pub fn policy_device(data: &FlowData) -> Option<gatehouse_policy::DeviceFacts> {
    let d = data.device.as_ref()?;
    Some(gatehouse_policy::DeviceFacts {
        registered: true,
        managed: d.managed,
        platform: serde_json::from_value(serde_json::Value::String(d.platform.clone())).ok(),
        secure_hardware: d.secure_hardware,
        biometric_capable: d.biometric_capable,
        enrollment_id: Some(d.enrollment_id.to_string()),
    })
}
