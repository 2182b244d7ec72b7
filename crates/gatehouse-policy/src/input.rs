//! What the evaluator is given besides the policy: the request context, the user's enrollments,
//! the verification records of the current global session, `now`, and an optional step-up from
//! OIDC (`acr_values`, `max_age`, `prompt=login`). All are plain values; the flow engine builds
//! them from its store, `policy simulate` from a context file.

use std::net::IpAddr;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::PolicyError;
use crate::authenticator::{
    AuthenticatorKey, Factor, Method, Proof, UserVerification, VerificationFacts, prove,
};
use crate::model::{Platform, RiskLevel};

/// Who is signing in, from where, on what, at what risk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestContext {
    pub user: UserContext,
    /// The client address (canonicalised before zone matching).
    pub ip: IpAddr,
    /// Present only when the device has proved itself (FastPass probe or a device-bound
    /// verification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceFacts>,
    pub risk: RiskLevel,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserContext {
    pub login: String,
    /// Group names; `everyone` is implied.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Facts a device proved about itself.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeviceFacts {
    pub registered: bool,
    pub managed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Secure hardware (TPM, Secure Enclave) is present.
    pub secure_hardware: bool,
    /// The device can gate a key with biometrics.
    pub biometric_capable: bool,
    /// The `device` enrollment (its id) this device proved itself with; without it, a proven,
    /// registered device stands for each of the user's device enrollments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollmentStatus {
    #[default]
    Active,
    Inactive,
}

/// One of the user's enrolled authenticators and what it can prove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrollment {
    pub authenticator: AuthenticatorKey,
    /// The methods enrolled; empty means all of the authenticator's methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<Method>,
    /// The key is hardware protected (attested WebAuthn credential, hardware-backed device key).
    #[serde(default)]
    pub hardware_protected: bool,
    /// The highest user verification it can achieve: WebAuthn `any` when the credential
    /// verifies users; for `device`, the level of its user-verification key (`none` without one).
    #[serde(default)]
    pub user_verification: UserVerification,
    /// `device` only: the device supports biometrics (so a biometric key can be added).
    #[serde(default)]
    pub biometric_capable: bool,
    #[serde(default)]
    pub status: EnrollmentStatus,
    /// The caller's id for this enrollment, echoed in options and remediations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `idp` only: the factor type the provider counts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_factor: Option<Factor>,
}

impl Enrollment {
    /// An active enrollment of every method of `authenticator`, proving nothing optional.
    pub fn new(authenticator: AuthenticatorKey) -> Self {
        Self {
            authenticator,
            methods: Vec::new(),
            hardware_protected: false,
            user_verification: if authenticator == AuthenticatorKey::SmartCard {
                UserVerification::Any
            } else {
                UserVerification::None
            },
            biometric_capable: false,
            status: EnrollmentStatus::Active,
            id: None,
            idp_factor: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == EnrollmentStatus::Active
    }

    /// Whether this `device` enrollment's device supports biometrics: its own flag, or the facts
    /// of the device in use when that device proved itself as this enrollment.
    pub fn is_biometric_capable(&self, context: &RequestContext) -> bool {
        self.biometric_capable
            || context.device.as_ref().is_some_and(|d| {
                d.registered
                    && d.biometric_capable
                    && d.enrollment_id
                        .as_ref()
                        .is_none_or(|id| self.id.as_ref() == Some(id))
            })
    }

    /// The enrolled methods that belong to the authenticator, in canonical order.
    pub fn enrolled_methods(&self) -> impl Iterator<Item = Method> + '_ {
        self.authenticator
            .methods()
            .iter()
            .copied()
            .filter(|m| self.methods.is_empty() || self.methods.contains(m))
    }

    /// The best a verification with `method` could prove (the facts at their best: its user
    /// verification level, a confirmed prompt).
    pub fn best_proof(&self, method: Method) -> Option<Proof> {
        prove(
            self.authenticator,
            method,
            &VerificationFacts {
                hardware_protected: self.hardware_protected,
                user_verification: self.user_verification,
                user_confirmed: true,
                idp_factor: self.idp_factor,
            },
        )
    }
}

/// One verification of the current global session: what was verified, what it proved, when, and
/// whether in the current sign-in flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    pub proof: Proof,
    pub at: Timestamp,
    pub in_flow: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_id: Option<String>,
}

impl VerificationRecord {
    /// A record whose proof follows DESIGN section 3's table from the facts. Refuses a method
    /// that is not the authenticator's.
    pub fn new(
        authenticator: AuthenticatorKey,
        method: Method,
        facts: &VerificationFacts,
        at: Timestamp,
        in_flow: bool,
    ) -> Result<Self, PolicyError> {
        authenticator.check_method(method)?;
        let proof = prove(authenticator, method, facts).ok_or_else(|| PolicyError::MethodMismatch {
            authenticator: authenticator.as_str().to_owned(),
            method: method.as_str().to_owned(),
            methods: String::new(),
        })?;
        Ok(Self {
            authenticator,
            method,
            proof,
            at,
            in_flow,
            enrollment_id: None,
        })
    }

    pub fn with_enrollment_id(mut self, id: impl Into<String>) -> Self {
        self.enrollment_id = Some(id.into());
        self
    }
}

/// What an OIDC request adds to the matched rule (never weakening it): a minimum number of factor
/// types, a phishing-resistant (and hardware-protected) possession factor, a maximum record age,
/// and "only records of this flow" (`prompt=login`, `max_age=0`). The fields mirror
/// `gatehouse_oidc::assurance::AssuranceRequirement` and `StepUp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepUp {
    /// 0 (no demand), 1 or 2.
    pub min_factors: u8,
    pub phishing_resistant: bool,
    /// Implies `phishing_resistant` (as `phrh` does).
    pub hardware_protected: bool,
    /// Records older than this do not count, for any requirement.
    #[serde(with = "opt_duration_secs", skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
    /// Only records made in this flow count, for any requirement.
    pub in_flow_only: bool,
}

impl StepUp {
    /// Whether the step-up demands an assurance of its own (beyond filtering records).
    pub fn has_requirement(&self) -> bool {
        self.min_factors > 0 || self.phishing_resistant || self.hardware_protected
    }
}

/// `max_age` as whole seconds on the wire, as OIDC writes it.
mod opt_duration_secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => serializer.serialize_u64(d.as_secs()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(deserializer)?.map(Duration::from_secs))
    }
}

/// Everything one evaluation reads besides the compiled policy.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationInput<'a> {
    pub context: &'a RequestContext,
    pub enrollments: &'a [Enrollment],
    /// The records of the current global session, in any order.
    pub records: &'a [VerificationRecord],
    pub now: Timestamp,
    pub step_up: Option<&'a StepUp>,
}
