//! The policy file format of DESIGN section 4.1, as serde types (YAML and JSON both ways). Each
//! piece stands on its own so the admin API can read and write it as JSON: [`PolicyDocument`]
//! (the whole file), [`NetworkZone`], [`GlobalSessionPolicy`], [`EnrollmentPolicy`],
//! [`AuthenticationPolicy`] and [`Rule`].
//!
//! These types only parse; cross-references and the rules of section 4.1 (catch-all last, either
//! `assurance` or `chains`, …) are checked by [`crate::validate`], and evaluation works on the
//! [`crate::CompiledPolicy`] built from them. Unknown fields are refused everywhere, so a typo
//! such as `possesion:` is an error, not a silently missing constraint.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::authenticator::{
    AuthenticatorKey, Method, MethodConstraints, UserVerification, is_false, is_none_uv,
};
use crate::duration::{EXPECTED_DURATION, PolicyDuration};
use crate::net::Cidr;

/// A whole policy file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Always `1`.
    pub version: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_zones: Vec<NetworkZone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_session_policy: Option<GlobalSessionPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_policy: Option<EnrollmentPolicy>,
    #[serde(default)]
    pub authentication_policies: Vec<AuthenticationPolicy>,
}

impl PolicyDocument {
    /// The enrollment policy, or the default one (every authenticator allowed).
    pub fn enrollment(&self) -> EnrollmentPolicy {
        self.enrollment_policy.clone().unwrap_or_default()
    }

    /// The authentication policy whose `apps` list `client_id`.
    pub fn policy_for_app(&self, client_id: &str) -> Option<&AuthenticationPolicy> {
        self.authentication_policies
            .iter()
            .find(|p| p.apps.iter().any(|a| a == client_id))
    }
}

/// A named set of networks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkZone {
    pub name: String,
    pub cidrs: Vec<Cidr>,
    /// Networks carved out of the zone: an address in one of these is not in the zone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_cidrs: Vec<Cidr>,
    /// Where the zone is, for the impossible-travel risk signal (docs/risk.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<crate::net::GeoPoint>,
}

/// DESIGN section 4.4: how sessions are established and how long they live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalSessionPolicy {
    /// Ordered: the first rule whose conditions match is used.
    pub rules: Vec<GlobalSessionRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalSessionRule {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Conditions>,
    #[serde(default)]
    pub flow: SignInFlow,
    /// Absolute session lifetime (default `P1D`).
    #[serde(default = "default_max_lifetime")]
    pub max_lifetime: PolicyDuration,
    /// Idle timeout (default `PT2H`).
    #[serde(default = "default_max_idle")]
    pub max_idle: PolicyDuration,
    #[serde(default)]
    pub keep_signed_in: KeepSignedIn,
    #[serde(default = "default_true")]
    pub user_enumeration_prevention: bool,
}

impl Default for GlobalSessionRule {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            when: None,
            flow: SignInFlow::default(),
            max_lifetime: default_max_lifetime(),
            max_idle: default_max_idle(),
            keep_signed_in: KeepSignedIn::default(),
            user_enumeration_prevention: true,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_max_lifetime() -> PolicyDuration {
    PolicyDuration::from_secs_nonzero(86_400)
}

fn default_max_idle() -> PolicyDuration {
    PolicyDuration::from_secs_nonzero(7_200)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInFlow {
    #[default]
    IdentifierFirst,
    PasswordFirst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepSignedIn {
    #[default]
    Allowed,
    Disabled,
}

/// Which authenticators users may enroll (inline or self-service).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentPolicy {
    /// Absent: every authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<AuthenticatorKey>>,
}

impl EnrollmentPolicy {
    pub fn allows(&self, key: AuthenticatorKey) -> bool {
        self.allowed.as_ref().is_none_or(|list| list.contains(&key))
    }
}

/// An authentication policy: the apps that use it and its ordered rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationPolicy {
    pub name: String,
    /// The client ids of the apps that use this policy.
    #[serde(default)]
    pub apps: Vec<String>,
    /// Ordered; the first match wins; the last must have no conditions.
    pub rules: Vec<Rule>,
}

/// One rule of an authentication policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    /// Absent: the rule matches everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Conditions>,
    pub access: Access,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require: Option<Require>,
}

impl Rule {
    /// A rule without conditions (a catch-all).
    pub fn is_catch_all(&self) -> bool {
        self.when.as_ref().is_none_or(Conditions::is_empty)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Allow,
    Deny,
}

/// The conditions of a rule; every present condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Logins (compared case-insensitively).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<IncludeExclude>,
    /// Group names (`everyone` holds every user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<IncludeExclude>,
    /// Zone names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<IncludeExclude>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceCondition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Vec<RiskLevel>>,
}

