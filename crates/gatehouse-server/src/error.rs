//! The server's errors. [`ServerError`] is infrastructure going wrong (database, keys, config);
//! [`ApiError`] is what a JSON endpoint answers: a status and `{error, message, field}`. This
//! module is the one place that maps errors to HTTP: handlers return `Result<_, ApiError>`, and
//! every `From` below decides a status once. Nothing a client sent ever becomes a 500; a 500 never
//! carries internal details (they go to the log).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_api::error::{Diagnostic, ErrorBody};
use gatehouse_core::CoreError;
use gatehouse_crypto::CryptoError;
use gatehouse_store::StoreError;

/// Infrastructure failures: the request was fine, the server could not do it.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(CryptoError),
    #[error("{what} is not usable: {reason}")]
    Config { what: String, reason: String },
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data that no longer makes sense (a policy that no longer validates, a sealed value
    /// that no longer opens).
    #[error("stored {what} is not usable: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("the server is shutting down")]
    Shutdown,
}

/// An error answer of a JSON endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub diagnostics: Option<Vec<Diagnostic>>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            diagnostics: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `invalid_value` about `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_value", message).with_field(field)
    }

    /// 400 `invalid_json`: a body that is not JSON or not of the expected shape.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 500 with a generic message; the cause goes to the log (with the request's `x-request-id`),
    /// not to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let request_id = crate::audit::request_id();
        tracing::error!(error = %cause, request_id = request_id.as_deref().unwrap_or("-"), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not complete the request; it has been logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
                field: self.field,
                diagnostics: self.diagnostics,
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match &error {
            CoreError::Transition { .. } => Self::conflict("invalid_transition", error.to_string()),
            CoreError::Invalid { field, .. } | CoreError::Inconsistent { field, .. } => {
                let field = *field;
                Self::invalid(field, error.to_string())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Duplicate { field } => Self::conflict(
                "already_exists",
                format!("another record already has this {field}"),
            )
            .with_field(*field),
            StoreError::InUse { .. } => Self::conflict("in_use", error.to_string()),
            StoreError::Stale { .. } => Self::conflict("conflict", error.to_string()),
            StoreError::InvalidValue(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_value", error.to_string())
            }
            StoreError::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", error.to_string()),
            _ => Self::internal(&error),
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        match error {
            ServerError::Store(e) => e.into(),
            ServerError::Shutdown => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ),
            other => Self::internal(&other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_conflicts_are_409_and_failures_hide_their_cause() {
        let dup = ApiError::from(StoreError::Duplicate { field: "login" });
        assert_eq!(
            (dup.status, dup.code, dup.field.as_deref()),
            (StatusCode::CONFLICT, "already_exists", Some("login"))
        );
        let corrupt = ApiError::from(StoreError::Corrupt {
            column: "secret".into(),
            reason: "xyz".into(),
        });
        assert_eq!(corrupt.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!corrupt.message.contains("xyz"));
    }
}
