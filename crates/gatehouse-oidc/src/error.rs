//! The crate's one error type: input that cannot be turned into an OIDC value at all.
//!
//! Protocol outcomes (a refused request, a denied grant) are not errors of this kind: they are
//! values, [`crate::ProtocolError`] and [`crate::TokenError`], carried by decisions.

/// Invalid configuration or registration data, phrased for the operator who must fix it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("issuer `{0}` must be an absolute http(s) URL without query or fragment")]
    Issuer(String),
    #[error("redirect URI `{uri}` is not allowed: {reason}")]
    RedirectUri { uri: String, reason: &'static str },
    #[error("unknown grant type `{0}` (authorization_code, refresh_token, client_credentials)")]
    GrantType(String),
    #[error("unknown client authentication method `{0}` (client_secret_basic, client_secret_post, none)")]
    AuthMethod(String),
    #[error("scope `{0}` is not a valid scope token")]
    Scope(String),
    #[error(
        "duration `{0}` is not a positive ISO-8601 duration without months or years (such as `PT1H` or `P1D`)"
    )]
    Duration(String),
    #[error("access policy rule `{rule}`: {reason}")]
    AccessPolicy { rule: String, reason: String },
    #[error("access policy JSON is invalid: {0}")]
    AccessPolicyJson(String),
    #[error("unknown authenticator `{0}`")]
    Authenticator(String),
    #[error("unknown authentication method `{0}`")]
    Method(String),
}
