//! The OpenID Connect provider (DESIGN section 8, issue 4): discovery, authorize, token,
//! userinfo, JWKS, revoke, introspect, logout, and the signing keys (ES256 and RS256, sealed at
//! rest under the master keyring).
//!
//! Its contract with `flow`: the authorize endpoint validates the request and hands it to
//! [`crate::flow::start`]; when a flow allows the sign-in, the flow calls
//! [`complete_authorization`] for the redirect with the code, or [`deny_redirect`] when it
//! denies. Ending a session calls [`on_session_end`] to revoke its refresh tokens.
//!
//! Layout: `keys` (signing keys: generation, sealing, rotation), `authorize` (the authorization
//! endpoint and its error page), `token` (the token endpoint and token minting), `endpoints`
//! (discovery, JWKS, userinfo, revoke, introspect, logout).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use gatehouse_core::model::{Actor, Application, Outcome, SessionId, User, VerificationRecord, event_types};
use gatehouse_crypto::{KeySet, Keyring};
use gatehouse_oidc::{
    AccessPolicies, AccessRule, AuthorizationRequest, ClientRegistration, GrantType, ScopeSet,
    VerificationFacts,
};
use gatehouse_store::{CodeRow, Store, StoreError, Tx};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::audit::Event;
use crate::{AppState, Clock, ServerError};

mod authorize;
pub mod backchannel;
mod endpoints;
pub mod keys;
mod token;

/// How often the signing keys are reread (so several nodes agree after a rotation).
const KEYS_TTL: Duration = Duration::from_secs(30);
/// How long clients and access rules are cached at most (writes through the admin API drop the
/// cache at once on this node).
const CLIENTS_TTL: Duration = Duration::from_secs(5);

/// A client as the provider caches it.
#[derive(Debug, Clone)]
pub struct Client {
    pub app: Application,
    pub registration: ClientRegistration,
}

/// Clients by `client_id`, and the access policies.
#[derive(Debug)]
pub struct Clients {
    pub by_id: HashMap<String, Client>,
    pub policies: AccessPolicies,
}

/// The provider's state: its signing keys, and a cache of clients and access rules.
#[derive(Debug)]
pub struct OidcState {
    keys: RwLock<(Instant, Arc<KeySet>)>,
    /// Set by [`OidcState::keys_changed`]: reread the keys on next use.
    keys_stale: AtomicBool,
    clients: RwLock<Option<(Instant, Arc<Clients>)>>,
}

impl OidcState {
    /// Loads the signing keys, generating and storing them on first start.
    pub async fn load(store: &Store, keyring: &Keyring, clock: &Clock) -> Result<Self, ServerError> {
        let keys = keys::load_or_create(store, keyring, clock.now()).await?;
        Ok(Self {
            keys: RwLock::new((Instant::now(), Arc::new(keys))),
            keys_stale: AtomicBool::new(false),
            clients: RwLock::new(None),
        })
    }

    /// Drops what the provider caches about clients and access-policy rules: the admin API
    /// calls it after any write to apps or authorization-server rules.
    pub fn clients_changed(&self) {
        if let Ok(mut guard) = self.clients.write() {
            *guard = None;
        }
    }

    /// Forgets the signing keys read so far: the next use rereads them (after a rotation).
    pub fn keys_changed(&self) {
        self.keys_stale.store(true, Ordering::Release);
    }

