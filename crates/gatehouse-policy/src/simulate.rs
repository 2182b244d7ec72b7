//! `gatehouse policy simulate` (DESIGN 4.5): the context file, turned into evaluation input, and
//! the decision rendered as the documented JSON object or as readable text.

use std::net::IpAddr;

use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PolicyError;
use crate::authenticator::{AuthenticatorKey, Factor, Method, UserVerification, VerificationFacts};
use crate::compile::CompiledPolicy;
use crate::decision::{Decision, EnrollOption, Outcome, StepOption, Trace, TraceEntry};
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::evaluate::evaluate;
use crate::input::{
    DeviceFacts, Enrollment, EvaluationInput, RequestContext, StepUp, UserContext, VerificationRecord,
};
use crate::model::RiskLevel;
use crate::parse::{json_diagnostic, locate};

/// The context file of `policy simulate`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationContext {
    pub user: UserContext,
    pub ip: IpAddr,
    /// Absent when the device has not proved itself.
    #[serde(default)]
    pub device: Option<DeviceFacts>,
    /// Default `low`.
    #[serde(default = "default_risk")]
    pub risk: RiskLevel,
    #[serde(default)]
    pub enrollments: Vec<Enrollment>,
    #[serde(default)]
    pub records: Vec<SimulatedRecord>,
    pub now: Timestamp,
    /// What an OIDC request adds (`acr_values`, `max_age` in seconds, `prompt=login`).
    #[serde(default)]
    pub step_up: Option<StepUp>,
}

fn default_risk() -> RiskLevel {
    RiskLevel::Low
}

/// A verification record as the context file writes it: how long ago (`age`, ISO-8601) or when
/// (`at`), and what it proved beyond the table's fixed columns.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedRecord {
    pub authenticator: AuthenticatorKey,
    pub method: Method,
    #[serde(default)]
    pub age: Option<String>,
    #[serde(default)]
    pub at: Option<Timestamp>,
    /// Made in the current sign-in flow (default false).
    #[serde(default)]
    pub in_flow: bool,
    /// Default: the enrollment's `hardware_protected`.
    #[serde(default)]
    pub hardware_protected: Option<bool>,
    /// Default `none`.
    #[serde(default)]
    pub user_verification: UserVerification,
    /// FastPass: the user confirmed the prompt (default false).
    #[serde(default)]
    pub user_confirmed: bool,
    #[serde(default)]
    pub idp_factor: Option<Factor>,
    #[serde(default)]
    pub enrollment_id: Option<String>,
}

/// The evaluation input a context file describes, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    pub context: RequestContext,
    pub enrollments: Vec<Enrollment>,
    pub records: Vec<VerificationRecord>,
    pub now: Timestamp,
    pub step_up: Option<StepUp>,
}

impl Simulation {
    /// Parses a context file (JSON). Errors carry the line and column (and path) of the problem.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let ctx: SimulationContext =
            serde_json::from_str(text).map_err(|e| PolicyError::Parse(json_diagnostic(&e)))?;
        let located = |path: String, message: String| {
            let location = locate(text, &path);
            PolicyError::Parse(Diagnostic {
                location,
                ..Diagnostic::error(DiagnosticCode::Syntax, path, message)
            })
        };
        for (i, e) in ctx.enrollments.iter().enumerate() {
            for (k, m) in e.methods.iter().enumerate() {
                if let Err(err) = e.authenticator.check_method(*m) {
                    return Err(located(format!("enrollments[{i}].methods[{k}]"), err.to_string()));
                }
            }
        }
        let mut records = Vec::with_capacity(ctx.records.len());
        for (i, r) in ctx.records.iter().enumerate() {
            if let Err(err) = r.authenticator.check_method(r.method) {
                return Err(located(format!("records[{i}].method"), err.to_string()));
            }
            let at = match (&r.age, r.at) {
                (Some(_), Some(_)) => {
                    return Err(located(
                        format!("records[{i}]"),
                        "give `age` or `at`, not both".to_owned(),
                    ));
                }
                (None, Some(at)) => at,
                (None, None) => ctx.now,
                (Some(age), None) => {
                    let age = parse_age(age).map_err(|m| located(format!("records[{i}].age"), m))?;
                    ctx.now.checked_sub(age).map_err(|_| {
                        located(
                            format!("records[{i}].age"),
                            "the age reaches before year -9999".to_owned(),
                        )
                    })?
                }
            };
            let enrollment = ctx.enrollments.iter().find(|e| {
                e.authenticator == r.authenticator
                    && match (&r.enrollment_id, &e.id) {
                        (Some(want), Some(id)) => want == id,
                        _ => true,
                    }
            });
            let facts = VerificationFacts {
                hardware_protected: r
                    .hardware_protected
                    .unwrap_or_else(|| enrollment.is_some_and(|e| e.hardware_protected)),
                user_verification: r.user_verification,
                user_confirmed: r.user_confirmed,
                idp_factor: r.idp_factor.or_else(|| enrollment.and_then(|e| e.idp_factor)),
            };
            let mut record = VerificationRecord::new(r.authenticator, r.method, &facts, at, r.in_flow)
                .map_err(|e| located(format!("records[{i}]"), e.to_string()))?;
            record.enrollment_id = r
                .enrollment_id
                .clone()
                .or_else(|| enrollment.and_then(|e| e.id.clone()));
            records.push(record);
        }
        Ok(Self {
            context: RequestContext {
                user: ctx.user,
                ip: ctx.ip,
                device: ctx.device,
                risk: ctx.risk,
            },
            enrollments: ctx.enrollments,
            records,
            now: ctx.now,
            step_up: ctx.step_up,
        })
    }

    pub fn input(&self) -> EvaluationInput<'_> {
        EvaluationInput {
            context: &self.context,
            enrollments: &self.enrollments,
            records: &self.records,
            now: self.now,
            step_up: self.step_up.as_ref(),
        }
    }

    /// Evaluates the policy against this simulation.
    pub fn run(&self, policy: &CompiledPolicy) -> Decision {
        evaluate(policy, &self.input())
    }
}

