//! The crate's one error type. `http::problem` is the one place that maps it to a status code,
//! a JSON body `{"error", "message", "field"?}` and an error page.

use crate::domain::Advice;

/// Everything that can go wrong in the gateway, phrased for whoever must act on it.
#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    /// A request field is missing or malformed (400; `field` names it when there is one).
    #[error("{message}")]
    Invalid { field: Option<String>, message: String },
    /// A tenant with this slug exists already (409).
    #[error("tenant `{0}` already exists")]
    TenantExists(String),
    /// Unknown or disabled tenant (404, DESIGN.md section 11).
    #[error("SSO config not found")]
    SsoConfigNotFound,
    /// Missing, used or expired login state (401, DESIGN.md section 11).
    #[error("invalid or expired sso state")]
    InvalidState,
    /// The admin API was called without a valid admin token (401).
    #[error("a valid admin token is required: send `Authorization: Bearer <token>`")]
    Unauthorized,
    /// A dashboard call without a session (401).
    #[error("not signed in: start at /sso/start")]
    Unauthenticated,
    /// A browser call from an origin the tenant has not registered (403).
    #[error("origin `{0}` is not allowed for this tenant")]
    OriginNotAllowed(String),
    /// The IdP sent `error=…` back to the callback (403 for `access_denied`, else 502).
    #[error("the identity provider answered `{error}`{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Idp {
        error: String,
        description: Option<String>,
        advice: Advice,
    },
    /// The IdP could not be used: discovery, code exchange or ID-token validation failed (502).
    #[error("{message}")]
    Upstream {
        code: &'static str,
        message: String,
        advice: Advice,
    },
    /// The provisioning services failed (502 on an explicit reprovision).
    #[error("provisioning failed: {0}")]
    Provisioning(String),
    /// The route does not exist (404).
    #[error("no such page")]
    NotFound,
    /// Bad configuration at start-up.
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("secret storage: {0}")]
    Crypto(#[from] gatehouse_crypto::CryptoError),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl SsoError {
    /// A 400 naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
}
