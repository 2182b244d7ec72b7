//! The server side of Gatehouse Verify (DESIGN section 7, `docs/verify-protocol.md`): the
//! built-in OAuth client `gatehouse-verify`, the device API (registration, status, unenroll, push
//! long-poll, answers), the admin device registry with its lifecycle, and the challenges the
//! sign-in flow issues to devices.
//!
//! Layout:
//! - `device_api`: the endpoints Verify calls (`/api/v1/verify/…`), device-proof authentication;
//! - `registry`: the admin API `/api/v1/devices…` and the lifecycle effects of protocol 12;
//! - `challenges`: issuing, signing, queueing and reading challenges (used by `flow`).
//!
//! Every decision is taken by `gatehouse_core::device`; every signature is checked by
//! `gatehouse_crypto`. This module only loads, stores, logs and answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use gatehouse_api::device as wire;
use gatehouse_core::device::UserVerification;
use gatehouse_core::model::{
    AccessRuleRecord, Actor, AppName, Application, Assignments, ClientId, ClientKind, EVERYONE_ID, EventType,
    GrantType, Outcome, PolicyName, TokenAuthMethod,
};
use gatehouse_crypto::KeySet;
use gatehouse_store::new_id;
use serde_json::json;
use tokio::sync::Notify;

use crate::audit::Event;
use crate::{ApiError, AppState, ServerError};

pub mod challenges;
pub mod device_api;
pub mod registry;

/// Name of the built-in client's access-policy rule.
pub const ACCESS_RULE_NAME: &str = "gatehouse-verify-enrollment";

/// Lifetime of the built-in client's access tokens (protocol 3.2: at most 10 minutes).
pub const ENROLL_TOKEN_LIFETIME: &str = "PT10M";

/// The longest push long-poll, seconds (protocol 8).
pub const MAX_PUSH_WAIT_SECONDS: u64 = 30;

/// How often a long-poll reads the store even without a local wake-up, so that a push queued by
/// another node is seen.
pub const PUSH_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Verify's in-memory state: the push waiters.
#[derive(Debug, Default)]
pub struct VerifyState {
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
    stopping: std::sync::atomic::AtomicBool,
}

/// The keys that sign challenges and verify the enrollment access tokens: the OIDC provider's
/// signing `KeySet` (published in `/oauth2/jwks`, signing the `at+jwt` access tokens).
pub async fn keys(state: &AppState) -> Result<Arc<KeySet>, ServerError> {
    state.oidc().keys(state).await
}

/// Wakes the long-polls of an enrollment (a push was queued, or the device changed) on this node
/// and, through the database, on every other node: the device may be long-polling any of them.
pub async fn wake_everywhere(state: &AppState, enrollment: &str) {
    state.verify().wake(enrollment);
    if let Err(e) = state.store().announce_push(enrollment).await {
        tracing::warn!(error = %e, enrollment, "could not tell the other nodes about a push");
    }
}

