//! The OAuth 2.0 and OpenID Connect rules of Gatehouse, without HTTP: values in, decisions out.
//!
//! Pure: no I/O, no clock, no randomness. `now`, codes, token ids and session ids are parameters;
//! records (codes, refresh tokens, clients, policies) are loaded and stored by the caller. The only
//! outside code called is `gatehouse_crypto`'s deterministic functions (PKCE S256, SHA-256 digest
//! comparison); signing and verifying tokens stay with the caller.
//!
//! Layout, in the order a request meets it:
//! - `params`: query/form parameters with OAuth's at-most-once rule.
//! - `issuer`, `client`, `scope`: the issuer and endpoint paths; what a client registration says
//!   and exact redirect-URI matching; scope sets.
//! - `authorize`: authorization-request validation (error page vs. redirect), `prompt`/`max_age`
//!   session decisions, and the redirect back with `code`/`state`/`iss` or an error.
//! - `assurance`: `amr` (RFC 8176) and `acr` from verification records; `acr_values` step-up.
//! - `access_policy`: the authorization server's access policies (JSON rules, ordered evaluation).
//! - `token`, `code`, `refresh`: token-endpoint client authentication and grants; single-use codes
//!   bound to client, redirect URI and PKCE; refresh rotation with reuse detection.
//! - `claims`: ID token, access token, userinfo and logout-token claims.
//! - `discovery`, `introspect`, `logout`: the discovery document, RFC 7662/7009 rules, and
//!   RP-initiated logout.
//! - `protocol`: error codes and protocol errors as values, with their HTTP status and challenges.
//! - `error`: [`OidcError`], for input that is not a valid configuration at all.

pub mod access_policy;
pub mod assurance;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod code;
pub mod discovery;
mod error;
pub mod introspect;
pub mod issuer;
pub mod logout;
pub mod params;
pub mod protocol;
pub mod refresh;
pub mod scope;
pub mod token;

pub use access_policy::{
    AccessDecision, AccessGrant, AccessPolicies, AccessRequest, AccessRule, AccessTokenFormat, AccessUser,
    Lifetime,
};
pub use assurance::{
    Acr, AssuranceRequirement, Authenticator, Method, Modality, StepUp, UserVerification, VerificationFacts,
};
pub use authorize::{AuthorizationRequest, AuthorizeOutcome, SessionDecision, validate_authorize};
pub use client::{AuthMethod, ClientKind, ClientRegistration, GrantType};
pub use error::OidcError;
pub use issuer::Issuer;
pub use params::Params;
pub use protocol::{BearerError, ErrorCode, POLICY_FAILED, ProtocolError, TokenError};
pub use scope::ScopeSet;
pub use token::{AuthenticatedClient, ClientAuth, Grant, TokenRequest, TokenResponse, parse_token_request};