impl Conditions {
    /// No condition that could fail.
    pub fn is_empty(&self) -> bool {
        self.users.as_ref().is_none_or(IncludeExclude::is_empty)
            && self.groups.as_ref().is_none_or(IncludeExclude::is_empty)
            && self.network.as_ref().is_none_or(IncludeExclude::is_empty)
            && self.device.as_ref().is_none_or(DeviceCondition::is_empty)
            && self.risk.is_none()
    }
}

/// `{ include: [...], exclude: [...] }`; an empty `include` means "any".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeExclude {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl IncludeExclude {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

/// Device facts, known only when the device has proved itself (FastPass probe or device-bound
/// verification); an unproven device is not registered, not managed, of no known platform.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceCondition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Vec<Platform>>,
    /// Gatehouse extension (DESIGN section 7's "secure hardware present").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_hardware: Option<bool>,
}

impl DeviceCondition {
    pub fn is_empty(&self) -> bool {
        self.registered.is_none()
            && self.managed.is_none()
            && self.platform.is_none()
            && self.secure_hardware.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Macos,
    Windows,
    Linux,
    Ios,
    Android,
    Chromeos,
    Other,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Macos => "macos",
            Self::Windows => "windows",
            Self::Linux => "linux",
            Self::Ios => "ios",
            Self::Android => "android",
            Self::Chromeos => "chromeos",
            Self::Other => "other",
        }
    }
}

/// What an `allow` rule demands. Exactly one of `assurance` and `chains` (checked by validation).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Require {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assurance: Option<Assurance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chains: Option<Vec<Chain>>,
    /// For `assurance`, and the default of chains without their own (default `no_session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauthenticate: Option<Reauthenticate>,
}

/// Factor count and constraints on the factors (DESIGN 4.1), with the Okta-compatible extension
/// `knowledge` and `any_of` (several constraint sets, OR-ed; see `docs/policy-language.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assurance {
    /// 1 or 2 distinct factor types (default 1).
    #[serde(default = "default_factors")]
    pub factors: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possession: Option<PossessionConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<KnowledgeConstraints>,
    /// Extension: alternatives; the assurance holds when one of them does. Not with
    /// `possession`/`knowledge` beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_of: Option<Vec<ConstraintSet>>,
    /// Authenticators that may not count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<AuthenticatorKey>,
}

fn default_factors() -> u32 {
    1
}

impl Default for Assurance {
    fn default() -> Self {
        Self {
            factors: 1,
            possession: None,
            knowledge: None,
            any_of: None,
            exclude: Vec::new(),
        }
    }
}

/// One alternative of `any_of`: constraints on the possession and knowledge factors that must hold
/// together, with an optional window of its own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintSet {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possession: Option<PossessionConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knowledge: Option<KnowledgeConstraints>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauthenticate: Option<Reauthenticate>,
}

/// Constraints on the possession factor: a possession record counts only if it meets all of them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PossessionConstraints {
    #[serde(default, skip_serializing_if = "is_false")]
    pub phishing_resistant: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hardware_protected: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub device_bound: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_presence: bool,
    #[serde(default, skip_serializing_if = "is_none_uv")]
    pub user_verification: UserVerification,
    /// Extension: a `device` push used as this factor shows a number to match.
    #[serde(default, skip_serializing_if = "is_false")]
    pub number_matching: bool,
    /// Extension: only these authenticators (and methods) may be the possession factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authenticators: Vec<AuthenticatorRef>,
    /// Extension: these may not be the possession factor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<AuthenticatorRef>,
}

impl PossessionConstraints {
    pub fn constraints(&self) -> MethodConstraints {
        MethodConstraints {
            phishing_resistant: self.phishing_resistant,
            hardware_protected: self.hardware_protected,
            device_bound: self.device_bound,
            user_presence: self.user_presence,
            user_verification: self.user_verification,
            number_matching: self.number_matching,
        }
    }
}

/// Extension: constraints on the knowledge factor; when present, one counted record must be a
/// knowledge factor that passes them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeConstraints {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authenticators: Vec<AuthenticatorRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<AuthenticatorRef>,
}

/// An authenticator, optionally narrowed to one method: `webauthn` or
/// `{authenticator: phone, method: sms}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthenticatorRef {
    pub authenticator: AuthenticatorKey,
    pub method: Option<Method>,
}

impl AuthenticatorRef {
    pub fn matches(&self, key: AuthenticatorKey, method: Method) -> bool {
        self.authenticator == key && self.method.is_none_or(|m| m == method)
    }
}

impl fmt::Display for AuthenticatorRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            Some(m) => write!(f, "{} {}", self.authenticator, m),
            None => write!(f, "{}", self.authenticator),
        }
    }
}

