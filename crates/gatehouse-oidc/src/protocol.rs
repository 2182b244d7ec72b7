//! OAuth 2.0 / OIDC protocol errors as values: the registered error codes, an error with its
//! description, how the token-side endpoints answer it (status, `WWW-Authenticate`, JSON body), and
//! the bearer-token errors of RFC 6750.

use std::fmt;

use serde_json::{Value, json};

/// `error_description` of an access-policy denial, exactly as DESIGN section 8 names it.
pub const POLICY_FAILED: &str = "Policy evaluation failed for this request.";

/// The realm in `WWW-Authenticate` challenges.
pub const REALM: &str = "gatehouse";

/// Error codes of RFC 6749, OIDC Core, RFC 6750 and RFC 7009.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    InteractionRequired,
    LoginRequired,
    ConsentRequired,
    AccountSelectionRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    RegistrationNotSupported,
    InvalidToken,
    InsufficientScope,
    UnsupportedTokenType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InteractionRequired => "interaction_required",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::AccountSelectionRequired => "account_selection_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::RegistrationNotSupported => "registration_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: an error code and a human-readable `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub description: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// The access-policy denial: `access_denied` with [`POLICY_FAILED`].
    pub fn policy_failed() -> Self {
        Self::new(ErrorCode::AccessDenied, POLICY_FAILED)
    }

    /// The JSON body `{"error", "error_description"}`.
    pub fn to_json(&self) -> Value {
        json!({"error": self.code.as_str(), "error_description": self.description})
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

/// An error answered by the token, revocation or introspection endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: ProtocolError,
    /// The client tried to authenticate with the `Authorization: Basic` header.
    pub basic_auth_attempted: bool,
}

impl TokenError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error: ProtocolError::new(code, description),
            basic_auth_attempted: false,
        }
    }

    pub(crate) fn with_basic(mut self, basic: bool) -> Self {
        self.basic_auth_attempted = basic;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.error.code
    }

    /// 401 for `invalid_client`, 400 for everything else (RFC 6749 section 5.2; the access-policy
    /// denial is 400 `access_denied` per DESIGN section 8).
    pub fn status(&self) -> u16 {
        if self.error.code == ErrorCode::InvalidClient {
            401
        } else {
            400
        }
    }

    /// The `WWW-Authenticate` value: present for `invalid_client` when the client tried Basic
    /// authentication (RFC 6749 section 5.2 requires it then).
    pub fn www_authenticate(&self) -> Option<String> {
        (self.error.code == ErrorCode::InvalidClient && self.basic_auth_attempted)
            .then(|| format!("Basic realm=\"{REALM}\""))
    }

    /// The JSON body `{"error", "error_description"}`.
    pub fn to_json(&self) -> Value {
        self.error.to_json()
    }
}

impl From<ProtocolError> for TokenError {
    fn from(error: ProtocolError) -> Self {
        Self {
            error,
            basic_auth_attempted: false,
        }
    }
}

/// An error of a bearer-token protected resource (userinfo), RFC 6750 section 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerError {
    pub error: ProtocolError,
}

impl BearerError {
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self {
            error: ProtocolError::new(ErrorCode::InvalidToken, description),
        }
    }

    /// No credentials at all: RFC 6750 says the challenge then carries no error code.
    pub fn missing() -> Self {
        Self {
            error: ProtocolError::invalid_request("an access token is required (Authorization: Bearer …)"),
        }
    }

    pub fn insufficient_scope(description: impl Into<String>) -> Self {
        Self {
            error: ProtocolError::new(ErrorCode::InsufficientScope, description),
        }
    }

    /// 401 for a missing or invalid token, 403 for insufficient scope, 400 for a malformed request.
    pub fn status(&self) -> u16 {
        match self.error.code {
            ErrorCode::InsufficientScope => 403,
            ErrorCode::InvalidToken => 401,
            _ if self.is_missing() => 401,
            _ => 400,
        }
    }

    fn is_missing(&self) -> bool {
        self.error.code == ErrorCode::InvalidRequest
            && self.error.description.starts_with("an access token is required")
    }

    /// The `WWW-Authenticate` value, `Bearer realm="gatehouse", error="…", error_description="…"`.
    pub fn www_authenticate(&self) -> String {
        if self.is_missing() {
            return format!("Bearer realm=\"{REALM}\"");
        }
        let description: String = self
            .error
            .description
            .chars()
            .filter(|c| *c != '"' && *c != '\\' && (' '..='~').contains(c))
            .collect();
        format!(
            "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{description}\"",
            self.error.code
        )
    }
}

/// The access token of an `Authorization: Bearer …` header (scheme case-insensitive).
pub fn bearer_token(authorization: Option<&str>) -> Result<&str, BearerError> {
    let header = authorization.ok_or_else(BearerError::missing)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or_else(BearerError::missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::missing());
    }
    let token = token.trim();
    let b64token = !token.is_empty()
        && token.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
    if b64token {
        Ok(token)
    } else {
        Err(BearerError::invalid_token("the access token is malformed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_with_a_basic_challenge_only_after_basic() {
        let e = TokenError::new(ErrorCode::InvalidClient, "client authentication failed");
        assert_eq!(e.status(), 401);
        assert_eq!(e.www_authenticate(), None);
        let basic = e.with_basic(true);
        assert_eq!(
            basic.www_authenticate().as_deref(),
            Some("Basic realm=\"gatehouse\"")
        );
        let grant = TokenError::new(ErrorCode::InvalidGrant, "x").with_basic(true);
        assert_eq!(grant.status(), 400);
        assert_eq!(grant.www_authenticate(), None);
    }

    #[test]
    fn policy_denial_has_the_exact_description() {
        let e = TokenError::from(ProtocolError::policy_failed());
        assert_eq!(e.status(), 400);
        assert_eq!(
            e.to_json(),
            json!({"error": "access_denied", "error_description": "Policy evaluation failed for this request."})
        );
    }

    #[test]
    fn bearer_tokens_and_their_errors() {
        assert_eq!(bearer_token(Some("Bearer abc.def-ghi")), Ok("abc.def-ghi"));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        let missing = bearer_token(None).unwrap_err();
        assert_eq!(missing.status(), 401);
        assert_eq!(missing.www_authenticate(), "Bearer realm=\"gatehouse\"");
        assert_eq!(bearer_token(Some("Basic abc")).unwrap_err().status(), 401);
        let bad = bearer_token(Some("Bearer a\"b")).unwrap_err();
        assert_eq!(bad.error.code, ErrorCode::InvalidToken);
        assert_eq!(
            BearerError::invalid_token("the access token \"x\" expired").www_authenticate(),
            "Bearer realm=\"gatehouse\", error=\"invalid_token\", error_description=\"the access token x expired\""
        );
        assert_eq!(BearerError::insufficient_scope("needs openid").status(), 403);
    }
}
