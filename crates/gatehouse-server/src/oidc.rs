//! The OpenID Connect provider (DESIGN section 8, issue 4): discovery, authorize, token,
//! userinfo, JWKS, revoke, introspect, logout, and the signing keys (ES256 and RS256, sealed at
//! rest under the master keyring).

use axum::Router;
use gatehouse_crypto::Keyring;
use gatehouse_store::Store;

use crate::{AppState, Clock, ServerError};

/// The provider's state: its signing keys.
#[derive(Debug)]
pub struct OidcState {}

impl OidcState {
    /// Loads the signing keys, generating and storing them on first start.
    pub async fn load(_store: &Store, _keyring: &Keyring, _clock: &Clock) -> Result<Self, ServerError> {
        Ok(Self {})
    }
}

/// The provider's routes.
pub fn router() -> Router<AppState> {
    Router::new()
}
