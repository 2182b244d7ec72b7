//! `CoreError`: the crate's one error type. An `Err` means a value could not be built (a login
//! with a space, a malformed id) or a rule of a record forbids a change (suspending a staged
//! user); each names the field or the rule so the edge can answer with it.

/// Everything the domain refuses, phrased for the person who sent the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// A value that does not parse as the field it was given for.
    #[error("{field} `{input}` is not valid: {reason}")]
    Invalid {
        field: &'static str,
        input: String,
        reason: String,
    },

    /// A lifecycle action that the record's current status does not allow.
    #[error("cannot {action} a {what} whose status is `{from}`")]
    Transition {
        what: &'static str,
        action: &'static str,
        from: &'static str,
    },

    /// A registration whose fields contradict each other (a public client with a secret).
    #[error("{message}")]
    Inconsistent { field: &'static str, message: String },
}

impl CoreError {
    /// The field the error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Invalid { field, .. } | Self::Inconsistent { field, .. } => Some(field),
            Self::Transition { .. } => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            input: shorten(input),
            reason: reason.into(),
        }
    }
}

/// Long inputs are cut in messages (a megabyte of login does not need to come back whole).
fn shorten(input: &str) -> String {
    const MAX: usize = 80;
    if input.chars().count() <= MAX {
        input.to_owned()
    } else {
        let mut cut: String = input.chars().take(MAX).collect();
        cut.push('…');
        cut
    }
}