/// An age such as `PT5M` or `P1D` (zero allowed; months and years refused).
fn parse_age(text: &str) -> Result<SignedDuration, String> {
    let expected = || format!("expected an ISO-8601 duration such as PT5M, found `{text}`");
    let span: Span = text.trim().parse().map_err(|_| expected())?;
    if span.get_years() != 0 || span.get_months() != 0 {
        return Err(format!(
            "months and years are not allowed in an age, found `{text}`"
        ));
    }
    let d = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| expected())?;
    if d.is_negative() {
        return Err(format!("an age cannot be negative, found `{text}`"));
    }
    Ok(d)
}

/// The `--json` object of DESIGN 4.5, its keys in the documented order: `decision`, `rule`, then
/// `options` (continue), `remediation` (remediate) or `message` (deny), then `trace`. Allow adds
/// `satisfied_by` (indices into the context's records); deny adds the machine `reason`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationOutput {
    pub decision: &'static str,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<StepOption>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<RemediationOutput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub satisfied_by: Option<Vec<usize>>,
    pub trace: Trace,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemediationOutput {
    pub enroll: Vec<EnrollOption>,
}

/// The `--json` output for a decision.
pub fn decision_output(decision: &Decision) -> SimulationOutput {
    let mut out = SimulationOutput {
        decision: decision.kind(),
        rule: decision.rule.to_string(),
        options: None,
        remediation: None,
        message: None,
        reason: None,
        satisfied_by: None,
        trace: decision.trace.clone(),
    };
    match &decision.outcome {
        Outcome::Allow(a) => out.satisfied_by = Some(a.satisfied_by.clone()),
        Outcome::Deny(d) => {
            out.message = Some(d.message.clone());
            out.reason = Some(d.code.as_str());
        }
        Outcome::Continue(c) => out.options = Some(c.options.clone()),
        Outcome::Remediate(r) => {
            out.remediation = Some(RemediationOutput {
                enroll: r.enroll.clone(),
            });
        }
    }
    out
}

/// The `--json` output as a JSON value (keys then sort alphabetically; print
/// [`decision_output`] to keep the documented order).
pub fn decision_json(decision: &Decision) -> Value {
    serde_json::to_value(decision_output(decision)).unwrap_or(Value::Null)
}

/// The readable form: the policy and rule, the decision, what to do next, and the trace as an
/// indented list.
pub fn decision_text(decision: &Decision, policy: &str, app: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("policy:   {policy} (app {app})\n"));
    out.push_str(&format!("rule:     {}\n", decision.rule));
    out.push_str(&format!("decision: {}\n", decision.kind()));
    match &decision.outcome {
        Outcome::Allow(a) => {
            let idx: Vec<String> = a.satisfied_by.iter().map(ToString::to_string).collect();
            out.push_str(&format!("satisfied by records: {}\n", idx.join(", ")));
        }
        Outcome::Deny(d) => out.push_str(&format!("message:  {} ({})\n", d.message, d.code.as_str())),
        Outcome::Continue(c) => {
            out.push_str("options:\n");
            for o in &c.options {
                let constraints = serde_json::to_value(o.constraints).unwrap_or(Value::Null);
                let extra = constraints
                    .as_object()
                    .filter(|m| !m.is_empty())
                    .map(|m| {
                        let parts: Vec<String> =
                            m.iter().map(|(k, v)| format!("{k}: {}", plain(v))).collect();
                        format!(" ({})", parts.join(", "))
                    })
                    .unwrap_or_default();
                out.push_str(&format!("  - {} {}{extra}\n", o.authenticator, o.method));
            }
        }
        Outcome::Remediate(r) => {
            out.push_str("enroll:\n");
            for e in &r.enroll {
                let c = e.constraints;
                let what = if c.is_empty() {
                    String::new()
                } else {
                    format!(" that proves {}", c.describe())
                };
                let how = match e.kind {
                    crate::decision::EnrollKind::NewAuthenticator => {
                        format!("  - a new {}{what}", e.authenticator)
                    }
                    crate::decision::EnrollKind::UserVerificationKey => format!(
                        "  - a {} user-verification key on the enrolled device{}",
                        c.user_verification,
                        e.enrollment_id
                            .as_deref()
                            .map(|id| format!(" `{id}`"))
                            .unwrap_or_default()
                    ),
                };
                out.push_str(&how);
                out.push('\n');
            }
        }
    }
    out.push_str("trace:\n");
    for entry in decision.trace.entries() {
        let indent = match entry {
            TraceEntry::Rule(_) => "  - ",
            TraceEntry::Requirement(_) | TraceEntry::Remediation(_) => "    - ",
            TraceEntry::Candidate(_) => "      - ",
        };
        out.push_str(&format!("{indent}{entry}\n"));
    }
    out
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
