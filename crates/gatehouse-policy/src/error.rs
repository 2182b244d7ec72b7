//! `PolicyError`: the crate's one error type. An `Err` means the input could not be understood (a
//! file that does not parse, a policy that does not validate, a context that is malformed); an
//! unmet requirement is never an error but a [`crate::Decision`].

use crate::diagnostic::Diagnostic;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A duration that is not a positive ISO-8601 duration without months or years.
    #[error("{reason}, found `{input}`")]
    Duration { input: String, reason: String },

    /// A CIDR that does not parse, or has host bits set.
    #[error("{reason}, found `{input}`")]
    Cidr { input: String, reason: String },

    /// An authenticator key, method or other name outside the language.
    #[error("{what} `{input}` is not known; expected one of {expected}")]
    Unknown {
        what: &'static str,
        input: String,
        expected: String,
    },

    /// A method that does not belong to the authenticator named with it.
    #[error("method `{method}` does not belong to authenticator `{authenticator}`; it has {methods}")]
    MethodMismatch {
        authenticator: String,
        method: String,
        methods: String,
    },

    /// A document or context that does not parse (syntax, a type, an unknown field).
    #[error("{0}")]
    Parse(Diagnostic),

    /// A document that parses but does not validate; the diagnostics hold every error and warning.
    #[error("{}", summarize(.0))]
    Invalid(Vec<Diagnostic>),

    /// `simulate` asked for an app that no authentication policy lists.
    #[error("no authentication policy lists app `{0}`")]
    UnknownApp(String),

    /// An Okta policy that cannot be imported at all.
    #[error("cannot import the Okta policy: {0}")]
    Okta(String),
}

impl PolicyError {
    /// The message for a serde error raised while parsing a value (the YAML and JSON parsers add
    /// the path and location themselves).
    pub(crate) fn reason_text(&self) -> String {
        self.to_string()
    }
}

fn summarize(diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<&Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    match errors.as_slice() {
        [] => "the policy is not valid".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more errors)", rest.len()),
    }
}