    /// The signing keys, reread from the store every 30 seconds.
    pub async fn keys(&self, state: &AppState) -> Result<Arc<KeySet>, ServerError> {
        let stale = self.keys_stale.swap(false, Ordering::AcqRel);
        if !stale
            && let Ok(guard) = self.keys.read()
            && guard.0.elapsed() < KEYS_TTL
        {
            return Ok(guard.1.clone());
        }
        // One request reloads; the others keep signing with the keys they have meanwhile.
        if let Ok(mut guard) = self.keys.write() {
            if !stale && guard.0.elapsed() < KEYS_TTL {
                return Ok(guard.1.clone());
            }
            guard.0 = Instant::now();
        }
        let now = state.now();
        let fresh = Arc::new(keys::load_or_create(state.store(), state.keyring(), now).await?);
        if let Ok(mut guard) = self.keys.write() {
            *guard = (Instant::now(), fresh.clone());
        }
        // Housekeeping on the same 30-second beat: codes are kept ten minutes past their expiry
        // (so a late replay still revokes what the code earned), revoked ids until their expiry.
        let mut tx = state.store().begin().await?;
        let keep_codes = Timestamp::from_second(now.as_second().saturating_sub(600)).unwrap_or(now);
        tx.oauth().purge_codes(keep_codes).await?;
        tx.oauth().purge_revoked(now).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// The registered clients and the access policies (cached).
    pub async fn clients(&self, state: &AppState) -> Result<Arc<Clients>, ServerError> {
        if let Ok(guard) = self.clients.read()
            && let Some((at, clients)) = guard.as_ref()
            && at.elapsed() < CLIENTS_TTL
        {
            return Ok(clients.clone());
        }
        let fresh = Arc::new(load_clients(state.store()).await?);
        if let Ok(mut guard) = self.clients.write() {
            *guard = Some((Instant::now(), fresh.clone()));
        }
        Ok(fresh)
    }
}

async fn load_clients(store: &Store) -> Result<Clients, ServerError> {
    let mut by_id = HashMap::new();
    let mut page = gatehouse_store::PageRequest::first(500);
    loop {
        let apps = store.apps().list(&page).await?;
        for app in apps.items {
            let registration = registration(&app);
            by_id.insert(registration.client_id.clone(), Client { app, registration });
        }
        match apps.next {
            Some(next) => {
                page = gatehouse_store::PageRequest::parse(Some(500), Some(&next)).map_err(|e| {
                    ServerError::Corrupt {
                        what: "application list".into(),
                        reason: e.to_string(),
                    }
                })?;
            }
            None => break,
        }
    }
    let mut rules = Vec::new();
    for record in store.access_rules().list().await? {
        match serde_json::from_value::<AccessRule>(record.body.clone()) {
            Ok(rule) => rules.push(rule),
            Err(e) => {
                return Err(ServerError::Corrupt {
                    what: format!("access rule `{}`", record.name.as_str()),
                    reason: e.to_string(),
                });
            }
        }
    }
    let policies = AccessPolicies::new(rules).map_err(|e| ServerError::Corrupt {
        what: "access rules".into(),
        reason: e.to_string(),
    })?;
    Ok(Clients { by_id, policies })
}

/// The OIDC rules' view of an application.
pub fn registration(app: &Application) -> ClientRegistration {
    ClientRegistration {
        client_id: app.client_id.as_str().to_owned(),
        kind: if app.kind.as_str() == "public" {
            gatehouse_oidc::ClientKind::Public
        } else {
            gatehouse_oidc::ClientKind::Confidential
        },
        redirect_uris: app.redirect_uris.clone(),
        post_logout_redirect_uris: app.post_logout_redirect_uris.clone(),
        grant_types: app
            .grant_types
            .iter()
            .filter_map(|g| g.as_str().parse::<GrantType>().ok())
            .collect(),
        secret_sha256_hex: app.secret_digest.clone(),
    }
}

/// What a code or refresh token grants, stored with it as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct GrantData {
    pub scope: ScopeSet,
    pub nonce: Option<String>,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    /// Unix seconds.
    pub auth_time: i64,
    pub acr_values: Option<String>,
    pub records: Vec<VerificationFacts>,
}

/// The facts of verification records, for `amr` and `acr`.
pub(crate) fn facts(records: &[VerificationRecord]) -> Vec<VerificationFacts> {
    records
        .iter()
        .filter_map(|r| {
            let authenticator = r.authenticator.to_string().parse().ok()?;
            let method = r.method.to_string().parse().ok()?;
            let mut facts = VerificationFacts::new(authenticator, method);
            // What the verification proved (a device's hardware key, its user verification).
            let proved = r.proof.characteristics;
            if proved.hardware_protected {
                facts = facts.hardware();
            }
            facts = facts.with_user_verification(match proved.user_verification {
                gatehouse_policy::UserVerification::None => gatehouse_oidc::UserVerification::None,
                gatehouse_policy::UserVerification::Any => gatehouse_oidc::UserVerification::Any,
                gatehouse_policy::UserVerification::Biometric => gatehouse_oidc::UserVerification::Biometric,
            });
            Some(facts)
        })
        .collect()
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
    /// The names of the user's groups, as the flow read them (for the access policy).
    pub groups: Vec<String>,
}

