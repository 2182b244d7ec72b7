//! The OpenID Connect provider (DESIGN section 8, issue 4): discovery, authorize, token,
//! userinfo, JWKS, revoke, introspect, logout, and the signing keys (ES256 and RS256, sealed at
//! rest under the master keyring).
//!
//! Its contract with `flow`: the authorize endpoint validates the request and hands it to
//! [`crate::flow::start`]; when a flow allows the sign-in, the flow calls
//! [`complete_authorization`] for the redirect with the code, or [`deny_redirect`] when it
//! denies. Ending a session calls [`on_session_end`] to revoke its refresh tokens.

use axum::Router;
use gatehouse_core::model::{Application, SessionId, User, VerificationRecord};
use gatehouse_crypto::Keyring;
use gatehouse_oidc::AuthorizationRequest;
use gatehouse_store::{Store, StoreError, Tx};
use jiff::Timestamp;

use crate::{AppState, Clock, ServerError};

/// The provider's state: its signing keys.
#[derive(Debug)]
pub struct OidcState {}

impl OidcState {
    /// Loads the signing keys, generating and storing them on first start.
    pub async fn load(_store: &Store, _keyring: &Keyring, _clock: &Clock) -> Result<Self, ServerError> {
        Ok(Self {})
    }

    /// Drops what the provider caches about clients and access-policy rules: the admin API
    /// calls it after any write to apps or authorization-server rules.
    pub fn clients_changed(&self) {}
}

/// A sign-in a flow completed, for the authorization code it earns.
#[derive(Debug, Clone)]
pub struct CompletedSignIn {
    pub app: Application,
    pub user: User,
    pub session_id: SessionId,
    /// When the user last actively authenticated in this session (OIDC `auth_time`).
    pub auth_time: Timestamp,
    /// The verification records that satisfied the rule (for `amr` and `acr`).
    pub records: Vec<VerificationRecord>,
}

/// Issues the authorization code for a completed sign-in and returns the redirect back to the
/// client (`code`, `state`, `iss`). The code is written inside the flow's transaction, which
/// also stores the session, so a crash never leaves one without the other.
pub async fn complete_authorization(
    _state: &AppState,
    _tx: &mut Tx,
    _request: &AuthorizationRequest,
    _signed_in: &CompletedSignIn,
) -> Result<String, ServerError> {
    Err(ServerError::Shutdown)
}

/// The redirect back to the client for a denied sign-in: `error=access_denied` with
/// `error_description` naming the reason (and `state`, `iss`).
pub fn deny_redirect(state: &AppState, request: &AuthorizationRequest, description: &str) -> String {
    let error = gatehouse_oidc::ProtocolError::new(gatehouse_oidc::ErrorCode::AccessDenied, description);
    request.error_redirect(&error, state.issuer())
}

/// Revokes the refresh tokens issued from a session that is ending, inside its transaction.
pub async fn on_session_end(_tx: &mut Tx, _session: SessionId, _now: Timestamp) -> Result<(), StoreError> {
    Ok(())
}

/// The provider's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