impl VerifyState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The wake-up of an enrollment's push long-polls.
    pub fn waiter(&self, enrollment: &str) -> Arc<Notify> {
        let mut map = self
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(enrollment.to_owned()).or_default())
    }

    /// Wakes the long-polls of an enrollment (a push was queued).
    pub fn wake(&self, enrollment: &str) {
        let notify = {
            let map = self
                .waiters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.get(enrollment).cloned()
        };
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    /// The server is shutting down: waiting long-polls end now.
    pub fn shutdown(&self) {
        self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        let all: Vec<Arc<Notify>> = {
            let map = self
                .waiters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.values().cloned().collect()
        };
        for notify in all {
            notify.notify_waiters();
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Forgets an enrollment's wake-up once nobody waits on it.
    pub fn release(&self, enrollment: &str) {
        let mut map = self
            .waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.get(enrollment).is_some_and(|n| Arc::strong_count(n) == 1) {
            map.remove(enrollment);
        }
    }
}

/// Verify's routes: the device API and the admin device registry.
pub fn router() -> Router<AppState> {
    device_api::router()
}

/// A system log event type written in this module.
pub(crate) fn event_type(name: &str) -> Result<EventType, ServerError> {
    EventType::parse(name).map_err(|e| ServerError::Corrupt {
        what: format!("event type `{name}`"),
        reason: e.to_string(),
    })
}

/// An error answer with a protocol code (`{"error", "message"}`).
pub(crate) fn refusal(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        code,
        message,
    )
}

pub(crate) fn uv_to_wire(level: UserVerification) -> wire::UserVerificationLevel {
    match level {
        UserVerification::None => wire::UserVerificationLevel::None,
        UserVerification::Any => wire::UserVerificationLevel::Any,
        UserVerification::Biometric => wire::UserVerificationLevel::Biometric,
    }
}

pub(crate) fn uv_from_wire(level: wire::UserVerificationLevel) -> UserVerification {
    match level {
        wire::UserVerificationLevel::None => UserVerification::None,
        wire::UserVerificationLevel::Any => UserVerification::Any,
        wire::UserVerificationLevel::Biometric => UserVerification::Biometric,
    }
}

/// Creates the built-in client `gatehouse-verify` and its access rule when missing (protocol
/// 3.1); run at every start, after the demo seeding.
pub async fn ensure_builtin_client(state: &AppState) -> Result<bool, ServerError> {
    let now = state.now();
    let mut tx = state.store().begin().await?;
    if tx.apps().by_client_id(wire::VERIFY_CLIENT_ID).await?.is_some() {
        return Ok(false);
    }
    let bad = |e: gatehouse_core::CoreError| ServerError::Config {
        what: "the built-in client gatehouse-verify".into(),
        reason: e.to_string(),
    };
    let app = Application {
        id: new_id(),
        client_id: ClientId::parse(wire::VERIFY_CLIENT_ID).map_err(bad)?,
        name: AppName::parse("Gatehouse Verify").map_err(bad)?,
        kind: ClientKind::Public,
        secret_digest: None,
        redirect_uris: vec![wire::VERIFY_REDIRECT_URI.to_owned()],
        post_logout_redirect_uris: Vec::new(),
        grant_types: vec![GrantType::AuthorizationCode],
        token_endpoint_auth_method: TokenAuthMethod::None,
        policy_id: None,
        backchannel_logout_uri: None,
        assignments: Assignments {
            groups: vec![EVERYONE_ID],
            users: Vec::new(),
        },
        created_at: now,
        updated_at: now,
    };
    tx.apps().insert(&app).await?;
    if tx.access_rules().by_name(ACCESS_RULE_NAME).await?.is_none() {
        let priority = tx.access_rules().list().await?.len();
        let body = json!({
            "name": ACCESS_RULE_NAME,
            "priority": priority,
            "clients": [wire::VERIFY_CLIENT_ID],
            "grant_types": ["authorization_code"],
            "scopes": ["openid", wire::DEVICE_ENROLL_SCOPE],
            "groups": {"include": ["everyone"]},
            "access_token_lifetime": ENROLL_TOKEN_LIFETIME,
            "refresh_token_lifetime": ENROLL_TOKEN_LIFETIME,
        });
        tx.access_rules()
            .insert(&AccessRuleRecord {
                id: new_id(),
                name: PolicyName::parse(ACCESS_RULE_NAME).map_err(bad)?,
                priority: i64::try_from(priority).unwrap_or(i64::MAX),
                body,
                created_at: now,
                updated_at: now,
            })
            .await?;
    }
    Event::new(
        gatehouse_core::model::event_types::APP_CREATE,
        Actor::System,
        Outcome::Success,
    )
    .app(app.id)
    .detail("client_id", wire::VERIFY_CLIENT_ID)
    .detail("builtin", true)
    .append(&mut tx, now)
    .await?;
    tx.commit().await?;
    state.clients_changed().await;
    Ok(true)
}