impl Serialize for AuthenticatorRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.method {
            None => self.authenticator.serialize(serializer),
            Some(method) => {
                #[derive(Serialize)]
                struct Full {
                    authenticator: AuthenticatorKey,
                    method: Method,
                }
                Full {
                    authenticator: self.authenticator,
                    method,
                }
                .serialize(serializer)
            }
        }
    }
}

impl<'de> Deserialize<'de> for AuthenticatorRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = AuthenticatorRef;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an authenticator key or {authenticator, method}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                let authenticator = v
                    .parse()
                    .map_err(|e: crate::PolicyError| E::custom(e.to_string()))?;
                Ok(AuthenticatorRef {
                    authenticator,
                    method: None,
                })
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Full {
                    authenticator: AuthenticatorKey,
                    #[serde(default)]
                    method: Option<Method>,
                }
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(AuthenticatorRef {
                    authenticator: full.authenticator,
                    method: full.method,
                })
            }
        }
        deserializer.deserialize_any(RefVisitor)
    }
}

/// An ordered method chain: each step is a list of alternatives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chain {
    pub steps: Vec<Vec<ChainMethod>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reauthenticate: Option<Reauthenticate>,
}

/// One alternative of a chain step: an authenticator, optionally a method, and the same
/// constraint keys as `assurance.possession`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainMethod {
    pub authenticator: AuthenticatorKey,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<Method>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub phishing_resistant: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub hardware_protected: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub device_bound: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub user_presence: bool,
    #[serde(default, skip_serializing_if = "is_none_uv")]
    pub user_verification: UserVerification,
    /// Extension, `device` push only: the push shows a number to match.
    #[serde(default, skip_serializing_if = "is_false")]
    pub number_matching: bool,
}

impl ChainMethod {
    pub fn new(authenticator: AuthenticatorKey, method: Option<Method>) -> Self {
        Self {
            authenticator,
            method,
            phishing_resistant: false,
            hardware_protected: false,
            device_bound: false,
            user_presence: false,
            user_verification: UserVerification::None,
            number_matching: false,
        }
    }

    pub fn constraints(&self) -> MethodConstraints {
        MethodConstraints {
            phishing_resistant: self.phishing_resistant,
            hardware_protected: self.hardware_protected,
            device_bound: self.device_bound,
            user_presence: self.user_presence,
            user_verification: self.user_verification,
            number_matching: self.number_matching,
        }
    }

    pub fn with_constraints(mut self, c: MethodConstraints) -> Self {
        self.phishing_resistant = c.phishing_resistant;
        self.hardware_protected = c.hardware_protected;
        self.device_bound = c.device_bound;
        self.user_presence = c.user_presence;
        self.user_verification = c.user_verification;
        self.number_matching = c.number_matching;
        self
    }
}

/// How recent verification records must be to count (DESIGN 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reauthenticate {
    /// Only records made during the current sign-in flow.
    EverySignIn,
    /// Records younger than this, from any flow of the global session.
    Within(PolicyDuration),
    /// Any record of the current global session.
    NoSession,
}

impl fmt::Display for Reauthenticate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EverySignIn => f.write_str("every_sign_in"),
            Self::NoSession => f.write_str("no_session"),
            Self::Within(d) => fmt::Display::fmt(d, f),
        }
    }
}

impl std::str::FromStr for Reauthenticate {
    type Err = crate::PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "every_sign_in" => Ok(Self::EverySignIn),
            "no_session" => Ok(Self::NoSession),
            other => PolicyDuration::parse(other)
                .map(Self::Within)
                .map_err(|e| match e {
                    crate::PolicyError::Duration { input, reason } if reason == EXPECTED_DURATION => {
                        crate::PolicyError::Duration {
                            input,
                            reason: format!("{EXPECTED_DURATION} (or `every_sign_in`, `no_session`)"),
                        }
                    }
                    other => other,
                }),
        }
    }
}

impl Serialize for Reauthenticate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reauthenticate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_parsed(deserializer, |s| s.parse())
    }
}

/// Any scalar as text, so a value of the wrong type (`reauthenticate: 4`) gets the same helpful
/// message as a wrong string instead of serde's "invalid type".
pub(crate) struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor(|text: &str| {
            Ok::<_, crate::PolicyError>(ScalarText(text.to_owned()))
        }))
    }
}

/// Deserializes a scalar through `parse`, failing *inside* the scalar so that the YAML parser
/// puts the scalar's own line and column on the error.
pub(crate) fn deserialize_parsed<'de, D, T>(
    deserializer: D,
    parse: fn(&str) -> Result<T, crate::PolicyError>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    deserializer.deserialize_any(ParsedVisitor(parse))
}

struct ParsedVisitor<F>(F);

impl<T, F> Visitor<'_> for ParsedVisitor<F>
where
    F: Fn(&str) -> Result<T, crate::PolicyError>,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        (self.0)(v).map_err(|e| E::custom(e.reason_text()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }
}
