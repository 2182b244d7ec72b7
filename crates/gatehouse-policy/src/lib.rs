//! Gatehouse's policy language and its evaluator — pure: no I/O, no clock, no randomness.
//!
//! Layout, from the outside in:
//! - [`model`]: the policy file format (DESIGN 4.1) as serde types, YAML and JSON both ways.
//! - [`parse`]: text into those types with located errors; [`parse::locate`] points a path at a
//!   line and column; [`parse::check_text`] is what `gatehouse policy check` runs.
//! - [`validate`]: every error and warning of a document or of one piece in its [`Scope`].
//! - [`authenticator`]: DESIGN section 3 — keys, methods, the characteristics a verification
//!   proves ([`prove`]) and the factor types it counts for ([`count_factors`]).
//! - [`duration`], [`net`]: the parsed newtypes [`PolicyDuration`] and [`Cidr`].
//! - [`compile`]: [`CompiledPolicy`] (zones resolved, names interned) and [`PolicySet`].
//! - [`input`], [`evaluate()`], [`decision`]: the request context, enrollments and records in; a
//!   [`Decision`] with its [`Trace`] out.
//! - [`simulate`]: `gatehouse policy simulate`'s context file and JSON output (DESIGN 4.5).
//! - [`okta`]: import of Okta `ACCESS_POLICY` JSON.
//!
//! Choices where DESIGN is silent are in `docs/policy-language.md`.

pub mod authenticator;
pub mod compile;
pub mod decision;
pub mod diagnostic;
pub mod duration;
mod error;
pub mod evaluate;
pub mod input;
pub mod model;
pub mod net;
pub mod okta;
pub mod parse;
pub mod simulate;
pub mod validate;

pub use authenticator::{
    AuthenticatorKey, Characteristics, Constraint, Factor, FactorSet, Method, MethodConstraints, Proof,
    UserVerification, VerificationFacts, count_factors, prove,
};
pub use compile::{CompiledPolicy, PolicySet};
pub use decision::{
    Allow, Continue, Decision, Deny, DenyCode, EnrollKind, EnrollOption, Outcome, Refusal, Remediate,
    StepOption, Trace, TraceEntry,
};
pub use diagnostic::{Diagnostic, DiagnosticCode, Location, Severity};
pub use duration::PolicyDuration;
pub use error::PolicyError;
pub use evaluate::evaluate;
pub use input::{
    DeviceFacts, Enrollment, EnrollmentStatus, EvaluationInput, RequestContext, StepUp, UserContext,
    VerificationRecord,
};
pub use model::{
    Access, Assurance, AuthenticationPolicy, AuthenticatorRef, Chain, ChainMethod, Conditions, ConstraintSet,
    DeviceCondition, EnrollmentPolicy, GlobalSessionPolicy, GlobalSessionRule, IncludeExclude, KeepSignedIn,
    KnowledgeConstraints, NetworkZone, Platform, PolicyDocument, PossessionConstraints, Reauthenticate,
    Require, RiskLevel, Rule, SignInFlow,
};
pub use net::{Cidr, GeoPoint};
pub use parse::{CheckReport, Format, check_text, locate, parse, parse_document};
pub use validate::Scope;
