//! The evaluator's answer: a [`Decision`] — allow, deny, continue with options, or remediate by
//! enrolling — with the matched rule and a [`Trace`] of how it was reached.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use crate::authenticator::{AuthenticatorKey, Constraint, Method, MethodConstraints};
use crate::input::VerificationRecord;
use crate::model::{Platform, RiskLevel, Rule};

/// One evaluation's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// The matched rule's name.
    pub rule: Arc<str>,
    pub outcome: Outcome,
    pub trace: Trace,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Outcome {
    Allow(Allow),
    Deny(Deny),
    Continue(Continue),
    Remediate(Remediate),
}

/// The requirement is met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allow {
    /// Indices into the input records of the records that satisfied the requirement (the flow
    /// engine derives `amr` and `acr` from them), ascending.
    pub satisfied_by: Vec<usize>,
}

/// The sign-in ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deny {
    pub code: DenyCode,
    /// For the user: names the rule or the requirement that could not be met.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyCode {
    /// The matched rule says `access: deny`.
    AccessDenied,
    /// Nothing the user has enrolled, or may enroll now, can meet the requirement.
    Unsatisfiable,
    /// No rule matched (a compiled policy always ends with a catch-all, so only for policies
    /// built without validation).
    NoRuleMatched,
}

impl DenyCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::Unsatisfiable => "unsatisfiable",
            Self::NoRuleMatched => "no_rule_matched",
        }
    }
}

/// The user must verify again with one of the options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Continue {
    pub options: Vec<StepOption>,
}

/// The user can proceed after enrolling one of these now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remediate {
    pub enroll: Vec<EnrollOption>,
}

/// An authenticator and method the user has enrolled (and active) that advances the requirement,
/// with the constraints its verification must meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepOption {
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    #[serde(flatten)]
    pub constraints: MethodConstraints,
    /// The ids of the enrollments that can meet the constraints (those that have ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrollment_ids: Vec<String>,
}

/// Why a submitted verification does not satisfy an option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// The constraint it failed; `None` when it is another authenticator or method.
    pub constraint: Option<Constraint>,
    pub message: String,
}

impl StepOption {
    /// Whether a submitted record satisfies this option: same authenticator and method, and every
    /// constraint met (so a WebAuthn assertion without UV is refused when the option demands
    /// `user_verification: any`, with a message saying so).
    pub fn accepts(&self, record: &VerificationRecord) -> Result<(), Refusal> {
        if record.authenticator != self.authenticator || record.method != self.method {
            return Err(Refusal {
                constraint: None,
                message: format!(
                    "this step expects `{}` `{}`, not `{}` `{}`",
                    self.authenticator, self.method, record.authenticator, record.method
                ),
            });
        }
        match self.constraints.first_failure(&record.proof.characteristics) {
            None => Ok(()),
            Some(c) => Err(Refusal {
                constraint: Some(c),
                message: self.constraints.explain_failure(c),
            }),
        }
    }
}

/// Something to enroll now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollOption {
    pub authenticator: AuthenticatorKey,
    /// What the new enrollment (or key) must be able to prove.
    #[serde(flatten)]
    pub constraints: MethodConstraints,
    pub kind: EnrollKind,
    /// For `user_verification_key`: the device enrollment to add the key to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollKind {
    /// Enroll a new authenticator the enrollment policy allows.
    NewAuthenticator,
    /// Add a user-verification key to an existing device enrollment.
    UserVerificationKey,
}

impl Decision {
    /// `allow`, `deny`, `continue` or `remediate`.
    pub fn kind(&self) -> &'static str {
        match self.outcome {
            Outcome::Allow(_) => "allow",
            Outcome::Deny(_) => "deny",
            Outcome::Continue(_) => "continue",
            Outcome::Remediate(_) => "remediate",
        }
    }

    pub fn is_allow(&self) -> bool {
        matches!(self.outcome, Outcome::Allow(_))
    }

    pub fn options(&self) -> &[StepOption] {
        match &self.outcome {
            Outcome::Continue(c) => &c.options,
            _ => &[],
        }
    }

    pub fn enroll(&self) -> &[EnrollOption] {
        match &self.outcome {
            Outcome::Remediate(r) => &r.enroll,
            _ => &[],
        }
    }
}

/// How a decision was reached, in order: every rule tried, then (for the matched `allow` rule)
/// each requirement, each candidate and each remediation considered.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(transparent)]
pub struct Trace(pub Vec<TraceEntry>);

impl Trace {
    pub fn entries(&self) -> &[TraceEntry] {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceEntry {
    Rule(RuleTrace),
    Requirement(RequirementTrace),
    Candidate(CandidateTrace),
    Remediation(RemediationTrace),
}

impl Serialize for TraceEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Rule(r) => {
                let mut map = serializer.serialize_map(Some(4))?;
                map.serialize_entry("kind", "rule")?;
                map.serialize_entry("rule", &*r.rule.name)?;
                map.serialize_entry("matched", &r.miss.is_none())?;
                map.serialize_entry("reason", &r.reason())?;
                map.end()
            }
            Self::Requirement(r) => tagged(serializer, "requirement", r),
            Self::Candidate(c) => tagged(serializer, "candidate", c),
            Self::Remediation(r) => tagged(serializer, "remediation", r),
        }
    }
}