/// Issues the authorization code for a completed sign-in and returns the redirect back to the
/// client (`code`, `state`, `iss`). The code is written inside the flow's transaction, which
/// also stores the session, so a crash never leaves one without the other. When the access
/// policies allow no token for this user, the redirect carries `access_denied` instead.
pub async fn complete_authorization(
    state: &AppState,
    tx: &mut Tx,
    request: &AuthorizationRequest,
    signed_in: &CompletedSignIn,
) -> Result<String, ServerError> {
    let now = state.now();
    let clients = state.oidc().clients(state).await?;
    let groups = &signed_in.groups;
    let decision = clients.policies.evaluate(&gatehouse_oidc::AccessRequest {
        client_id: &request.client_id,
        grant_type: GrantType::AuthorizationCode,
        scopes: &request.scope,
        user: Some(gatehouse_oidc::AccessUser {
            id: &signed_in.user.id.to_string(),
            login: signed_in.user.login.as_str(),
            groups,
        }),
    });
    if let gatehouse_oidc::AccessDecision::Deny { .. } = decision {
        Event::new(
            event_types::APP_OAUTH2_AUTHORIZE_DENY,
            Actor::User(signed_in.user.id),
            Outcome::Failure,
        )
        .user(signed_in.user.id)
        .app(signed_in.app.id)
        .detail("client_id", request.client_id.as_str())
        .detail("reason", gatehouse_oidc::POLICY_FAILED)
        .append(tx, now)
        .await?;
        return Ok(deny_redirect(state, request, gatehouse_oidc::POLICY_FAILED));
    }
    let (code, code_key) = crate::handle::new();
    let grant = GrantData {
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        auth_time: signed_in.auth_time.as_second(),
        acr_values: request.acr_values.clone(),
        records: facts(&signed_in.records),
    };
    let record = gatehouse_oidc::code::CodeRecord::issue(request, now);
    tx.oauth()
        .insert_code(&CodeRow {
            digest: code_key,
            client_id: request.client_id.clone(),
            user_id: signed_in.user.id,
            session_id: Some(signed_in.session_id),
            grant: serde_json::to_string(&grant).map_err(|e| ServerError::Corrupt {
                what: "grant".into(),
                reason: e.to_string(),
            })?,
            created_at: now,
            expires_at: record.expires_at(),
            redeemed_at: None,
            family_id: None,
        })
        .await?;
    Event::new(
        event_types::APP_OAUTH2_CODE_ISSUE,
        Actor::User(signed_in.user.id),
        Outcome::Success,
    )
    .user(signed_in.user.id)
    .app(signed_in.app.id)
    .detail("client_id", request.client_id.as_str())
    .detail("scope", request.scope.to_string())
    .detail("session_id", signed_in.session_id.to_string())
    .append(tx, now)
    .await?;
    Ok(request.success_redirect(&code, state.issuer()))
}

/// The redirect back to the client for a denied sign-in: `error=access_denied` with
/// `error_description` naming the reason (and `state`, `iss`).
pub fn deny_redirect(state: &AppState, request: &AuthorizationRequest, description: &str) -> String {
    let error = gatehouse_oidc::ProtocolError::new(gatehouse_oidc::ErrorCode::AccessDenied, description);
    request.error_redirect(&error, state.issuer())
}

/// Revokes the refresh tokens issued from a session that is ending, inside its transaction.
pub async fn on_session_end(
    tx: &mut Tx,
    session: SessionId,
    user: gatehouse_core::model::UserId,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.oauth().revoke_of_session(session).await?;
    // Apps that asked for back-channel logout hear of it (delivered by `backchannel`).
    tx.backchannel_logouts()
        .enqueue_for_session(session, user, now)
        .await?;
    Ok(())
}

/// The provider's routes.
pub fn router() -> Router<AppState> {
    use gatehouse_oidc::issuer::*;
    Router::new()
        .route(DISCOVERY_PATH, get(endpoints::discovery))
        .route(JWKS_PATH, get(endpoints::jwks))
        .route(AUTHORIZE_PATH, get(authorize::get).post(authorize::post))
        .route(TOKEN_PATH, axum::routing::post(token::token))
        .route(
            USERINFO_PATH,
            get(endpoints::userinfo).post(endpoints::userinfo_post),
        )
        .route(REVOKE_PATH, axum::routing::post(endpoints::revoke))
        .route(INTROSPECT_PATH, axum::routing::post(endpoints::introspect))
        .route(
            LOGOUT_PATH,
            get(endpoints::logout_get).post(endpoints::logout_post),
        )
}
