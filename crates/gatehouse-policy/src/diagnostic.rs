//! Located diagnostics: what `policy check` prints and what the admin API returns for a policy it
//! refuses. Each has a severity, a stable code, a JSON-pointer-ish path into the document
//! (`authentication_policies[0].rules[1].require.reauthenticate`) and, for files, a line and
//! column.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// Stable machine codes for diagnostics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticCode {
    /// The text does not parse, a value has the wrong type, or a field is unknown.
    Syntax,
    UnsupportedVersion,
    /// A policy whose last rule has conditions (or that has no rules).
    NoCatchAll,
    AssuranceAndChains,
    MissingRequirement,
    UnknownZone,
    MethodMismatch,
    /// A constraint that no listed authenticator can prove.
    UnprovableConstraint,
    FactorsOutOfRange,
    DuplicateName,
    DuplicateApp,
    EmptyList,
    ConflictingConstraints,
    WrongFactorType,
    /// Warning: an earlier rule matches every request this one would.
    ShadowedRule,
    /// Warning: a rule whose conditions can never all hold.
    NeverMatches,
    /// Warning: a chain option that can never be satisfied (or only by users who already have it).
    UnsatisfiableOption,
    /// Warning: `require` on a `deny` rule.
    IgnoredRequirement,
    /// Warning: a policy no app uses.
    NoApps,
    /// Warning: a zone that holds no address.
    EmptyZone,
}

/// Where in a file a diagnostic points (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: DiagnosticCode,
    /// Path into the document; empty for the document itself.
    pub path: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

impl Diagnostic {
    pub fn error(code: DiagnosticCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }

    pub fn warning(code: DiagnosticCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            code,
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The same diagnostic under `prefix` (e.g. `authentication_policies[0]`).
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = join_path(prefix, &self.path);
        self
    }
}

/// `a.b` + `c[1]` = `a.b.c[1]`; `a` + `[2]` = `a[2]`.
pub fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (_, true) => prefix.to_owned(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location {
            write!(f, "line {}, column {}: ", loc.line, loc.column)?;
        }
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Whether any diagnostic is an error.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}