fn tagged<S: Serializer, T: Serialize>(serializer: S, kind: &str, value: &T) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Tagged<'a, T> {
        kind: &'a str,
        #[serde(flatten)]
        value: &'a T,
    }
    Tagged { kind, value }.serialize(serializer)
}

/// One rule tried: matched (`miss` is `None`) or the first condition that did not hold.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTrace {
    pub index: usize,
    pub rule: Arc<Rule>,
    pub miss: Option<Miss>,
}

/// The first condition of a rule that did not hold. Indices point into the rule's own lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    UserNotIncluded,
    UserExcluded,
    GroupNotIncluded,
    GroupExcluded(usize),
    NetworkNotIncluded,
    NetworkExcluded(usize),
    /// The condition needs device facts and the device has not proved itself.
    DeviceUnknown,
    Registered(bool),
    Managed(bool),
    SecureHardware(bool),
    Platform(Option<Platform>),
    Risk(RiskLevel),
}

impl RuleTrace {
    pub fn matched(&self) -> bool {
        self.miss.is_none()
    }

    /// Why the rule did or did not match, in words.
    pub fn reason(&self) -> String {
        let when = self.rule.when.clone().unwrap_or_default();
        let names = |list: Option<&Vec<String>>| list.map(|l| l.join(", ")).unwrap_or_default();
        let Some(miss) = self.miss else {
            return if self.rule.is_catch_all() {
                "matched: the rule has no conditions".to_owned()
            } else {
                "matched: every condition holds".to_owned()
            };
        };
        match miss {
            Miss::UserNotIncluded => format!(
                "users: the user is not one of {}",
                names(when.users.as_ref().map(|u| &u.include))
            ),
            Miss::UserExcluded => "users: the user is excluded".to_owned(),
            Miss::GroupNotIncluded => format!(
                "groups: the user is in none of {}",
                names(when.groups.as_ref().map(|g| &g.include))
            ),
            Miss::GroupExcluded(i) => format!(
                "groups: the user is in the excluded group `{}`",
                when.groups
                    .as_ref()
                    .and_then(|g| g.exclude.get(i))
                    .map_or("?", String::as_str)
            ),
            Miss::NetworkNotIncluded => format!(
                "network: the client address is in none of the zones {}",
                names(when.network.as_ref().map(|n| &n.include))
            ),
            Miss::NetworkExcluded(i) => format!(
                "network: the client address is in the excluded zone `{}`",
                when.network
                    .as_ref()
                    .and_then(|n| n.exclude.get(i))
                    .map_or("?", String::as_str)
            ),
            Miss::DeviceUnknown => {
                "device: the device has not proved itself, so it counts as unregistered and unmanaged"
                    .to_owned()
            }
            Miss::Registered(want) => format!("device: registered is not {want}"),
            Miss::Managed(want) => format!("device: managed is not {want}"),
            Miss::SecureHardware(want) => format!("device: secure_hardware is not {want}"),
            Miss::Platform(got) => {
                let want: Vec<&str> = when
                    .device
                    .as_ref()
                    .and_then(|d| d.platform.as_ref())
                    .map(|p| p.iter().map(|p| p.as_str()).collect())
                    .unwrap_or_default();
                format!(
                    "device: platform `{}` is not one of {}",
                    got.map_or("unknown", Platform::as_str),
                    want.join(", ")
                )
            }
            Miss::Risk(got) => {
                let want: Vec<&str> = when.risk.iter().flatten().map(|r| r.as_str()).collect();
                format!("risk: `{}` is not one of {}", got.as_str(), want.join(", "))
            }
        }
    }
}

/// A requirement of the matched rule (an assurance alternative, a chain, the step-up).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequirementTrace {
    pub requirement: Cow<'static, str>,
    pub satisfied: bool,
    /// Whether the user's active enrollments can still meet it.
    pub reachable: bool,
    pub detail: String,
}

/// One enrolled authenticator and method considered for a requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CandidateTrace {
    pub requirement: Cow<'static, str>,
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrollment_id: Option<String>,
    pub offered: bool,
    /// The constraint it failed, if that is why it was not offered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<Constraint>,
    pub reason: Cow<'static, str>,
}

/// One enrollment considered as a remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemediationTrace {
    pub authenticator: AuthenticatorKey,
    pub remediation: EnrollKind,
    pub helps: bool,
    pub reason: String,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule(r) => write!(
                f,
                "rule `{}`: {}",
                r.rule.name,
                if r.matched() {
                    r.reason()
                } else {
                    format!("not matched: {}", r.reason())
                }
            ),
            Self::Requirement(r) => write!(
                f,
                "{}: {}{} — {}",
                r.requirement,
                if r.satisfied { "satisfied" } else { "not satisfied" },
                if r.satisfied || r.reachable {
                    ""
                } else {
                    ", unreachable with the enrolled authenticators"
                },
                r.detail
            ),
            Self::Candidate(c) => write!(
                f,
                "candidate {} {}{} for {}: {}",
                c.authenticator,
                c.method,
                c.enrollment_id
                    .as_deref()
                    .map(|id| format!(" ({id})"))
                    .unwrap_or_default(),
                c.requirement,
                c.reason
            ),
            Self::Remediation(r) => write!(
                f,
                "remediation {} {}: {}",
                match r.remediation {
                    EnrollKind::NewAuthenticator => "enroll",
                    EnrollKind::UserVerificationKey => "add a user-verification key to",
                },
                r.authenticator,
                r.reason
            ),
        }
    }
}
