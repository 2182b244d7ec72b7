//! A flow's stored state: the JSON the `flows` table keeps between steps. Any node reads it,
//! decides the next step and writes it back under the flow's version (optimistic concurrency).
//!
//! Secrets never sit here in the clear: a TOTP seed being enrolled is sealed with the keyring, a
//! one-time code is kept as a SHA-256 digest.

use gatehouse_core::model::{AppId, DeviceId, EnrollmentId, RecordId, SessionId, UserId};
use gatehouse_oidc::AuthorizationRequest;
use gatehouse_policy::{AuthenticatorKey, EnrollOption, Method, Proof, StepOption, StepUp};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything a flow remembers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowData {
    pub status: Status,
    pub purpose: Purpose,
    pub app: FlowApp,
    #[serde(default)]
    pub step_up: StepUp,
    pub client_ip: String,
    #[serde(default)]
    pub user_agent: Option<String>,
    /// The live session the flow started with: its records count (within their windows).
    #[serde(default)]
    pub session_id: Option<SessionId>,
    /// Who is signing in, once identified.
    #[serde(default)]
    pub identity: Option<Identity>,
    /// Verifications made in this flow, oldest first.
    #[serde(default)]
    pub records: Vec<FlowRecord>,
    /// What the policy asks for now.
    pub pending: Pending,
    /// The challenge or enrollment in progress.
    #[serde(default)]
    pub current: Option<Current>,
    /// Messages of the last step.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Where the browser goes when the flow has ended (`success` or `denied`).
    #[serde(default)]
    pub redirect: Option<String>,
    /// The rule that decided last (for the log and the page).
    #[serde(default)]
    pub rule: Option<String>,
    /// The Verify device that proved itself in this flow.
    #[serde(default)]
    pub device: Option<ProvenDevice>,
    /// User-verification keys added to a device during this flow (at most one).
    #[serde(default)]
    pub uv_keys_added: u32,
    /// The browser (SHA-256 of its `gh_device` cookie), for the risk scorer.
    #[serde(default)]
    pub browser: Option<String>,
    /// The sign-in's risk, scored when the user became known (docs/risk.md).
    #[serde(default)]
    pub risk: Option<FlowRisk>,
    /// The WebAuthn ceremony of the current step (single use; `flow/webauthn.rs`).
    #[serde(default)]
    pub webauthn: Option<super::webauthn::Ceremony>,
}

impl FlowData {
    /// A flow in progress for `app` from `client_ip`, waiting for `identify`, with nothing else
    /// known yet; callers set what their kind of flow starts with.
    pub fn new(purpose: Purpose, app: FlowApp, client_ip: String) -> Self {
        Self {
            status: Status::InProgress,
            purpose,
            app,
            step_up: StepUp::default(),
            client_ip,
            user_agent: None,
            session_id: None,
            identity: None,
            records: Vec::new(),
            pending: Pending::Identify,
            current: None,
            messages: Vec::new(),
            redirect: None,
            rule: None,
            device: None,
            uv_keys_added: 0,
            browser: None,
            risk: None,
            webauthn: None,
        }
    }
}

impl FlowApp {
    /// Gatehouse's own pages (`/app`, `/admin`), signing in as [`super::DASHBOARD_CLIENT`].
    pub fn own_pages() -> Self {
        Self {
            id: None,
            client_id: super::DASHBOARD_CLIENT.to_owned(),
            name: "Gatehouse".to_owned(),
        }
    }
}

impl Identity {
    /// The user of a live session.
    pub fn of(user: &gatehouse_core::model::User, keep_signed_in: bool) -> Self {
        Self {
            login: user.login.as_str().to_owned(),
            user_id: Some(user.id),
            keep_signed_in,
        }
    }
}

/// A flow's risk level and the signals that produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRisk {
    pub level: gatehouse_policy::RiskLevel,
    pub score: u32,
    pub signals: Vec<String>,
}

impl FlowRisk {
    pub fn of(assessment: &gatehouse_core::risk::RiskAssessment) -> Self {
        Self {
            level: assessment.level,
            score: assessment.score,
            signals: assessment.signals.iter().map(|s| s.name.to_owned()).collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    InProgress,
    Success,
    Denied,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in_progress",
            Self::Success => "success",
            Self::Denied => "denied",
        }
    }
}

/// Why the flow runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Purpose {
    /// An OpenID Connect authorization request: on success, a code for the client.
    Authorize { request: AuthorizationRequest },
    /// Signing in to Gatehouse's own pages (`/app`): on success, back to `return_to`.
    Dashboard { return_to: String },
    /// A signed-in user setting up an authenticator from `/app`: on success, back to `return_to`.
    Enroll { return_to: String },
}

/// The application being signed in to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowApp {
    pub id: Option<AppId>,
    pub client_id: String,
    pub name: String,
}

/// Who is signing in. `user_id` is `None` for a login that does not exist (or may not sign in):
/// the flow goes on exactly as for a real one and fails at the end (DESIGN section 4.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub login: String,
    pub user_id: Option<UserId>,
    #[serde(default)]
    pub keep_signed_in: bool,
}

/// A verification made in this flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlowRecord {
    pub id: RecordId,
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    #[serde(default)]
    pub enrollment_id: Option<EnrollmentId>,
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    pub verified_at: Timestamp,
    pub proof: Proof,
}

/// What the policy asks for now.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    /// The login (and, password-first, the password).
    Identify,
    /// One of these verifications.
    Verify { options: Vec<StepOption> },
    /// Enrolling one of these first.
    Enroll { options: Vec<EnrollOption> },
    /// Nothing: the flow has ended.
    Done,
}

/// The challenge or enrollment in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Current {
    Challenge {
        authenticator: AuthenticatorKey,
        method: Method,
        #[serde(default)]
        enrollment_id: Option<EnrollmentId>,
        /// Email and SMS: the code sent.
        #[serde(default)]
        otp: Option<SentCode>,
        /// Device push and FastPass: the challenge issued to the device.
        #[serde(default)]
        device: Option<DeviceChallenge>,
    },
    Enroll {
        authenticator: AuthenticatorKey,
        method: Method,
        /// TOTP: the new seed, sealed under the keyring (associated data: the flow).
        #[serde(default)]
        totp_secret_sealed: Option<String>,
        /// Phone: the number the code went to.
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        otp: Option<SentCode>,
    },
}

/// A challenge issued to a Gatehouse Verify device for the current step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceChallenge {
    pub challenge_id: String,
    /// The compact JWS (FastPass: relayed by the page to the loopback daemon).
    pub request: String,
    /// Number matching: the number shown on the page.
    #[serde(default)]
    pub number: Option<u32>,
    /// Unix seconds.
    pub expires_at: u64,
    /// An `enroll_user_verification` challenge (inline biometric remediation).
    #[serde(default)]
    pub enroll_user_verification: bool,
}

/// A device that proved itself in this flow (an accepted FastPass or push answer): the facts
/// the policy's device conditions read (DESIGN 4.2, protocol 13).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProvenDevice {
    pub device_id: DeviceId,
    pub enrollment_id: EnrollmentId,
    pub managed: bool,
    pub platform: String,
    pub secure_hardware: bool,
    pub biometric_capable: bool,
    pub pop_hardware: bool,
}

/// A one-time code sent by email or SMS.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentCode {
    /// SHA-256 hex of `flow id:code`.
    pub digest: String,
    pub expires_at: Timestamp,
    pub attempts: u32,
    /// Where it went, masked (`a•••@example.com`).
    pub sent_to: String,
}

/// A message for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub level: String,
    pub code: String,
    pub text: String,
}

impl Message {
    pub fn error(code: &str, text: impl Into<String>) -> Self {
        Self {
            level: "error".to_owned(),
            code: code.to_owned(),
            text: text.into(),
        }
    }

    pub fn info(code: &str, text: impl Into<String>) -> Self {
        Self {
            level: "info".to_owned(),
            code: code.to_owned(),
            text: text.into(),
        }
    }
}

/// The messages the flow speaks; fixed wording, shared by known and unknown logins.
pub mod messages {
    pub const INVALID_CREDENTIALS: (&str, &str) =
        ("invalid_credentials", "The username or password is not correct.");
    pub const INVALID_CODE: (&str, &str) = ("invalid_code", "That code is not valid.");
    pub const CODE_EXPIRED: (&str, &str) =
        ("code_expired", "That code has expired. A new one has been sent.");
    pub const TOO_MANY_ATTEMPTS: (&str, &str) = (
        "too_many_attempts",
        "Too many wrong codes. A new one has been sent.",
    );
}
